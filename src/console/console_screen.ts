/**
 * The terminal console's screen: log lines and replies scroll above an input
 * line that they never clobber, drawn with the terminal client's own pieces
 * ({@linkcode LineEditor}, {@linkcode renderInput}, {@linkcode printAbove}).
 *
 * Writes are asynchronous and joined: everything printed in one turn goes out
 * in one write, with the input line drawn as it is when the write starts,
 * so a keystroke and a burst of log lines never interleave mid-sequence and
 * the server never waits on its terminal. When the terminal does not keep up
 * (a slow link, a paused tmux pane), at most `limit` characters of log lines
 * wait; beyond that they are counted and dropped, as `BufferedSink` does, and
 * the count is printed once the terminal catches up. Replies to the operator
 * are never dropped.
 *
 * @module
 */

import { palette } from "../colors.ts";
import { type ByteWriter, writeAll } from "../net/io.ts";
import { LineEditor } from "../terminal/line_editor.ts";
import { printAbove, renderInput } from "../terminal/screen.ts";

/** How the screen looks. */
export interface ConsoleScreenOptions {
  /** The input line's prompt (`parley> `). */
  prompt: string;
  /** Terminal width. */
  columns: number;
  /** Colour the prompt. */
  color?: boolean;
  /** Characters of log lines that may wait for the terminal before lines are dropped. */
  limit?: number;
}

const encoder = new TextEncoder();

/** The input line and what is printed above it, written to `writer` (the terminal). */
export class ConsoleScreen {
  /** The input line being edited. */
  readonly editor: LineEditor = new LineEditor();
  readonly #writer: ByteWriter;
  readonly #prompt: string;
  readonly #styledPrompt: string;
  readonly #color: boolean;
  readonly #limit: number;
  #columns: number;
  #scroll = 0;
  #lines: string[] = [];
  #chars = 0;
  #dropped = 0;
  /** The input line changed since it was last written. */
  #dirty = false;
  /** Writing may start (the terminal is in raw mode). */
  #enabled = false;
  /** The terminal failed a write: it is gone, nothing more is drawn. */
  #broken = false;
  #writing: Promise<void> | null = null;

  constructor(writer: ByteWriter, options: ConsoleScreenOptions) {
    this.#writer = writer;
    this.#prompt = options.prompt;
    this.#color = options.color ?? false;
    this.#styledPrompt = this.#color ? palette(true).bold(options.prompt) : options.prompt;
    this.#columns = options.columns;
    this.#limit = options.limit ?? 4 * 1024 * 1024;
  }

  /** True while something waits to be written (and will be: the screen is enabled and working). */
  get pending(): boolean {
    if (this.#writing !== null) return true;
    return this.#enabled && !this.#broken && (this.#lines.length > 0 || this.#dirty);
  }

  /** Takes the lines still waiting (a screen closed before it was enabled hands them on). */
  takeQueued(): string[] {
    const lines = this.#lines;
    this.#lines = [];
    this.#chars = 0;
    return lines;
  }

  /** The prompt, plain. */
  get prompt(): string {
    return this.#prompt;
  }

  /** Starts writing what is queued (call once the terminal is in raw mode). */
  enable(): void {
    this.#enabled = true;
    this.#dirty = true;
    this.#schedule();
  }

  /** The terminal's width changed: the input line is drawn again for it. */
  resize(columns: number): void {
    this.#columns = columns;
    this.redraw();
  }

  /** Draws the input line again (after an edit). */
  redraw(): void {
    this.#dirty = true;
    this.#schedule();
  }

  /**
   * Prints lines above the input line. Log lines are `droppable` (bounded by
   * `limit`); replies are not. Each line must be free of control characters
   * other than SGR colours.
   */
  print(lines: readonly string[], droppable = false): void {
    for (const line of lines) {
      if (droppable && this.#chars + line.length > this.#limit) {
        this.#dropped++;
        continue;
      }
      this.#lines.push(line);
      this.#chars += line.length;
    }
    this.#schedule();
  }

  /** Resolves once everything printed so far is written (or the terminal is gone). */
  flush(): Promise<void> {
    return this.#writing ?? Promise.resolve();
  }

  /** The input line as drawn now: what to write to show it. */
  render(): string {
    const { output, scroll } = renderInput({
      prompt: this.#prompt,
      styledPrompt: this.#styledPrompt,
      clusters: this.editor.clusters,
      cursor: this.editor.cursor,
      columns: this.#columns,
      scroll: this.#scroll,
      color: this.#color,
    });
    this.#scroll = scroll;
    return output;
  }

  #schedule(): void {
    if (!this.#enabled || this.#broken) return;
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      await Promise.resolve(); // join what the rest of this turn prints
      while (this.#lines.length > 0 || this.#dropped > 0 || this.#dirty) {
        if (this.#dropped > 0) {
          this.#lines.push(
            `(log: ${this.#dropped} lines dropped: the terminal was not keeping up)`,
          );
          this.#dropped = 0;
        }
        const lines = this.#lines;
        this.#lines = [];
        this.#chars = 0;
        this.#dirty = false;
        const input = this.render();
        await writeAll(this.#writer, encoder.encode(printAbove(lines, input)));
      }
    } catch {
      // The terminal is gone (hung up): the console's input ends with it.
      this.#broken = true;
      this.#lines = [];
      this.#chars = 0;
    } finally {
      this.#writing = null;
    }
  }
}
