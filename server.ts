/**
 * The parley server: an accept loop that admits each connection and runs a
 * session for it, one {@linkcode Chat} shared by all, the limits that keep it
 * fair and the shutdown that ends it politely.
 *
 * ```ts
 * const listener = Deno.listen({ port: 0 });
 * const controller = new AbortController();
 * const server = serve(listener, { log: new Logger(new MemorySink()), signal: controller.signal });
 * // … later
 * controller.abort();
 * await server.finished;
 * ```
 *
 * The parts, in the order a connection meets them: {@linkcode acceptLoop}
 * (accept with back-off), {@linkcode Admission} (limits), the TLS handshake, a
 * {@linkcode LineSession} over a {@linkcode Connection}; and, at the end, the
 * shutdown in one fixed order: stop accepting → tell everyone → flush with a
 * deadline → close → wait for every handler.
 *
 * @module
 */

import { EqualWaits, settlesWithin, sleep } from "./src/async.ts";
import { Chat, type ChatOptions } from "./src/core/chat.ts";
import { connectionFailure, errorText } from "./src/errors.ts";
import denoConfig from "./deno.json" with { type: "json" };
import { formatMessage } from "./src/front/irc/message.ts";
import { IrcRenderer } from "./src/front/irc/render.ts";
import { type IrcServerInfo, IrcSession } from "./src/front/irc/session.ts";
import { encodeLine, errorLine, refusalText } from "./src/front/line.ts";
import { LineSession } from "./src/front/line_session.ts";
import type { Logger } from "./src/log.ts";
import type { FrontCounters, ServerMetrics } from "./src/metrics.ts";
import { Admission, type Refusal } from "./src/net/admission.ts";
import { Connection, type ConnectionLimits, type ReadCounts } from "./src/net/connection.ts";
import { closeQuietly, writeAll } from "./src/net/io.ts";
import { WriteScheduler } from "./src/net/outbox.ts";
import { formatPeer, type Peer, peerOf } from "./src/net/peer.ts";
import {
  chatPortNotice,
  classifyFirstBytes,
  httpReply,
  SNIFF_TIMEOUT_MS,
} from "./src/net/sniff.ts";

/** Server settings; every limit has a default (see {@linkcode SERVER_DEFAULTS}). */
export interface ServeOptions {
  /** Where events go. */
  log: Logger;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** Longest line in bytes. */
  maxLine?: number;
  /** Most clients at once. */
  maxClients?: number;
  /** Most clients from one address (0 = no limit). */
  maxPerIp?: number;
  /** New connections per address per minute (0 = no limit). */
  connectRate?: number;
  /** Lines per second per client (0 = no flood control). */
  rate?: number;
  /** Lines a client may send at once before `rate` applies. */
  burst?: number;
  /** Bytes waiting for one client before it is disconnected. */
  sendQueue?: number;
  /** Seconds without a line before a client is disconnected (0 = never). */
  idleTimeout?: number;
  /** Messages per room replayed to newcomers (0 = none). */
  history?: number;
  /** Most rooms at once. */
  maxRooms?: number;
  /** Milliseconds given to final output (shutdown notice, bye) before closing. */
  closeGrace?: number;
  /** For the log: the listener speaks TLS. */
  tls?: boolean;
  /** The IRC front end: its own listener (`--irc-port`), name and MOTD. */
  irc?: IrcOptions;
  /**
   * The chat's other settings: where it keeps things (`--data`), the other
   * servers (`--cluster`), accounts and operators.
   */
  chat?: Omit<ChatOptions, "history" | "maxRooms">;
  /** What the server counts as it runs (`--metrics` serves it); counted either way. */
  metrics?: ServerMetrics;
}

/** IRC settings. IRC clients are served on the line port too (told apart by their first line). */
export interface IrcOptions {
  /** A listener that speaks only IRC (`--irc-port`); TLS when the line listener is. */
  listener?: Deno.Listener;
  /** The server name in replies and in every source's host (`--irc-name`); the host name by default. */
  name?: string;
  /** The message of the day (`--motd FILE`); none gives 422. */
  motd?: readonly string[] | null;
  /** Silence after which a client is PINGed (ms; default 120 s). */
  pingAfterMs?: number;
  /** An unanswered PING ends the connection after this long (ms; default 60 s). */
  pingTimeoutMs?: number;
}

/**
 * V8 flags the server is meant to run with (the `server`, `install` and
 * `compile` tasks pass them). A young generation of at most 8 MiB per
 * semi-space keeps 10,000 connections near 150 MiB instead of ~175 MiB: the
 * default lets it grow to 16 MiB per semi-space during a burst of connects and
 * keeps it. Measured throughput and latency are the same either way.
 */
