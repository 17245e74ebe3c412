/**
 * The chat: the one owner of who is in the chat, under which nick, and in
 * which rooms. Front ends turn their protocol into calls here and render what
 * comes back; nothing here knows a protocol, a socket or a sentence.
 *
 * - {@linkcode Chat.say} is the message path: synchronous, one event per
 *   line, batched per room and origin until {@linkcode Chat.flush} (the end of
 *   a read), so that one read's lines reach each receiver as one write.
 * - {@linkcode Chat.apply} carries out every other command and answers with a
 *   typed {@linkcode Reply}; problems are codes with data.
 * - Every happening is a {@linkcode ChatEvent} published on the {@linkcode Bus};
 *   the bus hands events back to be delivered to this server's members, and
 *   delivery renders each batch **once per renderer** (front end), sharing the
 *   bytes among all of that renderer's members, never sending an event back to
 *   its origin.
 *
 * Nick claims go through the {@linkcode Directory}, room messages into the
 * {@linkcode History}; both may be remote, so those calls are asynchronous.
 *
 * @module
 */

import { type Bus, LocalBus } from "./bus.ts";
import type {
  Command,
  MemberInfo,
  Problem,
  Refused,
  Replies,
  Reply,
  RoomView,
  Topic,
} from "./commands.ts";
import { type Directory, MemoryDirectory } from "./directory.ts";
import type {
  ChatEvent,
  Clock,
  MemberEvent,
  MessageEvent,
  PrivateEvent,
  QuitReason,
  RoomEvent,
} from "./events.ts";
import { systemClock } from "./events.ts";
import { type History, MemoryHistory } from "./history.ts";
import { MAX_TOPIC, nameKey, nickProblem, roomProblem } from "./names.ts";

/** The room that always exists: line clients start in it. */
export const LOBBY = "lobby";

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

/** What the chat needs of a connected member; its front end provides it. */
export interface Endpoint {
  /** How this member's events are rendered. */
  readonly renderer: Renderer;
  /** Queues bytes for the member; must not block or throw. */
  send(bytes: Uint8Array): void;
}

/** A member as others see it: read-only; the chat changes it. */
export interface ChatMember {
  /** Unique among all members, on every server, for as long as the chat runs. */
  readonly id: string;
  readonly nick: string;
  /** The user name (IRC's `user`; line clients have their nick's at entry). */
  readonly user: string;
  readonly rooms: ReadonlySet<ChatRoom>;
  /** False once the member has left the chat. */
  readonly present: boolean;
  /** The away text, or null when here. */
  readonly away: string | null;
}

/** A room as others see it. */
export interface ChatRoom {
  readonly name: string;
  readonly key: string;
  /** Members in it on this server. */
  readonly size: number;
  readonly topic: Topic | null;
}

/** Settings of a chat. */
export interface ChatOptions {
  /** Messages per room replayed to whoever enters it (0 = none). */
  history?: number;
  /** Most rooms at once, the lobby included. */
  maxRooms?: number;
  /** This server's id, the prefix of its members' ids. */
  node?: string;
  directory?: Directory;
  historyStore?: History;
  bus?: Bus;
  clock?: Clock;
}

/** Chat's own record of a member. */
class Member implements ChatMember {
  readonly id: string;
  readonly user: string;
  readonly endpoint: Endpoint;
  /** How its events are rendered (its endpoint's renderer, until changed with setRenderer). */
  renderer: Renderer;
  nick = "";
  key = "";
  readonly rooms = new Set<Room>();
  present = true;
  away: string | null = null;
  /** When it entered the chat, and when it last said something (ms since the epoch). */
  readonly since: number;
  lastSaid: number;
  /** The delivery that last reached this member (so a member event reaches it once). */
  delivery = 0;
  /** Its output is behind and holds the talkers of its rooms back (see {@linkcode Chat.hold}). */
  holding = false;

  constructor(id: string, user: string, endpoint: Endpoint, now: number) {
    this.id = id;
    this.user = user;
    this.endpoint = endpoint;
    this.renderer = endpoint.renderer;
    this.since = this.lastSaid = now;
  }
}

