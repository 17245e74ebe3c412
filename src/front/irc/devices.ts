/**
 * IRC clients as one of an account's devices (issue 23), and read markers
 * (IRCv3 `draft/read-marker`).
 *
 * - A client that attaches to its account's member (SASL, `PASS`, NickServ
 *   IDENTIFY) is told the member's channels as ergo does: a JOIN for each,
 *   its topic, NAMES, its read marker, its recent history
 *   ({@linkcode resumedReplies}); so is a client put back in the channels its
 *   account left.
 * - What another device does to the member is told as IRC tells a client its
 *   own doings: JOIN (with topic and NAMES), PART, NICK, 305/306, MARKREAD
 *   ({@linkcode siblingNotice}).
 * - `MARKREAD <target> [timestamp=…]` reads or moves the member's marker of
 *   a channel or a nick; the answer is the marker as it stands (it only moves
 *   forward), and every other device of the member with the capability is
 *   told when it moved.
 *
 * @module
 */

import type { DeviceNotice, Resumed } from "../../core/chat.ts";
import { formatMessage, type IrcMessage } from "../../protocol/irc/message.ts";
import { cleanString as clean } from "../../text.ts";
import { joinedReplies, markerLine, names } from "./channels.ts";
import type { IrcContext } from "./context.ts";
import * as N from "./numerics.ts";

/** The capability of read markers. */
export const READ_MARKER = "draft/read-marker";

/** `timestamp=YYYY-MM-DDThh:mm:ss.sssZ` as a client sends it (milliseconds optional). */
const TIMESTAMP = /^timestamp=(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z)$/;

/**
 * What a client that came in as one of its account's devices, or was put back
 * in its account's channels, is told of them: each as if it had joined it.
 * Channels in `already` (the client knows it is in them) get their NAMES only.
 */
export async function resumedReplies(
  context: IrcContext,
  resumed: Resumed,
  already: ReadonlySet<string> = new Set(),
): Promise<void> {
  for (const { room, history } of resumed.rooms) {
    if (already.has(room.name)) await names(context, `#${room.name}`);
    else await joinedReplies(context, room, history);
  }
}

/**
 * A registered client proved an account whose member was connected already
 * (NickServ IDENTIFY, SASL again): it is one of that member's devices now. Its
 * former nick's channels are left (PART, as that nick), the nick changes
 * (NICK), and it is told the member's channels (those it knew get NAMES only).
 */
export async function joinedAccount(
  context: IrcContext,
  from: { nick: string; user: string; rooms: readonly string[] },
): Promise<void> {
  const resumed = await context.chat.resume(context.member);
  const now = new Set(resumed.rooms.map(({ room }) => room.name));
  const source = context.irc.renderers.plain.source(from.nick, from.user);
  for (const name of from.rooms) {
    if (now.has(name)) continue;
    context.sendLine(formatMessage({ source, command: "PART", params: [`#${name}`] }));
  }
  if (from.nick !== context.member.nick) {
    context.sendLine(formatMessage({ source, command: "NICK", params: [context.member.nick] }));
  }
  context.hold();
  try {
    await resumedReplies(context, resumed, new Set(from.rooms));
  } finally {
    context.release();
  }
}

/** What another device of this client's member did, as IRC tells a client its own doings. */
export async function siblingNotice(context: IrcContext, notice: DeviceNotice): Promise<void> {
  switch (notice.kind) {
    case "joined":
      return await joinedReplies(context, notice.room, notice.history);
    case "parted":
      return context.sendLine(context.own("PART", [`#${notice.room}`, notice.text]));
    case "renamed":
      return context.sendLine(formatMessage({
        source: context.irc.renderers.plain.source(notice.from, context.member.user),
        command: "NICK",
        params: [notice.to],
      }));
    case "away":
      return notice.away === null
        ? context.numeric(N.RPL_UNAWAY, "You are no longer marked as being away")
        : context.numeric(N.RPL_NOWAWAY, "You have been marked as being away");
    case "marker":
      if (!context.caps.has(READ_MARKER)) return;
      return context.sendLine(markerLine(context, notice.target, notice.time));
  }
}

/** `MARKREAD <target>` (what is it) and `MARKREAD <target> timestamp=…` (read up to then). */
export async function markread(context: IrcContext, message: IrcMessage): Promise<void> {
  const [given, stamp] = message.params;
  if (!given) return fail(context, "NEED_MORE_PARAMS", [], "MARKREAD needs a target");
  const target = clean(given);
  if (stamp === undefined) {
    return context.sendLine(
      markerLine(context, target, await context.chat.markRead(context.member, target)),
    );
  }
  const time = TIMESTAMP.exec(stamp)?.[1];
  const ms = time === undefined ? NaN : Date.parse(time);
  if (Number.isNaN(ms)) {
    return fail(context, "INVALID_PARAMS", [target], "The timestamp is not timestamp=ISO 8601 UTC");
  }
  const now = await context.chat.markRead(context.member, target, ms);
  context.sendLine(markerLine(context, target, now));
}

function fail(context: IrcContext, code: string, params: string[], text: string): void {
  context.sendLine(formatMessage({
    source: context.irc.name,
    command: "FAIL",
    params: ["MARKREAD", code, ...params, text],
  }, { trailing: true }));
}
