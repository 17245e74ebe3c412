/**
 * Comparisons of client kinds on parley alone (issue 22): a suite scenario
 * with `versus` runs the same load with two kinds of client, each against a
 * fresh parley server started alike, in the same suite run: WebSocket
 * clients (IRC over WebSocket, as the page speaks it) held against line
 * clients. Here: the targets, whether each is met, and the tables.
 *
 * @module
 */

import { CLIENT_KIND_NAMES, type ClientKind } from "./client_kinds.ts";
import type { GrowthReport } from "./growth.ts";
import { formatCount, markdownTable, type Outcome, type ScenarioResult } from "./report.ts";
import type { BenchReport } from "./run.ts";

/** The targets of the comparisons (issue 22), as multiples of the reference kind's figure. */
export const VERSUS_TARGETS = {
  /** Deliveries per second at least this share of the reference's. */
  deliveriesAtLeast: 0.8,
  /** Server CPU seconds at most this multiple of the reference's. */
  cpuAtMost: 1.3,
  /** Server RSS per connection at most this multiple of the reference's. */
  kibPerConnectionAtMost: 1.25,
} as const;

/** One figure of a comparison: the two values, their ratio, the target and its verdict. */
export interface VersusFigure {
  label: string;
  /** The scenario's own kind's value, and the reference's. */
  value: number | null;
  reference: number | null;
  ratio: number | null;
  /** `≥ 0.8×`, `≤ 1.3×`; absent when the figure has no target. */
  target?: string;
  /** Whether it is met; null when it cannot be told (a run failed or measured nothing). */
  met?: boolean | null;
}

/** The kind a result's `parley` ran with, and the report or growth of each side. */
function sides(result: ScenarioResult) {
  return {
    kind: result.clientKind ?? "line",
    reference: result.versus?.kind ?? "line",
    own: result.parley,
    other: result.versus?.outcome ?? { skipped: "not run" },
  };
}

function report(outcome: Outcome): BenchReport | undefined {
  return "report" in outcome ? outcome.report : undefined;
}

function growth(outcome: Outcome): GrowthReport | undefined {
  return "growth" in outcome ? outcome.growth : undefined;
}

function ratioOf(value: number | null, reference: number | null): number | null {
  return value === null || reference === null || reference <= 0 ? null : value / reference;
}

/** The figures with targets of a comparison (the ones the chart draws too). */
export function versusFigures(result: ScenarioResult): VersusFigure[] {
  const { own, other } = sides(result);
  if (result.kind === "growth") {
    const kib = (outcome: Outcome) => growth(outcome)?.levels.at(-1)?.kibPerConnection ?? null;
    return [figure("KiB per connection", kib(own), kib(other), {
      atMost: VERSUS_TARGETS.kibPerConnectionAtMost,
    })];
  }
  const a = report(own);
  const b = report(other);
  const nothingLost = (r: BenchReport | undefined) =>
    r === undefined ? null : r.status === "complete" && r.lost === 0 && r.altered === 0;
  return [
    {
      label: "nothing lost",
      value: null,
      reference: null,
      ratio: null,
      target: "all delivered intact, no reader cut",
      met: nothingLost(a),
    },
    figure("deliveries/s", a?.deliveriesPerSecond ?? null, b?.deliveriesPerSecond ?? null, {
      atLeast: VERSUS_TARGETS.deliveriesAtLeast,
    }),
    figure("server CPU s", a?.server?.cpuSeconds ?? null, b?.server?.cpuSeconds ?? null, {
      atMost: VERSUS_TARGETS.cpuAtMost,
    }),
  ];
}

function figure(
  label: string,
  value: number | null,
  reference: number | null,
  target: { atLeast?: number; atMost?: number },
): VersusFigure {
  const ratio = ratioOf(value, reference);
  const limit = target.atLeast ?? target.atMost!;
  const met = ratio === null
    ? null
    : target.atLeast !== undefined
    ? ratio >= limit - 1e-9
    : ratio <= limit + 1e-9;
  return {
    label,
    value,
    reference,
    ratio,
    target: `${target.atLeast !== undefined ? "≥" : "≤"} ${limit}×`,
    met,
  };
}

/** The tables of every comparison among `results` (empty when there is none). */
export function formatVersus(results: readonly ScenarioResult[]): string {
  return results.filter((result) => result.versus !== undefined).map(formatOne).join("\n\n");
}

