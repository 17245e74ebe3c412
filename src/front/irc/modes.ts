/**
 * IRC's words for what room operators do: `MODE #chan` (324 and 329, the ban
 * list, changes echoed to the channel as `:op MODE #chan +o nick`), `KICK`
 * and `INVITE` (and a bare `INVITE`: the rooms one was invited to), the
 * prefixes of NAMES and WHO (`@`, `+`; all of them with multi-prefix), and
 * the numerics a room's refusals get. The rules are the core's
 * (`core/channel_modes.ts`, `core/channel_ops.ts`).
 *
 * @module
 */

import { formatChanges, modeListing, parseModeString } from "../../core/channel_modes.ts";
import type { MemberInfo, Problem } from "../../core/commands.ts";
import type { IrcMessage } from "../../protocol/irc/message.ts";
import { MAX_TOPIC_BYTES } from "../../protocol/names.ts";
import { cleanString as clean, cutToBytes } from "../../text.ts";
import { problemText } from "../words.ts";
import type { IrcContext } from "./context.ts";
import * as N from "./numerics.ts";

/** The prefixes of a member in NAMES and WHO: the highest (`@`, `+`), or all with multi-prefix. */
export function memberPrefix(info: MemberInfo, multi: boolean): string {
  if (multi) return (info.operator ? "@" : "") + (info.voiced ? "+" : "");
  return info.operator ? "@" : info.voiced ? "+" : "";
}

/** `MODE #chan`, `MODE #chan b`, `MODE #chan +o-v+l nick nick 10`. */
export async function channelMode(context: IrcContext, params: readonly string[]): Promise<void> {
  const [target, modeString, ...args] = params;
  const room = target.slice(1);
  if (modeString === undefined) return await showModes(context, target);
  const parsed = parseModeString(modeString, args);
  for (const letter of parsed.unknown) {
    context.numeric(N.ERR_UNKNOWNMODE, clean(letter), "is unknown mode char to me");
  }
  if (parsed.listBans) await banList(context, target);
  if (parsed.changes.length === 0) {
    if (parsed.missing.length > 0) {
      context.numeric(N.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters");
    }
    return;
  }
  const reply = await context.chat.apply(context.member, {
    kind: "mode",
    room,
    changes: parsed.changes,
  });
  if (reply.kind === "refused") return channelProblem(context, target, reply.problem);
  for (const problem of reply.refused) channelProblem(context, target, problem);
  if (reply.event === null) return;
  context.sendLine(context.renderer.lines(reply.event));
  context.log.event({
    event: "operator",
    by: context.member.nick,
    what: `set #${reply.room} ${formatChanges(reply.event.changes, false).join(" ")}`,
  });
}

/** 324 (the modes; the key to members only) and 329 (when the room was made). */
async function showModes(context: IrcContext, target: string): Promise<void> {
  const reply = await context.chat.apply(context.member, { kind: "modes", room: target.slice(1) });
  if (reply.kind === "refused") return channelProblem(context, target, reply.problem);
  const name = `#${reply.room}`;
  context.numericData(N.RPL_CHANNELMODEIS, name, ...modeListing(reply.modes, reply.member));
  context.numericData(N.RPL_CREATIONTIME, name, String(Math.floor(reply.created / 1000)));
}

/** 367 for each of the room's bans (mask, who set it, when), then 368. */
async function banList(context: IrcContext, target: string): Promise<void> {
  const reply = await context.chat.apply(context.member, { kind: "modes", room: target.slice(1) });
  if (reply.kind === "refused") return channelProblem(context, target, reply.problem);
  const name = `#${reply.room}`;
  for (const ban of reply.modes.bans) {
    context.numericData(N.RPL_BANLIST, name, ban.mask, ban.by, String(Math.floor(ban.time / 1000)));
  }
  context.numeric(N.RPL_ENDOFBANLIST, name, "End of channel ban list");
}

/** `KICK #chan nick [:reason]`: the room's operators take someone out of it (one target). */
export async function kick(context: IrcContext, message: IrcMessage): Promise<void> {
  const [channels, nicks, reason] = message.params;
  const channel = channels.split(",")[0];
  const nick = nicks.split(",")[0];
  if (!channel.startsWith("#")) {
    return context.numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "No such channel");
  }
  const reply = await context.chat.apply(context.member, {
    kind: "kick",
    room: channel.slice(1),
    nick,
    reason: reason ? cutToBytes(clean(reason), MAX_TOPIC_BYTES) : undefined,
  });
  if (reply.kind === "refused") return channelProblem(context, channel, reply.problem);
  context.sendLine(context.renderer.lines(reply.event));
  context.log.event({
    event: "operator",
    by: context.member.nick,
    what: `kicked ${reply.event.target} from #${reply.room} (${reply.event.text})`,
  });
}

/** `INVITE nick #chan` (341, and INVITE to them); a bare `INVITE` lists one's invitations. */
export async function invite(context: IrcContext, message: IrcMessage): Promise<void> {
  const [nick, channel] = message.params;
  if (!nick) {
    const reply = await context.chat.apply(context.member, { kind: "invites" });
    for (const room of reply.rooms) context.numericData(N.RPL_INVITELIST, `#${room}`);
    return context.numeric(N.RPL_ENDOFINVITELIST, "End of /INVITE list");
  }
  if (!channel) return context.numeric(N.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters");
  if (!channel.startsWith("#")) {
    return context.numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "No such channel");
  }
  const reply = await context.chat.apply(context.member, {
    kind: "invite",
    room: channel.slice(1),
    nick,
  });
  if (reply.kind === "refused") return channelProblem(context, channel, reply.problem);
  context.numericData(N.RPL_INVITING, reply.nick, `#${reply.room}`);
}

/** The numeric a room's refusal gets (JOIN, MODE, KICK, INVITE, TOPIC). */
export function channelProblem(context: IrcContext, channel: string, problem: Problem): void {
  switch (problem.code) {
    case "no-such-nick":
      return context.numeric(N.ERR_NOSUCHNICK, clean(problem.nick), "No such nick/channel");
    case "user-not-in-room":
      return context.numeric(
        N.ERR_USERNOTINCHANNEL,
        problem.nick,
        `#${problem.room}`,
        "They aren't on that channel",
      );
    case "user-in-room":
      return context.numeric(
        N.ERR_USERONCHANNEL,
        problem.nick,
        `#${problem.room}`,
        "is already on channel",
      );
    case "invite-only":
      return context.numeric(N.ERR_INVITEONLYCHAN, `#${problem.room}`, "Cannot join channel (+i)");
    case "bad-key":
      return context.numeric(N.ERR_BADCHANNELKEY, `#${problem.room}`, "Cannot join channel (+k)");
    case "room-full":
      return context.numeric(N.ERR_CHANNELISFULL, `#${problem.room}`, "Cannot join channel (+l)");
    case "banned-from-room":
      return context.numeric(N.ERR_BANNEDFROMCHAN, `#${problem.room}`, "Cannot join channel (+b)");
    case "invalid-mode-param":
      return context.numeric(
        N.ERR_INVALIDMODEPARAM,
        `#${problem.room}`,
        problem.mode,
        problem.mode === "k" || problem.param === "" ? "*" : clean(problem.param),
        problemText(problem),
      );
    case "lobby-open":
      return context.numeric(
        N.ERR_INVALIDMODEPARAM,
        clean(channel),
        problem.mode,
        "*",
        problemText(problem),
      );
    default:
      return context.roomProblem(channel, problem);
  }
}
