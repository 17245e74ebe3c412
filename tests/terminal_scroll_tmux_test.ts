/**
 * Scrolling back in the terminal client, in a real terminal: tmux runs
 * `main.ts client` against a server whose lobby holds 300 messages; the test
 * pages back with PageUp past the replay (the client asks the server for
 * older lines), reads every page off the screen as a person would, and
 * returns to live with End, while new messages arrive. Skipped, loudly, when
 * tmux is not installed (`.ci/run` installs it).
 */

import assert from "node:assert/strict";
import { LINE_TOO_LONG, LineReader } from "../src/net/line_reader.ts";
import { findTmux, TmuxSession } from "./tmux.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const tmuxVersion = await findTmux();
if (tmuxVersion === null) {
  console.warn(
    "\n⚠️  tests/terminal_scroll_tmux_test.ts SKIPPED: tmux is not installed, so scrolling " +
      "back is not tested in a real terminal. Install tmux (apt-get install tmux).\n",
  );
}

/** The shell's prompt on an otherwise empty line (`$`, or `#` for root). */
const PROMPT = /^[$#]$/;
/** tmux's window: 100 × 30 (see `TmuxSession.start`). */
const HEIGHT = 30;
/** Rows of lines while scrolled back: all but the marker's and the input line's. */
const VIEW_ROWS = HEIGHT - 2;

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function clientCommand(...args: string[]): string {
  return `${shellQuote(Deno.execPath())} run -A ${shellQuote(MAIN)} client ${args.join(" ")}`;
}

/** The last row with anything on it. */
function lastRow(rows: string[]): string {
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i] !== "") return rows[i];
  return "";
}

/**
 * A line server that speaks as much of the protocol as the client needs
 * here: the welcome, the lobby's last `replay` messages on joining, `/nick`,
 * and `/history N` (the N messages before the oldest this connection was
 * shown, as a history block), and messages said from the test.
 */
