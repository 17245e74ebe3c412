/**
 * Scrolling back in the terminal client, with no terminal: the scrollback
 * model (rows, the view, lines added below and put in above), and the chat
 * view played into a virtual terminal against a fake room that answers
 * `/history N` as the server does, to see what a person would see.
 */

import assert from "node:assert/strict";
import { nickColor } from "../src/colors.ts";
import { ChatView, HISTORY_STEP } from "../src/terminal/chat_view.ts";
import { type Key, KeyDecoder, type KeyName } from "../src/terminal/keys.ts";
import { Scrollback, type ShownLine } from "../src/terminal/scrollback.ts";
import { wrapStyled } from "../src/terminal/screen.ts";
import { displayWidth } from "../src/terminal/width.ts";
import { VirtualTerminal } from "./virtual_terminal.ts";

const NOON = new Date(2026, 10, 28, 12, 5);
const clock = () => NOON;

function key(name: KeyName): Key {
  return { type: "key", name };
}

/** `text` without its SGR sequences. */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex -- removing escape sequences is the point
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

Deno.test("scroll: wrapStyled cuts rows where a terminal wraps, styles carried over", () => {
  assert.deepEqual(wrapStyled("", 10), [""]);
  assert.deepEqual(wrapStyled("0123456789", 10), ["0123456789"], "exactly the width: one row");
  assert.deepEqual(wrapStyled("0123456789ab", 10), ["0123456789", "ab"]);
  // A wide character that would straddle the edge goes to the next row whole.
  assert.deepEqual(wrapStyled("abc你好世", 6), ["abc你", "好世"]);
  assert.deepEqual(wrapStyled("ab👍🏽cd", 3), ["ab", "👍🏽c", "d"]);
  // A style that spans the edge is closed at the end of the row and opened again.
  const rows = wrapStyled("12:00 \x1b[36m*** a notice\x1b[39m", 10);
  assert.deepEqual(rows.map(plain), ["12:00 *** ", "a notice"]);
  assert.equal(rows[0], "12:00 \x1b[36m*** \x1b[0m");
  assert.equal(rows[1], "\x1b[36ma notice\x1b[39m");
  for (const row of wrapStyled("x".repeat(7) + "\x1b[1m你好\x1b[22m yes", 8)) {
    assert.ok(displayWidth(plain(row)) <= 8, row);
  }
});

/** One-row lines `line 1` … `line n` of stay 1. */
function numbered(from: number, to: number, said = true): ShownLine[] {
  const lines: ShownLine[] = [];
  for (let n = from; n <= to; n++) lines.push({ text: `line ${n}`, said, stay: 1 });
  return lines;
}

Deno.test("scroll: the view pages up and down, holds its text while lines come below and go in above", () => {
  const scrollback = new Scrollback({ columns: 20 });
  scrollback.append(numbered(11, 40));
  assert.equal(scrollback.scrolled, false);
  assert.deepEqual(scrollback.view(3), ["line 38", "line 39", "line 40"], "live: the newest");

  assert.equal(scrollback.up(5, 3), 0);
  assert.deepEqual(scrollback.view(3), ["line 33", "line 34", "line 35"]);
  assert.equal(scrollback.below, 5);

  // New lines below do not move it, and are counted.
  scrollback.append(numbered(41, 43));
  assert.deepEqual(scrollback.view(3), ["line 33", "line 34", "line 35"]);
  assert.equal(scrollback.newBelow, 3);
  assert.equal(scrollback.below, 8);

  // Older lines put in above keep it on the same text.
  assert.equal(scrollback.insert(0, numbered(1, 10)), 10);
  assert.deepEqual(scrollback.view(3), ["line 33", "line 34", "line 35"]);
  assert.equal(scrollback.topLine(3), 32, "line 33 is the 33rd line now");

  // At the top it says how many rows it could not go.
  assert.equal(scrollback.up(40, 3), 8, "40 up from line 35 with 3 in view: 8 short");
  assert.deepEqual(scrollback.view(3), ["line 1", "line 2", "line 3"]);
  assert.equal(scrollback.up(5, 3), 5);

  scrollback.down(4);
  assert.deepEqual(scrollback.view(3), ["line 5", "line 6", "line 7"]);
  scrollback.down(1000);
  assert.equal(scrollback.scrolled, false, "down to the newest row is live again");
  assert.equal(scrollback.newBelow, 0);
  assert.deepEqual(scrollback.view(3), ["line 41", "line 42", "line 43"]);
});

