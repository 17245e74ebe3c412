/**
 * The bench's clients once connected: readers that scan everything they get
 * with one shared {@linkcode PayloadScanner}, and stalled clients that read
 * the greeting and never again. Used by a load run and by the growth scenario.
 *
 * Each reader is of one {@linkcode ClientKind}. A line client reads lines and
 * is greeted by the server's first bytes. A client of an IRC kind sends its
 * registration first ({@linkcode openingBytes}), reads IRC lines (over TCP) or
 * WebSocket messages (after the upgrade) and answers PING; it is greeted by
 * the server's first bytes (the welcome, or the upgrade's 101), which is what
 * paces connecting, and ready once it is in the channel (366), which is what
 * the run waits for before anyone talks. A refused upgrade or registration,
 * or a frame that breaks RFC 6455, fails that client (counted apart, not as
 * cut).
 *
 * @module
 */

import { writeAll } from "../net/io.ts";
import { type ClientKind, joinBytes, nickOf, openingBytes, pongBytes } from "./client_kinds.ts";
import { sleep } from "../async.ts";
import type { BenchConn } from "./connect.ts";
import { IRC_CHANNEL, nowMicros, type PayloadScanner, type Receiver } from "./payload.ts";
import { MaskedFrameWriter, readUpgradeAnswer, ServerFrameReader } from "./websocket_client.ts";

/** A stalled client reads the server's greeting into this, then never reads again. */
const GREETING_BUFFER = 4 * 1024;
/** A receive buffer grows to hold a line of up to this many bytes; longer ones are dropped. */
const MAX_LINE_BUFFER = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const encoder = new TextEncoder();
const PING = encoder.encode("PING ");

/** What the clients of one run share. */
export interface ClientState {
  scanner: PayloadScanner;
  /** Clients that have received anything (a greeting, at least). */
  heard: number;
  /** Reading clients the server closed on us. */
  disconnected: number;
  /**
   * Clients that gave up because the server broke their protocol or refused
   * them (a WebSocket upgrade not answered 101, a frame RFC 6455 does not
   * allow, an IRC registration or join refused); not counted as disconnected.
   */
  failed?: number;
  /** The first such failure, in words. */
  firstFailure?: string;
  /** Set when the run is over: loops stop, errors are expected. */
  stopping: boolean;
}

/** Where a client connects and who it is (IRC kinds need a nick and the Host header). */
export interface ClientIdentity {
  kind?: ClientKind;
  /** The connection's index in the run: the IRC nick is made of it. */
  index?: number;
  /** The server's host, for the WebSocket upgrade's Host header. */
  host?: string;
}

/** A connection that reads: a talker or an idle listener. */
export class ReadingClient implements Receiver {
  readonly conn: BenchConn;
  readonly kind: ClientKind;
  readonly index: number;
  readonly host: string;
  readonly self: number;
  readonly nextSeq: Int32Array;
  readAtUs = 0;
  heard = false;
  /** The server closed this client during the run. */
  cut = false;
  /** This client gave up on the server (see {@linkcode ClientState.failed}). */
  failed = false;
  /** An IRC kind's client is in the channel. */
  joined = false;
  buffer: Uint8Array;
  done: Promise<void> = Promise.resolve();
  /** Resolves true when the client first hears from the server, false if it is closed first. */
  readonly greeted: Promise<boolean>;
  readonly markGreeted: (heard: boolean) => void;
  /**
   * Resolves true once the client is in the room (line: greeted; IRC kinds:
   * joined), false if it is closed or fails first.
   */
  readonly ready: Promise<boolean>;
  readonly markReady: (ready: boolean) => void;
  /** The write in progress, when another must wait for it (a PONG beside a message). */
  #writing: Promise<void> | null = null;

  constructor(
    conn: BenchConn,
    options: {
      self: number;
      senders: number;
      buffer: number;
      firstSeq?: number;
    } & ClientIdentity,
  ) {
    this.conn = conn;
    this.kind = options.kind ?? "line";
    this.index = options.index ?? 0;
    this.host = options.host ?? "127.0.0.1";
    this.self = options.self;
    // Payloads below firstSeq (a history replay of earlier ones) count as repeats, not deliveries.
    this.nextSeq = new Int32Array(options.senders).fill(options.firstSeq ?? 0);
    this.buffer = new Uint8Array(options.buffer);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    this.greeted = promise;
    this.markGreeted = resolve;
    if (this.kind === "line") {
      this.ready = promise;
      this.markReady = resolve;
    } else {
      const ready = Promise.withResolvers<boolean>();
      this.ready = ready.promise;
      this.markReady = ready.resolve;
    }
  }

  /** Joins the channel (IRC kinds; a line client is in the lobby already). */
  join(): void {
    const join = joinBytes(this.kind);
    if (join !== null) this.send(join).catch(() => {});
  }

