/**
 * Text cleaning: what one client sends must not be able to move another's
 * cursor, recolour a terminal, reorder text or forge a line in the server log.
 *
 * Invalid UTF-8 becomes U+FFFD. Removed: C0 controls except TAB, DEL, C1
 * controls, the bidirectional embeddings, overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069), and the Unicode line and paragraph
 * separators (U+2028, U+2029), which some viewers treat as line breaks.
 *
 * @module
 */

const decoder = new TextDecoder();
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "g");

/** Decodes one line of bytes as UTF-8 and removes everything unsafe to display. */
export function cleanText(bytes: Uint8Array): string {
  return cleanString(decoder.decode(bytes));
}

/** Removes control and bidirectional-override characters from a string. */
export function cleanString(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, "") : text;
}

/** True when the text has something other than spaces and tabs. */
export function hasContent(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x09) return true;
  }
  return false;
}

/**
 * The longest start of `text` whose UTF-8 encoding is at most `maxBytes`,
 * cut between code points (never inside a character's bytes).
 */
export function cutToBytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/** Made on first use: creating one loads ICU's break data (about 5 MiB), which most servers never need. */
let segmenter: Intl.Segmenter | undefined;

/** The grapheme clusters of `text` (`"👍🏽a"` → `"👍🏽"`, `"a"`), with their string index. */
export function graphemeSegments(text: string): Intl.Segments {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return segmenter.segment(text);
}