Deno.test("scroll: rows are the terminal's rows; a resize measures them again", () => {
  const scrollback = new Scrollback({ columns: 10 });
  scrollback.append([
    { text: "first", said: false, stay: 1 },
    { text: "0123456789abcdefghij-wrapped", said: true, stay: 1 },
    { text: "last", said: true, stay: 1 },
  ]);
  assert.deepEqual(scrollback.view(4), ["0123456789", "abcdefghij", "-wrapped", "last"]);
  assert.equal(scrollback.up(2, 2), 0);
  assert.deepEqual(
    scrollback.view(2),
    ["0123456789", "abcdefghij"],
    "a line can be cut by the edge",
  );
  scrollback.columns = 30;
  assert.deepEqual(scrollback.view(2), ["first", "0123456789abcdefghij-wrapped"]);
});

Deno.test("scroll: bounded: the oldest lines go; older lines go in only while there is room", () => {
  const scrollback = new Scrollback({ columns: 20, limit: 10 });
  scrollback.append(numbered(1, 8));
  assert.equal(scrollback.insert(0, numbered(-4, 0)), 2, "room for two: the newest two");
  assert.deepEqual(
    Array.from({ length: scrollback.length }, (_, i) => scrollback.line(i)!.text).slice(0, 3),
    ["line -1", "line 0", "line 1"],
  );
  scrollback.up(3, 2);
  const shown = scrollback.view(2);
  scrollback.append(numbered(9, 12));
  assert.equal(scrollback.length, 10);
  assert.deepEqual(scrollback.view(2), shown, "dropping the oldest keeps the view on its text");
  assert.equal(scrollback.line(0)!.text, "line 3");
});

Deno.test("scroll: where older lines go: before the stay's first said line", () => {
  const scrollback = new Scrollback({ columns: 20 });
  scrollback.append([
    { text: "-- connected", said: false, stay: 0 },
    { text: "*** welcome", said: false, stay: 1 },
    { text: "<a> lobby", said: true, stay: 1 },
    { text: "*** you are now in #dev", said: false, stay: 2 },
    { text: "*** last 2 messages in #dev:", said: false, stay: 2 },
  ]);
  assert.equal(scrollback.insertionPoint(2), 5, "nothing said yet: after the stay's lines");
  scrollback.append([{ text: "07:00 <b> old", said: true, stay: 2 }]);
  scrollback.append([{ text: "07:01 <b> new", said: true, stay: 2 }]);
  assert.equal(scrollback.insertionPoint(2), 5);
  assert.equal(scrollback.insertionPoint(1), null, "an earlier stay is not asked about");
});

/** Room messages 1 … total, one a minute from 07:00, and a room that answers `/history N`. */
class FakeRoom {
  /** The oldest message this client was shown, as the server keeps it. */
  oldest: number;
  readonly asked: number[] = [];

  constructor(readonly name: string, readonly total: number, readonly replay: number) {
    this.oldest = total + 1;
  }

  static line(n: number): string {
    const minutes = 7 * 60 + n;
    const two = (value: number) => String(value).padStart(2, "0");
    return `[${two(Math.floor(minutes / 60) % 24)}:${two(minutes % 60)}] <bob> message ${
      String(n).padStart(3, "0")
    }`;
  }

