/**
 * Big rooms: entering, leaving and quitting a room of thousands costs less
 * than the square of its size.
 *
 * Telling every member of a room about every member who enters it costs the
 * square of its size when it fills (10,000 IRC clients joining one channel:
 * 50 million JOIN lines, and each joiner a NAMES list of everyone there).
 * The rule, the same for every front end (InspIRCd's and UnrealIRCd's delayed
 * join, `+D`, made automatic):
 *
 * - A member who enters a room of {@linkcode QUIET_FROM} members or more
 *   enters it **quietly**: nobody else is told (its joined event is marked
 *   `quiet` and delivered to nobody).
 * - A quiet member is **shown** when it first speaks there (a message, an
 *   IRC NOTICE or TAGMSG, a topic, a mode change, a kick, an invite) or is
 *   made an operator or voiced or kicked: a joined event is published just
 *   before what it did, so that everyone sees it enter, then speak.
 * - A quiet member that leaves goes quietly: its part is marked `quiet`, and
 *   its quit, renames, away and account changes name the room in `quietIn`;
 *   the room's other members are not told.
 * - The room's members that are not quiet are its **listed** members: what
 *   IRC's NAMES and WHO show of a room that has quiet members (at most
 *   {@linkcode LISTED_MOST}, which also bounds a room without quiet ones;
 *   `Queries.who`), with how many were left out. The listing is made once per
 *   change of the room (`Room.epoch`) or second and shared by its joiners.
 *
 * Every event this server publishes passes through {@linkcode BigRooms.over}'s
 * bus, which marks them and publishes the reveals; `Delivery` honours the marks.
 * Events of other servers' members carry their server's marks, and their
 * room's quiet set here follows them (for NAMES). A message costs one map
 * and one set lookup per published batch, nothing else.
 *
 * Counted on each server: in a cluster, a room is big when this server has
 * {@linkcode QUIET_FROM} of its members.
 *
 * @module
 */

import type { Bus, Deliver } from "./bus.ts";
import type { ChatEvent, Clock, JoinedEvent } from "./events.ts";
import type { Member, Room } from "./records.ts";
import type { Registry } from "./registry.ts";

/**
 * A member entering a room of this many members or more enters it quietly
 * (the number above which line clients stop seeing joins too).
 */
export const QUIET_FROM = 200;

/** The most members NAMES and WHO list of a room (that has quiet members, or this many). */
export const LISTED_MOST = 1000;

/**
 * How long a big room's listing may be reused (ms) while nothing published
 * changed it: what changes it without an event (a device following its
 * account elsewhere; idle times) shows within this.
 */
export const LISTING_TTL = 1000;

/** Member events: they reach everyone sharing a room with their subject. */
type MemberEvent = Extract<
  ChatEvent,
  { kind: "quit" | "renamed" | "away" | "realname" | "account" }
>;

/** The quiet entrances of this server's big rooms (see the module's comment). */
export class BigRooms {
  readonly #registry: Registry;
  readonly #clock: Clock;
  /** The prefix of this server's member ids (`node/`). */
  readonly #local: string;

  constructor(registry: Registry, options: { clock: Clock; node: string }) {
    this.#registry = registry;
    this.#clock = options.clock;
    this.#local = `${options.node}/`;
  }

