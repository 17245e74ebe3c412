/**
 * WebSocket (RFC 6455) for IRC on the chat port, as the IRCv3 WebSocket
 * transport has it: the opening handshake, client frames in, server frames
 * out. Pure: no socket; the caller reads and writes, and decides.
 *
 * - {@linkcode acceptWebSocket} checks an upgrade request read by
 *   `HttpHeadReader` (./http.ts) and gives the `101 Switching Protocols`
 *   bytes, or the refusal to send. The IRCv3 subprotocols are negotiated
 *   here; the `Origin` is handed to the caller, which alone knows which
 *   origins to allow.
 * - {@linkcode WebSocketDecoder} turns the client's bytes, split anywhere,
 *   into messages, pings, pongs, a close, or the one protocol error that ends
 *   the connection with the close code to send. Memory is bounded by
 *   `maxMessage` however the bytes come.
 * - {@linkcode frameIrcLines} turns rendered IRC output (CR LF lines) into
 *   one WebSocket message per line, all in one buffer, so that output for
 *   many receivers is framed once and its bytes shared; {@linkcode textFrame},
 *   {@linkcode binaryFrame}, {@linkcode pingFrame}, {@linkcode pongFrame} and
 *   {@linkcode closeFrame} build single frames. Server frames are never masked.
 *
 * The decoder's states, one frame at a time (a control frame may come
 * between the fragments of a message; a close or an error ends it all):
 *
 * ```
 *            header complete              payload complete
 *  HEADER ──────────────────▶ PAYLOAD ─────────────────────▶ HEADER
 *     │ bad header                │ invalid UTF-8, a close frame (good or bad)
 *     └──────────────▶ FINISHED ◀─┘
 * ```
 *
 * SHA-1 (for `Sec-WebSocket-Accept`) is a small implementation here rather
 * than `node:crypto`: the handshake stays synchronous, and the server does not
 * load Node's crypto module at start (an import at first use would make the
 * handshake asynchronous); WebCrypto's digest is asynchronous too. It hashes
 * 60 bytes once per connection, so its speed does not matter.
 *
 * @module
 */

import type { HttpRequestHead } from "./http.ts";
import { httpResponse } from "./http.ts";

/** The IRCv3 subprotocols parley speaks (the client's order of preference decides between them). */
export const IRC_SUBPROTOCOLS = ["text.ircv3.net", "binary.ircv3.net"] as const;

/** An IRCv3 WebSocket subprotocol. */
export type IrcSubprotocol = typeof IRC_SUBPROTOCOLS[number];

/**
 * The kind of messages the server sends a WebSocket client: binary when
 * `binary.ircv3.net` was negotiated, text otherwise.
 */
export type WebSocketMode = "text" | "binary";

/** Close codes parley sends (RFC 6455 §7.4.1). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidData: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
} as const;

/**
 * The largest message a client may send by default: 8 KiB of tags plus a
 * 512-byte IRC line. A line longer than the IRC front end accepts but within
 * this limit reaches the front end, which answers it as IRC does (417); only
 * a bigger message closes the connection (1009).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 8192 + 512;

/** The GUID RFC 6455 §1.3 appends to the client's key. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ---------------------------------------------------------------------------
// Handshake

/** What {@linkcode acceptWebSocket} decided. */
export type WebSocketHandshake =
  | {
    ok: true;
    /** The subprotocol agreed on, or null when the client offered none parley speaks. */
    protocol: IrcSubprotocol | null;
    /** What to send the client: binary frames for `binary.ircv3.net`, text frames otherwise. */
    mode: WebSocketMode;
    /** The `Origin` header (sent by browsers), or null: the caller decides whether to allow it. */
    origin: string | null;
    /** The `101 Switching Protocols` response to write before any frame. */
    response: Uint8Array;
  }
  | {
    ok: false;
    /** 400 (malformed upgrade), 405 (not GET) or 426 (not WebSocket version 13). */
    status: 400 | 405 | 426;
    /** Why, in English (also the response's body). */
    reason: string;
    /** The complete refusal to write before closing the connection. */
    response: Uint8Array;
  };

/**
 * Whether a request asks for a WebSocket: its `Upgrade` header lists
 * `websocket`. Such a request goes to {@linkcode acceptWebSocket}, which
 * accepts or refuses it; any other request is plain HTTP.
 */
export function isWebSocketRequest(head: HttpRequestHead): boolean {
  return listsToken(head.headers.get("upgrade"), "websocket");
}

