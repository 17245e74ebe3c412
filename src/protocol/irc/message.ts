/**
 * The IRC wire codec: one IRC line ⇄ one {@linkcode IrcMessage}, with the
 * byte limits and tag escaping that go with it (text splitting, CTCP and
 * formatting codes are in `text.ts`). Pure functions, no sockets, no session
 * state.
 *
 * Grammar (modern.ircdocs.horse "Message Format", IRCv3 message-tags):
 *
 * ```
 * ['@' tags SPACE] [':' source SPACE] command [params] ; SPACE is one or more 0x20
 * ```
 *
 * Where this sits on input. The line framer hands over a line of bytes with
 * CR LF removed; then, in this order:
 *
 * 1. {@linkcode lineLengthProblem} on the bytes (a problem is answered with 417
 *    ERR_INPUTTOOLONG and the line dropped; the connection stays);
 * 2. {@linkcode decodeLine} (UTF-8, invalid bytes → U+FFFD) and
 *    {@linkcode parseMessage} — or {@linkcode parseLine} for 1–2 in one call;
 * 3. for PRIVMSG/NOTICE text: `parseCtcp` (ACTION is `/me`), then
 *    `stripFormatting`, and only then the shared text cleaning.
 *
 * Parsing comes before cleaning because cleaning removes C0 controls: it would
 * delete the `\x01` that marks CTCP, and of a colour code `\x0304` it would
 * delete only the `\x03` and leave "04" glued to the text. Parameters come out
 * of the parser uncleaned; every one that reaches a person or the log must be
 * cleaned (tag values may even hold CR or LF after unescaping).
 *
 * On output, {@linkcode formatMessage} builds CRLF-terminated lines and throws
 * a RangeError rather than emit anything that could not be parsed back as the
 * same message (a CR, LF or NUL in a parameter, a space in a middle parameter):
 * with validated nicks and cleaned text that never happens, and a bug must not
 * become line injection.
 *
 * @module
 */

/** A parsed IRC message. `params` includes the trailing parameter, if any. */
export interface IrcMessage {
  /** Tag values unescaped; a tag without a value maps to "". */
  tags: Map<string, string>;
  /** The part after `:` before the command, without the `:`. */
  source?: string;
  /** Upper-cased: letters (`PRIVMSG`) or a three-digit numeric (`001`). */
  command: string;
  params: string[];
}

/** A message to send; an {@linkcode IrcMessage} is one. */
export interface OutgoingMessage {
  tags?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  source?: string;
  command: string;
  params?: readonly string[];
}

/** Why a line is not a message. */
export type ParseErrorKind =
  /** Nothing but spaces: ignore it silently (modern: "silently ignore"). */
  | "empty"
  /** Tags and/or a source, but no command: ignore it. */
  | "no-command"
  /** The command is neither letters nor three digits: answer 421 with `command` (cleaned). */
  | "bad-command"
  /** Over the limits of {@linkcode lineLengthProblem}: answer 417. Only from {@linkcode parseLine}. */
  | "too-long";

/** The outcome of parsing a line; parsing never throws. */
export type ParseResult =
  | { ok: true; message: IrcMessage }
  | { ok: false; error: ParseErrorKind; command?: string; tags?: Map<string, string> };

/** Bytes of one line without tags, CR LF included (RFC 1459 §2.3, modern "Message Format"). */
export const MAX_LINE_BYTES = 512;
/** Bytes of one line without tags and without CR LF: what the framer leaves of {@linkcode MAX_LINE_BYTES}. */
export const MAX_BODY_BYTES = MAX_LINE_BYTES - 2;
/**
 * Bytes of the tags section a client may send, `@` and the space after it
 * included: tag data of at most 4094 bytes (IRCv3 message-tags "Size limit").
 * The 8191 of the modern document is what a *client* must accept from a server
 * (server tags plus relayed client tags); a server accepts 4096 from a client.
 */
export const MAX_CLIENT_TAGS_BYTES = 4096;
/** Bytes of tags a server may add to a message it sends: `@`, 510 bytes of tag data, space. */
export const MAX_SERVER_TAGS_BYTES = 512;
/**
 * The longest line an IRC connection can legitimately send, CR LF excluded:
 * the `maxLine` for that connection's line framer. A longer line comes out of
 * the framer as too long and is answered with 417 as well.
 */
export const MAX_INCOMING_LINE_BYTES = MAX_CLIENT_TAGS_BYTES + MAX_BODY_BYTES;

const AT = 0x40;
const SPACE = 0x20;
const decoder = new TextDecoder();
const COMMAND = /^(?:[A-Za-z]+|[0-9]{3})$/;
// deno-lint-ignore no-control-regex -- these are exactly what a line cannot carry
const UNSENDABLE = /[\x00\r\n]/;

/**
 * Which limit a framed line (CR LF removed) breaks, or null when it fits:
 * `"tags"` when its tags section is longer than {@linkcode MAX_CLIENT_TAGS_BYTES},
 * `"body"` when the rest is longer than {@linkcode MAX_BODY_BYTES}. Either is
 * answered with 417 ERR_INPUTTOOLONG. Counts bytes as received, before decoding,
 * so an invalid byte counts as one byte, not as the three of U+FFFD.
 */
