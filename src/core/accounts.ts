/**
 * Accounts: nicks reserved by a password (SPEC §10). A registered nick can be
 * used only by whoever proves its password; the passwords are kept only as
 * slow salted hashes (scrypt), compared in constant time. Some names nobody
 * can take at all.
 *
 * Every hash is budgeted (SPEC §4; the budgets and why are in `budgets.ts`),
 * per address (IPv6 per /64) and for the whole server:
 *
 * - a password check counts as a failure *before* its hash starts (released
 *   when the password was right), and an address's hashes run one at a time,
 *   so guesses sent at once cannot overtake the count;
 * - registrations and password changes take a token from the address's bucket
 *   and the server's, checked before anything is hashed;
 * - hashes wait in a {@linkcode FairQueue} where addresses take turns and
 *   logins go before registrations and password changes.
 *
 * What is over budget is answered as a problem (`too-many-attempts`, `busy`
 * with the seconds to wait), never as an exception: nobody is disconnected
 * because others are hashing.
 *
 * This module owns the rules; the accounts themselves live in the
 * {@linkcode Store} (memory, SQLite or Redis), and the {@linkcode Chat}
 * decides what proving a nick does to whoever holds it.
 *
 * @module
 */

import { nameKey } from "../protocol/names.ts";
import { errorText } from "../errors.ts";
import type { Problem, ProvedAccount } from "./commands.ts";
import type { Clock } from "./events.ts";
import {
  addressKey,
  AttemptThrottle,
  type Budgets,
  budgets as withDefaults,
  FairQueue,
  type Queued,
  RateLimit,
  waitSeconds,
} from "./budgets.ts";
import { type PasswordHash, type PasswordHasher, scryptHasher } from "./passwords.ts";
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

/** What {@linkcode Accounts} needs around it. */
export interface AccountsOptions {
  clock: Clock;
  /** The budgets of expensive work (the defaults: `DEFAULT_BUDGETS`). */
  budgets?: Partial<Budgets>;
  /** How passwords are hashed and checked (scrypt; tests count the calls). */
  hasher?: PasswordHasher;
  /** Told what failed when the store cannot answer (the caller then hears "unavailable"). */
  onError?: (message: string) => void;
  /** The shortest password a new one may be, in characters ({@linkcode MIN_PASSWORD} by default). */
  minPassword?: number;
}

/** The account rules, over a store. */
export class Accounts {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #v6Prefix: number;
  readonly #failures: AttemptThrottle;
  readonly #registrations: RateLimit;
  readonly #serverRegistrations: RateLimit;
  readonly #queue: FairQueue;
  readonly #hasher: PasswordHasher;
  readonly #onError: (message: string) => void;
  readonly #minPassword: number;

  constructor(store: Store, options: AccountsOptions) {
    const budgets = withDefaults(options.budgets);
    this.#store = store;
    this.#clock = options.clock;
    this.#v6Prefix = budgets.v6Prefix;
    this.#failures = new AttemptThrottle(budgets.loginFailures);
    this.#registrations = new RateLimit(budgets.registrations);
    this.#serverRegistrations = new RateLimit(budgets.serverRegistrations);
    this.#queue = new FairQueue(budgets.passwordQueue);
    this.#hasher = options.hasher ?? scryptHasher;
    this.#onError = options.onError ?? (() => {});
    this.#minPassword = options.minPassword ?? MIN_PASSWORD;
  }

