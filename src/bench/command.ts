/**
 * `parley bench` once its flags are parsed: one run against a server (a given
 * `--target`, or a parley server the bench starts and stops), or the whole
 * suite of `deno task bench`. Results go to stdout, as text or one JSON
 * object; the progress bar and per-scenario notes go to stderr.
 *
 * @module
 */

import {
  parseFlags,
  parseHostPort,
  parseInteger,
  parseNumber,
  parseSize,
  UsageError,
} from "../flags.ts";
import { MAX_SENDERS, PAYLOAD_MIN_SIZE } from "./payload.ts";
import { formatCount, formatReport, formatSuiteTable, ProgressBar } from "./report.ts";
import { type BenchOptions, type BenchReport, runBench } from "./run.ts";
import { type BenchServer, startParley, stopAll } from "./servers.ts";
import { parleyLimits, runSuite, SCENARIOS } from "./suite.ts";

export { BenchError } from "./servers.ts";

/** One run, as the flags describe it. */
export interface BenchRunOptions
  extends Omit<BenchOptions, "host" | "port" | "onProgress" | "connectConcurrency"> {
  /** The server to measure; without it the bench starts its own parley server. */
  target?: { host: string; port: number };
  /** Print one JSON object instead of the summary. */
  json?: boolean;
}

/** Runs one bench and prints its report; returns the exit code. */
export async function runBenchCommand(options: BenchRunOptions): Promise<number> {
  const { target, json, ...load } = options;
  let server: BenchServer | undefined;
  const progress = new ProgressBar();
  const removeSignals = stopServersOnSignal(progress);
  try {
    if (!target) server = await startParley(parleyLimits(load));
    const report = await runBench({
      ...load,
      host: target?.host ?? server!.host,
      port: target?.port ?? server!.port,
      serverPid: server?.pid ?? options.serverPid,
      onProgress: (p) => progress.update(p),
    });
    const logBytes = server?.logBytes();
    progress.clear();
    const measured = server
      ? `parley started by the bench, log ${formatCount(logBytes ?? 0)} bytes`
      : options.serverPid !== undefined
      ? `server pid ${options.serverPid}`
      : "server not measured: give --server-pid for its CPU and memory";
    print(json ? JSON.stringify(report) : formatReport(report, measured));
    return 0;
  } finally {
    progress.clear();
    await server?.stop();
    removeSignals();
  }
}

/** What the suite takes from the command line. */
export interface SuiteCommandOptions {
  /** Scenario names (all when empty). */
  only?: string[];
  ncat?: boolean;
  json?: boolean;
}

/** The scenario names, for checking `--scenarios`. */
export const SCENARIO_NAMES: readonly string[] = SCENARIOS.map((scenario) => scenario.name);

export const BENCH_HELP = `Usage: parley bench [options]
       parley bench --suite [--scenarios LIST] [--no-ncat] [--json]

Drives a line-based chat server with many clients over real sockets and reports
deliveries per second, lines lost or altered, latency (p50, p90, p99, max),
connect time and, for a server it started or one named by --server-pid, the
server's CPU seconds and peak memory. Without --target it starts its own parley
server on a free loopback port (flood control and per-address limit off, console
to a log file) and stops it afterwards. Works against any server that relays a
line as '<name> line', ncat -l --chat included.

Options:
  --target HOST:PORT   the server to measure (default: start a parley server)
  --clients N          clients that talk, each also reading everything (default 10)
  --messages M         messages each talker sends (default 100)
  --rate R             messages per second per talker; 0 = as fast as possible (default 0)
  --size BYTES         payload bytes per message, at least ${PAYLOAD_MIN_SIZE} (default 64)
  --idle K             extra clients that only listen (default 0)
  --stalled K          extra clients that connect and never read (default 0)
  --server-pid PID     measure this process's CPU and peak memory (with --target)
  --time-limit SECONDS hard limit for the run (default 120); a server that stops
                       delivering is reported as stuck after a few seconds
  --json               print one JSON object instead of the summary
  --suite              run the benchmark scenarios against parley and, when ncat is
                       installed, ncat -l --chat, and print a side-by-side table
  --scenarios LIST     with --suite: only these (${SCENARIO_NAMES.join(",")})
  --no-ncat            with --suite: measure parley only
  -h, --help           this help

Exit code 0 when a report was printed (whatever it says), 1 when the bench
could not run (no server, too few file descriptors), 2 for wrong usage.
`;

