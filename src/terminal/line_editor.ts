/**
 * The input line: its text, the cursor, a kill buffer and the history, changed
 * by key events. Pure: no terminal; what to draw is {@linkcode screen}'s job.
 *
 * Text is held as grapheme clusters, so the cursor always stands between two
 * things a person sees as characters: ←, → and Backspace step over `你`, `👍🏽`
 * or `é` (e + combining accent) whole. Text typed or pasted is cleaned like
 * everything else parley shows: no control characters or bidi overrides ever
 * reach the line (a TAB becomes a space), so what is shown is what is sent.
 *
 * @module
 */

import { isSecret } from "./secret.ts";
import { cleanString } from "../text.ts";
import type { Key } from "./keys.ts";
import { graphemes } from "./width.ts";

/** What a key did, for the owner to act on. */
export type EditResult =
  /** Nothing changed (an unbound key, ← at the start). */
  | { type: "none" }
  /** The text or the cursor changed: draw the input line again. */
  | { type: "changed" }
  /** Enter, or a paste with line breaks: these lines are done (the line now holds what follows). */
  | { type: "submit"; lines: string[] }
  /** Ctrl-C. */
  | { type: "interrupt" }
  /** Ctrl-D on an empty line. */
  | { type: "eof" }
  /** Ctrl-L: draw everything again. */
  | { type: "redraw" };

/** How many lines ↑ can recall. */
export const MAX_HISTORY = 500;
/** The longest input line, in UTF-16 units; more typed or pasted is dropped. */
export const MAX_INPUT = 64 * 1024;

const NONE: EditResult = { type: "none" };
const CHANGED: EditResult = { type: "changed" };
const SPACE = /^\s+$/u;

/** A line editor with readline's common keys and a history. */
export class LineEditor {
  #clusters: string[] = [];
  /** Clusters before the cursor. */
  #cursor = 0;
  #killed = "";
  #history: string[] = [];
  /** Which history entry is shown; `#history.length` is the line being written. */
  #historyIndex = 0;
  /** The line being written, kept while ↑ shows older ones. */
  #draft = "";

  /** The line as it would be sent. */
  get text(): string {
    return this.#clusters.join("");
  }

  /** The line's grapheme clusters, in order. */
  get clusters(): readonly string[] {
    return this.#clusters;
  }

  /** How many clusters stand before the cursor (0 … `clusters.length`). */
  get cursor(): number {
    return this.#cursor;
  }

  /** Lines sent so far, oldest first (at most {@linkcode MAX_HISTORY}). */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Replaces the line and puts the cursor at its end (or at `cursor` clusters in). */
  set(text: string, cursor?: number): void {
    this.#clusters = graphemes(clean(text));
    this.#cursor = Math.min(cursor ?? this.#clusters.length, this.#clusters.length);
  }

