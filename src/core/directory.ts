/**
 * The directory: who holds which nickname, across everything that shares the
 * chat. A nick is claimed before it is used and released when it is given up,
 * so two members can never hold one nick, even on two servers. This is a seam:
 * the in-memory directory here serves one server; Redis (`--cluster`) keeps
 * claims for many.
 *
 * Claims are asynchronous from the start (a remote directory needs a round
 * trip); releases are fire-and-forget.
 *
 * @module
 */

/** Nick claims. Nicks are named by their key (see `nameKey`); owners by member id. */
export interface Directory {
  /** Claims nick `key` for `owner`; false when another owner holds it. */
  claim(key: string, owner: string): Promise<boolean>;
  /** Gives up `owner`'s claim of `key` (nothing when someone else holds it). */
  release(key: string, owner: string): void;
  /**
   * Stops holding `owner`'s claim of `key` here without giving it up: another server holds
   * it for the same owner (one account's devices on several servers). Absent: released.
   */
  forget?(key: string, owner: string): void;
  /** A guest number not handed out before while the chat runs: 1, 2, 3, … */
  nextGuest(): Promise<number>;
  /** Who holds nick `key` anywhere (a member id), or null. */
  holder(key: string): Promise<string | null>;
}

/** Claims in memory, for one server. */
export class MemoryDirectory implements Directory {
  readonly #owners = new Map<string, string>();
  #lastGuest = 0;

  claim(key: string, owner: string): Promise<boolean> {
    const holder = this.#owners.get(key);
    if (holder !== undefined && holder !== owner) return Promise.resolve(false);
    this.#owners.set(key, owner);
    return Promise.resolve(true);
  }

  release(key: string, owner: string): void {
    if (this.#owners.get(key) === owner) this.#owners.delete(key);
  }

  nextGuest(): Promise<number> {
    return Promise.resolve(++this.#lastGuest);
  }

  holder(key: string): Promise<string | null> {
    return Promise.resolve(this.#owners.get(key) ?? null);
  }
}
