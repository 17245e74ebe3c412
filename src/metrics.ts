/**
 * Metrics: what the server counts while it runs ({@linkcode ServerMetrics}),
 * shown to Prometheus by the `--metrics HOST:PORT` endpoint
 * (`metrics_endpoint.ts`; SPEC §11). The families and their text format are
 * `metrics_registry.ts`'s.
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
 * @module
 */

import {
  type Counter,
  type Family,
  type Gauge,
  MetricsRegistry,
  type MetricsSource,
} from "./metrics_registry.ts";

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
