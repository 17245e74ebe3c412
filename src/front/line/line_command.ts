/**
 * What a line command is: the parsed {@linkcode LineCommand}, the
 * {@linkcode LineContext} a command runs through, and a row of the command
 * table (`commands.ts`, whose rows are in `chat_commands.ts`,
 * `account_commands.ts`, `moderation_commands.ts` and `history_commands.ts`).
 *
 * @module
 */

import type { Chat, ChatMember, ChatRoom } from "../../core/chat.ts";
import type { Replies } from "../../core/commands.ts";
import type { HistoryMark } from "../../core/history.ts";

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

/** What a line client is told when it talks while in no room. */
export const NO_ROOM_TEXT = "you are in no room yet; /join ROOM";

/** One command of the table. */
export interface LineCommandRow<K extends LineCommand["kind"]> {
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

/** The rows of the whole table, by kind. */
export type Rows = { [K in TableKind]: LineCommandRow<K> };
/** The kinds of command the table has rows for. */
export type TableKind = Exclude<LineCommand["kind"], "say" | "usage" | "unknown">;
