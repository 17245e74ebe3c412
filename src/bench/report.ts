/**
 * How bench results look: a readable summary of one run, a side-by-side table
 * of a suite (parley against ncat, with ratios) followed by the growth table,
 * one server against a cluster (`--cluster`), and a progress bar on stderr
 * when stderr is a terminal.
 *
 * @module
 */

import type { LeanFloor } from "./floor.ts";
import type { GrowthReport } from "./growth.ts";
import { type BigChannelReport, formatBigChannel } from "./big_channel.ts";
import type { BenchProgress, BenchReport, ServersReport } from "./run.ts";
import { CLIENT_KIND_NAMES, type ClientKind } from "./client_kinds.ts";

const numberFormat = new Intl.NumberFormat("en-US");

/** `1234567` as `1,234,567`. */
export function formatCount(value: number): string {
  return numberFormat.format(Math.round(value));
}

/** A readable summary of one run; `server` names what was measured. */
export function formatReport(report: BenchReport, server: string): string {
  const pace = report.rate > 0 ? `${report.rate} msg/s each` : "burst";
  const kind = report.clientKind === undefined || report.clientKind === "line"
    ? ""
    : ` (${CLIENT_KIND_NAMES[report.clientKind]})`;
  const lines = [
    `parley bench: ${report.target} (${server})`,
    row(
      "clients",
      `${report.clients} talking × ${report.messages} messages, ${pace}, ${report.size}-byte payloads; ` +
        `${report.idle} idle, ${report.stalled} stalled${kind}`,
    ),
    row("status", describeStatus(report)),
    row(
      "sent",
      `${formatCount(report.sent)} of ${formatCount(report.clients * report.messages)} messages`,
    ),
    row(
      "deliveries",
      `${formatCount(report.delivered)} of ${formatCount(report.expected)} in ${
        report.seconds.toFixed(2)
      } s: ${formatCount(report.deliveriesPerSecond)}/s`,
    ),
    row("lost", formatCount(report.lost)),
    row("altered", formatCount(report.altered)),
  ];
  if (report.unattributed > 0) {
    lines.push(
      row("no sender", `${formatCount(report.unattributed)} delivered without their <name>`),
    );
  }
  if (report.duplicates > 0) lines.push(row("duplicates", formatCount(report.duplicates)));
  if (report.echoes > 0) lines.push(row("echoes", formatCount(report.echoes)));
  lines.push(row("readers cut", describeCut(report)));
  if (report.failed) {
    lines.push(
      row("failed", `${formatCount(report.failed)} clients gave up: ${report.firstFailure ?? "?"}`),
    );
  }
  if (report.stalled > 0) lines.push(row("stalled cut", describeStalledCut(report)));
  const latency = report.latencyMs;
  const greeting = report.greetingMs;
  lines.push(
    row(
      "latency",
      latency
        ? `p50 ${ms(latency.p50)}  p90 ${ms(latency.p90)}  p99 ${ms(latency.p99)}  max ${
          ms(latency.max)
        } ms`
        : "no deliveries",
    ),
    row(
      "connect",
      `${formatCount(report.connectMs)} ms until all ${
        formatCount(connections(report))
      } clients were greeted (${report.connectMode === "storm" ? "all at once" : "window rule"})` +
        (greeting
          ? `; greeting wait p50 ${ms(greeting.p50)}  p99 ${ms(greeting.p99)}  max ${
            ms(greeting.max)
          } ms`
          : ""),
    ),
  );
  if (report.slowConnects > 0) {
    lines.push(
      row("slow connect", `${report.slowConnects} took over 0.9 s (a full listen queue?)`),
    );
  }
  if (report.server) lines.push(row("server", describeProcess(report.server)));
  else if (report.servers) lines.push(row("servers", describeServers(report.servers)));
  if (report.deliveringCpuSeconds != null) {
    lines.push(
      row(
        "delivering",
        `server CPU ${report.deliveringCpuSeconds.toFixed(2)} s from the first message sent`,
      ),
    );
  }
  lines.push(row("bench", describeProcess(report.bench)));
  return lines.join("\n");
}

function describeCut(report: BenchReport): string {
  if (report.disconnected === 0) return "none";
  return `${formatCount(report.disconnected)} of ${
    formatCount(report.clients + report.idle)
  } reading clients disconnected by the server (${
    formatCount(report.lostAtCutReaders)
  } payloads missed by them)`;
}

