/**
 * Telnet command filter: takes telnet's commands out of a connection's bytes
 * before line framing, and answers its option negotiation.
 *
 * One filter per connection, owned by the code that reads the socket. It owns
 * only the telnet state of that connection: where it is inside a command
 * sequence (which may be split across reads at any byte), the state of the one
 * option the server agrees to, and the replies waiting to be sent. It does no
 * I/O: the owner sends {@linkcode TelnetFilter.takeReplies} after each
 * {@linkcode TelnetFilter.filter}.
 *
 * ```ts
 * const data = telnet.filter(bytes);
 * const replies = telnet.takeReplies();
 * if (replies) send(replies);
 * reader.push(data);
 * ```
 *
 * Parser states (RFC 854): `data`; `iac` after IAC (0xFF); `option` after
 * WILL/WONT/DO/DONT, waiting for the option byte; `sb` inside a subnegotiation
 * (IAC SB … IAC SE, consumed whole: the server agrees to no option that has
 * one); `sbIac` after IAC inside it. IAC IAC is one 0xFF data byte; every other
 * command (NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, EOF, SUSP, …) is dropped.
 *
 * Why BINARY, and only from the peer: GNU inetutils telnet (Debian's `telnet`)
 * in its default NVT mode compares each typed byte, high bit stripped, with
 * the terminal's special characters, so UTF-8 continuation bytes 0x83, 0x8F,
 * 0x9A and 0x9C (^C, ^O, ^Z, ^\ plus 0x80) go out as IAC IP / AO / SUSP / BRK
 * followed by IAC DO TIMING-MARK, and telnet shows no output until the server
 * answers the TIMING-MARK. 发 (E5 8F 91) and every emoji skin tone hit this.
 * Once the peer sends BINARY (RFC 856) it sends its bytes as they are. So on
 * the first telnet command seen — never at connect, where an nc user would see
 * the bytes — the server sends IAC DO BINARY. The other direction is refused
 * (DO BINARY → WONT BINARY): in binary output telnet turns off the terminal's
 * newline translation, so every LF, the server's and the echo of the user's
 * own Enter, becomes a staircase, while in NVT mode it shows UTF-8 output
 * correctly anyway. Every other option is refused the telnet way (DO x →
 * WONT x, WILL x → DONT x); DO TIMING-MARK is among them, and its WONT is what
 * lets telnet show output again.
 *
 * Repair of the bytes sent before BINARY: an IAC IP, AO, SUSP or BRK that
 * arrives where a UTF-8 continuation byte is due cannot have been typed (a
 * terminal sends a character's bytes together), so it is turned back into the
 * byte it replaced, once the data after it shows that the line goes on (telnet
 * sends the rest of the typed line in the same write). The first line a telnet
 * user types thus arrives intact, unless it holds a byte telnet never sends
 * (0x85 is dropped; 0x9D, ^] plus 0x80, opens telnet's own command prompt).
 *
 * Lines telnet cut short (issue 24). Typed before any negotiation, `Привет
 * Нина` takes telnet to its `telnet>` prompt at the 0x9D inside `Н`; when the
 * user gets back, telnet sends what came before it (`… 20 d0`: a character
 * left open, no line end), with IAC IP (and DO TIMING-MARK) after it if the
 * prompt was left with Ctrl-C. Nothing follows until the user types again, so:
 *
 * - a line left open inside a character, or with such an IP still undecided,
 *   when nothing has come for a while is **stalled** (the owner times it and
 *   calls {@linkcode TelnetFilter.stalled}). From a peer known to be telnet
 *   its start is dropped; from one not known yet the server asks for BINARY
 *   (IAC DO BINARY, once: the bytes an nc user would see), and telnet's
 *   answer, with nothing typed since, proves the line was cut: it is dropped.
 *   Either way the user is to be told ({@linkcode TelnetFilter.takeLineLost});
 *   once telnet sends BINARY, 0x9D is no escape any more;
 * - IP, AO, SUSP, BRK (when no repair), ABORT and EL drop the unfinished line
 *   before them: what telnet sent of a line it then interrupted is not
 *   merged with the next one. The bytes of that line in the chunk being
 *   filtered are left out; when it began in an earlier chunk, the owner drops
 *   what it holds of it ({@linkcode TelnetFilter.takeLineCancelled}).
 *
 * No negotiation loops: BINARY follows RFC 1143's Q method (an answer to our
 * own request is agreement and is not answered; a request for the state
 * already held is ignored; the server asks once and never asks to turn it
 * off, so the WANTNO states never occur). Refusals answer only requests (WILL,
 * DO), never WONT or DONT, so a compliant peer has nothing to answer them
 * with; a broken peer that repeats a request gets one refusal per request,
 * never more bytes than it sent.
 *
 * Telnet sends a bare carriage return as CR NUL (RFC 854). Once the peer is
 * known to be telnet, CR NUL becomes CR. This changes no message (the line
 * reader keeps a CR that is not before LF, and text cleaning removes CR and
 * NUL alike); it only keeps the NUL out of the line's byte count.
 *
 * Server output needs no escaping: it is UTF-8, which never contains 0xFF.
 *
 * @module
 */

