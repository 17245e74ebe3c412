/**
 * Metrics: what the server counts while it runs, and the `--metrics HOST:PORT`
 * endpoint that shows it to Prometheus (SPEC §11).
 *
 * ```ts
 * import process from "node:process";
 *
 * // cpuUsage feeds process_cpu_seconds_total (left out without it).
 * const metrics = new ServerMetrics({ version: "0.1.0", cpuUsage: () => process.cpuUsage() });
 * metrics.connectionsAccepted.inc(); // on the hot path: a property increment, nothing more
 * const controller = new AbortController();
 * const endpoint = serveMetrics({ hostname: "127.0.0.1", port: 9100 }, metrics, {
 *   signal: controller.signal,
 * });
 * // … later
 * controller.abort();
 * await endpoint.finished;
 * ```
 *
 * Counting costs nothing worth measuring: every series is an object created
 * when its family is registered ({@linkcode Counter}, {@linkcode Gauge}), and
 * whoever counts holds it and adds to its `value`. No name, label or map is
 * touched until a scrape, when {@linkcode MetricsRegistry.render} writes the
 * Prometheus text exposition format (0.0.4) from headers and series names
 * built at registration. A gauge whose truth lives elsewhere (bytes queued
 * across every client) is read by a callback at scrape time instead.
 *
 * @module
 */

import { CommandError } from "./errors.ts";
import { errorText } from "./errors.ts";
import { acceptLoop, DescriptorReserve } from "./net/accept.ts";
import {
  HttpHeadReader,
  type HttpHeadResult,
  type HttpRequestHead,
  httpResponse,
} from "./net/http.ts";
import { closeQuietly, writeAll } from "./net/io.ts";
import { formatPeer } from "./net/peer.ts";

/** The content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * One series' number. `sample`, when set, is read at scrape time instead of
 * `value`: for numbers kept by their owner (a byte count in the writer, the
 * bytes queued across all clients).
 */
abstract class Series {
  /** The number as counted; the hot path adds to it directly. */
  value = 0;
  /** Read at scrape time instead of `value` when set. */
  sample: (() => number) | null = null;

  /** The number a scrape shows. */
  read(): number {
    return this.sample === null ? this.value : this.sample();
  }
}

/** A number that only goes up (a count since the server started). */
export class Counter extends Series {
  /** Adds `by` (1 by default). */
  inc(by = 1): void {
    this.value += by;
  }
}

/** A number that goes up and down (clients online, bytes queued). */
export class Gauge extends Series {
  /** Sets the value. */
  set(value: number): void {
    this.value = value;
  }

  /** Adds `by` (1 by default). */
  inc(by = 1): void {
    this.value += by;
  }

  /** Takes away `by` (1 by default). */
  dec(by = 1): void {
    this.value -= by;
  }
}

/** A family's one label and the values it is known to take (each shown from the start, as 0). */
export interface LabelSet<V extends string> {
  /** The label's name, as `frontend` in `clients_online{frontend="irc"}`. */
  name: string;
  /** Its values; more may be added later with {@linkcode Family.labels}. */
  values: readonly V[];
}

/**
 * The series of one labelled metric, one per label value. `of` holds the
 * declared ones, to be taken once and kept (`const online = family.of.line`);
 * {@linkcode labels} finds or adds one by value, for paths that run once per
 * connection rather than once per message.
 */
export class Family<S extends Counter | Gauge, V extends string> {
  /** The series of each declared label value. */
  readonly of: Readonly<Record<V, S>>;
  readonly #entry: Entry;
  readonly #make: () => S;

  /** @internal Created by {@linkcode MetricsRegistry.counter} and {@linkcode MetricsRegistry.gauge}. */
  constructor(entry: Entry, label: LabelSet<V>, make: () => S) {
    this.#entry = entry;
    this.#make = make;
    const of = {} as Record<V, S>;
    for (const value of label.values) {
      if (Object.hasOwn(of, value)) {
        throw new TypeError(`metric ${entry.name}: label value "${value}" given twice`);
      }
      of[value] = this.#add(value);
    }
    this.of = of;
  }

  /** The series for label value `value`, added (from 0) if it is not there yet. */
  labels(value: string): S {
    const known = this.#entry.byValue.get(value);
    return known === undefined ? this.#add(value) : known as S;
  }

