/**
 * A per-connection send queue with exactly one writer.
 *
 * Whoever sends to a peer only appends bytes here; nobody else ever awaits the
 * peer's socket. The writer starts on the next microtask, so everything queued
 * by the same burst of work (one read's worth of lines, one broadcast) goes out
 * in a single write, and while a write is in flight new bytes gather for the next.
 *
 * The queue is bounded: a peer that falls more than `limit` bytes behind
 * (a slow or stalled reader) is reported through `onOverflow` and its later
 * bytes are refused, so it costs the others nothing.
 *
 * @module
 */

/** Where an outbox writes: a `Deno.Conn`, or anything with the same `write`. */
export interface ByteWriter {
  write(bytes: Uint8Array): Promise<number>;
}

/** How an outbox reports that it cannot go on. */
export interface OutboxOptions {
  /** Most bytes queued or in flight before the peer counts as too slow. */
  limit: number;
  /** Called once when the queue would exceed `limit`. */
  onOverflow?: () => void;
  /** Called once when a write fails (peer reset, socket closed). */
  onError?: (error: unknown) => void;
}

/** A bounded queue of bytes for one peer, drained by a single writer. */
export class Outbox {
  #writer: ByteWriter;
  #options: OutboxOptions;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #scheduled = false;
  #writing = false;
  #closed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(writer: ByteWriter, options: OutboxOptions) {
    this.#writer = writer;
    this.#options = options;
  }

  /** Bytes accepted but not yet written. */
  get pendingBytes(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  /** False once the outbox overflowed, failed or was closed. */
  get open(): boolean {
    return !this.#closed;
  }

  /**
   * Queues bytes for the peer. Returns false, dropping them, when the outbox is
   * closed or when they would take it past its limit (which closes it).
   * The caller must not change `bytes` afterwards; one array may be shared by
   * many outboxes.
   */
  send(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#queuedBytes + this.#inFlightBytes + bytes.length > this.#options.limit) {
      this.#fail();
      this.#options.onOverflow?.();
      return false;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (!this.#scheduled && !this.#writing) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
    return true;
  }

  /** Refuses further bytes; what is queued is still written. */
  close(): void {
    this.#closed = true;
  }

  /** Resolves once nothing is queued or in flight (also after a failure). */
  idle(): Promise<void> {
    if (!this.#writing && !this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#scheduled = false;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const bytes = this.#queue.length === 1
          ? this.#queue[0]
          : concat(this.#queue, this.#queuedBytes);
        this.#queue = [];
        this.#inFlightBytes = bytes.length;
        this.#queuedBytes = 0;
        await writeAll(this.#writer, bytes);
        this.#inFlightBytes = 0;
      }
    } catch (error) {
      this.#fail();
      this.#options.onError?.(error);
    } finally {
      this.#writing = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #fail(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#inFlightBytes = 0;
  }
}

/** Writes all of `bytes`: `Deno.Conn.write` may write only part of them. */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(written === 0 ? bytes : bytes.subarray(written));
  }
}

function concat(chunks: Uint8Array[], totalBytes: number): Uint8Array {
  const joined = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}
