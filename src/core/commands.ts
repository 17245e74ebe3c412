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
  | { kind: "private"; nick: string; text: string; action: boolean }
  | { kind: "who"; room: string }
  | { kind: "rooms" };

/** Why a command could not be carried out. */
export type Problem =
  | { code: "nick-invalid"; nick: string; why: NameProblem }
  | { code: "nick-taken"; nick: string }
  | { code: "room-invalid"; room: string; why: NameProblem }
  | { code: "too-many-rooms"; max: number }
  | { code: "already-in-room"; room: string }
  | { code: "not-in-room"; room: string }
  | { code: "no-such-nick"; nick: string }
  | { code: "no-such-room"; room: string };

/** A command that could not be carried out. */
export interface Refused {
  kind: "refused";
  problem: Problem;
}

/** A room as a member sees it on entering. */
export interface RoomView {
  /** Its display name. */
  name: string;
  /** Members in it now, the one entering included. */
  size: number;
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
  private: { kind: "sent"; to: string; text: string; action: boolean } | Refused;
  who:
    | {
      kind: "who";
      room: string;
      /** Nicks in the room, sorted. */
      nicks: string[];
      /** Members in the whole chat. */
      online: number;
    }
    | Refused;
  rooms: { kind: "rooms"; rooms: { name: string; members: number }[] };
}

/** The reply to command `C`. */
export type Reply<C extends Command = Command> = Replies[C["kind"]];