/** Interpret As Command: starts every telnet command. */
const IAC = 0xff;
const DONT = 0xfe;
const DO = 0xfd;
const WONT = 0xfc;
const WILL = 0xfb;
/** Subnegotiation begin. */
const SB = 0xfa;
/** Subnegotiation end. */
const SE = 0xf0;
/** The lowest command byte (EOF, RFC 1184); IAC before a lower byte is no command. */
const FIRST_COMMAND = 0xec;
/** Option 0, RFC 856: 8-bit data, no NVT translation. */
const BINARY = 0;
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** The data byte each command stands for when telnet sent it for a UTF-8 continuation byte. */
const REPLACED_BYTE: ReadonlyMap<number, number> = new Map([
  [0xf4, 0x83], // IP: ^C
  [0xf5, 0x8f], // AO: ^O
  [0xed, 0x9a], // SUSP: ^Z
  [0xf3, 0x9c], // BRK: ^\
]);

/** Commands that end what telnet sent of a line: IP, AO, SUSP, BRK, ABORT, EL (erase line). */
const CANCELS_LINE: ReadonlySet<number> = new Set([0xf4, 0xf5, 0xed, 0xf3, 0xee, 0xf8]);

/** No command is waiting to be read as the byte it replaced. */
const NOT_HELD = -1;

const STATE_DATA = 0;
const STATE_IAC = 1;
const STATE_OPTION = 2;
const STATE_SB = 3;
const STATE_SB_IAC = 4;

/** RFC 1143 option states, without the WANTNO states the server never enters. */
const OPTION_NO = 0;
const OPTION_YES = 1;
const OPTION_WANT_YES = 2;

/** What {@linkcode TelnetFilter.stalled} did. */
export type Stalled =
  /** The unfinished line is dropped: the owner drops what it holds of it and tells the user. */
  | "dropped"
  /** IAC DO BINARY is among the replies: telnet's answer will tell. */
  | "asked"
  /** Nothing to do. */
  | null;

/** Removes telnet commands from one connection's byte stream and answers negotiation. */
export class TelnetFilter {
  #state = STATE_DATA;
  /** The WILL/WONT/DO/DONT whose option byte is awaited (state option). */
  #verb = 0;
  /** The last data byte handed out was CR: a NUL right after it is dropped. */
  #afterCr = false;
  /** UTF-8 continuation bytes still due after the last data byte. */
  #continuations = 0;
  /** Data bytes have been handed out since the last LF: a line is unfinished. */
  #partial = false;
  /** The byte a repairable command stands for, until the next data byte decides (or NOT_HELD). */
  #held = NOT_HELD;
  /** The server asked for BINARY because a line stalled; the answer, before any data, proves telnet. */
  #awaitingAnswer = false;
  #asked = false;
  /** What the owner is to do after this filter call or stall. */
  #lineCancelled = false;
  #lineLost = false;
  #active = false;
  /** Whether the peer sends BINARY (we say DO, it says WILL). */
  #binary = OPTION_NO;
  #replies: number[] = [];
  /** During {@linkcode filter}: the output, its length, and whether a line was open before it. */
  #out: Uint8Array = new Uint8Array(0);
  #length = 0;
  #partialBefore = false;

  /** True once the peer has sent a telnet command: it is a telnet client. */
  get active(): boolean {
    return this.#active;
  }

  /** True once the peer agreed to send its bytes untranslated (BINARY, peer to server). */
  get binaryInput(): boolean {
    return this.#binary === OPTION_YES;
  }

