/**
 * One person, several devices (SPEC §14, issue 23). An account's member may be
 * connected from several clients at once (a terminal, an IRC client, a
 * browser; here or on another server), up to `--max-sessions`: one member, one
 * nick, one set of rooms, one away state. This module owns what that means:
 *
 * - **Attaching.** A newcomer that proves an account whose member is in the
 *   chat becomes one more of its devices (SASL, IRC `PASS`, a line client's
 *   first `/identify`), and so does a member that proves it later (`/identify`,
 *   NickServ, SASL again): its own nick leaves the chat. Nobody else is told:
 *   the member was there already. The member's setting `multiclient off`
 *   (NickServ `SET MULTICLIENT OFF`) and the session limit refuse one more.
 * - **Leaving.** A device that leaves while others stay leaves quietly; the
 *   last one takes the member out of the chat (its quit is the one the others
 *   see).
 * - **Siblings.** What one device does to the member (enters or leaves a room,
 *   changes nick, goes away) is told to its other devices, each in its own
 *   protocol (`Endpoint.sibling`); what it says reaches them through delivery
 *   (events carry the device they came from).
 * - **Rooms that wait.** With a store that outlives the server (`--data`,
 *   `--cluster`), an account's rooms are remembered when its last device
 *   leaves, and its next session is put back in them ({@linkcode Devices.resume});
 *   while no device is connected the member is in no room (the others saw it
 *   quit: a member nobody can reach is not shown as present).
 * - **Read markers** (IRCv3 `draft/read-marker`): per account and target,
 *   only ever moving forward, told to every device of the member (on every
 *   server), kept by the store; a guest's live as long as its connection.
 * - **Several servers.** A member whose account is connected on another server
 *   is mirrored here: a member of this server with the same nick, rooms and
 *   away text, holding the same nick claims (`Member.owner`), so that each
 *   server delivers to its own devices. What the other server's member does
 *   arrives as events, which this server follows for its mirror without
 *   telling anyone ({@linkcode Devices.delivered}); a quit is not shown while
 *   the member is still here (`Delivery`).
 *
 * @module
 */

import type { Bus } from "./bus.ts";
import type { Command, Problem, ProvedAccount, Refused, Replies } from "./commands.ts";
import type { ChatEvent, Clock, MessageEvent, QuitReason } from "./events.ts";
import type { History } from "./history.ts";
import type { Membership } from "./membership.ts";
import type { RemoteMember } from "./presence.ts";
import {
  type ChatMember,
  type ChatRoom,
  Device,
  type DeviceNotice,
  type Endpoint,
  Member,
  type Room,
} from "./records.ts";
import type { Registry } from "./registry.ts";
import type { AccountState, Store } from "./store.ts";
import { errorText } from "../errors.ts";
import { nameKey } from "../protocol/names.ts";

/** Sessions one account may hold at once by default (`--max-sessions`). */
export const DEFAULT_MAX_SESSIONS = 5;

/** What a device is told about its member's rooms when it comes in ({@linkcode Devices.resume}). */
export interface Resumed {
  /**
   * `attached`: it joined a member that was in the chat already; `restored`:
   * its account's rooms were given back; `new`: neither (a guest, a new
   * account, a store that keeps nothing).
   */
  how: "attached" | "restored" | "new";
  /** The member's devices now, this one included (on this server). */
  devices: number;
  /** The rooms the member is in, in the order it entered them, with their recent history. */
  rooms: { room: ChatRoom; history: readonly MessageEvent[] }[];
  /** The room a one-room device (a line client) shows: the one shown last, or null. */
  current: ChatRoom | null;
  /** When the account's last device left (`restored`): what it missed is what was said since. */
  left: number | null;
}

/** What {@linkcode Devices} needs around it. */
export interface DevicesOptions {
  registry: Registry;
  membership: Membership;
  store: Store;
  history: History;
  bus: Bus;
  clock: Clock;
  /** Messages per room a device is shown of each room it is put in. */
  historySize: number;
  /** Most devices one account may have connected at once. */
  maxSessions: number;
  /** The members of the other servers (none for a single server). */
  elsewhere?: () => Promise<RemoteMember[]>;
  /** A new member id of this server (for a member mirrored from another server). */
  newId: () => string;
  onError: (message: string) => void;
}

