/**
 * Display width: how many terminal cells text takes, and where its grapheme
 * clusters (what a person sees as one character) begin and end.
 *
 * A cluster is measured as a terminal measures it: East Asian Wide and
 * Fullwidth characters (`你`, `가`, `👍`) take two cells, combining marks,
 * zero-width joiners, variation selectors and other invisible format
 * characters take none, everything else one. A cluster that is one emoji
 * (`👍🏽`, `❤️`, `👨‍👩‍👧`, `🇩🇪`) takes two cells, as in current terminals; terminals
 * that draw ZWJ sequences as separate glyphs show them wider, which costs only
 * cursor placement on that line, never garbling (the input line is redrawn
 * from its start every time).
 *
 * @module
 */

import { graphemeSegments } from "../text.ts";

/**
 * Invisible code points: nonspacing and enclosing marks, format characters
 * (ZWJ, ZWNJ, bidi marks, soft hyphen), default-ignorables such as variation
 * selectors, and the Hangul medial vowels and final consonants that join a
 * leading consonant.
 */
const ZERO_WIDTH =
  /^[\p{Mn}\p{Me}\p{Cf}\p{Default_Ignorable_Code_Point}\u1160-\u11ff\ud7b0-\ud7ff]$/u;
/** Controls draw nothing (the client never puts them in what it shows). */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /^[\x00-\x1f\x7f-\x9f]$/;
/** One complete emoji, sequences included (skin tones, ZWJ families, flags, keycaps). */
const EMOJI = /^\p{RGI_Emoji}$/v;
/** A pictograph turned into emoji presentation by VS16 even where RGI lists no such pair. */
const EMOJI_BY_SELECTOR = /^\p{Extended_Pictographic}\ufe0f/u;

/** Splits text into grapheme clusters (`"👍🏽a"` → `["👍🏽", "a"]`). */
export function graphemes(text: string): string[] {
  const clusters: string[] = [];
  for (const { segment } of graphemeSegments(text)) clusters.push(segment);
  return clusters;
}

/**
 * The East Asian Wide (W) and Fullwidth (F) code points, as hexadecimal
 * ranges `first-last` (or one code point) in ascending order: CJK, Hangul,
 * kana, fullwidth forms, emoji with emoji presentation, and the CJK planes'
 * unassigned code points, which Unicode also makes wide. Generated from
 * Unicode's EastAsianWidth.txt by way of the npm package get-east-asian-width
 * 1.7.0 (every code point whose `eastAsianWidth` is 2).
 */
const WIDE_RANGES = `
1100-115f 231a-231b 2329-232a 23e9-23ec 23f0 23f3 25fd-25fe 2614-2615 2630-2637 2648-2653 267f
268a-268f 2693 26a1 26aa-26ab 26bd-26be 26c4-26c5 26ce 26d4 26ea 26f2-26f3 26f5 26fa 26fd 2705
270a-270b 2728 274c 274e 2753-2755 2757 2795-2797 27b0 27bf 2b1b-2b1c 2b50 2b55 2e80-2e99
2e9b-2ef3 2f00-2fd5 2ff0-303e 3041-3096 3099-30ff 3105-312f 3131-318e 3190-31e5 31ef-321e
3220-3247 3250-a48c a490-a4c6 a960-a97c ac00-d7a3 f900-faff fe10-fe19 fe30-fe52 fe54-fe66
fe68-fe6b ff01-ff60 ffe0-ffe6 16fe0-16fe4 16ff0-16ff6 17000-18cda 18cff-18d20 18d80-18df2
18e00-19191 191a0-191d2 1aff0-1aff3 1aff5-1affb 1affd-1affe 1b000-1b128 1b132 1b150-1b152 1b155
1b164-1b168 1b170-1b2fb 1d300-1d356 1d360-1d376 1f004 1f0cf 1f18e 1f191-1f19a 1f1ae 1f200-1f202
1f210-1f23b 1f240-1f248 1f250-1f251 1f260-1f265 1f300-1f320 1f32d-1f335 1f337-1f37c 1f37e-1f393
1f3a0-1f3ca 1f3cf-1f3d3 1f3e0-1f3f0 1f3f4 1f3f8-1f43e 1f440 1f442-1f4fc 1f4ff-1f53d 1f54b-1f54e
1f550-1f567 1f57a 1f595-1f596 1f5a4 1f5fb-1f64f 1f680-1f6c5 1f6cc 1f6d0-1f6d2 1f6d5-1f6d9
1f6dc-1f6df 1f6eb-1f6ec 1f6f4-1f6fc 1f7da 1f7e0-1f7eb 1f7f0 1f90c-1f93a 1f93c-1f945 1f947-1f9ff
1fa70-1fa7c 1fa80-1fac6 1fac8 1facc-1fadd 1fadf-1faeb 1faef-1fafa 20000-2fffd 30000-3fffd
`;

/** {@linkcode WIDE_RANGES} as `[first, last, first, last, …]`, for binary search. */
const WIDE: Uint32Array = Uint32Array.from(
  WIDE_RANGES.trim().split(/\s+/).flatMap((range) => {
    const [first, last = first] = range.split("-");
    return [parseInt(first, 16), parseInt(last, 16)];
  }),
);

/** Whether a code point is East Asian Wide or Fullwidth (binary search in {@linkcode WIDE}). */
function isWide(codePoint: number): boolean {
  if (codePoint < WIDE[0] || codePoint > WIDE[WIDE.length - 1]) return false;
  let low = 0;
  let high = WIDE.length / 2 - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (codePoint < WIDE[2 * middle]) high = middle - 1;
    else if (codePoint > WIDE[2 * middle + 1]) low = middle + 1;
    else return true;
  }
  return false;
}

/** Cells one code point takes on its own: 0, 1 or 2. */
export function codePointWidth(codePoint: number): number {
  if (codePoint >= 0x20 && codePoint < 0x7f) return 1;
  const char = String.fromCodePoint(codePoint);
  if (CONTROL.test(char) || ZERO_WIDTH.test(char)) return 0;
  return isWide(codePoint) ? 2 : 1;
}

/** Cells one grapheme cluster takes: 0 (a lone invisible character), 1 or 2. */
export function graphemeWidth(cluster: string): number {
  const first = cluster.codePointAt(0);
  if (first === undefined) return 0;
  // Plain ASCII is by far the most common case.
  if (cluster.length === 1 && first >= 0x20 && first < 0x7f) return 1;
  if (EMOJI.test(cluster) || EMOJI_BY_SELECTOR.test(cluster)) return 2;
  // Base character plus whatever joins it; a spacing mark (Devanagari ा) adds a cell.
  let width = 0;
  for (const char of cluster) width += codePointWidth(char.codePointAt(0)!);
  return width;
}

/** Cells `text` takes on one terminal line (text without escape sequences or line breaks). */
export function displayWidth(text: string): number {
  let width = 0;
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code >= 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return text.length;
  for (const { segment } of graphemeSegments(text)) width += graphemeWidth(segment);
  return width;
}
