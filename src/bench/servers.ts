/**
 * Servers for the bench to measure: a parley server, several in one cluster
 * (`--cluster`) with the `redis-server` they share, or `ncat -l --chat`, each
 * started as a child process on a loopback port, with its console going
 * straight to a log file (logging stays on, as in real use, and costs the
 * bench nothing), and what Linux tells about a process: CPU time, memory,
 * descriptor limit.
 *
 * parley is started as users run it: `deno run -A main.ts server` with its
 * defaults (send queue, line length, no V8 flags) except flood control and
 * the per-address limit off and, when a run needs more, `--max-clients`; or,
 * on request, as `deno task server` runs it (with {@linkcode SERVER_V8_FLAGS}).
 *
 * Every started server is stopped with SIGTERM (SIGKILL if it lingers) and
 * awaited by {@linkcode BenchServer.stop}.
 *
 * @module
 */

import { CommandError } from "../errors.ts";
import { sleep } from "../async.ts";
import { errorText } from "../errors.ts";
import { SERVER_DEFAULTS, SERVER_V8_FLAGS } from "../../server.ts";

/** The bench could not do what it was asked: one line for the user, exit code 1. */
export class BenchError extends CommandError {
  override name = "BenchError";
}

/** A server process the bench started. */
export interface BenchServer {
  /** "parley" or "ncat". */
  readonly name: string;
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  /** parley's IRC port, when it was asked for one (`ircPort`). */
  readonly ircPort?: number;
  /** Where its console goes. */
  readonly logPath: string;
  /** Bytes its console has written so far. */
  logBytes(): number;
  /** Stops it (SIGTERM, then SIGKILL after a grace period), waits for it, removes the log. */
  stop(): Promise<void>;
}

/**
 * Settings for a parley server started by the bench. Everything else is
 * parley's default, as users run it: the send queue and line length included.
 */
export interface ParleyServerOptions {
  /** `--max-clients`, passed only when above parley's default. */
  maxClients?: number;
  /** The port to listen on (default 0: a free one). */
  port?: number;
  /**
   * Run it as `deno task server` does, with `--v8-flags=${SERVER_V8_FLAGS}`,
   * instead of as `deno run -A main.ts server` (the default).
   */
  taskFlags?: boolean;
  /** `--cluster URL`: join the cluster of every parley server using this Redis. */
  cluster?: string;
  /** `--irc-port 0`: an IRC port too (a free one), as `BenchServer.ircPort`. */
  ircPort?: boolean;
}

const HOST = "127.0.0.1";
const START_TIMEOUT = 15_000;
const STOP_GRACE = 5_000;
const MAIN = new URL("../../main.ts", import.meta.url);
/** Runs a program with stdout and stderr appended to $BENCH_LOG; `exec` keeps its pid. */
const REDIRECT = 'exec "$@" >>"$BENCH_LOG" 2>&1';
/** What {@linkcode stopAll} stops: every started process not yet stopped. */
const running = new Set<() => Promise<void>>();

/** Stops every server still running (for an interrupted bench). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

/**
 * Starts `parley server` on 127.0.0.1 (a free port unless one is given) with
 * its defaults except flood control and the per-address limit off; resolves
 * once its first log line names the port.
 */
export async function startParley(options: ParleyServerOptions = {}): Promise<BenchServer> {
  if (MAIN.protocol !== "file:") {
    throw new BenchError(`cannot start a parley server from ${MAIN.href}: use --target`);
  }
  const args = parleyArgs(options);
  const spawned = await spawnLogged("parley", [Deno.execPath(), ...args]);
  try {
    const port = await spawned.waitForLog(/listening\s+\S+:(\d+)/, START_TIMEOUT);
    if (!options.ircPort) return spawned.server(Number(port));
    const ircPort = await spawned.waitForLog(/listening\s+\S+:(\d+)\s+\(irc\)/, START_TIMEOUT);
    return { ...spawned.server(Number(port)), ircPort: Number(ircPort) };
  } catch (error) {
    await spawned.stop();
    throw error;
  }
}

