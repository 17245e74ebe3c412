/**
 * Rendering for the terminal client, as strings of text and ANSI sequences:
 * chat lines with the time, coloured nicks and styled notices; the input line
 * with its prompt, scrolled sideways when it is wider than the terminal; and
 * lines printed above the input line without disturbing it. Pure: the caller
 * writes the strings.
 *
 * The input line is always drawn whole from column 0 (`CR`, prompt, text,
 * erase to end of line, `CR`, cursor forward) and never reaches the last
 * column, so the terminal never wraps it: a width the terminal judges
 * differently can misplace the cursor on that line but never garble the screen.
 *
 * @module
 */

import { parseServerLine, type ServerLine } from "../protocol/line.ts";
import { nickColor, palette } from "../colors.ts";
import { graphemeSegments } from "../text.ts";
import { displayWidth, graphemeWidth } from "./width.ts";

/** Erase from the cursor to the end of the line. */
const ERASE_LINE = "\x1b[K";

/** `HH:MM`, local time. */
export function formatTime(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** How to style chat lines. */
export interface StyleOptions {
  /** Colours and bold on; off gives the lines exactly as received. */
  color: boolean;
  /** The reader's own nick: messages that mention it stand out. */
  ownNick?: string | null;
}

/**
 * Styles one chat line by its kind (SPEC §2, read by the line protocol's own
 * parser): nicks in their own colours, private messages bold, notices (`***`)
 * cyan, errors (`!!!`) red, lines from the client itself (`--`) yellow.
 * Without colour, the line as it is.
 */
export function styleLine(line: string, options: StyleOptions): string {
  if (!options.color) return line;
  if (line.startsWith("-- ")) return palette(true).yellow(line);
  return styleParsed(parseServerLine(line), line, options);
}

function styleParsed(parsed: ServerLine, line: string, options: StyleOptions): string {
  const style = palette(true);
  const nick = (name: string) => nickColor(name, true)(name);
  switch (parsed.kind) {
    case "notice":
      return style.cyan(line);
    case "error":
      return style.bold(style.red(line));
    case "message": {
      const own = options.ownNick;
      const mentioned = own && parsed.nick !== own &&
        parsed.text.toLowerCase().includes(own.toLowerCase());
      return `<${nick(parsed.nick)}> ${mentioned ? style.bold(parsed.text) : parsed.text}`;
    }
    case "private-sent":
      return `${style.dim("->")} *${nick(parsed.nick)}* ${parsed.text}`;
    case "private":
      return style.bold(`*${nick(parsed.nick)}* ${parsed.text}`);
    case "action":
      return `* ${nick(parsed.nick)} ${parsed.text}`;
    case "history":
      return styleParsed(parsed.line, historyBody(line), options);
    case "other":
      return line;
  }
}

/** `<alice> hello` of a history line `[07:12] <alice> hello`. */
function historyBody(line: string): string {
  return line.slice(line.indexOf("] ") + 2);
}

/**
 * A chat line as shown: the time (dim) and the styled line. The time is when
 * it arrived, or for a replayed line the time it was said (`[07:12] <a> hi`
 * shows as `07:12 <a> hi`).
 */
export function formatChatLine(line: string, time: Date, options: StyleOptions): string {
  const parsed = line.startsWith("[") ? parseServerLine(line) : null;
  const history = parsed?.kind === "history" ? parsed : null;
  const stamp = history ? history.time : formatTime(time);
  const body = history ? historyBody(line) : line;
  return `${options.color ? palette(true).dim(stamp) : stamp} ${styleLine(body, options)}`;
}

/**
 * Output that prints `lines` above the input line and draws the input line
 * (`input`, from {@linkcode renderInput}) again below them. Each line starts
 * on a cleared row; a line wider than the terminal wraps there as usual.
 */
export function printAbove(lines: readonly string[], input: string): string {
  let out = "";
  for (const line of lines) out += `\r${ERASE_LINE}${line}\r\n`;
  return out + input;
}

/** SGR sequences (colours, bold): what styled lines may hold besides text. */
// deno-lint-ignore no-control-regex -- matching escape sequences is the point
const SGR = /\x1b\[[0-9;]*m/g;
/** Text a terminal shows one cell per character. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** All styles off. */
const RESET = "\x1b[0m";

/**
 * Splits a shown line (text and SGR sequences, no other controls) into the
 * rows a terminal `columns` wide wraps it into: a character that does not fit
 * goes to the next row whole, so a wide one never straddles two. A row that
 * ends inside a style ends with the styles reset, and the next starts with
 * them again, so every row can be drawn on its own. An empty line is one row.
 */
export function wrapStyled(line: string, columns: number): string[] {
  const width = Math.max(columns, 1);
  if (PRINTABLE_ASCII.test(line)) {
    // Plain ASCII, the common case: cut every `width` characters.
    const rows: string[] = [];
    for (let at = 0; at < line.length; at += width) rows.push(line.slice(at, at + width));
    return rows.length ? rows : [""];
  }
  const rows: string[] = [];
  let row = "";
  let used = 0;
  let styles = "";
  const text = (piece: string) => {
    for (const { segment } of graphemeSegments(piece)) {
      const cells = graphemeWidth(segment);
      if (cells > 0 && used > 0 && used + cells > width) {
        rows.push(styles ? row + RESET : row);
        row = styles;
        used = 0;
      }
      row += segment;
      used += cells;
    }
  };
  let from = 0;
  for (const match of line.matchAll(SGR)) {
    text(line.slice(from, match.index));
    row += match[0];
    styles = match[0] === RESET || match[0] === "\x1b[m" ? "" : styles + match[0];
    from = match.index + match[0].length;
  }
  text(line.slice(from));
  rows.push(row);
  return rows;
}

/**
 * Output that draws `rows` on the terminal's rows `top`, `top + 1`, … (1 is
 * the first), each from column 1 and erased to its end, without scrolling.
 */
export function paintRows(rows: readonly string[], top: number): string {
  let out = "";
  // Erased first: erasing after a row that fills the width would take its last cell too.
  for (let i = 0; i < rows.length; i++) out += `\x1b[${top + i};1H${ERASE_LINE}${rows[i]}${RESET}`;
  return out;
}

/** The longest start of plain `text` that fits in `columns` cells. */
export function fitWidth(text: string, columns: number): string {
  if (displayWidth(text) <= columns) return text;
  let out = "";
  let used = 0;
  for (const { segment } of graphemeSegments(text)) {
    const cells = graphemeWidth(segment);
    if (used + cells > columns) break;
    out += segment;
    used += cells;
  }
  return out;
}

/** Output that erases the terminal from row `row` (1 is the first) to its bottom. */
export function eraseFrom(row: number): string {
  return `\x1b[${row};1H\x1b[J`;
}

/** Output that moves the cursor to the start of row `row` (1 is the first). */
export function moveTo(row: number): string {
  return `\x1b[${row};1H`;
}

/** Output that erases the input line and leaves the cursor at its start (for leaving). */
export function clearInput(): string {
  return `\r${ERASE_LINE}`;
}

/** Which part of the input line is visible and where the cursor stands. */
export interface InputLayout {
  /** The first cluster shown; keep it and pass it back as `scroll` next time. */
  start: number;
  /** One past the last cluster shown. */
  end: number;
  /** Text is hidden on the left (`<` shown). */
  moreLeft: boolean;
  /** Text is hidden on the right (`>` shown). */
  moreRight: boolean;
  /** The cursor's column within the text area (markers included). */
  cursorColumn: number;
}

/**
 * Lays out clusters of the given `widths` in `space` columns with the cursor
 * before cluster `cursor`. When they do not fit, the line scrolls sideways as
 * little as keeps the cursor in view (`scroll` is the previous layout's
 * `start`); a `<` or `>` column marks hidden text.
 */
export function layoutInput(
  widths: readonly number[],
  cursor: number,
  options: { space: number; scroll?: number },
): InputLayout {
  const count = widths.length;
  const space = Math.max(options.space, 1);
  const sum = (from: number, to: number) => {
    let total = 0;
    for (let i = from; i < to; i++) total += widths[i];
    return total;
  };
  // What is shown from `start` on: all the rest if it fits with a cell after it
  // (for the cursor at the end), else as much as fits before a ">" column.
  // Not depending on the cursor keeps the text still while the cursor moves.
  const fit = (start: number) => {
    const room = space - (start > 0 ? 1 : 0);
    if (sum(start, count) + 1 <= room) return count;
    let end = start;
    for (let used = 0; end < count && used + widths[end] <= room - 1; end++) used += widths[end];
    return end;
  };
  const cursorShown = (start: number) => {
    const end = fit(start);
    return cursor < end || (cursor === count && end === count);
  };
  let start = Math.max(0, Math.min(options.scroll ?? 0, count));
  if (cursor < start) {
    // Moving left past the edge: bring up to a third of the width back into view.
    start = cursor;
    while (start > 0 && sum(start - 1, cursor) <= Math.floor(space / 3)) start--;
  }
  while (start < cursor && !cursorShown(start)) start++;
  // Deleting near the end: show more on the left rather than leave the width empty.
  while (start > 0 && fit(start - 1) === count) start--;
  const end = fit(start);
  const moreLeft = start > 0;
  return {
    start,
    end,
    moreLeft,
    moreRight: end < count,
    cursorColumn: (moreLeft ? 1 : 0) + sum(start, cursor),
  };
}

/** What {@linkcode renderInput} draws. */
export interface InputView {
  /** Plain prompt text (`ann> `), measured for its width. */
  prompt: string;
  /** The prompt as drawn (it may be coloured); `prompt` when absent. */
  styledPrompt?: string;
  /** The input line's grapheme clusters. */
  clusters: readonly string[];
  /** Clusters before the cursor. */
  cursor: number;
  /** Terminal width. */
  columns: number;
  /** The previous layout's first visible cluster. */
  scroll?: number;
  /** Dim the `<` and `>` markers. */
  color?: boolean;
}

/**
 * Output that draws the input line from column 0 and puts the cursor in
 * place, and the `scroll` to pass next time. The last terminal column stays
 * empty so that the terminal never wraps the line.
 */
export function renderInput(view: InputView): { output: string; scroll: number } {
  let prompt = view.prompt;
  let styled = view.styledPrompt ?? prompt;
  // A prompt that leaves too little room (a narrow terminal) shrinks to "> ", or goes.
  if (view.columns - 1 - displayWidth(prompt) < 8) styled = prompt = view.columns < 6 ? "" : "> ";
  const promptWidth = displayWidth(prompt);
  const space = Math.max(view.columns - 1 - promptWidth, 1);
  const widths = view.clusters.map(graphemeWidth);
  const layout = layoutInput(widths, view.cursor, { space, scroll: view.scroll });
  const mark = (text: string) => view.color ? palette(true).dim(text) : text;
  const text = (layout.moreLeft ? mark("<") : "") +
    view.clusters.slice(layout.start, layout.end).join("") +
    (layout.moreRight ? mark(">") : "");
  const column = promptWidth + layout.cursorColumn;
  const output = `\r${styled}${text}${ERASE_LINE}\r${column > 0 ? `\x1b[${column}C` : ""}`;
  return { output, scroll: layout.start };
}
