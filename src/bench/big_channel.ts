/**
 * The big channel scenario (issue 20, "Scale, in the bench"): 10,000 clients
 * join one room, then 10 of them talk (scale's load: 1 message every 4 s each
 * for 20 s, 499,950 deliveries), once with each kind of client against a
 * fresh parley server: line clients on the chat port (they are in the lobby
 * once greeted), IRC clients on the IRC port (`NICK`, `USER`, `JOIN #lobby`)
 * and web clients (IRC over WebSocket, as parley's page speaks it) on the
 * chat port. Each run says whether every message reached every member, how
 * long it took until all of them were in the room (**join ms**: the last
 * one's 366 for IRC kinds, its greeting for line clients), and what the
 * server spent (CPU, peak RSS); the IRC kinds are held against the line
 * clients: all joined within 2 s, CPU and peak RSS at most 1.5× theirs.
 *
 * @module
 */

import { CLIENT_KIND_NAMES, type ClientKind } from "./client_kinds.ts";
import { formatCount } from "./report.ts";
import { type BenchProgress, type BenchReport, type Load, runBench } from "./run.ts";
import {
  type BenchServer,
  describeParley,
  type ParleyServerOptions,
  startParley,
} from "./servers.ts";

/** The load of each run: scale's. */
export const BIG_CHANNEL_LOAD: Load = {
  clients: 10,
  messages: 5,
  rate: 0.25,
  size: 64,
  idle: 9_990,
  stalled: 0,
};

/** The kinds run, in order; the first is the reference. */
export const BIG_CHANNEL_KINDS: readonly ClientKind[] = ["line", "irc", "websocket"];

/** The targets of the IRC kinds, against line clients. */
export const BIG_CHANNEL_TARGETS = { joinMs: 2_000, cpuTimes: 1.5, rssTimes: 1.5 } as const;

/** One kind's run. */
export interface KindRun {
  kind: ClientKind;
  /** `chat` or `irc`: the port its clients connected to. */
  port: "chat" | "irc";
  /** The run's report, or why there is none. */
  report: BenchReport | null;
  error?: string;
}

/** What the scenario measured. */
export interface BigChannelReport {
  /** How parley was started for each run. */
  parleyCommand: string;
  runs: KindRun[];
}

/** Options of {@linkcode runBigChannel}. */
export interface BigChannelOptions {
  kinds?: readonly ClientKind[];
  load?: Load;
  /** Each run's hard limit (ms, default 180,000). */
  timeLimit?: number;
  onProgress?: (progress: BenchProgress) => void;
  /** Told when a kind's run starts (a progress label). */
  onKind?: (kind: ClientKind) => void;
}

