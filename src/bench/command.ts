/**
 * `parley bench` once its flags are parsed: one run against a server (a given
 * `--target`, or a parley server the bench starts and stops) when a flag of a
 * single run is given, with `--cluster N` the same load on one parley server
 * and then on N of them sharing a redis-server, else the scenario suite (what
 * `deno task bench` runs).
 * Results go to stdout, as text or one JSON object; the progress bar and
 * per-scenario notes go to stderr.
 *
 * @module
 */

import { dirname } from "node:path";
import { sleep } from "../async.ts";
import {
  parseFlags,
  parseHostPort,
  parseInteger,
  parseNumber,
  parsePort,
  parseSize,
} from "../cli/flags.ts";
import { UsageError } from "../errors.ts";
import { SERVER_DEFAULTS, SERVER_V8_FLAGS } from "../../server.ts";
import { MAX_SENDERS, PAYLOAD_MIN_SIZE } from "./payload.ts";
import { CLIENT_KINDS, type ClientKind } from "./client_kinds.ts";
import {
  type ClusterComparison,
  formatClusterComparison,
  formatCount,
  formatReport,
  formatSuiteTable,
  type Outcome,
  ProgressBar,
} from "./report.ts";
import { type BenchOptions, checkFileLimit, cpuUsed, round, runBench } from "./run.ts";
import {
  type BenchServer,
  cpuTime,
  describeParley,
  requireRedis,
  startParley,
  startParleyCluster,
  startRedis,
  stopAll,
} from "./servers.ts";
import { parleyLimits, runSuite, SCENARIOS } from "./suite.ts";
import { suiteChart } from "./chart.ts";
import { formatVersus } from "./versus.ts";
import { renderChart } from "./chart_svg.ts";

export { BenchError } from "./servers.ts";

/** One run, as the flags describe it. */
export interface BenchRunOptions extends
  Omit<
    BenchOptions,
    "host" | "port" | "ports" | "serverPids" | "onProgress" | "connectMode" | "connector"
  > {
  /** The server to measure; without it the bench starts its own parley server. */
  target?: { host: string; port: number };
  /** The port of the bench's own parley server (default: a free one). */
  port?: number;
  /** Print one JSON object instead of the summary. */
  json?: boolean;
  /**
   * Run the load twice: on one parley server, then on this many in one
   * cluster over a redis-server of the bench's own (not with `target`).
   */
  cluster?: number;
}

/** How long the cluster's servers get to see each other once all are listening (ms). */
const CLUSTER_SETTLE = 1_000;