/** Read markers kept in memory per member: target key → time. */
type Markers = Map<string, number>;

/** The devices of members, their rooms between sessions, and their read markers. */
export class Devices {
  readonly #registry: Registry;
  readonly #membership: Membership;
  readonly #store: Store;
  readonly #history: History;
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #historySize: number;
  readonly maxSessions: number;
  readonly #elsewhere: (() => Promise<RemoteMember[]>) | undefined;
  readonly #newId: () => string;
  readonly #onError: (message: string) => void;
  /** Devices that came in as one more device of a member (not as its first). */
  readonly #attached = new WeakSet<Device>();
  /** Each member's read markers, loaded once (an account's from the store). */
  readonly #markers = new WeakMap<Member, Promise<Markers>>();
  /** The room the member's one-room devices showed last (what its next line client shows). */
  readonly #current = new WeakMap<Member, string>();
  /** Accounts whose member takes one device only (`multiclient off`), as last read. */
  readonly #single = new Map<string, boolean>();

  constructor(options: DevicesOptions) {
    this.#registry = options.registry;
    this.#membership = options.membership;
    this.#store = options.store;
    this.#history = options.history;
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#historySize = options.historySize;
    this.maxSessions = options.maxSessions;
    this.#elsewhere = options.elsewhere;
    this.#newId = options.newId;
    this.#onError = options.onError;
  }

