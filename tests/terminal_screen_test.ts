// deno-lint-ignore-file no-control-regex -- the output under test is ANSI escape sequences

/**
 * Rendering, tested by its output: chat line styles, the input line's layout
 * and sideways scroll, and the chat view played into a small virtual terminal
 * (rows of cells and a cursor) to see what a person would see.
 */

import assert from "node:assert/strict";
import { ChatView } from "../src/terminal/chat_view.ts";
import type { Key, KeyName } from "../src/terminal/keys.ts";
import {
  formatChatLine,
  formatTime,
  layoutInput,
  printAbove,
  renderInput,
  styleLine,
} from "../src/terminal/screen.ts";
import { graphemes, graphemeWidth } from "../src/terminal/width.ts";

/**
 * Enough of a VT100 for the client's output: text with wide cells and
 * auto-wrap, CR, LF with scrolling, cursor forward, erase line, clear screen;
 * colours are ignored.
 */
class VirtualTerminal {
  rows: string[][];
  x = 0;
  y = 0;
  /** The cursor is past the last column: the next character wraps first. */
  #wrapPending = false;

  constructor(readonly columns: number, readonly height: number) {
    this.rows = Array.from({ length: height }, () => this.#blank());
  }

  write(output: string): void {
    let i = 0;
    while (i < output.length) {
      const sequence = /^\x1b\[([0-9;?]*)([A-Za-z~])/.exec(output.slice(i, i + 16));
      if (sequence) {
        this.#control(sequence[1], sequence[2]);
        i += sequence[0].length;
        continue;
      }
      const char = output[i];
      if (char === "\r") {
        this.x = 0;
        this.#wrapPending = false;
        i++;
        continue;
      }
      if (char === "\n") {
        this.#lineFeed();
        i++;
        continue;
      }
      // One grapheme cluster at a time.
      const [cluster] = graphemes(output.slice(i, i + 32));
      this.#put(cluster);
      i += cluster.length;
    }
  }

  /** The screen as text, trailing spaces and empty rows at the end removed. */
  get text(): string {
    return this.rows.map((row) => row.join("").trimEnd()).join("\n").trimEnd();
  }

  /** Row `y` as text. */
  row(y: number): string {
    return this.rows[y].join("").trimEnd();
  }

  #blank(): string[] {
    return Array(this.columns).fill(" ");
  }

  #put(cluster: string): void {
    const width = graphemeWidth(cluster);
    if (width === 0) return;
    if (this.#wrapPending || this.x + width > this.columns) {
      this.x = 0;
      this.#lineFeed();
    }
    this.#wrapPending = false;
    this.rows[this.y][this.x] = cluster;
    if (width === 2) this.rows[this.y][this.x + 1] = "";
    this.x += width;
    if (this.x >= this.columns) {
      this.x = this.columns - 1;
      this.#wrapPending = true;
    }
  }

  #lineFeed(): void {
    this.#wrapPending = false;
    if (this.y < this.height - 1) {
      this.y++;
    } else {
      this.rows.shift();
      this.rows.push(this.#blank());
    }
  }

  #control(params: string, final: string): void {
    this.#wrapPending = false;
    switch (final) {
      case "C":
        this.x = Math.min(this.x + Number(params || 1), this.columns - 1);
        return;
      case "K":
        for (let x = this.x; x < this.columns; x++) this.rows[this.y][x] = " ";
        return;
      case "H":
        this.x = this.y = 0;
        return;
      case "J":
        if (params === "2") this.rows = this.rows.map(() => this.#blank());
        return;
      case "m":
      case "h":
      case "l":
        return;
      default:
        throw new Error(`the virtual terminal does not know ESC [ ${params} ${final}`);
    }
  }
}

const NOON = new Date(2026, 10, 28, 12, 5);
const clock = () => NOON;

function type(text: string): Key {
  return { type: "text", text };
}
function key(name: KeyName): Key {
  return { type: "key", name };
}

/** A plain (no colour) view writing into a virtual terminal, after the welcome. */
function setUp(columns = 40, height = 8) {
  const terminal = new VirtualTerminal(columns, height);
  const view = new ChatView({ columns, color: false, name: "ann", clock });
  terminal.write(view.draw());
  terminal.write(view.received(["*** welcome to parley, you are guest-1", "*** you are now ann"]));
  const press = (...keys: Key[]) => {
    const outcomes = keys.map((k) => view.key(k));
    for (const outcome of outcomes) terminal.write(outcome.output);
    return {
      send: outcomes.flatMap((outcome) => outcome.send),
      leave: outcomes.map((outcome) => outcome.leave).find((leave) => leave !== null) ?? null,
    };
  };
  return { terminal, view, press };
}

