/**
 * IRC queries: WHO, WHOIS and AWAY (which WHO and WHOIS show).
 *
 * @module
 */

import type { MemberInfo } from "../../core/commands.ts";
import type { IrcMessage } from "../../protocol/irc/message.ts";
import { formatListLines, stripFormatting } from "../../protocol/irc/text.ts";
import { cleanString as clean } from "../../text.ts";
import type { IrcContext } from "./context.ts";
import * as N from "./numerics.ts";
import { MAX_AWAY } from "./registration.ts";

/** `WHO #channel` or `WHO nick`: 352 lines, then 315. */
export async function who(context: IrcContext, message: IrcMessage): Promise<void> {
  const mask = message.params[0];
  const member = context.member;
  const shown = clean(mask ?? "*");
  if (mask?.startsWith("#")) {
    const reply = await context.chat.apply(member, { kind: "who", room: mask.slice(1) });
    if (reply.kind === "who") {
      for (const info of reply.members) whoReply(context, `#${reply.room}`, info);
    }
  } else if (mask) {
    const reply = await context.chat.apply(member, { kind: "whois", nick: mask });
    if (reply.kind === "whois") {
      whoReply(context, "*", {
        nick: reply.nick,
        user: reply.user,
        operator: false,
        away: reply.away,
      });
    }
  }
  context.numeric(N.RPL_ENDOFWHO, shown, "End of WHO list");
}

function whoReply(context: IrcContext, channel: string, info: MemberInfo): void {
  const flags = (info.away === null ? "H" : "G") + (info.operator ? "@" : "");
  const server = context.irc.name;
  context.numeric(
    N.RPL_WHOREPLY,
    channel,
    info.user,
    server,
    server,
    info.nick,
    flags,
    `0 ${info.nick}`,
  );
}

/** `WHOIS [server] nick`. */
export async function whois(context: IrcContext, message: IrcMessage): Promise<void> {
  const params = message.params;
  const nick = params[params.length - 1];
  if (!nick) return context.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given");
  const reply = await context.chat.apply(context.member, { kind: "whois", nick });
  if (reply.kind === "refused") {
    context.numeric(N.ERR_NOSUCHNICK, clean(nick), "No such nick/channel");
    return context.numeric(N.RPL_ENDOFWHOIS, clean(nick), "End of /WHOIS list");
  }
  const irc = context.irc;
  context.numeric(N.RPL_WHOISUSER, reply.nick, reply.user, irc.name, "*", reply.nick);
  if (reply.rooms.length > 0) {
    const channels = reply.rooms.map((room) => (room.operator ? "@#" : "#") + room.name);
    const lines = formatListLines(
      { source: irc.name, command: N.RPL_WHOISCHANNELS, params: [context.nick, reply.nick] },
      channels,
    );
    for (const line of lines) context.sendLine(line);
  }
  context.numeric(N.RPL_WHOISSERVER, reply.nick, irc.name, "parley");
  if (reply.away !== null) context.numeric(N.RPL_AWAY, reply.nick, reply.away);
  context.numeric(
    N.RPL_WHOISIDLE,
    reply.nick,
    String(reply.idleSeconds),
    String(Math.floor(reply.since / 1000)),
    "seconds idle, signon time",
  );
  context.numeric(N.RPL_ENDOFWHOIS, reply.nick, "End of /WHOIS list");
}

/** `AWAY :text` (away) or `AWAY` (back). */
export async function away(context: IrcContext, message: IrcMessage): Promise<void> {
  const text = [...clean(stripFormatting(message.params[0] ?? ""))].slice(0, MAX_AWAY).join("");
  const reply = await context.chat.apply(context.member, { kind: "away", text });
  if (reply.away) context.numeric(N.RPL_NOWAWAY, "You have been marked as being away");
  else context.numeric(N.RPL_UNAWAY, "You are no longer marked as being away");
}