/**
 * Checks an opening handshake (RFC 6455 §4.2.1) and answers it (§4.2.2).
 *
 * Accepted: `GET`, HTTP/1.1, a `Host`, `Upgrade` listing `websocket` and
 * `Connection` listing `upgrade` (both case-insensitive),
 * `Sec-WebSocket-Version: 13` (otherwise 426 with
 * `Sec-WebSocket-Version: 13`), and a `Sec-WebSocket-Key` that is the base64
 * of 16 bytes.
 *
 * The subprotocol is the first one in the client's `Sec-WebSocket-Protocol`
 * that parley speaks, as IRCv3 says ("respecting the client's order of
 * preference"). A client that offers none gets text frames and no
 * `Sec-WebSocket-Protocol` header. A client that offers only others is
 * accepted all the same, without the header (the IRCv3 spec allows it; a
 * browser then fails the connection itself, and may retry without
 * subprotocols). Extensions (`permessage-deflate`) are never agreed to.
 */
export function acceptWebSocket(
  head: HttpRequestHead,
  options: { date?: Date } = {},
): WebSocketHandshake {
  const headers = head.headers;
  const refuse = (status: 400 | 405 | 426, reason: string, extra: [string, string][] = []) =>
    refusal(status, reason, { extra, date: options.date });
  if (head.method !== "GET") {
    return refuse(405, "a WebSocket handshake is a GET request", [["Allow", "GET"]]);
  }
  if (head.version !== "HTTP/1.1") return refuse(400, "a WebSocket handshake needs HTTP/1.1");
  if (!headers.has("host")) return refuse(400, "no Host header");
  if (!listsToken(headers.get("upgrade"), "websocket")) {
    return refuse(400, "the Upgrade header does not ask for websocket");
  }
  if (!listsToken(headers.get("connection"), "upgrade")) {
    return refuse(400, "the Connection header does not list upgrade");
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return refuse(426, "only WebSocket version 13 is supported", [["Sec-WebSocket-Version", "13"]]);
  }
  const key = headers.get("sec-websocket-key");
  if (key === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return refuse(400, "Sec-WebSocket-Key is not the base64 of 16 bytes");
  }
  const protocol = chooseSubprotocol(headers.get("sec-websocket-protocol"));
  const answer: [string, string][] = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", webSocketAccept(key)],
  ];
  if (protocol !== null) answer.push(["Sec-WebSocket-Protocol", protocol]);
  return {
    ok: true,
    protocol,
    mode: protocol === "binary.ircv3.net" ? "binary" : "text",
    origin: headers.get("origin") ?? null,
    response: httpResponse(101, { headers: answer, date: options.date }),
  };
}

/** A refused handshake and the plain-text response that says why. */
function refusal(
  status: 400 | 405 | 426,
  reason: string,
  { extra, date }: { extra: [string, string][]; date?: Date },
): WebSocketHandshake {
  const response = httpResponse(status, {
    headers: [["Content-Type", "text/plain; charset=utf-8"], ["Connection", "close"], ...extra],
    body: reason + "\n",
    date,
  });
  return { ok: false, status, reason, response };
}

/** The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2). */
export function webSocketAccept(key: string): string {
  const input = key + WEBSOCKET_GUID;
  const bytes = input.length <= acceptScratch.length
    ? acceptScratch.subarray(0, input.length)
    : new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) bytes[i] = input.charCodeAt(i) & 0xff;
  return btoa(String.fromCharCode(...sha1(bytes)));
}

/** The key and GUID of a handshake (60 bytes), hashed once per connection: one array for all. */
const acceptScratch = new Uint8Array(64);

/** The first subprotocol the client lists that parley speaks, or null. */
function chooseSubprotocol(offered: string | undefined): IrcSubprotocol | null {
  if (offered === undefined) return null;
  for (const item of offered.split(",")) {
    const name = item.trim();
    if ((IRC_SUBPROTOCOLS as readonly string[]).includes(name)) return name as IrcSubprotocol;
  }
  return null;
}

/** Whether a comma-separated header value lists `token` (compared case-insensitively). */
function listsToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  return value.split(",").some((item) => item.trim().toLowerCase() === token);
}

const sha1Blocks = new Uint8Array(128);
const sha1View = new DataView(sha1Blocks.buffer);
const sha1Words = new Int32Array(80);

