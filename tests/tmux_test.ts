/**
 * The terminal client in a real terminal: tmux runs `main.ts client` in a
 * detached session on a private socket, keys go in with send-keys, and the
 * screen comes back with capture-pane, polled against a deadline. Skipped,
 * loudly, when tmux is not installed (`.ci/run` installs it).
 */

import assert from "node:assert/strict";
import { OutputCollector, spawnCli, startServer, TestClient } from "./helpers.ts";
import { findTmux, TmuxSession } from "./tmux.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const tmuxVersion = await findTmux();
if (tmuxVersion === null) {
  console.warn(
    "\n⚠️  tests/tmux_test.ts SKIPPED: tmux is not installed, so the terminal client is not " +
      "tested in a real terminal. Install tmux (apt-get install tmux; .ci/run does it).\n",
  );
}

/** The shell's prompt on an otherwise empty line (`$`, or `#` for root). */
const PROMPT = /^[$#]$/;

/** The last row with anything on it: the client's input line while it runs. */
function lastRow(rows: string[]): string {
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i] !== "") return rows[i];
  return "";
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The command line that runs the client from source. */
function clientCommand(...args: string[]): string {
  return `${shellQuote(Deno.execPath())} run -A ${shellQuote(MAIN)} client ${args.join(" ")}`;
}

/** A `main.ts server` process on `port` (0: a free one); `stop` ends it and awaits it. */
async function serverProcess(port: number) {
  const child = spawnCli(["server", "--host", "127.0.0.1", "--port", String(port)]);
  await child.stdin.close();
  const stdout = new OutputCollector(child.stdout);
  const stderr = new OutputCollector(child.stderr);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
  };
  try {
    const match = await stdout.waitFor(/listening +127\.0\.0\.1:(\d+)/);
    return { port: Number(match[1]), stop };
  } catch (error) {
    await stop();
    throw new Error(`server did not start: ${stderr.text}`, { cause: error });
  }
}

Deno.test({
  name:
    "tmux: typing survives incoming messages, CJK Backspace, Enter sends what is shown, ↑ recalls, /quit restores the terminal",
  ignore: tmuxVersion === null,
  async fn() {
    const server = startServer();
    const tmux = new TmuxSession("parley-test");
    let bob: TestClient | null = null;
    try {
      await tmux.start();
      await tmux.waitFor("the shell prompt", (rows) => PROMPT.test(lastRow(rows)));
      // The terminal's settings before, to compare with after.
      await tmux.type("echo before=$(stty -g)");
      await tmux.press("Enter");
      // Typed before the shell has answered, the command would be echoed into its answer's row.
      await tmux.waitFor(
        "the settings",
        (rows) => rows.some((row) => row.startsWith("before=")) && PROMPT.test(lastRow(rows)),
      );
      await tmux.type(clientCommand("--port", String(server.port), "--name", "ann"));
      await tmux.press("Enter");
      await tmux.waitFor(
        "the client to join as ann",
        (rows) =>
          rows.some((row) => /^\d\d:\d\d \*\*\* welcome to parley, you are ann$/.test(row)) &&
          lastRow(rows) === "ann>",
      );

      // A half-typed line, then a message from someone else arrives.
      bob = await TestClient.join(server.port, "bob");
      await tmux.type("hello 你好");
      await tmux.waitFor("the half line", (rows) => lastRow(rows) === "ann> hello 你好");
      bob.send("hi ann, 你好 👍🏽");
      const rows = await tmux.waitFor(
        "bob's message above the input line",
        (rows) =>
          rows.some((row) => row.endsWith("<bob> hi ann, 你好 👍🏽")) &&
          lastRow(rows).startsWith("ann>"), // drawn again under it (one write, maybe two reads)
      );
      const bobRow = rows.findIndex((row) => row.endsWith("<bob> hi ann, 你好 👍🏽"));
      assert.match(rows[bobRow], /^\d\d:\d\d <bob> hi ann, 你好 👍🏽$/);
      assert.equal(lastRow(rows), "ann> hello 你好", "the half line is intact");
      assert.equal(rows.lastIndexOf("ann> hello 你好"), bobRow + 1, "right below the message");
      assert.equal(await tmux.cursorX(), "ann> hello 你好".length + 2, "cursor after 好");

      // Backspace over a CJK character removes exactly that character.
      await tmux.press("BSpace");
      await tmux.waitFor("好 to go", (rows) => lastRow(rows) === "ann> hello 你");
      assert.equal(await tmux.cursorX(), "ann> hello ".length + 2);

      // Enter sends exactly what is shown; it is echoed locally.
      await tmux.press("Enter");
      assert.equal(await bob.expect(/^<ann> /), "<ann> hello 你");
      await tmux.waitFor(
        "the own echo and an empty input line",
        (rows) =>
          lastRow(rows) === "ann>" && rows.some((row) => /^\d\d:\d\d <ann> hello 你$/.test(row)),
      );

      // ↑ recalls it.
      await tmux.press("Up");
      await tmux.waitFor("↑ to recall the line", (rows) => lastRow(rows) === "ann> hello 你");

      // /quit leaves, exit code 0, and the terminal is as it was.
      await tmux.press("C-u");
      await tmux.type("/quit");
      await tmux.press("Enter");
      await bob.expect("*** ann left (quit)");
      await tmux.waitFor("the shell prompt after the client", (rows) => PROMPT.test(lastRow(rows)));
      await tmux.type(
        "echo exit=$? after=$(stty -g); stty -a | grep -o -e '-*icanon' -e '-*echo '",
      );
      await tmux.press("Enter");
      const after = await tmux.waitFor(
        "the shell to report",
        (rows) => rows.some((row) => row.startsWith("exit=")) && PROMPT.test(lastRow(rows)),
        { history: true }, // "before=" may have scrolled away (a long deno path wraps rows)
      );
      assert.ok(after.some((row) => /^\d\d:\d\d \*\*\* bye$/.test(row)), after.join("\n"));
      const beforeRow = after.find((row) => row.startsWith("before="));
      assert.ok(beforeRow, `the settings from before are on the screen:\n${after.join("\n")}`);
      const before = beforeRow.slice("before=".length);
      const report = after.find((row) => row.startsWith("exit="))!;
      assert.equal(report, `exit=0 after=${before}`, "exit code 0, terminal settings restored");
      assert.ok(after.includes("icanon") && after.includes("echo"), after.join("\n"));
    } finally {
      bob?.close();
      await tmux.kill();
      await server.close();
    }
  },
});

