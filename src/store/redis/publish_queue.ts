/**
 * The publish queue: batches on their way to Redis, in the order they were
 * said. While the link is up a batch leaves at once (up to `window` batches
 * in flight, pipelined on the one command connection, so Redis runs them in
 * order); while it is down they wait here, and leave in order once the
 * command connection is ready again.
 *
 * Bounded twice, because an outage can last: at most `maxBatches` waiting (a
 * batch beyond that is refused at once: its sender is right there to be told)
 * and at most `maxAgeMs` old (older news is worse than none: dropped, and
 * reported). Whatever does not go out is reported through `onUnsent` with the
 * batches themselves, so the chat can tell each sender; nothing is dropped
 * silently.
 *
 * A batch whose reply was lost with the connection (it may or may not have
 * run) is simply sent again: the publish script recognises its id and
 * publishes nothing twice.
 *
 * @module
 */

import { type Clock, systemClock } from "../../core/events.ts";
import { errorText } from "../../errors.ts";
import type { Batch, Published } from "./room_log.ts";
import { isTransient } from "./scripts.ts";

/** Why batches did not go out. */
export type UnsentReason =
  /** The queue was full (the link has been down a while). */
  | "overflow"
  /** It waited longer than `maxAgeMs` for the link. */
  | "expired"
  /** Redis refused it (a script error: a bug or a Redis misconfiguration). */
  | "refused"
  /** The queue was closed (shutdown) before it went out. */
  | "closed";

/** What the queue needs to know of the link. */
export interface Readiness {
  /** True when commands can be sent now. */
  readonly ready: boolean;
  /** Calls `listener` each time a connection became ready. */
  onReady(listener: (which: string) => void): () => void;
}

/** How a {@linkcode PublishQueue} behaves. */
export interface PublishQueueOptions {
  /** Sends one batch (the bus: `publishBatch`). */
  send(batch: Batch): Promise<Published>;
  /** Batches that did not go out, oldest first. */
  onUnsent(batches: Batch[], reason: UnsentReason, detail: string): void;
  /** A batch that went out. */
  onSent?(batch: Batch, published: Published): void;
  /** Most batches waiting or in flight (default 10 000). */
  maxBatches?: number;
  /** Oldest a batch may get while waiting, in ms (default 30 000). */
  maxAgeMs?: number;
  /** Most batches in flight at once (default 128). */
  window?: number;
  clock?: Clock;
}

interface Waiting {
  batch: Batch;
  /** When it was queued. */
  at: number;
}

/** Batches on their way to Redis, in order. */
export class PublishQueue {
  readonly #link: Readiness;
  readonly #send: (batch: Batch) => Promise<Published>;
  readonly #onUnsent: PublishQueueOptions["onUnsent"];
  readonly #onSent: PublishQueueOptions["onSent"];
  readonly #maxBatches: number;
  readonly #maxAgeMs: number;
  readonly #window: number;
  readonly #clock: Clock;
  readonly #queue: Waiting[] = [];
  /** Batches sent and not answered yet: the first ones of the queue. */
  #inFlight = 0;
  /** A send failed for the link's sake: no more until the ones in flight are answered. */
  #broken = false;
  #closed = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryTimer: ReturnType<typeof setInterval> | undefined;
  readonly #stopListening: () => void;
  readonly #drainWaiters = new Set<() => void>();

  constructor(link: Readiness, options: PublishQueueOptions) {
    this.#link = link;
    this.#send = options.send;
    this.#onUnsent = options.onUnsent;
    this.#onSent = options.onSent;
    this.#maxBatches = Math.max(1, options.maxBatches ?? 10_000);
    this.#maxAgeMs = Math.max(1, options.maxAgeMs ?? 30_000);
    this.#window = Math.max(1, options.window ?? 128);
    this.#clock = options.clock ?? systemClock;
    this.#stopListening = link.onReady(() => this.#pump());
  }

  /** Batches waiting or in flight. */
  get size(): number {
    return this.#queue.length;
  }

  /** The batches not yet confirmed by Redis, oldest first. */
  pending(): Batch[] {
    return this.#queue.map((waiting) => waiting.batch);
  }

