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
import type { Registry } from "./registry.ts";
import { errorText } from "../errors.ts";
import { nameKey } from "../protocol/names.ts";

/** How old the view of other servers' members that newcomers' counts come from may be (ms). */
const CENSUS_MAX_AGE_MS = 1000;

/** What the chat can be asked about itself. */
export class Queries {
  readonly #registry: Registry;
  readonly #presence: Presence;
  readonly #clock: Clock;
  readonly #onError: (message: string) => void;
  /** The other servers' members as last asked for (see {@linkcode census}). */
  #census: { at: number; members: Promise<RemoteMember[]> } | null = null;
  /** The presence failed the last time it was asked. */
  #failing = false;

  constructor(options: {
    registry: Registry;
    presence: Presence;
    clock: Clock;
    /** Told when the other servers' members cannot be read (the answer then counts this server only). */
    onError: (message: string) => void;
  }) {
    this.#registry = options.registry;
    this.#presence = options.presence;
    this.#clock = options.clock;
    this.#onError = options.onError;
  }

  async who(name: string): Promise<Replies["who"]> {
    const key = nameKey(name);
    const room = this.#registry.room(key);
    const elsewhere = await this.elsewhere();
    const remote = elsewhere.filter((member) =>
      member.rooms.some((roomName) => nameKey(roomName) === key)
    );
    if (!room && remote.length === 0) {
      return { kind: "refused", problem: { code: "no-such-room", room: name } };
    }
    const members: MemberInfo[] = [
      ...[...(room?.members ?? [])].map((member) => ({
        nick: member.nick,
        user: member.user,
        operator: member === room!.creator || member.operator,
        away: member.away,
      })),
      ...remote.map((member) => ({
        nick: member.nick,
        user: member.user,
        operator: false,
        away: member.away,
      })),
    ].sort(byNick);
    return {
      kind: "who",
      room: room?.name ?? name,
      members,
      online: this.#registry.online + elsewhere.length,
    };
  }

  /** Everyone online, on every server (the console's `/who`). */
  async everyone(): Promise<Replies["who"]> {
    const elsewhere = await this.elsewhere();
    const members: MemberInfo[] = [
      ...[...this.#registry.members()].map((member) => ({
        nick: member.nick,
        user: member.user,
        operator: member.operator,
        away: member.away,
      })),
      ...elsewhere.map((member) => ({
        nick: member.nick,
        user: member.user,
        operator: false,
        away: member.away,
      })),
    ].sort(byNick);
    return { kind: "who", room: "", members, online: members.length };
  }

  async rooms(): Promise<Replies["rooms"]> {
    const counts = new Map<string, { name: string; members: number; topic: string | null }>();
    for (const room of this.#registry.rooms()) {
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
        const entry = counts.get(key) ?? { name, members: 0, topic: null };
        entry.members++;
        counts.set(key, entry);
      }
    }
    const rooms = [...counts.values()]
      .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
    return { kind: "rooms", rooms };
  }

  async whois(nick: string): Promise<Replies["whois"]> {
    const key = nameKey(nick);
    const target = this.#registry.byKey(key);
    if (!target) {
      const remote = (await this.elsewhere()).find((member) => nameKey(member.nick) === key);
      if (!remote) return { kind: "refused", problem: { code: "no-such-nick", nick } };
      return {
        kind: "whois",
        nick: remote.nick,
        user: remote.user,
        rooms: remote.rooms.map((name) => ({ name, operator: false })),
        away: remote.away,
        since: 0,
        idleSeconds: 0,
      };
    }
    return {
      kind: "whois",
      nick: target.nick,
      user: target.user,
      rooms: target.rooms.map((room) => ({
        name: room.name,
        operator: room.creator === target || target.operator,
      })),
      away: target.away,
      since: target.since,
      idleSeconds: Math.max(0, Math.floor((this.#clock() - target.lastSaid) / 1000)),
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
    const now = this.#clock();
    if (this.#census === null || now - this.#census.at > CENSUS_MAX_AGE_MS) {
      this.#census = { at: now, members: this.elsewhere() };
    }
    const elsewhere = await this.#census.members;
    const key = nameKey(room.name);
    let inRoom = room.size;
    for (const member of elsewhere) {
      if (member.rooms.some((name) => nameKey(name) === key)) inRoom++;
    }
    return { online: this.#registry.online + elsewhere.length, inRoom };
  }

  /**
   * Members of the other servers; none when the presence cannot say. The
   * first failure of a run of them is reported.
   */
  async elsewhere(): Promise<RemoteMember[]> {
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

function byNick(a: MemberInfo, b: MemberInfo): number {
  return a.nick < b.nick ? -1 : a.nick > b.nick ? 1 : 0;
}
