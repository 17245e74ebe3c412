/**
 * The bench's clients once connected: readers that scan everything they get
 * with one shared {@linkcode PayloadScanner}, and stalled clients that read
 * the greeting and never again. Used by a load run and by the growth scenario.
 *
 * @module
 */

import type { BenchConn } from "./connect.ts";
import { nowMicros, type PayloadScanner, type Receiver } from "./payload.ts";

/** A stalled client reads the server's greeting into this, then never reads again. */
const GREETING_BUFFER = 4 * 1024;
/** A receive buffer grows to hold a line of up to this many bytes; longer ones are dropped. */
const MAX_LINE_BUFFER = 1024 * 1024;

/** What the clients of one run share. */
export interface ClientState {
  scanner: PayloadScanner;
  /** Clients that have received anything (a greeting, at least). */
  heard: number;
  /** Reading clients the server closed on us. */
  disconnected: number;
  /** Set when the run is over: loops stop, errors are expected. */
  stopping: boolean;
}

/** A connection that reads: a talker or an idle listener. */
export class ReadingClient implements Receiver {
  readonly conn: BenchConn;
  readonly self: number;
  readonly nextSeq: Int32Array;
  readAtUs = 0;
  heard = false;
  /** The server closed this client during the run. */
  cut = false;
  buffer: Uint8Array;
  done: Promise<void> = Promise.resolve();
  /** Resolves true when the client first hears from the server, false if it is closed first. */
  readonly greeted: Promise<boolean>;
  readonly markGreeted: (heard: boolean) => void;

  constructor(
    conn: BenchConn,
    options: { self: number; senders: number; buffer: number; firstSeq?: number },
  ) {
    this.conn = conn;
    this.self = options.self;
    // Payloads below firstSeq (a history replay of earlier ones) count as repeats, not deliveries.
    this.nextSeq = new Int32Array(options.senders).fill(options.firstSeq ?? 0);
    this.buffer = new Uint8Array(options.buffer);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    this.greeted = promise;
    this.markGreeted = resolve;
  }
}

/** A reading client's loop: read, scan complete lines, keep the unfinished one. */
export async function receive(client: ReadingClient, state: ClientState): Promise<void> {
  const { scanner } = state;
  let buffer = client.buffer;
  let filled = 0;
  try {
    for (;;) {
      const count = await client.conn.read(filled === 0 ? buffer : buffer.subarray(filled));
      if (count === null) break;
      client.readAtUs = nowMicros();
      if (!client.heard) {
        client.heard = true;
        state.heard++;
        client.markGreeted(true);
      }
      filled += count;
      const used = scanner.scan(
        filled === buffer.length ? buffer : buffer.subarray(0, filled),
        client,
      );
      if (used === filled) {
        filled = 0;
      } else if (used > 0) {
        buffer.copyWithin(0, used, filled);
        filled -= used;
      } else if (filled === buffer.length) {
        // One line fills the whole buffer: make room, or drop a line beyond all reason.
        if (buffer.length < MAX_LINE_BUFFER) {
          const grown = new Uint8Array(buffer.length * 2);
          grown.set(buffer);
          buffer = client.buffer = grown;
        } else {
          filled = 0;
        }
      }
    }
  } catch {
    // Closed by the bench at the end of the run, or reset by the server.
  }
  if (!state.stopping) {
    state.disconnected++;
    client.cut = true;
  }
  client.markGreeted(false);
}

/** A client that connects and never reads after the greeting (nor sends). */
export class StalledClient {
  readonly conn: BenchConn;
  /** Resolves true once the greeting was read, false if the connection ended first. */
  readonly greeted: Promise<boolean>;

  constructor(conn: BenchConn, state: ClientState) {
    this.conn = conn;
    this.greeted = (async () => {
      try {
        if (await conn.read(new Uint8Array(GREETING_BUFFER)) !== null) {
          state.heard++;
          return true;
        }
      } catch {
        // closed by the bench at the end of the run, or reset by the server
      }
      return false;
    })();
  }
}
