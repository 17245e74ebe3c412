/**
 * The line protocol's commands, as one table: each row names a command and
 * its aliases, its usage and what it does (`/help` is made from them), how
 * its arguments are read, and what carrying it out does. {@linkcode parseLine}
 * reads a line with the table (pure, tested without a socket);
 * {@linkcode runLineCommand} carries a command out for a session, through the
 * {@linkcode LineContext} the session gives it. An unknown command or one
 * without what it needs is answered in one place.
 *
 * Client → server: plain text is a room message; `/command args` is a
 * command; `//text` is a message that starts with `/`. The operator commands
 * (`/kick`, `/ban`, …) are read with the console's grammar
 * (`operator_commands.ts`) and need `/oper` first.
 *
 * @module
 */

import type { Chat, ChatMember, ChatRoom } from "../../core/chat.ts";
import type { Replies } from "../../core/commands.ts";
import { LOBBY, MAX_NICK } from "../../protocol/names.ts";
import { alreadyText, movedText, privateSentLine, renamedText } from "../../protocol/line.ts";
import { moderatedLines } from "../moderation.ts";
import { changesSomething, describeProblem, parseOperatorLine } from "../operator_commands.ts";
import { accountNamed, problemText, roomsText, topicText, whoText } from "../words.ts";

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

/** What a command can do to and through the session that runs it. */
export interface LineContext {
  readonly chat: Chat;
  /** The session's member (present). */
  readonly member: ChatMember;
  /** The member's current room; `/join` moves it. None while the server waits for an account. */
  readonly room: ChatRoom | null;
  /** Says text (or an action) in the current room, through the message path. */
  say(text: string, action: boolean): void;
  /** `*** text` and `!!! text` to the client; any other line as it is. */
  notice(text: string): void;
  error(text: string): void;
  reply(line: string): void;
  /** The member is in `room` now: its notice, topic and history, the log line. */
  entered(joined: Extract<Replies["join"], { kind: "joined" }>): void;
  /** Events wait while the client is told about a room it enters (`hold`), then go out. */
  hold(): void;
  release(): void;
  /** The log: a private message sent, a nick change, an account matter, a refusal, an operator act. */
  privateSent(to: string, text: string): void;
  renamed(from: string, to: string): void;
  account(what: string, nick?: string): void;
  rejected(why: string): void;
  operatorDid(what: string): void;
  topicSet(room: string, text: string): void;
  /** Ends the session with a goodbye. */
  quit(reason: string): void;
}

/** What a line client is told when it talks while in no room. */
export const NO_ROOM_TEXT = "you are in no room yet; /join ROOM";

/** Longest `/quit` reason kept, in characters. */
export const MAX_REASON = 100;

/** One command of the table. */
interface LineCommandRow<K extends LineCommand["kind"]> {
  /** The name first, then aliases. */
  names: readonly string[];
  usage: string;
  about: string;
  /** Left out of `/help` (operators' commands). */
  unlisted?: boolean;
  /** The command from its arguments (trimmed), or null when they are not enough. */
  parse(args: string, line: string): Extract<LineCommand, { kind: K }> | null;
  run(context: LineContext, command: Extract<LineCommand, { kind: K }>): void | Promise<void>;
}

type Rows = { [K in TableKind]: LineCommandRow<K> };
type TableKind = Exclude<LineCommand["kind"], "say" | "usage" | "unknown">;

