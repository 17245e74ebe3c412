/**
 * What a member can ask of the chat, and what the chat answers: both as data.
 * Front ends parse their protocol into a {@linkcode Command} and render the
 * {@linkcode Reply} in their own words; a problem is a code with the facts a
 * front end needs to word it, never a sentence.
 *
 * @module
 */

import type { NameProblem } from "../protocol/names.ts";
import type { CidrBlock } from "./cidr.ts";
import type { ModeChange, ModeParamProblem, RoomModes } from "./channel_modes.ts";
import type { InvitedEvent, KickedEvent, MessageEvent, ModeEvent, PrivateEvent } from "./events.ts";
import type { Ban, Topic } from "./store.ts";
import type { HistoryRequest, HistoryTargetName, KeptEvent, TargetTime } from "./history.ts";

export type { Topic } from "./store.ts";

/** Something a member asks of the chat (room messages go through `Chat.say`, the fast path). */
export type Command =
  | { kind: "nick"; nick: string }
  /** Enter a room, creating it if needed; `move` leaves the member's other rooms first. */
  | { kind: "join"; room: string; move: boolean; key?: string }
  /** Leave one room, staying in the chat (IRC's PART). */
  | { kind: "part"; room: string; text: string }
  | {
    kind: "private";
    nick: string;
    text: string;
    action: boolean;
    notice?: boolean;
    /** Extra, from IRC: client-only tags, or tags only (TAGMSG). */
    extra?: SayExtra;
  }
  /**
   * Who is in a room; `listed`: of a room with quiet members (a big room), only those
   * who are not quiet (IRC's NAMES and WHO; `big_rooms.ts`).
   */
  | { kind: "who"; room: string; listed?: boolean }
  /** A room's modes, its creation time and its bans. */
  | { kind: "modes"; room: string }
  /** Change a room's modes and statuses (its operators only): `o`/`v` name a nick. */
  | { kind: "mode"; room: string; changes: ModeChange[] }
  /** Take `nick` out of a room (its operators only); `reason` defaults to the operator's nick. */
  | { kind: "kick"; room: string; nick: string; reason?: string }
  /** Invite `nick` into a room the member is in (only its operators when it is `+i`). */
  | { kind: "invite"; room: string; nick: string }
  /** The rooms the member was invited to and has not entered yet. */
  | { kind: "invites" }
  | { kind: "rooms" }
  /** Show the room's topic, or set it (`text`; operators only). */
  | { kind: "topic"; room: string; text?: string }
  | { kind: "whois"; nick: string }
  /** Who had nick `nick` before (newest first, at most `count`; 0 or none: all kept). */
  | { kind: "whowas"; nick: string; count?: number }
  /** Everyone online the member may find by searching (IRC's `WHO mask`): not the invisible strangers. */
  | { kind: "members" }
  /**
   * How many members, operators, rooms and servers there are (IRC's LUSERS);
   * `recent`: counts up to a second old will do (a newcomer's welcome).
   */
  | { kind: "lusers"; recent?: boolean }
  /** A new real name (IRC's SETNAME; and USER's, on entering). */
  | { kind: "realname"; realname: string }
  /** The member's own modes: invisible (`+i`) or not, giving up being a server operator (`-o`). */
  | { kind: "user-mode"; invisible?: boolean; deoper?: boolean }
  /** Be away with `text`, or back when it is empty. */
  | { kind: "away"; text: string }
  /** Reserve the member's nick with a password. */
  | { kind: "register"; password: string }
  /** Prove a nick (the member's own, or `nick`): the member then has it. */
  | { kind: "identify"; nick?: string; password: string }
  /** Have an account proved already (`Chat.authenticate`: IRC's SASL), keeping the nick. */
  | { kind: "login"; account: ProvedAccount }
  /** Give up an account: the member's own, or (operators) `nick`'s. */
  | { kind: "drop"; nick?: string }
  /** A new password: the member's own (with `old`), or (operators) `nick`'s. */
  | { kind: "password"; old?: string; nick?: string; password: string }
  /** Become a server operator. */
  | { kind: "oper"; password: string }
  /** An operator command (operators only). */
  | { kind: "moderate"; command: OperatorCommand }
  /** Kept messages of a room the member is in, or of its own conversation with a nick. */
  | { kind: "history"; target: HistoryTargetName; request: HistoryRequest }
  /** The member's rooms and conversations whose newest message falls strictly between two times. */
  | { kind: "history-targets"; from: number; to: number; limit: number }
  /** Kept messages holding every word of `text`: in `room` (one the member is in) and its own private ones. */
  | { kind: "search"; room: string | null; text: string; limit: number };

