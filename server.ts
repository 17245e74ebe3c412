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
 * The parts, in the order a connection meets them: `acceptLoop`
 * (`src/net/accept.ts`: accept with back-off and descriptors in reserve), {@linkcode Admission} (limits), the TLS handshake, a
 * {@linkcode Connection}, the first bytes offered to the front ends (`src/front/
 * registry.ts`) and a session of the one that recognises them; and, at the
 * end, the shutdown in one fixed order: stop accepting → tell everyone → flush
 * with a deadline → close → wait for every handler. The server names no
 * protocol: the front ends word refusals, make sessions and are counted by name.
 *
 * @module
 */

import { CatchUp, EqualWaits, settlesWithin } from "./src/async.ts";
import { Chat, type ChatOptions } from "./src/core/chat.ts";
import { cidrContains } from "./src/core/cidr.ts";
import { errorText } from "./src/errors.ts";
import type { FrontEnd, Session, TurnedAway } from "./src/front/front_end.ts";
import type { WebPolicy } from "./src/front/http/web_policy.ts";
import type { IrcOptions } from "./src/front/irc/front_end.ts";
import { frontEnds } from "./src/front/registry.ts";
import { classify } from "./src/front/sniff.ts";
import { refusalText } from "./src/front/words.ts";
import type { Logger } from "./src/log.ts";
import type { FrontCounters, ServerMetrics } from "./src/metrics.ts";
import { acceptLoop, DescriptorReserve } from "./src/net/accept.ts";
import { Admission, type Refusal } from "./src/net/admission.ts";
import { Connection, type ConnectionLimits, type ReadCounts } from "./src/net/connection.ts";
import { closeQuietly, writeAll } from "./src/net/io.ts";
import { WriteScheduler } from "./src/net/outbox.ts";
import { formatPeer, type Peer, peerOf } from "./src/net/peer.ts";
import { SNIFF_TIMEOUT_MS } from "./src/net/sniff.ts";
import { SocketShutdown } from "./src/net/socket_shutdown.ts";

export type { IrcOptions } from "./src/front/irc/front_end.ts";
export type { WebPolicy } from "./src/front/http/web_policy.ts";

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
  /** IPv6 addresses count per this prefix for every per-address limit and budget (0–128). */
  ipv6Prefix?: number;
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
  /** Milliseconds a TLS client has to finish its handshake before it is dropped. */
  handshakeTimeout?: number;
  /** Most rooms at once. */
  maxRooms?: number;
  /** Milliseconds given to final output (shutdown notice, bye) before closing. */
  closeGrace?: number;
  /** For the log: the listener speaks TLS. */
  tls?: boolean;
  /** The IRC front end: its own listener (`--irc-port`), name and MOTD. */
  irc?: IrcOptions;
  /** The web side: other sites' pages allowed (`--web-origin`), proxies believed (`--trust-proxy`). */
  web?: WebPolicy;
  /**
   * The chat's other settings: where it keeps things (`--data`), the other
   * servers (`--cluster`), accounts and operators.
   */
  chat?: Omit<ChatOptions, "history" | "maxRooms">;
  /** What the server counts as it runs (`--metrics` serves it); counted either way. */
  metrics?: ServerMetrics;
}

