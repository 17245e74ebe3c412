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

import type { Chat, ChatMember, ChatRoom, Resumed } from "../../core/chat.ts";
import type { Replies } from "../../core/commands.ts";
import { LOBBY, MAX_NICK, nameKey } from "../../protocol/names.ts";
import {
  alreadyText,
  movedText,
  privateSentLine,
  readText,
  renamedText,
} from "../../protocol/line.ts";
import {
  EARLIER_END_TEXT,
  earlierStartText,
  keptLine,
  messageLine,
  noEarlierText,
  privateLine,
  SEARCH_END_TEXT,
  searchStartText,
} from "../../protocol/line.ts";
import type { HistoryMark, KeptEvent } from "../../core/history.ts";
import { MAX_HISTORY_REQUEST } from "../../core/history.ts";
import { moderatedLines } from "../moderation.ts";
import { changesSomething, describeProblem, parseOperatorLine } from "../operator_commands.ts";
import {
  accountNamed,
  modeChangeText,
  modesText,
  problemText,
  roomsText,
  topicText,
  whoText,
} from "../words.ts";
import { formatChanges, type ModeChange, parseModeString } from "../../core/channel_modes.ts";

/** What one line from a client asks for. */
export type LineCommand =
  | { kind: "say"; text: string }
  | { kind: "me"; text: string }
  | { kind: "msg"; nick: string; text: string }
  | { kind: "nick"; nick: string }
  | { kind: "who" }
  /** `whole`: what was typed, for a room name with a space (refused as such). */
  | { kind: "join"; room: string; key?: string; whole?: string }
  | { kind: "rooms" }
  /** Show the room's topic, or set it. */
  | { kind: "topic"; text?: string }
  | { kind: "register"; password: string }
  | { kind: "identify"; nick?: string; password: string }
  | { kind: "drop"; nick?: string }
  /** `/password OLD NEW`; operators' `/setpassword NICK NEW` has `nick` (and no old one). */
  | { kind: "password"; first: string; nick?: string; password: string }
  | { kind: "oper"; password: string }
  /** An operator command (`/ban`, `/mute`, …), parsed by the console's grammar. */
  | { kind: "operator"; line: string }
  /** A room operator takes NICK out of the current room. */
  | { kind: "kick"; nick: string; reason?: string }
  /** A server operator takes NICK out of the chat (the console's `/kick`). */
  | { kind: "kill"; nick: string; reason?: string }
  /** A room operator gives or takes a status in the current room. */
  | { kind: "op"; nick: string }
  | { kind: "deop"; nick: string }
  | { kind: "voice"; nick: string }
  | { kind: "devoice"; nick: string }
  | { kind: "invite"; nick: string }
  /** The current room's modes (`words` empty), or changes to them (`+i`, `+k KEY`, …). */
  | { kind: "mode"; words: string[] }
  /** The `count` messages of the current room before the oldest one shown. */
  | { kind: "history"; count: number }
  /** Kept messages with every word of `text`: the current room's and one's own private ones. */
  | { kind: "search"; text: string }
  /** The current room is read up to now (the read marker its other devices count by). */
  | { kind: "read" }
  /** Whether the account takes several devices at once (NickServ's SET MULTICLIENT). */
  | { kind: "multiclient"; on: boolean }
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
  /**
   * The oldest message of the current room this client was shown (the first
   * replayed on entering it, or the first `/history` showed): where `/history`
   * goes on from. Null before it entered a room.
   */
  earliest: HistoryMark | null;
  /** Ends the session with a goodbye. */
  quit(reason: string): void;
}

/**
 * What a client that came in as an account is told of its member's rooms:
 * `you are on 2 devices; your rooms: #dev, #lobby` when it joined the account's
 * other devices, `back in your rooms: #dev, #lobby` when it was put back in them.
 */
