/**
 * The frames parley's server sends a WebSocket client (RFC 6455 §5), never
 * masked: {@linkcode frameIrcLines} turns rendered IRC output (CR LF lines)
 * into one message per line, all in one buffer, so that output for many
 * receivers is framed once and its bytes shared; {@linkcode textFrame},
 * {@linkcode binaryFrame}, {@linkcode pingFrame}, {@linkcode pongFrame} and
 * {@linkcode closeFrame} build single frames.
 *
 * @module
 */

import { validateUtf8 } from "./utf8_validation.ts";
import {
  isValidCloseCode,
  MAX_CONTROL_PAYLOAD,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type WebSocketMode,
} from "./websocket.ts";

const EMPTY = new Uint8Array(0);

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
