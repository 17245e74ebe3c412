/**
 * What happens in the chat, as data: the events the {@linkcode Chat} publishes
 * and every front end renders in its own protocol (a line client sees
 * `<alice> hi`, an IRC client `:alice!alice@parley PRIVMSG #lobby :hi`).
 * Events carry no protocol and no prose, so they can be stored (history) and
 * sent between servers as they are.
 *
 * Every event says when it happened (`time`, ms since the epoch) and where it
 * came from (`origin`, the id of the member whose action it was): it is
 * delivered to everyone concerned except its origin, which gets a reply instead.
 * Room events carry the room's sequence number, which orders a room's events.
 *
 * @module
 */

import type { ModeChange } from "./channel_modes.ts";

/** Milliseconds since the epoch, as `Date.now()` gives them; injected so tests can set time. */
export type Clock = () => number;

/** The real clock. */
export const systemClock: Clock = Date.now;

/** Why a member left the chat. */
export type QuitReason =
  | "quit"
  | "closed"
  | "reset"
  | "idle"
  | "send queue exceeded"
  | "send queue stalled"
  /** It sent more than a bound of bytes without a line end (`detail`: the bound). */
  | "input flood"
  | "shutdown"
  | "error"
  /** An operator removed it (`detail`: who, and why). */
  | "kicked"
  /** Its server stopped answering (several servers, SPEC §9). */
  | "server lost";

interface Happening {
  /**
   * The event's id (IRCv3 `msgid`), the same for every receiver, in history
   * and on every server. Every event the chat makes has one.
   */
  id?: string;
  /** When it happened (ms since the epoch). */
  time: number;
  /**
   * The account of the member it came from, when that member has proved one: its name as
   * registered (`ChatMember.accountName`). On an `account` event, the account it has now.
   */
  account?: string;
  /** The member it came from (a member id); nobody's for the server's own. */
  origin: string;
  /**
   * Which of the origin's devices it came from, when the origin has several
   * (`Device.number`): its other devices get the event too (issue 23).
   */
  device?: number;
}

interface InRoom extends Happening {
  /** The room's display name. */
  room: string;
  /** The room's sequence number of this event: 1, 2, 3, … */
  seq: number;
  /**
   * Joined or left quietly: the room was big when its subject entered, and it has not
   * spoken there since; nobody else is told (`big_rooms.ts`).
   */
  quiet?: boolean;
}

/** Someone said something in a room (`action` for `/me`). */
export interface MessageEvent extends InRoom {
  kind: "message";
  nick: string;
  /** The sender's user name (IRC's `user` part; `line` for line clients). */
  user: string;
  text: string;
  action: boolean;
  /** An IRC NOTICE: shown, never answered automatically, not kept in history. */
  notice?: boolean;
  /** Tags only, no text (IRC's TAGMSG: a reaction, typing): not kept, not shown to line clients. */
  tagmsg?: boolean;
  /** Client-only tags (`+draft/reply`, …), relayed to clients that have message-tags. */
  tags?: Record<string, string>;
}

/** Someone entered a room. */
export interface JoinedEvent extends InRoom {
  kind: "joined";
  nick: string;
  user: string;
  /** The member's real name (IRC's USER; shown with extended-join); empty when it gave none. */
  realname?: string;
  /** The member's away text when it is away (shown with away-notify). */
  away?: string;
  /** It entered as the room's operator (it made the room, or found it empty). */
  op?: boolean;
}

/** Someone left a room but stays in the chat. */
export interface LeftEvent extends InRoom {
  kind: "left";
  nick: string;
  user: string;
  /** `moved`: went to another room (`to`); `part`: left it (`text` is the reason given). */
  how: "moved" | "part";
  to?: string;
  text?: string;
}

/** Someone's topic for a room. */
export interface TopicEvent extends InRoom {
  kind: "topic";
  nick: string;
  user: string;
  text: string;
}

/** A room operator changed the room's modes, or someone's status in it (`+o`, `+v`). */
export interface ModeEvent extends InRoom {
  kind: "mode";
  /** Who changed them (`server` for the console). */
  nick: string;
  user: string;
  /** What changed, in order; `o` and `v` name their member by nick and id. */
  changes: ModeChange[];
}

/** A room operator took someone out of a room (IRC's KICK); they stay in the chat. */
export interface KickedEvent extends InRoom {
  kind: "kicked";
  /** The operator. */
  nick: string;
  user: string;
  /** Who was kicked: nick and member id. */
  target: string;
  targetId: string;
  /** The reason given (IRC's default: the operator's nick). */
  text: string;
}

/**
 * A member of a room invited someone into it (IRC's INVITE): the invited
 * member may enter past `+i`, `+k`, `+l` and `+b`, once.
 */
export interface InvitedEvent extends InRoom {
  kind: "invited";
  nick: string;
  user: string;
  /** Who was invited. */
  to: string;
  /**
   * Set on the copy shown to the room's operators (IRC's invite-notify);
   * the invited member gets the event without it.
   */
  notify?: boolean;
}

/** Someone changed nick; everyone sharing a room with them is told once. */
export interface RenamedEvent extends Happening {
  kind: "renamed";
  /** The rooms the member is in. */
  rooms: string[];
  /** Rooms its subject entered quietly, never spoke in: not told there (`big_rooms.ts`). */
  quietIn?: string[];
  nick: string;
  user: string;
  to: string;
}

