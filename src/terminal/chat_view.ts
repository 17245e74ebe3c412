/**
 * The terminal client's screen as a state machine: keys and received lines
 * go in; output to write, lines to send and the wish to leave come out. It
 * owns the line editor, the input line's sideways scroll and what the client
 * knows of itself (its nick and room, from the server's notices), and the
 * scrollback: what it has shown, PageUp/PageDown through it, End back to live,
 * and older lines asked of the server (`/history N`) when the view nears the
 * top of what it has. Pure: no terminal, no socket, so every behaviour is
 * tested from its output.
 *
 * After a reconnect the server replays the history of the rooms the client
 * enters again; the lines the person saw before are not shown twice (see
 * {@linkcode ChatView.rejoin} and {@linkcode unseenFrom}). A line longer than
 * the server takes (`--max-line`: 4096 bytes unless its welcome says
 * otherwise) is refused before it is sent or shown as said.
 *
 * What the person has seen is the server's read marker of the room (`/read`,
 * sent quietly by {@linkcode ChatView.markRead} a moment after room lines were
 * shown live; its answer is not shown): the account's other devices count
 * unread from there.
 *
 * Live, lines are printed above the input line and the terminal scrolls
 * them. Scrolled back, the view owns the screen: rows 1 to height − 2 show
 * the kept lines, the row above the input line says what is below, and what
 * arrives is kept and counted, not printed.
 *
 * @module
 */

import { DEFAULT_MAX_LINE, lineLimitOf, parseServerLine } from "../protocol/line.ts";
import { LOBBY } from "../protocol/names.ts";
import { isSecret, masked } from "./secret.ts";
import { hasContent } from "../text.ts";
import { nickColor } from "../colors.ts";
import type { Key } from "./keys.ts";
import { LineEditor } from "./line_editor.ts";
import {
  clearInput,
  eraseFrom,
  fitWidth,
  formatChatLine,
  moveTo,
  paintRows,
  printAbove,
  renderInput,
  styleLine,
} from "./screen.ts";
import { kindOf, roomLineKey, unseenFrom } from "./room_lines.ts";
import { type Place, Scrollback, type ShownLine } from "./scrollback.ts";
import { displayWidth } from "./width.ts";

/** How the view starts. */
export interface ChatViewOptions {
  /** Terminal width. */
  columns: number;
  /** Terminal height (24 when not given). */
  rows?: number;
  /** Lines kept for scrolling back (10,000 when not given). */
  scrollback?: number;
  /** Colour on (a terminal, and `NO_COLOR` unset). */
  color: boolean;
  /** The nick asked for on joining (`--name`); asked for again after a reconnect. */
  name?: string;
  /** The time put before each line; the current time by default. */
  clock?: () => Date;
}

/** What a key asks the client to do. */
export interface KeyOutcome {
  /** Write this to the terminal. */
  output: string;
  /** Send these lines to the server, in order. */
  send: string[];
  /** Leave, sending this line (`/quit` or `/quit REASON`) last; null to stay. */
  leave: string | null;
}

/** `/quit` or its alias `/exit`, with or without a reason. */
const QUIT = /^\/(quit|exit)(\s|$)/i;
const ACTION_COMMAND = /^\/me\s+(.*\S)\s*$/is;
/** How many older lines one request asks the server for. */
export const HISTORY_STEP = 100;
/** A request unanswered this long is asked again. */
const HISTORY_PATIENCE_MS = 10_000;
/**
 * The notice that opens `/history`'s answer (`*** 100 earlier messages in
 * #dev:`; a block as on joining, `*** last 100 messages in #dev:`, is read
 * too), and the room it names.
 */