/** Runs one bench and prints its report; returns the exit code. */
export async function runBenchCommand(options: BenchRunOptions): Promise<number> {
  if (options.cluster !== undefined) return await runClusterCommand(options, options.cluster);
  const { target, json, port, ...load } = options;
  let server: BenchServer | undefined;
  const progress = new ProgressBar();
  const removeSignals = stopServersOnSignal(progress);
  try {
    const limits = { ...parleyLimits(load), port };
    checkFileLimit(load.clients + load.idle + load.stalled);
    if (!target) server = await startParley(limits);
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
      ? `parley started by the bench as ${describeParley({ ...limits, port: server.port })}, ` +
        `log ${formatCount(logBytes ?? 0)} bytes`
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

/**
 * `--cluster N`: the same load on one parley server, then on N parley servers
 * in one cluster (a redis-server of the bench's own on a free port), clients
 * spread round-robin over them; prints both reports and the comparison.
 * Every server is stopped afterwards, on Ctrl-C too.
 */
async function runClusterCommand(options: BenchRunOptions, count: number): Promise<number> {
  const { json, target: _target, port: _port, cluster: _cluster, ...load } = options;
  /** The parley servers running now (the single one, then the cluster's). */
  let parleys: BenchServer[] = [];
  let redis: BenchServer | undefined;
  const progress = new ProgressBar();
  const removeSignals = stopServersOnSignal(progress);
  const stopServers = async () => {
    // parley first, so that each says goodbye through Redis, then Redis.
    await Promise.all(parleys.map((server) => server.stop()));
    parleys = [];
    await redis?.stop();
    redis = undefined;
  };
  try {
    const limits = parleyLimits(load);
    checkFileLimit(load.clients + load.idle + load.stalled);
    await requireRedis();

    progress.label = "1 server";
    const server = await startParley(limits);
    parleys = [server];
    const single = await runBench({
      ...load,
      host: server.host,
      port: server.port,
      serverPid: server.pid,
      onProgress: (p) => progress.update(p),
    });
    await stopServers();

    progress.label = `${count} servers`;
    redis = await startRedis();
    const redisPid = redis.pid;
    const redisUrl = `redis://${redis.host}:${redis.port}`;
    const servers = await startParleyCluster(count, redisUrl, limits);
    parleys = servers;
    await sleep(CLUSTER_SETTLE);
    const redisCpuStart = cpuTime(redisPid);
    const cluster = await runBench({
      ...load,
      host: servers[0].host,
      port: servers[0].port,
      ports: servers.map((server) => server.port),
      serverPids: servers.map((server) => server.pid),
      onProgress: (p) => progress.update(p),
    });
    const redisCpu = cpuUsed(redisCpuStart, cpuTime(redisPid)).cpuSeconds;
    const logBytes = servers.reduce((total, server) => total + server.logBytes(), 0);
    progress.clear();

    const singleP99 = single.latencyMs?.p99 ?? null;
    const clusterP99 = cluster.latencyMs?.p99 ?? null;
    const comparison: ClusterComparison = {
      servers: count,
      single,
      cluster,
      redisCpuSeconds: redisCpu,
      p99Ratio: singleP99 === null || clusterP99 === null || singleP99 === 0
        ? null
        : round(clusterP99 / singleP99, 2),
    };
    const command = describeParley({ ...limits, cluster: redisUrl });
    if (json) {
      print(JSON.stringify({ ...comparison, parleyCommand: command }));
    } else {
      print(formatClusterComparison(comparison, {
        single: `one parley server started by the bench as ${describeParley(limits)}`,
        cluster: `${count} parley servers started by the bench, each as ${command}, ` +
          `clients spread round-robin; logs ${formatCount(logBytes)} bytes together`,
      }));
    }
    return 0;
  } finally {
    progress.clear();
    await stopServers();
    removeSignals();
  }
}

/** What the suite takes from the command line. */
export interface SuiteCommandOptions {
  /** Scenario names (all when empty). */
  only?: string[];
  ncat?: boolean;
  json?: boolean;
  /** Write the headline comparison as an SVG chart to this file. */
  chart?: string;
}

/** The scenario names, for checking `--scenarios`. */
export const SCENARIO_NAMES: readonly string[] = SCENARIOS.map((scenario) => scenario.name);

export const BENCH_HELP =
  `Usage: parley bench [--suite] [--scenarios LIST] [--no-ncat] [--chart FILE] [--json]
       parley bench [--target HOST:PORT | --port P] [--clients N] [--messages M] … [--json]

Drives a line-based chat server with many clients over real sockets and reports
deliveries per second, lines lost or altered, readers the server disconnected,
latency (p50, p90, p99, max), connect time and, for a server it started or one
named by --server-pid, the server's CPU seconds and peak memory. Works against
any server that relays a line as '<name> line', ncat -l --chat included.

Without any flag of a single run (below) it runs the scenario suite, as
'deno task bench' does: every scenario against parley and, when ncat is
installed, ncat -l --chat, then a side-by-side table. With one, it is a
single run. Without --target the bench starts its own parley server on
127.0.0.1 as users run it ('deno run -A main.ts server' with its defaults,
--send-queue and --max-line included, except --rate 0 --max-per-ip 0
--connect-rate 0 (its clients all come from one address) and --max-clients
enough for the run), its console to a log file, and stops it
afterwards.

Suite:
  --suite              run the suite (the default without single-run flags)
  --scenarios LIST     only these (${SCENARIO_NAMES.join(",")})
  --no-ncat            measure parley only
  --chart FILE         also write the headline comparison as an SVG chart to FILE
                       (parley against ncat per scenario: deliveries/s, p99
                       latency, server CPU, peak RSS, with the targets; the
                       commit, date and machine in its title)

Single run:
  --target HOST:PORT   the server to measure (default: start a parley server)
  --port P             the port of the bench's own parley server (default: a free one)
  --clients N          clients that talk, each also reading everything (default 10)
  --messages M         messages each talker sends (default 100)
  --rate R             messages per second per talker; 0 = as fast as possible (default 0)
  --size BYTES         payload bytes per message, ${PAYLOAD_MIN_SIZE} to ${SERVER_DEFAULTS.maxLine} without --target (default 64)
  --idle K             extra clients that only listen (default 0)
  --stalled K          extra clients that connect and never read (default 0)
  --client-kind KIND   what the clients speak: line (default), irc (IRC over TCP:
                       NICK, USER, JOIN #lobby, PRIVMSG #lobby), or websocket
                       (the same IRC over WebSocket, as parley's page speaks it)
  --server-pid PID     measure this process's CPU and peak memory (with --target)
  --time-limit SECONDS hard limit for the run (default 120); a server that stops
                       delivering is reported as stuck after a few seconds
  --cluster N          run the load twice: on one parley server, then on N (2 to 8)
                       parley servers in one cluster over a redis-server of the
                       bench's own (needs redis-server), clients spread round-robin
                       over them; reports both and the ratio of their p99 latency

Both:
  --json               print one JSON object instead of the summary
  -h, --help           this help

Status of a run: complete (every payload arrived, no reader cut), cut (the
server disconnected reading clients; a stalled client being cut is reported
apart and does not count), lost, stuck, timeout. Each client needs a file
descriptor ('ulimit -n').

Exit code 0 when a report was printed (whatever it says), 1 when the bench
could not run (no server, too few file descriptors), 2 for wrong usage.
`;

/** Flags that make `parley bench` a single run instead of the suite. */
const RUN_FLAGS = [
  "target",
  "port",
  "clients",
  "messages",
  "rate",
  "size",
  "idle",
  "stalled",
  "client-kind",
  "server-pid",
  "time-limit",
  "cluster",
] as const;

/** `parley bench ARGS`: parses the flags and runs one bench or the suite; returns the exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    target: { type: "string" },
    port: { type: "string" },
    clients: { type: "string" },
    messages: { type: "string" },
    rate: { type: "string" },
    size: { type: "string" },
    idle: { type: "string" },
    stalled: { type: "string" },
    "client-kind": { type: "string" },
    "server-pid": { type: "string" },
    "time-limit": { type: "string" },
    cluster: { type: "string" },
    json: { type: "boolean" },
    suite: { type: "boolean" },
    scenarios: { type: "string" },
    "no-ncat": { type: "boolean" },
    chart: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(BENCH_HELP.trimEnd());
    return 0;
  }
  const runFlag = RUN_FLAGS.find((flag) => values[flag] !== undefined);
  if (runFlag === undefined || values.suite) {
    if (runFlag !== undefined) {
      throw new UsageError(`--${runFlag} does not go with --suite (it runs fixed scenarios)`);
    }
    const only = values.scenarios?.split(",").map((name) => name.trim()).filter(Boolean);
    const unknown = only?.find((name) => !SCENARIO_NAMES.includes(name));
    if (unknown !== undefined) {
      throw new UsageError(
        `invalid value '${unknown}' for --scenarios: expected some of ${SCENARIO_NAMES.join(",")}`,
      );
    }
    if (values.chart !== undefined) await checkChartFile(values.chart);
    return await runSuiteCommand({
      only,
      ncat: !values["no-ncat"],
      json: values.json,
      chart: values.chart,
    });
  }
  for (const flag of ["scenarios", "no-ncat", "chart"] as const) {
    if (values[flag] !== undefined) {
      throw new UsageError(
        `--${flag} is for the suite and does not go with --${runFlag} (a single run)`,
      );
    }
  }
  let target: { host: string; port: number } | undefined;
  if (values.target !== undefined) {
    const { host, port } = parseHostPort(values.target, { flag: "target", requirePort: true });
    target = { host, port: port! };
    if (values.port !== undefined) {
      throw new UsageError(
        "--port is for the bench's own parley server; --target names the server to measure",
      );
    }
  } else if (values["server-pid"] !== undefined) {
    throw new UsageError("--server-pid goes with --target (a server the bench starts is measured)");
  }
  if (values.cluster !== undefined) {
    if (target) {
      throw new UsageError(
        "--cluster does not go with --target (the bench starts the cluster's servers itself)",
      );
    }
    if (values.port !== undefined) {
      throw new UsageError("--port does not go with --cluster (its servers take free ports)");
    }
  }
  const optional = <T>(value: string | undefined, parse: (value: string) => T, fallback: T) =>
    value === undefined ? fallback : parse(value);
  const size = optional(values.size, (v) => parseSize("size", v, PAYLOAD_MIN_SIZE), 64);
  const clientKind = values["client-kind"];
  if (clientKind !== undefined && !(CLIENT_KINDS as readonly string[]).includes(clientKind)) {
    throw new UsageError(
      `invalid value '${clientKind}' for --client-kind: expected one of ${CLIENT_KINDS.join(", ")}`,
    );
  }
  if (!target && size > SERVER_DEFAULTS.maxLine) {
    throw new UsageError(
      `invalid value '${values.size}' for --size: the bench's own parley server keeps its ` +
        `default --max-line of ${SERVER_DEFAULTS.maxLine} bytes (use --target for another server)`,
    );
  }
  return await runBenchCommand({
    target,
    port: optional(values.port, (v) => parsePort("port", v), undefined),
    clients: optional(values.clients, (v) => parseInteger("clients", v, 1, MAX_SENDERS), 10),
    messages: optional(values.messages, (v) => parseInteger("messages", v, 1, 1e9), 100),
    rate: optional(
      values.rate,
      (v) => parseNumber("rate", v, { note: "0 = as fast as possible" }),
      0,
    ),
    size,
    idle: optional(values.idle, (v) => parseInteger("idle", v, 0), 0),
    stalled: optional(values.stalled, (v) => parseInteger("stalled", v, 0), 0),
    clientKind: clientKind as ClientKind | undefined,
    serverPid: optional(values["server-pid"], (v) => parseInteger("server-pid", v, 1), undefined),
    timeLimit: optional(
      values["time-limit"],
      (v) => parseNumber("time-limit", v, 1) * 1000,
      120_000,
    ),
    json: values.json,
    cluster: optional(values.cluster, (v) => parseInteger("cluster", v, 2, 8), undefined),
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
    onResult(result, server, outcome) {
      note(`  ${result.label}/${server}: ${summarize(outcome)}`);
    },
  }).finally(removeSignals);
  const loadAfter = loadAverage();
  if (options.chart !== undefined) {
    const chart = suiteChart(results, {
      ...machine,
      date: startedAt,
      kernel: kernelRelease(),
      loadAfter,
    });
    await Deno.writeTextFile(options.chart, renderChart(chart));
    note(`parley bench: chart written to ${options.chart}`);
  }
  if (options.json) {
    print(JSON.stringify({
      date: startedAt.toISOString(),
      ...machine,
      loadAfter,
      scenarios: results.map((result) => ({
        ...result,
        parley: flatten(result.parley),
        ncat: flatten(result.ncat),
        versus: result.versus &&
          { kind: result.versus.kind, ...asObject(flatten(result.versus.outcome)) },
      })),
    }));
    return 0;
  }
  const header = [
    `parley bench suite, ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC` +
    (machine.commit ? `, commit ${machine.commit}` : ""),
    `machine: ${machine.cpus} × ${machine.cpuModel}, Deno ${Deno.version.deno}, ` +
    `load average ${machine.loadBefore} before, ${loadAfter} after`,
    `parley ran as \`${describeParley()}\` (plus --max-clients where a scenario needs more ` +
    `than ${formatCount(SERVER_DEFAULTS.maxClients)}; the task runs with ` +
    `--v8-flags=${SERVER_V8_FLAGS}): its defaults otherwise, --send-queue ` +
    `${
      SERVER_DEFAULTS.sendQueue / 1024 / 1024
    } MiB and --max-line ${SERVER_DEFAULTS.maxLine} included`,
    "",
    ...results.map((result) =>
      `- ${result.label}: ${result.description}` +
      (result.target ? ` (target: ${result.target})` : "")
    ),
    "",
    "",
  ];
  const versus = formatVersus(results);
  print(header.join("\n") + formatSuiteTable(results) + (versus ? "\n\n" + versus : ""));
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

function summarize(outcome: Outcome): string {
  if ("error" in outcome) return `error: ${outcome.error}`;
  if ("skipped" in outcome) return outcome.skipped;
  if ("growth" in outcome) {
    const levels = outcome.growth.levels.map((level) =>
      `${formatCount(level.connections)}: ${level.rssMiB ?? "n/a"} MiB ` +
      `(${level.kibPerConnection ?? "n/a"} KiB each)`
    );
    const skipped = outcome.growth.skipped.map((skip) =>
      `${formatCount(skip.connections)} skipped`
    );
    return `base ${outcome.growth.baseRssMiB ?? "n/a"} MiB; ${[...levels, ...skipped].join(", ")}`;
  }
  if ("channel" in outcome) {
    return outcome.channel.runs.map((run) =>
      run.report === null
        ? `${run.kind}: error: ${run.error}`
        : `${run.kind}: ${run.report.status}, joined in ${formatCount(run.report.connectMs)} ms, ` +
          `CPU ${run.report.server?.cpuSeconds ?? "n/a"} s, ` +
          `peak RSS ${run.report.server?.peakRssMiB ?? "n/a"} MiB`
    ).join("; ");
  }
  const r = outcome.report;
  const lean = (outcome.lean ?? []).map((floor) =>
    `, ${floor.reader} ${floor.tool} p99 ${floor.p99} ms` +
    (floor.serverCpuSeconds != null ? ` (server CPU ${floor.serverCpuSeconds} s)` : "")
  )
    .join("");
  const missing = (outcome.leanMissing ?? []).map((why) => ` (${why})`).join("");
  return `${r.status}, ${formatCount(r.delivered)} of ${formatCount(r.expected)} delivered, ` +
    `${formatCount(r.deliveriesPerSecond)}/s, p99 ${r.latencyMs?.p99 ?? "n/a"} ms, ` +
    `lost ${formatCount(r.lost)}, altered ${formatCount(r.altered)}, ` +
    `readers cut ${formatCount(r.disconnected)}` +
    (r.stalled > 0 ? `, stalled cut ${r.stalledCut ?? "unknown"}` : "") +
    `, connect ${formatCount(r.connectMs)} ms` +
    (r.server?.peakRssMiB != null ? `, peak RSS ${r.server.peakRssMiB} MiB` : "") +
    lean + missing;
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? value as Record<string, unknown> : {};
}

/** An outcome as JSON: the report (with the lean floors) or growth itself, or why not. */
function flatten(outcome: Outcome): unknown {
  if ("report" in outcome) {
    return outcome.lean === undefined
      ? outcome.report
      : { ...outcome.report, leanFloor: outcome.lean, leanFloorMissing: outcome.leanMissing };
  }
  return "growth" in outcome ? outcome.growth : "channel" in outcome ? outcome.channel : outcome;
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

/** `--chart FILE`: refused before a run of many minutes when FILE cannot be written where it is. */
async function checkChartFile(file: string): Promise<void> {
  const directory = dirname(file);
  const kind = await Deno.stat(directory).then(
    (info) => info.isDirectory ? "directory" : "not a directory",
    () => "missing",
  );
  if (kind !== "directory") {
    throw new UsageError(
      `invalid value '${file}' for --chart: '${directory}' is ${
        kind === "missing" ? "not there" : "not a directory"
      }`,
    );
  }
  const existing = await Deno.stat(file).catch(() => null);
  if (existing?.isDirectory) {
    throw new UsageError(`invalid value '${file}' for --chart: it is a directory`);
  }
}

/** `Linux 6.18.44`, for the chart's title. */
function kernelRelease(): string | undefined {
  try {
    return `${Deno.build.os === "linux" ? "Linux" : Deno.build.os} ${Deno.osRelease()}`;
  } catch {
    return undefined;
  }
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
