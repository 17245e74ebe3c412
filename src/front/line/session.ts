/**
 * A line client's session: the glue between one {@linkcode Transport} and
 * the {@linkcode Chat} for clients that speak the line protocol (nc, telnet,
 * `parley client`). Plain text is said in the current room; a command is
 * read and carried out with the command table (`commands.ts`), which works
 * through the {@linkcode LineContext} this session gives it. A line client
 * is always in exactly one room, its current one: it starts in the lobby and
 * `/join` moves it.
 *
 * An account may be connected from several devices at once (issue 23): a
 * line client is then one of them, and still shows one room (its member may
 * be in more, entered from its other devices: the client is told, and
 * `/join` shows another). A first line `/identify NICK PASSWORD` (what
 * `parley client --password-file` sends) enters as that account at once,
 * attached to its other devices or put back in the rooms it left.
 *
 * Room messages go through the chat's fast path (`say`), batched until the
 * end of the read. While the session enters a room, events for it are held
 * back until the room's history has been sent, so nobody takes a live line
 * for an old one or misses one.
 *
 * @module
 */

import type {
  Chat,
  ChatMember,
  ChatRoom,
  DeviceNotice,
  Endpoint,
  Removal,
} from "../../core/chat.ts";
import type { Problem, Replies } from "../../core/commands.ts";
import type { HistoryMark } from "../../core/history.ts";
import { errorText } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { FrontCounters } from "../../metrics.ts";
import { LINE_TOO_LONG } from "../../net/line_reader.ts";
import { formatPeer } from "../../net/peer.ts";
import type { LineHandler, Transport } from "../../net/transport.ts";
import {
  DEFAULT_MAX_LINE,
  encodeLine,
  errorLine,
  HISTORY_END_TEXT,
  historyLine,
  historyStartText,
  lineLimitText,
  movedText,
  noticeLine,
  renamedText,
  welcomeText,
} from "../../protocol/line.ts";
import { LOBBY } from "../../protocol/names.ts";
import { cleanString, cleanText, hasContent } from "../../text.ts";
import { problemText, removalDetail, removalText, topicText } from "../words.ts";
import { parseLine, runLineCommand } from "./commands.ts";
import { resumedText } from "./account_commands.ts";
import { type LineContext, NO_ROOM_TEXT } from "./line_command.ts";
import { lineRenderer } from "./render.ts";

const SLASH = 0x2f;
/** A first line that asks for a nick: `/nick NAME` and its line end. */
const FIRST_NICK = /^\/nick +([^\s]+) *\r?\n/i;
/** A first line that proves an account: `/identify NICK PASSWORD` and its line end. */
const FIRST_IDENTIFY = /^\/identify +([^\s]+) +([^\s]+) *\r?\n/i;
/** Most lines a client coming back is shown of what was said in its room since it left. */
export const MISSED_LINES = 200;
/** The user name of line clients (the `user` of `nick!user@host` as IRC users see them). */
const LINE_USER = "line";
const encoder = new TextEncoder();

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
  /** The bytes the client sent first, if any arrived before the session started. */
  first?: Uint8Array;
}

/** The second welcome notice. */
export function onlineText(online: number, room: string, inRoom: number): string {
  return `${online} online, ${inRoom} in #${room}; /nick NAME to change your name, /help for commands`;
}

/**
 * What a telnet user is told when telnet cut the line being typed short at
 * its escape byte (0x9D, inside `Н`) and the start it sent was dropped.
 * `binary`: telnet sends every byte as it is now, so typing it again works.
 */
export function telnetLineCutText(binary: boolean): string {
  const what = "telnet sent only the start of your line (byte 0x9D, in Н, is its escape key)";
  return binary ? `${what}: type it again` : `${what}; with telnet -E such lines go through`;
}

