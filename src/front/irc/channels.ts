/**
 * IRC channel commands: JOIN (with its replies: topic, NAMES, history; keys),
 * PART, TOPIC, NAMES (prefixes, multi-prefix, userhost-in-names, `@` for a
 * secret channel), LIST and MODE (a channel's: `modes.ts`). Channels are
 * rooms: `#dev` is the room `dev`.
 *
 * @module
 */

import type { MessageEvent } from "../../core/events.ts";
import { formatMessage, type IrcMessage } from "../../protocol/irc/message.ts";
import { formatListLines, stripFormatting } from "../../protocol/irc/text.ts";
import { historyTime } from "../../protocol/line.ts";
import { cleanString as clean } from "../../text.ts";
import type { IrcContext } from "./context.ts";
import * as N from "./numerics.ts";
import { problemText } from "../words.ts";
import { channelMode, channelProblem, memberPrefix } from "./modes.ts";
import { userMode } from "./queries.ts";
import { globPattern } from "./server_info.ts";
import { nameKey } from "../../protocol/names.ts";
import { QUIET_FROM } from "../../core/big_rooms.ts";

/** `JOIN #a,#b [key1,key2]` (and `JOIN 0`: leave every channel). */
export async function join(context: IrcContext, message: IrcMessage): Promise<void> {
  const [channels, keys = ""] = message.params;
  if (channels === "0") {
    for (const room of [...context.member.rooms]) await partOne(context, `#${room.name}`, "");
    return;
  }
  const given = keys.split(",");
  const wanted = channels.split(",");
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i]) await joinOne(context, wanted[i], given[i] || undefined);
  }
}

async function joinOne(context: IrcContext, channel: string, key?: string): Promise<void> {
  const member = context.member;
  if (!channel.startsWith("#")) {
    return context.numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "No such channel");
  }
  context.hold();
  try {
    const reply = await context.chat.apply(member, {
      kind: "join",
      room: channel.slice(1),
      move: false,
      key,
    });
    if (reply.kind === "refused") {
      const problem = reply.problem;
      if (problem.code === "already-in-room") return;
      if (
        problem.code === "invite-only" || problem.code === "bad-key" ||
        problem.code === "room-full" || problem.code === "banned-from-room"
      ) {
        return channelProblem(context, channel, problem);
      }
      if (problem.code === "account-required") {
        return context.numeric(N.ERR_NEEDREGGEDNICK, clean(channel), problemText(problem));
      }
      if (problem.code === "too-many-joined") {
        return context.numeric(
          N.ERR_TOOMANYCHANNELS,
          clean(channel),
          "You have joined too many channels",
        );
      }
      if (problem.code === "too-many-rooms") {
        return context.numeric(
          N.ERR_TOOMANYCHANNELS,
          clean(channel),
          `Too many rooms on this server (at most ${problem.max})`,
        );
      }
      return context.numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "Illegal channel name");
    }
    await joinedReplies(context, reply.room, reply.history);
    context.log.event({
      event: "join",
      peer: context.transport.peer,
      nick: member.nick,
      room: reply.room.name,
    });
  } finally {
    context.release();
  }
}

/**
 * What a client entering a channel is told: its own JOIN, the topic, its read marker
 * (draft/read-marker, before 366 as the spec asks), NAMES, the recent history. Also what
 * a device is told of a channel its member entered on another device (issue 23).
 */
export async function joinedReplies(
  context: IrcContext,
  room: { name: string; topic: { text: string; nick: string; time: number } | null },
  history: readonly MessageEvent[],
): Promise<void> {
  const name = `#${room.name}`;
  context.sendLine(context.own("JOIN", [name]));
  if (room.topic) topicReplies(context, name, room.topic);
  if (context.caps.has("draft/read-marker")) {
    context.sendLine(markerLine(context, name, await context.chat.markRead(context.member, name)));
  }
  await names(context, name);
  replay(context, history);
}