export const SERVER_V8_FLAGS = "--max-semi-space-size=8";

/** Every limit of a server, as numbers (see {@linkcode ServeOptions} for their meaning). */
export type ServerLimits = Required<
  Pick<
    ServeOptions,
    | "maxLine"
    | "maxClients"
    | "maxPerIp"
    | "connectRate"
    | "rate"
    | "burst"
    | "sendQueue"
    | "idleTimeout"
    | "history"
    | "maxRooms"
    | "closeGrace"
  >
>;

/** The defaults of every limit. */
export const SERVER_DEFAULTS: Readonly<ServerLimits> = {
  maxLine: 4096,
  maxClients: 10_000,
  maxPerIp: 32,
  connectRate: 0,
  rate: 10,
  burst: 20,
  sendQueue: 1024 * 1024,
  idleTimeout: 0,
  history: 50,
  maxRooms: 1000,
  closeGrace: 2000,
};

/** A running server. */
export interface Server {
  /** The address it listens on (the real port when asked for port 0). */
  readonly addr: Deno.NetAddr;
  /** Clients connected now. */
  readonly online: number;
  /** The chat (the console's operator commands go to it). */
  readonly chat: Chat;
  /** Resolves once what the store kept is loaded and connections are being accepted. */
  readonly ready: Promise<void>;
  /** Resolves when the server has shut down and every connection is closed; rejects when it could not start. */
  readonly finished: Promise<void>;
}

const LOG_FLUSH_LIMIT_MS = 1000;

/**
 * Serves chat on a bound listener until `options.signal` aborts. The caller
 * owns binding (so tests can use port 0); the server owns the listener after.
 */
export function serve(listener: Deno.Listener, options: ServeOptions): Server {
  const server = new ChatServer(listener, options);
  const finished = server.run();
  return {
    addr: listener.addr as Deno.NetAddr,
    get online() {
      return server.chat.online;
    },
    chat: server.chat,
    // A start that fails rejects `finished`; `ready` then never settles.
    ready: server.ready,
    finished,
  };
}

/** One server's state: the chat, the connections, the limits. */
class ChatServer {
  readonly chat: Chat;
  readonly #listener: Deno.Listener;
  readonly #log: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #tls: boolean;
  readonly #settings: ServerLimits;
  readonly #limits: ConnectionLimits;
  readonly #scheduler = new WriteScheduler();
  /** How long a new line-port client may take to show its protocol: one timer for all. */
  readonly #sniffWaits = new EqualWaits(SNIFF_TIMEOUT_MS);
  readonly #admission: Admission;
  /** Sessions running now: told at shutdown, ticked every second (idleness, PING). */
  readonly #sessions = new Set<Session>();
  readonly #irc: IrcServerInfo;
  readonly #ircListener: Deno.Listener | null;
  /** Connections not yet in a session (TLS handshake, being refused): closed at shutdown. */
  readonly #joining = new Set<Deno.Conn>();
  /** Handlers running, from accept until their connection is closed. */
  #handlers = 0;
  /** Set during shutdown: called when the last handler is done. */
  #onLastHandler: (() => void) | null = null;
  readonly #stopAccepting = new AbortController();
  readonly #ready = Promise.withResolvers<void>();
  readonly #metrics: ServerMetrics | null;
  readonly #readCounts: ReadCounts = { bytesRead: 0, throttledReads: 0 };
  readonly #lineCounters: FrontCounters | undefined;
  readonly #ircCounters: FrontCounters | undefined;

