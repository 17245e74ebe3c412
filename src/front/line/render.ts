/**
 * How line clients see the chat's events: `<alice> hi`, `* alice waves`,
 * `*alice* psst`, and `***` notices for joins, leaves, renames, topics and
 * what the server says. One renderer for every line client: a batch is
 * rendered once and its bytes shared by all of them.
 *
 * @module
 */

import type { ChatEvent, QuitReason } from "../../core/events.ts";
import type { Renderer } from "../../core/records.ts";
import { encodeLine, messageLine, noticeLine, privateSentLine } from "../../protocol/line.ts";
import { modeChangeText, serverNoticeText } from "../words.ts";

/**
 * Joins and leaves are announced only to rooms of fewer others than this: in a
 * room of thousands they would drown the conversation (and cost members ×
 * members lines when everyone arrives).
 */
export const ANNOUNCE_LIMIT = 200;

const encoder = new TextEncoder();

/** Why someone left, as the room is told (`quit`, `quit: gone fishing`, `reset`, …). */
export function quitWhy(reason: QuitReason, detail: string): string {
  // An operator's removal says it all: `kicked by op: spam`, `banned by op`.
  if (reason === "kicked" && detail) return detail;
  return detail ? `${reason}: ${detail}` : reason;
}

/** The line protocol's rendering of an event, or null when line clients are not shown it. */
export function eventLine(event: ChatEvent, audience: number): string | null {
  switch (event.kind) {
    case "message":
      return event.tagmsg ? null : messageLine(event);
    case "private":
      if (event.tagmsg) return null;
      // The sender's copy, on its other devices (issue 23): as the sender sees its own.
      if (event.sent) return privateSentLine(event.to, event.text, event.action);
      return `*${event.nick}* ${event.action ? `* ${event.text}` : event.text}`;
    case "renamed":
      return noticeLine(`${event.nick} is now known as ${event.to}`);
    case "topic":
      return noticeLine(`${event.nick} set the topic of #${event.room}: ${event.text}`);
    case "mode":
      return noticeLine(
        `${event.nick} ${event.changes.map(modeChangeText).join(", ")} in #${event.room}`,
      );
    case "kicked":
      return noticeLine(
        `${event.nick} kicked ${event.target} from #${event.room}${
          event.text && event.text !== event.nick ? ` (${event.text})` : ""
        }`,
      );
    case "invited":
      // The invited member sees it; the room's operators see it on IRC only (invite-notify).
      return event.notify
        ? null
        : noticeLine(`${event.nick} invites you to #${event.room}: /join ${event.room}`);
    case "joined":
      return audience < ANNOUNCE_LIMIT ? noticeLine(`${event.nick} joined #${event.room}`) : null;
    case "left":
      if (audience >= ANNOUNCE_LIMIT) return null;
      return noticeLine(
        event.how === "moved"
          ? `${event.nick} went to #${event.to}`
          : `${event.nick} left #${event.room}${event.text ? ` (${event.text})` : ""}`,
      );
    case "quit":
      return audience < ANNOUNCE_LIMIT
        ? noticeLine(`${event.nick} left (${quitWhy(event.reason, event.detail)})`)
        : null;
    case "notice":
      return noticeLine(serverNoticeText(event.notice));
    case "moderated":
      return null; // an operator's act: carried out, not shown
    case "account":
      // IRC's account-notify: line clients ask with /whois when they want to know.
      return null;
    case "away":
    case "realname":
      // IRC's away-notify and setname: line clients ask with /whois when they want to know.
      return null;
  }
}

/**
 * How line clients see events: each batch becomes its lines, joined, encoded
 * once; every line client of a room shares the bytes.
 */
export const lineRenderer: Renderer = {
  render(events: readonly ChatEvent[], audience: number): Uint8Array | null {
    if (events.length === 1) {
      const line = eventLine(events[0], audience);
      return line === null ? null : encodeLine(line);
    }
    let text = "";
    for (const event of events) {
      const line = eventLine(event, audience);
      if (line !== null) text += line + "\n";
    }
    return text === "" ? null : encoder.encode(text);
  },
};
