/**
 * The terminal client's screen as a state machine: keys and received lines
 * go in; output to write, lines to send and the wish to leave come out. It
 * owns the line editor, the input line's sideways scroll and what the client
 * knows of itself (its nick and room, from the server's notices). Pure: no
 * terminal, no socket, so every behaviour is tested from its output.
 *
 * @module
 */

import { parseServerLine } from "../protocol/line.ts";
import { LOBBY } from "../protocol/names.ts";
import { isSecret, masked } from "./secret.ts";
import { hasContent } from "../text.ts";
import { nickColor } from "../colors.ts";
import type { Key } from "./keys.ts";
import { LineEditor } from "./line_editor.ts";
import { clearInput, formatChatLine, printAbove, renderInput } from "./screen.ts";

/** How the view starts. */
export interface ChatViewOptions {
  /** Terminal width. */
  columns: number;
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

  /** A view with an empty input line; nothing is drawn until {@linkcode draw}. */
  constructor(options: ChatViewOptions) {
    this.#columns = options.columns;
    this.#color = options.color;
    this.#clock = options.clock ?? (() => new Date());
    this.#wantedNick = options.name ?? null;
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

  /** The terminal changed width: output that draws the input line for the new width. */
  resize(columns: number): string {
    this.#columns = columns;
    return this.draw();
  }

  /** Output that erases the input line, for leaving the terminal to whatever comes next. */
  clear(): string {
    return clearInput();
  }

  /** Lines from the server (already cleaned): shown above the input line with the time. */
  received(lines: readonly string[]): string {
    for (const line of lines) this.#learn(line);
    return this.#show(lines);
  }

  /** A line from the client itself (`-- connected to …`), shown like a received one. */
  status(text: string): string {
    return this.#show([`-- ${text}`]);
  }

  /** An error from the client itself (`!!! …`). */
  error(text: string): string {
    return this.#show([`!!! ${text}`]);
  }

  /** Applies one key: editing redraws the input line; Enter sends (and shows own messages). */
  key(key: Key): KeyOutcome {
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
      send.push(line);
      const echo = this.#echo(line);
      if (echo !== null) shown.push(echo);
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

  /** Follows the server's notices about who and where we are. */
  #learn(line: string): void {
    if (!line.startsWith("*** ")) return;
    const parsed = parseServerLine(line);
    if (parsed.kind !== "notice" || parsed.meaning === null) return;
    const meaning = parsed.meaning;
    switch (meaning.about) {
      case "welcome":
        this.#nick = meaning.nick;
        this.#room = LOBBY;
        return;
      case "moved":
        this.#room = meaning.room;
        return;
      case "renamed":
        this.#nick = this.#wantedNick = meaning.nick;
        return;
    }
  }

  #show(lines: readonly string[]): string {
    const time = this.#clock();
    const options = { color: this.#color, ownNick: this.#nick };
    return printAbove(lines.map((line) => formatChatLine(line, time, options)), this.draw());
  }
}