const HISTORY_START = /^(?:\d+ earlier messages?|last (?:message|\d+ messages)) in #(\S+):$/;
/** The notice that closes it (`*** end of earlier messages`, `*** end of history; …`). */
const HISTORY_END = /^end of (?:earlier messages|history)\b/;
/** The answer when the room has nothing older: `*** no earlier messages in #dev`. */
const NOTHING_OLDER = /^no (?:earlier|older) messages in #(\S+)$/;
/** A server without `/history`. */
const UNKNOWN_HISTORY = /^unknown command \/history\b/i;
/** `/history` refused for now (`!!! the history cannot be read now; try again in a moment`). */
const HISTORY_REFUSED = /\bhistory\b/i;

/** Room lines remembered per room for not showing them twice after a reconnect, and rooms. */
const SEEN_PER_ROOM = 2000;
const SEEN_ROOMS = 50;

/** After a reconnect: the room to be back in, and the history block on its way, if any. */
interface CatchUp {
  room: string;
  block: { room: string; header: string; lines: string[] } | null;
}

/** A request for older lines, from being sent to its answer's end. */
interface HistoryRequest {
  /** The room it is about. */
  room: string;
  /** When it was sent (the view's clock, ms). */
  sent: number;
  /** The answer's lines so far; null until its block starts. */
  lines: string[] | null;
}

/** The interactive client's screen: input line at the bottom, chat above it. */
export class ChatView {
  /** The input line being edited. */
  readonly editor: LineEditor = new LineEditor();
  #columns: number;
  readonly #color: boolean;
  readonly #clock: () => Date;
  #scroll = 0;
  #nick: string | null = null;
  #wantedNick: string | null;
  #room = LOBBY;
  #online = true;
  #rows: number;
  readonly #scrollback: Scrollback;
  /** Counts up on every welcome and room change: older lines belong to one stay in one room. */
  #stay = 0;
  /** The stay whose room has nothing older (said once, asked no more). */
  #startShown = -1;
  /** The server has no `/history`: never asked again. */
  #noHistory = false;
  #request: HistoryRequest | null = null;
  /**
   * PageUp stopped where older lines go while they were on their way: the
   * row it was going to end at (the top row before it), reached once they come.
   */
  #waiting: Place | null = null;
  /** The last request was refused for now (the marker says so until the next). */
  #refused = false;
  /** Where the last answer's lines went, and how many. */
  #placed: { at: number; count: number } | null = null;
  /** The longest line the server takes, in bytes (its welcome or its refusal says when not the default). */
  #maxLine = DEFAULT_MAX_LINE;
  /** The room lines shown, per room, oldest first (`<nick> text`, `* nick text`). */
  readonly #seen = new Map<string, string[]>();
  /** Set by {@linkcode rejoin} until the room's replayed history has been read. */
  #catchUp: CatchUp | null = null;
  /** Room lines were shown live since the last `/read` went out. */
  #unread = false;
  /** Quiet `/read`s sent whose answers are not in yet (not shown when they come). */
  #readsPending = 0;
  /** The server has no `/read`: never sent again. */
  #noRead = false;

  /** A view with an empty input line; nothing is drawn until {@linkcode draw}. */
  constructor(options: ChatViewOptions) {
    this.#columns = options.columns;
    this.#rows = options.rows ?? 24;
    this.#color = options.color;
    this.#clock = options.clock ?? (() => new Date());
    this.#wantedNick = options.name ?? null;
    this.#scrollback = new Scrollback({ columns: options.columns, limit: options.scrollback });
  }

  /** What the client has shown, and where the view stands. */
  get scrollback(): Scrollback {
    return this.#scrollback;
  }

  /** The nick the server last said is ours; null before its welcome. */
  get nick(): string | null {
    return this.#nick;
  }

  /** The room the server last put us in. */
  get room(): string {
    return this.#room;
  }

  /** Whether a connection is up: offline, typed lines are kept, not sent. */
  get online(): boolean {
    return this.#online;
  }

  set online(value: boolean) {
    this.#online = value;
    if (!value) this.#request = null;
  }