function describeStalledCut(report: BenchReport): string {
  if (report.stalledCut === null) return "unknown (the kernel does not say)";
  return report.stalled === 1
    ? (report.stalledCut > 0 ? "yes" : "no")
    : `${report.stalledCut} of ${report.stalled}`;
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(12)}${value}`;
}

function describeStatus(report: BenchReport): string {
  switch (report.status) {
    case "complete":
      return "complete: every payload arrived and no reader was cut";
    case "cut":
      return `CUT: the server disconnected ${report.disconnected} reading client${
        report.disconnected === 1 ? "" : "s"
      }; it is alive, but their payloads never arrived`;
    case "lost":
      return "finished: the server is alive but some payloads never arrived";
    case "stuck":
      return "STUCK: the server stopped delivering; the run was ended";
    case "timeout":
      return "TIMEOUT: the time limit passed while payloads were still arriving";
  }
}

function describeProcess(process: NonNullable<BenchReport["server"]>): string {
  const cpu = process.cpuSeconds === null
    ? "CPU n/a"
    : `CPU ${process.cpuSeconds.toFixed(2)} s (${process.systemSeconds?.toFixed(2)} s system)`;
  const rss = process.peakRssMiB === null
    ? "peak RSS n/a"
    : `peak RSS ${process.peakRssMiB.toFixed(1)} MiB`;
  return `${cpu}, ${rss} (pid ${process.pid})`;
}

function describeServers(servers: ServersReport): string {
  const cpu = servers.cpuSeconds === null
    ? "CPU n/a"
    : `CPU ${servers.cpuSeconds.toFixed(2)} s together (${
      servers.systemSeconds?.toFixed(2)
    } s system; ${
      servers.each.map((server) => server.cpuSeconds?.toFixed(2) ?? "n/a").join(" + ")
    })`;
  const rss = servers.peakRssMiB === null
    ? "peak RSS n/a"
    : `largest peak RSS ${servers.peakRssMiB.toFixed(1)} MiB`;
  return `${cpu}, ${rss} (pids ${servers.pids.join(", ")})`;
}

/** The same load on one parley server and on a cluster of several, as `--cluster` runs it. */
export interface ClusterComparison {
  /** How many parley servers the cluster had. */
  servers: number;
  /** The run against one server. */
  single: BenchReport;
  /** The run against the cluster, clients spread round-robin over its servers. */
  cluster: BenchReport;
  /** CPU seconds redis-server used during the cluster run; null when unknown. */
  redisCpuSeconds: number | null;
  /** Cluster p99 latency / single p99; null when either run delivered nothing. */
  p99Ratio: number | null;
}

/**
 * One server against a cluster: each run's summary (`single` and `cluster`
 * name what was measured), then the figures side by side.
 */
export function formatClusterComparison(
  comparison: ClusterComparison,
  measured: { single: string; cluster: string },
): string {
  const { single, cluster } = comparison;
  const cpu = (report: BenchReport) => report.servers?.cpuSeconds ?? null;
  const fixed = (value: number | null, digits: number) =>
    value === null ? "n/a" : value.toFixed(digits);
  const latency = (report: BenchReport, key: "p50" | "p99") =>
    report.latencyMs ? ms(report.latencyMs[key]) : "n/a";
  const ratio = (a: number | null, b: number | null) =>
    a === null || b === null || b === 0 ? "" : (a / b).toFixed(2);
  const rows = [
    ["", "1 server", `${comparison.servers} servers (cluster)`, "cluster/single"],
    ["status", single.status, cluster.status, ""],
    [
      "delivered",
      `${formatCount(single.delivered)} / ${formatCount(single.expected)}`,
      `${formatCount(cluster.delivered)} / ${formatCount(cluster.expected)}`,
      "",
    ],
    ["lost", formatCount(single.lost), formatCount(cluster.lost), ""],
    [
      "deliveries/s",
      formatCount(single.deliveriesPerSecond),
      formatCount(cluster.deliveriesPerSecond),
      ratio(cluster.deliveriesPerSecond, single.deliveriesPerSecond),
    ],
    [
      "latency p50 ms",
      latency(single, "p50"),
      latency(cluster, "p50"),
      ratio(cluster.latencyMs?.p50 ?? null, single.latencyMs?.p50 ?? null),
    ],
    [
      "latency p99 ms",
      latency(single, "p99"),
      latency(cluster, "p99"),
      comparison.p99Ratio === null ? "" : comparison.p99Ratio.toFixed(2),
    ],
    [
      "parley CPU s",
      fixed(cpu(single), 2),
      fixed(cpu(cluster), 2),
      ratio(cpu(cluster), cpu(single)),
    ],
    ["redis CPU s", "", fixed(comparison.redisCpuSeconds, 2), ""],
    [
      "bench CPU s",
      fixed(single.bench.cpuSeconds, 2),
      fixed(cluster.bench.cpuSeconds, 2),
      ratio(cluster.bench.cpuSeconds, single.bench.cpuSeconds),
    ],
  ];
  return [
    formatReport(single, measured.single),
    "",
    formatReport(cluster, measured.cluster),
    row("redis", `CPU ${fixed(comparison.redisCpuSeconds, 2)} s during the run`),
    "",
    markdownTable(rows, [false, true, true, true]),
  ].join("\n");
}

function connections(report: BenchReport): number {
  return report.clients + report.idle + report.stalled;
}

function ms(value: number): string {
  return value < 10
    ? value.toFixed(2)
    : value < 100
    ? value.toFixed(1)
    : value < 1000
    ? value.toFixed(0)
    : formatCount(value);
}

/** A run's result for one server: a report, an error, or not run (with why). */
export type Outcome =
  | { report: BenchReport; lean?: LeanFloor[]; leanMissing?: string[] }
  | { growth: GrowthReport }
  | { channel: BigChannelReport }
  | { error: string }
  | { skipped: string };

/** One scenario's results, parley against ncat. */
export interface ScenarioResult {
  /** The scenario's name (as `--scenarios` takes it). */
  name: string;
  /** How the table names this run: the name, or `scale (task)` for the second run of scale. */
  label: string;
  kind: "load" | "growth" | "channel";
  description: string;
  /** What the result is held against. */
  target?: string;
  /** How parley was started. */
  parleyCommand: string;
  parley: Outcome;
  ncat: Outcome;
  /** What `parley`'s clients spoke (default line). */
  clientKind?: ClientKind;
  /**
   * A comparison of client kinds (`versus.ts`): the same load with these
   * clients against a fresh parley server, the reference `parley` is held
   * against; ncat is not run.
   */
  versus?: { kind: ClientKind; outcome: Outcome };
}

interface Metric {
  label: string;
  value: (report: BenchReport, lean?: LeanFloor[]) => number | string | null;
  /** Print the number this way; a ratio column is added for numeric metrics. */
  format?: (value: number) => string;
}

const METRICS: Metric[] = [
  { label: "status", value: (r) => r.status },
  {
    label: "messages sent",
    value: (r) => `${formatCount(r.sent)} / ${formatCount(r.clients * r.messages)}`,
  },
  {
    label: "delivered",
    value: (r) => `${formatCount(r.delivered)} / ${formatCount(r.expected)}`,
  },
  { label: "lost", value: (r) => r.lost, format: formatCount },
  { label: "altered", value: (r) => r.altered, format: formatCount },
  { label: "without sender", value: (r) => r.unattributed, format: formatCount },
  { label: "readers cut", value: (r) => r.disconnected, format: formatCount },
  {
    label: "stalled client cut",
    value: (r) =>
      r.stalled === 0
        ? "n/a"
        : r.stalledCut === null
        ? "unknown"
        : r.stalled === 1
        ? (r.stalledCut > 0 ? "yes" : "no")
        : `${r.stalledCut} of ${r.stalled}`,
  },
  { label: "deliveries/s", value: (r) => r.deliveriesPerSecond, format: formatCount },
  { label: "latency p50 ms", value: (r) => r.latencyMs?.p50 ?? null, format: ms },
  { label: "latency p90 ms", value: (r) => r.latencyMs?.p90 ?? null, format: ms },
  { label: "latency p99 ms", value: (r) => r.latencyMs?.p99 ?? null, format: ms },
  { label: "latency max ms", value: (r) => r.latencyMs?.max ?? null, format: ms },
  { label: "connect ms", value: (r) => r.connectMs, format: formatCount },
  { label: "greeting p99 ms", value: (r) => r.greetingMs?.p99 ?? null, format: ms },
  { label: "connects over 0.9 s", value: (r) => r.slowConnects, format: formatCount },
  {
    label: "server CPU s",
    value: (r) => r.server?.cpuSeconds ?? null,
    format: (v) => v.toFixed(2),
  },
  {
    label: "… of which system",
    value: (r) => r.server?.systemSeconds ?? null,
    format: (v) => v.toFixed(2),
  },
  {
    label: "server peak RSS MiB",
    value: (r) => r.server?.peakRssMiB ?? null,
    format: (v) => v.toFixed(1),
  },
  {
    label: "bench CPU s",
    value: (r) => r.bench.cpuSeconds,
    format: (v) => v.toFixed(2),
  },
];

/** Metrics where a ratio says nothing (counts that should be zero). */
const NO_RATIO = new Set([
  "lost",
  "altered",
  "without sender",
  "readers cut",
  "connects over 0.9 s",
]);

/** Rows for the lean readers of the floor (and the lean client of paced loads), after the bench's own latency rows. */
const LEAN_AFTER = "latency max ms";

/** A lean program's name in the table: `C epoll reader`, `C epoll client`. */
function leanName(floor: Pick<LeanFloor, "reader" | "tool">): string {
  return `${floor.reader} ${floor.tool}`;
}

function leanMetrics(names: string[]): Metric[] {
  const of = (lean: LeanFloor[] | undefined, name: string) =>
    lean?.find((floor) => leanName(floor) === name);
  return names.flatMap((name) => [
    ...(["p50", "p99"] as const).map((key) => ({
      label: `${name} ${key} ms`,
      value: (_: BenchReport, lean?: LeanFloor[]) => of(lean, name)?.[key] ?? null,
      format: ms,
    })),
    ...(name.endsWith(" client")
      ? [{
        label: `${name}: server CPU s`,
        value: (_: BenchReport, lean?: LeanFloor[]) => of(lean, name)?.serverCpuSeconds ?? null,
        format: (v: number) => v.toFixed(2),
      }]
      : []),
  ]);
}

/**
 * The suite's side-by-side table, as Markdown (which reads fine on a terminal
 * too), then a table per growth run.
 */
export function formatSuiteTable(results: ScenarioResult[]): string {
  const rows: string[][] = [["scenario", "metric", "parley", "ncat", "parley/ncat"]];
  for (const result of results) {
    if (result.versus) continue; // versus.ts tables these
    if (result.kind !== "load") continue;
    const names = [
      ...new Set(
        [result.parley, result.ncat].flatMap((outcome) =>
          "lean" in outcome ? (outcome.lean ?? []).map(leanName) : []
        ),
      ),
    ];
    const lean = leanMetrics(names);
    const at = METRICS.findIndex((metric) => metric.label === LEAN_AFTER) + 1;
    const metrics = [...METRICS.slice(0, at), ...lean, ...METRICS.slice(at)];
    for (const metric of metrics) {
      const parley = measured(result.parley, metric);
      const ncat = measured(result.ncat, metric);
      const ratio = typeof parley === "number" && typeof ncat === "number" &&
          !NO_RATIO.has(metric.label) && ncat > 0
        ? (parley / ncat).toFixed(2)
        : "";
      rows.push([
        metric === metrics[0] ? result.label : "",
        metric.label,
        shown(parley, metric),
        shown(ncat, metric),
        ratio,
      ]);
    }
  }
  const tables = rows.length > 1 ? [markdownTable(rows, [false, false, true, true, true])] : [];
  for (const result of results) {
    if (result.kind === "growth" && !result.versus) tables.push(formatGrowth(result));
    if (result.kind === "channel" && "channel" in result.parley) {
      tables.push(formatBigChannel(result.parley.channel));
    }
  }
  return tables.join("\n\n");
}

/** A metric of an outcome; an error or skip is told in the first row, "n/a" after. */
function measured(outcome: Outcome, metric: Metric): number | string | null {
  if ("report" in outcome) return metric.value(outcome.report, outcome.lean);
  if (metric !== METRICS[0]) return null;
  return "error" in outcome
    ? `error: ${outcome.error}`
    : "skipped" in outcome
    ? outcome.skipped
    : null;
}

/** A growth run: one row per level, then what limited it. */
export function formatGrowth(result: ScenarioResult): string {
  const outcome = result.parley;
  const title = `growth (parley: ${result.parleyCommand})`;
  if (!("growth" in outcome)) {
    const why = "error" in outcome
      ? `error: ${outcome.error}`
      : "skipped" in outcome
      ? outcome.skipped
      : "no result";
    return `${title}: ${why}`;
  }
  const growth = outcome.growth;
  const rows: string[][] = [[
    "connections",
    "server RSS MiB",
    "KiB per connection",
    "KiB per added connection",
    "connect ms",
    "delivered",
    "readers cut",
  ]];
  const fixed = (value: number | null, digits: number) =>
    value === null ? "n/a" : value.toFixed(digits);
  rows.push(["0", fixed(growth.baseRssMiB, 1), "", "", "", "", ""]);
  for (const level of growth.levels) {
    rows.push([
      formatCount(level.connections),
      fixed(level.rssMiB, 1),
      fixed(level.kibPerConnection, 1),
      level.kibPerAddedConnection === null ? "" : fixed(level.kibPerAddedConnection, 1),
      formatCount(level.connectMs),
      `${formatCount(level.delivered)} / ${formatCount(level.expected)}`,
      formatCount(level.disconnected),
    ]);
  }
  const limits = growth.fileLimits;
  const notes = [
    `'ulimit -n': ${limits.bench === null ? "unknown" : formatCount(limits.bench)} for the bench, ${
      limits.server === null ? "unknown" : formatCount(limits.server)
    } for the server`,
    `source addresses: ${
      growth.sources.map((source) => `${source.address} ${formatCount(source.connections)}`)
        .join(", ")
    }`,
    `server: ${describeProcess(growth.server)}`,
    ...(growth.greetingMs
      ? [
        `greeting wait: p50 ${ms(growth.greetingMs.p50)}  p99 ${ms(growth.greetingMs.p99)}  max ${
          ms(growth.greetingMs.max)
        } ms`,
      ]
      : []),
    ...(growth.slowConnects > 0 ? [`connects over 0.9 s: ${growth.slowConnects}`] : []),
    ...growth.skipped.map((skip) =>
      `${formatCount(skip.connections)} connections skipped: ${skip.reason}`
    ),
  ];
  return [
    `${title}`,
    "",
    markdownTable(rows, [true, true, true, true, true, true, true]),
    "",
    ...notes.map((note) => `- ${note}`),
  ].join("\n");
}

function shown(value: number | string | null, metric: Metric): string {
  if (value === null) return "n/a";
  return typeof value === "number" && metric.format ? metric.format(value) : String(value);
}

/** Rows as a Markdown table, the first row the header; columns right-aligned where asked. */
export function markdownTable(rows: string[][], alignRight: boolean[]): string {
  const widths = rows[0].map((_, column) =>
    Math.max(3, ...rows.map((cells) => displayWidth(cells[column])))
  );
  const pad = (cell: string, column: number) => {
    const fill = " ".repeat(widths[column] - displayWidth(cell));
    return alignRight[column] ? fill + cell : cell + fill;
  };
  const line = (cells: string[]) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = `| ${
    widths.map((width, column) =>
      alignRight[column] ? "-".repeat(width - 1) + ":" : "-".repeat(width)
    ).join(" | ")
  } |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

