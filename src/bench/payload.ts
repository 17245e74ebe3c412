/**
 * What a bench client sends, and how a receiver finds it again in whatever a
 * server relays. Everything here works on bytes: no per-line strings, no
 * decoding, no allocation, so the bench measures the server and not itself.
 *
 * A payload is `size` bytes of printable ASCII (nothing a server's text
 * cleaning would change), sent as one line:
 *
 * ```
 * ~pb 3f2a 00002a 000001f3 0000a81c4f abcdefghij…  5be0c6d1
 * │   │    │      │        │          │            └ check: hash of run, sender, seq and time (8 hex)
 * │   │    │      │        │          └ padding up to `size` (a fixed pattern)
 * │   │    │      │        └ send time, µs on the bench's performance.now() clock (10 hex)
 * │   │    │      └ sequence number of the sender's message (8 hex)
 * │   │    └ sender: the bench client's index (6 hex)
 * │   └ run: random per bench process, so lines of other runs (a server's history replay,
 * │     another bench on the same server) are skipped, not counted (4 hex)
 * └ marker
 * ```
 *
 * (without the spaces). A server relays it with its own framing around it:
 * parley as `<guest-7> PAYLOAD`, `ncat --chat` as `<user7> PAYLOAD`. The
 * receiver therefore scans each line for the marker; a payload arrived *intact*
 * when its line is `<name> ` followed by exactly one whole payload that
 * verifies and ends the line. A payload alone on its line is intact but
 * *unattributed*: ncat relays read chunks, and only the first line of a chunk
 * gets its `<userN> ` prefix. A line `[07:12] <name> PAYLOAD` is a room's
 * history replayed to a newcomer: skipped, counted as replayed. Every other
 * marker belongs to an *altered* payload: cut, or merged with bytes of another
 * line. Lines without a marker (notices, joins, welcome) are skipped.
 *
 * IRC clients (over TCP or WebSocket) get each payload as one IRC message,
 * `:nick!user@host PRIVMSG #lobby :PAYLOAD` ({@linkcode PayloadScanner.scanIrc}):
 * intact when the message is exactly that, with one whole payload ending it;
 * `… PRIVMSG #lobby :[07:12] PAYLOAD` is a replay; any other marker is altered.
 *
 * @module
 */

import { LatencyHistogram } from "./histogram.ts";

const TILDE = 0x7e;
const MARKER_P = 0x70;
const MARKER_B = 0x62;
const MARKER = [TILDE, MARKER_P, MARKER_B]; // "~pb"
const RUN_AT = 3;
const RUN_DIGITS = 4;
/** This process's run id: payloads with another are not this run's. */
const RUN_ID = Math.floor(Math.random() * 16 ** RUN_DIGITS);
const SENDER_AT = RUN_AT + RUN_DIGITS;
const SENDER_DIGITS = 6;
const SEQ_AT = SENDER_AT + SENDER_DIGITS;
const SEQ_DIGITS = 8;
const TIME_AT = SEQ_AT + SEQ_DIGITS;
const TIME_DIGITS = 10;
const PADDING_AT = TIME_AT + TIME_DIGITS;
const CHECK_DIGITS = 8;

/** The smallest payload: marker, sender, seq, time and check with no padding. */
export const PAYLOAD_MIN_SIZE = PADDING_AT + CHECK_DIGITS;
/** The most senders a payload can name. */
export const MAX_SENDERS = 16 ** SENDER_DIGITS;
/** The sequence number of a probe: a liveness check, not a counted message. */
export const PROBE_SEQ = 16 ** SEQ_DIGITS - 1;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a; // :
const LESS = 0x3c; // <
const GREATER = 0x3e; // >
const LEFT_BRACKET = 0x5b; // [
const RIGHT_BRACKET = 0x5d; // ]
const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");
const HEX_VALUES = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUES[HEX_DIGITS[i]] = i;
const RUN_HEX = new Uint8Array(RUN_DIGITS);
writeHex(RUN_HEX, 0, RUN_DIGITS, RUN_ID);
/** The channel the bench's IRC clients join and talk in: parley's lobby, where line clients are. */
export const IRC_CHANNEL = "#lobby";
/** What comes between an IRC message's prefix and its text: ` PRIVMSG #lobby :`. */
const IRC_TAIL = new TextEncoder().encode(` PRIVMSG ${IRC_CHANNEL} :`);
/** The padding is this alphabet over and over, from the padding's first byte. */
const PADDING = new TextEncoder().encode("abcdefghijklmnopqrstuvwxyz0123456789");

/** The clock payloads carry: whole microseconds of `performance.now()`. */
export function nowMicros(): number {
  return Math.round(performance.now() * 1000);
}

