/**
 * `parley bench` once its flags are parsed: one run against a server (a given
 * `--target`, or a parley server the bench starts and stops), or the whole
 * suite of `deno task bench`. Results go to stdout, as text or one JSON
 * object; the progress bar and per-scenario notes go to stderr.
 *
 * @module
 */

import { formatCount, formatReport, formatSuiteTable, ProgressBar } from "./report.ts";
import { type BenchOptions, type BenchReport, runBench } from "./run.ts";
import { type BenchServer, startParley, stopAll } from "./servers.ts";
import { parleyLimits, runSuite, SCENARIOS } from "./suite.ts";

export { BenchError } from "./servers.ts";
export { MAX_SENDERS, PAYLOAD_MIN_SIZE } from "./payload.ts";

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
