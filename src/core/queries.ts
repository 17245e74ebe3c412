/**
 * Queries: who is in a room, who is online, which rooms there are, who a nick
 * is, and the counts a newcomer is told, on every server. They read the
 * {@linkcode Registry} for this server and the {@linkcode Presence} for the
 * others, and change nothing.
 *
 * @module
 */

import type { MemberInfo, Replies } from "./commands.ts";
import type { Clock } from "./events.ts";
import { LocalPresence, type Presence, type RemoteMember } from "./presence.ts";
import type { Member, Room } from "./records.ts";
import { cachedListing, LISTED_MOST, listedMembers, listsSome } from "./big_rooms.ts";
import type { Registry } from "./registry.ts";
import type { Whowas } from "./whowas.ts";
import { errorText } from "../errors.ts";
import { nameKey } from "../protocol/names.ts";

/** How old the view of other servers' members that newcomers' counts come from may be (ms). */
const CENSUS_MAX_AGE_MS = 1000;

/** What the chat can be asked about itself. */
export class Queries {
  readonly #registry: Registry;
  readonly #presence: Presence;
  readonly #clock: Clock;
  readonly #whowas: Whowas;
  readonly #onError: (message: string) => void;
  /** The most members there were at once on this server, and on every server as last counted. */
  #maxLocal = 0;
  #maxOnline = 0;
  /** The other servers' members as last asked for (see {@linkcode census}). */
  #census: { at: number; members: Promise<RemoteMember[]> } | null = null;
  /** The counts of the last full LUSERS walk (see {@linkcode lusers}). */
  #counts: LusersCounts | null = null;
  /** The presence failed the last time it was asked. */
  #failing = false;

  constructor(options: {
    registry: Registry;
    presence: Presence;
    clock: Clock;
    /** The nicks given up on this server (WHOWAS). */
    whowas: Whowas;
    /** Told when the other servers' members cannot be read (the answer then counts this server only). */
    onError: (message: string) => void;
  }) {
    this.#registry = options.registry;
    this.#presence = options.presence;
    this.#clock = options.clock;
    this.#whowas = options.whowas;
    this.#onError = options.onError;
  }

  /** A member entered the chat here: the most there were at once may be more now. */
  entered(): void {
    const online = this.#registry.online;
    if (online > this.#maxLocal) this.#maxLocal = online;
    if (online > this.#maxOnline) this.#maxOnline = online;
  }

  /**
   * Who is in room `name`, on every server. A secret room (`+s`) is not
   * shown to an `asker` outside it (server operators see every room).
   * `listed` (IRC's NAMES and WHO): of a big room (quiet members, or too many), only its
   * listed ones, at most `LISTED_MOST`, and how many were left out
   * (`big_rooms.ts`): NAMES costs a joiner no more than that.
   */
  async who(name: string, asker?: Member, listed = false): Promise<Replies["who"]> {
    const key = nameKey(name);
    const room = this.#registry.room(key);
    if (
      room !== undefined && asker !== undefined && room.modes.secret && !asker.operator &&
      !room.members.has(asker)
    ) {
      return { kind: "refused", problem: { code: "no-such-room", room: name } };
    }
    const elsewhere = await this.elsewhere();
    const remote = elsewhere.filter((member) =>
      member.rooms.some((roomName) => nameKey(roomName) === key)
    );
    if (!room && remote.length === 0) {
      return { kind: "refused", problem: { code: "no-such-room", room: name } };
    }
    const some = listed && room !== undefined && listsSome(room);
    const there = some ? remote.filter((member) => !room!.quiet.has(member.id)) : remote;
    const members: MemberInfo[] = some ? this.#listing(room!, asker, there) : [
      ...[...(room?.members ?? [])].map((member) =>
        this.#info(member, room!.operators.has(member.id) || member.operator, room!, asker)
      ),
      ...there.map((member) => inRoom(remoteInfo(member), member.id, room)),
    ].sort(byNick);
    const unlisted = (room?.members.size ?? 0) + remote.length - members.length;
    return {
      kind: "who",
      room: room?.name ?? name,
      members,
      online: this.#registry.online + elsewhere.length,
      ...(room?.modes.secret ? { secret: true } : {}),
      ...(unlisted > 0 ? { unlisted } : {}),
    };
  }

  /**
   * A big room's listed members, sorted (`big_rooms.ts`): `asker` (when in
   * it) and those who are shown, then `remote` ones, at most `LISTED_MOST`.
   * What the asker does not change is made once and shared by the joiners of
   * a busy room (`cachedListing`).
   */
  #listing(room: Room, asker: Member | undefined, remote: RemoteMember[]): MemberInfo[] {
    const shared = cachedListing(
      room,
      this.#clock(),
      () =>
        (listedMembers(room) ?? []).map((member) =>
          this.#info(member, room.operators.has(member.id) || member.operator, room)
        ).sort(byNick),
    );
    const members = [...shared];
    if (asker !== undefined && room.members.has(asker)) {
      const own = this.#info(asker, room.operators.has(asker.id) || asker.operator, room, asker);
      const at = members.findIndex((info) => info.nick >= own.nick);
      if (at !== -1 && members[at].nick === own.nick) members[at] = own;
      else members.splice(at === -1 ? members.length : at, 0, own);
    }
    for (const member of remote) members.push(inRoom(remoteInfo(member), member.id, room));
    if (remote.length > 0) members.sort(byNick);
    if (members.length <= LISTED_MOST) return members;
    // Too many: the asker stays.
    const kept = members.slice(0, LISTED_MOST);
    if (asker !== undefined && !kept.some((info) => info.nick === asker.nick)) {
      const own = members.find((info) => info.nick === asker.nick);
      if (own !== undefined) kept[LISTED_MOST - 1] = own;
    }
    return kept;
  }

