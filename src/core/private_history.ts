/**
 * Which private messages are kept, and for whom (SPEC §13).
 *
 * A private message is kept as one copy per party that has **proved an
 * account** (identified, or SASL), filed under that account (its *owner*)
 * and the other party's nick key (its *peer*); only the owner ever reads its
 * copy back (`scrollback.ts`). Hence:
 *
 * - between two identified accounts, each keeps the conversation;
 * - between an identified account and a guest, the account keeps it (what it
 *   said and what it was told) and the guest keeps nothing: a guest cannot
 *   read anything back, nor can whoever takes that guest's nick later;
 * - between two guests, nothing is kept;
 * - NOTICEs and TAGMSGs are never kept, as in rooms.
 *
 * Each server keeps the copies of its own members, when the bus hands it the
 * event (on a single server at once; in a cluster when the event comes back
 * from Redis, so copies follow the direct feed's one order): the sender's
 * copy where the sender is, the receiver's where the receiver is. Copies are
 * kept once per owner and message id, however often they are handed over.
 * A dropped account's copies are forgotten with it (the store does it), so a
 * new owner of the nick never reads the old one's conversations.
 *
 * @module
 */

import type { ChatEvent } from "./events.ts";
import type { History } from "./history.ts";
import type { Registry } from "./registry.ts";
import { nameKey } from "../protocol/names.ts";

/** Keeps this server's members' copies of private messages. */
export class PrivateKeeper {
  readonly #registry: Registry;
  readonly #history: History;

  constructor(registry: Registry, history: History) {
    this.#registry = registry;
    this.#history = history;
  }

  /** Events the bus delivers here (a private message is published alone). */
  delivered(events: readonly ChatEvent[]): void {
    const event = events[0];
    if (event?.kind !== "private" || event.notice || event.tagmsg) return;
    const sender = this.#registry.byId(event.origin);
    const receiver = this.#registry.byKey(nameKey(event.to));
    // An event names the sender's account as registered (case kept); copies go by its key.
    if (sender !== undefined && event.account !== undefined) {
      this.#history.appendPrivate(nameKey(event.account), nameKey(event.to), event);
    }
    if (receiver !== undefined && receiver !== sender && receiver.account !== null) {
      this.#history.appendPrivate(receiver.account, nameKey(event.nick), event);
    }
  }
}
