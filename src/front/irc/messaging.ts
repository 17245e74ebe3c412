/**
 * IRC messages: PRIVMSG and NOTICE to channels and nicks (CTCP ACTION is
 * `/me`; other CTCPs are not relayed), and NICK once registered. Channel
 * messages take the chat's fast path, batched until the end of the read.
 * NOTICE never gets an error back.
 *
 * @module
 */

import type { SayExtra } from "../../core/commands.ts";
import { type IrcMessage, MAX_LINE_BYTES } from "../../protocol/irc/message.ts";
import { formatMessage } from "../../protocol/irc/message.ts";
import { parseCtcp, stripFormatting, utf8ByteLength } from "../../protocol/irc/text.ts";
import { cleanString as clean, hasContent } from "../../text.ts";
import type { IrcContext } from "./context.ts";
import { nickServ } from "./nickserv.ts";
import * as N from "./numerics.ts";
import { MAX_TARGETS } from "./registration.ts";
import { nameKey } from "../../protocol/names.ts";

/** What one PRIVMSG, NOTICE or TAGMSG says, to each of its targets. */
interface Outgoing {
  text: string;
  action: boolean;
  notice: boolean;
  extra?: SayExtra;
}

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
  const tags = clientTags(message);
  const outgoing: Outgoing = { text: said, action, notice, extra: tags ? { tags } : undefined };
  return deliver(context, targets, outgoing, raw);
}

/** TAGMSG: client-only tags (a reaction, "typing") to channels and nicks, and no text. */
export function tagmsg(context: IrcContext, message: IrcMessage): void | Promise<void> {
  const tags = clientTags(message);
  if (tags === undefined) return; // nothing to say
  const outgoing: Outgoing = {
    text: "",
    action: false,
    notice: true,
    extra: { tags, tagmsg: true },
  };
  return deliver(context, message.params[0], outgoing, "");
}

/** One message to each of its distinct targets: channels first-hand, nicks one by one. */
function deliver(
  context: IrcContext,
  targets: string,
  outgoing: Outgoing,
  raw: string,
): void | Promise<void> {
  const nicks: string[] = [];
  for (const target of distinctTargets(context, targets, outgoing.notice)) {
    if (!fitsOneLine(context, target, outgoing)) {
      context.numeric(N.ERR_INPUTTOOLONG, "Message too long to relay with your nick; not sent");
      continue;
    }
    if (target.startsWith("#")) say(context, target, outgoing);
    else if (target.toLowerCase() === "nickserv") return nickServ(context, raw);
    else nicks.push(target);
  }
  if (nicks.length > 0) return privately(context, nicks, outgoing);
}

/**
 * Whether a message from an IRC client, relayed with its source, fits one
 * IRC line (512 bytes without tags). One that does not is refused (417)
 * rather than split or cut: the client sent one line and meant one message.
 */
function fitsOneLine(context: IrcContext, target: string, outgoing: Outgoing): boolean {
  if (outgoing.extra?.tagmsg) return true;
  const member = context.member;
  const source = context.renderer.source(member.nick, member.user);
  const command = outgoing.notice ? "NOTICE" : "PRIVMSG";
  const payload = outgoing.action ? `\x01ACTION ${outgoing.text}\x01` : outgoing.text;
  return utf8ByteLength(`:${source} ${command} ${target} :${payload}\r\n`) <= MAX_LINE_BYTES;
}

/** Client-only tags (`+name`) of a message, to relay; undefined when it has none. */
function clientTags(message: IrcMessage): Record<string, string> | undefined {
  let tags: Record<string, string> | undefined;
  for (const [key, value] of message.tags) {
    if (!CLIENT_TAG.test(key)) continue;
    (tags ??= {})[key] = value.replaceAll("\0", "");
  }
  return tags;
}

/** A client-only tag key: `+`, an optional vendor (`example.com/`), a name. */
const CLIENT_TAG = /^\+(?:[A-Za-z0-9.-]+\/)?[A-Za-z0-9-]+$/;

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
function say(context: IrcContext, target: string, outgoing: Outgoing): void {
  const { text, action, notice, extra } = outgoing;
  const member = context.member;
  const room = context.chat.findRoom(target.slice(1));
  if (room === undefined) {
    if (!notice) context.numeric(N.ERR_NOSUCHCHANNEL, clean(target), "No such channel");
    return;
  }
  const said = context.chat.say(member, room, text, action, notice, extra);
  if ("code" in said) {
    if (!notice) context.numeric(N.ERR_CANNOTSENDTOCHAN, `#${room.name}`, "Cannot send to channel");
    return;
  }
  context.echo(said);
  if (extra?.tagmsg) return;
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

async function privately(context: IrcContext, nicks: string[], outgoing: Outgoing): Promise<void> {
  const { text, action, notice, extra } = outgoing;
  const member = context.member;
  for (const nick of nicks) {
    const reply = await context.chat.apply(member, {
      kind: "private",
      nick,
      text,
      action,
      notice,
      extra,
    });
    if (reply.kind === "refused") {
      if (!notice) context.numeric(N.ERR_NOSUCHNICK, clean(nick), "No such nick/channel");
      continue;
    }
    context.echo(reply.event);
    if (extra?.tagmsg) continue;
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
  const source = context.irc.renderers.plain.source(from, member.user);
  const reply = await context.chat.apply(member, { kind: "nick", nick: clean(wanted) });
  if (reply.kind === "refused") return context.nickProblem(reply.problem, clean(wanted));
  if (reply.kind === "unchanged") return;
  context.sendLine(formatMessage({ source, command: "NICK", params: [reply.to] }));
  context.log.event({ event: "nick", peer: context.transport.peer, from, to: reply.to });
}
