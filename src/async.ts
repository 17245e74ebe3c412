/**
 * Waiting, with a way out: the timing helpers the server, the client and the
 * bench share. Every wait here can be bounded or cancelled, so nothing hangs.
 *
 * @module
 */

/**
 * Resolves true after `ms` milliseconds, or false as soon as `signal` aborts
 * (at once when it already has). The timer never outlives the wait.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(true), Math.max(0, ms));
    const onAbort = () => done(false);
    signal?.addEventListener("abort", onAbort, { once: true });
    function done(slept: boolean) {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(slept);
    }
  });
}

/**
 * True when `promise` settles (either way) within `ms` milliseconds, false
 * when the time ran out first. The timer never outlives the wait.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `promise`'s value, or `fallback` when it does not settle within `ms`
 * milliseconds. A rejection is passed on.
 */
export async function valueWithin<T, F>(
  promise: Promise<T>,
  ms: number,
  fallback: F,
): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<F>((resolve) => timer = setTimeout(() => resolve(fallback), ms));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How early an {@linkcode EqualWaits} wait may end, so that waits due together end together. */
export const WAIT_GRAIN_MS = 4;

/**
 * Many waits of one length at once, on one timer. Each wait is as long as
 * the others, so they end in the order they began: a queue, and a timer for
 * its head. When the timer fires it also ends the waits due in the next
 * {@linkcode WAIT_GRAIN_MS}, so a connect storm of thousands of waits sets a
 * timer every few milliseconds, not one per wait.
 *
 * With `settle`, the waits that are due end only once the promise it returns
 * has resolved (the server's sniffing waits pass {@linkcode CatchUp.settle}:
 * a wait must not end on the clock while what it waits for is already there,
 * unread, behind a busy server). Waits that fall due meanwhile are ended by
 * the next round, still in order.
 */
export class EqualWaits {
  readonly #ms: number;
  readonly #settle: (() => Promise<void>) | null;
  #queue: { at: number; end: () => void }[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A settle is under way: the timer is re-armed once it is done. */
  #settling = false;

  constructor(ms: number, options: { settle?: () => Promise<void> } = {}) {
    this.#ms = ms;
    this.#settle = options.settle ?? null;
  }

  /**
   * Resolves `ms` milliseconds from now, or up to {@linkcode WAIT_GRAIN_MS}
   * sooner (later only by as much as the timer is late, and with `settle`,
   * as long as it takes).
   */
  wait(): Promise<void> {
    return new Promise((end) => {
      this.#queue.push({ at: performance.now() + this.#ms, end });
      if (this.#timer === undefined && !this.#settling) this.#arm();
    });
  }

  /** Ends every wait now (a server shutting down), and the timer with them. */
  endAll(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const queue = this.#queue;
    for (let at = this.#head; at < queue.length; at++) queue[at].end();
    this.#queue = [];
    this.#head = 0;
  }

  #arm(): void {
    const untilHead = this.#queue[this.#head].at - performance.now();
    this.#timer = setTimeout(this.#due, Math.max(0, untilHead));
  }

  #due = (): void => {
    this.#timer = undefined;
    const due = performance.now() + WAIT_GRAIN_MS;
    if (this.#settle === null) return this.#endDue(due);
    this.#settling = true;
    this.#settle().catch(() => {}).then(() => {
      this.#settling = false;
      this.#endDue(due);
    });
  };

  /** Ends the waits due by `due`, then arms the timer for the next one. */
  #endDue(due: number): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head].at <= due) queue[this.#head++].end();
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    if (this.#head >= 1024) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    if (this.#timer === undefined) this.#arm();
  }
}

/**
 * How long {@linkcode CatchUp.settle} goes on while the server is busy but
 * nothing arrives (busy with other things: what was waited for is not coming).
 */
export const CATCH_UP_IDLE_MS = 5000;

/** How long {@linkcode CatchUp.settle} goes on at most, however busy the server stays. */
export const CATCH_UP_LIMIT_MS = 20_000;

