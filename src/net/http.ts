/**
 * HTTP/1.1 on the chat port: the request head a client sends and the
 * response bytes parley answers with. Pure: no socket, no body handling.
 *
 * {@linkcode HttpHeadReader} takes the bytes of a connection as they arrive
 * and says when the head (request line, header lines, blank line) is
 * complete, or what is wrong with it and which status to answer:
 *
 * ```ts
 * const reader = new HttpHeadReader();
 * let result = reader.push(firstBytes);
 * while (result.kind === "more") result = reader.push(await readMore());
 * if (result.kind === "error") write(httpResponse(result.status, { body: result.reason }));
 * else serve(result.head, result.rest); // rest: the bytes after the head (a body, WebSocket frames)
 * ```
 *
 * It is strict (RFC 9112), because only browsers, WebSocket clients and
 * scanners talk HTTP to a chat port, and the first two never need leniency:
 *
 * - lines end with CR LF or a bare LF; a CR anywhere else is a 400;
 * - the request line is `method SP target SP HTTP/d.d`, single spaces, a
 *   token for the method and visible ASCII for the target; a well-formed
 *   version other than HTTP/1.0 and HTTP/1.1 (`HTTP/2.0`, `HTTP/3`) is a 505;
 *   an empty line before it is a 400 too (RFC 9112 §2.2 lets a server skip
 *   it, but the sniffer only sends here connections that start with a method);
 * - a header line is `name: value` with a token for the name and no space
 *   before the colon; a line starting with a space or tab (obs-fold) is a 400;
 *   a value holds no control character but tab (no NUL, no CR); its bytes
 *   0x80–0xFF are kept one character per byte (Latin-1), as RFC 9110 §5.5
 *   treats them as opaque;
 * - names are lowercased; a repeated header's values are joined with ", "
 *   (RFC 9110 §5.3); more than one `Host`, or none in an HTTP/1.1 request,
 *   is a 400 (RFC 9112 §3.2);
 * - a head longer than {@linkcode MAX_HEAD_BYTES} (terminating blank line
 *   included) is a 431, decided as soon as that many bytes arrived without
 *   its end, so the reader never holds more.
 *
 * Lines are checked in order as each one completes, so the answer is the
 * same however the bytes are split: a bad line within the limit is a 400 or
 * 505 even when the head would also be too long.
 *
 * {@linkcode httpResponse} builds a complete response: status line with the
 * standard reason phrase, the given headers, `Date` and `Content-Length`.
 *
 * @module
 */

/** The longest request head accepted, in bytes, its terminating blank line included. */
export const MAX_HEAD_BYTES = 8192;

/** A complete, well-formed request head. */
export interface HttpRequestHead {
  /** The method, as sent (methods are case-sensitive: `GET`, not `get`). */
  method: string;
  /** The request target, as sent (`/`, `/chat?x=1`, `*`, `http://host/`). */
  target: string;
  version: "HTTP/1.0" | "HTTP/1.1";
  /** Header values by lowercased name; a repeated header's values joined with ", ". */
  headers: Map<string, string>;
  /** Bytes the head took in the stream, from its first byte through the blank line ending it. */
  length: number;
}

/** The statuses {@linkcode HttpHeadReader} refuses a head with. */
export type HttpHeadStatus = 400 | 431 | 505;

/** What {@linkcode HttpHeadReader.push} says about the bytes so far. */
export type HttpHeadResult =
  /** The head is not complete yet: push more bytes. */
  | { kind: "more" }
  /**
   * The head is complete. `rest` is what followed it in the last chunk pushed
   * (a view into that chunk): a body, or a WebSocket client's first frames.
   */
  | { kind: "complete"; head: HttpRequestHead; rest: Uint8Array }
  /** The head is refused: answer `status` and close. `reason` says why, in English. */
  | { kind: "error"; status: HttpHeadStatus; reason: string };

const MORE: HttpHeadResult = Object.freeze({ kind: "more" });
const EMPTY = new Uint8Array(0);
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const DEL = 0x7f;

/** tchar (RFC 9110 §5.6.2), as a lookup table by byte. */
const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CHAR[c.charCodeAt(0)] = 1;
}
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Reads one request head from a byte stream, whatever the read boundaries.
 * Holds at most {@linkcode MAX_HEAD_BYTES} (or `maxBytes`) bytes, and only
 * those of the line not complete yet: finished lines are parsed at once.
 */