/** The check value of a payload's fields. */
export function checkValue(sender: number, seq: number, timeUs: number): number {
  let hash = Math.imul(sender + 1, 0x9e3779b1) ^ seq ^ Math.imul(RUN_ID + 1, 0x2545f491);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash ^= timeUs >>> 0;
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  hash ^= Math.floor(timeUs / 2 ** 32);
  hash = Math.imul(hash ^ (hash >>> 16), 0x27d4eb2f);
  return (hash ^ (hash >>> 15)) >>> 0;
}

/** Writes payload lines (payload + LF) of one size into one reused buffer. */
export class PayloadEncoder {
  /** Payload bytes, not counting the LF. */
  readonly size: number;
  readonly #line: Uint8Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < PAYLOAD_MIN_SIZE) {
      throw new RangeError(`a payload has at least ${PAYLOAD_MIN_SIZE} bytes, got ${size}`);
    }
    this.size = size;
    this.#line = new Uint8Array(size + 1);
    this.#line.set(MARKER);
    writeHex(this.#line, RUN_AT, RUN_DIGITS, RUN_ID);
    for (let i = PADDING_AT; i < size - CHECK_DIGITS; i++) {
      this.#line[i] = PADDING[(i - PADDING_AT) % PADDING.length];
    }
    this.#line[size] = LF;
  }

  /**
   * The line for one message. The returned bytes are this encoder's buffer:
   * they stay valid until the next call, so write them fully before encoding again.
   */
  encode(sender: number, seq: number, timeUs: number): Uint8Array {
    const line = this.#line;
    writeHex(line, SENDER_AT, SENDER_DIGITS, sender);
    writeHex(line, SEQ_AT, SEQ_DIGITS, seq);
    writeHex(line, TIME_AT, TIME_DIGITS, timeUs);
    writeHex(line, this.size - CHECK_DIGITS, CHECK_DIGITS, checkValue(sender, seq, timeUs));
    return line;
  }
}

/** A verified payload's fields. */
export interface PayloadFields {
  sender: number;
  seq: number;
  timeUs: number;
}

/** Verifies payloads of one size found in received bytes. */
export class PayloadDecoder {
  /** Payload bytes, not counting any line ending. */
  readonly size: number;
  /** The fields of the last payload {@linkcode decode} accepted (one reused object). */
  readonly fields: PayloadFields = { sender: 0, seq: 0, timeUs: 0 };
  /** A payload of this size, for comparing the padding. */
  readonly #template: Uint8Array;

  constructor(size: number) {
    this.size = size;
    this.#template = new PayloadEncoder(size).encode(0, 0, 0);
  }

  /**
   * True when `bytes` holds a whole, valid payload starting at `at`: marker,
   * hex fields, padding and check value; its fields are then in {@linkcode fields}.
   */
  decode(bytes: Uint8Array, at: number): boolean {
    const size = this.size;
    if (at < 0 || at + size > bytes.length || !isMarker(bytes, at) || !this.ours(bytes, at)) {
      return false;
    }
    const sender = readHex(bytes, at + SENDER_AT, SENDER_DIGITS);
    const seq = readHex(bytes, at + SEQ_AT, SEQ_DIGITS);
    const timeHigh = readHex(bytes, at + TIME_AT, TIME_DIGITS - 8);
    const timeLow = readHex(bytes, at + TIME_AT + TIME_DIGITS - 8, 8);
    const check = readHex(bytes, at + size - CHECK_DIGITS, CHECK_DIGITS);
    if (sender < 0 || seq < 0 || timeHigh < 0 || timeLow < 0 || check < 0) return false;
    // Compared without a branch per byte: any difference leaves a bit set.
    const template = this.#template;
    let difference = 0;
    for (let i = PADDING_AT; i < size - CHECK_DIGITS; i++) {
      difference |= bytes[at + i] ^ template[i];
    }
    if (difference !== 0) return false;
    const timeUs = timeHigh * 2 ** 32 + timeLow;
    if (check !== checkValue(sender, seq, timeUs)) return false;
    const fields = this.fields;
    fields.sender = sender;
    fields.seq = seq;
    fields.timeUs = timeUs;
    return true;
  }

  /** False when the payload marked at `at` carries another run's id (true while that is unknown). */
  ours(bytes: Uint8Array, at: number): boolean {
    if (at + RUN_AT + RUN_DIGITS > bytes.length) return true;
    for (let i = 0; i < RUN_DIGITS; i++) {
      if (bytes[at + RUN_AT + i] !== RUN_HEX[i]) return false;
    }
    return true;
  }
}

/** The index of the next payload marker in `bytes[from, to)` (to the end by default), or -1. */
export function findMarker(bytes: Uint8Array, from: number, to = bytes.length): number {
  // A plain loop: the marker is usually a few bytes away (after `<name> `),
  // where calling the indexOf builtin costs more than it saves.
  const length = to - 2;
  for (let i = from; i < length; i++) {
    if (bytes[i] === TILDE && bytes[i + 1] === MARKER_P && bytes[i + 2] === MARKER_B) return i;
  }
  return -1;
}

