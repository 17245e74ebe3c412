/**
 * Names in the chat: what a nickname or a room name may be, the key under
 * which names are compared, and the room everyone starts in. The server and
 * the terminal client share them. Protocol-neutral: problems are codes, and
 * each front end words them.
 *
 * @module
 */

import { invisibleProblem } from "./confusables.ts";

/** The room that always exists: line clients start in it. */
export const LOBBY = "lobby";

/** Longest nickname, in characters. */
export const MAX_NICK = 24;
/**
 * Longest room name, in characters (without IRC's `#`): IRC's channel names are
 * up to 50 with the `#` (RFC 2812 §1.3), and IRC clients and test suites make
 * long ones (irctest's `#chan` and 24 hex digits).
 */
export const MAX_ROOM = 49;

/**
 * Longest room topic, in UTF-8 bytes; a longer one is cut (between
 * characters). Bytes, not characters: an IRC line is 512 bytes, and a
 * topic of 390 bytes leaves room for the rest of RPL_TOPIC whatever script it
 * is written in.
 */
export const MAX_TOPIC_BYTES = 390;

/** Why a name cannot be used. */
export type NameProblem = "empty" | "too-long" | "bad-characters" | "invisible";

const NAME = /^[\p{L}\p{M}\p{N}_.\-]+$/u;

/** Why `nick` cannot be a nickname, or null when it is well formed. */
export function nickProblem(nick: string): NameProblem | null {
  return nameProblem(nick, MAX_NICK);
}

/** Why `room` cannot be a room name, or null when it is well formed. */
export function roomProblem(room: string): NameProblem | null {
  return nameProblem(room, MAX_ROOM);
}

function nameProblem(name: string, max: number): NameProblem | null {
  const length = [...name].length;
  if (length === 0) return "empty";
  if (length > max) return "too-long";
  if (!NAME.test(name)) return "bad-characters";
  // Letters that show nothing (U+3164) and marks that do nothing (U+034F) pass the pattern.
  if (invisibleProblem(name) !== null) return "invisible";
  return null;
}

/**
 * The key under which names are compared: Unicode-normalised (NFC) and
 * case-folded (upper then lower case, so that `Straße` and `STRASSE`, or
 * `ΟΔΟΣ` and `οδοσ`, are the same name).
 */
export function nameKey(name: string): string {
  return name.normalize("NFC").toUpperCase().toLowerCase();
}