function formatOne(result: ScenarioResult): string {
  const { kind, reference, own, other } = sides(result);
  const names: [string, string] = [CLIENT_KIND_NAMES[kind], CLIENT_KIND_NAMES[reference]];
  const title = `${result.label}: ${names[0]} against ${names[1]} ` +
    `(parley both, each on a fresh server: ${result.parleyCommand})`;
  const header = ["figure", names[0], names[1], `${kind}/${reference}`, "target"];
  const targets = new Map(versusFigures(result).map((f) => [f.label, f]));
  const verdict = (label: string) => {
    const f = targets.get(label);
    if (!f?.target) return "";
    return `${f.target}: ${f.met === null ? "n/a" : f.met ? "**met**" : "**not met**"}`;
  };
  const rows: string[][] = [header];
  const why = (outcome: Outcome) =>
    "error" in outcome ? `error: ${outcome.error}` : "skipped" in outcome ? outcome.skipped : "";
  const a = own;
  const b = other;
  if (why(a) || why(b)) rows.push(["status", why(a) || "", why(b) || "", "", ""]);
  if (result.kind === "growth") {
    const ga = growth(a);
    const gb = growth(b);
    const level = (g: GrowthReport | undefined) => g?.levels.at(-1);
    const row = (
      label: string,
      value: (g: GrowthReport | undefined) => number | string | null | undefined,
      digits = 1,
      ratio = false,
    ) => {
      const va = value(ga);
      const vb = value(gb);
      const shown = (v: number | string | null | undefined) =>
        v === null || v === undefined ? "n/a" : typeof v === "number" ? v.toFixed(digits) : v;
      const r = ratio && typeof va === "number" && typeof vb === "number" && vb > 0
        ? (va / vb).toFixed(2)
        : "";
      rows.push([label, shown(va), shown(vb), r, verdict(label)]);
    };
    row("connections", (g) => level(g) ? formatCount(level(g)!.connections) : null);
    row("server RSS MiB, no client", (g) => g?.baseRssMiB);
    row("server RSS MiB", (g) => level(g)?.rssMiB, 1, true);
    row("KiB per connection", (g) => level(g)?.kibPerConnection, 2, true);
    row("connect ms (joined)", (g) => level(g) ? formatCount(level(g)!.connectMs) : null);
    row(
      "delivered",
      (g) =>
        level(g)
          ? `${formatCount(level(g)!.delivered)} / ${formatCount(level(g)!.expected)}`
          : null,
    );
    row("readers cut", (g) => level(g) ? formatCount(level(g)!.disconnected) : null);
    row("server CPU s", (g) => g?.server.cpuSeconds, 2, true);
    return [title, "", markdownTable(rows, [false, true, true, true, false])].join("\n");
  }
  const ra = report(a);
  const rb = report(b);
  const row = (
    label: string,
    value: (r: BenchReport) => number | string | null | undefined,
    format: (v: number) => string = formatCount,
    ratio = true,
  ) => {
    const va = ra ? value(ra) : undefined;
    const vb = rb ? value(rb) : undefined;
    const shown = (v: number | string | null | undefined) =>
      v === null || v === undefined ? "n/a" : typeof v === "number" ? format(v) : v;
    const r = ratio && typeof va === "number" && typeof vb === "number" && vb > 0
      ? (va / vb).toFixed(2)
      : "";
    rows.push([label, shown(va), shown(vb), r, verdict(label)]);
  };
  const seconds = (v: number) => v.toFixed(2);
  row("status", (r) => r.status, undefined, false);
  rows[rows.length - 1][4] = verdict("nothing lost");
  row("delivered", (r) => `${formatCount(r.delivered)} / ${formatCount(r.expected)}`);
  row("lost", (r) => r.lost, formatCount, false);
  row("altered", (r) => r.altered, formatCount, false);
  row("readers cut", (r) => r.disconnected, formatCount, false);
  row("clients failed", (r) => r.failed ?? 0, formatCount, false);
  row("deliveries/s", (r) => r.deliveriesPerSecond);
  row("latency p50 ms", (r) => r.latencyMs?.p50, (v) => v.toFixed(2));
  row("latency p99 ms", (r) => r.latencyMs?.p99, (v) => v.toFixed(2));
  row("connect ms (joined)", (r) => r.connectMs);
  row("server CPU s", (r) => r.server?.cpuSeconds, seconds);
  row("… of which delivering", (r) => r.deliveringCpuSeconds, seconds);
  row("server peak RSS MiB", (r) => r.server?.peakRssMiB, (v) => v.toFixed(1));
  row("bench CPU s", (r) => r.bench.cpuSeconds, seconds);
  return [title, "", markdownTable(rows, [false, true, true, true, false])].join("\n");
}

/** A kind's name for a chart's legend: `WebSocket clients`. */
export function kindName(kind: ClientKind): string {
  return CLIENT_KIND_NAMES[kind];
}
