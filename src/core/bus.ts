/**
 * The bus: how events reach the members they concern. The chat publishes
 * every event on it; the bus hands events back for delivery to this server's
 * members. This is a seam: the local bus here delivers at once, in the same
 * call; a Redis bus (`--cluster`) also carries them to the other servers and
 * brings theirs.
 *
 * @module
 */

import type { ChatEvent } from "./events.ts";

/** Delivers events that share one destination to this server's members. */
export type Deliver = (events: readonly ChatEvent[]) => void;

/** Carries events to where they are delivered. */
export interface Bus {
  /**
   * Publishes events that share one destination: a batch of one room's
   * events, or a single member or private event.
   */
  publish(events: readonly ChatEvent[]): void;
  /** Names the function that delivers events to this server's members. */
  deliverTo(deliver: Deliver): void;
}

/** One server on its own: every published event is delivered at once. */
export class LocalBus implements Bus {
  #deliver: Deliver = () => {};

  publish(events: readonly ChatEvent[]): void {
    this.#deliver(events);
  }

  deliverTo(deliver: Deliver): void {
    this.#deliver = deliver;
  }
}
