/**
 * Lookalike names (src/core/confusables.ts): UTS #39 skeletons over the real
 * confusables.txt (Unicode 17.0.0), the keys names are guarded under, and the
 * invisible or blank-looking characters that names may not contain.
 */

import assert from "node:assert/strict";
import {
  areLookalikes,
  decodeConfusables,
  foldName,
  invisibleProblem,
  lookalikeKeys,
  skeleton,
} from "../src/protocol/confusables.ts";
import {
  CONFUSABLE_COUNT,
  CONFUSABLES_PACKED,
  DEFAULT_IGNORABLE_RANGES,
  UNICODE_VERSION,
} from "../src/protocol/confusables_data.ts";

/** What a nick may be today (names.ts): these attacks all pass it. */
const NICK = /^[\p{L}\p{M}\p{N}_.\-]+$/u;

function hex(codePoint: number): string {
  return "U+" + codePoint.toString(16).toUpperCase().padStart(4, "0");
}

Deno.test("the data is Unicode 17.0.0's confusables.txt, every line of it", () => {
  assert.equal(UNICODE_VERSION, "17.0.0");
  const table = decodeConfusables(CONFUSABLES_PACKED);
  assert.equal(table.size, CONFUSABLE_COUNT);
  assert.equal(CONFUSABLE_COUNT, 6565);
  // Lines of confusables.txt, as "source ; prototype".
  const lines: [number, string][] = [
    [0x0430, "a"], // CYRILLIC SMALL LETTER A → LATIN SMALL LETTER A
    [0x03b1, "a"], // GREEK SMALL LETTER ALPHA
    [0x0435, "e"], // CYRILLIC SMALL LETTER IE
    [0x006d, "rn"], // LATIN SMALL LETTER M → r, n
    [0x0030, "O"], // DIGIT ZERO → LATIN CAPITAL LETTER O
    [0x0031, "l"], // DIGIT ONE → LATIN SMALL LETTER L
    [0x0049, "l"], // LATIN CAPITAL LETTER I → LATIN SMALL LETTER L
    [0x2113, "l"], // SCRIPT SMALL L
    [0x1d400, "A"], // MATHEMATICAL BOLD CAPITAL A
    [0x041d, "H"], // CYRILLIC CAPITAL LETTER EN
    [0x043d, "ʜ"], // CYRILLIC SMALL LETTER EN → LATIN LETTER SMALL CAPITAL H
    [0x1f16d, "\u33c4\t\u20dd"], // CIRCLED CC: the file's own oddity, a tab, kept
  ];
  for (const [source, prototype] of lines) assert.equal(table.get(source), prototype, hex(source));
  // Letters that are their own prototype are not in the file.
  for (const char of "abcdeghknopqrsuvwxyz") {
    assert.equal(table.get(char.codePointAt(0)!), undefined);
  }
});

Deno.test("Default_Ignorable_Code_Point ranges are the engine's \\p{DI}, code point for code point", () => {
  const engine = /\p{Default_Ignorable_Code_Point}/u;
  const inData = (codePoint: number) =>
    DEFAULT_IGNORABLE_RANGES.some(([first, last]) => first <= codePoint && codePoint <= last);
  const differ: string[] = [];
  for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
    if (engine.test(String.fromCodePoint(codePoint)) !== inData(codePoint)) {
      differ.push(hex(codePoint));
    }
  }
  // A difference means Deno's Unicode and the data's have parted: regenerate.
  assert.deepEqual(differ, []);
});