/** The arguments of `deno` that start a parley server for the bench. */
export function parleyArgs(options: ParleyServerOptions = {}): string[] {
  const maxClients = options.maxClients ?? 0;
  return [
    "run",
    "-A",
    ...(options.taskFlags ? [`--v8-flags=${SERVER_V8_FLAGS}`] : []),
    MAIN.protocol === "file:" ? MAIN.pathname : MAIN.href,
    "server",
    "--host",
    HOST,
    "--port",
    String(options.port ?? 0),
    "--rate",
    "0",
    "--max-per-ip",
    "0",
    "--connect-rate",
    "0",
    ...(maxClients > SERVER_DEFAULTS.maxClients ? ["--max-clients", String(maxClients)] : []),
    ...(options.cluster === undefined ? [] : ["--cluster", options.cluster]),
    ...(options.ircPort ? ["--irc-port", "0"] : []),
  ];
}

/**
 * Starts `count` parley servers that make one cluster over `redisUrl`, each
 * as {@linkcode startParley} starts one (free ports); resolves once all are
 * listening. If one fails, the others are stopped.
 */
export async function startParleyCluster(
  count: number,
  redisUrl: string,
  options: Omit<ParleyServerOptions, "cluster" | "port"> = {},
): Promise<BenchServer[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, () => startParley({ ...options, cluster: redisUrl })),
  );
  const servers = started.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  const failed = started.find((result) => result.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(servers.map((server) => server.stop()));
    throw failed.reason;
  }
  return servers;
}

/** How a parley server started with `options` is run, for a report: `deno run -A main.ts server …`. */
export function describeParley(options: ParleyServerOptions = {}): string {
  const args = parleyArgs({ ...options, port: options.port ?? 0 });
  const main = args.findIndex((arg) => arg.endsWith("main.ts"));
  return ["deno", ...args.slice(0, main), "main.ts", ...args.slice(main + 1)].join(" ");
}

/** Whether `ncat` can be run. */
export function ncatAvailable(): Promise<boolean> {
  return canRun("ncat");
}

/** Whether `program --version` runs and succeeds. */
async function canRun(program: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(program, {
      args: ["--version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Starts `ncat -l --chat` on 127.0.0.1 and a free port; resolves once it accepts connections. */
export async function startNcat(options: { maxConnections: number }): Promise<BenchServer> {
  let lastError: unknown;
  // The free port is found by binding and releasing it: another program may take it first.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const spawned = await spawnLogged("ncat", [
      "ncat",
      "-l",
      "--chat",
      "--max-conns",
      String(options.maxConnections),
      HOST,
      String(port),
    ]);
    try {
      await spawned.waitForConnect(port, START_TIMEOUT);
      return spawned.server(port);
    } catch (error) {
      lastError = error;
      await spawned.stop();
    }
  }
  throw lastError;
}

/** Whether `redis-server` can be run. */
export function redisAvailable(): Promise<boolean> {
  return canRun("redis-server");
}

/** Fails with one line when `redis-server` cannot be run. */
export async function requireRedis(): Promise<void> {
  if (!(await redisAvailable())) {
    throw new BenchError(
      "--cluster needs redis-server, which is not installed " +
        "(Debian, Ubuntu: apt-get install redis-server)",
    );
  }
}

/**
 * Starts `redis-server` on 127.0.0.1 and a free port, keeping nothing on disk
 * (as the cluster tests run it); resolves once it accepts connections. Its
 * URL for `--cluster` is `redis://127.0.0.1:PORT`.
 */
export async function startRedis(): Promise<BenchServer> {
  await requireRedis();
  let lastError: unknown;
  // Redis has no port 0: a free port is found by binding and releasing it, and
  // another program may take it first (redis-server then exits: try another).
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const spawned = await spawnLogged("redis-server", [
      "redis-server",
      "--port",
      String(port),
      "--bind",
      HOST,
      "--save",
      "",
      "--appendonly",
      "no",
    ]);
    try {
      await spawned.waitForLog(/(Ready to accept connections)/, START_TIMEOUT);
      return spawned.server(port);
    } catch (error) {
      lastError = error;
      await spawned.stop();
    }
  }
  throw lastError;
}

