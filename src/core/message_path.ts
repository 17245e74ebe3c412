/**
 * The message path: what members say, from {@linkcode MessagePath.say} to the
 * bus, and the back-pressure that keeps a burst from outrunning its readers.
 *
 * Room messages are synchronous: one event per line, appended to the room's
 * history, batched per room and origin until {@linkcode MessagePath.flush}
 * (the end of a read), so that one read's lines reach each receiver as one
 * write. The history is committed before the batch is published: a message
 * anyone has seen is stored. Private messages may need to ask the directory
 * where their receiver is, so they are asynchronous.
 *
 * @module
 */

import type { Bus } from "./bus.ts";
import type { Command, Problem, Replies, SayExtra } from "./commands.ts";
import type { Directory } from "./directory.ts";
import type { Clock, MessageEvent, PrivateEvent } from "./events.ts";
import type { EventIds } from "./ids.ts";
import type { History } from "./history.ts";
import type { RemoteMember } from "./presence.ts";
import type { ChatMember, ChatRoom, Device, Member, Renderer, Room } from "./records.ts";
import type { Registry } from "./registry.ts";
import { nameKey } from "../protocol/names.ts";

/** What the message path needs around it. */
export interface MessagePathOptions {
  registry: Registry;
  history: History;
  bus: Bus;
  directory: Directory;
  clock: Clock;
  /** Only members who proved a registered nick may speak. */
  requireAccount: boolean;
  /** The ids of the events said here. */
  ids: EventIds;
  /** The members of the other servers (for a private message to one of them). */
  elsewhere: () => Promise<RemoteMember[]>;
}

/** Room messages, private messages and back-pressure. */
export class MessagePath {
  readonly #registry: Registry;
  readonly #history: History;
  readonly #bus: Bus;
  readonly #directory: Directory;
  readonly #clock: Clock;
  readonly #requireAccount: boolean;
  readonly #elsewhere: () => Promise<RemoteMember[]>;
  readonly #ids: EventIds;
  /** Room messages said since the last flush: one room, one origin. */
  #pending: MessageEvent[] = [];
  #pendingRoom: Room | null = null;
  #pendingFrom: Device | null = null;

  constructor(options: MessagePathOptions) {
    this.#registry = options.registry;
    this.#history = options.history;
    this.#bus = options.bus;
    this.#directory = options.directory;
    this.#clock = options.clock;
    this.#requireAccount = options.requireAccount;
    this.#elsewhere = options.elsewhere;
    this.#ids = options.ids;
  }

