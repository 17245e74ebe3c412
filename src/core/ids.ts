/**
 * Message ids (IRCv3 `msgid`): every event the chat makes has one, the same
 * for every receiver, in history and on every server. An id is the time in
 * base 36, then a tag this process drew at random, then a counter: unique
 * across the servers of a cluster without asking anyone, and ordered by time
 * within a server. About 16 characters of `[0-9a-z]`.
 *
 * @module
 */

import type { Clock } from "./events.ts";

/** Makes the ids of one server's events. */
export class EventIds {
  readonly #clock: Clock;
  readonly #tag: string;
  #count = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
    const random = crypto.getRandomValues(new Uint32Array(1))[0];
    this.#tag = (random % 36 ** 4).toString(36).padStart(4, "0");
  }

  /** A new id. */
  next(): string {
    this.#count = (this.#count + 1) % 36 ** 3;
    return this.#clock().toString(36) + this.#tag + this.#count.toString(36).padStart(3, "0");
  }
}

/** Whether `id` looks like an id (what a client may ask for in CHATHISTORY). */
export function isEventId(id: string): boolean {
  return /^[0-9a-z]{8,32}$/.test(id);
}