/**
 * An account whose password was proved (`Chat.authenticate`, `Chat.registerNick`): its
 * key and its name as registered. Made by the chat only.
 */
export interface ProvedAccount {
  key: string;
  name: string;
}

/** Why a command could not be carried out. */
export type Problem =
  | { code: "nick-invalid"; nick: string; why: NameProblem }
  | { code: "nick-taken"; nick: string }
  /** It looks like a nick someone holds (UTS #39 confusables: `аdmin` for `admin`). */
  | { code: "nick-lookalike"; nick: string }
  | { code: "room-invalid"; room: string; why: NameProblem }
  | { code: "too-many-rooms"; max: number }
  /** The member is in as many rooms as one may be. */
  | { code: "too-many-joined"; max: number }
  | { code: "already-in-room"; room: string }
  | { code: "not-in-room"; room: string }
  | { code: "no-such-nick"; nick: string }
  | { code: "no-such-room"; room: string }
  /** Only the room's operators may (`what`: set its topic, when it is `+t`). */
  | { code: "not-operator"; room: string; what?: "topic" }
  /** `nick` is not in the room (a kick, a status change). */
  | { code: "user-not-in-room"; nick: string; room: string }
  /** `nick` is in the room already (an invite). */
  | { code: "user-in-room"; nick: string; room: string }
  /** The room lets in only the invited (`+i`). */
  | { code: "invite-only"; room: string }
  /** The room wants a key (`+k`), and the one given (if any) is not it. */
  | { code: "bad-key"; room: string }
  /** The room has as many members as its limit (`+l`). */
  | { code: "room-full"; room: string; limit: number }
  /** A ban of the room's (`+b`) covers the member. */
  | { code: "banned-from-room"; room: string }
  /** The room is moderated (`+m`): only its operators and voiced members speak. */
  | { code: "moderated"; room: string }
  /** A mode change's parameter (a key, a limit, a mask) cannot be used. */
  | { code: "invalid-mode-param"; room: string; mode: string; param: string; why: ModeParamProblem }
  /** The lobby is open to everyone: no key, limit, invite list or bans there. */
  | { code: "lobby-open"; mode: string }
  /** Nobody may take it (`guest-*`, services, `server`). */
  | { code: "nick-reserved"; nick: string }
  /** Registered: its password is needed. */
  | { code: "nick-registered"; nick: string }
  | { code: "not-registered"; nick: string }
  | { code: "wrong-password"; nick: string }
  | { code: "too-many-attempts"; seconds: number }
  /**
   * Expensive work is at its budget (SPEC §4), for this address (`scope`
   * "address") or the whole server ("server"); nothing was done or counted
   * against the member, and the same request may succeed in `seconds`.
   */
  | {
    code: "busy";
    work: "password-checks" | "registrations" | "oper-attempts";
    scope: "address" | "server";
    seconds: number;
  }
  /** The member has not proved the nick it acts on. */
  | { code: "not-identified"; nick: string }
  | { code: "password-too-short"; min: number }
  /** The store that keeps accounts cannot answer now. */
  | { code: "accounts-unavailable" }
  /** This server lets only identified members speak (`--require-account`). */
  | { code: "account-required" }
  /** Muted by an operator, until then (ms since the epoch) or for good (null). */
  | { code: "muted"; until: number | null }
  | { code: "not-server-operator" }
  | { code: "wrong-oper-password" }
  /** The server has no operator password (`--oper-password-file`). */
  | { code: "no-operators" }
  | { code: "no-such-ban"; mask: string }
  /** The server keeps nothing a backup could copy (no `--data`), or copying failed (`why`). */
  | { code: "no-backup"; why: "nothing-to-copy" | "path-from-console" | "failed"; detail?: string }
  /** An operator's ban would cover the operator's own address. */
  | { code: "ban-covers-you"; mask: string }
  /** The account's member is connected and takes no other device (`multiclient off`). */
  | { code: "account-in-use"; nick: string }
  /** The account's member has `max` devices connected already (`--max-sessions`). */
  | { code: "too-many-sessions"; nick: string; max: number };

