/**
 * {@linkcode ChartData} as SVG text, built here with no plotting library:
 * one linear scale from zero per panel, the values printed on the bars (or
 * after them, never across a target line when there is room elsewhere), the
 * ratio and the target's verdict at the right, and an explicit white
 * background so that the chart reads the same in light and dark viewers.
 * Text widths are estimated (DejaVu Sans proportions), not measured.
 *
 * @module
 */

import { type ChartData, type ChartPanel, formatCompact, formatTick } from "./chart.ts";

const WIDTH = 1000;
const MARGIN = 24;
const LABEL_WIDTH = 190;
const BAR_X = MARGIN + LABEL_WIDTH;
const BAR_WIDTH = 520;
const SIDE_X = BAR_X + BAR_WIDTH + 24;
const BAR_HEIGHT = 18;
const BAR_GAP = 3;
const ROW_GAP = 14;
const FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";

const COLOURS = {
  background: "#ffffff",
  text: "#1f2328",
  muted: "#57606a",
  grid: "#d8dee4",
  series: ["#1f5fbf", "#6e7781"],
  target: "#111111",
  met: "#1a7f37",
  notMet: "#c2261d",
};

/** About how wide a text is at a font size, for placing it (DejaVu Sans is about this wide). */
export function textWidth(text: string, size: number): number {
  return [...text].length * size * 0.6;
}

/** `content` cut with `…` to about `width` pixels at a font size. */
export function fit(content: string, width: number, size: number): string {
  const characters = [...content];
  const most = Math.floor(width / (size * 0.6));
  return characters.length <= most ? content : characters.slice(0, most - 1).join("") + "…";
}

/**
 * `&`, `<`, `>`, `"` and `'` as entities, and the control characters XML 1.0
 * does not allow dropped: safe in text and in attribute values.
 */
export function escapeXml(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, "")
    .replace(/[&<>"']/g, (c) => `&${ENTITIES[c]};`);
}

const ENTITIES: Record<string, string> = {
  "&": "amp",
  "<": "lt",
  ">": "gt",
  '"': "quot",
  "'": "apos",
};

/** Numbers in attributes: at most one decimal. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function text(
  x: number,
  y: number,
  content: string,
  attributes: Record<string, string | number> = {},
): string {
  const attrs = Object.entries(attributes)
    .map(([key, value]) => ` ${key}="${typeof value === "number" ? n(value) : escapeXml(value)}"`)
    .join("");
  return `<text x="${n(x)}" y="${n(y)}"${attrs}>${escapeXml(content)}</text>`;
}

/** A round step for about `count` ticks up to `max`. */
export function tickStep(max: number, count = 6): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * power >= raw)! * power;
  return step;
}

/** The chart as SVG text. */
export function renderChart(data: ChartData): string {
  const parts: string[] = [];
  let y = MARGIN + 20;
  const full = WIDTH - 2 * MARGIN;
  parts.push(
    text(MARGIN, y, fit(data.title, full / 1.1, 20), { "font-size": 20, "font-weight": "bold" }),
  );
  for (const line of data.subtitle) {
    y += 20;
    parts.push(text(MARGIN, y, fit(line, full, 12.5), { "font-size": 12.5, fill: COLOURS.muted }));
  }
  y += 28;
  parts.push(...legend(data, y));
  y += 18;
  if (data.panels.length === 0) {
    y += 24;
    parts.push(text(MARGIN, y, "No scenario of the chart was run.", { "font-size": 14 }));
  }
  for (const panel of data.panels) {
    y += 26;
    const { svg, height } = renderPanel(panel, y, panel.series ?? data.series);
    parts.push(svg);
    y += height;
  }
  for (const note of data.notes) {
    y += 20;
    parts.push(text(MARGIN, y, fit(note, full, 12.5), { "font-size": 12.5, fill: COLOURS.text }));
  }
  const height = Math.ceil(y + MARGIN);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}" fill="${COLOURS.text}" ` +
    `role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escapeXml(data.title)}</title>`,
    `<rect class="background" x="0" y="0" width="${WIDTH}" height="${height}" ` +
    `fill="${COLOURS.background}"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

function legend(data: ChartData, y: number): string[] {
  const parts: string[] = [];
  let x = MARGIN;
  data.series.forEach((name, i) => {
    parts.push(
      `<rect x="${n(x)}" y="${n(y - 11)}" width="14" height="14" fill="${COLOURS.series[i]}"/>`,
      text(x + 20, y, name, { "font-size": 13 }),
    );
    x += 20 + textWidth(name, 13) + 24;
  });
  parts.push(
    `<line x1="${n(x + 7)}" y1="${n(y - 13)}" x2="${n(x + 7)}" y2="${n(y + 5)}" ` +
      `stroke="${COLOURS.target}" stroke-width="2" stroke-dasharray="4 3"/>`,
    text(x + 20, y, "target", { "font-size": 13 }),
  );
  x += 20 + textWidth("target", 13) + 32;
  parts.push(
    text(
      x,
      y,
      `values on the bars; at the right ${data.series[0]} / ${
        data.series[1]
      } and the target's verdict`,
      { "font-size": 12.5, fill: COLOURS.muted },
    ),
  );
  return parts;
}

