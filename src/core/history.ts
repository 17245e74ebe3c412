/**
 * Room history: the last messages of each room, kept as events with the time
 * they were said (never as rendered lines), so every front end replays them in
 * its own form. This is a seam: the in-memory ring here is what a single
 * server uses; SQLite (`--data`) and Redis (`--cluster`) keep the same.
 *
 * Appending is synchronous (it sits on the message path); reading is
 * asynchronous, since a remote store needs a round trip.
 *
 * @module
 */

import type { MessageEvent } from "./events.ts";

/** Where rooms' recent messages are kept. Rooms are named by their key (see `nameKey`). */
export interface History {
  /** Keeps `event` as the newest message of room `key`, forgetting the oldest beyond the limit. */
  append(key: string, event: MessageEvent): void;
  /**
   * The room's newest messages, at most `limit`, oldest first. What is
   * returned is what was kept at the moment of the call.
   */
  recent(key: string, limit: number): Promise<MessageEvent[]>;
  /** Forgets a room's messages (the room no longer exists). */
  forget(key: string): void;
  /**
   * Makes what was appended since the last commit durable. The chat commits
   * each batch before delivering it, so a message anyone has seen is stored.
   */
  commit(): void;
}

/** History in memory: a ring of the last `size` messages per room. */
export class MemoryHistory implements History {
  readonly #size: number;
  readonly #rooms = new Map<string, Ring>();

  /** Keeps `size` messages per room (0 keeps none). */
  constructor(size: number) {
    this.#size = size;
  }

  append(key: string, event: MessageEvent): void {
    if (this.#size === 0) return;
    let ring = this.#rooms.get(key);
    if (ring === undefined) this.#rooms.set(key, ring = new Ring(this.#size));
    ring.push(event);
  }

  recent(key: string, limit: number): Promise<MessageEvent[]> {
    return Promise.resolve(this.#rooms.get(key)?.last(limit) ?? []);
  }

  forget(key: string): void {
    this.#rooms.delete(key);
  }

  commit(): void {}
}

/** A fixed number of the newest items. */
class Ring {
  readonly #items: MessageEvent[] = [];
  readonly #size: number;
  #start = 0;

  constructor(size: number) {
    this.#size = size;
  }

  push(item: MessageEvent): void {
    if (this.#items.length < this.#size) {
      this.#items.push(item);
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.#size;
    }
  }

  /** The newest `limit` items, oldest first. */
  last(limit: number): MessageEvent[] {
    const ordered = [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
    return limit >= ordered.length ? ordered : ordered.slice(ordered.length - limit);
  }
}