/** `MARKREAD <target> timestamp=…` (or `*`: none), as the server tells a client its read marker. */
export function markerLine(context: IrcContext, target: string, time: number | null): string {
  return formatMessage({
    source: context.irc.name,
    command: "MARKREAD",
    params: [target, time === null ? "*" : `timestamp=${new Date(time).toISOString()}`],
  });
}

/** A channel's history: with its times as tags for `server-time` clients, else in the text. */
function replay(context: IrcContext, history: readonly MessageEvent[]): void {
  if (history.length === 0) return;
  const renderer = context.renderer;
  const timed = renderer.caps.serverTime;
  const now = Date.now();
  let text = "";
  for (const event of history) {
    text += timed
      ? renderer.lines(event)
      : renderer.lines({ ...event, text: `[${historyTime(event.time, now)}] ${event.text}` });
  }
  context.sendLine(text);
}

/** `PART #a,#b [reason]`. */
export async function part(context: IrcContext, message: IrcMessage): Promise<void> {
  const [channels, reason = ""] = message.params;
  for (const channel of channels.split(",")) {
    if (channel) await partOne(context, channel, clean(reason));
  }
}

async function partOne(context: IrcContext, channel: string, reason: string): Promise<void> {
  const reply = await context.chat.apply(context.member, {
    kind: "part",
    room: channel.replace(/^#/, ""),
    text: reason,
  });
  if (reply.kind === "refused") return context.roomProblem(channel, reply.problem);
  context.sendLine(context.own("PART", [`#${reply.room}`, reason]));
  context.log.event({
    event: "part",
    peer: context.transport.peer,
    nick: context.member.nick,
    room: reply.room,
    text: reason || undefined,
  });
}

/** `TOPIC #dev` shows the topic; `TOPIC #dev :text` sets it. */
export async function topic(context: IrcContext, message: IrcMessage): Promise<void> {
  const [channel, text] = message.params;
  const reply = await context.chat.apply(context.member, {
    kind: "topic",
    room: channel.replace(/^#/, ""),
    text: text === undefined ? undefined : clean(stripFormatting(text)),
  });
  if (reply.kind === "refused") return context.roomProblem(channel, reply.problem);
  const name = `#${reply.room}`;
  if (reply.changed) {
    context.log.event({
      event: "topic",
      peer: context.transport.peer,
      nick: context.member.nick,
      room: reply.room,
      text: reply.topic?.text ?? "",
    });
    return context.sendLine(context.own("TOPIC", [name, reply.topic?.text ?? ""], true));
  }
  if (reply.topic === null) return context.numeric(N.RPL_NOTOPIC, name, "No topic is set");
  topicReplies(context, name, reply.topic);
}

function topicReplies(
  context: IrcContext,
  channel: string,
  topic: { text: string; nick: string; time: number },
): void {
  context.numeric(N.RPL_TOPIC, channel, topic.text);
  context.numericData(
    N.RPL_TOPICWHOTIME,
    channel,
    topic.nick,
    String(Math.floor(topic.time / 1000)),
  );
}

/**
 * `NAMES #dev`: 353 lines, then 366. Of a big channel, those who are shown
 * (`core/big_rooms.ts`), and a NOTICE to the channel saying how many are not.
 */
export async function names(context: IrcContext, channel: string | undefined): Promise<void> {
  if (!channel) return context.numeric(N.RPL_ENDOFNAMES, "*", "End of /NAMES list");
  const reply = await context.chat.apply(context.member, {
    kind: "who",
    room: channel.replace(/^#/, ""),
    listed: true,
  });
  const name = reply.kind === "who" ? `#${reply.room}` : clean(channel);
  if (reply.kind === "who") {
    const multi = context.caps.has("multi-prefix");
    const host = context.caps.has("userhost-in-names") ? context.irc.name : null;
    const nicks = reply.members.map((member) =>
      memberPrefix(member, multi) + member.nick +
      (host === null ? "" : `!${member.user}@${host}`)
    );
    const symbol = reply.secret ? "@" : "=";
    const lines = formatListLines(
      { source: context.irc.name, command: N.RPL_NAMREPLY, params: [context.nick, symbol, name] },
      nicks,
    );
    // The names and the notice as one string: encoded and queued once.
    context.sendLine(
      lines.join("") + (reply.unlisted ? unlistedNotice(context, name, reply) : ""),
    );
  }
  context.numeric(N.RPL_ENDOFNAMES, name, "End of /NAMES list");
}

/** What NAMES of a big channel left out, as a NOTICE to the channel from the server. */
function unlistedNotice(
  context: IrcContext,
  channel: string,
  reply: { members: readonly unknown[]; unlisted?: number },
): string {
  const all = reply.members.length + (reply.unlisted ?? 0);
  return formatMessage({
    source: context.irc.name,
    command: "NOTICE",
    params: [
      channel,
      `${channel} has ${all} members, ${reply.members.length} listed: in a channel of ` +
      `${QUIET_FROM} or more, a member who joins is shown when they first speak`,
    ],
  }, { trailing: true });
}

/**
 * `LIST [conditions]`: the rooms someone is in, with their counts and topics
 * (an empty lobby is no channel to list). Conditions, comma-separated, all
 * met (ELIST=MNU): `#a,#b` those channels, `*mask*` matching one of the masks,
 * `!*mask*` matching none of these, `>n` more than n users, `<n` fewer.
 */
export async function list(context: IrcContext, message: IrcMessage): Promise<void> {
  const reply = await context.chat.apply(context.member, { kind: "rooms" });
  const wanted = listFilter(message.params[0] ?? "");
  context.numeric(N.RPL_LISTSTART, "Channel", "Users  Name");
  for (const room of reply.rooms) {
    if (room.members === 0 || !wanted(`#${room.name}`, room.members)) continue;
    context.numeric(N.RPL_LIST, `#${room.name}`, String(room.members), room.topic ?? "");
  }
  context.numeric(N.RPL_LISTEND, "End of /LIST");
}

/** LIST's conditions as a test of a channel and its count. */
function listFilter(conditions: string): (channel: string, users: number) => boolean {
  const names = new Set<string>();
  const masks: RegExp[] = [];
  const notMasks: RegExp[] = [];
  let more = -1;
  let fewer = Infinity;
  for (const condition of conditions.split(",").filter(Boolean)) {
    const n = Number(condition.slice(1));
    if (condition[0] === ">" && Number.isInteger(n)) more = Math.max(more, n);
    else if (condition[0] === "<" && Number.isInteger(n)) fewer = Math.min(fewer, n);
    else if (condition[0] === "!") notMasks.push(globPattern(condition.slice(1)));
    else if (/[*?]/.test(condition)) masks.push(globPattern(condition));
    else names.add(nameKey(condition.replace(/^#/, "")));
  }
  return (channel, users) =>
    users > more && users < fewer &&
    (names.size === 0 || names.has(nameKey(channel.slice(1)))) &&
    (masks.length === 0 || masks.some((mask) => mask.test(channel))) &&
    !notMasks.some((mask) => mask.test(channel));
}

/** `MODE #chan [changes]` (`modes.ts`) and `MODE nick [change]`. */
export function mode(context: IrcContext, message: IrcMessage): void | Promise<void> {
  const params = message.params;
  const [target, change] = params;
  const member = context.member;
  if (target.startsWith("#")) return channelMode(context, params);
  if (target.toLowerCase() !== member.nick.toLowerCase()) {
    if (!context.chat.find(target)) {
      return context.numeric(N.ERR_NOSUCHNICK, clean(target), "No such nick/channel");
    }
    return context.numeric(N.ERR_USERSDONTMATCH, "Can't view or change modes for other users");
  }
  return userMode(context, change);
}
