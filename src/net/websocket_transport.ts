/**
 * A WebSocket client's transport: the same {@linkcode Transport} a session
 * speaks over TCP, carried in WebSocket messages on a {@linkcode Connection}
 * that has been upgraded (IRCv3 WebSocket: one IRC line per message, no CR
 * LF). Reading, flood control, the outbox, idleness and the close grace are
 * the connection's; this file frames:
 *
 * - in: {@linkcode WebSocketFramer} turns frames into lines for the session,
 *   answers pings, and on a close or a protocol error sends the close frame
 *   and ends the connection;
 * - out: each `send` of rendered lines becomes one message per line. Output
 *   for many receivers is the same bytes handed to each in turn, so the last
 *   framing is kept and reused: a line to a room is framed once per mode,
 *   not once per WebSocket receiver.
 *
 * @module
 */

import type { QuitReason } from "../core/events.ts";
import type { Connection } from "./connection.ts";
import { LINE_TOO_LONG } from "./line_reader.ts";
import type { Peer } from "./peer.ts";
import type { EndOptions, Framer, LineHandler, RunOptions, Transport } from "./transport.ts";
import { CloseCode, type WebSocketMode } from "./websocket.ts";
import { WebSocketDecoder } from "./websocket_decoder.ts";
import { closeFrame, frameIrcLines, pongFrame } from "./websocket_frames.ts";

const LF = 0x0a;
const CR = 0x0d;

/** The last output framed, per mode: the next receiver of the same bytes gets the same frames. */
const lastFramed: Record<WebSocketMode, { output: Uint8Array | null; frames: Uint8Array }> = {
  text: { output: null, frames: new Uint8Array(0) },
  binary: { output: null, frames: new Uint8Array(0) },
};

/** `output` (rendered CR LF lines) as WebSocket messages, reusing the last framing of the same bytes. */
export function framedOnce(output: Uint8Array, mode: WebSocketMode): Uint8Array {
  const last = lastFramed[mode];
  if (last.output !== output) {
    last.frames = frameIrcLines(output, mode);
    last.output = output;
  }
  return last.frames;
}

/** A session's transport over an upgraded connection. */
export class WebSocketTransport implements Transport {
  readonly #connection: Connection;
  readonly #mode: WebSocketMode;
  readonly #maxMessage: number | undefined;
  /** Where the client is: the connection's peer, or the address a trusted proxy forwarded. */
  readonly peer: Peer;
  /** Whether a close frame went out (at most one is sent). */
  #closeSent = false;

  constructor(
    connection: Connection,
    options: { mode: WebSocketMode; peer?: Peer; maxMessage?: number },
  ) {
    this.#connection = connection;
    this.#mode = options.mode;
    this.#maxMessage = options.maxMessage;
    this.peer = options.peer ?? connection.peer;
  }

  get lastActive(): number {
    return this.#connection.lastActive;
  }

  get reason(): QuitReason {
    return this.#connection.reason;
  }

  get detail(): string {
    return this.#connection.detail;
  }

  get ending(): boolean {
    return this.#connection.ending;
  }

  get pendingBytes(): number {
    return this.#connection.pendingBytes;
  }

  send(bytes: Uint8Array): void {
    this.#connection.send(framedOnce(bytes, this.#mode));
  }

