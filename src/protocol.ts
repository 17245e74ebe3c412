/**
 * The wire protocol: what a client's line means, and how every line the server
 * sends is shaped. Pure functions, no sockets.
 *
 * Client → server: plain text is a room message; `/command args` is a command;
 * `//text` is a message that starts with `/`.
 *
 * Server → client, each line starts with a kind a reader can tell apart:
 * `<nick> text`, `* nick action`, `*nick* private`, `-> *nick* private`,
 * `*** notice`, `!!! error`.
 *
 * @module
 */

/** What one line from a client asks for. */
export type Command =
  | { kind: "say"; text: string }
  | { kind: "me"; text: string }
  | { kind: "msg"; nick: string; text: string }
  | { kind: "nick"; nick: string }
  | { kind: "who" }
  | { kind: "join"; room: string }
  | { kind: "rooms" }
  | { kind: "quit"; reason: string }
  | { kind: "help" }
  | { kind: "invalid"; error: string };

/** Longest nickname, in characters. */
export const MAX_NICK = 24;
/** Longest room name, in characters. */
export const MAX_ROOM = 24;
/** Longest `/quit` reason kept, in characters. */
export const MAX_REASON = 100;

const NAME = /^[\p{L}\p{N}_.\-]+$/u;
const SLASH = 0x2f;

/** The commands and what they do, as `/help` prints them. */
export const HELP: readonly string[] = [
  "commands:",
  "  text              say text to everyone in your room",
  "  /nick NAME        change your nickname (letters, digits, _ - . ; up to 24)",
  "  /me ACTION        act: * you ACTION",
  "  /msg NICK TEXT    private message to NICK",
  "  /who              who is in your room",
  "  /join ROOM        switch to ROOM (created if needed; everyone starts in lobby)",
  "  /rooms            rooms and how many are in each",
  "  /quit [REASON]    leave",
  "  /help             this list",
  "  //text            say text that starts with /",
];

/**
 * Parses a cleaned line. Plain text (the common case) is recognised without a
 * regular expression so that the message path stays cheap.
 */
export function parseCommand(line: string): Command {
  if (line.charCodeAt(0) !== SLASH) return { kind: "say", text: line };
  if (line.charCodeAt(1) === SLASH) return { kind: "say", text: line.slice(1) };

  const match = /^\/(\S*)\s*(.*)$/s.exec(line)!;
  const name = match[1].toLowerCase();
  const args = match[2].trim();
  switch (name) {
    case "me":
      return args ? { kind: "me", text: args } : usage("/me ACTION");
    case "msg":
    case "m": {
      const [, nick, text] = /^(\S+)\s+(.*)$/s.exec(args) ?? [];
      return nick && text?.trim()
        ? { kind: "msg", nick, text: text.trim() }
        : usage("/msg NICK TEXT");
    }
    case "nick":
      return args ? { kind: "nick", nick: args } : usage("/nick NAME");
    case "who":
    case "names":
      return { kind: "who" };
    case "join":
      return args ? { kind: "join", room: args.replace(/^#/, "") } : usage("/join ROOM");
    case "rooms":
    case "list":
      return { kind: "rooms" };
    case "quit":
    case "exit":
      return { kind: "quit", reason: [...args].slice(0, MAX_REASON).join("") };
    case "help":
    case "?":
      return { kind: "help" };
    default:
      return { kind: "invalid", error: `unknown command /${name} (try /help)` };
  }
}

function usage(form: string): Command {
  return { kind: "invalid", error: `usage: ${form}` };
}

/** Why a nickname cannot be used, or null when it is well formed. */
export function nickProblem(nick: string): string | null {
  return nameProblem(nick, "nickname", MAX_NICK);
}

/** Why a room name cannot be used, or null when it is well formed. */
export function roomProblem(room: string): string | null {
  return nameProblem(room, "room name", MAX_ROOM);
}

function nameProblem(name: string, what: string, max: number): string | null {
  const length = [...name].length;
  if (length === 0) return `${what} is empty`;
  if (length > max) return `${what} is too long (at most ${max} characters)`;
  if (!NAME.test(name)) return `${what} may contain only letters, digits, _ - and .`;
  return null;
}

/**
 * The key under which names are compared: Unicode-normalised and case-folded
 * (upper then lower case, so that `Straße` and `STRASSE`, or `ΟΔΟΣ` and
 * `οδοσ`, are the same name).
 */
export function nameKey(name: string): string {
  return name.normalize("NFC").toUpperCase().toLowerCase();
}

/** `<nick> text` */
export function formatMessage(nick: string, text: string): string {
  return `<${nick}> ${text}`;
}

/** `* nick action` */
export function formatAction(nick: string, text: string): string {
  return `* ${nick} ${text}`;
}

/** `*from* text`, as the receiver of a private message sees it. */
export function formatPrivate(from: string, text: string): string {
  return `*${from}* ${text}`;
}

/** `-> *to* text`, as the sender of a private message sees it once delivered. */
export function formatPrivateSent(to: string, text: string): string {
  return `-> *${to}* ${text}`;
}

/** `*** text` */
export function formatNotice(text: string): string {
  return `*** ${text}`;
}

/** `!!! text` */
export function formatError(text: string): string {
  return `!!! ${text}`;
}
