/**
 * A per-connection send queue with exactly one writer.
 *
 * Whoever sends to a peer only appends bytes here; nobody else ever awaits the
 * peer's socket. Writing starts on the next microtask, so everything queued by
 * the same burst of work (one read's worth of lines, one broadcast) goes out
 * in a single write, and while a write is in flight new bytes gather for the
 * next. Queued arrays are shared, never copied, until they are written: one
 * broadcast array may sit in thousands of outboxes.
 *
 * The queue is bounded: a peer that falls more than `sendQueueLimit` bytes behind
 * (a slow or stalled reader) is reported through `onSendQueueOverflow` and its later
 * bytes are refused, so it costs the others nothing.
 *
 * This is the server's hottest path (every delivery passes through `send`):
 * no promise, closure or allocation per message; several queued arrays are
 * joined into a pooled buffer rather than a new one.
 *
 * @module
 */

/** Where an outbox writes: a `Deno.Conn`, or anything with the same `write`. */
export interface ByteWriter {
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * An outbox's limit, and whom it tells that it cannot go on: a plain object, or
 * the owner itself (a session is its outbox's options, which saves it a
 * closure or two per connection).
 */
export interface OutboxOptions {
  /** Most bytes queued or in flight before the peer counts as too slow. */
  readonly sendQueueLimit: number;
  /** Called once when the queue would exceed `sendQueueLimit`. */
  onSendQueueOverflow?(): void;
  /** Called once when a write fails (peer reset, socket closed). */
  onWriteError?(error: unknown): void;
}

/** Size of a pooled buffer: the most bytes one joined write carries. */
const JOIN_BUFFER_BYTES = 64 * 1024;
/** Joins up to this size get an array of their own: cheaper than a pooled buffer mostly unused. */
const SMALL_JOIN_BYTES = 16 * 1024;
/** Pooled buffers kept for reuse; beyond this, returned ones are left to the GC. */
const POOL_KEEP = 256;
const pool: Uint8Array[] = [];

const IDLE = 0;
const SCHEDULED = 1;
const WRITING = 2;

/** Outboxes with bytes waiting for the next flush, all flushed by one microtask. */
let toFlush: Outbox[] = [];

function flushAll(): void {
  const outboxes = toFlush;
  toFlush = [];
  for (const outbox of outboxes) outbox.flush();
}

/**
 * Most writes in flight at once, over all outboxes. Deno's cost per write
 * op grows with the number of ops pending: measured here, one write to each
 * of 10,000 sockets costs 17.6 µs a write when all are issued at once and
 * 10.1 µs in groups of 1,000. Outboxes beyond the cap wait their turn, first
 * come first served, and whatever reaches them meanwhile joins the same write.
 */
const MAX_WRITES_IN_FLIGHT = 1024;
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
let slotsHeld = 0;
let epoch = 0;
let heldThisEpoch = 0;
let heldLastEpoch = 0;
let waiting: Outbox[] = [];
let waitingHead = 0;
let epochTimer: ReturnType<typeof setTimeout> | undefined;

/** Takes a write slot if one is free; returns its epoch, or -1. */
function takeSlot(): number {
  if (slotsHeld >= MAX_WRITES_IN_FLIGHT) return -1;
  slotsHeld++;
  heldThisEpoch++;
  return epoch;
}

/** Gives back a slot taken in `slotEpoch`, unless it was already given up as stalled. */
function releaseSlot(slotEpoch: number): void {
  if (slotEpoch === epoch) heldThisEpoch--;
  else if (slotEpoch === epoch - 1) heldLastEpoch--;
  else return;
  slotsHeld--;
}

/** Waits for a slot: first in, first served. */
function waitForSlot(outbox: Outbox): void {
  waiting.push(outbox);
  if (epochTimer === undefined) {
    epochTimer = setTimeout(nextEpoch, STALLED_WRITE_MS);
    Deno.unrefTimer(epochTimer);
  }
}

function nextEpoch(): void {
  epochTimer = undefined;
  slotsHeld -= heldLastEpoch;
  heldLastEpoch = heldThisEpoch;
  heldThisEpoch = 0;
  epoch++;
  startWaiting();
  if (waitingHead < waiting.length) {
    epochTimer = setTimeout(nextEpoch, STALLED_WRITE_MS);
    Deno.unrefTimer(epochTimer);
  }
}

function startWaiting(): void {
  while (slotsHeld < MAX_WRITES_IN_FLIGHT && waitingHead < waiting.length) {
    waiting[waitingHead++].flush();
  }
  if (waitingHead === waiting.length) {
    waiting = [];
    waitingHead = 0;
  } else if (waitingHead > 4096 && waitingHead * 2 > waiting.length) {
    waiting = waiting.slice(waitingHead);
    waitingHead = 0;
  }
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
  /** The epoch of the write slot this outbox holds (see {@linkcode takeSlot}). */
  #slotEpoch = -1;

  constructor(writer: ByteWriter, options: OutboxOptions) {
    this.#writer = writer;
    this.#options = options;
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
    if (this.pendingBytes + bytes.length > this.#options.sendQueueLimit) {
      this.#fail();
      this.#options.onSendQueueOverflow?.();
      return false;
    }
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
      if (toFlush.push(this) === 1) queueMicrotask(flushAll);
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
    this.#slotEpoch = takeSlot();
    if (this.#slotEpoch === -1) {
      this.#state = SCHEDULED;
      waitForSlot(this);
      return;
    }
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
    this.#writer.write(bytes).then(this.#written, this.#failed);
  }

  /** Copies queued arrays into a pooled buffer, as many as fit (the last one maybe in part). */
  #join(queue: Uint8Array[]): Uint8Array {
    const buffer = pool.pop() ?? new Uint8Array(JOIN_BUFFER_BYTES);
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

  #written = (count: number): void => {
    const inFlight = this.#inFlight!;
    if (count < inFlight.length && !this.#closedByFailure) {
      // Deno.Conn.write may take only part of the bytes: send the rest before anything newer.
      this.#inFlight = inFlight.subarray(count);
      this.#writer.write(this.#inFlight).then(this.#written, this.#failed);
      return;
    }
    this.#inFlight = null;
    this.#releasePooled();
    releaseSlot(this.#slotEpoch);
    if (waitingHead < waiting.length) {
      // Others are waiting for a turn: this outbox goes to the back of the line.
      if (this.#queuedBytes > 0) {
        this.#state = SCHEDULED;
        waitForSlot(this);
      } else {
        this.#becomeIdle();
      }
      startWaiting();
    } else {
      this.#writeNext();
    }
  };

  #failed = (error: unknown): void => {
    this.#inFlight = null;
    this.#releasePooled();
    releaseSlot(this.#slotEpoch);
    const first = !this.#closedByFailure;
    this.#fail();
    this.#becomeIdle();
    if (first) this.#options.onWriteError?.(error);
    startWaiting();
  };

  #fail(): void {
    this.#closed = true;
    this.#closedByFailure = true;
    this.#single = null;
    this.#queue = null;
    this.#queuedBytes = 0;
  }

  #releasePooled(): void {
    if (this.#pooled === null) return;
    if (pool.length < POOL_KEEP) pool.push(this.#pooled);
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

function joinAll(chunks: Uint8Array[], totalBytes: number): Uint8Array {
  const joined = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** Writes all of `bytes`: `Deno.Conn.write` may write only part of them. */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(written === 0 ? bytes : bytes.subarray(written));
  }
}
