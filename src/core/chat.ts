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
 * Nick claims go through the {@linkcode Directory}, room messages, topics,
 * accounts and bans into the {@linkcode Store}, and what members of other
 * servers there are comes from the {@linkcode Presence}; all may be remote, so
 * those calls are asynchronous.
 *
 * @module
 */

import { Accounts, isReserved } from "./accounts.ts";
import { type Bus, LocalBus } from "./bus.ts";
import type {
  Command,
  MemberInfo,
  Moderated,
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
  NoticeEvent,
  PrivateEvent,
  QuitReason,
  RoomEvent,
} from "./events.ts";
import { systemClock } from "./events.ts";
import type { History } from "./history.ts";
import { Bans, type OperatorCommand } from "./moderation.ts";
import { MAX_TOPIC, nameKey, nickProblem, roomProblem } from "./names.ts";
import { operPasswordMatches } from "./oper.ts";
import { LocalPresence, type Presence, type RemoteMember } from "./presence.ts";
import { MemoryStore, type Store } from "./store.ts";
import { errorText } from "../errors.ts";
import { type CidrBlock, cidrContains, formatCidr, parseAddress, parseCidr } from "./cidr.ts";

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

/** How an operator removed a member, for its front end to tell it. */
export interface Removal {
  how: "kicked" | "banned";
  /** The operator's nick, or `console`. */
  by: string;
  reason: string;
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
  /** A server operator (`/oper`). */
  readonly operator: boolean;
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
  /** Rooms, topics, history, accounts, bans; in memory by default. */
  store?: Store;
  bus?: Bus;
  presence?: Presence;
  clock?: Clock;
  /** Only members who proved a registered nick may speak and enter rooms. */
  requireAccount?: boolean;
  /** The password of `/oper` (`--oper-password-file`); none: nobody can become an operator. */
  operPassword?: string | null;
}

/** How old the view of other servers' members that newcomers' counts come from may be (ms). */
const CENSUS_MAX_AGE_MS = 1000;

/** Chat's own record of a member. */
class Member implements ChatMember {
  readonly id: string;
  readonly user: string;
  readonly endpoint: Endpoint;
  /** How its events are rendered (its endpoint's renderer, until changed with setRenderer). */
  renderer: Renderer;
  nick = "";
  key = "";
  /** An array, not a Set: a member is in one room or a few, and a Set costs about 170 bytes more. */
  readonly rooms: Room[] = [];
  present = true;
  away: string | null = null;
  account: string | null = null;
  operator = false;
  /** Muted until then (ms since the epoch; Infinity: until unmuted), or 0. */
  mutedUntil = 0;
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
  /** When someone last entered or left it (ms since the epoch). */
  lastUsed = 0;
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
  readonly #store: Store;
  readonly #history: History;
  readonly #bus: Bus;
  readonly #presence: Presence;
  readonly #clock: Clock;
  readonly #accounts: Accounts;
  readonly #requireAccount: boolean;
  readonly #operPassword: string | null;
  readonly #startedAt: number;
  /** The ban list, checked for every accepted connection. */
  readonly bans: Bans;
  readonly #byNick = new Map<string, Member>();
  /** The same members, by id. */
  readonly #byMemberId = new Map<string, Member>();
  readonly #rooms = new Map<string, Room>();
  /** Rooms by display name, for events (which name their room). */
  readonly #roomsByName = new Map<string, Room>();
  #lastMember = 0;
  #lastDelivery = 0;
  /** Room messages said since the last flush: one room, one origin. */
  #pending: MessageEvent[] = [];
  #pendingRoom: Room | null = null;
  #pendingFrom: Member | null = null;
  #deliveries = 0;
  /** The other servers' members as last asked for (see {@linkcode census}). */
  #census: { at: number; members: Promise<RemoteMember[]> } | null = null;