  run(handler: LineHandler, options: RunOptions = {}): void {
    const framer = new WebSocketFramer(
      new WebSocketDecoder({ maxMessage: this.#maxMessage }),
      options.maxLine ?? Infinity,
      this,
    );
    this.#connection.run(handler, { framer });
  }

  /** Ends it: a notice goes out as messages, then a close frame (1000, or 1001 at shutdown). */
  end(reason: QuitReason, options: EndOptions = {}): void {
    if (this.#connection.ending) return;
    const notice = options.notice === undefined
      ? undefined
      : frameIrcLines(options.notice, this.#mode);
    const code = reason === "shutdown" ? CloseCode.goingAway : CloseCode.normal;
    this.#connection.end(reason, {
      detail: options.detail,
      notice: notice === undefined ? undefined : joined(notice, this.#closeFrame(code)),
    });
  }

  close(): Promise<void> {
    return this.#connection.close();
  }

  checkStalled(): void {
    this.#connection.checkStalled();
  }

  /** The framer's report: a ping to answer. */
  pong(data: Uint8Array): void {
    this.#connection.send(pongFrame(data));
  }

  /** The framer's report: the client closed; the close is answered and the connection ends. */
  closedByClient(code: number | null, reason: string): void {
    const answer = code === null ? closeFrame() : this.#closeFrame(echoable(code));
    // A page closed or left (1000, 1001, none) is an ordinary close; another code is worth a word.
    const usual = code === null || code === CloseCode.normal || code === CloseCode.goingAway;
    const detail = usual ? "" : `WebSocket close code ${code}${reason ? ` "${reason}"` : ""}`;
    this.#connection.end("closed", { detail, notice: answer });
  }

  /** The framer's report: the client broke the protocol; it is told why and the connection ends. */
  protocolError(code: number, reason: string): void {
    this.#connection.end("error", {
      detail: `WebSocket: ${reason}`,
      notice: this.#closeFrame(code, reason),
    });
  }

  #closeFrame(code: number, reason = ""): Uint8Array {
    if (this.#closeSent) return new Uint8Array(0);
    this.#closeSent = true;
    return closeFrame(code, reason);
  }
}

/**
 * Frames in, lines out: each text or binary message is a line (a trailing
 * CR LF is dropped; a message holding several lines gives each one); pings
 * are answered, pongs ignored; a close or an error goes to the transport
 * and nothing more comes.
 */
export class WebSocketFramer implements Framer {
  readonly #decoder: WebSocketDecoder;
  readonly #maxLine: number;
  readonly #transport: WebSocketTransport;
  /** The rest of a message that held several lines (a view into the decoder's data). */
  #rest: Uint8Array | null = null;

  constructor(decoder: WebSocketDecoder, maxLine: number, transport: WebSocketTransport) {
    this.#decoder = decoder;
    this.#maxLine = maxLine;
    this.#transport = transport;
  }

  push(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
  }

  next(): Uint8Array | typeof LINE_TOO_LONG | null {
    if (this.#rest !== null) return this.#lineOf(this.#rest);
    for (let event = this.#decoder.next(); event !== null; event = this.#decoder.next()) {
      switch (event.type) {
        case "text":
        case "binary":
          if (event.data.length === 0) continue;
          return this.#lineOf(event.data);
        case "ping":
          this.#transport.pong(event.data);
          continue;
        case "pong":
          continue;
        case "close":
          this.#transport.closedByClient(event.code, event.reason);
          return null;
        case "error":
          this.#transport.protocolError(event.code, event.reason);
          return null;
      }
    }
    return null;
  }

  finish(): null {
    return null;
  }

  /** The first line of `data`; the rest, if any, is kept for the next call. */
  #lineOf(data: Uint8Array): Uint8Array | typeof LINE_TOO_LONG {
    const lf = data.indexOf(LF);
    let line = data;
    this.#rest = null;
    if (lf !== -1) {
      line = data.subarray(0, lf);
      const rest = data.subarray(lf + 1);
      if (rest.length > 0) this.#rest = rest;
    }
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    return line.length > this.#maxLine ? LINE_TOO_LONG : line;
  }
}

/** A client's close code as the answer echoes it: codes a server may not send become 1000. */
function echoable(code: number): number {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999)
    ? code
    : CloseCode.normal;
}

function joined(first: Uint8Array, second: Uint8Array): Uint8Array {
  const both = new Uint8Array(first.length + second.length);
  both.set(first);
  both.set(second, first.length);
  return both;
}
