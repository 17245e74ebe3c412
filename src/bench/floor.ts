/**
 * The latency floor seen by the leanest readers: `tools/fanout_floor.c` (one C
 * epoll loop, compiled with gcc when gcc is installed) and
 * `tools/fanout_floor.py` (a Python epoll loop, when python3 is installed),
 * run against the server the floor scenario just measured with the Deno
 * bench. A Deno reader's own cost per read shows in the bench's floor; these
 * show how much of it is the server's. Both are optional: without gcc or
 * python3 the suite says so and goes on.
 *
 * The paced and heavy loads get the same treatment from `tools/paced_floor.c`
 * (the **C epoll client**): every talker and reader in one C epoll loop, sends
 * paced by a timerfd instead of the Deno bench's timers, which fire in ticks of
 * about 2 ms and so send in small bursts.
 *
 * @module
 */

import { BenchError, cpuSeconds } from "./servers.ts";

/** One lean program. */
export interface LeanReader {
  /** "C epoll" or "Python epoll". */
  name: string;
  /**
   * The command before its arguments: `PORT READERS MESSAGES` for a reader,
   * `PORT CLIENTS MESSAGES RATE SIZE` for the paced client.
   */
  command: string[];
}

/** What a lean reader (the floor) or the lean paced client (paced, heavy) measured. */
export interface LeanFloor {
  reader: string;
  /** A fan-out reader of the floor, or the paced client. */
  tool: "reader" | "client";
  readers: number;
  messages: number;
  p50: number;
  p99: number;
  max: number;
  /** The server's CPU seconds during the client's run (the paced client only). */
  serverCpuSeconds?: number | null;
}

/** The lean programs this machine can run, why the others cannot, and what cleans up after them. */
export interface LeanReaders {
  readers: LeanReader[];
  /** The C epoll client for paced loads, when gcc could build it. */
  client: LeanReader | null;
  /** One line per program that is not available, saying why. */
  missing: string[];
  /** Removes the compiled programs. */
  dispose(): Promise<void>;
}

const TOOLS = new URL("../../tools/", import.meta.url);
const RESULT = /p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms/;
const CLIENT_RESULT = /p50 ([\d.]+) +p90 [\d.]+ +p99 ([\d.]+) +max ([\d.]+) ms/;

/** Finds (and for C, compiles) the lean readers. */
export async function leanReaders(): Promise<LeanReaders> {
  const readers: LeanReader[] = [];
  const missing: string[] = [];
  let directory: string | undefined;
  if (TOOLS.protocol !== "file:") {
    return {
      readers,
      client: null,
      missing: [`no lean readers: the tools are not local files (${TOOLS.href})`],
      dispose: () => Promise.resolve(),
    };
  }
  directory = await Deno.makeTempDir({ prefix: "parley-bench-floor-" });
  const binary = `${directory}/fanout_floor`;
  const gcc = await run(
    ["gcc", "-O2", "-o", binary, new URL("fanout_floor.c", TOOLS).pathname],
    60_000,
  );
  if (gcc.missing) missing.push("C epoll reader: no gcc");
  else if (!gcc.success) missing.push(`C epoll reader: gcc failed: ${firstLine(gcc.stderr)}`);
  else readers.push({ name: "C epoll", command: [binary] });
  let client: LeanReader | null = null;
  if (!gcc.missing) {
    const clientBinary = `${directory}/paced_floor`;
    const built = await run(
      ["gcc", "-O2", "-o", clientBinary, new URL("paced_floor.c", TOOLS).pathname],
      60_000,
    );
    if (built.success) client = { name: "C epoll", command: [clientBinary] };
    else missing.push(`C epoll client: gcc failed: ${firstLine(built.stderr)}`);
  } else {
    missing.push("C epoll client: no gcc");
  }
  const python = await run(["python3", "--version"], 10_000);
  if (python.missing || !python.success) missing.push("Python epoll reader: no python3");
  else {
    readers.push({
      name: "Python epoll",
      command: ["python3", new URL("fanout_floor.py", TOOLS).pathname],
    });
  }
  return {
    readers,
    client,
    missing,
    async dispose() {
      if (directory !== undefined) {
        await Deno.remove(directory, { recursive: true }).catch(() => {});
      }
      directory = undefined;
    },
  };
}

/** Runs one lean reader against 127.0.0.1:`port`; rejects with a {@linkcode BenchError}. */
export async function measureFloor(
  reader: LeanReader,
  plan: { port: number; readers: number; messages: number },
): Promise<LeanFloor> {
  // 10 ms apart plus the fan-out itself, the settling half second, and room for a busy machine.
  const timeout = 10_000 + plan.messages * 30;
  const result = await run(
    [...reader.command, String(plan.port), String(plan.readers), String(plan.messages)],
    timeout,
  );
  const match = RESULT.exec(result.stdout);
  if (!result.success || !match) {
    const why = result.timedOut
      ? `no result within ${timeout / 1000} s`
      : firstLine(result.stderr) || firstLine(result.stdout) || "no result";
    throw new BenchError(`${reader.name} reader: ${why}`);
  }
  return {
    reader: reader.name,
    tool: "reader",
    readers: plan.readers,
    messages: plan.messages,
    p50: Number(match[1]),
    p99: Number(match[2]),
    max: Number(match[3]),
  };
}

/**
 * Runs the lean paced client against 127.0.0.1:`port` (a fresh server whose
 * process is `serverPid`, for its CPU); rejects with a {@linkcode BenchError},
 * also when deliveries are missing.
 */
export async function measurePaced(
  client: LeanReader,
  plan: {
    port: number;
    serverPid: number;
    clients: number;
    messages: number;
    rate: number;
    size: number;
  },
): Promise<LeanFloor> {
  // The sends themselves, 1 s of settling, 5 s of waiting for the last lines, room for a busy machine.
  const timeout = (plan.messages / plan.rate) * 1000 + 30_000;
  const cpuBefore = cpuSeconds(plan.serverPid);
  const result = await run(
    [
      ...client.command,
      ...[plan.port, plan.clients, plan.messages, plan.rate, plan.size].map(String),
    ],
    timeout,
  );
  const cpuAfter = cpuSeconds(plan.serverPid);
  const match = CLIENT_RESULT.exec(result.stdout);
  if (!result.success || !match) {
    const why = result.timedOut
      ? `no result within ${timeout / 1000} s`
      : firstLine(result.stdout) || firstLine(result.stderr) || "no result";
    throw new BenchError(`${client.name} client: ${why}`);
  }
  return {
    reader: client.name,
    tool: "client",
    readers: plan.clients,
    messages: plan.messages,
    p50: Number(match[1]),
    p99: Number(match[2]),
    max: Number(match[3]),
    serverCpuSeconds: cpuBefore === null || cpuAfter === null
      ? null
      : Math.round((cpuAfter - cpuBefore) * 100) / 100,
  };
}

interface RunResult {
  success: boolean;
  missing: boolean;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (killed after `timeout` ms). */
async function run(command: string[], timeout: number): Promise<RunResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    const missing = error instanceof Deno.errors.NotFound;
    return { success: false, missing, timedOut: false, stdout: "", stderr: String(error) };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeout);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      success: output.success,
      missing: false,
      timedOut,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}
