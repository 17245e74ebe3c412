/**
 * The mute list: which nicks and accounts an operator muted, and until when,
 * the same on every server (SPEC §10). A mute is on the member muted, at
 * once, and on its nick and account from then on: the member who
 * reconnects, to this server or another one, under that nick or account is
 * still muted. A muted member who changes nick takes its mute along (the
 * new nick joins the same mute, so `/unmute` of either lifts it whole).
 *
 * In memory for the speech path (a look-up per line, none while nobody is
 * muted), kept in the {@linkcode Store} where it is shared (`--cluster`:
 * Redis, so a server started later reads it); the other servers' changes
 * arrive as `moderated` events (`Moderation.follow`).
 *
 * @module
 */

import type { Clock } from "./events.ts";
import type { Member } from "./records.ts";
import type { Store } from "./store.ts";

/** One nick or account muted. */
interface Entry {
  /** Ends then (ms since the epoch); null: until unmuted. */
  until: number | null;
  by: string;
  /** The key the mute was first given to: every key of one mute shares it. */
  group: string;
}

/** The nicks and accounts muted, by key. */
export class Mutes {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Reads the mutes the store keeps (at start); none where it keeps none. */
  async load(): Promise<void> {
    if (this.#store.mutes === undefined) return;
    const now = this.#clock();
    for (const mute of await this.#store.mutes()) {
      if (mute.until === null || mute.until > now) {
        this.#entries.set(mute.key, { until: mute.until, by: mute.by, group: mute.group });
      } else {
        this.#store.setMute?.(mute.key, null); // ran out while nobody looked
      }
    }
  }

  /**
   * Brings a member's mute up to date with the list (it entered or took a
   * nick or account that is muted): cheap, and nothing while nobody is muted.
   */
  sync(m: Member): void {
    if (this.#entries.size === 0) return;
    const entry = this.#live(m.key) ?? (m.account === null ? null : this.#live(m.account));
    if (entry === null) return;
    const until = entry.until ?? Infinity;
    if (m.mutedUntil < until) m.mutedUntil = until;
  }

  /** The keys a member is muted under: its nick's, and its account's when it has one. */
  keysOf(m: Member): string[] {
    return m.account === null || m.account === m.key ? [m.key] : [m.key, m.account];
  }

  /**
   * Mutes `keys`, one mute (a key muted already names it: the others join
   * it; else the first key does), and keeps it in the store; `store` false
   * for what another server kept already.
   */
  add(keys: readonly string[], until: number | null, by: string, store = true): void {
    const group = this.#groupOf(keys) ?? keys[0];
    for (const key of keys) {
      const entry = { until, by, group };
      this.#entries.set(key, entry);
      if (store) this.#store.setMute?.(key, { key, ...entry });
    }
  }

  /**
   * Lifts the mutes `keys` are under, with every key of the same mutes;
   * returns the keys lifted. `store` false for what another server did.
   */
  remove(keys: readonly string[], store = true): string[] {
    const groups = new Set<string>();
    for (const key of keys) {
      const entry = this.#entries.get(key);
      if (entry !== undefined) groups.add(entry.group);
    }
    const lifted = new Set(keys.filter((key) => this.#entries.has(key)));
    for (const [key, entry] of this.#entries) if (groups.has(entry.group)) lifted.add(key);
    for (const key of lifted) {
      this.#entries.delete(key);
      if (store) this.#store.setMute?.(key, null);
    }
    return [...lifted];
  }

  /** Whether `key` is muted now. */
  has(key: string): boolean {
    return this.#live(key) !== null;
  }

  /** The mute `key` is under now, if any: until when (null: until unmuted) and by whom. */
  entry(key: string): { until: number | null; by: string } | null {
    const entry = this.#live(key);
    return entry === null ? null : { until: entry.until, by: entry.by };
  }

  /** The entry of `key` while it lasts (one that ran out is dropped). */
  #live(key: string): Entry | null {
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    if (entry.until !== null && entry.until <= this.#clock()) {
      this.#entries.delete(key);
      return null;
    }
    return entry;
  }

  #groupOf(keys: readonly string[]): string | null {
    for (const key of keys) {
      const entry = this.#live(key);
      if (entry !== null) return entry.group;
    }
    return null;
  }
}