  /** The replay on entering: the last `replay` messages in a history block. */
  enter(): string[] {
    const from = this.total - this.replay + 1;
    this.oldest = from;
    return [
      `*** last ${this.replay} messages in #${this.name}:`,
      ...this.#lines(from, this.total),
      "*** end of history; new messages follow",
    ];
  }

  /** The answer to `/history N`, worded as the server words it. */
  answer(command: string): string[] {
    const count = Number(/^\/history (\d+)$/.exec(command)![1]);
    this.asked.push(count);
    const from = Math.max(1, this.oldest - count);
    if (from >= this.oldest) return [`*** no earlier messages in #${this.name}`];
    const to = this.oldest - 1;
    this.oldest = from;
    return [
      `*** ${to - from + 1} earlier messages in #${this.name}:`,
      ...this.#lines(from, to),
      "*** end of earlier messages",
    ];
  }

  #lines(from: number, to: number): string[] {
    const lines = [];
    for (let n = from; n <= to; n++) lines.push(FakeRoom.line(n));
    return lines;
  }
}

/** A plain view 40 × 12 in a virtual terminal, welcomed into the lobby with its replay. */
function setUp(room = new FakeRoom("lobby", 300, 50), { columns = 60, height = 12 } = {}) {
  const terminal = new VirtualTerminal(columns, height);
  const view = new ChatView({ columns, rows: height, color: false, name: "ann", clock });
  const sent: string[] = [];
  terminal.write(view.draw());
  terminal.write(view.status("connected to 127.0.0.1:12000"));
  terminal.write(view.received([
    "*** welcome to parley, you are guest-1",
    "*** 2 online, 2 in #lobby; /nick NAME to change your name, /help for commands",
    ...room.enter(),
  ]));
  terminal.write(view.received(["*** you are now ann"]));
  const press = (...names: KeyName[]) => {
    for (const name of names) {
      const outcome = view.key(key(name));
      terminal.write(outcome.output);
      sent.push(...outcome.send);
    }
  };
  /** What the server answers to what was sent, delivered in one read. */
  const serve = () => {
    const lines = sent.splice(0).flatMap((line) => room.answer(line));
    if (lines.length) terminal.write(view.received(lines));
  };
  return { terminal, view, press, sent, serve, room };
}

/** The message numbers on the screen's rows, top to bottom. */
function numbersOn(rows: string[]): number[] {
  return rows.flatMap((row) => {
    const match = /<bob> message (\d+)$/.exec(row);
    return match ? [Number(match[1])] : [];
  });
}

Deno.test("chat view: PageUp shows the page before; new lines do not move it; the marker counts them; End returns to live", () => {
  const { terminal, view, press } = setUp();
  const live = terminal.lines;
  assert.equal(live[11], "ann>");
  assert.equal(live[10], "12:05 *** you are now ann");
  assert.deepEqual(numbersOn(live), [292, 293, 294, 295, 296, 297, 298, 299, 300]);

  press("page-up");
  // 10 rows of lines, the marker, the input line; the last row was the top one before.
  const page = terminal.lines;
  assert.deepEqual(numbersOn(page.slice(0, 10)), [
    283,
    284,
    285,
    286,
    287,
    288,
    289,
    290,
    291,
    292,
  ]);
  assert.equal(page[0], "11:43 <bob> message 283", "a history line shows the time it was said");
  assert.equal(page[10], "-- 10 lines below; End returns to live");
  assert.equal(page[11], "ann>");

  // Messages arrive: the page stays, the marker says so.
  terminal.write(view.received(["<carol> are you there?"]));
  assert.deepEqual(terminal.lines.slice(0, 10), page.slice(0, 10));
  assert.equal(terminal.row(10), "-- 1 new line below; End returns to live");
  terminal.write(view.received(["<carol> hello?", "* carol waves"]));
  assert.deepEqual(terminal.lines.slice(0, 10), page.slice(0, 10));
  assert.equal(terminal.row(10), "-- 3 new lines below; End returns to live");
  assert.equal(terminal.row(11), "ann>");
  assert.deepEqual([terminal.x, terminal.y], [5, 11], "the cursor stays on the input line");

  press("page-up");
  assert.deepEqual(numbersOn(terminal.lines.slice(0, 10)), [
    274,
    275,
    276,
    277,
    278,
    279,
    280,
    281,
    282,
    283,
  ]);
  press("page-down");
  assert.deepEqual(terminal.lines.slice(0, 10), page.slice(0, 10));

  press("end");
  assert.equal(view.scrollback.scrolled, false);
  assert.deepEqual(terminal.lines, [
    ...live.slice(3, 11),
    "12:05 <carol> are you there?",
    "12:05 <carol> hello?",
    "12:05 * carol waves",
    "ann>",
  ]);
  // Live again: the next line prints above the input line and the screen scrolls.
  terminal.write(view.received(["<carol> ok"]));
  assert.equal(terminal.row(10), "12:05 <carol> ok");
  assert.equal(terminal.row(11), "ann>");
  // PageDown while live does nothing.
  press("page-down");
  assert.equal(terminal.row(11), "ann>");
  assert.equal(view.scrollback.scrolled, false);
});

