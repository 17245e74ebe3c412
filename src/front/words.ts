/**
 * The English every front end shares: what a {@linkcode Problem} means, why a
 * connection is refused or a member removed, and what a {@linkcode ServerNotice}
 * says. The line protocol shows these as `!!!`/`***` lines, IRC as the text of
 * numerics, notices and ERROR lines, the console as its answers. Pure.
 *
 * @module
 */

import {
  MAX_KEY,
  MAX_LIMIT,
  MAX_MASK,
  type ModeChange,
  modeListing,
} from "../core/channel_modes.ts";
import type { MemberInfo, Problem, RoomModesView, Topic } from "../core/commands.ts";
import type { ServerNotice } from "../core/events.ts";
import type { Removal } from "../core/records.ts";
import type { Refusal } from "../net/admission.ts";
import { historyTime, nameProblemText } from "../protocol/line.ts";

/** A problem, worded for a person (the text of a line client's `!!!` line). */
export function problemText(problem: Problem): string {
  switch (problem.code) {
    case "nick-invalid":
      return nameProblemText("nickname", problem.why);
    case "nick-taken":
      return `nickname ${problem.nick} is taken`;
    case "nick-lookalike":
      return `nickname ${problem.nick} looks too much like one that is taken; choose another`;
    case "room-invalid":
      return nameProblemText("room name", problem.why);
    case "too-many-rooms":
      return `too many rooms (at most ${problem.max}); join an existing one (/rooms)`;
    case "too-many-joined":
      return `you are in ${problem.max} rooms, as many as one may be; leave one first`;
    case "already-in-room":
      return `you are already in #${problem.room}`;
    case "not-in-room":
      return `you are not in #${problem.room}`;
    case "no-such-nick":
      return `no such nick: ${problem.nick}`;
    case "no-such-room":
      return `no such room: #${problem.room}`;
    case "not-operator":
      return problem.what === "topic"
        ? `only the operators of #${problem.room} can set its topic`
        : `only the operators of #${problem.room} can do that`;
    case "user-not-in-room":
      return `${problem.nick} is not in #${problem.room}`;
    case "user-in-room":
      return `${problem.nick} is in #${problem.room} already`;
    case "invite-only":
      return `#${problem.room} is invite-only: one of its operators can /invite you`;
    case "bad-key":
      return `#${problem.room} needs its key: /join ${problem.room} KEY`;
    case "room-full":
      return `#${problem.room} is full (at most ${problem.limit})`;
    case "banned-from-room":
      return `you are banned from #${problem.room}`;
    case "moderated":
      return `#${problem.room} is moderated: only its operators and voiced members speak`;
    case "invalid-mode-param":
      return modeParamText(problem);
    case "lobby-open":
      return `the lobby is open to everyone: no +${problem.mode} there`;
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
    case "busy":
      return `${busyText(problem)}; try again in ${problem.seconds} s`;
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
    case "no-backup":
      switch (problem.why) {
        case "nothing-to-copy":
          return "nothing to back up: without --data the chat is kept in memory (with --cluster, back up Redis: BGSAVE)";
        case "path-from-console":
          return "/backup takes no file name here: the copy goes beside the database (the console may choose)";
        case "failed":
          return `the backup failed: ${problem.detail ?? "unknown error"}`;
      }
      break;
    case "ban-covers-you":
      return `a ban on ${problem.mask} would cover your own address; ban from the server console`;
    case "account-in-use":
      return `${problem.nick} is connected on another device and takes no other (multiclient is off)`;
    case "too-many-sessions":
      return `${problem.nick} has ${problem.max} devices connected already (at most ${problem.max})`;
  }
}

/**
 * The nick a failed `/identify NICK PASSWORD` may be logged under: the one
 * given when it is a registered account's (a wrong password), else none (the
 * session's own). A user who swapped the arguments typed the password where
 * the nick goes, and a password never reaches the log.
 */
export function accountNamed(problem: Problem, given: string | undefined): string | undefined {
  return problem.code === "wrong-password" ? given : undefined;
}

/** Why a key, a limit or a ban mask cannot be used. */
function modeParamText(problem: Extract<Problem, { code: "invalid-mode-param" }>): string {
  switch (problem.mode) {
    case "k":
      return `a key is 1 to ${MAX_KEY} characters, without spaces or commas`;
    case "l":
      return `a limit is a whole number from 1 to ${MAX_LIMIT}`;
    default:
      return problem.why === "host-in-mask"
        ? "a ban is nick!user (the host part is *): parley shows no one's address; server operators ban addresses with /ban"
        : `a ban is nick!user, * and ? for any characters, at most ${MAX_MASK} characters`;
  }
}

/** How a change of a room's modes is told to line clients (`made ann an operator`). */
export function modeChangeText(change: ModeChange): string {
  const on = change.on;
  switch (change.mode) {
    case "o":
      return on ? `made ${change.param} an operator` : `took ${change.param}'s operator status`;
    case "v":
      return on ? `gave ${change.param} a voice` : `took ${change.param}'s voice`;
    case "i":
      return on ? "made it invite-only" : "opened it to everyone";
    case "k":
      return on ? `set its key to ${change.param}` : "removed its key";
    case "l":
      return on ? `limited it to ${change.param}` : "lifted its limit";
    case "m":
      return on ? "moderated it (only operators and voiced members speak)" : "let everyone speak";
    case "n":
      return on ? "closed it to messages from outside" : "opened it to messages from outside";
    case "s":
      return on ? "made it secret" : "made it public";
    case "t":
      return on ? "let only operators set its topic" : "let everyone set its topic";
    case "b":
      return on ? `banned ${change.param}` : `lifted the ban on ${change.param}`;
  }
}

