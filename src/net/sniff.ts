/**
 * Connection sniffing: tells from a connection's first bytes which protocol
 * its client speaks, so that TLS, HTTP and IRC clients on the chat port never
 * reach the room (SPEC §2), and the short reply an HTTP client gets.
 *
 * Pure: the caller reads, accumulates the bytes that arrived so far and asks
 * {@linkcode classifyFirstBytes} after each read, until the answer is not
 * `"undecided"` or {@linkcode SNIFF_TIMEOUT_MS} have passed since the
 * connection was accepted; then it is a line client. Only the first line is
 * ever classified; the bytes looked at go on to whichever front end serves
 * the connection.
 *
 * The rules, in order:
 *
 * - `tls`: the first bytes are 0x16 0x03, a TLS handshake record (every TLS
 *   version's ClientHello starts so). Decided from two bytes, before any LF.
 * - `line` at once when the first byte is not an uppercase ASCII letter:
 *   lowercase chat, a `/command`, telnet's IAC (0xFF), any UTF-8 text.
 * - Otherwise the first line decides, once its LF has arrived (a CR before
 *   it is dropped):
 *   - `http`: an HTTP/1.x request line, `METHOD TARGET HTTP/d.d`, any
 *     method in uppercase (the HTTP/2 preface `PRI * HTTP/2.0` too);
 *   - `irc`: an IRC registration command with the parameters clients send
 *     (uppercase, no tags, no prefix): `CAP LS [302]`, `CAP REQ …`,
 *     `CAP LIST`, `CAP END`, `NICK name`, `USER name mode unused :real name`,
 *     `PASS secret` or `PASS :secret`;
 *   - anything else is `line`: `GET me a coffee`, `CAPS LOCK`, `NICK is
 *     here`, `PASS the salt`, `USER guide online`.
 * - Before the LF: `undecided` while the bytes so far can still begin an
 *   HTTP request line or an IRC registration, `line` as soon as they cannot.
 *   A first line longer than {@linkcode SNIFF_LIMIT} bytes is `line`.
 *
 * Real clients send their first line in one segment (irssi `CAP LS 302`,
 * weechat `CAP LS 302`, curl `GET / HTTP/1.1`), and so do nc and telnet in
 * their usual line mode, so waiting is rare and the 250 ms bounds it.
 *
 * @module
 */

/** What a connection is, from its first bytes. */
export type ConnectionKind = "tls" | "http" | "irc" | "line";

/** {@linkcode ConnectionKind}, or `"undecided"`: wait for more bytes (until the deadline). */
export type Classification = ConnectionKind | "undecided";

/** How long the server waits for a connection's first bytes before it takes it for a line client. */
export const SNIFF_TIMEOUT_MS = 250;

/**
 * The most bytes looked at: a first line without LF this long is a line
 * client. IRC lines are at most 512 bytes; HTTP request lines with long
 * targets, which scanners send, need more.
 */
export const SNIFF_LIMIT = 2048;

const TLS_HANDSHAKE = 0x16;
const TLS_MAJOR_VERSION = 0x03;
const LF = 0x0a;
const CR = 0x0d;
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

// The patterns run on a first line without control characters, as Latin-1
// (one character per byte), so that `[^ ]` also takes every byte of UTF-8
// text such as a nick or a real name.
const HTTP_REQUEST_LINE = /^[A-Z][A-Z_-]{0,31} [!-~]+ HTTP\/\d(?:\.\d)?$/;
const IRC_REGISTRATION = new RegExp(
  "^(?:" + [
    /CAP (?:LS(?: \d+)?|LIST|END|REQ .*)/,
    /NICK :?[^ ]{1,64}/,
    // Clients always send the real name as a trailing parameter.
    /USER [^ :][^ ]* [^ ]+ [^ ]+ :.*/,
    /PASS (?::.*|[^ :][^ ]*)/,
  ].map((pattern) => pattern.source).join("|") + ")$",
);
/** An unfinished first word: an HTTP method or an IRC command may still follow. */
const PARTIAL_WORD = /^[A-Z][A-Z_-]{0,31}$/;
/** An IRC registration command and a space: its parameters are still coming. */
const PARTIAL_IRC = /^(?:CAP|NICK|USER|PASS) .*$/;
/** A method, a target, and the start of `HTTP/d.d`. */
const PARTIAL_HTTP =
  /^[A-Z][A-Z_-]{0,31} [!-~]*(?: (?:H|HT|HTT|HTTP|HTTP\/|HTTP\/\d|HTTP\/\d\.|HTTP\/\d\.\d)?)?$/;

