/**
 * What room operators do: change a room's modes and who is its operator or
 * voiced (`mode`), take someone out of it (`kick`), let someone in past its
 * door (`invite`); and how the rooms of this server follow what the room
 * operators of the other servers did (`follow`), so that a room is run the
 * same way on every server.
 *
 * A room operator is a member whose id is in the room's `operators`, or a
 * server operator (operators everywhere). Changes are published as room
 * events (`mode`, `kicked`, `invited`): the server where they were made
 * changes its rooms at once, the others when the event reaches them; the
 * store keeps the modes (`--data`, `--cluster`) and, where servers share
 * rooms, the statuses. The rules of the modes themselves are in
 * `channel_modes.ts`.
 *
 * @module
 */

import type { Bus } from "./bus.ts";
import {
  applyBan,
  applySetting,
  keyProblem,
  limitProblem,
  maskProblem,
  type ModeChange,
  normaliseMask,
  storedModes,
} from "./channel_modes.ts";
import type { Problem, Refused, Replies } from "./commands.ts";
import type {
  ChatEvent,
  Clock,
  InvitedEvent,
  KickedEvent,
  MemberEvent,
  ModeEvent,
  RoomEvent,
} from "./events.ts";
import type { Membership } from "./membership.ts";
import type { RemoteMember } from "./presence.ts";
import type { Member, Room } from "./records.ts";
import type { Registry } from "./registry.ts";
import type { Store } from "./store.ts";
import { nameKey } from "../protocol/names.ts";

/** What room operators' commands need around them. */
export interface ChannelOpsOptions {
  registry: Registry;
  membership: Membership;
  store: Store;
  bus: Bus;
  clock: Clock;
  /** The members of the other servers (a kick, an invite or a status for one of them). */
  elsewhere: () => Promise<RemoteMember[]>;
}

/** Someone a room operator names: here or on another server. */
interface Found {
  id: string;
  nick: string;
  /** This server's member, when it is one. */
  local: Member | null;
  /** In the room in question. */
  inRoom: boolean;
}

/** Room operators' commands, and following the other servers' ones. */
export class ChannelOps {
  readonly #registry: Registry;
  readonly #membership: Membership;
  readonly #store: Store;
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #elsewhere: () => Promise<RemoteMember[]>;

  constructor(options: ChannelOpsOptions) {
    this.#registry = options.registry;
    this.#membership = options.membership;
    this.#store = options.store;
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#elsewhere = options.elsewhere;
  }

