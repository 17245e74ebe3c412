/**
 * The `--metrics HOST:PORT` endpoint: Prometheus scrapes what a
 * {@linkcode MetricsSource} renders, over parley's own accept loop and HTTP
 * head reader.
 *
 * @module
 */

import { CommandError } from "./errors.ts";
import { errorText } from "./errors.ts";
import { METRICS_CONTENT_TYPE, type MetricsSource } from "./metrics_registry.ts";
import { acceptLoop, DescriptorReserve } from "./net/accept.ts";
import {
  HttpHeadReader,
  type HttpHeadResult,
  type HttpRequestHead,
  httpResponse,
} from "./net/http.ts";
import { closeQuietly, writeAll } from "./net/io.ts";
import { formatPeer } from "./net/peer.ts";

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
