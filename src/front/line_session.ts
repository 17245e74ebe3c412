/**
 * A line client's session: the glue between one {@linkcode Connection} and
 * the {@linkcode Chat} for clients that speak the line protocol (nc, telnet,
 * `parley client`). It parses each line, carries it out through the chat,
 * answers in the line protocol's words and logs it. A line client is always
 * in exactly one room, its current one: it starts in the lobby and `/join`
 * moves it.
 *
 * Room messages go through the chat's fast path (`say`), batched until the
 * end of the read; everything else is a command the chat answers. While the
 * session enters a room, events for it are held back until the room's history
 * has been sent, so nobody takes a live line for an old one or misses one.
 *
 * @module
 */

import type { FrontCounters } from "../metrics.ts";
import {
  type Chat,
  type ChatMember,
  type ChatRoom,
  type Endpoint,
  LOBBY,
  type Removal,
} from "../core/chat.ts";
import { describeProblem, parseOperatorLine } from "../console/commands.ts";
import { moderatedLines } from "./moderation.ts";
import type { Replies } from "../core/commands.ts";
import type { Logger } from "../log.ts";
import type { Connection, LineHandler } from "../net/connection.ts";
import { LINE_TOO_LONG } from "../net/line_reader.ts";
import { errorText } from "../errors.ts";
import { formatPeer } from "../net/peer.ts";
import { cleanText, hasContent } from "../text.ts";
import {
  alreadyText,
  encodeLine,
  errorLine,
  HELP,
  HISTORY_END_TEXT,
  historyLine,
  historyStartText,
  lineRenderer,
  movedText,
  noticeLine,
  onlineText,
  parseLine,
  privateSentLine,
  problemText,
  removalText,
  renamedText,
  roomsText,
  topicText,
  unknownCommandText,
  usageText,
  welcomeText,
  whoText,
} from "./line.ts";

const SLASH = 0x2f;
/** The user name of line clients (the `user` of `nick!user@host` as IRC users see them). */
const LINE_USER = "line";

/** What a line session needs from the server around it. */
export interface LineSessionContext {
  chat: Chat;
  log: Logger;
  /** Longest line, for the "line too long" error. */
  maxLine: number;
  /** Seconds without a line before the client is disconnected (0 = never). */
  idleTimeout: number;
  /** What it counts for `--metrics`. */
  counters?: FrontCounters;
  /** Told once the session is over and its connection closed. */
  onEnd?: (session: LineSession) => void;
}

/** One line client, from greeting to goodbye. */
export class LineSession implements Endpoint, LineHandler {
  readonly renderer = lineRenderer;
  readonly connection: Connection;
  readonly #chat: Chat;
  readonly #log: Logger;
  readonly #maxLine: number;
  readonly #idleTimeout: number;
  readonly #onEnd: ((session: LineSession) => void) | undefined;
  readonly #counters: FrontCounters | undefined;
  #member: ChatMember | null = null;
  #room: ChatRoom | null = null;
  #messages = 0;
  readonly #startedAt = performance.now();
  /** Events held back while a room's history is on its way; null when none are. */
  #held: Uint8Array[] | null = null;

  constructor(connection: Connection, context: LineSessionContext) {
    this.connection = connection;
    this.#chat = context.chat;
    this.#log = context.log;
    this.#maxLine = context.maxLine;
    this.#idleTimeout = context.idleTimeout;
    this.#onEnd = context.onEnd;
    this.#counters = context.counters;
  }

  /** The member, while this client is in the chat. */
  get member(): ChatMember | null {
    return this.#member?.present ? this.#member : null;
  }

  /** The nick, once in the chat. */
  get nick(): string {
    return this.#member?.nick ?? "";
  }

  /** The client's address (bans, password throttling; never shown to users). */
  get address(): string {
    return this.connection.peer.hostname;
  }

  /** An operator removed this client: it is told, then the connection closes. */
  remove(removal: Removal): void {
    this.connection.end("kicked", {
      detail: `${removal.how === "banned" ? "banned" : "kicked"} by ${removal.by}${
        removal.reason ? `: ${removal.reason}` : ""
      }`,
      notice: encodeLine(errorLine(removalText(removal))),
    });
  }

