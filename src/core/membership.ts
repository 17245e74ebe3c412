/**
 * Membership: entering and leaving the chat, nicks, and entering and leaving
 * rooms; each step claims what it needs (a nick in the {@linkcode Directory},
 * a room in the {@linkcode Registry}) and publishes the event the others see.
 *
 * Nick rules: a nick is well formed (`nickProblem`), not reserved, not held by
 * anyone on any server, and, when registered, proved with its password.
 *
 * @module
 */

import type { Accounts } from "./accounts.ts";
import type { Bus } from "./bus.ts";
import type { Problem, ProvedAccount, Refused, Replies } from "./commands.ts";
import type { Directory } from "./directory.ts";
import { claimKeys, isReservedName, NickClaims } from "./nick_claims.ts";
import type { ChatEvent, Clock, JoinedEvent, QuitReason } from "./events.ts";
import type { History } from "./history.ts";
import type { Presence } from "./presence.ts";
import { type ChatMember, type Device, type Endpoint, Member, type Room } from "./records.ts";
import type { Registry } from "./registry.ts";
import type { Store } from "./store.ts";
import type { AccountEvent } from "./events.ts";
import type { Whowas } from "./whowas.ts";
import { errorText } from "../errors.ts";
import { MAX_TOPIC_BYTES, nameKey, nickProblem, roomProblem } from "../protocol/names.ts";
import { cutToBytes } from "../text.ts";
import { banOn, storedModes } from "./channel_modes.ts";

/** What membership needs around it. */
export interface MembershipOptions {
  registry: Registry;
  directory: Directory;
  accounts: Accounts;
  store: Store;
  history: History;
  bus: Bus;
  presence: Presence;
  clock: Clock;
  /** Where nicks given up are remembered (WHOWAS). */
  whowas: Whowas;
  /** This server's id, the prefix of its members' ids. */
  node: string;
  /** Messages per room replayed to whoever enters it. */
  historySize: number;
  /** Most rooms at once, the lobby included. */
  maxRooms: number;
  /** Most rooms one member may be in at once (IRC's CHANLIMIT). */
  maxRoomsPerMember: number;
  /** Publishes what was said so far (before anything that changes who is where). */
  flush: () => void;
  /** Told when the accounts cannot be read (a nick is then refused, never handed out). */
  onError: (message: string) => void;
  /**
   * How many members of the other servers are in `room` (none for a single
   * server): a room is empty, and its limit reached, counting them too.
   */
  elsewhereIn?: (room: Room) => Promise<number>;
  /**
   * A newcomer proved `account`: when that account's member is in the chat
   * already (on a device, here or on another server), the newcomer becomes
   * one more of its devices, or is refused (too many); null: it enters anew
   * (see `devices.ts`).
   */
  attach?: (endpoint: Endpoint, account: ProvedAccount) => Promise<ChatMember | Refused | null>;
}

/**
 * Told when a nick comes online (`online`) or goes offline: on this server as it happens,
 * on the others as their renames and quits arrive (IRC's MONITOR).
 */
export type NickListener = (nick: string, online: boolean) => void;

/** Entering, leaving, nicks and rooms. */
export class Membership {
  readonly #nickListeners: NickListener[] = [];
  readonly #registry: Registry;
  readonly #directory: Directory;
  readonly #claims: NickClaims;
  readonly #accounts: Accounts;
  readonly #store: Store;
  readonly #history: History;
  readonly #bus: Bus;
  readonly #presence: Presence;
  readonly #clock: Clock;
  readonly #whowas: Whowas;
  readonly #node: string;
  readonly #historySize: number;
  readonly #maxRooms: number;
  readonly #maxRoomsPerMember: number;
  readonly #flush: () => void;
  readonly #onError: (message: string) => void;
  readonly #elsewhereIn: (room: Room) => Promise<number>;
  readonly #attach: MembershipOptions["attach"];
  #lastMember = 0;

