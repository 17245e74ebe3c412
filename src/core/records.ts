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
import type { ChatEvent, MessageEvent } from "./events.ts";

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
  /**
   * Its clients show one room at a time (line clients): the device sees the
   * events of the room it shows only, though its member may be in several
   * (joined from another device, or put back in them: see `devices.ts`).
   */
  readonly oneRoom?: boolean;
  /**
   * Another device of the same member (here, or on another server) changed the
   * member: this device is told, in its protocol's way (issue 23).
   */
  sibling?(notice: DeviceNotice): void;
}

/**
 * What one device of a member is told when another of its devices (or the
 * member on another server) changed the member: it entered or left a room, it
 * has a new nick, it went away or came back, it read a conversation.
 */
export type DeviceNotice =
  | { kind: "joined"; room: ChatRoom; history: readonly MessageEvent[] }
  /** It left room `room` (its display name), saying `text`. */
  | { kind: "parted"; room: string; text: string }
  | { kind: "renamed"; from: string; to: string }
  | { kind: "away"; away: string | null }
  /** The read marker of `target` (`#room` or a nick) is `time` (ms since the epoch). */
  | { kind: "marker"; target: string; time: number };

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

/**
 * One connection of a member: a terminal, an IRC client, a browser tab. A
 * member has one device or several (one account on several devices, issue 23);
 * events reach each device in its own rendering. Front ends hold their device
 * as the member they act as: it shows its member's nick, rooms and account.
 */
export class Device implements ChatMember {
  /** Whose device it is (a guest that proves an account moves to the account's member). */
  member: Member;
  readonly endpoint: Endpoint;
  /** How events are rendered for it (its endpoint's renderer, until changed with setRenderer). */
  renderer: Renderer;
  /** A one-room device (line clients): the room it shows, or null; unused for the others. */
  view: Room | null = null;
  /** Its output is behind and holds the talkers of the rooms it sees back (`MessagePath.hold`). */
  holding = false;
  /** The delivery that last reached this device (so a member event reaches it once). */
  delivery = 0;
  /** Its number among its member's devices: events it caused carry it (`device`). */
  number = 1;
  /** False once it has left (its connection is over). */
  attached = true;
  /** When it connected (ms since the epoch). */
  readonly since: number;

  constructor(member: Member, endpoint: Endpoint, now: number) {
    this.member = member;
    this.endpoint = endpoint;
    this.renderer = endpoint.renderer;
    this.since = now;
  }

  /** Whether this device shows `room`'s events (its member being in it). */
  sees(room: Room): boolean {
    return this.endpoint.oneRoom !== true || this.view === room;
  }

  get id(): string {
    return this.member.id;
  }
  get nick(): string {
    return this.member.nick;
  }
  get user(): string {
    return this.member.user;
  }
  get rooms(): readonly ChatRoom[] {
    return this.member.rooms;
  }
  get present(): boolean {
    return this.attached && this.member.present;
  }
  get away(): string | null {
    return this.member.away;
  }
  get account(): string | null {
    return this.member.account;
  }
  get accountName(): string | null {
    return this.member.accountName;
  }
  get operator(): boolean {
    return this.member.operator;
  }
  get realname(): string {
    return this.member.realname;
  }
  get invisible(): boolean {
    return this.member.invisible;
  }
}

/** The chat's own record of a member. */
export class Member implements ChatMember {
  readonly id: string;
  readonly user: string;
  /**
   * Its connections, the first that came first; one for most members. An
   * account's member may have several (`--max-sessions`), each its own renderer.
   */
  readonly devices: Device[] = [];
  /**
   * Who its nick claims are made for (`Directory`): its id, or, for a member
   * that joined an account already present on another server, that member's
   * owner, so that the servers holding one person's devices hold one claim.
   */
  owner: string;
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
  /** Rooms it was invited to and has not entered since: key → display name. */
  readonly invited = new Map<string, string>();
  #lastDevice = 0;

  /** A member with its first device, on `endpoint`. */
  constructor(id: string, user: string, endpoint: Endpoint, now: number) {
    this.id = this.owner = id;
    this.user = user;
    this.since = this.lastSaid = now;
    this.attach(new Device(this, endpoint, now));
  }

  /**
   * Its first device's endpoint (what address checks and budgets count by); between its
   * last device leaving and the member leaving (a moment, in a cluster) one that goes nowhere.
   */
  get endpoint(): Endpoint {
    return this.devices[0]?.endpoint ?? NOWHERE;
  }

  /** Its first device's renderer. */
  get renderer(): Renderer {
    return this.devices[0]?.renderer ?? NOWHERE.renderer;
  }

  /** Takes `device` as one of its own (not into its rooms: see `Room.add`). */
  attach(device: Device): Device {
    device.member = this;
    device.number = ++this.#lastDevice;
    device.attached = true;
    this.devices.push(device);
    return device;
  }

  /** Lets go of `device` (out of its rooms first: see `Room.deleteDevice`). */
  detach(device: Device): void {
    const at = this.devices.indexOf(device);
    if (at !== -1) this.devices.splice(at, 1);
  }
}

/** Where a member with no device left sends: nowhere. */
const NOWHERE: Endpoint = {
  renderer: { render: () => null },
  address: "",
  send() {},
  remove() {},
};

/** The chat's own record of a room. */
export class Room implements ChatRoom {
  readonly name: string;
  readonly key: string;
  readonly members = new Set<Member>();
  /**
   * The devices of the same members that show the room, by renderer: a batch
   * is rendered once per group, and a group its renderer shows nothing to
   * (line clients in a huge room, for a join) is not walked at all.
   */
  readonly groups = new Map<Renderer, Set<Device>>();
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
  /**
   * Members who entered it quietly when it was big, by id, on every server: nobody
   * was told, nor is told when they go, until they speak (`big_rooms.ts`).
   */
  readonly quiet = new Set<string>();
  /**
   * While it has quiet members: this server's members that are not quiet, by id, in
   * the order they were shown (what IRC's NAMES lists; `big_rooms.ts`).
   */
  readonly listed = new Map<string, Member>();
  /** Counts what may have changed NAMES of it: who is listed, their nicks and prefixes (`big_rooms.ts`). */
  epoch = 0;
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

  /** A member enters: each of its devices that shows the room is in its renderer's group. */
  add(m: Member): void {
    this.members.add(m);
    for (const device of m.devices) if (device.sees(this)) this.addDevice(device);
  }

  /** A member leaves: none of its devices shows the room any more. */
  delete(m: Member): void {
    this.members.delete(m);
    for (const device of m.devices) this.deleteDevice(device);
  }

  /** One device of a member in the room shows it (its output, if behind, holds the room). */
  addDevice(device: Device): void {
    let group = this.groups.get(device.renderer);
    if (group === undefined) this.groups.set(device.renderer, group = new Set());
    if (group.has(device)) return;
    group.add(device);
    if (device.holding) this.countHolder(1);
  }

  /** One device no longer shows the room. */
  deleteDevice(device: Device): void {
    const group = this.groups.get(device.renderer);
    if (group === undefined || !group.delete(device)) return;
    if (group.size === 0) this.groups.delete(device.renderer);
    if (device.holding) this.countHolder(-1);
  }

  /** Whether `device` is in the room's groups (it shows the room). */
  shows(device: Device): boolean {
    return this.groups.get(device.renderer)?.has(device) ?? false;
  }
}
