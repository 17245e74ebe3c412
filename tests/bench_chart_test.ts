/**
 * The bench's SVG chart (`parley bench --chart FILE`): well-formed XML (a
 * small checker below, no parser dependency), bars proportional to their
 * values, labels escaped, an explicit background, the figures and targets
 * taken from a suite's results, and the flag itself: refused outside the
 * suite, checked before a run, and written by a short real suite run.
 */

import assert from "node:assert/strict";
import { CHART_TARGETS, type ChartData, formatCompact, suiteChart } from "../src/bench/chart.ts";
import { escapeXml, placeLabel, renderChart, tickStep } from "../src/bench/chart_svg.ts";
import type { GrowthReport } from "../src/bench/growth.ts";
import type { ScenarioResult } from "../src/bench/report.ts";
import type { BenchReport } from "../src/bench/run.ts";
import { SCENARIOS } from "../src/bench/suite.ts";
import { runCli } from "./helpers.ts";

/** An element as the checker saw it. */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  /** The text directly inside it, entities decoded. */
  text: string;
  children: XmlElement[];
}

const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#(\d+)|#x([0-9a-fA-F]+));/g;
const BAD_AMPERSAND = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
const TAG =
  /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<!--(?:(?!--)[\s\S])*-->|<\?xml[^?]*\?>/g;
const ATTRIBUTE = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g;

