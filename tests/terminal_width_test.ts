/** Display width: cells per grapheme cluster, as terminals draw them. */

import assert from "node:assert/strict";
import { codePointWidth, displayWidth, graphemes, graphemeWidth } from "../src/terminal/width.ts";

Deno.test("width: ASCII, CJK, Hangul, fullwidth and halfwidth forms", () => {
  assert.equal(displayWidth("hello"), 5);
  assert.equal(displayWidth("你好"), 4);
  assert.equal(displayWidth("한국어"), 6);
  assert.equal(displayWidth("ｈｉ"), 4, "fullwidth Latin");
  assert.equal(displayWidth("ｱｲ"), 2, "halfwidth katakana");
  assert.equal(displayWidth("a你b"), 4);
  assert.equal(displayWidth(""), 0);
  // Edges of the Wide/Fullwidth table.
  const cases: [number, number][] = [
    [0x10ff, 1],
    [0x1100, 2],
    [0x115e, 2],
    [0x3000, 2], // ideographic space (F)
    [0x303e, 2],
    [0x303f, 1],
    [0xff01, 2],
    [0xff61, 1],
    [0xa1, 1], // ambiguous: narrow, as on Western terminals
    [0x1f600, 2],
    [0x1f1e6, 1], // a lone regional indicator
    [0x20000, 2],
    [0x3fffd, 2],
    [0x3fffe, 1],
  ];
  for (const [codePoint, width] of cases) {
    assert.equal(codePointWidth(codePoint), width, `U+${codePoint.toString(16)}`);
  }
});

Deno.test("width: emoji are two cells, sequences included", () => {
  for (const emoji of ["👍", "👍🏽", "❤️", "👨‍👩‍👧", "🏳️‍🌈", "🇩🇪", "1️⃣", "🧑🏿‍💻"]) {
    assert.equal(graphemes(emoji).length, 1, `${emoji} is one cluster`);
    assert.equal(displayWidth(emoji), 2, emoji);
  }
  assert.equal(displayWidth("❤"), 1, "text-presentation heart without VS16");
  assert.equal(displayWidth("ok👍🏽!"), 5);
});

Deno.test("width: combining marks, joiners and selectors take no cell", () => {
  assert.equal(displayWidth("e\u0301"), 1);
  assert.equal(displayWidth("a\u0300\u0301\u0302"), 1);
  assert.equal(displayWidth("\u200b"), 0, "zero width space");
  assert.equal(displayWidth("a\u200db"), 2);
  assert.equal(codePointWidth(0xfe0f), 0);
  assert.equal(codePointWidth(0x0301), 0);
  assert.equal(codePointWidth(0x1b), 0, "controls draw nothing");
  assert.equal(graphemeWidth("\u1100\u1161\u11a8"), 2, "Hangul jamo L V T is one syllable");
  assert.equal(displayWidth("नमस्ते"), 4, "Devanagari as wcwidth counts it");
});

Deno.test("width: clusters come out as a person sees characters", () => {
  assert.deepEqual(graphemes("a你👍🏽e\u0301🇩🇪"), ["a", "你", "👍🏽", "e\u0301", "🇩🇪"]);
  assert.deepEqual(graphemes(""), []);
});
