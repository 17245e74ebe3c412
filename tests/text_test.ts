import assert from "node:assert/strict";
import { cleanString, cleanText, hasContent } from "../src/text.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("plain and non-ASCII text pass through unchanged", () => {
  for (const text of ["hello", "你好，世界", "👍🏽 family: 👨‍👩‍👧", "tab\there", "naïve café"]) {
    assert.equal(cleanText(new TextEncoder().encode(text)), text);
  }
});

Deno.test("invalid UTF-8 becomes U+FFFD", () => {
  assert.equal(cleanText(bytes(0x61, 0xff, 0x62)), "a\uFFFDb");
  assert.equal(cleanText(bytes(0xe4, 0xbd)), "\uFFFD"); // truncated 你
  assert.equal(cleanText(bytes(0xc0, 0xaf)), "\uFFFD\uFFFD"); // overlong '/'
});

Deno.test("escape sequences and control characters are removed, TAB kept", () => {
  assert.equal(cleanString("\x1b[2J\x1b[31mred\x1b[0m"), "[2J[31mred[0m");
  assert.equal(cleanString("a\x00b\x07c\x08d\x7fe\tf"), "abcde\tf");
  assert.equal(cleanString("fake\rline"), "fakeline");
  assert.equal(cleanString("c1\u0085\u009bcontrols"), "c1controls");
});

Deno.test("bidirectional overrides and isolates are removed", () => {
  assert.equal(cleanString("abc\u202Eevil\u202C\u2066x\u2069"), "abcevilx");
  assert.equal(cleanString("line\u2028sep\u2029"), "linesep");
});

Deno.test("hasContent ignores spaces and tabs only", () => {
  assert.equal(hasContent(""), false);
  assert.equal(hasContent(" \t "), false);
  assert.equal(hasContent(" x "), true);
});
