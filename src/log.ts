/**
 * The server console: one line per {@linkcode LogEvent}, written by one of two
 * formatters, text (timestamped, coloured on a terminal) or JSON lines, through
 * a buffer so that logging every message never limits throughput.
 *
 * Everything that reaches a log line from a client (nicks, room names, message
 * text, quit reasons) has already been cleaned, so no client can forge a line.
 *
 * @module
 */

import { type Palette, palette, type Style } from "./colors.ts";
import type { QuitReason } from "./core/events.ts";
import { type ByteWriter, writeAll } from "./net/io.ts";
import { formatPeer, type Peer } from "./net/peer.ts";

/** Where log lines go. */
export interface LogSink {
  write(line: string): void;
  /** Resolves once everything written so far has been handed on. */
  flush(): Promise<void>;
}

/** How the server console looks. */
export interface LoggerOptions {
  format?: "text" | "json";
  /** Colour text output (only sensible on a terminal). */
  color?: boolean;
  /** Include what users wrote (messages, quit reasons); off keeps conversations out of the log. */
  messageText?: boolean;
}

/** Why a connection ended, as logged. */
export type DisconnectReason = QuitReason;

/** Something the console reports. */
export type LogEvent =
  /** The server accepts connections at `address` (for IRC clients: `protocol`). */
  | { event: "listening"; address: Peer; tls: boolean; protocol?: string }
  | {
    event: "connect";
    peer: Peer;
    nick: string;
    online: number;
    protocol?: "irc" | "web";
    /** The account it proved, when it came in as one (a device of that account: issue 23). */
    account?: string;
    /** The account's devices on this server now, this one included (when more than one). */
    devices?: number;
  }
  /** A room message (`action` for `/me`). */
  | { event: "message"; peer: Peer; nick: string; room: string; text: string; action?: boolean }
  | { event: "private"; peer: Peer; nick: string; to: string; text: string }
  | { event: "nick"; peer: Peer; from: string; to: string }
  /** A member went to a room (from another, for a line client). */
  | { event: "join"; peer: Peer; nick: string; from?: string; room: string }
  /** A member left a room and stays in the chat (IRC's PART; `text`, its reason, is user text). */
  | { event: "part"; peer: Peer; nick: string; room: string; text?: string }
  /** A member set a room's topic (user text: left out with `messageText` off). */
  | { event: "topic"; peer: Peer; nick: string; room: string; text: string }
  /**
   * An HTTP request on the chat port (the page, its files, a refused upgrade):
   * `target` as sent (visible ASCII, cut to 200 characters), the status answered.
   */
  | { event: "http"; peer: Peer; method: string; target: string; status: number }
  /** A connection turned away before it joined (server full, per-address limit, …). */
  | { event: "refused"; peer: Peer; reason: string; online: number }
  /**
   * Something a client asked for was refused: an unknown command (by name only), a
   * line too long, a nick taken. `why` is written by the front end and holds no user text
   * beyond names.
   */
  | { event: "rejected"; peer: Peer; nick: string; why: string }
  | {
    event: "disconnect";
    peer: Peer;
    nick: string;
    reason: DisconnectReason;
    /**
     * What the user gave with `/quit` (user text: left out with `messageText` off),
     * or what went wrong.
     */
    detail?: string;
    seconds: number;
    messages: number;
    online: number;
    protocol?: "irc" | "web";
    /** The account the device belonged to, if any. */
    account?: string;
    /** The account's devices left on this server (when it was one of several). */
    devices?: number;
  }
  /**
   * An account matter (registered, identified, a wrong password, …), never
   * with a password; `nick` is the nick concerned.
   */
  | { event: "account"; peer: Peer; nick: string; what: string }
  /** An operator did something (`by`: the operator's nick, or `console`). */
  | { event: "operator"; by: string; what: string }
  /** The link to the other servers (`--cluster`): joined, lost, restored, a server gone. */
  | { event: "cluster"; what: string }
  /** Something went wrong that is not one client's business (accept failures, …). */
  | { event: "error"; message: string }
  | { event: "shutdown"; reason: string; online: number }
  /** The server has closed every connection and stopped. */
  | { event: "stopped" };

