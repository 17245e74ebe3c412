/**
 * Events read back from Redis are checked like client input: anyone who can
 * publish on a feed's channel (or write its log) must not be able to send raw
 * LF or ESC to line clients, a nick that is not one, or fields of the wrong
 * type that a renderer would trip over. {@linkcode checkEvent} rebuilds an
 * event from the fields its kind has, each checked and text cleaned (control
 * characters and bidi overrides removed, as for what clients send), or says
 * why it is not one. Pure.
 *
 * @module
 */

import {
  keyProblem,
  limitProblem,
  maskProblem,
  type ModeChange,
} from "../../core/channel_modes.ts";
import { parseCidr } from "../../core/cidr.ts";
import type { ChatEvent, ModeratedEvent } from "../../core/events.ts";
import { nickProblem, roomProblem } from "../../protocol/names.ts";
import { cleanString } from "../../text.ts";

/** The longest text an event may carry (a line is at most `--max-line`; this bounds the rest). */
const MAX_TEXT = 64 * 1024;
/** The most client-only tag data an event may carry (what a client may send, and some). */
const MAX_TAGS = 8192;
/** The longest member id, user name or quit detail kept. */
const MAX_SHORT = 256;

/** Why a value is not an event. */
class NotAnEvent extends Error {}

/** The event `raw` stands for, checked and cleaned; or why it is none. */
export function checkEvent(raw: unknown): { event: ChatEvent } | { why: string } {
  try {
    return { event: rebuild(raw) };
  } catch (error) {
    if (error instanceof NotAnEvent) return { why: error.message };
    throw error;
  }
}

function rebuild(raw: unknown): ChatEvent {
  if (typeof raw !== "object" || raw === null) throw new NotAnEvent("not an object");
  const value = raw as Record<string, unknown>;
  const event = rebuildKind(value);
  const id = value.id;
  if (id !== undefined) {
    if (typeof id !== "string" || !/^[0-9A-Za-z_-]{1,64}$/.test(id)) throw new NotAnEvent("id");
    event.id = id;
  }
  if (value.account !== undefined) event.account = nick(value, "account");
  // Which of its origin's devices it came from (issue 23): a small whole number.
  if (value.device !== undefined) {
    if (!Number.isSafeInteger(value.device) || (value.device as number) < 1) {
      throw new NotAnEvent("device");
    }
    event.device = value.device as number;
  }
  if (event.kind === "message" || event.kind === "private") {
    if (value.tagmsg === true) event.tagmsg = true;
    if (value.tags !== undefined) event.tags = clientTags(value.tags);
  }
  if (event.kind === "joined" && value.realname !== undefined) {
    event.realname = short(value, "realname");
  }
  if (event.kind === "joined" && value.away !== undefined) event.away = short(value, "away");
  if (event.kind === "joined" && value.op === true) event.op = true;
  // A big room's quiet entrance or exit (`core/big_rooms.ts`).
  if ((event.kind === "joined" || event.kind === "left") && value.quiet === true) {
    event.quiet = true;
  }
  if ("rooms" in event && value.quietIn !== undefined) {
    event.quietIn = rooms({ rooms: value.quietIn });
  }
  return event;
}