export function resumedText(resumed: Resumed): string {
  const rooms = resumed.rooms.map(({ room }) => `#${room.name}`).join(", ") || "none";
  return resumed.how === "attached"
    ? `you are on ${resumed.devices} devices; your rooms: ${rooms}`
    : `back in your rooms: ${rooms}`;
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
    usage: "/join ROOM [KEY]",
    about: "switch to ROOM (created if needed; everyone starts in lobby)",
    parse(args) {
      const [room, key] = args.split(/\s+/);
      return room ? { kind: "join", room: room.replace(/^#/, ""), key, whole: args } : null;
    },
    async run(context, command) {
      let { room, key } = command;
      // A second word is a key only for a room that exists: `/join no spaces` is a bad name.
      if (key !== undefined && context.chat.findRoom(room) === undefined) {
        room = (command.whole ?? room).replace(/^#/, "");
        key = undefined;
      }
      context.hold();
      try {
        const reply = await context.chat.apply(context.member, {
          kind: "join",
          room,
          move: true,
          key,
        });
        if (reply.kind === "refused") return context.error(problemText(reply.problem));
        // Everyone in it, on every server, as /who counts them.
        const census = await context.chat.census(reply.room);
        context.notice(movedText({ name: reply.room.name, size: census.inRoom }));
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
    about: "show your room's topic, or set it (its operators; anyone if it is -t)",
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
      if (reply.attached !== undefined) {
        // One more device of the account: its rooms are this client's now; it shows one.
        const resumed = await context.chat.resume(context.member);
        context.notice(resumedText(resumed));
        const room = resumed.current?.name ?? LOBBY;
        return await COMMANDS.join.run(context, { kind: "join", room });
      }
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
  kick: {
    names: ["kick"],
    usage: "/kick NICK [REASON]",
    about: "take NICK out of your room (its operators)",
    parse(args) {
      const [, nick, reason] = /^(\S+)\s*(.*)$/s.exec(args) ?? [];
      return nick ? { kind: "kick", nick, reason: reason?.trim() || undefined } : null;
    },
    async run(context, { nick, reason }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "kick",
        room: context.room.name,
        nick,
        reason,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      const { target, text } = reply.event;
      context.operatorDid(`kicked ${target} from #${reply.room} (${text})`);
      context.notice(`you kicked ${target} from #${reply.room}`);
    },
  },
  // Server operators' `/kill NICK [REASON]`: out of the chat (the console's `/kick`).
  kill: {
    names: ["kill"],
    usage: "/kill NICK [REASON]",
    about: "disconnect NICK (server operators)",
    unlisted: true,
    parse(args) {
      const [, nick, reason] = /^(\S+)\s*(.*)$/s.exec(args) ?? [];
      return nick ? { kind: "kill", nick, reason: reason?.trim() || undefined } : null;
    },
    async run(context, { nick, reason }) {
      const reply = await context.chat.apply(context.member, {
        kind: "moderate",
        command: { kind: "kick", nick, reason },
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      const lines = moderatedLines(reply, Date.now());
      context.operatorDid(lines.join("; "));
      for (const text of lines) context.notice(text);
    },
  },
  op: statusRow("op", "o", true, "make NICK an operator of your room"),
  deop: statusRow("deop", "o", false, "take NICK's operator status in your room"),
  voice: statusRow("voice", "v", true, "let NICK speak in your room when it is moderated"),
  devoice: statusRow("devoice", "v", false, "take NICK's voice in your room"),
  invite: {
    names: ["invite"],
    usage: "/invite NICK",
    about: "invite NICK into your room (past its key, limit, bans and +i)",
    parse: (args) => /^\S+$/.test(args) ? { kind: "invite", nick: args } : null,
    async run(context, { nick }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "invite",
        room: context.room.name,
        nick,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.notice(`you invited ${reply.nick} into #${reply.room}`);
    },
  },
  mode: {
    names: ["mode"],
    usage: "/mode [CHANGES]",
    about:
      "your room's modes; its operators change them: +i, +k KEY, +l N, +m, +s, +t, +b MASK (- undoes)",
    parse: (args) => ({ kind: "mode", words: args.split(/\s+/).filter(Boolean) }),
    async run(context, { words }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const room = context.room.name;
      if (words.length === 0) {
        const reply = await context.chat.apply(context.member, { kind: "modes", room });
        if (reply.kind === "refused") return context.error(problemText(reply.problem));
        return context.notice(modesText(reply.room, reply.modes, reply.member));
      }
      const changes = words.filter((word) => /^[+-]/.test(word)).join("");
      const params = words.filter((word) => !/^[+-]/.test(word));
      const parsed = parseModeString(changes, params, false);
      if (parsed.unknown.length > 0 || changes === "") {
        return context.error(`unknown mode ${parsed.unknown.join("") || words[0]} (${MODES_HELP})`);
      }
      if (parsed.missing.length > 0) {
        return context.error(`+${parsed.missing.join("")} needs a value (${MODES_HELP})`);
      }
      if (parsed.changes.length === 0) {
        const reply = await context.chat.apply(context.member, { kind: "modes", room });
        if (reply.kind === "refused") return context.error(problemText(reply.problem));
        return context.notice(modesText(reply.room, reply.modes, reply.member));
      }
      await changeModes(context, parsed.changes);
    },
  },
  operator: {
    names: ["ban", "unban", "bans", "mute", "unmute", "say", "stats", "backup"],
    usage: "/ban NICK …",
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
  history: {
    names: ["history", "more"],
    usage: "/history [N]",
    about: `earlier messages of your room, with times (default 20, at most ${MAX_HISTORY_REQUEST})`,
    parse(args) {
      if (args === "") return { kind: "history", count: 20 };
      const count = /^\d{1,6}$/.test(args) ? Number(args) : 0;
      return count > 0 ? { kind: "history", count: Math.min(count, MAX_HISTORY_REQUEST) } : null;
    },
    async run(context, { count }) {
      const room = context.room;
      if (room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "history",
        target: { room: room.name },
        request: { kind: "before", mark: context.earliest ?? { time: Date.now() }, limit: count },
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      if (reply.kind === "history-unavailable") return context.error(UNAVAILABLE_TEXT);
      if (reply.events.length === 0) return context.notice(noEarlierText(room.name));
      const first = reply.events[0];
      context.earliest = first.id !== undefined ? { msgid: first.id } : { time: first.time };
      context.notice(earlierStartText(reply.events.length, room.name));
      sendKept(context, reply.events);
      context.notice(EARLIER_END_TEXT);
    },
  },
  search: {
    names: ["search"],
    usage: "/search TEXT",
    about: "messages with every word of TEXT: in your room, and your own private ones",
    parse: (args) => args ? { kind: "search", text: args } : null,
    async run(context, { text }) {
      const room = context.room;
      const reply = await context.chat.apply(context.member, {
        kind: "search",
        room: room?.name ?? null,
        text,
        limit: SEARCH_RESULTS,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      if (reply.kind === "history-unavailable") return context.error(UNAVAILABLE_TEXT);
      const words = reply.words.join(" ");
      const where = [
        ...(room ? [`#${room.name}`] : []),
        ...(context.member.account !== null ? ["your private messages"] : []),
      ].join(" and ") || "no room";
      if (reply.events.length === 0) {
        return context.notice(`no messages with "${words}" in ${where}`);
      }
      context.notice(searchStartText(reply.events.length, words, where));
      sendKept(context, reply.events);
      context.notice(SEARCH_END_TEXT);
    },
  },
  read: {
    names: ["read"],
    usage: "/read",
    about: "mark your room read up to now (your other devices count unread from there)",
    parse: () => ({ kind: "read" }),
    async run(context) {
      const room = context.room;
      if (room === null) return context.error(NO_ROOM_TEXT);
      const time = await context.chat.markRead(context.member, `#${room.name}`, "now");
      if (time !== null) context.notice(readText(room.name, time, Date.now()));
    },
  },
  multiclient: {
    names: ["multiclient"],
    usage: "/multiclient on|off",
    about: "whether your account may be connected from several devices at once",
    parse: (args) =>
      /^(on|off)$/i.test(args) ? { kind: "multiclient", on: args.toLowerCase() === "on" } : null,
    async run(context, { on }) {
      if (!(await context.chat.setMulticlient(context.member, on))) {
        return context.error("you are not identified: /identify first");
      }
      context.account(`multiclient ${on ? "on" : "off"}`);
      context.notice(
        on
          ? "your account may be connected from several devices at once"
          : "your account takes one device at a time from now on",
      );
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

/** What `/mode` takes, for its errors. */
const MODES_HELP = "modes: +i, +k KEY, +l N, +m, +n, +s, +t, +b MASK; - undoes";

/** `/op`, `/deop`, `/voice`, `/devoice`: a status given or taken in the current room. */
function statusRow<K extends "op" | "deop" | "voice" | "devoice">(
  kind: K,
  mode: "o" | "v",
  on: boolean,
  about: string,
): LineCommandRow<K> {
  return {
    names: [kind],
    usage: `/${kind} NICK`,
    about,
    parse: (args) =>
      /^\S+$/.test(args) ? { kind, nick: args } as Extract<LineCommand, { kind: K }> : null,
    async run(context, command) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const { nick } = command as { nick: string };
      await changeModes(context, [{ mode, on, param: nick }]);
    },
  };
}

/** Changes the current room's modes; the client is told what changed and what could not. */
async function changeModes(context: LineContext, changes: ModeChange[]): Promise<void> {
  const reply = await context.chat.apply(context.member, {
    kind: "mode",
    room: context.room!.name,
    changes,
  });
  if (reply.kind === "refused") return context.error(problemText(reply.problem));
  for (const problem of reply.refused) context.error(problemText(problem));
  if (reply.event === null) {
    if (reply.refused.length === 0) context.notice("nothing to change");
    return;
  }
  const done = reply.event.changes.map(modeChangeText).join(", ");
  context.operatorDid(`set #${reply.room} ${formatChanges(reply.event.changes, false).join(" ")}`);
  context.notice(`you ${done} in #${reply.room}`);
}

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

/** Results `/search` shows at most. */
const SEARCH_RESULTS = 20;

/** What `/history` and `/search` say when the store cannot answer. */
const UNAVAILABLE_TEXT = "the history cannot be read now; try again in a moment";

/** Kept messages as the lines of a block, each with its time. */
function sendKept(context: LineContext, events: readonly KeptEvent[]): void {
  const now = Date.now();
  const mine = context.member.account;
  for (const event of events) {
    let line: string;
    if (event.kind === "message") {
      line = messageLine(event);
    } else if (event.account !== undefined && nameKey(event.account) === mine) {
      line = privateSentLine(event.to, event.text, event.action);
    } else {
      line = privateLine(event.nick, event.text, event.action);
    }
    context.reply(keptLine(line, event.time, now));
  }
}