  constructor(listener: Deno.Listener, options: ServeOptions) {
    this.#listener = listener;
    this.#log = options.log;
    this.#signal = options.signal;
    this.#tls = options.tls ?? false;
    const settings: ServerLimits = this.#settings = {
      ...SERVER_DEFAULTS,
      ...withoutUndefined(limitsOf(options)),
    };
    this.#limits = {
      maxLine: settings.maxLine,
      rate: settings.rate,
      burst: settings.burst,
      sendQueue: settings.sendQueue,
      closeGrace: settings.closeGrace,
    };
    this.chat = new Chat({
      ...options.chat,
      history: settings.history,
      maxRooms: settings.maxRooms,
    });
    this.#admission = new Admission({
      ...settings,
      bannedBy: (address) => this.chat.bans.match(address),
    });
    const metrics = this.#metrics = options.metrics ?? null;
    if (metrics) {
      this.#lineCounters = metrics.countersOf("line");
      this.#ircCounters = metrics.countersOf("irc");
      this.#sampleInto(metrics);
    }
    const irc = options.irc ?? {};
    const name = irc.name ?? hostName();
    this.#ircListener = irc.listener ?? null;
    this.#irc = {
      name,
      version: denoConfig.version,
      created: new Date(),
      motd: irc.motd ?? null,
      plain: new IrcRenderer(name, { serverTime: false }),
      timed: new IrcRenderer(name, { serverTime: true }),
      pingAfterMs: irc.pingAfterMs ?? IRC_PING_AFTER_MS,
      pingTimeoutMs: irc.pingTimeoutMs ?? IRC_PING_TIMEOUT_MS,
    };
  }

  /** Resolves once connections are being accepted. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** The numbers the metrics read at scrape time from their owners. */
  #sampleInto(metrics: ServerMetrics): void {
    const counts = this.#readCounts;
    metrics.bytesReceived.sample = () => counts.bytesRead;
    metrics.floodThrottledReads.sample = () => counts.throttledReads;
    metrics.bytesSent.sample = () => this.#scheduler.bytesWritten;
    metrics.deliveries.sample = () => this.chat.deliveries;
    metrics.sendQueueBytes.sample = () => {
      let bytes = 0;
      for (const session of this.#sessions) bytes += session.connection.pendingBytes;
      return bytes;
    };
    const online = (irc: boolean) => () => {
      let count = 0;
      for (const session of this.#sessions) {
        if (session.member !== null && (session instanceof IrcSession) === irc) count++;
      }
      return count;
    };
    metrics.clientsOnline.of.line.sample = online(false);
    metrics.clientsOnline.of.irc.sample = online(true);
  }

  /** Serves until the signal aborts, then shuts down; resolves when all is closed. */
  async run(): Promise<void> {
    const log = this.#log;
    try {
      // What was kept from before (rooms, topics, bans) is in place before anyone comes.
      for (const problem of await this.chat.load()) log.event({ event: "error", message: problem });
    } catch (error) {
      closeQuietly(this.#listener);
      closeQuietly(this.#ircListener);
      throw error;
    }
    log.event({ event: "listening", address: this.#listener.addr as Deno.NetAddr, tls: this.#tls });
    const ircListener = this.#ircListener;
    if (ircListener) {
      log.event({
        event: "listening",
        address: ircListener.addr as Deno.NetAddr,
        tls: this.#tls,
        protocol: "irc",
      });
    }
    const idleTimeout = this.#settings.idleTimeout;
    const ticker = setInterval(
      () => this.#tick(),
      idleTimeout > 0 ? Math.min(TICK_MS, idleTimeout * 250) : TICK_MS,
    );
    const stop = () => {
      this.#stopAccepting.abort();
      closeQuietly(this.#listener);
      closeQuietly(ircListener);
    };
    if (this.#signal?.aborted) stop();
    this.#signal?.addEventListener("abort", stop, { once: true });
    this.#ready.resolve();
    try {
      const loops = [
        acceptLoop(this.#listener, {
          signal: this.#stopAccepting.signal,
          log,
          onConnection: (conn) => void this.#handle(conn, "line"),
        }),
      ];
      if (ircListener) {
        loops.push(acceptLoop(ircListener, {
          signal: this.#stopAccepting.signal,
          log,
          onConnection: (conn) => void this.#handle(conn, "irc"),
        }));
      }
      await Promise.all(loops);
    } finally {
      stop();
      clearInterval(ticker);
      this.#signal?.removeEventListener("abort", stop);
    }
    await this.#shutdown();
  }

  /** Stop accepting (done) → tell everyone → flush with a deadline → close → wait for every handler. */
  async #shutdown(): Promise<void> {
    const log = this.#log;
    log.event({
      event: "shutdown",
      reason: reasonText(this.#signal?.reason),
      online: this.chat.online,
    });
    for (const conn of this.#joining) closeQuietly(conn);
    this.#sniffWaits.endAll();
    for (const session of this.#sessions) session.stop("shutdown");
    if (this.#handlers > 0) await new Promise<void>((resolve) => this.#onLastHandler = resolve);
    log.event({ event: "stopped" });
    // The console may not be taking output (a paused terminal, a pipe nobody reads): not forever.
    await settlesWithin(log.sink.flush(), LOG_FLUSH_LIMIT_MS);
  }

  /**
   * One connection, from accept to close. Never throws. A connection to the
   * line port is told apart by its first bytes (SPEC §2): a line client, an
   * IRC client (served as on the IRC port), or another protocol turned away.
   */
  async #handle(conn: Deno.Conn, port: "line" | "irc"): Promise<void> {
    const peer = peerOf(conn.remoteAddr);
    this.#handlers++;
    this.#joining.add(conn);
    if (this.#metrics) this.#metrics.connectionsAccepted.value++;
    const refusal = this.#admission.admit(peer.hostname);
    let started = false;
    try {
      configure(conn);
      if (refusal) return await this.#refuse(conn, peer, refusal, port);
      if (!(await this.#handshake(conn, peer))) return;
      const connection = new Connection(conn, peer, {
        limits: this.#limits,
        scheduler: this.#scheduler,
        counts: this.#readCounts,
      });
      let kind = port;
      if (port === "line") {
        const first = await connection.peek(this.#sniffWaits.wait(), decided);
        const sniffed = classifyFirstBytes(first);
        if (sniffed === "tls" || sniffed === "http") {
          return await this.#turnAway(conn, peer, sniffed, first);
        }
        if (sniffed === "irc") kind = "irc";
      }
      const session = kind === "irc"
        ? new IrcSession(connection, {
          chat: this.chat,
          log: this.#log,
          irc: this.#irc,
          counters: this.#ircCounters,
          onEnd: this.#sessionEnded,
        })
        : new LineSession(connection, {
          chat: this.chat,
          log: this.#log,
          maxLine: this.#limits.maxLine,
          idleTimeout: this.#settings.idleTimeout,
          counters: this.#lineCounters,
          onEnd: this.#sessionEnded,
        });
      this.#joining.delete(conn);
      this.#sessions.add(session);
      // From here the session owns the connection and reports its end: this frame is done.
      started = true;
      await session.start();
    } catch (error) {
      // A bug, not the client: it costs this connection, never the server.
      this.#log.event({
        event: "error",
        message: `connection from ${formatPeer(peer)} failed: ${errorText(error)}`,
      });
      closeQuietly(conn);
    } finally {
      if (!started) this.#released(conn, peer);
    }
  }

  /** A session is over and its connection closed. */
  #sessionEnded = (session: Session): void => {
    this.#sessions.delete(session);
    this.#metrics?.disconnected(session.connection.reason);
    this.#released(null, session.connection.peer);
  };

  /** A connection is gone: its admission count and its handler. */
  #released(conn: Deno.Conn | null, peer: Peer): void {
    if (conn) this.#joining.delete(conn);
    this.#admission.release(peer.hostname);
    if (--this.#handlers === 0) this.#onLastHandler?.();
  }

  /** Tells a client why it cannot join (in its port's protocol), logs it, and closes. */
  async #refuse(
    conn: Deno.Conn,
    peer: Peer,
    refusal: Refusal,
    port: "line" | "irc",
  ): Promise<void> {
    const reason = refusalText(refusal);
    this.#metrics?.refused(refusal.code);
    // A burst of connects past the rate is logged once, at its first.
    if (refusal.code !== "connect-rate" || refusal.first) {
      this.#log.event({
        event: "refused",
        peer,
        reason: loggedReason(refusal),
        online: this.chat.online,
      });
    }
    try {
      await writeAll(
        conn,
        port === "irc"
          ? encoder.encode(formatMessage({ command: "ERROR", params: [`Closing Link: ${reason}`] }))
          : encodeLine(errorLine(reason)),
      );
      await conn.closeWrite();
    } catch {
      // the client is already gone; nothing to tell
    } finally {
      closeQuietly(conn);
    }
  }

  /**
   * A client of another protocol on the chat port: told what this port is
   * (HTTP), or dropped (TLS). Nothing of it reaches a room; the log says what it was.
   */
  async #turnAway(
    conn: Deno.Conn,
    peer: Peer,
    kind: "tls" | "http",
    first: Uint8Array,
  ): Promise<void> {
    const reason = kind === "tls" ? "TLS client on a plain port" : "HTTP request on the chat port";
    this.#metrics?.refused(kind === "tls" ? "tls_on_plain" : "http");
    this.#log.event({ event: "refused", peer, reason, online: this.chat.online });
    try {
      if (kind === "http") {
        const local = conn.localAddr as Deno.NetAddr;
        const notice = chatPortNotice(peerOf(local).hostname, local.port);
        await writeAll(conn, httpReply(notice, { request: first }));
        await conn.closeWrite();
      }
    } catch {
      // gone already
    } finally {
      closeQuietly(conn);
    }
  }

  /**
   * A TLS connection joins once its handshake is done; a plaintext client on a
   * TLS port fails it and is dropped. There is no handshake timeout: Deno 2.9
   * cannot cancel a handshake in progress (closing the connection then would
   * leave its socket open until the peer closes it), so a connection that never
   * finishes keeps counting against --max-per-ip and --max-clients until its
   * peer goes away, which bounds what one address can hold.
   */
  async #handshake(conn: Deno.Conn, peer: Peer): Promise<boolean> {
    if (!("handshake" in conn)) return true;
    try {
      await (conn as Deno.TlsConn).handshake();
      return true;
    } catch (error) {
      if (!this.#stopAccepting.signal.aborted) {
        this.#metrics?.refused("tls_handshake");
        this.#log.event({
          event: "refused",
          peer,
          reason: `TLS handshake failed: ${errorText(error)}`,
          online: this.chat.online,
        });
      }
      closeQuietly(conn);
      return false;
    }
  }

  /** The clock every session keeps time by (idle timeouts, IRC's PING). */
  #tick(): void {
    const now = Date.now();
    for (const session of this.#sessions) session.tick(now);
  }
}

