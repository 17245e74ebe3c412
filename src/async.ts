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