export function lineLengthProblem(line: Uint8Array): "tags" | "body" | null {
  let bodyStart = 0;
  while (line[bodyStart] === SPACE) bodyStart++;
  if (line[bodyStart] === AT) {
    const space = line.indexOf(SPACE, bodyStart);
    const tagsEnd = space === -1 ? line.length : space + 1;
    if (tagsEnd - bodyStart > MAX_CLIENT_TAGS_BYTES) return "tags";
    bodyStart = tagsEnd;
  }
  while (line[bodyStart] === SPACE) bodyStart++;
  return line.length - bodyStart > MAX_BODY_BYTES ? "body" : null;
}

/** Decodes a framed line as UTF-8; invalid bytes become U+FFFD. Nothing else is removed. */
export function decodeLine(line: Uint8Array): string {
  return decoder.decode(line);
}

/** Checks the limits, decodes and parses one framed line: the three input steps at once. */
export function parseLine(line: Uint8Array): ParseResult {
  if (lineLengthProblem(line) !== null) return { ok: false, error: "too-long" };
  return parseMessage(decodeLine(line));
}

/**
 * Parses one line (CR LF removed) per the modern grammar: optional `@tags`,
 * optional `:source`, a command of letters or three digits (returned
 * upper-cased), parameters separated by one or more spaces, the last one
 * possibly a `:trailing` parameter that keeps its spaces. Leading and repeated
 * spaces are tolerated; trailing spaces after a middle parameter add nothing.
 * Malformed tag segments (an empty key) are skipped; a repeated key keeps its
 * last value. Never throws.
 */
export function parseMessage(line: string): ParseResult {
  const length = line.length;
  let i = skipSpaces(line, 0);
  if (i === length) return { ok: false, error: "empty" };

  const tags = new Map<string, string>();
  if (line.charCodeAt(i) === AT) {
    const end = endOfToken(line, i);
    parseTags(line.slice(i + 1, end), tags);
    i = skipSpaces(line, end);
  }

  let source: string | undefined;
  if (line[i] === ":") {
    const end = endOfToken(line, i);
    if (end > i + 1) source = line.slice(i + 1, end);
    i = skipSpaces(line, end);
  }

  if (i === length) return { ok: false, error: "no-command" };
  const commandEnd = endOfToken(line, i);
  const command = line.slice(i, commandEnd);
  if (!COMMAND.test(command)) {
    // Its tags still count: a label asks for the 421 to carry it.
    return tags.size > 0
      ? { ok: false, error: "bad-command", command, tags }
      : { ok: false, error: "bad-command", command };
  }

  const params: string[] = [];
  i = skipSpaces(line, commandEnd);
  while (i < length) {
    if (line[i] === ":") {
      params.push(line.slice(i + 1));
      break;
    }
    const end = endOfToken(line, i);
    params.push(line.slice(i, end));
    i = skipSpaces(line, end);
  }

  const message: IrcMessage = { tags, command: command.toUpperCase(), params };
  if (source !== undefined) message.source = source;
  return { ok: true, message };
}

function skipSpaces(line: string, from: number): number {
  while (line.charCodeAt(from) === SPACE) from++;
  return from;
}

function endOfToken(line: string, from: number): number {
  const space = line.indexOf(" ", from);
  return space === -1 ? line.length : space;
}

function parseTags(raw: string, into: Map<string, string>): void {
  for (const segment of raw.split(";")) {
    const equals = segment.indexOf("=");
    const key = equals === -1 ? segment : segment.slice(0, equals);
    if (key === "") continue;
    into.set(key, equals === -1 ? "" : unescapeTagValue(segment.slice(equals + 1)));
  }
}

/**
 * Undoes IRCv3 tag-value escaping: `\:` → `;`, `\s` → space, `\\` → `\`,
 * `\r` → CR, `\n` → LF; a backslash before any other character stands for that
 * character, and a lone backslash at the end is dropped.
 */
export function unescapeTagValue(value: string): string {
  if (!value.includes("\\")) return value;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char !== "\\") {
      out += char;
      continue;
    }
    const next = value[++i];
    if (next === undefined) break;
    out += next === ":"
      ? ";"
      : next === "s"
      ? " "
      : next === "r"
      ? "\r"
      : next === "n"
      ? "\n"
      : next;
  }
  return out;
}

/** IRCv3 tag-value escaping: `;` → `\:`, space → `\s`, `\` → `\\`, CR → `\r`, LF → `\n`. */
export function escapeTagValue(value: string): string {
  return value.replace(/[; \\\r\n]/g, (char) => TAG_ESCAPES[char]);
}

const TAG_ESCAPES: Record<string, string> = {
  ";": "\\:",
  " ": "\\s",
  "\\": "\\\\",
  "\r": "\\r",
  "\n": "\\n",
};

