/**
 * A per-connection send queue with exactly one writer.
 *
 * Whoever sends to a peer only appends bytes here; nobody else ever awaits the
 * peer's socket. Writing starts on the next flush round (the next microtask
 * on a quiet server), so everything queued by the same burst of work (one
 * read's worth of lines, one broadcast) goes out in a single write, and while
 * a write is in flight new bytes gather for the next. Queued arrays are shared, never copied, until they are written: one
 * broadcast array may sit in thousands of outboxes.
 *
 * Overload sheds input, never readers (SPEC §4). An outbox with more than
 * {@linkcode BEHIND_BYTES} waiting is *behind*; while its socket is taking
 * bytes (a write completed within {@linkcode TAKING_GRACE_MS}, or the server
 * simply has not got to it yet) it *holds*: it tells its owner, and the
 * talkers of its rooms are read more slowly until it has caught up. One outbox
 * holds for at most {@linkcode HOLD_LIMIT_MS} in a row. While it holds, the
 * send-queue limit does not apply (the bytes wait only because the server is
 * busy, and back-pressure bounds them); when it does not hold — its socket is
 * not taking bytes, or it has held too long — a peer more than
 * `sendQueueLimit` bytes behind is reported through `onSendQueueOverflow` and
 * its later bytes are refused, so it costs the others nothing. A socket that
 * takes nothing for {@linkcode STALL_LIMIT_MS} while output waits is reported
 * by {@linkcode Outbox.stalledFor}.
 *
 * This is the server's hottest path (every delivery passes through `send`):
 * no promise, closure or allocation per message; several queued arrays are
 * joined into a pooled buffer rather than a new one.
 *
 * The outboxes of one server share a {@linkcode WriteScheduler}: it batches
 * their flushes into one round (a microtask, or at most one round per
 * {@linkcode FLUSH_INTERVAL_MS} when the server is busy), caps the writes in
 * flight and keeps the pool of join buffers. `serve` creates it; each outbox
 * is handed it.
 *
 * An outbox's states:
 *
 * ```
 * IDLE --send--> SCHEDULED --flush, slot free--> WRITING --written, nothing queued--> IDLE
 *                    ^  |                           |
 *                    |  +--no slot: waits its turn  +--written, more queued: next write
 *                    +------------------------------+   (or back of the line when others wait)
 * ```
 *
 * @module
 */

import type { ByteWriter } from "./io.ts";

export type { ByteWriter } from "./io.ts";

/**
 * An outbox's limit, and whom it tells that it cannot go on: a plain object, or
 * the owner itself (a connection is its outbox's options, which saves it a
 * closure or two per connection).
 */
export interface OutboxOptions {
  /** Most bytes queued or in flight before the peer counts as too slow. */
  readonly sendQueueLimit: number;
  /** Called once when the queue would exceed `sendQueueLimit`. */
  onSendQueueOverflow?(): void;
  /** Called once when a write fails (peer reset, socket closed). */
  onWriteError?(error: unknown): void;
  /** Called when the outbox starts (true) or stops (false) holding talkers back. */
  onPressure?(holding: boolean): void;
}

/** Bytes waiting above which an outbox is behind (or a quarter of its limit, if smaller). */
export const BEHIND_BYTES = 256 * 1024;
/** A behind outbox with no more than a quarter of what made it behind has caught up. */
const CAUGHT_UP_SHARE = 4;
/** A socket that completed no write for this long while a write waits is not taking bytes (ms). */
export const TAKING_GRACE_MS = 250;
/** How long one behind outbox may hold talkers back in a row (ms). */
export const HOLD_LIMIT_MS = 5000;
/** A socket that takes no bytes for this long while output waits is stalled (ms). */
export const STALL_LIMIT_MS = 5000;
/** How often behind outboxes are looked at (ms). */
const PRESSURE_CHECK_MS = 100;
/**
 * However it holds, no outbox keeps more than this many times its limit (and at
 * least 64 MiB): the last bound on memory, whatever the input.
 */
const HARD_LIMIT_FACTOR = 16;
const HARD_LIMIT_MIN = 64 * 1024 * 1024;

