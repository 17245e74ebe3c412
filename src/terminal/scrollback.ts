/**
 * What the terminal client has shown, kept so that the person can scroll
 * back through it, and where the view stands. Pure: lines go in as they were
 * drawn (time, styles), rows come out; the chat view decides when to scroll,
 * what to ask the server for and how to draw.
 *
 * The view is live (it follows the newest row) or scrolled back, held by the
 * row at its bottom: lines added below never move it, and lines put in above
 * it (older history from the server) keep it on the same text. Lines are
 * measured in rows as the terminal wraps them ({@linkcode wrapStyled}).
 *
 * The buffer is bounded: beyond {@linkcode Scrollback.limit} lines the oldest
 * go, and older lines are put in only while there is room.
 *
 * @module
 */

import { wrapStyled } from "./screen.ts";

/** One line as the client showed it. */
export interface ShownLine {
  /** As drawn: the time and the styled line (SGR sequences, no other controls). */
  readonly text: string;
  /** A room's message or action (live, own or replayed): what the server's history holds. */
  readonly said: boolean;
  /** Which stay in a room it was shown in: the chat view counts a new one on every welcome and room change. */
  readonly stay: number;
  /** The notice that opens a history block: older lines go above it too. */
  readonly opensHistory?: boolean;
}

/** How many lines a client keeps unless told otherwise. */
export const SCROLLBACK_LINES = 10_000;

/** A line and its rows, measured for one width. */
interface Kept extends ShownLine {
  rows?: string[];
  columns?: number;
}

/** A row of the buffer: row `row` (0 is its first) of line `line`. */
export interface Place {
  line: number;
  row: number;
}

/** Shown lines and a view over them; see the module's notes. */
export class Scrollback {
  /** The most lines kept. */
  readonly limit: number;
  #lines: Kept[] = [];
  #columns: number;
  /** The view's bottom row; null while live. */
  #bottom: Place | null = null;
  #newBelow = 0;

  /** An empty buffer for a terminal `columns` wide, keeping at most `limit` lines. */
  constructor(options: { columns: number; limit?: number }) {
    this.#columns = Math.max(options.columns, 1);
    this.limit = Math.max(options.limit ?? SCROLLBACK_LINES, 1);
  }

  /** Lines kept. */
  get length(): number {
    return this.#lines.length;
  }

  /** The lines kept, oldest first (for tests and for drawing). */
  line(index: number): ShownLine | undefined {
    return this.#lines[index];
  }

  /** Terminal width: rows are measured again for a new one. */
  get columns(): number {
    return this.#columns;
  }