  constructor(options: ChatOptions = {}) {
    this.#historySize = options.history ?? 50;
    this.#maxRooms = options.maxRooms ?? 1000;
    this.#node = options.node ?? "local";
    this.#directory = options.directory ?? new MemoryDirectory();
    this.#store = options.store ?? new MemoryStore(this.#historySize);
    this.#history = this.#store.history;
    this.#bus = options.bus ?? new LocalBus();
    this.#presence = options.presence ?? new LocalPresence();
    this.#clock = options.clock ?? systemClock;
    this.#accounts = new Accounts(this.#store, { clock: this.#clock });
    this.#requireAccount = options.requireAccount ?? false;
    this.#operPassword = options.operPassword ?? null;
    this.#startedAt = this.#clock();
    this.bans = new Bans(this.#store, this.#clock);
    this.#bus.deliverTo((events) => this.#deliver(events));
    this.#room(LOBBY, nameKey(LOBBY), null);
  }

  /**
   * Reads what the store kept from before (rooms with their topics and where
   * their numbering was, bans). Call it once, before members come. Returns
   * what could not be read (a store that is not answering: the bans are read
   * again by whoever keeps them fresh, see {@linkcode Bans.load}).
   */
  async load(): Promise<string[]> {
    for (const stored of await this.#store.rooms()) {
      const room = this.#rooms.get(stored.key) ?? this.#room(stored.name, stored.key, null);
      room.topic = stored.topic;
      room.seq = Math.max(room.seq, stored.seq);
      room.lastUsed = stored.lastUsed;
    }
    try {
      await this.bans.load();
      return [];
    } catch (error) {
      return [`the bans could not be read: ${errorText(error)}`];
    }
  }

  /** Messages (room and private) handed to members of this server so far, one per recipient. */
  get deliveries(): number {
    return this.#deliveries;
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

  /** Every member on this server. */
  members(): IterableIterator<ChatMember> {
    return this.#byNick.values();
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

  /**
   * Brings a newcomer into the chat under `nick`, in no room yet; refused when
   * it cannot have it. A registered nick needs its `password` (IRC's PASS).
   */
  async enter(
    endpoint: Endpoint,
    nick: string,
    user: string,
    password?: string,
  ): Promise<ChatMember | Refused> {
    nick = nick.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    if (isReserved(key)) return refused({ code: "nick-reserved", nick });
    const registered = await this.#isRegistered(key);
    if (registered === null) return refused({ code: "accounts-unavailable" });
    if (registered) {
      if (password === undefined) return refused({ code: "nick-registered", nick });
      const problem = await this.#accounts.check(endpoint.address, key, nick, password);
      if (problem) return refused(problem);
    }
    const id = `${this.#node}/${++this.#lastMember}`;
    if (this.#byNick.has(key) || !(await this.#directory.claim(key, id))) {
      return refused({ code: "nick-taken", nick: this.#byNick.get(key)?.nick ?? nick });
    }
    const member = this.#add(new Member(id, user, endpoint, this.#clock()), nick, key);
    if (registered) member.account = key;
    return member;
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
    this.#byMemberId.delete(m.id);
    this.#directory.release(m.key, m.id);
    // Everyone leaving at once (shutdown): the server's goodbye tells the others who was here.
    if (why.announce !== false) this.#presence.remove(m.id);
    const rooms = [...m.rooms];
    const now = this.#clock();
    for (const room of rooms) {
      room.delete(m);
      room.lastUsed = now;
      if (room.creator === m) room.creator = null;
      if (m.holding) room.countHolder(-1);
    }
    m.holding = false;
    m.rooms.length = 0;
    if (why.announce !== false && rooms.length > 0) {
      this.#publish({
        kind: "quit",
        rooms: rooms.map((room) => room.name),
        nick: m.nick,
        user: m.user,
        reason: why.reason,
        detail: why.detail ?? "",
        time: now,
        origin: m.id,
      });
    }
    for (const room of rooms) this.#forgetIfEmpty(room);
  }

  /**
   * Says `text` in `room` (an action for `/me`, an IRC NOTICE with `notice`):
   * the message path. Batched until {@linkcode flush}; refused when the member
   * is not in the room, is muted, or (with `requireAccount`) has not proved a nick.
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
    if (m.mutedUntil !== 0 && this.#muted(m)) {
      return { code: "muted", until: m.mutedUntil === Infinity ? null : m.mutedUntil };
    }
    if (this.#requireAccount && m.account === null) return { code: "account-required" };
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

  /**
   * Tells this server's members something (the link to other servers is lost
   * or back, a member's lines did not go out): to one member (`to`, its id) or
   * to everyone. Delivered here only, never published.
   */
  notify(text: string, to?: string): void {
    if (to === undefined) {
      return this.#deliverNotice({ kind: "notice", text, time: this.#clock(), origin: "" });
    }
    const member = this.#byId(to);
    if (member === undefined) return;
    this.#deliverNotice({ kind: "notice", text, to: member.nick, time: this.#clock(), origin: "" });
  }

  /** The nick of member `id` is held by someone else now (a clash after a lost link): a guest nick. */
  async lostNick(id: string, holder: string | null): Promise<void> {
    const m = this.#byId(id);
    if (m === undefined || !m.present) return;
    const from = m.nick;
    await this.#renameToGuest(m);
    this.notify(
      `your nick ${from} was held by someone else${
        holder ? " on another server" : ""
      }; you are now ${m.nick}`,
      m.id,
    );
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
        if (this.#requireAccount && m.account === null) {
          return refused({ code: "account-required" });
        }
        return await this.#join(m, command.room, command.move);
      case "part":
        return this.#part(m, command.room, command.text);
      case "private":
        return await this.#private(m, command);
      case "who":
        return await this.#who(command.room);
      case "rooms":
        return await this.#roomList();
      case "topic":
        return this.#topic(m, command.room, command.text);
      case "whois":
        return await this.#whois(command.nick);
      case "away":
        m.away = command.text === "" ? null : command.text;
        this.#tellPresence(m);
        return { kind: "away", away: m.away !== null };
      case "register":
        return await this.#register(m, command.password);
      case "identify":
        return await this.#identify(m, command.nick ?? m.nick, command.password);
      case "drop":
        return await this.#drop(m, command.nick);
      case "password":
        return await this.#password(m, command);
      case "oper":
        return await this.#oper(m, command.password);
      case "moderate":
        if (!m.operator) return refused({ code: "not-server-operator" });
        return await this.moderate(m, command.command);
    }
  }

  /**
   * Carries out an operator command: from the server console (`by` null) or
   * from a member who is a server operator.
   */
  async moderate(by: ChatMember | null, command: OperatorCommand): Promise<Moderated | Refused> {
    const actor = by === null ? "console" : by.nick;
    this.flush();
    switch (command.kind) {
      case "say": {
        this.#publish({ kind: "notice", text: command.text, time: this.#clock(), origin: "" });
        return { kind: "said", reached: this.online };
      }
      case "kick": {
        const target = this.#byNick.get(nameKey(command.nick));
        if (!target) return refused({ code: "no-such-nick", nick: command.nick });
        target.endpoint.remove({ how: "kicked", by: actor, reason: command.reason ?? "" });
        return { kind: "kicked", nick: target.nick };
      }
      case "ban": {
        let block: CidrBlock | null;
        if (command.target.kind === "nick") {
          const target = this.#byNick.get(nameKey(command.target.nick));
          if (!target) return refused({ code: "no-such-nick", nick: command.target.nick });
          block = parseCidr(target.endpoint.address);
          if (block === null) return refused({ code: "no-such-nick", nick: command.target.nick });
        } else {
          block = command.target.block;
        }
        const own = by === null ? null : parseAddress((by as Member).endpoint.address);
        if (own !== null && cidrContains(block, own)) {
          return refused({ code: "ban-covers-you", mask: formatCidr(block) });
        }
        const ban = this.bans.add(block, {
          duration: command.duration,
          reason: command.reason,
          by: actor,
        });
        const kicked: string[] = [];
        for (const member of [...this.#byNick.values()]) {
          const address = parseAddress(member.endpoint.address);
          if (address !== null && cidrContains(block, address)) {
            kicked.push(member.nick);
            member.endpoint.remove({ how: "banned", by: actor, reason: ban.reason });
          }
        }
        return { kind: "banned", ban, kicked };
      }
      case "unban": {
        const removed = await this.bans.remove(command.block);
        const mask = formatCidr(command.block);
        return removed ? { kind: "unbanned", mask } : refused({ code: "no-such-ban", mask });
      }
      case "bans":
        return { kind: "bans", bans: this.bans.list() };
      case "mute": {
        const target = this.#byNick.get(nameKey(command.nick));
        if (!target) return refused({ code: "no-such-nick", nick: command.nick });
        target.mutedUntil = command.duration === undefined
          ? Infinity
          : this.#clock() + command.duration;
        const until = target.mutedUntil === Infinity ? null : target.mutedUntil;
        return { kind: "muted", nick: target.nick, until };
      }
      case "unmute": {
        const target = this.#byNick.get(nameKey(command.nick));
        if (!target) return refused({ code: "no-such-nick", nick: command.nick });
        target.mutedUntil = 0;
        return { kind: "unmuted", nick: target.nick };
      }
      case "topic":
        return this.#topic(by as Member | null, command.room, command.text, true);
      case "who":
        return command.room === undefined ? await this.#everyone() : await this.#who(command.room);
      case "rooms":
        return await this.#roomList();
      case "stats":
        return {
          kind: "stats",
          online: this.online + (await this.#elsewhere()).length,
          rooms: this.#rooms.size,
          uptime: Math.floor((this.#clock() - this.#startedAt) / 1000),
          bans: this.bans.list().length,
          operators: [...this.#byNick.values()].filter((member) => member.operator).length,
        };
      case "help":
        return { kind: "said", reached: 0 };
    }
  }

  /** Whether a muted member is still muted (a mute that ran out is lifted). */
  #muted(m: Member): boolean {
    if (m.mutedUntil > this.#clock()) return true;
    m.mutedUntil = 0;
    return false;
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
      if (isReserved(key)) return refused({ code: "nick-reserved", nick });
      if (m.account !== key) {
        const registered = await this.#isRegistered(key);
        if (registered === null) return refused({ code: "accounts-unavailable" });
        if (registered) return refused({ code: "nick-registered", nick });
      }
    }
    return await this.#changeNick(m, nick, key);
  }

  /** Gives a member a new nick (checked already): claims it, tells its rooms. */
  async #changeNick(m: Member, nick: string, key: string): Promise<Replies["nick"]> {
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
    this.#tellPresence(m);
    if (m.rooms.length > 0) {
      this.#publish({
        kind: "renamed",
        rooms: m.rooms.map((room) => room.name),
        nick: from,
        user: m.user,
        to: nick,
        time: this.#clock(),
        origin: m.id,
      });
    }
    return { kind: "renamed", from, to: nick };
  }

  async #renameToGuest(m: Member): Promise<void> {
    for (;;) {
      const nick = `guest-${await this.#directory.nextGuest()}`;
      const reply = await this.#changeNick(m, nick, nameKey(nick));
      if (reply.kind === "renamed" || !m.present) return;
    }
  }

  async #register(m: Member, password: string): Promise<Replies["register"]> {
    if (m.account === m.key) return refused({ code: "nick-registered", nick: m.nick });
    const problem = await this.#accounts.register(m.key, m.nick, password);
    if (problem) return refused(problem);
    m.account = m.key;
    return { kind: "registered", nick: m.nick };
  }

  async #identify(m: Member, wanted: string, password: string): Promise<Replies["identify"]> {
    const nick = wanted.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    const problem = await this.#accounts.check(m.endpoint.address, key, nick, password);
    if (problem) return refused(problem);
    m.account = key;
    if (m.key === key) {
      return { kind: "identified", nick: m.nick, renamedFrom: null, displaced: null };
    }
    // Whoever holds the nick here (a guest, most likely) makes way, and is told.
    let displaced: string | null = null;
    const holder = this.#byNick.get(key);
    if (holder && holder !== m) {
      displaced = holder.nick;
      await this.#renameToGuest(holder);
      this.notify(
        `the nick ${displaced} was proved with its password on another connection; you are now ${holder.nick}`,
        holder.id,
      );
    }
    const from = m.nick;
    const renamed = await this.#changeNick(m, nick, key);
    if (renamed.kind === "refused") return renamed;
    return { kind: "identified", nick, renamedFrom: from, displaced };
  }

