/**
 * Scrolling back in the terminal client, in a real terminal: tmux runs
 * `main.ts client` against a real server whose lobby holds 300 messages; the test
 * pages back with PageUp past the replay (the client asks the server for
 * older lines), reads every page off the screen as a person would, and
 * returns to live with End, while new messages arrive. Skipped, loudly, when
 * tmux is not installed (`.ci/run` installs it).
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "./helpers.ts";
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

/** `HH:MM` of `date`, local time, as the server shows the time a line was said. */
function clock(date: Date): string {
  const two = (value: number) => String(value).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}`;
}

/**
 * A server whose lobby holds `total` messages from bob (`message 001` …),
 * and bob, still connected, to say more. `times` holds every `HH:MM` the
 * messages may carry (they are said within a second or so).
 */
async function roomOf(total: number) {
  const server = startServer();
  const times = new Set([clock(new Date())]);
  const bob = await TestClient.join(server.port, "bob");
  for (let n = 1; n <= total; n++) bob.send(`message ${String(n).padStart(3, "0")}`);
  // Commands are answered in order: once /who is, every message before it is kept.
  bob.send("/who");
  await bob.expect(/^\*\*\* /);
  times.add(clock(new Date()));
  return {
    port: server.port,
    times,
    bob,
    async close() {
      bob.close();
      await server.close();
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
    const server = await roomOf(300);
    const tmux = new TmuxSession("parley-scroll");
    try {
      await tmux.start();
      await tmux.waitFor("the shell prompt", (rows) => PROMPT.test(lastRow(rows)));
      await tmux.type(clientCommand("--port", String(server.port), "--name", "ann"));
      await tmux.press("Enter");
      const live = await tmux.waitFor(
        "the client to join with the replay",
        (rows) =>
          rows.some((row) => row.endsWith("*** end of history; new messages follow")) &&
          lastRow(rows) === "ann>",
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
      server.bob.send("anyone here?");
      server.bob.send("/me waves");
      const counted = await tmux.waitFor(
        "the marker to count the new lines",
        (rows) => rows[VIEW_ROWS] === "-- 2 new lines below; End returns to live",
      );
      assert.deepEqual(counted.slice(0, VIEW_ROWS), first.slice(0, VIEW_ROWS));
      assert.ok(!counted.some((row) => row.includes("anyone")), "not printed over the page");

      const start = /^\d\d:\d\d -- nothing older in #lobby$/;
      for (let i = 0; i < 30 && !pages[pages.length - 1].some((row) => start.test(row)); i++) {
        const rows = await pageUp();
        assert.equal(rows[HEIGHT - 1], "ann> half typed");
        pages.push(rows.slice(0, VIEW_ROWS));
      }
      const top = pages[pages.length - 1];
      const startRow = top.findIndex((row) => start.test(row));
      assert.ok(startRow >= 0, `the start of the room is said:\n${top.join("\n")}`);
      assert.match(top[startRow + 1], /^\d\d:\d\d <bob> message 001$/);
      assert.ok(top.slice(0, startRow).some((row) => row.includes("*** welcome to parley")));

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
          assert.ok(server.times.has(match[1]), `message ${n} shows when it was said: ${row}`);
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
          rows[HEIGHT - 2].endsWith("* bob waves") && rows[HEIGHT - 1] === "ann> half typed",
      );
      assert.match(back[HEIGHT - 3], /^\d\d:\d\d <bob> anyone here\?$/);
      assert.ok(!back.some((row) => row.includes("End returns")), back.join("\n"));
      server.bob.send("ok then");
      await tmux.waitFor(
        "a live line printed above the input line",
        (rows) =>
          rows[HEIGHT - 2].endsWith("<bob> ok then") && rows[HEIGHT - 1] === "ann> half typed",
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