/** Size of a pooled buffer: the most bytes one joined write carries. */
const JOIN_BUFFER_BYTES = 64 * 1024;
/** Joins up to this size get an array of their own: cheaper than a pooled buffer mostly unused. */
const SMALL_JOIN_BYTES = 16 * 1024;
/** Pooled buffers kept for reuse; beyond this, returned ones are left to the GC. */
const POOL_KEEP = 256;

/**
 * Flush rounds come at most this often. A round that comes sooner (the server
 * is busy: messages arrive faster than one per this) waits for the rest of it,
 * so that what reaches a receiver meanwhile goes out in the same write: fewer
 * write calls, and with them less CPU, for a little latency. A message on a
 * quiet server goes out at once. The trade-off is measured in BENCHMARKS.md.
 */
const FLUSH_INTERVAL_MS = 2;
const IDLE = 0;
const SCHEDULED = 1;
const WRITING = 2;

/**
 * Most writes in flight at once, over all outboxes. Deno's cost per write
 * op grows with the number of ops pending, and each write in flight is a few
 * hundred bytes of promises that a scavenge finds alive and moves to the old
 * generation; a cap keeps both down (BENCHMARKS.md, "Memory"). Outboxes
 * beyond the cap wait their turn, first come first served, and whatever
 * reaches them meanwhile joins the same write.
 */
export const MAX_WRITES_IN_FLIGHT = 256;
/**
 * A write still in flight after one to two of these faces a peer that stopped
 * reading: it stops holding one of the slots above, so peers that never read
 * cannot hold up everyone else's output (for longer than that, once). They are
 * dropped anyway when their queue passes its limit.
 *
 * Slots are counted per epoch, so this costs nothing per write: a timer,
 * armed only while outboxes wait for a slot, starts a new epoch every period,
 * and the slots still held from two epochs back are given up.
 */
const STALLED_WRITE_MS = 1000;

/**
 * The writing side shared by a server's outboxes: one microtask flushes every
 * outbox that got bytes in the same turn, at most {@linkcode MAX_WRITES_IN_FLIGHT}
 * writes run at once (the rest wait in order), and join buffers are pooled.
 */
export class WriteScheduler {
  /** Bytes written by every outbox of this scheduler (for `--metrics`). */
  bytesWritten = 0;
  /** Writes done by every outbox of this scheduler (how busy the server is: server.ts). */
  writesDone = 0;
  /** Outboxes with bytes waiting for the next flush round. */
  #toFlush: Outbox[] = [];
  /** When the last flush round ran (`performance.now()`). */
  #lastFlush = -Infinity;
  #slotsHeld = 0;
  #epoch = 0;
  #heldThisEpoch = 0;
  #heldLastEpoch = 0;
  #waiting: Outbox[] = [];
  #waitingHead = 0;
  #epochTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #pool: Uint8Array[] = [];
  /** Outboxes that are behind, looked at every {@linkcode PRESSURE_CHECK_MS} until they catch up. */
  readonly #behind = new Set<Outbox>();
  #pressureTimer: ReturnType<typeof setInterval> | undefined;

  /** Outboxes behind now (holding talkers back or not). */
  get behind(): number {
    return this.#behind.size;
  }

