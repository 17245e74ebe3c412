/**
 * The receiving end of the feeds: turns Redis pub/sub (at most once: a
 * message published while the subscriber reconnects reaches nobody) into
 * every batch of every feed exactly once, in the feed's order.
 *
 * Per feed it keeps the last sequence number delivered and the feed's epoch;
 * the work of one feed is done in order on a promise chain:
 *
 * - a batch right after the last one: delivered;
 * - a batch at or below the last: a duplicate (already filled in): dropped;
 * - a batch beyond the next: the gap is read from the feed's log first;
 * - a batch of another epoch: Redis lost the feed (restarted empty); start
 *   over from seq 1 of the new epoch, filling in what came before it;
 * - after every re-subscribe: everything after the last seq of every feed
 *   known is read from its log (what was published meanwhile made no sound);
 * - a gap the log no longer holds (trimmed): reported as a hole, then on.
 *
 * A feed is known from its first batch on (or from {@linkcode FeedReader.track}).
 *
 * @module
 */

import type { ChatEvent } from "../../core/events.ts";
import { errorText } from "../../errors.ts";
import { FEED_PATTERN, feedKeys, feedOfChannel } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import { isRoomEvent, type LiveBatch, type LogEntry, parseLive, readLog } from "./room_log.ts";
import { within } from "./scripts.ts";

/** Where delivered events came from. */
export interface Delivery {
  feed: string;
  /** The batch's id (`node:run:n`). */
  batch: string;
  /** The seq of the first event delivered. */
  first: number;
  /** Live from the channel, or filled in from the log. */
  via: "live" | "log";
}

/** How a {@linkcode FeedReader} hands on what it receives. */
export interface FeedReaderOptions {
  /** One batch (or the rest of one), in order; room events carry their seq. */
  deliver(events: ChatEvent[], delivery: Delivery): void;
  /** True for a batch that must not be delivered (this server delivered it itself). */
  skip?(batch: string): boolean;
  /** Events `from`…`to` of `feed` are gone for good (trimmed, or Redis unreachable). */
  onHole?(feed: string, from: number, to: number, why: string): void;
  /** `feed` started over (a new epoch: Redis lost its memory). */
  onReset?(feed: string, epoch: string): void;
  log?(message: string): void;
  /** Log entries read per round trip (default 500). */
  pageSize?: number;
}

interface FeedState {
  last: number;
  epoch: string;
  /** The epoch is the feed's own, read from Redis (not only taken from a first batch seen). */
  confirmed: boolean;
  /** The batches delivered lately, by the seq of their first event (a duplicate is one of these). */
  recent: Map<number, string>;
  /** The feed's work, in order. */
  chain: Promise<void>;
  /** Jobs on the chain not done yet. */
  pending: number;
}

/** Counters, for tests and the console. */
export interface FeedStats {
  live: number;
  filled: number;
  duplicates: number;
  skipped: number;
  holes: number;
  resets: number;
  resyncs: number;
  /** Batches dropped: damaged, or not in their feed's log. */
  rejected: number;
}

/** Batches remembered per feed, to tell a duplicate from a batch whose seq a forged one took. */
const RECENT_BATCHES = 256;

/** Every feed's batches, once each, in order. */
export class FeedReader {
  readonly stats: FeedStats = {
    live: 0,
    filled: 0,
    duplicates: 0,
    skipped: 0,
    holes: 0,
    resets: 0,
    resyncs: 0,
    rejected: 0,
  };
  readonly #link: RedisLink;
  readonly #options: FeedReaderOptions;
  readonly #pageSize: number;
  readonly #feeds = new Map<string, FeedState>();
  #closed = false;
  #stopListening: (() => void) | null = null;

  constructor(link: RedisLink, options: FeedReaderOptions) {
    this.#link = link;
    this.#options = options;
    this.#pageSize = options.pageSize ?? 500;
  }