function rebuildKind(value: Record<string, unknown>): ChatEvent {
  const time = number(value, "time");
  const origin = short(value, "origin");
  switch (value.kind) {
    case "message": {
      const event: ChatEvent = {
        kind: "message",
        ...inRoom(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        text: text(value, "text"),
        action: boolean(value, "action"),
      };
      if (value.notice === true) event.notice = true;
      return event;
    }
    case "joined":
      return {
        kind: "joined",
        ...inRoom(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
      };
    case "left": {
      const how = value.how;
      if (how !== "moved" && how !== "part") throw new NotAnEvent("left: how");
      const event: ChatEvent = {
        kind: "left",
        ...inRoom(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        how,
      };
      if (how === "moved") event.to = room(value, "to");
      else if (value.text !== undefined) event.text = text(value, "text");
      return event;
    }
    case "topic":
      return {
        kind: "topic",
        ...inRoom(value),
        time,
        origin,
        nick: value.nick === "server" ? "server" : nick(value, "nick"),
        user: short(value, "user"),
        text: text(value, "text"),
      };
    case "mode":
      return {
        kind: "mode",
        ...inRoom(value),
        time,
        origin,
        nick: value.nick === "server" ? "server" : nick(value, "nick"),
        user: short(value, "user"),
        changes: modeChanges(value.changes),
      };
    case "kicked":
      return {
        kind: "kicked",
        ...inRoom(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        target: nick(value, "target"),
        targetId: short(value, "targetId"),
        text: text(value, "text"),
      };
    case "invited":
      return {
        kind: "invited",
        ...inRoom(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        to: nick(value, "to"),
      };
    case "renamed":
      return {
        kind: "renamed",
        rooms: rooms(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        to: nick(value, "to"),
      };
    case "quit": {
      const reason = short(value, "reason");
      if (!/^[a-z ]{1,32}$/.test(reason)) throw new NotAnEvent("quit: reason");
      return {
        kind: "quit",
        rooms: rooms(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        reason: reason as Extract<ChatEvent, { kind: "quit" }>["reason"],
        detail: short(value, "detail"),
      };
    }
    case "away":
      return {
        kind: "away",
        rooms: rooms(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        text: short(value, "text"),
      };
    case "realname":
      return {
        kind: "realname",
        rooms: rooms(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        realname: short(value, "realname"),
      };
    case "account":
      // The account it has now is `account` (checked with the other fields); none: dropped.
      return {
        kind: "account",
        rooms: rooms(value),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
      };
    case "private": {
      const event: ChatEvent = {
        kind: "private",
        to: nick(value, "to"),
        time,
        origin,
        nick: nick(value, "nick"),
        user: short(value, "user"),
        text: text(value, "text"),
        action: boolean(value, "action"),
      };
      if (value.notice === true) event.notice = true;
      return event;
    }
    case "notice": {
      // Only an operator's announcement and a member's read marker (for its devices on the
      // other servers) travel between servers; the rest are local.
      const notice = value.notice as Record<string, unknown> | null | undefined;
      if (typeof notice === "object" && notice !== null && notice.code === "read-marker") {
        const target = short(notice, "target");
        if (target === "") throw new NotAnEvent("read-marker: target");
        return {
          kind: "notice",
          notice: { code: "read-marker", target, time: number(notice, "time") },
          to: nick(value, "to"),
          time,
          origin,
        };
      }
      if (typeof notice !== "object" || notice === null || notice.code !== "announcement") {
        throw new NotAnEvent("notice: not an announcement");
      }
      return {
        kind: "notice",
        notice: { code: "announcement", text: text(notice, "text") },
        time,
        origin,
      };
    }
    case "moderated":
      return moderated(value, time, origin);
    default:
      throw new NotAnEvent("unknown kind");
  }
}

/** A server operator's act: the fields of its kind, keys and mask checked. */
function moderated(value: Record<string, unknown>, time: number, origin: string): ChatEvent {
  const act = value.act;
  if (act !== "kick" && act !== "mute" && act !== "unmute" && act !== "ban" && act !== "unban") {
    throw new NotAnEvent("moderated: act");
  }
  const event: ModeratedEvent = {
    kind: "moderated",
    act,
    server: short(value, "server"),
    by: short(value, "by"),
    time,
    origin,
  };
  if (value.target !== undefined) event.target = short(value, "target");
  if (value.nick !== undefined) event.nick = nick(value, "nick");
  if (value.reason !== undefined) event.reason = short(value, "reason");
  if (value.until !== undefined && value.until !== null) event.until = number(value, "until");
  else if (value.until === null) event.until = null;
  if (value.keys !== undefined) {
    const keys = value.keys;
    if (!Array.isArray(keys) || keys.length > 16) throw new NotAnEvent("keys");
    event.keys = keys.map((_, i) => {
      const key = short(keys as unknown as Record<string, unknown>, String(i));
      if (key === "" || /\s/u.test(key)) throw new NotAnEvent("keys");
      return key;
    });
  }
  if (value.mask !== undefined) {
    const mask = short(value, "mask");
    if (parseCidr(mask) === null) throw new NotAnEvent("mask");
    event.mask = mask;
  }
  if (act === "kick" && event.target === undefined) throw new NotAnEvent("kick: target");
  if ((act === "ban" || act === "unban") && event.mask === undefined) {
    throw new NotAnEvent(`${act}: mask`);
  }
  return event;
}

/** The changes of a mode event: known letters, parameters checked as a room operator's would be. */
function modeChanges(raw: unknown): ModeChange[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 64) throw new NotAnEvent("changes");
  return raw.map((item) => {
    if (typeof item !== "object" || item === null) throw new NotAnEvent("changes");
    const value = item as Record<string, unknown>;
    const mode = value.mode;
    if (typeof mode !== "string" || !/^[biklmnostv]$/.test(mode)) throw new NotAnEvent("mode");
    const change: ModeChange = { mode: mode as ModeChange["mode"], on: boolean(value, "on") };
    if (value.param !== undefined) {
      const param = short(value, "param");
      const why = mode === "k"
        ? keyProblem(param)
        : mode === "l"
        ? limitProblem(param)
        : mode === "b"
        ? maskProblem(param)
        : nickProblem(param);
      if (why !== null && (change.on || mode === "o" || mode === "v")) {
        throw new NotAnEvent("mode parameter");
      }
      change.param = param;
    }
    if ((mode === "o" || mode === "v") && change.param === undefined) throw new NotAnEvent("mode");
    if (value.id !== undefined) change.id = short(value, "id");
    return change;
  });
}

/** Client-only tags: `+name` keys, string values, a bounded size. */
function clientTags(raw: unknown): Record<string, string> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new NotAnEvent("tags");
  const tags: Record<string, string> = {};
  let size = 0;
  for (const [key, value] of Object.entries(raw)) {
    if (!/^\+(?:[A-Za-z0-9.-]+\/)?[A-Za-z0-9-]+$/.test(key) || typeof value !== "string") {
      throw new NotAnEvent("tags");
    }
    size += key.length + value.length + 2;
    if (size > MAX_TAGS || value.includes("\0")) throw new NotAnEvent("tags");
    tags[key] = value;
  }
  return tags;
}

function inRoom(value: Record<string, unknown>): { room: string; seq: number } {
  const seq = value.seq ?? 0;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw new NotAnEvent("seq");
  return { room: room(value, "room"), seq: seq as number };
}

function number(value: Record<string, unknown>, field: string): number {
  const found = value[field];
  if (typeof found !== "number" || !Number.isFinite(found)) throw new NotAnEvent(field);
  return found;
}

function boolean(value: Record<string, unknown>, field: string): boolean {
  const found = value[field];
  if (typeof found !== "boolean") throw new NotAnEvent(field);
  return found;
}

function text(value: Record<string, unknown>, field: string): string {
  const found = value[field];
  if (typeof found !== "string" || found.length > MAX_TEXT) throw new NotAnEvent(field);
  return cleanString(found);
}

function short(value: Record<string, unknown>, field: string): string {
  const found = value[field] ?? "";
  if (typeof found !== "string" || found.length > MAX_SHORT) throw new NotAnEvent(field);
  return cleanString(found);
}

function nick(value: Record<string, unknown>, field: string): string {
  const found = value[field];
  if (typeof found !== "string" || nickProblem(found) !== null) throw new NotAnEvent(field);
  return found;
}

function room(value: Record<string, unknown>, field: string): string {
  const found = value[field];
  if (typeof found !== "string" || roomProblem(found) !== null) throw new NotAnEvent(field);
  return found;
}

function rooms(value: Record<string, unknown>): string[] {
  const found = value.rooms;
  if (!Array.isArray(found) || found.length > 1000) throw new NotAnEvent("rooms");
  return found.map((_, i) => room(found as unknown as Record<string, unknown>, String(i)));
}
