/**
 * How the bench opens its client connections: many at once without overrunning
 * the server, and from more loopback addresses than 127.0.0.1 when one address
 * runs short of ephemeral ports.
 *
 * **The window rule** (every scenario but the storm). A connection is *in
 * flight* from its `connect()` until the server greets it (its first bytes
 * arrive), closes it, or it has waited {@linkcode GREETING_WAIT}. How many may
 * be in flight depends on D, the shortest greeting wait seen so far
 * ({@linkcode GreetingWindow}):
 *
 * - D under 10 ms: the server greets as it accepts (ncat, a parley that does
 *   not wait for first bytes). At most 8 are in flight, fewer than ncat's listen
 *   queue of 10, so its queue never overflows (an overflow drops the SYN and
 *   costs a second-long retransmit).
 * - D of 10 ms or more: the server waits on purpose before it greets (parley
 *   classifies a connection by its first bytes, up to 250 ms). Its listen queue
 *   is not where those connections wait, so 8 at a time would only measure the
 *   delay (10,000 × 250 ms / 8 = 5 min). The window is then 8 plus twice the
 *   greetings of the last D (of the last 100 ms, scaled, when D is shorter):
 *   the number the server proved it can take in one greeting delay, doubled to
 *   grow as TCP's slow start does. A server that falls behind greets fewer, and
 *   the window shrinks with it.
 * - Nobody greeted within 2 s: the server is silent by design; a connection is
 *   in flight only until `connect()` returns.
 *
 * A growing window alone would park its surplus in the server's listen queue
 * whenever the server's accepting pauses (a wave of greetings, a collection),
 * and overflow it. So, for a server on this machine (a loopback address whose
 * listening socket `/proc/net/tcp` shows), no connect starts while its listen
 * queue holds {@linkcode LISTEN_QUEUE_LIMIT} connections not yet accepted:
 * the kernel's own count, read at most every millisecond. Never more than
 * {@linkcode MAX_PENDING_CONNECTS} `connect()` calls are pending at once.
 *
 * **The storm rule**: no window and no look at the listen queue, only the cap
 * on pending `connect()` calls: clients connect as fast as the kernel
 * completes their handshakes, and the greetings come when they come. A server
 * that does not accept as fast has its listen queue overflow, which shows as
 * slow connects (a dropped SYN is sent again a second later).
 *
 * **Source addresses.** Every connection to one server address needs its own
 * local port. One source address takes at most {@linkcode PORT_SHARE} of the
 * ephemeral port range (other programs on the machine need ports too); beyond
 * that, or when the kernel has no port left (EADDRNOTAVAIL), connections come
 * from 127.0.0.2, 127.0.0.3, … `Deno.connect` cannot bind a source address, so
 * those go through `node:net` (loaded only then), behind the same
 * {@linkcode BenchConn} interface.
 *
 * @module
 */

import { LatencyHistogram } from "./histogram.ts";
import { errorText } from "../errors.ts";
import { closeQuietly } from "../net/io.ts";

/** A client connection as the bench uses it: a `Deno.TcpConn`, or a `node:net` socket. */
export interface BenchConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  readonly localAddr: Deno.NetAddr;
}

/** How connections are paced: by the window rule, or all at once (see the module documentation). */
export type ConnectMode = "window" | "storm";

/** The fewest connections that may be in flight at once. */
export const BASE_WINDOW = 8;
/** A shortest greeting wait below this means the server greets as it accepts (ms). */
export const DELIBERATE_DELAY = 10;
/** Greetings are counted over at least this long, so that ones read in the same tick do not swell the window (ms). */
const RATE_INTERVAL = 100;
/** The window grows to this many times what the server greeted in one greeting delay. */
const GAIN = 2;
/** A connection waiting longer than this for its greeting stops counting as in flight (ms). */
export const GREETING_WAIT = 1_000;
/** A server that greets nobody within this long is taken as silent (ms). */
export const SILENT_GRACE = 2_000;
/** At most this many `connect()` calls are pending at once. */
export const MAX_PENDING_CONNECTS = 256;
/** The share of the ephemeral port range one source address may take. */
export const PORT_SHARE = 0.6;
/** A `connect()` taking longer than this was most likely retransmitted: a listen queue was full (ms). */
export const SLOW_CONNECT = 900;
/** No connect starts while a visible listen queue holds this many connections (ncat's holds 10). */
export const LISTEN_QUEUE_LIMIT = 8;
/** The listen queue is read at most this often (ms). */
const LISTEN_QUEUE_EVERY = 1;

/**
 * The window rule's arithmetic, with time passed in (no sockets, no clock):
 * how many connections may be in flight, given the greetings so far.
 */
export class GreetingWindow {
  #shortest = Infinity;
  /** When each greeting arrived, in order (ms). */
  readonly #times: number[] = [];
  /** Index of the first greeting still inside the counting interval. */
  #first = 0;