Deno.test("chat view: paging back past what it has asks the server quietly; every line once, in order, with its time; the start said once", () => {
  const { terminal, view, press, sent, serve, room } = setUp();
  view.editor.set("half a line");
  terminal.write(view.draw());
  /** Every message number seen on a page, in order from the newest page back. */
  const pages: number[][] = [numbersOn(terminal.lines)];
  const start = "12:05 -- nothing older in #lobby";
  for (let i = 0; i < 60 && !terminal.lines.includes(start); i++) {
    press("page-up");
    // Whatever was asked is answered before the next key (the server is quick).
    serve();
    pages.push(numbersOn(terminal.lines.slice(0, 10)));
    assert.equal(terminal.row(11), "ann> half a line", "the input line is kept");
  }
  // The top: the client's first lines, the start of the room said once, its first message.
  assert.deepEqual(terminal.lines.slice(0, 6), [
    "12:05 -- connected to 127.0.0.1:12000",
    "12:05 *** welcome to parley, you are guest-1",
    "12:05 *** 2 online, 2 in #lobby; /nick NAME to change your n",
    "ame, /help for commands",
    start,
    "07:01 <bob> message 001",
  ]);
  assert.ok(room.asked.every((count) => count === HISTORY_STEP), `asked ${room.asked}`);
  assert.equal(room.asked.length, 4, "250 older lines in steps of 100, and the last empty answer");
  assert.deepEqual(view.editor.history, [], "the requests are not in ↑ history");
  assert.equal(view.editor.text, "half a line");

  // Page by page, each page ends where the one after it begins (a row kept for context).
  for (let i = 1; i < pages.length; i++) {
    const [later, earlier] = [pages[i - 1], pages[i]];
    if (earlier.length === 0 || later.length === 0) continue;
    assert.ok(earlier[earlier.length - 1] >= later[0] - 1, `page ${i}: ${earlier} then ${later}`);
  }
  const seen = [...new Set(pages.flat())].sort((a, b) => a - b);
  assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => i + 1), "every line was on a page");

  // What the client keeps: every line once, in order, each with the time it was said.
  const kept: string[] = [];
  for (let i = 0; i < view.scrollback.length; i++) kept.push(view.scrollback.line(i)!.text);
  const messages = kept.filter((line) => line.includes("<bob> message"));
  assert.deepEqual(
    messages,
    Array.from({ length: 300 }, (_, i) => FakeRoom.line(i + 1).replace(/^\[(.*?)\] /, "$1 ")),
  );
  assert.equal(kept.filter((line) => line === start).length, 1);
  assert.equal(kept[kept.indexOf(start) + 1], "07:01 <bob> message 001");
  assert.equal(
    kept[kept.indexOf("11:10 <bob> message 250") + 1],
    "12:05 *** last 50 messages in #lobby:",
    "the replay's notice stays where the client joined",
  );

  // At the start, PageUp asks no more and says nothing more.
  press("page-up", "page-up");
  assert.deepEqual(sent, []);
  assert.equal(terminal.row(4), start);

  // End: back to the newest lines, the input line as it was.
  press("end");
  assert.equal(terminal.row(terminal.height - 1), "ann> half a line");
  assert.equal(terminal.row(terminal.height - 2), "12:05 *** you are now ann");
});