  set columns(value: number) {
    this.#columns = Math.max(value, 1);
    if (this.#bottom) {
      const bottom = this.#bottom;
      bottom.row = Math.min(bottom.row, this.#rowsOf(bottom.line).length - 1);
    }
  }

  /** The view is held back from the newest rows. */
  get scrolled(): boolean {
    return this.#bottom !== null;
  }

  /** Lines added since the view was scrolled back. */
  get newBelow(): number {
    return this.#newBelow;
  }

  /** Whole lines below the view (0 while live). */
  get below(): number {
    return this.#bottom === null ? 0 : this.#lines.length - 1 - this.#bottom.line;
  }

  /** Adds lines at the bottom, dropping the oldest beyond the limit; a scrolled view stays. */
  append(lines: readonly ShownLine[]): void {
    if (lines.length === 0) return;
    for (const line of lines) this.#lines.push({ ...line });
    if (this.#bottom) this.#newBelow += lines.length;
    const excess = this.#lines.length - this.limit;
    if (excess > 0) {
      this.#lines.splice(0, excess);
      if (this.#bottom) {
        this.#bottom.line -= excess;
        if (this.#bottom.line < 0) this.#bottom = { line: 0, row: 0 };
      }
    }
  }

  /**
   * Puts lines in before line `at` (older history), as many as there is room
   * for, the newest of them first; returns how many went in. A view below
   * them keeps showing what it showed.
   */
  insert(at: number, lines: readonly ShownLine[]): number {
    const room = Math.max(0, this.limit - this.#lines.length);
    const taken = lines.slice(Math.max(0, lines.length - room));
    if (taken.length === 0) return 0;
    const index = Math.max(0, Math.min(at, this.#lines.length));
    this.#lines.splice(index, 0, ...taken.map((line) => ({ ...line })));
    if (this.#bottom && index <= this.#bottom.line) this.#bottom.line += taken.length;
    return taken.length;
  }

  /**
   * Where older lines of stay `stay` go: before its first said line (and the
   * notice that opened its history block, if that is right above it), or
   * after its last line when it has none yet; null when the stay has no line
   * (gone beyond the limit, or not the newest).
   */
  insertionPoint(stay: number): number | null {
    let index = this.#lines.length - 1;
    if (index < 0 || this.#lines[index].stay !== stay) return null;
    let first: number | null = null;
    for (; index >= 0 && this.#lines[index].stay === stay; index--) {
      if (this.#lines[index].said) first = index;
    }
    if (first === null) return this.#lines.length;
    while (
      first > 0 && this.#lines[first - 1].stay === stay && this.#lines[first - 1].opensHistory
    ) {
      first--;
    }
    return first;
  }

  /**
   * Scrolls back by `rows` rows with `height` rows in view; returns how many
   * it could not (the top of what is kept was reached, or line `floor`: the
   * view goes no higher while older lines that go there are awaited). A view
   * that was live is scrolled back from then on, even when it could not move.
   */
  up(rows: number, height: number, floor = 0): number {
    if (this.#lines.length === 0) return rows;
    const start = this.#bottom ?? this.#end();
    // A floor below the view (or that holds no line) is none.
    const top = floor <= start.line ? floor : 0;
    const moved = this.#stepUp(start, rows, top);
    let bottom = moved.place;
    // The view's top is `height - 1` rows above its bottom: never above the first row.
    const above = this.#stepUp(bottom, height - 1, top).moved;
    let back = 0;
    if (above < height - 1) {
      const down = this.#stepDown(bottom, height - 1 - above);
      bottom = down.place;
      back = down.moved;
    }
    this.#bottom = bottom;
    return rows - Math.max(0, moved.moved - back);
  }

  /**
   * Scrolls back so that the view's bottom row is `place` (or as near as
   * the first row of all allows).
   */
  endAt(place: Place, height: number): void {
    if (this.#lines.length === 0) return;
    const line = Math.max(0, Math.min(place.line, this.#lines.length - 1));
    this.#bottom = { line, row: Math.min(place.row, this.#rowsOf(line).length - 1) };
    this.up(0, height);
  }

  /** Scrolls forward by `rows` rows; reaching the newest row makes the view live again. */
  down(rows: number): void {
    if (this.#bottom === null) return;
    const { place } = this.#stepDown(this.#bottom, rows);
    const end = this.#end();
    if (place.line === end.line && place.row === end.row) this.live();
    else this.#bottom = place;
  }

  /** Back to following the newest rows. */
  live(): void {
    this.#bottom = null;
    this.#newBelow = 0;
  }

  /** The rows in view, top first: `height` of them, or all there are when fewer. */
  view(height: number): string[] {
    return this.#window(height).rows;
  }

  /** The line at the top of the view (0 when nothing is kept). */
  topLine(height: number): number {
    return this.#window(height).top.line;
  }

  /** The row at the top of the view. */
  topPlace(height: number): Place {
    return { ...this.#window(height).top };
  }

  /** The line at the bottom of the view. */
  bottomLine(): number {
    return this.#bottom?.line ?? Math.max(0, this.#lines.length - 1);
  }

  #window(height: number): { rows: string[]; top: Place } {
    if (this.#lines.length === 0 || height <= 0) return { rows: [], top: { line: 0, row: 0 } };
    const bottom = this.#bottom ?? this.#end();
    const rows: string[] = [];
    const wrapped = this.#rowsOf(bottom.line).slice(0, bottom.row + 1);
    const first = Math.max(0, wrapped.length - height);
    rows.unshift(...wrapped.slice(first));
    let top = { line: bottom.line, row: first };
    for (let line = bottom.line - 1; line >= 0 && rows.length < height; line--) {
      const lineRows = this.#rowsOf(line);
      const from = Math.max(0, lineRows.length - (height - rows.length));
      rows.unshift(...lineRows.slice(from));
      top = { line, row: from };
    }
    return { rows, top };
  }

  /** The newest row. */
  #end(): Place {
    const line = this.#lines.length - 1;
    return { line, row: line < 0 ? 0 : this.#rowsOf(line).length - 1 };
  }

  #rowsOf(index: number): string[] {
    const line = this.#lines[index];
    if (line.rows === undefined || line.columns !== this.#columns) {
      line.rows = wrapStyled(line.text, this.#columns);
      line.columns = this.#columns;
    }
    return line.rows;
  }

  /** Up to `rows` rows up from `from`, stopping at the first row of line `first`. */
  #stepUp(from: Place, rows: number, first = 0): { place: Place; moved: number } {
    let { line, row } = from;
    let moved = 0;
    while (moved < rows) {
      if (row >= rows - moved) {
        row -= rows - moved;
        moved = rows;
      } else if (line > first) {
        moved += row + 1;
        line--;
        row = this.#rowsOf(line).length - 1;
      } else {
        moved += row;
        row = 0;
        break;
      }
    }
    return { place: { line, row }, moved };
  }

  /** Up to `rows` rows down from `from`, stopping at the newest row. */
  #stepDown(from: Place, rows: number): { place: Place; moved: number } {
    let { line, row } = from;
    let moved = 0;
    const last = this.#lines.length - 1;
    while (moved < rows) {
      const lineRows = this.#rowsOf(line).length;
      const left = lineRows - 1 - row;
      if (left >= rows - moved) {
        row += rows - moved;
        moved = rows;
      } else if (line < last) {
        moved += left + 1;
        line++;
        row = 0;
      } else {
        moved += left;
        row = lineRows - 1;
        break;
      }
    }
    return { place: { line, row }, moved };
  }
}
