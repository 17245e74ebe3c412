/**
 * Account passwords: slow salted hashes, constant-time checks, and a throttle
 * on failed attempts per address (SPEC §10).
 *
 * The choices:
 *
 * - **scrypt** from `node:crypto` (built into Deno, no package): memory-hard,
 *   so guessing on a GPU costs memory as well as time. N=32768, r=8, p=1 uses
 *   32 MiB (128·N·r) per hash and is slow enough that a stolen database costs
 *   an attacker dearly per guess, fast enough that a login is not noticed. The parameters are stored with each account, so they
 *   can be raised later without breaking old accounts.
 * - **A random 16-byte salt per account**: the same password gives a different
 *   hash for each account, and precomputed tables are useless.
 * - **Asynchronous, at most {@linkcode MAX_RUNNING} at a time**: scrypt runs
 *   off the main thread (the chat never stalls for a hash), and the
 *   queue keeps a burst of logins from taking every core and 32 MiB each; at
 *   most {@linkcode MAX_WAITING} wait, beyond that a call is refused
 *   ({@linkcode PasswordsBusyError}) instead of memory growing.
 * - **Constant-time comparison** ({@linkcode constantTimeEqual}): how long a wrong guess
 *   takes says nothing about how many bytes matched. A stored hash of the wrong
 *   length never matches (an empty one must not match everything).
 * - Passwords are compared as UTF-8 of their NFC form, so the same password
 *   typed on systems that compose accents differently still matches.
 * - **Throttle per address** ({@linkcode AttemptThrottle}): a few failures a
 *   minute, so guessing online is hopeless even for weak passwords; its memory
 *   is bounded, stale addresses are forgotten.
 *
 * @module
 */

import type { Account } from "./store.ts";

/** scrypt cost parameters for new hashes. */
export const SCRYPT_PARAMS: Readonly<{ N: number; r: number; p: number }> = Object.freeze({
  N: 32768,
  r: 8,
  p: 1,
});
/** Bytes of random salt per account. */
export const SALT_BYTES = 16;
/** Bytes of scrypt output kept. */
export const HASH_BYTES = 32;
/** Hashes computed at once (the machine has few cores; each takes 32 MiB). */
export const MAX_RUNNING = 2;
/** Hashes waiting for their turn before more are refused. */
export const MAX_WAITING = 256;
/** Parameters that need more memory than this are refused (a damaged or hostile stored value). */
const MAX_MEMORY = 256 * 1024 * 1024;

/** Too many password checks waiting at once; the caller should say "try again shortly". */
export class PasswordsBusyError extends Error {
  override name = "PasswordsBusyError";
  constructor() {
    super(`too many password checks waiting (${MAX_WAITING}); try again shortly`);
  }
}

/** A new password's hash, with the salt and parameters needed to check it later. */
export interface PasswordHash {
  hash: Uint8Array;
  salt: Uint8Array;
  params: { N: number; r: number; p: number };
}

/** Hashes `password` with a new random salt (slow on purpose, off the main thread). */
export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const params = { ...SCRYPT_PARAMS };
  const hash = await derive(password, salt, params);
  return { hash, salt, params };
}

/** True when `password` is the one `account`'s hash was made from (constant-time compare). */
export async function verifyPassword(
  password: string,
  account: Pick<Account, "hash" | "salt" | "params">,
): Promise<boolean> {
  if (account.hash.length !== HASH_BYTES) return false;
  const hash = await derive(password, account.salt, account.params);
  return constantTimeEqual(hash, account.hash);
}

/**
 * Whether `a` and `b` hold the same bytes, in a time that depends on their
 * length only, never on where they first differ.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

let running = 0;
const waiting: (() => void)[] = [];

/** Runs `work` when one of the {@linkcode MAX_RUNNING} slots is free. */
async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (running < MAX_RUNNING) running++;
  else {
    if (waiting.length >= MAX_WAITING) throw new PasswordsBusyError();
    await new Promise<void>((go) => waiting.push(go)); // the slot is handed over, `running` unchanged
  }
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** scrypt(password, salt) with `params`, in turn. */
function derive(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  const { N, r, p } = params;
  const valid = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0 && Number.isInteger(r) &&
    r >= 1 && Number.isInteger(p) && p >= 1 && 128 * N * r <= MAX_MEMORY && p <= 16;
  if (!valid) {
    return Promise.reject(new RangeError(`unusable scrypt parameters N=${N} r=${r} p=${p}`));
  }
  const secret = new TextEncoder().encode(password.normalize("NFC"));
  // scrypt needs 128·N·r bytes plus its buffers; the default limit (32 MiB) is just too small.
  const maxmem = 2 * 128 * N * r + 128 * r * p;
  return inTurn(async () => {
    // node:crypto is loaded by the first password check: a server without accounts never
    // carries it.
    const { scrypt } = await import("node:crypto");
    return new Promise<Uint8Array>((done, fail) => {
      scrypt(secret, salt, HASH_BYTES, { N, r, p, maxmem }, (error, key) => {
        if (error) fail(error);
        else done(Uint8Array.from(key));
      });
    });
  });
}

/** How an {@linkcode AttemptThrottle} counts. */
export interface AttemptThrottleOptions {
  /** Failures allowed per window (3). */
  limit?: number;
  /** The window, in ms (60 s). */
  windowMs?: number;
  /** Addresses remembered at most (10 000); beyond that the stalest is forgotten. */
  maxAddresses?: number;
}

/**
 * Failed password attempts per address: after `limit` failures within
 * `windowMs`, the address must wait until the oldest of them is older than the
 * window. Remembers at most `limit` times per address and at most
 * `maxAddresses` addresses; addresses whose failures are all stale are
 * forgotten as new failures come in. Time is passed in (`now`, ms).
 */
export class AttemptThrottle {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  /** Failure times per address, oldest first; the map is in order of each address's last failure. */
  readonly #failures = new Map<string, number[]>();

  constructor(options: AttemptThrottleOptions = {}) {
    this.#limit = Math.max(1, options.limit ?? 3);
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
  }

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  blocked(address: string, now: number): number {
    const times = this.#recent(address, now);
    if (times === undefined || times.length < this.#limit) return 0;
    return times[0] + this.#windowMs - now;
  }

  /** Counts a failed attempt from `address`. */
  failed(address: string, now: number): void {
    this.#forgetStale(now);
    const times = this.#recent(address, now) ?? [];
    times.push(now);
    if (times.length > this.#limit) times.shift();
    this.#failures.delete(address); // to the end: the most recent failure
    this.#failures.set(address, times);
    for (const stalest of this.#failures.keys()) {
      if (this.#failures.size <= this.#maxAddresses) break;
      this.#failures.delete(stalest);
    }
  }

  /** Forgets `address`'s failures (it proved a password). */
  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#failures.size;
  }

  /** `address`'s failures still inside the window (forgetting it when none are). */
  #recent(address: string, now: number): number[] | undefined {
    const times = this.#failures.get(address);
    if (times === undefined) return undefined;
    while (times.length > 0 && times[0] <= now - this.#windowMs) times.shift();
    if (times.length === 0) {
      this.#failures.delete(address);
      return undefined;
    }
    return times;
  }

  /** Drops addresses whose last failure is outside the window: they are first in the map. */
  #forgetStale(now: number): void {
    for (const [address, times] of this.#failures) {
      if (times[times.length - 1] > now - this.#windowMs) break;
      this.#failures.delete(address);
    }
  }
}