/** One line client, from greeting to goodbye. */
export class LineSession implements Endpoint, LineHandler, LineContext {
  readonly renderer = lineRenderer;
  /** A line client shows one room at a time (its other devices may be in more). */
  readonly oneRoom = true;
  readonly connection: Transport;
  readonly chat: Chat;
  readonly #log: Logger;
  readonly #maxLine: number;
  readonly #idleTimeout: number;
  readonly #onEnd: ((session: LineSession) => void) | undefined;
  readonly #counters: FrontCounters | undefined;
  #member: ChatMember | null = null;
  #room: ChatRoom | null = null;
  /** The oldest message of the current room shown to this client (`/history` goes on from it). */
  earliest: HistoryMark | null = null;
  #messages = 0;
  readonly #startedAt = performance.now();
  /** What the client sent first (sniffed before the session started). */
  readonly #first: Uint8Array;
  /** Its first line was a `/nick NAME` the member entered with: not carried out again. */
  #skipFirstLine = false;
  /** Why its first line's `/identify` did not prove the account (told after the welcome). */
  #firstProblem: Problem | null = null;
  readonly #decoder = new TextDecoder();
  /** Events held back while a room's history is on its way; null when none are. */
  #held: Uint8Array[] | null = null;

  constructor(connection: Transport, context: LineSessionContext) {
    this.connection = connection;
    this.chat = context.chat;
    this.#log = context.log;
    this.#maxLine = context.maxLine;
    this.#idleTimeout = context.idleTimeout;
    this.#onEnd = context.onEnd;
    this.#counters = context.counters;
    this.#first = context.first ?? new Uint8Array(0);
  }

  /** The member, while this client is in the chat (null before and after). */
  get present(): ChatMember | null {
    return this.#member?.present ? this.#member : null;
  }

  /** The member (commands run only while there is one). */
  get member(): ChatMember {
    return this.#member!;
  }

