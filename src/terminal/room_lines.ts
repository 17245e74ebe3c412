/**
 * The terminal client's reading of the server's room lines: what a line is
 * for the scrollback (said in a room, or opening a history block), the key
 * that knows a room line again however it comes back (live or replayed), and
 * where the lines not seen yet start in a room's replayed history after a
 * reconnect. Pure functions of lines, used by `ChatView`.
 *
 * @module
 */

import { parseServerLine } from "../protocol/line.ts";

/**
 * Whether a line is a room's message or action, live or replayed (what the
 * server's history holds), or the notice that opens a history block.
 */
export function kindOf(line: string): { said: boolean; opensHistory: boolean } {
  const parsed = parseServerLine(line);
  const kind = parsed.kind;
  return {
    said: kind === "message" || kind === "action" || kind === "history",
    opensHistory: kind === "notice" && parsed.meaning?.about === "history-start",
  };
}

/**
 * What identifies a room line for not showing it twice: the message or
 * action as it was said (`<alice> hi`, `* bob waves`), without the time a
 * replayed line carries; null for every other line.
 */
export function roomLineKey(line: string): string | null {
  const parsed = parseServerLine(line);
  const said = parsed.kind === "history" ? parsed.line : parsed;
  if (said.kind === "message") return `<${said.nick}> ${said.text}`;
  if (said.kind === "action") return `* ${said.nick} ${said.text}`;
  return null;
}

/**
 * Where the lines not seen yet start in `replayed` (a room's history as the
 * server replays it, oldest first), given the room's lines `seen` before,
 * oldest first. The replay is the tail of what was seen followed by what was
 * said since; what was seen may hold more (our own lines the server refused).
 * From the first replayed line that was seen, the replayed lines are matched
 * in order against what was seen after it; the first that cannot be is the
 * first new one. 0 when none of the replay was seen (then it may all be new).
 */
export function unseenFrom(replayed: readonly string[], seen: readonly string[]): number {
  const known = new Set(seen);
  const first = replayed.findIndex((line) => known.has(line));
  if (first === -1) return 0;
  let at = seen.indexOf(replayed[first]);
  let next = first;
  while (next < replayed.length) {
    while (at < seen.length && seen[at] !== replayed[next]) at++;
    if (at === seen.length) break;
    at++;
    next++;
  }
  return next;
}
