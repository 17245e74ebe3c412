/**
 * The suite's headline comparison as a chart: parley against ncat per
 * scenario, one panel per figure (deliveries/s, p99 latency, server CPU,
 * peak RSS), two bars per scenario, the ratio parley/ncat beside them and
 * the target where the suite has one. `parley bench --chart FILE` writes it
 * at the end of a suite run.
 *
 * Pure: {@linkcode suiteChart} turns results into {@linkcode ChartData};
 * `renderChart` in `chart_svg.ts` turns that into SVG text.
 *
 * @module
 */

import type { Outcome, ScenarioResult } from "./report.ts";
import type { BenchReport } from "./run.ts";
import { kindName, VERSUS_TARGETS, versusFigures } from "./versus.ts";

/** One bar: its value (null: nothing to draw) and what is printed on or beside it. */
export interface ChartBar {
  value: number | null;
  /** The value as printed, with anything worth saying (`lost 3,663`); or why there is no bar. */
  text: string;
}

/** A target, drawn as a dashed line across the row's bars. */
export interface ChartTarget {
  /** Where the line goes, in the panel's unit. */
  value: number;
  /** How it reads beside the row (`≤ 1.2 × ncat`). */
  text: string;
  /** Whether parley meets it; null when it cannot be told. */
  met: boolean | null;
}

/** One scenario in a panel: parley's bar above ncat's. */
export interface ChartRow {
  label: string;
  /** A short description of the load, under the label. */
  detail?: string;
  parley: ChartBar;
  ncat: ChartBar;
  /** parley / ncat, printed beside the bars; null or absent when there is no pair. */
  ratio?: number | null;
  target?: ChartTarget;
  /** Said beside the bars when there is no target (`the reference for the latency targets`). */
  remark?: string;
}

/** One figure: its own linear scale from zero. */
export interface ChartPanel {
  title: string;
  /** `higher is better` or `lower is better`, after the title. */
  better: "higher" | "lower";
  rows: ChartRow[];
  /** A line after the title (what the targets are measured against). */
  note?: string;
  /** How the axis' ticks are printed (default: {@linkcode formatTick}). */
  tick?: (value: number) => string;
  /**
   * The two bars of this panel when they are not the chart's series (a
   * comparison of client kinds: both parley); said in the panel's note.
   */
  series?: [string, string];
}

/** Everything the picture shows. */
export interface ChartData {
  title: string;
  /** Lines under the title: when, which commit, which machine. */
  subtitle: string[];
  /** The names of the two bars (parley, then what it is compared with). */
  series: [string, string];
  panels: ChartPanel[];
  /** Lines at the bottom (scenarios with no bar pair, where things are explained). */
  notes: string[];
}

/** What the chart says about the run itself. */
export interface ChartMeta {
  date: Date;
  commit: string | null;
  cpus: number;
  cpuModel: string;
  /** The system and `uname -r`: `Linux 6.18.44`. */
  kernel?: string;
  deno: string;
  loadBefore: string;
  loadAfter: string;
}

/**
 * The suite's targets that the chart draws (BENCHMARKS.md's scenario table):
 * ratios to ncat's figure of the same scenario, multiples of ncat's floor p99,
 * or MiB.
 */
export const CHART_TARGETS = {
  burst: { deliveriesAtLeast: 1, cpuAtMost: 1.2, rssMiB: 150 },
  paced: { cpuAtMost: 1.3, p99FloorTimes: 1.5 },
  heavy: { p99FloorTimes: 2 },
  scale: { rssMiB: 150 },
  "scale (task)": { rssMiB: 120 },
} as const;

const numberFormat = new Intl.NumberFormat("en-US");

/** An axis tick: `2,000,000` as `2 M`, `50,000` as `50 k`, `2.5` as `2.5`. */
export function formatTick(value: number): string {
  const short = (v: number) => String(Number(v.toPrecision(3)));
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${short(value / 1e6)} M`;
  if (abs >= 1e4) return `${short(value / 1e3)} k`;
  return abs >= 1e3 ? numberFormat.format(value) : short(value);
}

/** `4,950,000` as `4.95 M`, `98,983` as `99.0 k`, `3.714` as `3.71`: three significant digits. */
export function formatCompact(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${significant(value / 1e6)} M`;
  if (abs >= 1e4) return `${significant(value / 1e3)} k`;
  if (abs >= 1e3) return numberFormat.format(Math.round(value));
  return significant(value);
}