/**
 * Classifies a connection by the bytes it has sent so far (all of them, from
 * the first). Returns `"undecided"` when they are too few to tell; more bytes
 * never turn a decided answer into another one.
 */
export function classifyFirstBytes(bytes: Uint8Array): Classification {
  if (bytes.length === 0) return "undecided";
  if (bytes[0] === TLS_HANDSHAKE) {
    if (bytes.length === 1) return "undecided";
    return bytes[1] === TLS_MAJOR_VERSION ? "tls" : "line";
  }
  if (bytes[0] < UPPER_A || bytes[0] > UPPER_Z) return "line";
  const seen = bytes.subarray(0, SNIFF_LIMIT);
  const lf = seen.indexOf(LF);
  if (lf === -1) {
    if (seen.length >= SNIFF_LIMIT) return "line";
    const start = lineText(seen, seen[seen.length - 1] === CR ? seen.length - 1 : seen.length);
    if (start === null) return "line";
    return PARTIAL_WORD.test(start) || PARTIAL_IRC.test(start) || PARTIAL_HTTP.test(start)
      ? "undecided"
      : "line";
  }
  const line = lineText(seen, lf > 0 && seen[lf - 1] === CR ? lf - 1 : lf);
  if (line === null) return "line";
  if (HTTP_REQUEST_LINE.test(line)) return "http";
  if (IRC_REGISTRATION.test(line)) return "irc";
  return "line";
}

/** Options for {@linkcode httpReply}. */
export interface HttpReplyOptions {
  /** The request's first bytes: a HEAD request gets the headers without the body. */
  request?: Uint8Array;
  /** The time for the Date header (the current time when not given). */
  date?: Date;
}

const encoder = new TextEncoder();
const HEAD = encoder.encode("HEAD ");

/**
 * A complete HTTP/1.1 response carrying `text` as a plain-text body, for an
 * HTTP client that reached the chat port. The status is 400 Bad Request: the
 * request is at fault (it was sent to a port that does not speak HTTP), and
 * unlike 404 a 400 is not cached, unlike 503 it does not invite a retry. The
 * server closes the connection after sending it (`Connection: close`).
 */
export function httpReply(text: string, options: HttpReplyOptions = {}): Uint8Array {
  const body = encoder.encode(text);
  const date = (options.date ?? new Date()).toUTCString();
  const head = [
    "HTTP/1.1 400 Bad Request",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${body.length}`,
    "Connection: close",
    `Date: ${date}`,
    "",
    "",
  ].join("\r\n");
  const headBytes = encoder.encode(head);
  if (options.request && startsWith(options.request, HEAD)) return headBytes;
  const reply = new Uint8Array(headBytes.length + body.length);
  reply.set(headBytes);
  reply.set(body, headBytes.length);
  return reply;
}

/**
 * What an HTTP client is told: that this is a parley chat port and how to
 * join it. `hostname` and `port` are the address the client connected to
 * (the connection's local address, not a wildcard like 0.0.0.0).
 */
export function chatPortNotice(hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return [
    `This is a parley chat server (${host}:${port}), not a web server.`,
    "Join the chat from a terminal with one of:",
    "",
    `  nc ${hostname} ${port}`,
    `  telnet ${hostname} ${port}`,
    `  parley client ${host}:${port}`,
    "",
  ].join("\n");
}

/**
 * The first `end` bytes as a string of one character per byte, or null when
 * they hold a control character (C0 or DEL): then they are neither HTTP nor IRC.
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

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}
