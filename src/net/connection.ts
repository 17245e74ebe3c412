/**
 * One client connection, whatever protocol it speaks: the read loop with line
 * framing, flood control and telnet filtering, the outbox that is the only
 * writer to the socket, the idle clock, and the polite close. It knows no
 * protocol: each framed line goes to a {@linkcode LineHandler} (a front end's
 * session), which may take its time over a command (the next line waits).
 *
 * How a connection ends:
 *
 * ```
 * reading ──peer closes (EOF)────────────► "closed"  ─┐
 *    │  ──read fails (RST, …)────────────► "reset"…  ─┤
 *    │  ──end(reason, { notice? })───────► reason    ─┼─► run() returns ─► close():
 *    │     (idle, shutdown, quit, a full               │   queued output gets `closeGrace` ms,
 *    │      send queue, a failed write)                │   then FIN (all sent) or close
 * ```
 *
 * `end` without a notice closes the socket at once (the pending read stops);
 * with one, the notice is queued and the connection closes after the grace.
 *
 * Input has budgets in bytes as well as in lines (issue 18, item 7): flood
 * control counts lines, and a client that sends no line end (`ncat HOST
 * PORT </dev/zero`) was read at up to 1.1 GB/s and its bytes thrown away
 * until the server had no time left for anyone. So:
 *
 * - a client with more than {@linkcode unterminatedLimit} bytes since its
 *   last line end (64 KiB with the default `--max-line`) is disconnected
 *   ("input flood", told in its protocol). No person or chat program sends
 *   that: a longer line is already refused by `--max-line` with the
 *   connection kept, up to this bound;
 * - with flood control on, each read spends its bytes from a second bucket
 *   of `rate × maxLine` bytes a second with a burst of `burst × maxLine`
 *   (40 KiB/s and 80 KiB with the defaults): what the line budget allows at
 *   full length, so no client that keeps to its lines waits for it, and a
 *   client sending long lines that are then refused pays for their bytes in
 *   time: reading it pauses (TCP pushes back) instead of burning CPU.
 *
 * @module
 */

import { valueWithin } from "../async.ts";
import type { QuitReason } from "../core/events.ts";
import { connectionFailure, errorText } from "../errors.ts";
import { closeQuietly } from "./io.ts";
import { LineReader } from "./line_reader.ts";
import { Outbox, type OutboxOptions, STALL_LIMIT_MS, type WriteScheduler } from "./outbox.ts";
import { type Peer, peerOf } from "./peer.ts";
import type { EndOptions, Framer, LineHandler, RunOptions, Transport } from "./transport.ts";
import { TokenBucket } from "./rate_limit.ts";
import { TelnetFilter } from "./telnet.ts";

/** What every connection of a server adds to (for `--metrics`): one object, shared. */
export interface ReadCounts {
  /** Bytes read from clients. */
  bytesRead: number;
  /** Reads that brought bytes. */
  reads: number;
  /** Times reading a client paused until its flood-control budget refilled. */
  throttledReads: number;
}

/** The limits a connection enforces. */
export interface ConnectionLimits {
  /** Longest line in bytes. */
  maxLine: number;
  /** Lines per second (0 = no flood control). */
  rate: number;
  /** Lines that may come at once before `rate` applies. */
  burst: number;
  /** Most bytes waiting to be sent to this client before it is dropped. */
  sendQueue: number;
  /** How long to try to deliver final lines (bye, shutdown notice) before closing (ms). */
  closeGrace: number;
}

const MIN_READ = 256;
const LF = 0x0a;
/** The least {@linkcode unterminatedLimit}, whatever `--max-line` says. */
const UNTERMINATED_MIN = 64 * 1024;

/** Bytes a client may send without a line end before it is disconnected ("input flood"). */
export function unterminatedLimit(maxLine: number): number {
  return Math.max(4 * maxLine, UNTERMINATED_MIN);
}
const MAX_READ = 64 * 1024;
const EMPTY = new Uint8Array(0);
/**
 * A telnet line left open inside a character this long with nothing after it
 * is one telnet cut short (src/net/telnet.ts, "Lines telnet cut short").
 */
export const TELNET_STALL_MS = 250;

/** A client connection from accept to close. */
export class Connection implements OutboxOptions, Transport {
  readonly peer: Peer;
  /** `Date.now()` of the last bytes received, for idle timeouts. */
  lastActive = Date.now();