/** One receiving connection, as the scanner sees it. */
export interface Receiver {
  /** The sender index of this client (its own messages are echoes), or -1. */
  readonly self: number;
  /** Per sender, the sequence number expected next. */
  readonly nextSeq: Int32Array;
  /** When the bytes being scanned were read (µs, {@linkcode nowMicros}). */
  readAtUs: number;
}

/**
 * Counts and times payloads in received bytes. One scanner serves every
 * receiver of a run; each receiver brings its own per-sender sequence state.
 */
export class PayloadScanner {
  /** Payloads that arrived intact, in order, from another client. */
  intact = 0;
  /** Of the intact payloads, those whose line had no `<sender> ` prefix. */
  unattributed = 0;
  /** Payloads that arrived damaged: cut, merged, or without a sender prefix. */
  altered = 0;
  /** Intact payloads that arrived again or out of order. */
  duplicates = 0;
  /** Intact payloads a client got back from its own sending. */
  echoes = 0;
  /** Probe messages seen. */
  probes = 0;
  /** Payloads replayed from a room's history with their time (`[07:12] <name> …`): not counted. */
  replayed = 0;
  /** When the last payload (intact or altered, not a probe) arrived, µs; 0 before any. */
  lastArrivalUs = 0;
  /** Send → receive time of intact payloads. */
  readonly latency: LatencyHistogram = new LatencyHistogram();
  readonly #decoder: PayloadDecoder;
  readonly #senders: number;

  /** For payloads of `size` bytes from `senders` senders (indices 0 to senders − 1). */
  constructor(size: number, senders: number) {
    this.#decoder = new PayloadDecoder(size);
    this.#senders = senders;
  }

  /** Payloads counted so far, intact or altered: the run's progress. */
  get arrived(): number {
    return this.intact + this.altered;
  }

  /**
   * Scans the complete lines in `bytes` for `receiver`; returns how many bytes
   * they took. The rest (an unfinished line) must be passed again, with what
   * follows it, on the next call.
   *
   * The common case costs a look at the prefix and one pass over the payload:
   * a payload that verifies contains no LF and no marker, so a line whose byte
   * right after the payload is its LF holds exactly that payload.
   */
  scan(bytes: Uint8Array, receiver: Receiver): number {
    const size = this.#decoder.size;
    let start = 0;
    for (let marker = findMarker(bytes, 0); marker !== -1;) {
      // Back from the marker to its line's start (lines before it, such as
      // notices, are skipped), counting '>' for the prefix check.
      let greaters = 0;
      let i = marker - 1;
      for (; i >= start && bytes[i] !== LF; i--) if (bytes[i] === GREATER) greaters++;
      start = i + 1;
      if (!this.#decoder.ours(bytes, marker)) {
        // Another run's payload (a history replay): skipped like a notice.
        const lineEnd = bytes.indexOf(LF, marker);
        if (lineEnd === -1) return start;
        start = lineEnd + 1;
        marker = findMarker(bytes, start);
        continue;
      }
      const end = marker + size;
      const lf = bytes[end] === LF
        ? end
        : bytes[end] === CR && bytes[end + 1] === LF
        ? end + 1
        : -1;
      if (lf !== -1 && this.#decoder.decode(bytes, marker)) {
        this.#payload(bytes, start, marker, greaters === 1, receiver);
        start = lf + 1;
        marker = findMarker(bytes, start);
        continue;
      }
      // Not a lone whole payload: a cut or merged line, or one still arriving.
      const lineEnd = bytes.indexOf(LF, marker + MARKER.length);
      if (lineEnd === -1) return start;
      let count = 0;
      for (; marker !== -1 && marker < lineEnd; marker = findMarker(bytes, marker + 1)) count++;
      this.altered += count;
      this.lastArrivalUs = receiver.readAtUs;
      start = lineEnd + 1;
    }
    const last = bytes.lastIndexOf(LF);
    return last >= start ? last + 1 : start;
  }

