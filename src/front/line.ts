/**
 * The line protocol, both directions, in one place: what a client's line
 * means ({@linkcode parseLine}), how events and replies look as lines (the
 * {@linkcode lineRenderer} and the `…Text` functions), and how a client reads
 * the server's lines back ({@linkcode parseServerLine}: the terminal client and
 * `--reconnect` use it, so a notice is parsed where it is worded). Pure: no
 * sockets, no chat state.
 *
 * Client → server: plain text is a room message; `/command args` is a command;
 * `//text` is a message that starts with `/`.
 *
 * Server → client, each line starts with a kind a reader can tell apart:
 * `<nick> text`, `* nick action`, `*nick* private`, `-> *nick* private`,
 * `*** notice`, `!!! error`; inside a history block, lines start with the
 * time they were said: `[07:12] <alice> hello`.
 *
 * @module
 */

import type { Renderer } from "../core/chat.ts";
import type { MemberInfo, Problem, Topic } from "../core/commands.ts";
import type { ChatEvent, MessageEvent, QuitReason } from "../core/events.ts";
import { MAX_NICK, MAX_ROOM, type NameProblem } from "../core/names.ts";
import type { Refusal } from "../net/admission.ts";

/** What one line from a client asks for. */
export type LineCommand =
  | { kind: "say"; text: string }
  | { kind: "me"; text: string }
  | { kind: "msg"; nick: string; text: string }
  | { kind: "nick"; nick: string }
  | { kind: "who" }
  | { kind: "join"; room: string }
  | { kind: "rooms" }
  /** Show the room's topic, or set it. */
  | { kind: "topic"; text?: string }
  | { kind: "register"; password: string }
  | { kind: "identify"; nick?: string; password: string }
  | { kind: "drop"; nick?: string }
  /** `/password OLD NEW`; operators' `/setpassword NICK NEW` has `nick` (and no old one). */
  | { kind: "password"; first: string; nick?: string; password: string }
  | { kind: "oper"; password: string }
  /** An operator command (`/kick`, `/ban`, …), parsed by the console's grammar. */
  | { kind: "operator"; line: string }
  | { kind: "quit"; reason: string }
  | { kind: "help" }
  /** A command without what it needs: `form` shows how it is used. */
  | { kind: "usage"; form: string }
  | { kind: "unknown"; name: string };

/** Longest `/quit` reason kept, in characters. */
export const MAX_REASON = 100;
/** Names listed by `/who` and rooms by `/rooms` before "and N more". */
export const MAX_LISTED = 100;
/**
 * Joins and leaves are announced only to rooms of fewer others than this: in a
 * room of thousands they would drown the conversation (and cost members ×
 * members lines when everyone arrives).
 */
export const ANNOUNCE_LIMIT = 200;

const SLASH = 0x2f;
const encoder = new TextEncoder();

/** The commands and what they do, as `/help` prints them. */
export const HELP: readonly string[] = [
  "commands:",
  "  text              say text to everyone in your room",
  `  /nick NAME        change your nickname (letters, digits, _ - . ; up to ${MAX_NICK})`,
  "  /me ACTION        act: * you ACTION",
  "  /msg NICK TEXT    private message to NICK",
  "  /who              who is in your room",
  "  /join ROOM        switch to ROOM (created if needed; everyone starts in lobby)",
  "  /rooms            rooms and how many are in each",
  "  /topic [TEXT]     show your room's topic, or set it (if you created the room)",
  "  /register PASSWORD      reserve your nick with a password",
  "  /identify [NICK] PASSWORD   prove a nick is yours (you then have it)",
  "  /password OLD NEW       change your password;  /drop  give up your nick's account",
  "  /oper PASSWORD    become a server operator (then /kick, /ban, /mute, /say, … work)",
  "  /quit [REASON]    leave",
  "  /help             this list",
  "  //text            say text that starts with /",
];

/**
 * Parses a cleaned line. Plain text (the common case) is recognised without a
 * regular expression so that the message path stays cheap.
 */