  constructor(options: MembershipOptions) {
    this.#registry = options.registry;
    this.#directory = options.directory;
    this.#claims = new NickClaims(options.directory);
    this.#accounts = options.accounts;
    this.#store = options.store;
    this.#history = options.history;
    this.#bus = options.bus;
    this.#presence = options.presence;
    this.#clock = options.clock;
    this.#whowas = options.whowas;
    this.#node = options.node;
    this.#historySize = options.historySize;
    this.#maxRooms = options.maxRooms;
    this.#maxRoomsPerMember = options.maxRoomsPerMember;
    this.#flush = options.flush;
    this.#onError = options.onError;
    this.#elsewhereIn = options.elsewhereIn ?? (() => Promise.resolve(0));
    this.#attach = options.attach;
  }

  /** A newcomer under a free `guest-N` nick, in no room yet. */
  async enterAsGuest(endpoint: Endpoint, user?: string): Promise<ChatMember> {
    const id = this.#newId();
    for (;;) {
      const nick = `guest-${await this.#directory.nextGuest()}`;
      const key = nameKey(nick);
      if (!this.#registry.byKey(key) && await this.#directory.claim(key, id)) {
        const member = this.#registry.add(
          new Member(id, user ?? nick, endpoint, this.#clock()),
          nick,
          key,
        );
        this.#nickChanged(nick, true);
        return member;
      }
    }
  }

