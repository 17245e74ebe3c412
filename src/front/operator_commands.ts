/**
 * The operator's commands, as typed into the server console or by a line
 * client who is a server operator: one line → {@linkcode OperatorCommand},
 * or a {@linkcode ConsoleProblem} saying what is wrong with it. One table
 * ({@linkcode OPERATOR_COMMANDS}) gives each command's usage, what it does and
 * how its words are read; `/help` is made from it. Pure. The words (usage,
 * problems, help) are all here, so that they read the same everywhere.
 *
 * ```
 * /say TEXT                                   notice to everyone online
 * /kick NICK [REASON]                         disconnect a user
 * /ban NICK|ADDRESS|CIDR [DURATION] [REASON]  refuse an address (a nick: the address it is on)
 * /unban ADDRESS|CIDR                         lift a ban, as /bans lists it
 * /bans                                       the bans in force
 * /mute NICK [DURATION]                       the user's messages go nowhere
 * /unmute NICK
 * /topic #ROOM [TEXT]                         show or set a room's topic
 * /who [#ROOM]                                who is online (in a room)
 * /rooms | /stats | /help [COMMAND]
 * ```
 *
 * Choices:
 * - A line that does not start with `/` is refused with a hint, never said
 *   to everyone: an operator must not broadcast by accident (`/say` does it).
 *   An empty line is nothing at all.
 * - Command names are case-insensitive; `#` before a room is optional.
 * - A ban target that looks like an address (it has a `:` or `/`, or is
 *   made of digits and dots) is an address and must be a valid one; anything
 *   else is a nick. A peer as the log prints it (`203.0.113.7:51234`,
 *   `[2001:db8::1]:51234`) is its address (the port is dropped).
 * - A duration is one or more number+unit pairs, `s` `m` `h` `d` `w`
 *   (`30s`, `10m`, `2h`, `7d`, `1h30m`), more than 0 and at most 365 days.
 *   For `/ban` the word after the target is a duration when it starts with a
 *   digit (so `/ban bob 5 spam` is an error, not a permanent ban for "5
 *   spam"); without one a ban is for good and a mute lasts until `/unmute`.
 *
 * @module
 */

import type { BanTarget, OperatorCommand } from "../core/commands.ts";
export type { BanTarget, OperatorCommand } from "../core/commands.ts";
import { type NameProblem, nickProblem, roomProblem } from "../protocol/names.ts";
import { formatCidr, parseCidr } from "../core/cidr.ts";

/** The names of the operator commands. */
export type CommandName = OperatorCommand["kind"];

/** Why a line is not a command the console can run. */
export type ConsoleProblem =
  /** Text without a leading `/`. */
  | { code: "not-a-command"; text: string }
  | { code: "unknown-command"; name: string }
  /** Missing or extra words. */
  | { code: "usage"; command: CommandName }
  | { code: "bad-nick"; command: CommandName; nick: string; why: NameProblem }
  | { code: "bad-room"; command: CommandName; room: string; why: NameProblem }
  | { code: "bad-duration"; command: CommandName; text: string; why: DurationProblem }
  | { code: "bad-address"; command: CommandName; text: string }
  /** `/unban NICK`: bans are lifted by the address or block `/bans` shows. */
  | { code: "unban-nick"; nick: string };

/** Why a word is not a duration. */
export type DurationProblem = "malformed" | "no-unit" | "zero" | "too-long";

/** What one line of console input is. */
export type ConsoleLine =
  | { type: "empty" }
  | { type: "command"; command: OperatorCommand }
  | { type: "problem"; problem: ConsoleProblem };

/**
 * Whether an operator command changes something, and so is logged as an
 * operator's act wherever it was typed (console, line client, IRC); the
 * others (`/bans`, `/stats`, `/who`, showing a topic) only look.
 */
export function changesSomething(command: OperatorCommand): boolean {
  switch (command.kind) {
    case "topic":
      return command.text !== undefined;
    case "bans":
    case "who":
    case "rooms":
    case "stats":
    case "help":
      return false;
    default:
      return true;
  }
}

/** The longest duration accepted (a longer ban is one for good: leave the duration out). */
export const MAX_DURATION_MS = 365 * 24 * 3600 * 1000;