  /**
   * Whether nick `key` is registered. Rejects when the store cannot say (the
   * caller refuses the nick rather than hand out someone's name).
   */
  async registered(key: string): Promise<boolean> {
    return (await this.#store.account(key)) !== null;
  }

  /**
   * Checks `password` for nick `key`, from `address`: at most
   * `loginFailures.limit` wrong ones per window from an address (IPv6: its
   * network), counted before the hash starts.
   */
  async check(
    address: string,
    key: string,
    nick: string,
    password: string,
  ): Promise<Problem | null> {
    const proved = await this.authenticate(address, key, nick, password);
    return "code" in proved ? proved : null;
  }

  /** {@linkcode check}, answering the account proved (its name as registered) when it is. */
  async authenticate(
    address: string,
    key: string,
    nick: string,
    password: string,
  ): Promise<Problem | ProvedAccount> {
    const from = this.#key(address);
    const wait = this.#failures.blocked(from, this.#clock());
    if (wait > 0) return { code: "too-many-attempts", seconds: waitSeconds(wait) };
    const account = await this.#load(key);
    if (account === "failed") return { code: "accounts-unavailable" };
    if (account === null) {
      // No hash, but a guess all the same (which nicks exist): it counts.
      this.#failures.failed(from, this.#clock());
      return { code: "not-registered", nick };
    }
    let queued: Queued<number | boolean>;
    try {
      queued = await this.#queue.run(from, async (): Promise<number | boolean> => {
        // This address's checks run one at a time: the count read here is final.
        const now = this.#clock();
        const wait = this.#failures.blocked(from, now);
        if (wait > 0) return wait;
        const reservation = this.#failures.reserve(from, now);
        const right = await this.#hasher.verify(password, account);
        if (right) this.#failures.release(reservation);
        return right;
      }, { urgent: true });
    } catch (error) {
      return this.#unavailable(`cannot check the password of ${nick}`, error);
    }
    if (!queued.done) return busy("password-checks", queued);
    if (typeof queued.value === "number") {
      return { code: "too-many-attempts", seconds: waitSeconds(queued.value) };
    }
    return queued.value
      ? { key, name: account.nick }
      : { code: "wrong-password", nick: account.nick };
  }

  /** Registers nick `key` (shown as `nick`) with `password`, for a member at `address`. */
  async register(
    address: string,
    key: string,
    nick: string,
    password: string,
  ): Promise<Problem | null> {
    if (isReserved(key)) return { code: "nick-reserved", nick };
    if ([...password].length < this.#minPassword) {
      return { code: "password-too-short", min: this.#minPassword };
    }
    const existing = await this.#load(key);
    if (existing === "failed") return { code: "accounts-unavailable" };
    if (existing !== null) return { code: "nick-registered", nick };
    return await this.#hashing(address, {
      password,
      what: `register ${nick}`,
      keep: async (hashed) => {
        const added = await this.#store.addAccount({
          key,
          nick,
          ...hashed,
          created: this.#clock(),
        });
        return added ? null : { code: "nick-registered", nick };
      },
    });
  }

  /**
   * Sets a new password for the account of `key`: asked from `address`, or by
   * the console or an operator (`address` null: no per-address budget).
   */
  async setPassword(
    address: string | null,
    key: string,
    nick: string,
    password: string,
  ): Promise<Problem | null> {
    if ([...password].length < this.#minPassword) {
      return { code: "password-too-short", min: this.#minPassword };
    }
    const account = await this.#load(key);
    if (account === "failed") return { code: "accounts-unavailable" };
    if (account === null) return { code: "not-registered", nick };
    return await this.#hashing(address, {
      password,
      what: `set the password of ${nick}`,
      keep: async (hashed) => {
        await this.#store.updateAccount({ ...account, ...hashed });
        return null;
      },
    });
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

  /**
   * Hashes `password` for a registration or a password change from `address`
   * (null: the console or an operator), within the registration budgets, and
   * stores it with `keep`; `what` names the work when the store fails.
   */
  async #hashing(
    address: string | null,
    { password, what, keep }: {
      password: string;
      what: string;
      keep: (hashed: PasswordHash) => Promise<Problem | null>;
    },
  ): Promise<Problem | null> {
    const from = address === null ? null : this.#key(address);
    const now = this.#clock();
    if (from !== null) {
      const wait = this.#registrations.take(from, now);
      if (wait > 0) return busy("registrations", { scope: "address", seconds: waitSeconds(wait) });
      const serverWait = this.#serverRegistrations.take("", now);
      if (serverWait > 0) {
        this.#registrations.refund(from, now);
        return busy("registrations", { scope: "server", seconds: waitSeconds(serverWait) });
      }
    }
    let queued: Queued<PasswordHash>;
    try {
      queued = await this.#queue.run(from ?? "", () => this.#hasher.hash(password));
      if (queued.done) return await keep(queued.value);
    } catch (error) {
      return this.#unavailable(`cannot ${what}`, error);
    }
    if (from !== null) {
      // Nothing was hashed: the tokens go back.
      this.#registrations.refund(from, this.#clock());
      this.#serverRegistrations.refund("", this.#clock());
    }
    return busy("password-checks", queued);
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

  /** The key `address` is counted by. */
  #key(address: string): string {
    return addressKey(address, { v6Prefix: this.#v6Prefix });
  }
}

function busy(
  work: Extract<Problem, { code: "busy" }>["work"],
  refusal: { scope: "address" | "server"; seconds: number },
): Problem {
  return { code: "busy", work, scope: refusal.scope, seconds: refusal.seconds };
}