function significant(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toFixed(digits);
}

/** The headline comparison of a suite run. */
export function suiteChart(results: readonly ScenarioResult[], meta: ChartMeta): ChartData {
  const of = (label: string) => results.find((result) => result.label === label);
  const floorNcat = report(of("floor")?.ncat);
  const floorP99 = floorNcat?.latencyMs?.p99 ?? null;

  const throughput: ChartRow[] = [];
  const latency: ChartRow[] = [];
  const cpu: ChartRow[] = [];
  const memory: ChartRow[] = [];
  const add = (rows: ChartRow[], label: string, row: Omit<ChartRow, "label" | "detail"> | null) => {
    if (row) rows.push({ label, detail: DETAILS[label], ...row });
  };

  const deliveries = (r: BenchReport) => r.deliveriesPerSecond;
  const p99 = (r: BenchReport) => r.latencyMs?.p99 ?? null;
  const serverCpu = (r: BenchReport) => r.server?.cpuSeconds ?? null;
  const rss = (r: BenchReport) => r.server?.peakRssMiB ?? null;

  const burst = of("burst");
  add(
    throughput,
    "burst",
    pair(burst, deliveries, (v) => `${formatCompact(v)}/s`, {
      ratio: CHART_TARGETS.burst.deliveriesAtLeast,
      atLeast: true,
      text: `≥ ${CHART_TARGETS.burst.deliveriesAtLeast} × ncat`,
    }),
  );
  add(throughput, "stalled", pair(of("stalled"), deliveries, (v) => `${formatCompact(v)}/s`));

  const ms = (v: number) => `${formatCompact(v)} ms`;
  const floor = pair(of("floor"), p99, ms);
  add(latency, "floor", floor && { ...floor, remark: "the reference of the targets" });
  for (const name of ["paced", "heavy"] as const) {
    const times = CHART_TARGETS[name].p99FloorTimes;
    add(
      latency,
      name,
      pair(
        of(name),
        p99,
        ms,
        floorP99 === null ? undefined : {
          absolute: times * floorP99,
          text: `≤ ${formatCompact(times * floorP99)} ms`,
        },
      ),
    );
  }

  const seconds = (v: number) => `${v.toFixed(2)} s`;
  add(
    cpu,
    "burst",
    pair(burst, serverCpu, seconds, {
      ratio: CHART_TARGETS.burst.cpuAtMost,
      text: `≤ ${CHART_TARGETS.burst.cpuAtMost} × ncat`,
    }),
  );
  add(
    cpu,
    "paced",
    pair(of("paced"), serverCpu, seconds, {
      ratio: CHART_TARGETS.paced.cpuAtMost,
      text: `≤ ${CHART_TARGETS.paced.cpuAtMost} × ncat`,
    }),
  );
  add(cpu, "heavy", pair(of("heavy"), serverCpu, seconds));
  add(cpu, "stalled", pair(of("stalled"), serverCpu, seconds));

  const mib = (v: number) => `${formatCompact(v)} MiB`;
  const rssTarget = (limit: number) => ({ absolute: limit, text: `≤ ${limit} MiB` });
  add(memory, "burst", pair(burst, rss, mib, rssTarget(CHART_TARGETS.burst.rssMiB)));
  add(memory, "stalled", pair(of("stalled"), rss, mib));
  for (const label of ["scale", "scale (task)"] as const) {
    add(memory, label, pair(of(label), rss, mib, rssTarget(CHART_TARGETS[label].rssMiB)));
  }

  const panels: ChartPanel[] = [
    { title: "Deliveries per second", better: "higher", rows: throughput },
    {
      title: "Latency p99, ms (send → receive)",
      better: "lower",
      rows: latency,
      note: `targets: paced ≤ ${CHART_TARGETS.paced.p99FloorTimes} ×, heavy ≤ ` +
        `${CHART_TARGETS.heavy.p99FloorTimes} × ncat's floor p99` +
        (floorP99 === null ? " (no ncat floor in this run)" : ` (${formatCompact(floorP99)} ms)`),
    },
    { title: "Server CPU seconds over the run", better: "lower", rows: cpu },
    { title: "Server peak RSS, MiB", better: "lower", rows: memory },
    ...versusPanels(results),
  ].filter((panel): panel is ChartPanel => panel.rows.length > 0);

  const when = meta.date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const machine = `${meta.cpus} × ${meta.cpuModel}` +
    (meta.kernel ? `, ${meta.kernel}` : "") + `, Deno ${meta.deno}`;
  return {
    // Comparisons of client kinds alone (no scenario against ncat ran): their kinds are the series.
    ...(panels.every((panel) => panel.series !== undefined) && panels.length > 0
      ? {
        title: `parley: ${panels[0].series![0]} against ${panels[0].series![1]} (deno task bench)`,
        series: panels[0].series!,
      }
      : {
        title: "parley against ncat --chat, per scenario (deno task bench)",
        series: ["parley", "ncat --chat"] as [string, string],
      }),
    subtitle: [
      `${when}${meta.commit ? `, commit ${meta.commit}` : ""}; ${machine}`,
      `load average ${meta.loadBefore} before the run, ${meta.loadAfter} after`,
    ],
    panels,
    notes: parleyAlone(of("storm"), of("growth")),
  };
}