/** Options for {@linkcode formatMessage}. */
export interface FormatOptions {
  /**
   * Always send the last parameter as `:trailing`, even when it needs no colon.
   * Use it for free text (PRIVMSG, NOTICE, human-readable numeric text) so that
   * naive line-splitting bots read it whole.
   */
  trailing?: boolean;
}

/**
 * One line ending in CR LF. Tag values are escaped (a tag whose value is ""
 * is sent bare); the last parameter gets a `:` when it is empty, contains a
 * space or starts with `:` (or always, with `options.trailing`). Throws a
 * RangeError when the message cannot be sent as one line that parses back to
 * itself: a bad command or tag key, a CR, LF or NUL anywhere, a space in the
 * source, or a middle parameter that is empty, holds a space or starts with `:`.
 */
export function formatMessage(message: OutgoingMessage, options: FormatOptions = {}): string {
  let line = "";
  const tags = message.tags;
  if (tags !== undefined) {
    const entries = tags instanceof Map ? [...tags] : Object.entries(tags);
    if (entries.length > 0) {
      line += "@" + entries.map(([key, value]) => formatTag(key, value)).join(";") + " ";
    }
  }
  if (message.source !== undefined) {
    const source = message.source;
    if (source === "" || source.includes(" ") || UNSENDABLE.test(source)) {
      throw new RangeError(
        `Cannot send IRC source ${JSON.stringify(source)}: empty or has a space, CR, LF or NUL`,
      );
    }
    line += ":" + source + " ";
  }
  if (!COMMAND.test(message.command)) {
    throw new RangeError(
      `Cannot send IRC command ${JSON.stringify(message.command)}: not letters or three digits`,
    );
  }
  line += message.command;
  const params = message.params ?? [];
  const last = params.length - 1;
  for (let i = 0; i <= last; i++) {
    const param = params[i];
    if (UNSENDABLE.test(param)) {
      throw new RangeError(
        `Cannot send IRC parameter ${JSON.stringify(param)}: it has a CR, LF or NUL`,
      );
    }
    const needsColon = param === "" || param.includes(" ") || param[0] === ":";
    if (i < last) {
      if (needsColon) {
        throw new RangeError(
          `Cannot send IRC parameter ${
            JSON.stringify(param)
          } before the last: empty, has a space or starts with ':'`,
        );
      }
      line += " " + param;
    } else {
      line += needsColon || options.trailing ? " :" + param : " " + param;
    }
  }
  return line + "\r\n";
}

/**
 * Text a client sent, echoed back where IRC wants one middle parameter (the
 * channel or nick of an error numeric): made fit for it, never an error. An
 * empty one becomes `*`, leading colons go, spaces become `_`. The client
 * sees what it sent, near enough to recognise.
 */
export function echoParam(text: string): string {
  const fitted = text.replace(/^:+/, "").replaceAll(" ", "_");
  return fitted === "" ? "*" : fitted;
}

// deno-lint-ignore no-control-regex -- a key cannot hold these
const BAD_TAG_KEY = /[ ;=\x00\r\n]/;

function formatTag(key: string, value: string): string {
  if (key === "" || BAD_TAG_KEY.test(key)) {
    throw new RangeError(`Cannot send IRC tag key ${JSON.stringify(key)}`);
  }
  if (value.includes("\x00")) throw new RangeError(`Cannot send a NUL in IRC tag ${key}`);
  return value === "" ? key : key + "=" + escapeTagValue(value);
}

/**
 * `line` (one formatted line, or several joined) with `tags` added in front of
 * the tags each line has: a label or a batch reference on lines made before
 * it was known they would need one.
 */
export function withTags(line: string, tags: Readonly<Record<string, string>>): string {
  const added = Object.entries(tags).map(([key, value]) => formatTag(key, value)).join(";");
  return line.split("\r\n").filter((one) => one !== "").map((one) =>
    (one.startsWith("@") ? `@${added};${one.slice(1)}` : `@${added} ${one}`) + "\r\n"
  ).join("");
}

/** Who a numeric reply is from and to. */
export interface NumericContext {
  /** The server name (`--irc-name`), sent as the source. */
  server: string;
  /** The receiving client's nick; `*` (the default) before it has one. */
  target?: string;
  tags?: OutgoingMessage["tags"];
}

/**
 * A numeric reply line, `:server CODE target params…\r\n`, e.g.
 * `formatNumeric(RPL_WELCOME, ["Welcome to parley, alice"], { server, target: "alice" })`.
 * Same colon rule and errors as {@linkcode formatMessage}.
 */
export function formatNumeric(
  code: string,
  params: readonly string[],
  context: NumericContext & FormatOptions,
): string {
  if (!/^[0-9]{3}$/.test(code)) {
    throw new RangeError(`Cannot send numeric ${JSON.stringify(code)}: not three digits`);
  }
  return formatMessage(
    {
      tags: context.tags,
      source: context.server,
      command: code,
      params: [context.target ?? "*", ...params],
    },
    context,
  );
}