/** Runs the load once per kind, each against a fresh parley server with an IRC port. */
export async function runBigChannel(options: BigChannelOptions = {}): Promise<BigChannelReport> {
  const { clients, messages, rate, size, idle, stalled } = options.load ?? BIG_CHANNEL_LOAD;
  const load: Load = { clients, messages, rate, size, idle, stalled };
  const limits: ParleyServerOptions = {
    maxClients: load.clients + load.idle + load.stalled + 100,
    ircPort: true,
  };
  const runs: KindRun[] = [];
  for (const kind of options.kinds ?? BIG_CHANNEL_KINDS) {
    const port = kind === "irc" ? "irc" : "chat";
    options.onKind?.(kind);
    let server: BenchServer | undefined;
    try {
      server = await startParley(limits);
      const report = await runBench({
        ...load,
        clientKind: kind,
        host: server.host,
        port: port === "irc" ? server.ircPort! : server.port,
        serverPid: server.pid,
        timeLimit: options.timeLimit ?? 180_000,
        // Everyone at once, as the storm scenario: what is timed is the server's joining, not
        // the bench's pacing (clients of IRC kinds speak first: there is no greeting to wait for).
        connectMode: "storm",
        onProgress: options.onProgress,
      });
      runs.push({ kind, port, report });
    } catch (error) {
      runs.push({
        kind,
        port,
        report: null,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      await server?.stop();
    }
  }
  return { parleyCommand: describeParley(limits), runs };
}

/** Whether an IRC kind's run meets the targets against `line`'s: in words, per target. */
export function targetsMet(run: KindRun, line: KindRun | undefined): string[] {
  const r = run.report;
  if (r === null || run.kind === "line") return [];
  const met = (ok: boolean | null) => ok === null ? "n/a" : ok ? "**met**" : "**not met**";
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    a == null || b == null || b === 0 ? null : a / b;
  const reference = line?.report ?? null;
  const cpu = ratio(r.server?.cpuSeconds, reference?.server?.cpuSeconds);
  const rss = ratio(r.server?.peakRssMiB, reference?.server?.peakRssMiB);
  return [
    `every message to every member: ${met(r.status === "complete")}`,
    `all joined within ${formatCount(BIG_CHANNEL_TARGETS.joinMs)} ms: ` +
    met(r.connectMs <= BIG_CHANNEL_TARGETS.joinMs),
    `server CPU ≤ ${BIG_CHANNEL_TARGETS.cpuTimes}× line clients'` +
    (cpu === null ? "" : ` (${cpu.toFixed(2)}×)`) + `: ${met(cpu === null ? null : cpu <= 1.5)}`,
    `peak RSS ≤ ${BIG_CHANNEL_TARGETS.rssTimes}× line clients'` +
    (rss === null ? "" : ` (${rss.toFixed(2)}×)`) + `: ${met(rss === null ? null : rss <= 1.5)}`,
  ];
}

/** The runs side by side, as a Markdown table, then each IRC kind's targets. */
export function formatBigChannel(report: BigChannelReport): string {
  const runs = report.runs;
  const line = runs.find((run) => run.kind === "line");
  const head = [
    "figure",
    ...runs.map((run) => `${CLIENT_KIND_NAMES[run.kind]} (${run.port} port)`),
  ];
  const fixed = (value: number | null | undefined, digits: number) =>
    value == null ? "n/a" : value.toFixed(digits);
  const rows: [string, (r: BenchReport) => string][] = [
    ["status", (r) => r.status + ((r.failed ?? 0) > 0 ? `, ${r.failed} failed` : "")],
    ["delivered", (r) => `${formatCount(r.delivered)} / ${formatCount(r.expected)}`],
    ["readers cut", (r) => formatCount(r.disconnected)],
    ["join ms (all in the room)", (r) => formatCount(r.connectMs)],
    [
      "latency p50 / p99 ms",
      (r) => r.latencyMs ? `${fixed(r.latencyMs.p50, 1)} / ${fixed(r.latencyMs.p99, 1)}` : "n/a",
    ],
    ["server CPU s", (r) => fixed(r.server?.cpuSeconds, 2)],
    ["… of which system", (r) => fixed(r.server?.systemSeconds, 2)],
    ["server peak RSS MiB", (r) => fixed(r.server?.peakRssMiB, 1)],
    ["bench CPU s", (r) => fixed(r.bench.cpuSeconds, 2)],
  ];
  const table = [
    head,
    ...rows.map(([label, value]) => [
      label,
      ...runs.map((run) => run.report ? value(run.report) : `error: ${run.error ?? "?"}`),
    ]),
  ];
  const widths = head.map((_, column) =>
    Math.max(3, ...table.map((cells) => [...cells[column]].length))
  );
  const format = (cells: string[]) =>
    `| ${
      cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join(
        " | ",
      )
    } |`;
  const rule = `| ${
    widths.map((width, i) => i === 0 ? "-".repeat(width) : "-".repeat(width - 1) + ":").join(" | ")
  } |`;
  const targets = runs.filter((run) => run.kind !== "line").flatMap((run) =>
    targetsMet(run, line).map((target) => `- ${CLIENT_KIND_NAMES[run.kind]}: ${target}`)
  );
  return [
    `channel (parley: ${report.parleyCommand}; 10 talk, the others listen, in one room)`,
    "",
    format(table[0]),
    rule,
    ...table.slice(1).map(format),
    ...(targets.length > 0 ? ["", ...targets] : []),
  ].join("\n");
}
