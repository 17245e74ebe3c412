/**
 * IRC registration: capability negotiation (CAP), NICK, USER and PASS before
 * the client is in the chat, and the welcome (001–005, user count, MOTD)
 * once it is.
 *
 * ```
 * connected ──CAP LS/REQ──► negotiating ──CAP END──┐
 *     │                                            ▼
 *     └──NICK + USER (either order)──► both known and not negotiating ──► enter
 *                                            nick taken: 433, wait for NICK │
 *                                                    registered ◄───────────┘ (001–005, MOTD)
 * ```
 *
 * @module
 */

import type { ChatMember, ProvedAccount } from "../../core/chat.ts";
import type { Refused, Replies } from "../../core/commands.ts";
import { formatMessage, type IrcMessage } from "../../protocol/irc/message.ts";
import { formatListLines } from "../../protocol/irc/text.ts";
import { capabilityList, isOffered } from "./capabilities.ts";
import { chathistoryTokens } from "./chathistory.ts";
import { MAX_NICK, MAX_ROOM, MAX_TOPIC_BYTES, nameKey, nickProblem } from "../../protocol/names.ts";
import { cleanString as clean } from "../../text.ts";
import type { IrcContext } from "./context.ts";
import { MONITOR_LIMIT } from "./monitor.ts";
import * as N from "./numerics.ts";
import { MAX_BANS, MAX_PARAM_MODES } from "../../core/channel_modes.ts";
import { lusersReplies } from "./server_info.ts";

/** Longest away text kept, in characters. */
export const MAX_AWAY = 200;
/** The longest real name kept, in UTF-8 bytes (USER, SETNAME; ISUPPORT `NAMELEN`). */
export const MAX_REALNAME = 100;
/** Most targets of one PRIVMSG or NOTICE (duplicates counted once). */
export const MAX_TARGETS = 4;
/** Longest user name kept from USER. */
const MAX_USER = 16;

/** How a registration enters the chat: with a PASS password or an account proved already. */
type Enter = (
  nick: string,
  user: string,
  password?: string | ProvedAccount,
) => Promise<ChatMember | Refused>;

/** A client's registration: what it said about itself before entering the chat. */
export class Registration {
  nick: string | null = null;
  user: string | null = null;
  realname = "";
  /** PASS at registration: the password of the nick (`nick:password`, or with NICK). */
  password: string | null = null;
  /** The account proved before registering (SASL, REGISTER): the client enters with it. */
  proved: ProvedAccount | null = null;
  /** CAP LS or REQ came and CAP END has not: registration waits. */
  negotiating = false;
  /** CAP LS or REQ came at some point: the client speaks IRCv3 capabilities. */
  negotiated = false;
  /** The capabilities the client asked for and has. */
  readonly caps = new Set<string>();
  readonly #enter: Enter;

  /** `enter` brings the client into the chat once NICK and USER are known. */
  constructor(enter: Enter) {
    this.#enter = enter;
  }

  /** `NICK name` before registration. */
  nickGiven(context: IrcContext, message: IrcMessage): Promise<void> | void {
    const [nick] = message.params;
    if (!nick) return context.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given");
    const wanted = clean(nick).normalize("NFC");
    if (nickProblem(wanted) !== null) {
      return context.numeric(N.ERR_ERRONEUSNICKNAME, wanted, "Erroneous nickname");
    }
    this.nick = wanted;
    return this.tryRegister(context);
  }

  /** `USER name mode unused :real name` before registration. */
  userGiven(context: IrcContext, message: IrcMessage): Promise<void> {
    this.user = userName(message.params[0]);
    this.realname = clean(message.params[3]).slice(0, 100);
    return this.tryRegister(context);
  }

  /** `PASS nick:password` names the nick too; a plain PASS goes with NICK. */
  passGiven(message: IrcMessage): void {
    const given = message.params[0] ?? "";
    const colon = given.indexOf(":");
    if (colon > 0) {
      // Only a nick NICK would take: anything else would be echoed in every reply (a long one
      // made CAP's replies unbuildable); the password stands either way.
      const named = clean(given.slice(0, colon)).normalize("NFC");
      if (nickProblem(named) === null) this.nick ??= named;
      this.password = given.slice(colon + 1);
    } else {
      this.password = given;
    }
  }

  /** CAP LS, LIST, REQ, END: before and after registration. */
  cap(context: IrcContext, message: IrcMessage, setCaps: () => void): void | Promise<void> {
    const [sub, requested = ""] = message.params;
    const list = clean(requested);
    const registered = context.registered;
    switch (sub?.toUpperCase()) {
      case "LS": {
        if (!registered) this.negotiating = true;
        this.negotiated = true;
        const version = Number(message.params[1] ?? 0);
        // 302 and later: values, and cap-notify is theirs without asking.
        if (version >= 302) this.caps.add("cap-notify");
        return capLines(
          context,
          "LS",
          capabilityList(version >= 302, {
            registerBeforeConnect: context.chat.registersBeforeEntering,
          }),
        );
      }
      case "LIST":
        return capLines(context, "LIST", [...this.caps]);
      case "REQ": {
        if (!registered) this.negotiating = true;
        this.negotiated = true;
        const wanted = list.split(" ").filter(Boolean);
        const known = wanted.length > 0 && wanted.every((cap) => isOffered(cap.replace(/^-/, "")));
        if (!known) return context.sendLine(capLine(context, "NAK", list));
        for (const cap of wanted) {
          if (cap.startsWith("-")) this.caps.delete(cap.slice(1));
          else this.caps.add(cap);
        }
        setCaps();
        return context.sendLine(capLine(context, "ACK", list));
      }
      case "END":
        if (registered || !this.negotiating) return;
        this.negotiating = false;
        return this.tryRegister(context);
      default:
        return context.numeric(N.ERR_INVALIDCAPCMD, clean(sub ?? ""), "Invalid CAP command");
    }
  }