  /**
   * Says `text` in `room` (an action for `/me`, an IRC NOTICE with `notice`).
   * Batched until {@linkcode flush}; refused when the member is not in the
   * room (unless the room is `-n`), has no voice in a moderated room (`+m`),
   * is muted, or (with `requireAccount`) has not proved a nick. The event is
   * returned (its id, for a client that wants its own line echoed).
   */
  say(
    member: ChatMember,
    room: ChatRoom,
    text: string,
    action: boolean,
    notice: boolean,
    extra?: SayExtra,
  ): Problem | MessageEvent {
    const d = member as Device;
    const m = d.member;
    const r = room as Room;
    if (!r.members.has(m) && (r.modes.noExternal || r.modes.moderated)) {
      return { code: "not-in-room", room: r.name } satisfies Problem;
    }
    if (r.modes.moderated && !r.voiced.has(m.id) && !r.operators.has(m.id) && !m.operator) {
      return { code: "moderated", room: r.name } satisfies Problem;
    }
    const silenced = this.silenced(m);
    if (silenced) return silenced;
    if (this.#pendingRoom !== r || this.#pendingFrom !== d) this.flush();
    const time = m.lastSaid = this.#clock();
    const event: MessageEvent = {
      kind: "message",
      room: r.name,
      seq: ++r.seq,
      id: this.#ids.next(),
      time,
      origin: m.id,
      nick: m.nick,
      user: m.user,
      text,
      action,
    };
    if (m.accountName !== null) event.account = m.accountName;
    // Said on one of several devices: the others get it too (see `Delivery`).
    if (m.devices.length > 1) event.device = d.number;
    if (extra?.tags) event.tags = extra.tags;
    if (extra?.tagmsg) event.tagmsg = true;
    if (notice) event.notice = true;
    if (!notice && !extra?.tagmsg) {
      this.#history.append(r.key, event);
      r.kept = true;
    }
    this.#pending.push(event);
    this.#pendingRoom = r;
    this.#pendingFrom = d;
    return event;
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

  /** A private message (or an IRC NOTICE) to a nick on any server. */
  async private(
    m: Member,
    command: Extract<Command, { kind: "private" }>,
    device?: Device,
  ): Promise<Replies["private"]> {
    const { nick, text, action } = command;
    const silenced = this.silenced(m);
    if (silenced) return { kind: "refused", problem: silenced };
    const key = nameKey(nick);
    const target = this.#registry.byKey(key);
    let to = target?.nick;
    let away = target?.away ?? null;
    if (!target) {
      // On another server? Its claim says so; its presence has how it is written.
      if ((await this.#directory.holder(key)) === null) {
        return { kind: "refused", problem: { code: "no-such-nick", nick } };
      }
      const remote = (await this.#elsewhere()).find((member) => nameKey(member.nick) === key);
      to = remote?.nick ?? nick;
      away = remote?.away ?? null;
    }
    m.lastSaid = this.#clock();
    const event: PrivateEvent = {
      kind: "private",
      id: this.#ids.next(),
      to: to!,
      nick: m.nick,
      user: m.user,
      text,
      action,
      time: m.lastSaid,
      origin: m.id,
    };
    if (command.notice) event.notice = true;
    if (m.accountName !== null) event.account = m.accountName;
    if (device !== undefined && m.devices.length > 1) event.device = device.number;
    if (command.extra?.tags) event.tags = command.extra.tags;
    if (command.extra?.tagmsg) event.tagmsg = true;
    this.#bus.publish([event]);
    return { kind: "sent", to: to!, text, action, away, event };
  }

  /** Why a member may not speak now (muted, or no account where one is required), or null. */
  silenced(m: Member): Problem | null {
    if (m.mutedUntil !== 0 && this.#muted(m)) {
      return { code: "muted", until: m.mutedUntil === Infinity ? null : m.mutedUntil };
    }
    if (this.#requireAccount && m.account === null) return { code: "account-required" };
    return null;
  }

  /**
   * Overload (SPEC §4): a member's output is behind (`holding`) or has caught
   * up. While any member of a room holds it, the room's talkers wait at
   * {@linkcode gate} before their next read.
   */
  hold(member: ChatMember, holding: boolean): void {
    const d = member as Device;
    if (d.holding === holding || !d.present) return;
    d.holding = holding;
    for (const room of d.member.rooms) {
      if (room.shows(d)) room.countHolder(holding ? 1 : -1);
    }
  }

  /**
   * What a member must wait for before reading more from it: a room it is in
   * is held back by a reader that is behind. Null when it may read at once.
   */
  gate(member: ChatMember): Promise<void> | null {
    for (const room of (member as Device).member.rooms) {
      if (room.holders > 0) return room.caughtUp();
    }
    return null;
  }

  /** A member's events are rendered differently from now on (an IRC client asked for tags). */
  setRenderer(member: ChatMember, renderer: Renderer): void {
    const d = member as Device;
    if (d.renderer === renderer) return;
    const shown = d.member.rooms.filter((room) => room.shows(d));
    for (const room of shown) room.deleteDevice(d);
    d.renderer = renderer;
    for (const room of shown) room.addDevice(d);
  }

  /** Whether a muted member is still muted (a mute that ran out is lifted). */
  #muted(m: Member): boolean {
    if (m.mutedUntil > this.#clock()) return true;
    m.mutedUntil = 0;
    return false;
  }
}
