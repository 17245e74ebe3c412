/**
 * Delivery: events from the bus to this server's members they concern,
 * **rendered once per renderer** (front end and the capabilities it renders
 * with), the bytes shared by every receiver of that renderer, never sent back
 * to their origin. Synchronous: delivery only renders and enqueues.
 *
 * - room events go to the room's members;
 * - a member event (rename, quit, away, real name) to everyone who shares a room with its
 *   subject, once each;
 * - a private event to its one receiver;
 * - a server notice to one member or everyone.
 *
 * Events reach members' devices (a member may be connected from several, each
 * rendered its own way): never the device an event came from; its origin's
 * other devices only when the event says which device it came from
 * (`device`: what was said), else they are told by `devices.ts`. A private
 * message reaches its sender's other devices too, as sent. What another
 * server says about a member that is here too (the same account on another
 * device) is not shown to that member's devices (`devices.ts` follows it), and
 * its quit is not shown at all while the member is still here.
 *
 * @module
 */

import type {
  ChatEvent,
  InvitedEvent,
  KickedEvent,
  MemberEvent,
  ModeratedEvent,
  NoticeEvent,
  PrivateEvent,
  RoomEvent,
} from "./events.ts";
import type { Device, Member, Renderer, Room } from "./records.ts";
import type { Registry } from "./registry.ts";
import { nameKey } from "../protocol/names.ts";
import { sameAccount } from "./devices.ts";

/** The groups of a room nobody in it is told about. */
const NOBODY: ReadonlyMap<Renderer, ReadonlySet<never>> = new Map();

/** Hands events to this server's members and counts what it handed out. */
export class Delivery {
  readonly #registry: Registry;
  #lastDelivery = 0;
  #deliveries = 0;
  readonly #follow: ((event: RoomEvent | MemberEvent, room: Room | undefined) => void) | undefined;
  readonly #moderated: ((event: ModeratedEvent) => void) | undefined;

  /**
   * `follow` is told, after delivery, each room event and quit that another
   * server published, so that this server's view of its rooms follows them
   * (modes, operators, kicks: see `ChannelOps.follow`). `moderated` is
   * handed what server operators did, to carry out on this server's members
   * (`Moderation.follow`); nobody is shown it.
   */
  constructor(
    registry: Registry,
    options: {
      follow?: (event: RoomEvent | MemberEvent, room: Room | undefined) => void;
      moderated?: (event: ModeratedEvent) => void;
    } = {},
  ) {
    this.#registry = registry;
    this.#follow = options.follow;
    this.#moderated = options.moderated;
  }

  /** Messages (room and private) handed to members of this server so far, one per recipient. */
  get deliveries(): number {
    return this.#deliveries;
  }

  /** Delivers events that share one destination (the bus calls it). */
  deliver(events: readonly ChatEvent[]): void {
    const first = events[0];
    switch (first.kind) {
      case "message":
      case "joined":
      case "left":
      case "topic":
      case "mode":
      case "kicked":
      case "invited":
        return this.#toRoom(first, events);
      case "renamed":
      case "quit":
      case "account":
      case "away":
      case "realname":
        return this.#toNeighbours(first);
      case "private":
        return this.#toReceiver(first);
      case "notice":
        // A read marker is for the member's devices (`devices.ts`), never shown as a notice.
        if (first.notice.code === "read-marker") return;
        return this.notice(first);
      case "moderated":
        for (const event of events) {
          if (event.kind === "moderated") this.#moderated?.(event);
        }
        return;
    }
  }

  /** A server notice: to its one member, or to everyone on this server. */
  notice(event: NoticeEvent): void {
    if (event.to !== undefined) {
      const target = this.#registry.byKey(nameKey(event.to));
      if (target !== undefined) sendEach(target.devices, [event]);
      return;
    }
    const rendered = new Map<Renderer, Uint8Array | null>();
    for (const member of this.#registry.members()) {
      for (const device of member.devices) {
        let bytes = rendered.get(device.renderer);
        if (bytes === undefined) {
          bytes = device.renderer.render([event], 0);
          rendered.set(device.renderer, bytes);
        }
        if (bytes !== null) device.endpoint.send(bytes);
      }
    }
  }

