/**
 * The line protocol's history commands, rows of the command table
 * (`commands.ts`): earlier messages of the room (`/history`), search, and
 * the room's read marker (`/read`).
 *
 * @module
 */

import type { KeptEvent } from "../../core/history.ts";
import { MAX_HISTORY_REQUEST } from "../../core/history.ts";
import {
  EARLIER_END_TEXT,
  earlierStartText,
  keptLine,
  messageLine,
  noEarlierText,
  privateLine,
  privateSentLine,
  readText,
  SEARCH_END_TEXT,
  searchStartText,
} from "../../protocol/line.ts";
import { nameKey } from "../../protocol/names.ts";
import { problemText } from "../words.ts";
import { type LineContext, NO_ROOM_TEXT, type Rows } from "./line_command.ts";

/** The history commands' kinds. */
type HistoryKind = "history" | "search" | "read";

/** The history, in the order `/help` lists them. */
export const HISTORY_COMMANDS: Pick<Rows, HistoryKind> = {
  history: {
    names: ["history", "more"],
    usage: "/history [N]",
    about: `earlier messages of your room, with times (default 20, at most ${MAX_HISTORY_REQUEST})`,
    parse(args) {
      if (args === "") return { kind: "history", count: 20 };
      const count = /^\d{1,6}$/.test(args) ? Number(args) : 0;
      return count > 0 ? { kind: "history", count: Math.min(count, MAX_HISTORY_REQUEST) } : null;
    },
    async run(context, { count }) {
      const room = context.room;
      if (room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "history",
        target: { room: room.name },
        request: { kind: "before", mark: context.earliest ?? { time: Date.now() }, limit: count },
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      if (reply.kind === "history-unavailable") return context.error(UNAVAILABLE_TEXT);
      if (reply.events.length === 0) return context.notice(noEarlierText(room.name));
      const first = reply.events[0];
      context.earliest = first.id !== undefined ? { msgid: first.id } : { time: first.time };
      context.notice(earlierStartText(reply.events.length, room.name));
      sendKept(context, reply.events);
      context.notice(EARLIER_END_TEXT);
    },
  },
  search: {
    names: ["search"],
    usage: "/search TEXT",
    about: "messages with every word of TEXT: in your room, and your own private ones",
    parse: (args) => args ? { kind: "search", text: args } : null,
    async run(context, { text }) {
      const room = context.room;
      const reply = await context.chat.apply(context.member, {
        kind: "search",
        room: room?.name ?? null,
        text,
        limit: SEARCH_RESULTS,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      if (reply.kind === "history-unavailable") return context.error(UNAVAILABLE_TEXT);
      const words = reply.words.join(" ");
      const where = [
        ...(room ? [`#${room.name}`] : []),
        ...(context.member.account !== null ? ["your private messages"] : []),
      ].join(" and ") || "no room";
      if (reply.events.length === 0) {
        return context.notice(`no messages with "${words}" in ${where}`);
      }
      context.notice(searchStartText(reply.events.length, words, where));
      sendKept(context, reply.events);
      context.notice(SEARCH_END_TEXT);
    },
  },
  read: {
    names: ["read"],
    usage: "/read",
    about: "mark your room read up to now (your other devices count unread from there)",
    parse: () => ({ kind: "read" }),
    async run(context) {
      const room = context.room;
      if (room === null) return context.error(NO_ROOM_TEXT);
      const time = await context.chat.markRead(context.member, `#${room.name}`, "now");
      if (time !== null) context.notice(readText(room.name, time, Date.now()));
    },
  },
};

/** Results `/search` shows at most. */
const SEARCH_RESULTS = 20;

/** What `/history` and `/search` say when the store cannot answer. */
const UNAVAILABLE_TEXT = "the history cannot be read now; try again in a moment";

/** Kept messages as the lines of a block, each with its time. */
function sendKept(context: LineContext, events: readonly KeptEvent[]): void {
  const now = Date.now();
  const mine = context.member.account;
  for (const event of events) {
    let line: string;
    if (event.kind === "message") {
      line = messageLine(event);
    } else if (event.account !== undefined && nameKey(event.account) === mine) {
      line = privateSentLine(event.to, event.text, event.action);
    } else {
      line = privateLine(event.nick, event.text, event.action);
    }
    context.reply(keptLine(line, event.time, now));
  }
}
