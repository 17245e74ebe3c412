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
 *   off the main thread (the chat never stalls for a hash), and a burst of
 *   logins cannot take every core and 32 MiB each. The hashes wait here
 *   without a bound of their own: whoever asks for them bounds how many it
 *   asks for, fairly per address (`Accounts` through a
 *   `FairQueue`, see `budgets.ts`), and is told "try again in N s"
 *   there instead of an exception here.
 * - **Constant-time comparison** ({@linkcode constantTimeEqual}): how long a wrong guess
 *   takes says nothing about how many bytes matched. A stored hash of the wrong
 *   length never matches (an empty one must not match everything).
 * - Passwords are compared as UTF-8 of their NFC form, so the same password
 *   typed on systems that compose accents differently still matches.
 * - Failed attempts are throttled per address by {@linkcode AttemptThrottle}
 *   (in `budgets.ts`, exported here too).
 *
 * @module
 */

import type { Account } from "./store.ts";

export { AttemptThrottle, type AttemptThrottleOptions } from "./budgets.ts";

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
/** Parameters that need more memory than this are refused (a damaged or hostile stored value). */
const MAX_MEMORY = 256 * 1024 * 1024;

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

/** How a caller hashes and checks passwords (the functions below; tests count them). */
export interface PasswordHasher {
  hash(password: string): Promise<PasswordHash>;
  verify(password: string, account: Pick<Account, "hash" | "salt" | "params">): Promise<boolean>;
}

/** {@linkcode hashPassword} and {@linkcode verifyPassword}. */
export const scryptHasher: PasswordHasher = Object.freeze({
  hash: hashPassword,
  verify: verifyPassword,
});

let running = 0;
const waiting: (() => void)[] = [];
let started = 0;

/** scrypt runs started in this process so far (tests count the real guesses an attack got). */
export function hashesStarted(): number {
  return started;
}

/** Runs `work` when one of the {@linkcode MAX_RUNNING} slots is free. */
async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (running < MAX_RUNNING) running++;
  else await new Promise<void>((go) => waiting.push(go)); // the slot is handed over, `running` unchanged
  started++;
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
