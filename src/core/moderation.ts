/**
 * Moderation: what server operators can do (SPEC §10), as data, and the ban
 * list. The commands come from the server console, from line clients who are
 * operators (`/kick …`) and from IRC operators (`KICK`, `MODE +b`, `KILL`); the
 * {@linkcode Chat} carries them out. Bans are checked when a connection is
 * accepted, before anything else, and kept in the {@linkcode Store}.
 *
 * @module
 */

import { type CidrBlock, cidrContains, formatCidr, parseAddress, parseCidr } from "./cidr.ts";
import type { Clock } from "./events.ts";
import type { Ban, Store } from "./store.ts";

/** What a ban is aimed at: a user (the address they are connected from), or addresses. */
export type BanTarget =
  | { kind: "nick"; nick: string }
  | { kind: "addresses"; block: CidrBlock };

/** One operator command, parsed. Durations are in milliseconds. */
export type OperatorCommand =
  /** A notice to everyone online. */
  | { kind: "say"; text: string }
  | { kind: "kick"; nick: string; reason?: string }
  /** No `duration`: for good. */
  | { kind: "ban"; target: BanTarget; duration?: number; reason?: string }
  | { kind: "unban"; block: CidrBlock }
  | { kind: "bans" }
  /** No `duration`: until `/unmute`. */
  | { kind: "mute"; nick: string; duration?: number }
  | { kind: "unmute"; nick: string }
  /** No `text`: show the topic. */
  | { kind: "topic"; room: string; text?: string }
  /** No `room`: everyone online. */
  | { kind: "who"; room?: string }
  | { kind: "rooms" }
  | { kind: "stats" }
  /** Help on everything, or on one command. The console answers it itself. */
  | { kind: "help"; command?: OperatorCommand["kind"] };

/** The ban list: in memory for the accept path, kept in the store. */
export class Bans {
  readonly #store: Store;
  readonly #clock: Clock;
  #bans: { ban: Ban; block: CidrBlock }[] = [];

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Reads the bans the store keeps (at start). */
  async load(): Promise<void> {
    const now = this.#clock();
    this.#bans = [];
    for (const ban of await this.#store.bans()) {
      const block = parseCidr(ban.mask);
      if (block !== null && (ban.expires === null || ban.expires > now)) {
        this.#bans.push({ ban, block });
      }
    }
  }

  /** Bans in force, soonest to end first (lasting ones last). */
  list(): Ban[] {
    this.#expire();
    return this.#bans.map((entry) => entry.ban)
      .sort((a, b) => (a.expires ?? Infinity) - (b.expires ?? Infinity));
  }

  /** The ban an address is under, if any. Called for every accepted connection. */
  match(address: string): Ban | null {
    if (this.#bans.length === 0) return null;
    const parsed = parseAddress(address);
    if (parsed === null) return null;
    const now = this.#clock();
    for (const { ban, block } of this.#bans) {
      if ((ban.expires === null || ban.expires > now) && cidrContains(block, parsed)) return ban;
    }
    return null;
  }

  /** Adds (or replaces) the ban on a block. */
  add(block: CidrBlock, options: { duration?: number; reason?: string; by: string }): Ban {
    const now = this.#clock();
    const ban: Ban = {
      mask: formatCidr(block),
      expires: options.duration === undefined ? null : now + options.duration,
      reason: options.reason ?? "",
      by: options.by,
      created: now,
    };
    this.#bans = this.#bans.filter((entry) => entry.ban.mask !== ban.mask);
    this.#bans.push({ ban, block });
    this.#store.addBan(ban);
    return ban;
  }

  /** Lifts the ban on exactly this block; false when there was none. */
  async remove(block: CidrBlock): Promise<boolean> {
    const mask = formatCidr(block);
    const before = this.#bans.length;
    this.#bans = this.#bans.filter((entry) => entry.ban.mask !== mask);
    const stored = await this.#store.removeBan(mask);
    return stored || this.#bans.length < before;
  }

  #expire(): void {
    const now = this.#clock();
    this.#bans = this.#bans.filter(({ ban }) => ban.expires === null || ban.expires > now);
  }
}