Deno.test("chat view: an answer keeps the view on what the person was reading", () => {
  const { terminal, press, sent, serve } = setUp(new FakeRoom("lobby", 300, 20));
  // The first PageUp shows the page before; its top is near the replay's start: it asks.
  press("page-up");
  assert.deepEqual(sent, [`/history ${HISTORY_STEP}`]);
  const reading = terminal.lines.slice(0, 10);
  assert.deepEqual(numbersOn(reading), [283, 284, 285, 286, 287, 288, 289, 290, 291, 292]);
  serve();
  assert.deepEqual(terminal.lines.slice(0, 10), reading, "the older lines go above, out of view");
  // The next PageUp shows them, the replay's notice where the client joined.
  press("page-up");
  assert.deepEqual(terminal.lines.slice(0, 10), [
    "11:35 <bob> message 275",
    "11:36 <bob> message 276",
    "11:37 <bob> message 277",
    "11:38 <bob> message 278",
    "11:39 <bob> message 279",
    "11:40 <bob> message 280",
    "12:05 *** last 20 messages in #lobby:",
    "11:41 <bob> message 281",
    "11:42 <bob> message 282",
    "11:43 <bob> message 283",
  ]);
});

Deno.test("chat view: PageUp at the top while older lines are on their way moves once they come", () => {
  const { terminal, press, sent, serve } = setUp(new FakeRoom("lobby", 300, 2));
  press("page-up");
  assert.deepEqual(sent, [`/history ${HISTORY_STEP}`]);
  assert.equal(terminal.row(10), "-- asking for older lines; End returns to live");
  press("page-up");
  assert.deepEqual(sent, [`/history ${HISTORY_STEP}`], "asked once");
  serve();
  // The older lines fill the screen above the replay's notice, where the view stood.
  assert.deepEqual(numbersOn(terminal.lines.slice(0, 9)), [
    290,
    291,
    292,
    293,
    294,
    295,
    296,
    297,
    298,
  ]);
  assert.equal(terminal.row(9), "12:05 *** last 2 messages in #lobby:");
  assert.equal(terminal.row(10), "-- 4 lines below; End returns to live");
});

Deno.test("chat view: a server without /history says so once and is not asked again", () => {
  const { terminal, view, press, sent } = setUp(new FakeRoom("lobby", 300, 12));
  press("page-up");
  assert.deepEqual(sent.splice(0), [`/history ${HISTORY_STEP}`]);
  terminal.write(view.received(["!!! unknown command /history (try /help)"]));
  press("page-up", "page-up", "page-up");
  assert.deepEqual(sent, []);
  const kept: string[] = [];
  for (let i = 0; i < view.scrollback.length; i++) kept.push(view.scrollback.line(i)!.text);
  assert.equal(kept.filter((line) => line.includes("cannot send older lines")).length, 1);
  assert.equal(
    kept[kept.indexOf("12:05 -- this server cannot send older lines") + 1],
    "12:05 *** last 12 messages in #lobby:",
    "said above the replay",
  );
  assert.ok(!terminal.text.includes("unknown command"), "the server's answer is not shown");
});

