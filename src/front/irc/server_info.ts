/**
 * What IRC clients ask about the server itself: LUSERS (also part of the
 * welcome), TIME, INFO, MOTD, HELP and HELPOP; and the count of connections
 * that have not registered yet (LUSERS' 253).
 *
 * @module
 */

import type { Replies } from "../../core/commands.ts";
import type { IrcMessage } from "../../protocol/irc/message.ts";
import { cleanString as clean } from "../../text.ts";
import type { IrcContext, IrcServerInfo } from "./context.ts";
import * as N from "./numerics.ts";

/** IRC connections of each server that have not registered yet. */
const unregistered = new WeakMap<IrcServerInfo, number>();

/**
 * A connection of server `irc` that has not registered: counted until the
 * function returned is called (on registering, or on leaving before it; a
 * second call does nothing).
 */
export function arrived(irc: IrcServerInfo): () => void {
  unregistered.set(irc, (unregistered.get(irc) ?? 0) + 1);
  let counted = true;
  return () => {
    if (!counted) return;
    counted = false;
    unregistered.set(irc, (unregistered.get(irc) ?? 1) - 1);
  };
}

/** How many connections of server `irc` have not registered yet. */
export function unregisteredCount(irc: IrcServerInfo): number {
  return unregistered.get(irc) ?? 0;
}

/** `LUSERS`: the counts, on every server. */
export async function lusers(context: IrcContext): Promise<void> {
  lusersReplies(context, await context.chat.apply(context.member, { kind: "lusers" }));
}

/** 251–255, 265 and 266 (252 and 253 when there are any): LUSERS, and the welcome's counts. */
export function lusersReplies(context: IrcContext, counts: Replies["lusers"]): void {
  const visible = counts.online - counts.invisible;
  const servers = counts.servers;
  context.numeric(
    N.RPL_LUSERCLIENT,
    `There are ${visible} users and ${counts.invisible} invisible on ${servers} servers`,
  );
  if (counts.operators > 0) {
    context.numeric(N.RPL_LUSEROP, String(counts.operators), "operator(s) online");
  }
  const waiting = unregisteredCount(context.irc);
  if (waiting > 0) context.numeric(N.RPL_LUSERUNKNOWN, String(waiting), "unknown connection(s)");
  context.numeric(N.RPL_LUSERCHANNELS, String(counts.rooms), "channels formed");
  context.numeric(N.RPL_LUSERME, `I have ${counts.local} clients and ${servers - 1} servers`);
  const local = String(counts.local);
  const maxLocal = String(counts.maxLocal);
  context.numeric(
    N.RPL_LOCALUSERS,
    local,
    maxLocal,
    `Current local users ${local}, max ${maxLocal}`,
  );
  const online = String(counts.online);
  const maxOnline = String(counts.maxOnline);
  context.numeric(
    N.RPL_GLOBALUSERS,
    online,
    maxOnline,
    `Current global users ${online}, max ${maxOnline}`,
  );
}

/**
 * Whether a command's optional server parameter names this server (its name
 * or a mask of it); when it does not, 402 has been sent.
 */
function isThisServer(context: IrcContext, target: string | undefined): boolean {
  if (target === undefined || target === "") return true;
  if (globPattern(target).test(context.irc.name)) return true;
  context.numeric(N.ERR_NOSUCHSERVER, clean(target), "No such server");
  return false;
}

/** `TIME [server]`: 391 with the server's time. */
export function time(context: IrcContext, message: IrcMessage): void {
  if (!isThisServer(context, message.params[0])) return;
  context.numeric(N.RPL_TIME, context.irc.name, new Date().toUTCString());
}

/** `INFO [server]`: 371 lines about parley, then 374. */
export function info(context: IrcContext, message: IrcMessage): void {
  if (!isThisServer(context, message.params[0])) return;
  const irc = context.irc;
  for (
    const line of [
      `parley ${irc.version}`,
      "One chat for line clients (nc, telnet), IRC clients and the web.",
      `${irc.name} started ${irc.created.toUTCString()}`,
    ]
  ) {
    context.numeric(N.RPL_INFO, line);
  }
  context.numeric(N.RPL_ENDOFINFO, "End of INFO list");
}

