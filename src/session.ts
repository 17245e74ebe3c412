/**
 * One client's session: reads its lines, carries out what they ask through the
 * hub, and answers through its own outbox. The session owns its connection;
 * it is the only code that reads from it and (through the outbox) writes to it.
 *
 * Room messages of one read are formatted once, joined, encoded once and
 * shared by every receiver's outbox: the per-receiver cost of a message is one
 * array push. Commands first send what is batched, so order is kept.
 *
 * @module
 */

import { encodeLine, type Hub, type Member, type Room } from "./hub.ts";
import { LINE_TOO_LONG, LineReader } from "./line_reader.ts";
import type { DisconnectReason, Logger, Peer } from "./log.ts";
import { Outbox, type OutboxOptions } from "./outbox.ts";
import {
  type Command,
  formatAction,
  formatError,
  formatMessage,
  formatNotice,
  formatPrivate,
  formatPrivateSent,
  HELP,
  parseCommand,
} from "./protocol.ts";
import { TokenBucket } from "./rate_limit.ts";
import { cleanText, hasContent } from "./text.ts";

/** The limits a session enforces. */
export interface SessionLimits {
  maxLine: number;
  /** Lines per second (0 = no flood control). */
  rate: number;
  burst: number;
  /** Most bytes waiting to be sent to this client before it is dropped. */
  sendQueue: number;
  /** How long to try to deliver final lines (bye, shutdown notice) before closing. */
  closeGrace: number;
}

/** What a session needs from the server around it. */
export interface SessionContext {
  hub: Hub<Session>;
  log: Logger;
  limits: SessionLimits;
}

const SLASH = 0x2f;
const MIN_READ = 256;
const MAX_READ = 64 * 1024;
/** Names listed by `/who` and rooms by `/rooms` before "and N more". */
const MAX_LISTED = 100;
const encoder = new TextEncoder();

/** A connected client. Created per connection; `run` drives it to its end. */
export class Session implements Member, OutboxOptions {
  nick = "";
  room!: Room;
  readonly peer: Peer;
  /** `Date.now()` of the last bytes received, for the idle timeout. */
  lastActive = Date.now();
  #messages = 0;
  readonly #startedAt = performance.now();
  readonly #conn: Deno.Conn;
  readonly #context: SessionContext;
  readonly #outbox: Outbox;
  readonly #reader: LineReader;
  readonly #bucket: TokenBucket | null;
  /** Room messages of the current read, not yet sent. */
  #batch = "";
  /** Set once the session is ending: no more lines are carried out. */
  #ending = false;
  #reason: DisconnectReason = "closed";
  #detail = "";
  #connClosed = false;
  /** Set while the session waits for flood-control tokens: wakes it. */
  #wakeThrottled: (() => void) | null = null;
  /** For the outbox, which takes the session as its options: see {@linkcode OutboxOptions}. */
  readonly sendQueueLimit: number;

  constructor(conn: Deno.Conn, peer: Peer, context: SessionContext) {
    this.peer = peer;
    this.#conn = conn;
    this.#context = context;
    const { limits } = context;
    this.#reader = new LineReader(limits.maxLine);
    this.#bucket = limits.rate > 0 ? new TokenBucket(limits.rate, limits.burst) : null;
    this.sendQueueLimit = limits.sendQueue;
    this.#outbox = new Outbox(conn, this);
  }

  /** The outbox's report: this client fell too far behind. */
  onSendQueueOverflow(): void {
    this.end("send queue exceeded");
  }

  /** The outbox's report: a write to this client failed. */
  onWriteError(error: unknown): void {
    this.end(...classify(error));
  }

  /** Queues bytes for this client (never blocks). */
  send(bytes: Uint8Array): void {
    this.#outbox.send(bytes);
  }