/** Someone left the chat; everyone sharing a room with them is told once. */
export interface QuitEvent extends Happening {
  kind: "quit";
  rooms: string[];
  /** Rooms its subject entered quietly, never spoke in: not told there (`big_rooms.ts`). */
  quietIn?: string[];
  nick: string;
  user: string;
  reason: QuitReason;
  /** The reason given with `/quit`, or what went wrong. */
  detail: string;
}

/** Someone went away (`text`) or came back (`text` empty); everyone sharing a room with them is told once. */
export interface AwayEvent extends Happening {
  kind: "away";
  rooms: string[];
  /** Rooms its subject entered quietly, never spoke in: not told there (`big_rooms.ts`). */
  quietIn?: string[];
  nick: string;
  user: string;
  text: string;
}

/** Someone changed their real name (IRC's SETNAME); everyone sharing a room with them is told once. */
export interface RealnameEvent extends Happening {
  kind: "realname";
  rooms: string[];
  /** Rooms its subject entered quietly, never spoke in: not told there (`big_rooms.ts`). */
  quietIn?: string[];
  nick: string;
  user: string;
  realname: string;
}

/**
 * Someone proved an account, or gave theirs up (`account` absent: IRC's `ACCOUNT *`);
 * everyone sharing a room with them is told once (IRC's account-notify).
 */
export interface AccountEvent extends Happening {
  kind: "account";
  rooms: string[];
  /** Rooms its subject entered quietly, never spoke in: not told there (`big_rooms.ts`). */
  quietIn?: string[];
  nick: string;
  user: string;
}

/** A private message, to one nick. */
export interface PrivateEvent extends Happening {
  kind: "private";
  to: string;
  nick: string;
  user: string;
  text: string;
  action: boolean;
  notice?: boolean;
  /** Tags only, no text (IRC's TAGMSG). */
  tagmsg?: boolean;
  /** Client-only tags, relayed to clients that have message-tags. */
  tags?: Record<string, string>;
  /**
   * The sender's copy, for its own other devices (issue 23): shown as sent
   * (`-> *bob* hi`), not as received.
   */
  sent?: boolean;
}

/**
 * What the server tells members about the chat itself. Typed, never a
 * sentence: each front end words it.
 */
export type ServerNotice =
  /** An operator's announcement to everyone (`/say`): its text is the operator's. */
  | { code: "announcement"; text: string }
  /** The link to the other servers is lost: messages reach this server's members only. */
  | { code: "link-down" }
  | { code: "link-up" }
  /**
   * What the member said did not reach the other servers (`why`); `seenHere`:
   * this server's members saw it.
   */
  | { code: "not-delivered"; why: string; seenHere: boolean }
  /** The member's nick `from` was held by someone else (`elsewhere`: on another server); it is `to` now. */
  | { code: "nick-lost"; from: string; to: string; elsewhere: boolean }
  /** Someone proved the nick `from` with its password on another connection; the member is `to` now. */
  | { code: "nick-displaced"; from: string; to: string }
  /** An operator (`by`) muted the member: until then (ms since the epoch), or until unmuted (null). */
  | { code: "muted"; by: string; until: number | null }
  | { code: "unmuted"; by: string }
  /**
   * The member read `target` (a room's key after `#`, or a nick's key) up to `time`, on one
   * of its devices: for its devices on the other servers (IRCv3 read-marker), never shown.
   */
  | { code: "read-marker"; target: string; time: number };

/**
 * What a server operator did to members of every server (SPEC §9, §10): each
 * server carries it out on its own members and keeps its own lists (the
 * mutes, the bans) in step. Never shown: the members concerned are told as
 * the server that holds them tells them.
 *
 * - `kick`: member `target` (`nick`) leaves the chat (`reason`);
 * - `mute`: the nicks and accounts `keys` are muted `until` (null: until unmuted),
 *   member `target` at once; `unmute`: no more;
 * - `ban`: the address block `mask` is refused `until` (null: for good), and
 *   whoever is connected from it removed; `unban`: lifted.
 */
export interface ModeratedEvent extends Happening {
  kind: "moderated";
  act: "kick" | "mute" | "unmute" | "ban" | "unban";
  /** The server it was done on (its node id): that server did it already. */
  server: string;
  /** The operator's nick, or `console`. */
  by: string;
  /** The member concerned (kick, mute, unmute): its id. */
  target?: string;
  nick?: string;
  /** Nick and account keys (mute, unmute). */
  keys?: string[];
  /** When a mute or a ban ends (ms since the epoch); null: not on its own. */
  until?: number | null;
  reason?: string;
  /** The banned block (ban, unban), as `formatCidr` writes it. */
  mask?: string;
}

/** A notice from the server or an operator: to one nick, or to everyone (`to` absent). */
export interface NoticeEvent extends Happening {
  kind: "notice";
  notice: ServerNotice;
  to?: string;
}

/** An event that belongs to one room, in the room's order. */
export type RoomEvent =
  | MessageEvent
  | JoinedEvent
  | LeftEvent
  | TopicEvent
  | ModeEvent
  | KickedEvent
  | InvitedEvent;

/** An event about one member, for everyone who shares a room with them. */
export type MemberEvent = RenamedEvent | QuitEvent | AwayEvent | RealnameEvent | AccountEvent;

/** Anything that happens in the chat. */
export type ChatEvent = RoomEvent | MemberEvent | PrivateEvent | NoticeEvent | ModeratedEvent;