/** Every command, in the order `/help` lists them. */
const COMMANDS: Rows = {
  nick: {
    names: ["nick"],
    usage: "/nick NAME",
    about: `change your nickname (letters, digits, _ - . ; up to ${MAX_NICK})`,
    parse: (args) => args ? { kind: "nick", nick: args } : null,
    async run(context, { nick }) {
      const reply = await context.chat.apply(context.member, { kind: "nick", nick });
      if (reply.kind === "refused") {
        // A taken nick is a name; an invalid one may be any text, so only its fault is logged.
        const problem = reply.problem;
        context.rejected(
          problem.code === "nick-taken"
            ? `nick ${problem.nick}: taken`
            : `nick: ${problem.code === "nick-invalid" ? problem.why : problem.code}`,
        );
        return context.error(problemText(problem));
      }
      if (reply.kind === "unchanged") return context.notice(alreadyText(reply.nick));
      context.notice(renamedText(reply.to));
      context.renamed(reply.from, reply.to);
    },
  },
  me: {
    names: ["me"],
    usage: "/me ACTION",
    about: "act: * you ACTION",
    parse: (args) => args ? { kind: "me", text: args } : null,
    run(context, { text }) {
      context.say(text, true);
      context.chat.flush();
    },
  },
  msg: {
    names: ["msg", "m"],
    usage: "/msg NICK TEXT",
    about: "private message to NICK",
    parse(args) {
      const [, nick, text] = /^(\S+)\s+(.*)$/s.exec(args) ?? [];
      return nick && text?.trim() ? { kind: "msg", nick, text: text.trim() } : null;
    },
    async run(context, { nick, text }) {
      const reply = await context.chat.apply(context.member, {
        kind: "private",
        nick,
        text,
        action: false,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.reply(privateSentLine(reply.to, reply.text, reply.action));
      context.privateSent(reply.to, reply.text);
    },
  },
  who: {
    names: ["who", "names"],
    usage: "/who",
    about: "who is in your room",
    parse: () => ({ kind: "who" }),
    async run(context) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "who",
        room: context.room.name,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.notice(whoText(reply.room, reply.members, reply.online));
    },
  },
  join: {
    names: ["join"],
    usage: "/join ROOM",
    about: "switch to ROOM (created if needed; everyone starts in lobby)",
    parse: (args) => args ? { kind: "join", room: args.replace(/^#/, "") } : null,
    async run(context, { room }) {
      context.hold();
      try {
        const reply = await context.chat.apply(context.member, { kind: "join", room, move: true });
        if (reply.kind === "refused") return context.error(problemText(reply.problem));
        context.notice(movedText(reply.room));
        context.entered(reply);
      } finally {
        context.release();
      }
    },
  },
  rooms: {
    names: ["rooms", "list"],
    usage: "/rooms",
    about: "rooms and how many are in each",
    parse: () => ({ kind: "rooms" }),
    async run(context) {
      const reply = await context.chat.apply(context.member, { kind: "rooms" });
      context.notice(roomsText(reply.rooms));
    },
  },
  topic: {
    names: ["topic"],
    usage: "/topic [TEXT]",
    about: "show your room's topic, or set it (if you created the room)",
    parse: (args) => args ? { kind: "topic", text: args } : { kind: "topic" },
    async run(context, { text }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const room = context.room.name;
      const reply = await context.chat.apply(context.member, { kind: "topic", room, text });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      if (reply.changed) context.topicSet(reply.room, reply.topic?.text ?? "");
      context.notice(
        reply.changed
          ? `topic of #${reply.room} is now: ${reply.topic?.text ?? ""}`
          : topicText(reply.room, reply.topic, Date.now()),
      );
    },
  },
  register: {
    names: ["register"],
    usage: "/register PASSWORD",
    about: "reserve your nick with a password",
    parse: (args) => args ? { kind: "register", password: args } : null,
    async run(context, { password }) {
      const reply = await context.chat.apply(context.member, { kind: "register", password });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.account("registered");
      context.notice(`the nick ${reply.nick} is yours now: /identify PASSWORD proves it`);
    },
  },
  identify: {
    names: ["identify"],
    usage: "/identify [NICK] PASSWORD",
    about: "prove a nick is yours (you then have it)",
    parse(args) {
      const words = args.split(/\s+/).filter(Boolean);
      if (words.length === 1) return { kind: "identify", password: words[0] };
      if (words.length === 2) return { kind: "identify", nick: words[0], password: words[1] };
      return null;
    },
    async run(context, { nick, password }) {
      const reply = await context.chat.apply(context.member, { kind: "identify", nick, password });
      if (reply.kind === "refused") {
        context.account(
          `identify failed: ${reply.problem.code}`,
          accountNamed(reply.problem, nick),
        );
        return context.error(problemText(reply.problem));
      }
      context.account("identified", reply.nick);
      if (reply.renamedFrom !== null) {
        context.renamed(reply.renamedFrom, reply.nick);
        context.notice(renamedText(reply.nick));
      }
      context.notice(`you are identified as ${reply.nick}`);
      // Waiting outside because the server wants an account: in you go.
      if (context.room === null) await COMMANDS.join.run(context, { kind: "join", room: LOBBY });
    },
  },
  password: {
    names: ["password"],
    usage: "/password OLD NEW",
    about: "change your password",
    parse(args) {
      const words = args.split(/\s+/).filter(Boolean);
      return words.length === 2 ? { kind: "password", first: words[0], password: words[1] } : null;
    },
    run: changePassword,
  },
  drop: {
    names: ["drop"],
    usage: "/drop",
    about: "give up your nick's account",
    parse: (args) => args ? { kind: "drop", nick: args } : { kind: "drop" },
    async run(context, { nick }) {
      const reply = await context.chat.apply(context.member, { kind: "drop", nick });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.account("dropped", reply.nick);
      context.notice(`the nick ${reply.nick} is not registered any more`);
    },
  },
  oper: {
    names: ["oper"],
    usage: "/oper PASSWORD",
    about: "become a server operator (then /kick, /ban, /mute, /say, … work)",
    parse: (args) => args ? { kind: "oper", password: args } : null,
    async run(context, { password }) {
      const reply = await context.chat.apply(context.member, { kind: "oper", password });
      if (reply.kind === "refused") {
        context.account(`oper failed: ${reply.problem.code}`);
        return context.error(problemText(reply.problem));
      }
      context.account("is a server operator now");
      context.notice("you are a server operator now: /kick, /ban, /mute, /say, /stats …");
    },
  },
  operator: {
    names: ["kick", "ban", "unban", "bans", "mute", "unmute", "say", "stats", "backup"],
    usage: "/kick NICK …",
    about: "operator commands (see /oper)",
    unlisted: true,
    parse: (_args, line) => ({ kind: "operator", line }),
    async run(context, { line }) {
      const parsed = parseOperatorLine(line);
      if (parsed.type === "problem") return context.error(describeProblem(parsed.problem));
      if (parsed.type !== "command") return;
      const reply = await context.chat.apply(context.member, {
        kind: "moderate",
        command: parsed.command,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      const lines = moderatedLines(reply, Date.now());
      if (changesSomething(parsed.command)) context.operatorDid(lines.join("; "));
      for (const text of lines) context.notice(text);
    },
  },
  quit: {
    names: ["quit", "exit"],
    usage: "/quit [REASON]",
    about: "leave",
    parse: (args) => ({ kind: "quit", reason: [...args].slice(0, MAX_REASON).join("") }),
    run: (context, { reason }) => context.quit(reason),
  },
  help: {
    names: ["help", "?"],
    usage: "/help",
    about: "this list",
    parse: () => ({ kind: "help" }),
    run(context) {
      for (const line of HELP) context.notice(line);
    },
  },
};

/** Operators' `/setpassword NICK NEW`: a row of its own, run like `/password`. */
const SET_PASSWORD: LineCommandRow<"password"> = {
  names: ["setpassword"],
  usage: "/setpassword NICK NEW",
  about: "set NICK's password (operators)",
  unlisted: true,
  parse(args) {
    const words = args.split(/\s+/).filter(Boolean);
    return words.length === 2
      ? { kind: "password", first: "", nick: words[0], password: words[1] }
      : null;
  },
  run: changePassword,
};

async function changePassword(
  context: LineContext,
  command: Extract<LineCommand, { kind: "password" }>,
): Promise<void> {
  const reply = await context.chat.apply(
    context.member,
    command.nick === undefined
      ? { kind: "password", old: command.first, password: command.password }
      : { kind: "password", nick: command.nick, password: command.password },
  );
  if (reply.kind === "refused") return context.error(problemText(reply.problem));
  context.account("password changed", reply.nick);
  context.notice(`the password of ${reply.nick} is changed`);
}

/** Rows by every name and alias they answer to. */
const BY_NAME = new Map<string, LineCommandRow<TableKind>>();
for (const row of [...Object.values(COMMANDS), SET_PASSWORD]) {
  for (const name of row.names) BY_NAME.set(name, row as LineCommandRow<TableKind>);
}

/** The commands and what they do, as `/help` prints them. */
export const HELP: readonly string[] = [
  "commands:",
  "  text              say text to everyone in your room",
  ...Object.values(COMMANDS).filter((row) => !row.unlisted)
    .map((row) => `  ${row.usage.padEnd(17)} ${row.about}`),
  "  //text            say text that starts with /",
];

const SLASH = 0x2f;

/**
 * Parses a cleaned line. Plain text (the common case) is recognised without a
 * regular expression so that the message path stays cheap.
 */
export function parseLine(line: string): LineCommand {
  if (line.charCodeAt(0) !== SLASH) return { kind: "say", text: line };
  if (line.charCodeAt(1) === SLASH) return { kind: "say", text: line.slice(1) };
  const match = /^\/(\S*)\s*(.*)$/s.exec(line)!;
  const name = match[1].toLowerCase();
  const row = BY_NAME.get(name);
  if (row === undefined) return { kind: "unknown", name };
  return row.parse(match[2].trim(), line) ?? { kind: "usage", form: row.usage };
}

/** Carries out a parsed command for a session; an unknown or short one is answered here. */
export function runLineCommand(context: LineContext, command: LineCommand): void | Promise<void> {
  switch (command.kind) {
    case "say":
      context.say(command.text, false);
      return context.chat.flush();
    case "usage":
      return context.error(usageText(command.form));
    case "unknown":
      // By name only: a mistyped command may carry a password (`/identfy secret`).
      context.rejected(`unknown command /${[...command.name].slice(0, 32).join("")}`);
      return context.error(unknownCommandText(command.name));
    default: {
      const row = COMMANDS[command.kind] as LineCommandRow<typeof command.kind>;
      return row.run(context, command as never);
    }
  }
}

/** The usage error of a command given without what it needs. */
export function usageText(form: string): string {
  return `usage: ${form}`;
}

/** The error for a command parley does not have. */
export function unknownCommandText(name: string): string {
  return `unknown command /${name} (try /help)`;
}
