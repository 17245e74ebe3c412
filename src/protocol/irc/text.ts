/**
 * IRC text on the wire: lines that carry a list (NAMES, WHOIS channels, CAP
 * LS) or a text longer than one line (PRIVMSG, NOTICE), split at UTF-8 and
 * grapheme boundaries to fit 512 bytes; CTCP (ACTION is `/me`); mIRC
 * formatting codes; `server-time` stamps. Pure functions.
 *
 * @module
 */

import { graphemeSegments } from "../../text.ts";
import { formatMessage, MAX_LINE_BYTES, type OutgoingMessage } from "./message.ts";

const CTCP_DELIMITER = "\x01";
const ACTION = "ACTION";

/** Options for {@linkcode formatListLines}. */
export interface ListOptions {
  /**
   * A parameter put before the list on every line but the last, telling the
   * client that more lines follow: `"*"` for `CAP LS 302` / `CAP LIST` replies.
   */
  more?: string;
}

/**
 * Lines that together carry `items`, space-separated in the last parameter,
 * each line at most {@linkcode MAX_LINE_BYTES} bytes without its tags:
 * 353 RPL_NAMREPLY (`head.params` = `[nick, "=", "#dev"]`), 319 RPL_WHOISCHANNELS,
 * or `CAP * LS` with `{ more: "*" }`. No items gives one line with an empty
 * last parameter (`CAP * LS :`). Throws a RangeError when one item alone does
 * not fit a line.
 */
export function formatListLines(
  head: OutgoingMessage,
  items: readonly string[],
  options: ListOptions = {},
): string[] {
  const params = head.params ?? [];
  const untagged = { source: head.source, command: head.command };
  const lastBudget = MAX_LINE_BYTES -
    utf8ByteLength(formatMessage({ ...untagged, params: [...params, ""] }));
  const moreParams = options.more === undefined ? params : [...params, options.more];
  const moreBudget = MAX_LINE_BYTES -
    utf8ByteLength(formatMessage({ ...untagged, params: [...moreParams, ""] }));

  const groups: string[] = [];
  let current = "";
  // The bytes of `current`, kept as it grows (measuring it anew for each item is the
  // square of a line's items: a big channel's NAMES for each of its joiners).
  let currentSize = 0;
  for (const item of items) {
    const size = utf8ByteLength(item);
    if (size > Math.min(lastBudget, moreBudget)) {
      throw new RangeError(`Cannot fit ${JSON.stringify(item)} into one ${head.command} line`);
    }
    // Every line but the last has `more` in it, so a line is filled to the smaller budget.
    if (current !== "" && currentSize + 1 + size > moreBudget) {
      groups.push(current);
      current = item;
      currentSize = size;
    } else {
      currentSize += current === "" ? size : 1 + size;
      current = current === "" ? item : current + " " + item;
    }
  }
  groups.push(current);

  return groups.map((group, index) =>
    formatMessage(
      {
        tags: head.tags,
        ...untagged,
        params: [...(index < groups.length - 1 ? moreParams : params), group],
      },
      { trailing: true },
    )
  );
}

/** The UTF-8 length of a string in bytes (a lone surrogate counts as U+FFFD, three bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** A PRIVMSG or NOTICE with text that may be longer than one IRC line. */
export interface TextMessage {
  /** Server tags (e.g. `time`); they do not count against the 512 bytes. */
  tags?: OutgoingMessage["tags"];
  /** The sender as receivers see it: `nick!user@host` (a host that is not the sender's IP). */
  source: string;
  /** Default `PRIVMSG`. */
  command?: "PRIVMSG" | "NOTICE";
  /** `#room` or a nick. */
  target: string;
  text: string;
  /** Send as CTCP ACTION (`/me`): every line is `\x01ACTION chunk\x01`. */
  action?: boolean;
}

/**
 * How many bytes of text fit in one line `:source PRIVMSG target :text\r\n`
 * of {@linkcode MAX_LINE_BYTES} (tags excluded), allowing for the CTCP ACTION
 * wrapping when `action` is set.
 */
export function textBytesPerLine(message: Omit<TextMessage, "text" | "tags">): number {
  const overhead = utf8ByteLength(
    formatMessage({
      source: message.source,
      command: message.command ?? "PRIVMSG",
      params: [message.target, ""],
    }),
  );
  return MAX_LINE_BYTES - overhead -
    (message.action ? CTCP_DELIMITER.length * 2 + ACTION.length + 1 : 0);
}

/**
 * The CRLF lines that deliver `text` to an IRC client, each at most
 * {@linkcode MAX_LINE_BYTES} bytes without its tags: one line when the text
 * fits, otherwise several, split by {@linkcode splitText}. Every line carries
 * the same tags. The text goes out as `:trailing` always.
 */
export function formatTextLines(message: TextMessage): string[] {
  const command = message.command ?? "PRIVMSG";
  return splitText(message.text, textBytesPerLine(message)).map((chunk) =>
    formatMessage(
      {
        tags: message.tags,
        source: message.source,
        command,
        params: [message.target, message.action ? formatCtcpAction(chunk) : chunk],
      },
      { trailing: true },
    )
  );
}

/**
 * Splits text into chunks of at most `maxBytes` UTF-8 bytes; joined, the chunks
 * are the text again (nothing is dropped or added). A text that fits comes back
 * as one chunk (`""` as `[""]`). Chunks end at grapheme-cluster boundaries
 * (Intl.Segmenter), so no chunk ends inside a code point, an emoji sequence or
 * a letter with its combining marks — unless one cluster alone is longer than
 * `maxBytes`, which is then cut between code points. A chunk ends after its
 * last space or tab if that keeps it at least half full; the space stays at
 * the end of the earlier chunk. Throws a RangeError when `maxBytes` < 4 (no
 * room for every code point).
 */