  /**
   * A newcomer on `endpoint` proved `account`: when the account's member is in
   * the chat (here, or on another server), the newcomer is one more of its
   * devices (or is refused: too many, or `multiclient off`); null: it is not
   * there, and the newcomer enters as itself.
   */
  async attach(endpoint: Endpoint, account: ProvedAccount): Promise<ChatMember | Refused | null> {
    const here = this.#registry.byAccount(account.key);
    if (here === undefined || !here.present) return await this.#mirror(endpoint, account);
    const problem = await this.#mayAttach(here, account.key);
    if (problem !== null) return { kind: "refused", problem };
    if (!here.present) return null; // it left while the setting was read
    const device = here.attach(new Device(here, endpoint, this.#clock()));
    for (const room of here.rooms) if (device.sees(room)) room.addDevice(device);
    this.#attached.add(device);
    return device;
  }

  /**
   * Member `m` proved `account` once in the chat (`/identify`, NickServ,
   * SASL): when the account's member is here, `m`'s devices become its devices
   * and `m` leaves the chat (the others see it go). Returns the member they
   * are devices of now, a refusal, or null (nobody to join: `m` goes on).
   */
  async join(m: Member, account: ProvedAccount): Promise<Member | Refused | null> {
    const here = this.#registry.byAccount(account.key);
    if (here === undefined || here === m || !here.present) return null;
    const problem = await this.#mayAttach(here, account.key, m.devices.length);
    if (problem !== null) return { kind: "refused", problem };
    if (!here.present || !m.present) return null;
    const from = m.nick;
    for (const device of [...m.devices]) {
      for (const room of m.rooms) room.deleteDevice(device);
      m.detach(device);
      device.view = null;
      here.attach(device);
      for (const room of here.rooms) if (device.sees(room)) room.addDevice(device);
      this.#attached.add(device);
    }
    this.#membership.leave(m, { reason: "quit", detail: `${from} is ${here.nick} now` });
    return here;
  }

  /**
   * A device leaves (its connection is over). While the member has others it
   * goes quietly; the last one takes the member out of the chat, its rooms
   * remembered for its next session (see the module notes).
   */
  leave(d: Device, why: { reason: QuitReason; detail?: string; announce?: boolean }): void {
    if (!d.attached) return;
    const m = d.member;
    if (d.view !== null && m.rooms.includes(d.view)) this.#current.set(m, d.view.name);
    const last = !m.devices.some((other) => other !== d && other.attached);
    if (!last || (this.#elsewhere !== undefined && m.account !== null && why.announce !== false)) {
      for (const room of m.rooms) room.deleteDevice(d);
      d.attached = false;
      d.view = null;
      m.detach(d);
      this.#registry.tellPresence(m);
      // Its last device here, in a cluster: it may still be on another server.
      if (last) void this.#leaveLast(m, why);
      return;
    }
    this.#remember(m);
    this.#membership.leave(m, why);
    d.attached = false;
  }

  /**
   * The last device of an account's member on this server left: when the account has
   * devices on another server, the member leaves this one quietly (it is still in the
   * chat); else the others see it quit, and its rooms are remembered. Unless a device
   * came back meanwhile.
   */
  async #leaveLast(
    m: Member,
    why: { reason: QuitReason; detail?: string; announce?: boolean },
  ): Promise<void> {
    let elsewhere = false;
    try {
      elsewhere = (await this.#elsewhere!()).some((member) => member.account === m.account);
    } catch (error) {
      this.#onError(`cannot tell whether ${m.nick} is on another server: ${errorText(error)}`);
    }
    if (!m.present || m.devices.length > 0) return;
    if (!elsewhere) this.#remember(m);
    this.#membership.leave(m, { ...why, elsewhere });
  }

  /** How many devices `m` has connected (on this server). */
  count(m: ChatMember): number {
    return (m as Device | Member) instanceof Device
      ? (m as Device).member.devices.length
      : (m as Member).devices.length;
  }

  /**
   * What device `d` is told about its member's rooms once in the chat: the
   * rooms of the member it attached to, or the rooms its account was in when
   * its last device left, which it is put back in now (the others see it
   * enter them). Nothing for a guest or a new account.
   */
  async resume(d: Device): Promise<Resumed> {
    const m = d.member;
    const devices = m.devices.length;
    void this.#loadMarkers(m);
    if (this.#attached.has(d)) {
      const rooms = await Promise.all(m.rooms.map(async (room) => ({
        room: room as ChatRoom,
        history: await this.#recent(room),
      })));
      const current = this.#current.get(m);
      const shown = m.devices.find((other) => other !== d && other.view !== null)?.view ?? null;
      return {
        how: "attached",
        devices,
        rooms,
        current: (current && m.rooms.find((room) => room.name === current)) || shown ||
          m.rooms.at(-1) || null,
        left: null,
      };
    }
    const state = m.account === null || !this.#store.persistent
      ? null
      : await this.#state(m.account);
    if (state === null || state.rooms.length === 0 || !m.present) {
      return { how: "new", devices, rooms: [], current: null, left: null };
    }
    const rooms: Resumed["rooms"] = [];
    for (const name of state.rooms) {
      const reply = await this.#membership.join(m, name, false);
      if (reply.kind === "joined") {
        const room = this.#registry.room(nameKey(reply.room.name));
        if (room !== undefined) rooms.push({ room, history: reply.history });
      } else if (reply.problem.code === "already-in-room") {
        const room = this.#registry.room(nameKey(name));
        if (room !== undefined) rooms.push({ room, history: await this.#recent(room) });
      }
    }
    const current = state.current === null
      ? undefined
      : rooms.find(({ room }) => nameKey(room.name) === nameKey(state.current!))?.room;
    return {
      how: "restored",
      devices,
      rooms,
      current: current ?? rooms.at(-1)?.room ?? null,
      left: state.left || null,
    };
  }

  /**
   * After `d` carried out `command` (answered `reply`), the member's other
   * devices are told what changed: a room entered or left, a new nick, away.
   * `had`: whether the member was in the room a join named before it.
   */
  echo(d: Device, command: Command, reply: Replies[keyof Replies], had: boolean): void {
    const m = d.member;
    if (reply.kind === "refused" || !m.present) return;
    const others = m.devices.filter((other) => other !== d && other.attached);
    if (command.kind === "join" && reply.kind === "joined") {
      for (const name of reply.left) this.#parted(m, others, name, "");
      if (had) return; // a line client's view moved: nobody else is told
      const room = this.#registry.room(nameKey(reply.room.name));
      if (room === undefined) return;
      tell(others, { kind: "joined", room, history: reply.history });
    } else if (command.kind === "part" && reply.kind === "parted") {
      this.#parted(m, others, reply.room, command.text);
    } else if (reply.kind === "renamed") {
      tell(others, { kind: "renamed", from: reply.from, to: reply.to });
    } else if (reply.kind === "identified" && reply.renamedFrom !== null && !reply.attached) {
      tell(others, { kind: "renamed", from: reply.renamedFrom, to: reply.nick });
    } else if (reply.kind === "away") {
      tell(others, { kind: "away", away: m.away });
    } else if (reply.kind === "mode" && reply.event !== null) {
      show(this.#registry, others, reply.event);
    } else if (command.kind === "kick" && reply.kind === "kicked" && "event" in reply) {
      show(this.#registry, others, reply.event);
    } else if (reply.kind === "topic" && reply.changed) {
      show(this.#registry, others, {
        kind: "topic",
        room: reply.room,
        seq: 0,
        nick: m.nick,
        user: m.user,
        text: reply.topic?.text ?? "",
        time: reply.topic?.time ?? this.#clock(),
        origin: m.id,
      });
    }
  }

  #parted(m: Member, devices: Device[], name: string, text: string): void {
    if (devices.length === 0 || m.rooms.some((room) => room.name === name)) return;
    tell(devices, { kind: "parted", room: name, text });
  }

  /**
   * The read marker of `target` (`#room` or a nick) for `d`'s member: moved to
   * `time` when that is later (a marker never goes back); the member's other
   * devices, here and on the other servers, are told when it moved. Resolves
   * with the marker now (null: none).
   */
  async markRead(d: Device, target: string, time?: number): Promise<number | null> {
    const m = d.member;
    const key = markerKey(target);
    const markers = await this.#loadMarkers(m);
    const before = markers.get(key) ?? null;
    if (time === undefined || (before !== null && time <= before)) return before;
    markers.set(key, time);
    if (m.account !== null) {
      try {
        this.#store.setReadMarker?.(m.account, key, time);
      } catch (error) {
        this.#onError(`cannot keep a read marker: ${errorText(error)}`);
      }
    }
    tell(m.devices.filter((other) => other !== d && other.attached), {
      kind: "marker",
      target,
      time,
    });
    if (m.account !== null) {
      // The member's devices on the other servers (their servers follow it in `delivered`).
      this.#bus.publish([{
        kind: "notice",
        notice: { code: "read-marker", target: key, time },
        to: m.nick,
        time: this.#clock(),
        origin: m.id,
        account: m.accountName ?? m.account,
      }]);
    }
    return time;
  }

  /** The read marker of `target` for `d`'s member (null: none). */
  async readMarker(d: Device, target: string): Promise<number | null> {
    return (await this.#loadMarkers(d.member)).get(markerKey(target)) ?? null;
  }

  /** Whether the member of account `key` takes more than one device (`multiclient`). */
  async multiclient(key: string): Promise<boolean> {
    let single = this.#single.get(key);
    if (single === undefined) {
      single = (await this.#state(key))?.multiclient === false;
      this.#single.set(key, single);
    }
    return !single;
  }

  /** Sets whether the member of account `key` takes more than one device. */
  async setMulticlient(key: string, on: boolean): Promise<void> {
    this.#single.set(key, !on);
    const state = await this.#state(key) ?? { rooms: [], current: null, left: 0 };
    state.multiclient = on;
    this.#store.setAccountState?.(key, state);
  }

  /**
   * Events as they are delivered: what another server's member of an account
   * that is here too did (entered or left a room, changed nick, went away, read
   * something) is followed by this server's member, quietly, and told to its
   * devices.
   */
  delivered(events: readonly ChatEvent[]): void {
    const event = events[0];
    if (event === undefined) return;
    switch (event.kind) {
      case "joined":
      case "left":
      case "renamed":
      case "away": {
        if (event.origin === "" || this.#registry.byId(event.origin)) return;
        const m = sameAccount(this.#registry, event);
        if (m !== undefined) void this.#follow(m, event);
        return;
      }
      case "mode": {
        // A status given on another server to its member of an account that is here too:
        // this server's member of it has it as well (statuses are kept by member id).
        if (event.origin === "" || this.#registry.byId(event.origin)) return;
        const room = this.#registry.roomOf(event.room);
        if (room === undefined) return;
        for (const change of event.changes) {
          if ((change.mode !== "o" && change.mode !== "v") || change.param === undefined) continue;
          const m = this.#registry.byKey(nameKey(change.param));
          if (m === undefined || m.id === change.id || m.account === null) continue;
          const statuses = change.mode === "o" ? room.operators : room.voiced;
          if (change.on) statuses.add(m.id);
          else statuses.delete(m.id);
        }
        return;
      }
      case "kicked": {
        // Kicked on another server, which named its own member of this one's account.
        if (event.origin === "" || this.#registry.byId(event.origin)) return;
        const m = this.#registry.byKey(nameKey(event.target));
        const room = this.#registry.roomOf(event.room);
        if (m === undefined || m.id === event.targetId || room === undefined) return;
        if (m.account !== null && room.members.has(m)) this.#membership.evict(m, room);
        return;
      }
      case "notice": {
        if (event.notice.code !== "read-marker" || event.to === undefined) return;
        if (this.#registry.byId(event.origin)) return; // this server's own: told already
        const m = this.#registry.byKey(nameKey(event.to));
        if (m === undefined || m.account === null || event.account === undefined) return;
        if (m.account !== nameKey(event.account)) return;
        const { target, time } = event.notice;
        void this.#loadMarkers(m).then((markers) => {
          if ((markers.get(target) ?? 0) >= time) return;
          markers.set(target, time);
          tell(m.devices, { kind: "marker", target: shownTarget(target, this.#registry), time });
        });
        return;
      }
    }
  }

  /** This server's member follows what its account's member on another server did. */
  async #follow(
    m: Member,
    event: Extract<ChatEvent, { kind: "joined" | "left" | "renamed" | "away" }>,
  ): Promise<void> {
    switch (event.kind) {
      case "joined": {
        const room = this.#registry.roomOf(event.room) ?? this.#registry.adopt(event.room);
        if (room === undefined || room.members.has(m)) return;
        const history = this.#recent(room);
        room.add(m);
        m.rooms.push(room);
        this.#registry.used(room);
        this.#registry.tellPresence(m);
        tell(m.devices, { kind: "joined", room, history: await history });
        return;
      }
      case "left": {
        const room = this.#registry.roomOf(event.room);
        if (room === undefined || !room.members.has(m)) return;
        room.delete(m);
        m.rooms.splice(m.rooms.indexOf(room), 1);
        for (const device of m.devices) if (device.view === room) device.view = null;
        this.#registry.used(room);
        this.#registry.tellPresence(m);
        this.#registry.forgetIfEmpty(room);
        tell(m.devices, { kind: "parted", room: room.name, text: event.text ?? "" });
        return;
      }
      case "renamed": {
        const from = m.nick;
        if (!(await this.#membership.followRename(m, event.to))) return;
        tell(m.devices, { kind: "renamed", from, to: m.nick });
        return;
      }
      case "away":
        m.away = event.text === "" ? null : event.text;
        this.#registry.tellPresence(m);
        tell(m.devices, { kind: "away", away: m.away });
        return;
    }
  }

  /**
   * The account's member is on another server only: this server makes its
   * mirror (same nick, rooms, away text, claims), with the newcomer as its
   * first device here. Nobody is told: the member was in the chat already.
   */
  async #mirror(endpoint: Endpoint, account: ProvedAccount): Promise<ChatMember | Refused | null> {
    if (this.#elsewhere === undefined) return null;
    const there = (await this.#elsewhere()).filter((member) => member.account === account.key);
    if (there.length === 0) return null;
    const problem = await this.#mayAttach(null, account.key, 1, there);
    if (problem !== null) return { kind: "refused", problem };
    const model = there[0];
    const m = new Member(this.#newId(), model.user, endpoint, this.#clock());
    m.owner = model.owner ?? model.id;
    m.account = account.key;
    m.accountName = account.name;
    m.away = model.away;
    if (!(await this.#membership.enterMirror(m, model.nick))) return null;
    for (const name of model.rooms) {
      const room = this.#registry.roomOf(name) ?? this.#registry.adopt(name);
      if (room === undefined || room.members.has(m)) continue;
      room.add(m);
      m.rooms.push(room);
      // Its statuses there, as the other server's member has them (kept by member id).
      if (room.operators.has(model.id)) room.operators.add(m.id);
      if (room.voiced.has(model.id)) room.voiced.add(m.id);
    }
    this.#registry.tellPresence(m);
    this.#attached.add(m.devices[0]);
    return m.devices[0];
  }

  /**
   * Why member `m` of account `key` may not take `adding` more devices
   * (`multiclient off`, or the limit of sessions, counting those on other
   * servers), or null.
   */
  async #mayAttach(
    m: Member | null,
    key: string,
    adding = 1,
    elsewhere?: RemoteMember[],
  ): Promise<Problem | null> {
    const nick = m?.nick ?? elsewhere?.[0]?.nick ?? key;
    if (!(await this.multiclient(key))) return { code: "account-in-use", nick };
    let count = m?.devices.length ?? 0;
    const there = elsewhere ??
      (this.#elsewhere === undefined
        ? []
        : (await this.#elsewhere()).filter((member) => member.account === key));
    for (const member of there) count += member.devices ?? 1;
    if (count + adding > this.maxSessions) {
      return { code: "too-many-sessions", nick, max: this.maxSessions };
    }
    return null;
  }

  /** Keeps the rooms of `m`'s account for its next session (its last device is leaving). */
  #remember(m: Member): void {
    if (
      m.account === null || !this.#store.persistent || this.#store.setAccountState === undefined
    ) {
      return;
    }
    const key = m.account;
    const state: AccountState = {
      rooms: m.rooms.map((room) => room.name),
      current: this.#current.get(m) ?? null,
      left: this.#clock(),
    };
    const single = this.#single.get(key);
    if (single !== undefined) state.multiclient = !single;
    try {
      this.#store.setAccountState(key, state);
    } catch (error) {
      this.#onError(`cannot keep the rooms of ${key}: ${errorText(error)}`);
    }
  }

  /** The state the store keeps for account `key` (null: none, or it cannot say: reported). */
  async #state(key: string): Promise<AccountState | null> {
    if (this.#store.accountState === undefined) return null;
    try {
      return await this.#store.accountState(key);
    } catch (error) {
      this.#onError(`cannot read what ${key} left: ${errorText(error)}`);
      return null;
    }
  }

  #loadMarkers(m: Member): Promise<Markers> {
    let markers = this.#markers.get(m);
    if (markers === undefined) {
      markers = this.#readMarkers(m.account);
      this.#markers.set(m, markers);
    }
    return markers;
  }

  async #readMarkers(account: string | null): Promise<Markers> {
    if (account === null || this.#store.readMarkers === undefined) return new Map();
    try {
      return new Map(Object.entries(await this.#store.readMarkers(account)));
    } catch (error) {
      this.#onError(`cannot read the read markers of ${account}: ${errorText(error)}`);
      return new Map();
    }
  }

  async #recent(room: Room): Promise<MessageEvent[]> {
    try {
      return await this.#history.recent(room.key, this.#historySize);
    } catch (error) {
      this.#onError(`cannot read the history of #${room.name}: ${errorText(error)}`);
      return [];
    }
  }
}

/**
 * The member of this server that `event` is about when it came from the same
 * account's member on another server (one person on devices of two servers),
 * if any: the same nick, proved with the same account.
 */
export function sameAccount(
  registry: Registry,
  event: { origin: string; nick: string; account?: string },
): Member | undefined {
  if (event.account === undefined || event.origin === "") return undefined;
  const here = registry.byKey(nameKey(event.nick));
  if (here === undefined || here.id === event.origin || here.account === null) return undefined;
  return here.account === nameKey(event.account) ? here : undefined;
}

/** A read marker's target as kept: `#` and the room's key, or the nick's key. */
export function markerKey(target: string): string {
  return target.startsWith("#") ? `#${nameKey(target.slice(1))}` : nameKey(target);
}

/** A kept target as devices are told it: `#` and the room's name when the room exists. */
function shownTarget(key: string, registry: Registry): string {
  if (!key.startsWith("#")) return registry.byKey(key)?.nick ?? key;
  const room = registry.room(key.slice(1));
  return room === undefined ? key : `#${room.name}`;
}

/** Shows a room event a device did to the member's other devices that show its room. */
function show(registry: Registry, devices: readonly Device[], event: ChatEvent & { room: string }) {
  const room = registry.roomOf(event.room);
  if (room === undefined) return;
  for (const device of devices) {
    if (!room.shows(device)) continue;
    const bytes = device.renderer.render([event], room.members.size);
    if (bytes !== null) device.endpoint.send(bytes);
  }
}

function tell(devices: readonly Device[], notice: DeviceNotice): void {
  for (const device of devices) {
    try {
      device.endpoint.sibling?.(notice);
    } catch { /* the front end's problem; the others are told */ }
  }
}
