/** The line editor: keys → text, cursor (in grapheme clusters), kill buffer and history. */

import assert from "node:assert/strict";
import type { Key, KeyName } from "../src/terminal/keys.ts";
import { type EditResult, LineEditor, MAX_HISTORY } from "../src/terminal/line_editor.ts";

function type(text: string): Key {
  return { type: "text", text };
}
function key(name: KeyName): Key {
  return { type: "key", name };
}
function paste(text: string): Key {
  return { type: "paste", text };
}

/** Applies keys; returns the last result. */
function press(editor: LineEditor, ...keys: (Key | string | KeyName)[]): EditResult {
  let result: EditResult = { type: "none" };
  for (const k of keys) {
    result = editor.handle(typeof k === "string" ? (isKeyName(k) ? key(k) : type(k)) : k);
  }
  return result;
}

const KEY_NAMES = new Set<string>([
  "enter",
  "backspace",
  "delete",
  "left",
  "right",
  "up",
  "down",
  "home",
  "end",
  "word-left",
  "word-right",
  "delete-word-before",
  "delete-word-after",
  "kill-before",
  "kill-after",
  "yank",
  "transpose",
  "interrupt",
  "eof",
  "redraw",
]);
function isKeyName(text: string): text is KeyName {
  return KEY_NAMES.has(text);
}

/** The line with `|` where the cursor is. */
function shown(editor: LineEditor): string {
  const clusters = [...editor.clusters];
  clusters.splice(editor.cursor, 0, "|");
  return clusters.join("");
}

Deno.test("editor: typing, moving and deleting by character", () => {
  const editor = new LineEditor();
  assert.deepEqual(press(editor, "helo"), { type: "changed" });
  press(editor, "left", "l");
  assert.equal(shown(editor), "hell|o");
  press(editor, "home");
  assert.equal(shown(editor), "|hello");
  assert.deepEqual(press(editor, "left"), { type: "none" }, "← at the start does nothing");
  press(editor, "delete");
  assert.equal(shown(editor), "|ello");
  assert.deepEqual(press(editor, "backspace"), { type: "none" });
  press(editor, "end", "backspace");
  assert.equal(shown(editor), "ell|");
  assert.deepEqual(press(editor, "right"), { type: "none" });
  assert.deepEqual(press(editor, "delete"), { type: "none" });
});

Deno.test("editor: CJK, emoji and combining marks are edited whole", () => {
  const editor = new LineEditor();
  press(editor, "ab你好c");
  assert.equal(editor.clusters.length, 5);
  press(editor, "left", "backspace");
  assert.equal(shown(editor), "ab你|c", "Backspace removed 好 and only 好");
  press(editor, "end", "👍🏽", "👨‍👩‍👧", "🇩🇪");
  assert.equal(shown(editor), "ab你c👍🏽👨‍👩‍👧🇩🇪|");
  press(editor, "backspace");
  assert.equal(shown(editor), "ab你c👍🏽👨‍👩‍👧|");
  press(editor, "left", "backspace");
  assert.equal(shown(editor), "ab你c|👨‍👩‍👧", "👍🏽 (with its skin tone) went in one step");
  // An accent typed after a letter joins it; Backspace then takes both.
  editor.set("");
  press(editor, "e", "\u0301", "x");
  assert.deepEqual(editor.clusters, ["e\u0301", "x"]);
  press(editor, "left", "backspace");
  assert.equal(editor.text, "x");
});

Deno.test("editor: typed and pasted text is cleaned; TAB becomes a space", () => {
  const editor = new LineEditor();
  press(editor, "a\x1b[31mb\u202ec\x85d\te");
  assert.equal(editor.text, "a[31mbcd e");
});

Deno.test("editor: Ctrl-U, Ctrl-K, Ctrl-W, Alt-D and Ctrl-Y", () => {
  const editor = new LineEditor();
  press(editor, "one two  three");
  press(editor, "delete-word-before");
  assert.equal(shown(editor), "one two  |");
  press(editor, "delete-word-before");
  assert.equal(shown(editor), "one |");
  press(editor, "yank");
  assert.equal(shown(editor), "one two  |", "Ctrl-Y puts back the last kill");
  press(editor, "home", "delete-word-after");
  assert.equal(shown(editor), "| two  ");
  press(editor, "end", "word-left", "kill-before");
  assert.equal(shown(editor), "|two  ");
  press(editor, "right", "kill-after");
  assert.equal(shown(editor), "t|");
  press(editor, "kill-before");
  assert.equal(shown(editor), "|");
  assert.deepEqual(press(editor, "kill-before"), { type: "none" });
});

