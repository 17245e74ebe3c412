/**
 * Keyboard decoding: the bytes a terminal in raw mode sends → key events.
 *
 * Handles what terminals actually send: UTF-8 text (a character may be split
 * across reads), C0 control keys (Ctrl-A … Ctrl-W, Backspace as DEL or BS,
 * Enter as CR or LF), CSI sequences (`ESC [ A`, `ESC [ 1 ~`, `ESC [ 1 ; 5 C`;
 * modifiers on PageUp/PageDown/End ignored, rxvt's `ESC [ 5 $` and `ESC [ 5 ^`
 * too), SS3 sequences (`ESC O A`, sent in application cursor mode), Alt+key as ESC
 * followed by the key, and bracketed paste (`ESC [ 200 ~` … `ESC [ 201 ~`).
 * A sequence split across reads is completed by the next read. A lone ESC is
 * ambiguous until more bytes come or none do: the owner calls {@linkcode
 * KeyDecoder.flush} after a short pause to get it. Unknown sequences are
 * swallowed whole, so they never turn into text.
 *
 * Pure: no terminal, no timers.
 *
 * @module
 */

/** Keys the client gives a meaning to. Text and pastes carry their characters. */
export type KeyName =
  | "enter"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "up"
  | "down"
  | "home"
  | "end"
  | "word-left"
  | "word-right"
  | "delete-word-before"
  | "delete-word-after"
  | "kill-before"
  | "kill-after"
  | "yank"
  | "transpose"
  | "interrupt"
  | "eof"
  | "redraw"
  | "tab"
  | "escape"
  | "page-up"
  | "page-down"
  | "insert";

/** One decoded key press, a run of typed text, or one bracketed paste. */
export type Key =
  | { type: "key"; name: KeyName }
  | { type: "text"; text: string }
  | { type: "paste"; text: string };

const ESC = "\x1b";
const PASTE_END = "\x1b[201~";
/** A paste longer than this keeps only its start: the line editor has no use for megabytes. */
export const MAX_PASTE = 1024 * 1024;

/** Control bytes that are keys. Others (Ctrl-G, Ctrl-Q, …) are ignored. */
const CONTROL_KEYS: Record<string, KeyName> = {
  "\x01": "home", // Ctrl-A
  "\x02": "left", // Ctrl-B
  "\x03": "interrupt", // Ctrl-C
  "\x04": "eof", // Ctrl-D
  "\x05": "end", // Ctrl-E
  "\x06": "right", // Ctrl-F
  "\x08": "backspace", // Ctrl-H, Backspace on some terminals
  "\t": "tab",
  "\n": "enter",
  "\x0b": "kill-after", // Ctrl-K
  "\x0c": "redraw", // Ctrl-L
  "\r": "enter",
  "\x0e": "down", // Ctrl-N
  "\x10": "up", // Ctrl-P
  "\x14": "transpose", // Ctrl-T
  "\x15": "kill-before", // Ctrl-U
  "\x17": "delete-word-before", // Ctrl-W
  "\x19": "yank", // Ctrl-Y
  "\x7f": "backspace",
};

/** CSI/SS3 final bytes of cursor keys, unmodified. */
const CURSOR_FINALS: Record<string, KeyName> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

/** `ESC [ N ~` keys (VT220 and rxvt numbering). */
const TILDE_KEYS: Record<string, KeyName> = {
  "1": "home",
  "2": "insert",
  "3": "delete",
  "4": "end",
  "5": "page-up",
  "6": "page-down",
  "7": "home",
  "8": "end",
};

/** Alt+key (ESC then the key) that mean something, as in readline. */
const ALT_KEYS: Record<string, KeyName> = {
  b: "word-left",
  f: "word-right",
  d: "delete-word-after",
  "\x7f": "delete-word-before",
  "\x08": "delete-word-before",
};

/** Turns raw-mode keyboard bytes into {@linkcode Key} events; keeps partial input between calls. */
export class KeyDecoder {
  #decoder = new TextDecoder();
  /** Decoded text not yet turned into keys: the start of an escape sequence. */
  #pending = "";
  /** Inside a bracketed paste: its text so far. */
  #paste: string | null = null;
  /** The last character taken was CR: an LF right after it is part of the same Enter. */
  #afterCr = false;

  /** True when bytes are held back: an unfinished escape sequence or paste. */
  get pending(): boolean {
    return this.#pending !== "" || this.#paste !== null;
  }

  /** True when what is held back is a lone ESC (or the start of an Alt/CSI key) that a pause completes. */
  get waitingForEscape(): boolean {
    return this.#paste === null && this.#pending.startsWith(ESC);
  }

  /** Decodes the next bytes read from the terminal. */
  push(bytes: Uint8Array): Key[] {
    const keys: Key[] = [];
    this.#pending += this.#decoder.decode(bytes, { stream: true });
    this.#drain(keys, false);
    return keys;
  }