export function parseLine(line: string): LineCommand {
  if (line.charCodeAt(0) !== SLASH) return { kind: "say", text: line };
  if (line.charCodeAt(1) === SLASH) return { kind: "say", text: line.slice(1) };

  const match = /^\/(\S*)\s*(.*)$/s.exec(line)!;
  const name = match[1].toLowerCase();
  const args = match[2].trim();
  switch (name) {
    case "me":
      return args ? { kind: "me", text: args } : { kind: "usage", form: "/me ACTION" };
    case "msg":
    case "m": {
      const [, nick, text] = /^(\S+)\s+(.*)$/s.exec(args) ?? [];
      return nick && text?.trim()
        ? { kind: "msg", nick, text: text.trim() }
        : { kind: "usage", form: "/msg NICK TEXT" };
    }
    case "nick":
      return args ? { kind: "nick", nick: args } : { kind: "usage", form: "/nick NAME" };
    case "who":
    case "names":
      return { kind: "who" };
    case "join":
      return args
        ? { kind: "join", room: args.replace(/^#/, "") }
        : { kind: "usage", form: "/join ROOM" };
    case "rooms":
    case "list":
      return { kind: "rooms" };
    case "topic":
      return args ? { kind: "topic", text: args } : { kind: "topic" };
    case "register":
      return args
        ? { kind: "register", password: args }
        : { kind: "usage", form: "/register PASSWORD" };
    case "identify": {
      const words = args.split(/\s+/).filter(Boolean);
      if (words.length === 1) return { kind: "identify", password: words[0] };
      if (words.length === 2) return { kind: "identify", nick: words[0], password: words[1] };
      return { kind: "usage", form: "/identify [NICK] PASSWORD" };
    }
    case "drop":
      return args ? { kind: "drop", nick: args } : { kind: "drop" };
    case "password": {
      const words = args.split(/\s+/).filter(Boolean);
      return words.length === 2
        ? { kind: "password", first: words[0], password: words[1] }
        : { kind: "usage", form: "/password OLD NEW" };
    }
    case "setpassword": {
      const words = args.split(/\s+/).filter(Boolean);
      return words.length === 2
        ? { kind: "password", first: "", nick: words[0], password: words[1] }
        : { kind: "usage", form: "/setpassword NICK NEW" };
    }
    case "oper":
      return args ? { kind: "oper", password: args } : { kind: "usage", form: "/oper PASSWORD" };
    case "kick":
    case "ban":
    case "unban":
    case "bans":
    case "mute":
    case "unmute":
    case "say":
    case "stats":
      return { kind: "operator", line };
    case "quit":
    case "exit":
      return { kind: "quit", reason: [...args].slice(0, MAX_REASON).join("") };
    case "help":
    case "?":
      return { kind: "help" };
    default:
      return { kind: "unknown", name };
  }
}

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
  }
}

