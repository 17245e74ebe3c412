/**
 * Lookalike names: Unicode's confusable detection (UTS #39 §4, "Confusable
 * Detection") and the invisible or blank-looking characters that no nick or
 * room name may contain. Pure: the Unicode data is the generated module
 * `confusables_data.ts` (tools/gen_confusables.ts), decoded into a Map the
 * first time a skeleton is asked for.
 *
 * How names are compared, and why case is handled as it is: see
 * {@linkcode lookalikeKeys}.
 *
 * @module
 */

import { CONFUSABLES_PACKED, DEFAULT_IGNORABLE_RANGES } from "./confusables_data.ts";

/**
 * Decodes the packed confusables table (format: the comment on
 * `CONFUSABLES_PACKED`) into a map from code point to prototype. Exported for
 * the generator's round-trip check and the tests.
 */
export function decodeConfusables(packed: readonly string[]): Map<number, string> {
  const table = new Map<number, string>();
  const text = packed.join("|");
  let next = 0;
  let at = 0;
  while (at < text.length) {
    // Header: GAP, then optionally "+" or "*" and N, all base 36, then ":".
    let gap = 0;
    let extra = 0;
    let run = 0;
    let c = text.charCodeAt(at);
    for (; c !== COLON && c !== PLUS && c !== STAR; c = text.charCodeAt(++at)) {
      gap = gap * 36 + digit36(c);
    }
    if (c !== COLON) {
      run = c;
      for (c = text.charCodeAt(++at); c !== COLON; c = text.charCodeAt(++at)) {
        extra = extra * 36 + digit36(c);
      }
    }
    let end = text.indexOf("|", ++at);
    if (end === -1) end = text.length;
    const prototype = text.slice(at, end);
    const first = next + gap;
    const base = prototype.codePointAt(0)!;
    for (let i = 0; i <= extra; i++) {
      table.set(first + i, run === PLUS ? String.fromCodePoint(base + i) : prototype);
    }
    next = first + extra + 1;
    at = end + 1;
  }
  return table;
}

const COLON = 0x3a;
const PLUS = 0x2b;
const STAR = 0x2a;

/** The value of a base-36 digit (0-9, a-z). */
function digit36(code: number): number {
  return code <= 0x39 ? code - 0x30 : code - 0x57;
}

let confusables: Map<number, string> | undefined;
let ignorable: RegExp | undefined;
let invisible: RegExp | undefined;

/** A regular expression character class of every Default_Ignorable_Code_Point. */
function ignorableClass(): string {
  const ranges = DEFAULT_IGNORABLE_RANGES.map(([first, last]) =>
    `\\u{${first.toString(16)}}-\\u{${last.toString(16)}}`
  );
  return `[${ranges.join("")}]`;
}

/**
 * The UTS #39 skeleton of `text` (the "internalSkeleton" of §4): NFD, without
 * Default_Ignorable_Code_Point characters, each code point replaced by its
 * prototype from confusables.txt, NFD again. Two strings are confusable when
 * their skeletons are equal; a skeleton is for comparing, never for showing.
 *
 * Case-sensitive, as UTS #39 defines it: `skeleton("I")` is `"l"` while
 * `skeleton("i")` is `"i"`. For names use {@linkcode lookalikeKeys}.
 */
export function skeleton(text: string): string {
  confusables ??= decodeConfusables(CONFUSABLES_PACKED);
  ignorable ??= new RegExp(ignorableClass(), "gu");
  const decomposed = text.normalize("NFD").replace(ignorable, "");
  let out = "";
  let kept = 0; // decomposed[kept, at) is unmapped text not yet copied to out
  for (let at = 0; at < decomposed.length;) {
    const codePoint = decomposed.codePointAt(at)!;
    const size = codePoint > 0xffff ? 2 : 1;
    const prototype = confusables.get(codePoint);
    if (prototype !== undefined) {
      out += decomposed.slice(kept, at) + prototype;
      kept = at + size;
    }
    at += size;
  }
  return (kept === 0 ? decomposed : out + decomposed.slice(kept)).normalize("NFD");
}

/**
 * The case fold of names.ts's `nameKey` (NFC, then upper and then lower case),
 * for callers that do not pass their name key. This module does not import
 * names.ts so that it stays a leaf; pass `nameKey(name)` to be sure the two agree.
 */
export function foldName(name: string): string {
  return name.normalize("NFC").toUpperCase().toLowerCase();
}

/**
 * The keys under which a nick or room name is guarded against lookalikes: the
 * skeletons of the name in lower case (`skeleton(key)`, `key` being the name
 * key, `nameKey(name)`), in upper case (`skeleton(key.toUpperCase())`), and as
 * typed (`skeleton(name)`); duplicates dropped, the lower-case one first. Two
 * names are lookalikes when their keys meet ({@linkcode areLookalikes}).
 *
 * Why three, and not one skeleton with case folded before or after it:
 * confusables.txt is case-sensitive and names are not, and either single
 * choice loses lookalikes that UTS #39 lists.
 * - Folding first (`skeleton(nameKey(name))` alone) misses what only upper
 *   case shows: Cyrillic Н В К М Т look like H B K M T, but н в к м т do not
 *   look like h b k m t, so `НАNК` would pass as another `hank`.
 * - Folding afterwards, as ergo does (`fold(skeleton(name))`), makes the key
 *   depend on how the owner happens to type the name, and merges what UTS #39
 *   keeps apart: I → l, then L → l, so `ALI` would collide with `all`.
 * - The lower- and upper-case keys are functions of the name key, so every
 *   way of writing one name guards the same keys; the as-typed key adds what
 *   mixed case shows (`Iarry` passing for `larry`).
 *
 * Before the skeletons, fullwidth and halfwidth forms (U+FF01..FFEE) become
 * their ordinary forms (their NFKC), as ergo does too: confusables.txt maps
 * some of them (ａ → a) but not others (ｄ, ｍ), so `ａｄｍｉｎ` would not meet `admin`.
 */