  /**
   * Writes all of `bytes`, after any write still in progress: a message and
   * a PONG never interleave. Rejects when the connection is gone.
   */
  async send(bytes: Uint8Array): Promise<void> {
    while (this.#writing !== null) await this.#writing.catch(() => {});
    const writing = writeAll(this.conn, bytes);
    this.#writing = writing;
    try {
      await writing;
    } finally {
      if (this.#writing === writing) this.#writing = null;
    }
  }
}

/** A reading client's loop, by its kind: read, scan, keep what is unfinished. */
export async function receive(client: ReadingClient, state: ClientState): Promise<void> {
  try {
    if (client.kind === "line") await receiveLines(client, state);
    else await receiveIrc(client, state);
  } catch {
    // Closed by the bench at the end of the run, or reset by the server.
  }
  if (!state.stopping && !client.failed) {
    state.disconnected++;
    client.cut = true;
  }
  client.markGreeted(false);
  client.markReady(false);
}

/** A line client: every read scanned for whole lines. */
async function receiveLines(client: ReadingClient, state: ClientState): Promise<void> {
  const { scanner } = state;
  let buffer = client.buffer;
  let filled = 0;
  for (;;) {
    const count = await client.conn.read(filled === 0 ? buffer : buffer.subarray(filled));
    if (count === null) break;
    client.readAtUs = nowMicros();
    if (!client.heard) greet(client, state);
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
      buffer = grow(client, filled);
      if (buffer.length === filled) filled = 0;
    }
  }
}

/**
 * A client of an IRC kind: registers, then reads IRC lines (over TCP) or
 * WebSocket messages (after the upgrade). Each message goes to the scanner;
 * one without a payload may be the join's end (366) or a PING.
 */
async function receiveIrc(client: ReadingClient, state: ClientState): Promise<void> {
  const { scanner } = state;
  const websocket = client.kind === "websocket";
  const joinedNeedle = encoder.encode(` 366 ${nickOf(client.index)} ${IRC_CHANNEL} `);
  const ircLine = (bytes: Uint8Array, start: number, end: number) => {
    if (scanner.scanIrc(bytes, start, end, client)) return;
    if (startsWith(bytes, start, end, PING)) {
      client.send(pongBytes(client.kind, bytes.slice(start + PING.length, end))).catch(() => {});
    } else if (!client.joined) {
      if (indexOf(bytes, joinedNeedle, start, end) !== -1) {
        client.joined = true;
        client.markReady(true);
      } else if (isRefusal(bytes, start, end)) {
        fail(client, state, new TextDecoder().decode(bytes.subarray(start, end)));
      }
    }
  };
  const frames = websocket ? new ServerFrameReader() : null;
  const handler = {
    message: ircLine,
    ping(bytes: Uint8Array, start: number, end: number) {
      client.send(new MaskedFrameWriter().pong(bytes.subarray(start, end)).slice())
        .catch(() => {});
    },
    close() {},
  };
  let upgraded = !websocket;
  const opening = openingBytes(client.kind, client.index, { host: client.host });
  if (opening !== null) await client.send(opening);

  let buffer = client.buffer;
  let filled = 0;
  while (!client.failed) {
    const count = await client.conn.read(filled === 0 ? buffer : buffer.subarray(filled));
    if (count === null) break;
    client.readAtUs = nowMicros();
    if (!client.heard) greet(client, state);
    filled += count;
    let view = filled === buffer.length ? buffer : buffer.subarray(0, filled);
    if (!upgraded) {
      const answer = readUpgradeAnswer(view);
      if (answer.kind === "more") {
        if (filled === buffer.length) buffer = grow(client, filled);
        continue;
      }
      if (answer.kind === "refused") {
        fail(client, state, `WebSocket upgrade refused: ${answer.statusLine}`);
        break;
      }
      upgraded = true;
      buffer.copyWithin(0, answer.length, filled);
      filled -= answer.length;
      if (filled === 0) continue;
      view = buffer.subarray(0, filled);
    }
    let used: number;
    if (frames !== null) {
      used = frames.read(view, filled, handler);
      if (used < 0) {
        fail(client, state, `WebSocket: ${frames.error}`);
        break;
      }
    } else {
      used = 0;
      for (let lf = view.indexOf(LF); lf !== -1; lf = view.indexOf(LF, used)) {
        ircLine(view, used, lf > used && view[lf - 1] === CR ? lf - 1 : lf);
        used = lf + 1;
      }
    }
    if (used === filled) {
      filled = 0;
    } else if (used > 0) {
      buffer.copyWithin(0, used, filled);
      filled -= used;
    } else if (filled === buffer.length) {
      buffer = grow(client, filled);
      if (buffer.length === filled) filled = 0;
    }
  }
}

/** The server's first bytes came: the client counts as heard, and its greeting resolves. */
function greet(client: ReadingClient, state: ClientState): void {
  client.heard = true;
  state.heard++;
  client.markGreeted(true);
}

/** The client gives up on the server: counted apart, its connection closed. */
function fail(client: ReadingClient, state: ClientState, why: string): void {
  if (client.failed) return;
  client.failed = true;
  state.failed = (state.failed ?? 0) + 1;
  state.firstFailure ??= why;
  client.markGreeted(false);
  client.markReady(false);
  try {
    client.conn.close();
  } catch {
    // closed already
  }
}

/** A bigger receive buffer holding the `filled` bytes, or the same one when it is at its limit. */
function grow(client: ReadingClient, filled: number): Uint8Array {
  const buffer = client.buffer;
  if (buffer.length >= MAX_LINE_BUFFER) return buffer;
  const grown = new Uint8Array(buffer.length * 2);
  grown.set(buffer.subarray(0, filled));
  return client.buffer = grown;
}

/**
 * The numerics that keep an IRC client from getting in: its nick refused
 * (431–437), not registered (451, 461, 462), banned (465), the channel
 * refused (403, 405, 471–477, 489).
 */
const REFUSALS = new Set([
  403,
  405,
  431,
  432,
  433,
  436,
  437,
  451,
  461,
  462,
  465,
  471,
  473,
  474,
  475,
  476,
  477,
  489,
]);
const ERROR = encoder.encode("ERROR ");

/** Whether an IRC line is a refusal before the client is in: one of {@linkcode REFUSALS}, or `ERROR`. */
function isRefusal(bytes: Uint8Array, start: number, end: number): boolean {
  if (startsWith(bytes, start, end, ERROR)) return true;
  const space = bytes.indexOf(0x20, start);
  if (space === -1 || space + 5 > end || bytes[space + 4] !== 0x20) return false;
  let code = 0;
  for (let i = space + 1; i < space + 4; i++) {
    if (!isDigit(bytes[i])) return false;
    code = code * 10 + bytes[i] - 0x30;
  }
  return REFUSALS.has(code);
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function startsWith(bytes: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[start + i] !== prefix[i]) return false;
  return true;
}

/** Where `needle` is in `bytes[start, end)`, or -1. */
function indexOf(bytes: Uint8Array, needle: Uint8Array, start: number, end: number): number {
  const last = end - needle.length;
  for (let at = bytes.indexOf(needle[0], start); at !== -1 && at <= last;) {
    if (startsWith(bytes, at, end, needle)) return at;
    at = bytes.indexOf(needle[0], at + 1);
  }
  return -1;
}

/** How many clients of an IRC kind may be joining at once (see `client_kinds.ts`). */
export const JOIN_WINDOW = 256;

/**
 * Has `clients` join the channel, at most {@linkcode JOIN_WINDOW} waiting
 * for their 366 at a time; resolves once every one is in the room or gone,
 * false when `deadline` (a `performance.now()` time) passed first. Line
 * clients are in already.
 */
export async function joinInWaves(
  clients: readonly ReadingClient[],
  plan: { deadline: number; onProgress?: (joined: number) => void },
): Promise<boolean> {
  let waiting = 0;
  let settled = 0;
  for (const client of clients) {
    while (waiting >= JOIN_WINDOW) {
      if (performance.now() > plan.deadline) return false;
      await sleep(2);
    }
    waiting++;
    client.ready.finally(() => {
      waiting--;
      settled++;
      if (settled % 100 === 0) plan.onProgress?.(settled);
    });
    client.join();
  }
  while (settled < clients.length) {
    if (performance.now() > plan.deadline) return false;
    await sleep(5);
  }
  plan.onProgress?.(settled);
  return true;
}

/** A client that connects and never reads after the greeting (nor sends). */
export class StalledClient {
  readonly conn: BenchConn;
  /** Resolves true once the greeting was read, false if the connection ended first. */
  readonly greeted: Promise<boolean>;

  constructor(conn: BenchConn, state: ClientState, identity: ClientIdentity = {}) {
    this.conn = conn;
    const kind = identity.kind ?? "line";
    this.greeted = (async () => {
      try {
        if (kind === "line") {
          if (await conn.read(new Uint8Array(GREETING_BUFFER)) !== null) {
            state.heard++;
            return true;
          }
          return false;
        }
        // An IRC kind registers and reads until it is in the channel, then stops.
        const index = identity.index ?? 0;
        const host = identity.host ?? "127.0.0.1";
        await writeAll(conn, openingBytes(kind, index, { host, join: true })!);
        const needle = encoder.encode(` 366 ${nickOf(index)} ${IRC_CHANNEL} `);
        const buffer = new Uint8Array(GREETING_BUFFER + needle.length);
        let kept = 0;
        for (;;) {
          const count = await conn.read(buffer.subarray(kept));
          if (count === null) return false;
          const end = kept + count;
          if (indexOf(buffer, needle, 0, end) !== -1) {
            state.heard++;
            return true;
          }
          kept = Math.min(needle.length - 1, end);
          buffer.copyWithin(0, end - kept, end);
        }
      } catch {
        // closed by the bench at the end of the run, or reset by the server
      }
      return false;
    })();
  }
}
