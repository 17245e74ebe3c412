/**
 * The input line's keys: Enter sends (through the form), Tab and Shift+Tab
 * complete and cycle nicks of the conversation (Tab moves focus as usual
 * when there is no word to complete), ↑ and ↓ recall the lines sent before
 * (what was being typed comes back after the newest).
 *
 * @module
 */

const MAX_RECALL = 200;

/** Keyboard behaviour of the message input. */
export class InputLine {
  /**
   * @param {HTMLInputElement} input
   * @param {HTMLFormElement} form
   * @param {{submit: (text: string) => boolean, nicks: () => string[]}} hooks
   *   `submit` returns false to keep the text in the input
   */
  constructor(input, form, hooks) {
    this.input = input;
    this.hooks = hooks;
    /** @type {string[]} */
    this.sent = [];
    this.recall = -1;
    this.draft = "";
    /** @type {{start: number, end: number, matches: string[], index: number, suffix: string} | null} */
    this.completion = null;
    input.addEventListener("keydown", (event) => this.#key(event));
    input.addEventListener("input", () => {
      this.completion = null;
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      if (!hooks.submit(text)) return;
      if (this.sent[this.sent.length - 1] !== text) this.sent.push(text);
      if (this.sent.length > MAX_RECALL) this.sent.shift();
      this.recall = -1;
      this.draft = "";
      input.value = "";
    });
  }

  #key(event) {
    if (event.key === "Tab" && !event.altKey && !event.ctrlKey && !event.metaKey) {
      if (this.#complete(event.shiftKey ? -1 : 1)) event.preventDefault();
      return;
    }
    this.completion = null;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowUp" && this.sent.length > 0) {
      event.preventDefault();
      if (this.recall === -1) {
        this.draft = this.input.value;
        this.recall = this.sent.length;
      }
      this.recall = Math.max(0, this.recall - 1);
      this.#set(this.sent[this.recall]);
    } else if (event.key === "ArrowDown" && this.recall !== -1) {
      event.preventDefault();
      this.recall++;
      if (this.recall >= this.sent.length) {
        this.recall = -1;
        this.#set(this.draft);
      } else {
        this.#set(this.sent[this.recall]);
      }
    }
  }

  #set(text) {
    this.input.value = text;
    this.input.setSelectionRange(text.length, text.length);
  }

  /**
   * Completes the word before the cursor with a nick (or the next/previous
   * match when Tab is pressed again). Returns false when there is nothing to do.
   * @param {number} step
   */
  #complete(step) {
    const input = this.input;
    let state = this.completion;
    if (state === null) {
      const cursor = input.selectionStart ?? input.value.length;
      const before = input.value.slice(0, cursor);
      const word = /[^\s]*$/.exec(before)?.[0] ?? "";
      if (!word) return false;
      const prefix = word.replace(/^@/, "").toLowerCase();
      const matches = this.hooks.nicks()
        .filter((nick) => nick.toLowerCase().startsWith(prefix))
        .sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
      if (matches.length === 0) return true; // nothing matches: stay in the input
      const start = cursor - word.length;
      state = {
        start,
        end: cursor,
        matches,
        index: step > 0 ? -1 : matches.length,
        suffix: start === 0 ? ": " : " ",
      };
      this.completion = state;
    }
    state.index = (state.index + step + state.matches.length) % state.matches.length;
    const replacement = state.matches[state.index] + state.suffix;
    const value = input.value;
    input.value = value.slice(0, state.start) + replacement + value.slice(state.end);
    state.end = state.start + replacement.length;
    input.setSelectionRange(state.end, state.end);
    return true;
  }
}