  /** The shortest greeting wait seen (ms); Infinity before any. */
  get shortestWait(): number {
    return this.#shortest;
  }

  /** A greeting arrived at `at` after a wait of `waitMs` since its `connect()`. */
  greeted(at: number, waitMs: number): void {
    if (waitMs < this.#shortest) this.#shortest = waitMs;
    this.#times.push(at);
  }

  /** How many connections may be in flight at `now`. */
  size(now: number): number {
    const delay = this.#shortest;
    // Before any greeting, and for a server that greets as it accepts: the base window.
    if (!Number.isFinite(delay) || delay < DELIBERATE_DELAY) return BASE_WINDOW;
    const interval = Math.max(delay, RATE_INTERVAL);
    const times = this.#times;
    while (this.#first < times.length && times[this.#first] < now - interval) this.#first++;
    const recent = times.length - this.#first;
    return BASE_WINDOW + Math.floor(GAIN * recent * (delay / interval));
  }
}

/** What one call of {@linkcode Connector.open} opens. */
export interface OpenPlan {
  /** Connections to open. */
  count: number;
  /** Index of the first one (indices go on across calls). */
  first?: number;
  mode: ConnectMode;
  /** `performance.now()` after which connecting fails. */
  deadline: number;
  stopping: () => boolean;
  /**
   * Takes a new connection; resolves true when the server has greeted it,
   * false when it was closed first.
   */
  onConnect: (conn: BenchConn, index: number) => Promise<boolean>;
  /** Called with the number connected so far, now and then. */
  onProgress?: (connected: number) => void;
}

/** What the kernel says about ports and sockets, and how connections get their source address. */
export interface ConnectorOptions {
  /** Connections per source address (default: {@linkcode PORT_SHARE} of the ephemeral range). */
  perSource?: number;
}

/** An error that ends connecting: one line for the user. */
export class ConnectError extends Error {
  override name = "ConnectError";
}

/**
 * Opens connections to one server, or round-robin to several on one host (a
 * cluster: connection `i` goes to `ports[i % ports.length]`), keeping count
 * of greetings and source addresses.
 */
export class Connector {
  readonly host: string;
  /** The first (or only) server's port. */
  readonly port: number;
  /** Every server's port, in the order connections are spread over them. */
  readonly ports: readonly number[];
  /** Connect → first byte of every greeted connection (µs). */
  readonly greetingWait: LatencyHistogram = new LatencyHistogram();
  /** `connect()` calls that took longer than {@linkcode SLOW_CONNECT}. */
  slowConnects = 0;
  /** The most connections in flight at once (window rule) or pending (storm). */
  mostInFlight = 0;
  /** Times connecting waited because the server's listen queue was full enough. */
  queueWaits = 0;
  readonly #window = new GreetingWindow();
  readonly #perSource: number;
  /** Connections opened per source address; index 0 is the kernel's choice (127.0.0.1). */
  readonly #perAddress: number[] = [0];
  #source = 0;
  #net: typeof import("node:net") | undefined;
  #everGreeted = false;
  #started = NaN;

  constructor(
    address: { host: string; port: number; ports?: readonly number[] },
    options: ConnectorOptions = {},
  ) {
    this.host = address.host;
    this.ports = address.ports !== undefined && address.ports.length > 0
      ? [...address.ports]
      : [address.port];
    this.port = this.ports[0];
    this.#perSource = options.perSource ?? Math.floor(PORT_SHARE * ephemeralPorts());
  }

  /** The source addresses used so far, with how many connections each. */
  get sources(): { address: string; connections: number }[] {
    return this.#perAddress.map((connections, index) => ({
      address: index === 0 ? "127.0.0.1 (kernel's choice)" : sourceAddress(index),
      connections,
    })).filter((source) => source.connections > 0);
  }

  /** Opens `plan.count` connections; rejects with a {@linkcode ConnectError} if one fails. */
  async open(plan: OpenPlan): Promise<void> {
    if (Number.isNaN(this.#started)) this.#started = performance.now();
    const first = plan.first ?? 0;
    let next = 0;
    let connected = 0;
    let pending = 0;
    let inFlight = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const changed = () => {
      wake?.();
      wake = undefined;
    };
    const storm = plan.mode === "storm";
    const settled: Promise<void>[] = [];
    // Connects that may start before the listen queue is read again; null: not visible.
    const family = this.host.includes(":") ? "ipv6" : "ipv4";
    const watchQueue = !storm && isLoopback(this.host) &&
      this.#mostQueued(family) !== null;
    let queueBudget = 0;
    let queueReadAt = -Infinity;

    const start = (index: number) => {
      pending++;
      if (!storm) inFlight++;
      const startedAt = performance.now();
      let counted = !storm;
      const release = () => {
        if (counted) {
          counted = false;
          inFlight--;
          changed();
        }
      };
      settled.push((async () => {
        let conn: BenchConn;
        try {
          conn = await this.#connect(this.portFor(index));
        } catch (error) {
          failure ??= new ConnectError(
            `cannot connect client ${index + 1} of ${first + plan.count} to ${
              formatAddress(this.host, this.portFor(index))
            }: ${errorText(error)}`,
          );
          pending--;
          changed();
          release();
          return;
        }
        pending--;
        changed();
        const connectMs = performance.now() - startedAt;
        if (connectMs > SLOW_CONNECT) this.slowConnects++;
        if (failure !== undefined || plan.stopping()) {
          closeQuietly(conn);
          release();
          return;
        }
        connected++;
        if (connected % 100 === 0) plan.onProgress?.(connected);
        const greeted = plan.onConnect(conn, index).then((heard) => {
          if (heard) {
            const now = performance.now();
            this.#everGreeted = true;
            this.#window.greeted(now, now - startedAt);
            this.greetingWait.record((now - startedAt) * 1000);
          }
        });
        if (this.#silent()) {
          release();
        } else {
          const timer = setTimeout(release, GREETING_WAIT);
          greeted.finally(() => {
            clearTimeout(timer);
            release();
          });
        }
      })());
    };

    while (next < plan.count) {
      if (failure !== undefined) break;
      if (plan.stopping()) return;
      const now = performance.now();
      if (now > plan.deadline) {
        throw new ConnectError(
          `only ${connected} of ${plan.count} clients connected before the time limit`,
        );
      }
      const limit = storm ? Infinity : this.#silent() ? BASE_WINDOW : this.#window.size(now);
      if (watchQueue && queueBudget <= 0 && now - queueReadAt >= LISTEN_QUEUE_EVERY) {
        queueReadAt = now;
        queueBudget = LISTEN_QUEUE_LIMIT - (this.#mostQueued(family) ?? 0);
        if (queueBudget <= 0) this.queueWaits++;
      }
      if (
        pending < MAX_PENDING_CONNECTS && inFlight < limit && (!watchQueue || queueBudget > 0)
      ) {
        queueBudget--;
        start(first + next++);
        this.mostInFlight = Math.max(this.mostInFlight, storm ? pending : inFlight);
        continue;
      }
      // Wait for a connection to change state, or for time to move the window (or the queue).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, watchQueue && queueBudget <= 0 ? LISTEN_QUEUE_EVERY : 5);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await Promise.all(settled);
    plan.onProgress?.(connected);
    if (failure !== undefined) throw failure;
  }

  /** The port connection `index` goes to. */
  portFor(index: number): number {
    return this.ports[index % this.ports.length];
  }

  /** The fullest listen queue of the servers' ports; null when none shows. */
  #mostQueued(family: "ipv4" | "ipv6"): number | null {
    let most: number | null = null;
    for (const port of this.ports) {
      const queued = listenQueue(port, family);
      if (queued !== null) most = Math.max(most ?? 0, queued);
    }
    return most;
  }

  #silent(): boolean {
    return !this.#everGreeted && performance.now() - this.#started > SILENT_GRACE;
  }

  /** One connection to `port` from the current source address, moving on when it is used up. */
  async #connect(port: number): Promise<BenchConn> {
    for (;;) {
      const source = this.#source;
      if (this.#perAddress[source] >= this.#perSource && this.#canMoveOn()) {
        this.#moveOn(source);
        continue;
      }
      this.#perAddress[source]++;
      try {
        return source === 0 ? await this.#connectDeno(port) : await this.#connectNode(port, source);
      } catch (error) {
        this.#perAddress[source]--;
        if (isOutOfPorts(error) && this.#canMoveOn()) {
          this.#moveOn(source);
          continue;
        }
        throw error;
      }
    }
  }

  /** Other source addresses work only from loopback to an IPv4 loopback server. */
  #canMoveOn(): boolean {
    return /^127\./.test(this.host) && this.#source < 254;
  }

  #moveOn(from: number): void {
    if (this.#source === from) {
      this.#source++;
      this.#perAddress[this.#source] ??= 0;
    }
  }

  async #connectDeno(port: number): Promise<BenchConn> {
    const conn = await Deno.connect({ hostname: this.host, port });
    try {
      conn.setNoDelay(true);
    } catch {
      // reset already: the first read will tell
    }
    return conn;
  }

  async #connectNode(port: number, source: number): Promise<BenchConn> {
    this.#net ??= await import("node:net");
    return await NodeConn.open(this.#net, {
      host: this.host,
      port,
      localAddress: sourceAddress(source),
    });
  }
}

