/**
 * The client side of RFC 6455, as much as the bench's WebSocket clients need
 * and no more, written here rather than taken from the server's codec
 * (`src/net/websocket.ts`) so that the server is checked by code it does not
 * share. Pure: no socket; the bench's client loops read and write.
 *
 * - {@linkcode upgradeRequest} is the opening handshake a browser sends
 *   (`GET /`, the IRCv3 subprotocol `text.ircv3.net`, as parley's page asks);
 *   {@linkcode readUpgradeAnswer} finds the end of the server's answer and
 *   says whether it was `101 Switching Protocols`.
 * - {@linkcode MaskedFrameWriter} builds client frames, masked as §5.3
 *   requires, into one reused buffer.
 * - {@linkcode ServerFrameReader} walks the server's frames in a read buffer,
 *   whatever the read boundaries: a message in one frame is handed over as a
 *   view of the buffer (no copy), a fragmented one is joined first; a frame
 *   the RFC does not allow from a server (masked, reserved bits, an unknown
 *   opcode, a control frame fragmented or over 125 bytes, a continuation with
 *   nothing to continue) is a protocol error that fails the connection.
 *
 * Masking keys come from a xorshift generator seeded from `crypto`, not from
 * `crypto` for every frame: §10.3 asks for unpredictable keys so that a
 * page's script cannot choose the bytes a proxy sees, which does not apply to
 * a bench that only sends its own payloads; the server unmasks either the same.
 *
 * @module
 */

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const MAX_CONTROL_PAYLOAD = 125;

const encoder = new TextEncoder();

/** The subprotocol the bench asks for, as parley's page does. */
export const BENCH_SUBPROTOCOL = "text.ircv3.net";

/** The opening handshake for `host` (with a fresh random key). */
export function upgradeRequest(host: string): Uint8Array {
  const key = new Uint8Array(16);
  crypto.getRandomValues(key);
  return encoder.encode(
    `GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa(String.fromCharCode(...key))}\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${BENCH_SUBPROTOCOL}\r\n\r\n`,
  );
}

/** What the server answered to the handshake, once its head is complete. */
export type UpgradeAnswer =
  /** Not all of the head yet. */
  | { kind: "more" }
  /** 101: frames start at `length`. */
  | { kind: "accepted"; length: number }
  /** Anything else: its status line, for the report. */
  | { kind: "refused"; statusLine: string };

const HTTP = encoder.encode("HTTP/");
/** The longest answer head the bench waits for. */
const MAX_ANSWER_HEAD = 8 * 1024;

/**
 * Reads the server's answer to {@linkcode upgradeRequest} from the start of
 * `bytes`. One that does not start like an HTTP response is refused at once
 * (a server that took the client for another protocol greets it in that one).
 */
export function readUpgradeAnswer(bytes: Uint8Array): UpgradeAnswer {
  for (let i = 0; i < HTTP.length && i < bytes.length; i++) {
    if (bytes[i] !== HTTP[i]) {
      const lf = bytes.indexOf(0x0a);
      const first = new TextDecoder().decode(bytes.subarray(0, lf === -1 ? 80 : lf)).trimEnd();
      return { kind: "refused", statusLine: `not HTTP: ${first.slice(0, 80)}` };
    }
  }
  let end = -1;
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 3] === 0x0d
    ) {
      end = i + 1;
      break;
    }
  }
  if (end === -1) {
    return bytes.length > MAX_ANSWER_HEAD
      ? { kind: "refused", statusLine: "an answer head over 8 KiB" }
      : { kind: "more" };
  }
  const head = new TextDecoder().decode(bytes.subarray(0, end));
  const statusLine = head.slice(0, head.indexOf("\r\n"));
  return /^HTTP\/1\.1 101 /.test(statusLine) && /^upgrade:\s*websocket\s*$/im.test(head)
    ? { kind: "accepted", length: end }
    : { kind: "refused", statusLine };
}

/**
 * Masked client frames, each built into this writer's buffer: the returned
 * bytes are valid until the next call, so write them fully before building
 * the next frame.
 */
export class MaskedFrameWriter {
  #buffer = new Uint8Array(256);
  readonly #mask = new Uint8Array(4);
  #seed: number;

  constructor() {
    const seed = new Uint32Array(1);
    crypto.getRandomValues(seed);
    this.#seed = seed[0] | 1;
  }

  /** A final text frame holding `parts` one after the other. */
  text(...parts: Uint8Array[]): Uint8Array {
    return this.#frame(OP_TEXT, parts);
  }

  /** A pong answering a ping with `data` (at most 125 bytes). */
  pong(data: Uint8Array): Uint8Array {
    return this.#frame(OP_PONG, [data.subarray(0, MAX_CONTROL_PAYLOAD)]);
  }

  /** A close frame with `code` (the bench does not wait for the answer). */
  close(code = 1000): Uint8Array {
    return this.#frame(OP_CLOSE, [new Uint8Array([code >>> 8, code & 0xff])]);
  }

