/**
 * The line protocol's codec, both ways, shared by the server's line front end
 * and the terminal client: the shapes of the server's lines
 * (`<alice> hello`, `*** notice`, `!!! error`, a history line with its time)
 * and how a client reads them back ({@linkcode parseServerLine}). The notices
 * a client acts on (its nick, its room, the edges of a history block) are
 * worded here, next to the parser that recognises them. Pure: no sockets, no
 * chat state.
 *
 * Server → client, each line starts with a kind a reader can tell apart:
 * `<nick> text`, `* nick action`, `*nick* private`, `-> *nick* private`,
 * `*** notice`, `!!! error`; inside a history block, lines start with the
 * time they were said: `[07:12] <alice> hello`.
 *
 * @module
 */

import { MAX_NICK, MAX_ROOM, type NameProblem } from "./names.ts";

/** A room message as lines show it. */
export interface SaidLine {
  nick: string;
  text: string;
  /** `/me`. */
  action: boolean;
}

const encoder = new TextEncoder();

/** `*** text` */
export function noticeLine(text: string): string {
  return `*** ${text}`;
}

/** `!!! text` */
export function errorLine(text: string): string {
  return `!!! ${text}`;
}

/** One protocol line as bytes, with its LF. */
export function encodeLine(line: string): Uint8Array {
  return encoder.encode(line + "\n");
}

/** `<nick> text` or `* nick text`: a room message as a line. */
export function messageLine(said: SaidLine): string {
  return said.action ? `* ${said.nick} ${said.text}` : `<${said.nick}> ${said.text}`;
}

/** `-> *to* text`: the sender's copy of a private message, once delivered. */
export function privateSentLine(to: string, text: string, action: boolean): string {
  return `-> *${to}* ${action ? `* ${text}` : text}`;
}

/**
 * A replayed message: the line as it was, after the time it was said in the
 * server's local time (`[07:12] <alice> hello`), with the date when it was not
 * today (`[11-28 07:12] …`).
 */
export function historyLine(said: SaidLine & { time: number }, now: number): string {
  return `[${historyTime(said.time, now)}] ${messageLine(said)}`;
}

/** `HH:MM` when `time` is on the same local day as `now`, else `MM-DD HH:MM`. */
export function historyTime(time: number, now: number): string {
  const said = new Date(time);
  const today = new Date(now);
  const two = (value: number) => String(value).padStart(2, "0");
  const clock = `${two(said.getHours())}:${two(said.getMinutes())}`;
  const sameDay = said.getFullYear() === today.getFullYear() &&
    said.getMonth() === today.getMonth() && said.getDate() === today.getDate();
  return sameDay ? clock : `${two(said.getMonth() + 1)}-${two(said.getDate())} ${clock}`;
}

/** Why a nickname or room name cannot be used, in words. */
export function nameProblemText(what: "nickname" | "room name", why: NameProblem): string {
  switch (why) {
    case "empty":
      return `${what} is empty`;
    case "too-long":
      return `${what} is too long (at most ${
        what === "nickname" ? MAX_NICK : MAX_ROOM
      } characters)`;
    case "bad-characters":
      return `${what} may contain only letters, digits, _ - and .`;
    case "invisible":
      return `${what} may not contain invisible or blank characters`;
  }
}

/** The first welcome notice: it names the newcomer's nick. */
export function welcomeText(nick: string): string {
  return `welcome to parley, you are ${nick}`;
}

/** The longest line a parley server takes, in bytes, unless `--max-line` says otherwise. */
export const DEFAULT_MAX_LINE = 4096;

/**
 * The welcome notice of a server whose `--max-line` is not {@linkcode
 * DEFAULT_MAX_LINE}: clients then know what they may send.
 */
export function lineLimitText(maxLine: number): string {
  return `this server takes lines of up to ${maxLine} bytes`;
}

/**
 * The longest line, in bytes, a server line tells of: its welcome's
 * {@linkcode lineLimitText}, or its `!!! line too long (over N bytes) …`;
 * null for any other line.
 */
export function lineLimitOf(line: string): number | null {
  const match = /^\*\*\* this server takes lines of up to (\d+) bytes$/.exec(line) ??
    /^!!! line too long \(over (\d+) bytes\)/.exec(line);
  return match ? Number(match[1]) : null;
}

/** The notice after `/nick`. */
export function renamedText(nick: string): string {
  return `you are now ${nick}`;
}

/** The notice after `/nick` of the nick one has. */
export function alreadyText(nick: string): string {
  return `you are already ${nick}`;
}

/** The notice after `/join`. */
export function movedText(room: { name: string; size: number }): string {
  return `you are now in #${room.name} (${room.size} here)`;
}

/** The notice that opens a history block. */
export function historyStartText(count: number, room: string): string {
  return `last ${count === 1 ? "message" : `${count} messages`} in #${room}:`;
}

/** The notice that closes a history block. */
export const HISTORY_END_TEXT = "end of history; new messages follow";

/**
 * A kept line in a block of `/history` or `/search`: the time it was said
 * (as {@linkcode historyLine} shows it), then the line as it was (`<alice> hi`,
 * `* alice waves`, `*bob* psst`, `-> *bob* psst`).
 */
export function keptLine(line: string, time: number, now: number): string {
  return `[${historyTime(time, now)}] ${line}`;
}

