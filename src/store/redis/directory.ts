/**
 * Nick claims across the cluster: the {@linkcode Directory} seam over Redis.
 * A claim is a key with a lease (`parley:nick:{key}` = `<since> <owner>`,
 * PX `leaseMs`): it outlives its owner's server by at most the lease. The
 * server that holds claims renews all of them in one script call every
 * `renewMs`; a claim that turns out to be someone else's is reported through
 * `onLost`, so the chat can rename its member and tell it.
 *
 * **The clash rule.** Two owners can come to believe they hold one nick:
 * both claimed it while Redis was unreachable, or Redis restarted empty and
 * both re-assert, or one server was cut off longer than the lease and the
 * nick was claimed meanwhile. Then **the older claim wins**: the one with the
 * earlier `since` (when its owner got the nick), ties going to the smaller
 * owner id. The renew script applies it atomically, so the outcome does not
 * depend on who re-asserts first; the loser learns it at its next renew.
 *
 * **While the link is down** claims are granted locally (the chat still
 * keeps nicks unique on this server) and re-asserted when it is back, under
 * the same rule; releases wait and are sent then; guest numbers come from a
 * random range (above 10 000) instead of the cluster's counter.
 *
 * @module
 */

import type { Directory } from "../../core/directory.ts";
import { type Clock, systemClock } from "../../core/events.ts";
import { errorText } from "../../errors.ts";
import { GUESTS_KEY, nickKey } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import { detach, NICK_CLAIM, NICK_RELEASE, NICK_RENEW, runScript, within } from "./scripts.ts";

/** How a {@linkcode RedisDirectory} behaves. */
export interface RedisDirectoryOptions {
  /** How long a claim outlives its last renewal, in ms (default 15 000). */
  leaseMs?: number;
  /** How often claims are renewed, in ms (default 5000: three renewals per lease). */
  renewMs?: number;
  /** Longest wait for Redis on a claim before it is granted locally, in ms (default 2000). */
  timeoutMs?: number;
  /**
   * `owner` no longer holds nick `key`: an older claim of `holder` won (see
   * the clash rule). The chat renames the member and tells it.
   */
  onLost?(key: string, owner: string, holder: string | null): void;
  log?(message: string): void;
  clock?: Clock;
}

interface Claim {
  owner: string;
  /** When the owner got the nick (ms since the epoch): older claims win clashes. */
  since: number;
}

/** What one renewal found, per nick. */
export interface Renewal {
  renewed: string[];
  /** Gone from Redis (lease lapsed, reaped, restart) and claimed again. */
  reasserted: string[];
  /** Held by a younger claim: taken over. */
  tookOver: string[];
  /** Held by an older claim: given up (and reported through `onLost`). */
  lost: string[];
}

/** Claims per script call: bounded, so one renewal never blocks Redis for long. */
const RENEW_CHUNK = 500;

/** The value of a claim key, taken apart. */
export function parseClaim(value: string | null): Claim | null {
  if (value === null) return null;
  const space = value.indexOf(" ");
  if (space < 0) return null;
  return { since: Number(value.slice(0, space)), owner: value.slice(space + 1) };
}

/** Nick claims in Redis, with leases renewed while this server runs. */
export class RedisDirectory implements Directory {
  readonly #link: RedisLink;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #timeoutMs: number;
  readonly #options: RedisDirectoryOptions;
  readonly #clock: Clock;
  /** Claims held here, by nick key. */
  readonly #held = new Map<string, Claim>();
  /** Releases not sent yet (the link was down): nick key → owners. */
  readonly #releases = new Map<string, Set<string>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #renewing: Promise<Renewal> | null = null;
  #closed = false;
  readonly #stops: (() => void)[] = [];