  /**
   * Subscribes to every feed; resolves once subscribed (or after 3 s while
   * Redis is away: node-redis subscribes when it connects).
   */
  async start(): Promise<void> {
    this.#stopListening = this.#link.onReady((which) => {
      if (which === "subscriber") this.resync();
    });
    const subscribed = this.#link.subscriber.pSubscribe(
      FEED_PATTERN,
      (message: string, channel: string) => this.#onMessage(message, channel),
    );
    try {
      await within(subscribed, 3000, "PSUBSCRIBE");
    } catch (error) {
      subscribed.catch(() => {});
      this.#options.log?.(`Redis feeds not subscribed yet: ${errorText(error)}`);
    }
  }

  /** Follows `feed` from its current end on (a room this server has members in). */
  async track(feed: string): Promise<void> {
    if (this.#feeds.has(feed)) return;
    const meta = await this.#link.commands.hmGet(feedKeys(feed).meta, ["seq", "epoch"]);
    if (this.#feeds.has(feed)) return;
    this.#feeds.set(feed, {
      last: Number(meta[0] ?? 0),
      epoch: meta[1] ?? "",
      confirmed: meta[1] !== null && meta[1] !== undefined,
      recent: new Map(),
      chain: Promise.resolve(),
      pending: 0,
    });
  }

  /** The last seq delivered of `feed`, if it is known. */
  last(feed: string): number | undefined {
    return this.#feeds.get(feed)?.last;
  }

  /** Reads everything after the last seq of every known feed (after a re-subscribe). */
  resync(): void {
    if (this.#closed) return;
    this.stats.resyncs++;
    for (const [feed, state] of this.#feeds) {
      this.#enqueue(feed, state, () => this.#fill(feed, state, Infinity));
    }
  }

  /** Resolves when the work queued so far on every feed is done (tests). */
  async idle(): Promise<void> {
    for (const state of this.#feeds.values()) await state.chain;
  }

  /** Stops delivering (the link is closed by its owner). */
  close(): void {
    this.#closed = true;
    this.#stopListening?.();
  }

  #onMessage(message: string, channel: string): void {
    if (this.#closed) return;
    const feed = feedOfChannel(channel);
    const live = feed === null ? "not a feed" : parseLive(message);
    if (feed === null || typeof live === "string") {
      this.stats.rejected++;
      this.#options.log?.(`Redis feeds: ignored a message on ${channel}: ${live}`);
      return;
    }
    let state = this.#feeds.get(feed);
    if (state === undefined) {
      // First sight of this feed: it starts here. (Should the batch be forged, the first
      // real one finds the feed behind this one and puts it right: see `#behind`.)
      state = {
        last: live.first - 1,
        epoch: live.epoch,
        confirmed: false,
        recent: new Map(),
        chain: Promise.resolve(),
        pending: 0,
      };
      this.#feeds.set(feed, state);
      this.#confirm(feed, state);
    }
    const known = state;
    if (live.epoch === known.epoch && live.first + live.events.length - 1 <= known.last) {
      // Seen already (filled in from the log), or this server's idea of the feed is ahead
      // of the feed itself: only a forged batch can have put it there.
      this.#enqueue(feed, known, () => this.#behind(feed, known, live));
      return;
    }
    // The common case, done now rather than on the chain: nothing pending for
    // this feed and no gap. Batches of different feeds (a rename, then a
    // message) then keep the order they arrived in.
    if (known.pending === 0 && live.epoch === known.epoch && live.first <= known.last + 1) {
      this.#receive(feed, known, live);
      return;
    }
    this.#enqueue(feed, known, async () => {
      if (live.epoch !== known.epoch) {
        const epoch = await this.#link.commands.hGet(feedKeys(feed).meta, "epoch");
        if (epoch !== live.epoch) return this.#unbacked(feed, live);
        if (!known.confirmed) {
          // The epoch this server took the feed to have came from a forged first batch.
          known.epoch = epoch;
          known.last = live.first - 1;
        } else {
          this.#reset(feed, known, live.epoch);
        }
        known.confirmed = true;
      }
      if (live.first > known.last + 1) {
        // The log holds every batch that was published, this one included: read up to its end.
        const end = live.first + live.events.length - 1;
        await this.#fill(feed, known, end);
        if (known.last < live.first - 1) return this.#unbacked(feed, live);
      }
      this.#receive(feed, known, live);
    });
  }

  /**
   * A batch at or below the last seq delivered: a duplicate when this server
   * delivered it (filled in from the log first, most often). Otherwise a
   * forged batch took its seq (published with a made-up one, or at the very
   * seq this one has): when the feed's log holds this batch, it is delivered
   * now and the feed followed from it; the log says so.
   */
  async #behind(feed: string, known: FeedState, live: LiveBatch): Promise<void> {
    const end = live.first + live.events.length - 1;
    if (live.epoch !== known.epoch || end > known.last) return this.#receive(feed, known, live);
    if (known.recent.get(live.first) === live.batch) {
      this.stats.duplicates++;
      return;
    }
    const { entries } = await readLog(this.#link.commands, feed, {
      from: live.first,
      to: live.first,
      count: 1,
    });
    if (entries.length === 0) {
      this.stats.duplicates++; // trimmed from the log: older than anything that matters
      return;
    }
    if (entries[0].batch !== live.batch) return this.#unbacked(feed, live);
    this.stats.rejected++;
    this.#options.log?.(
      `Redis feed ${feed}: seq ${live.first} was taken by a batch that is not in the log ` +
        `(forged?); delivering the real one, ${live.batch}`,
    );
    known.last = live.first - 1;
    this.#receive(feed, known, live);
  }

  /**
   * Asks Redis, beside the feed's work, whether the epoch a first batch came
   * with is the feed's own; from then on a new epoch is the feed starting over.
   */
  #confirm(feed: string, state: FeedState): void {
    const epoch = state.epoch;
    this.#link.commands.hGet(feedKeys(feed).meta, "epoch").then((real) => {
      if (real === epoch && state.epoch === epoch) state.confirmed = true;
    }, () => {/* unconfirmed: a new epoch is then checked against Redis when it comes */});
  }

  /** A batch the feed's log does not hold: not a parley server's; dropped and said. */
  #unbacked(feed: string, live: LiveBatch): void {
    this.stats.rejected++;
    this.#options.log?.(
      `Redis feed ${feed}: ignored batch ${live.batch} (seq ${live.first}): its log does not hold it`,
    );
  }

  /** Delivers what of `live` comes after the feed's last seq. */
  #receive(feed: string, known: FeedState, live: LiveBatch): void {
    const end = live.first + live.events.length - 1;
    if (live.epoch !== known.epoch || end <= known.last) {
      this.stats.duplicates++; // filled in already, or of an older epoch
      return;
    }
    const from = Math.max(live.first, known.last + 1);
    if (from > known.last + 1) this.#hole(feed, known.last + 1, from - 1, "not in the log");
    known.last = end;
    this.stats.live++;
    this.#deliver(live.events.slice(from - live.first), {
      feed,
      batch: live.batch,
      first: from,
      via: "live",
    });
  }

  #enqueue(feed: string, state: FeedState, job: () => Promise<void> | void): void {
    state.pending++;
    state.chain = state.chain.then(job).catch((error) => {
      this.#options.log?.(`Redis feed ${feed}: ${errorText(error)}`);
    }).finally(() => state.pending--);
  }

  #reset(feed: string, state: FeedState, epoch: string): void {
    this.stats.resets++;
    state.epoch = epoch;
    state.confirmed = true;
    state.last = 0;
    try {
      this.#options.onReset?.(feed, epoch);
    } catch { /* the listener's problem */ }
  }

  #hole(feed: string, from: number, to: number, why: string): void {
    this.stats.holes++;
    try {
      this.#options.onHole?.(feed, from, to, why);
    } catch { /* the listener's problem */ }
  }

  /** Delivers the log's entries after `state.last`, up to `upTo` (inclusive). */
  async #fill(feed: string, state: FeedState, upTo: number): Promise<void> {
    for (let attempt = 0;; attempt++) {
      if (this.#closed) return;
      try {
        if (!(await this.#link.whenReady(2000))) throw new Error("the link is down");
        await this.#fillFromLog(feed, state, upTo);
        return;
      } catch (error) {
        if (attempt >= 2 || this.#closed) {
          if (Number.isFinite(upTo) && upTo > state.last) {
            this.#hole(feed, state.last + 1, upTo, `cannot read the log: ${errorText(error)}`);
          }
          return;
        }
      }
    }
  }

  async #fillFromLog(feed: string, state: FeedState, upTo: number): Promise<void> {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const { epoch, entries } = await readLog(this.#link.commands, feed, {
        from: state.last + 1,
        to: upTo,
        count: this.#pageSize,
      });
      if (epoch === null || this.#closed) return; // not in this Redis (yet)
      if (epoch !== state.epoch) {
        if (state.confirmed) this.#reset(feed, state, epoch);
        else state.epoch = epoch; // taken from a first batch that was not the feed's
        state.confirmed = true;
        continue;
      }
      state.confirmed = true;
      let group: LogEntry[] = [];
      const flush = () => {
        if (group.length === 0) return;
        this.stats.filled++;
        this.#deliver(group.map((entry) => entry.event), {
          feed,
          batch: group[0].batch,
          first: group[0].seq,
          via: "log",
        }, group.map((entry) => entry.seq));
        group = [];
      };
      for (const entry of entries) {
        if (entry.seq <= state.last) continue;
        if (entry.seq > state.last + 1) {
          flush();
          this.#hole(feed, state.last + 1, entry.seq - 1, "trimmed from the log");
        }
        if (group.length > 0 && group[0].batch !== entry.batch) flush();
        group.push(entry);
        state.last = entry.seq;
      }
      flush();
      // Past the log's end there is nothing: what a batch claims beyond it is not the feed's.
      if (entries.length < this.#pageSize || state.last >= upTo) return;
    }
  }

  /** Hands events on, with their seqs (room events), unless this server delivered them itself. */
  #deliver(events: ChatEvent[], delivery: Delivery, seqs?: number[]): void {
    const recent = this.#feeds.get(delivery.feed)?.recent;
    if (recent !== undefined) {
      recent.set(delivery.first, delivery.batch);
      if (recent.size > RECENT_BATCHES) recent.delete(recent.keys().next().value!);
    }
    if (this.#options.skip?.(delivery.batch)) {
      this.stats.skipped++;
      return;
    }
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (isRoomEvent(event)) event.seq = seqs?.[i] ?? delivery.first + i;
    }
    try {
      this.#options.deliver(events, delivery);
    } catch (error) {
      this.#options.log?.(`Redis feed ${delivery.feed}: delivering failed: ${errorText(error)}`);
    }
  }
}