/**
 * The comparisons of client kinds (`versus.ts`): per figure with a target, a
 * panel whose two bars are both parley's, the scenario's own kind above the
 * reference kind (WebSocket clients above line clients).
 */
function versusPanels(results: readonly ScenarioResult[]): ChartPanel[] {
  const compared = results.filter((result) => result.versus !== undefined);
  if (compared.length === 0) return [];
  const first = compared[0];
  const series: [string, string] = [
    kindName(first.clientKind ?? "line"),
    kindName(first.versus!.kind),
  ];
  const note = `upper bar ${series[0]}, lower bar ${series[1]}, parley both`;
  const versus = `${series[0].split(" ")[0]} vs ${series[1]}`;
  const panel = (
    title: string,
    label: string,
    format: (v: number) => string,
    better: "higher" | "lower",
    among = compared,
  ): ChartPanel => {
    const rows: ChartRow[] = [];
    for (const result of among) {
      const figure = versusFigures(result).find((f) => f.label === label);
      if (!figure) continue;
      const bar = (value: number | null, outcome: Outcome): ChartBar =>
        value === null ? { value: null, text: why(outcome) } : {
          value,
          text: [format(value), versusNote(outcome)].filter(Boolean).join(", "),
        };
      const limit = label === "deliveries/s"
        ? VERSUS_TARGETS.deliveriesAtLeast
        : label === "server CPU s"
        ? VERSUS_TARGETS.cpuAtMost
        : VERSUS_TARGETS.kibPerConnectionAtMost;
      rows.push({
        label: result.label,
        detail: DETAILS[result.label],
        parley: bar(figure.value, result.parley),
        ncat: bar(figure.reference, result.versus!.outcome),
        ratio: figure.ratio,
        ...(figure.reference === null ? {} : {
          target: {
            value: limit * figure.reference,
            text: `${figure.target} ${series[1].split(" ")[0]}`,
            met: figure.met ?? null,
          },
        }),
      });
    }
    return { title, better, rows, note, series };
  };
  const seconds = (v: number) => `${v.toFixed(2)} s`;
  // Deliveries per second differ by orders of magnitude between loads (a burst, a paced room of
  // thousands): a panel, and a scale, for each.
  const perSecond = (v: number) => `${formatCompact(v)}/s`;
  return [
    ...compared.filter((result) => result.kind === "load").map((result) =>
      panel(`${versus}: deliveries/s, ${result.label}`, "deliveries/s", perSecond, "higher", [
        result,
      ])
    ),
    panel(`${versus}: server CPU s`, "server CPU s", seconds, "lower"),
    panel(
      `${versus}: KiB per connection`,
      "KiB per connection",
      (v) => `${formatCompact(v)} KiB`,
      "lower",
    ),
  ];
}

/** What a comparison bar's value does not say (lines lost, readers cut). */
function versusNote(outcome: Outcome): string {
  const r = report(outcome);
  return r ? statusNote(r) : "";
}