function decode(text: string): string {
  return text.replace(
    ENTITY,
    (_, named: string, dec: string, hex: string) =>
      named
        ? { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[named]!
        : String.fromCodePoint(dec ? Number(dec) : parseInt(hex, 16)),
  );
}

/**
 * Parses `xml` strictly enough for generated SVG: tags balanced and nested,
 * attributes quoted and unique, no raw `<` or stray `&` in text or values,
 * one root element. Throws on the first fault; returns the root.
 */
function parseXml(xml: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let at = 0;
  const text = (from: number, to: number) => {
    const chunk = xml.slice(from, to);
    assert.ok(!chunk.includes("<"), `raw '<' at ${from}: ${JSON.stringify(chunk.slice(0, 60))}`);
    assert.ok(!BAD_AMPERSAND.test(chunk), `stray '&' at ${from}`);
    if (stack.length > 0) stack.at(-1)!.text += decode(chunk);
    else assert.equal(chunk.trim(), "", `text outside the root at ${from}`);
  };
  for (const match of xml.matchAll(TAG)) {
    text(at, match.index);
    at = match.index + match[0].length;
    const [, closing, name, attributeText, selfClosing] = match;
    if (name === undefined) continue; // a comment or the XML declaration
    if (closing) {
      assert.equal(attributeText.trim(), "", `attributes on </${name}>`);
      const open = stack.pop();
      assert.equal(open?.name, name, `</${name}> closes <${open?.name}>`);
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const attribute of attributeText.matchAll(ATTRIBUTE)) {
      const value = attribute[2] ?? attribute[3];
      assert.ok(!(attribute[1] in attributes), `attribute ${attribute[1]} twice on <${name}>`);
      assert.ok(!BAD_AMPERSAND.test(value), `stray '&' in ${name}/@${attribute[1]}`);
      attributes[attribute[1]] = decode(value);
    }
    const element: XmlElement = { name, attributes, text: "", children: [] };
    if (stack.length > 0) stack.at(-1)!.children.push(element);
    else {
      assert.equal(root, undefined, `a second root element <${name}>`);
      root = element;
    }
    if (!selfClosing) stack.push(element);
  }
  text(at, xml.length);
  assert.deepEqual(stack.map((element) => element.name), [], "unclosed elements");
  assert.ok(root, "no root element");
  return root;
}

function* walk(element: XmlElement): Generator<XmlElement> {
  yield element;
  for (const child of element.children) yield* walk(child);
}

function elements(root: XmlElement, name: string, className?: string): XmlElement[] {
  return [...walk(root)].filter((element) =>
    element.name === name &&
    (className === undefined || element.attributes.class?.split(" ").includes(className))
  );
}

/** What a `<text>` reads, its `<tspan>`s included (their text is all it holds then). */
function deepText(element: XmlElement): string {
  return element.text + element.children.map(deepText).join("");
}

function texts(root: XmlElement): string[] {
  return elements(root, "text").map(deepText);
}

Deno.test("the checker itself refuses what is not well-formed", () => {
  parseXml(`<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>`);
  for (
    const bad of [
      `<svg><g></svg>`,
      `<svg><text>a < b</text></svg>`,
      `<svg><text>a & b</text></svg>`,
      `<svg a="1" a="2"/>`,
      `<svg a=1/>`,
      `<svg/><svg/>`,
      `<svg><g>`,
    ]
  ) {
    assert.throws(() => parseXml(bad), bad);
  }
});

function sampleChart(label = "burst"): ChartData {
  return {
    title: "a chart",
    subtitle: ["2026-12-01 12:00 UTC, commit abc1234"],
    series: ["parley", "ncat --chat"],
    panels: [
      {
        title: "Deliveries per second",
        better: "higher",
        rows: [
          {
            label,
            detail: "100 × 500",
            parley: { value: 5_000_000, text: "5.00 M/s" },
            ncat: { value: 4_000_000, text: "4.00 M/s, lost 12" },
            ratio: 1.25,
            target: { value: 4_000_000, text: "≥ 1 × ncat", met: true },
          },
          {
            label: "stalled",
            parley: { value: 1_000_000, text: "1.00 M/s" },
            ncat: { value: 250_000, text: "250 k/s, stuck at 49 %" },
            ratio: 4,
          },
        ],
      },
      {
        title: "Server peak RSS, MiB",
        better: "lower",
        rows: [{
          label: "scale",
          parley: { value: 167, text: "167 MiB" },
          ncat: { value: null, text: "not run: ncat cannot hold 10,000 connections" },
          target: { value: 150, text: "≤ 150 MiB", met: false },
        }],
      },
    ],
    notes: ["storm (parley alone): 1.02 s"],
  };
}

Deno.test("the chart is well-formed SVG with an explicit background", () => {
  const svg = renderChart(sampleChart());
  const root = parseXml(svg);
  assert.equal(root.name, "svg");
  assert.equal(root.attributes.xmlns, "http://www.w3.org/2000/svg");
  const [width, height] = [Number(root.attributes.width), Number(root.attributes.height)];
  assert.ok(width > 0 && height > 0);
  assert.equal(root.attributes.viewBox, `0 0 ${width} ${height}`);
  // The first thing drawn covers the whole picture, so dark viewers show it as drawn.
  const background = root.children.find((child) => child.name === "rect")!;
  assert.equal(background.attributes.class, "background");
  assert.equal(background.attributes.fill, "#ffffff");
  assert.equal(Number(background.attributes.width), width);
  assert.equal(Number(background.attributes.height), height);
  // Everything drawn stays inside the picture.
  for (const element of walk(root)) {
    for (const key of ["x", "x1", "x2"]) {
      if (key in element.attributes) {
        const value = Number(element.attributes[key]);
        assert.ok(value >= 0 && value <= width, `${element.name} ${key}=${value}`);
      }
    }
    for (const key of ["y", "y1", "y2"]) {
      if (key in element.attributes) {
        const value = Number(element.attributes[key]);
        assert.ok(value >= 0 && value <= height, `${element.name} ${key}=${value}`);
      }
    }
  }
});

Deno.test("bars are proportional to their values, targets on the same scale", () => {
  const root = parseXml(renderChart(sampleChart()));
  const bars = elements(root, "rect", "bar");
  assert.equal(bars.length, 5, "two pairs and one parley bar (ncat did not run scale)");
  const scale = (element: XmlElement) =>
    Number(element.attributes.width) / Number(element.attributes["data-value"]);
  // One scale per panel: the first panel's four bars share one.
  const first = bars.slice(0, 4).map(scale);
  for (const s of first) assert.ok(Math.abs(s / first[0] - 1) < 0.001, `${s} vs ${first[0]}`);
  const x0 = Number(bars[0].attributes.x);
  for (const bar of bars) assert.equal(Number(bar.attributes.x), x0, "bars start at zero");
  // 5 M against 4 M: the parley bar is 1.25 times as long.
  assert.ok(
    Math.abs(Number(bars[0].attributes.width) / Number(bars[1].attributes.width) - 1.25) < 0.001,
  );
  // The target line sits where its value falls on the bars' scale.
  const [deliveries, rss] = elements(root, "line", "target");
  assert.ok(
    Math.abs(Number(deliveries.attributes.x1) - (x0 + 4_000_000 * first[0])) < 0.2,
    "the target of 4 M is at the end of the 4 M bar",
  );
  assert.equal(Number(rss.attributes["data-value"]), 150);
  const scaleRss = scale(bars[4]);
  assert.ok(Math.abs(Number(rss.attributes.x1) - (x0 + 150 * scaleRss)) < 0.2);
  // The longest bar or target fills most of the width, and none runs past the axis.
  const widths = bars.map((bar) => Number(bar.attributes.width));
  assert.ok(Math.max(...widths.slice(0, 4)) > 300);
});

Deno.test("a value goes inside its bar, or after it, and not across the target line", () => {
  const free = placeLabel(400, 60, null);
  assert.equal(free.inside, true);
  const x0 = free.x - 394; // where bars start: the label ends 6 px before the bar's end
  // A target line under the label inside: the label goes after the bar.
  assert.deepEqual(placeLabel(400, 60, x0 + 370), { inside: false, x: x0 + 405 });
  // A line just past a short bar: the label goes after the line.
  assert.deepEqual(placeLabel(30, 60, x0 + 40), { inside: false, x: x0 + 46 });
  // Too short for the label, no line: after the bar.
  assert.deepEqual(placeLabel(30, 60, null), { inside: false, x: x0 + 35 });
  // A line far away changes nothing.
  assert.deepEqual(placeLabel(400, 60, x0 + 100), free);
});

Deno.test("values are printed on the bars, ratios and verdicts beside them", () => {
  const all = texts(parseXml(renderChart(sampleChart())));
  for (
    const expected of [
      "Deliveries per second (higher is better)",
      "Server peak RSS, MiB (lower is better)",
      "parley / ncat",
      "5.00 M/s",
      "4.00 M/s, lost 12",
      "1.25 ×",
      "target ≥ 1 × ncat: met",
      "target ≤ 150 MiB: not met",
      "not run: ncat cannot hold 10,000 connections",
      "storm (parley alone): 1.02 s",
      "parley",
      "ncat --chat",
      "2026-12-01 12:00 UTC, commit abc1234",
    ]
  ) {
    assert.ok(all.includes(expected), `${expected} in ${JSON.stringify(all)}`);
  }
});

Deno.test("labels are escaped", () => {
  const nasty = `<script>alert("x")</script> & 'co'`;
  const chart = sampleChart(nasty);
  chart.title = `a & b <c>`;
  chart.notes.push(`]]> <!-- "&amp;`);
  const svg = renderChart(chart);
  assert.ok(!svg.includes("<script>"), "no raw tag from a label");
  assert.ok(svg.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;co&apos;"));
  const root = parseXml(svg);
  const all = texts(root);
  assert.ok(all.includes(nasty), "the label reads as given");
  assert.ok(all.includes(`]]> <!-- "&amp;`));
  assert.equal(elements(root, "title")[0].text, "a & b <c>");
  assert.equal(escapeXml(`&<>"'`), "&amp;&lt;&gt;&quot;&apos;");
  assert.equal(escapeXml("a\x00b\x1bc\td\ne"), "abc\td\ne", "no control XML forbids");
});

Deno.test("an empty chart and odd values still draw", () => {
  const empty = renderChart({ ...sampleChart(), panels: [], notes: [] });
  assert.ok(texts(parseXml(empty)).includes("No scenario of the chart was run."));
  const zeros = sampleChart();
  zeros.panels[0].rows[0].parley = { value: 0, text: "0/s" };
  zeros.panels[0].rows[0].ncat = { value: 0, text: "0/s" };
  zeros.panels[0].rows[0].target = undefined;
  zeros.panels[0].rows[1].parley = { value: 0, text: "0/s" };
  zeros.panels[0].rows[1].ncat = { value: 0, text: "0/s" };
  const svg = renderChart(zeros);
  parseXml(svg);
  assert.doesNotMatch(svg, /NaN|Infinity/);
});

Deno.test("ticks and numbers are round", () => {
  assert.equal(tickStep(5_070_000), 1_000_000);
  assert.equal(tickStep(167), 50);
  assert.equal(tickStep(9.98), 2);
  assert.equal(tickStep(0), 1);
  assert.equal(formatCompact(5_012_345), "5.01 M");
  assert.equal(formatCompact(98_983), "99.0 k");
  assert.equal(formatCompact(1_020), "1,020");
  assert.equal(formatCompact(278.4), "278");
  assert.equal(formatCompact(19.15), "19.1");
  assert.equal(formatCompact(3.714), "3.71");
});

function report(changes: Partial<BenchReport> = {}): BenchReport {
  return {
    target: "127.0.0.1:1",
    clients: 100,
    messages: 500,
    rate: 0,
    size: 64,
    idle: 0,
    stalled: 0,
    status: "complete",
    sent: 50_000,
    expected: 4_950_000,
    delivered: 4_950_000,
    unattributed: 0,
    lost: 0,
    altered: 0,
    duplicates: 0,
    echoes: 0,
    disconnected: 0,
    lostAtCutReaders: 0,
    stalledCut: null,
    seconds: 1,
    deliveriesPerSecond: 4_950_000,
    latencyMs: { p50: 1, p90: 2, p99: 3, max: 4, mean: 1.5 },
    connectMode: "window",
    connectMs: 1_000,
    greetingMs: null,
    slowConnects: 0,
    server: { pid: 1, cpuSeconds: 1, systemSeconds: 0.5, peakRssMiB: 90 },
    servers: null,
    bench: { pid: 2, cpuSeconds: 1, systemSeconds: 0.5, peakRssMiB: 100 },
    ...changes,
  };
}

function result(
  label: string,
  parley: ScenarioResult["parley"],
  ncat: ScenarioResult["ncat"],
): ScenarioResult {
  return {
    name: label.split(" ")[0],
    label,
    kind: label === "growth" ? "growth" : "load",
    description: "",
    parleyCommand: "deno run -A main.ts server",
    parley,
    ncat,
  };
}

const server = (cpuSeconds: number, peakRssMiB: number) => ({
  pid: 1,
  cpuSeconds,
  systemSeconds: 0,
  peakRssMiB,
});

const META = {
  date: new Date("2026-12-01T14:51:30Z"),
  commit: "35929a2-dirty",
  cpus: 2,
  cpuModel: "AMD EPYC",
  kernel: "Linux 6.18.44",
  deno: "2.9.6",
  loadBefore: "0.52 0.60 0.70",
  loadAfter: "1.10 0.90 0.80",
};

const growth: GrowthReport = {
  target: "127.0.0.1:1",
  baseRssMiB: 46,
  levels: [
    {
      connections: 1_000,
      rssMiB: 69,
      kibPerConnection: 22.1,
      kibPerAddedConnection: null,
      connectMs: 500,
      delivered: 3_996,
      expected: 3_996,
      disconnected: 0,
    },
    {
      connections: 19_000,
      rssMiB: 222,
      kibPerConnection: 9.47,
      kibPerAddedConnection: 8.9,
      connectMs: 5_000,
      delivered: 75_996,
      expected: 75_996,
      disconnected: 0,
    },
  ],
  skipped: [],
  fileLimits: { bench: 20_000, server: 20_000 },
  sources: [{ address: "127.0.0.1", connections: 19_000 }],
  greetingMs: null,
  slowConnects: 0,
  server: { pid: 1, cpuSeconds: 10, systemSeconds: 5, peakRssMiB: 230 },
  bench: { pid: 2, cpuSeconds: 10, systemSeconds: 5, peakRssMiB: 200 },
};

function suiteResults(): ScenarioResult[] {
  const skippedNcat = { skipped: "n/a (ncat cannot hold 10,000 connections)" };
  return [
    result(
      "burst",
      { report: report({ deliveriesPerSecond: 5_010_000, server: server(0.69, 93) }) },
      {
        report: report({
          status: "lost",
          lost: 3_663,
          deliveriesPerSecond: 4_110_000,
          server: server(0.79, 5),
        }),
      },
    ),
    result(
      "floor",
      { report: report({ latencyMs: { p50: 1, p90: 2, p99: 3.71, max: 5, mean: 1 } }) },
      { report: report({ latencyMs: { p50: 1, p90: 2, p99: 2.75, max: 5, mean: 1 } }) },
    ),
    result(
      "paced",
      {
        report: report({
          latencyMs: { p50: 2.8, p90: 4, p99: 6.32, max: 9, mean: 3 },
          server: server(4.17, 60),
        }),
      },
      {
        report: report({
          latencyMs: { p50: 8.7, p90: 15, p99: 19.2, max: 30, mean: 9 },
          server: server(3.62, 5),
        }),
      },
    ),
    result(
      "heavy",
      {
        report: report({
          latencyMs: { p50: 3, p90: 5, p99: 5, max: 9, mean: 3 },
          server: server(5.16, 70),
        }),
      },
      { error: "ncat <exited>" },
    ),
    result("scale", { report: report({ server: server(7, 167) }) }, skippedNcat),
    result("scale (task)", { report: report({ server: server(7, 118) }) }, skippedNcat),
    result(
      "stalled",
      { report: report({ deliveriesPerSecond: 700_000, server: server(1.5, 101) }) },
      {
        report: report({
          status: "stuck",
          expected: 760_000,
          delivered: 372_400,
          deliveriesPerSecond: 200_000,
          server: server(0.4, 5),
        }),
      },
    ),
    result("storm", { report: report({ connectMs: 1_020 }) }, skippedNcat),
    result("growth", { growth }, skippedNcat),
  ];
}

Deno.test("a suite's results become the headline comparison", () => {
  const chart = suiteChart(suiteResults(), META);
  assert.match(chart.subtitle[0], /2026-12-01 14:51 UTC, commit 35929a2-dirty/);
  assert.match(chart.subtitle[0], /2 × AMD EPYC, Linux 6\.18\.44, Deno 2\.9\.6/);
  assert.match(chart.subtitle[1], /load average 0\.52 0\.60 0\.70 before the run, 1\.10 .* after/);
  assert.deepEqual(chart.panels.map((panel) => panel.rows.map((row) => row.label)), [
    ["burst", "stalled"],
    ["floor", "paced", "heavy"],
    ["burst", "paced", "heavy", "stalled"],
    ["burst", "stalled", "scale", "scale (task)"],
  ]);
  const [throughput, latency, cpu, memory] = chart.panels;

  const burst = throughput.rows[0];
  assert.equal(burst.parley.value, 5_010_000);
  assert.equal(burst.parley.text, "5.01 M/s");
  assert.equal(burst.ncat.text, "4.11 M/s, lost 3,663");
  assert.ok(Math.abs(burst.ratio! - 5.01 / 4.11) < 1e-9);
  assert.deepEqual(burst.target, { value: 4_110_000, text: "≥ 1 × ncat", met: true });
  assert.equal(throughput.rows[1].ncat.text, "200 k/s, stuck at 49 %");

  // Latency targets are multiples of ncat's floor p99 (2.75 ms).
  const [floor, paced, heavy] = latency.rows;
  assert.equal(floor.target, undefined, "the floor is the reference, not a target");
  assert.ok(Math.abs(paced.target!.value - 1.5 * 2.75) < 1e-9);
  assert.equal(paced.target!.met, false, "6.32 > 4.125");
  assert.ok(Math.abs(heavy.target!.value - 2 * 2.75) < 1e-9);
  assert.equal(heavy.target!.met, true, "5 ≤ 5.5");
  assert.equal(heavy.ncat.value, null);
  assert.equal(heavy.ncat.text, "error: ncat <exited>");
  assert.equal(heavy.ratio, null);

  // CPU targets are ratios to ncat's CPU in the same scenario.
  assert.equal(cpu.rows[0].target!.met, true, "0.69 / 0.79 ≤ 1.2");
  assert.ok(Math.abs(cpu.rows[0].target!.value - 1.2 * 0.79) < 1e-9);
  assert.equal(cpu.rows[1].target!.met, true, "4.17 / 3.62 = 1.15 ≤ 1.3");
  assert.equal(cpu.rows[2].target, undefined, "no target without ncat's figure");

  // Memory targets are MiB; ncat's missing bar says why.
  const [burstRss, , scale, task] = memory.rows;
  assert.deepEqual(burstRss.target, { value: 150, text: "≤ 150 MiB", met: true });
  assert.deepEqual(scale.target, { value: 150, text: "≤ 150 MiB", met: false });
  assert.deepEqual(task.target, { value: 120, text: "≤ 120 MiB", met: true });
  assert.equal(scale.ncat.value, null);
  assert.equal(scale.ncat.text, "not run: ncat cannot hold 10,000 connections");

  assert.deepEqual(chart.notes, [
    "storm (parley alone): 10,000 clients connecting at once all greeted in 1.02 s, complete; " +
    "target ≤ 2 s: met",
    "growth (parley alone): KiB per connection 22.1 at 1,000, 9.47 at 19,000; " +
    "aim ≤ 8 KiB at 19,000: not met",
  ]);
  parseXml(renderChart(chart));
});

Deno.test("the chart's memory targets are the suite's", () => {
  for (const label of ["scale", "scale (task)"] as const) {
    const scenario = SCENARIOS.find((s) => s.name === "scale")!;
    assert.ok(scenario.kind === "load");
    const target = label === "scale" ? scenario.target : scenario.alsoTaskFlags?.target;
    assert.ok(target?.includes(`${CHART_TARGETS[label].rssMiB} MiB`), `${label}: ${target}`);
  }
});

Deno.test("a partial suite charts only what ran", () => {
  const only = suiteResults().filter((r) => r.label === "scale" || r.label === "storm");
  const chart = suiteChart(only, { ...META, commit: null, kernel: undefined });
  assert.deepEqual(chart.panels.map((panel) => panel.title), ["Server peak RSS, MiB"]);
  assert.doesNotMatch(chart.subtitle[0], /commit|Linux/);
  assert.equal(chart.notes.length, 1);
  parseXml(renderChart(chart));
});

Deno.test("--chart is for the suite, and a file that cannot be written is refused at once", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["bench", "--clients", "5", "--chart", "x.svg"],
      /--chart is for the suite and does not go with --clients/,
    ],
    [
      ["bench", "--scenarios", "floor", "--chart", "/nonexistent-dir/x.svg"],
      /invalid value '\/nonexistent-dir\/x\.svg' for --chart: '\/nonexistent-dir' is not there/,
    ],
    [["bench", "--chart", Deno.cwd()], /for --chart: it is a directory/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: exit code`);
    assert.match(result.stderr, message, args.join(" "));
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  const help = await runCli(["bench", "--help"]);
  assert.match(help.stdout, /--chart FILE +also write the headline comparison as an SVG chart/);
});

Deno.test("a suite run with --chart writes the chart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-chart-" });
  try {
    const file = `${dir}/chart.svg`;
    const run = await runCli(["bench", "--scenarios", "floor", "--no-ncat", "--chart", file], {
      timeout: 120_000,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`chart written to ${file}`));
    const root = parseXml(await Deno.readTextFile(file));
    const all = texts(root);
    assert.ok(all.some((t) => /^Latency p99/.test(t)), "the latency panel");
    assert.ok(all.includes("floor"));
    assert.ok(all.includes("not run"), "ncat's bar says it was not run");
    assert.equal(elements(root, "rect", "parley").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