/** Chat's own record of a room. */
class Room implements ChatRoom {
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
  /** Its operator: whoever created it (the lobby has none). */
  creator: Member | null;
  topic: Topic | null = null;
  /** Members whose output is behind: while there are any, talkers here are read more slowly. */
  holders = 0;
  #caughtUp: PromiseWithResolvers<void> | null = null;

  constructor(name: string, key: string, creator: Member | null) {
    this.name = name;
    this.key = key;
    this.creator = creator;
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

/** The one owner of members, nicks and rooms. */
export class Chat {
  readonly #historySize: number;
  readonly #maxRooms: number;
  readonly #node: string;
  readonly #directory: Directory;
  readonly #history: History;
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #byNick = new Map<string, Member>();
  readonly #rooms = new Map<string, Room>();
  /** Rooms by display name, for events (which name their room). */
  readonly #roomsByName = new Map<string, Room>();
  #lastMember = 0;
  #lastDelivery = 0;
  /** Room messages said since the last flush: one room, one origin. */
  #pending: MessageEvent[] = [];
  #pendingRoom: Room | null = null;
  #pendingFrom: Member | null = null;

  constructor(options: ChatOptions = {}) {
    this.#historySize = options.history ?? 50;
    this.#maxRooms = options.maxRooms ?? 1000;
    this.#node = options.node ?? "local";
    this.#directory = options.directory ?? new MemoryDirectory();
    this.#history = options.historyStore ?? new MemoryHistory(this.#historySize);
    this.#bus = options.bus ?? new LocalBus();
    this.#clock = options.clock ?? systemClock;
    this.#bus.deliverTo((events) => this.#deliver(events));
    this.#room(LOBBY, nameKey(LOBBY), null);
  }

  /** Members in the chat on this server. */
  get online(): number {
    return this.#byNick.size;
  }

  /** The member using `nick` (any case) on this server, if any. */
  find(nick: string): ChatMember | undefined {
    return this.#byNick.get(nameKey(nick));
  }

  /** The room called `name` (any case), if it exists. */
  findRoom(name: string): ChatRoom | undefined {
    return this.#rooms.get(nameKey(name));
  }

  /**
   * Brings a newcomer into the chat under a free `guest-N` nick, in no room
   * yet. `user` defaults to the guest nick.
   */
  async enterAsGuest(endpoint: Endpoint, user?: string): Promise<ChatMember> {
    const id = `${this.#node}/${++this.#lastMember}`;
    for (;;) {
      const nick = `guest-${await this.#directory.nextGuest()}`;
      const key = nameKey(nick);
      if (!this.#byNick.has(key) && await this.#directory.claim(key, id)) {
        return this.#add(new Member(id, user ?? nick, endpoint, this.#clock()), nick, key);
      }
    }
  }

  /** Brings a newcomer into the chat under `nick`, in no room yet; refused when it cannot have it. */
  async enter(endpoint: Endpoint, nick: string, user: string): Promise<ChatMember | Refused> {
    nick = nick.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    const id = `${this.#node}/${++this.#lastMember}`;
    if (this.#byNick.has(key) || !(await this.#directory.claim(key, id))) {
      return refused({ code: "nick-taken", nick: this.#byNick.get(key)?.nick ?? nick });
    }
    return this.#add(new Member(id, user, endpoint, this.#clock()), nick, key);
  }

  /**
   * Takes a member out of the chat and out of its rooms. Those who shared a
   * room with it are told why, unless `announce` is false (at shutdown
   * everyone leaves at once: telling each about all the others is wasted work).
   */
  leave(
    member: ChatMember,
    why: { reason: QuitReason; detail?: string; announce?: boolean },
  ): void {
    const m = member as Member;
    if (!m.present) return;
    this.flush();
    m.present = false;
    this.#byNick.delete(m.key);
    this.#directory.release(m.key, m.id);
    const rooms = [...m.rooms];
    for (const room of rooms) {
      room.delete(m);
      if (room.creator === m) room.creator = null;
      if (m.holding) room.countHolder(-1);
    }
    m.holding = false;
    m.rooms.clear();
    if (why.announce !== false && rooms.length > 0) {
      this.#publish({
        kind: "quit",
        rooms: rooms.map((room) => room.name),
        nick: m.nick,
        user: m.user,
        reason: why.reason,
        detail: why.detail ?? "",
        time: this.#clock(),
        origin: m.id,
      });
    }
    for (const room of rooms) this.#forgetIfEmpty(room);
  }

  /**
   * Says `text` in `room` (an action for `/me`): the message path. Batched
   * until {@linkcode flush}; refused when the member is not in the room.
   */
  say(
    member: ChatMember,
    room: ChatRoom,
    text: string,
    action = false,
    notice = false,
  ): Problem | null {
    const m = member as Member;
    const r = room as Room;
    if (!r.members.has(m)) return { code: "not-in-room", room: r.name };
    if (this.#pendingRoom !== r || this.#pendingFrom !== m) this.flush();
    const time = m.lastSaid = this.#clock();
    const event: MessageEvent = {
      kind: "message",
      room: r.name,
      seq: ++r.seq,
      time,
      origin: m.id,
      nick: m.nick,
      user: m.user,
      text,
      action,
    };
    if (notice) event.notice = true;
    else this.#history.append(r.key, event);
    this.#pending.push(event);
    this.#pendingRoom = r;
    this.#pendingFrom = m;
    return null;
  }

  /**
   * Overload (SPEC §4): a member's output is behind (`holding`) or has caught
   * up. While any member of a room holds it, the room's talkers wait at
   * {@linkcode gate} before their next read.
   */
  hold(member: ChatMember, holding: boolean): void {
    const m = member as Member;
    if (m.holding === holding || !m.present) return;
    m.holding = holding;
    for (const room of m.rooms) room.countHolder(holding ? 1 : -1);
  }

  /**
   * What a member must wait for before reading more from it: a room it is in
   * is held back by a reader that is behind. Null when it may read at once.
   */
  gate(member: ChatMember): Promise<void> | null {
    for (const room of (member as Member).rooms) {
      if (room.holders > 0) return room.caughtUp();
    }
    return null;
  }

  /** A member's events are rendered differently from now on (an IRC client asked for tags). */
  setRenderer(member: ChatMember, renderer: Renderer): void {
    const m = member as Member;
    if (m.renderer === renderer) return;
    for (const room of m.rooms) room.delete(m);
    m.renderer = renderer;
    for (const room of m.rooms) room.add(m);
  }

  /** Publishes the room messages said since the last flush, as one batch. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    this.#pendingRoom = this.#pendingFrom = null;
    this.#history.commit(); // stored before anyone sees it
    this.#bus.publish(events);
  }

  /** Carries out `command` for `member`. */
  apply<C extends Command>(member: ChatMember, command: C): Promise<Reply<C>>;
  async apply(member: ChatMember, command: Command): Promise<Reply> {
    const m = member as Member;
    this.flush();
    switch (command.kind) {
      case "nick":
        return await this.#rename(m, command.nick);
      case "join":
        return await this.#join(m, command.room, command.move);
      case "part":
        return this.#part(m, command.room, command.text);
      case "private":
        return this.#private(m, command);
      case "who":
        return this.#who(command.room);
      case "rooms":
        return this.#roomList();
      case "topic":
        return this.#topic(m, command.room, command.text);
      case "whois":
        return this.#whois(command.nick);
      case "away":
        m.away = command.text === "" ? null : command.text;
        return { kind: "away", away: m.away !== null };
    }
  }

  async #rename(m: Member, wanted: string): Promise<Replies["nick"]> {
    const nick = wanted.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    const holder = this.#byNick.get(key);
    if (holder && holder !== m) return refused({ code: "nick-taken", nick: holder.nick });
    if (nick === m.nick) return { kind: "unchanged", nick };
    if (key !== m.key) {
      if (!(await this.#directory.claim(key, m.id))) {
        return refused({ code: "nick-taken", nick });
      }
      if (!m.present || this.#byNick.has(key)) {
        // Left, or the nick was taken locally while the claim was in flight.
        this.#directory.release(key, m.id);
        return refused({ code: "nick-taken", nick: this.#byNick.get(key)?.nick ?? nick });
      }
      this.#byNick.delete(m.key);
      this.#directory.release(m.key, m.id);
      this.#byNick.set(key, m);
    }
    const from = m.nick;
    m.nick = nick;
    m.key = key;
    this.flush();
    if (m.rooms.size > 0) {
      this.#publish({
        kind: "renamed",
        rooms: [...m.rooms].map((room) => room.name),
        nick: from,
        user: m.user,
        to: nick,
        time: this.#clock(),
        origin: m.id,
      });
    }
    return { kind: "renamed", from, to: nick };
  }

  async #join(m: Member, wanted: string, move: boolean): Promise<Replies["join"]> {
    const name = wanted.normalize("NFC");
    const why = roomProblem(name);
    if (why) return refused({ code: "room-invalid", room: name, why });
    const key = nameKey(name);
    let room = this.#rooms.get(key);
    if (room && room.members.has(m)) return refused({ code: "already-in-room", room: room.name });
    if (!room) {
      if (this.#rooms.size >= this.#maxRooms) {
        return refused({ code: "too-many-rooms", max: this.#maxRooms });
      }
      room = this.#room(name, key, m);
    }
    // Asked for before entering, in the same turn: the history is what the room had
    // up to the moment the member entered, and everything later reaches it live.
    const history = this.#history.recent(key, this.#historySize);
    const left: string[] = [];
    if (move) {
      for (const other of [...m.rooms]) {
        left.push(other.name);
        this.#leaveRoom(m, other, { how: "moved", to: room.name });
      }
    }
    room.add(m);
    m.rooms.add(room);
    if (m.holding) room.countHolder(1);
    this.#publish({
      kind: "joined",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      time: this.#clock(),
      origin: m.id,
    });
    return { kind: "joined", room: view(room), history: await history, left };
  }

  #part(m: Member, name: string, text: string): Replies["part"] {
    const room = this.#rooms.get(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    if (!room.members.has(m)) return refused({ code: "not-in-room", room: room.name });
    this.#leaveRoom(m, room, { how: "part", text });
    return { kind: "parted", room: room.name };
  }

  #private(m: Member, command: Extract<Command, { kind: "private" }>): Replies["private"] {
    const { nick, text, action } = command;
    const target = this.#byNick.get(nameKey(nick));
    if (!target) return refused({ code: "no-such-nick", nick });
    m.lastSaid = this.#clock();
    const event: PrivateEvent = {
      kind: "private",
      to: target.nick,
      nick: m.nick,
      user: m.user,
      text,
      action,
      time: m.lastSaid,
      origin: m.id,
    };
    if (command.notice) event.notice = true;
    this.#publish(event);
    return { kind: "sent", to: target.nick, text, action, away: target.away };
  }