  /**
   * The bus the chat publishes on: what this server publishes is marked (and
   * a quiet member's reveal published before what it did) on the way to
   * `bus`; what comes back from other servers updates the rooms' quiet sets.
   */
  over(bus: Bus): Bus {
    return {
      publish: (events) => {
        this.#published(events, bus);
        if (events[0] !== undefined) this.#touch(events[0]);
        bus.publish(events);
      },
      deliverTo: (deliver: Deliver) =>
        bus.deliverTo((events) => {
          const origin = events[0]?.origin;
          if (origin !== undefined && origin !== "" && !origin.startsWith(this.#local)) {
            this.#followRemote(events[0]);
            this.#touch(events[0]);
          }
          deliver(events);
        }),
    };
  }

  /** This server's event, before it is published: marked, its origin shown if it acts. */
  #published(events: readonly ChatEvent[], bus: Bus): void {
    const first = events[0];
    if (first === undefined) return;
    switch (first.kind) {
      case "joined":
        return this.#entered(first);
      case "message":
      case "topic":
      case "invited":
        return this.#show(first.origin, first.room, bus);
      case "mode": {
        this.#show(first.origin, first.room, bus);
        for (const change of first.changes) {
          if ((change.mode === "o" || change.mode === "v") && change.on && change.id) {
            this.#show(change.id, first.room, bus);
          }
        }
        return;
      }
      case "kicked": {
        this.#show(first.origin, first.room, bus);
        // Everyone sees the kick: the kicked member is shown first (another server's is not
        // this server's to show: its KICK is seen alone).
        this.#show(first.targetId, first.room, bus);
        const room = this.#registry.roomOf(first.room);
        if (room !== undefined) forget(room, first.targetId);
        return;
      }
      case "left": {
        const room = this.#registry.roomOf(first.room);
        if (room !== undefined && room.quiet.has(first.origin)) {
          first.quiet = true;
          forget(room, first.origin);
        } else {
          room?.listed.delete(first.origin);
        }
        return;
      }
      case "quit":
      case "renamed":
      case "away":
      case "realname":
      case "account":
        return this.#markMember(first);
    }
  }

  /** A member of this server entered a room: quietly when the room was big. */
  #entered(event: JoinedEvent): void {
    const room = this.#registry.roomOf(event.room);
    if (room === undefined) return;
    const m = this.#registry.byId(event.origin);
    // The member is in the room already: it was big before it came.
    if (m !== undefined && room.members.size - 1 >= QUIET_FROM && !event.op) {
      event.quiet = true;
      becomesQuiet(room, event.origin);
    } else if (m !== undefined && room.quiet.size > 0) {
      room.listed.set(m.id, m);
    }
  }

  /**
   * Member `id` of this server acts in room `name`, or is named by what is
   * done there: if it entered quietly, everyone is told it entered, first.
   */
  #show(id: string, name: string, bus: Bus): void {
    const room = this.#registry.roomOf(name);
    if (room === undefined || !room.quiet.has(id)) return;
    const m = this.#registry.byId(id);
    if (m === undefined || !room.members.has(m)) return;
    room.quiet.delete(id);
    if (room.quiet.size === 0) room.listed.clear();
    else room.listed.set(id, m);
    const joined: JoinedEvent = {
      kind: "joined",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      time: this.#clock(),
      origin: m.id,
      realname: m.realname,
    };
    if (m.accountName !== null) joined.account = m.accountName;
    if (m.away !== null) joined.away = m.away;
    room.epoch++;
    bus.publish([joined]);
  }

  /** What NAMES shows of the rooms an event is about may have changed (its cache is stale). */
  #touch(event: ChatEvent): void {
    switch (event.kind) {
      case "joined":
      case "left":
        if (event.quiet) return;
        // falls through
      case "topic":
      case "mode":
      case "kicked":
      case "invited": {
        const room = this.#registry.roomOf(event.room);
        if (room !== undefined) room.epoch++;
        return;
      }
      case "quit":
      case "renamed":
      case "away":
      case "realname":
      case "account":
        for (const name of event.rooms) {
          if (event.quietIn?.includes(name)) continue;
          const room = this.#registry.roomOf(name);
          if (room !== undefined) room.epoch++;
        }
    }
  }

  /** A member event of this server: the rooms its subject is quiet in are named. */
  #markMember(event: MemberEvent): void {
    let quietIn: string[] | undefined;
    for (const name of event.rooms) {
      const room = this.#registry.roomOf(name);
      if (room === undefined || !room.quiet.has(event.origin)) continue;
      (quietIn ??= []).push(name);
      if (event.kind === "quit") forget(room, event.origin);
    }
    if (event.kind === "quit") {
      for (const name of event.rooms) this.#registry.roomOf(name)?.listed.delete(event.origin);
    }
    if (quietIn !== undefined) event.quietIn = quietIn;
  }

  /**
   * Another server's event: the room's quiet set here follows it (NAMES
   * leaves them out), and what its server did not mark (the quits this
   * server makes for the members of a server that is gone) is marked from it.
   */
  #followRemote(event: ChatEvent): void {
    switch (event.kind) {
      case "joined": {
        const room = this.#registry.roomOf(event.room);
        if (room === undefined) return;
        if (event.quiet) becomesQuiet(room, event.origin);
        else if (room.quiet.has(event.origin)) forget(room, event.origin);
        return;
      }
      case "left":
      case "kicked": {
        const room = this.#registry.roomOf(event.room);
        const id = event.kind === "kicked" ? event.targetId : event.origin;
        if (room === undefined || !room.quiet.has(id)) return;
        if (event.kind === "left") event.quiet = true;
        forget(room, id);
        return;
      }
      case "quit":
      case "renamed":
      case "away":
      case "realname":
      case "account": {
        const quietIn = new Set(event.quietIn);
        for (const name of event.rooms) {
          const room = this.#registry.roomOf(name);
          if (room === undefined || !room.quiet.has(event.origin)) continue;
          quietIn.add(name);
          if (event.kind === "quit") forget(room, event.origin);
        }
        if (quietIn.size > 0) event.quietIn = [...quietIn];
        return;
      }
    }
  }
}