  /** For the outbox, which takes the connection as its options. */
  readonly sendQueueLimit: number;
  readonly #conn: Deno.Conn;
  readonly #limits: ConnectionLimits;
  readonly #outbox: Outbox;
  #reader: Framer;
  /** Whether input is lines (not a caller's framer): bytes without a line end are bounded. */
  #lineFraming = true;
  readonly #bucket: TokenBucket | null;
  /** Flood control in bytes: each read spends what it brought (null when flood control is off). */
  readonly #byteBucket: TokenBucket | null;
  /** Bytes since the last line end, and how many may come before it is an input flood. */
  #unterminated = 0;
  readonly #unterminatedLimit: number;
  /**
   * How this connection's protocol words a last word before it is closed
   * (`!!! …` or an IRC ERROR): set by the server once it knows the protocol.
   */
  farewell: ((text: string) => Uint8Array) | null = null;
  #telnet: TelnetFilter | null = null;
  /** Whether the read loop takes telnet commands out of the stream. */
  #telnetOn = false;
  /** While a read waits after a telnet line stopped inside a character: when it is stalled. */
  #telnetStall: ReturnType<typeof setTimeout> | undefined;
  #buffer: Uint8Array = new Uint8Array(MIN_READ);
  /** A read is under way (there is never more than one). */
  #reading = false;
  /** Whether {@linkcode run} has started: before, what reads bring is kept in `#peeked`. */
  #running = false;
  /** Bytes read before the read loop ran ({@linkcode peek}), handed to it first. */
  #peeked: Uint8Array = EMPTY;
  /** While a {@linkcode peek} waits: what ends it, and what says enough has arrived. */
  #peekDone: (() => void) | null = null;
  #peekEnough: ((bytes: Uint8Array) => boolean) | null = null;
  /** A read that failed before the read loop ran: the loop's first read meets it. */
  #failedBeforeRun: { error: unknown } | null = null;
  #peerClosed = false;
  #ending = false;
  #reason: QuitReason = "closed";
  #detail = "";
  #closing: Promise<void> | null = null;
  #connClosed = false;
  /** The session reading this connection, while `run` runs. */
  #handler: LineHandler | null = null;
  /** Set while the read loop waits for flood-control tokens: wakes it. */
  #wakeThrottled: (() => void) | null = null;
  readonly #counts: ReadCounts;

  constructor(
    conn: Deno.Conn,
    peer: Peer,
    options: { limits: ConnectionLimits; scheduler: WriteScheduler; counts?: ReadCounts },
  ) {
    this.#conn = conn;
    this.#counts = options.counts ?? { bytesRead: 0, reads: 0, throttledReads: 0 };
    this.peer = peer;
    this.#limits = options.limits;
    this.sendQueueLimit = options.limits.sendQueue;
    this.#reader = new LineReader(options.limits.maxLine);
    const { rate, burst, maxLine } = options.limits;
    this.#bucket = rate > 0 ? new TokenBucket(rate, burst) : null;
    this.#byteBucket = rate > 0 ? new TokenBucket(rate * maxLine, burst * maxLine) : null;
    this.#unterminatedLimit = unterminatedLimit(maxLine);
    this.#outbox = new Outbox(conn, this, options.scheduler);
  }

