/**
 * Accounts: nicks reserved by a password (SPEC §10). A registered nick can be
 * used only by whoever proves its password; the passwords are kept only as
 * slow salted hashes (scrypt), compared in constant time, and failed attempts
 * are throttled per address. Some names nobody can take at all.
 *
 * This module owns the rules; the accounts themselves live in the
 * {@linkcode Store} (memory, SQLite or Redis), and the {@linkcode Chat}
 * decides what proving a nick does to whoever holds it.
 *
 * @module
 */

import { nameKey } from "../protocol/names.ts";
import { errorText } from "../errors.ts";
import type { Problem } from "./commands.ts";
import type { Clock } from "./events.ts";
import { AttemptThrottle, hashPassword, verifyPassword } from "./passwords.ts";
import type { Account, Store } from "./store.ts";

/** The shortest password an account may have, in characters. */
export const MIN_PASSWORD = 8;

/** Names nobody can take: services some clients talk to, and the server itself. */
const RESERVED = new Set(["nickserv", "chanserv", "server", "operserv"].map(nameKey));
/** Guest nicks are the server's to hand out. */
const GUEST = /^guest-/;

/** Whether a nick (by its key) is one nobody may choose. */
export function isReserved(key: string): boolean {
  return RESERVED.has(key) || GUEST.test(key);
}

/** The account rules, over a store. */
export class Accounts {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #throttle: AttemptThrottle;
  readonly #onError: (message: string) => void;

  constructor(
    store: Store,
    options: {
      clock: Clock;
      throttle?: AttemptThrottle;
      /** Told what failed when the store cannot answer (the caller then hears "unavailable"). */
      onError?: (message: string) => void;
    },
  ) {
    this.#store = store;
    this.#clock = options.clock;
    this.#throttle = options.throttle ?? new AttemptThrottle();
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Whether nick `key` is registered. Rejects when the store cannot say (the
   * caller refuses the nick rather than hand out someone's name).
   */
  async registered(key: string): Promise<boolean> {
    return (await this.#store.account(key)) !== null;
  }

  /** Checks `password` for nick `key`, throttled per address. */
  async check(
    address: string,
    key: string,
    nick: string,
    password: string,
  ): Promise<Problem | null> {
    const now = this.#clock();
    const wait = this.#throttle.blocked(address, now);
    if (wait > 0) return { code: "too-many-attempts", seconds: Math.ceil(wait / 1000) };
    const account = await this.#load(key);
    if (account === "failed") return { code: "accounts-unavailable" };
    if (account === null) {
      this.#throttle.failed(address, now);
      return { code: "not-registered", nick };
    }
    if (!(await verifyPassword(password, account))) {
      this.#throttle.failed(address, this.#clock());
      return { code: "wrong-password", nick: account.nick };
    }
    this.#throttle.succeeded(address);
    return null;
  }

  /** Registers nick `key` (shown as `nick`) with `password`. */
  async register(key: string, nick: string, password: string): Promise<Problem | null> {
    if (isReserved(key)) return { code: "nick-reserved", nick };
    if ([...password].length < MIN_PASSWORD) {
      return { code: "password-too-short", min: MIN_PASSWORD };
    }
    try {
      const hashed = await hashPassword(password);
      const added = await this.#store.addAccount({ key, nick, ...hashed, created: this.#clock() });
      return added ? null : { code: "nick-registered", nick };
    } catch (error) {
      return this.#unavailable(`cannot register ${nick}`, error);
    }
  }

  /** Sets a new password for the account of `key`. */
  async setPassword(key: string, nick: string, password: string): Promise<Problem | null> {
    if ([...password].length < MIN_PASSWORD) {
      return { code: "password-too-short", min: MIN_PASSWORD };
    }
    const account = await this.#load(key);
    if (account === "failed") return { code: "accounts-unavailable" };
    if (account === null) return { code: "not-registered", nick };
    try {
      await this.#store.updateAccount({ ...account, ...(await hashPassword(password)) });
      return null;
    } catch (error) {
      return this.#unavailable(`cannot set the password of ${nick}`, error);
    }
  }

  /** Gives up the account of `key`. */
  async drop(key: string, nick: string): Promise<Problem | null> {
    const account = await this.#load(key);
    if (account === "failed") return { code: "accounts-unavailable" };
    if (account === null) return { code: "not-registered", nick };
    try {
      await this.#store.dropAccount(key);
      return null;
    } catch (error) {
      return this.#unavailable(`cannot drop ${nick}`, error);
    }
  }

  async #load(key: string): Promise<Account | null | "failed"> {
    try {
      return await this.#store.account(key);
    } catch (error) {
      this.#unavailable(`cannot read the account ${key}`, error);
      return "failed";
    }
  }

  /** A store (or hashing) failure: reported, and answered as "accounts unavailable". */
  #unavailable(what: string, error: unknown): Problem {
    this.#onError(`accounts: ${what}: ${errorText(error)}`);
    return { code: "accounts-unavailable" };
  }
}