/** What the server asks of every session, whatever its protocol. */
interface Session {
  readonly connection: Connection;
  /** Its member while the client is in the chat, else null. */
  readonly member: unknown;
  /** Greets and starts serving the client; the session reports its end through `onEnd`. */
  start(): Promise<void>;
  /** Ends it from outside, telling the client why in its protocol. */
  stop(reason: "shutdown"): void;
  /** Once a second or so: time-driven duties. */
  tick(now: number): void;
}

/** How often sessions are ticked (ms). */
const TICK_MS = 1000;
/** IRC clients are PINGed after this much silence, and dropped this long after an unanswered PING (SPEC §8). */
const IRC_PING_AFTER_MS = 120_000;
const IRC_PING_TIMEOUT_MS = 60_000;
const encoder = new TextEncoder();

/** This machine's name, for IRC replies; `parley` when it cannot be read. */
function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "parley";
  }
}

const ACCEPT_BACKOFF_MIN = 5;
const ACCEPT_BACKOFF_MAX = 1000;

/**
 * Accepts connections until `signal` aborts or the listener is closed,
 * handing each to `onConnection`. Accept errors (out of descriptors and the
 * like) are logged and retried with back-off from 5 ms to 1 s: the `for await`
 * form would end there, and the server must keep serving.
 */