export class HttpHeadReader {
  /** The longest head accepted, in bytes. */
  readonly maxBytes: number;
  /** The current line's bytes carried over from earlier chunks. */
  #pending: Uint8Array = EMPTY;
  #pendingLength = 0;
  /** Bytes of the head's complete lines so far. */
  #consumed = 0;
  #requestLine: { method: string; target: string; version: "HTTP/1.0" | "HTTP/1.1" } | null = null;
  #headers = new Map<string, string>();
  #done = false;

  constructor(options: { maxBytes?: number } = {}) {
    const maxBytes = options.maxBytes ?? MAX_HEAD_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
    }
    this.maxBytes = maxBytes;
  }

  /** Bytes of an unfinished line held between pushes (at most `maxBytes`). */
  get bufferedBytes(): number {
    return this.#pendingLength;
  }

  /**
   * Takes the next bytes of the stream and says whether the head is complete.
   * Once the answer is `complete` or `error` the reader is done: pushing
   * again is a mistake and throws.
   */
  push(chunk: Uint8Array): HttpHeadResult {
    if (this.#done) throw new Error("HttpHeadReader.push called after the head was read");
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const lineEnd = lf === -1 ? chunk.length : lf + 1;
      // Without its LF, a line that reaches the limit ends (at best) one byte beyond it.
      const seen = this.#consumed + this.#pendingLength + (lineEnd - start);
      if (seen > this.maxBytes || (lf === -1 && seen === this.maxBytes)) {
        return this.#fail(431, `request head longer than ${this.maxBytes} bytes`);
      }
      if (lf === -1) {
        this.#append(chunk.subarray(start));
        return MORE;
      }
      let line: Uint8Array;
      if (this.#pendingLength === 0) {
        line = chunk.subarray(start, lf);
      } else {
        this.#append(chunk.subarray(start, lf));
        line = this.#pending.subarray(0, this.#pendingLength);
      }
      this.#consumed += line.length + 1;
      this.#pendingLength = 0;
      start = lf + 1;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      const problem = this.#requestLine === null
        ? this.#readRequestLine(line)
        : line.length === 0
        ? this.#finishHead()
        : this.#readHeaderLine(line);
      if (problem !== null) return problem;
      if (this.#done) {
        const { method, target, version } = this.#requestLine!;
        const head = { method, target, version, headers: this.#headers, length: this.#consumed };
        this.#pending = EMPTY;
        return { kind: "complete", head, rest: chunk.subarray(start) };
      }
    }
    return MORE;
  }

  #readRequestLine(line: Uint8Array): HttpHeadResult | null {
    const text = controlFreeText(line, false);
    if (text === null) return this.#fail(400, "control character in the request line");
    const first = text.indexOf(" ");
    const second = first === -1 ? -1 : text.indexOf(" ", first + 1);
    if (second === -1 || text.indexOf(" ", second + 1) !== -1) {
      return this.#fail(400, "malformed request line");
    }
    const method = text.slice(0, first);
    const target = text.slice(first + 1, second);
    const version = text.slice(second + 1);
    if (!TOKEN.test(method)) return this.#fail(400, "malformed method");
    if (!/^[!-~]+$/.test(target)) return this.#fail(400, "malformed request target");
    if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
      return /^HTTP\/\d(?:\.\d)?$/.test(version)
        ? this.#fail(505, `${version} is not supported (HTTP/1.1 is)`)
        : this.#fail(400, "malformed HTTP version");
    }
    this.#requestLine = { method, target, version };
    return null;
  }

  #readHeaderLine(line: Uint8Array): HttpHeadResult | null {
    if (line[0] === SP || line[0] === HTAB) {
      return this.#fail(400, "header line starting with whitespace (obs-fold)");
    }
    let colon = 0;
    while (colon < line.length && TOKEN_CHAR[line[colon]] === 1) colon++;
    if (colon === 0 || colon === line.length || line[colon] !== COLON) {
      return this.#fail(400, "malformed header name");
    }
    let from = colon + 1;
    let to = line.length;
    while (from < to && (line[from] === SP || line[from] === HTAB)) from++;
    while (to > from && (line[to - 1] === SP || line[to - 1] === HTAB)) to--;
    const value = controlFreeText(line.subarray(from, to), true);
    if (value === null) return this.#fail(400, "control character in a header value");
    const name = latin1(line.subarray(0, colon)).toLowerCase();
    const earlier = this.#headers.get(name);
    if (earlier === undefined) {
      this.#headers.set(name, value);
    } else if (name === "host") {
      return this.#fail(400, "more than one Host header");
    } else {
      this.#headers.set(name, `${earlier}, ${value}`);
    }
    return null;
  }

  #finishHead(): HttpHeadResult | null {
    if (this.#requestLine!.version === "HTTP/1.1" && !this.#headers.has("host")) {
      return this.#fail(400, "HTTP/1.1 request without a Host header");
    }
    this.#done = true;
    return null;
  }

  #fail(status: HttpHeadStatus, reason: string): HttpHeadResult {
    this.#done = true;
    this.#pending = EMPTY;
    this.#pendingLength = 0;
    return { kind: "error", status, reason };
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#pendingLength + bytes.length;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(needed, this.#pending.length * 2, 256), this.maxBytes),
      );
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength = needed;
  }
}