/** What a {@linkcode CatchUp} is told. */
export interface CatchUpOptions {
  /** The length of one step (ms). */
  stepMs: number;
  /** How late a step's timer may fire and the event loop still count as free (ms; default 5). */
  lateMs?: number;
  /** Everything else the server has done so far (reads, writes), a count that only grows. */
  activity?: () => number;
  /** Fewer than this much `activity` in a step is quiet (default 64). */
  busyActivity?: number;
  /** Quiet steps in a row that say the server has caught up (default 2). */
  quietSteps?: number;
}

/**
 * Tells when a busy server has caught up with what is already there for it.
 * Callers count arrivals in `progress` (new connections, their first
 * bytes), and {@linkcode settle} resolves after `quietSteps` quiet steps in
 * a row: `stepMs` each in which nothing arrived, little else was done
 * (`activity`), and whose timer was not late. On a quiet server `settle`
 * takes those steps and no more. It gives up when nothing has arrived for
 * {@linkcode CATCH_UP_IDLE_MS} (busy with other things) and after
 * {@linkcode CATCH_UP_LIMIT_MS} in all (a server that never catches up).
 *
 * Why (issue 18, item 11): Deno hands a turn of its event loop about 128
 * completed reads, accepts and writes; under a burst of connects the reads
 * of waiting clients queue behind accepts and writes, and their bytes sit in
 * the socket, unread, for hundreds of ms. So a server must not take the
 * clock's word that a client was silent while it is that busy. Measured
 * with 3,000 IRC clients sending their registration with their connect:
 * turns alternate between ~128 first-bytes reads (the next timer 100-400 ms
 * late) and hundreds of writes (the timer on time, no reads): neither
 * lateness nor arrivals alone show the backlog; together with the writes
 * they do, and two quiet steps in a row rather than one keep a single
 * turn of writes from passing for the end. (A probe byte round a loopback
 * pair does not either: it is answered ahead of older reads.)
 */
export class CatchUp {
  /** Arrivals so far: callers add to it. */
  progress = 0;
  readonly #stepMs: number;
  readonly #lateMs: number;
  readonly #activity: () => number;
  readonly #busyActivity: number;
  readonly #quietSteps: number;
  #settling: Promise<void> | null = null;
  /** While a step is under way: its timer, and what ends it early. */
  #stepTimer: ReturnType<typeof setTimeout> | undefined;
  #endStep: (() => void) | null = null;
  #stopped = false;

  constructor(options: CatchUpOptions) {
    this.#stepMs = options.stepMs;
    this.#lateMs = options.lateMs ?? 5;
    this.#activity = options.activity ?? (() => 0);
    this.#busyActivity = options.busyActivity ?? 64;
    this.#quietSteps = options.quietSteps ?? 2;
  }

  /** Resolves after the next quiet steps; calls meanwhile share it. */
  settle(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return this.#settling ??= this.#quietStep().finally(() => this.#settling = null);
  }

  /** Ends a settle under way at once, and every later one (a server shutting down). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#stepTimer);
    this.#endStep?.();
  }

  async #quietStep(): Promise<void> {
    const began = performance.now();
    let lastArrival = began;
    let quietInARow = 0;
    for (;;) {
      const arrived = this.progress;
      const done = this.#activity();
      const stepped = performance.now();
      await new Promise<void>((resolve) => {
        this.#endStep = resolve;
        this.#stepTimer = setTimeout(resolve, this.#stepMs);
      });
      this.#endStep = null;
      if (this.#stopped) return;
      const now = performance.now();
      const quiet = this.progress === arrived &&
        this.#activity() - done < this.#busyActivity &&
        now - stepped <= this.#stepMs + this.#lateMs;
      if (Deno.env.get("LAGLOG")) {
        console.error(
          "step",
          (now - began).toFixed(0),
          "late",
          (now - stepped - this.#stepMs).toFixed(0),
          "arrived",
          this.progress - arrived,
          "activity",
          this.#activity() - done,
          quiet,
          "idle",
          (now - lastArrival).toFixed(0),
        );
      }
      if (this.progress !== arrived) lastArrival = now;
      quietInARow = quiet ? quietInARow + 1 : 0;
      if (
        quietInARow >= this.#quietSteps || now - lastArrival >= CATCH_UP_IDLE_MS ||
        now - began >= CATCH_UP_LIMIT_MS
      ) {
        return;
      }
    }
  }
}