  /** The address the client connected to (this server's side). */
  get localAddr(): Peer {
    return peerOf(this.#conn.localAddr);
  }

  /** Why the connection ended (or is ending), and the detail for the log. */
  get reason(): QuitReason {
    return this.#reason;
  }

  get detail(): string {
    return this.#detail;
  }

  /** Bytes queued for the client and not yet written. */
  get pendingBytes(): number {
    return this.#outbox.pendingBytes;
  }

  /** True once the connection is ending: no more lines are carried out. */
  get ending(): boolean {
    return this.#ending;
  }

  /** Queues bytes for the client (never blocks). */
  send(bytes: Uint8Array): void {
    this.#outbox.send(bytes);
  }

  /** The outbox's report: this client fell too far behind. */
  onSendQueueOverflow(): void {
    this.end("send queue exceeded");
  }

  /** The outbox's report: a write to this client failed. */
  onWriteError(error: unknown): void {
    const [reason, detail] = endOfFailure(error);
    this.end(reason, { detail });
  }

  /** The outbox's report: its output started or stopped holding talkers back. */
  onPressure(holding: boolean): void {
    this.#handler?.holding(holding);
  }

  /**
   * Gives up on a client whose socket has taken no bytes for
   * {@linkcode STALL_LIMIT_MS} while output waits ("send queue stalled").
   * The server calls it about once a second.
   */
  checkStalled(): void {
    if (this.#outbox.stalledFor(performance.now()) >= STALL_LIMIT_MS) {
      this.end("send queue stalled");
    }
  }

  /**
   * Reads what the client sends first, until `timeUp` resolves or `enough`
   * says what has arrived decides the matter. Returns those bytes; the read
   * loop carries them out first, so nothing is lost. A read still under way
   * when the time is up goes on: the read loop takes what it brings.
   */
  peek(timeUp: Promise<void>, enough: (bytes: Uint8Array) => boolean): Promise<Uint8Array> {
    if (this.#peerClosed || enough(this.#peeked)) return Promise.resolve(this.#peeked);
    return new Promise((resolve) => {
      const done = () => {
        if (this.#peekDone !== done) return;
        this.#peekDone = null;
        this.#peekEnough = null;
        resolve(this.#peeked);
      };
      this.#peekDone = done;
      this.#peekEnough = enough;
      timeUp.then(done);
      this.#read();
    });
  }

  /**
   * Drops the first `count` bytes of what {@linkcode peek} read (a request
   * head answered before the read loop runs): the read loop starts after them.
   */
  consume(count: number): void {
    this.#peeked = this.#peeked.subarray(Math.min(count, this.#peeked.length));
  }

  /**
   * The read loop: reads, frames lines and hands them to `handler` until the
   * client leaves or the connection is ended. With `telnet`, telnet commands
   * are taken out of the stream (and answered) before framing; `maxLine`
   * replaces the limit's line length (a protocol with its own, like IRC's).
   * Never throws; when it is over it calls `handler.ended()`.
   *
   * Between reads nothing is suspended: an idle connection is one pending
   * read and its callback, not an async frame held open per client.
   */
  run(handler: LineHandler, options: RunOptions = {}): void {
    if (options.framer !== undefined) {
      this.#reader = options.framer;
      this.#lineFraming = false;
    } else if (options.maxLine !== undefined && options.maxLine !== this.#limits.maxLine) {
      this.#reader = new LineReader(options.maxLine);
    }
    this.#handler = handler;
    this.#telnetOn = this.#lineFraming && (options.telnet ?? false);
    this.#running = true;
    // A read left under way by peek brings the peeked bytes in with its own.
    if (!this.#reading) void this.#step(this.#takePeeked(EMPTY), 0);
  }

  #read(): void {
    if (this.#reading) return;
    const failed = this.#failedBeforeRun;
    if (failed !== null) {
      this.#failedBeforeRun = null;
      return this.#readFailed(failed.error);
    }
    this.#reading = true;
    if (this.#telnet?.midCharacter) {
      this.#telnetStall = setTimeout(this.#telnetStalled, TELNET_STALL_MS);
    }
    try {
      this.#conn.read(this.#buffer).then(this.#afterRead, this.#readFailed);
    } catch (error) {
      this.#readFailed(error);
    }
  }

  #afterRead = (count: number | null): void => {
    this.#reading = false;
    clearTimeout(this.#telnetStall);
    if (!this.#running) return this.#collect(count);
    // Ended from outside while reading: what arrived is not carried out.
    if (this.#ending) return this.#over();
    if (count === null) {
      this.#peerClosed = true;
      return void this.#step(this.#takePeeked(EMPTY), 0);
    }
    this.lastActive = Date.now();
    this.#counts.bytesRead += count;
    this.#counts.reads++;
    void this.#step(this.#takePeeked(this.#buffer.subarray(0, count)), count);
  };

  #readFailed = (error: unknown): void => {
    this.#reading = false;
    clearTimeout(this.#telnetStall);
    if (!this.#running) {
      // Before the read loop runs, a failed read ends a peek, and the loop meets the failure at
      // its first read: a reset is a reset, not a close that would carry out the unfinished line.
      this.#failedBeforeRun = { error };
      return this.#peekDone?.();
    }
    if (!this.#ending) [this.#reason, this.#detail] = endOfFailure(error);
    this.#over();
  };

  /** Before the read loop runs: what a read brought is kept for it, and a peek reads on or ends. */
  #collect(count: number | null): void {
    if (count === null) {
      this.#peerClosed = true;
    } else {
      this.#peeked = joined(this.#peeked, this.#buffer.subarray(0, count));
      this.#counts.bytesRead += count;
      this.#counts.reads++;
      this.lastActive = Date.now();
    }
    const done = this.#peekDone;
    if (done === null) return;
    if (this.#peerClosed || this.#peekDecided()) done();
    else this.#read();
  }

  /** Whether what was peeked decides the peek; a failing `enough` (a bug) ends it too. */
  #peekDecided(): boolean {
    try {
      return this.#peekEnough!(this.#peeked);
    } catch {
      return true;
    }
  }

  /** The peeked bytes (once) followed by `fresh`, or null when there are none. */
  #takePeeked(fresh: Uint8Array): Uint8Array | null {
    const peeked = this.#peeked;
    if (peeked.length === 0) return fresh.length > 0 ? fresh : null;
    this.#peeked = EMPTY;
    return fresh.length > 0 ? joined(peeked, fresh) : peeked;
  }

  /**
   * Carries out what a read brought (`count` bytes just read, or bytes that
   * were peeked; null for none); then, once the rooms this client talks in
   * are not behind (overload: it is read more slowly), reads again, or is over.
   */
  async #step(bytes: Uint8Array | null, count: number): Promise<void> {
    const handler = this.#handler!;
    try {
      if (bytes !== null && !(await this.#lines(handler, bytes, count))) return this.#over();
      for (let gate = handler.readGate(); gate !== null; gate = handler.readGate()) {
        if (this.#ending) return this.#over();
        handler.endOfRead();
        await this.#pause(gate);
      }
      if (this.#ending) return this.#over();
      if (this.#peerClosed) {
        await this.#finish(handler);
        return this.#over();
      }
      if (!(await this.#payForBytes(handler, count))) return this.#over();
    } catch (error) {
      if (!this.#ending) [this.#reason, this.#detail] = endOfFailure(error);
      return this.#over();
    }
    this.#read();
  }

  /** Hands the lines in `bytes` to the handler; false when the connection ended meanwhile. */
  async #lines(handler: LineHandler, bytes: Uint8Array, count: number): Promise<boolean> {
    if (this.#lineFraming) {
      const lastLf = bytes.lastIndexOf(LF);
      this.#unterminated = lastLf === -1
        ? this.#unterminated + bytes.length
        : bytes.length - lastLf - 1;
    }
    if (this.#telnetOn) bytes = this.#filterTelnet(bytes);
    const reader = this.#reader;
    reader.push(bytes);
    for (let line = reader.next(); line !== null; line = reader.next()) {
      if (!this.#takeToken() && !(await this.#waitForToken(handler))) return false;
      if (this.#ending) return false;
      const pending = handler.line(line);
      if (pending !== undefined) {
        await pending;
        if (this.#ending) return false;
      }
    }
    handler.endOfRead();
    if (this.#unterminated > this.#unterminatedLimit) {
      const detail = `over ${this.#unterminatedLimit} bytes without a line end`;
      this.end("input flood", {
        detail,
        notice: this.farewell?.(`input flood: ${detail}`) ?? undefined,
      });
      return false;
    }
    if (count > 0) this.#buffer = resized(this.#buffer, count);
    return true;
  }

  /**
   * Flood control in bytes: the `count` bytes just read are spent, and while
   * the bucket is in debt the client is not read (TCP pushes back). False
   * when the connection ended meanwhile.
   */
  async #payForBytes(handler: LineHandler, count: number): Promise<boolean> {
    const bucket = this.#byteBucket;
    if (bucket === null || count === 0) return true;
    bucket.spend(count);
    let wait = bucket.debtWait();
    if (wait === 0) return true;
    this.#counts.throttledReads++;
    handler.endOfRead();
    for (; wait > 0 && !this.#ending; wait = bucket.debtWait()) await this.#sleep(wait);
    return !this.#ending;
  }

  /** Waits `ms`, or until the connection is ended (a low budget must not delay shutdown or idle). */
  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(wake, ms);
      this.#wakeThrottled = wake;
      function wake() {
        clearTimeout(timer);
        resolve();
      }
    });
    this.#wakeThrottled = null;
  }

  /** The read loop is over, whatever ended it: lines already read still go out. */
  #over(): void {
    const handler = this.#handler;
    if (handler === null) return;
    this.#ending = true;
    this.#handler = null;
    handler.endOfRead();
    handler.holding(false);
    handler.ended();
  }

  /**
   * Ends the connection from outside (idle, shutdown, quit, a failed send).
   * With a `notice`, it is queued and the connection closes once queued output
   * is out or the close grace has passed; without one it closes at once.
   * Either way the read loop stops. Only the first call counts.
   */
  end(reason: QuitReason, options: EndOptions = {}): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#reason = reason;
    this.#detail = options.detail ?? "";
    this.#wakeThrottled?.();
    if (options.notice === undefined) return this.#closeConn();
    this.#outbox.send(options.notice);
    void this.close();
  }

  /**
   * Gives queued output up to the close grace to leave, then closes the
   * socket (with a FIN when everything went out). Resolves when closed;
   * every call returns the same promise.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#flushAndClose();
  }

  /** The client closed its side: an unfinished last line still counts. */
  async #finish(handler: LineHandler): Promise<void> {
    const last = this.#reader.finish();
    if (last !== null && (this.#takeToken() || await this.#waitForToken(handler))) {
      await handler.line(last);
    }
  }

  #filterTelnet(bytes: Uint8Array): Uint8Array {
    // From the first byte: a first line telnet cuts short comes before any telnet command.
    const telnet = this.#telnet ??= new TelnetFilter();
    const data = telnet.filter(bytes);
    // A command ended the line begun in earlier reads: what the reader holds of it goes.
    if (telnet.takeLineCancelled()) this.#reader.finish();
    if (telnet.takeLineLost()) this.#handler?.telnetLineCut?.(telnet.binaryInput);
    const replies = telnet.takeReplies();
    if (replies !== null) this.#outbox.send(replies);
    return data;
  }

  /**
   * A telnet line stopped inside a character and nothing has come since
   * (TELNET_STALL_MS): telnet cut it short at its escape byte. Only while a
   * read waits, so the reader holds nothing but that unfinished line.
   */
  #telnetStalled = (): void => {
    const telnet = this.#telnet;
    if (telnet === null || !this.#reading || this.#ending) return;
    if (telnet.stalled() === "dropped") {
      this.#reader.finish();
      this.#handler?.telnetLineCut?.(telnet.binaryInput);
    }
    const replies = telnet.takeReplies();
    if (replies !== null) this.#outbox.send(replies);
  };

  /** Waits for `gate`, or for the connection to be ended. */
  async #pause(gate: Promise<void>): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wakeThrottled = resolve;
      gate.then(resolve);
    });
    this.#wakeThrottled = null;
  }

  /** Flood control: true when this line may go now (or there is no flood control). */
  #takeToken(): boolean {
    return this.#bucket === null || this.#bucket.take();
  }

  /**
   * Out of tokens: stops reading this client (TCP pushes back on the sender)
   * until a token is back, then takes it. False when the connection ended meanwhile.
   */
  async #waitForToken(handler: LineHandler): Promise<boolean> {
    const bucket = this.#bucket!;
    this.#counts.throttledReads++;
    handler.endOfRead();
    for (let wait = bucket.wait(); wait > 0 && !this.#ending; wait = bucket.wait()) {
      await this.#sleep(wait);
    }
    return !this.#ending && bucket.take();
  }

  async #flushAndClose(): Promise<void> {
    this.#outbox.close();
    const flushed = await valueWithin(
      this.#outbox.idle().then(() => true),
      this.#limits.closeGrace,
      false,
    );
    // A polite FIN only when everything went out: closeWrite waits for a pending write, and
    // a write to a peer that stopped reading never finishes. close() ends that write too.
    if (flushed && !this.#connClosed) await this.#conn.closeWrite().catch(() => {});
    this.#closeConn();
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    clearTimeout(this.#telnetStall);
    closeQuietly(this.#conn);
  }
}

/** How a failed read or write ends a connection, with its detail for the log. */
export function endOfFailure(error: unknown): [QuitReason, string] {
  switch (connectionFailure(error)) {
    case "reset":
      return ["reset", ""];
    case "timed out":
      return ["reset", "timed out"];
    case "closed":
      return ["closed", ""];
    case "error":
      return ["error", errorText(error)];
  }
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

/** `first` and then `second`, in a new array. */
function joined(first: Uint8Array, second: Uint8Array): Uint8Array {
  const both = new Uint8Array(first.length + second.length);
  both.set(first);
  both.set(second, first.length);
  return both;
}