  /**
   * No more bytes came for a while: what is held back is complete as it is.
   * A lone ESC becomes the Escape key; an unfinished sequence is dropped. An
   * unfinished paste is kept (pastes end with their own marker).
   */
  flush(): Key[] {
    const keys: Key[] = [];
    if (this.#paste !== null) return keys;
    this.#drain(keys, true);
    if (this.#pending === ESC) keys.push({ type: "key", name: "escape" });
    this.#pending = "";
    return keys;
  }

  #drain(keys: Key[], final: boolean): void {
    let input = this.#pending;
    let i = 0;
    let text = "";
    const emitText = () => {
      if (text) keys.push({ type: "text", text });
      text = "";
    };
    while (i < input.length) {
      if (this.#paste !== null) {
        const end = input.indexOf(PASTE_END, i);
        if (end === -1) {
          // Keep a tail that could be the start of the end marker.
          const keep = partialSuffix(input, PASTE_END, i);
          this.#appendPaste(input.slice(i, input.length - keep));
          input = input.slice(input.length - keep);
          i = 0;
          break;
        }
        this.#appendPaste(input.slice(i, end));
        keys.push({ type: "paste", text: this.#paste });
        this.#paste = null;
        i = end + PASTE_END.length;
        continue;
      }
      const char = input[i];
      if (char === ESC) {
        const sequence = parseEscape(input, i);
        if (sequence === null) {
          if (!final) break; // wait for the rest
          // A pause ended it: a lone ESC (the caller adds Escape) or a fragment to drop.
          emitText();
          input = input.slice(i) === ESC ? ESC : "";
          i = 0;
          this.#pending = input;
          return;
        }
        emitText();
        this.#afterCr = false;
        i += sequence.length;
        if (sequence.paste) {
          this.#paste = "";
        } else if (sequence.key) {
          keys.push({ type: "key", name: sequence.key });
        }
        continue;
      }
      const code = char.charCodeAt(0);
      const afterCr = this.#afterCr;
      this.#afterCr = char === "\r";
      if (code < 0x20 || code === 0x7f) {
        emitText();
        i++;
        // CR LF (a paste without bracketing, a serial line) is one Enter, even split across reads.
        if (char === "\n" && afterCr) continue;
        const name = CONTROL_KEYS[char];
        if (name) keys.push({ type: "key", name });
        continue;
      }
      text += char;
      i++;
    }
    emitText();
    this.#pending = input.slice(i);
  }

  #appendPaste(text: string): void {
    const room = MAX_PASTE - this.#paste!.length;
    this.#paste += room >= text.length ? text : text.slice(0, Math.max(0, room));
  }
}

/** One escape sequence found at the start of the input. */
interface EscapeSequence {
  /** Characters it spans, ESC included. */
  length: number;
  /** The key it means, or null for a sequence swallowed unused. */
  key: KeyName | null;
  /** It starts a bracketed paste. */
  paste?: boolean;
}

/**
 * Parses the escape sequence starting at `input[start]` (an ESC). Null when
 * the input ends before the sequence does.
 */
function parseEscape(input: string, start: number): EscapeSequence | null {
  const next = input[start + 1];
  if (next === undefined) return null;
  if (next === "[") return parseCsi(input, start);
  if (next === "O") {
    const final = input[start + 2];
    if (final === undefined) return null;
    return { length: 3, key: CURSOR_FINALS[final] ?? null };
  }
  if (next === ESC) {
    // ESC ESC [ A: some terminals' Alt+arrow. Treat the inner sequence as the key.
    const inner = parseEscape(input, start + 1);
    return inner === null ? null : { ...inner, length: inner.length + 1 };
  }
  const code = next.codePointAt(0)!;
  // Alt+key: ESC and the key's character.
  return { length: code > 0xffff ? 3 : 2, key: ALT_KEYS[next] ?? null };
}

/** `ESC [` parameters (0x30–0x3F)* intermediates (0x20–0x2F)* final (0x40–0x7E). */
function parseCsi(input: string, start: number): EscapeSequence | null {
  if (input[start + 2] === "[") {
    // The Linux console's F1–F5: ESC [ [ A … ESC [ [ E.
    return start + 3 < input.length ? { length: 4, key: null } : null;
  }
  let i = start + 2;
  while (i < input.length && input.charCodeAt(i) >= 0x30 && input.charCodeAt(i) <= 0x3f) i++;
  const params = input.slice(start + 2, i);
  // rxvt's Shift and Ctrl variants of the `~` keys end in `$` and `^` (Shift+PageUp: ESC [ 5 $).
  if (/^\d+$/.test(params) && (input[i] === "$" || input[i] === "^")) {
    return { length: i + 1 - start, key: TILDE_KEYS[params] ?? null };
  }
  while (i < input.length && input.charCodeAt(i) >= 0x20 && input.charCodeAt(i) <= 0x2f) i++;
  if (i >= input.length) return null;
  const final = input[i];
  const length = i + 1 - start;
  const code = final.charCodeAt(0);
  if (code < 0x40 || code > 0x7e) return { length: length - 1, key: null }; // malformed: drop the prefix
  const [first = "", modifier = ""] = params.split(";");
  if (final === "~") {
    if (first === "200") return { length, key: null, paste: true };
    return { length, key: TILDE_KEYS[first] ?? null };
  }
  const key = CURSOR_FINALS[final] ?? null;
  // Ctrl (5) or Alt (3) with ← → moves by word, as in most editors.
  if ((key === "left" || key === "right") && (modifier === "5" || modifier === "3")) {
    return { length, key: key === "left" ? "word-left" : "word-right" };
  }
  return { length, key };
}

/** How many characters at the end of `text` (from `from` on) could start `marker`. */
function partialSuffix(text: string, marker: string, from: number): number {
  for (let keep = Math.min(marker.length - 1, text.length - from); keep > 0; keep--) {
    if (text.endsWith(marker.slice(0, keep))) return keep;
  }
  return 0;
}