/** Writes server events to a sink as text or JSON lines. */
export class Logger {
  readonly sink: LogSink;
  readonly #json: boolean;
  readonly #text: boolean;
  readonly #c: Palette;
  #stampMs = -1;
  #stamp = "";

  constructor(sink: LogSink, options: LoggerOptions = {}) {
    this.sink = sink;
    this.#json = options.format === "json";
    this.#text = options.messageText ?? true;
    this.#c = palette(!this.#json && (options.color ?? false));
  }

  /** Writes one event. */
  event(event: LogEvent): void {
    if (this.#json) this.#writeJson(event);
    else this.#writeText(event);
  }

  #writeText(event: LogEvent): void {
    const c = this.#c;
    // Padded to the longest IPv4 peer, so that the nick column lines up.
    const peer = (p: Peer) => c.cyan(formatPeer(p).padEnd(PEER_WIDTH));
    const said = (text: string) => this.#text ? "  " + text : "";
    switch (event.event) {
      case "listening":
        return this.#line(
          "listening",
          c.green,
          `${c.bold(formatPeer(event.address))}${event.tls ? "  (tls)" : ""}${
            event.protocol ? `  (${event.protocol})` : ""
          }`,
        );
      case "connect":
        return this.#line(
          "connect",
          c.green,
          `${peer(event.peer)}  ${event.nick}  online=${event.online}${marked(event.protocol)}${
            ofAccount(event)
          }`,
        );
      case "message":
        return this.#line(
          event.action ? "action" : "message",
          identity,
          `${peer(event.peer)}  ${event.nick}  #${event.room}${said(event.text)}`,
        );
      case "private":
        return this.#line(
          "private",
          identity,
          `${peer(event.peer)}  ${event.nick}  -> ${event.to}${said(event.text)}`,
        );
      case "nick":
        return this.#line("nick", c.blue, `${peer(event.peer)}  ${event.from} -> ${event.to}`);
      case "join":
        return this.#line(
          "join",
          c.blue,
          `${peer(event.peer)}  ${event.nick}  ${
            event.from === undefined ? "" : `#${event.from} -> `
          }#${event.room}`,
        );
      case "part":
        return this.#line(
          "part",
          c.blue,
          `${peer(event.peer)}  ${event.nick}  #${event.room}${event.text ? said(event.text) : ""}`,
        );
      case "topic":
        return this.#line(
          "topic",
          c.blue,
          `${peer(event.peer)}  ${event.nick}  #${event.room}${said(event.text)}`,
        );
      case "refused":
        return this.#line(
          "refused",
          c.red,
          `${peer(event.peer)}  reason=${quoted(event.reason)}  online=${event.online}`,
        );
      case "http":
        return this.#line(
          "http",
          event.status < 400 ? identity : c.red,
          `${peer(event.peer)}  ${event.method} ${event.target}  ${event.status}`,
        );
      case "rejected":
        return this.#line("rejected", c.red, `${peer(event.peer)}  ${event.nick}  ${event.why}`);
      case "disconnect": {
        const detail = this.#detail(event);
        const why = detail ? `${event.reason}: ${detail}` : event.reason;
        return this.#line(
          "disconnect",
          c.yellow,
          `${peer(event.peer)}  ${event.nick}  reason=${quoted(why)}  session=${
            round(event.seconds)
          }s  messages=${event.messages}  online=${event.online}${marked(event.protocol)}${
            ofAccount(event)
          }`,
        );
      }
      case "account":
        return this.#line("account", c.blue, `${peer(event.peer)}  ${event.nick}  ${event.what}`);
      case "operator":
        return this.#line("operator", c.magenta, `${event.by}  ${event.what}`);
      case "cluster":
        return this.#line("cluster", c.magenta, event.what);
      case "error":
        return this.#line("error", c.red, event.message);
      case "shutdown":
        return this.#line("shutdown", c.yellow, `reason=${event.reason}  online=${event.online}`);
      case "stopped":
        return this.#line("stopped", c.yellow, "");
    }
  }

  /** A disconnect's detail, unless it is what the user wrote and text is kept out. */
  #detail(event: Extract<LogEvent, { event: "disconnect" }>): string {
    return event.reason === "quit" && !this.#text ? "" : event.detail ?? "";
  }

  #writeJson(event: LogEvent): void {
    const record: Record<string, unknown> = { ts: this.#timestamp(true) };
    for (const [field, value] of Object.entries(event)) {
      if (value === undefined) continue;
      if (field === "detail" && event.event === "disconnect" && !this.#detail(event)) continue;
      if (field === "peer" || field === "address") {
        record.addr = (value as Peer).hostname;
        record.port = (value as Peer).port;
      } else if (field === "text" && !this.#text) {
        continue;
      } else if (field === "seconds") {
        record.seconds = round(value as number);
      } else if (field === "action") {
        if (value) record.event = "action";
      } else {
        record[field] = value;
      }
    }
    this.sink.write(JSON.stringify(record) + "\n");
  }

  #line(event: string, style: Style, detail: string): void {
    const stamp = this.#c.dim(this.#timestamp(false));
    const tail = detail ? `  ${detail}` : "";
    this.sink.write(`${stamp}  ${style(detail ? event.padEnd(10) : event)}${tail}\n`);
  }

  /** Formatting a date costs more than the rest of a log line: reuse it within a millisecond. */
  #timestamp(iso: boolean): string {
    const now = Date.now();
    if (now !== this.#stampMs) {
      this.#stampMs = now;
      this.#stamp = iso ? new Date(now).toISOString() : localStamp(new Date(now));
    }
    return this.#stamp;
  }
}