/**
 * Where a bar's value goes: inside the bar's end when it fits there, else
 * just after it; either way not across the row's target line when there is
 * room elsewhere (after the line, if the line is just past the bar).
 * `x` is the text's end inside, its start outside.
 */
export function placeLabel(
  width: number,
  labelWidth: number,
  targetX: number | null,
): { inside: boolean; x: number } {
  const end = BAR_X + width;
  const crosses = (from: number, to: number) =>
    targetX !== null && targetX > from - 4 && targetX < to + 4;
  const fitsInside = labelWidth + 12 <= width;
  const insideFree = fitsInside && !crosses(end - 6 - labelWidth, end - 6);
  if (insideFree) return { inside: true, x: end - 6 };
  let start = end + 5;
  if (crosses(start, start + labelWidth)) start = targetX! + 6;
  const fitsOutside = start + labelWidth <= SIDE_X - 8;
  if (fitsOutside || !fitsInside) return { inside: false, x: start };
  return { inside: true, x: end - 6 };
}

/** A value printed on or beside a bar, with a halo so that a target line under it does not cut it. */
function barText(x: number, y: number, content: string, inside: boolean, colour: string): string {
  return text(x, y, content, {
    "font-size": 12,
    "font-weight": inside ? "bold" : "normal",
    fill: inside ? "#ffffff" : COLOURS.text,
    stroke: inside ? colour : COLOURS.background,
    "stroke-width": 3,
    "stroke-linejoin": "round",
    "paint-order": "stroke",
    ...(inside ? { "text-anchor": "end" } : {}),
  });
}

