/**
 * The terminal client's view after a reconnect (issue 24: each reconnect
 * replayed the lobby's history and then the room's again) and its line limit
 * (a pasted 5,000-byte line was shown as said, then refused by the server).
 * Pure: the chat view's output, escape sequences taken out.
 */

import assert from "node:assert/strict";
import { ChatView } from "../src/terminal/chat_view.ts";
import { unseenFrom } from "../src/terminal/room_lines.ts";
import type { Key } from "../src/terminal/keys.ts";

const NOON = new Date(2026, 0, 2, 12, 5);

/** What the person reads in `output`: the text of each line printed, without the input line. */
function printed(output: string): string[] {
  // deno-lint-ignore no-control-regex -- taking escape sequences out is the point
  const text = output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  return text.split("\r\n").map((row) => row.replace(/^\r/, "")).filter((row, i, rows) =>
    i < rows.length - 1 && row !== ""
  );
}

function enter(view: ChatView, text: string) {
  const keys: Key[] = [{ type: "paste", text }, { type: "key", name: "enter" }];
  const outcomes = keys.map((key) => view.key(key));
  return {
    send: outcomes.flatMap((outcome) => outcome.send),
    shown: outcomes.flatMap((outcome) => printed(outcome.output)),
  };
}

Deno.test("unseenFrom: where the lines not seen yet start in a replay", () => {
  const seen = ["<a> 1", "<b> 2", "<a> ok", "<c> 3"];
  assert.equal(unseenFrom(["<b> 2", "<a> ok", "<c> 3"], seen), 3, "all seen");
  assert.equal(unseenFrom(["<a> ok", "<c> 3", "<d> new"], seen), 2, "one new at the end");
  assert.equal(unseenFrom(["<x> 0", "<y> 0"], seen), 0, "nothing of it seen");
  assert.equal(unseenFrom(["<a> 1"], []), 0, "nothing seen at all");
  // A line said again after we left is new, though its words were seen before.
  assert.equal(unseenFrom(["<b> 2", "<a> ok", "<c> 3", "<a> ok"], seen), 3);
  // Our own line the server refused (seen, never in its history) does not stop the match.
  assert.equal(
    unseenFrom(["<a> 1", "<c> 3", "<d> new"], ["<a> 1", "<me> refused", "<c> 3"]),
    2,
  );
});

/** A view that was in #dev with some history, then went offline. */
function wasInDev(): ChatView {
  const view = new ChatView({ columns: 200, color: false, name: "ann", clock: () => NOON });
  view.received([
    "*** welcome to parley, you are ann",
    "*** 2 online, 2 in #lobby; /nick NAME to change your name, /help for commands",
    "*** last 2 messages in #lobby:",
    "[11:00] <bob> lobby one",
    "[11:01] <bob> lobby two",
    "*** end of history; new messages follow",
  ]);
  enter(view, "/join dev");
  view.received([
    "*** you are now in #dev (2 here)",
    "*** last message in #dev:",
    "[11:30] <bob> dev one",
    "*** end of history; new messages follow",
    "<bob> dev two",
  ]);
  enter(view, "my own line");
  view.received(["* bob nods"]);
  view.online = false;
  return view;
}

/** What a parley server sends after `--reconnect` sends `/nick ann` and `/join dev`. */
function replay(devHistory: string[]): string[] {
  return [
    "*** welcome to parley, you are ann",
    "*** 2 online, 2 in #lobby; /nick NAME to change your name, /help for commands",
    "*** last 3 messages in #lobby:",
    "[11:00] <bob> lobby one",
    "[11:01] <bob> lobby two",
    "[12:01] <carol> lobby three",
    "*** end of history; new messages follow",
    "*** you are now in #dev (2 here)",
    `*** last ${devHistory.length} messages in #dev:`,
    ...devHistory,
    "*** end of history; new messages follow",
  ];
}