/** CPU time a process has used so far, in seconds. */
export interface CpuTime {
  /** In the program itself. */
  user: number;
  /** In the kernel on its behalf (for a chat server, mostly TCP). */
  system: number;
}

/** CPU seconds (user + system) a process has used so far, or null when unknown. */
export function cpuSeconds(pid: number | "self"): number | null {
  const time = cpuTime(pid);
  return time === null ? null : time.user + time.system;
}

/** User and system CPU seconds a process has used so far, or null when unknown. */
export function cpuTime(pid: number | "self"): CpuTime | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks;
    // USER_HZ is 100 on every mainstream Linux build.
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return null;
  }
}

/** A process's peak resident memory (VmHWM) in MiB, or null when unknown. */
export function peakRssMiB(pid: number | "self"): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kib = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kib === undefined ? null : Number(kib) / 1024;
  } catch {
    return null;
  }
}

/** A process's resident memory now (VmRSS) in MiB, or null when unknown. */
export function currentRssMiB(pid: number | "self"): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kib === undefined ? null : Number(kib) / 1024;
  } catch {
    return null;
  }
}

/** How many files a process may open (the soft limit, `ulimit -n`), or null when unknown. */
export function openFileLimit(pid: number | "self" = "self"): number | null {
  try {
    const limits = Deno.readTextFileSync(`/proc/${pid}/limits`);
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft === undefined ? null : Number(soft);
  } catch {
    return null;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface LoggedProcess {
  waitForLog(pattern: RegExp, timeout: number): Promise<string>;
  waitForConnect(port: number, timeout: number): Promise<void>;
  server(port: number): BenchServer;
  stop(): Promise<void>;
}

/** Spawns `command` with its console appended to a new temporary log file. */
async function spawnLogged(name: string, command: string[]): Promise<LoggedProcess> {
  const logPath = await Deno.makeTempFile({ prefix: `parley-bench-${name}-`, suffix: ".log" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("sh", {
      args: ["-c", REDIRECT, "sh", ...command],
      env: { BENCH_LOG: logPath, NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    await Deno.remove(logPath).catch(() => {});
    throw new BenchError(`cannot start ${name}: ${errorText(error)}`);
  }
  let exited = false;
  const status = child.status.finally(() => exited = true);
  let stopped: Promise<void> | undefined;
  running.add(stop);

  function readLog(): string {
    try {
      return Deno.readTextFileSync(logPath);
    } catch {
      return "";
    }
  }

  function failure(what: string): BenchError {
    const log = readLog().trim().split("\n").slice(-3).join(" | ");
    return new BenchError(`${name} ${what}${log ? `: ${log}` : ""}`);
  }

  async function stop(): Promise<void> {
    running.delete(stop);
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, STOP_GRACE);
        await status;
        clearTimeout(timer);
      }
      await Deno.remove(logPath).catch(() => {});
    })();
    return await stopped;
  }

  return {
    async waitForLog(pattern, timeout) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const match = pattern.exec(readLog());
        if (match) return match[1];
        if (exited) throw failure("exited before it was ready");
        if (Date.now() > deadline) throw failure(`was not ready within ${timeout / 1000} s`);
        await sleep(20);
      }
    },
    async waitForConnect(port, timeout) {
      const deadline = Date.now() + timeout;
      for (;;) {
        if (exited) throw failure("exited before it was ready");
        try {
          const conn = await Deno.connect({ hostname: HOST, port });
          // ncat quits ("getpeername … failed") when a connection is gone before it
          // handled it: stay until it has greeted this one.
          await readOnce(conn, 2000);
          conn.close();
          return;
        } catch {
          if (Date.now() > deadline) throw failure(`was not ready within ${timeout / 1000} s`);
          await sleep(20);
        }
      }
    },
    server(port) {
      return {
        name,
        pid: child.pid,
        host: HOST,
        port,
        logPath,
        logBytes() {
          try {
            return Deno.statSync(logPath).size;
          } catch {
            return 0;
          }
        },
        stop,
      };
    },
    stop,
  };
}

/** Waits up to `ms` for the first bytes (or the end) from `conn`. */
async function readOnce(conn: Deno.Conn, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      conn.read(new Uint8Array(4096)).catch(() => null),
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