  /** A room's modes, when it was made, and whether `m` is in it (then it is shown the key). */
  modes(m: Member, name: string): Replies["modes"] {
    const room = this.#registry.room(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    return {
      kind: "modes",
      room: room.name,
      modes: room.modes,
      created: room.created,
      member: room.members.has(m) || m.operator,
    };
  }

  /**
   * Changes a room's modes and statuses: its operators may, from inside it;
   * server operators from anywhere. Each change is checked on its own: those
   * that can be made are (one event tells the room), the others are answered
   * with why.
   */
  async mode(m: Member, name: string, changes: readonly ModeChange[]): Promise<Replies["mode"]> {
    const room = this.#registry.room(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    const allowed = this.#mayRun(m, room);
    if (allowed !== null) return refused(allowed);
    const lobby = this.#registry.isLobby(room);
    const applied: ModeChange[] = [];
    const problems: Problem[] = [];
    let settings = false;
    for (const asked of changes) {
      const change: ModeChange = { ...asked };
      if (change.mode === "o" || change.mode === "v") {
        const target = await this.#find(change.param ?? "", room);
        if (target === null) {
          problems.push({ code: "no-such-nick", nick: change.param ?? "" });
        } else if (!target.inRoom) {
          problems.push({ code: "user-not-in-room", nick: target.nick, room: room.name });
        } else if (setStatus(room, change.mode, target.id, change.on)) {
          this.#store.setStatus?.(room.key, target.id, statusOf(room, target.id));
          applied.push({ mode: change.mode, on: change.on, param: target.nick, id: target.id });
        }
        continue;
      }
      if (lobby && change.on && "iklb".includes(change.mode)) {
        problems.push({ code: "lobby-open", mode: change.mode });
        continue;
      }
      const problem = paramProblem(room, change);
      if (problem !== null) {
        problems.push(problem);
        continue;
      }
      const done = change.mode === "b"
        ? applyBan(room.modes, change, m.nick, this.#clock())
        : applySetting(room.modes, change);
      if (!done) continue;
      settings = true;
      applied.push(change);
    }
    if (applied.length === 0) {
      return { kind: "mode", room: room.name, event: null, refused: problems };
    }
    if (settings && this.#store.persistent) {
      this.#store.setModes(room.key, storedModes(room.modes, room.created));
    }
    const event: ModeEvent = {
      kind: "mode",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      changes: applied,
      time: this.#clock(),
      origin: m.id,
    };
    this.#publish(event, m);
    return { kind: "mode", room: room.name, event, refused: problems };
  }

  /**
   * Takes `nick` out of a room (not out of the chat), on whichever server it
   * is: the room's operators may, from inside it; server operators from
   * anywhere. The reason defaults to the operator's nick.
   */
  async kick(m: Member, name: string, nick: string, reason?: string): Promise<Replies["kick"]> {
    const room = this.#registry.room(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    const target = await this.#find(nick, room);
    if (target === null) return refused({ code: "no-such-nick", nick });
    const allowed = this.#mayRun(m, room);
    if (allowed !== null) return refused(allowed);
    if (!target.inRoom) {
      return refused({ code: "user-not-in-room", nick: target.nick, room: room.name });
    }
    const event: KickedEvent = {
      kind: "kicked",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      target: target.nick,
      targetId: target.id,
      text: reason || m.nick,
      time: this.#clock(),
      origin: m.id,
    };
    // Told while still in the room (a local bus delivers at once); out of it right after.
    this.#publish(event, m);
    if (target.local !== null) this.#membership.evict(target.local, room);
    else dropStatus(room, target.id);
    return { kind: "kicked", room: room.name, event };
  }

  /**
   * Invites `nick` into a room `m` is in: it may then enter past the room's
   * invite list, key, limit and bans, once. Only the room's operators may
   * invite into a room that is `+i`.
   */
  async invite(m: Member, name: string, nick: string): Promise<Replies["invite"]> {
    const room = this.#registry.room(nameKey(name));
    if (!room) return refused({ code: "no-such-room", room: name });
    if (!room.members.has(m) && !m.operator) {
      return refused({ code: "not-in-room", room: room.name });
    }
    if (room.modes.inviteOnly && !isOperator(room, m)) {
      return refused({ code: "not-operator", room: room.name });
    }
    const target = await this.#find(nick, room);
    if (target === null) return refused({ code: "no-such-nick", nick });
    if (target.inRoom) return refused({ code: "user-in-room", nick: target.nick, room: room.name });
    target.local?.invited.set(room.key, room.name);
    const event: InvitedEvent = {
      kind: "invited",
      room: room.name,
      seq: ++room.seq,
      nick: m.nick,
      user: m.user,
      to: target.nick,
      time: this.#clock(),
      origin: m.id,
    };
    this.#publish(event, m);
    return { kind: "invited", room: room.name, nick: target.nick, event };
  }

  /** The rooms `m` was invited to and has not entered since. */
  invites(m: Member): Replies["invites"] {
    return { kind: "invites", rooms: [...m.invited.values()] };
  }

  /**
   * An event another server published (its origin is not on this server):
   * this server's view of the room follows it (a room first met here is
   * made, where rooms are kept). Called after the event was delivered, so
   * that a kicked member is told before it leaves the room.
   */
  follow(event: RoomEvent | MemberEvent, room: Room | undefined): void {
    if (event.kind === "quit") {
      for (const name of event.rooms) {
        const left = this.#registry.roomOf(name);
        if (left !== undefined) dropStatus(left, event.origin);
      }
      return;
    }
    if (room === undefined) return;
    switch (event.kind) {
      case "joined":
        if (event.op) room.operators.add(event.origin);
        return;
      case "left":
        dropStatus(room, event.origin);
        return;
      case "kicked": {
        const target = this.#registry.byId(event.targetId);
        if (target !== undefined) this.#membership.evict(target, room);
        else dropStatus(room, event.targetId);
        return;
      }
      case "mode":
        for (const change of event.changes) {
          if (change.mode === "o" || change.mode === "v") {
            if (change.id !== undefined) setStatus(room, change.mode, change.id, change.on);
          } else if (change.mode === "b") {
            applyBan(room.modes, { ...change }, event.nick, event.time);
          } else {
            applySetting(room.modes, change);
          }
        }
        return;
      case "invited": {
        const target = this.#registry.byKey(nameKey(event.to));
        target?.invited.set(room.key, room.name);
        return;
      }
    }
  }

  /** Why `m` may not run `room` (not in it, not its operator), or null when it may. */
  #mayRun(m: Member, room: Room): Problem | null {
    if (m.operator) return null;
    if (!room.members.has(m)) return { code: "not-in-room", room: room.name };
    if (!room.operators.has(m.id)) return { code: "not-operator", room: room.name };
    return null;
  }

  /** The member called `nick`, on this server or another one; null when nobody is. */
  async #find(nick: string, room: Room): Promise<Found | null> {
    const key = nameKey(nick);
    const local = this.#registry.byKey(key);
    if (local !== undefined) {
      return { id: local.id, nick: local.nick, local, inRoom: room.members.has(local) };
    }
    const remote = (await this.#elsewhere()).find((member) => nameKey(member.nick) === key);
    if (remote === undefined) return null;
    return {
      id: remote.id,
      nick: remote.nick,
      local: null,
      inRoom: remote.rooms.some((name) => nameKey(name) === room.key),
    };
  }

  /** Publishes an event `m` made (with its account, for IRC's account-tag). */
  #publish(event: ChatEvent, m: Member): void {
    const account = accountOf(m);
    if (account !== null) event.account = account;
    this.#bus.publish([event]);
  }
}