  /** Everyone online, on every server (the console's `/who`). */
  async everyone(): Promise<Replies["who"]> {
    const elsewhere = await this.elsewhere();
    const members: MemberInfo[] = [
      ...[...this.#registry.members()].map((member) => this.#info(member, member.operator)),
      ...elsewhere.map(remoteInfo),
    ].sort(byNick);
    return { kind: "who", room: "", members, online: members.length };
  }

  /**
   * Everyone `asker` may find by searching (IRC's `WHO mask`), on every
   * server: all but the invisible (`+i`) members it shares no room with.
   * Sorted by nick; `operator` is the server operator flag here (no room).
   */
  async members(asker: Member): Promise<Replies["members"]> {
    const elsewhere = await this.elsewhere();
    const mine = new Set(asker.rooms);
    const members: MemberInfo[] = [];
    for (const member of this.#registry.members()) {
      if (member.invisible && member !== asker && !member.rooms.some((room) => mine.has(room))) {
        continue;
      }
      members.push(this.#info(member, member.operator));
    }
    for (const member of elsewhere) members.push(remoteInfo(member));
    return { kind: "members", members: members.sort(byNick) };
  }

  /** Who had nick `nick` on this server, newest first (at most `count`; 0: all kept). */
  whowas(nick: string, count = 0): Replies["whowas"] {
    return { kind: "whowas", nick, entries: this.#whowas.lookup(nameKey(nick), count) };
  }

  /**
   * The counts of IRC's LUSERS, on every server (other servers' members as
   * their presence says). `recent`: counts up to {@linkcode CENSUS_MAX_AGE_MS}
   * old will do (a newcomer's welcome), so that a burst of newcomers costs one
   * walk over the members and one question to the other servers, not one each.
   */
  async lusers(recent = false): Promise<Replies["lusers"]> {
    const now = this.#clock();
    const elsewhere = recent ? await this.#recentElsewhere(now) : await this.elsewhere();
    let counts = this.#counts;
    if (!recent || counts === null || now - counts.at > CENSUS_MAX_AGE_MS) {
      counts = this.#counts = this.#count(now, elsewhere);
    }
    const local = this.#registry.online;
    const online = local + elsewhere.length;
    if (local > this.#maxLocal) this.#maxLocal = local;
    if (online > this.#maxOnline) this.#maxOnline = online;
    return {
      kind: "lusers",
      online,
      local,
      maxOnline: this.#maxOnline,
      maxLocal: this.#maxLocal,
      invisible: Math.min(counts.invisible, local),
      operators: counts.operators,
      rooms: counts.rooms,
      servers: counts.servers,
    };
  }

  /** One walk over this server's members and rooms, and the other servers' members. */
  #count(at: number, elsewhere: readonly RemoteMember[]): LusersCounts {
    let invisible = 0;
    let operators = 0;
    for (const member of this.#registry.members()) {
      if (member.invisible) invisible++;
      if (member.operator) operators++;
    }
    const rooms = new Set<string>();
    for (const room of this.#registry.rooms()) if (room.members.size > 0) rooms.add(room.key);
    const servers = new Set<string>();
    for (const member of elsewhere) {
      for (const name of member.rooms) rooms.add(nameKey(name));
      const slash = member.id.lastIndexOf("/");
      servers.add(slash === -1 ? member.id : member.id.slice(0, slash));
    }
    return { at, invisible, operators, rooms: rooms.size, servers: 1 + servers.size };
  }

  /**
   * A member of this server as lists show it; `operator` as the list means it; voiced in
   * `room`; its devices when more than one, to itself and server operators (`asker`).
   */
  #info(member: Member, operator: boolean, room?: Room, asker?: Member): MemberInfo {
    const info: MemberInfo = {
      nick: member.nick,
      user: member.user,
      operator,
      away: member.away,
      realname: member.realname,
      serverOperator: member.operator,
      account: member.accountName ?? member.account,
      idleSeconds: Math.max(0, Math.floor((this.#clock() - member.lastSaid) / 1000)),
    };
    if (room !== undefined && room.voiced.has(member.id)) info.voiced = true;
    const devices = devicesShown(member, asker);
    if (devices !== undefined) info.devices = devices;
    return info;
  }

  /**
   * The rooms with members (and the lobby), busiest first; secret ones (`+s`)
   * only to their members (`asker`; none: the console, which sees them all).
   */
  async rooms(asker?: Member): Promise<Replies["rooms"]> {
    const counts = new Map<string, { name: string; members: number; topic: string | null }>();
    const hidden = new Set<string>();
    for (const room of this.#registry.rooms()) {
      if (asker !== undefined && room.modes.secret && !room.members.has(asker)) {
        hidden.add(room.key);
        continue;
      }
      if (room.members.size === 0 && !this.#registry.isLobby(room)) continue;
      counts.set(room.key, {
        name: room.name,
        members: room.members.size,
        topic: room.topic?.text ?? null,
      });
    }
    for (const member of await this.elsewhere()) {
      for (const name of member.rooms) {
        const key = nameKey(name);
        if (hidden.has(key)) continue;
        const entry = counts.get(key) ?? { name, members: 0, topic: null };
        entry.members++;
        counts.set(key, entry);
      }
    }
    const rooms = [...counts.values()]
      .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
    return { kind: "rooms", rooms };
  }

  /** Who `nick` is; its secret rooms (`+s`) are not shown to an `asker` outside them. */
  async whois(nick: string, asker?: Member): Promise<Replies["whois"]> {
    const key = nameKey(nick);
    const shown = (name: string): boolean => {
      const room = this.#registry.roomOf(name);
      return room === undefined || !room.modes.secret || asker === undefined || asker.operator ||
        room.members.has(asker);
    };
    const target = this.#registry.byKey(key);
    if (!target) {
      const remote = (await this.elsewhere()).find((member) => nameKey(member.nick) === key);
      if (!remote) return { kind: "refused", problem: { code: "no-such-nick", nick } };
      return {
        kind: "whois",
        nick: remote.nick,
        user: remote.user,
        rooms: remote.rooms.filter(shown).map((name) => {
          const room = this.#registry.roomOf(name);
          return { name, operator: room?.operators.has(remote.id) ?? false };
        }),
        away: remote.away,
        since: 0,
        idleSeconds: 0,
        realname: null,
        serverOperator: false,
        account: null,
        invisible: false,
      };
    }
    return {
      kind: "whois",
      nick: target.nick,
      user: target.user,
      rooms: target.rooms.filter((room) => shown(room.name)).map((room) => ({
        name: room.name,
        operator: room.operators.has(target.id) || target.operator,
      })),
      away: target.away,
      since: target.since,
      idleSeconds: Math.max(0, Math.floor((this.#clock() - target.lastSaid) / 1000)),
      realname: target.realname,
      serverOperator: target.operator,
      account: target.accountName ?? target.account,
      invisible: target.invisible,
      ...(devicesShown(target, asker) === undefined
        ? {}
        : { devices: devicesShown(target, asker) }),
    };
  }

  /**
   * How many are online, and in `room`, on every server: what a newcomer is
   * told. The other servers' members are counted from a view at most
   * {@linkcode CENSUS_MAX_AGE_MS} old, so that a burst of newcomers costs
   * one question to the other servers, not one each.
   */
  async census(room: { name: string; size: number }): Promise<{ online: number; inRoom: number }> {
    const online = this.#registry.online;
    if (this.#presence instanceof LocalPresence) return { online, inRoom: room.size };
    const elsewhere = await this.#recentElsewhere(this.#clock());
    const key = nameKey(room.name);
    let inRoom = room.size;
    for (const member of elsewhere) {
      if (member.rooms.some((name) => nameKey(name) === key)) inRoom++;
    }
    return { online: this.#registry.online + elsewhere.length, inRoom };
  }

  /** The other servers' members as seen at most {@linkcode CENSUS_MAX_AGE_MS} before `now`. */
  #recentElsewhere(now: number): Promise<RemoteMember[]> {
    if (this.#presence instanceof LocalPresence) return Promise.resolve([]);
    if (this.#census === null || now - this.#census.at > CENSUS_MAX_AGE_MS) {
      this.#census = { at: now, members: this.elsewhere() };
    }
    return this.#census.members;
  }

  /**
   * Members of the other servers; none when the presence cannot say. The
   * first failure of a run of them is reported.
   */
  async elsewhere(): Promise<RemoteMember[]> {
    const members = await this.elsewhereAll();
    // One person on devices of several servers is one member (issue 23): listed once, as here.
    if (members.length === 0) return members;
    const seen = new Set<string>();
    return members.filter((member) => {
      const key = nameKey(member.nick);
      if (seen.has(key) || this.#registry.byKey(key) !== undefined) return false;
      seen.add(key);
      return true;
    });
  }

  /** Every member record of the other servers, one person's on several servers each. */
  async elsewhereAll(): Promise<RemoteMember[]> {
    try {
      const members = await this.#presence.elsewhere();
      this.#failing = false;
      return members;
    } catch (error) {
      if (!this.#failing) {
        this.#onError(
          `the other servers' members cannot be read (counted as none): ${errorText(error)}`,
        );
      }
      this.#failing = true;
      return [];
    }
  }
}

/** What LUSERS counts by walking the members, and when it did. */
interface LusersCounts {
  at: number;
  invisible: number;
  operators: number;
  rooms: number;
  servers: number;
}

/** Another server's member: what its presence says (no real name, account or operator flag). */
/** Another server's member as listed in `room`: with its status there, as this server knows it. */
function inRoom(info: MemberInfo, id: string, room: Room | undefined): MemberInfo {
  if (room?.operators.has(id)) info.operator = true;
  if (room?.voiced.has(id)) info.voiced = true;
  return info;
}

/** A member's device count as `asker` is shown it: to itself and server operators, when over one. */
function devicesShown(member: Member, asker: Member | undefined): number | undefined {
  if (member.devices.length < 2 || asker === undefined) return undefined;
  return asker === member || asker.operator ? member.devices.length : undefined;
}

function remoteInfo(member: RemoteMember): MemberInfo {
  return { nick: member.nick, user: member.user, operator: false, away: member.away };
}

function byNick(a: MemberInfo, b: MemberInfo): number {
  return a.nick < b.nick ? -1 : a.nick > b.nick ? 1 : 0;
}
