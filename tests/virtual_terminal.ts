// deno-lint-ignore-file no-control-regex -- the input is ANSI escape sequences

/**
 * Enough of a VT100 to see what the terminal client draws: text with wide
 * cells and auto-wrap, CR, LF with scrolling, cursor forward and absolute
 * positioning, erase to end of line and below, clear screen. Colours are
 * ignored; `styled` says whether any were written.
 */

import { graphemes, graphemeWidth } from "../src/terminal/width.ts";

/** A screen of `columns` × `height` cells and a cursor. */
export class VirtualTerminal {
  rows: string[][];
  x = 0;
  y = 0;
  /** Lines that scrolled off the top, oldest first. */
  scrolledOff: string[] = [];
  /** The cursor is past the last column: the next character wraps first. */
  #wrapPending = false;

  constructor(readonly columns: number, readonly height: number) {
    this.rows = Array.from({ length: height }, () => this.#blank());
  }

  write(output: string): void {
    let i = 0;
    while (i < output.length) {
      const sequence = /^\x1b\[([0-9;?]*)([A-Za-z~])/.exec(output.slice(i, i + 24));
      if (sequence) {
        this.#control(sequence[1], sequence[2]);
        i += sequence[0].length;
        continue;
      }
      const char = output[i];
      if (char === "\x1b") throw new Error(`stray ESC in ${JSON.stringify(output.slice(i, 20))}`);
      if (char === "\r") {
        this.x = 0;
        this.#wrapPending = false;
        i++;
        continue;
      }
      if (char === "\n") {
        this.#lineFeed();
        i++;
        continue;
      }
      const [cluster] = graphemes(output.slice(i, i + 32));
      this.#put(cluster);
      i += cluster.length;
    }
  }

  /** Every row as text, trailing spaces removed. */
  get lines(): string[] {
    return this.rows.map((row) => row.join("").trimEnd());
  }

  /** The screen as text, empty rows at the end removed. */
  get text(): string {
    return this.lines.join("\n").trimEnd();
  }

  /** Row `y` (0 is the top) as text. */
  row(y: number): string {
    return this.rows[y].join("").trimEnd();
  }

  #blank(): string[] {
    return Array(this.columns).fill(" ");
  }

  #put(cluster: string): void {
    const width = graphemeWidth(cluster);
    if (width === 0) return;
    if (this.#wrapPending || this.x + width > this.columns) {
      this.x = 0;
      this.#lineFeed();
    }
    this.#wrapPending = false;
    this.rows[this.y][this.x] = cluster;
    if (width === 2) this.rows[this.y][this.x + 1] = "";
    this.x += width;
    if (this.x >= this.columns) {
      this.x = this.columns - 1;
      this.#wrapPending = true;
    }
  }

  #lineFeed(): void {
    this.#wrapPending = false;
    if (this.y < this.height - 1) {
      this.y++;
    } else {
      this.scrolledOff.push(this.rows.shift()!.join("").trimEnd());
      this.rows.push(this.#blank());
    }
  }

  #control(params: string, final: string): void {
    // As in xterm: styles leave a pending wrap alone; moving and erasing end it.
    if (final !== "m") this.#wrapPending = false;
    const numbers = params.split(";").map((n) => Number(n || 1));
    switch (final) {
      case "C":
        this.x = Math.min(this.x + numbers[0], this.columns - 1);
        return;
      case "K":
        for (let x = this.x; x < this.columns; x++) this.rows[this.y][x] = " ";
        return;
      case "H":
        this.y = Math.min(numbers[0] ?? 1, this.height) - 1;
        this.x = Math.min(numbers[1] ?? 1, this.columns) - 1;
        return;
      case "J":
        if (params === "2") {
          this.rows = this.rows.map(() => this.#blank());
        } else if (params === "" || params === "0") {
          for (let x = this.x; x < this.columns; x++) this.rows[this.y][x] = " ";
          for (let y = this.y + 1; y < this.height; y++) this.rows[y] = this.#blank();
        } else {
          throw new Error(`the virtual terminal does not know ESC [ ${params} J`);
        }
        return;
      case "m":
      case "h":
      case "l":
        return;
      default:
        throw new Error(`the virtual terminal does not know ESC [ ${params} ${final}`);
    }
  }
}