  /**
   * A payload that verified, alone at the end of the line starting at `start`
   * (its fields are in the decoder). Positional parameters on purpose: this
   * runs for every line received.
   */
  #payload(
    bytes: Uint8Array,
    start: number,
    marker: number,
    oneGreater: boolean,
    receiver: Receiver,
  ): void {
    const fields = this.#decoder.fields;
    // `<name> ` and nothing else before the payload, or (ncat) nothing at all.
    const attributed = oneGreater && marker - start >= 3 && bytes[start] === LESS &&
      bytes[marker - 1] === SPACE && bytes[marker - 2] === GREATER;
    if ((!attributed && marker !== start) || fields.sender >= this.#senders) {
      if (isReplay(bytes, start, marker)) {
        this.replayed++;
        return;
      }
      this.altered++;
      this.lastArrivalUs = receiver.readAtUs;
      return;
    }
    this.#count(attributed, receiver);
  }

  /**
   * Scans one IRC message for `receiver`: `bytes[start, end)` is one whole
   * line without its CR LF (a line of a stream, or one WebSocket message).
   * Returns false when it holds no payload marker at all (a numeric, a JOIN,
   * a PING: the caller's business), true when it did, whatever came of it.
   *
   * Intact: `:PREFIX PRIVMSG #lobby :` (PREFIX without spaces) and one whole
   * payload that verifies and ends the message. A payload after `[07:12] `
   * there is a history replay; anything else with a marker is altered.
   */
  scanIrc(bytes: Uint8Array, start: number, end: number, receiver: Receiver): boolean {
    const marker = findMarker(bytes, start, end);
    if (marker === -1) return false;
    const decoder = this.#decoder;
    if (!decoder.ours(bytes, marker)) return true; // another run's payload (a history replay)
    if (marker + decoder.size === end && decoder.decode(bytes, marker)) {
      const tailAt = marker - IRC_TAIL.length;
      if (
        tailAt > start + 1 && bytes[start] === COLON && matches(bytes, tailAt, IRC_TAIL) &&
        bytes.indexOf(SPACE, start) === tailAt && this.#decoder.fields.sender < this.#senders
      ) {
        this.#count(true, receiver);
      } else if (isIrcReplay(bytes, start, marker)) {
        this.replayed++;
      } else {
        this.altered++;
        this.lastArrivalUs = receiver.readAtUs;
      }
      return true;
    }
    for (let at = marker; at !== -1; at = findMarker(bytes, at + 1, end)) this.altered++;
    this.lastArrivalUs = receiver.readAtUs;
    return true;
  }

  /** A verified payload from one of this run's senders (its fields are in the decoder). */
  #count(attributed: boolean, receiver: Receiver): void {
    const fields = this.#decoder.fields;
    if (fields.seq === PROBE_SEQ) {
      this.probes++;
      return;
    }
    if (fields.sender === receiver.self) {
      this.echoes++;
      return;
    }
    const expected = receiver.nextSeq[fields.sender];
    if (fields.seq < expected) {
      this.duplicates++;
      return;
    }
    // A gap (seq > expected) means lines were lost; they show up in the totals.
    receiver.nextSeq[fields.sender] = fields.seq + 1;
    this.intact++;
    this.lastArrivalUs = receiver.readAtUs;
    if (!attributed) this.unattributed++;
    this.latency.record(receiver.readAtUs - fields.timeUs);
  }
}

/** Whether the line from `start` is `[TIME] <name> ` and then the payload at `marker`. */
function isReplay(bytes: Uint8Array, start: number, marker: number): boolean {
  if (bytes[start] !== LEFT_BRACKET) return false;
  const close = bytes.indexOf(RIGHT_BRACKET, start);
  return close !== -1 && close + 4 < marker && bytes[close + 1] === SPACE &&
    bytes[close + 2] === LESS && bytes[marker - 2] === GREATER && bytes[marker - 1] === SPACE;
}

/** Whether the IRC message from `start` is `:PREFIX PRIVMSG #lobby :[TIME] ` and then the marker. */
function isIrcReplay(bytes: Uint8Array, start: number, marker: number): boolean {
  const close = marker - 2;
  if (bytes[marker - 1] !== SPACE || bytes[close] !== RIGHT_BRACKET) return false;
  const open = bytes.lastIndexOf(LEFT_BRACKET, close);
  const tailAt = open - IRC_TAIL.length;
  return open > start && tailAt > start + 1 && bytes[start] === COLON &&
    matches(bytes, tailAt, IRC_TAIL) && bytes.indexOf(SPACE, start) === tailAt;
}

/** Whether `bytes` holds `expected` at `at`. */
function matches(bytes: Uint8Array, at: number, expected: Uint8Array): boolean {
  if (at < 0 || at + expected.length > bytes.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

function isMarker(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === MARKER[0] && bytes[at + 1] === MARKER[1] && bytes[at + 2] === MARKER[2];
}

function writeHex(bytes: Uint8Array, at: number, digits: number, value: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    bytes[i] = HEX_DIGITS[value % 16];
    value = Math.floor(value / 16);
  }
}

/** Up to 8 hex digits as an unsigned number, or -1 when one is not a hex digit. */
function readHex(bytes: Uint8Array, at: number, digits: number): number {
  let value = 0;
  let invalid = 0;
  for (let i = at; i < at + digits; i++) {
    const digit = HEX_VALUES[bytes[i]];
    invalid |= digit; // -1 sets the sign bit
    value = (value << 4) | digit;
  }
  return invalid < 0 ? -1 : value >>> 0;
}