  /** Joins the chat, serves the client until it leaves, then cleans up. Never throws. */
  async run(): Promise<void> {
    const { hub, log } = this.#context;
    hub.add(this);
    this.#welcome();
    log.connect(this.peer, this.nick, hub.online);
    try {
      // The read loop: one read, its lines carried out, their room messages sent together.
      let buffer: Uint8Array = new Uint8Array(MIN_READ);
      while (!this.#ending) {
        const count = await this.#conn.read(buffer);
        if (this.#ending) return; // ended from outside while reading: what arrived is not carried out
        if (count === null) {
          // The client closed its side: an unfinished last line still counts.
          const last = this.#reader.finish();
          if (last !== null && (this.#takeToken() || await this.#waitForToken())) {
            this.#handleLine(last);
          }
          return;
        }
        this.lastActive = Date.now();
        this.#reader.push(buffer.subarray(0, count));
        for (let line = this.#reader.next(); line !== null; line = this.#reader.next()) {
          if (!this.#takeToken() && !(await this.#waitForToken())) return;
          if (this.#ending) return;
          this.#handleLine(line);
        }
        this.#flushBatch();
        buffer = resized(buffer, count);
      }
    } catch (error) {
      if (!this.#ending) [this.#reason, this.#detail] = classify(error);
    } finally {
      this.#ending = true;
      this.#flushBatch(); // lines already read still go out, whatever ended the session
      // At shutdown everyone leaves at once: telling each about all the others is wasted work.
      const why = this.#detail ? `${this.#reason}: ${this.#detail}` : this.#reason;
      hub.remove(this, this.#reason === "shutdown" ? null : why);
      const online = hub.online;
      await this.#flushAndClose(this.#context.limits.closeGrace);
      log.disconnect(this.peer, {
        nick: this.nick,
        reason: this.#reason,
        detail: this.#detail || undefined,
        seconds: (performance.now() - this.#startedAt) / 1000,
        messages: this.#messages,
        online,
      });
    }
  }

  /**
   * Ends the session from outside (idle, shutdown, a failed send). With a
   * `notice`, the client is told and its queued output gets the close grace
   * period to leave; without one the connection closes at once. Either way the
   * read loop stops and `run` finishes the clean-up.
   */
  end(reason: DisconnectReason, detail = "", notice?: string): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#reason = reason;
    this.#detail = detail;
    this.#wakeThrottled?.();
    if (notice === undefined) return this.#closeConn();
    this.#outbox.send(encodeLine(notice));
    void this.#flushAndClose(this.#context.limits.closeGrace);
  }

  #welcome(): void {
    const { hub } = this.#context;
    this.#notice(`welcome to parley, you are ${this.nick}`);
    this.#notice(
      `${hub.online} online, ${this.room.members.size} in #${this.room.name}; ` +
        `/nick NAME to change your name, /help for commands`,
    );
    this.#replayHistory();
  }

  /** Flood control: true when this line may go now (or there is no flood control). */
  #takeToken(): boolean {
    return this.#bucket === null || this.#bucket.take();
  }

  /**
   * Out of tokens: stops reading this client (TCP pushes back on the sender)
   * until a token is back, then takes it. False when the session ended meanwhile.
   */
  async #waitForToken(): Promise<boolean> {
    const bucket = this.#bucket!;
    this.#flushBatch();
    for (let wait = bucket.wait(); wait > 0 && !this.#ending; wait = bucket.wait()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, wait);
        // end() wakes the session at once: a low --rate must not delay shutdown or idle.
        this.#wakeThrottled = wake;
        function wake() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.#wakeThrottled = null;
    }
    return !this.#ending && bucket.take();
  }

  /** Carries out one framed line. */
  #handleLine(line: Uint8Array | typeof LINE_TOO_LONG): void {
    if (line === LINE_TOO_LONG) {
      this.#flushBatch();
      this.#error(`line too long (over ${this.#context.limits.maxLine} bytes); it was dropped`);
    } else {
      this.#handle(cleanText(line));
    }
  }

  #handle(text: string): void {
    if (text.charCodeAt(0) !== SLASH) return this.#say(text);
    this.#flushBatch();
    this.#command(parseCommand(text));
  }