  /** Applies one key; says what changed. */
  handle(key: Key): EditResult {
    if (key.type === "text") return this.#insert(key.text);
    if (key.type === "paste") return this.#paste(key.text);
    const at = this.#cursor;
    const length = this.#clusters.length;
    switch (key.name) {
      case "enter":
        return { type: "submit", lines: [this.#submit()] };
      case "interrupt":
        return { type: "interrupt" };
      case "eof":
        return length === 0 ? { type: "eof" } : this.#remove(at, at + 1);
      case "redraw":
        return { type: "redraw" };
      case "backspace":
        return this.#remove(at - 1, at);
      case "delete":
        return this.#remove(at, at + 1);
      case "left":
        return this.#move(at - 1);
      case "right":
        return this.#move(at + 1);
      case "home":
        return this.#move(0);
      case "end":
        return this.#move(length);
      case "word-left":
        return this.#move(this.#wordStartBefore(at));
      case "word-right":
        return this.#move(this.#wordEndAfter(at));
      case "delete-word-before":
        return this.#kill(this.#wordStartBefore(at), at);
      case "delete-word-after":
        return this.#kill(at, this.#wordEndAfter(at));
      case "kill-before":
        return this.#kill(0, at);
      case "kill-after":
        return this.#kill(at, length);
      case "yank":
        return this.#insert(this.#killed);
      case "transpose":
        return this.#transpose();
      case "up":
        return this.#recall(this.#historyIndex - 1);
      case "down":
        return this.#recall(this.#historyIndex + 1);
      default:
        return NONE;
    }
  }

  /** Text at the cursor; a cluster the text completes (an accent after `e`) joins it. */
  #insert(text: string): EditResult {
    const cleaned = clean(text);
    const room = MAX_INPUT - this.text.length;
    const inserted = cleaned.length <= room ? cleaned : truncate(cleaned, room);
    if (!inserted) return NONE;
    const before = this.#clusters.slice(0, this.#cursor).join("");
    const after = this.#clusters.slice(this.#cursor).join("");
    this.#resegment(before + inserted + after, before.length + inserted.length);
    return CHANGED;
  }

  /** A paste: its lines but the last are done; the last stays on the line to be edited. */
  #paste(text: string): EditResult {
    const pieces = text.replace(/\r\n?/g, "\n").split("\n");
    if (pieces.length === 1) return this.#insert(text);
    const after = this.#clusters.slice(this.#cursor).join("");
    this.#clusters = this.#clusters.slice(0, this.#cursor);
    this.#insert(pieces[0]);
    const lines = [this.#submit()];
    for (const piece of pieces.slice(1, -1)) {
      this.set(piece);
      lines.push(this.#submit());
    }
    this.set(pieces[pieces.length - 1] + after, graphemes(clean(pieces[pieces.length - 1])).length);
    return { type: "submit", lines };
  }

  /** Takes the line: remembers it in the history and empties the editor. */
  #submit(): string {
    const line = this.text;
    // A line with a password is never kept (SPEC §10).
    if (line.trim() !== "" && !isSecret(line) && this.#history[this.#history.length - 1] !== line) {
      this.#history.push(line);
      if (this.#history.length > MAX_HISTORY) this.#history.shift();
    }
    this.#historyIndex = this.#history.length;
    this.#draft = "";
    this.#clusters = [];
    this.#cursor = 0;
    return line;
  }

  #recall(index: number): EditResult {
    if (index < 0 || index > this.#history.length || index === this.#historyIndex) return NONE;
    if (this.#historyIndex === this.#history.length) this.#draft = this.text;
    this.#historyIndex = index;
    this.set(index === this.#history.length ? this.#draft : this.#history[index]);
    return CHANGED;
  }

  #move(to: number): EditResult {
    const target = Math.max(0, Math.min(to, this.#clusters.length));
    if (target === this.#cursor) return NONE;
    this.#cursor = target;
    return CHANGED;
  }

  #remove(from: number, to: number): EditResult {
    const start = Math.max(0, from);
    const end = Math.min(to, this.#clusters.length);
    if (start >= end) return NONE;
    const before = this.#clusters.slice(0, start).join("");
    this.#resegment(before + this.#clusters.slice(end).join(""), before.length);
    return CHANGED;
  }

  /** Removes a range and keeps it for Ctrl-Y. */
  #kill(from: number, to: number): EditResult {
    if (from >= to) return NONE;
    this.#killed = this.#clusters.slice(from, to).join("");
    return this.#remove(from, to);
  }

  /** Ctrl-T: swaps the characters around the cursor (the last two at the end). */
  #transpose(): EditResult {
    const length = this.#clusters.length;
    if (length < 2 || this.#cursor === 0) return NONE;
    const at = this.#cursor === length ? length - 1 : this.#cursor;
    const clusters = [...this.#clusters];
    [clusters[at - 1], clusters[at]] = [clusters[at], clusters[at - 1]];
    const upTo = clusters.slice(0, at + 1).join("").length;
    this.#resegment(clusters.join(""), upTo);
    return CHANGED;
  }

  /** Where the word before `at` starts (spaces right before `at` are skipped first). */
  #wordStartBefore(at: number): number {
    let i = at;
    while (i > 0 && SPACE.test(this.#clusters[i - 1])) i--;
    while (i > 0 && !SPACE.test(this.#clusters[i - 1])) i--;
    return i;
  }

  /** Where the word after `at` ends (spaces right after `at` are skipped first). */
  #wordEndAfter(at: number): number {
    const length = this.#clusters.length;
    let i = at;
    while (i < length && SPACE.test(this.#clusters[i])) i++;
    while (i < length && !SPACE.test(this.#clusters[i])) i++;
    return i;
  }

  /**
   * Sets the text and puts the cursor at the first cluster boundary at or
   * after UTF-16 offset `offset`: edits can make neighbours join into one cluster.
   */
  #resegment(text: string, offset: number): void {
    this.#clusters = graphemes(text);
    let end = 0;
    let cursor = 0;
    while (cursor < this.#clusters.length && end < offset) end += this.#clusters[cursor++].length;
    this.#cursor = cursor;
  }
}

/** What may stand on the input line: no controls or bidi overrides; a TAB is a space. */
function clean(text: string): string {
  return cleanString(text.replaceAll("\t", " "));
}

/** The longest start of `text` of at most `max` UTF-16 units that does not split a code point. */
function truncate(text: string, max: number): string {
  let end = 0;
  for (const char of text) {
    if (end + char.length > max) break;
    end += char.length;
  }
  return text.slice(0, end);
}