  #add(value: string): S {
    const entry = this.#entry;
    const series = this.#make();
    entry.series.push({
      prefix: `${entry.name}{${entry.labelName}="${escapeLabelValue(value)}"} `,
      series,
    });
    entry.byValue.set(value, series);
    return series;
  }
}

/** A registered family as rendered: its header and its series, each with its name and labels. */
interface Entry {
  name: string;
  header: string;
  labelName: string;
  series: { prefix: string; series: Series }[];
  byValue: Map<string, Series>;
}

/** What {@linkcode serveMetrics} shows: anything that renders the text format. */
export interface MetricsSource {
  /** The exposition text, ending with a newline. */
  render(): string;
}

/**
 * Metric families by name, in the order they were registered, and their
 * rendering in the Prometheus text format. Names are checked when they are
 * registered (valid, unique, counters ending in `_total`), so rendering
 * cannot produce what Prometheus refuses.
 */
export class MetricsRegistry implements MetricsSource {
  readonly #entries: Entry[] = [];
  readonly #names = new Set<string>();

  /** A counter without labels (`name` ends in `_total`). */
  counter(name: string, help: string): Counter;
  /** A counter with one label, a series per value. */
  counter<V extends string>(name: string, help: string, label: LabelSet<V>): Family<Counter, V>;
  counter<V extends string>(
    name: string,
    help: string,
    label?: LabelSet<V>,
  ): Counter | Family<Counter, V> {
    if (!name.endsWith("_total")) {
      throw new TypeError(`metric ${name}: a counter's name ends in _total`);
    }
    return this.#register(name, help, "counter", label, () => new Counter());
  }

  /** A gauge without labels. */
  gauge(name: string, help: string): Gauge;
  /** A gauge with one label, a series per value. */
  gauge<V extends string>(name: string, help: string, label: LabelSet<V>): Family<Gauge, V>;
  gauge<V extends string>(
    name: string,
    help: string,
    label?: LabelSet<V>,
  ): Gauge | Family<Gauge, V> {
    return this.#register(name, help, "gauge", label, () => new Gauge());
  }

  /**
   * Every family in the text exposition format: `# HELP`, `# TYPE`, then its
   * series, one family after another, ending with a newline. A `sample`
   * callback that throws fails the whole rendering (a scrape answers 500
   * rather than a partial page).
   */
  render(): string {
    let text = "";
    for (const entry of this.#entries) {
      text += entry.header;
      for (const { prefix, series } of entry.series) {
        text += prefix + formatValue(series.read()) + "\n";
      }
    }
    return text;
  }

  #register<S extends Counter | Gauge, V extends string>(
    name: string,
    help: string,
    type: "counter" | "gauge",
    label: LabelSet<V> | undefined,
    make: () => S,
  ): S | Family<S, V> {
    if (!METRIC_NAME.test(name)) throw new TypeError(`metric name "${name}" is not valid`);
    if (this.#names.has(name)) throw new TypeError(`metric ${name} is registered twice`);
    if (label && (!LABEL_NAME.test(label.name) || label.name.startsWith("__"))) {
      throw new TypeError(`metric ${name}: label name "${label.name}" is not valid`);
    }
    const entry: Entry = {
      name,
      header: `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`,
      labelName: label?.name ?? "",
      series: [],
      byValue: new Map(),
    };
    let result: S | Family<S, V>;
    if (label) {
      result = new Family(entry, label, make);
    } else {
      result = make();
      entry.series.push({ prefix: `${name} `, series: result });
    }
    this.#names.add(name);
    this.#entries.push(entry);
    return result;
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value in quotes: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : "\\" + c);
}

/** Help text: backslash and line feed escaped. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/** A sample value as Prometheus reads it (`NaN`, `+Inf`, `-Inf`, or a JavaScript number). */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "+Inf" : "-Inf";
}

/** The front ends a client can be served by. */
export type Frontend = "line" | "irc" | "web";

/** Why a connection was turned away before it joined, as a label value. */
export type RefusedReason =
  | "full"
  | "per_address"
  | "banned"
  | "connect_rate"
  | "tls_on_plain"
  | "http"
  | "tls_handshake"
  | "out_of_descriptors";

/** Why a client left, as a label value (a `QuitReason` with `_` for spaces). */
export type DisconnectLabel =
  | "quit"
  | "closed"
  | "reset"
  | "idle"
  | "send_queue_exceeded"
  | "send_queue_stalled"
  | "input_flood"
  | "shutdown"
  | "error";

