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
 */
export class EqualWaits {
  readonly #ms: number;
  #queue: { at: number; end: () => void }[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /**
   * Resolves `ms` milliseconds from now, or up to {@linkcode WAIT_GRAIN_MS}
   * sooner (later only by as much as the timer is late).
   */
  wait(): Promise<void> {
    return new Promise((end) => {
      this.#queue.push({ at: performance.now() + this.#ms, end });
      if (this.#timer === undefined) this.#arm();
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
    this.#arm();
  };
}