Deno.test("the five reported impersonations: each is a lookalike of its target or refused as invisible", () => {
  const attacks: { nick: string; target: string; invisible: boolean }[] = [
    { nick: "\u0430dmin", target: "admin", invisible: false }, // Cyrillic а
    { nick: "admin\u034f", target: "admin", invisible: true }, // combining grapheme joiner
    { nick: "admin\ufe0f", target: "admin", invisible: true }, // variation selector 16
    { nick: "NickS\u0435rv", target: "NickServ", invisible: false }, // Cyrillic е
    { nick: "\u3164", target: "", invisible: true }, // HANGUL FILLER
  ];
  for (const { nick, target, invisible } of attacks) {
    const label = JSON.stringify(nick);
    assert.match(nick, NICK, `${label} passes today's nick rule`);
    assert.notEqual(foldName(nick), foldName(target), `${label} has a name key of its own`);
    assert.equal(invisibleProblem(nick) !== null, invisible, label);
    if (target !== "") assert.ok(areLookalikes(nick, target), `${label} looks like ${target}`);
  }
  // The invisible ones vanish from the skeleton altogether, as UTS #39 says they should.
  assert.equal(skeleton("admin\u034f"), skeleton("admin"));
  assert.equal(skeleton("admin\ufe0f"), skeleton("admin"));
  assert.equal(skeleton("\u3164"), "");
  assert.deepEqual(invisibleProblem("\u3164"), { codePoint: 0x3164, kind: "default-ignorable" });
  assert.deepEqual(invisibleProblem("admin\u034f"), {
    codePoint: 0x034f,
    kind: "default-ignorable",
  });
  // The case-folded skeleton alone, as the brief planned, already catches the visible two.
  assert.equal(skeleton(foldName("\u0430dmin")), skeleton(foldName("admin")));
  assert.equal(skeleton(foldName("NickS\u0435rv")), skeleton(foldName("NickServ")));
});

Deno.test("every way of writing admin, in any script, case or width that UTS #39 maps, meets admin", () => {
  const spellings = [
    "Admin",
    "ADMIN",
    "\u0430dmin", // Cyrillic а
    "\u03b1dmin", // Greek α
    "\u0410DMIN", // Cyrillic А, upper case
    "\u0391DMIN", // Greek Α, upper case
    "adm\u0456n", // Cyrillic і (dotted, Ukrainian)
    "adrnin", // r n for m
    "\uff41\uff44\uff4d\uff49\uff4e", // fullwidth ａｄｍｉｎ
    "\u{1d41a}\u{1d41d}\u{1d426}\u{1d422}\u{1d427}", // mathematical bold 𝐚𝐝𝐦𝐢𝐧
    "adm\u0131n", // dotless ı: the same name key as admin
  ];
  for (const spelling of spellings) {
    assert.ok(areLookalikes(spelling, "admin"), JSON.stringify(spelling));
  }
  // The lower-case key is skeleton(nameKey(name)), the same for every case of a name.
  for (const spelling of ["admin", "Admin", "ADMIN", "aDmIn"]) {
    assert.equal(lookalikeKeys(spelling)[0], "adrnin");
    assert.ok(lookalikeKeys(spelling).includes("ADMlN"), spelling);
  }
  assert.equal(skeleton("admin"), "adrnin");
  assert.equal(skeleton("ADMIN"), "ADMlN"); // I → l: UTS #39 is case-sensitive
});

Deno.test("mixed scripts: lookalikes across Latin, Cyrillic and Greek, in the case that shows them", () => {
  const pairs: [string, string][] = [
    ["\u0440\u0430ypal", "paypal"], // Cyrillic р а
    ["g\u043e\u043egle", "google"], // Cyrillic о о
    ["\u0391\u0399\u039a\u039f", "AIKO"], // Greek ΑΙΚΟ
    ["\u041d\u0410N\u041a", "hank"], // Cyrillic НАNК: only upper case shows it (н is not h)
    ["\u0412\u041e\u0412", "bob"], // Cyrillic ВОВ: в is not b, В is B
    ["Iarry", "larry"], // capital I for l: only as typed
    ["b0b", "bob"], // 0 → O: B0B and BOB
    ["\u2113arry", "larry"], // script ℓ
  ];
  for (const [attack, name] of pairs) {
    assert.ok(areLookalikes(attack, name), `${attack} looks like ${name}`);
  }
  // Why three keys: the lower-case key alone misses the upper-case-only ones.
  assert.notEqual(skeleton(foldName("\u041d\u0410N\u041a")), skeleton(foldName("hank")));
  assert.notEqual(skeleton(foldName("Iarry")), skeleton(foldName("larry")));
});