  #say(text: string): void {
    if (!hasContent(text)) return;
    const line = formatMessage(this.nick, text);
    this.#batch += line + "\n";
    this.room.remember(line);
    this.#messages++;
    this.#context.log.message(this.peer, this.nick, this.room.name, text);
  }

  #flushBatch(): void {
    if (this.#batch === "") return;
    this.room.broadcast(encoder.encode(this.#batch), this);
    this.#batch = "";
  }

  #command(command: Command): void {
    const { hub, log } = this.#context;
    switch (command.kind) {
      case "say":
        this.#say(command.text);
        return this.#flushBatch();
      case "me": {
        const line = formatAction(this.nick, command.text);
        this.room.broadcast(encodeLine(line), this);
        this.room.remember(line);
        this.#messages++;
        return log.message(this.peer, this.nick, this.room.name, command.text, true);
      }
      case "msg": {
        const target = hub.find(command.nick);
        if (!target) return this.#error(`no such nick: ${command.nick}`);
        target.send(encodeLine(formatPrivate(this.nick, command.text)));
        this.#reply(formatPrivateSent(target.nick, command.text));
        this.#messages++;
        return log.private(this.peer, this.nick, target.nick, command.text);
      }
      case "nick": {
        const old = this.nick;
        const problem = hub.rename(this, command.nick);
        if (problem) return this.#error(problem);
        if (old === this.nick) return this.#notice(`you are already ${old}`);
        this.#notice(`you are now ${this.nick}`);
        return log.nick(this.peer, old, this.nick);
      }
      case "who":
        return this.#who();
      case "join": {
        const from = this.room.name;
        const problem = hub.moveTo(this, command.room);
        if (problem) return this.#error(problem);
        this.#notice(`you are now in #${this.room.name} (${this.room.members.size} here)`);
        this.#replayHistory();
        return log.join(this.peer, this.nick, from, this.room.name);
      }
      case "rooms":
        return this.#rooms();
      case "quit":
        this.#notice("bye");
        this.#ending = true;
        this.#reason = "quit";
        this.#detail = command.reason;
        return;
      case "help":
        for (const line of HELP) this.#notice(line);
        return;
      case "invalid":
        return this.#error(command.error);
    }
  }

  #who(): void {
    const names = [...this.room.members].map((member) => member.nick).sort();
    const shown = names.slice(0, MAX_LISTED).join(", ");
    const more = names.length > MAX_LISTED ? ` and ${names.length - MAX_LISTED} more` : "";
    const online = this.#context.hub.online;
    this.#notice(`in #${this.room.name}: ${shown}${more} (${names.length} here, ${online} online)`);
  }

  #rooms(): void {
    const rooms = this.#context.hub.rooms();
    const shown = rooms.slice(0, MAX_LISTED).map((room) => `#${room.name} (${room.members})`).join(
      ", ",
    );
    const more = rooms.length > MAX_LISTED ? ` and ${rooms.length - MAX_LISTED} more` : "";
    this.#notice(`rooms: ${shown}${more}`);
  }

  #replayHistory(): void {
    const history = this.room.history();
    if (history.length === 0) return;
    const count = history.length === 1 ? "message" : `${history.length} messages`;
    this.#notice(`last ${count} in #${this.room.name}:`);
    this.send(encoder.encode(history.join("\n") + "\n"));
    this.#notice(`end of history; new messages follow`);
  }

  #notice(text: string): void {
    this.#reply(formatNotice(text));
  }

  #error(text: string): void {
    this.#reply(formatError(text));
  }

  #reply(line: string): void {
    this.send(encodeLine(line));
  }

  /** Gives queued output up to `graceMs` to leave, then closes the connection. */
  async #flushAndClose(graceMs: number): Promise<void> {
    this.#outbox.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<boolean>((resolve) =>
      timer = setTimeout(() => resolve(false), graceMs)
    );
    const flushed = await Promise.race([this.#outbox.idle().then(() => true), grace]);
    clearTimeout(timer);
    // A polite FIN only when everything went out: closeWrite waits for a pending write, and
    // a write to a peer that stopped reading never finishes. close() ends that write too.
    if (flushed && !this.#connClosed) await this.#conn.closeWrite().catch(() => {});
    this.#closeConn();
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer's reset
    }
  }
}

/** Sorts a connection error into a disconnect reason and a detail. */
export function classify(error: unknown): [DisconnectReason, string] {
  if (
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted
  ) return ["reset", ""];
  if (error instanceof Deno.errors.TimedOut) return ["reset", "timed out"];
  if (error instanceof Deno.errors.Interrupted || error instanceof Deno.errors.BadResource) {
    return ["closed", ""];
  }
  // TLS peers (openssl s_client, ncat --ssl, …) often close without close_notify: an ordinary close.
  if (error instanceof Deno.errors.UnexpectedEof || /close_notify/.test(String(error))) {
    return ["closed", ""];
  }
  return ["error", error instanceof Error ? error.message : String(error)];
}

/** A read that filled the buffer asks for a bigger one; small reads give memory back. */
function resized(buffer: Uint8Array, lastRead: number): Uint8Array {
  if (lastRead === buffer.length && buffer.length < MAX_READ) {
    return new Uint8Array(buffer.length * 2);
  }
  if (lastRead < buffer.length / 8 && buffer.length > MIN_READ) {
    return new Uint8Array(buffer.length / 2);
  }
  return buffer;
}