  /** With a nick and a user, and no CAP negotiation open, the client enters the chat. */
  async tryRegister(context: IrcContext): Promise<void> {
    if (this.nick === null || this.user === null || this.negotiating) return;
    const nick = this.nick;
    // A proved account serves for its own nick, and for any nick no PASS was given for.
    const proved = this.proved;
    const credential = proved !== null && (this.password === null || proved.key === nameKey(nick))
      ? proved
      : this.password ?? undefined;
    const entered = await this.#enter(nick, this.user, credential);
    if ("kind" in entered) {
      this.nick = null;
      return context.nickProblem(entered.problem, nick);
    }
  }
}

/** What RPL_ISUPPORT (005) announces: the server's limits and conventions. */
export function isupportTokens(context: IrcContext): string[] {
  return [
    "CASEMAPPING=ascii",
    "UTF8MAPPING=rfc8265",
    "UTF8ONLY",
    "CHANTYPES=#",
    `CHANLIMIT=#:${context.chat.maxRoomsPerMember}`,
    `MAXTARGETS=${MAX_TARGETS}`,
    `TARGMAX=PRIVMSG:${MAX_TARGETS},NOTICE:${MAX_TARGETS},TAGMSG:${MAX_TARGETS},JOIN:,PART:,KICK:1,WHOIS:1`,
    `CHANNELLEN=${MAX_ROOM + 1}`,
    `NICKLEN=${MAX_NICK}`,
    `TOPICLEN=${MAX_TOPIC_BYTES}`,
    `AWAYLEN=${MAX_AWAY}`,
    `MONITOR=${MONITOR_LIMIT}`,
    `NAMELEN=${MAX_REALNAME}`,
    "WHOX",
    "ELIST=MNU",
    "NETWORK=parley",
    "PREFIX=(ov)@+",
    // b: a list; k: a parameter both ways; l: when set; the rest: none (channel_modes.ts).
    "CHANMODES=b,k,l,imnst",
    `MODES=${MAX_PARAM_MODES}`,
    `MAXLIST=b:${MAX_BANS}`,
    "EXTBAN=~,a",
    "ACCOUNTEXTBAN=a",
    ...chathistoryTokens(),
  ];
}

/** 001–005, the counts of LUSERS (on every server) and the MOTD. */
export function welcome(context: IrcContext, counts: Replies["lusers"]): void {
  const irc = context.irc;
  const me = context.member;
  const source = irc.renderers.plain.source(me.nick, me.user);
  context.numeric(N.RPL_WELCOME, `Welcome to the parley network, ${source}`);
  context.numeric(N.RPL_YOURHOST, `Your host is ${irc.name}, running parley ${irc.version}`);
  context.numeric(N.RPL_CREATED, `This server was created ${irc.created.toUTCString()}`);
  context.numericData(
    N.RPL_MYINFO,
    irc.name,
    `parley-${irc.version}`,
    "o",
    "biklmnostv",
    "bklov",
  );
  const tokens = isupportTokens(context);
  // At most 13 tokens a line (modern: "up to 13 parameters"), 12 here to be safe.
  for (let at = 0; at < tokens.length; at += 12) {
    context.numeric(N.RPL_ISUPPORT, ...tokens.slice(at, at + 12), "are supported by this server");
  }
  lusersReplies(context, counts);
  const motd = irc.motd;
  if (motd === null) return context.numeric(N.ERR_NOMOTD, "MOTD File is missing");
  context.numeric(N.RPL_MOTDSTART, `- ${irc.name} Message of the day - `);
  for (const line of motd) context.numeric(N.RPL_MOTD, `- ${line}`);
  context.numeric(N.RPL_ENDOFMOTD, "End of /MOTD command.");
}

/** A CAP LS or LIST reply, over several lines (`CAP nick LS * :…`) when it is long. */
function capLines(context: IrcContext, sub: string, caps: readonly string[]): void {
  const lines = formatListLines(
    { source: context.irc.name, command: "CAP", params: [context.nick, sub] },
    caps,
    { more: "*" },
  );
  for (const line of lines) context.sendLine(line);
}

function capLine(context: IrcContext, sub: string, list: string): string {
  return formatMessage({
    source: context.irc.name,
    command: "CAP",
    params: [context.nick, sub, list],
  }, { trailing: true });
}

/** A user name from USER: letters, digits, `_ - .`, at most 16; `irc` when nothing is left. */
function userName(raw: string | undefined): string {
  const kept = clean(raw ?? "").replace(/[^\p{L}\p{N}_.\-]/gu, "");
  return [...kept].slice(0, MAX_USER).join("") || "irc";
}