/** `MOTD [server]`: the message of the day (375, 372…, 376), or 422 when there is none. */
export function motd(context: IrcContext, message?: IrcMessage): void {
  if (!isThisServer(context, message?.params[0])) return;
  const irc = context.irc;
  if (irc.motd === null) return context.numeric(N.ERR_NOMOTD, "MOTD File is missing");
  context.numeric(N.RPL_MOTDSTART, `- ${irc.name} Message of the day - `);
  for (const line of irc.motd) context.numeric(N.RPL_MOTD, `- ${line}`);
  context.numeric(N.RPL_ENDOFMOTD, "End of /MOTD command.");
}

/** What HELP says about each command: its syntax, then what it does. */
const HELP: Readonly<Record<string, readonly string[]>> = {
  AWAY: ["AWAY [:<message>]", "Marks you away with a message, or back without one."],
  HELP: ["HELP [<subject>]", "Help on a command, or the list of commands."],
  INFO: ["INFO", "What this server is."],
  ISON: ["ISON <nick>{ <nick>}", "Which of these nicks are online."],
  JOIN: ["JOIN <#channel>{,<#channel>}", "Joins channels (creating them); JOIN 0 leaves them all."],
  KICK: ["KICK <#channel> <nick> [:<reason>]", "Removes someone from a channel."],
  LIST: [
    "LIST [<#channel>{,<#channel>} | <mask> | !<mask> | ><n> | <<n>]",
    "Lists channels with people in them: those named, matching a mask, or by size.",
  ],
  LUSERS: ["LUSERS", "How many people, operators and channels there are."],
  MODE: ["MODE <#channel> [<modes>] | MODE <nick> [+i|-i]", "Shows or changes modes."],
  MOTD: ["MOTD", "The message of the day."],
  NAMES: ["NAMES <#channel>", "Who is in a channel."],
  NICK: ["NICK <nick>", "Changes your nick."],
  NOTICE: ["NOTICE <target>{,<target>} :<text>", "Like PRIVMSG; never answered automatically."],
  OPER: ["OPER <name> <password>", "Become a server operator."],
  PART: ["PART <#channel>{,<#channel>} [:<reason>]", "Leaves channels."],
  PING: ["PING <token>", "The server answers PONG with the token."],
  PRIVMSG: [
    "PRIVMSG <target>{,<target>} :<text>",
    "Sends a message to a channel or a nick.",
  ],
  QUIT: ["QUIT [:<reason>]", "Leaves the chat."],
  SETNAME: ["SETNAME :<real name>", "Changes your real name (the setname capability)."],
  TIME: ["TIME", "The server's time."],
  TOPIC: ["TOPIC <#channel> [:<topic>]", "Shows or sets a channel's topic."],
  USERHOST: ["USERHOST <nick>{ <nick>}", "nick=+user@host of up to 5 nicks (- when away)."],
  WHO: [
    "WHO <#channel> | WHO <mask> [o] | WHO <target> %<fields>[,<token>]",
    "Who is in a channel, or whose nick, user name or real name matches.",
  ],
  WHOIS: ["WHOIS <nick>", "Who someone is."],
  WHOWAS: ["WHOWAS <nick> [<count>]", "Who had a nick before."],
};

/** `HELP [subject]` and `HELPOP [subject]`: 704, 705…, 706; 524 for an unknown subject. */
export function help(context: IrcContext, message: IrcMessage): void {
  const asked = message.params[0];
  if (asked === undefined || asked === "") {
    const subject = "*";
    context.numeric(N.RPL_HELPSTART, subject, "parley's IRC commands (HELP <command> for more):");
    const names = Object.keys(HELP);
    for (let at = 0; at < names.length; at += 8) {
      context.numeric(N.RPL_HELPTXT, subject, names.slice(at, at + 8).join(" "));
    }
    return context.numeric(N.RPL_ENDOFHELP, subject, "End of /HELP");
  }
  const subject = clean(asked);
  const lines = HELP[subject.toUpperCase()];
  if (lines === undefined) {
    return context.numeric(N.ERR_HELPNOTFOUND, subject, "No help available on this topic");
  }
  context.numeric(N.RPL_HELPSTART, subject, lines[0]);
  for (const line of lines.slice(1)) context.numeric(N.RPL_HELPTXT, subject, line);
  context.numeric(N.RPL_ENDOFHELP, subject, "End of /HELP");
}

/** An IRC mask (`*` any run, `?` one character) as a case-insensitive pattern. */
export function globPattern(mask: string): RegExp {
  const source = [...mask].map((char) =>
    char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\/]/g, "\\$&")
  ).join("");
  return new RegExp(`^${source}$`, "iu");
}