  /**
   * True when the data so far ends inside a UTF-8 character of an unfinished
   * line, or a command waits to be read as the byte it replaced: if nothing
   * comes for a while, the line is stalled (see {@linkcode stalled}).
   */
  get midCharacter(): boolean {
    return this.#state === STATE_DATA && this.#partial &&
      (this.#continuations > 0 || this.#held !== NOT_HELD);
  }

  /**
   * The data bytes of `chunk`, telnet commands removed. A chunk without 0xFF
   * (and, from a telnet peer, without NUL) outside a command is returned
   * itself, without a copy: that is every read from a client that is not
   * telnet. Otherwise the result is a new array; `chunk` is never changed.
   */
  filter(chunk: Uint8Array): Uint8Array {
    if (
      this.#state === STATE_DATA && this.#held === NOT_HELD && chunk.indexOf(IAC) === -1 &&
      !(this.#active && chunk.indexOf(NUL) !== -1)
    ) {
      if (chunk.length > 0) {
        const last = chunk[chunk.length - 1];
        this.#afterCr = last === CR;
        this.#partial = last !== LF;
        this.#continuations = continuationsAfter(chunk, this.#continuations);
        this.#awaitingAnswer = false;
      }
      return chunk;
    }
    // One byte more than the chunk: a held byte may come out before the chunk's first.
    this.#out = new Uint8Array(chunk.length + 1);
    this.#length = 0;
    this.#partialBefore = this.#partial;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      switch (this.#state) {
        case STATE_DATA:
          if (byte === IAC) {
            this.#state = STATE_IAC;
          } else if (byte === NUL && this.#afterCr && this.#active) {
            this.#afterCr = false;
          } else {
            this.#data(byte);
          }
          break;
        case STATE_IAC:
          this.#state = STATE_DATA;
          if (byte === IAC) this.#data(IAC);
          else this.#command(byte);
          break;
        case STATE_OPTION:
          this.#state = STATE_DATA;
          this.#negotiate(this.#verb, byte);
          break;
        case STATE_SB:
          if (byte === IAC) this.#state = STATE_SB_IAC;
          break;
        case STATE_SB_IAC:
          if (byte === SE) {
            this.#state = STATE_DATA;
          } else if (byte === IAC) {
            this.#state = STATE_SB; // an escaped 0xFF inside the subnegotiation
          } else {
            this.#command(byte); // a peer that forgot IAC SE: it ends here
          }
          break;
      }
    }
    const out = this.#out.subarray(0, this.#length);
    this.#out = new Uint8Array(0);
    return out;
  }