/** A room's modes for line clients' `/mode`: `+nt`, the key, the limit, and each in words. */
export function modesText(room: string, modes: RoomModesView, showKey: boolean): string {
  const listing = modeListing(modes, showKey).join(" ");
  const bans = modes.bans.length === 0
    ? "no bans"
    : `bans: ${modes.bans.map((ban) => ban.mask).join(", ")}`;
  return `modes of #${room}: ${listing} (${modesInWords(modes)}); ${bans}`;
}

function modesInWords(modes: RoomModesView): string {
  const words = [
    modes.inviteOnly ? "invite-only" : "open",
    modes.key === null ? null : "key needed",
    modes.limit === null ? null : `at most ${modes.limit}`,
    modes.moderated ? "moderated" : null,
    modes.noExternal ? "no messages from outside" : "messages from outside",
    modes.secret ? "secret" : null,
    modes.topicLocked ? "operators set the topic" : "anyone sets the topic",
  ];
  return words.filter((word) => word !== null).join(", ");
}

/** What is at its budget, for a "busy" problem. */
function busyText(problem: Extract<Problem, { code: "busy" }>): string {
  const address = problem.scope === "address";
  switch (problem.work) {
    case "password-checks":
      return address
        ? "your address has password checks waiting already"
        : "the server is busy checking passwords";
    case "registrations":
      return address
        ? "too many registrations and password changes from your address"
        : "too many registrations on this server just now";
    case "oper-attempts":
      return address
        ? "too many operator attempts from your address"
        : "too many wrong operator passwords on this server just now";
  }
}

/** Why a connection is turned away, as the client is told and the log says. */
export function refusalText(refusal: Refusal): string {
  switch (refusal.code) {
    case "full":
      return `server full (${refusal.max} ${
        refusal.max === 1 ? "client" : "clients"
      }); try again later`;
    case "per-address":
      return `too many connections from ${refusal.address} (at most ${refusal.max})`;
    case "banned":
      return bannedText(refusal.ban.expires, refusal.ban.reason);
    case "connect-rate":
      return `too many new connections from ${refusal.address} (at most ${refusal.max} a minute); try again later`;
  }
}

/**
 * What a banned client is told, the same whether it was connected when the
 * ban came or is refused at the door later: `you are banned from this server
 * until 2026-12-06 12:00 UTC: spam`.
 */
function bannedText(expires: number | null, reason: string): string {
  return `you are banned from this server${
    expires === null ? "" : ` until ${banEndText(expires)}`
  }${reason ? `: ${reason}` : ""}`;
}

/** When a ban ends, in UTC (the server's clock and the user's may be in different zones). */
function banEndText(expires: number): string {
  return new Date(expires).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** What a removed member is told before its connection closes. */
export function removalText(removal: Removal): string {
  if (removal.how === "banned") return bannedText(removal.until ?? null, removal.reason);
  const why = removal.reason ? ` (${removal.reason})` : "";
  return `you were kicked by ${removal.by}${why}`;
}

/** How a removal is logged: `kicked by alice: spam`, `banned by console`. */
export function removalDetail(removal: Removal): string {
  return `${removal.how === "banned" ? "banned" : "kicked"} by ${removal.by}${
    removal.reason ? `: ${removal.reason}` : ""
  }`;
}

/** What the server tells members on its own, in words. */
export function serverNoticeText(notice: ServerNotice): string {
  switch (notice.code) {
    case "announcement":
      return notice.text;
    case "link-down":
      return "the link to the other servers is lost: until it is back, messages reach people on this server only";
    case "link-up":
      return "the link to the other servers is restored";
    case "not-delivered":
      return `what you said did not reach the other servers (${notice.why}); ${
        notice.seenHere ? "people on this server saw it" : "nobody saw it"
      }`;
    case "nick-lost":
      return `your nick ${notice.from} was held by someone else${
        notice.elsewhere ? " on another server" : ""
      }; you are now ${notice.to}`;
    case "muted":
      return notice.until === null
        ? `${notice.by} muted you: your lines reach nobody until you are unmuted`
        : `${notice.by} muted you until ${
          historyTime(notice.until, Date.now())
        }: your lines reach nobody until then`;
    case "unmuted":
      return `${notice.by} unmuted you: you are heard again`;
    case "nick-displaced":
      return `the nick ${notice.from} was proved with its password on another connection; you are now ${notice.to}`;
    case "read-marker":
      return ""; // for the member's devices, never shown (devices.ts)
  }
}

/** Names listed by `/who` and rooms by `/rooms` before "and N more". */
export const MAX_LISTED = 100;

/**
 * `/who`: who is in the room, at most {@linkcode MAX_LISTED} names, the
 * room's operator marked `@`.
 */
export function whoText(room: string, members: readonly MemberInfo[], online: number): string {
  const shown = members.slice(0, MAX_LISTED)
    .map((member) =>
      (member.operator ? "@" : member.voiced ? "+" : "") + member.nick +
      (member.devices === undefined ? "" : ` (${member.devices} devices)`)
    )
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