Deno.test("ordinary names stay apart: alice, bob, Ünal, 李雷, Иван, ivan and friends", () => {
  const names = [
    "alice",
    "bob",
    "Ünal",
    "Unal",
    "李雷",
    "李電",
    "Иван",
    "ivan",
    "ali",
    "all",
    "li",
    "ll",
  ];
  for (const a of names) {
    for (const b of names) {
      if (a !== b) assert.ok(!areLookalikes(a, b), `${a} and ${b} are told apart`);
    }
    assert.equal(invisibleProblem(a), null, a);
  }
  // UTS #39 keeps diacritics: Ünal is not Unal.
  assert.equal(skeleton("Ünal"), "U\u0308nal");
  // Иван is a transliteration of ivan, not a lookalike: и → ᴎ, в → ʙ, н → ʜ; only а → a.
  assert.equal(skeleton("иван"), "\u1d0e\u0299a\u029c");
  assert.equal(skeleton("ivan"), "ivan");
  // Upper case neither: ИВАН → ИBAH, IVAN → lVAN.
  assert.equal(skeleton("ИВАН"), "ИBAH");
  assert.equal(skeleton("IVAN"), "lVAN");
  // Han characters are their own prototypes; 李雷 keeps one key.
  assert.deepEqual(lookalikeKeys("李雷"), ["李雷"]);
  // One spelling of a name is a lookalike of another spelling of it.
  assert.ok(areLookalikes("Alice", "ALICE"));
});

Deno.test("invisibleProblem names the first invisible or blank character and its kind", () => {
  const cases: [string, number, string][] = [
    ["a\u200bb", 0x200b, "default-ignorable"], // zero width space
    ["a\u00adb", 0x00ad, "default-ignorable"], // soft hyphen
    ["a\u2066b", 0x2066, "default-ignorable"], // left-to-right isolate
    ["ab\u{e0041}", 0xe0041, "default-ignorable"], // tag latin capital A
    ["ab\u{e0100}", 0xe0100, "default-ignorable"], // variation selector 17
    ["\u115f", 0x115f, "default-ignorable"], // Hangul choseong filler
    ["\uffa0", 0xffa0, "default-ignorable"], // halfwidth Hangul filler
    ["\u17b4", 0x17b4, "default-ignorable"], // Khmer vowel inherent AQ
    ["a\u180eb", 0x180e, "default-ignorable"], // Mongolian vowel separator
    ["a\tb", 0x09, "control"],
    ["a\ufff9b", 0xfff9, "control"], // interlinear annotation anchor
    ["a\u{13430}b", 0x13430, "control"], // Egyptian hieroglyph vertical joiner
    ["a b", 0x20, "space"],
    ["a\u00a0b", 0xa0, "space"],
    ["a\u3000b", 0x3000, "space"], // ideographic space
    ["a\u2028b", 0x2028, "space"],
    ["\u2800", 0x2800, "blank"], // braille pattern blank
    ["a\u{1d159}", 0x1d159, "blank"], // musical symbol null notehead
    ["a\u{16fe4}", 0x16fe4, "blank"], // Khitan small script filler
    ["a\ufffcb", 0xfffc, "blank"], // object replacement character
  ];
  for (const [name, codePoint, kind] of cases) {
    assert.deepEqual(invisibleProblem(name), { codePoint, kind }, hex(codePoint));
  }
  assert.deepEqual(invisibleProblem("x\u200b\u2800"), {
    codePoint: 0x200b,
    kind: "default-ignorable",
  });
  // Visible, even though unusual: combining accents, Arabic number sign (a format
  // character that is drawn), emoji without a variation selector.
  for (const name of ["e\u0301", "\u0600١٢", "🦊", "Ünal", "李雷", "x_y.z-1"]) {
    assert.equal(invisibleProblem(name), null, name);
  }
});