/** SHA-1 (FIPS 180-4) of `data`: 20 bytes. For the handshake, not for security. */
export function sha1(data: Uint8Array): Uint8Array {
  const blocks = ((data.length + 8) >>> 6) + 1;
  // A handshake's 60 bytes take two blocks: their scratch is shared (the hash is synchronous).
  const padded = blocks <= 2 ? sha1Blocks.subarray(0, blocks * 64) : new Uint8Array(blocks * 64);
  padded.fill(0);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = blocks <= 2 ? sha1View : new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  const w = sha1Words;
  let h0 = 0x67452301,
    h1 = 0xefcdab89 | 0,
    h2 = 0x98badcfe | 0,
    h3 = 0x10325476,
    h4 = 0xc3d2e1f0 | 0;
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(block + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number, k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const digest = new Uint8Array(20);
  const out = new DataView(digest.buffer);
  [h0, h1, h2, h3, h4].forEach((h, i) => out.setInt32(i * 4, h));
  return digest;
}

// ---------------------------------------------------------------------------
// Client → server frames

/** What {@linkcode WebSocketDecoder.next} gives. `data` views stay valid only until the next call. */
export type WebSocketEvent =
  /** A complete text message: valid UTF-8, fragments joined. */
  | { type: "text"; data: Uint8Array }
  /** A complete binary message, fragments joined. */
  | { type: "binary"; data: Uint8Array }
  /** A ping: answer with {@linkcode pongFrame}(data). */
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  /**
   * The client closes: `code` is null when its close frame had none. Answer
   * with a close frame (echo `code`, or none) unless one was sent already,
   * then close the connection. The decoder gives nothing more.
   */
  | { type: "close"; code: number | null; reason: string }
  /**
   * The client broke the protocol: send {@linkcode closeFrame}(code, reason),
   * stop reading frames, close. The decoder gives nothing more.
   */
  | { type: "error"; code: 1002 | 1007 | 1009; reason: string };

/** Options for {@linkcode WebSocketDecoder}. */
export interface WebSocketDecoderOptions {
  /** The largest message accepted, in bytes, all fragments together ({@linkcode DEFAULT_MAX_MESSAGE_BYTES}). */
  maxMessage?: number;
}

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const MAX_CONTROL_PAYLOAD = 125;
const MAX_HEADER_BYTES = 14;

const READ_HEADER = 0;
const READ_PAYLOAD = 1;
const FINISHED = 2;

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

/**
 * Decodes the frames a WebSocket client sends (RFC 6455 §5), whatever the
 * read boundaries. Pull-based like `LineReader`, so its owner can pause
 * between messages without losing the rest of a read:
 *
 * ```ts
 * decoder.push(bytes);
 * for (let event = decoder.next(); event !== null; event = decoder.next()) { … }
 * ```
 *
 * It refuses, with the close code to send: an unmasked frame, RSV bits (no
 * extension is ever negotiated), an unknown opcode, a control frame that is
 * fragmented or longer than 125 bytes, a continuation with no message to
 * continue or a new message inside a fragmented one, a 64-bit length with
 * its top bit set, a bad close frame (1-byte payload, a code RFC 6455 §7.4
 * does not allow), all 1002; invalid UTF-8 in a text message or a close
 * reason, 1007, found as soon as the offending byte arrives (an unfinished
 * character at the end of a message included); a message over `maxMessage`,
 * 1009, decided from the frame header before any of its payload is held.
 *
 * Memory: at most `maxMessage` bytes of a message spread over frames or
 * reads, 125 of a split control frame, 14 of a split header, each held only
 * while it is being gathered (an idle connection's decoder holds no buffer).
 * A frame that arrives whole in one chunk is not copied: it is unmasked in
 * place.
 */
export class WebSocketDecoder {
  /** The largest message accepted, in bytes. */
  readonly maxMessage: number;
  /** Borrowed from the caller by `push` until `next` returns null; payloads are unmasked in it. */
  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  #state = READ_HEADER;
  /** A header split across chunks, gathered here. */
  #header: Uint8Array = EMPTY;
  #headerLength = 0;
  // The frame being read.
  #opcode = 0;
  #fin = false;
  /** The frame's masking key, its 4 bytes packed (no array per connection: see `maskOf`). */
  #mask = 0;
  /** Payload bytes of the frame still to come. */
  #remaining = 0;
  /** Payload bytes of the frame already read: the mask's phase. */
  #framePosition = 0;
  // The message being gathered from several frames or chunks.
  /** OP_TEXT or OP_BINARY from a message's first frame until the message is out; 0 between messages. */
  #messageOpcode = 0;
  #message: Uint8Array = EMPTY;
  #messageLength = 0;
  /** The UTF-8 validator's state between the bytes of a text message (0: between characters). */
  #utf8State = 0;
  /** A control frame split across chunks, gathered here (allocated when first needed). */
  #control: Uint8Array = EMPTY;
  #controlLength = 0;

  constructor(options: WebSocketDecoderOptions = {}) {
    const maxMessage = options.maxMessage ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(maxMessage) || maxMessage < 1 || maxMessage > 0x7fffffff) {
      throw new RangeError(`maxMessage must be an integer from 1 to 2^31-1, got ${maxMessage}`);
    }
    this.maxMessage = maxMessage;
  }

  /** Bytes held between pushes: a message's so far, a split control frame's, a split header's. */
  get bufferedBytes(): number {
    return this.#messageLength + this.#controlLength + this.#headerLength;
  }

  /** Bytes of the decoder's own buffers (at most `maxMessage` + 125 + 14). */
  get retainedBytes(): number {
    return this.#message.length + this.#control.length + this.#header.length;
  }

  /** Whether a close or an error was given: the decoder ignores any further bytes. */
  get finished(): boolean {
    return this.#state === FINISHED;
  }

  /**
   * Hands the decoder the next bytes from the client. The decoder keeps a
   * view of `chunk` and unmasks payloads in place in it, until
   * {@linkcode next} returns null: the caller must not reuse it before.
   * After a close or an error, bytes are ignored.
   */
  push(chunk: Uint8Array): void {
    if (this.#offset < this.#chunk.length) {
      throw new Error("WebSocketDecoder.push called before the previous chunk was drained");
    }
    if (this.#state === FINISHED) return;
    this.#chunk = chunk;
    this.#offset = 0;
  }

  /**
   * The next event, or null when the pushed bytes hold no further complete
   * one. A returned `data` is a view that stays valid only until the next
   * call (into the pushed chunk or the decoder's buffers).
   */
  next(): WebSocketEvent | null {
    while (this.#state !== FINISHED) {
      const event = this.#state === READ_HEADER ? this.#readHeader() : this.#readPayload();
      if (event === AGAIN) continue;
      if (event === null) break;
      return event;
    }
    this.#chunk = EMPTY;
    this.#offset = 0;
    return null;
  }

  #readHeader(): WebSocketEvent | typeof AGAIN | null {
    const chunk = this.#chunk;
    let offset = this.#offset;
    let header = chunk;
    let at = offset;
    const available = chunk.length - offset;
    if (
      this.#headerLength === 0 && available >= 2 &&
      available >= headerBytes(chunk[offset + 1])
    ) {
      this.#offset = offset + headerBytes(chunk[offset + 1]);
    } else {
      // Gather it: check the first two bytes as soon as they are in, the length as soon as it is.
      if (this.#header.length === 0) this.#header = new Uint8Array(MAX_HEADER_BYTES);
      const gathered = this.#header;
      let length = this.#headerLength;
      while (length < 2 && offset < chunk.length) gathered[length++] = chunk[offset++];
      if (length >= 2) {
        const size = headerBytes(gathered[1]);
        const end = Math.min(size, length + (chunk.length - offset));
        gathered.set(chunk.subarray(offset, offset + (end - length)), length);
        offset += end - length;
        length = end;
        if (length < size) {
          this.#headerLength = length;
          this.#offset = offset;
          const problem = this.#checkStart(gathered[0], gathered[1]) ??
            (length >= size - 4 ? this.#checkLength(gathered, 0) : null);
          return problem === null ? null : this.#finish(problem);
        }
      } else {
        this.#headerLength = length;
        this.#offset = offset;
        return null;
      }
      this.#headerLength = 0;
      this.#offset = offset;
      header = gathered;
      at = 0;
    }
    const b0 = header[at];
    const b1 = header[at + 1];
    const problem = this.#checkStart(b0, b1) ?? this.#checkLength(header, at);
    if (problem !== null) return this.#finish(problem);
    this.#opcode = b0 & 0x0f;
    this.#fin = (b0 & 0x80) !== 0;
    this.#remaining = payloadLength(header, at);
    this.#framePosition = 0;
    const maskAt = at + headerBytes(b1) - 4;
    this.#mask = (header[maskAt] << 24 | header[maskAt + 1] << 16 | header[maskAt + 2] << 8 |
      header[maskAt + 3]) >>> 0;
    // Gathering buffers are given back once used: an idle connection keeps none.
    if (header === this.#header) this.#header = EMPTY;
    if (this.#opcode === OP_TEXT || this.#opcode === OP_BINARY) this.#messageOpcode = this.#opcode;
    this.#state = READ_PAYLOAD;
    return AGAIN;
  }

  /** A problem in a frame's first two bytes, or null. */
  #checkStart(b0: number, b1: number): WebSocketEvent | null {
    if ((b1 & 0x80) === 0) return protocolError("unmasked client frame");
    if ((b0 & 0x70) !== 0) return protocolError("reserved bits set");
    const opcode = b0 & 0x0f;
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return protocolError(`unknown opcode ${opcode}`);
      if ((b0 & 0x80) === 0) return protocolError("fragmented control frame");
      if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) return protocolError("control frame over 125 bytes");
      return null;
    }
    if (opcode > OP_BINARY) return protocolError(`unknown opcode ${opcode}`);
    if (opcode === OP_CONTINUATION && this.#messageOpcode === 0) {
      return protocolError("continuation frame without a message to continue");
    }
    if (opcode !== OP_CONTINUATION && this.#messageOpcode !== 0) {
      return protocolError("new message inside a fragmented message");
    }
    return null;
  }

  /** A problem with a frame's payload length (its length bytes are in), or null. */
  #checkLength(header: Uint8Array, at: number): WebSocketEvent | null {
    const b1 = header[at + 1];
    if ((b1 & 0x7f) === 127 && header[at + 2] >= 0x80) {
      return protocolError("64-bit payload length with the top bit set");
    }
    if ((header[at] & 0x0f) >= OP_CLOSE) return null;
    if (this.#messageLength + payloadLength(header, at) > this.maxMessage) {
      return {
        type: "error",
        code: CloseCode.messageTooBig,
        reason: `message over ${this.maxMessage} bytes`,
      };
    }
    return null;
  }

  #readPayload(): WebSocketEvent | typeof AGAIN | null {
    const chunk = this.#chunk;
    const offset = this.#offset;
    const available = chunk.length - offset;
    const remaining = this.#remaining;
    if (this.#opcode >= OP_CLOSE) {
      let data: Uint8Array;
      if (this.#controlLength === 0 && available >= remaining) {
        data = chunk.subarray(offset, offset + remaining);
        unmask(data, 0, remaining, maskOf(this.#mask), 0);
        this.#offset = offset + remaining;
      } else {
        if (this.#control.length === 0) this.#control = new Uint8Array(MAX_CONTROL_PAYLOAD);
        const n = Math.min(available, remaining);
        const from = this.#controlLength;
        this.#control.set(chunk.subarray(offset, offset + n), from);
        unmask(this.#control, from, from + n, maskOf(this.#mask), from);
        this.#controlLength = from + n;
        this.#remaining = remaining - n;
        this.#offset = offset + n;
        if (this.#remaining > 0) return null;
        data = this.#control.subarray(0, this.#controlLength);
        this.#control = EMPTY;
        this.#controlLength = 0;
      }
      this.#state = READ_HEADER;
      return this.#controlEvent(data);
    }
    if (
      this.#opcode !== OP_CONTINUATION && this.#fin && this.#framePosition === 0 &&
      available >= remaining
    ) {
      // A whole message in one frame, all here: no copy.
      const data = chunk.subarray(offset, offset + remaining);
      unmask(data, 0, remaining, maskOf(this.#mask), 0);
      this.#offset = offset + remaining;
      this.#state = READ_HEADER;
      this.#messageOpcode = 0;
      if (this.#opcode === OP_TEXT) {
        if (validateUtf8(data, 0, remaining, 0) !== 0) return this.#finish(invalidUtf8());
        return { type: "text", data };
      }
      return { type: "binary", data };
    }
    const n = Math.min(available, remaining);
    if (n > 0) {
      const from = this.#messageLength;
      this.#reserve(from + n);
      const message = this.#message;
      message.set(chunk.subarray(offset, offset + n), from);
      unmask(message, from, from + n, maskOf(this.#mask), this.#framePosition);
      if (this.#messageOpcode === OP_TEXT) {
        this.#utf8State = validateUtf8(message, from, from + n, this.#utf8State);
        if (this.#utf8State < 0) return this.#finish(invalidUtf8());
      }
      this.#messageLength = from + n;
      this.#framePosition += n;
      this.#remaining = remaining - n;
      this.#offset = offset + n;
    }
    if (this.#remaining > 0) return null;
    this.#state = READ_HEADER;
    if (!this.#fin) return AGAIN;
    const type = this.#messageOpcode === OP_TEXT ? "text" : "binary";
    if (type === "text" && this.#utf8State !== 0) return this.#finish(invalidUtf8());
    // The view stays valid: the buffer is only written again by a later call.
    const data = this.#message.subarray(0, this.#messageLength);
    this.#message = EMPTY;
    this.#messageOpcode = 0;
    this.#messageLength = 0;
    this.#utf8State = 0;
    return { type, data };
  }

  #controlEvent(data: Uint8Array): WebSocketEvent {
    if (this.#opcode === OP_PING) return { type: "ping", data };
    if (this.#opcode === OP_PONG) return { type: "pong", data };
    if (data.length === 0) return this.#finish({ type: "close", code: null, reason: "" });
    if (data.length === 1) return this.#finish(protocolError("close frame with a 1-byte payload"));
    const code = (data[0] << 8) | data[1];
    if (!isValidCloseCode(code)) return this.#finish(protocolError(`invalid close code ${code}`));
    if (validateUtf8(data, 2, data.length, 0) !== 0) return this.#finish(invalidUtf8());
    return this.#finish({ type: "close", code, reason: utf8.decode(data.subarray(2)) });
  }

  /** Makes room for `needed` message bytes (never more than maxMessage, checked from the header). */
  #reserve(needed: number): void {
    if (needed <= this.#message.length) return;
    const grown = new Uint8Array(
      Math.min(Math.max(needed, this.#message.length * 2, 256), this.maxMessage),
    );
    grown.set(this.#message.subarray(0, this.#messageLength));
    this.#message = grown;
  }

  #finish(event: WebSocketEvent): WebSocketEvent {
    this.#state = FINISHED;
    this.#chunk = EMPTY;
    this.#offset = 0;
    this.#message = EMPTY;
    this.#messageLength = 0;
    this.#control = EMPTY;
    this.#controlLength = 0;
    this.#header = EMPTY;
    this.#headerLength = 0;
    return event;
  }
}

/** Returned inside the decoder when a step is done and the next one may go on. */
const AGAIN: unique symbol = Symbol("again");

function protocolError(reason: string): WebSocketEvent {
  return { type: "error", code: CloseCode.protocolError, reason };
}

function invalidUtf8(): WebSocketEvent {
  return { type: "error", code: CloseCode.invalidData, reason: "invalid UTF-8" };
}

/** A frame header's size from its second byte: 2, plus 2 or 8 length bytes, plus the 4-byte mask. */
function headerBytes(b1: number): number {
  const length = b1 & 0x7f;
  return (length < 126 ? 2 : length === 126 ? 4 : 10) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

/** A frame's payload length, from a header whose length bytes are in. */
function payloadLength(header: Uint8Array, at: number): number {
  const length = header[at + 1] & 0x7f;
  if (length < 126) return length;
  if (length === 126) return (header[at + 2] << 8) | header[at + 3];
  let value = 0;
  for (let i = 2; i < 10; i++) value = value * 256 + header[at + i];
  return value;
}

/** Close codes a peer may send (RFC 6455 §7.4.1, §7.4.2, and the IANA registry up to 1014). */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** The scratch {@linkcode maskOf} fills: one for every decoder, used only during an `unmask` call. */
const maskScratch = new Uint8Array(4);

/** A packed masking key as its 4 bytes (valid until the next call). */
function maskOf(packed: number): Uint8Array {
  maskScratch[0] = packed >>> 24;
  maskScratch[1] = (packed >>> 16) & 0xff;
  maskScratch[2] = (packed >>> 8) & 0xff;
  maskScratch[3] = packed & 0xff;
  return maskScratch;
}

const maskBytes = new Uint8Array(4);
const maskWord = new Uint32Array(maskBytes.buffer);
/** Below this many bytes, unmasking byte by byte beats setting up a word view. */
const WORD_UNMASK_MIN = 128;

/**
 * XORs `buffer[start, end)` with the 4-byte `mask`, starting at mask byte
 * `phase` (mod 4). Long runs go a 32-bit word at a time over the aligned
 * middle (the mask word is built in the platform's byte order, so no
 * endianness assumption); short ones 4 bytes per step.
 */
export function unmask(
  buffer: Uint8Array,
  start: number,
  end: number,
  mask: Uint8Array,
  phase: number,
): void {
  let i = start;
  let k = phase;
  if (end - start >= WORD_UNMASK_MIN) {
    while (((buffer.byteOffset + i) & 3) !== 0) buffer[i++] ^= mask[k++ & 3];
    maskBytes[0] = mask[k & 3];
    maskBytes[1] = mask[(k + 1) & 3];
    maskBytes[2] = mask[(k + 2) & 3];
    maskBytes[3] = mask[(k + 3) & 3];
    const m = maskWord[0];
    const count = (end - i) >>> 2;
    const words = new Uint32Array(buffer.buffer, buffer.byteOffset + i, count);
    for (let j = 0; j < count; j++) words[j] ^= m;
    i += count << 2;
  }
  const m0 = mask[k & 3], m1 = mask[(k + 1) & 3], m2 = mask[(k + 2) & 3], m3 = mask[(k + 3) & 3];
  for (; i + 3 < end; i += 4) {
    buffer[i] ^= m0;
    buffer[i + 1] ^= m1;
    buffer[i + 2] ^= m2;
    buffer[i + 3] ^= m3;
  }
  if (i < end) buffer[i++] ^= m0;
  if (i < end) buffer[i++] ^= m1;
  if (i < end) buffer[i] ^= m2;
}

/**
 * Checks `bytes[start, end)` as UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), continuing from `state`, the value
 * returned for the bytes before: 0 between characters, 1–7 inside one
 * (how many continuation bytes are due and what range the next may take),
 * -1 at the first invalid byte. A text is valid when the state after its
 * last byte is 0.
 */
export function validateUtf8(bytes: Uint8Array, start: number, end: number, state: number): number {
  let i = start;
  while (i < end) {
    if (state === 0) {
      // ASCII runs are the common case.
      while (i < end && bytes[i] < 0x80) i++;
      if (i === end) return 0;
      const b = bytes[i++];
      if (b < 0xc2) return -1;
      else if (b < 0xe0) state = 1;
      else if (b < 0xf0) state = b === 0xe0 ? 4 : b === 0xed ? 5 : 2;
      else if (b < 0xf5) state = b === 0xf0 ? 6 : b === 0xf4 ? 7 : 3;
      else return -1;
    } else {
      const b = bytes[i++];
      switch (state) {
        case 1:
        case 2:
        case 3:
          if (b < 0x80 || b > 0xbf) return -1;
          state--;
          break;
        case 4: // after E0: no overlong 3-byte forms
          if (b < 0xa0 || b > 0xbf) return -1;
          state = 1;
          break;
        case 5: // after ED: no surrogates
          if (b < 0x80 || b > 0x9f) return -1;
          state = 1;
          break;
        case 6: // after F0: no overlong 4-byte forms
          if (b < 0x90 || b > 0xbf) return -1;
          state = 2;
          break;
        default: // 7, after F4: nothing above U+10FFFF
          if (b < 0x80 || b > 0x8f) return -1;
          state = 2;
      }
    }
  }
  return state;
}

// ---------------------------------------------------------------------------
// Server → client frames

const encoder = new TextEncoder();
const lossy = new TextDecoder();
const LF = 0x0a;
const CR = 0x0d;

/** Strings up to this many UTF-16 units are encoded into a scratch buffer, not a new one. */
const SCRATCH_CHARS = 0x4000;
let scratch = EMPTY;

/**
 * `text` as UTF-8 (lone surrogates as U+FFFD). A short text's bytes are a
 * view into a scratch buffer that the next call overwrites: a new typed array
 * costs more than encoding an IRC line, and the caller copies the bytes anyway.
 */
function utf8Bytes(text: string): Uint8Array {
  if (text.length > SCRATCH_CHARS) return encoder.encode(text);
  if (scratch.length === 0) scratch = new Uint8Array(SCRATCH_CHARS * 3);
  return scratch.subarray(0, encoder.encodeInto(text, scratch).written);
}

/** A text frame (one whole message). Bytes must be valid UTF-8, as the decoder's text messages are. */
export function textFrame(text: string | Uint8Array): Uint8Array {
  return frame(OP_TEXT, typeof text === "string" ? utf8Bytes(text) : text);
}

/** A binary frame (one whole message). */
export function binaryFrame(data: Uint8Array): Uint8Array {
  return frame(OP_BINARY, data);
}

/** A ping frame; `data` at most 125 bytes. */
export function pingFrame(data: Uint8Array = EMPTY): Uint8Array {
  return frame(OP_PING, checkControl(data));
}

/** A pong frame, the answer to a ping with its data; `data` at most 125 bytes. */
export function pongFrame(data: Uint8Array = EMPTY): Uint8Array {
  return frame(OP_PONG, checkControl(data));
}

/**
 * A close frame. Without `code` it is empty (the answer to a close frame
 * that had no code). `code` must be one an endpoint may send (1000–1003,
 * 1007–1014, 3000–4999); `reason` is cut at a character boundary to the
 * 123 bytes a close frame has room for.
 */
export function closeFrame(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") throw new TypeError("a close frame with a reason needs a code");
    return frame(OP_CLOSE, EMPTY);
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(`${code} is not a close code to send`);
  }
  let text = encoder.encode(reason);
  if (text.length > MAX_CONTROL_PAYLOAD - 2) {
    let cut = MAX_CONTROL_PAYLOAD - 2;
    while ((text[cut] & 0xc0) === 0x80) cut--;
    text = text.subarray(0, cut);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return frame(OP_CLOSE, payload);
}

/**
 * IRC output as WebSocket messages: each line of `output` (lines end with
 * LF, a CR before it is dropped; an unterminated last line counts too, empty
 * lines are skipped) becomes one frame, text frames in `text` mode, binary
 * in `binary` mode, all concatenated in one new buffer: build it once and
 * write the same bytes to every receiver in that mode. In text mode, bytes
 * that are not valid UTF-8 become U+FFFD (IRCv3: text messages must be UTF-8).
 */
export function frameIrcLines(output: string | Uint8Array, mode: WebSocketMode): Uint8Array {
  let bytes = typeof output === "string" ? utf8Bytes(output) : output;
  if (mode === "text" && typeof output !== "string" && validateUtf8(bytes, 0, bytes.length, 0)) {
    bytes = encoder.encode(lossy.decode(bytes));
  }
  const opcode = mode === "binary" ? OP_BINARY : OP_TEXT;
  let total = 0;
  for (let start = 0; start < bytes.length;) {
    const lf = bytes.indexOf(LF, start);
    const next = lf === -1 ? bytes.length : lf + 1;
    const length = lineEnd(bytes, start, next) - start;
    if (length > 0) total += frameHeaderBytes(length) + length;
    start = next;
  }
  const frames = new Uint8Array(total);
  let at = 0;
  for (let start = 0; start < bytes.length;) {
    const lf = bytes.indexOf(LF, start);
    const next = lf === -1 ? bytes.length : lf + 1;
    const end = lineEnd(bytes, start, next);
    if (end > start) {
      at = writeFrameHeader(frames, at, opcode, end - start);
      frames.set(bytes.subarray(start, end), at);
      at += end - start;
    }
    start = next;
  }
  return frames;
}

/** Where the line in `bytes[start, next)` ends without its LF and the CR before it. */
function lineEnd(bytes: Uint8Array, start: number, next: number): number {
  let end = next;
  if (end > start && bytes[end - 1] === LF) end--;
  if (end > start && bytes[end - 1] === CR) end--;
  return end;
}

function checkControl(data: Uint8Array): Uint8Array {
  if (data.length > MAX_CONTROL_PAYLOAD) {
    throw new RangeError(`a control frame carries at most 125 bytes, got ${data.length}`);
  }
  return data;
}

function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderBytes(payload.length) + payload.length);
  out.set(payload, writeFrameHeader(out, 0, opcode, payload.length));
  return out;
}

function frameHeaderBytes(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** Writes an unmasked, final frame header at `at`; returns where the payload goes. */
function writeFrameHeader(out: Uint8Array, at: number, opcode: number, length: number): number {
  out[at] = 0x80 | opcode;
  if (length < 126) {
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at + 1] = 126;
    out[at + 2] = length >>> 8;
    out[at + 3] = length & 0xff;
    return at + 4;
  }
  out[at + 1] = 127;
  let rest = length;
  for (let i = 9; i >= 2; i--) {
    out[at + i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return at + 10;
}
