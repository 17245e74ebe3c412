/**
 * IRC queries about people: WHO (with masks and IRCv3 WHOX), WHOIS, WHOWAS,
 * USERHOST, ISON, AWAY (which WHO, WHOIS and USERHOST show), SETNAME (the
 * real name they show) and the user modes (`MODE nick`, `+i`).
 *
 * What IRC shows of a member: `nick!user@host` with the server's name as the
 * host (never the client's address), its real name (a line client, which
 * gives none, shows {@linkcode NO_REALNAME}), `H`/`G` for here or away, `*`
 * for a server operator and `@` for a room operator in that room.
 *
 * @module
 */

import type { MemberInfo, Replies } from "../../core/commands.ts";
import { formatMessage, type IrcMessage } from "../../protocol/irc/message.ts";
import { formatListLines, stripFormatting } from "../../protocol/irc/text.ts";
import { cleanString as clean, cutToBytes } from "../../text.ts";
import type { IrcContext } from "./context.ts";
import * as N from "./numerics.ts";
import { MAX_AWAY, MAX_REALNAME, MAX_TARGETS } from "./registration.ts";
import { memberPrefix } from "./modes.ts";
import { realnameShown } from "./render.ts";
import { globPattern } from "./server_info.ts";

/** The most nicks one USERHOST asks about (RFC 2812). */
const MAX_USERHOST = 5;
/** The most nicks one ISON asks about. */
const MAX_ISON = 100;
/** What WHOX shows in place of an address: parley never shows one. */
const HIDDEN_IP = "255.255.255.255";
/** The fields WHOX knows, in the order its replies give them (whatever order they were asked in). */
const WHOX_FIELDS = "tcuihsnfdlaor";

/** `WHO`, `WHO #channel`, `WHO nick`, `WHO mask [o]`, `WHO target %fields[,token]` (WHOX). */
export async function who(context: IrcContext, message: IrcMessage): Promise<void> {
  const [given = "", options = ""] = message.params;
  const mask = given === "" || given === "0" ? "*" : given;
  const whox = options.startsWith("%") ? parseWhox(options) : null;
  const operatorsOnly = whox === null && options.includes("o");
  const show = (channel: string, info: MemberInfo) => {
    if (operatorsOnly && !info.serverOperator) return;
    if (whox !== null) whoxReply(context, whox, channel, info);
    else whoReply(context, channel, info);
  };
  if (mask.startsWith("#")) {
    // Of a big channel, what NAMES lists (`core/big_rooms.ts`); server operators see everyone.
    const reply = await context.chat.apply(context.member, {
      kind: "who",
      room: mask.slice(1),
      listed: !context.member.operator,
    });
    if (reply.kind === "who") { for (const info of reply.members) show(`#${reply.room}`, info); }
  } else {
    for (const info of await matching(context, mask)) show("*", info);
  }
  context.numeric(N.RPL_ENDOFWHO, clean(given) || "*", "End of WHO list");
}

/**
 * Who `mask` finds: the one member of that nick when it has no wildcard
 * (invisible or not), else everyone the asker may find whose nick, user
 * name, host or real name matches.
 */
async function matching(context: IrcContext, mask: string): Promise<MemberInfo[]> {
  if (!/[*?]/.test(mask)) {
    const reply = await context.chat.apply(context.member, { kind: "whois", nick: mask });
    if (reply.kind === "whois") return [whoisInfo(reply)];
  }
  const pattern = globPattern(mask);
  const host = context.irc.name;
  const reply = await context.chat.apply(context.member, { kind: "members" });
  return reply.members.filter((info) =>
    pattern.test(info.nick) || pattern.test(info.user) || pattern.test(host) ||
    pattern.test(realnameShown(info.realname, info.user))
  );
}

function whoisInfo(reply: Extract<Replies["whois"], { kind: "whois" }>): MemberInfo {
  return {
    nick: reply.nick,
    user: reply.user,
    operator: false,
    away: reply.away,
    realname: reply.realname ?? undefined,
    serverOperator: reply.serverOperator,
    account: reply.account,
    idleSeconds: reply.idleSeconds,
  };
}

/**
 * `H` or `G` (away), `*` for a server operator, then in a channel `@` for its
 * operators and `+` for its voiced members (the highest, or all with `multi`-prefix).
 */
function whoFlags(channel: string, info: MemberInfo, multi: boolean): string {
  return (info.away === null ? "H" : "G") + (info.serverOperator ? "*" : "") +
    (channel !== "*" ? memberPrefix(info, multi) : "");
}

/** 352: `<channel> <user> <host> <server> <nick> <flags> :<hopcount> <realname>`. */
function whoReply(context: IrcContext, channel: string, info: MemberInfo): void {
  const server = context.irc.name;
  context.numeric(
    N.RPL_WHOREPLY,
    channel,
    info.user,
    server,
    server,
    info.nick,
    whoFlags(channel, info, context.caps.has("multi-prefix")),
    `0 ${realnameShown(info.realname, info.user)}`,
  );
}