/** How one operator command is used, what it does, and how its words are read. */
export interface OperatorCommandRow {
  usage: string;
  about: string;
  /** The command from the words after its name, or why they do not make one. */
  parse(words: ArgumentWords): OperatorCommand | ConsoleProblem;
}

/** The words after a command's name, and helpers to read them. */
interface ArgumentWords {
  name: CommandName;
  /** What follows the name, trimmed. */
  rest: string;
  words: string[];
  /** What follows the first `count` words, spacing kept. */
  after(count: number): string;
  usage(): ConsoleProblem;
  nick(word: string): string | ConsoleProblem;
}

/** Every operator command, in the order `/help` lists them. */
export const OPERATOR_COMMANDS: Readonly<Record<CommandName, OperatorCommandRow>> = {
  say: {
    usage: "/say TEXT",
    about: "a notice to everyone online",
    parse: ({ rest, usage }) => rest === "" ? usage() : { kind: "say", text: rest },
  },
  kick: {
    usage: "/kick NICK [REASON]",
    about: "disconnect a user",
    parse({ words, after, usage, nick }) {
      if (words.length === 0) return usage();
      const who = nick(words[0]);
      if (typeof who !== "string") return who;
      const reason = after(1);
      return reason ? { kind: "kick", nick: who, reason } : { kind: "kick", nick: who };
    },
  },
  ban: {
    usage: "/ban NICK|ADDRESS|CIDR [DURATION] [REASON]",
    about: "refuse an address or block (a nick: the address it is on); no duration = for good",
    parse({ name, words, after, usage }) {
      if (words.length === 0) return usage();
      const target = banTarget(name, words[0]);
      if ("code" in target) return target;
      const command: OperatorCommand = { kind: "ban", target };
      let used = 1;
      if (words.length > 1 && /^\d/.test(words[1])) {
        const duration = parseDuration(words[1]);
        if (typeof duration !== "number") {
          return { code: "bad-duration", command: name, text: words[1], why: duration.why };
        }
        command.duration = duration;
        used = 2;
      }
      const reason = after(used);
      if (reason) command.reason = reason;
      return command;
    },
  },
  unban: {
    usage: "/unban ADDRESS|CIDR",
    about: "lift a ban, written as /bans lists it",
    parse({ name, words, usage }) {
      if (words.length !== 1) return usage();
      const target = banTarget(name, words[0]);
      if ("code" in target) return target;
      if (target.kind === "nick") return { code: "unban-nick", nick: target.nick };
      return { kind: "unban", block: target.block };
    },
  },
  bans: { usage: "/bans", about: "the bans in force", parse: noArguments("bans") },
  mute: {
    usage: "/mute NICK [DURATION]",
    about: "the user's messages reach nobody; no duration = until /unmute",
    parse({ name, words, usage, nick }) {
      if (words.length === 0 || words.length > 2) return usage();
      const who = nick(words[0]);
      if (typeof who !== "string") return who;
      if (words.length === 1) return { kind: "mute", nick: who };
      const duration = parseDuration(words[1]);
      if (typeof duration !== "number") {
        return { code: "bad-duration", command: name, text: words[1], why: duration.why };
      }
      return { kind: "mute", nick: who, duration };
    },
  },
  unmute: {
    usage: "/unmute NICK",
    about: "let a muted user speak again",
    parse({ words, usage, nick }) {
      if (words.length !== 1) return usage();
      const who = nick(words[0]);
      return typeof who === "string" ? { kind: "unmute", nick: who } : who;
    },
  },
  topic: {
    usage: "/topic #ROOM [TEXT]",
    about: "show a room's topic, or set it",
    parse({ name, words, after, usage }) {
      if (words.length === 0) return usage();
      const room = roomName(name, words[0]);
      if (typeof room !== "string") return room;
      const text = after(1);
      return text ? { kind: "topic", room, text } : { kind: "topic", room };
    },
  },
  who: {
    usage: "/who [#ROOM]",
    about: "who is online, or in one room",
    parse({ name, words, usage }) {
      if (words.length > 1) return usage();
      if (words.length === 0) return { kind: "who" };
      const room = roomName(name, words[0]);
      return typeof room === "string" ? { kind: "who", room } : room;
    },
  },
  rooms: { usage: "/rooms", about: "rooms with member counts", parse: noArguments("rooms") },
  drop: {
    usage: "/drop NICK",
    about: "give up the account of NICK (anyone may then take the nick)",
    parse({ words, usage, nick }) {
      if (words.length !== 1) return usage();
      const who = nick(words[0]);
      return typeof who === "string" ? { kind: "drop", nick: who } : who;
    },
  },
  setpassword: {
    usage: "/setpassword NICK PASSWORD",
    about: "give the account of NICK a new password",
    parse({ words, usage, nick }) {
      if (words.length !== 2) return usage();
      const who = nick(words[0]);
      return typeof who === "string" ? { kind: "setpassword", nick: who, password: words[1] } : who;
    },
  },
  backup: {
    usage: "/backup [FILE]",
    about: "copy the database (--data) while the server runs; default FILE.backup-DATE-TIME",
    parse({ rest }) {
      return rest === "" ? { kind: "backup" } : { kind: "backup", path: rest };
    },
  },
  stats: {
    usage: "/stats",
    about: "how the server is doing (clients, rooms, messages)",
    parse: noArguments("stats"),
  },
  help: {
    usage: "/help [COMMAND]",
    about: "this list, or one command",
    parse({ words, usage }) {
      if (words.length > 1) return usage();
      if (words.length === 0) return { kind: "help" };
      const about = words[0].replace(/^\//, "").toLowerCase();
      if (!(COMMAND_NAMES as string[]).includes(about)) {
        return { code: "unknown-command", name: about };
      }
      return { kind: "help", command: about as CommandName };
    },
  },
};

/** A row's parse for a command that takes no words. */
function noArguments(kind: "bans" | "rooms" | "stats"): OperatorCommandRow["parse"] {
  return ({ words, usage }) => words.length === 0 ? { kind } : usage();
}

const COMMAND_NAMES = Object.keys(OPERATOR_COMMANDS) as CommandName[];
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const DURATION = /^(?:\d+[smhdw])+$/i;
const DURATION_PART = /(\d+)([smhdw])/gi;
/** Words that look like an address rather than a nick. */
const ADDRESS_LIKE = /[:/]|^[\d.]+$/;
/** A peer as the log prints it: `a.b.c.d:port` or `[v6]:port` (or `[v6]` alone). */
const PEER = /^(?:(\d+\.\d+\.\d+\.\d+):\d+|\[([^\]]+)\](?::\d+)?)$/;
/** Things an operator may type hoping to stop the server. */
const STOP_WORDS = new Set(["quit", "exit", "stop", "shutdown", "die"]);