  #frame(opcode: number, parts: Uint8Array[]): Uint8Array {
    let length = 0;
    for (const part of parts) length += part.length;
    const header = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
    const total = header + 4 + length;
    if (this.#buffer.length < total) {
      this.#buffer = new Uint8Array(Math.max(total, 2 * this.#buffer.length));
    }
    const out = this.#buffer;
    out[0] = 0x80 | opcode;
    if (length < 126) {
      out[1] = 0x80 | length;
    } else if (length < 0x10000) {
      out[1] = 0x80 | 126;
      out[2] = length >>> 8;
      out[3] = length & 0xff;
    } else {
      out[1] = 0x80 | 127;
      let rest = length;
      for (let i = 9; i >= 2; i--) {
        out[i] = rest % 256;
        rest = Math.floor(rest / 256);
      }
    }
    // xorshift32: a new key per frame.
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x;
    const mask = this.#mask;
    mask[0] = out[header] = x & 0xff;
    mask[1] = out[header + 1] = (x >>> 8) & 0xff;
    mask[2] = out[header + 2] = (x >>> 16) & 0xff;
    mask[3] = out[header + 3] = x >>> 24;
    let at = header + 4;
    let k = 0;
    for (const part of parts) {
      for (let i = 0; i < part.length; i++) out[at++] = part[i] ^ mask[k++ & 3];
    }
    return out.subarray(0, total);
  }
}

/** What {@linkcode ServerFrameReader.read} hands its caller. */
export interface FrameHandler {
  /** A whole text or binary message: `bytes[start, end)`, valid only during the call. */
  message(bytes: Uint8Array, start: number, end: number): void;
  /** A ping, to answer with a pong of the same data (`bytes[start, end)`). */
  ping(bytes: Uint8Array, start: number, end: number): void;
  /** The server's close frame: it is ending the connection. */
  close(): void;
}

/** The largest message a reader joins from fragments (parley's lines are far shorter). */
const MAX_MESSAGE = 1024 * 1024;

/**
 * Walks the server's frames (see the module's comment). Keeps nothing of a
 * read but a fragmented message's start, so the caller's buffer can be reused.
 */
export class ServerFrameReader {
  /** Why the connection failed, once a frame broke the protocol. */
  error: string | null = null;
  /** A fragmented message being joined; 0 between messages. */
  #opcode = 0;
  #message = new Uint8Array(0);
  #messageLength = 0;

  /**
   * Hands over every complete frame in `bytes[0, length)`; returns how many
   * bytes they took (an unfinished frame stays for the next call, with what
   * follows it), or -1 after a protocol error ({@linkcode error} says which).
   */
  read(bytes: Uint8Array, length: number, handler: FrameHandler): number {
    let at = 0;
    while (length - at >= 2) {
      const b0 = bytes[at];
      const b1 = bytes[at + 1];
      let size = b1 & 0x7f;
      let header = 2;
      if (size === 126) {
        if (length - at < 4) break;
        size = (bytes[at + 2] << 8) | bytes[at + 3];
        header = 4;
      } else if (size === 127) {
        if (length - at < 10) break;
        size = 0;
        for (let i = 2; i < 10; i++) size = size * 256 + bytes[at + i];
        header = 10;
      }
      const problem = this.#check(b0, b1, size);
      if (problem !== null) {
        this.error = problem;
        return -1;
      }
      const start = at + header;
      const end = start + size;
      if (end > length) break;
      at = end;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === OP_TEXT || opcode === OP_BINARY) {
        if (fin) {
          handler.message(bytes, start, end);
        } else {
          this.#opcode = opcode;
          this.#messageLength = 0;
          this.#append(bytes, start, end);
        }
      } else if (opcode === OP_CONTINUATION) {
        this.#append(bytes, start, end);
        if (fin) {
          this.#opcode = 0;
          handler.message(this.#message, 0, this.#messageLength);
          this.#messageLength = 0;
        }
      } else if (opcode === OP_PING) {
        handler.ping(bytes, start, end);
      } else if (opcode === OP_CLOSE) {
        handler.close();
        return at;
      }
      // A pong: nothing to do.
    }
    return at;
  }

  /** What is wrong with a frame's header, or null. */
  #check(b0: number, b1: number, size: number): string | null {
    if ((b1 & 0x80) !== 0) return "a masked frame from the server";
    if ((b0 & 0x70) !== 0) return "reserved bits set";
    const opcode = b0 & 0x0f;
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return `unknown opcode ${opcode}`;
      if ((b0 & 0x80) === 0) return "a fragmented control frame";
      if (size > MAX_CONTROL_PAYLOAD) return "a control frame over 125 bytes";
      return null;
    }
    if (opcode > OP_BINARY) return `unknown opcode ${opcode}`;
    if (opcode === OP_CONTINUATION && this.#opcode === 0) {
      return "a continuation frame with no message to continue";
    }
    if (opcode !== OP_CONTINUATION && this.#opcode !== 0) {
      return "a new message inside a fragmented one";
    }
    if (this.#messageLength + size > MAX_MESSAGE) return "a message over 1 MiB";
    return null;
  }

  #append(bytes: Uint8Array, start: number, end: number): void {
    const needed = this.#messageLength + end - start;
    if (needed > this.#message.length) {
      const grown = new Uint8Array(Math.max(needed, 2 * this.#message.length, 256));
      grown.set(this.#message.subarray(0, this.#messageLength));
      this.#message = grown;
    }
    this.#message.set(bytes.subarray(start, end), this.#messageLength);
    this.#messageLength = needed;
  }
}