/** `*bob* psst`: a private message as its receiver saw it. */
export function privateLine(nick: string, text: string, action: boolean): string {
  return `*${nick}* ${action ? `* ${text}` : text}`;
}

/**
 * The answer to `/read`: the room's read marker is at `time` (what the member's other
 * devices count as read), in the server's local time as history shows it.
 */
export function readText(room: string, time: number, now: number): string {
  return `read #${room} up to ${historyTime(time, now)}`;
}

/** The notice that opens the block `/history` answers with (older lines, oldest first). */
export function earlierStartText(count: number, room: string): string {
  return `${count === 1 ? "1 earlier message" : `${count} earlier messages`} in #${room}:`;
}

/** The notice that closes the block of `/history`. */
export const EARLIER_END_TEXT = "end of earlier messages";

/** What `/history` says when nothing older is kept. */
export function noEarlierText(room: string): string {
  return `no earlier messages in #${room}`;
}

/** The notice that opens the block `/search` answers with (oldest first). */
export function searchStartText(count: number, text: string, where: string): string {
  return `${count === 1 ? "1 message" : `${count} messages`} with "${text}" in ${where}:`;
}

/** The notice that closes the block of `/search`. */
export const SEARCH_END_TEXT = "end of search";

/** What a server notice tells a client about itself or the stream. */
export type NoticeMeaning =
  | { about: "welcome"; nick: string }
  | { about: "renamed"; nick: string }
  | { about: "moved"; room: string }
  | { about: "history-start" }
  | { about: "history-end" }
  /** `/history`'s block: older lines, oldest first; or nothing older is kept. */
  | { about: "earlier-start"; count: number }
  | { about: "earlier-end" }
  | { about: "earlier-none" }
  /** The answer to `/read`: the room's read marker moved (a client that sent it quietly hides it). */
  | { about: "read"; room: string };

/** One line from the server, as a client reads it. */
export type ServerLine =
  | { kind: "message"; nick: string; text: string }
  | { kind: "action"; nick: string; text: string }
  | { kind: "private"; nick: string; text: string }
  | { kind: "private-sent"; nick: string; text: string }
  | { kind: "notice"; text: string; meaning: NoticeMeaning | null }
  | { kind: "error"; text: string }
  /** A replayed or kept line with the time it was said (`07:12` or `11-28 07:12`). */
  | { kind: "history"; time: string; line: ServerLine }
  /** Anything else (another server's lines). */
  | { kind: "other"; text: string };

const MESSAGE = /^<([^>\s]+)> (.*)$/s;
const PRIVATE = /^\*([^*\s]+)\* (.*)$/s;
const PRIVATE_SENT = /^-> \*([^*\s]+)\* (.*)$/s;
const ACTION = /^\* (\S+) (.*)$/s;
const HISTORY = /^\[((?:\d\d-\d\d )?\d\d:\d\d)\] (.*)$/s;
const WELCOME = /^welcome to parley, you are (\S+)$/;
const RENAMED = /^you are (?:now|already) (\S+)$/;
const MOVED = /^you are now in #(\S+) \(\d+ here\)$/;
const HISTORY_START = /^last (?:message|\d+ messages) in #\S+:$/;
const READ = /^read #(\S+) up to /;
const EARLIER_START = /^(\d+) earlier messages? in #\S+:$/;
const EARLIER_NONE = /^no earlier messages in #\S+$/;

/** Reads one (cleaned) line from a parley server. */
export function parseServerLine(line: string): ServerLine {
  let match: RegExpExecArray | null;
  if (line.startsWith("*** ")) {
    const text = line.slice(4);
    return { kind: "notice", text, meaning: noticeMeaning(text) };
  }
  if (line.startsWith("!!! ")) return { kind: "error", text: line.slice(4) };
  if ((match = MESSAGE.exec(line))) return { kind: "message", nick: match[1], text: match[2] };
  if ((match = PRIVATE_SENT.exec(line))) {
    return { kind: "private-sent", nick: match[1], text: match[2] };
  }
  if ((match = PRIVATE.exec(line))) return { kind: "private", nick: match[1], text: match[2] };
  if ((match = ACTION.exec(line))) return { kind: "action", nick: match[1], text: match[2] };
  if ((match = HISTORY.exec(line))) {
    const inner = parseServerLine(match[2]);
    if (
      inner.kind === "message" || inner.kind === "action" || inner.kind === "private" ||
      inner.kind === "private-sent"
    ) {
      return { kind: "history", time: match[1], line: inner };
    }
  }
  return { kind: "other", text: line };
}

function noticeMeaning(text: string): NoticeMeaning | null {
  let match: RegExpExecArray | null;
  if ((match = WELCOME.exec(text))) return { about: "welcome", nick: match[1] };
  if ((match = MOVED.exec(text))) return { about: "moved", room: match[1] };
  if ((match = RENAMED.exec(text))) return { about: "renamed", nick: match[1] };
  if (HISTORY_START.test(text)) return { about: "history-start" };
  if ((match = READ.exec(text))) return { about: "read", room: match[1] };
  if (text === HISTORY_END_TEXT) return { about: "history-end" };
  if ((match = EARLIER_START.exec(text))) {
    return { about: "earlier-start", count: Number(match[1]) };
  }
  if (text === EARLIER_END_TEXT) return { about: "earlier-end" };
  if (EARLIER_NONE.test(text)) return { about: "earlier-none" };
  return null;
}