Deno.test("screen: HH:MM local time", () => {
  assert.equal(formatTime(new Date(2026, 0, 2, 3, 4)), "03:04");
  assert.equal(formatTime(new Date(2026, 0, 2, 23, 59)), "23:59");
});

Deno.test("screen: without colour, lines are exactly as received", () => {
  for (const line of ["<bob> hi", "*** notice", "!!! error", "* bob waves", "*bob* psst", "x"]) {
    assert.equal(styleLine(line, { color: false }), line);
  }
  assert.equal(formatChatLine("<bob> hi", NOON, { color: false }), "12:05 <bob> hi");
});

Deno.test("screen: with colour, kinds are styled apart and nicks keep their colour", () => {
  const style = (line: string, ownNick?: string) => styleLine(line, { color: true, ownNick });
  const bob = style("<bob> hi");
  assert.match(bob, /^<\x1b\[\d+mbob\x1b\[39m> hi$/);
  assert.equal(style("<bob> later"), bob.replace("hi", "later"), "the same colour every time");
  assert.equal(style("<Bob> x").slice(0, 6), style("<bob> x").slice(0, 6), "case-insensitive");
  assert.equal(style("*** hello"), "\x1b[36m*** hello\x1b[39m");
  assert.equal(style("!!! nope"), "\x1b[1m\x1b[31m!!! nope\x1b[39m\x1b[22m");
  assert.equal(style("-- connected"), "\x1b[33m-- connected\x1b[39m");
  assert.match(style("* bob waves"), /^\* \x1b\[\d+mbob\x1b\[39m waves$/);
  assert.match(style("*bob* psst"), /^\x1b\[1m\*\x1b\[\d+mbob\x1b\[39m\* psst\x1b\[22m$/);
  assert.match(style("-> *bob* psst"), /^\x1b\[2m->\x1b\[22m \*\x1b\[\d+mbob/);
  assert.match(style("<bob> hey ANN look", "ann"), /\x1b\[1mhey ANN look\x1b\[22m$/, "mention");
  assert.doesNotMatch(style("<ann> ann here", "ann"), /\x1b\[1m/, "own lines are not mentions");
  // Received text never carries escapes (it is cleaned first), so styling is all there is.
  assert.equal(styleLine("<b> x", { color: true }).split("\x1b").length, 3);
});

Deno.test("screen: the input line fits, or scrolls sideways keeping the cursor in view", () => {
  const widths = (text: string) => graphemes(text).map(graphemeWidth);
  assert.deepEqual(layoutInput(widths("hello"), 2, { space: 10 }), {
    start: 0,
    end: 5,
    moreLeft: false,
    moreRight: false,
    cursorColumn: 2,
  });
  // 20 cells in 10: cursor at the end shows the tail with a "<" marker.
  const text = widths("abcdefghijklmnopqrst");
  const tail = layoutInput(text, 20, { space: 10 });
  assert.equal(tail.moreLeft, true);
  assert.equal(tail.moreRight, false);
  assert.equal(tail.cursorColumn, 9, "cursor on the last free column");
  assert.equal(tail.end, 20);
  // Home: back to the start with a ">" marker.
  const head = layoutInput(text, 0, { space: 10, scroll: tail.start });
  assert.deepEqual([head.start, head.moreLeft, head.moreRight, head.cursorColumn], [
    0,
    false,
    true,
    0,
  ]);
  // Moving left inside the window does not scroll.
  const inside = layoutInput(text, 18, { space: 10, scroll: tail.start });
  assert.equal(inside.start, tail.start);
  // Wide characters are never cut in half.
  const wide = widths("你好你好你好你好你好");
  for (let cursor = 0; cursor <= wide.length; cursor++) {
    const layout = layoutInput(wide, cursor, { space: 9 });
    const used = (layout.moreLeft ? 1 : 0) + 2 * (layout.end - layout.start) +
      (layout.moreRight ? 1 : 0);
    assert.ok(used <= 9, `cursor ${cursor}: ${used} cells`);
    assert.ok(layout.cursorColumn < 9, `cursor ${cursor} is in view`);
  }
});

Deno.test("screen: renderInput draws from column 0, never into the last column", () => {
  const { output, scroll } = renderInput({
    prompt: "ann> ",
    clusters: graphemes("hi 你好"),
    cursor: 3,
    columns: 40,
  });
  assert.equal(output, "\rann> hi 你好\x1b[K\r\x1b[8C");
  assert.equal(scroll, 0);
  for (let columns = 3; columns < 30; columns++) {
    const terminal = new VirtualTerminal(columns, 2);
    const clusters = graphemes("a long line with 你好 and 👍🏽 in it, longer than the terminal");
    for (let cursor = 0; cursor <= clusters.length; cursor += 3) {
      terminal.write(renderInput({ prompt: "ann> ", clusters, cursor, columns }).output);
      assert.equal(terminal.y, 0, `${columns} columns, cursor ${cursor}: no wrap`);
      assert.equal(terminal.rows[0][columns - 1], " ", "the last column stays empty");
    }
  }
});

Deno.test("screen: printAbove puts lines on cleared rows, then the input line", () => {
  assert.equal(printAbove(["a", "b"], "IN"), "\r\x1b[Ka\r\n\r\x1b[Kb\r\nIN");
});

Deno.test("chat view: a message arrives while typing: above, the half line intact below", () => {
  const { terminal, view, press } = setUp();
  press(type("hello 你好 wor"));
  assert.equal(terminal.row(terminal.y), "ann> hello 你好 wor");
  const cursorBefore = terminal.x;
  terminal.write(view.received(["<bob> hi ann"]));
  assert.equal(
    terminal.text,
    [
      "12:05 *** welcome to parley, you are gue",
      "st-1",
      "12:05 *** you are now ann",
      "12:05 <bob> hi ann",
      "ann> hello 你好 wor",
    ].join("\n"),
  );
  assert.equal(terminal.x, cursorBefore, "the cursor is where it was");
  // Mid-line cursor survives too.
  press(key("left"), key("left"), key("left"), key("left"));
  const x = terminal.x;
  terminal.write(view.received(["<bob> again"]));
  assert.equal(terminal.row(terminal.y), "ann> hello 你好 wor");
  assert.equal(terminal.x, x);
  assert.equal(view.nick, "ann");
});

Deno.test("chat view: Backspace over a CJK character, Enter sends what is shown and echoes it", () => {
  const { terminal, press } = setUp();
  press(type("ab你好"));
  press(key("backspace"));
  assert.equal(terminal.row(terminal.y), "ann> ab你");
  assert.equal(terminal.x, 5 + 4);
  const { send, leave } = press(key("enter"));
  assert.deepEqual(send, ["ab你"]);
  assert.equal(leave, null);
  assert.equal(terminal.row(terminal.y - 1), "12:05 <ann> ab你");
  assert.equal(terminal.row(terminal.y), "ann>");
  press(key("up"));
  assert.equal(terminal.row(terminal.y), "ann> ab你");
});

Deno.test("chat view: own echo for text, //text and /me; none for other commands or blank lines", () => {
  const { terminal, press } = setUp(60, 10);
  const sent = press(
    type("//etc/hosts"),
    key("enter"),
    type("/me waves  "),
    key("enter"),
    type("/who"),
    key("enter"),
    type("   "),
    key("enter"),
  ).send;
  assert.deepEqual(sent, ["//etc/hosts", "/me waves  ", "/who"]);
  assert.match(terminal.text, /12:05 <ann> \/etc\/hosts\n12:05 \* ann waves\nann>$/);
});

Deno.test("chat view: exit, /quit, /quit REASON, Ctrl-C and Ctrl-D leave", () => {
  const cases: [Key[], string][] = [
    [[type("exit"), key("enter")], "/quit"],
    [[type("EXIT "), key("enter")], "/quit"],
    [[type("/quit"), key("enter")], "/quit"],
    [[type("/quit gotta go"), key("enter")], "/quit gotta go"],
    [[type("/exit"), key("enter")], "/exit"],
    [[key("interrupt")], "/quit"],
    [[type("x"), key("interrupt")], "/quit"],
    [[key("eof")], "/quit"],
  ];
  for (const [keys, line] of cases) {
    const { press } = setUp();
    const { send, leave } = press(...keys);
    assert.deepEqual(send, [], JSON.stringify(keys));
    assert.equal(leave, line, JSON.stringify(keys));
  }
  assert.equal(setUp().press(type("x"), key("eof")).leave, null, "Ctrl-D on non-empty deletes");
  // A space first says the word instead (SPEC §5: `exit` leaves, and the word can still be sent).
  assert.deepEqual(setUp().press(type(" exit"), key("enter")), { send: [" exit"], leave: null });
  // A paste that contains /quit sends the lines before it, then leaves.
  const pasted = setUp().press({ type: "paste", text: "one\n/quit\nthree\n" });
  assert.deepEqual(pasted, { send: ["one"], leave: "/quit" });
});

Deno.test("chat view: a paste of several lines sends several messages", () => {
  const { terminal, press } = setUp(40, 10);
  const { send } = press({ type: "paste", text: "one\ntwo 你好\nthr" });
  assert.deepEqual(send, ["one", "two 你好"]);
  assert.match(terminal.text, /<ann> one\n12:05 <ann> two 你好\nann> thr$/);
});

Deno.test("chat view: the nick and room follow the server; rejoin asks for them again", () => {
  const view = new ChatView({ columns: 40, color: false, clock });
  assert.deepEqual(view.rejoinCommands(), [], "a guest does not ask for its guest nick");
  view.received(["*** welcome to parley, you are guest-7"]);
  assert.equal(view.nick, "guest-7");
  assert.deepEqual(view.rejoinCommands(), []);
  view.received(["*** you are now zoë", "*** you are now in #dev (2 here)"]);
  assert.equal(view.nick, "zoë");
  assert.equal(view.room, "dev");
  assert.deepEqual(view.rejoinCommands(), ["/nick zoë", "/join dev"]);
  // Someone else's text that looks like a notice is not one.
  view.received(["<mallory> *** you are now mallory"]);
  assert.equal(view.nick, "zoë");
  // After a reconnect the server welcomes a guest again, in the lobby.
  view.received(["*** welcome to parley, you are guest-1"]);
  assert.equal(view.room, "lobby");
  assert.deepEqual(view.rejoinCommands(), ["/nick zoë"]);
});

Deno.test("chat view: offline, lines are not sent and say so; the prompt shows it", () => {
  const { terminal, view, press } = setUp(60, 10);
  view.online = false;
  terminal.write(view.draw());
  assert.equal(terminal.row(terminal.y), "(offline) ann>");
  const { send } = press(type("hello?"), key("enter"));
  assert.deepEqual(send, []);
  assert.match(terminal.row(terminal.y - 1), /^12:05 !!! not connected: not sent .*: hello\?$/);
  press(key("up"));
  assert.equal(terminal.row(terminal.y), "(offline) ann> hello?", "↑ brings it back");
});

Deno.test("chat view: a long input line scrolls and never wraps; Ctrl-L clears the screen", () => {
  const { terminal, view, press } = setUp(20, 6);
  press(type("0123456789abcdefghij你好KLMNOP"));
  const y = terminal.y;
  assert.equal(terminal.row(y), "ann> <ij你好KLMNOP");
  assert.equal(terminal.x, 18, "cursor after the text, before the last column");
  press(key("home"));
  assert.equal(terminal.row(y), "ann> 0123456789abc>");
  assert.equal(terminal.x, 5);
  terminal.write(view.received(["<bob> a message longer than twenty columns"]));
  assert.equal(terminal.row(terminal.y), "ann> 0123456789abc>");
  assert.equal(terminal.row(terminal.y - 2), "e longer than twenty");
  press(key("redraw"));
  assert.equal(terminal.text, "ann> 0123456789abc>");
  const wider = new VirtualTerminal(30, 2);
  wider.write(view.resize(30));
  assert.equal(wider.row(0), "ann> 0123456789abcdefghij你>");
});

Deno.test("chat view: with colour the prompt carries the nick's colour and the time is dim", () => {
  const view = new ChatView({ columns: 40, color: true, clock });
  const out = view.received(["*** welcome to parley, you are ann"]);
  assert.match(out, /\x1b\[2m12:05\x1b\[22m \x1b\[36m\*\*\* welcome/);
  assert.match(view.draw(), /^\r\x1b\[\d+mann\x1b\[39m> \x1b\[K\r\x1b\[5C$/);
});

Deno.test("chat view: a password command shows its arguments as *, is sent as typed, and ↑ never brings it back", () => {
  const { terminal, view, press } = setUp(60);
  press(type("hello"), key("enter"));
  press(type("/identify ann hunter2 ok"));
  assert.equal(terminal.row(terminal.y), "ann> /identify *** ******* **");
  const { send } = press(key("enter"));
  assert.deepEqual(send, ["/identify ann hunter2 ok"]);
  for (
    const command of [
      "/register pässwörd9",
      "/OPER secret",
      "/password old newer",
      "/setpassword bob x",
    ]
  ) {
    press(type(command));
    assert.ok(!terminal.row(terminal.y).includes(command.split(" ")[1]), terminal.row(terminal.y));
    press(key("enter"));
  }
  assert.ok(!terminal.rows.some((row) => row.join("").includes("hunter2")), "shown nowhere");
  press(key("up"));
  assert.equal(view.editor.text, "hello", "↑ skips the password lines");
  assert.deepEqual(view.editor.history, ["hello"]);
  // Not a password command: shown as typed.
  press(key("kill-before"), type("/identity crisis"));
  assert.equal(terminal.row(terminal.y), "ann> /identity crisis");
});