export function lookalikeKeys(name: string, key: string = foldName(name)): string[] {
  const narrow = foldWidth(key);
  return [
    ...new Set([skeleton(narrow), skeleton(narrow.toUpperCase()), skeleton(foldWidth(name))]),
  ];
}

const WIDE = /[\uFF01-\uFFEE]+/g;

/** Fullwidth and halfwidth forms as their ordinary characters. */
function foldWidth(text: string): string {
  return text.replace(WIDE, (run) => run.normalize("NFKC"));
}

/**
 * Whether `a` and `b` could pass for each other: some of their
 * {@linkcode lookalikeKeys} are equal. True for two spellings of one name too
 * (`Admin`, `admin`); a caller that allows a user their own name compares name
 * keys first.
 */
export function areLookalikes(a: string, b: string): boolean {
  const keys = new Set(lookalikeKeys(a));
  return lookalikeKeys(b).some((key) => keys.has(key));
}

/** Why a character cannot be seen. */
export type InvisibleKind = "default-ignorable" | "control" | "space" | "blank";

/** The first invisible or blank-looking character of a name. */
export interface InvisibleCharacter {
  /** Its code point (`U+${codePoint.toString(16)}` in messages). */
  codePoint: number;
  /** Which of the sets on {@linkcode invisibleProblem} it belongs to. */
  kind: InvisibleKind;
}

/**
 * Format and control characters that are not default-ignorable but have no
 * glyph of their own (the rest of gc=Cf outside Default_Ignorable_Code_Point
 * is Prepended_Concatenation_Mark, which is visible): U+FFF9..FFFB interlinear
 * annotation controls and U+13430..1343F Egyptian hieroglyph format controls
 * (UnicodeData.txt, DerivedCoreProperties.txt), plus every gc=Cc.
 */
const CONTROL = /[\p{Cc}\u{FFF9}-\u{FFFB}\u{13430}-\u{1343F}]/u;
/** White_Space (PropList.txt): spaces of every width, line and paragraph separators. */
const SPACE = /\p{White_Space}/u;
/**
 * Graphic characters whose glyph is blank or nothing, used to make "empty"
 * names (collected in https://github.com/flopp/invisible-characters and on
 * the character pages of unicode.org; none is default-ignorable):
 * U+2800 BRAILLE PATTERN BLANK (an empty braille cell, rendered as a space),
 * U+1D159 MUSICAL SYMBOL NULL NOTEHEAD (a placeholder notehead with no ink),
 * U+16FE4 KHITAN SMALL SCRIPT FILLER (gc=Mn, a filler for an empty place in a
 * Khitan character, blank like the Hangul fillers, which are default-ignorable;
 * our addition by analogy), U+FFFC OBJECT REPLACEMENT CHARACTER (a placeholder
 * for an absent object, drawn as nothing or a box).
 */
const BLANK = /[\u2800\u{1D159}\u{16FE4}\uFFFC]/u;

/**
 * The first character of `name` that shows nothing, or only blank space, or
 * null when there is none. Nicks and room names with one must be refused,
 * even where the name's other rules would let it through (a mark, a letter):
 * - "default-ignorable": Default_Ignorable_Code_Point, from
 *   DerivedCoreProperties.txt (the generated data): U+00AD soft hyphen,
 *   U+034F combining grapheme joiner, U+061C, U+115F..1160 and U+3164, U+FFA0
 *   Hangul fillers, U+17B4..17B5, U+180B..180F, U+200B..200F, U+202A..202E,
 *   U+2060..206F, U+FE00..FE0F variation selectors, U+FEFF, U+FFF0..FFF8,
 *   U+1BCA0..1BCA3, U+1D173..1D17A, U+E0000..E0FFF (tags, variation selectors
 *   supplement). UTS #39 skeletons drop these, so `admin` followed by one is
 *   also a lookalike of `admin`.
 * - "control", "space", "blank": see CONTROL, SPACE and BLANK above.
 */
export function invisibleProblem(name: string): InvisibleCharacter | null {
  invisible ??= new RegExp(
    [ignorableClass(), CONTROL.source, SPACE.source, BLANK.source].join("|"),
    "u",
  );
  const found = invisible.exec(name)?.[0];
  if (found === undefined) return null;
  const codePoint = found.codePointAt(0)!;
  if (isDefaultIgnorable(codePoint)) return { codePoint, kind: "default-ignorable" };
  if (CONTROL.test(found)) return { codePoint, kind: "control" };
  return { codePoint, kind: SPACE.test(found) ? "space" : "blank" };
}

function isDefaultIgnorable(codePoint: number): boolean {
  let low = 0;
  let high = DEFAULT_IGNORABLE_RANGES.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = DEFAULT_IGNORABLE_RANGES[middle];
    if (codePoint < first) high = middle - 1;
    else if (codePoint > last) low = middle + 1;
    else return true;
  }
  return false;
}