function renderPanel(
  panel: ChartPanel,
  top: number,
  names: [string, string],
): { svg: string; height: number } {
  const grid: string[] = [];
  const bars: string[] = [];
  const targets: string[] = [];
  const labels: string[] = [];
  const values = panel.rows.flatMap((row) => [
    row.parley.value,
    row.ncat.value,
    row.target?.value ?? null,
  ]).filter((v): v is number => v !== null && Number.isFinite(v) && v >= 0);
  const step = tickStep(Math.max(0, ...values));
  const max = Math.max(step, Math.ceil(Math.max(0, ...values) / step - 1e-9) * step);
  const x = (value: number) => BAR_X + value / max * BAR_WIDTH;
  const tick = panel.tick ?? formatTick;

  const after = ` (${panel.better} is better)` + (panel.note ? `; ${panel.note}` : "");
  labels.push(
    `<text x="${n(MARGIN)}" y="${n(top)}" font-size="15"><tspan font-weight="bold">` +
      `${escapeXml(panel.title)}</tspan><tspan font-size="12.5" fill="${COLOURS.muted}">` +
      `${escapeXml(after)}</tspan></text>`,
  );
  const rowsTop = top + 16;
  const rowHeight = 2 * BAR_HEIGHT + BAR_GAP + ROW_GAP;
  const rowsHeight = panel.rows.length * rowHeight - ROW_GAP;
  const axisY = rowsTop + rowsHeight + 6;
  if (panel.rows.some((row) => row.ratio != null)) {
    labels.push(text(SIDE_X, rowsTop - 4, `${names[0]} / ${names[1].split(" ")[0]}`, {
      "font-size": 11.5,
      fill: COLOURS.muted,
    }));
  }

  for (let value = 0; value <= max + 1e-9; value += step) {
    const gx = x(value);
    grid.push(
      `<line x1="${n(gx)}" y1="${n(rowsTop - 4)}" x2="${n(gx)}" y2="${n(axisY)}" ` +
        `stroke="${value === 0 ? COLOURS.muted : COLOURS.grid}" stroke-width="1"/>`,
      text(gx, axisY + 14, tick(Math.round(value * 1e6) / 1e6), {
        "font-size": 11,
        fill: COLOURS.muted,
        "text-anchor": "middle",
      }),
    );
  }

  panel.rows.forEach((row, i) => {
    const rowTop = rowsTop + i * rowHeight;
    labels.push(
      text(MARGIN, rowTop + 14, row.label, { "font-size": 13.5, "font-weight": "bold" }),
    );
    if (row.detail) {
      labels.push(
        text(MARGIN, rowTop + 32, row.detail, { "font-size": 11.5, fill: COLOURS.muted }),
      );
    }
    const targetX = row.target ? x(row.target.value) : null;
    [row.parley, row.ncat].forEach((bar, j) => {
      const barTop = rowTop + j * (BAR_HEIGHT + BAR_GAP);
      const textY = barTop + BAR_HEIGHT / 2 + 4.5;
      const series = j === 0 ? "parley" : "ncat";
      if (bar.value === null || !Number.isFinite(bar.value)) {
        labels.push(
          text(BAR_X + 6, textY, fit(bar.text, BAR_WIDTH, 12), {
            "font-size": 12,
            "font-style": "italic",
            fill: COLOURS.muted,
            stroke: COLOURS.background,
            "stroke-width": 3,
            "stroke-linejoin": "round",
            "paint-order": "stroke",
          }),
        );
        return;
      }
      const width = Math.max(0, x(bar.value) - BAR_X);
      const colour = COLOURS.series[j];
      bars.push(
        `<rect class="bar ${series}" data-value="${bar.value}" x="${n(BAR_X)}" ` +
          `y="${n(barTop)}" width="${n(width)}" height="${BAR_HEIGHT}" fill="${colour}">` +
          `<title>${escapeXml(`${row.label}, ${names[j]}: ${bar.text}`)}</title></rect>`,
      );
      const place = placeLabel(width, textWidth(bar.text, 12), targetX);
      labels.push(barText(place.x, textY, bar.text, place.inside, colour));
    });
    if (row.target) {
      const tx = x(row.target.value);
      targets.push(
        `<line class="target" data-value="${row.target.value}" x1="${n(tx)}" ` +
          `y1="${n(rowTop - 3)}" x2="${n(tx)}" y2="${n(rowTop + 2 * BAR_HEIGHT + BAR_GAP + 3)}" ` +
          `stroke="${COLOURS.target}" stroke-width="2" stroke-dasharray="4 3"/>`,
      );
    }
    if (row.ratio !== null && row.ratio !== undefined && Number.isFinite(row.ratio)) {
      labels.push(
        text(SIDE_X, rowTop + 14, `${formatCompact(row.ratio)} ×`, {
          "font-size": 14,
          "font-weight": "bold",
        }),
      );
    }
    if (row.target) {
      const verdict = row.target.met === null ? "" : row.target.met ? ": met" : ": not met";
      labels.push(
        text(SIDE_X, rowTop + 32, `target ${row.target.text}${verdict}`, {
          "font-size": 11.5,
          fill: row.target.met === null
            ? COLOURS.muted
            : row.target.met
            ? COLOURS.met
            : COLOURS.notMet,
          "font-weight": row.target.met === false ? "bold" : "normal",
        }),
      );
    } else if (row.remark) {
      labels.push(
        text(SIDE_X, rowTop + 32, row.remark, { "font-size": 11.5, fill: COLOURS.muted }),
      );
    }
  });
  return {
    svg: [...grid, ...bars, ...targets, ...labels].join("\n"),
    height: axisY + 18 - top,
  };
}