interface Whox {
  fields: string;
  token: string;
}

/** `%fields[,token]`: the fields WHOX knows, and a token of at most three digits (else `0`). */
function parseWhox(options: string): Whox {
  const [asked, token = ""] = options.slice(1).split(",", 2);
  const fields = [...WHOX_FIELDS].filter((field) => asked.includes(field)).join("");
  return { fields, token: /^[0-9]{1,3}$/.test(token) ? token : "0" };
}

/** 354: the fields asked for, in WHOX's order; the real name last, as a trailing parameter. */
function whoxReply(context: IrcContext, whox: Whox, channel: string, info: MemberInfo): void {
  const server = context.irc.name;
  const params: string[] = [];
  for (const field of whox.fields) {
    switch (field) {
      case "t":
        params.push(whox.token);
        break;
      case "c":
        params.push(channel);
        break;
      case "u":
        params.push(info.user);
        break;
      case "i":
        params.push(HIDDEN_IP);
        break;
      case "h":
      case "s":
        params.push(server);
        break;
      case "n":
        params.push(info.nick);
        break;
      case "f":
        params.push(whoFlags(channel, info, context.caps.has("multi-prefix")));
        break;
      case "d":
        params.push("0");
        break;
      case "l":
        params.push(String(info.idleSeconds ?? 0));
        break;
      case "a":
        params.push(info.account ?? "0");
        break;
      case "o":
        params.push("n/a");
        break;
      case "r":
        params.push(realnameShown(info.realname, info.user));
        break;
    }
  }
  if (params.length === 0) return;
  // Only the real name may hold spaces, and it comes last.
  if (whox.fields.endsWith("r")) context.numeric(N.RPL_WHOSPCRPL, ...params);
  else context.numericData(N.RPL_WHOSPCRPL, ...params);
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
  const me = context.member;
  context.numeric(
    N.RPL_WHOISUSER,
    reply.nick,
    reply.user,
    irc.name,
    "*",
    realnameShown(reply.realname, reply.user),
  );
  // An invisible member's rooms are shown to those who share them (and to itself).
  const self = reply.nick === me.nick;
  const rooms = self || !reply.invisible ? reply.rooms : reply.rooms.filter((room) => {
    const shared = context.chat.findRoom(room.name);
    return shared !== undefined && me.rooms.includes(shared);
  });
  if (rooms.length > 0) {
    const channels = rooms.map((room) => (room.operator ? "@#" : "#") + room.name);
    const lines = formatListLines(
      { source: irc.name, command: N.RPL_WHOISCHANNELS, params: [context.nick, reply.nick] },
      channels,
    );
    for (const line of lines) context.sendLine(line);
  }
  context.numeric(N.RPL_WHOISSERVER, reply.nick, irc.name, "parley");
  if (reply.serverOperator) context.numeric(N.RPL_WHOISOPERATOR, reply.nick, "is an IRC operator");
  if (reply.away !== null) context.numeric(N.RPL_AWAY, reply.nick, reply.away);
  if (reply.account !== null) {
    context.numeric(N.RPL_WHOISACCOUNT, reply.nick, reply.account, "is logged in as");
  }
  // One account on several devices (issue 23): to itself and to server operators only.
  if (reply.devices !== undefined) {
    context.numeric(N.RPL_WHOISSPECIAL, reply.nick, `is connected on ${reply.devices} devices`);
  }
  context.numeric(
    N.RPL_WHOISIDLE,
    reply.nick,
    String(reply.idleSeconds),
    String(Math.floor(reply.since / 1000)),
    "seconds idle, signon time",
  );
  context.numeric(N.RPL_ENDOFWHOIS, reply.nick, "End of /WHOIS list");
}

/** `WHOWAS nick[,nick…] [count]`: 314 and 312 per nick it was, newest first, or 406; then 369. */
export async function whowas(context: IrcContext, message: IrcMessage): Promise<void> {
  const [nicks = "", countText = ""] = message.params;
  if (nicks === "") return context.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given");
  const count = Number.parseInt(countText, 10);
  const irc = context.irc;
  for (const nick of [...new Set(nicks.split(",").filter(Boolean))].slice(0, MAX_TARGETS)) {
    const reply = await context.chat.apply(context.member, {
      kind: "whowas",
      nick,
      count: Number.isNaN(count) ? 0 : count,
    });
    if (reply.entries.length === 0) {
      context.numeric(N.ERR_WASNOSUCHNICK, clean(nick), "There was no such nickname");
    }
    for (const entry of reply.entries) {
      context.numeric(
        N.RPL_WHOWASUSER,
        entry.nick,
        entry.user,
        irc.name,
        "*",
        realnameShown(entry.realname, entry.user),
      );
      context.numeric(N.RPL_WHOISSERVER, entry.nick, irc.name, new Date(entry.time).toUTCString());
    }
    context.numeric(N.RPL_ENDOFWHOWAS, clean(nick), "End of WHOWAS");
  }
}

