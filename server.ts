/**
 * The parley server: an accept loop that admits connections and runs one
 * {@linkcode Session} per client, plus the limits that keep it fair and the
 * shutdown that ends it politely.
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
 * @module
 */

import { encodeLine, Hub } from "./src/hub.ts";
import { formatPeer, type Logger, type Peer, peerOf } from "./src/log.ts";
import { formatError, formatNotice } from "./src/protocol.ts";
import { Session } from "./src/session.ts";

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
}

/**
 * V8 flags the server is meant to run with (the `server`, `install` and
 * `compile` tasks pass them). A young generation of at most 8 MiB per
 * semi-space keeps 10,000 connections near 150 MiB instead of ~175 MiB: the
 * default lets it grow to 16 MiB per semi-space during a burst of connects and
 * keeps it. Measured throughput and latency are the same either way.
 */
export const SERVER_V8_FLAGS = "--max-semi-space-size=8";

/** The defaults of every limit. */
export const SERVER_DEFAULTS = {
  maxLine: 4096,
  maxClients: 10_000,
  maxPerIp: 32,
  rate: 10,
  burst: 20,
  sendQueue: 1024 * 1024,
  idleTimeout: 0,
  history: 50,
  maxRooms: 1000,
  closeGrace: 2000,
} as const;

