/**
 * The process's terminal in raw mode: keys arrive byte by byte, unechoed, and
 * the client draws everything itself. This is the only module that changes
 * terminal modes, and it always puts them back: {@linkcode RawTerminal.restore}
 * is idempotent, the client calls it in `finally`, and a `Deno.exit` anywhere
 * (a second Ctrl-C) restores through the `unload` event.
 *
 * @module
 */

/** Bracketed paste on/off: a paste arrives between `ESC [ 200 ~` and `ESC [ 201 ~`. */
const PASTE_ON = "\x1b[?2004h";
const PASTE_OFF = "\x1b[?2004l";
const encoder = new TextEncoder();

/** Raw mode on stdin and synchronous, ordered writes to stdout, until restored. */
export class RawTerminal {
  #restored = false;
  readonly #onUnload = () => this.restore();

  /** Puts stdin in raw mode and turns bracketed paste on. */
  constructor() {
    Deno.stdin.setRaw(true);
    globalThis.addEventListener("unload", this.#onUnload);
    this.write(PASTE_ON);
  }

  /** Terminal width in columns (80 when it cannot be read). */
  get columns(): number {
    try {
      return Deno.consoleSize().columns || 80;
    } catch {
      return 80;
    }
  }

  /** Terminal height in rows (24 when it cannot be read). */
  get rows(): number {
    try {
      return Deno.consoleSize().rows || 24;
    } catch {
      return 24;
    }
  }

  /**
   * Writes all of `text` before returning, so output from the keyboard and
   * from the server never interleaves mid-sequence. A terminal that went away
   * is ignored here: its end shows up as the end of keyboard input.
   */
  write(text: string): void {
    if (!text) return;
    const bytes = encoder.encode(text);
    try {
      for (let written = 0; written < bytes.length;) {
        written += Deno.stdout.writeSync(bytes.subarray(written));
      }
    } catch {
      // stdout closed (terminal hung up)
    }
  }

  /** Writes `text` (e.g. erasing the input line), turns bracketed paste off and leaves raw mode. */
  restore(text = ""): void {
    if (this.#restored) return;
    this.#restored = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    this.write(text + PASTE_OFF);
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin is gone: nothing left to restore
    }
  }
}