/** `USERHOST nick{ nick}`: 302 with `nick[*]=±user@host` for each that is online (`-`: away). */
export async function userhost(context: IrcContext, message: IrcMessage): Promise<void> {
  const found: string[] = [];
  for (const nick of message.params.slice(0, MAX_USERHOST)) {
    if (nick === "") continue;
    const reply = await context.chat.apply(context.member, { kind: "whois", nick });
    if (reply.kind === "refused") continue;
    const operator = reply.serverOperator ? "*" : "";
    const away = reply.away === null ? "+" : "-";
    found.push(`${reply.nick}${operator}=${away}${reply.user}@${context.irc.name}`);
  }
  context.numeric(N.RPL_USERHOST, found.join(" "));
}

/** `ISON nick{ nick}`: 303 with those of them online. */
export async function ison(context: IrcContext, message: IrcMessage): Promise<void> {
  const asked = message.params.flatMap((param) => param.split(" ")).filter(Boolean);
  const online: string[] = [];
  for (const nick of asked.slice(0, MAX_ISON)) {
    const member = context.chat.find(nick);
    if (member !== undefined) {
      online.push(member.nick);
      continue;
    }
    const reply = await context.chat.apply(context.member, { kind: "whois", nick });
    if (reply.kind === "whois") online.push(reply.nick);
  }
  context.numeric(N.RPL_ISON, online.join(" "));
}

/** `AWAY :text` (away) or `AWAY` (back); neighbours with away-notify are told by the chat. */
export async function away(context: IrcContext, message: IrcMessage): Promise<void> {
  const text = [...clean(stripFormatting(message.params[0] ?? ""))].slice(0, MAX_AWAY).join("");
  const reply = await context.chat.apply(context.member, { kind: "away", text });
  if (reply.away) context.numeric(N.RPL_NOWAWAY, "You have been marked as being away");
  else context.numeric(N.RPL_UNAWAY, "You are no longer marked as being away");
}

/** A real name as kept: cleaned, formatting removed, at most {@linkcode MAX_REALNAME} bytes. */
export function realnameOf(text: string): string {
  return cutToBytes(clean(stripFormatting(text)).trim(), MAX_REALNAME);
}

/** `SETNAME :real name` (IRCv3 setname): the client hears its new name back, as its rooms do. */
export async function setname(context: IrcContext, message: IrcMessage): Promise<void> {
  const realname = realnameOf(message.params[0] ?? "");
  if (realname === "") {
    return context.sendLine(formatMessage({
      source: context.irc.name,
      command: "FAIL",
      params: ["SETNAME", "INVALID_REALNAME", "The real name cannot be empty"],
    }));
  }
  const reply = await context.chat.apply(context.member, { kind: "realname", realname });
  if (context.caps.has("setname")) {
    context.sendLine(context.own("SETNAME", [reply.realname], true));
  }
}

/** `MODE <own nick> [+i|-i|-o…]`: shows or changes the member's own modes. */
export async function userMode(context: IrcContext, change: string | undefined): Promise<void> {
  const before = await context.chat.apply(context.member, { kind: "user-mode" });
  if (change === undefined) return context.numericData(N.RPL_UMODEIS, umodes(before));
  let adding = true;
  let invisible: boolean | undefined;
  let deoper = false;
  let unknown = false;
  for (const char of change) {
    if (char === "+" || char === "-") adding = char === "+";
    else if (char === "i") invisible = adding;
    else if (char === "o") deoper ||= !adding; // +o comes from OPER only
    else unknown = true;
  }
  if (unknown) context.numeric(N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag");
  if (invisible === undefined && !deoper) return;
  const after = await context.chat.apply(context.member, { kind: "user-mode", invisible, deoper });
  const changed = modeChange(before, after);
  if (changed !== "") context.sendLine(context.own("MODE", [context.nick, changed], true));
}

type UserModes = Replies["user-mode"];

/** `+`, `+i`, `+o`, `+io`: RPL_UMODEIS. */
function umodes(modes: UserModes): string {
  return "+" + (modes.invisible ? "i" : "") + (modes.operator ? "o" : "");
}

/** What changed between two sets of modes, as a MODE line says it (`+i`, `-o`, `+i-o`), or "". */
export function modeChange(before: UserModes, after: UserModes): string {
  let added = "";
  let removed = "";
  if (after.invisible !== before.invisible) {
    if (after.invisible) added += "i";
    else removed += "i";
  }
  if (after.operator !== before.operator) {
    if (after.operator) added += "o";
    else removed += "o";
  }
  return (added ? "+" + added : "") + (removed ? "-" + removed : "");
}