/** Options for {@linkcode httpResponse}. */
export interface HttpResponseOptions {
  /**
   * Headers to send, in order. Names must be tokens; values must not hold a
   * control character but tab (never CR or LF) nor a character above U+00FF.
   * `Content-Length` and `Date` are the builder's own and may not be given.
   */
  headers?: Record<string, string> | Iterable<readonly [string, string]>;
  /** The body: a string is sent as UTF-8. None for 1xx, 204 and 304. */
  body?: string | Uint8Array;
  /** Answering a HEAD request: the headers say what the body would be, the body is left out. */
  head?: boolean;
  /** The time for the `Date` header (the current time when not given). */
  date?: Date;
}

/** Standard reason phrases (RFC 9110 §15, RFC 6585). */
const REASON_PHRASES: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The standard reason phrase for `status`, or "" for a status without one. */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? "";
}

const encoder = new TextEncoder();
/** A valid field value: no control character but HTAB, nothing above U+00FF. */
// deno-lint-ignore no-control-regex -- the control characters are exactly what is refused
const FIELD_VALUE = /^[^\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]*$/;
const OWN_HEADERS = new Set(["content-length", "date", "transfer-encoding"]);

/**
 * A complete HTTP/1.1 response: status line with the standard reason phrase,
 * the given headers, `Date`, `Content-Length` (but for 1xx, 204 and 304,
 * which have no body), a blank line and the body. Throws a TypeError for a header
 * that could break the response (a CR or LF in a value, a name that is not
 * a token) and a RangeError for a status outside 100–599 or a body where
 * the status allows none.
 */
export function httpResponse(status: number, options: HttpResponseOptions = {}): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`HTTP status must be an integer from 100 to 599, got ${status}`);
  }
  const bodyless = status < 200 || status === 204 || status === 304;
  const body = options.body === undefined
    ? EMPTY
    : typeof options.body === "string"
    ? encoder.encode(options.body)
    : options.body;
  if (bodyless && body.length > 0) throw new RangeError(`a ${status} response has no body`);
  let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  const headers = options.headers ?? {};
  const entries = Symbol.iterator in headers
    ? headers as Iterable<readonly [string, string]>
    : Object.entries(headers);
  for (const [name, value] of entries) {
    if (!TOKEN.test(name)) throw new TypeError(`Invalid HTTP header name ${JSON.stringify(name)}`);
    if (OWN_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`The ${name} header is set by httpResponse, not by its caller`);
    }
    if (!FIELD_VALUE.test(value)) {
      throw new TypeError(`Invalid value for HTTP header ${name}: ${JSON.stringify(value)}`);
    }
    head += `${name}: ${value}\r\n`;
  }
  head += `Date: ${(options.date ?? new Date()).toUTCString()}\r\n`;
  // A 304's Content-Length would have to be the 200's (RFC 9110 §8.6): none is sent.
  if (status >= 200 && status !== 204 && status !== 304) {
    head += `Content-Length: ${body.length}\r\n`;
  }
  head += "\r\n";
  const headLength = head.length;
  const sendBody = !options.head && body.length > 0;
  const response = new Uint8Array(headLength + (sendBody ? body.length : 0));
  for (let i = 0; i < headLength; i++) response[i] = head.charCodeAt(i);
  if (sendBody) response.set(body, headLength);
  return response;
}

/** A line's bytes as one character per byte, or null if it holds a control character (HTAB allowed when `tab`). */
function controlFreeText(bytes: Uint8Array, tab: boolean): string | null {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if ((byte < SP && !(tab && byte === HTAB)) || byte === DEL) return null;
  }
  return latin1(bytes);
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return text;
}