  /** Queues `batch`; false (and reported as `overflow`) when the queue is full or closed. */
  push(batch: Batch): boolean {
    if (this.#closed) {
      this.#report([batch], "closed", "the queue is closed");
      return false;
    }
    if (this.#queue.length >= this.#maxBatches) {
      this.#report([batch], "overflow", `${this.#maxBatches} batches are waiting for Redis`);
      return false;
    }
    this.#queue.push({ batch, at: this.#clock() });
    this.#pump();
    this.#watchExpiry();
    return true;
  }

  /** True once nothing is waiting, false when `ms` passed first. */
  flushed(ms: number): Promise<boolean> {
    if (this.#queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#drainWaiters.delete(done);
        resolve(this.#queue.length === 0);
      };
      const timer = setTimeout(done, ms);
      this.#drainWaiters.add(done);
    });
  }

  /** Stops sending; what still waits is reported `closed` (a batch in flight may still arrive). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopListening();
    clearTimeout(this.#retryTimer);
    clearInterval(this.#expiryTimer);
    const left = this.#queue.splice(0).map((waiting) => waiting.batch);
    if (left.length > 0) this.#report(left, "closed", "shutting down");
    this.#drained();
  }

  /** Sends from the head of the queue, keeping up to `window` batches in flight. */
  #pump(): void {
    if (this.#closed || this.#broken) return;
    this.#expire();
    while (
      this.#link.ready && this.#inFlight < this.#window && this.#inFlight < this.#queue.length
    ) {
      // The batches in flight are the first #inFlight of the queue: replies come in order.
      const waiting = this.#queue[this.#inFlight++];
      this.#send(waiting.batch).then(
        (published) => this.#settled(waiting, published, undefined),
        (error) => this.#settled(waiting, null, error),
      );
    }
  }

  #settled(waiting: Waiting, published: Published | null, error: unknown): void {
    this.#inFlight--;
    if (this.#closed) return;
    if (published !== null) {
      this.#remove(waiting);
      try {
        this.#onSent?.(waiting.batch, published);
      } catch { /* the listener's problem */ }
    } else if (isTransient(error)) {
      // Kept, in place: sent again (safely: its id is remembered) once the link is back.
      this.#broken = true;
    } else {
      this.#remove(waiting);
      this.#report([waiting.batch], "refused", errorText(error));
    }
    this.#drained();
    if (!this.#broken) {
      this.#pump();
    } else if (this.#inFlight === 0) {
      // Everything after the failure failed too (one connection): start over from
      // the head, when the link is ready (its ready kicks us) or shortly (it has
      // not noticed the loss yet).
      this.#broken = false;
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => this.#pump(), 100);
    }
  }

  #remove(waiting: Waiting): void {
    const at = this.#queue.indexOf(waiting);
    if (at >= 0) this.#queue.splice(at, 1);
  }

  /** Drops (and reports) the batches that waited too long; never one in flight. */
  #expire(): void {
    const oldest = this.#clock() - this.#maxAgeMs;
    let count = 0;
    while (
      count < this.#queue.length - this.#inFlight && this.#queue[this.#inFlight + count].at < oldest
    ) count++;
    if (count === 0) return;
    const expired = this.#queue.splice(this.#inFlight, count).map((waiting) => waiting.batch);
    this.#report(expired, "expired", `not sent within ${this.#maxAgeMs} ms`);
    this.#drained();
  }

  /** While batches wait, look for expired ones now and then (the link may be down for long). */
  #watchExpiry(): void {
    if (this.#expiryTimer !== undefined) return;
    const every = Math.min(1000, Math.max(10, Math.floor(this.#maxAgeMs / 4)));
    this.#expiryTimer = setInterval(() => {
      this.#expire();
      if (this.#queue.length === 0) {
        clearInterval(this.#expiryTimer);
        this.#expiryTimer = undefined;
      }
    }, every);
  }

  #drained(): void {
    if (this.#queue.length > 0) return;
    for (const waiter of [...this.#drainWaiters]) waiter();
  }

  #report(batches: Batch[], reason: UnsentReason, detail: string): void {
    try {
      this.#onUnsent(batches, reason, detail);
    } catch { /* the listener's problem */ }
  }
}