export function splitText(text: string, maxBytes: number): string[] {
  if (!Number.isInteger(maxBytes) || maxBytes < 4) {
    throw new RangeError(
      `Cannot split text into chunks of ${maxBytes} bytes: at least 4 are needed`,
    );
  }
  if (text.length <= maxBytes / 3 || utf8ByteLength(text) <= maxBytes) return [text];

  const chunks: string[] = [];
  let start = 0; // string index where the current chunk begins
  let bytes = 0; // its length so far
  let breakAt = -1; // string index just after its last space, or -1
  let bytesAtBreak = 0;
  for (const { segment, index } of graphemeSegments(text)) {
    const size = utf8ByteLength(segment);
    if (size > maxBytes) {
      if (index > start) chunks.push(text.slice(start, index));
      const pieces = splitCodePoints(segment, maxBytes);
      chunks.push(...pieces.slice(0, -1));
      const rest = pieces[pieces.length - 1];
      start = index + segment.length - rest.length;
      bytes = utf8ByteLength(rest);
      breakAt = -1;
      continue;
    }
    if (bytes + size > maxBytes) {
      // Break after the last space only if that leaves the chunk half full and makes room.
      if (
        breakAt > start && bytesAtBreak * 2 >= maxBytes && bytes - bytesAtBreak + size <= maxBytes
      ) {
        chunks.push(text.slice(start, breakAt));
        bytes -= bytesAtBreak;
        start = breakAt;
      } else {
        chunks.push(text.slice(start, index));
        bytes = 0;
        start = index;
      }
      breakAt = -1;
    }
    bytes += size;
    if (segment === " " || segment === "\t") {
      breakAt = index + segment.length;
      bytesAtBreak = bytes;
    }
  }
  chunks.push(text.slice(start));
  return chunks;
}

function splitCodePoints(cluster: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let piece = "";
  let bytes = 0;
  for (const codePoint of cluster) {
    const size = utf8ByteLength(codePoint);
    if (bytes + size > maxBytes) {
      pieces.push(piece);
      piece = "";
      bytes = 0;
    }
    piece += codePoint;
    bytes += size;
  }
  pieces.push(piece);
  return pieces;
}

/** A CTCP message: `\x01COMMAND params\x01` in a PRIVMSG or NOTICE. */
export interface Ctcp {
  /** As sent (CTCP commands are conventionally upper case); may be "" for `\x01\x01`. */
  command: string;
  /** Everything after the one space following the command; "" when none. */
  params: string;
}

/**
 * The CTCP message in a PRIVMSG/NOTICE text, or null when the text is plain.
 * The closing `\x01` is optional (modern CTCP: "parsers SHOULD accept incoming
 * messages which lack it"). Run it before text cleaning, which removes `\x01`.
 */
export function parseCtcp(text: string): Ctcp | null {
  if (text[0] !== CTCP_DELIMITER) return null;
  const end = text.endsWith(CTCP_DELIMITER) && text.length > 1 ? text.length - 1 : text.length;
  const body = text.slice(1, end);
  const space = body.indexOf(" ");
  return space === -1
    ? { command: body, params: "" }
    : { command: body.slice(0, space), params: body.slice(space + 1) };
}

/** `\x01COMMAND params\x01` (`\x01COMMAND\x01` when `params` is empty). */
export function formatCtcp(command: string, params = ""): string {
  return CTCP_DELIMITER + command + (params === "" ? "" : " " + params) + CTCP_DELIMITER;
}

/** The text of a CTCP ACTION (`/me`), or null when the text is not one. The command is matched case-insensitively. */
export function parseCtcpAction(text: string): string | null {
  const ctcp = parseCtcp(text);
  return ctcp !== null && ctcp.command.toUpperCase() === ACTION ? ctcp.params : null;
}

/** `\x01ACTION text\x01`, the text of a PRIVMSG that IRC clients show as `* nick text`. */
export function formatCtcpAction(text: string): string {
  return formatCtcp(ACTION, text);
}

// deno-lint-ignore no-control-regex -- IRC formatting codes are control characters
const FORMATTING = /[\x02-\x04\x0f\x11\x16\x1d-\x1f]/;
const FORMATTING_ALL =
  // deno-lint-ignore no-control-regex -- IRC formatting codes are control characters
  /\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

/**
 * Removes IRC formatting (modern "IRC Formatting"): bold `\x02`, italics
 * `\x1D`, underline `\x1F`, strikethrough `\x1E`, monospace `\x11`, reverse
 * `\x16`, reset `\x0F`, and colour codes with their digits: `\x03fg[,bg]`
 * (one or two digits each) and `\x04RRGGBB[,RRGGBB]`. A comma that is not
 * part of a colour code stays. Run it before text cleaning, which would remove
 * `\x03` but keep the colour digits as text.
 */
export function stripFormatting(text: string): string {
  return FORMATTING.test(text) ? text.replace(FORMATTING_ALL, "") : text;
}

/**
 * The value of the IRCv3 `time` tag (server-time) for a moment:
 * `YYYY-MM-DDThh:mm:ss.sssZ`, UTC, millisecond precision.
 */
export function formatServerTime(time: Date | number): string {
  return new Date(time).toISOString();
}