  /**
   * A newcomer under `nick`, in no room yet. A registered nick needs its `password`, or
   * the account proved already (SASL): a proved account is the member's whatever its nick.
   */
  async enter(
    endpoint: Endpoint,
    nick: string,
    user: string,
    password?: string | ProvedAccount,
  ): Promise<ChatMember | Refused> {
    nick = nick.normalize("NFC");
    let account = typeof password === "object" ? password : null;
    // An account proved already (SASL) whose member is here: one more of its devices.
    const attached = account === null ? null : await this.#attach?.(endpoint, account);
    if (attached) return attached;
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    if (isReservedName(nick, key)) return refused({ code: "nick-reserved", nick });
    const registered = await this.isRegistered(key);
    if (registered === null) return refused({ code: "accounts-unavailable" });
    if (registered && account?.key !== key) {
      if (typeof password !== "string") return refused({ code: "nick-registered", nick });
      const proved = await this.#accounts.authenticate(endpoint.address, key, nick, password);
      if ("code" in proved) return refused(proved);
      account = proved;
      const attached = await this.#attach?.(endpoint, account);
      if (attached) return attached;
    }
    const id = this.#newId();
    if (this.#registry.byKey(key)) {
      return refused({ code: "nick-taken", nick: this.#registry.byKey(key)!.nick });
    }
    const claimed = await this.#claims.claim(nick, key, id);
    if (claimed !== null) return refused(claimProblem(claimed, nick));
    if (this.#registry.byKey(key)) {
      // Taken here while the claim was in flight.
      this.#claims.release(nick, key, id);
      return refused({ code: "nick-taken", nick: this.#registry.byKey(key)!.nick });
    }
    const member = new Member(id, user, endpoint, this.#clock());
    if (account !== null) {
      member.account = account.key;
      member.accountName = account.name;
    }
    this.#registry.add(member, nick, key);
    this.#nickChanged(nick, true);
    return member;
  }

  /**
   * Takes a member out of the chat and out of its rooms. Those who shared a
   * room with it are told why, unless `announce` is false (at shutdown
   * everyone leaves at once: telling each about all the others is wasted work).
   * `elsewhere`: the member stays in the chat on another server (its account's
   * devices there): nobody is told, and its nick claims stay with that server.
   */
  leave(
    member: ChatMember,
    why: { reason: QuitReason; detail?: string; announce?: boolean; elsewhere?: boolean },
  ) {
    const m = member as Member;
    if (!m.present) return;
    this.#flush();
    m.present = false;
    this.#registry.remove(m);
    if (why.elsewhere) {
      this.#claims.forget(m.nick, m.key, m.owner);
    } else {
      this.#nickChanged(m.nick, false);
      this.#claims.release(m.nick, m.key, m.owner);
      this.#rememberNick(m);
    }
    // Everyone leaving at once (shutdown): the server's goodbye tells the others who was here.
    if (why.announce !== false) this.#presence.remove(m.id);
    const rooms = [...m.rooms];
    const now = this.#clock();
    for (const room of rooms) {
      room.delete(m);
      room.lastUsed = now;
      this.#dropStatus(room, m.id);
    }
    m.rooms.length = 0;
    if (why.announce !== false && !why.elsewhere && rooms.length > 0) {
      this.#publish({
        kind: "quit",
        rooms: rooms.map((room) => room.name),
        nick: m.nick,
        user: m.user,
        reason: why.reason,
        detail: why.detail ?? "",
        time: now,
        origin: m.id,
        ...accountOf(m),
      });
    }
    for (const room of rooms) this.#registry.forgetIfEmpty(room);
  }

  /** `/nick`: checked, claimed, announced. */
  async rename(m: Member, wanted: string): Promise<Replies["nick"]> {
    const nick = wanted.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    const holder = this.#registry.byKey(key);
    if (holder && holder !== m) return refused({ code: "nick-taken", nick: holder.nick });
    if (nick === m.nick) return { kind: "unchanged", nick };
    if (key !== m.key) {
      if (isReservedName(nick, key)) return refused({ code: "nick-reserved", nick });
      if (m.account !== key) {
        const registered = await this.isRegistered(key);
        if (registered === null) return refused({ code: "accounts-unavailable" });
        if (registered) return refused({ code: "nick-registered", nick });
      }
    }
    return await this.changeNick(m, nick, key);
  }

  /**
   * Gives a member a new nick (checked already): claims it with its
   * lookalikes (a guest nick, handed out by the server, just its key), lets
   * go of the old one, tells its rooms.
   */
  async changeNick(m: Member, nick: string, key: string, guest = false): Promise<Replies["nick"]> {
    const registry = this.#registry;
    const claimed = guest
      ? (await this.#directory.claim(key, m.owner) ? null : "taken")
      : await this.#claims.claim(nick, key, m.owner);
    if (claimed !== null) return refused(claimProblem(claimed, nick));
    const kept = guest ? [key] : claimKeys(nick, key);
    const holder = registry.byKey(key);
    if (!m.present || (holder !== undefined && holder !== m)) {
      // Left, or the nick was taken locally while the claim was in flight.
      this.#claims.release(nick, key, m.owner, claimKeys(m.nick, m.key));
      return refused({ code: "nick-taken", nick: holder?.nick ?? nick });
    }
    if (key !== m.key) registry.rekey(m, key);
    this.#claims.release(m.nick, m.key, m.owner, kept);
    if (key !== m.key) this.#rememberNick(m);
    const from = m.nick;
    const fromKey = m.key;
    m.nick = nick;
    m.key = key;
    if (fromKey !== key) {
      this.#nickChanged(from, false);
      this.#nickChanged(nick, true);
    }
    this.#flush();
    registry.tellPresence(m);
    if (m.rooms.length > 0) {
      this.#publish({
        kind: "renamed",
        rooms: m.rooms.map((room) => room.name),
        nick: from,
        user: m.user,
        to: nick,
        time: this.#clock(),
        origin: m.id,
        ...accountOf(m),
      });
    }
    return { kind: "renamed", from, to: nick };
  }

  /**
   * A member mirrored from another server (`devices.ts`) enters under `nick`, which its
   * account's member holds there: the claims are made for the same owner, so they hold.
   * Nobody is told. False when the nick cannot be had here.
   */
  async enterMirror(m: Member, nick: string): Promise<boolean> {
    const key = nameKey(nick);
    if (this.#registry.byKey(key)) return false;
    if ((await this.#claims.claim(nick, key, m.owner)) !== null) return false;
    if (this.#registry.byKey(key)) return false;
    this.#registry.add(m, nick, key);
    return true;
  }

  /**
   * A mirrored member follows its account's member on another server, which took nick
   * `to` (claimed there for the same owner): renamed here, nobody told (the others saw
   * the rename). False when it cannot be had here.
   */
  async followRename(m: Member, to: string): Promise<boolean> {
    const key = nameKey(to);
    const holder = this.#registry.byKey(key);
    if (holder !== undefined && holder !== m) return false;
    if (to === m.nick) return false;
    if ((await this.#claims.claim(to, key, m.owner)) !== null || !m.present) return false;
    if (key !== m.key) this.#registry.rekey(m, key);
    this.#claims.release(m.nick, m.key, m.owner, claimKeys(to, key));
    const from = m.nick;
    m.nick = to;
    m.key = key;
    if (nameKey(from) !== key) {
      this.#nickChanged(from, false);
      this.#nickChanged(to, true);
    }
    this.#registry.tellPresence(m);
    return true;
  }

  /** A fresh `guest-N` nick for a member who must give its nick up. */
  async renameToGuest(m: Member): Promise<void> {
    for (;;) {
      const nick = `guest-${await this.#directory.nextGuest()}`;
      const reply = await this.changeNick(m, nick, nameKey(nick), true);
      if (reply.kind === "renamed" || !m.present) return;
    }
  }

  /**
   * Enters room `wanted` (created if needed); `move` leaves the member's
   * other rooms first. A room's bans, invite list, key (`password`) and limit
   * are checked (server operators and the invited pass); whoever enters a
   * room nobody is in, on any server, becomes its operator: its creator, or,
   * in a room that was there before (kept by `--data` or `--cluster`), only
   * someone who proved a registered nick (or a server operator). A guest
   * (the owner of a registered nick who came back without its password, say)
   * never takes over a room that existed before it.
   *
   * From a one-room `device` (a line client), the room is what the device
   * shows from now on; its member may be in it already (its other devices
   * put it there), and `move` leaves only the room the device showed, when
   * no other device of the member shows it.
   */
  async join(
    m: Member,
    wanted: string,
    move: boolean,
    password?: string,
    device?: Device,
  ): Promise<Replies["join"]> {
    const registry = this.#registry;
    const name = wanted.normalize("NFC");
    const why = roomProblem(name);
    if (why) return refused({ code: "room-invalid", room: name, why });
    const key = nameKey(name);
    let room = registry.room(key);
    const oneRoom = device?.endpoint.oneRoom === true ? device : undefined;
    if (room && room.members.has(m)) {
      if (oneRoom === undefined || oneRoom.view === room) {
        return refused({ code: "already-in-room", room: room.name });
      }
      return await this.#show(oneRoom, room, move);
    }
    if (!move && m.rooms.length >= this.#maxRoomsPerMember) {
      return refused({ code: "too-many-joined", max: this.#maxRoomsPerMember });
    }
    let created = false;
    if (!room) {
      if (registry.roomCount >= this.#maxRooms && !registry.forgetOldestEmpty()) {
        return refused({ code: "too-many-rooms", max: this.#maxRooms });
      }
      room = registry.createRoom(name, key, null);
      room.created = this.#clock();
      if (this.#store.persistent) this.#store.setModes(key, storedModes(room.modes, room.created));
      created = true;
    }
    const lobby = registry.isLobby(room);
    const modes = room.modes;
    const guarded = modes.bans.length > 0 || modes.inviteOnly || modes.key !== null ||
      modes.limit !== null;
    // An open room (the common case) costs its joiner no check and no wait.
    if (guarded && !created && !lobby && !m.operator && !m.invited.has(key)) {
      const problem = await this.#entryProblem(m, room, password);
      if (problem !== null) return refused(problem);
    }
    // Whoever enters a room nobody is in (here or on another server) runs it; a room
    // that was there before, only someone who proved an account.
    const op = !lobby && room.members.size === 0 &&
      (created || m.account !== null || m.operator) &&
      (await this.#elsewhereIn(room)) === 0 && room.members.size === 0;
    if (!m.present || room.members.has(m)) {
      registry.forgetIfEmpty(room);
      return refused({ code: "already-in-room", room: room.name });
    }
    // Asked for before entering, in the same turn: the history is what the room had
    // up to the moment the member entered, and everything later reaches it live.
    const history = this.#history.recent(key, this.#historySize);
    const left: string[] = [];
    if (move) {
      for (const other of oneRoom ? this.#onlyShownBy(oneRoom) : [...m.rooms]) {
        left.push(other.name);
        this.#leaveRoom(m, other, { how: "moved", to: room.name });
      }
    }
    if (oneRoom !== undefined) this.#view(oneRoom, room);
    room.add(m);
    m.rooms.push(room);
    m.invited.delete(key);
    if (op) {
      room.operators.add(m.id);
      this.#store.setStatus?.(key, m.id, "o");
    }
    registry.used(room);
    registry.tellPresence(m);
    const joined: JoinedEvent = {
      kind: "joined",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      time: this.#clock(),
      origin: m.id,
    };
    joined.realname = m.realname;
    if (m.accountName !== null) joined.account = m.accountName;
    if (m.away !== null) joined.away = m.away;
    if (op) joined.op = true;
    this.#publish(joined);
    return {
      kind: "joined",
      room: { name: room.name, size: room.members.size, topic: room.topic },
      history: await history,
      left,
    };
  }

  /** Leaves one room, staying in the chat (IRC's PART). */
  part(m: Member, name: string, text: string): Replies["part"] {
    const room = this.#registry.room(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    if (!room.members.has(m)) return refused({ code: "not-in-room", room: room.name });
    this.#leaveRoom(m, room, { how: "part", text });
    this.#registry.tellPresence(m);
    return { kind: "parted", room: room.name };
  }

  /**
   * Shows a room's topic, or sets it (`text`) from inside the room: anyone
   * when the room is `-t`, else its operators and server operators (the
   * lobby's: server operators only, unless they made someone its operator);
   * `asServerOperator` (the console, an operator command) from anywhere.
   */
  topic(
    m: Member | null,
    name: string,
    text: string | undefined,
    asServerOperator = false,
  ): Replies["topic"] {
    const room = this.#registry.room(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    if (text === undefined) {
      return { kind: "topic", room: room.name, topic: room.topic, changed: false };
    }
    const operator = asServerOperator ||
      (m !== null && (m.operator || room.operators.has(m.id)));
    if (m !== null && !asServerOperator && !room.members.has(m)) {
      return refused({ code: "not-in-room", room: room.name });
    }
    if (!operator && (room.modes.topicLocked || this.#registry.isLobby(room))) {
      return refused({ code: "not-operator", room: room.name, what: "topic" });
    }
    const by = m?.nick ?? "server";
    const topic = { text: cutToBytes(text, MAX_TOPIC_BYTES), nick: by, time: this.#clock() };
    room.topic = topic.text === "" ? null : topic;
    if (room.topic !== null) room.kept = true;
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
      ...(m === null ? {} : accountOf(m)),
    });
    return { kind: "topic", room: room.name, topic: room.topic, changed: true };
  }

  /** Away with `text`, or back when it is empty; its rooms are told when that changes. */
  away(m: Member, text: string): Replies["away"] {
    const away = text === "" ? null : text;
    const changed = away !== m.away;
    m.away = away;
    this.#registry.tellPresence(m);
    if (changed && m.rooms.length > 0) {
      this.#flush();
      this.#publish({
        kind: "away",
        rooms: m.rooms.map((room) => room.name),
        nick: m.nick,
        user: m.user,
        text,
        time: this.#clock(),
        origin: m.id,
      });
    }
    return { kind: "away", away: m.away !== null };
  }

  /** A new real name (checked and cut by the front end); its rooms are told when it changed. */
  realname(m: Member, realname: string): Replies["realname"] {
    const changed = realname !== m.realname;
    m.realname = realname;
    if (changed && m.rooms.length > 0) {
      this.#flush();
      this.#publish({
        kind: "realname",
        rooms: m.rooms.map((room) => room.name),
        nick: m.nick,
        user: m.user,
        realname,
        time: this.#clock(),
        origin: m.id,
      });
    }
    return { kind: "realname", realname, changed };
  }

  /** The member's own modes: `+i`/`-i`, and `-o` (a server operator no more). */
  userMode(m: Member, change: { invisible?: boolean; deoper?: boolean }): Replies["user-mode"] {
    if (change.invisible !== undefined) m.invisible = change.invisible;
    if (change.deoper) m.operator = false;
    return { kind: "user-mode", invisible: m.invisible, operator: m.operator };
  }

  /**
   * The member's account changes (proved, registered, given up): the rooms it is in are
   * told (IRC's account-notify), and what it says from now on carries it.
   */
  setAccount(m: Member, account: ProvedAccount | null): void {
    const key = account?.key ?? null;
    const name = account?.name ?? null;
    if (m.account === key && m.accountName === name) return;
    const before = m.account;
    m.account = key;
    m.accountName = name;
    this.#registry.accountChanged(m, before);
    if (!m.present || m.rooms.length === 0) return;
    this.#flush();
    const event: AccountEvent = {
      kind: "account",
      rooms: m.rooms.map((room) => room.name),
      nick: m.nick,
      user: m.user,
      time: this.#clock(),
      origin: m.id,
    };
    if (name !== null) event.account = name;
    this.#publish(event);
  }

  /** Whether anyone holds nick `key`, here or on another server. */
  async isHeld(key: string): Promise<boolean> {
    return this.#registry.byKey(key) !== undefined || await this.#directory.holder(key) !== null;
  }

  /** Tells `listener` whenever a nick comes online or goes offline (see {@linkcode NickListener}). */
  watchNicks(listener: NickListener): void {
    this.#nickListeners.push(listener);
  }

  /**
   * Events as they are delivered: another server's renames and quits make its nicks come
   * and go (this server's own were told as they happened).
   */
  seen(events: readonly ChatEvent[]): void {
    const event = events[0];
    if (this.#nickListeners.length === 0 || event === undefined) return;
    if (event.origin === "" || event.origin.startsWith(`${this.#node}/`)) return;
    if (event.kind === "quit") {
      this.#nickChanged(event.nick, false);
    } else if (event.kind === "renamed" && nameKey(event.nick) !== nameKey(event.to)) {
      this.#nickChanged(event.nick, false);
      this.#nickChanged(event.to, true);
    }
  }

  /** Whether nick `key` is registered; null when the accounts cannot say (reported). */
  async isRegistered(key: string): Promise<boolean | null> {
    try {
      return await this.#accounts.registered(key);
    } catch (error) {
      this.#onError(`cannot tell whether ${key} is registered: ${errorText(error)}`);
      return null;
    }
  }

  #leaveRoom(
    m: Member,
    room: Room,
    how: { how: "moved"; to: string } | { how: "part"; text: string },
  ): void {
    room.delete(m);
    for (const device of m.devices) if (device.view === room) device.view = null;
    const at = m.rooms.indexOf(room);
    if (at !== -1) m.rooms.splice(at, 1);
    this.#dropStatus(room, m.id);
    this.#publish({
      kind: "left",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      time: this.#clock(),
      origin: m.id,
      ...accountOf(m),
      ...how,
    });
    this.#registry.used(room);
    this.#registry.forgetIfEmpty(room);
  }

  /**
   * Takes a member of this server out of a room without a word of its own
   * (a kick: the operator's event tells the room); it stays in the chat, and
   * its front end is told.
   */
  evict(m: Member, room: Room): void {
    if (!room.members.has(m)) return;
    room.delete(m);
    const at = m.rooms.indexOf(room);
    if (at !== -1) m.rooms.splice(at, 1);
    this.#dropStatus(room, m.id);
    this.#registry.used(room);
    this.#registry.tellPresence(m);
    this.#registry.forgetIfEmpty(room);
    for (const device of [...m.devices]) {
      if (device.view === room) device.view = null;
      device.endpoint.removedFromRoom?.(room);
    }
  }

  /**
   * A one-room device shows `room`, which its member is in already (entered
   * from another device): nobody else is told; the device gets what a member
   * entering it would (its topic and recent history).
   */
  async #show(device: Device, room: Room, move: boolean): Promise<Replies["join"]> {
    const history = this.#history.recent(room.key, this.#historySize);
    const left: string[] = [];
    if (move) {
      for (const other of this.#onlyShownBy(device)) {
        left.push(other.name);
        this.#leaveRoom(device.member, other, { how: "moved", to: room.name });
      }
    }
    this.#view(device, room);
    return {
      kind: "joined",
      room: { name: room.name, size: room.members.size, topic: room.topic },
      history: await history,
      left,
    };
  }

  /** A one-room device shows `room` (of its member's rooms) from now on, and no other. */
  #view(device: Device, room: Room | null): void {
    const shown = device.view;
    if (shown === room) return;
    shown?.deleteDevice(device);
    device.view = room;
    if (room !== null && room.members.has(device.member)) room.addDevice(device);
  }

  /** The room a one-room device shows, when no other device of its member shows it. */
  #onlyShownBy(device: Device): Room[] {
    const shown = device.view;
    if (shown === null || !shown.members.has(device.member)) return [];
    const others = device.member.devices.some((d) => d !== device && d.attached && d.sees(shown));
    return others ? [] : [shown];
  }

  /** Why `m` may not enter `room` (its bans, invite list, key, limit), or null. */
  async #entryProblem(
    m: Member,
    room: Room,
    password: string | undefined,
  ): Promise<Problem | null> {
    const modes = room.modes;
    if (modes.bans.length > 0 && banOn(modes, m) !== null) {
      return { code: "banned-from-room", room: room.name };
    }
    if (modes.inviteOnly) return { code: "invite-only", room: room.name };
    if (modes.key !== null && password !== modes.key) return { code: "bad-key", room: room.name };
    if (modes.limit !== null) {
      const limit = modes.limit;
      if (room.members.size >= limit) return { code: "room-full", room: room.name, limit };
      if (room.members.size + (await this.#elsewhereIn(room)) >= limit) {
        return { code: "room-full", room: room.name, limit };
      }
    }
    return null;
  }

  /** A member leaves a room: it is no longer its operator or voiced there. */
  #dropStatus(room: Room, id: string): void {
    const was = room.operators.delete(id);
    if (room.voiced.delete(id) || was) this.#store.setStatus?.(room.key, id, "");
  }

  /** Remembers the nick a member gives up (WHOWAS). */
  #rememberNick(m: Member): void {
    if (m.nick === "") return;
    this.#whowas.record(m.key, {
      nick: m.nick,
      user: m.user,
      realname: m.realname,
      time: this.#clock(),
    });
  }

  #nickChanged(nick: string, online: boolean): void {
    for (const listener of this.#nickListeners) listener(nick, online);
  }

  #newId(): string {
    return `${this.#node}/${++this.#lastMember}`;
  }

  #publish(event: ChatEvent): void {
    this.#bus.publish([event]);
  }
}

function claimProblem(claimed: "taken" | "lookalike", nick: string): Problem {
  return claimed === "taken" ? { code: "nick-taken", nick } : { code: "nick-lookalike", nick };
}

/** The `account` of the events a member makes, when it has proved one (IRC's account-tag). */
function accountOf(m: Member): { account?: string } {
  return m.accountName === null ? {} : { account: m.accountName };
}

function refused(problem: Problem): Refused {
  return { kind: "refused", problem };
}