/**
 * V8 flags the server is meant to run with (the `server`, `install` and
 * `compile` tasks pass them). A smaller young generation keeps memory under
 * thousands of connections lower: the default lets it grow during a burst of
 * connects and keeps it (BENCHMARKS.md, "Memory").
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
    | "ipv6Prefix"
    | "rate"
    | "burst"
    | "sendQueue"
    | "idleTimeout"
    | "history"
    | "handshakeTimeout"
    | "maxRooms"
    | "closeGrace"
  >
>;

/** The defaults of every limit. */
export const SERVER_DEFAULTS: Readonly<ServerLimits> = {
  maxLine: 4096,
  maxClients: 10_000,
  maxPerIp: 32,
  connectRate: 120,
  ipv6Prefix: 64,
  rate: 10,
  burst: 20,
  sendQueue: 1024 * 1024,
  idleTimeout: 0,
  history: 50,
  handshakeTimeout: 10_000,
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

/** The last part of the sniffing wait: two quiet steps of this that show the server has caught up. */
const SNIFF_SETTLE_MS = 10;

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

/** A listener and the front ends it serves: the first bytes pick one; the last is the fallback. */
interface Port {
  listener: Deno.Listener;
  /** Its front ends; with one, no sniffing: every connection is that one's. */
  fronts: readonly FrontEnd[];
}

/** One server's state: the chat, the connections, the limits. */
class ChatServer {
  readonly chat: Chat;
  readonly #ports: Port[];
  readonly #log: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #tls: boolean;
  readonly #settings: ServerLimits;
  readonly #limits: ConnectionLimits;
  readonly #scheduler = new WriteScheduler();
  /** Whether the server is behind with the first bytes of new clients (see #sniffWaits). */
  readonly #firstBytes = new CatchUp({
    stepMs: SNIFF_SETTLE_MS,
    activity: () => this.#readCounts.reads + this.#scheduler.writesDone,
  });
  /**
   * How long a new client of a shared port may take to show its protocol: one timer for all
   * (SNIFF_TIMEOUT_MS in all on a quiet server), and a wait ends only once the server has
   * caught up with the first bytes that are already there (src/async.ts, CatchUp).
   */
  readonly #sniffWaits = new EqualWaits(SNIFF_TIMEOUT_MS - 2 * SNIFF_SETTLE_MS, {
    settle: () => this.#firstBytes.settle(),
  });
  readonly #admission: Admission;
  /** A TLS client's time to finish its handshake: one timer for all. */
  readonly #handshakeWaits: EqualWaits;
  #warnedNoShutdown = false;
  /** Sessions running now, with their front end: told at shutdown, ticked every second. */
  readonly #sessions = new Map<Session, FrontEnd>();
  /** Connections not yet in a session (TLS handshake, being refused): closed at shutdown. */
  readonly #joining = new Set<Deno.Conn>();
  /** Handlers running, from accept until their connection is closed. */
  #handlers = 0;
  /** Set during shutdown: called when the last handler is done. */
  #onLastHandler: (() => void) | null = null;
  readonly #stopAccepting = new AbortController();
  readonly #ready = Promise.withResolvers<void>();
  readonly #metrics: ServerMetrics | null;
  readonly #readCounts: ReadCounts = { bytesRead: 0, reads: 0, throttledReads: 0 };
  /** What each front end counts (with --metrics). */
  readonly #counters = new Map<FrontEnd, FrontCounters>();

  constructor(listener: Deno.Listener, options: ServeOptions) {
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
      onError: (message) => this.#log.event({ event: "error", message }),
      ...options.chat,
      budgets: { v6Prefix: settings.ipv6Prefix, ...options.chat?.budgets },
      history: settings.history,
      maxRooms: settings.maxRooms,
    });
    this.#handshakeWaits = new EqualWaits(settings.handshakeTimeout);
    const proxies = options.web?.trustedProxies ?? [];
    this.#admission = new Admission({
      ...settings,
      bannedBy: (address) => this.chat.bans.match(address),
      // A trusted proxy carries every web client: its connections count only toward the total.
      exempt: proxies.length === 0
        ? undefined
        : (address) => proxies.some((proxy) => cidrContains(proxy, address)),
    });
    const fronts = frontEnds({ irc: options.irc, web: options.web });
    this.#ports = [{ listener, fronts }];
    const everyPort = fronts.filter((front) => front.everyPort);
    for (const front of fronts) {
      if (front.listener) {
        this.#ports.push({ listener: front.listener, fronts: [...everyPort, front] });
      }
    }
    const metrics = this.#metrics = options.metrics ?? null;
    if (metrics) {
      for (const front of fronts) {
        if (front.counted) this.#counters.set(front, metrics.countersOf(front.counted));
      }
      this.#sampleInto(metrics);
    }
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
      for (const session of this.#sessions.keys()) bytes += session.connection.pendingBytes;
      return bytes;
    };
    for (const counted of this.#counters.keys()) {
      metrics.clientsOnline.of[counted.counted!].sample = () => {
        let count = 0;
        for (const [session, front] of this.#sessions) {
          if (session.present !== null && front === counted) count++;
        }
        return count;
      };
    }
  }

  /** Serves until the signal aborts, then shuts down; resolves when all is closed. */
  async run(): Promise<void> {
    // Descriptors in reserve (src/net/accept.ts) from the start to the end.
    const reserve = DescriptorReserve.acquire();
    try {
      await this.#serve();
    } finally {
      reserve.release();
    }
  }

  async #serve(): Promise<void> {
    const log = this.#log;
    const listeners = this.#ports.map((port) => port.listener);
    try {
      // What was kept from before (rooms, topics, bans) is in place before anyone comes.
      for (const problem of await this.chat.load()) log.event({ event: "error", message: problem });
    } catch (error) {
      for (const listener of listeners) closeQuietly(listener);
      throw error;
    }
    for (const port of this.#ports) {
      log.event({
        event: "listening",
        address: port.listener.addr as Deno.NetAddr,
        tls: this.#tls,
        // A front end's own port is named after it (`irc`), though HTTP is served there too.
        protocol: port.fronts.find((front) => front.listener === port.listener)?.name,
      });
    }
    const idleTimeout = this.#settings.idleTimeout;
    const ticker = setInterval(
      () => this.#tick(),
      idleTimeout > 0 ? Math.min(TICK_MS, idleTimeout * 250) : TICK_MS,
    );
    const stop = () => {
      this.#stopAccepting.abort();
      for (const listener of listeners) closeQuietly(listener);
    };
    if (this.#signal?.aborted) stop();
    this.#signal?.addEventListener("abort", stop, { once: true });
    this.#ready.resolve();
    try {
      await Promise.all(this.#ports.map((port) =>
        acceptLoop(port.listener, {
          signal: this.#stopAccepting.signal,
          onConnection: (conn) => void this.#handle(conn, port),
          onError: (message) => log.event({ event: "error", message }),
          onDropped: () => this.#metrics?.refused("out_of_descriptors"),
        })
      ));
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
    this.#firstBytes.stop();
    this.#handshakeWaits.endAll();
    for (const session of this.#sessions.keys()) session.stop("shutdown");
    if (this.#handlers > 0) await new Promise<void>((resolve) => this.#onLastHandler = resolve);
    log.event({ event: "stopped" });
    // The console may not be taking output (a paused terminal, a pipe nobody reads): not forever.
    await settlesWithin(log.sink.flush(), LOG_FLUSH_LIMIT_MS);
  }

  /**
   * One connection, from accept to close. Never throws. On a port shared by
   * several front ends the connection is told apart by its first bytes
   * (SPEC §2): a TLS handshake on a plain port is turned away, the rest go to
   * the front end that recognises them, or to the port's fallback.
   */
  async #handle(conn: Deno.Conn, port: Port): Promise<void> {
    const peer = peerOf(conn.remoteAddr);
    // A new connection: while they keep coming, the server is not done with a burst.
    this.#firstBytes.progress++;
    this.#handlers++;
    this.#joining.add(conn);
    if (this.#metrics) this.#metrics.connectionsAccepted.value++;
    const refusal = this.#admission.admit(peer.hostname);
    let started = false;
    const fallback = port.fronts[port.fronts.length - 1];
    try {
      configure(conn);
      if (refusal) return await this.#refuse(conn, peer, refusal, fallback);
      if (!(await this.#handshake(conn, peer))) return;
      const connection = new Connection(conn, peer, {
        limits: this.#limits,
        scheduler: this.#scheduler,
        counts: this.#readCounts,
      });
      let front = fallback;
      let first: Uint8Array = new Uint8Array(0);
      if (port.fronts.length > 1) {
        first = await connection.peek(this.#sniffWaits.wait(), (bytes) => {
          // First bytes delivered: while they keep coming, the server is not done with them.
          this.#firstBytes.progress++;
          return decided(bytes, port);
        });
        const sniffed = classify(first, port.fronts);
        if (sniffed === "tls") return await this.#tlsOnPlainPort(conn, peer);
        if (sniffed !== "undecided") front = sniffed;
      }
      connection.farewell = front.refusal;
      const served = front.serve(connection, {
        chat: this.chat,
        log: this.#log,
        maxLine: this.#limits.maxLine,
        idleTimeout: this.#settings.idleTimeout,
        counters: this.#counters.get(front),
        onEnd: this.#sessionEnded,
      }, first);
      if (isTurnedAway(served)) return await this.#turnedAway(connection, peer, served);
      this.#joining.delete(conn);
      this.#sessions.set(served, front);
      // From here the session owns the connection and reports its end: this frame is done.
      started = true;
      await served.start();
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
  async #refuse(conn: Deno.Conn, peer: Peer, refusal: Refusal, front: FrontEnd): Promise<void> {
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
      await writeAll(conn, front.refusal(refusalText(refusal)));
      await conn.closeWrite();
    } catch {
      // the client is already gone; nothing to tell
    } finally {
      closeQuietly(conn);
    }
  }

  /** A TLS client on a plain port: dropped (there is nothing it could read), and logged. */
  #tlsOnPlainPort(conn: Deno.Conn, peer: Peer): void {
    this.#metrics?.refused("tls_on_plain");
    this.#log.event({
      event: "refused",
      peer,
      reason: "TLS client on a plain port",
      online: this.chat.online,
    });
    closeQuietly(conn);
  }

  /** A front end answered a connection and closed it itself (HTTP on the chat port). */
  async #turnedAway(connection: Connection, peer: Peer, how: TurnedAway): Promise<void> {
    this.#metrics?.refused(how.metric);
    this.#log.event({ event: "refused", peer, reason: how.reason, online: this.chat.online });
    await connection.close();
  }

  /**
   * A TLS connection joins once its handshake is done; a plaintext client on a
   * TLS port fails it and is dropped, and so is one that has not finished it
   * within the handshake timeout. Closing the connection does not end a
   * handshake under way in Deno 2.9 (its socket stays open until the peer
   * closes), so the socket is shut down underneath (src/net/socket_shutdown.ts);
   * where that cannot be done (no FFI, not Linux) a stalled handshake keeps
   * its slot until its peer goes away, as before, and that is said once.
   */
  async #handshake(conn: Deno.Conn, peer: Peer): Promise<boolean> {
    if (!("handshake" in conn)) return true;
    const finished = (conn as Deno.TlsConn).handshake().then(
      () => null,
      (error: unknown) => ({ error }),
    );
    let outcome: { error: unknown } | null | typeof TIMED_OUT = await Promise.race([
      finished,
      this.#handshakeWaits.wait().then((): typeof TIMED_OUT => TIMED_OUT),
    ]);
    let why = "";
    if (outcome === TIMED_OUT && !this.#stopAccepting.signal.aborted) {
      const sockets = SocketShutdown.shared();
      if (await sockets.shutDown(conn)) {
        why = `TLS handshake timed out after ${this.#settings.handshakeTimeout / 1000} s`;
      } else if (!sockets.available && !this.#warnedNoShutdown) {
        this.#warnedNoShutdown = true;
        this.#log.event({
          event: "error",
          message: `a TLS handshake took over ${this.#settings.handshakeTimeout / 1000} s and ` +
            `cannot be cut off: ${sockets.unavailableBecause}; such connections keep their ` +
            `slots until their peers leave`,
        });
      }
    }
    if (outcome === TIMED_OUT) outcome = await finished;
    if (outcome === null) return true;
    if (!this.#stopAccepting.signal.aborted) {
      this.#metrics?.refused("tls_handshake");
      this.#log.event({
        event: "refused",
        peer,
        reason: why || `TLS handshake failed: ${errorText(outcome.error)}`,
        online: this.chat.online,
      });
    }
    closeQuietly(conn);
    return false;
  }

  /** The clock every session keeps time by (idle timeouts, IRC's PING). */
  #tick(): void {
    const now = Date.now();
    for (const session of this.#sessions.keys()) session.tick(now);
  }
}

/** How often sessions are ticked (ms). */
const TICK_MS = 1000;

/** What a handshake deadline resolves to. */
const TIMED_OUT: unique symbol = Symbol("timed out");

function isTurnedAway(served: Session | TurnedAway): served is TurnedAway {
  return "kind" in served && served.kind === "turned-away";
}

/** Whether the first bytes tell what a connection is (else wait for more, up to the deadline). */
function decided(bytes: Uint8Array, port: Port): boolean {
  return bytes.length > 0 && classify(bytes, port.fronts) !== "undecided";
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
