/**
 * Line framing: turns a byte stream into lines, whatever the read boundaries.
 *
 * A line ends at LF; a CR just before the LF is dropped. A line split across
 * reads comes out whole, many lines in one read come out one by one, and a
 * UTF-8 character split across reads survives because framing happens on bytes,
 * before any decoding. Memory is bounded by `maxLine`: a longer line is reported
 * once as {@linkcode LINE_TOO_LONG} and its bytes are dropped up to its LF.
 *
 * The reader is pull-based so that its owner can pause between lines (flood
 * control) without losing the rest of a read:
 *
 * ```ts
 * reader.push(bytes);
 * for (let line = reader.next(); line !== null; line = reader.next()) { … }
 * ```
 *
 * @module
 */

/** Returned by {@linkcode LineReader.next} once for each line longer than `maxLine`. */
export const LINE_TOO_LONG: unique symbol = Symbol("line too long");

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
/** A partial-line buffer larger than this is given back once its line is done. */
const KEEP_PENDING_BYTES = 1024;

/** Splits bytes into lines of at most `maxLine` bytes (line ending excluded). */
export class LineReader {
  /** The longest line accepted, in bytes, not counting CR LF. */
  readonly maxLine: number;
  /** Borrowed from the caller by `push` until `next` returns null. */
  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  /** The start of an unfinished line carried over from earlier chunks. */
  #pending: Uint8Array = EMPTY;
  #pendingLength = 0;
  /** Inside an over-long line: its remaining bytes are dropped up to its LF. */
  #discarding = false;

  constructor(maxLine: number) {
    if (!Number.isInteger(maxLine) || maxLine < 1) {
      throw new RangeError(`maxLine must be a positive integer, got ${maxLine}`);
    }
    this.maxLine = maxLine;
  }

  /** Bytes of an unfinished line held between reads (at most `maxLine + 1`). */
  get pendingBytes(): number {
    return this.#pendingLength;
  }

  /**
   * Hands the reader the next bytes of the stream. The reader may view `chunk`
   * until {@linkcode next} returns null, so the caller must not reuse it before.
   */
  push(chunk: Uint8Array): void {
    if (this.#offset < this.#chunk.length) {
      throw new Error("LineReader.push called before the previous chunk was drained");
    }
    this.#chunk = chunk;
    this.#offset = 0;
  }

  /**
   * The next complete line, {@linkcode LINE_TOO_LONG}, or null when the pushed
   * bytes hold no further complete line. A returned line is a view that stays
   * valid only until the next call.
   */
  next(): Uint8Array | typeof LINE_TOO_LONG | null {
    const chunk = this.#chunk;
    while (this.#offset < chunk.length) {
      const start = this.#offset;
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) {
        this.#chunk = EMPTY;
        this.#offset = 0;
        if (this.#discarding) return null;
        // Even with a CR still to come, more than maxLine + 1 bytes cannot be a valid line.
        if (this.#pendingLength + (chunk.length - start) > this.maxLine + 1) {
          this.#startDiscarding();
          return LINE_TOO_LONG;
        }
        this.#append(chunk.subarray(start));
        return null;
      }
      this.#offset = lf + 1;
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      return this.#finishLine(chunk, start, lf);
    }
    this.#chunk = EMPTY;
    this.#offset = 0;
    return null;
  }

  /**
   * At end of stream: the unfinished last line (one that never got its LF),
   * {@linkcode LINE_TOO_LONG} if that line was too long, or null when there is
   * none. Call it after {@linkcode next} returned null.
   */
  finish(): Uint8Array | typeof LINE_TOO_LONG | null {
    if (this.#discarding) {
      this.#discarding = false;
      return null; // already reported when it grew too long
    }
    if (this.#pendingLength === 0) return null;
    const line = this.#pending.subarray(0, this.#pendingLength);
    this.#releasePending();
    const end = line[line.length - 1] === CR ? line.length - 1 : line.length;
    return end > this.maxLine ? LINE_TOO_LONG : line.subarray(0, end);
  }

  #finishLine(chunk: Uint8Array, start: number, lf: number): Uint8Array | typeof LINE_TOO_LONG {
    let line: Uint8Array;
    if (this.#pendingLength === 0) {
      line = chunk.subarray(start, lf);
    } else {
      if (this.#pendingLength + (lf - start) > this.maxLine + 1) {
        this.#releasePending();
        return LINE_TOO_LONG;
      }
      this.#append(chunk.subarray(start, lf));
      line = this.#pending.subarray(0, this.#pendingLength);
      this.#pendingLength = 0;
      // The view stays valid: the buffer is only replaced by a later call.
      if (this.#pending.length > KEEP_PENDING_BYTES) this.#pending = EMPTY;
    }
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    return line.length > this.maxLine ? LINE_TOO_LONG : line;
  }

  #startDiscarding(): void {
    this.#discarding = true;
    this.#releasePending();
  }

  #releasePending(): void {
    this.#pendingLength = 0;
    if (this.#pending.length > KEEP_PENDING_BYTES) this.#pending = EMPTY;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#pendingLength + bytes.length;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(needed, this.#pending.length * 2, 256), this.maxLine + 1),
      );
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength = needed;
  }
}