/**
 * A value in double quotes, its quotes and backslashes escaped: what a user
 * wrote (a quit reason) cannot end the value and forge the fields after it.
 */
function quoted(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** The longest IPv4 peer, `255.255.255.255:65535`. */
const PEER_WIDTH = 21;

/** `  irc` after a line about an IRC client; nothing for line clients. */
/** `  account=alice devices=2`: whose device a connection is (issue 23), when it is one. */
function ofAccount(event: { account?: string; devices?: number }): string {
  if (event.account === undefined) return "";
  return `  account=${event.account}${
    event.devices === undefined ? "" : `  devices=${event.devices}`
  }`;
}

function marked(protocol: string | undefined): string {
  return protocol ? `  ${protocol}` : "";
}

function identity(text: string): string {
  return text;
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

function localStamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.` +
    String(date.getMilliseconds()).padStart(3, "0");
}

/**
 * A sink that gathers lines and hands them to a writer in large writes.
 * If the writer stops taking them (a paused terminal, a full pipe), at most
 * `limit` characters wait; beyond that lines are counted and dropped, and the
 * count is written once the writer catches up.
 */
export class BufferedSink implements LogSink {
  #writer: ByteWriter;
  #limit: number;
  #parts: string[] = [];
  #chars = 0;
  #dropped = 0;
  #flushing: Promise<void> | null = null;
  #encoder = new TextEncoder();

  constructor(writer: ByteWriter, limit = 16 * 1024 * 1024) {
    this.#writer = writer;
    this.#limit = limit;
  }

  write(line: string): void {
    if (this.#chars + line.length > this.#limit) {
      this.#dropped++;
      return;
    }
    this.#parts.push(line);
    this.#chars += line.length;
    this.#flushing ??= this.#drain();
  }

  flush(): Promise<void> {
    return this.#flushing ?? Promise.resolve();
  }

  async #drain(): Promise<void> {
    try {
      await Promise.resolve(); // gather the lines written by the rest of this turn
      while (this.#parts.length > 0 || this.#dropped > 0) {
        if (this.#dropped > 0) {
          this.#parts.push(`(log: ${this.#dropped} lines dropped: output was not keeping up)\n`);
          this.#dropped = 0;
        }
        const text = this.#parts.join("");
        this.#parts = [];
        this.#chars = 0;
        await writeAll(this.#writer, this.#encoder.encode(text));
      }
    } catch {
      // The console is gone (closed pipe): nothing left to tell it.
      this.#parts = [];
      this.#chars = 0;
    } finally {
      this.#flushing = null;
    }
  }
}

/** A sink that keeps lines in memory, for tests. */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line.endsWith("\n") ? line.slice(0, -1) : line);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