  #who(name: string): Replies["who"] {
    const room = this.#rooms.get(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    const members: MemberInfo[] = [...room.members]
      .map((member) => ({
        nick: member.nick,
        user: member.user,
        operator: member === room.creator,
        away: member.away,
      }))
      .sort((a, b) => a.nick < b.nick ? -1 : a.nick > b.nick ? 1 : 0);
    return { kind: "who", room: room.name, members, online: this.online };
  }

  #roomList(): Replies["rooms"] {
    const rooms = [...this.#rooms.values()]
      .map((room) => ({
        name: room.name,
        members: room.members.size,
        topic: room.topic?.text ?? null,
      }))
      .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
    return { kind: "rooms", rooms };
  }

  #topic(m: Member, name: string, text: string | undefined): Replies["topic"] {
    const room = this.#rooms.get(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    if (text === undefined) {
      return { kind: "topic", room: room.name, topic: room.topic, changed: false };
    }
    if (!room.members.has(m)) return refused({ code: "not-in-room", room: room.name });
    if (room.creator !== m) return refused({ code: "not-operator", room: room.name });
    const topic = {
      text: [...text].slice(0, MAX_TOPIC).join(""),
      nick: m.nick,
      time: this.#clock(),
    };
    room.topic = topic.text === "" ? null : topic;
    this.#publish({
      kind: "topic",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      text: topic.text,
      time: topic.time,
      origin: m.id,
    });
    return { kind: "topic", room: room.name, topic: room.topic, changed: true };
  }

  #whois(nick: string): Replies["whois"] {
    const target = this.#byNick.get(nameKey(nick));
    if (!target) return refused({ code: "no-such-nick", nick });
    return {
      kind: "whois",
      nick: target.nick,
      user: target.user,
      rooms: [...target.rooms].map((room) => ({
        name: room.name,
        operator: room.creator === target,
      })),
      away: target.away,
      since: target.since,
      idleSeconds: Math.max(0, Math.floor((this.#clock() - target.lastSaid) / 1000)),
    };
  }

  #add(m: Member, nick: string, key: string): Member {
    m.nick = nick;
    m.key = key;
    this.#byNick.set(key, m);
    return m;
  }

  #room(name: string, key: string, creator: Member | null): Room {
    const room = new Room(name, key, creator);
    this.#rooms.set(key, room);
    this.#roomsByName.set(name, room);
    return room;
  }

  #leaveRoom(
    m: Member,
    room: Room,
    how: { how: "moved"; to: string } | { how: "part"; text: string },
  ): void {
    room.delete(m);
    m.rooms.delete(room);
    if (room.creator === m) room.creator = null;
    if (m.holding) room.countHolder(-1);
    this.#publish({
      kind: "left",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      time: this.#clock(),
      origin: m.id,
      ...how,
    });
    this.#forgetIfEmpty(room);
  }

  #forgetIfEmpty(room: Room): void {
    if (room.members.size > 0 || room.key === nameKey(LOBBY)) return;
    this.#rooms.delete(room.key);
    this.#roomsByName.delete(room.name);
    this.#history.forget(room.key);
  }

  #publish(event: ChatEvent): void {
    this.#bus.publish([event]);
  }

  /** Hands events from the bus to this server's members they concern. */
  #deliver(events: readonly ChatEvent[]): void {
    const first = events[0];
    switch (first.kind) {
      case "message":
      case "joined":
      case "left":
      case "topic":
        return this.#deliverToRoom(first, events);
      case "renamed":
      case "quit":
        return this.#deliverToNeighbours(first);
      case "private":
        return this.#deliverPrivate(first);
    }
  }

  #deliverToRoom(first: RoomEvent, events: readonly ChatEvent[]): void {
    const room = this.#roomsByName.get(first.room);
    if (room === undefined) return;
    const origin = first.origin;
    // Joined: the subject is in the room; left: it is gone; a message: its sender is there.
    const audience = first.kind === "left" ? room.members.size : room.members.size - 1;
    for (const [renderer, group] of room.groups) {
      const bytes = renderer.render(events, audience);
      if (bytes === null) continue;
      for (const member of group) {
        if (member.id !== origin) member.endpoint.send(bytes);
      }
    }
  }

  /** A member event reaches everyone who shares a room with its subject, once. */
  #deliverToNeighbours(event: MemberEvent): void {
    const delivery = ++this.#lastDelivery;
    const events = [event];
    for (const name of event.rooms) {
      const room = this.#roomsByName.get(name);
      if (room === undefined) continue;
      for (const [renderer, group] of room.groups) {
        const bytes = renderer.render(events, room.members.size);
        if (bytes === null) continue;
        for (const member of group) {
          if (member.delivery === delivery || member.id === event.origin) continue;
          member.delivery = delivery;
          member.endpoint.send(bytes);
        }
      }
    }
  }

  #deliverPrivate(event: PrivateEvent): void {
    const target = this.#byNick.get(nameKey(event.to));
    if (target === undefined) return;
    const bytes = target.renderer.render([event], 1);
    if (bytes !== null) target.endpoint.send(bytes);
  }
}

function view(room: Room): RoomView {
  return { name: room.name, size: room.members.size, topic: room.topic };
}

function refused(problem: Problem): Refused {
  return { kind: "refused", problem };
}