/** Parses one line typed into the console. */
export function parseOperatorLine(line: string): ConsoleLine {
  const trimmed = line.trim();
  if (trimmed === "") return { type: "empty" };
  if (!trimmed.startsWith("/")) {
    return { type: "problem", problem: { code: "not-a-command", text: trimmed } };
  }
  const space = trimmed.search(/\s/);
  const name = (space === -1 ? trimmed.slice(1) : trimmed.slice(1, space)).toLowerCase();
  const rest = space === -1 ? "" : trimmed.slice(space).trim();
  if (!(COMMAND_NAMES as string[]).includes(name)) {
    return { type: "problem", problem: { code: "unknown-command", name } };
  }
  const result = parseArguments(name as CommandName, rest);
  return "code" in result
    ? { type: "problem", problem: result }
    : { type: "command", command: result };
}

function parseArguments(name: CommandName, rest: string): OperatorCommand | ConsoleProblem {
  const words = rest === "" ? [] : rest.split(/\s+/);
  return OPERATOR_COMMANDS[name].parse({
    name,
    rest,
    words,
    after(count) {
      let text = rest;
      for (let i = 0; i < count; i++) text = text.slice(text.indexOf(words[i]) + words[i].length);
      return text.trim();
    },
    usage: () => ({ code: "usage", command: name }),
    nick(word) {
      const why = nickProblem(word);
      return why === null ? word : { code: "bad-nick", command: name, nick: word, why };
    },
  });
}

function banTarget(command: CommandName, word: string): BanTarget | ConsoleProblem {
  if (ADDRESS_LIKE.test(word)) {
    const peer = PEER.exec(word);
    const block = parseCidr(word) ?? (peer ? parseCidr(peer[1] ?? peer[2]) : null);
    return block === null
      ? { code: "bad-address", command, text: word }
      : { kind: "addresses", block };
  }
  const why = nickProblem(word);
  return why === null
    ? { kind: "nick", nick: word }
    : { code: "bad-nick", command, nick: word, why };
}