Deno.test({
  name:
    "tmux: --reconnect survives a server restart, rejoins with the same nick and room, keeps the draft",
  ignore: tmuxVersion === null,
  async fn() {
    let server = await serverProcess(0);
    const port = server.port;
    const tmux = new TmuxSession("parley-test");
    let bob: TestClient | null = null;
    try {
      await tmux.start();
      await tmux.waitFor("the shell prompt", (rows) => PROMPT.test(lastRow(rows)));
      await tmux.type(clientCommand("--port", String(port), "--name", "ann", "--reconnect"));
      await tmux.press("Enter");
      await tmux.waitFor("the client to join", (rows) => lastRow(rows) === "ann>");
      await tmux.type("/join dev");
      await tmux.press("Enter");
      await tmux.waitFor("#dev", (rows) => rows.some((row) => row.includes("you are now in #dev")));
      await tmux.type("draft 你");

      await server.stop();
      await tmux.waitFor(
        "the client to notice, offline, with the draft kept",
        (rows) =>
          rows.some((row) =>
            row.endsWith(`-- connection to 127.0.0.1:${port} closed by the server`)
          ) &&
          lastRow(rows) === "(offline) ann> draft 你",
      );
      server = await serverProcess(port);
      const rows = await tmux.waitFor(
        "the client to be back as ann in #dev",
        (rows) =>
          rows.filter((row) => row.endsWith("*** you are now in #dev (1 here)")).length === 2 &&
          lastRow(rows) === "ann> draft 你",
      );
      const back = rows.findIndex((row) => row.endsWith(`-- connected to 127.0.0.1:${port} again`));
      assert.ok(back > 0, rows.join("\n"));
      assert.ok(
        rows.slice(back).some((row) => row.endsWith("*** welcome to parley, you are ann")),
        rows.join("\n"),
      );

      bob = await TestClient.join(port, "bob");
      bob.send("/join dev");
      await bob.expect(/^\*\*\* you are now in #dev/);
      await tmux.press("Enter");
      assert.equal(await bob.expect(/^<ann> /), "<ann> draft 你");

      await tmux.press("C-c");
      await bob.expect("*** ann left (quit)");
      await tmux.waitFor("the shell prompt", (rows) => PROMPT.test(lastRow(rows)));
      await tmux.type("echo exit=$?");
      await tmux.press("Enter");
      await tmux.waitFor("exit code 0", (rows) => rows.includes("exit=0"));
    } finally {
      bob?.close();
      await tmux.kill();
      await server.stop();
    }
  },
});
