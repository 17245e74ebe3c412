/**
 * What a member can ask of the chat, and what the chat answers: both as data.
 * Front ends parse their protocol into a {@linkcode Command} and render the
 * {@linkcode Reply} in their own words; a problem is a code with the facts a
 * front end needs to word it, never a sentence.
 *
 * @module
 */

import type { MessageEvent } from "./events.ts";
import type { NameProblem } from "./names.ts";

/** Something a member asks of the chat (room messages go through `Chat.say`, the fast path). */
export type Command =
  | { kind: "nick"; nick: string }
  /** Enter a room, creating it if needed; `move` leaves the member's other rooms first. */
  | { kind: "join"; room: string; move: boolean }
  /** Leave one room, staying in the chat (IRC's PART). */
  | { kind: "part"; room: string; text: string }
  | { kind: "private"; nick: string; text: string; action: boolean; notice?: boolean }
  | { kind: "who"; room: string }
  | { kind: "rooms" }
  /** Show the room's topic, or set it (`text`; operators only). */
  | { kind: "topic"; room: string; text?: string }
  | { kind: "whois"; nick: string }
  /** Be away with `text`, or back when it is empty. */
  | { kind: "away"; text: string };

/** Why a command could not be carried out. */
export type Problem =
  | { code: "nick-invalid"; nick: string; why: NameProblem }
  | { code: "nick-taken"; nick: string }
  | { code: "room-invalid"; room: string; why: NameProblem }
  | { code: "too-many-rooms"; max: number }
  | { code: "already-in-room"; room: string }
  | { code: "not-in-room"; room: string }
  | { code: "no-such-nick"; nick: string }
  | { code: "no-such-room"; room: string }
  | { code: "not-operator"; room: string };

/** A command that could not be carried out. */
export interface Refused {
  kind: "refused";
  problem: Problem;
}

/** A room's topic: what, by whom, when (ms since the epoch). */
export interface Topic {
  text: string;
  nick: string;
  time: number;
}

/** A room as a member sees it on entering. */
export interface RoomView {
  /** Its display name. */
  name: string;
  /** Members in it now, the one entering included. */
  size: number;
  topic: Topic | null;
}

/** A member as listed by who and names. */
export interface MemberInfo {
  nick: string;
  user: string;
  /** The room's operator (its creator). */
  operator: boolean;
  /** The away text, or null when here. */
  away: string | null;
}

/** What each command answers, by command kind. */
export interface Replies {
  nick:
    | { kind: "renamed"; from: string; to: string }
    | { kind: "unchanged"; nick: string }
    | Refused;
  join:
    | {
      kind: "joined";
      room: RoomView;
      /** The room's recent messages, oldest first, to replay. */
      history: MessageEvent[];
      /** The rooms left on the way (`move`). */
      left: string[];
    }
    | Refused;
  part: { kind: "parted"; room: string } | Refused;
  private:
    | {
      kind: "sent";
      to: string;
      text: string;
      action: boolean;
      /** The receiver's away text, if it is away. */
      away: string | null;
    }
    | Refused;
  who:
    | {
      kind: "who";
      room: string;
      /** The room's members, sorted by nick. */
      members: MemberInfo[];
      /** Members in the whole chat. */
      online: number;
    }
    | Refused;
  rooms: {
    kind: "rooms";
    rooms: { name: string; members: number; topic: string | null }[];
  };
  topic: { kind: "topic"; room: string; topic: Topic | null; changed: boolean } | Refused;
  whois:
    | {
      kind: "whois";
      nick: string;
      user: string;
      rooms: { name: string; operator: boolean }[];
      away: string | null;
      /** When it entered the chat (ms since the epoch). */
      since: number;
      /** Seconds since it last said something (or entered). */
      idleSeconds: number;
    }
    | Refused;
  away: { kind: "away"; away: boolean };
}

/** The reply to command `C`. */
export type Reply<C extends Command = Command> = Replies[C["kind"]];
