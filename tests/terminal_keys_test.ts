/** The key decoder: raw-mode bytes → key events, whatever the read boundaries. */

import assert from "node:assert/strict";
import { type Key, KeyDecoder, MAX_PASTE } from "../src/terminal/keys.ts";

const encoder = new TextEncoder();

function decode(...chunks: (string | Uint8Array)[]): Key[] {
  const decoder = new KeyDecoder();
  const keys: Key[] = [];
  for (const chunk of chunks) {
    keys.push(...decoder.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk));
  }
  return keys;
}

function names(keys: Key[]): string[] {
  return keys.map((key) => key.type === "key" ? key.name : `${key.type}:${key.text}`);
}

Deno.test("keys: typed text comes out as one run per read, UTF-8 whole", () => {
  assert.deepEqual(decode("hello 你好 👍🏽"), [{ type: "text", text: "hello 你好 👍🏽" }]);
  // 你 is E4 BD A0: split after its first byte.
  const bytes = encoder.encode("a你b");
  assert.deepEqual(names(decode(bytes.subarray(0, 2), bytes.subarray(2))), [
    "text:a",
    "text:你b",
  ]);
});

Deno.test("keys: control keys", () => {
  assert.deepEqual(
    names(decode("\x01\x05\x02\x06\x7f\x08\x15\x17\x0b\x19\x03\x04\x0c\x10\x0e\x14\t")),
    [
      "home",
      "end",
      "left",
      "right",
      "backspace",
      "backspace",
      "kill-before",
      "delete-word-before",
      "kill-after",
      "yank",
      "interrupt",
      "eof",
      "redraw",
      "up",
      "down",
      "transpose",
      "tab",
    ],
  );
  // Unbound controls (Ctrl-G, Ctrl-Q) are dropped, never inserted.
  assert.deepEqual(names(decode("a\x07\x11b")), ["text:a", "text:b"]);
});

Deno.test("keys: Enter as CR, LF or CR LF (one Enter, even split across reads)", () => {
  assert.deepEqual(names(decode("a\rb\nc\r\nd")), [
    "text:a",
    "enter",
    "text:b",
    "enter",
    "text:c",
    "enter",
    "text:d",
  ]);
  assert.deepEqual(names(decode("a\r", "\nb")), ["text:a", "enter", "text:b"]);
  assert.deepEqual(names(decode("\r\r")), ["enter", "enter"]);
});

Deno.test("keys: CSI and SS3 sequences terminals send", () => {
  const cases: [string, string][] = [
    ["\x1b[A", "up"],
    ["\x1b[B", "down"],
    ["\x1b[C", "right"],
    ["\x1b[D", "left"],
    ["\x1bOA", "up"],
    ["\x1bOB", "down"],
    ["\x1bOC", "right"],
    ["\x1bOD", "left"],
    ["\x1b[H", "home"],
    ["\x1b[F", "end"],
    ["\x1bOH", "home"],
    ["\x1bOF", "end"],
    ["\x1b[1~", "home"],
    ["\x1b[7~", "home"],
    ["\x1b[4~", "end"],
    ["\x1b[8~", "end"],
    ["\x1b[3~", "delete"],
    ["\x1b[2~", "insert"],
    ["\x1b[5~", "page-up"],
    ["\x1b[6~", "page-down"],
    ["\x1b[1;5C", "word-right"],
    ["\x1b[1;5D", "word-left"],
    ["\x1b[1;3D", "word-left"],
    ["\x1b[1;2A", "up"],
    ["\x1bb", "word-left"],
    ["\x1bf", "word-right"],
    ["\x1bd", "delete-word-after"],
    ["\x1b\x7f", "delete-word-before"],
    ["\x1b\x1b[D", "left"],
  ];
  for (const [bytes, name] of cases) {
    assert.deepEqual(names(decode(bytes)), [name], JSON.stringify(bytes));
  }
});

Deno.test("keys: unknown sequences are swallowed whole, never typed", () => {
  assert.deepEqual(names(decode("a\x1b[15~b")), ["text:a", "text:b"]); // F5
  assert.deepEqual(names(decode("a\x1bOPb")), ["text:a", "text:b"]); // F1 (SS3)
  assert.deepEqual(names(decode("a\x1b[[Ab")), ["text:a", "text:b"]); // F1 (Linux console)
  assert.deepEqual(names(decode("a\x1b[?1;2cb")), ["text:a", "text:b"]); // a device attribute reply
  assert.deepEqual(names(decode("\x1bx")), []); // Alt-x: unbound
});

Deno.test("keys: sequences split across reads, at every byte", () => {
  const input = "ab\x1b[3~c\x1bOAd\x1b[1;5De\x1b[200~p\nq\x1b[201~f";
  const whole = names(decode(input));
  assert.deepEqual(whole, [
    "text:ab",
    "delete",
    "text:c",
    "up",
    "text:d",
    "word-left",
    "text:e",
    "paste:p\nq",
    "text:f",
  ]);
  for (let cut = 1; cut < input.length; cut++) {
    const split = names(decode(input.slice(0, cut), input.slice(cut)));
    // Text runs may break at the cut; join them back before comparing.
    const joined = split.join("|").replace(/\|text:/g, "");
    assert.equal(joined, whole.join("|").replace(/\|text:/g, ""), `cut at ${cut}`);
  }
});

Deno.test("keys: a lone ESC waits for more, and is Escape after a pause", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.push(encoder.encode("a\x1b")), [{ type: "text", text: "a" }]);
  assert.equal(decoder.waitingForEscape, true);
  assert.deepEqual(names(decoder.flush()), ["escape"]);
  assert.equal(decoder.pending, false);
  // A sequence cut short by the pause is dropped, and the next key is fine.
  decoder.push(encoder.encode("\x1b[1;"));
  assert.deepEqual(decoder.flush(), []);
  assert.deepEqual(names(decoder.push(encoder.encode("x"))), ["text:x"]);
  // Without a pause the ESC starts a sequence.
  decoder.push(encoder.encode("\x1b"));
  assert.deepEqual(names(decoder.push(encoder.encode("[A"))), ["up"]);
});

Deno.test("keys: bracketed paste keeps line breaks and controls for the editor, split anywhere", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.push(encoder.encode("\x1b[200~one\r")), []);
  assert.equal(decoder.pending, true);
  assert.equal(decoder.waitingForEscape, false);
  assert.deepEqual(decoder.flush(), [], "a pause does not end a paste");
  assert.deepEqual(decoder.push(encoder.encode("two\x1b[20")), []);
  assert.deepEqual(names(decoder.push(encoder.encode("1~\x7f"))), ["paste:one\rtwo", "backspace"]);
  // An ESC inside a paste that is not the end marker stays in the paste text.
  assert.deepEqual(names(decode("\x1b[200~a\x1b[2b\x1b[201~")), ["paste:a\x1b[2b"]);
});

Deno.test("keys: a huge paste is cut at MAX_PASTE", () => {
  const big = "x".repeat(MAX_PASTE + 100);
  const [key] = decode(`\x1b[200~${big}`, "\x1b[201~");
  assert.equal(key.type, "paste");
  assert.equal((key as { text: string }).text.length, MAX_PASTE);
});
