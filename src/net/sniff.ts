/**
 * Connection sniffing, the transport's part: how long the server waits for a
 * connection's first bytes, whether they are a TLS handshake, and the first
 * line as text for the front ends to recognise their protocol in (each front
 * end says whether the first bytes are its own: `front/sniff.ts` asks them).
 * Pure.
 *
 * - A TLS ClientHello starts with 0x16 0x03 (a handshake record, any TLS
 *   version): decided from two bytes, before any LF.
 * - A first line is looked at up to {@linkcode SNIFF_LIMIT} bytes, as one
 *   character per byte (so that a pattern's `[^ ]` takes every byte of UTF-8
 *   text such as a nick or a real name); a control character in it means no
 *   text protocol.
 *
 * Real clients send their first line in one segment (irssi `CAP LS 302`,
 * weechat `CAP LS 302`, curl `GET / HTTP/1.1`), and so do nc and telnet in
 * their usual line mode, so waiting is rare and {@linkcode SNIFF_TIMEOUT_MS}
 * bounds it.
 *
 * @module
 */

/** How long the server waits for a connection's first bytes before it takes it for a line client. */
export const SNIFF_TIMEOUT_MS = 250;

/**
 * The most bytes looked at: a first line without LF this long is a line
 * client. IRC lines are at most 512 bytes; HTTP request lines with long
 * targets, which scanners send, need more.
 */
export const SNIFF_LIMIT = 2048;

/** Whether some bytes are a protocol's: yes, no, or too few to tell. */
export type Recognition = "yes" | "no" | "undecided";

const TLS_HANDSHAKE = 0x16;
const TLS_MAJOR_VERSION = 0x03;
const LF = 0x0a;
const CR = 0x0d;
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

/** Whether the first bytes are a TLS handshake. */
export function recogniseTls(bytes: Uint8Array): Recognition {
  if (bytes.length === 0) return "undecided";
  if (bytes[0] !== TLS_HANDSHAKE) return "no";
  if (bytes.length === 1) return "undecided";
  return bytes[1] === TLS_MAJOR_VERSION ? "yes" : "no";
}

/**
 * The first line of a connection that starts with an uppercase ASCII letter
 * (HTTP methods and IRC commands do), as text: `complete` once its LF has
 * arrived (a CR before it dropped), else the part so far. Null when it
 * cannot be a text protocol's first line: another first byte, a control
 * character, or no LF within {@linkcode SNIFF_LIMIT} bytes.
 */
export function firstCommandLine(bytes: Uint8Array): { text: string; complete: boolean } | null {
  if (bytes.length === 0 || bytes[0] < UPPER_A || bytes[0] > UPPER_Z) return null;
  const seen = bytes.subarray(0, SNIFF_LIMIT);
  const lf = seen.indexOf(LF);
  if (lf === -1) {
    if (seen.length >= SNIFF_LIMIT) return null;
    const end = seen[seen.length - 1] === CR ? seen.length - 1 : seen.length;
    const text = lineText(seen, end);
    return text === null ? null : { text, complete: false };
  }
  const text = lineText(seen, lf > 0 && seen[lf - 1] === CR ? lf - 1 : lf);
  return text === null ? null : { text, complete: true };
}

/**
 * The first `end` bytes as a string of one character per byte, or null when
 * they hold a control character (C0 or DEL): then they are no text protocol.
 */
function lineText(bytes: Uint8Array, end: number): string | null {
  let text = "";
  for (let i = 0; i < end; i++) {
    const byte = bytes[i];
    if (byte < 0x20 || byte === 0x7f) return null;
    text += String.fromCharCode(byte);
  }
  return text;
}
