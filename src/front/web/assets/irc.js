/**
 * The IRC wire format, with no state and no I/O: parsing and formatting lines
 * with IRCv3 message tags (and their escaping), sources, ISUPPORT tokens,
 * CTCP ACTION, case folding of names, and splitting long text so each line
 * stays within 512 bytes.
 *
 * @module
 */

/**
 * @typedef {object} IrcMessage
 * @property {Record<string, string>} tags Tag values, unescaped (`""` for a tag without value).
 * @property {string} source The prefix without its `:` (`nick!user@host` or a server name).
 * @property {string} command Upper-cased command or three-digit numeric.
 * @property {string[]} params Parameters, the trailing one included.
 */

const TAG_UNESCAPES = { ":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n" };

/**
 * Unescapes a tag value (IRCv3 message-tags): `\:` `\s` `\\` `\r` `\n`;
 * any other escaped character stands for itself, a lone trailing `\` is dropped.
 * @param {string} value
 * @returns {string}
 */
export function unescapeTag(value) {
  return value.replace(/\\(.?)/gs, (_, c) => TAG_UNESCAPES[c] ?? c);
}

/**
 * Escapes a tag value for sending.
 * @param {string} value
 * @returns {string}
 */
export function escapeTag(value) {
  return value.replace(
    /[\\; \r\n]/g,
    (c) => c === "\\" ? "\\\\" : c === ";" ? "\\:" : c === " " ? "\\s" : c === "\r" ? "\\r" : "\\n",
  );
}

/**
 * Parses one IRC line (without CRLF). Returns null for an empty or commandless line.
 * @param {string} line
 * @returns {IrcMessage | null}
 */
export function parseLine(line) {
  let rest = line.replace(/[\r\n]+$/, "");
  /** @type {Record<string, string>} */
  const tags = {};
  if (rest.startsWith("@")) {
    const end = rest.indexOf(" ");
    if (end < 0) return null;
    for (const part of rest.slice(1, end).split(";")) {
      if (!part) continue;
      const eq = part.indexOf("=");
      if (eq < 0) tags[part] = "";
      else tags[part.slice(0, eq)] = unescapeTag(part.slice(eq + 1));
    }
    rest = rest.slice(end + 1).trimStart();
  }
  let source = "";
  if (rest.startsWith(":")) {
    const end = rest.indexOf(" ");
    if (end < 0) return null;
    source = rest.slice(1, end);
    rest = rest.slice(end + 1).trimStart();
  }
  /** @type {string[]} */
  const params = [];
  while (rest.length > 0) {
    if (rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const end = rest.indexOf(" ");
    if (end < 0) {
      params.push(rest);
      break;
    }
    params.push(rest.slice(0, end));
    rest = rest.slice(end + 1).replace(/^ +/, "");
  }
  const command = (params.shift() ?? "").toUpperCase();
  if (!command) return null;
  return { tags, source, command, params };
}

/**
 * Formats a line to send (without CRLF). CR, LF and NUL are removed from every
 * parameter so nothing can smuggle a second line; the last parameter gets a `:`
 * when it needs one (empty, has a space, starts with `:`) or when `trailing` is set.
 * @param {string} command
 * @param {string[]} [params]
 * @param {Record<string, string>} [tags]
 * @param {boolean} [trailing]
 * @returns {string}
 */
export function formatLine(command, params = [], tags = {}, trailing = false) {
  const clean = params.map((p) => String(p).replace(/[\r\n\0]/g, " "));
  let line = "";
  const tagList = Object.entries(tags).map(([k, v]) => (v === "" ? k : `${k}=${escapeTag(v)}`));
  if (tagList.length > 0) line += `@${tagList.join(";")} `;
  line += command;
  clean.forEach((param, i) => {
    const last = i === clean.length - 1;
    if (last && (trailing || param === "" || param.includes(" ") || param.startsWith(":"))) {
      line += ` :${param}`;
    } else {
      line += ` ${param.replace(/ /g, "")}`;
    }
  });
  return line;
}

/**
 * The nick of a source (`nick!user@host` → `nick`).
 * @param {string} source
 * @returns {string}
 */
export function nickOf(source) {
  const bang = source.indexOf("!");
  const at = source.indexOf("@");
  const end = bang >= 0 ? bang : at >= 0 ? at : source.length;
  return source.slice(0, end);
}

/**
 * Parses a CTCP ACTION (`\x01ACTION waves\x01`); null for anything else.
 * @param {string} text
 * @returns {string | null} the action text
 */
export function parseAction(text) {
  // deno-lint-ignore no-control-regex
  const match = /^\x01ACTION(?: (.*?))?\x01?$/s.exec(text);
  return match ? match[1] ?? "" : null;
}

/**
 * Whether a text is a CTCP request or reply other than ACTION (not shown).
 * @param {string} text
 */
export function isOtherCtcp(text) {
  return text.startsWith("\x01") && parseAction(text) === null;
}

/**
 * Removes mIRC formatting codes (bold, colours, italics, …) and other control
 * characters, which the page does not render.
 * @param {string} text
 * @returns {string}
 */
export function stripFormatting(text) {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/\x03(\d{1,2}(,\d{1,2})?)?|\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?/g, "")
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]/g, "");
}

