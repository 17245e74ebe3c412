/**
 * An IRC client's session, from connect to QUIT, over any
 * {@linkcode Transport} that frames lines: it reads each line, hands it to
 * the command table (`commands.ts`) with itself as the
 * {@linkcode IrcContext}, renders what it is told, PINGs a silent client and
 * drops one that does not answer or never registers. IRC users are not put
 * in a room; they JOIN the channels they want (`#dev` is the room `dev`),
 * several at once if they like, and meet line users there.
 *
 * Before registration only CAP, NICK, USER, PASS, PING, PONG and QUIT are
 * served; anything else gets 451 (irssi's `JOIN :` included, which is how
 * irssi learns there is no CAP to wait for).
 *
 * A client that proves an account whose member is connected already is one
 * more of its devices (issue 23): it is told the member's channels once
 * registered, and what the member's other devices do (`devices.ts`).
 *
 * @module
 */

import type { Chat, ChatMember, DeviceNotice, Endpoint, Removal } from "../../core/chat.ts";
import type { ChatEvent } from "../../core/events.ts";
import type { Problem, ProvedAccount } from "../../core/commands.ts";
import { errorText } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { formatPeer } from "../../net/peer.ts";
import type { FrontCounters } from "../../metrics.ts";
import { LINE_TOO_LONG } from "../../net/line_reader.ts";
import type { LineHandler, Transport } from "../../net/transport.ts";
import {
  echoParam,
  formatMessage,
  formatNumeric,
  type IrcMessage,
  MAX_INCOMING_LINE_BYTES,
  parseLine,
  withTags,
} from "../../protocol/irc/message.ts";
import { cleanString as clean } from "../../text.ts";
import { problemText, removalDetail, removalText } from "../words.ts";
import { dispatch } from "./commands.ts";
import { forgetMonitor } from "./monitor.ts";
import { abortSasl } from "./sasl.ts";
import type { IrcContext, IrcServerInfo } from "./context.ts";
import * as N from "./numerics.ts";
import { Registration, welcome } from "./registration.ts";
import { realnameOf } from "./queries.ts";
import { arrived } from "./server_info.ts";
import { resumedReplies, siblingNotice } from "./devices.ts";
import { type IrcRenderer, realnameShown } from "./render.ts";

export type { IrcServerInfo } from "./context.ts";

/** What an IRC session needs from the server around it. */
export interface IrcSessionContext {
  chat: Chat;
  log: Logger;
  irc: IrcServerInfo;
  /** What it counts for `--metrics`. */
  counters?: FrontCounters;
  /** Told once the session is over and its connection closed. */
  onEnd?: (session: IrcSession) => void;
  /** How the console marks its client: `web` for IRC over WebSocket (`irc` by default). */
  mark?: "irc" | "web";
}

/** The longest label a client may ask to be answered with. */
const MAX_LABEL = 64;
/** A client that has not registered after this long is dropped (ms). */
const REGISTRATION_TIMEOUT_MS = 60_000;
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Whether a framed line was UTF-8. Decoding put U+FFFD where it was not, so
 * only a line whose message holds one is decoded again, strictly.
 */
function isUtf8(line: Uint8Array, message: IrcMessage): boolean {
  const suspect = message.params.some((param) => param.includes("\uFFFD")) ||
    [...message.tags.values()].some((value) => value.includes("\uFFFD"));
  if (!suspect) return true;
  try {
    strictDecoder.decode(line);
    return true;
  } catch {
    return false;
  }
}

/** One IRC client, from connect to QUIT. */
export class IrcSession implements Endpoint, LineHandler, IrcContext {
  renderer: IrcRenderer;
  readonly connection: Transport;
  readonly chat: Chat;
  readonly log: Logger;
  readonly irc: IrcServerInfo;
  readonly counters: FrontCounters | undefined;
  readonly #registration: Registration;
  readonly #onEnd: ((session: IrcSession) => void) | undefined;
  /** Counts this connection as unregistered (LUSERS) until called. */
  readonly #settle: () => void;
  #member: ChatMember | null = null;
  #messages = 0;
  readonly #startedAt = performance.now();
  readonly #connectedAt = Date.now();
  /** When the server's PING went out, or 0 when none is outstanding. */
  #pingSentAt = 0;
  /** Events held back while a channel's names and history are being sent; null when none are. */
  #held: Uint8Array[] | null = null;
  /** What a labelled command answers so far (labeled-response); null when none is running. */
  #captured: string[] | null = null;
  /** Batches opened on this connection, for their references. */
  #batches = 0;
  /** How the console marks this client. */
  readonly #mark: "irc" | "web";