/** `parley bench ARGS`: parses the flags and runs one bench or the suite; returns the exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    target: { type: "string" },
    clients: { type: "string" },
    messages: { type: "string" },
    rate: { type: "string" },
    size: { type: "string" },
    idle: { type: "string" },
    stalled: { type: "string" },
    "server-pid": { type: "string" },
    "time-limit": { type: "string" },
    json: { type: "boolean" },
    suite: { type: "boolean" },
    scenarios: { type: "string" },
    "no-ncat": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(BENCH_HELP.trimEnd());
    return 0;
  }
  const runFlags = [
    "target",
    "clients",
    "messages",
    "rate",
    "size",
    "idle",
    "stalled",
    "server-pid",
    "time-limit",
  ] as const;
  if (values.suite) {
    const extra = runFlags.find((flag) => values[flag] !== undefined);
    if (extra) {
      throw new UsageError(`--${extra} does not go with --suite (it runs fixed scenarios)`);
    }
    const only = values.scenarios?.split(",").map((name) => name.trim()).filter(Boolean);
    const unknown = only?.find((name) => !SCENARIO_NAMES.includes(name));
    if (unknown !== undefined) {
      throw new UsageError(
        `invalid value '${unknown}' for --scenarios: expected some of ${SCENARIO_NAMES.join(",")}`,
      );
    }
    return await runSuiteCommand({ only, ncat: !values["no-ncat"], json: values.json });
  }
  if (values.scenarios !== undefined || values["no-ncat"]) {
    throw new UsageError("--scenarios and --no-ncat go with --suite");
  }
  let target: { host: string; port: number } | undefined;
  if (values.target !== undefined) {
    const { host, port } = parseHostPort(values.target);
    if (port === undefined || port === 0) {
      throw new UsageError(`invalid value '${values.target}' for --target: expected HOST:PORT`);
    }
    target = { host, port };
  } else if (values["server-pid"] !== undefined) {
    throw new UsageError("--server-pid goes with --target (a server the bench starts is measured)");
  }
  const optional = <T>(value: string | undefined, parse: (value: string) => T, fallback: T) =>
    value === undefined ? fallback : parse(value);
  return await runBenchCommand({
    target,
    clients: optional(values.clients, (v) => parseInteger("clients", v, 1, MAX_SENDERS), 10),
    messages: optional(values.messages, (v) => parseInteger("messages", v, 1, 1e9), 100),
    rate: optional(values.rate, (v) => parseNumber("rate", v), 0),
    size: optional(values.size, (v) => parseSize("size", v, PAYLOAD_MIN_SIZE), 64),
    idle: optional(values.idle, (v) => parseInteger("idle", v, 0), 0),
    stalled: optional(values.stalled, (v) => parseInteger("stalled", v, 0), 0),
    serverPid: optional(values["server-pid"], (v) => parseInteger("server-pid", v, 1), undefined),
    timeLimit: optional(
      values["time-limit"],
      (v) => parseNumber("time-limit", v, 1) * 1000,
      120_000,
    ),
    json: values.json,
  });
}

/** Runs the suite and prints the side-by-side table; returns the exit code. */
export async function runSuiteCommand(options: SuiteCommandOptions): Promise<number> {
  const startedAt = new Date();
  const machine = await describeMachine();
  const progress = new ProgressBar();
  const removeSignals = stopServersOnSignal(progress);
  note(
    `parley bench suite: ${machine.cpus} × ${machine.cpuModel}, load ${machine.loadBefore}` +
      (machine.commit ? `, commit ${machine.commit}` : ""),
  );
  const results = await runSuite({
    only: options.only,
    ncat: options.ncat,
    progress,
    onResult(scenario, server, outcome) {
      note(`  ${scenario.name}/${server}: ${summarize(outcome)}`);
    },
  }).finally(removeSignals);
  const loadAfter = loadAverage();
  if (options.json) {
    print(JSON.stringify({
      date: startedAt.toISOString(),
      ...machine,
      loadAfter,
      scenarios: results.map((result) => ({
        ...result,
        parley: flatten(result.parley),
        ncat: flatten(result.ncat),
      })),
    }));
    return 0;
  }
  const header = [
    `parley bench suite, ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC` +
    (machine.commit ? `, commit ${machine.commit}` : ""),
    `machine: ${machine.cpus} × ${machine.cpuModel}, Deno ${Deno.version.deno}, ` +
    `load average ${machine.loadBefore} before, ${loadAfter} after`,
    "",
    ...results.map((result) => `- ${result.name}: ${result.description}`),
    "",
  ];
  print(header.join("\n") + formatSuiteTable(results));
  return 0;
}

/**
 * Ctrl-C or SIGTERM during a run: stop the servers the bench started (they
 * must not outlive it), then exit 130 or 143. Returns what removes the listeners.
 */
function stopServersOnSignal(progress: ProgressBar): () => void {
  const signals = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => {
      progress.clear();
      note(`parley bench: ${signal}, stopping`);
      void stopAll().finally(() => Deno.exit(signal === "SIGINT" ? 130 : 143));
    };
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  });
  return () => {
    for (const remove of signals) remove();
  };
}

function summarize(outcome: Parameters<typeof flatten>[0]): string {
  if ("error" in outcome) return `error: ${outcome.error}`;
  if ("skipped" in outcome) return outcome.skipped;
  const r = outcome.report;
  return `${r.status}, ${formatCount(r.delivered)} of ${formatCount(r.expected)} delivered, ` +
    `${formatCount(r.deliveriesPerSecond)}/s, p99 ${r.latencyMs?.p99 ?? "n/a"} ms, ` +
    `lost ${formatCount(r.lost)}, altered ${formatCount(r.altered)}`;
}

function flatten(
  outcome: { report: BenchReport } | { error: string } | { skipped: string },
): BenchReport | { error: string } | { skipped: string } {
  return "report" in outcome ? outcome.report : outcome;
}

interface Machine {
  cpus: number;
  cpuModel: string;
  loadBefore: string;
  commit: string | null;
  deno: string;
}

async function describeMachine(): Promise<Machine> {
  let cpuModel = "unknown CPU";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(info)?.[1].trim() ?? cpuModel;
  } catch {
    // not Linux
  }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    loadBefore: loadAverage(),
    commit: await gitCommit(),
    deno: Deno.version.deno,
  };
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

async function gitCommit(): Promise<string | null> {
  try {
    const output = await new Deno.Command("git", {
      args: ["describe", "--always", "--dirty", "--abbrev=7"],
      cwd: new URL("../..", import.meta.url).pathname,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : null;
  } catch {
    return null;
  }
}

function print(text: string): void {
  console.log(text);
}

function note(text: string): void {
  console.error(text);
}
