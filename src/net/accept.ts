/**
 * Accepting connections on every listener (chat, IRC, metrics, the coming
 * web port) so that no accept error ends the server (SPEC §4): errors are
 * reported and retried with back-off, and running out of file descriptors
 * is met with descriptors kept in reserve.
 *
 * ```ts
 * await acceptLoop(listener, {
 *   signal,
 *   onConnection: (conn) => void handle(conn),
 *   onError: (message) => log.event({ event: "error", message }),
 * });
 * ```
 *
 * Out of descriptors (EMFILE, ENFILE), the kernel keeps the connection in
 * the listen queue and every later accept fails the same way. A short spell
 * (connections closing a moment later) is waited out with back-off: the
 * queued clients are served as soon as descriptors are back. But with
 * back-off alone a long spell fills the queue, and clients hang in it until
 * they give up. The classic answer (nginx, libuv, HAProxy) is a reserve: a
 * few descriptors opened at start on `/dev/null` ({@linkcode RESERVE_SIZE}).
 * Once a spell has lasted {@linkcode DRAIN_AFTER_MS}, each failed accept
 * closes one, the waiting connection is accepted into its place and closed
 * at once (the client gets a clean close, not a hang), and the reserve is
 * opened again. Linux fails an accept for want of a descriptor before it
 * looks at the queue (strace shows it), so the connection taken with the
 * loan may come later, when descriptors are free again: then the reserve
 * opens in full and the connection is served, not closed. Only when the
 * reserve is spent too (another part of the process took the freed
 * descriptor first) does the loop fall back to back-off. Four, because a
 * server has up to four listeners and each can drain at the same time; they
 * cost four descriptors out of thousands.
 *
 * Measured (tests/hardening_net_test.ts): a server under `ulimit -n 1024`
 * with 1,100 chat connections held open closes each further connection at
 * once after the first second (the client reads EOF), keeps serving the
 * chat, and answers a scrape as soon as descriptors are free again; at
 * 6c5772e the metrics listener's `Deno.serve` died of the same error
 * ("Uncaught (in promise) Http: Error: Too many open files") and took the
 * process with it.
 *
 * The reserve is one per process, shared by every accept loop: opened when
 * the first loop starts and closed when the last one ends (importing this
 * module opens nothing; a server that stopped holds nothing).
 *
 * @module
 */

import { sleep } from "../async.ts";
import { connectionFailure, errorText } from "../errors.ts";
import { closeQuietly } from "./io.ts";

/** Descriptors held in reserve for accepting (and closing) while out of descriptors. */
export const RESERVE_SIZE = 4;

const BACKOFF_MIN_MS = 5;
const BACKOFF_MAX_MS = 1000;
/**
 * How long a spell without descriptors is waited out with back-off (connections wait in the
 * listen queue, and are served when descriptors come back) before the reserve drains it.
 */
export const DRAIN_AFTER_MS = 1000;

/** What {@linkcode acceptLoop} is told. */
export interface AcceptOptions {
  /** Aborting it ends the loop (close the listener too, to end a pending accept). */
  signal: AbortSignal;
  /** Each accepted connection; the callee owns it. */
  onConnection: (conn: Deno.Conn) => void;
  /** A failure worth the log (accept errors, descriptors running out and back). */
  onError: (message: string) => void;
  /** A connection accepted only to be closed at once, for want of descriptors. */
  onDropped?: () => void;
}

/**
 * Accepts connections until `signal` aborts or the listener is closed,
 * handing each to `onConnection`. Never throws: the `for await` form would
 * end at the first accept error, and the server must keep serving.
 */
export async function acceptLoop(listener: Deno.Listener, options: AcceptOptions): Promise<void> {
  const reserve = DescriptorReserve.acquire();
  try {
    await acceptUntilStopped(listener, options, reserve);
  } finally {
    reserve.release();
  }
}