function displayWidth(text: string): number {
  return [...text].length;
}

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export class ProgressBar {
  readonly #enabled: boolean;
  #label = "";
  #lastDraw = 0;
  #drawn = false;
  readonly #encoder = new TextEncoder();

  constructor(enabled = Deno.stderr.isTerminal()) {
    this.#enabled = enabled;
  }

  /** What the bar is about (e.g. the scenario and server). */
  set label(label: string) {
    this.#label = label;
  }

  /** Redraws the bar (at most ten times a second). */
  update(progress: BenchProgress): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100 && progress.done < progress.total) return;
    this.#lastDraw = now;
    const fraction = progress.total > 0 ? Math.min(1, progress.done / progress.total) : 1;
    const width = 24;
    const full = Math.round(fraction * width);
    const bar = "#".repeat(full) + "-".repeat(width - full);
    const unit = progress.phase === "delivering" ? "deliveries" : "clients";
    const text = `${this.#label}${this.#label ? "  " : ""}${progress.phase} [${bar}] ${
      (fraction * 100).toFixed(0).padStart(3)
    }%  ${formatCount(progress.done)} / ${formatCount(progress.total)} ${unit}`;
    this.#write(`\r\x1b[2K${text}`);
    this.#drawn = true;
  }

  /** Removes the bar, so that what follows starts on a clean line. */
  clear(): void {
    if (!this.#enabled || !this.#drawn) return;
    this.#write("\r\x1b[2K");
    this.#drawn = false;
  }

  #write(text: string): void {
    try {
      Deno.stderr.writeSync(this.#encoder.encode(text));
    } catch {
      // a closed terminal is no reason to stop the bench
    }
  }
}