  /** Watches an outbox that fell behind until it catches up. */
  watch(outbox: Outbox): void {
    this.#behind.add(outbox);
    if (this.#pressureTimer === undefined) {
      this.#pressureTimer = setInterval(this.#checkPressure, PRESSURE_CHECK_MS);
      Deno.unrefTimer(this.#pressureTimer);
    }
  }

  /** An outbox caught up (or failed): no more watching. */
  unwatch(outbox: Outbox): void {
    this.#behind.delete(outbox);
    if (this.#behind.size === 0 && this.#pressureTimer !== undefined) {
      clearInterval(this.#pressureTimer);
      this.#pressureTimer = undefined;
    }
  }

  #checkPressure = (): void => {
    const now = performance.now();
    for (const outbox of this.#behind) outbox.checkPressure(now);
  };

  /** Outboxes waiting for a write slot. */
  get waiting(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Flushes `outbox` with the others of this turn. */
  schedule(outbox: Outbox): void {
    if (this.#toFlush.push(outbox) !== 1) return;
    const wait = this.#lastFlush + FLUSH_INTERVAL_MS - performance.now();
    if (wait > 0) setTimeout(this.#flushAll, wait);
    else queueMicrotask(this.#flushAll);
  }

  #flushAll = (): void => {
    this.#lastFlush = performance.now();
    const outboxes = this.#toFlush;
    this.#toFlush = [];
    for (const outbox of outboxes) outbox.flush();
  };

  /** Takes a write slot if one is free; returns its epoch, or -1. */
  takeSlot(): number {
    if (this.#slotsHeld >= MAX_WRITES_IN_FLIGHT) return -1;
    this.#slotsHeld++;
    this.#heldThisEpoch++;
    return this.#epoch;
  }

  /** Gives back a slot taken in `slotEpoch`, unless it was already given up as stalled. */
  releaseSlot(slotEpoch: number): void {
    if (slotEpoch === this.#epoch) this.#heldThisEpoch--;
    else if (slotEpoch === this.#epoch - 1) this.#heldLastEpoch--;
    else return;
    this.#slotsHeld--;
  }

  /** Waits for a slot: first in, first served. */
  waitForSlot(outbox: Outbox): void {
    this.#waiting.push(outbox);
    if (this.#epochTimer === undefined) this.#armEpochTimer();
  }

  /** Starts the outboxes waiting for a slot, as many as there are free slots. */
  startWaiting(): void {
    while (this.#slotsHeld < MAX_WRITES_IN_FLIGHT && this.#waitingHead < this.#waiting.length) {
      this.#waiting[this.#waitingHead++].flush();
    }
    if (this.#waitingHead === this.#waiting.length) {
      this.#waiting = [];
      this.#waitingHead = 0;
    } else if (this.#waitingHead > 4096 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
  }

  /** A pooled join buffer of {@linkcode JOIN_BUFFER_BYTES}. */
  takeBuffer(): Uint8Array {
    return this.#pool.pop() ?? new Uint8Array(JOIN_BUFFER_BYTES);
  }

  /** Gives a join buffer back once its bytes are written. */
  returnBuffer(buffer: Uint8Array): void {
    if (this.#pool.length < POOL_KEEP) this.#pool.push(buffer);
  }

  #armEpochTimer(): void {
    this.#epochTimer = setTimeout(this.#nextEpoch, STALLED_WRITE_MS);
    Deno.unrefTimer(this.#epochTimer);
  }

  #nextEpoch = (): void => {
    this.#epochTimer = undefined;
    this.#slotsHeld -= this.#heldLastEpoch;
    this.#heldLastEpoch = this.#heldThisEpoch;
    this.#heldThisEpoch = 0;
    this.#epoch++;
    this.startWaiting();
    if (this.waiting > 0) this.#armEpochTimer();
  };
}

/** A bounded queue of bytes for one peer, drained by a single writer. */
export class Outbox {
  #writer: ByteWriter;
  #options: OutboxOptions;
  /**
   * What waits to be written: the one array when there is one (the common case
   * costs no allocation), the list when there are several.
   */
  #single: Uint8Array | null = null;
  #queue: Uint8Array[] | null = null;
  #queuedBytes = 0;
  /** What the current write is sending (the rest of it, after a partial write). */
  #inFlight: Uint8Array | null = null;
  /** The pooled buffer under `#inFlight`, given back once it is written. */
  #pooled: Uint8Array | null = null;
  #state = IDLE;
  #closed = false;
  /** Set when the outbox gave up (overflow or failed write): nothing more is written. */
  #closedByFailure = false;
  #idleWaiters: (() => void)[] | null = null;
  /** The epoch of the write slot this outbox holds (see {@linkcode WriteScheduler.takeSlot}). */
  #slotEpoch = -1;
  /** `performance.now()` when a write last completed (or the first one started). */
  #lastProgress = 0;
  /** When the outbox fell behind, or 0 when it is not behind. */
  #behindSince = 0;
  /** Whether it holds talkers back now. */
  #holding = false;

  readonly #scheduler: WriteScheduler;

  constructor(writer: ByteWriter, options: OutboxOptions, scheduler: WriteScheduler) {
    this.#writer = writer;
    this.#options = options;
    this.#scheduler = scheduler;
  }

  /** Bytes accepted but not yet written (0 once the outbox gave up: none will be). */
  get pendingBytes(): number {
    if (this.#closedByFailure) return 0;
    return this.#queuedBytes + (this.#inFlight?.length ?? 0);
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
    if (bytes.length === 0) return true;
    const pending = this.#queuedBytes + (this.#inFlight?.length ?? 0) + bytes.length;
    const limit = this.#options.sendQueueLimit;
    if (pending > limit) {
      // Over the limit is allowed only while holding, and holding is judged afresh.
      if (this.#holding) this.#judgeHolding(performance.now());
      if (!this.#holding || pending > hardLimit(limit)) {
        this.#overflow();
        return false;
      }
    }
    if (this.#behindSince === 0 && pending >= behindBytes(limit)) this.#fallBehind();
    if (this.#queuedBytes === 0) {
      this.#single = bytes;
    } else {
      const queue = this.#queue ??= [];
      if (this.#single !== null) {
        queue.push(this.#single);
        this.#single = null;
      }
      queue.push(bytes);
    }
    this.#queuedBytes += bytes.length;
    if (this.#state === IDLE) {
      this.#state = SCHEDULED;
      this.#scheduler.schedule(this);
    }
    return true;
  }

  /** Refuses further bytes; what is queued is still written. */
  close(): void {
    this.#closed = true;
  }

  /** Resolves once nothing is queued or in flight (also after a failure). */
  idle(): Promise<void> {
    if (this.#state === IDLE) return Promise.resolve();
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve));
  }

  /** Starts writing what is queued, or waits for a turn. Called by the shared flush. */
  flush(): void {
    if (this.#state === SCHEDULED) this.#writeNext();
  }

  #writeNext(): void {
    if (this.#queuedBytes === 0) return this.#becomeIdle();
    this.#slotEpoch = this.#scheduler.takeSlot();
    if (this.#slotEpoch === -1) {
      this.#state = SCHEDULED;
      this.#scheduler.waitForSlot(this);
      return;
    }
    if (this.#state !== WRITING) this.#lastProgress = performance.now();
    this.#state = WRITING;
    let bytes: Uint8Array;
    const queue = this.#queue;
    if (this.#single !== null) {
      bytes = this.#single;
      this.#single = null;
    } else if (queue![0].length >= JOIN_BUFFER_BYTES) {
      bytes = queue!.shift()!;
    } else if (this.#queuedBytes <= SMALL_JOIN_BYTES) {
      bytes = joinAll(queue!, this.#queuedBytes);
      this.#queue = null;
    } else {
      bytes = this.#join(queue!);
    }
    this.#queuedBytes -= bytes.length;
    this.#inFlight = bytes;
    this.#writer.write(bytes).then(this.#settled, this.#settled);
  }

  /** Copies queued arrays into a pooled buffer, as many as fit (the last one maybe in part). */
  #join(queue: Uint8Array[]): Uint8Array {
    const buffer = this.#scheduler.takeBuffer();
    let filled = 0;
    let taken = 0;
    while (taken < queue.length && filled < buffer.length) {
      const chunk = queue[taken];
      const room = buffer.length - filled;
      if (chunk.length <= room) {
        buffer.set(chunk, filled);
        filled += chunk.length;
        taken++;
      } else {
        buffer.set(chunk.subarray(0, room), filled);
        filled += room;
        queue[taken] = chunk.subarray(room);
      }
    }
    queue.splice(0, taken);
    this.#pooled = buffer;
    return buffer.subarray(0, filled);
  }

  /**
   * A write settled: with the count of bytes written, or with why it failed.
   * One function for both, so that an outbox carries one closure, not two.
   */
  #settled = (outcome: unknown): void => {
    if (typeof outcome === "number") this.#written(outcome);
    else this.#failed(outcome);
  };

  #written(count: number): void {
    this.#lastProgress = performance.now();
    this.#scheduler.bytesWritten += count;
    this.#scheduler.writesDone++;
    const inFlight = this.#inFlight!;
    if (count < inFlight.length && !this.#closedByFailure) {
      // Deno.Conn.write may take only part of the bytes: send the rest before anything newer.
      this.#inFlight = inFlight.subarray(count);
      this.#writer.write(this.#inFlight).then(this.#settled, this.#settled);
      return;
    }
    this.#inFlight = null;
    this.#releasePooled();
    if (this.#behindSince !== 0) this.checkPressure(this.#lastProgress);
    const scheduler = this.#scheduler;
    scheduler.releaseSlot(this.#slotEpoch);
    if (scheduler.waiting > 0) {
      // Others are waiting for a turn: this outbox goes to the back of the line.
      if (this.#queuedBytes > 0) {
        this.#state = SCHEDULED;
        scheduler.waitForSlot(this);
      } else {
        this.#becomeIdle();
      }
      scheduler.startWaiting();
    } else {
      this.#writeNext();
    }
  }

  #failed(error: unknown): void {
    this.#inFlight = null;
    this.#releasePooled();
    this.#scheduler.releaseSlot(this.#slotEpoch);
    const first = !this.#closedByFailure;
    this.#fail();
    this.#becomeIdle();
    if (first) this.#options.onWriteError?.(error);
    this.#scheduler.startWaiting();
  }

  /**
   * Looks at a behind outbox: caught up (it stops being behind), holding or
   * not (the owner is told of a change), and, when it does not hold, over its
   * limit (it overflows). Called by the scheduler every
   * {@linkcode PRESSURE_CHECK_MS} and after each completed write.
   */
  checkPressure(now: number): void {
    if (this.#behindSince === 0) return;
    const pending = this.pendingBytes;
    const limit = this.#options.sendQueueLimit;
    if (this.#closedByFailure || pending <= behindBytes(limit) / CAUGHT_UP_SHARE) {
      this.#behindSince = 0;
      this.#scheduler.unwatch(this);
      this.#hold(false);
      return;
    }
    this.#judgeHolding(now);
    if (!this.#holding && pending > limit) this.#overflow();
  }

  /** Holds while the socket takes bytes (or is not written yet), for at most the hold limit. */
  #judgeHolding(now: number): void {
    const taking = this.#state !== WRITING || now - this.#lastProgress < TAKING_GRACE_MS;
    this.#hold(taking && now - this.#behindSince < HOLD_LIMIT_MS);
  }

  /**
   * How long the socket has taken no bytes while a write waits on it (ms): 0
   * when nothing is being written. Past {@linkcode STALL_LIMIT_MS} the owner
   * should give up on the peer.
   */
  stalledFor(now: number): number {
    return this.#state === WRITING && !this.#closedByFailure ? now - this.#lastProgress : 0;
  }

  #fallBehind(): void {
    const now = performance.now();
    this.#behindSince = now;
    this.#scheduler.watch(this);
    this.#hold(this.#state !== WRITING || now - this.#lastProgress < TAKING_GRACE_MS);
  }

  #hold(holding: boolean): void {
    if (holding === this.#holding) return;
    this.#holding = holding;
    this.#options.onPressure?.(holding);
  }

  #overflow(): void {
    this.#fail();
    this.#options.onSendQueueOverflow?.();
  }

  #fail(): void {
    this.#closed = true;
    this.#closedByFailure = true;
    this.#single = null;
    this.#queue = null;
    this.#queuedBytes = 0;
    if (this.#behindSince !== 0) {
      this.#behindSince = 0;
      this.#scheduler.unwatch(this);
      this.#hold(false);
    }
  }

  #releasePooled(): void {
    if (this.#pooled === null) return;
    this.#scheduler.returnBuffer(this.#pooled);
    this.#pooled = null;
  }

  #becomeIdle(): void {
    this.#state = IDLE;
    const waiters = this.#idleWaiters;
    if (waiters === null) return;
    this.#idleWaiters = null;
    for (const wake of waiters) wake();
  }
}

/** Bytes waiting above which an outbox with this limit is behind. */
function behindBytes(limit: number): number {
  return Math.min(BEHIND_BYTES, limit / 4);
}

/** The most bytes an outbox with this limit ever keeps, holding or not. */
function hardLimit(limit: number): number {
  return Math.max(limit * HARD_LIMIT_FACTOR, HARD_LIMIT_MIN);
}

function joinAll(chunks: Uint8Array[], totalBytes: number): Uint8Array {
  const joined = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}