function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === "::1";
}

/**
 * How many connections wait in the listen queue of this machine's listening
 * socket on `port` (accepted by the kernel, not yet by the server), from the
 * head of `/proc/net/tcp` (`tcp6` for IPv6), where listening sockets come
 * first; null when no such socket shows (another machine's server, not Linux).
 * A server listening on `::` for IPv4 too shows in `tcp6` only: not seen here.
 */
export function listenQueue(port: number, family: "ipv4" | "ipv6" = "ipv4"): number | null {
  let queued: number | null = null;
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  // Only the family's file: one with no socket to show walks the kernel's whole table (ms).
  for (const path of [family === "ipv4" ? "/proc/net/tcp" : "/proc/net/tcp6"]) {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path);
    } catch {
      continue;
    }
    try {
      let rest = "";
      let header = true;
      // The kernel makes only what is read: stop at the first socket that is not listening.
      for (let listening = true, read = 0; listening && read < 1024 * 1024;) {
        const count = file.readSync(buffer);
        if (!count) break;
        read += count;
        const lines = (rest + decoder.decode(buffer.subarray(0, count))).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (header) {
            header = false;
            continue;
          }
          const fields = line.trim().split(/\s+/);
          if (fields[3] !== "0A") {
            listening = false;
            break;
          }
          const local = fields[1];
          if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== port) continue;
          // tx_queue:rx_queue; for a listening socket rx_queue is its accept queue.
          const queues = fields[4];
          queued = (queued ?? 0) + Number.parseInt(queues.slice(queues.indexOf(":") + 1), 16);
        }
      }
    } finally {
      file.close();
    }
  }
  return queued;
}

