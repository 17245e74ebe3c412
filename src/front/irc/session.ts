/**
 * An IRC client's session: registration (CAP, NICK, USER, PASS), then the
 * client protocol's commands carried out through the {@linkcode Chat} and
 * answered with numerics, and PING/PONG both ways. IRC users are not put in a
 * room; they JOIN the channels they want (`#dev` is the room `dev`), several
 * at once if they like, and meet line users there.
 *
 * Registration:
 *
 * ```
 * connected ──CAP LS/REQ──► negotiating ──CAP END──┐
 *     │                                            ▼
 *     └──NICK + USER (either order)──► both known and not negotiating ──► chat.enter
 *                                            nick taken: 433, wait for NICK │
 *                                                    registered ◄───────────┘ (001–005, MOTD)
 * ```
 *
 * Before registration only CAP, NICK, USER, PASS, PING, PONG and QUIT are
 * served; anything else gets 451 (irssi's `JOIN :` included, which is how
 * irssi learns there is no CAP to wait for).
 *
 * @module
 */

import type { FrontCounters } from "../../metrics.ts";
import {
  type Chat,
  type ChatMember,
  type Endpoint,
  LOBBY,
  type Removal,
  type Renderer,
} from "../../core/chat.ts";
import { parseCidr } from "../../core/cidr.ts";
import type { Moderated, Refused } from "../../core/commands.ts";
import type { OperatorCommand } from "../../core/moderation.ts";
import { moderatedLines } from "../moderation.ts";
import type { MemberInfo, Problem } from "../../core/commands.ts";
import type { MessageEvent } from "../../core/events.ts";
import { MAX_NICK, MAX_ROOM, MAX_TOPIC } from "../../core/names.ts";
import type { Logger } from "../../log.ts";
import type { Connection, LineHandler } from "../../net/connection.ts";
import { LINE_TOO_LONG } from "../../net/line_reader.ts";
import { cleanString, hasContent } from "../../text.ts";
import { historyTime, problemText, removalText } from "../line.ts";
import {
  formatListLines,
  formatMessage,
  formatNumeric,
  formatServerTime,
  type IrcMessage,
  MAX_INCOMING_LINE_BYTES,
  parseCtcp,
  parseLine,
  stripFormatting,
} from "./message.ts";
import * as N from "./numerics.ts";
import type { IrcRenderer } from "./render.ts";

/** What every IRC session of one server shares. */
export interface IrcServerInfo {
  /** The server's name in replies and the host part of every source (`--irc-name`). */
  name: string;
  /** parley's version, for 002 and 004. */
  version: string;
  /** When the server started, for 003. */
  created: Date;
  /** The message of the day (`--motd`), or null for 422. */
  motd: readonly string[] | null;
  /** Renderers without and with `server-time` tags. */
  plain: IrcRenderer;
  timed: IrcRenderer;
  /** Silence after which the server PINGs the client (ms). */
  pingAfterMs: number;
  /** An unanswered PING ends the connection after this long (ms). */
  pingTimeoutMs: number;
}

/** What an IRC session needs from the server around it. */
export interface IrcSessionContext {
  chat: Chat;
  log: Logger;
  irc: IrcServerInfo;
  /** What it counts for `--metrics`. */
  counters?: FrontCounters;
  /** Told once the session is over and its connection closed. */
  onEnd?: (session: IrcSession) => void;
}

/** The capabilities parley implements, all of them fully. */
const CAPABILITIES = ["server-time"] as const;
/** Longest away text kept, in characters. */
const MAX_AWAY = 200;
/** Longest user name kept from USER. */
const MAX_USER = 16;
/** A client that has not registered after this long is dropped (ms). */
const REGISTRATION_TIMEOUT_MS = 60_000;
const encoder = new TextEncoder();

/** One IRC client, from connect to QUIT. */
export class IrcSession implements Endpoint, LineHandler {
  renderer: Renderer;
  readonly connection: Connection;
  readonly #chat: Chat;
  readonly #log: Logger;
  readonly #irc: IrcServerInfo;
  readonly #onEnd: ((session: IrcSession) => void) | undefined;
  readonly #counters: FrontCounters | undefined;
  #member: ChatMember | null = null;
  #nick: string | null = null;
  #user: string | null = null;
  #realname = "";
  /** PASS at registration: the password of the nick (`nick:password`, or with NICK). */
  #password: string | null = null;
  readonly #caps = new Set<string>();
  #negotiating = false;
  #messages = 0;
  readonly #startedAt = performance.now();
  readonly #connectedAt = Date.now();
  /** When the server's PING went out, or 0 when none is outstanding. */
  #pingSentAt = 0;
  /** Events held back while a channel's names and history are being sent; null when none are. */
  #held: Uint8Array[] | null = null;