/** What an IRC client may add to a message: client-only tags, or tags alone (TAGMSG). */
export interface SayExtra {
  tags?: Record<string, string>;
  tagmsg?: boolean;
}

/** A command that could not be carried out. */
export interface Refused {
  kind: "refused";
  problem: Problem;
}

/** A room's modes as a command answers them. */
export type RoomModesView = Readonly<RoomModes>;

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
  /** An operator of the room (`@`), or a server operator. */
  operator: boolean;
  /** Voiced in the room (`+`). */
  voiced?: boolean;
  /** The away text, or null when here. */
  away: string | null;
  /** The real name it gave; empty when none (line clients) or not known (another server's member). */
  realname?: string;
  /** A server operator (`/oper`); false when not known (another server's member). */
  serverOperator?: boolean;
  /** The account it proved (its name as registered), or null. */
  account?: string | null;
  /** Seconds since it last said something (0 when not known). */
  idleSeconds?: number;
  /**
   * How many devices it is connected from here, when more than one: shown to the member
   * itself and to server operators only (issue 23).
   */
  devices?: number;
}

/** A nick someone gave up, as WHOWAS shows it. */
export interface GoneNick {
  nick: string;
  user: string;
  realname: string;
  /** When it was given up (ms since the epoch). */
  time: number;
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
  modes:
    | {
      kind: "modes";
      room: string;
      modes: RoomModesView;
      /** When the room was made (ms since the epoch). */
      created: number;
      /** The member is in the room (it is shown the key). */
      member: boolean;
    }
    | Refused;
  mode:
    | {
      kind: "mode";
      room: string;
      /** What changed, as everyone in the room is told (null: nothing did). */
      event: ModeEvent | null;
      /** Changes refused, each with why. */
      refused: Problem[];
    }
    | Refused;
  kick: { kind: "kicked"; room: string; event: KickedEvent } | Refused;
  invite: { kind: "invited"; room: string; nick: string; event: InvitedEvent } | Refused;
  invites: { kind: "invites"; rooms: string[] };
  private:
    | {
      kind: "sent";
      to: string;
      text: string;
      action: boolean;
      /** The receiver's away text, if it is away. */
      away: string | null;
      /** What was sent (its id and time, for a client that wants its own line echoed). */
      event: PrivateEvent;
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
      /** The room is secret (`+s`; IRC's NAMES shows it with `@`). */
      secret?: boolean;
      /** Asked for the `listed` members: how many are in the room but not in `members`. */
      unlisted?: number;
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
      /** The real name it gave; empty when none, null when not known (another server's member). */
      realname: string | null;
      /** A server operator (false when not known: another server's member). */
      serverOperator: boolean;
      /** The account it proved (its name as registered), or null. */
      account: string | null;
      /** Invisible (`+i`): its rooms are shown only to those who share one. */
      invisible: boolean;
      /** Its devices connected here, when more than one: to itself and server operators only. */
      devices?: number;
    }
    | Refused;
  whowas: { kind: "whowas"; nick: string; entries: GoneNick[] };
  members: { kind: "members"; members: MemberInfo[] };
  lusers: {
    kind: "lusers";
    /** Members on every server, and on this one. */
    online: number;
    local: number;
    /** The most there were at once since this server started, on every server and on this one. */
    maxOnline: number;
    maxLocal: number;
    /** Of the members, those who are invisible (`+i`, on this server) and server operators. */
    invisible: number;
    operators: number;
    /** Rooms someone is in, on every server. */
    rooms: number;
    /** Servers in the chat (this one, and those with members). */
    servers: number;
  };
  realname: { kind: "realname"; realname: string; changed: boolean };
  "user-mode": { kind: "user-mode"; invisible: boolean; operator: boolean };
  away: { kind: "away"; away: boolean };
  register: { kind: "registered"; nick: string } | Refused;
  identify:
    | {
      kind: "identified";
      nick: string;
      /** The member's nick before, when proving the nick renamed it. */
      renamedFrom: string | null;
      /** Whoever had the nick and was renamed (told so). */
      displaced: string | null;
      /**
       * The account's member was in the chat on other devices: this client is one more of
       * them now (its own nick left the chat); how many it has, this one included.
       */
      attached?: number;
    }
    | Refused;
  drop: { kind: "dropped"; nick: string } | Refused;
  password: { kind: "password-changed"; nick: string } | Refused;
  oper: { kind: "oper" } | Refused;
  /** `account`: its name as registered. */
  login:
    | {
      kind: "logged-in";
      account: string;
      /** The account's member was in the chat: this client is one more of its devices (how many). */
      attached?: number;
      /** Its nick before, when joining the account's member changed it. */
      renamedFrom?: string;
    }
    | Refused;
  moderate: Moderated | Refused;
  history:
    | { kind: "history"; events: KeptEvent[] }
    /** The store cannot answer now (reported). */
    | { kind: "history-unavailable" }
    | Refused;
  "history-targets":
    | { kind: "history-targets"; targets: TargetTime[] }
    | { kind: "history-unavailable" };
  search:
    /** `words`: what was looked for (`searchWords`). */
    | { kind: "found"; events: KeptEvent[]; words: string[] }
    | { kind: "history-unavailable" }
    | Refused;
}