  constructor(link: RedisLink, options: RedisDirectoryOptions = {}) {
    this.#link = link;
    this.#options = options;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#renewMs = options.renewMs ?? 5000;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Starts renewing; re-asserts at once after every reconnect and every new epoch. */
  start(): void {
    this.#timer = setInterval(() => detach(this.renew(), this.#options.log), this.#renewMs);
    this.#stops.push(this.#link.onReady((which) => {
      if (which === "commands") detach(this.renew(), this.#options.log);
    }));
    this.#stops.push(this.#link.onNewEpoch(async () => {
      await this.renew();
    }));
  }

  /** Claims held by this server. */
  get held(): number {
    return this.#held.size;
  }

  async claim(key: string, owner: string): Promise<boolean> {
    const mine = this.#held.get(key);
    if (mine !== undefined) return mine.owner === owner;
    const since = this.#clock();
    if (this.#link.ready) {
      const released = this.#releases.get(key);
      if (released !== undefined) {
        // Given up here while the link was down: say so first (same connection, so it runs first).
        this.#releases.delete(key);
        for (const previous of released) this.#sendRelease(key, previous);
      }
      try {
        const reply = await within(
          runScript(this.#link.commands, NICK_CLAIM, {
            keys: [nickKey(key)],
            args: [owner, String(since), String(this.#leaseMs)],
          }),
          this.#timeoutMs,
          "nick claim",
        );
        if (Number(reply) !== 1) return false;
      } catch (error) {
        this.#options.log?.(`Nick claim granted locally (${errorText(error)})`);
      }
    }
    // Claimed meanwhile on this server (two claims in flight for one nick)?
    const raced = this.#held.get(key);
    if (raced !== undefined) return raced.owner === owner;
    this.#held.set(key, { owner, since });
    return true;
  }

  release(key: string, owner: string): void {
    if (this.#held.get(key)?.owner !== owner) return;
    this.#held.delete(key);
    this.#sendRelease(key, owner);
  }

  /** Stops renewing `owner`'s claim of `key` here; Redis keeps it (another server renews it). */
  forget(key: string, owner: string): void {
    if (this.#held.get(key)?.owner === owner) this.#held.delete(key);
  }

  async nextGuest(): Promise<number> {
    if (this.#link.ready) {
      try {
        return await within(this.#link.commands.incr(GUESTS_KEY), this.#timeoutMs, "guest number");
      } catch { /* below */ }
    }
    return 10_000 + Math.floor(Math.random() * 90_000);
  }

  /** The member id holding nick `key` anywhere in the cluster, or null (or when Redis cannot say). */
  async holder(key: string): Promise<string | null> {
    const mine = this.#held.get(key);
    if (mine !== undefined) return mine.owner;
    if (!this.#link.ready) return null;
    try {
      const value = await within(this.#link.commands.get(nickKey(key)), this.#timeoutMs, "nick");
      return parseClaim(value)?.owner ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Renews every claim held here now (and sends waiting releases); runs the
   * clash rule where a claim was gone or someone else's. One call at a time.
   */
  renew(): Promise<Renewal> {
    if (this.#renewing !== null) return this.#renewing;
    this.#renewing = this.#renew().then((renewal) => {
      // Claims were re-asserted: if another server re-asserted the same nick
      // with an older claim, one more renewal soon tells this one (not in renewMs).
      if (renewal.reasserted.length > 0 || renewal.tookOver.length > 0) this.#renewSoon();
      return renewal;
    }).finally(() => this.#renewing = null);
    return this.#renewing;
  }

  #renewSoon(): void {
    if (this.#closed || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      detach(this.renew(), this.#options.log);
    }, Math.min(this.#renewMs, 1000));
  }

  /** Stops renewing and gives up every claim held here (a clean shutdown). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    for (const stop of this.#stops) stop();
    const claims = [...this.#held];
    this.#held.clear();
    if (!this.#link.ready) return;
    await within(
      Promise.allSettled(claims.map(([key, claim]) => this.#releaseNow(key, claim.owner))),
      1000,
      "releasing nicks",
    ).catch(() => {});
  }

  async #renew(): Promise<Renewal> {
    const result: Renewal = { renewed: [], reasserted: [], tookOver: [], lost: [] };
    if (this.#closed || !this.#link.ready) return result;
    const releases = [...this.#releases];
    this.#releases.clear();
    for (const [key, owners] of releases) for (const owner of owners) this.#sendRelease(key, owner);
    const claims = [...this.#held];
    for (let start = 0; start < claims.length; start += RENEW_CHUNK) {
      const chunk = claims.slice(start, start + RENEW_CHUNK);
      const args = [String(this.#leaseMs)];
      for (const [, claim] of chunk) args.push(claim.owner, String(claim.since));
      let codes: number[];
      try {
        codes = (await within(
          runScript(this.#link.commands, NICK_RENEW, {
            keys: chunk.map(([key]) => nickKey(key)),
            args,
          }),
          this.#timeoutMs,
          "nick renewal",
        ) as unknown[]).map(Number);
      } catch (error) {
        this.#options.log?.(`Nick renewal failed: ${errorText(error)}`);
        return result;
      }
      for (let i = 0; i < chunk.length; i++) {
        const [key, claim] = chunk[i];
        const code = codes[i];
        const current = this.#held.get(key);
        if (current !== claim) {
          // Released (or re-claimed) while the renewal was in flight: undo what it asserted.
          if (code !== 0) this.#sendRelease(key, claim.owner);
          continue;
        }
        if (code === 1) result.renewed.push(key);
        else if (code === 2) result.reasserted.push(key);
        else if (code === 3) result.tookOver.push(key);
        else {
          result.lost.push(key);
          this.#held.delete(key);
          const holder = await this.#link.commands.get(nickKey(key)).catch(() => null);
          try {
            this.#options.onLost?.(key, claim.owner, parseClaim(holder)?.owner ?? null);
          } catch { /* the listener's problem */ }
        }
      }
    }
    return result;
  }

  #sendRelease(key: string, owner: string): void {
    if (!this.#link.ready) {
      this.#later(key, owner);
      return;
    }
    // Not sent: again at the next renewal (harmless if it did run: it only deletes owner's claim).
    this.#releaseNow(key, owner).catch(() => this.#later(key, owner));
  }

  #later(key: string, owner: string): void {
    let owners = this.#releases.get(key);
    if (owners === undefined) this.#releases.set(key, owners = new Set());
    owners.add(owner);
  }

  #releaseNow(key: string, owner: string): Promise<unknown> {
    return runScript(this.#link.commands, NICK_RELEASE, { keys: [nickKey(key)], args: [owner] });
  }
}