/** The account an event of `m`'s carries: its name as registered, where members have one. */
function accountOf(m: Member): string | null {
  return (m as Member & { accountName?: string | null }).accountName ?? m.account;
}

/** Whether `m` runs `room`: one of its operators, or a server operator. */
export function isOperator(room: Room, m: Member): boolean {
  return m.operator || room.operators.has(m.id);
}

/** Whether `m` may speak in `room` now that it is moderated: voiced, or an operator. */
export function hasVoice(room: Room, m: Member): boolean {
  return room.voiced.has(m.id) || isOperator(room, m);
}

/** A member's status in a room as the store keeps it: `o`, `v`, `ov` or empty. */
export function statusOf(room: Room, id: string): string {
  return (room.operators.has(id) ? "o" : "") + (room.voiced.has(id) ? "v" : "");
}

/** Gives or takes a status; false when it was so already. */
function setStatus(room: Room, mode: "o" | "v", id: string, on: boolean): boolean {
  const set = mode === "o" ? room.operators : room.voiced;
  if (set.has(id) === on) return false;
  if (on) set.add(id);
  else set.delete(id);
  return true;
}

/** Someone of another server left a room: no status there any more. */
function dropStatus(room: Room, id: string): void {
  room.operators.delete(id);
  room.voiced.delete(id);
}

/** Why a key, limit or mask cannot be used, or null (a mask is made whole on the way). */
function paramProblem(room: Room, change: ModeChange): Problem | null {
  if (!change.on && change.mode !== "b") return null;
  const param = change.param ?? "";
  let why = null;
  switch (change.mode) {
    case "k":
      why = keyProblem(param);
      break;
    case "l":
      why = limitProblem(param);
      if (why === null) change.param = String(Number(param));
      break;
    case "b":
      change.param = normaliseMask(param);
      why = maskProblem(change.param);
      break;
    default:
      return null;
  }
  if (why === null) return null;
  return { code: "invalid-mode-param", room: room.name, mode: change.mode, param, why };
}

function refused(problem: Problem): Refused {
  return { kind: "refused", problem };
}