Deno.test("chat view: older lines that cannot be read now: the marker says so, and the next PageUp asks again", () => {
  const { terminal, view, press, sent, serve } = setUp(new FakeRoom("lobby", 300, 2));
  press("page-up");
  assert.deepEqual(sent.splice(0), [`/history ${HISTORY_STEP}`]);
  const page = terminal.lines.slice(0, 10);
  terminal.write(
    view.received(["!!! the history cannot be read now; try again in a moment", "<carol> hi"]),
  );
  assert.deepEqual(terminal.lines.slice(0, 10), page, "the view does not move");
  assert.equal(terminal.row(10), "-- 1 new line below; older lines cannot be read now");
  assert.ok(!terminal.text.includes("cannot be read now; try"), "the error is not printed");
  press("page-up");
  assert.deepEqual(sent, [`/history ${HISTORY_STEP}`]);
  serve();
  assert.deepEqual(
    numbersOn(terminal.lines.slice(0, 9)),
    [290, 291, 292, 293, 294, 295, 296, 297, 298],
  );
});

Deno.test("chat view: a room change: an answer about the room left is shown as it comes; the new room is asked about anew", () => {
  const { terminal, view, press, sent } = setUp(new FakeRoom("lobby", 300, 12));
  press("page-up");
  assert.deepEqual(sent.splice(0), [`/history ${HISTORY_STEP}`]);
  const dev = new FakeRoom("dev", 40, 5);
  // The person had typed /join dev just before: the server moves first, then answers about #dev.
  terminal.write(view.received(["*** you are now in #dev (2 here)", ...dev.enter()]));
  press("end");
  assert.equal(terminal.row(terminal.height - 2), "12:05 *** end of history; new messages follow");
  assert.equal(terminal.row(terminal.height - 8), "12:05 *** last 5 messages in #dev:");
  // Asked about #dev from now on; its lines go above #dev's replay, not above the lobby's.
  press("page-up");
  assert.deepEqual(sent.splice(0), [`/history ${HISTORY_STEP}`]);
  terminal.write(view.received(dev.answer(`/history ${HISTORY_STEP}`)));
  const kept: string[] = [];
  for (let i = 0; i < view.scrollback.length; i++) kept.push(view.scrollback.line(i)!.text);
  const joined = kept.indexOf("12:05 *** you are now in #dev (2 here)");
  const header = kept.indexOf("12:05 *** last 5 messages in #dev:");
  assert.ok(joined > 0 && header === joined + 36, kept.join("\n"));
  assert.equal(kept[joined + 1], "07:01 <bob> message 001", "#dev's older lines after its notice");
  assert.equal(kept[joined + 35], "07:35 <bob> message 035");
  assert.equal(kept[header + 1], "07:36 <bob> message 036", "then the replay, under its notice");
  assert.ok(kept.slice(0, joined).every((line) => !line.includes("#dev")));
});

Deno.test("chat view: typing while scrolled back; Enter sends, and the own line is counted below", () => {
  const { terminal, view, press, sent } = setUp(new FakeRoom("lobby", 300, 50));
  press("page-up", "page-up");
  const reading = terminal.lines.slice(0, 10);
  for (const char of "hi 你好") terminal.write(view.key({ type: "text", text: char }).output);
  assert.equal(terminal.row(11), "ann> hi 你好");
  press("left", "backspace");
  assert.equal(terminal.row(11), "ann> hi 好");
  press("enter");
  assert.deepEqual(sent.filter((line) => !line.startsWith("/history")), ["hi 好"]);
  assert.deepEqual(terminal.lines.slice(0, 10), reading);
  assert.equal(terminal.row(10), "-- 1 new line below; End returns to live");
  assert.equal(terminal.row(11), "ann>");
  press("up");
  assert.equal(terminal.row(11), "ann> hi 好", "↑ works while scrolled back");
  press("end");
  assert.equal(terminal.row(10), "12:05 <ann> hi 好");
  assert.equal(terminal.row(11), "ann> hi 好", "End back to live; the recalled line stays");
});