  /**
   * The negotiation bytes to send to the peer since the last call, or null
   * when there are none. They go out as they are, between whole lines.
   */
  takeReplies(): Uint8Array | null {
    if (this.#replies.length === 0) return null;
    const replies = Uint8Array.from(this.#replies);
    this.#replies = [];
    return replies;
  }

  /**
   * After {@linkcode filter}: true (once) when the line begun in earlier
   * chunks was ended by a command, so the owner drops what it holds of it
   * before it takes this chunk's data.
   */
  takeLineCancelled(): boolean {
    const cancelled = this.#lineCancelled;
    this.#lineCancelled = false;
    return cancelled;
  }

  /**
   * True (once) when a line was dropped because telnet had cut it short (its
   * escape byte): the user is to be told to type it again.
   */
  takeLineLost(): boolean {
    const lost = this.#lineLost;
    this.#lineLost = false;
    return lost;
  }

  /**
   * The owner's word that nothing has come for a while since the data ended
   * {@linkcode midCharacter}. From a telnet peer, the unfinished line is
   * dropped ("dropped": the owner drops what it holds of it and tells the
   * user); from a peer not known to be telnet, BINARY is asked for, once
   * ("asked": send the replies), and telnet's answer drops the line then.
   */
  stalled(): Stalled {
    if (!this.midCharacter) return null;
    if (this.#active) {
      this.#endLine();
      return "dropped";
    }
    if (this.#asked) return null;
    this.#asked = true;
    this.#awaitingAnswer = true;
    this.#binary = OPTION_WANT_YES;
    this.#replies.push(IAC, DO, BINARY);
    return "asked";
  }

  /** Hands out a data byte (a held one first, now known to be a repair). */
  #data(byte: number): void {
    if (this.#held !== NOT_HELD) this.#releaseHeld();
    this.#out[this.#length++] = byte;
    this.#track(byte);
  }

  /** Notes a data byte handed out: for CR NUL, the UTF-8 repair and stalled lines. */
  #track(byte: number): void {
    this.#afterCr = byte === CR;
    this.#partial = byte !== LF;
    this.#awaitingAnswer = false;
    if ((byte & 0xc0) === 0x80) {
      if (this.#continuations > 0) this.#continuations--;
    } else {
      this.#continuations = sequenceLength(byte) - 1;
    }
  }

  /** Handles the byte after IAC, other than IAC: enters the state that follows. */
  #command(byte: number): void {
    this.#state = STATE_DATA;
    if (byte < FIRST_COMMAND) return; // no command: IAC and byte dropped
    this.#detected();
    if (this.#awaitingAnswer) {
      // The peer answers the BINARY asked for when its line stalled: telnet, which cut that line.
      this.#awaitingAnswer = false;
      if (this.midCharacter) {
        this.#cancelLine();
        this.#lineLost = true;
      }
    }
    if (byte >= WILL) {
      this.#verb = byte;
      this.#state = STATE_OPTION;
      return;
    }
    if (byte === SB) {
      this.#state = STATE_SB;
      return;
    }
    const replaced = REPLACED_BYTE.get(byte);
    if (replaced !== undefined && this.#continuations > 0) {
      // Two in a row inside one character: the first was a typed byte too.
      if (this.#held !== NOT_HELD) this.#releaseHeld();
      if (this.#continuations > 0) {
        // Typed inside a character: the byte it replaced, if the line goes on (see the header).
        this.#held = replaced;
        return;
      }
    }
    if (CANCELS_LINE.has(byte)) this.#cancelLine();
    // NOP, DM, AYT, EC, GA, EOF, EOR, a stray SE: dropped.
  }

  /** Hands out the held byte: what followed it shows it was typed. */
  #releaseHeld(): void {
    const held = this.#held;
    this.#held = NOT_HELD;
    this.#out[this.#length++] = held;
    this.#track(held);
  }

  /**
   * Ends the unfinished line: its bytes in this chunk are left out, and one
   * begun in an earlier chunk is for the owner to drop.
   */
  #cancelLine(): void {
    const lf = this.#out.subarray(0, this.#length).lastIndexOf(LF);
    if (lf !== -1) {
      this.#length = lf + 1;
    } else {
      this.#length = 0;
      if (this.#partialBefore) this.#lineCancelled = true;
    }
    this.#endLine();
  }

  /** Forgets the unfinished line: a new one starts with the next data byte. */
  #endLine(): void {
    this.#held = NOT_HELD;
    this.#continuations = 0;
    this.#partial = false;
    this.#afterCr = false;
    this.#partialBefore = false;
  }

  /** The first telnet command: the peer is telnet, so ask it for BINARY, once. */
  #detected(): void {
    if (this.#active) return;
    this.#active = true;
    if (this.#binary !== OPTION_NO) return; // asked already, when a line stalled
    this.#binary = OPTION_WANT_YES;
    this.#replies.push(IAC, DO, BINARY);
  }

  #negotiate(verb: number, option: number): void {
    if (verb === DO) {
      this.#replies.push(IAC, WONT, option); // the server enables nothing on its side
    } else if (option !== BINARY) {
      if (verb === WILL) this.#replies.push(IAC, DONT, option);
    } else if (verb === WILL) {
      // From WANTYES this is the answer to our DO; from YES it changes nothing.
      if (this.#binary === OPTION_NO) this.#replies.push(IAC, DO, BINARY);
      this.#binary = OPTION_YES;
    } else if (verb === WONT) {
      // From WANTYES the peer refused: the server does not ask again.
      if (this.#binary === OPTION_YES) this.#replies.push(IAC, DONT, BINARY);
      this.#binary = OPTION_NO;
    }
    // DONT x: the server's side of every option is already off.
  }
}

/** The length of the UTF-8 sequence `lead` starts (1 for ASCII and for bytes no sequence starts with). */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0) return lead < 0xf8 ? 4 : 1;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

/**
 * The UTF-8 continuation bytes still due after `bytes`, given `before` were
 * due before them. Looks at no more than the last four bytes.
 */
function continuationsAfter(bytes: Uint8Array, before: number): number {
  let i = bytes.length - 1;
  let seen = 0;
  while (i >= 0 && seen < 3 && (bytes[i] & 0xc0) === 0x80) {
    i--;
    seen++;
  }
  if (i < 0) return Math.max(0, before - seen);
  if ((bytes[i] & 0xc0) === 0x80) return 0; // four continuation bytes: no character is open
  return Math.max(0, sequenceLength(bytes[i]) - 1 - seen);
}