  constructor(connection: Connection, context: IrcSessionContext) {
    this.connection = connection;
    this.#chat = context.chat;
    this.#log = context.log;
    this.#irc = context.irc;
    this.#onEnd = context.onEnd;
    this.#counters = context.counters;
    this.renderer = context.irc.plain;
  }

  /** The member, while this client is in the chat. */
  get member(): ChatMember | null {
    return this.#member?.present ? this.#member : null;
  }

  /** The nick: registered, asked for, or `*`. */
  get nick(): string {
    return this.#member?.nick ?? this.#nick ?? "*";
  }

  /** The client's address (bans, password throttling; never shown to users). */
  get address(): string {
    return this.connection.peer.hostname;
  }

  /** An operator removed this client: an ERROR line says why, then the connection closes. */
  remove(removal: Removal): void {
    this.connection.end("kicked", {
      detail: `${removal.how === "banned" ? "banned" : "kicked"} by ${removal.by}${
        removal.reason ? `: ${removal.reason}` : ""
      }`,
      notice: this.#errorLine(removalText(removal)),
    });
  }

  /** Events for this member (the chat calls it); held back while a JOIN's replies go out. */
  send(bytes: Uint8Array): void {
    if (this.#held !== null) this.#held.push(bytes);
    else this.connection.send(bytes);
  }

  /**
   * Starts serving the client (registration comes as its lines do). When it
   * leaves, the session takes it out of the chat and tells `onEnd`.
   */
  start(): Promise<void> {
    this.connection.run(this, { maxLine: MAX_INCOMING_LINE_BYTES });
    return Promise.resolve();
  }

  /** The read loop is over: out of the chat, the connection closed, the log told. */
  ended(): void {
    void this.#finish();
  }

  async #finish(): Promise<void> {
    const connection = this.connection;
    try {
      this.#release();
      const member = this.#member;
      const reason = connection.reason;
      if (member) {
        this.#chat.leave(member, {
          reason,
          detail: connection.detail,
          announce: reason !== "shutdown",
        });
      }
      const online = this.#chat.online;
      await connection.close();
      if (member) {
        this.#log.event({
          event: "disconnect",
          peer: connection.peer,
          nick: member.nick,
          reason,
          detail: connection.detail || undefined,
          seconds: (performance.now() - this.#startedAt) / 1000,
          messages: this.#messages,
          online,
          protocol: "irc",
        });
      }
    } finally {
      this.#onEnd?.(this);
    }
  }

  /** Ends the session from outside: the client gets an ERROR line saying why. */
  stop(reason: "idle" | "shutdown", detail = ""): void {
    const why = reason === "shutdown" ? "server shutting down" : detail || "idle";
    this.connection.end(reason, { detail, notice: this.#errorLine(why) });
  }

  /**
   * The server's clock: PINGs a client that has been silent, drops one that
   * does not answer, one that never registers, and one whose socket has taken
   * nothing for a while.
   */
  tick(now: number): void {
    this.connection.checkStalled();
    const lastHeard = this.connection.lastActive;
    if (this.#member === null) {
      if (now - this.#connectedAt > REGISTRATION_TIMEOUT_MS) {
        this.stop("idle", "registration timed out");
      }
      return;
    }
    if (this.#pingSentAt !== 0 && lastHeard >= this.#pingSentAt) this.#pingSentAt = 0;
    if (this.#pingSentAt === 0) {
      if (now - lastHeard >= this.#irc.pingAfterMs) {
        this.#pingSentAt = now;
        this.#send(formatMessage({ command: "PING", params: [this.#irc.name] }));
      }
    } else if (now - this.#pingSentAt >= this.#irc.pingTimeoutMs) {
      const seconds = Math.round(this.#irc.pingTimeoutMs / 1000);
      this.stop("idle", `no answer to PING for ${seconds} s`);
    }
  }

  /** One framed line from the client. */
  line(line: Uint8Array | typeof LINE_TOO_LONG): void | Promise<void> {
    if (line === LINE_TOO_LONG) return this.#numeric(N.ERR_INPUTTOOLONG, "Input line was too long");
    const parsed = parseLine(line);
    if (!parsed.ok) {
      if (parsed.error === "too-long") {
        return this.#numeric(N.ERR_INPUTTOOLONG, "Input line was too long");
      }
      if (parsed.error === "bad-command" && this.#member) {
        return this.#numeric(N.ERR_UNKNOWNCOMMAND, clean(parsed.command ?? ""), "Unknown command");
      }
      return;
    }
    const message = parsed.message;
    return this.#member === null ? this.#beforeRegistration(message) : this.#command(message);
  }

  /** The read's lines are done: its channel messages go out together. */
  endOfRead(): void {
    this.#chat.flush();
  }

  /** Overload: before reading more, wait while a room this member talks in is behind. */
  readGate(): Promise<void> | null {
    return this.#member === null ? null : this.#chat.gate(this.#member);
  }

  /** Overload: this member's output is behind (it holds its rooms' talkers back) or caught up. */
  holding(holding: boolean): void {
    if (this.#member !== null) this.#chat.hold(this.#member, holding);
  }

  #beforeRegistration(message: IrcMessage): void | Promise<void> {
    const [first, second] = message.params;
    switch (message.command) {
      case "CAP":
        return this.#cap(message);
      case "NICK": {
        if (!first) return this.#numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given");
        this.#nick = clean(first);
        return this.#tryRegister();
      }
      case "USER": {
        if (message.params.length < 4) {
          return this.#numeric(N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters");
        }
        this.#user = userName(first);
        this.#realname = clean(message.params[3]).slice(0, 100);
        return this.#tryRegister();
      }
      case "PASS": {
        // `PASS nick:password` names the nick too; a plain PASS goes with NICK.
        const given = first ?? "";
        const colon = given.indexOf(":");
        if (colon > 0) {
          this.#nick ??= clean(given.slice(0, colon));
          this.#password = given.slice(colon + 1);
        } else {
          this.#password = given;
        }
        return;
      }
      case "PING":
        return this.#pong(first);
      case "PONG":
        return;
      case "QUIT":
        return this.#quit(second ?? first ?? "");
      default:
        return this.#numeric(N.ERR_NOTREGISTERED, "You have not registered");
    }
  }

  #cap(message: IrcMessage): void | Promise<void> {
    const [sub, list = ""] = message.params;
    switch (sub?.toUpperCase()) {
      case "LS":
        if (this.#member === null) this.#negotiating = true;
        return this.#send(this.#capLine("LS", CAPABILITIES.join(" ")));
      case "LIST":
        return this.#send(this.#capLine("LIST", [...this.#caps].join(" ")));
      case "REQ": {
        if (this.#member === null) this.#negotiating = true;
        const wanted = list.split(" ").filter(Boolean);
        const known = wanted.every((cap) =>
          (CAPABILITIES as readonly string[]).includes(cap.replace(/^-/, ""))
        );
        if (!known) return this.#send(this.#capLine("NAK", list));
        for (const cap of wanted) {
          if (cap.startsWith("-")) this.#caps.delete(cap.slice(1));
          else this.#caps.add(cap);
        }
        this.renderer = this.#caps.has("server-time") ? this.#irc.timed : this.#irc.plain;
        if (this.#member) this.#chat.setRenderer(this.#member, this.renderer);
        return this.#send(this.#capLine("ACK", list));
      }
      case "END":
        if (this.#member !== null || !this.#negotiating) return;
        this.#negotiating = false;
        return this.#tryRegister();
      default:
        return this.#numeric(N.ERR_INVALIDCAPCMD, clean(sub ?? ""), "Invalid CAP command");
    }
  }

  #capLine(sub: string, list: string): string {
    return formatMessage({
      source: this.#irc.name,
      command: "CAP",
      params: [this.nick, sub, list],
    }, { trailing: true });
  }

  /** With a nick and a user, and no CAP negotiation open, the client enters the chat. */
  async #tryRegister(): Promise<void> {
    if (this.#nick === null || this.#user === null || this.#negotiating) return;
    const nick = this.#nick;
    const entered = await this.#chat.enter(this, nick, this.#user, this.#password ?? undefined);
    if ("kind" in entered) {
      this.#nick = null;
      return this.#nickProblem(entered.problem, nick);
    }
    this.#member = entered;
    const lobby = this.#chat.findRoom(LOBBY);
    this.#welcome(lobby ? (await this.#chat.census(lobby)).online : this.#chat.online);
    this.#log.event({
      event: "connect",
      peer: this.connection.peer,
      nick: entered.nick,
      online: this.#chat.online,
      protocol: "irc",
    });
  }

  /** 001–005, the user count (`online`, on every server) and the MOTD. */
  #welcome(online: number): void {
    const irc = this.#irc;
    const me = this.#member!;
    const source = irc.plain.source(me.nick, me.user);
    this.#numeric(N.RPL_WELCOME, `Welcome to the parley network, ${source}`);
    this.#numeric(N.RPL_YOURHOST, `Your host is ${irc.name}, running parley ${irc.version}`);
    this.#numeric(N.RPL_CREATED, `This server was created ${irc.created.toUTCString()}`);
    this.#numericData(N.RPL_MYINFO, irc.name, `parley-${irc.version}`, "o", "nt");
    this.#numeric(
      N.RPL_ISUPPORT,
      "CASEMAPPING=ascii",
      "UTF8MAPPING=rfc8265",
      "UTF8ONLY",
      "CHANTYPES=#",
      `CHANNELLEN=${MAX_ROOM + 1}`,
      `NICKLEN=${MAX_NICK}`,
      `TOPICLEN=${MAX_TOPIC}`,
      `AWAYLEN=${MAX_AWAY}`,
      "NETWORK=parley",
      "PREFIX=(o)@",
      "CHANMODES=,,,nt",
      "MODES=1",
      "are supported by this server",
    );
    this.#numeric(
      N.RPL_LUSERCLIENT,
      `There are ${online} users and 0 invisible`,
    );
    const motd = irc.motd;
    if (motd === null) return this.#numeric(N.ERR_NOMOTD, "MOTD File is missing");
    this.#numeric(N.RPL_MOTDSTART, `- ${irc.name} Message of the day - `);
    for (const line of motd) this.#numeric(N.RPL_MOTD, `- ${line}`);
    this.#numeric(N.RPL_ENDOFMOTD, "End of /MOTD command.");
  }

  #command(message: IrcMessage): void | Promise<void> {
    const params = message.params;
    switch (message.command) {
      case "PRIVMSG":
      case "NOTICE":
        return this.#text(message.command === "NOTICE", params);
      case "JOIN":
        return this.#join(params);
      case "PART":
        return this.#part(params);
      case "NICK":
        return this.#rename(params[0]);
      case "TOPIC":
        return this.#topic(params);
      case "NAMES":
        return this.#names(params[0]);
      case "WHO":
        return this.#who(params[0]);
      case "WHOIS":
        return this.#whois(params[params.length - 1]);
      case "LIST":
        return this.#list();
      case "MODE":
        return this.#mode(params);
      case "AWAY":
        return this.#away(params[0] ?? "");
      case "PING":
        return this.#pong(params[0]);
      case "PONG":
        this.#pingSentAt = 0;
        return;
      case "QUIT":
        return this.#quit(params[0] ?? "");
      case "CAP":
        return this.#cap(message);
      case "OPER":
        return this.#oper(params[params.length - 1]);
      case "KILL":
      case "KICK": {
        // parley has no per-channel kick: an operator's KICK or KILL removes the user.
        const [first, second, third] = params;
        const nick = message.command === "KILL" ? first : second;
        const reason = message.command === "KILL" ? second : third;
        if (!nick) {
          return this.#numeric(N.ERR_NEEDMOREPARAMS, message.command, "Not enough parameters");
        }
        return this.#moderate({ kind: "kick", nick, reason: reason ? clean(reason) : undefined });
      }
      case "USER":
      case "PASS":
        return this.#numeric(N.ERR_ALREADYREGISTERED, "You may not reregister");
      default:
        return this.#numeric(N.ERR_UNKNOWNCOMMAND, clean(message.command), "Unknown command");
    }
  }

  /** PRIVMSG or NOTICE to channels and nicks. NOTICE never gets an error back. */
  #text(notice: boolean, params: readonly string[]): void | Promise<void> {
    const command = notice ? "NOTICE" : "PRIVMSG";
    const [targets, raw] = params;
    if (!targets) {
      if (notice) return;
      return this.#numeric(N.ERR_NORECIPIENT, `No recipient given (${command})`);
    }
    if (raw === undefined || raw === "") {
      if (notice) return;
      return this.#numeric(N.ERR_NOTEXTTOSEND, "No text to send");
    }
    const ctcp = parseCtcp(raw);
    if (ctcp !== null && ctcp.command.toUpperCase() !== "ACTION") return; // other CTCPs: not relayed
    const action = ctcp !== null;
    const text = clean(stripFormatting(action ? ctcp.params : raw));
    if (!hasContent(text)) return;
    const nicks: string[] = [];
    for (const target of targets.split(",")) {
      if (target.startsWith("#")) this.#say(target, text, action, notice);
      else if (target.toLowerCase() === "nickserv") return this.#nickServ(raw);
      else if (target) nicks.push(target);
    }
    if (nicks.length > 0) return this.#private(nicks, text, action, notice);
  }

  /** The message path for channels: synchronous, batched until the end of the read. */
  #say(target: string, text: string, action: boolean, notice: boolean): void {
    const member = this.#member!;
    const room = this.#chat.findRoom(target.slice(1));
    if (room === undefined) {
      if (!notice) this.#numeric(N.ERR_NOSUCHCHANNEL, clean(target), "No such channel");
      return;
    }
    const problem = this.#chat.say(member, room, text, action, notice);
    if (problem) {
      if (!notice) this.#numeric(N.ERR_CANNOTSENDTOCHAN, `#${room.name}`, "Cannot send to channel");
      return;
    }
    this.#messages++;
    this.#counters?.messages.inc();
    this.#log.event({
      event: "message",
      peer: this.connection.peer,
      nick: member.nick,
      room: room.name,
      text,
      action,
    });
  }

  async #private(nicks: string[], text: string, action: boolean, notice: boolean): Promise<void> {
    const member = this.#member!;
    for (const nick of nicks) {
      const reply = await this.#chat.apply(member, {
        kind: "private",
        nick,
        text,
        action,
        notice,
      });
      if (reply.kind === "refused") {
        if (!notice) this.#numeric(N.ERR_NOSUCHNICK, clean(nick), "No such nick/channel");
        continue;
      }
      if (reply.away !== null && !notice) this.#numeric(N.RPL_AWAY, reply.to, reply.away);
      this.#messages++;
      this.#counters?.privateMessages.inc();
      this.#log.event({
        event: "private",
        peer: this.connection.peer,
        nick: member.nick,
        to: reply.to,
        text,
      });
    }
  }

  async #join(params: readonly string[]): Promise<void> {
    const [channels] = params;
    if (!channels) return this.#numeric(N.ERR_NEEDMOREPARAMS, "JOIN", "Not enough parameters");
    if (channels === "0") {
      for (const room of [...this.#member!.rooms]) await this.#partOne(`#${room.name}`, "");
      return;
    }
    for (const channel of channels.split(",")) {
      if (channel) await this.#joinOne(channel);
    }
  }

  async #joinOne(channel: string): Promise<void> {
    const member = this.#member!;
    if (!channel.startsWith("#")) {
      return this.#numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "No such channel");
    }
    this.#held = [];
    try {
      const reply = await this.#chat.apply(member, {
        kind: "join",
        room: channel.slice(1),
        move: false,
      });
      if (reply.kind === "refused") {
        const problem = reply.problem;
        if (problem.code === "already-in-room") return;
        if (problem.code === "too-many-rooms") {
          return this.#numeric(
            N.ERR_TOOMANYCHANNELS,
            clean(channel),
            `Too many rooms on this server (at most ${problem.max})`,
          );
        }
        return this.#numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "Illegal channel name");
      }
      const room = reply.room;
      const name = `#${room.name}`;
      this.#send(this.#own("JOIN", [name]));
      if (room.topic) this.#topicReplies(name, room.topic);
      await this.#names(name);
      this.#replay(reply.history);
      this.#log.event({
        event: "join",
        peer: this.connection.peer,
        nick: member.nick,
        room: room.name,
      });
    } finally {
      this.#release();
    }
  }

  /** A channel's history: with its times as tags for `server-time` clients, else in the text. */
  #replay(history: readonly MessageEvent[]): void {
    if (history.length === 0) return;
    const timed = this.#caps.has("server-time");
    const now = Date.now();
    let text = "";
    for (const event of history) {
      text += timed
        ? this.#irc.timed.messageLines(event, { time: formatServerTime(event.time) })
        : this.#irc.plain.messageLines({
          ...event,
          text: `[${historyTime(event.time, now)}] ${event.text}`,
        });
    }
    this.connection.send(encoder.encode(text));
  }

  async #part(params: readonly string[]): Promise<void> {
    const [channels, reason = ""] = params;
    if (!channels) return this.#numeric(N.ERR_NEEDMOREPARAMS, "PART", "Not enough parameters");
    for (const channel of channels.split(",")) {
      if (channel) await this.#partOne(channel, clean(reason));
    }
  }

  async #partOne(channel: string, reason: string): Promise<void> {
    const reply = await this.#chat.apply(this.#member!, {
      kind: "part",
      room: channel.replace(/^#/, ""),
      text: reason,
    });
    if (reply.kind === "refused") return this.#roomProblem(channel, reply.problem);
    this.#send(this.#own("PART", [`#${reply.room}`, reason]));
  }

  async #rename(wanted: string | undefined): Promise<void> {
    if (!wanted) return this.#numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given");
    const member = this.#member!;
    const from = member.nick;
    const source = this.#irc.plain.source(from, member.user);
    const reply = await this.#chat.apply(member, { kind: "nick", nick: clean(wanted) });
    if (reply.kind === "refused") return this.#nickProblem(reply.problem, clean(wanted));
    if (reply.kind === "unchanged") return;
    this.#send(formatMessage({ source, command: "NICK", params: [reply.to] }));
    this.#log.event({ event: "nick", peer: this.connection.peer, from, to: reply.to });
  }

  async #topic(params: readonly string[]): Promise<void> {
    const [channel, text] = params;
    if (!channel) return this.#numeric(N.ERR_NEEDMOREPARAMS, "TOPIC", "Not enough parameters");
    const reply = await this.#chat.apply(this.#member!, {
      kind: "topic",
      room: channel.replace(/^#/, ""),
      text: text === undefined ? undefined : clean(stripFormatting(text)),
    });
    if (reply.kind === "refused") return this.#roomProblem(channel, reply.problem);
    const name = `#${reply.room}`;
    if (reply.changed) return this.#send(this.#own("TOPIC", [name, reply.topic?.text ?? ""], true));
    if (reply.topic === null) return this.#numeric(N.RPL_NOTOPIC, name, "No topic is set");
    this.#topicReplies(name, reply.topic);
  }

  #topicReplies(channel: string, topic: { text: string; nick: string; time: number }): void {
    this.#numeric(N.RPL_TOPIC, channel, topic.text);
    this.#numericData(
      N.RPL_TOPICWHOTIME,
      channel,
      topic.nick,
      String(Math.floor(topic.time / 1000)),
    );
  }

  async #names(channel: string | undefined): Promise<void> {
    if (!channel) return this.#numeric(N.RPL_ENDOFNAMES, "*", "End of /NAMES list");
    const reply = await this.#chat.apply(this.#member!, {
      kind: "who",
      room: channel.replace(/^#/, ""),
    });
    const name = reply.kind === "who" ? `#${reply.room}` : clean(channel);
    if (reply.kind === "who") {
      const nicks = reply.members.map((member) => (member.operator ? "@" : "") + member.nick);
      const lines = formatListLines(
        { source: this.#irc.name, command: N.RPL_NAMREPLY, params: [this.nick, "=", name] },
        nicks,
      );
      for (const line of lines) this.#send(line);
    }
    this.#numeric(N.RPL_ENDOFNAMES, name, "End of /NAMES list");
  }

  async #who(mask: string | undefined): Promise<void> {
    const member = this.#member!;
    const shown = clean(mask ?? "*");
    if (mask?.startsWith("#")) {
      const reply = await this.#chat.apply(member, { kind: "who", room: mask.slice(1) });
      if (reply.kind === "who") {
        for (const info of reply.members) this.#whoReply(`#${reply.room}`, info);
      }
    } else if (mask) {
      const reply = await this.#chat.apply(member, { kind: "whois", nick: mask });
      if (reply.kind === "whois") {
        this.#whoReply("*", {
          nick: reply.nick,
          user: reply.user,
          operator: false,
          away: reply.away,
        });
      }
    }
    this.#numeric(N.RPL_ENDOFWHO, shown, "End of WHO list");
  }

  #whoReply(channel: string, info: MemberInfo): void {
    const flags = (info.away === null ? "H" : "G") + (info.operator ? "@" : "");
    this.#numeric(
      N.RPL_WHOREPLY,
      channel,
      info.user,
      this.#irc.name,
      this.#irc.name,
      info.nick,
      flags,
      `0 ${info.nick}`,
    );
  }

  async #whois(nick: string | undefined): Promise<void> {
    if (!nick) return this.#numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given");
    const reply = await this.#chat.apply(this.#member!, { kind: "whois", nick });
    if (reply.kind === "refused") {
      this.#numeric(N.ERR_NOSUCHNICK, clean(nick), "No such nick/channel");
      return this.#numeric(N.RPL_ENDOFWHOIS, clean(nick), "End of /WHOIS list");
    }
    const irc = this.#irc;
    this.#numeric(N.RPL_WHOISUSER, reply.nick, reply.user, irc.name, "*", reply.nick);
    if (reply.rooms.length > 0) {
      const channels = reply.rooms.map((room) => (room.operator ? "@#" : "#") + room.name);
      const lines = formatListLines(
        {
          source: irc.name,
          command: N.RPL_WHOISCHANNELS,
          params: [this.nick, reply.nick],
        },
        channels,
      );
      for (const line of lines) this.#send(line);
    }
    this.#numeric(N.RPL_WHOISSERVER, reply.nick, irc.name, "parley");
    if (reply.away !== null) this.#numeric(N.RPL_AWAY, reply.nick, reply.away);
    this.#numeric(
      N.RPL_WHOISIDLE,
      reply.nick,
      String(reply.idleSeconds),
      String(Math.floor(reply.since / 1000)),
      "seconds idle, signon time",
    );
    this.#numeric(N.RPL_ENDOFWHOIS, reply.nick, "End of /WHOIS list");
  }

  async #list(): Promise<void> {
    const reply = await this.#chat.apply(this.#member!, { kind: "rooms" });
    this.#numeric(N.RPL_LISTSTART, "Channel", "Users  Name");
    for (const room of reply.rooms) {
      this.#numeric(N.RPL_LIST, `#${room.name}`, String(room.members), room.topic ?? "");
    }
    this.#numeric(N.RPL_LISTEND, "End of /LIST");
  }

  #mode(params: readonly string[]): void | Promise<void> {
    const [target, change] = params;
    if (!target) return this.#numeric(N.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters");
    const member = this.#member!;
    if (target.startsWith("#")) {
      const room = this.#chat.findRoom(target.slice(1));
      if (room === undefined) {
        return this.#numeric(N.ERR_NOSUCHCHANNEL, clean(target), "No such channel");
      }
      const name = `#${room.name}`;
      if (change === undefined) return this.#numericData(N.RPL_CHANNELMODEIS, name, "+nt");
      if (/^[+-]?b$/.test(change) && params.length === 2) {
        // Bans are server-wide (addresses); a channel's list shows them.
        for (const ban of this.#chat.bans.list()) {
          this.#numericData(
            N.RPL_BANLIST,
            name,
            ban.mask,
            ban.by,
            String(Math.floor(ban.created / 1000)),
          );
        }
        return this.#numeric(N.RPL_ENDOFBANLIST, name, "End of channel ban list");
      }
      if (/^[+-]b$/.test(change) && params[2]) {
        const mask = params[2];
        const block = parseCidr(mask);
        if (change === "-b") {
          if (block === null) {
            return this.#numeric(N.ERR_UNKNOWNMODE, "b", "Bans are addresses or CIDR blocks");
          }
          return this.#moderate({ kind: "unban", block });
        }
        return this.#moderate({
          kind: "ban",
          target: block === null
            ? { kind: "nick", nick: mask.split("!")[0] }
            : { kind: "addresses", block },
        });
      }
      return this.#numeric(N.ERR_CHANOPRIVSNEEDED, name, "Channel modes cannot be changed here");
    }
    if (target.toLowerCase() !== member.nick.toLowerCase()) {
      if (!this.#chat.find(target)) {
        return this.#numeric(N.ERR_NOSUCHNICK, clean(target), "No such nick/channel");
      }
      return this.#numeric(N.ERR_USERSDONTMATCH, "Can't view or change modes for other users");
    }
    if (change === undefined) return this.#numericData(N.RPL_UMODEIS, "+");
    // A client setting +i on itself (irssi does at once): nothing to do, nothing to complain about.
  }

  async #oper(password: string | undefined): Promise<void> {
    if (!password) return this.#numeric(N.ERR_NEEDMOREPARAMS, "OPER", "Not enough parameters");
    const reply = await this.#chat.apply(this.#member!, { kind: "oper", password });
    if (reply.kind === "refused") {
      this.#account(`oper failed: ${reply.problem.code}`);
      return this.#numeric(N.ERR_PASSWDMISMATCH, problemText(reply.problem));
    }
    this.#account("is a server operator now");
    this.#numeric(N.RPL_YOUREOPER, "You are now an IRC operator");
  }

  /** An operator command from IRC (KICK, KILL, MODE +b): answered as server notices. */
  async #moderate(command: OperatorCommand): Promise<void> {
    const member = this.#member!;
    const reply = await this.#chat.apply(member, { kind: "moderate", command });
    if (reply.kind === "refused") {
      if (reply.problem.code === "not-server-operator") {
        return this.#numeric(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator");
      }
      return this.#serverNotice(problemText(reply.problem));
    }
    const lines = moderatedLines(reply as Exclude<Moderated | Refused, Refused>, Date.now());
    this.#log.event({ event: "operator", by: member.nick, what: lines.join("; ") });
    for (const line of lines) this.#serverNotice(line);
  }

  /** NickServ, the way IRC clients reach accounts: `PRIVMSG NickServ :IDENTIFY [nick] password`. */
  async #nickServ(text: string): Promise<void> {
    const member = this.#member!;
    const [verb = "", ...words] = clean(text).split(/\s+/).filter(Boolean);
    const say = (line: string) =>
      this.#send(formatMessage({
        source: `NickServ!services@${this.#irc.name}`,
        command: "NOTICE",
        params: [this.nick, line],
      }, { trailing: true }));
    switch (verb.toUpperCase()) {
      case "IDENTIFY": {
        if (words.length < 1 || words.length > 2) return say("usage: IDENTIFY [NICK] PASSWORD");
        const [nick, password] = words.length === 2 ? words : [undefined, words[0]];
        const from = member.nick;
        const user = member.user;
        const reply = await this.#chat.apply(member, { kind: "identify", nick, password });
        if (reply.kind === "refused") {
          this.#account(`identify failed: ${reply.problem.code}`, nick);
          return say(problemText(reply.problem));
        }
        this.#account("identified", reply.nick);
        if (reply.renamedFrom !== null) {
          this.#send(formatMessage({
            source: this.#irc.plain.source(from, user),
            command: "NICK",
            params: [reply.nick],
          }));
        }
        return say(`You are now identified for ${reply.nick}.`);
      }
      case "REGISTER": {
        if (words.length < 1) return say("usage: REGISTER PASSWORD");
        const reply = await this.#chat.apply(member, { kind: "register", password: words[0] });
        if (reply.kind === "refused") return say(problemText(reply.problem));
        this.#account("registered");
        return say(`The nick ${reply.nick} is registered to you.`);
      }
      case "DROP": {
        const reply = await this.#chat.apply(member, { kind: "drop", nick: words[0] });
        if (reply.kind === "refused") return say(problemText(reply.problem));
        this.#account("dropped", reply.nick);
        return say(`The nick ${reply.nick} is not registered any more.`);
      }
      default:
        return say("commands: IDENTIFY [NICK] PASSWORD, REGISTER PASSWORD, DROP");
    }
  }

  #serverNotice(text: string): void {
    this.#send(formatMessage({
      source: this.#irc.name,
      command: "NOTICE",
      params: [this.nick, text],
    }, { trailing: true }));
  }

  #account(what: string, nick?: string): void {
    this.#log.event({
      event: "account",
      peer: this.connection.peer,
      nick: nick ?? this.nick,
      what,
    });
  }

  async #away(text: string): Promise<void> {
    const away = [...clean(stripFormatting(text))].slice(0, MAX_AWAY).join("");
    const reply = await this.#chat.apply(this.#member!, { kind: "away", text: away });
    if (reply.away) this.#numeric(N.RPL_NOWAWAY, "You have been marked as being away");
    else this.#numeric(N.RPL_UNAWAY, "You are no longer marked as being away");
  }

  #pong(token: string | undefined): void {
    if (token === undefined) return this.#numeric(N.ERR_NOORIGIN, "No origin specified");
    this.#send(formatMessage({
      source: this.#irc.name,
      command: "PONG",
      params: [this.#irc.name, clean(token) || this.#irc.name],
    }, { trailing: true }));
  }

  #quit(reason: string): void {
    const text = [...clean(reason)].slice(0, 100).join("");
    this.connection.end("quit", {
      detail: text,
      notice: this.#errorLine(text ? `Quit: ${text}` : "Quit"),
    });
  }

  #errorLine(why: string): Uint8Array {
    return encoder.encode(formatMessage({
      command: "ERROR",
      params: [`Closing Link: ${this.#irc.name} (${why})`],
    }));
  }

  #nickProblem(problem: Problem, wanted: string): void {
    switch (problem.code) {
      case "nick-taken":
        return this.#numeric(N.ERR_NICKNAMEINUSE, problem.nick, "Nickname is already in use");
      case "nick-registered":
      case "nick-reserved":
      case "wrong-password":
      case "not-registered":
      case "too-many-attempts":
      case "accounts-unavailable":
        // 433 makes clients try another nick; the text says why.
        return this.#numeric(N.ERR_NICKNAMEINUSE, wanted || "*", problemText(problem));
      default:
        return this.#numeric(N.ERR_ERRONEUSNICKNAME, wanted || "*", "Erroneous nickname");
    }
  }

  #roomProblem(channel: string, problem: Problem): void {
    switch (problem.code) {
      case "not-in-room":
        return this.#numeric(N.ERR_NOTONCHANNEL, `#${problem.room}`, "You're not on that channel");
      case "not-operator":
        return this.#numeric(
          N.ERR_CHANOPRIVSNEEDED,
          `#${problem.room}`,
          "You're not channel operator",
        );
      default:
        return this.#numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "No such channel");
    }
  }

  /** A line about this member's own doing (`:me!user@host JOIN #dev`), as the others see it. */
  #own(command: string, params: string[], trailing = false): string {
    const member = this.#member!;
    return formatMessage(
      { source: this.#irc.plain.source(member.nick, member.user), command, params },
      { trailing },
    );
  }

  /** A numeric whose last parameter is text for people: always sent as `:trailing`. */
  #numeric(code: string, ...params: string[]): void {
    this.#send(
      formatNumeric(code, params, { server: this.#irc.name, target: this.nick, trailing: true }),
    );
  }

  /** A numeric of data only (004, 221, 324, 333): parameters sent as they are. */
  #numericData(code: string, ...params: string[]): void {
    this.#send(formatNumeric(code, params, { server: this.#irc.name, target: this.nick }));
  }

  #send(line: string): void {
    this.connection.send(encoder.encode(line));
  }

  #release(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    for (const bytes of held) this.connection.send(bytes);
  }
}

/** Text from an IRC client, made safe to show (no control characters, no bidi overrides). */
function clean(text: string): string {
  return cleanString(text);
}

/** A user name from USER: letters, digits, `_ - .`, at most 16; `irc` when nothing is left. */
function userName(raw: string | undefined): string {
  const kept = clean(raw ?? "").replace(/[^\p{L}\p{N}_.\-]/gu, "");
  return [...kept].slice(0, MAX_USER).join("") || "irc";
}
