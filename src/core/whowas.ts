/**
 * Who had a nick: a bounded record of the nicks members of this server gave
 * up (by leaving the chat or by renaming), newest first, for IRC's WHOWAS.
 * At most {@linkcode WHOWAS_SIZE} entries in all, the oldest dropped first;
 * looked up by nick key, so `Alice` finds what `alice` was.
 *
 * A ring of a thousand entries is scanned whole on a lookup: a few
 * microseconds, and no index to keep in step.
 *
 * @module
 */

/** How many gone nicks are remembered, in all. */
export const WHOWAS_SIZE = 1000;

/** What is remembered of a nick someone gave up. */
export interface WhowasEntry {
  nick: string;
  user: string;
  /** The real name it had (IRC's USER); empty when it gave none. */
  realname: string;
  /** When it gave the nick up (ms since the epoch). */
  time: number;
}

/** The ring of recently given-up nicks. */
export class Whowas {
  readonly #size: number;
  readonly #entries: (WhowasEntry & { key: string })[] = [];
  /** Where the next entry goes once the ring is full. */
  #next = 0;

  constructor(size = WHOWAS_SIZE) {
    this.#size = size;
  }

  /** Remembers that a member gave nick `key` (its `nameKey`) up. */
  record(key: string, entry: WhowasEntry): void {
    const kept = { key, ...entry };
    if (this.#entries.length < this.#size) {
      this.#entries.push(kept);
      return;
    }
    this.#entries[this.#next] = kept;
    this.#next = (this.#next + 1) % this.#size;
  }

  /** The entries of nick `key`, newest first; at most `count` of them (0 or less: all). */
  lookup(key: string, count = 0): WhowasEntry[] {
    const found: WhowasEntry[] = [];
    const entries = this.#entries;
    const n = entries.length;
    // Newest first: the slot before #next, backwards around the ring.
    for (let i = 1; i <= n; i++) {
      const entry = entries[(this.#next - i + n) % n];
      if (entry.key !== key) continue;
      found.push({
        nick: entry.nick,
        user: entry.user,
        realname: entry.realname,
        time: entry.time,
      });
      if (count > 0 && found.length >= count) break;
    }
    return found;
  }

  /** How many entries are kept now. */
  get size(): number {
    return this.#entries.length;
  }
}