function roomName(command: CommandName, word: string): string | ConsoleProblem {
  const room = word.startsWith("#") ? word.slice(1) : word;
  const why = roomProblem(room);
  return why === null ? room : { code: "bad-room", command, room, why };
}

/**
 * Parses a duration (`30s`, `10m`, `2h`, `7d`, `2w`, `1h30m`) into
 * milliseconds, or says why it is not one.
 */
export function parseDuration(text: string): number | { why: DurationProblem } {
  if (/^\d+$/.test(text)) return { why: "no-unit" };
  if (!DURATION.test(text)) return { why: "malformed" };
  let total = 0;
  for (const [, count, unit] of text.matchAll(DURATION_PART)) {
    total += Number(count) * UNIT_MS[unit.toLowerCase()];
  }
  if (total === 0) return { why: "zero" };
  if (total > MAX_DURATION_MS) return { why: "too-long" };
  return total;
}

/** A duration as the console says it: `45s`, `10m`, `1h30m`, `7d`, `2d3h` (whole seconds). */
export function formatDuration(ms: number): string {
  let seconds = Math.max(1, Math.round(ms / 1000));
  let text = "";
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]] as const) {
    if (seconds >= size) {
      text += `${Math.floor(seconds / size)}${unit}`;
      seconds %= size;
    }
  }
  return text;
}

/** The console's sentence for a problem (without the `!!!` the console puts before it). */
export function describeProblem(problem: ConsoleProblem): string {
  switch (problem.code) {
    case "not-a-command":
      return "commands start with / (/help lists them); to tell everyone something: /say TEXT";
    case "unknown-command":
      if (problem.name === "") return "a command name must follow the / (/help lists them)";
      if (STOP_WORDS.has(problem.name)) {
        return `no /${problem.name} here: Ctrl-C on the server's terminal (or SIGTERM) stops the server`;
      }
      return `unknown command /${problem.name} (/help lists the console's commands)`;
    case "usage":
      return `usage: ${OPERATOR_COMMANDS[problem.command].usage}`;
    case "bad-nick":
      return `/${problem.command}: ${problem.nick} is not a nick (${nameWhy(problem.why)}); ` +
        `usage: ${OPERATOR_COMMANDS[problem.command].usage}`;
    case "bad-room":
      return `/${problem.command}: #${problem.room} is not a room name (${nameWhy(problem.why)})`;
    case "bad-duration":
      return `/${problem.command}: ${problem.text} is not a duration (${durationWhy(problem.why)})`;
    case "bad-address":
      return `/${problem.command}: ${problem.text} is not an address or a CIDR block ` +
        "(like 203.0.113.7, 203.0.113.0/24, 2001:db8::1 or 2001:db8::/32)";
    case "unban-nick":
      return `/unban takes the address or block that /bans lists, not a nick (${problem.nick})`;
  }
}

function nameWhy(why: NameProblem): string {
  switch (why) {
    case "empty":
      return "empty";
    case "too-long":
      return "too long";
    case "bad-characters":
      return "letters, digits, _ - . only";
    case "invisible":
      return "invisible or blank characters";
  }
}

function durationWhy(why: DurationProblem): string {
  switch (why) {
    case "no-unit":
      return "give a unit: 30s, 10m, 2h, 7d";
    case "malformed":
      return "like 30s, 10m, 2h, 7d or 1h30m";
    case "zero":
      return "it must be more than 0";
    case "too-long":
      return "at most 365d; leave it out for good";
  }
}

/** What `/help` prints: every command, or one. */
export function helpLines(command?: CommandName): string[] {
  if (command !== undefined) {
    const { usage, about } = OPERATOR_COMMANDS[command];
    return [`${usage}  ${about}`];
  }
  return [
    "console commands:",
    ...COMMAND_NAMES.map((name) =>
      `  ${OPERATOR_COMMANDS[name].usage}  ${OPERATOR_COMMANDS[name].about}`
    ),
    "durations: 30s, 10m, 2h, 7d, 1h30m; ADDRESS|CIDR: 203.0.113.7, 203.0.113.0/24, 2001:db8::/32",
  ];
}

/** A ban target as the console writes it: the nick, or the normalised address or block. */
export function formatBanTarget(target: BanTarget): string {
  return target.kind === "nick" ? target.nick : formatCidr(target.block);
}