  /** Events for this member (the chat calls it); held back while a room's history is sent. */
  send(bytes: Uint8Array): void {
    if (this.#held !== null) this.#held.push(bytes);
    else this.connection.send(bytes);
  }

  /**
   * Greets the client and starts serving it; resolves once it is under way
   * (the read loop holds no frame of this method). When the client leaves, the
   * session takes it out of the chat and tells `onEnd`. Never throws.
   */
  async start(): Promise<void> {
    const chat = this.#chat;
    const connection = this.connection;
    try {
      this.#held = [];
      const member = this.#member = await chat.enterAsGuest(this, LINE_USER);
      const joined = await chat.apply(member, { kind: "join", room: LOBBY, move: false });
      if (joined.kind === "joined") {
        this.#room = chat.findRoom(joined.room.name) ?? null;
        this.#notice(welcomeText(member.nick));
        const census = await chat.census(joined.room);
        this.#notice(onlineText(census.online, joined.room.name, census.inRoom));
        this.#replay(joined);
      }
      this.#release();
      this.#log.event({
        event: "connect",
        peer: connection.peer,
        nick: member.nick,
        online: chat.online,
      });
    } catch (error) {
      // A bug, not the client: it costs this connection only.
      this.#log.event({
        event: "error",
        message: `session of ${formatPeer(connection.peer)} failed: ${errorText(error)}`,
      });
      connection.end("error", { detail: errorText(error) });
    }
    connection.run(this, { telnet: true });
  }

  /** The read loop is over: out of the chat, the connection closed, the log told. */
  ended(): void {
    void this.#finish();
  }

  async #finish(): Promise<void> {
    const chat = this.#chat;
    const connection = this.connection;
    try {
      this.#release();
      const reason = connection.reason;
      if (this.#member) {
        chat.leave(this.#member, {
          reason,
          detail: connection.detail,
          announce: reason !== "shutdown",
        });
      }
      const online = chat.online;
      await connection.close();
      if (this.#member) {
        this.#log.event({
          event: "disconnect",
          peer: connection.peer,
          nick: this.#member.nick,
          reason,
          detail: connection.detail || undefined,
          seconds: (performance.now() - this.#startedAt) / 1000,
          messages: this.#messages,
          online,
        });
      }
    } finally {
      this.#onEnd?.(this);
    }
  }

  /** Ends the session from outside: the client is told why. */
  stop(reason: "idle" | "shutdown"): void {
    const notice = reason === "idle"
      ? `disconnected: idle for ${this.#idleTimeout} s`
      : "server shutting down";
    this.connection.end(reason, { notice: encodeLine(noticeLine(notice)) });
  }

  /**
   * The server's clock: a client silent for the idle timeout is disconnected,
   * and so is one whose socket has taken nothing for a while.
   */
  tick(now: number): void {
    this.connection.checkStalled();
    if (this.#idleTimeout > 0 && now - this.connection.lastActive > this.#idleTimeout * 1000) {
      this.stop("idle");
    }
  }

  /** One framed line from the client. */
  line(line: Uint8Array | typeof LINE_TOO_LONG): void | Promise<void> {
    if (line === LINE_TOO_LONG) {
      this.#chat.flush();
      this.#rejected(`line too long (over ${this.#maxLine} bytes)`);
      return this.#error(`line too long (over ${this.#maxLine} bytes); it was dropped`);
    }
    const text = cleanText(line);
    if (text.charCodeAt(0) !== SLASH) return this.#say(text, false);
    return this.#command(text);
  }

  /** The read's lines are done: its room messages go out together. */
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

  #say(text: string, action: boolean): void {
    if (!hasContent(text)) return;
    const member = this.#member!;
    const room = this.#room!;
    const problem = this.#chat.say(member, room, text, action);
    if (problem) return this.#error(problemText(problem));
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

  async #command(text: string): Promise<void> {
    const chat = this.#chat;
    const member = this.#member!;
    const peer = this.connection.peer;
    const command = parseLine(text);
    switch (command.kind) {
      case "say":
        this.#say(command.text, false);
        return chat.flush();
      case "me":
        this.#say(command.text, true);
        return chat.flush();
      case "msg": {
        const reply = await chat.apply(member, {
          kind: "private",
          nick: command.nick,
          text: command.text,
          action: false,
        });
        if (reply.kind === "refused") return this.#error(problemText(reply.problem));
        this.#reply(privateSentLine(reply.to, reply.text, reply.action));
        this.#messages++;
        this.#counters?.privateMessages.inc();
        return this.#log.event({
          event: "private",
          peer,
          nick: member.nick,
          to: reply.to,
          text: reply.text,
        });
      }
      case "nick": {
        const reply = await chat.apply(member, { kind: "nick", nick: command.nick });
        if (reply.kind === "refused") {
          // A taken nick is a name; an invalid one may be any text, so only its fault is logged.
          const problem = reply.problem;
          this.#rejected(
            problem.code === "nick-taken"
              ? `nick ${problem.nick}: taken`
              : `nick: ${problem.code === "nick-invalid" ? problem.why : problem.code}`,
          );
          return this.#error(problemText(problem));
        }
        if (reply.kind === "unchanged") return this.#notice(alreadyText(reply.nick));
        this.#notice(renamedText(reply.to));
        return this.#log.event({ event: "nick", peer, from: reply.from, to: reply.to });
      }
      case "who": {
        const reply = await chat.apply(member, { kind: "who", room: this.#room!.name });
        if (reply.kind === "refused") return this.#error(problemText(reply.problem));
        return this.#notice(whoText(reply.room, reply.members, reply.online));
      }
      case "join": {
        this.#held = [];
        try {
          const reply = await chat.apply(member, { kind: "join", room: command.room, move: true });
          if (reply.kind === "refused") return this.#error(problemText(reply.problem));
          const from = this.#room!.name;
          this.#room = chat.findRoom(reply.room.name) ?? this.#room;
          this.#notice(movedText(reply.room));
          this.#replay(reply);
          return this.#log.event({
            event: "join",
            peer,
            nick: member.nick,
            from,
            room: reply.room.name,
          });
        } finally {
          this.#release();
        }
      }
      case "rooms": {
        const reply = await chat.apply(member, { kind: "rooms" });
        return this.#notice(roomsText(reply.rooms));
      }
      case "topic": {
        const room = this.#room!.name;
        const reply = await chat.apply(member, { kind: "topic", room, text: command.text });
        if (reply.kind === "refused") return this.#error(problemText(reply.problem));
        return this.#notice(
          reply.changed
            ? `topic of #${reply.room} is now: ${reply.topic?.text ?? ""}`
            : topicText(reply.room, reply.topic, Date.now()),
        );
      }
      case "register": {
        const reply = await chat.apply(member, { kind: "register", password: command.password });
        if (reply.kind === "refused") return this.#error(problemText(reply.problem));
        this.#account("registered");
        return this.#notice(`the nick ${reply.nick} is yours now: /identify PASSWORD proves it`);
      }
      case "identify": {
        const reply = await chat.apply(member, {
          kind: "identify",
          nick: command.nick,
          password: command.password,
        });
        if (reply.kind === "refused") {
          this.#account(`identify failed: ${reply.problem.code}`, command.nick);
          return this.#error(problemText(reply.problem));
        }
        this.#account("identified", reply.nick);
        if (reply.renamedFrom !== null) {
          this.#log.event({ event: "nick", peer, from: reply.renamedFrom, to: reply.nick });
          this.#notice(renamedText(reply.nick));
        }
        return this.#notice(`you are identified as ${reply.nick}`);
      }
      case "drop": {
        const reply = await chat.apply(member, { kind: "drop", nick: command.nick });
        if (reply.kind === "refused") return this.#error(problemText(reply.problem));
        this.#account("dropped", reply.nick);
        return this.#notice(`the nick ${reply.nick} is not registered any more`);
      }
      case "password": {
        const reply = await chat.apply(
          member,
          command.nick === undefined
            ? { kind: "password", old: command.first, password: command.password }
            : { kind: "password", nick: command.nick, password: command.password },
        );
        if (reply.kind === "refused") return this.#error(problemText(reply.problem));
        this.#account("password changed", reply.nick);
        return this.#notice(`the password of ${reply.nick} is changed`);
      }
      case "oper": {
        const reply = await chat.apply(member, { kind: "oper", password: command.password });
        if (reply.kind === "refused") {
          this.#account(`oper failed: ${reply.problem.code}`);
          return this.#error(problemText(reply.problem));
        }
        this.#account("is a server operator now");
        return this.#notice("you are a server operator now: /kick, /ban, /mute, /say, /stats …");
      }
      case "operator": {
        const parsed = parseOperatorLine(command.line);
        if (parsed.type === "problem") return this.#error(describeProblem(parsed.problem));
        if (parsed.type !== "command") return;
        const reply = await chat.apply(member, { kind: "moderate", command: parsed.command });
        if (reply.kind === "refused") return this.#error(problemText(reply.problem));
        const lines = moderatedLines(reply, Date.now());
        this.#log.event({ event: "operator", by: member.nick, what: lines.join("; ") });
        for (const line of lines) this.#notice(line);
        return;
      }
      case "quit":
        return this.connection.end("quit", {
          detail: command.reason,
          notice: encodeLine(noticeLine("bye")),
        });
      case "help":
        for (const line of HELP) this.#notice(line);
        return;
      case "usage":
        return this.#error(usageText(command.form));
      case "unknown":
        // By name only: a mistyped command may carry a password (`/identfy secret`).
        this.#rejected(`unknown command /${[...command.name].slice(0, 32).join("")}`);
        return this.#error(unknownCommandText(command.name));
    }
  }

  /**
   * What a member entering a room is shown after its notice: the topic, if
   * any, then the history, between its two notices, each line with the time it
   * was said.
   */
  #replay(joined: Extract<Replies["join"], { kind: "joined" }>): void {
    const { history, room } = joined;
    const now = Date.now();
    if (room.topic) this.#notice(topicText(room.name, room.topic, now));
    if (history.length === 0) return;
    let text = "";
    for (const event of history) text += historyLine(event, now) + "\n";
    this.#notice(historyStartText(history.length, room.name));
    this.connection.send(new TextEncoder().encode(text));
    this.#notice(HISTORY_END_TEXT);
  }

  /** Logs an account matter (never a password). */
  #account(what: string, nick?: string): void {
    this.#log.event({
      event: "account",
      peer: this.connection.peer,
      nick: nick ?? this.#member?.nick ?? "",
      what,
    });
  }

  #rejected(why: string): void {
    this.#log.event({
      event: "rejected",
      peer: this.connection.peer,
      nick: this.#member?.nick ?? "",
      why,
    });
  }

  /** Sends what was held back while entering a room. */
  #release(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    for (const bytes of held) this.connection.send(bytes);
  }

  #notice(text: string): void {
    this.#reply(noticeLine(text));
  }

  #error(text: string): void {
    this.#reply(errorLine(text));
  }

  #reply(line: string): void {
    this.connection.send(encodeLine(line));
  }
}