/** What the suite measures of each scenario, in a few words. */
const DETAILS: Record<string, string> = {
  burst: "100 × 500 msgs, flat out",
  floor: "1 msg / 10 ms → 99",
  paced: "100 × 10 msgs/s",
  heavy: "100 × 50 msgs/s",
  stalled: "20 flat out + 1 never reads",
  scale: "10,000 in one room",
  "scale (task)": "the same, deno task server",
  "burst-ws": "burst, deno task server",
  "scale-ws": "scale, deno task server",
  "idle-ws": "10,000 idle, deno task server",
};

type TargetSpec =
  | { ratio: number; atLeast?: boolean; text: string }
  | { absolute: number; text: string };

/** One row from a scenario's two outcomes; null when the scenario was not run. */
function pair(
  result: ScenarioResult | undefined,
  value: (report: BenchReport) => number | null,
  format: (value: number) => string,
  target?: TargetSpec,
): Omit<ChartRow, "label" | "detail"> | null {
  if (!result) return null;
  const bar = (outcome: Outcome): ChartBar => {
    const r = report(outcome);
    if (!r) return { value: null, text: why(outcome) };
    const v = value(r);
    return v === null
      ? { value: null, text: `${statusNote(r) || r.status}, not measured` }
      : { value: v, text: [format(v), statusNote(r)].filter(Boolean).join(", ") };
  };
  const parley = bar(result.parley);
  const ncat = bar(result.ncat);
  const ratio = parley.value !== null && ncat.value !== null && ncat.value > 0
    ? parley.value / ncat.value
    : null;
  let line: ChartTarget | undefined;
  if (target && "absolute" in target) {
    line = {
      value: target.absolute,
      text: target.text,
      met: parley.value === null ? null : parley.value <= target.absolute,
    };
  } else if (target && ncat.value !== null) {
    line = {
      value: target.ratio * ncat.value,
      text: target.text,
      met: ratio === null
        ? null
        : target.atLeast
        ? ratio >= target.ratio - 1e-9
        : ratio <= target.ratio + 1e-9,
    };
  }
  return { parley, ncat, ratio, ...(line ? { target: line } : {}) };
}

function report(outcome: Outcome | undefined): BenchReport | undefined {
  return outcome && "report" in outcome ? outcome.report : undefined;
}

/** Why an outcome has no bar: `not run: ncat cannot hold 10,000 connections`. */
function why(outcome: Outcome): string {
  if ("error" in outcome) return `error: ${outcome.error}`;
  if ("skipped" in outcome) {
    const inner = /^n\/a \((.+)\)$/.exec(outcome.skipped)?.[1];
    return inner ? `not run: ${inner}` : outcome.skipped;
  }
  return "no result";
}

/** What a bar's value does not say: lines lost, readers cut, a run that stopped. */
function statusNote(r: BenchReport): string {
  const share = r.expected > 0 ? Math.floor(r.delivered / r.expected * 100) : 100;
  switch (r.status) {
    case "complete":
      return "";
    case "cut":
      return `${numberFormat.format(r.disconnected)} readers cut`;
    case "lost":
      return `lost ${numberFormat.format(r.lost)}`;
    case "stuck":
    case "timeout":
      return `${r.status} at ${share} %`;
  }
}

/** Footnotes for the scenarios ncat cannot run and that have no MiB or ms pair. */
function parleyAlone(
  storm: ScenarioResult | undefined,
  growth: ScenarioResult | undefined,
): string[] {
  const notes: string[] = [];
  const s = report(storm?.parley);
  if (s) {
    const met = s.status === "complete" && s.connectMs <= 2_000;
    notes.push(
      `storm (parley alone): 10,000 clients connecting at once all greeted in ` +
        `${formatCompact(s.connectMs / 1000)} s, ${s.status}; target ≤ 2 s: ${
          met ? "met" : "not met"
        }`,
    );
  }
  if (growth && "growth" in growth.parley) {
    const levels = growth.parley.growth.levels;
    const top = levels.at(-1);
    if (top) {
      const each = levels.map((level) =>
        `${level.kibPerConnection === null ? "n/a" : formatCompact(level.kibPerConnection)} at ${
          numberFormat.format(level.connections)
        }`
      ).join(", ");
      const met = top.connections >= 19_000 && top.kibPerConnection !== null &&
        top.kibPerConnection <= 8;
      notes.push(
        `growth (parley alone): KiB per connection ${each}; aim ≤ 8 KiB at 19,000: ${
          met ? "met" : "not met"
        }`,
      );
    }
  }
  return notes;
}