async function acceptUntilStopped(
  listener: Deno.Listener,
  options: AcceptOptions,
  reserve: DescriptorReserve,
): Promise<void> {
  const { signal, onError } = options;
  let backoff = 0;
  /** Connections closed unserved in this spell without descriptors (0: not in one). */
  let dropped = 0;
  /** When the current spell without descriptors began (null: not in one). */
  let spellBegan: number | null = null;
  while (!signal.aborted) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
      backoff = 0;
    } catch (error) {
      if (signal.aborted || error instanceof Deno.errors.BadResource) return;
      // One connection that died while it waited to be accepted: nothing to wait for.
      if (connectionFailure(error) === "reset") continue;
      let lent: Deno.Conn | "dropped" | null = null;
      if (outOfDescriptors(error)) {
        spellBegan ??= performance.now();
        if (performance.now() - spellBegan >= DRAIN_AFTER_MS) {
          lent = await reserve.acceptWithLoan(listener);
        }
      }
      if (lent === "dropped") {
        if (dropped++ === 0) {
          onError(
            `accept failed: ${errorText(error)}; closing new connections at once until ` +
              `descriptors are free (${RESERVE_SIZE} kept in reserve)`,
          );
        }
        options.onDropped?.();
        continue;
      }
      if (lent !== null) {
        // Served, but the spell is not over until an accept needs no loan.
        options.onConnection(lent);
        continue;
      }
      backoff = Math.min(Math.max(backoff * 2, BACKOFF_MIN_MS), BACKOFF_MAX_MS);
      onError(`accept failed: ${errorText(error)}; retrying in ${backoff} ms`);
      await sleep(backoff, signal);
      continue;
    }
    spellBegan = null;
    reserve.refill();
    accepted(conn);
  }

  function accepted(conn: Deno.Conn): void {
    if (dropped > 0) {
      onError(`descriptors are free again: ${dropped} connections were closed unserved`);
      dropped = 0;
    }
    options.onConnection(conn);
  }
}

/** Whether an error says the process (EMFILE) or the system (ENFILE) is out of descriptors. */
export function outOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/** Descriptors held open on `/dev/null`, to be lent to an accept when there are no others. */
export class DescriptorReserve {
  static #shared: DescriptorReserve | null = null;

  /** The process's reserve, filled when its first user comes; {@linkcode release} it after. */
  static acquire(): DescriptorReserve {
    const reserve = DescriptorReserve.#shared ??= new DescriptorReserve(RESERVE_SIZE);
    reserve.#users++;
    reserve.refill();
    return reserve;
  }

  readonly #size: number;
  readonly #held: Deno.FsFile[] = [];
  #users = 0;

  constructor(size: number) {
    this.#size = size;
  }

  /** Descriptors held now. */
  get held(): number {
    return this.#held.length;
  }

  /** One user less; the last one closes what is held. */
  release(): void {
    if (--this.#users > 0) return;
    this.#users = 0;
    for (const file of this.#held.splice(0)) closeQuietly(file);
  }

  /** Opens what is missing (after a spell without descriptors); quietly keeps fewer if it cannot. */
  refill(): void {
    while (this.#users > 0 && this.#held.length < this.#size) {
      try {
        this.#held.push(Deno.openSync("/dev/null"));
      } catch {
        return;
      }
    }
  }

  /**
   * Lends one descriptor to accept the next connection on `listener` (the
   * one that found no descriptor, or, since accept fails for want of one
   * even when none waits, the next to come). If the reserve can be opened
   * again afterwards, descriptors are free: the connection is returned to be
   * served. Else it is closed at once ("dropped"). Null when none is held or
   * the accept failed anyway.
   */
  async acceptWithLoan(listener: Deno.Listener): Promise<Deno.Conn | "dropped" | null> {
    const lent = this.#held.pop();
    if (lent === undefined) return null;
    lent.close();
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch {
      this.refill();
      return null;
    }
    this.refill();
    if (this.#held.length === this.#size) return conn;
    closeQuietly(conn);
    this.refill();
    return "dropped";
  }
}