  constructor(connection: Transport, context: IrcSessionContext) {
    this.connection = connection;
    this.chat = context.chat;
    this.log = context.log;
    this.irc = context.irc;
    this.#onEnd = context.onEnd;
    this.#mark = context.mark ?? "irc";
    this.#settle = arrived(context.irc);
    this.counters = context.counters;
    this.renderer = context.irc.renderers.plain;
    this.#registration = new Registration((nick, user, password) =>
      this.#enter(nick, user, password)
    );
  }

  /** The member, while this client is in the chat (null before and after). */
  get present(): ChatMember | null {
    return this.#member?.present ? this.#member : null;
  }

  /** The member (registered commands run only once there is one). */
  get member(): ChatMember {
    return this.#member!;
  }

  get registered(): boolean {
    return this.#member !== null;
  }

  get transport(): Transport {
    return this.connection;
  }

  get caps(): ReadonlySet<string> {
    return this.#registration.caps;
  }

  get negotiated(): boolean {
    return this.#registration.negotiated;
  }

  /** The nick: registered, asked for, or `*`. */
  get nick(): string {
    return this.#member?.nick ?? echoParam(this.#registration.nick ?? "*");
  }

  /** The client's address (bans, password throttling; never shown to users). */
  get address(): string {
    return this.connection.peer.hostname;
  }

  /** An operator removed this client: an ERROR line says why, then the connection closes. */
  remove(removal: Removal): void {
    this.connection.end("kicked", {
      detail: removalDetail(removal),
      notice: this.#errorLine(removalText(removal)),
    });
  }

  /** Events for this member (the chat calls it); held back while a JOIN's replies go out. */
  send(bytes: Uint8Array): void {
    if (this.#held !== null) this.#held.push(bytes);
    else this.connection.send(bytes);
  }

  /** Another device of this member changed it: told as IRC tells a client its own doings. */
  sibling(notice: DeviceNotice): void {
    if (!this.registered) return;
    const holding = this.#held !== null;
    if (!holding) this.hold();
    siblingNotice(this, notice).catch((error) => {
      this.log.event({
        event: "error",
        message: `telling ${formatPeer(this.connection.peer)} of another device failed: ${
          errorText(error)
        }`,
      });
    }).finally(() => {
      if (!holding) this.release();
    });
  }

  /** The account and device count the log shows for this connection, when it proved one. */
  #accountOf(): { account?: string; devices?: number } {
    const member = this.#member;
    if (member === null || member.accountName === null) return {};
    const devices = this.chat.devices(member);
    return devices > 1 ? { account: member.accountName, devices } : { account: member.accountName };
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
      this.release();
      forgetMonitor(this);
      this.#settle();
      const member = this.#member;
      const reason = connection.reason;
      const account = member === null ? {} : this.#accountOf();
      if (member) {
        this.chat.leave(member, {
          reason,
          detail: connection.detail,
          announce: reason !== "shutdown",
        });
      }
      const online = this.chat.online;
      await connection.close();
      if (member) {
        this.log.event({
          event: "disconnect",
          peer: connection.peer,
          nick: member.nick,
          reason,
          detail: connection.detail || undefined,
          seconds: (performance.now() - this.#startedAt) / 1000,
          messages: this.#messages,
          online,
          protocol: this.#mark,
          ...account,
          ...(account.devices === undefined ? {} : { devices: account.devices - 1 }),
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
      if (now - lastHeard >= this.irc.pingAfterMs) {
        this.#pingSentAt = now;
        this.sendLine(formatMessage({ command: "PING", params: [this.irc.name] }));
      }
    } else if (now - this.#pingSentAt >= this.irc.pingTimeoutMs) {
      const seconds = Math.round(this.irc.pingTimeoutMs / 1000);
      this.stop("idle", `no answer to PING for ${seconds} s`);
    }
  }

  /** One framed line from the client. */
  line(line: Uint8Array | typeof LINE_TOO_LONG): void | Promise<void> {
    if (line === LINE_TOO_LONG) return this.numeric(N.ERR_INPUTTOOLONG, "Input line was too long");
    const parsed = parseLine(line);
    if (!parsed.ok) {
      if (parsed.error === "too-long") {
        return this.numeric(N.ERR_INPUTTOOLONG, "Input line was too long");
      }
      if (parsed.error === "bad-command" && this.#member) {
        const label = this.#labelOf(parsed.tags);
        if (label !== null) this.#captured = [];
        this.numeric(N.ERR_UNKNOWNCOMMAND, clean(parsed.command ?? ""), "Unknown command");
        if (label !== null) this.#answerLabelled(label);
      }
      return;
    }
    const message = parsed.message;
    // UTF8ONLY: a registered client's line that is not UTF-8 is refused, never relayed.
    const run: () => void | Promise<void> = this.#member !== null && !isUtf8(line, message)
      ? () => this.#notUtf8(message)
      : () => this.#run(message);
    const label = this.#labelOf(message.tags);
    if (label === null) return run();
    // labeled-response: what this command answers is collected, then sent with its label.
    this.#captured = [];
    const pending = run();
    if (pending === undefined) return this.#answerLabelled(label);
    return pending.then(() => this.#answerLabelled(label));
  }

  /** Carries out one message; a handler that fails answers 400 (see {@linkcode #failed}). */
  #run(message: IrcMessage): void | Promise<void> {
    try {
      const pending = dispatch(this, message);
      return pending?.catch((error) => this.#failed(message, error));
    } catch (error) {
      return this.#failed(message, error);
    }
  }

  /** A line that is not UTF-8: `FAIL <command> INVALID_UTF8` (IRCv3 standard replies, UTF8ONLY). */
  #notUtf8(message: IrcMessage): void {
    this.sendLine(formatMessage({
      source: this.irc.name,
      command: "FAIL",
      params: [message.command, "INVALID_UTF8", "Your line was not UTF-8: it was not carried out"],
    }));
  }

  /** The label of a message (by its tags) whose answer must carry it, or null. */
  #labelOf(tags: ReadonlyMap<string, string> | undefined): string | null {
    const label = tags?.get("label");
    if (label === undefined || label === "" || label.length > MAX_LABEL) return null;
    const caps = this.caps;
    return caps.has("labeled-response") && caps.has("batch") ? label : null;
  }

  /**
   * Sends what a labelled command answered: nothing → ACK, one line → that
   * line with the label, more → a `labeled-response` batch of them.
   */
  #answerLabelled(label: string): void {
    const lines = (this.#captured ?? []).join("").split("\r\n").filter((line) => line !== "");
    this.#captured = null;
    const server = this.irc.name;
    if (lines.length === 0) {
      return this.sendLine(formatMessage({ tags: { label }, source: server, command: "ACK" }));
    }
    if (lines.length === 1) return this.sendLine(withTags(lines[0] + "\r\n", { label }));
    // One batch already (CHATHISTORY's): the label goes on its start.
    if (isOneBatch(lines)) {
      return this.sendLine(
        withTags(lines[0] + "\r\n", { label }) + lines.slice(1).join("\r\n") + "\r\n",
      );
    }
    const ref = (++this.#batches).toString(36);
    let text = formatMessage({
      tags: { label },
      source: server,
      command: "BATCH",
      params: [`+${ref}`, "labeled-response"],
    });
    text += withTags(lines.join("\r\n") + "\r\n", { batch: ref });
    text += formatMessage({ source: server, command: "BATCH", params: [`-${ref}`] });
    this.sendLine(text);
  }

  /**
   * A command whose handler threw: a bug, not the client's doing. It is
   * logged and the client gets 400 for that command; the session goes on.
   */
  #failed(message: IrcMessage, error: unknown): void {
    this.log.event({
      event: "error",
      message: `IRC ${message.command} from ${formatPeer(this.connection.peer)} failed: ${
        errorText(error)
      }`,
    });
    this.numeric(N.ERR_UNKNOWNERROR, message.command, "Could not carry that out");
  }

  /** The read's lines are done: its channel messages go out together. */
  endOfRead(): void {
    this.chat.flush();
  }

  /** Overload: before reading more, wait while a room this member talks in is behind. */
  readGate(): Promise<void> | null {
    return this.#member === null ? null : this.chat.gate(this.#member);
  }

  /** Overload: this member's output is behind (it holds its rooms' talkers back) or caught up. */
  holding(holding: boolean): void {
    if (this.#member !== null) this.chat.hold(this.#member, holding);
  }

  /** NICK and USER are known: into the chat, welcomed, logged. */
  async #enter(nick: string, user: string, password?: string | ProvedAccount) {
    const entered = await this.chat.enter(this, nick, user, password);
    if ("kind" in entered) return entered;
    this.#member = entered;
    this.#settle();
    // One more device of a member already here keeps the member's real name.
    const realname = realnameOf(this.#registration.realname);
    const attached = this.chat.devices(entered) > 1;
    if (realname !== "" && !attached) {
      await this.chat.apply(entered, { kind: "realname", realname });
    }
    this.hold();
    try {
      // Its member's channels: another device's, or those its account left (ergo's way).
      const resumed = await this.chat.resume(entered);
      welcome(this, await this.chat.apply(entered, { kind: "lusers", recent: true }));
      await resumedReplies(this, resumed);
    } finally {
      this.release();
    }
    this.log.event({
      event: "connect",
      peer: this.connection.peer,
      nick: entered.nick,
      online: this.chat.online,
      protocol: this.#mark,
      ...this.#accountOf(),
    });
    return entered;
  }

  // What the command handlers may do (IrcContext).

  numeric(code: string, ...params: string[]): void {
    const fitted = params.map((param, i) => i < params.length - 1 ? echoParam(param) : param);
    this.sendLine(
      formatNumeric(code, fitted, { server: this.irc.name, target: this.nick, trailing: true }),
    );
  }

  numericData(code: string, ...params: string[]): void {
    const fitted = params.map((param, i) => i < params.length - 1 ? echoParam(param) : param);
    this.sendLine(formatNumeric(code, fitted, { server: this.irc.name, target: this.nick }));
  }

  sendLine(line: string): void {
    if (this.#captured !== null) this.#captured.push(line);
    else this.connection.send(encoder.encode(line));
  }

  echo(event: ChatEvent): void {
    if (this.caps.has("echo-message")) this.sendLine(this.renderer.lines(event));
  }

  own(command: string, params: string[], trailing = false): string {
    const member = this.member;
    if (command === "JOIN" && params.length === 1 && this.caps.has("extended-join")) {
      // extended-join: its own JOIN too says which account and real name it joined with.
      params = [params[0], member.accountName ?? "*", realnameShown(member.realname, member.user)];
      trailing = true;
    }
    return formatMessage(
      { source: this.irc.renderers.plain.source(member.nick, member.user), command, params },
      { trailing },
    );
  }

  serverNotice(text: string): void {
    this.sendLine(formatMessage({
      source: this.irc.name,
      command: "NOTICE",
      params: [this.nick, text],
    }, { trailing: true }));
  }

  hold(): void {
    this.#held = [];
  }

  release(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    for (const bytes of held) this.connection.send(bytes);
  }

  account(what: string, nick?: string): void {
    this.log.event({
      event: "account",
      peer: this.connection.peer,
      nick: nick ?? this.nick,
      what,
    });
  }

  counted(kind: "room" | "private"): void {
    this.#messages++;
    if (kind === "room") this.counters?.messages.inc();
    else this.counters?.privateMessages.inc();
  }

  nickGiven(message: IrcMessage): void | Promise<void> {
    return this.#registration.nickGiven(this, message);
  }

  userGiven(message: IrcMessage): void | Promise<void> {
    return this.#registration.userGiven(this, message);
  }

  passGiven(message: IrcMessage): void {
    this.#registration.passGiven(message);
  }

  get provedAccount(): ProvedAccount | null {
    return this.#registration.proved;
  }

  set provedAccount(account: ProvedAccount | null) {
    this.#registration.proved = account;
  }

  cap(message: IrcMessage): void | Promise<void> {
    // Registration ends with CAP END: a SASL exchange still open is given up (906).
    if (!this.registered && message.params[0]?.toUpperCase() === "END") abortSasl(this);
    return this.#registration.cap(this, message, () => this.#capsChanged());
  }

  #capsChanged(): void {
    this.renderer = this.irc.renderers.for(this.caps);
    if (this.#member) this.chat.setRenderer(this.#member, this.renderer);
  }

  pong(token: string | undefined): void {
    if (token === undefined) return this.numeric(N.ERR_NOORIGIN, "No origin specified");
    this.sendLine(formatMessage({
      source: this.irc.name,
      command: "PONG",
      params: [this.irc.name, clean(token)],
    }, { trailing: true }));
  }

  ponged(): void {
    this.#pingSentAt = 0;
  }

  quit(reason: string): void {
    const text = [...clean(reason)].slice(0, 100).join("");
    // Its own QUIT first (as ergo says it to the device that leaves), then the ERROR.
    if (this.#member !== null) this.sendLine(this.own("QUIT", [text ? `Quit: ${text}` : "Quit"]));
    this.connection.end("quit", {
      detail: text,
      notice: this.#errorLine(text ? `Quit: ${text}` : "Quit"),
    });
  }

  nickProblem(problem: Problem, wanted: string): void {
    switch (problem.code) {
      case "nick-taken":
        return this.numeric(N.ERR_NICKNAMEINUSE, problem.nick, "Nickname is already in use");
      case "too-many-sessions": {
        // Another nick would not help (the account is proved): said once, then closed.
        const text = problemText(problem);
        this.numeric(N.ERR_NICKNAMEINUSE, wanted || "*", text);
        return this.connection.end("quit", { detail: text, notice: this.#errorLine(text) });
      }
      case "account-in-use":
      case "nick-registered":
      case "nick-lookalike":
      case "nick-reserved":
      case "wrong-password":
      case "not-registered":
      case "too-many-attempts":
      case "busy":
      case "accounts-unavailable":
        // 433 makes clients try another nick; the text says why.
        return this.numeric(N.ERR_NICKNAMEINUSE, wanted || "*", problemText(problem));
      default:
        return this.numeric(N.ERR_ERRONEUSNICKNAME, wanted || "*", "Erroneous nickname");
    }
  }

  roomProblem(channel: string, problem: Problem): void {
    switch (problem.code) {
      case "not-in-room":
        return this.numeric(N.ERR_NOTONCHANNEL, `#${problem.room}`, "You're not on that channel");
      case "not-operator":
        return this.numeric(
          N.ERR_CHANOPRIVSNEEDED,
          `#${problem.room}`,
          "You're not channel operator",
        );
      default:
        return this.numeric(N.ERR_NOSUCHCHANNEL, clean(channel), "No such channel");
    }
  }

  #errorLine(why: string): Uint8Array {
    return encoder.encode(formatMessage({
      command: "ERROR",
      params: [`Closing Link: ${this.irc.name} (${why})`],
    }));
  }
}

/** Whether `lines` are exactly one batch: its start, lines tagged with it, its end. */
function isOneBatch(lines: readonly string[]): boolean {
  const ref = /^(?:@\S+ )?:\S+ BATCH \+(\S+)/.exec(lines[0])?.[1];
  if (ref === undefined || !lines[lines.length - 1].endsWith(` BATCH -${ref}`)) return false;
  return lines.slice(1, -1).every((line) => {
    const tags = line.startsWith("@") ? line.slice(1, line.indexOf(" ")).split(";") : [];
    return tags.includes(`batch=${ref}`);
  });
}