/** A problem, worded for a line client (the text of its `!!!` line). */
export function problemText(problem: Problem): string {
  switch (problem.code) {
    case "nick-invalid":
      return nameProblemText("nickname", problem.why);
    case "nick-taken":
      return `nickname ${problem.nick} is taken`;
    case "room-invalid":
      return nameProblemText("room name", problem.why);
    case "too-many-rooms":
      return `too many rooms (at most ${problem.max}); join an existing one (/rooms)`;
    case "already-in-room":
      return `you are already in #${problem.room}`;
    case "not-in-room":
      return `you are not in #${problem.room}`;
    case "no-such-nick":
      return `no such nick: ${problem.nick}`;
    case "no-such-room":
      return `no such room: #${problem.room}`;
    case "not-operator":
      return `only the operator of #${problem.room} (who created it) can set its topic`;
    case "nick-reserved":
      return `the nick ${problem.nick} is reserved; choose another`;
    case "nick-registered":
      return `the nick ${problem.nick} is registered; /identify ${problem.nick} PASSWORD if it is yours`;
    case "not-registered":
      return `the nick ${problem.nick} is not registered`;
    case "wrong-password":
      return `wrong password for ${problem.nick}`;
    case "too-many-attempts":
      return `too many wrong passwords from your address; try again in ${problem.seconds} s`;
    case "not-identified":
      return `you have not proved the nick ${problem.nick} (/identify PASSWORD)`;
    case "password-too-short":
      return `a password needs at least ${problem.min} characters`;
    case "accounts-unavailable":
      return "accounts cannot be checked right now; try again later";
    case "account-required":
      return "this server lets only registered nicks speak: /identify NICK PASSWORD";
    case "muted":
      return problem.until === null
        ? "you are muted; your lines go nowhere"
        : `you are muted until ${historyTime(problem.until, Date.now())}; your lines go nowhere`;
    case "not-server-operator":
      return "only server operators can do that (/oper PASSWORD)";
    case "wrong-oper-password":
      return "wrong operator password";
    case "no-operators":
      return "this server has no operators";
    case "no-such-ban":
      return `no ban on ${problem.mask}`;
    case "ban-covers-you":
      return `a ban on ${problem.mask} would cover your own address; ban from the server console`;
  }
}

/** Why a connection is turned away, as the client is told (its `!!!` line) and the log says. */
export function refusalText(refusal: Refusal): string {
  switch (refusal.code) {
    case "full":
      return `server full (${refusal.max} ${
        refusal.max === 1 ? "client" : "clients"
      }); try again later`;
    case "per-address":
      return `too many connections from ${refusal.address} (at most ${refusal.max})`;
    case "banned":
      return `you are banned from this server${
        refusal.ban.expires === null ? "" : ` until ${banEndText(refusal.ban.expires)}`
      }${refusal.ban.reason ? `: ${refusal.ban.reason}` : ""}`;
    case "connect-rate":
      return `too many new connections from ${refusal.address} (at most ${refusal.max} a minute); try again later`;
  }
}