/** The `index`-th extra source address: 127.0.0.2, 127.0.0.3, … */
function sourceAddress(index: number): string {
  return `127.0.0.${index + 1}`;
}

/** How many ephemeral ports the kernel hands out (28,232 on a default Linux). */
export function ephemeralPorts(): number {
  try {
    const [low, high] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range")
      .trim().split(/\s+/).map(Number);
    if (high >= low) return high - low + 1;
  } catch {
    // not Linux
  }
  return 28_232;
}

function isOutOfPorts(error: unknown): boolean {
  return error instanceof Deno.errors.AddrNotAvailable ||
    (error as { code?: string })?.code === "EADDRNOTAVAIL";
}

/** A `node:net` socket behind the {@linkcode BenchConn} interface: reads are queued chunks. */
class NodeConn implements BenchConn {
  readonly localAddr: Deno.NetAddr;
  readonly #socket: import("node:net").Socket;
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  /** Connects; resolves once the socket is open. */
  static open(
    net: typeof import("node:net"),
    options: { host: string; port: number; localAddress: string },
  ): Promise<NodeConn> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(options);
      const failed = (error: Error) => reject(error);
      socket.once("error", failed);
      socket.once("connect", () => {
        socket.off("error", failed);
        socket.setNoDelay(true);
        resolve(new NodeConn(socket));
      });
    });
  }

  private constructor(socket: import("node:net").Socket) {
    this.#socket = socket;
    this.localAddr = {
      transport: "tcp",
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      // Hold back like a socket whose reader is busy: TCP slows the server.
      if (this.#queued > 256 * 1024) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#notify();
    });
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let count = 0;
    while (count < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length, buffer.length - count);
      buffer.set(take === chunk.length ? chunk : chunk.subarray(0, take), count);
      count += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#queued -= count;
    if (this.#queued <= 64 * 1024 && this.#socket.isPaused()) this.#socket.resume();
    return count;
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#error || this.#ended) {
        reject(this.#error ?? new Error("connection closed"));
        return;
      }
      // Resolved once the bytes are handed on, so the caller may reuse its buffer.
      this.#socket.write(bytes, (error?: Error | null) => {
        if (error) reject(error);
        else resolve(bytes.length);
      });
    });
  }

  close(): void {
    this.#ended = true;
    this.#socket.destroy();
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * The TCP state of local sockets, by local port and remote port, from
 * `/proc/net/tcp` and `/proc/net/tcp6`; null when the kernel does not say (not Linux).
 * A socket missing from the map is gone (reset).
 */
export function tcpStates(): Map<string, TcpState> | null {
  const states = new Map<string, TcpState>();
  let read = false;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    read = true;
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4) continue;
      const local = Number.parseInt(fields[1].slice(fields[1].lastIndexOf(":") + 1), 16);
      const remote = Number.parseInt(fields[2].slice(fields[2].lastIndexOf(":") + 1), 16);
      states.set(`${local}:${remote}`, TCP_STATES[Number.parseInt(fields[3], 16)] ?? "other");
    }
  }
  return read ? states : null;
}

/** The states that matter to the bench; the rest are "other". */
export type TcpState = "established" | "close-wait" | "other";

const TCP_STATES: Record<number, TcpState> = { 1: "established", 8: "close-wait" };

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