function lineServer(total: number, replay: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const encoder = new TextEncoder();
  const said: { time: string; text: string }[] = [];
  const two = (value: number) => String(value).padStart(2, "0");
  for (let n = 1; n <= total; n++) {
    const minutes = 6 * 60 + n;
    said.push({
      time: `${two(Math.floor(minutes / 60))}:${two(minutes % 60)}`,
      text: `<bob> message ${String(n).padStart(3, "0")}`,
    });
  }
  const connections = new Set<Deno.Conn>();
  const asked: string[] = [];
  const block = (from: number, to: number) => [
    `*** last ${to - from} messages in #lobby:`,
    ...said.slice(from, to).map((line) => `[${line.time}] ${line.text}`),
    "*** end of history; new messages follow",
  ];
  const serve = async (conn: Deno.Conn) => {
    connections.add(conn);
    const send = (lines: string[]) =>
      conn.write(encoder.encode(lines.map((line) => line + "\n").join(""))).catch(() => {});
    let oldest = Math.max(0, said.length - replay);
    await send([
      "*** welcome to parley, you are guest-1",
      "*** 2 online, 2 in #lobby; /nick NAME to change your name, /help for commands",
      ...block(oldest, said.length),
    ]);
    const reader = new LineReader(4096);
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(4096);
    const lines: string[] = [];
    try {
      for (;;) {
        if (lines.length === 0) {
          const count = await conn.read(buffer);
          if (count === null) break;
          reader.push(buffer.subarray(0, count));
          for (let line = reader.next(); line !== null; line = reader.next()) {
            if (line !== LINE_TOO_LONG) lines.push(decoder.decode(line));
          }
          continue;
        }
        const line = lines.shift()!;
        asked.push(line);
        const nick = /^\/nick (\S+)$/.exec(line);
        const history = /^\/history (\d+)$/.exec(line);
        if (nick) await send([`*** you are now ${nick[1]}`]);
        else if (history) {
          const from = Math.max(0, oldest - Number(history[1]));
          await send(from === oldest ? ["*** no earlier messages in #lobby"] : block(from, oldest));
          oldest = from;
        } else if (line === "/quit") {
          await send(["*** bye"]);
          break;
        }
      }
    } catch {
      // the client went away
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    asked,
    /** A live message to everyone connected. */
    say(text: string) {
      for (const conn of connections) {
        conn.write(encoder.encode(text + "\n")).catch(() => {});
      }
    },
    async close() {
      listener.close();
      for (const conn of connections) conn.close();
      await accepting;
    },
  };
}

/** The message numbers on `rows`, top to bottom. */
function numbersOn(rows: string[]): number[] {
  return rows.flatMap((row) => {
    const match = /<bob> message (\d+)$/.exec(row);
    return match ? [Number(match[1])] : [];
  });
}

Deno.test({
  name:
    "tmux: PageUp pages back past the replay (older lines fetched from the server), every line once in order with its time; new messages do not move the view; End returns to live",
  ignore: tmuxVersion === null,
  async fn() {
    const server = lineServer(300, 50);
    const tmux = new TmuxSession("parley-scroll");
    try {
      await tmux.start();
      await tmux.waitFor("the shell prompt", (rows) => PROMPT.test(lastRow(rows)));
      await tmux.type(clientCommand("--port", String(server.port), "--name", "ann"));
      await tmux.press("Enter");
      const live = await tmux.waitFor(
        "the client to join with the replay",
        (rows) =>
          rows.some((row) => row.endsWith("*** you are now ann")) && lastRow(rows) === "ann>",
      );
      assert.ok(numbersOn(live).includes(300), live.join("\n"));
      await tmux.type("half typed");

      /** Pages from the newest (the live screen) back, each as the rows of lines it showed. */
      const pages: string[][] = [live.slice(0, HEIGHT - 1)];
      let previous = live.slice(0, VIEW_ROWS).join("\n");
      /** PageUp, then the screen once it has changed and settled. */
      const pageUp = async () => {
        await tmux.press("PPage");
        let last = "";
        const rows = await tmux.waitFor("the page before", (rows) => {
          const shown = rows.slice(0, VIEW_ROWS).join("\n");
          const settled = shown === last && shown !== previous &&
            !rows[VIEW_ROWS].includes("asking");
          last = shown;
          return settled;
        });
        previous = rows.slice(0, VIEW_ROWS).join("\n");
        return rows;
      };

      const first = await pageUp();
      assert.match(first[VIEW_ROWS], /^-- \d+ lines below; End returns to live$/);
      assert.equal(first[HEIGHT - 1], "ann> half typed", "the input line stays");
      pages.push(first.slice(0, VIEW_ROWS));

      // Messages arrive while scrolled back: the view does not move; the marker counts them.
      server.say("<carol> anyone here?");
      server.say("* carol waves");
      const counted = await tmux.waitFor(
        "the marker to count the new lines",
        (rows) => rows[VIEW_ROWS] === "-- 2 new lines below; End returns to live",
      );
      assert.deepEqual(counted.slice(0, VIEW_ROWS), first.slice(0, VIEW_ROWS));
      assert.ok(!counted.some((row) => row.includes("carol")), "not printed over the page");

      const start = /^\d\d:\d\d -- nothing older in #lobby$/;
      for (let i = 0; i < 30 && !pages[pages.length - 1].some((row) => start.test(row)); i++) {
        const rows = await pageUp();
        assert.equal(rows[HEIGHT - 1], "ann> half typed");
        pages.push(rows.slice(0, VIEW_ROWS));
      }
      const top = pages[pages.length - 1];
      const startRow = top.findIndex((row) => start.test(row));
      assert.ok(startRow >= 0, `the start of the room is said:\n${top.join("\n")}`);
      assert.equal(top[startRow + 1], "06:01 <bob> message 001");
      assert.ok(top.slice(0, startRow).some((row) => row.includes("*** welcome to parley")));
      assert.ok(
        server.asked.filter((line) => line.startsWith("/history")).length >= 3,
        `asked: ${server.asked}`,
      );

      // Every page: messages in order, each with the time it was said; each page ends where the
      // one after it began (a row kept for context); together they are every message once.
      // Every page: messages in order, each with the time it was said. Each page's last row is the
      // first row of the page after it (a row kept for context; at the top, the first page shows
      // from the first row). Together they are every message, once.
      const oldestFirst = pages.toReversed();
      for (let i = 1; i < oldestFirst.length; i++) {
        const [older, newer] = [oldestFirst[i - 1], oldestFirst[i]];
        if (i === 1) assert.ok(older.includes(newer[0]), `the top page holds ${newer[0]}`);
        else assert.equal(older[older.length - 1], newer[0], `page ${i}: one row of context`);
      }
      const seen: number[] = [];
      for (const page of oldestFirst) {
        for (const row of page) {
          const match = /^(\d\d:\d\d) <bob> message (\d+)$/.exec(row);
          if (!match) continue;
          const n = Number(match[2]);
          const minutes = 6 * 60 + n;
          const time = `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${
            String(minutes % 60).padStart(2, "0")
          }`;
          assert.equal(match[1], time, `message ${n} shows when it was said`);
          if (seen.length === 0 || n > seen[seen.length - 1]) seen.push(n);
        }
      }
      assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => i + 1));
      for (const [i, page] of pages.entries()) {
        assert.ok(page.every((row) => row !== ""), `page ${i} is full:\n${page.join("\n")}`);
      }

      // End: back to live, the new messages at the bottom, the input line as it was.
      await tmux.press("End");
      const back = await tmux.waitFor(
        "live again",
        (rows) =>
          rows[HEIGHT - 2].endsWith("* carol waves") && rows[HEIGHT - 1] === "ann> half typed",
      );
      assert.match(back[HEIGHT - 3], /^\d\d:\d\d <carol> anyone here\?$/);
      assert.ok(!back.some((row) => row.includes("End returns")), back.join("\n"));
      server.say("<carol> ok then");
      await tmux.waitFor(
        "a live line printed above the input line",
        (rows) =>
          rows[HEIGHT - 2].endsWith("<carol> ok then") && rows[HEIGHT - 1] === "ann> half typed",
      );

      await tmux.press("C-u");
      await tmux.type("/quit");
      await tmux.press("Enter");
      await tmux.waitFor("the shell prompt after the client", (rows) => PROMPT.test(lastRow(rows)));
    } finally {
      await tmux.kill();
      await server.close();
    }
  },
});