/** What an operator command did. */
export type Moderated =
  | { kind: "said"; reached: number; text: string }
  | { kind: "kicked"; nick: string }
  /** `kicked`: who was connected from the banned addresses and was removed. */
  | { kind: "banned"; ban: Ban; kicked: string[] }
  | { kind: "unbanned"; mask: string }
  | { kind: "bans"; bans: Ban[] }
  | { kind: "muted"; nick: string; until: number | null }
  | { kind: "unmuted"; nick: string }
  | Exclude<Replies["drop"], Refused>
  /** `path`: where the copy is. */
  | { kind: "backed-up"; path: string }
  | Exclude<Replies["password"], Refused>
  | Exclude<Replies["topic"], Refused>
  | Exclude<Replies["who"], Refused>
  | Replies["rooms"]
  | {
    kind: "stats";
    online: number;
    rooms: number;
    /** Since the chat started, in seconds. */
    uptime: number;
    bans: number;
    operators: number;
  };

/** The reply to command `C`. */
export type Reply<C extends Command = Command> = Replies[C["kind"]];

/** What a ban is aimed at: a user (the address they are connected from), or addresses. */
export type BanTarget =
  | { kind: "nick"; nick: string }
  | { kind: "addresses"; block: CidrBlock };

/** One operator command, parsed. Durations are in milliseconds. */
export type OperatorCommand =
  /** A notice to everyone online. */
  | { kind: "say"; text: string }
  | { kind: "kick"; nick: string; reason?: string }
  /** No `duration`: for good. */
  | { kind: "ban"; target: BanTarget; duration?: number; reason?: string }
  | { kind: "unban"; block: CidrBlock }
  | { kind: "bans" }
  /** No `duration`: until `/unmute`. */
  | { kind: "mute"; nick: string; duration?: number }
  | { kind: "unmute"; nick: string }
  /** No `text`: show the topic. */
  | { kind: "topic"; room: string; text?: string }
  /** No `room`: everyone online. */
  | { kind: "who"; room?: string }
  | { kind: "rooms" }
  /** Give up the account of `nick`. */
  | { kind: "drop"; nick: string }
  /** A copy of the database while the server runs: at `path`, or beside the file. */
  | { kind: "backup"; path?: string }
  /** A new password for the account of `nick`. */
  | { kind: "setpassword"; nick: string; password: string }
  | { kind: "stats" }
  /** Help on everything, or on one command. The console answers it itself. */
  | { kind: "help"; command?: OperatorCommand["kind"] };