/** When a ban ends, in UTC (the server's clock and the user's may be in different zones). */
function banEndText(expires: number): string {
  return new Date(expires).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** The usage error of a command given without what it needs. */
export function usageText(form: string): string {
  return `usage: ${form}`;
}

/** The error for a command parley does not have. */
export function unknownCommandText(name: string): string {
  return `unknown command /${name} (try /help)`;
}

/** The first welcome notice: it names the newcomer's nick. */
export function welcomeText(nick: string): string {
  return `welcome to parley, you are ${nick}`;
}

/** The second welcome notice. */
export function onlineText(online: number, room: string, inRoom: number): string {
  return `${online} online, ${inRoom} in #${room}; /nick NAME to change your name, /help for commands`;
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

/** What a removed member is told before its connection closes. */
export function removalText(
  removal: { how: "kicked" | "banned"; by: string; reason: string },
): string {
  const why = removal.reason ? ` (${removal.reason})` : "";
  return removal.how === "kicked"
    ? `you were kicked by ${removal.by}${why}`
    : `your address is banned${why}`;
}

/** The notice that closes a history block. */
export const HISTORY_END_TEXT = "end of history; new messages follow";

/**
 * `/who`: who is in the room, at most {@linkcode MAX_LISTED} names, the
 * room's operator marked `@`.
 */
export function whoText(room: string, members: readonly MemberInfo[], online: number): string {
  const shown = members.slice(0, MAX_LISTED)
    .map((member) => (member.operator ? "@" : "") + member.nick)
    .join(", ");
  const more = members.length > MAX_LISTED ? ` and ${members.length - MAX_LISTED} more` : "";
  return `in #${room}: ${shown}${more} (${members.length} here, ${online} online)`;
}

/** A room's topic, as `/topic` and entering the room show it. */
export function topicText(room: string, topic: Topic | null, now: number): string {
  if (topic === null) return `#${room} has no topic`;
  return `topic of #${room}: ${topic.text} (set by ${topic.nick}, ${historyTime(topic.time, now)})`;
}

/** `/rooms`: rooms and their member counts, at most {@linkcode MAX_LISTED}. */
export function roomsText(rooms: readonly { name: string; members: number }[]): string {
  const shown = rooms.slice(0, MAX_LISTED).map((room) => `#${room.name} (${room.members})`)
    .join(", ");
  const more = rooms.length > MAX_LISTED ? ` and ${rooms.length - MAX_LISTED} more` : "";
  return `rooms: ${shown}${more}`;
}

/** Why someone left, as the room is told (`quit`, `quit: gone fishing`, `reset`, …). */
export function quitWhy(reason: QuitReason, detail: string): string {
  // An operator's removal says it all: `kicked by op: spam`, `banned by op`.
  if (reason === "kicked" && detail) return detail;
  return detail ? `${reason}: ${detail}` : reason;
}

/** `<nick> text` or `* nick text`: a room message as a line. */
export function messageLine(event: MessageEvent): string {
  return event.action ? `* ${event.nick} ${event.text}` : `<${event.nick}> ${event.text}`;
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
export function historyLine(event: MessageEvent, now: number): string {
  return `[${historyTime(event.time, now)}] ${messageLine(event)}`;
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

/** The line protocol's rendering of an event, or null when line clients are not shown it. */
export function eventLine(event: ChatEvent, audience: number): string | null {
  switch (event.kind) {
    case "message":
      return messageLine(event);
    case "private":
      return `*${event.nick}* ${event.action ? `* ${event.text}` : event.text}`;
    case "renamed":
      return noticeLine(`${event.nick} is now known as ${event.to}`);
    case "topic":
      return noticeLine(`${event.nick} set the topic of #${event.room}: ${event.text}`);
    case "joined":
      return audience < ANNOUNCE_LIMIT ? noticeLine(`${event.nick} joined #${event.room}`) : null;
    case "left":
      if (audience >= ANNOUNCE_LIMIT) return null;
      return noticeLine(
        event.how === "moved"
          ? `${event.nick} went to #${event.to}`
          : `${event.nick} left #${event.room}${event.text ? ` (${event.text})` : ""}`,
      );
    case "quit":
      return audience < ANNOUNCE_LIMIT
        ? noticeLine(`${event.nick} left (${quitWhy(event.reason, event.detail)})`)
        : null;
    case "notice":
      return noticeLine(event.text);
  }
}

/**
 * How line clients see events: each batch becomes its lines, joined, encoded
 * once; every line client of a room shares the bytes.
 */
export const lineRenderer: Renderer = {
  render(events: readonly ChatEvent[], audience: number): Uint8Array | null {
    if (events.length === 1) {
      const line = eventLine(events[0], audience);
      return line === null ? null : encodeLine(line);
    }
    let text = "";
    for (const event of events) {
      const line = eventLine(event, audience);
      if (line !== null) text += line + "\n";
    }
    return text === "" ? null : encoder.encode(text);
  },
};

/** What a server notice tells a client about itself or the stream. */
export type NoticeMeaning =
  | { about: "welcome"; nick: string }
  | { about: "renamed"; nick: string }
  | { about: "moved"; room: string }
  | { about: "history-start" }
  | { about: "history-end" };

/** One line from the server, as a client reads it. */
export type ServerLine =
  | { kind: "message"; nick: string; text: string }
  | { kind: "action"; nick: string; text: string }
  | { kind: "private"; nick: string; text: string }
  | { kind: "private-sent"; nick: string; text: string }
  | { kind: "notice"; text: string; meaning: NoticeMeaning | null }
  | { kind: "error"; text: string }
  /** A replayed line with the time it was said (`07:12` or `11-28 07:12`). */
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
    if (inner.kind === "message" || inner.kind === "action") {
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
  if (text === HISTORY_END_TEXT) return { about: "history-end" };
  return null;
}