  async #drop(m: Member, nick: string | undefined): Promise<Replies["drop"]> {
    if (nick !== undefined && nameKey(nick) !== m.key) {
      if (!m.operator) return refused({ code: "not-server-operator" });
      const problem = await this.#accounts.drop(nameKey(nick), nick);
      if (problem) return refused(problem);
      const holder = this.#byNick.get(nameKey(nick));
      if (holder) holder.account = null;
      return { kind: "dropped", nick };
    }
    if (m.account !== m.key) return refused({ code: "not-identified", nick: m.nick });
    const problem = await this.#accounts.drop(m.key, m.nick);
    if (problem) return refused(problem);
    m.account = null;
    return { kind: "dropped", nick: m.nick };
  }

  async #password(
    m: Member,
    command: Extract<Command, { kind: "password" }>,
  ): Promise<Replies["password"]> {
    if (command.nick !== undefined && nameKey(command.nick) !== m.key) {
      if (!m.operator) return refused({ code: "not-server-operator" });
      const problem = await this.#accounts.setPassword(
        nameKey(command.nick),
        command.nick,
        command.password,
      );
      return problem ? refused(problem) : { kind: "password-changed", nick: command.nick };
    }
    if (m.account !== m.key) return refused({ code: "not-identified", nick: m.nick });
    const checked = await this.#accounts.check(
      m.endpoint.address,
      m.key,
      m.nick,
      command.old ?? "",
    );
    if (checked) return refused(checked);
    const problem = await this.#accounts.setPassword(m.key, m.nick, command.password);
    return problem ? refused(problem) : { kind: "password-changed", nick: m.nick };
  }

  async #oper(m: Member, password: string): Promise<Replies["oper"]> {
    if (this.#operPassword === null) return refused({ code: "no-operators" });
    if (!(await operPasswordMatches(password, this.#operPassword))) {
      return refused({ code: "wrong-oper-password" });
    }
    m.operator = true;
    return { kind: "oper" };
  }

  async #join(m: Member, wanted: string, move: boolean): Promise<Replies["join"]> {
    const name = wanted.normalize("NFC");
    const why = roomProblem(name);
    if (why) return refused({ code: "room-invalid", room: name, why });
    const key = nameKey(name);
    let room = this.#rooms.get(key);
    if (room && room.members.has(m)) return refused({ code: "already-in-room", room: room.name });
    if (!room) {
      if (this.#rooms.size >= this.#maxRooms && !this.#forgetOldestEmpty()) {
        return refused({ code: "too-many-rooms", max: this.#maxRooms });
      }
      room = this.#room(name, key, m);
    } else if (
      room.members.size === 0 && room.creator === null && this.#store.persistent &&
      key !== nameKey(LOBBY)
    ) {
      room.creator = m; // a kept room nobody was in: whoever brings it back runs it
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
    m.rooms.push(room);
    if (m.holding) room.countHolder(1);
    this.#used(room);
    this.#tellPresence(m);
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
    this.#tellPresence(m);
    return { kind: "parted", room: room.name };
  }

  async #private(
    m: Member,
    command: Extract<Command, { kind: "private" }>,
  ): Promise<Replies["private"]> {
    const { nick, text, action } = command;
    if (m.mutedUntil !== 0 && this.#muted(m)) {
      return refused({ code: "muted", until: m.mutedUntil === Infinity ? null : m.mutedUntil });
    }
    if (this.#requireAccount && m.account === null) return refused({ code: "account-required" });
    const key = nameKey(nick);
    const target = this.#byNick.get(key);
    let to = target?.nick;
    let away = target?.away ?? null;
    if (!target) {
      // On another server? Its claim says so; its presence has how it is written.
      if ((await this.#directory.holder(key)) === null) {
        return refused({ code: "no-such-nick", nick });
      }
      const remote = (await this.#elsewhere()).find((member) => nameKey(member.nick) === key);
      to = remote?.nick ?? nick;
      away = remote?.away ?? null;
    }
    m.lastSaid = this.#clock();
    const event: PrivateEvent = {
      kind: "private",
      to: to!,
      nick: m.nick,
      user: m.user,
      text,
      action,
      time: m.lastSaid,
      origin: m.id,
    };
    if (command.notice) event.notice = true;
    this.#publish(event);
    return { kind: "sent", to: to!, text, action, away };
  }

  async #who(name: string): Promise<Replies["who"]> {
    const key = nameKey(name);
    const room = this.#rooms.get(key);
    const elsewhere = await this.#elsewhere();
    const remote = elsewhere.filter((member) =>
      member.rooms.some((roomName) => nameKey(roomName) === key)
    );
    if (!room && remote.length === 0) return refused({ code: "no-such-room", room: name });
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
      online: this.online + elsewhere.length,
    };
  }

  /** Everyone online, on every server (the console's `/who`). */
  async #everyone(): Promise<Replies["who"]> {
    const elsewhere = await this.#elsewhere();
    const members: MemberInfo[] = [
      ...[...this.#byNick.values()].map((member) => ({
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

  async #roomList(): Promise<Replies["rooms"]> {
    const counts = new Map<string, { name: string; members: number; topic: string | null }>();
    for (const room of this.#rooms.values()) {
      if (room.members.size === 0 && room.key !== nameKey(LOBBY)) continue;
      counts.set(room.key, {
        name: room.name,
        members: room.members.size,
        topic: room.topic?.text ?? null,
      });
    }
    for (const member of await this.#elsewhere()) {
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

  #topic(
    m: Member | null,
    name: string,
    text: string | undefined,
    asServerOperator = false,
  ): Replies["topic"] {
    const room = this.#rooms.get(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    if (text === undefined) {
      return { kind: "topic", room: room.name, topic: room.topic, changed: false };
    }
    const operator = asServerOperator || (m !== null && (m.operator || room.creator === m));
    if (m !== null && !asServerOperator && !room.members.has(m)) {
      return refused({ code: "not-in-room", room: room.name });
    }
    if (!operator) return refused({ code: "not-operator", room: room.name });
    const by = m?.nick ?? "server";
    const topic = { text: [...text].slice(0, MAX_TOPIC).join(""), nick: by, time: this.#clock() };
    room.topic = topic.text === "" ? null : topic;
    if (this.#store.persistent) this.#store.setTopic(room.key, room.topic);
    this.#publish({
      kind: "topic",
      room: room.name,
      seq: ++room.seq,
      nick: by,
      user: m?.user ?? "server",
      text: topic.text,
      time: topic.time,
      origin: m?.id ?? "",
    });
    return { kind: "topic", room: room.name, topic: room.topic, changed: true };
  }

  async #whois(nick: string): Promise<Replies["whois"]> {
    const key = nameKey(nick);
    const target = this.#byNick.get(key);
    if (!target) {
      const remote = (await this.#elsewhere()).find((member) => nameKey(member.nick) === key);
      if (!remote) return refused({ code: "no-such-nick", nick });
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

  /** Whether nick `key` is registered; null when the store cannot say. */
  async #isRegistered(key: string): Promise<boolean | null> {
    try {
      return await this.#accounts.registered(key);
    } catch {
      return null;
    }
  }

  /** Members of the other servers; none when the presence cannot say. */
  /**
   * How many are online, and in `room`, on every server: what a newcomer is
   * told. The other servers' members are counted from a view at most
   * {@linkcode CENSUS_MAX_AGE_MS} old, so that a burst of newcomers costs
   * one question to the other servers, not one each.
   */
  async census(room: { name: string; size: number }): Promise<{ online: number; inRoom: number }> {
    if (this.#presence instanceof LocalPresence) return { online: this.online, inRoom: room.size };
    const now = this.#clock();
    if (this.#census === null || now - this.#census.at > CENSUS_MAX_AGE_MS) {
      this.#census = { at: now, members: this.#elsewhere() };
    }
    const elsewhere = await this.#census.members;
    const key = nameKey(room.name);
    let inRoom = room.size;
    for (const member of elsewhere) {
      if (member.rooms.some((name) => nameKey(name) === key)) inRoom++;
    }
    return { online: this.online + elsewhere.length, inRoom };
  }

  async #elsewhere(): Promise<RemoteMember[]> {
    try {
      return await this.#presence.elsewhere();
    } catch {
      return [];
    }
  }

  #tellPresence(m: Member): void {
    this.#presence.set(m.id, {
      nick: m.nick,
      user: m.user,
      rooms: m.rooms.map((room) => room.name),
      away: m.away,
    });
  }

  #byId(id: string): Member | undefined {
    return this.#byMemberId.get(id);
  }

  #add(m: Member, nick: string, key: string): Member {
    m.nick = nick;
    m.key = key === nick ? nick : key;
    this.#byNick.set(m.key, m);
    this.#byMemberId.set(m.id, m);
    this.#tellPresence(m);
    return m;
  }

  #room(name: string, key: string, creator: Member | null): Room {
    const room = new Room(name, key, creator);
    this.#rooms.set(key, room);
    this.#roomsByName.set(name, room);
    this.#used(room);
    return room;
  }

  #used(room: Room): void {
    room.lastUsed = this.#clock();
    if (this.#store.persistent) this.#store.touchRoom(room.key, room.name, room.lastUsed);
  }

  #leaveRoom(
    m: Member,
    room: Room,
    how: { how: "moved"; to: string } | { how: "part"; text: string },
  ): void {
    room.delete(m);
    const at = m.rooms.indexOf(room);
    if (at !== -1) m.rooms.splice(at, 1);
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
    this.#used(room);
    this.#forgetIfEmpty(room);
  }

  /**
   * A room nobody is in: forgotten with its history, unless the store keeps
   * rooms (`--data`, `--cluster`), which then outlive their members. The lobby
   * always stays.
   */
  #forgetIfEmpty(room: Room): void {
    if (room.members.size > 0 || room.key === nameKey(LOBBY) || this.#store.persistent) return;
    this.#forget(room);
  }

  /** At the room cap with a store that keeps rooms: the least recently used empty one goes. */
  #forgetOldestEmpty(): boolean {
    if (!this.#store.persistent) return false;
    let oldest: Room | null = null;
    for (const room of this.#rooms.values()) {
      if (room.members.size > 0 || room.key === nameKey(LOBBY)) continue;
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
      case "notice":
        return this.#deliverNotice(first);
    }
  }

  /** The local room an event names: by its display name, or by key (another server's spelling). */
  #roomOf(name: string): Room | undefined {
    return this.#roomsByName.get(name) ?? this.#rooms.get(nameKey(name));
  }

  #deliverToRoom(first: RoomEvent, events: readonly ChatEvent[]): void {
    const room = this.#roomOf(first.room);
    if (room === undefined) return;
    if (first.kind === "topic" && first.origin !== "" && !this.#byId(first.origin)) {
      // Another server's topic: this server's view of the room follows.
      room.topic = first.text === ""
        ? null
        : { text: first.text, nick: first.nick, time: first.time };
    }
    const origin = first.origin;
    // Joined: the subject is in the room; left: it is gone; a message: its sender is there.
    const audience = first.kind === "left" ? room.members.size : room.members.size - 1;
    if (first.kind === "message") {
      const fromHere = this.#byId(origin)?.rooms.includes(room) ? 1 : 0;
      this.#deliveries += events.length * (room.members.size - fromHere);
    }
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
      const room = this.#roomOf(name);
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
    if (bytes === null) return;
    target.endpoint.send(bytes);
    this.#deliveries++;
  }

  #deliverNotice(event: NoticeEvent): void {
    if (event.to !== undefined) {
      const target = this.#byNick.get(nameKey(event.to));
      const bytes = target?.renderer.render([event], 1);
      if (target && bytes) target.endpoint.send(bytes);
      return;
    }
    const rendered = new Map<Renderer, Uint8Array | null>();
    for (const member of this.#byNick.values()) {
      let bytes = rendered.get(member.renderer);
      if (bytes === undefined) {
        bytes = member.renderer.render([event], 0);
        rendered.set(member.renderer, bytes);
      }
      if (bytes !== null) member.endpoint.send(bytes);
    }
  }
}

function byNick(a: MemberInfo, b: MemberInfo): number {
  return a.nick < b.nick ? -1 : a.nick > b.nick ? 1 : 0;
}

function view(room: Room): RoomView {
  return { name: room.name, size: room.members.size, topic: room.topic };
}

function refused(problem: Problem): Refused {
  return { kind: "refused", problem };
}