/**
 * Parses the tokens of one RPL_ISUPPORT (005) line into `into`
 * (`-TOKEN` removes one; values unescaped from `\xHH`).
 * @param {string[]} tokens the 005 parameters between the target and the trailing text
 * @param {Map<string, string>} into
 */
export function parseIsupport(tokens, into) {
  for (const token of tokens) {
    if (token.startsWith("-")) {
      into.delete(token.slice(1).toUpperCase());
      continue;
    }
    const eq = token.indexOf("=");
    const key = (eq < 0 ? token : token.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? "" : token.slice(eq + 1).replace(
      /\\x([0-9a-fA-F]{2})/g,
      (_, hex) => String.fromCharCode(parseInt(hex, 16)),
    );
    into.set(key, value);
  }
}

/**
 * The membership prefixes from ISUPPORT PREFIX (`(ov)@+`): mode letters and
 * their symbols, highest first.
 * @param {string | undefined} value
 * @returns {{ modes: string, symbols: string }}
 */
export function parsePrefix(value) {
  const match = /^\(([^)]*)\)(.*)$/.exec(value ?? "");
  if (!match || match[1].length !== match[2].length) return { modes: "ov", symbols: "@+" };
  return { modes: match[1], symbols: match[2] };
}

/**
 * A folding function for names, as the server compares them (ISUPPORT
 * CASEMAPPING, or UTF8MAPPING/`rfc8265`: Unicode lower case).
 * @param {string | undefined} casemapping
 * @param {string | undefined} utf8mapping
 * @returns {(name: string) => string}
 */
export function caseFolder(casemapping, utf8mapping) {
  if (utf8mapping || casemapping === "rfc8265" || casemapping === "rfc7613") {
    return (name) => name.normalize("NFKC").toLowerCase();
  }
  const ascii = (name) => name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (casemapping === "ascii") return ascii;
  const upper = casemapping === "strict-rfc1459" ? /[[\]\\]/g : /[[\]\\~]/g;
  const map = { "[": "{", "]": "}", "\\": "|", "~": "^" };
  return (name) => ascii(name).replace(upper, (c) => map[c]);
}

const encoder = new TextEncoder();

/**
 * Splits text into pieces of at most `maxBytes` UTF-8 bytes, at word breaks
 * when it can and never inside a character.
 * @param {string} text
 * @param {number} maxBytes
 * @returns {string[]}
 */
export function splitText(text, maxBytes) {
  if (encoder.encode(text).length <= maxBytes) return [text];
  const pieces = [];
  let piece = "";
  let bytes = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > maxBytes) {
      const space = piece.lastIndexOf(" ");
      if (space > piece.length / 2) {
        pieces.push(piece.slice(0, space));
        piece = piece.slice(space + 1);
      } else {
        pieces.push(piece);
        piece = "";
      }
      bytes = encoder.encode(piece).length;
    }
    piece += char;
    bytes += size;
  }
  if (piece) pieces.push(piece);
  return pieces;
}

/**
 * Parses an IRCv3 server-time value; NaN when absent or malformed.
 * @param {string | undefined} value
 * @returns {number} milliseconds since the epoch
 */
export function parseTime(value) {
  return value ? Date.parse(value) : NaN;
}

/**
 * Formats a time as server-time wants it (`2024-01-02T03:04:05.678Z`).
 * @param {number} ms
 */
export function formatTime(ms) {
  return new Date(ms).toISOString();
}

/**
 * UTF-8 text in base64 (for SASL PLAIN).
 * @param {string} text
 */
export function base64(text) {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
