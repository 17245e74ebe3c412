/**
 * How bench results look: a readable summary of one run, a side-by-side table
 * of a suite (parley against ncat, with ratios), and a progress bar on stderr
 * when stderr is a terminal.
 *
 * @module
 */

import type { BenchProgress, BenchReport } from "./run.ts";

const numberFormat = new Intl.NumberFormat("en-US");

/** `1234567` as `1,234,567`. */
export function formatCount(value: number): string {
  return numberFormat.format(Math.round(value));
}

/** A readable summary of one run; `server` names what was measured. */
export function formatReport(report: BenchReport, server: string): string {
  const pace = report.rate > 0 ? `${report.rate} msg/s each` : "burst";
  const lines = [
    `parley bench: ${report.target} (${server})`,
    row(
      "clients",
      `${report.clients} talking × ${report.messages} messages, ${pace}, ${report.size}-byte payloads; ` +
        `${report.idle} idle, ${report.stalled} stalled`,
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
  if (report.disconnected > 0) lines.push(row("dropped", `${report.disconnected} clients`));
  const latency = report.latencyMs;
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
      `${formatCount(report.connectMs)} ms (${formatCount(connections(report))} clients)`,
    ),
  );
  if (report.server) lines.push(row("server", describeProcess(report.server)));
  lines.push(row("bench", describeProcess(report.bench)));
  return lines.join("\n");
}

function row(label: string, value: string): string {
  return `  ${label.padEnd(12)}${value}`;
}

function describeStatus(report: BenchReport): string {
  switch (report.status) {
    case "complete":
      return "complete: every payload arrived";
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

function connections(report: BenchReport): number {
  return report.clients + report.idle + report.stalled;
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

/** A run's result for one server: a report, an error, or not run (with why). */
export type Outcome = { report: BenchReport } | { error: string } | { skipped: string };

/** One scenario's results, parley against ncat. */
export interface ScenarioResult {
  name: string;
  description: string;
  parley: Outcome;
  ncat: Outcome;
}

interface Metric {
  label: string;
  value: (report: BenchReport) => number | string | null;
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
  { label: "deliveries/s", value: (r) => r.deliveriesPerSecond, format: formatCount },
  { label: "latency p50 ms", value: (r) => r.latencyMs?.p50 ?? null, format: ms },
  { label: "latency p90 ms", value: (r) => r.latencyMs?.p90 ?? null, format: ms },
  { label: "latency p99 ms", value: (r) => r.latencyMs?.p99 ?? null, format: ms },
  { label: "latency max ms", value: (r) => r.latencyMs?.max ?? null, format: ms },
  { label: "connect ms", value: (r) => r.connectMs, format: formatCount },
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
const NO_RATIO = new Set(["lost", "altered", "without sender"]);

/** The suite's side-by-side table, as Markdown (which reads fine on a terminal too). */
export function formatSuiteTable(results: ScenarioResult[]): string {
  const rows: string[][] = [["scenario", "metric", "parley", "ncat", "parley/ncat"]];
  for (const result of results) {
    for (const metric of METRICS) {
      const parley = measured(result.parley, metric);
      const ncat = measured(result.ncat, metric);
      const ratio = typeof parley === "number" && typeof ncat === "number" &&
          !NO_RATIO.has(metric.label) && ncat > 0
        ? (parley / ncat).toFixed(2)
        : "";
      rows.push([
        metric === METRICS[0] ? result.name : "",
        metric.label,
        shown(parley, metric),
        shown(ncat, metric),
        ratio,
      ]);
    }
  }
  return markdownTable(rows, [false, false, true, true, true]);
}

/** A metric of an outcome; an error or skip is told in the first row, "n/a" after. */
function measured(outcome: Outcome, metric: Metric): number | string | null {
  if ("report" in outcome) return metric.value(outcome.report);
  if (metric !== METRICS[0]) return null;
  return "error" in outcome ? `error: ${outcome.error}` : outcome.skipped;
}

function shown(value: number | string | null, metric: Metric): string {
  if (value === null) return "n/a";
  return typeof value === "number" && metric.format ? metric.format(value) : String(value);
}

function markdownTable(rows: string[][], alignRight: boolean[]): string {
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
    const text = `${this.#label}${this.#label ? "  " : ""}${progress.phase} [${bar}] ${
      (fraction * 100).toFixed(0).padStart(3)
    }%  ${formatCount(progress.done)} / ${formatCount(progress.total)}`;
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
