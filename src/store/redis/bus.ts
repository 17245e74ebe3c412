/**
 * The cluster bus (`--cluster`): the {@linkcode Bus} seam over Redis. What the
 * chat publishes goes to Redis, and comes back, with every other server's,
 * through the feeds: one order per room for every server, this one included.
 *
 * - **Link up.** A batch is queued ({@linkcode PublishQueue}), published by
 *   one script (sequence numbers, log, history, PUBLISH) and delivered here
 *   when it comes back from the feed, like everyone else's. The round trip is
 *   the price of one order everywhere.
 * - **Link down.** Each server keeps serving its own members: a batch is
 *   delivered here at once and queued; batches that were waiting when the
 *   link went down are delivered here then. Once the link is back they go
 *   out in order, and when they come back from the feed they are not
 *   delivered here a second time (their ids are remembered).
 * - **Not sent.** A batch the queue gives up on (full, too old, refused) is
 *   reported through `onUnsent` with its events, so the chat can tell its
 *   sender that it did not reach the other servers.
 *
 * Room events travel in their room's feed (by the room's key); renames,
 * quits and private messages in the direct feed. Room messages go into the
 * room's history in the same script, so `History.append` has nothing to do.
 *
 * @module
 */

import { nameKey } from "../../protocol/names.ts";
import type { Bus, Deliver } from "../../core/bus.ts";
import { type ChatEvent, type Clock, systemClock } from "../../core/events.ts";
import { errorText } from "../../errors.ts";
import { type Delivery, FeedReader, type FeedStats } from "./feed_reader.ts";
import { DIRECT_FEED } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import { PublishQueue, type UnsentReason } from "./publish_queue.ts";
import { type Batch, isRoomEvent, publishBatch, type Published } from "./room_log.ts";

export type { UnsentReason } from "./publish_queue.ts";

/** How a {@linkcode RedisBus} behaves. */
export interface RedisBusOptions {
  /** Messages kept per room in Redis (`--history`); 0 keeps none. */
  historySize: number;
  /** Events kept per feed log for filling gaps (≈; default 1000). */
  logSize?: number;
  /** Most batches waiting for Redis (default 10 000). */
  maxQueued?: number;
  /** Longest a batch may wait for the link, in ms (default 30 000). */
  maxQueuedMs?: number;
  /**
   * Events that did not reach the other servers, with why. Those said while
   * the link was down have been delivered here already.
   */
  onUnsent?(events: readonly ChatEvent[], reason: UnsentReason, detail: string): void;
  /** Events of a feed that will never arrive (trimmed from its log before they could be read). */
  onHole?(feed: string, from: number, to: number, why: string): void;
  log?(message: string): void;
  clock?: Clock;
}

/** How long a batch delivered here is remembered, so its return from the feed is not delivered again. */
const REMEMBER_MS = 10 * 60_000;

/** The Bus over Redis. */
export class RedisBus implements Bus {
  readonly #link: RedisLink;
  readonly #options: RedisBusOptions;
  readonly #clock: Clock;
  readonly #queue: PublishQueue;
  readonly #reader: FeedReader;
  /** Batch ids delivered here before they went out → when. */
  readonly #deliveredHere = new Map<string, number>();
  /** Distinguishes this run's batch ids from an earlier run's under the same node id. */
  readonly #run = Math.floor(Math.random() * 36 ** 4).toString(36);
  #lastBatch = 0;
  #deliver: Deliver = () => {};
  readonly #stopListening: () => void;

  constructor(link: RedisLink, options: RedisBusOptions) {
    this.#link = link;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    const limits = { logSize: options.logSize ?? 1000, historySize: options.historySize };
    this.#queue = new PublishQueue(link, {
      send: (batch): Promise<Published> => publishBatch(link.commands, batch, limits),
      onUnsent: (batches, reason, detail) => this.#unsent(batches, reason, detail),
      maxBatches: options.maxQueued,
      maxAgeMs: options.maxQueuedMs,
      clock: this.#clock,
    });
    this.#reader = new FeedReader(link, {
      deliver: (events: ChatEvent[], _delivery: Delivery) => this.#deliverHere(events),
      skip: (batch) => this.#deliveredHere.has(batch),
      onHole: options.onHole,
      log: options.log,
    });
    this.#stopListening = link.onState((state) => {
      if (state === "down") this.#serveLocally();
    });
  }

  /** Subscribes to the feeds (resolves once subscribed, or after 3 s while Redis is away). */
  start(): Promise<void> {
    return this.#reader.start();
  }

  publish(events: readonly ChatEvent[]): void {
    if (events.length === 0) return;
    const first = events[0];
    const batch: Batch = {
      id: `${this.#link.node}:${this.#run}:${++this.#lastBatch}`,
      feed: isRoomEvent(first) ? nameKey(first.room) : DIRECT_FEED,
      events,
    };
    this.#forgetOld();
    if (this.#link.state === "down") this.#deliverFirst(batch);
    this.#queue.push(batch);
  }

  deliverTo(deliver: Deliver): void {
    this.#deliver = deliver;
  }

  /**
   * Delivers `events` to this server's members only, publishing nothing: for
   * what this server learns by itself (the members of a server found dead).
   */
  deliverHere(events: readonly ChatEvent[]): void {
    if (events.length > 0) this.#deliverHere(events);
  }

  /** Follows a room's feed from its current end (a room this server has members in). */
  track(roomKey: string): Promise<void> {
    return this.#reader.track(roomKey);
  }

  /** Batches waiting for Redis. */
  get queued(): number {
    return this.#queue.size;
  }

  /** The receiving side's counters. */
  get stats(): Readonly<FeedStats> {
    return this.#reader.stats;
  }

  /** True once every batch went out, false when `ms` passed first. */
  flushed(ms: number): Promise<boolean> {
    return this.#queue.flushed(ms);
  }

  /** Resolves when what arrived so far has been delivered (tests). */
  idle(): Promise<void> {
    return this.#reader.idle();
  }

  /** Sends what waits (at most `ms`), reports the rest `closed`, stops receiving. */
  async close(ms = 1000): Promise<void> {
    this.#stopListening();
    if (this.#link.ready) await this.#queue.flushed(ms);
    this.#queue.close();
    this.#reader.close();
  }

  /** The link is down: whatever waits is delivered here now (it goes out later). */
  #serveLocally(): void {
    for (const batch of this.#queue.pending()) this.#deliverFirst(batch);
  }

  #deliverFirst(batch: Batch): void {
    if (this.#deliveredHere.has(batch.id)) return;
    this.#deliveredHere.set(batch.id, this.#clock());
    this.#deliverHere(batch.events);
  }

  #deliverHere(events: readonly ChatEvent[]): void {
    try {
      this.#deliver(events);
    } catch (error) {
      this.#options.log?.(`Delivering events failed: ${errorText(error)}`);
    }
  }

  #unsent(batches: Batch[], reason: UnsentReason, detail: string): void {
    for (const batch of batches) {
      this.#deliveredHere.delete(batch.id);
      try {
        this.#options.onUnsent?.(batch.events, reason, detail);
      } catch { /* the listener's problem */ }
    }
  }

  #forgetOld(): void {
    const oldest = this.#clock() - REMEMBER_MS;
    for (const [id, at] of this.#deliveredHere) {
      if (at >= oldest) break;
      this.#deliveredHere.delete(id);
    }
  }
}