const FRONTENDS: readonly Frontend[] = ["line", "irc", "web"];
const REFUSED_REASONS: readonly RefusedReason[] = [
  "full",
  "per_address",
  "banned",
  "connect_rate",
  "tls_on_plain",
  "http",
  "tls_handshake",
  "out_of_descriptors",
];
const DISCONNECT_LABELS: readonly DisconnectLabel[] = [
  "quit",
  "closed",
  "reset",
  "idle",
  "send_queue_exceeded",
  "send_queue_stalled",
  "input_flood",
  "shutdown",
  "error",
];

/** What a front end's sessions count as they carry out what clients say. */
export interface FrontCounters {
  /** Room messages and actions received. */
  readonly messages: Counter;
  /** Private messages sent (one per recipient). */
  readonly privateMessages: Counter;
}

/** What {@linkcode ServerMetrics} is told when it is created. */
export interface ServerMetricsOptions {
  /** The program's version, for `parley_info`. */
  version: string;
  /** The server is part of a cluster: `parley_cluster_link_up` is shown. */
  clustered?: boolean;
  /**
   * The process's CPU time so far, in µs (`process.cpuUsage` of `node:process`), for
   * `process_cpu_seconds_total`; without it that series is left out. The caller loads
   * `node:process` only when the metrics are served (it costs memory).
   */
  cpuUsage?: () => { user: number; system: number };
}

/**
 * Everything a parley server counts, each series ready to be held by whoever
 * counts it. Create one per server, whether or not `--metrics` is given
 * (counting is that cheap); serve it with {@linkcode serveMetrics}.
 */
export class ServerMetrics implements MetricsSource {
  readonly registry: MetricsRegistry = new MetricsRegistry();
  /** Clients in the chat now (connected and past registration), per front end. */
  readonly clientsOnline: Family<Gauge, Frontend>;
  /** TCP connections accepted, whatever became of them. */
  readonly connectionsAccepted: Counter;
  /** Connections turned away before they joined, per reason. */
  readonly connectionsRefused: Family<Counter, RefusedReason>;
  /** Room messages and actions received, per front end. */
  readonly messagesReceived: Family<Counter, Frontend>;
  /** Private messages sent (one per recipient). */
  readonly privateMessages: Counter;
  /** Message copies queued to receivers. */
  readonly deliveries: Counter;
  /** Bytes read from clients. */
  readonly bytesReceived: Counter;
  /** Bytes written to clients. */
  readonly bytesSent: Counter;
  /** Clients that left, per reason. */
  readonly disconnects: Family<Counter, DisconnectLabel>;
  /** Bytes queued for clients and not yet written: give it a `sample` callback. */
  readonly sendQueueBytes: Gauge;
  /** Times a client's reading was paused because it ran out of flood-control tokens. */
  readonly floodThrottledReads: Counter;
  /** 1 while the cluster link is up, 0 while it is down; null when not clustered. */
  readonly clusterLinkUp: Gauge | null;

  constructor(options: ServerMetricsOptions) {
    const r = this.registry;
    r.gauge("parley_info", "The parley server's version (the value is always 1).", {
      name: "version",
      values: [options.version],
    }).of[options.version].set(1);
    this.clientsOnline = r.gauge(
      "parley_clients_online",
      "Clients in the chat now, per front end.",
      { name: "frontend", values: FRONTENDS },
    );
    this.connectionsAccepted = r.counter(
      "parley_connections_accepted_total",
      "TCP connections accepted, including those then refused.",
    );
    this.connectionsRefused = r.counter(
      "parley_connections_refused_total",
      "Connections turned away before they joined, per reason.",
      { name: "reason", values: REFUSED_REASONS },
    );
    this.messagesReceived = r.counter(
      "parley_messages_received_total",
      "Room messages and actions received from clients, per front end.",
      { name: "frontend", values: FRONTENDS },
    );
    this.privateMessages = r.counter(
      "parley_private_messages_total",
      "Private messages sent, one per recipient.",
    );
    this.deliveries = r.counter(
      "parley_deliveries_total",
      "Message copies queued to receivers.",
    );
    this.bytesReceived = r.counter(
      "parley_bytes_received_total",
      "Bytes read from clients.",
    );
    this.bytesSent = r.counter("parley_bytes_sent_total", "Bytes written to clients.");
    this.disconnects = r.counter(
      "parley_disconnects_total",
      "Clients that left the chat, per reason.",
      { name: "reason", values: DISCONNECT_LABELS },
    );
    this.sendQueueBytes = r.gauge(
      "parley_send_queue_bytes",
      "Bytes queued for clients and not yet written, across all clients.",
    );
    this.floodThrottledReads = r.counter(
      "parley_flood_throttled_reads_total",
      "Times reading a client was paused until its flood-control budget refilled.",
    );
    this.clusterLinkUp = options.clustered
      ? r.gauge("parley_cluster_link_up", "1 while the link to the cluster is up, else 0.")
      : null;
    registerProcessMetrics(r, options.cpuUsage);
  }

