/**
 * Who is in the chat on this server and which rooms exist: the one owner of
 * the member and room tables. Members are found by nick (case-folded key) and
 * by id, rooms by key and by display name. Rooms are created, used and
 * forgotten here, with the store told when it keeps rooms (`--data`,
 * `--cluster`); what this server's members look like to the other servers is
 * told to the {@linkcode Presence} from here too.
 *
 * @module
 */

import type { Clock } from "./events.ts";
import type { History } from "./history.ts";
import type { Presence, PresenceInfo } from "./presence.ts";
import { Member, Room } from "./records.ts";
import type { Store } from "./store.ts";
import { LOBBY, nameKey, roomProblem } from "../protocol/names.ts";

/** The member and room tables. */
export class Registry {
  readonly #store: Store;
  readonly #history: History;
  readonly #presence: Presence;
  readonly #clock: Clock;
  readonly #byNick = new Map<string, Member>();
  readonly #byId = new Map<string, Member>();
  /** Members that proved an account, by the account's key (one member per account here). */
  readonly #byAccount = new Map<string, Member>();
  readonly #rooms = new Map<string, Room>();
  /** Rooms by display name, for events (which name their room). */
  readonly #roomsByName = new Map<string, Room>();
  readonly #lobbyKey = nameKey(LOBBY);

  constructor(options: { store: Store; presence: Presence; clock: Clock }) {
    this.#store = options.store;
    this.#history = options.store.history;
    this.#presence = options.presence;
    this.#clock = options.clock;
    // The lobby is made with the server (a stored one's time replaces it at load).
    this.createRoom(LOBBY, this.#lobbyKey, null).created = this.#clock();
  }

  /** Members in the chat on this server. */
  get online(): number {
    return this.#byNick.size;
  }

  /** The member using nick `key` (a `nameKey`), if any. */
  byKey(key: string): Member | undefined {
    return this.#byNick.get(key);
  }

  byId(id: string): Member | undefined {
    return this.#byId.get(id);
  }

  /** The member that proved account `key` (a `nameKey`) on this server, if any. */
  byAccount(key: string): Member | undefined {
    return this.#byAccount.get(key);
  }

  /** A member's account changed (it was `before`): the account index follows. */
  accountChanged(m: Member, before: string | null): void {
    if (!this.#byId.has(m.id)) return;
    if (before !== null && this.#byAccount.get(before) === m) this.#byAccount.delete(before);
    if (m.account !== null) this.#byAccount.set(m.account, m);
  }

  /** Every member on this server. */
  members(): IterableIterator<Member> {
    return this.#byNick.values();
  }

  /** Puts a member in the tables under `nick`. */
  add(m: Member, nick: string, key: string): Member {
    m.nick = nick;
    m.key = key === nick ? nick : key;
    this.#byNick.set(m.key, m);
    this.#byId.set(m.id, m);
    if (m.account !== null) this.#byAccount.set(m.account, m);
    this.tellPresence(m);
    return m;
  }

  /** Takes a member out of the tables (not out of its rooms). */
  remove(m: Member): void {
    this.#byNick.delete(m.key);
    this.#byId.delete(m.id);
    if (m.account !== null && this.#byAccount.get(m.account) === m) {
      this.#byAccount.delete(m.account);
    }
  }

  /** A member's nick key changes (the nick is claimed already). */
  rekey(m: Member, key: string): void {
    this.#byNick.delete(m.key);
    this.#byNick.set(key, m);
  }

  /** What the other servers see of a member: its nick, rooms, away text and address. */
  tellPresence(m: Member): void {
    const info: PresenceInfo = {
      nick: m.nick,
      user: m.user,
      rooms: m.rooms.map((room) => room.name),
      away: m.away,
      address: m.endpoint.address,
    };
    // Where a device of the same account would attach (issue 23): the account and its claims.
    if (m.account !== null) info.account = m.account;
    if (m.owner !== m.id) info.owner = m.owner;
    if (m.devices.length > 1) info.devices = m.devices.length;
    this.#presence.set(m.id, info);
  }

  /** The room of `key`, if it exists. */
  room(key: string): Room | undefined {
    return this.#rooms.get(key);
  }

  /** The local room an event names: by its display name, or by key (another server's spelling). */
  roomOf(name: string): Room | undefined {
    return this.#roomsByName.get(name) ?? this.#rooms.get(nameKey(name));
  }

  /** Every room. */
  rooms(): IterableIterator<Room> {
    return this.#rooms.values();
  }

  /** Rooms now, the lobby included. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  isLobby(room: Room): boolean {
    return room.key === this.#lobbyKey;
  }

  createRoom(name: string, key: string, creator: Member | null): Room {
    const room = new Room(name, key, creator);
    this.#rooms.set(key, room);
    this.#roomsByName.set(name, room);
    this.used(room);
    return room;
  }

  /**
   * A room another server's event names and this one does not have: made
   * here too where rooms are kept (`--cluster`), so that this server's view
   * of it (modes, operators, topic) follows the others'; none otherwise.
   */
  adopt(name: string): Room | undefined {
    if (!this.#store.persistent || roomProblem(name) !== null) return undefined;
    const key = nameKey(name);
    return this.#rooms.get(key) ?? this.createRoom(name, key, null);
  }

  /** Someone entered or left the room: it is used (and the store is told). */
  used(room: Room): void {
    room.lastUsed = this.#clock();
    if (this.#store.persistent) this.#store.touchRoom(room.key, room.name, room.lastUsed);
  }

  /**
   * A room nobody is in: forgotten with its history, unless the store keeps
   * rooms (`--data`, `--cluster`), which then outlive their members. The lobby
   * always stays.
   */
  forgetIfEmpty(room: Room): void {
    if (room.members.size > 0 || this.isLobby(room) || this.#store.persistent) return;
    this.#forget(room);
  }

  /**
   * At the room cap with a store that keeps rooms: the least recently used
   * empty room that keeps nothing (no message, no topic) goes. A stored room
   * with history is never given up for someone's new one: then the cap holds.
   */
  forgetOldestEmpty(): boolean {
    if (!this.#store.persistent) return false;
    let oldest: Room | null = null;
    for (const room of this.#rooms.values()) {
      if (room.members.size > 0 || room.kept || this.isLobby(room)) continue;
      if (oldest === null || room.lastUsed < oldest.lastUsed) oldest = room;
    }
    if (oldest === null) return false;
    this.#forget(oldest);
    this.#store.forgetRoom(oldest.key);
    return true;
  }

  #forget(room: Room): void {
    this.#rooms.delete(room.key);
    this.#roomsByName.delete(room.name);
    this.#history.forget(room.key);
  }
}