Deno.test("skeleton is NFD in, NFD out, and idempotent save for a handful of UTS #39's own exceptions", () => {
  assert.equal(skeleton("\u00dcnal"), skeleton("U\u0308nal"));
  assert.equal(skeleton("\u00dcnal"), skeleton("\u00dcnal").normalize("NFD"));
  for (const name of ["alice", "\u0430dmin", "ADMIN", "Ünal", "李雷", "Иван", "\u{1d41a}bc"]) {
    assert.equal(skeleton(skeleton(name)), skeleton(name), name);
    const keys = lookalikeKeys(name);
    assert.deepEqual(lookalikeKeys(keys[0]).slice(0, 1), keys.slice(0, 1), name);
  }
  // Over every code point: a prototype holding a precomposed letter whose parts
  // map further (DŽ → D Ž, Ž → Z + caron, caron → breve) moves once more.
  const moving: string[] = [];
  for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
    const once = skeleton(String.fromCodePoint(codePoint));
    if (skeleton(once) !== once) moving.push(hex(codePoint));
  }
  assert.ok(moving.length <= 20, `not idempotent for ${moving.join(" ")}`);
  assert.ok(moving.includes("U+01C4"));
});

Deno.test("decodeConfusables reads gaps, stepping runs and repeated runs", () => {
  // Skip 65 (base 36 "1t") to U+0041 → x; skip 1, then U+0043 and 2 more stepping
  // from a; skip 1, U+0047 and 1 more → rn; skip 1, U+004A → "a:b" (only the first
  // colon ends a header). The strings join with "|" as records do.
  const table = decodeConfusables(["1t:x|1+2:a", "1*1:rn|1:a:b"]);
  assert.deepEqual([...table], [
    [0x41, "x"],
    [0x43, "a"],
    [0x44, "b"],
    [0x45, "c"],
    [0x47, "rn"],
    [0x48, "rn"],
    [0x4a, "a:b"],
  ]);
});

Deno.test("fast enough: the table decodes in milliseconds, a 24-character nick costs microseconds", () => {
  const nicks = [
    "Alexander_the_Great.2024",
    "\u0430dm\u0456n\u0456strat\u043er_of_th\u0435_hub",
    "Ünal-Öztürk_Çelik.Şahin",
    "李雷韩梅梅李雷韩梅梅李雷韩梅梅李雷韩梅梅李雷韩梅",
  ];
  const start = performance.now();
  decodeConfusables(CONFUSABLES_PACKED);
  const decode = performance.now() - start;
  for (const nick of nicks) lookalikeKeys(nick); // warm up
  const rounds = 20_000;
  const began = performance.now();
  for (let i = 0; i < rounds; i++) skeleton(nicks[i % nicks.length]);
  const perSkeleton = (performance.now() - began) / rounds * 1000;
  const keysBegan = performance.now();
  for (let i = 0; i < rounds; i++) lookalikeKeys(nicks[i % nicks.length]);
  const perKeys = (performance.now() - keysBegan) / rounds * 1000;
  console.log(
    `decode ${decode.toFixed(1)} ms, skeleton ${perSkeleton.toFixed(2)} us, ` +
      `lookalikeKeys ${perKeys.toFixed(2)} us per 24-character nick`,
  );
  // Generous bounds for a loaded CI machine; typical is ~3 ms, ~0.6 us and ~3 us.
  assert.ok(decode < 200, `decode took ${decode} ms`);
  assert.ok(perSkeleton < 50, `skeleton took ${perSkeleton} us`);
  assert.ok(perKeys < 200, `lookalikeKeys took ${perKeys} us`);
});