  /**
   * Counts a refusal by its code (`per-address` counts as `per_address`). For
   * the accept path, once per connection: it finds the series by name.
   */
  refused(code: string): void {
    this.connectionsRefused.labels(labelOf(code)).value++;
  }

  /**
   * Counts a client's leaving by its `QuitReason` (`send queue exceeded`
   * counts as `send_queue_exceeded`); once per connection, like {@linkcode refused}.
   */
  disconnected(reason: string): void {
    this.disconnects.labels(labelOf(reason)).value++;
  }

  /** The counters of one front end's sessions. */
  countersOf(frontend: Frontend): FrontCounters {
    return { messages: this.messagesReceived.of[frontend], privateMessages: this.privateMessages };
  }

  /** The exposition text. */
  render(): string {
    return this.registry.render();
  }
}

/** `send queue exceeded` → `send_queue_exceeded`, `per-address` → `per_address`. */
function labelOf(reason: string): string {
  return reason.replace(/[ -]/g, "_");
}

/** The process's own figures, by the names every Prometheus client library uses. */
function registerProcessMetrics(
  r: MetricsRegistry,
  cpuUsage: ServerMetricsOptions["cpuUsage"],
): void {
  r.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").sample = () =>
    Deno.memoryUsage().rss;
  if (cpuUsage) {
    r.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
      .sample = () => {
        const { user, system } = cpuUsage();
        return (user + system) / 1e6;
      };
  }
  // When this runtime started, which is when the process started, to the millisecond or so.
  r.gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
  ).set(Math.round(performance.timeOrigin) / 1000);
}

/** `--metrics` could not listen: the caller prints its message as one line and exits 1. */
export class MetricsListenError extends CommandError {
  override name = "MetricsListenError";
}

/** What {@linkcode serveMetrics} is told. */
export interface ServeMetricsOptions {
  /** Aborting it stops the endpoint. */
  signal: AbortSignal;
  /** Called once the endpoint listens, with its real address (port 0 picks one). */
  onListening?: (addr: Deno.NetAddr) => void;
  /**
   * Called when a scrape fails (a sample callback threw: it is answered with 500) and
   * when accepting fails (out of descriptors, …: retried).
   */
  onError?: (message: string) => void;
}

/** A running metrics endpoint. */
export interface MetricsEndpoint {
  /** Resolves once the endpoint has stopped. */
  readonly finished: Promise<void>;
  /** The address it listens on. */
  readonly addr: Deno.NetAddr;
}

/** Connections open at once; one more closes the oldest. */
export const METRICS_MAX_CONNECTIONS = 64;
/** How long a scraper has to send its request head (ms). */
export const METRICS_READ_DEADLINE_MS = 5000;
/** The longest request head read (bytes). */
const METRICS_MAX_HEAD = 4096;

/**
 * Serves `metrics` over HTTP at `address` until `options.signal` aborts:
 * `GET /metrics` (and `HEAD`) answers the exposition text, `/` says where it
 * is, other paths are 404 and other methods 405. The caller gives it its own
 * address, never the chat port. Throws {@linkcode MetricsListenError} when it
 * cannot listen (the port is in use, …).
 *
 * It runs on parley's own accept loop (`net/accept.ts`: back-off, descriptors
 * in reserve) and answers with parley's own HTTP reader (`net/http.ts`), one
 * request per connection (`Connection: close`): `Deno.serve` ended the
 * process when its accept ran out of descriptors (issue 18). Each connection
 * has {@linkcode METRICS_READ_DEADLINE_MS} to send a head of at most 4 KiB,
 * and at most {@linkcode METRICS_MAX_CONNECTIONS} are open at once: one more
 * closes the oldest, so that idle connections held open cannot lock a
 * scraper out.
 */
