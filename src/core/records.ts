/**
 * The chat's records of members and rooms, and the faces front ends see of
 * them. A {@linkcode Member} or {@linkcode Room} is changed only by the part
 * of the core that owns the change (see `registry.ts`); front ends hold them
 * as the read-only {@linkcode ChatMember} and {@linkcode ChatRoom}.
 *
 * @module
 */

import { defaultModes, type RoomModes } from "./channel_modes.ts";
import type { Topic } from "./commands.ts";
import type { ChatEvent } from "./events.ts";

/**
 * How one front end shows events. Members with the same renderer get the same
 * bytes, so a batch is rendered once per renderer, not once per member.
 */
export interface Renderer {
  /**
   * The bytes for `events` (all for one destination) as this protocol shows
   * them, or null when it shows nothing. `audience` is how many members the
   * events reach in their room besides their subject (for rules such as "no
   * join notices in huge rooms").
   */
  render(events: readonly ChatEvent[], audience: number): Uint8Array | null;
}

/** How an operator removed a member, for its front end to tell it. */
export interface Removal {
  how: "kicked" | "banned";
  /** The operator's nick, or `console`. */
  by: string;
  reason: string;
  /** A ban: when it ends (ms since the epoch), or null for good. */
  until?: number | null;
}

/** What the chat needs of a connected member; its front end provides it. */
export interface Endpoint {
  /** How this member's events are rendered. */
  readonly renderer: Renderer;
  /** The address it is connected from (for bans and throttling; never shown to users). */
  readonly address: string;
  /** Queues bytes for the member; must not block or throw. */
  send(bytes: Uint8Array): void;
  /** An operator removed the member: tell it and end its connection. */
  remove(removal: Removal): void;
  /**
   * A room operator took the member out of `room` (a kick); it stays in the
   * chat. A front end whose clients are always in a room moves it on.
   */
  removedFromRoom?(room: ChatRoom): void;
}

/** A member as others see it: read-only; the chat changes it. */
export interface ChatMember {
  /** Unique among all members, on every server, for as long as the chat runs. */
  readonly id: string;
  readonly nick: string;
  /** The user name (IRC's `user`; line clients have `line`). */
  readonly user: string;
  /** The rooms it is in, in the order it joined them. */
  readonly rooms: readonly ChatRoom[];
  /** False once the member has left the chat. */
  readonly present: boolean;
  /** The away text, or null when here. */
  readonly away: string | null;
  /** The nick (key) it proved with a password, or null. */
  readonly account: string | null;
  /**
   * That account's name as it was registered, case kept (`coolAcct`): what others are
   * shown (IRC's account-tag, extended-join, ACCOUNT, WHOX); null when `account` is.
   */
  readonly accountName: string | null;
  /** A server operator (`/oper`). */
  readonly operator: boolean;
  /** The real name it gave (IRC's USER and SETNAME); empty when it gave none (line clients). */
  readonly realname: string;
  /** Hidden from searches by strangers (IRC's user mode `+i`): listed to those who share a room. */
  readonly invisible: boolean;
}

/** A room as others see it. */
export interface ChatRoom {
  readonly name: string;
  readonly key: string;
  /** Members in it on this server. */
  readonly size: number;
  readonly topic: Topic | null;
  /** What it lets in and keeps out (`+i +k +l +m +n +s +t +b`). */
  readonly modes: Readonly<RoomModes>;
}

/** The chat's own record of a member. */
export class Member implements ChatMember {
  readonly id: string;
  readonly user: string;
  readonly endpoint: Endpoint;
  /** How its events are rendered (its endpoint's renderer, until changed with setRenderer). */
  renderer: Renderer;
  nick = "";
  key = "";
  /** An array, not a Set: a member is in one room or a few, and a Set costs more memory. */
  readonly rooms: Room[] = [];
  present = true;
  away: string | null = null;
  account: string | null = null;
  accountName: string | null = null;
  operator = false;
  realname = "";
  invisible = false;
  /** Muted until then (ms since the epoch; Infinity: until unmuted), or 0. */
  mutedUntil = 0;
  /** When it entered the chat, and when it last said something (ms since the epoch). */
  readonly since: number;
  lastSaid: number;
  /** The delivery that last reached this member (so a member event reaches it once). */
  delivery = 0;
  /** Its output is behind and holds the talkers of its rooms back (see `MessagePath.hold`). */
  holding = false;
  /** Rooms it was invited to and has not entered since: key → display name. */
  readonly invited = new Map<string, string>();

  constructor(id: string, user: string, endpoint: Endpoint, now: number) {
    this.id = id;
    this.user = user;
    this.endpoint = endpoint;
    this.renderer = endpoint.renderer;
    this.since = this.lastSaid = now;
  }
}

/** The chat's own record of a room. */
export class Room implements ChatRoom {
  readonly name: string;
  readonly key: string;
  readonly members = new Set<Member>();
  /**
   * The same members by renderer: a batch is rendered once per group, and a
   * group its renderer shows nothing to (line clients in a huge room, for a
   * join) is not walked at all.
   */
  readonly groups = new Map<Renderer, Set<Member>>();
  /** The sequence number of the room's last event. */
  seq = 0;
  /**
   * Its operators (`@`), by member id, on every server: whoever created it,
   * and whoever an operator made one (the lobby has none to start with).
   */
  readonly operators = new Set<string>();
  /** Its voiced members (`+`), by member id: they speak when it is moderated. */
  readonly voiced = new Set<string>();
  /** Its modes (`+nt` to start with). */
  modes: RoomModes = defaultModes();
  /** When it was made (ms since the epoch; IRC's 329). */
  created = 0;
  topic: Topic | null = null;
  /** When someone last entered or left it (ms since the epoch). */
  lastUsed = 0;
  /** It holds something worth keeping: a message in its history, or a topic. */
  kept = false;
  /** Members whose output is behind: while there are any, talkers here are read more slowly. */
  holders = 0;
  #caughtUp: PromiseWithResolvers<void> | null = null;

  constructor(name: string, key: string, creator: Member | null) {
    this.name = name;
    this.key = key;
    if (creator !== null) this.operators.add(creator.id);
  }

  /** Resolves when no member holds the room back any more. */
  caughtUp(): Promise<void> {
    return (this.#caughtUp ??= Promise.withResolvers<void>()).promise;
  }

  /** One member more (+1) or less (-1) holds the room back. */
  countHolder(change: number): void {
    this.holders += change;
    if (this.holders === 0 && this.#caughtUp !== null) {
      this.#caughtUp.resolve();
      this.#caughtUp = null;
    }
  }

  get size(): number {
    return this.members.size;
  }

  add(m: Member): void {
    this.members.add(m);
    let group = this.groups.get(m.renderer);
    if (group === undefined) this.groups.set(m.renderer, group = new Set());
    group.add(m);
  }

  delete(m: Member): void {
    this.members.delete(m);
    const group = this.groups.get(m.renderer);
    if (group === undefined) return;
    group.delete(m);
    if (group.size === 0) this.groups.delete(m.renderer);
  }
}
