/**
 * The frames a WebSocket client sends (RFC 6455 §5), decoded into messages,
 * pings, pongs, a close, or the one protocol error that ends the connection
 * with the close code to send. Memory is bounded by `maxMessage` however the
 * bytes come.
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
 * @module
 */

import { validateUtf8 } from "./utf8_validation.ts";
import {
  CloseCode,
  DEFAULT_MAX_MESSAGE_BYTES,
  isValidCloseCode,
  MAX_CONTROL_PAYLOAD,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./websocket.ts";

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
