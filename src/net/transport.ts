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
  run(handler: LineHandler, options?: { telnet?: boolean; maxLine?: number }): void;
  /** Ends it (a notice goes out first, within the close grace). Only the first call counts. */
  end(reason: QuitReason, options?: EndOptions): void;
  /** Resolves once closed. */
  close(): Promise<void>;
  /** Gives up on a client whose socket has taken nothing for too long while output waits. */
  checkStalled(): void;
}