export function serveMetrics(
  address: { hostname: string; port: number },
  metrics: MetricsSource,
  options: ServeMetricsOptions,
): MetricsEndpoint {
  const { signal, onListening, onError } = options;
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: address.hostname, port: address.port });
  } catch (error) {
    throw new MetricsListenError(
      `cannot listen on ${formatPeer(address)} for --metrics: ${listenProblem(error)}`,
    );
  }
  const addr = listener.addr as Deno.NetAddr;
  onListening?.(addr);
  // Descriptors in reserve (net/accept.ts) from the start to the end.
  const reserve = DescriptorReserve.acquire();
  const open = new Set<Deno.Conn>();
  const scrapes = new Set<Promise<void>>();
  const stop = () => {
    closeQuietly(listener);
    for (const conn of open) closeQuietly(conn);
  };
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  const report = (message: string) => onError?.(message);
  const finished = (async () => {
    await acceptLoop(listener, {
      signal,
      onError: (message) => report(`metrics endpoint: ${message}`),
      onConnection: (conn) => {
        if (signal.aborted) return closeQuietly(conn);
        // Full: the oldest goes, not the newest. A scraper sends its request at once and is
        // answered in a moment; what lingers is someone holding connections open.
        if (open.size >= METRICS_MAX_CONNECTIONS) {
          const oldest = open.values().next().value!;
          open.delete(oldest);
          closeQuietly(oldest);
        }
        open.add(conn);
        const scrape = answerScrape(conn, metrics, report).finally(() => {
          open.delete(conn);
          closeQuietly(conn);
          scrapes.delete(scrape);
        });
        scrapes.add(scrape);
      },
    });
    stop();
    await Promise.all(scrapes);
    reserve.release();
  })();
  return { finished, addr };
}

const EMPTY_BYTES = new Uint8Array(0);

/** One connection: its request head (with a deadline), the answer, a polite close. Never throws. */
async function answerScrape(
  conn: Deno.Conn,
  metrics: MetricsSource,
  report: (message: string) => void,
): Promise<void> {
  const deadline = setTimeout(() => closeQuietly(conn), METRICS_READ_DEADLINE_MS);
  try {
    const reader = new HttpHeadReader({ maxBytes: METRICS_MAX_HEAD });
    const buffer = new Uint8Array(1024);
    let result: HttpHeadResult = { kind: "more" };
    while (result.kind === "more") {
      const count = await conn.read(buffer);
      if (count === null) return;
      result = reader.push(count === 0 ? EMPTY_BYTES : buffer.subarray(0, count));
    }
    clearTimeout(deadline);
    const response = result.kind === "error"
      ? plain(result.status, `${result.reason}\n`)
      : answer(result.head, metrics, report);
    await writeAll(conn, response);
    await conn.closeWrite().catch(() => {});
  } catch {
    // the scraper went away, or the deadline closed it: nothing to answer
  } finally {
    clearTimeout(deadline);
  }
}

/** The answer to one request head, as bytes (`Connection: close`). */
function answer(
  head: HttpRequestHead,
  metrics: MetricsSource,
  report: (message: string) => void,
): Uint8Array {
  const query = head.target.indexOf("?");
  const path = query === -1 ? head.target : head.target.slice(0, query);
  const isHead = head.method === "HEAD";
  if (path !== "/metrics" && path !== "/") {
    return plain(404, "not found: try /metrics\n", {}, isHead);
  }
  if (head.method !== "GET" && !isHead) {
    return plain(405, `method ${head.method} not allowed: use GET\n`, { allow: "GET, HEAD" });
  }
  if (path === "/") {
    return plain(200, "parley metrics: GET /metrics (Prometheus text format)\n", {}, isHead);
  }
  let text: string;
  try {
    text = metrics.render();
  } catch (error) {
    report(`metrics scrape failed: ${errorText(error)}`);
    return plain(500, "metrics could not be collected\n", {}, isHead);
  }
  return httpResponse(200, {
    headers: {
      "Content-Type": METRICS_CONTENT_TYPE,
      "Cache-Control": "no-store",
      "Connection": "close",
    },
    body: text,
    head: isHead,
  });
}

function plain(
  status: number,
  text: string,
  headers: Record<string, string> = {},
  head = false,
): Uint8Array {
  return httpResponse(status, {
    headers: { "Content-Type": "text/plain; charset=utf-8", "Connection": "close", ...headers },
    body: text,
    head,
  });
}

/** Why listening failed, in the words of the server's other listeners. */
function listenProblem(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address already in use";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need privileges)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) return "no such address on this machine";
  return errorText(error);
}
