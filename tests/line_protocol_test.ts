/**
 * The line protocol's two directions: every server line the front end writes
 * is read back by the parser the terminal client uses, and the renderer's
 * rules (format once per batch, no join notices in huge rooms, history times).
 */

import {
  errorLine,
  HISTORY_END_TEXT,
  historyLine,
  historyStartText,
  historyTime,
  messageLine,
  movedText,
  noticeLine,
  parseServerLine,
  privateSentLine,
  renamedText,
  welcomeText,
} from "../src/protocol/line.ts";
import { ANNOUNCE_LIMIT, eventLine, lineRenderer } from "../src/front/line/render.ts";
import assert from "node:assert/strict";
import type { ChatEvent, MessageEvent } from "../src/core/events.ts";

const base = { time: Date.UTC(2026, 11, 1, 7, 12), origin: "local/1", user: "alice" };
const message: MessageEvent = {
  ...base,
  kind: "message",
  room: "lobby",
  seq: 1,
  nick: "alice",
  text: "hello <b> *you*",
  action: false,
};

Deno.test("line: each server line the front end writes parses back to what it said", () => {
  assert.deepEqual(parseServerLine(messageLine(message)), {
    kind: "message",
    nick: "alice",
    text: "hello <b> *you*",
  });
  assert.deepEqual(parseServerLine(messageLine({ ...message, action: true, text: "waves" })), {
    kind: "action",
    nick: "alice",
    text: "waves",
  });
  const privateEvent: ChatEvent = {
    ...base,
    kind: "private",
    to: "bob",
    nick: "alice",
    text: "psst",
    action: false,
  };
  assert.deepEqual(parseServerLine(eventLine(privateEvent, 1)!), {
    kind: "private",
    nick: "alice",
    text: "psst",
  });
  assert.deepEqual(parseServerLine(privateSentLine("bob", "psst", false)), {
    kind: "private-sent",
    nick: "bob",
    text: "psst",
  });
  assert.deepEqual(parseServerLine(errorLine("no such nick: x")), {
    kind: "error",
    text: "no such nick: x",
  });
  const meaning = (text: string) => {
    const parsed = parseServerLine(noticeLine(text));
    return parsed.kind === "notice" ? parsed.meaning : parsed;
  };
  assert.deepEqual(meaning(welcomeText("guest-7")), { about: "welcome", nick: "guest-7" });
  assert.deepEqual(meaning(renamedText("José")), { about: "renamed", nick: "José" });
  assert.deepEqual(meaning(movedText({ name: "dev", size: 3 })), { about: "moved", room: "dev" });
  assert.deepEqual(meaning(historyStartText(1, "dev")), { about: "history-start" });
  assert.deepEqual(meaning(historyStartText(12, "dev")), { about: "history-start" });
  assert.deepEqual(meaning(HISTORY_END_TEXT), { about: "history-end" });
  assert.equal(meaning("alice joined #dev"), null);
});

Deno.test("line: a replayed line carries the time it was said, today or not", () => {
  const said = new Date(2026, 10, 28, 7, 12).getTime(); // local time
  const sameDay = new Date(2026, 10, 28, 23, 59).getTime();
  const nextDay = new Date(2026, 10, 29, 0, 1).getTime();
  assert.equal(historyTime(said, sameDay), "07:12");
  assert.equal(historyTime(said, nextDay), "11-28 07:12");
  const line = historyLine({ ...message, time: said }, nextDay);
  assert.equal(line, "[11-28 07:12] <alice> hello <b> *you*");
  assert.deepEqual(parseServerLine(line), {
    kind: "history",
    time: "11-28 07:12",
    line: { kind: "message", nick: "alice", text: "hello <b> *you*" },
  });
  // A live line that merely starts with a bracket is not history.
  assert.deepEqual(parseServerLine("[07:12] not a message"), {
    kind: "other",
    text: "[07:12] not a message",
  });
});

Deno.test("line: a batch renders to its lines, encoded once; huge rooms hear no joins or leaves", () => {
  const second = { ...message, seq: 2, text: "again" };
  const bytes = lineRenderer.render([message, second], 3);
  assert.equal(new TextDecoder().decode(bytes!), "<alice> hello <b> *you*\n<alice> again\n");
  const joined: ChatEvent = { ...base, kind: "joined", room: "dev", seq: 3, nick: "bob" };
  assert.equal(
    new TextDecoder().decode(lineRenderer.render([joined], ANNOUNCE_LIMIT - 1)!),
    "*** bob joined #dev\n",
  );
  assert.equal(lineRenderer.render([joined], ANNOUNCE_LIMIT), null);
  const quit: ChatEvent = {
    ...base,
    kind: "quit",
    rooms: ["dev"],
    nick: "bob",
    reason: "quit",
    detail: "gone",
  };
  assert.equal(eventLine(quit, 5), "*** bob left (quit: gone)");
  assert.equal(eventLine(quit, ANNOUNCE_LIMIT), null);
  const renamed: ChatEvent = { ...base, kind: "renamed", rooms: ["dev"], nick: "bob", to: "rob" };
  assert.equal(eventLine(renamed, 10_000), "*** bob is now known as rob", "renames always show");
});