/**
 * Member `id` is quiet in `room` now. The room's first quiet member makes
 * its listed members worth keeping: this server's members that are not quiet.
 */
function becomesQuiet(room: Room, id: string): void {
  if (room.quiet.size === 0) {
    room.listed.clear();
    for (const member of room.members) if (member.id !== id) room.listed.set(member.id, member);
  }
  room.quiet.add(id);
  room.listed.delete(id);
}

/** Member `id` is no longer quiet in `room` (it left); without quiet members nobody is listed apart. */
function forget(room: Room, id: string): void {
  room.quiet.delete(id);
  room.listed.delete(id);
  if (room.quiet.size === 0) room.listed.clear();
}

/**
 * Who NAMES lists of `room` from this server: `asker` first when it is in the
 * room, then its listed members (all of them when none is quiet), at most
 * {@linkcode LISTED_MOST}; null when everyone is listed.
 */
export function listedMembers(room: Room, asker?: Member): Member[] | null {
  if (room.quiet.size === 0 && room.members.size <= LISTED_MOST) return null;
  const shown: Member[] = [];
  if (asker !== undefined && room.members.has(asker)) shown.push(asker);
  const listed = room.quiet.size === 0 ? room.members : room.listed.values();
  for (const member of listed) {
    if (shown.length >= LISTED_MOST) break;
    if (member === asker) continue;
    // Taken out of the room without an event (a device following another server): gone.
    if (!room.members.has(member)) {
      room.listed.delete(member.id);
      continue;
    }
    shown.push(member);
  }
  return shown;
}

/** Whether NAMES of `room` lists only some of its members: it has quiet ones, or too many. */
export function listsSome(room: Room): boolean {
  return room.quiet.size > 0 || room.members.size > LISTED_MOST;
}

/** The listings of big rooms, made at most once per change or {@linkcode LISTING_TTL}. */
const listings = new WeakMap<Room, { epoch: number; at: number; items: readonly unknown[] }>();

/**
 * `make()` (a big room's listing, as `Queries.who` makes it from
 * {@linkcode listedMembers}), made again only when something published
 * changed the room since (`Room.epoch`) or it is {@linkcode LISTING_TTL} old:
 * 10,000 joiners of a big room share a handful of listings.
 */
export function cachedListing<T>(room: Room, now: number, make: () => readonly T[]): readonly T[] {
  const cached = listings.get(room);
  if (cached !== undefined && cached.epoch === room.epoch && now - cached.at < LISTING_TTL) {
    return cached.items as readonly T[];
  }
  const items = make();
  listings.set(room, { epoch: room.epoch, at: now, items });
  return items;
}
