/**
 * The server console: one line per event, as text (timestamped, coloured on a
 * terminal) or as JSON lines, written through a buffer so that logging every
 * message never limits throughput.
 *
 * Everything that reaches a log line from a client (nicks, room names, message
 * text, quit reasons) has already been cleaned, so no client can forge a line.
 *
 * @module
 */

import { type Palette, palette } from "./colors.ts";
import { type ByteWriter, writeAll } from "./outbox.ts";

/** Where a connection comes from. */
export interface Peer {
  readonly hostname: string;
  readonly port: number;
}

/**
 * The peer of a connection. An IPv4 client of a dual-stack (`::`) listener
 * appears as `::ffff:a.b.c.d`; it is shown and counted as plain `a.b.c.d`.
 */
export function peerOf(address: Deno.Addr): Peer {
  const { hostname, port } = address as Deno.NetAddr;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return { hostname: mapped ? mapped[1] : hostname, port };
}

/** `IP:PORT`, or `[IPv6]:PORT`. */
export function formatPeer(peer: Peer): string {
  return peer.hostname.includes(":")
    ? `[${peer.hostname}]:${peer.port}`
    : `${peer.hostname}:${peer.port}`;
}

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
  /** Include message text; off keeps conversations out of the log. */
  messageText?: boolean;
}

/** Why a connection ended, as logged and as the room is told. */
export type DisconnectReason =
  | "quit"
  | "closed"
  | "reset"
  | "idle"
  | "send queue exceeded"
  | "shutdown"
  | "error";

/** Facts about a finished session, for its disconnect line. */
export interface SessionSummary {
  nick: string;
  reason: DisconnectReason;
  detail?: string;
  seconds: number;
  messages: number;
  online: number;
}

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

  /** The server is accepting connections at `address`. */
  listening(address: Peer, tls: boolean): void {
    if (this.#json) {
      return this.#record({ event: "listening", addr: address.hostname, port: address.port, tls });
    }
    this.#line(
      "listening",
      this.#c.green,
      `${this.#c.bold(formatPeer(address))}${tls ? "  (tls)" : ""}`,
    );
  }

  connect(peer: Peer, nick: string, online: number): void {
    if (this.#json) {
      return this.#record({ event: "connect", addr: peer.hostname, port: peer.port, nick, online });
    }
    this.#line("connect", this.#c.green, `${this.#peer(peer)}  ${nick}  online=${online}`);
  }

  /** A room message (`action` for `/me`). */
  message(peer: Peer, nick: string, room: string, text: string, action = false): void {
    const event = action ? "action" : "message";
    if (this.#json) {
      const record: Record<string, unknown> = {
        event,
        addr: peer.hostname,
        port: peer.port,
        nick,
        room,
      };
      if (this.#text) record.text = text;
      return this.#record(record);
    }
    this.#line(
      event,
      identity,
      `${this.#peer(peer)}  ${nick}  #${room}${this.#text ? "  " + text : ""}`,
    );
  }

  /** A private message from `nick` to `to`. */
  private(peer: Peer, nick: string, to: string, text: string): void {
    if (this.#json) {
      const record: Record<string, unknown> = {
        event: "private",
        addr: peer.hostname,
        port: peer.port,
        nick,
        to,
      };
      if (this.#text) record.text = text;
      return this.#record(record);
    }
    this.#line(
      "private",
      identity,
      `${this.#peer(peer)}  ${nick}  -> ${to}${this.#text ? "  " + text : ""}`,
    );
  }

  nick(peer: Peer, from: string, to: string): void {
    if (this.#json) {
      return this.#record({ event: "nick", addr: peer.hostname, port: peer.port, nick: to, from });
    }
    this.#line("nick", this.#c.blue, `${this.#peer(peer)}  ${from} -> ${to}`);
  }

  /** A member moved from one room to another. */
  join(peer: Peer, nick: string, from: string, to: string): void {
    if (this.#json) {
      return this.#record({
        event: "join",
        addr: peer.hostname,
        port: peer.port,
        nick,
        from,
        room: to,
      });
    }
    this.#line("join", this.#c.blue, `${this.#peer(peer)}  ${nick}  #${from} -> #${to}`);
  }

  /** A connection turned away before it joined (server full, per-address limit). */
  refused(peer: Peer, reason: string, online: number): void {
    if (this.#json) {
      return this.#record({
        event: "refused",
        addr: peer.hostname,
        port: peer.port,
        reason,
        online,
      });
    }
    this.#line("refused", this.#c.red, `${this.#peer(peer)}  reason="${reason}"  online=${online}`);
  }

  disconnect(peer: Peer, summary: SessionSummary): void {
    const { nick, reason, detail, seconds, messages, online } = summary;
    if (this.#json) {
      const record: Record<string, unknown> = {
        event: "disconnect",
        addr: peer.hostname,
        port: peer.port,
        nick,
        reason,
      };
      if (detail) record.detail = detail;
      Object.assign(record, { seconds: round(seconds), messages, online });
      return this.#record(record);
    }
    const why = detail ? `${reason}: ${detail}` : reason;
    this.#line(
      "disconnect",
      this.#c.yellow,
      `${this.#peer(peer)}  ${nick}  reason="${why}"  session=${
        round(seconds)
      }s  messages=${messages}  online=${online}`,
    );
  }

  /** Something went wrong that is not one client's business (accept failures, …). */
  error(message: string): void {
    if (this.#json) return this.#record({ event: "error", message });
    this.#line("error", this.#c.red, message);
  }

  /** Shutdown has begun. */
  shutdown(reason: string, online: number): void {
    if (this.#json) return this.#record({ event: "shutdown", reason, online });
    this.#line("shutdown", this.#c.yellow, `reason=${reason}  online=${online}`);
  }

  /** The server has closed every connection and stopped. */
  stopped(): void {
    if (this.#json) return this.#record({ event: "stopped" });
    this.#line("stopped", this.#c.yellow, "");
  }

  #peer(peer: Peer): string {
    return this.#c.cyan(formatPeer(peer));
  }

  #line(event: string, style: (text: string) => string, detail: string): void {
    const stamp = this.#c.dim(this.#timestamp(false));
    const tail = detail ? `  ${detail}` : "";
    this.sink.write(`${stamp}  ${style(detail ? event.padEnd(10) : event)}${tail}\n`);
  }

  #record(record: Record<string, unknown>): void {
    this.sink.write(JSON.stringify({ ts: this.#timestamp(true), ...record }) + "\n");
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
