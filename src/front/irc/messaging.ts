/**
 * IRC messages: PRIVMSG and NOTICE to channels and nicks (CTCP ACTION is
 * `/me`; other CTCPs are not relayed), and NICK once registered. Channel
 * messages take the chat's fast path, batched until the end of the read.
 * NOTICE never gets an error back.
 *
 * @module
 */

import type { IrcMessage } from "../../protocol/irc/message.ts";
import { formatMessage } from "../../protocol/irc/message.ts";
import { parseCtcp, stripFormatting } from "../../protocol/irc/text.ts";
import { cleanString as clean, hasContent } from "../../text.ts";
import type { IrcContext } from "./context.ts";
import { nickServ } from "./nickserv.ts";
import * as N from "./numerics.ts";
import { MAX_TARGETS } from "./registration.ts";
import { nameKey } from "../../protocol/names.ts";

/** PRIVMSG or NOTICE to channels and nicks. */
export function text(context: IrcContext, message: IrcMessage): void | Promise<void> {
  const notice = message.command === "NOTICE";
  const [targets, raw] = message.params;
  if (!targets) {
    if (notice) return;
    return context.numeric(N.ERR_NORECIPIENT, `No recipient given (${message.command})`);
  }
  if (raw === undefined || raw === "") {
    if (notice) return;
    return context.numeric(N.ERR_NOTEXTTOSEND, "No text to send");
  }
  const ctcp = parseCtcp(raw);
  if (ctcp !== null && ctcp.command.toUpperCase() !== "ACTION") return; // other CTCPs: not relayed
  const action = ctcp !== null;
  const said = clean(stripFormatting(action ? ctcp.params : raw));
  if (!hasContent(said)) return;
  const nicks: string[] = [];
  for (const target of distinctTargets(context, targets, notice)) {
    if (target.startsWith("#")) say(context, target, said, action, notice);
    else if (target.toLowerCase() === "nickserv") return nickServ(context, raw);
    else nicks.push(target);
  }
  if (nicks.length > 0) return privately(context, nicks, said, action, notice);
}

/**
 * The targets of one message, each once (compared as names are), at most
 * {@linkcode MAX_TARGETS}: a flood-control token buys one line, not seventy
 * copies of it. Targets beyond the limit get 407 (a NOTICE, nothing).
 */
function distinctTargets(context: IrcContext, targets: string, notice: boolean): string[] {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const target of targets.split(",")) {
    if (target === "" || seen.has(nameKey(target))) continue;
    seen.add(nameKey(target));
    if (kept.length < MAX_TARGETS) kept.push(target);
    else if (!notice) context.numeric(N.ERR_TOOMANYTARGETS, clean(target), "Too many targets");
  }
  return kept;
}

/** The message path for channels: synchronous, batched until the end of the read. */
function say(
  context: IrcContext,
  target: string,
  text: string,
  action: boolean,
  notice: boolean,
): void {
  const member = context.member;
  const room = context.chat.findRoom(target.slice(1));
  if (room === undefined) {
    if (!notice) context.numeric(N.ERR_NOSUCHCHANNEL, clean(target), "No such channel");
    return;
  }
  const said = context.chat.say(member, room, text, action, notice);
  if ("code" in said) {
    if (!notice) context.numeric(N.ERR_CANNOTSENDTOCHAN, `#${room.name}`, "Cannot send to channel");
    return;
  }
  context.counted("room");
  context.log.event({
    event: "message",
    peer: context.transport.peer,
    nick: member.nick,
    room: room.name,
    text,
    action,
  });
}

async function privately(
  context: IrcContext,
  nicks: string[],
  text: string,
  action: boolean,
  notice: boolean,
): Promise<void> {
  const member = context.member;
  for (const nick of nicks) {
    const reply = await context.chat.apply(member, {
      kind: "private",
      nick,
      text,
      action,
      notice,
    });
    if (reply.kind === "refused") {
      if (!notice) context.numeric(N.ERR_NOSUCHNICK, clean(nick), "No such nick/channel");
      continue;
    }
    if (reply.away !== null && !notice) context.numeric(N.RPL_AWAY, reply.to, reply.away);
    context.counted("private");
    context.log.event({
      event: "private",
      peer: context.transport.peer,
      nick: member.nick,
      to: reply.to,
      text,
    });
  }
}

/** `NICK name` once registered: a rename everyone who shares a channel sees. */
export async function rename(context: IrcContext, message: IrcMessage): Promise<void> {
  const wanted = message.params[0];
  if (!wanted) return context.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given");
  const member = context.member;
  const from = member.nick;
  const source = context.irc.plain.source(from, member.user);
  const reply = await context.chat.apply(member, { kind: "nick", nick: clean(wanted) });
  if (reply.kind === "refused") return context.nickProblem(reply.problem, clean(wanted));
  if (reply.kind === "unchanged") return;
  context.sendLine(formatMessage({ source, command: "NICK", params: [reply.to] }));
  context.log.event({ event: "nick", peer: context.transport.peer, from, to: reply.to });
}
