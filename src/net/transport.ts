/**
 * What a front end's session needs of the connection it speaks over: framed
 * messages in (to a {@linkcode LineHandler}), bytes out, and how it ends. A
 * TCP `Connection` is one; the same session serves any transport
 * that frames its input into lines or messages.
 *
 * @module
 */

import type { QuitReason } from "../core/events.ts";
import type { LINE_TOO_LONG } from "./line_reader.ts";
import type { Peer } from "./peer.ts";

/** Who takes a transport's lines: a front end's session. */
export interface LineHandler {
  /**
   * One framed line (a view valid only during the call: decode it at once),
   * or {@linkcode LINE_TOO_LONG}. A returned promise holds the next line back
   * until it settles.
   */
  line(line: Uint8Array | typeof LINE_TOO_LONG): void | Promise<void>;
  /** The lines of one read are done (or the connection waits): send what was batched. */
  endOfRead(): void;
  /**
   * Before each read: something to wait for first (overload: the rooms this
   * client talks in are behind), or null to read at once.
   */
  readGate(): Promise<void> | null;
  /** This client's output started (true) or stopped holding the talkers of its rooms back. */
  holding(holding: boolean): void;
  /** The read loop is over (the client left or the connection was ended); called once. */
  ended(): void;
  /**
   * Telnet cut the line being typed short (its escape byte, 0x9D, was in it)
   * and what it sent of it was dropped: the user is to type it again.
   * `binary`: telnet now sends every byte as it is (with it, 0x9D is no escape).
   */
  telnetLineCut?(binary: boolean): void;
}

/**
 * Turns a transport's bytes into the lines its session reads: `LineReader`
 * for a byte stream, a WebSocket framer for WebSocket messages. Pull-based:
 * `push` a read's bytes, then take `next` until it gives null.
 */
export interface Framer {
  /** The next bytes read; the framer may view them until `next` gives null. */
  push(chunk: Uint8Array): void;
  /** The next line (a view valid until the next call), `LINE_TOO_LONG`, or null for none yet. */
  next(): Uint8Array | typeof LINE_TOO_LONG | null;
  /** At the end of the stream: an unfinished last line, or null. */
  finish(): Uint8Array | typeof LINE_TOO_LONG | null;
}

/** How a transport's read loop frames and filters its input (see {@linkcode Transport.run}). */
export interface RunOptions {
  /** Telnet commands are taken out of the stream (and answered) before framing. */
  telnet?: boolean;
  /** The longest line, replacing `--max-line` (a protocol with its own, like IRC's). */
  maxLine?: number;
  /**
   * A framer of the caller's instead of lines: it bounds its own memory, so
   * the bound on bytes without a line end does not apply, nor telnet.
   */
  framer?: Framer;
}

/** How a connection ends (see {@linkcode Transport.end}). */
export interface EndOptions {
  /** What went wrong or what the user said, for the log. */
  detail?: string;
  /** Bytes to send before closing (the protocol's "bye" or "shutting down"). */
  notice?: Uint8Array;
}

/** A client's transport, as sessions see it. */
export interface Transport {
  /** Where the client is (logged, checked against bans; never shown to users). */
  readonly peer: Peer;
  /** `Date.now()` of the last bytes received, for idle timeouts and PING. */
  readonly lastActive: number;
  /** Why it ended (or is ending), and the detail for the log. */
  readonly reason: QuitReason;
  readonly detail: string;
  /** True once it is ending: no more input is carried out. */
  readonly ending: boolean;
  /** Bytes queued for the client and not yet written. */
  readonly pendingBytes: number;
  /** Queues bytes for the client (never blocks). */
  send(bytes: Uint8Array): void;
  /**
   * The read loop: hands each framed line to `handler` until the client
   * leaves or the transport is ended, then calls `handler.ended()` once.
   */
  run(handler: LineHandler, options?: RunOptions): void;
  /** Ends it (a notice goes out first, within the close grace). Only the first call counts. */
  end(reason: QuitReason, options?: EndOptions): void;
  /** Resolves once closed. */
  close(): Promise<void>;
  /** Gives up on a client whose socket has taken nothing for too long while output waits. */
  checkStalled(): void;
}