export async function acceptLoop(
  listener: Deno.Listener,
  options: { signal: AbortSignal; log: Logger; onConnection: (conn: Deno.Conn) => void },
): Promise<void> {
  const { signal, log } = options;
  let backoff = 0;
  while (!signal.aborted) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
      backoff = 0;
    } catch (error) {
      if (signal.aborted || error instanceof Deno.errors.BadResource) return;
      // One connection that died while it waited to be accepted: nothing to wait for.
      if (connectionFailure(error) === "reset") continue;
      backoff = Math.min(Math.max(backoff * 2, ACCEPT_BACKOFF_MIN), ACCEPT_BACKOFF_MAX);
      log.event({
        event: "error",
        message: `accept failed: ${errorText(error)}; retrying in ${backoff} ms`,
      });
      await sleep(backoff, signal);
      continue;
    }
    options.onConnection(conn);
  }
}

/** Whether the first bytes tell what a connection is (else wait for more, up to the deadline). */
function decided(bytes: Uint8Array): boolean {
  return bytes.length > 0 && classifyFirstBytes(bytes) !== "undecided";
}

function configure(conn: Deno.Conn): void {
  if (!("setNoDelay" in conn)) return;
  const tcp = conn as Deno.TcpConn;
  try {
    tcp.setNoDelay(true);
    tcp.setKeepAlive(true);
  } catch {
    // Reset before it was configured (some systems refuse options then): its first read says so.
  }
}

/** A refusal as the console shows it: as the client is told, with which ban. */
function loggedReason(refusal: Refusal): string {
  if (refusal.code === "banned") return `banned (${refusal.ban.mask})`;
  if (refusal.code === "connect-rate") {
    return `${refusalText(refusal)}; more from it are not logged until it slows down`;
  }
  return refusalText(refusal);
}

function reasonText(reason: unknown): string {
  if (reason === undefined) return "stopped";
  return typeof reason === "string" ? reason : errorText(reason);
}

function limitsOf(options: ServeOptions): Partial<ServerLimits> {
  const {
    log: _log,
    signal: _signal,
    tls: _tls,
    irc: _irc,
    chat: _chat,
    metrics: _metrics,
    ...limits
  } = options;
  return limits;
}

function withoutUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