/** A running server. */
export interface Server {
  /** The address it listens on (the real port when asked for port 0). */
  readonly addr: Deno.NetAddr;
  /** Clients connected now. */
  readonly online: number;
  /** Resolves when the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
}

const ACCEPT_BACKOFF_MIN = 5;
const LOG_FLUSH_LIMIT_MS = 1000;
const ACCEPT_BACKOFF_MAX = 1000;

/**
 * Serves chat on a bound listener until `options.signal` aborts. The caller
 * owns binding (so tests can use port 0); the server owns the listener after.
 */
export function serve(listener: Deno.Listener, options: ServeOptions): Server {
  const settings = { ...SERVER_DEFAULTS, ...withoutUndefined(options) };
  const { log, signal } = options;
  const hub = new Hub<Session>({ history: settings.history, maxRooms: settings.maxRooms });
  const context = {
    hub,
    log,
    limits: {
      maxLine: settings.maxLine,
      rate: settings.rate,
      burst: settings.burst,
      sendQueue: settings.sendQueue,
      closeGrace: settings.closeGrace,
    },
  };
  /** Connections per address, counted from accept to close (refused ones too, while open). */
  const perAddress = new Map<string, number>();
  /** Connections not yet in a session (TLS handshake, being refused): closed at shutdown. */
  const joining = new Set<Deno.Conn>();
  /** Connections from accept until their handler is done (refused and handshaking ones too). */
  let connections = 0;
  /** Set during shutdown: called when the last handler is done. */
  let onLastConnectionGone: (() => void) | null = null;
  const addr = listener.addr as Deno.NetAddr;
  const stopAccepting = new AbortController();

  async function acceptLoop(): Promise<void> {
    let backoff = 0;
    while (!stopAccepting.signal.aborted) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        backoff = 0;
      } catch (error) {
        if (stopAccepting.signal.aborted || error instanceof Deno.errors.BadResource) return;
        // One connection that died while it waited to be accepted: nothing to wait for.
        if (isConnectionGone(error)) continue;
        // Out of descriptors and friends: the iterator form would end here; keep serving.
        backoff = Math.min(Math.max(backoff * 2, ACCEPT_BACKOFF_MIN), ACCEPT_BACKOFF_MAX);
        log.error(`accept failed: ${errorText(error)}; retrying in ${backoff} ms`);
        await sleep(backoff, stopAccepting.signal);
        continue;
      }
      // Nothing per connection to track it by: its handler counts itself in `connections`.
      void handle(conn);
    }
  }

  /** One connection, from accept to close. Never throws. */
  async function handle(conn: Deno.Conn): Promise<void> {
    const peer = peerOf(conn.remoteAddr);
    joining.add(conn);
    connections++;
    const fromAddress = (perAddress.get(peer.hostname) ?? 0) + 1;
    perAddress.set(peer.hostname, fromAddress);
    try {
      configure(conn);
      if (connections > settings.maxClients) {
        return await refuse(
          conn,
          peer,
          `server full (${settings.maxClients} clients); try again later`,
        );
      }
      if (settings.maxPerIp > 0 && fromAddress > settings.maxPerIp) {
        return await refuse(
          conn,
          peer,
          `too many connections from ${peer.hostname} (at most ${settings.maxPerIp})`,
        );
      }
      if (!(await handshake(conn, peer))) return;
      joining.delete(conn);
      await new Session(conn, peer, context).run();
    } catch (error) {
      // A bug, not the client: it costs this connection, never the server.
      log.error(`connection from ${formatPeer(peer)} failed: ${errorText(error)}`);
      closeQuietly(conn);
    } finally {
      joining.delete(conn);
      connections--;
      const left = perAddress.get(peer.hostname)! - 1;
      if (left === 0) perAddress.delete(peer.hostname);
      else perAddress.set(peer.hostname, left);
      if (connections === 0) onLastConnectionGone?.();
    }
  }

  /** Tells a client why it cannot join, logs it, and closes. */
  async function refuse(conn: Deno.Conn, peer: Peer, reason: string): Promise<void> {
    log.refused(peer, reason, hub.online);
    try {
      await conn.write(encodeLine(formatError(reason)));
      await conn.closeWrite();
    } catch {
      // the client is already gone; nothing to tell
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
  async function handshake(conn: Deno.Conn, peer: Peer): Promise<boolean> {
    if (!("handshake" in conn)) return true;
    try {
      await (conn as Deno.TlsConn).handshake();
      return true;
    } catch (error) {
      if (!stopAccepting.signal.aborted) {
        log.refused(peer, `TLS handshake failed: ${errorText(error)}`, hub.online);
      }
      closeQuietly(conn);
      return false;
    }
  }

  function sweepIdle(): void {
    const cutoff = Date.now() - settings.idleTimeout * 1000;
    for (const session of hub.members()) {
      if (session.lastActive < cutoff) {
        session.end("idle", "", formatNotice(`disconnected: idle for ${settings.idleTimeout} s`));
      }
    }
  }

  async function run(): Promise<void> {
    log.listening(addr, options.tls ?? false);
    const idleTimer = settings.idleTimeout > 0
      ? setInterval(sweepIdle, Math.min(1000, settings.idleTimeout * 250))
      : undefined;
    const stop = () => {
      stopAccepting.abort();
      closeQuietly(listener);
    };
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      await acceptLoop();
    } finally {
      stop();
      clearInterval(idleTimer);
      signal?.removeEventListener("abort", stop);
    }
    log.shutdown(reasonText(signal?.reason), hub.online);
    for (const conn of joining) closeQuietly(conn);
    for (const session of [...hub.members()]) {
      session.end("shutdown", "", formatNotice("server shutting down"));
    }
    if (connections > 0) await new Promise<void>((resolve) => onLastConnectionGone = resolve);
    log.stopped();
    // The console may not be taking output (a paused terminal, a pipe nobody reads): not forever.
    await withinTime(log.sink.flush(), LOG_FLUSH_LIMIT_MS);
  }

  return {
    addr,
    get online() {
      return hub.online;
    },
    finished: run(),
  };
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

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

function isConnectionGone(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.NotConnected;
}

/** Waits for `promise`, or `ms` milliseconds, whichever comes first. */
async function withinTime(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function reasonText(reason: unknown): string {
  if (reason === undefined) return "stopped";
  return typeof reason === "string"
    ? reason
    : reason instanceof Error
    ? reason.message
    : String(reason);
}

function withoutUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