  /** The current room; none while the server waits for an account (`--require-account`). */
  get room(): ChatRoom | null {
    return this.#room;
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
      detail: removalDetail(removal),
      notice: encodeLine(errorLine(removalText(removal))),
    });
  }

  /**
   * A room operator kicked the member out of `room`: a line client is always
   * in a room, so out of its current one it goes back to the lobby (out of
   * the lobby, it is told to /join one).
   */
  removedFromRoom(room: ChatRoom): void {
    if (this.#room !== room) return;
    this.#room = null;
    if (room.name === LOBBY) return this.notice(NO_ROOM_TEXT);
    void runLineCommand(this, { kind: "join", room: LOBBY });
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
    const chat = this.chat;
    const connection = this.connection;
    try {
      this.#held = [];
      const member = this.#member = await this.#enter();
      // Another device of its account is here, or its account left rooms: back in them.
      const resumed = await chat.resume(member);
      const room = resumed.current?.name ?? LOBBY;
      const joined = await chat.apply(member, { kind: "join", room, move: false });
      this.notice(welcomeText(member.nick));
      if (this.#firstProblem !== null) this.error(problemText(this.#firstProblem));
      // Its first line's /identify was carried out on entering: answered as it would be.
      if (this.#skipFirstLine && member.account !== null && this.#firstProblem === null) {
        this.notice(`you are identified as ${member.nick}`);
      }
      if (resumed.how !== "new") this.notice(resumedText(resumed));
      if (joined.kind === "joined") {
        this.#room = chat.findRoom(joined.room.name) ?? null;
        const census = await chat.census(joined.room);
        // Back in a room that is not the lobby: said as a move (the terminal client follows it).
        if (resumed.how !== "new") {
          this.notice(movedText({ name: joined.room.name, size: census.inRoom }));
        }
        this.notice(onlineText(census.online, joined.room.name, census.inRoom));
        if (this.#maxLine !== DEFAULT_MAX_LINE) this.notice(lineLimitText(this.#maxLine));
        if (resumed.how === "restored" && resumed.left !== null) {
          await this.#missed(joined, resumed.left);
        } else {
          this.#replay(joined);
        }
      } else {
        // --require-account: no room until the member proves a registered nick.
        this.error(problemText(joined.problem));
      }
      this.release();
      this.#log.event({
        event: "connect",
        peer: connection.peer,
        nick: member.nick,
        online: chat.online,
        ...this.#accountOf(),
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

  /**
   * Into the chat: under the nick a first line `/nick NAME` asks for (what
   * `parley client --name` sends at once), so that nobody sees a guest arrive
   * and rename itself; otherwise, or when that nick cannot be had, as a guest
   * (and the `/nick` line then runs as any command, saying why).
   */
  async #enter(): Promise<ChatMember> {
    const first = this.#decoder.decode(this.#first);
    const identify = FIRST_IDENTIFY.exec(first);
    if (identify !== null) {
      const nick = cleanString(identify[1]);
      const entered = await this.chat.enter(this, nick, LINE_USER, identify[2]);
      if (!("kind" in entered)) {
        if (entered.account !== null) {
          this.#skipFirstLine = true;
          this.account("identified", entered.nick);
        }
        return entered;
      }
      const problem = entered.problem;
      if (
        problem.code === "wrong-password" || problem.code === "too-many-attempts" ||
        problem.code === "busy" || problem.code === "too-many-sessions" ||
        problem.code === "account-in-use"
      ) {
        // Told after the welcome; the line is not carried out again (one guess, counted once).
        this.#skipFirstLine = true;
        this.#firstProblem = problem;
        this.account(`identify failed: ${problem.code}`, nick);
      }
      return await this.chat.enterAsGuest(this, LINE_USER);
    }
    const wanted = FIRST_NICK.exec(first)?.[1];
    if (wanted !== undefined) {
      const entered = await this.chat.enter(this, cleanString(wanted), LINE_USER);
      if (!("kind" in entered)) {
        this.#skipFirstLine = true;
        return entered;
      }
    }
    return await this.chat.enterAsGuest(this, LINE_USER);
  }

  /** The read loop is over: out of the chat, the connection closed, the log told. */
  ended(): void {
    void this.#finish();
  }

  async #finish(): Promise<void> {
    const chat = this.chat;
    const connection = this.connection;
    try {
      this.release();
      const reason = connection.reason;
      const member = this.#member;
      const account = member === null ? {} : this.#accountOf();
      if (member) {
        chat.leave(member, {
          reason,
          detail: connection.detail,
          announce: reason !== "shutdown",
        });
      }
      const online = chat.online;
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
          ...account,
          ...(account.devices === undefined ? {} : { devices: account.devices - 1 }),
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
    if (this.#skipFirstLine) {
      // The `/nick NAME` the member entered with: done already.
      this.#skipFirstLine = false;
      return;
    }
    if (line === LINE_TOO_LONG) {
      this.chat.flush();
      this.rejected(`line too long (over ${this.#maxLine} bytes)`);
      return this.error(`line too long (over ${this.#maxLine} bytes); it was dropped`);
    }
    const text = cleanText(line);
    if (text.charCodeAt(0) !== SLASH) return this.say(text, false);
    return runLineCommand(this, parseLine(text));
  }

  /** Telnet cut the line being typed short (src/net/telnet.ts): the user types it again. */
  telnetLineCut(binary: boolean): void {
    this.rejected("telnet cut a line short at its escape byte; its start was dropped");
    this.error(telnetLineCutText(binary));
  }

  /** The read's lines are done: its room messages go out together. */
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

  // What the command table may do (LineContext).

  say(text: string, action: boolean): void {
    if (!hasContent(text)) return;
    const member = this.#member!;
    const room = this.#room;
    if (room === null) return this.error(NO_ROOM_TEXT);
    const said = this.chat.say(member, room, text, action);
    if ("code" in said) return this.error(problemText(said));
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

  notice(text: string): void {
    this.reply(noticeLine(text));
  }

  error(text: string): void {
    this.reply(errorLine(text));
  }

  reply(line: string): void {
    this.connection.send(encodeLine(line));
  }

  entered(joined: Extract<Replies["join"], { kind: "joined" }>): void {
    const from = this.#room?.name;
    this.#room = this.chat.findRoom(joined.room.name) ?? this.#room;
    this.#replay(joined);
    this.#log.event({
      event: "join",
      peer: this.connection.peer,
      nick: this.member.nick,
      from,
      room: joined.room.name,
    });
  }

  hold(): void {
    this.#held = [];
  }

  /**
   * Another device of this member changed it (issue 23): told in the line
   * protocol's words. A room left elsewhere that this client showed: it shows
   * another of the member's rooms, or goes to the lobby.
   */
  sibling(notice: DeviceNotice): void {
    switch (notice.kind) {
      case "joined":
        return this.notice(
          `you joined #${notice.room.name} on another device (/join ${notice.room.name} shows it here)`,
        );
      case "parted":
        this.notice(`you left #${notice.room} on another device`);
        if (this.#room?.name !== notice.room) return;
        this.#room = null;
        void runLineCommand(this, {
          kind: "join",
          room: this.present?.rooms.at(-1)?.name ?? LOBBY,
        });
        return;
      case "renamed":
        this.notice(renamedText(notice.to));
        return this.renamed(notice.from, notice.to);
      case "away":
        return this.notice(
          notice.away === null
            ? "you are back (from another device)"
            : `you are away: ${notice.away}`,
        );
      case "marker":
        return; // line clients count nothing unread
    }
  }

  /** The account and device count the log shows for this connection, when it proved one. */
  #accountOf(): { account?: string; devices?: number } {
    const member = this.#member;
    if (member === null || member.accountName === null) return {};
    const devices = this.chat.devices(member);
    return devices > 1 ? { account: member.accountName, devices } : { account: member.accountName };
  }

  /** Sends what was held back while entering a room. */
  release(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    for (const bytes of held) this.connection.send(bytes);
  }

  privateSent(to: string, text: string): void {
    this.#messages++;
    this.#counters?.privateMessages.inc();
    this.#log.event({
      event: "private",
      peer: this.connection.peer,
      nick: this.member.nick,
      to,
      text,
    });
  }

  renamed(from: string, to: string): void {
    this.#log.event({ event: "nick", peer: this.connection.peer, from, to });
  }

  /** Logs an account matter (never a password). */
  account(what: string, nick?: string): void {
    this.#log.event({
      event: "account",
      peer: this.connection.peer,
      nick: nick ?? this.#member?.nick ?? "",
      what,
    });
  }

  rejected(why: string): void {
    this.#log.event({
      event: "rejected",
      peer: this.connection.peer,
      nick: this.#member?.nick ?? "",
      why,
    });
  }

  topicSet(room: string, text: string): void {
    this.#log.event({
      event: "topic",
      peer: this.connection.peer,
      nick: this.member.nick,
      room,
      text,
    });
  }

  operatorDid(what: string): void {
    this.#log.event({ event: "operator", by: this.member.nick, what });
  }

  quit(reason: string): void {
    this.connection.end("quit", { detail: reason, notice: encodeLine(noticeLine("bye")) });
  }

  /**
   * A client coming back to the room it showed last is shown what was said
   * there since its account's last device left (at most {@linkcode MISSED_LINES},
   * the newest), as a history block; the notice before says how many.
   */
  async #missed(joined: Extract<Replies["join"], { kind: "joined" }>, left: number): Promise<void> {
    const room = joined.room.name;
    const reply = await this.chat.apply(this.member, {
      kind: "history",
      target: { room },
      request: { kind: "latest", after: { time: left }, limit: MISSED_LINES },
    });
    const missed = reply.kind === "history"
      ? reply.events.filter((event) => event.kind === "message")
      : [];
    this.notice(
      missed.length === 0
        ? `nothing was said in #${room} since you left`
        : `${
          missed.length === 1 ? "1 message" : `${missed.length} messages`
        } in #${room} since you left${
          missed.length === MISSED_LINES ? " (the newest; /history shows more)" : ""
        }`,
    );
    this.#replay({ ...joined, history: missed });
  }

  /**
   * What a member entering a room is shown after its notice: the topic, if
   * any, then the history, between its two notices, each line with the time it
   * was said.
   */
  #replay(joined: Extract<Replies["join"], { kind: "joined" }>): void {
    const { history, room } = joined;
    const now = Date.now();
    const first = history[0];
    // `/history` goes on from the oldest line replayed, or from now.
    this.earliest = first === undefined
      ? { time: now }
      : first.id !== undefined
      ? { msgid: first.id }
      : { time: first.time };
    if (room.topic) this.notice(topicText(room.name, room.topic, now));
    if (history.length === 0) return;
    let text = "";
    for (const event of history) text += historyLine(event, now) + "\n";
    this.notice(historyStartText(history.length, room.name));
    this.connection.send(encoder.encode(text));
    this.notice(HISTORY_END_TEXT);
  }
}
