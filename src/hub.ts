/**
 * The hub: the one owner of who is online, which nick belongs to whom, and who
 * is in which room. Connection handlers call its methods and never touch its
 * maps. Sending to a member only queues bytes in that member's outbox, so no
 * method here ever waits on a socket.
 *
 * @module
 */

import { formatNotice, nameKey, nickProblem, roomProblem } from "./protocol.ts";

/** Someone in the chat, as the hub sees them. The hub sets `nick` and `room`. */
export interface Member {
  nick: string;
  room: Room;
  /** Queues bytes for this member; must not block or throw. */
  send(bytes: Uint8Array): void;
}

/** Settings that bound the hub's memory. */
export interface HubOptions {
  /** Messages remembered per room for newcomers (0 = none). */
  history?: number;
  /** Most rooms that may exist at once, the lobby included. */
  maxRooms?: number;
  /**
   * Joins and leaves are announced only in rooms of at most this many members:
   * in a room of thousands they would drown the conversation (and cost
   * members × members lines when everyone arrives).
   */
  announceLimit?: number;
}

/** The room everyone starts in; it always exists. */
export const LOBBY = "lobby";

const encoder = new TextEncoder();

/** Encodes one protocol line, adding its LF. */
export function encodeLine(line: string): Uint8Array {
  return encoder.encode(line + "\n");
}

/** A named group of members with its recent messages. */
export class Room {
  readonly name: string;
  readonly members = new Set<Member>();
  readonly #historySize: number;
  #history: string[] = [];
  #historyStart = 0;

  constructor(name: string, historySize: number) {
    this.name = name;
    this.#historySize = historySize;
  }

  /** Keeps a formatted line for newcomers, forgetting the oldest beyond the limit. */
  remember(line: string): void {
    if (this.#historySize === 0) return;
    if (this.#history.length < this.#historySize) {
      this.#history.push(line);
    } else {
      this.#history[this.#historyStart] = line;
      this.#historyStart = (this.#historyStart + 1) % this.#historySize;
    }
  }

  /** Remembered lines, oldest first. */
  history(): string[] {
    return [
      ...this.#history.slice(this.#historyStart),
      ...this.#history.slice(0, this.#historyStart),
    ];
  }

  /** Sends bytes to every member but `except`. */
  broadcast(bytes: Uint8Array, except?: Member): void {
    for (const member of this.members) {
      if (member !== except) member.send(bytes);
    }
  }
}

/** Owner of members, nicks and rooms. */
export class Hub<M extends Member = Member> {
  readonly #byNick = new Map<string, M>();
  readonly #rooms = new Map<string, Room>();
  readonly #historySize: number;
  readonly #maxRooms: number;
  readonly #announceLimit: number;
  #lastGuest = 0;

  constructor(options: HubOptions = {}) {
    this.#historySize = options.history ?? 50;
    this.#maxRooms = options.maxRooms ?? 1000;
    this.#announceLimit = options.announceLimit ?? 200;
    this.#rooms.set(nameKey(LOBBY), new Room(LOBBY, this.#historySize));
  }

  /** Members online. */
  get online(): number {
    return this.#byNick.size;
  }

  /** Every member, in no particular order. */
  members(): IterableIterator<M> {
    return this.#byNick.values();
  }

  /** The member using `nick` (any case), if any. */
  find(nick: string): M | undefined {
    return this.#byNick.get(nameKey(nick));
  }

  /** Gives a newcomer a free `guest-N` nick and puts it in the lobby; the lobby is told. */
  add(member: M): void {
    let nick: string;
    do nick = `guest-${++this.#lastGuest}`; while (this.#byNick.has(nick));
    member.nick = nick;
    this.#byNick.set(nick, member);
    this.#enter(member, this.#rooms.get(nameKey(LOBBY))!);
  }

  /** Takes a member out; its room is told why it left, unless `why` is null. */
  remove(member: M, why: string | null): void {
    if (this.#byNick.get(nameKey(member.nick)) !== member) return;
    this.#byNick.delete(nameKey(member.nick));
    this.#leave(member, why === null ? null : `${member.nick} left (${why})`);
  }

  /** Changes a member's nick; returns why it cannot, or null when done. */
  rename(member: M, nick: string): string | null {
    nick = nick.normalize("NFC");
    const problem = nickProblem(nick);
    if (problem) return problem;
    const holder = this.#byNick.get(nameKey(nick));
    if (holder && holder !== member) return `nickname ${holder.nick} is taken`;
    if (nick === member.nick) return null;
    const old = member.nick;
    this.#byNick.delete(nameKey(old));
    this.#byNick.set(nameKey(nick), member);
    member.nick = nick;
    member.room.broadcast(encodeLine(formatNotice(`${old} is now known as ${nick}`)), member);
    return null;
  }

  /** Moves a member to a room, creating it if needed; returns why it cannot, or null. */
  moveTo(member: M, roomName: string): string | null {
    roomName = roomName.normalize("NFC");
    const problem = roomProblem(roomName);
    if (problem) return problem;
    const key = nameKey(roomName);
    let room = this.#rooms.get(key);
    if (room === member.room) return `you are already in #${room.name}`;
    if (!room) {
      if (this.#rooms.size >= this.#maxRooms) {
        return `too many rooms (at most ${this.#maxRooms}); join an existing one (/rooms)`;
      }
      room = new Room(roomName, this.#historySize);
      this.#rooms.set(key, room);
    }
    this.#leave(member, `${member.nick} went to #${room.name}`);
    this.#enter(member, room);
    return null;
  }

  /** Rooms and their member counts, largest first. */
  rooms(): { name: string; members: number }[] {
    return [...this.#rooms.values()]
      .map((room) => ({ name: room.name, members: room.members.size }))
      .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
  }

  #enter(member: M, room: Room): void {
    this.#announce(room, `${member.nick} joined #${room.name}`);
    room.members.add(member);
    member.room = room;
  }

  #leave(member: M, notice: string | null): void {
    const room = member.room;
    room.members.delete(member);
    if (room.members.size === 0 && room.name !== LOBBY) {
      this.#rooms.delete(nameKey(room.name));
    } else if (notice !== null) {
      this.#announce(room, notice);
    }
  }

  #announce(room: Room, notice: string): void {
    if (room.members.size < this.#announceLimit) room.broadcast(encodeLine(formatNotice(notice)));
  }
}