Deno.test("chat view: wide characters and colours in the scrolled view, wrapped as the terminal wraps them", () => {
  const columns = 20;
  const terminal = new VirtualTerminal(columns, 8);
  const view = new ChatView({ columns, rows: 8, color: true, name: "ann", clock });
  terminal.write(view.draw());
  terminal.write(view.received(["*** welcome to parley, you are ann"]));
  const said = "你好世界，这是一条很长的消息 👍🏽";
  terminal.write(view.received([`<李雷> ${said}`]));
  for (let n = 1; n <= 8; n++) terminal.write(view.received([`<bob> ${n}`]));
  const printed = terminal.scrolledOff.concat(terminal.lines);
  const from = printed.findIndex((row) => row.includes("<李雷>"));
  const wrapped = printed.slice(from, from + 3);
  assert.equal(
    plain(wrapped.join("")).replaceAll(" ", ""),
    `12:05<李雷>${said}`.replaceAll(" ", ""),
  );

  let output = "";
  for (let i = 0; i < 4; i++) terminal.write(output = view.key(key("page-up")).output);
  // The scrolled view draws the long line in the same rows the terminal wrapped it into.
  const rows = terminal.lines;
  const at = rows.findIndex((row) => row.includes("<李雷>"));
  assert.deepEqual(rows.slice(at, at + 3), wrapped, rows.join("\n"));
  for (const row of rows) assert.ok(displayWidth(row) <= columns, row);
  // In colour, as it was printed: the dim time, the nick's colour, the yellow marker.
  assert.ok(output.includes("\x1b[2m12:05\x1b[22m <"), "the time dim");
  assert.ok(output.includes(nickColor("李雷", true)("李雷")), "the nick's colour");
  assert.ok(output.includes("\x1b[33m-- 5 lines below"), "the marker yellow");
});

Deno.test("chat view: a resize draws the scrolled view again for the new size; leaving while scrolled back leaves the newest lines on the screen", () => {
  const { terminal, view, press } = setUp();
  press("page-up");
  const narrow = new VirtualTerminal(30, 8);
  narrow.write(view.resize(30, 8));
  assert.equal(narrow.row(7), "ann>");
  assert.match(narrow.row(6), /^-- \d+ lines below$/, "no room to say more");
  assert.equal(numbersOn(narrow.lines.slice(0, 6)).length, 6);
  for (const row of narrow.lines) assert.ok(displayWidth(row) <= 30, row);
  terminal.write(view.resize(40, 12));
  const goodbye = new VirtualTerminal(40, 12);
  goodbye.write(view.clear());
  assert.equal(goodbye.row(10), "12:05 *** you are now ann");
  assert.equal(goodbye.row(11), "", "the input line erased");
  assert.equal(view.scrollback.scrolled, false);
});

Deno.test("chat view: PageUp with everything on the screen and nothing to ask does nothing", () => {
  const terminal = new VirtualTerminal(40, 12);
  const view = new ChatView({ columns: 40, rows: 12, color: false, clock });
  terminal.write(view.draw());
  terminal.write(view.received(["*** welcome to parley, you are guest-1"]));
  view.online = false;
  const outcome = view.key(key("page-up"));
  assert.deepEqual(outcome, { output: "", send: [], leave: null });
  assert.equal(view.scrollback.scrolled, false);
});

Deno.test("keys: PageUp, PageDown and End with Shift or Ctrl, as xterm and rxvt send them", () => {
  const decode = (bytes: string) =>
    new KeyDecoder().push(new TextEncoder().encode(bytes)).map((k) =>
      k.type === "key" ? k.name : `${k.type}:${k.text}`
    );
  assert.deepEqual(decode("\x1b[5;2~\x1b[6;2~\x1b[5;5~\x1b[1;5F\x1b[1;2F"), [
    "page-up",
    "page-down",
    "page-up",
    "end",
    "end",
  ]);
  assert.deepEqual(decode("\x1b[5$\x1b[6$\x1b[5^\x1b[8$x"), [
    "page-up",
    "page-down",
    "page-up",
    "end",
    "text:x",
  ]);
});