  #toRoom(first: RoomEvent, events: readonly ChatEvent[]): void {
    const registry = this.#registry;
    const remote = first.origin !== "" && !registry.byId(first.origin);
    const room = registry.roomOf(first.room) ?? (remote ? registry.adopt(first.room) : undefined);
    if (room === undefined) return;
    if (first.kind === "invited") {
      this.#invited(first, room);
      if (remote) this.#follow?.(first, room);
      return;
    }
    if (first.kind === "topic" && first.origin !== "" && !registry.byId(first.origin)) {
      // Another server's topic: this server's view of the room follows.
      room.topic = first.text === ""
        ? null
        : { text: first.text, nick: first.nick, time: first.time };
    }
    const origin = first.origin;
    const from = first.device;
    // Another server's join or part of a member here too: its devices are told apart.
    const self = remote && (first.kind === "joined" || first.kind === "left")
      ? this.sameAccount(first)
      : undefined;
    // Joined: the subject is in the room; left: it is gone; a message: its sender is there.
    const audience = first.kind === "left" ? room.members.size : room.members.size - 1;
    if (first.kind === "message") {
      const fromHere = registry.byId(origin)?.rooms.includes(room) ? 1 : 0;
      this.#deliveries += events.length * (room.members.size - fromHere);
    }
    // Someone entering or leaving a big room quietly (`big_rooms.ts`): nobody else is told.
    for (const [renderer, group] of first.quiet ? NOBODY : room.groups) {
      const bytes = renderer.render(events, audience);
      if (bytes === null) continue;
      for (const device of group) {
        const member = device.member;
        if (member.id === origin ? from !== undefined && device.number !== from : member !== self) {
          device.endpoint.send(bytes);
        }
      }
    }
    if (first.kind === "kicked") this.#kicked(first, room);
    if (remote) this.#follow?.(first, room);
  }

  /** A kicked member of this server that is out of the room already (its server acted first) is told too. */
  #kicked(event: KickedEvent, room: Room): void {
    const target = this.#registry.byId(event.targetId);
    if (target === undefined || room.members.has(target) || target.id === event.origin) return;
    sendEach(target.devices, [event]);
  }

  /**
   * An invitation reaches the invited member, and (IRC's invite-notify) the
   * room's operators whose renderer shows them such things.
   */
  #invited(event: InvitedEvent, room: Room): void {
    const target = this.#registry.byKey(nameKey(event.to));
    if (target !== undefined) sendEach(target.devices, [event]);
    const notify = [{ ...event, notify: true }];
    for (const [renderer, group] of room.groups) {
      const shown = renderer.render(notify, room.members.size);
      if (shown === null) continue;
      for (const device of group) {
        const member = device.member;
        if (member.id === event.origin || member === target) continue;
        if (member.operator || room.operators.has(member.id)) device.endpoint.send(shown);
      }
    }
  }

  /** A member event reaches everyone who shares a room with its subject, once. */
  #toNeighbours(event: MemberEvent): void {
    const remote = event.origin !== "" && !this.#registry.byId(event.origin);
    const self = remote ? this.sameAccount(event) : undefined;
    // The member's other server is gone or its last device there left: it is still here.
    if (self !== undefined && event.kind === "quit") return;
    const delivery = ++this.#lastDelivery;
    const events = [event];
    for (const name of event.rooms) {
      const room = this.#registry.roomOf(name);
      if (room === undefined || event.quietIn?.includes(name)) continue;
      for (const [renderer, group] of room.groups) {
        const bytes = renderer.render(events, room.members.size);
        if (bytes === null) continue;
        for (const device of group) {
          const member = device.member;
          if (device.delivery === delivery || member.id === event.origin || member === self) {
            continue;
          }
          device.delivery = delivery;
          device.endpoint.send(bytes);
        }
      }
    }
    if (event.kind === "quit" && remote) {
      this.#follow?.(event, undefined);
    }
  }

  #toReceiver(event: PrivateEvent): void {
    const target = this.#registry.byKey(nameKey(event.to));
    if (target !== undefined) {
      const from = target.id === event.origin ? event.device : undefined;
      for (const device of target.devices) {
        if (from !== undefined && device.number === from) continue;
        const bytes = device.renderer.render([event], 1);
        if (bytes !== null) device.endpoint.send(bytes);
      }
      this.#deliveries++;
    }
    // The sender's copy for its other devices, here (and on the other servers it is on).
    const sender = this.#registry.byId(event.origin) ?? this.sameAccount(event);
    if (sender === undefined || sender === target) return;
    const from = sender.id === event.origin ? event.device ?? 0 : undefined;
    if (from === 0) return; // said on its only device
    const sent = [{ ...event, sent: true }];
    for (const device of sender.devices) {
      if (device.number === from) continue;
      const bytes = device.renderer.render(sent, 1);
      if (bytes !== null) device.endpoint.send(bytes);
    }
  }

  /** The member here that `event` is about when it came from its account's member elsewhere. */
  sameAccount(event: { origin: string; nick: string; account?: string }): Member | undefined {
    return sameAccount(this.#registry, event);
  }
}

/** Renders `events` for each device and sends what it shows. */
function sendEach(devices: readonly Device[], events: ChatEvent[]): void {
  for (const device of devices) {
    const bytes = device.renderer.render(events, 1);
    if (bytes !== null) device.endpoint.send(bytes);
  }
}