  /**
   * What to send after reconnecting to be where we were: the nick we chose
   * (a guest nick is not asked for again) and the room, unless the lobby.
   */
  rejoinCommands(): string[] {
    const commands: string[] = [];
    if (this.#wantedNick) commands.push(`/nick ${this.#wantedNick}`);
    if (this.#room !== LOBBY) commands.push(`/join ${this.#room}`);
    return commands;
  }

  /**
   * After reconnecting: what to send to be where we were ({@linkcode
   * rejoinCommands}), and from now on the history the server replays is
   * read against what was shown before: the lobby's block, when we are going
   * on to another room, is not shown; the room's block shows only the lines
   * not seen yet (`-- nothing missed in #dev` when there are none).
   */
  rejoin(): string[] {
    this.#catchUp = { room: this.#room, block: null };
    return this.rejoinCommands();
  }

  /** Output that draws the input line (at start, and after anything else wrote to the terminal). */
  draw(): string {
    const nick = this.#nick;
    const prompt = `${this.#online ? "" : "(offline) "}${nick ?? ""}> `;
    const styledPrompt = this.#color && nick
      ? `${this.#online ? "" : "(offline) "}${nickColor(nick, true)(nick)}> `
      : prompt;
    const { output, scroll } = renderInput({
      prompt,
      styledPrompt,
      clusters: masked(this.editor.clusters),
      cursor: this.editor.cursor,
      columns: this.#columns,
      scroll: this.#scroll,
      color: this.#color,
    });
    this.#scroll = scroll;
    return output;
  }

  /** The terminal changed size: output that draws the input line (or the whole view) again. */
  resize(columns: number, rows = this.#rows): string {
    this.#columns = columns;
    this.#rows = rows;
    this.#scrollback.columns = columns;
    return this.#scrollback.scrolled ? this.#paint() : this.draw();
  }

  /** Output that erases the input line, for leaving the terminal to whatever comes next. */
  clear(): string {
    if (!this.#scrollback.scrolled) return clearInput();
    // Leave the newest lines on the screen, not a page from the past.
    this.#scrollback.live();
    return this.#paintLive() + clearInput();
  }

  /**
   * Lines from the server (already cleaned): shown above the input line with
   * the time, or kept and counted while scrolled back. The answer to a
   * request for older lines is not shown as it comes: its lines go above
   * what the client has of the room.
   */
  received(lines: readonly string[]): string {
    const shown: string[] = [];
    let answered = false;
    for (const line of lines) {
      if (this.#request) {
        const { taken, done } = this.#answer(line);
        answered ||= done;
        if (taken) continue;
      }
      if (this.#readsPending > 0 && this.#readAnswer(line)) continue;
      if (this.#catchUp !== null && this.#caughtUp(line, shown)) continue;
      this.#learn(line);
      this.#remember(line);
      shown.push(line);
    }
    let output = shown.length ? this.#show(shown) : "";
    if (answered) output += this.#afterAnswer();
    if (!this.#scrollback.scrolled && shown.some((line) => roomLineKey(line) !== null)) {
      this.#unread = true;
    }
    return output;
  }

  /**
   * What to send to set the room's read marker to what was shown (`/read`),
   * when room lines were shown live since the last time: the client calls it
   * now and then. Scrolled back, nothing new was seen.
   */
  markRead(): string[] {
    if (!this.#unread || this.#noRead || !this.#online || this.#scrollback.scrolled) return [];
    this.#unread = false;
    this.#readsPending++;
    return ["/read"];
  }

  /** Takes the answer to a quiet `/read` (true when `line` was it); a server without one is asked no more. */
  #readAnswer(line: string): boolean {
    const parsed = parseServerLine(line);
    if (parsed.kind === "notice" && parsed.meaning?.about === "read") {
      this.#readsPending--;
      return true;
    }
    if (parsed.kind === "error" && /^unknown command \/read\b/i.test(parsed.text)) {
      this.#readsPending = 0;
      this.#noRead = true;
      return true;
    }
    return false;
  }

  /** A line from the client itself (`-- connected to …`), shown like a received one. */
  status(text: string): string {
    return this.#show([`-- ${text}`]);
  }

  /** An error from the client itself (`!!! …`). */
  error(text: string): string {
    return this.#show([`!!! ${text}`]);
  }

  /**
   * Applies one key: editing redraws the input line; Enter sends (and shows
   * own messages); PageUp, PageDown and (scrolled back) End move the view.
   */
  key(key: Key): KeyOutcome {
    if (key.type === "key") {
      if (key.name === "page-up") return this.#pageUp();
      if (key.name === "page-down") return this.#pageDown();
      if (key.name === "end" && this.#scrollback.scrolled) return this.#toLive();
      if (key.name === "redraw" && this.#scrollback.scrolled) return this.#outcome(this.#paint());
    }
    const result = this.editor.handle(key);
    switch (result.type) {
      case "none":
        return { output: "", send: [], leave: null };
      case "changed":
        return { output: this.draw(), send: [], leave: null };
      case "redraw":
        // Clear the screen and put the input line at the top.
        return { output: "\x1b[H\x1b[2J" + this.draw(), send: [], leave: null };
      case "interrupt":
      case "eof":
        return { output: "", send: [], leave: "/quit" };
      case "submit":
        return this.#submit(result.lines);
    }
  }

  #submit(lines: readonly string[]): KeyOutcome {
    const send: string[] = [];
    const shown: string[] = [];
    let leave: string | null = null;
    // Typing after a reconnect: whatever history comes now was asked for.
    this.#catchUp = null;
    for (const line of lines) {
      if (!hasContent(line)) continue;
      // `exit` leaves; ` exit` (a space first) says the word.
      if (line.trimEnd().toLowerCase() === "exit" || QUIT.test(line.trim())) {
        leave = QUIT.test(line.trim()) ? line.trim() : "/quit";
        break;
      }
      if (!this.#online) {
        shown.push(
          isSecret(line)
            ? "!!! not connected: not sent"
            : `!!! not connected: not sent (↑ brings it back): ${line}`,
        );
        continue;
      }
      const bytes = utf8Length(line);
      if (bytes > this.#maxLine) {
        // The server would drop it: not sent, not shown as said; ↑ brings it back to shorten.
        shown.push(
          `!!! line too long (${bytes} bytes; the server takes at most ${this.#maxLine}): ` +
            "not sent (↑ brings it back)",
        );
        continue;
      }
      send.push(line);
      const echo = this.#echo(line);
      if (echo !== null) {
        shown.push(echo);
        this.#remember(echo);
      }
    }
    return { output: shown.length ? this.#show(shown) : this.draw(), send, leave };
  }

  /** How an own line looks to others; null for commands, whose answer comes from the server. */
  #echo(line: string): string | null {
    const me = this.#nick ?? "me";
    if (!line.startsWith("/")) return `<${me}> ${line}`;
    if (line.startsWith("//")) return `<${me}> ${line.slice(1)}`;
    const action = ACTION_COMMAND.exec(line);
    return action ? `* ${me} ${action[1].trim()}` : null;
  }

  /** Follows the server's notices about who and where we are, and its line limit. */
  #learn(line: string): void {
    const limit = lineLimitOf(line);
    if (limit !== null) this.#maxLine = limit;
    if (!line.startsWith("*** ")) return;
    const parsed = parseServerLine(line);
    if (parsed.kind !== "notice" || parsed.meaning === null) return;
    const meaning = parsed.meaning;
    switch (meaning.about) {
      case "welcome":
        this.#nick = meaning.nick;
        this.#room = LOBBY;
        this.#newStay();
        return;
      case "moved":
        this.#room = meaning.room;
        this.#newStay();
        return;
      case "renamed":
        this.#nick = this.#wantedNick = meaning.nick;
        return;
    }
  }

  /** Keeps a room line shown (live, replayed or our own), to know it after a reconnect. */
  #remember(line: string): void {
    const key = roomLineKey(line);
    if (key === null) return;
    let seen = this.#seen.get(this.#room);
    if (seen === undefined) {
      if (this.#seen.size >= SEEN_ROOMS) this.#seen.delete(this.#seen.keys().next().value!);
      this.#seen.set(this.#room, seen = []);
    }
    seen.push(key);
    if (seen.length > SEEN_PER_ROOM) seen.splice(0, seen.length - SEEN_PER_ROOM);
  }

  /**
   * After a reconnect: takes the history blocks the server replays (true when
   * `line` was taken), and when one is complete puts into `shown` what of it
   * to show (see {@linkcode rejoin}).
   */
  #caughtUp(line: string, shown: string[]): boolean {
    const catchUp = this.#catchUp!;
    const parsed = parseServerLine(line);
    const block = catchUp.block;
    if (block === null) {
      if (parsed.kind !== "notice" || parsed.meaning?.about !== "history-start") return false;
      const room = /in #(\S+):$/.exec(parsed.text)?.[1] ?? this.#room;
      catchUp.block = { room, header: line, lines: [] };
      return true;
    }
    if (parsed.kind === "history") {
      block.lines.push(line);
      return true;
    }
    // The block is over: its closing notice (taken), or any other line (an odd server).
    catchUp.block = null;
    const closing = parsed.kind === "notice" && parsed.meaning?.about === "history-end";
    const room = catchUp.room;
    if (block.room !== room) {
      // The lobby's, on the way back to another room: none of it is news.
      if (block.room === LOBBY) return closing;
      this.#showBlock(block, closing ? line : null, shown);
      return closing;
    }
    this.#catchUp = null;
    const keys = block.lines.map((replayed) => roomLineKey(replayed) ?? replayed);
    const from = unseenFrom(keys, this.#seen.get(room) ?? []);
    if (from === 0) {
      // Nothing of it was seen: the block as the server sent it.
      this.#showBlock(block, closing ? line : null, shown);
    } else if (from === block.lines.length) {
      shown.push(`-- nothing missed in #${room}`);
    } else {
      const missed = block.lines.slice(from);
      shown.push(`-- missed in #${room} while away:`, ...missed);
      for (const replayed of missed) this.#remember(replayed);
    }
    return closing;
  }

  /** A replayed block shown as the server sent it (`closing`: its closing notice). */
  #showBlock(block: { header: string; lines: string[] }, closing: string | null, shown: string[]) {
    shown.push(block.header, ...block.lines);
    for (const replayed of block.lines) this.#remember(replayed);
    if (closing !== null) shown.push(closing);
  }

  /** A welcome or a room change: older lines are asked for anew, about the new room. */
  #newStay(): void {
    this.#stay++;
    // An answer still on its way is about the room left; its block is shown as it comes.
    this.#request = null;
    this.#waiting = null;
  }

  #show(lines: readonly string[]): string {
    const time = this.#clock();
    const options = { color: this.#color, ownNick: this.#nick };
    const formatted = lines.map((line) => formatChatLine(line, time, options));
    this.#scrollback.append(
      formatted.map((text, i) => ({ text, stay: this.#stay, ...kindOf(lines[i]) })),
    );
    if (this.#scrollback.scrolled) return this.#paintMarker() + this.draw();
    return printAbove(formatted, this.draw());
  }

  // Scrolling back.

  /** Rows of kept lines in view while scrolled back: all but the marker's and the input line's. */
  get #viewRows(): number {
    return Math.max(1, this.#rows - 2);
  }

  /** PageUp's step: a screen, less a row kept for context. */
  get #page(): number {
    return Math.max(1, this.#viewRows - 1);
  }

  #outcome(output: string, send: string[] = []): KeyOutcome {
    return { output, send, leave: null };
  }

  #pageUp(): KeyOutcome {
    const scrollback = this.#scrollback;
    const wasLive = !scrollback.scrolled;
    // The page before is the one whose last row is the top row of this one (live shows a row more).
    const page = this.#page + (wasLive ? 1 : 0);
    const top = scrollback.topPlace(wasLive ? this.#rows - 1 : this.#viewRows);
    const floor = this.#floor();
    const owed = scrollback.up(page, this.#viewRows, floor);
    const send = this.#askIfNear();
    if (wasLive && owed === page && this.#request === null) {
      // Everything is on the screen already and nothing older can come.
      scrollback.live();
      return this.#outcome("");
    }
    if (owed > 0 && this.#request !== null) {
      // Older lines go at the floor: a top above it (the room's notices) ends the page there.
      this.#waiting = top.line < floor ? { line: floor, row: 0 } : top;
    }
    return this.#outcome(this.#paint(), send);
  }

  #pageDown(): KeyOutcome {
    if (!this.#scrollback.scrolled) return this.#outcome("");
    this.#waiting = null;
    this.#scrollback.down(this.#page);
    if (!this.#scrollback.scrolled) return this.#outcome(this.#paintLive());
    return this.#outcome(this.#paint());
  }

  #toLive(): KeyOutcome {
    this.#waiting = null;
    // What arrived while scrolled back is on the screen now: seen.
    this.#unread = true;
    this.#scrollback.live();
    return this.#outcome(this.#paintLive());
  }

  /** Whether older lines of this room can still come: online, a server that has them, room for them. */
  #canAsk(): boolean {
    const scrollback = this.#scrollback;
    return this.#online && !this.#noHistory && this.#startShown !== this.#stay &&
      scrollback.length < scrollback.limit;
  }

  /**
   * How high the view may go: while older lines of this room can still come,
   * not above where they will go (what is above it, the room's notices and
   * other rooms' lines, is older than they are); else the top.
   */
  #floor(): number {
    if (!this.#canAsk()) return 0;
    const at = this.#scrollback.insertionPoint(this.#stay);
    return at === null || at >= this.#scrollback.length ? 0 : at;
  }

  /**
   * Asks the server for older lines of the room when the view's top is
   * within a screen of where they go and it may ask (no request on its way).
   */
  #askIfNear(): string[] {
    const scrollback = this.#scrollback;
    if (!this.#canAsk()) return [];
    const now = this.#clock().getTime();
    if (this.#request !== null && now - this.#request.sent < HISTORY_PATIENCE_MS) return [];
    const at = scrollback.insertionPoint(this.#stay);
    if (at === null) return [];
    const top = scrollback.topLine(this.#viewRows);
    if (at < top - this.#viewRows || at > scrollback.bottomLine() + 1) return [];
    this.#request = { room: this.#room, sent: now, lines: null };
    this.#refused = false;
    return [`/history ${HISTORY_STEP}`];
  }

  /**
   * Reads a line as (part of) the answer to the request on its way: `taken`
   * when it belongs to the answer, `done` when the answer is over.
   */
  #answer(line: string): { taken: boolean; done: boolean } {
    const request = this.#request!;
    const parsed = parseServerLine(line);
    if (request.lines === null) {
      if (parsed.kind === "notice") {
        if (HISTORY_START.exec(parsed.text)?.[1] === request.room) {
          request.lines = [];
          return { taken: true, done: false };
        }
        if (NOTHING_OLDER.exec(parsed.text)?.[1] === request.room) {
          this.#answered([]);
          return { taken: true, done: true };
        }
      } else if (parsed.kind === "error" && UNKNOWN_HISTORY.test(parsed.text)) {
        this.#noHistory = true;
        this.#request = null;
        this.#putAbove(["-- this server cannot send older lines"]);
        return { taken: true, done: true };
      } else if (parsed.kind === "error" && HISTORY_REFUSED.test(parsed.text)) {
        // Not now (the store is away, or busy): the marker says so; the next PageUp asks again.
        this.#request = null;
        this.#refused = true;
        return { taken: true, done: true };
      }
      return { taken: false, done: false };
    }
    if (parsed.kind === "history") {
      request.lines.push(line);
      return { taken: true, done: false };
    }
    // The block ends with its notice (or, from an odd server, with any other line).
    this.#answered(request.lines);
    return { taken: parsed.kind === "notice" && HISTORY_END.test(parsed.text), done: true };
  }

  /** The answer's lines go above what the client has of the room; none: the room's start. */
  #answered(lines: readonly string[]): void {
    this.#request = null;
    if (lines.length === 0) {
      this.#startShown = this.#stay;
      this.#putAbove([`-- nothing older in #${this.#room}`]);
      return;
    }
    const options = { color: this.#color, ownNick: this.#nick };
    const now = this.#clock();
    this.#putAbove(lines.map((line) => formatChatLine(line, now, options)), true);
  }

  /** Puts lines (formatted, or status lines to format) where older lines of this stay go. */
  #putAbove(lines: readonly string[], formatted = false): void {
    const scrollback = this.#scrollback;
    const at = scrollback.insertionPoint(this.#stay);
    if (at === null) return;
    const options = { color: this.#color, ownNick: this.#nick };
    const shown: ShownLine[] = lines.map((line) => ({
      text: formatted ? line : formatChatLine(line, this.#clock(), options),
      said: formatted,
      stay: this.#stay,
    }));
    this.#placed = { at, count: scrollback.insert(at, shown) };
  }

  /** After an answer: a PageUp that waited for it goes on, and the view is drawn again. */
  #afterAnswer(): string {
    const scrollback = this.#scrollback;
    const placed = this.#placed;
    const target = this.#waiting;
    this.#placed = this.#waiting = null;
    if (!scrollback.scrolled) return "";
    if (target !== null && placed !== null) {
      const shift = target.line >= placed.at ? placed.count : 0;
      scrollback.endAt({ line: target.line + shift, row: target.row }, this.#viewRows);
    }
    return this.#paint();
  }

  /** The marker above the input line while scrolled back: what is below, and how to get back. */
  #marker(): string {
    const scrollback = this.#scrollback;
    const lines = (count: number) => `${count} ${count === 1 ? "line" : "lines"}`;
    const parts: string[] = [];
    if (scrollback.newBelow > 0) {
      parts.push(`${lines(scrollback.newBelow)} below`.replace(" ", " new "));
    } else if (scrollback.below > 0) parts.push(`${lines(scrollback.below)} below`);
    if (this.#request !== null && this.#waiting !== null) parts.push("asking for older lines");
    if (this.#refused) parts.push("older lines cannot be read now");
    if (parts.length === 0) parts.push("scrolled back");
    const said = `-- ${parts.join("; ")}`;
    const full = `${said}; End returns to live`;
    // Short of the last column, so that it never wraps into the input line.
    const text = fitWidth(displayWidth(full) < this.#columns ? full : said, this.#columns - 1);
    return styleLine(text, { color: this.#color });
  }

  /** Output that draws the scrolled-back view, the marker and the input line on the bottom row. */
  #paint(): string {
    const rows = this.#scrollback.view(this.#viewRows);
    while (rows.length < this.#viewRows) rows.push("");
    return paintRows(rows, 1) + this.#paintMarker() + this.draw();
  }

  /** Output that draws the marker row and leaves the cursor on the input row. */
  #paintMarker(): string {
    return paintRows([this.#marker()], this.#viewRows + 1) + moveTo(this.#rows);
  }

  /**
   * Output that draws the newest lines from the top of the screen and the
   * input line right below them, as printing them one by one would have.
   */
  #paintLive(): string {
    const rows = this.#scrollback.view(this.#rows - 1);
    return paintRows(rows, 1) + eraseFrom(rows.length + 1) + moveTo(rows.length + 1) +
      this.draw();
  }
}

const utf8 = new TextEncoder();

/** The bytes a line takes on the wire, without its line end. */
function utf8Length(line: string): number {
  return utf8.encode(line).length;
}