Deno.test("rejoin: the lobby's replay is not shown on the way back to #dev, nor #dev's seen lines", () => {
  const view = wasInDev();
  view.online = true;
  assert.deepEqual(view.rejoin(), ["/nick ann", "/join dev"]);
  const shown = printed(view.received(replay([
    "[11:30] <bob> dev one",
    "[12:02] <bob> dev two",
    "[12:03] <ann> my own line",
    "[12:03] * bob nods",
    "[12:04] <carol> said while ann was away",
  ])));
  assert.deepEqual(shown, [
    "12:05 *** welcome to parley, you are ann",
    "12:05 *** 2 online, 2 in #lobby; /nick NAME to change your name, /help for commands",
    "12:05 *** you are now in #dev (2 here)",
    "12:05 -- missed in #dev while away:",
    "12:04 <carol> said while ann was away",
  ]);
  // Live lines after it are shown as ever, and the next rejoin knows the missed line too.
  assert.deepEqual(printed(view.received(["<carol> live again"])), ["12:05 <carol> live again"]);
  view.online = false;
  view.online = true;
  view.rejoin();
  const again = printed(view.received(replay([
    "[12:04] <carol> said while ann was away",
    "[12:05] <carol> live again",
  ])));
  assert.equal(again.at(-1), "12:05 -- nothing missed in #dev");
  assert.ok(!again.some((row) => /<\w+> lobby/.test(row)), again.join("\n"));
});

Deno.test("rejoin: in the lobby, its own replay is read against what was seen", () => {
  const view = new ChatView({ columns: 200, color: false, name: "ann", clock: () => NOON });
  view.received(["*** welcome to parley, you are ann", "<bob> hi"]);
  view.rejoin();
  const shown = printed(view.received([
    "*** welcome to parley, you are ann",
    "*** last 2 messages in #lobby:",
    "[12:00] <bob> hi",
    "[12:04] <bob> still there?",
    "*** end of history; new messages follow",
  ]));
  assert.deepEqual(shown.slice(1), [
    "12:05 -- missed in #lobby while away:",
    "12:04 <bob> still there?",
  ]);
});

Deno.test("rejoin: a replay that holds nothing seen is shown as the server sent it", () => {
  const view = wasInDev();
  view.rejoin();
  const rows = ["[12:01] <dan> a", "[12:02] <dan> b"];
  const shown = printed(view.received(replay(rows)));
  assert.deepEqual(shown.slice(-4), [
    "12:05 *** last 2 messages in #dev:",
    "12:01 <dan> a",
    "12:02 <dan> b",
    "12:05 *** end of history; new messages follow",
  ]);
});

Deno.test("rejoin: typing ends it; a later /join shows its room's history whole", () => {
  const view = wasInDev();
  view.rejoin();
  view.received(["*** welcome to parley, you are ann"]);
  enter(view, "/join ops");
  const shown = printed(view.received([
    "*** you are now in #ops (1 here)",
    "*** last message in #ops:",
    "[10:00] <bob> ops",
    "*** end of history; new messages follow",
  ]));
  assert.ok(shown.includes("12:05 *** last message in #ops:"), shown.join("\n"));
});

Deno.test("a line longer than the server takes is refused before it is sent or shown as said", () => {
  const view = new ChatView({ columns: 120, color: false, name: "ann", clock: () => NOON });
  view.received(["*** welcome to parley, you are ann"]);
  const long = enter(view, "Q".repeat(5000));
  assert.deepEqual(long.send, [], "not sent");
  assert.deepEqual(long.shown, [
    "12:05 !!! line too long (5000 bytes; the server takes at most 4096): not sent (↑ brings it back)",
  ]);
  // ↑ brings it back to be cut down.
  assert.equal(view.key({ type: "key", name: "up" }).output.includes("QQQ"), true);
  view.editor.set("");
  // Bytes, not characters: 1,366 × 3 bytes is over 4096.
  assert.deepEqual(enter(view, "你".repeat(1366)).send, []);
  assert.deepEqual(enter(view, "你".repeat(1365)).send, ["你".repeat(1365)]);
  assert.deepEqual(enter(view, "Q".repeat(4096)).send, ["Q".repeat(4096)]);
});

Deno.test("the line limit is learned from the welcome, or from the server's refusal", () => {
  const announced = new ChatView({ columns: 120, color: false, clock: () => NOON });
  announced.received([
    "*** welcome to parley, you are guest-1",
    "*** this server takes lines of up to 100 bytes",
  ]);
  assert.deepEqual(enter(announced, "x".repeat(101)).send, []);
  assert.deepEqual(enter(announced, "x".repeat(100)).send, ["x".repeat(100)]);
  const refused = new ChatView({ columns: 120, color: false, clock: () => NOON });
  refused.received(["*** welcome to parley, you are guest-1"]);
  assert.deepEqual(enter(refused, "x".repeat(300)).send, ["x".repeat(300)]);
  refused.received(["!!! line too long (over 200 bytes); it was dropped"]);
  const second = enter(refused, "x".repeat(300));
  assert.deepEqual(second.send, []);
  assert.match(second.shown[0], /at most 200\): not sent/);
});