Deno.test("editor: word motion and transpose", () => {
  const editor = new LineEditor();
  press(editor, "alpha beta  gamma");
  press(editor, "word-left");
  assert.equal(shown(editor), "alpha beta  |gamma");
  press(editor, "word-left", "word-left");
  assert.equal(shown(editor), "|alpha beta  gamma");
  press(editor, "word-right");
  assert.equal(shown(editor), "alpha| beta  gamma");
  editor.set("ab你");
  press(editor, "transpose");
  assert.equal(shown(editor), "a你b|");
  press(editor, "left", "transpose");
  assert.equal(shown(editor), "ab你|");
});

Deno.test("editor: Enter submits exactly the text and empties the line", () => {
  const editor = new LineEditor();
  press(editor, "  hi 你好 ");
  assert.deepEqual(press(editor, "enter"), { type: "submit", lines: ["  hi 你好 "] });
  assert.equal(shown(editor), "|");
  assert.deepEqual(press(editor, "enter"), { type: "submit", lines: [""] });
});

Deno.test("editor: Ctrl-C, Ctrl-D, Ctrl-L", () => {
  const editor = new LineEditor();
  assert.deepEqual(press(editor, "interrupt"), { type: "interrupt" });
  assert.deepEqual(press(editor, "eof"), { type: "eof" }, "Ctrl-D on an empty line");
  press(editor, "ab", "home");
  assert.deepEqual(press(editor, "eof"), { type: "changed" }, "Ctrl-D deletes otherwise");
  assert.equal(editor.text, "b");
  assert.deepEqual(press(editor, "redraw"), { type: "redraw" });
  assert.deepEqual(press(editor, key("tab")), { type: "none" });
});

Deno.test("editor: a paste of several lines submits all but the last, which stays to edit", () => {
  const editor = new LineEditor();
  press(editor, "say: end", "left", "left", "left");
  assert.equal(shown(editor), "say: |end");
  const result = press(editor, paste("one\r\ntwo 你\rthree\nfour"));
  assert.deepEqual(result, { type: "submit", lines: ["say: one", "two 你", "three"] });
  assert.equal(shown(editor), "four|end");
  assert.deepEqual(editor.history, ["say: one", "two 你", "three"]);
  // A paste without line breaks is plain typing.
  assert.deepEqual(press(editor, paste("\tx")), { type: "changed" });
  assert.equal(shown(editor), "four x|end");
  // A paste ending in a line break leaves an empty line.
  editor.set("");
  assert.deepEqual(press(editor, paste("a\nb\n")), { type: "submit", lines: ["a", "b"] });
  assert.equal(editor.text, "");
});

Deno.test("editor: ↑/↓ walk the history and come back to the draft", () => {
  const editor = new LineEditor();
  press(editor, "first", "enter", "second", "enter", "second", "enter", "   ", "enter");
  assert.deepEqual(editor.history, ["first", "second"], "no repeats, no blank lines");
  press(editor, "draft");
  press(editor, "up");
  assert.equal(shown(editor), "second|");
  press(editor, "up");
  assert.equal(shown(editor), "first|");
  assert.deepEqual(press(editor, "up"), { type: "none" });
  press(editor, "down", "down");
  assert.equal(shown(editor), "draft|");
  assert.deepEqual(press(editor, "down"), { type: "none" });
  // A recalled line is sent as edited.
  press(editor, "up", "backspace", "d!", "enter");
  assert.deepEqual(editor.history, ["first", "second", "second!"]);
});

Deno.test("editor: the history keeps the last MAX_HISTORY lines", () => {
  const editor = new LineEditor();
  for (let i = 0; i < MAX_HISTORY + 5; i++) press(editor, `line ${i}`, "enter");
  assert.equal(editor.history.length, MAX_HISTORY);
  assert.equal(editor.history[0], "line 5");
});
