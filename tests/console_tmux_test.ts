/**
 * The server console in a real terminal: tmux runs a small driver (a
 * `ServerConsole` on the real stdin, a fake server behind it that logs a line
 * every few hundred milliseconds) in a shell with job control, keys go in
 * with send-keys and the screen comes back with capture-pane. Skipped, loudly,
 * when tmux is not installed.
 */

import assert from "node:assert/strict";
import { CONSOLE_NOTES } from "../src/console/console.ts";
import { findTmux, TmuxSession } from "./tmux.ts";

const tmuxVersion = await findTmux();
if (tmuxVersion === null) {
  console.warn(
    "\n⚠️  tests/console_tmux_test.ts SKIPPED: tmux is not installed, so the server console " +
      "is not tested in a real terminal. Install tmux (apt-get install tmux).\n",
  );
}

/** The driver: a console on the real stdin, and a fake server that logs and shuts down. */
const DRIVER = `
import { ServerConsole } from ${
  JSON.stringify(new URL("../src/console/console.ts", import.meta.url).href)
};
let interrupts = 0;
let ticks = 0;
const tickMs = Number(Deno.args[0] ?? 300);
const console = new ServerConsole({
  onInterrupt() {
    if (++interrupts > 1) Deno.exit(130);
    setTimeout(stop, 300); // the graceful shutdown takes a moment
    return ["shutting down (Ctrl-C again to stop at once)"];
  },
  onCommand: (command) => ["reply to /" + command.kind + ": " + JSON.stringify(command)],
});
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  console.sink.write("log stopped\\n");
  await console.close();
  await console.sink.flush();
  Deno.exit(0);
}
// After Ctrl-D, Ctrl-C is a signal again: the server's handler stops it gracefully.
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
const timer = setInterval(() => console.sink.write("log tick " + ++ticks + "\\n"), tickMs);
console.start();
console.sink.write("log console " + console.state + "\\n");
await console.ended;
console.sink.write("log console ended; the server goes on\\n");
`;

const PROMPT = /^\$$/;
/** A log line from the driver, perhaps after a shell prompt it landed beside. */
const TICK = /(^|\$ )log tick \d+$/;

function lastRow(rows: string[]): string {
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i] !== "") return rows[i];
  return "";
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The terminal's modes as `stty -a` names them, read from outside the pane. */
async function ttyModes(tty: string): Promise<string> {
  const { stdout } = await new Deno.Command("stty", {
    args: ["-a", "-F", tty],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout);
}

function rawMode(modes: string): boolean {
  return /(^|\s)-icanon(\s|$)/.test(modes) && /(^|\s)-echo(\s|$)/.test(modes);
}

/** Runs `fn` with a fresh session, the driver written to a temp file. */
async function withSession(
  fn: (tmux: TmuxSession, run: (...args: string[]) => string) => Promise<void>,
): Promise<void> {
  const driver = await Deno.makeTempFile({ prefix: "parley-console-tmux-", suffix: ".ts" });
  await Deno.writeTextFile(driver, DRIVER);
  const tmux = new TmuxSession("parley-console", [
    "env",
    "PS1=$ ",
    "NO_COLOR=1",
    "bash",
    "--norc",
    "--noprofile",
    "-i",
  ]); // bash with job control, no rc files, prompt `$ `
  try {
    await tmux.start();
    await tmux.waitFor("the shell prompt", (rows) => PROMPT.test(lastRow(rows)));
    const run = (...args: string[]) =>
      `${shellQuote(Deno.execPath())} run -A ${shellQuote(driver)} ${args.join(" ")}`;
    await fn(tmux, run);
  } finally {
    await tmux.kill();
    await Deno.remove(driver).catch(() => {});
  }
}

/**
 * Saves `stty -g` in the shell; `checkRestored` compares it after, with the exit code. (Looking
 * from outside, `stty -F`, is only meaningful while the driver runs in the foreground: at its
 * prompt bash's readline puts the terminal in a raw mode of its own.)
 */
async function rememberTerminal(tmux: TmuxSession): Promise<void> {
  await tmux.type("before=$(stty -g); clear");
  await tmux.press("Enter");
  await tmux.waitFor("the shell prompt", (rows) => PROMPT.test(lastRow(rows)));
}

async function checkRestored(tmux: TmuxSession, exitCode: number): Promise<void> {
  await tmux.waitFor("the shell prompt after the console", (rows) => PROMPT.test(lastRow(rows)));
  await tmux.type(
    `code=$?; [ "$before" = "$(stty -g)" ] && echo "restored exit=$code" || echo "changed exit=$code"`,
  );
  await tmux.press("Enter");
  const rows = await tmux.waitFor(
    "the shell to report",
    (rows) => rows.some((row) => /^(restored|changed) exit=/.test(row)),
    { history: true },
  );
  assert.ok(rows.includes(`restored exit=${exitCode}`), rows.join("\n"));
}

Deno.test({
  name:
    "console tmux: log lines never clobber a half-typed command; Enter runs it, the reply above; Ctrl-C calls onInterrupt; the terminal is restored",
  ignore: tmuxVersion === null,
  async fn() {
    await withSession(async (tmux, run) => {
      await rememberTerminal(tmux);
      const tty = await tmux.paneTty();
      await tmux.type(run("250"));
      await tmux.press("Enter");
      await tmux.waitFor(
        "the console's input line",
        (rows) => rows.includes(`-- ${CONSOLE_NOTES.terminal}`) && lastRow(rows) === "parley>",
      );
      assert.ok(rawMode(await ttyModes(tty)), "raw mode while the console runs");
      assert.ok((await tmux.screen()).includes("log console terminal"));

      // Half a command, then log lines keep arriving.
      await tmux.type("/kick bob fl");
      const typed = await tmux.waitFor(
        "the half line",
        (rows) => lastRow(rows) === "parley> /kick bob fl",
      );
      const ticksBefore = typed.filter((row) => row.startsWith("log tick")).length;
      const rows = await tmux.waitFor(
        "three more log lines while the line is half typed",
        (rows) => rows.filter((row) => row.startsWith("log tick")).length >= ticksBefore + 3,
      );
      assert.equal(lastRow(rows), "parley> /kick bob fl", "the half line is intact");
      const lastTick = rows.findLastIndex((row) => row.startsWith("log tick"));
      assert.equal(rows.lastIndexOf("parley> /kick bob fl"), lastTick + 1, "right below the log");
      assert.equal(await tmux.cursorX(), "parley> /kick bob fl".length);
      assert.ok(
        rows.every((row) => !row.includes("log tick") || /^log tick \d+$/.test(row)),
        `no log line mixed with the input:\n${rows.join("\n")}`,
      );

      // Finish it and run it: the command stays in view, the reply below it, the line empty.
      await tmux.press("BSpace", "BSpace");
      await tmux.type("flooding");
      await tmux.press("Enter");
      const reply = `reply to /kick: {"kind":"kick","nick":"bob","reason":"flooding"}`;
      const after = await tmux.waitFor(
        "the reply above an empty input line",
        (rows) => rows.includes(reply) && lastRow(rows) === "parley>",
      );
      assert.equal(after.indexOf(reply), after.indexOf("parley> /kick bob flooding") + 1);

      // A problem is worded by the console; ↑ recalls the last command.
      await tmux.type("hello");
      await tmux.press("Enter");
      await tmux.waitFor(
        "the plain-text hint",
        (rows) => rows.some((row) => row.startsWith("!!! commands start with /")),
        { history: true },
      );
      await tmux.press("Up");
      await tmux.waitFor("↑ to recall", (rows) => lastRow(rows) === "parley> hello");
      await tmux.press("C-u");

      // Ctrl-C is a key: onInterrupt answers above the line, the fake server stops, exit 0.
      await tmux.press("C-c");
      await tmux.waitFor(
        "onInterrupt's line",
        (rows) => rows.includes("shutting down (Ctrl-C again to stop at once)"),
        { history: true },
      );
      await checkRestored(tmux, 0);
      const all = await tmux.screen(true);
      assert.ok(all.includes("log stopped"), all.join("\n"));
    });
  },
});

Deno.test({
  name: "console tmux: a second Ctrl-C exits at once, and the terminal is still restored",
  ignore: tmuxVersion === null,
  async fn() {
    await withSession(async (tmux, run) => {
      await rememberTerminal(tmux);
      await tmux.type(run("250"));
      await tmux.press("Enter");
      await tmux.waitFor("the input line", (rows) => lastRow(rows) === "parley>");
      await tmux.type("/who half typed");
      await tmux.waitFor("the half line", (rows) => lastRow(rows) === "parley> /who half typed");
      await tmux.press("C-c");
      await tmux.press("C-c");
      await checkRestored(tmux, 130);
      const rows = await tmux.screen(true);
      assert.ok(!rows.includes("log stopped"), "the graceful stop did not get to run");
      assert.ok(!rows.some((row) => row.includes("/who half typed")), "the input line is erased");
    });
  },
});

Deno.test({
  name:
    "console tmux: Ctrl-D closes the console, the server keeps running in a normal terminal, Ctrl-C is SIGINT again",
  ignore: tmuxVersion === null,
  async fn() {
    await withSession(async (tmux, run) => {
      await rememberTerminal(tmux);
      const tty = await tmux.paneTty();
      await tmux.type(run("200"));
      await tmux.press("Enter");
      await tmux.waitFor("the input line", (rows) => lastRow(rows) === "parley>");
      await tmux.press("C-d");
      const rows = await tmux.waitFor(
        "the console to close",
        (rows) =>
          rows.includes(`-- ${CONSOLE_NOTES.closed}`) &&
          rows.includes("log console ended; the server goes on"),
        { history: true },
      );
      const ticks = rows.filter((row) => row.startsWith("log tick")).length;
      await tmux.waitFor(
        "log lines after the console closed",
        (rows) => rows.filter((row) => row.startsWith("log tick")).length >= ticks + 3,
        { history: true },
      );
      assert.ok(!rawMode(await ttyModes(tty)), "the terminal is back to normal while it runs");
      await tmux.press("C-c");
      await checkRestored(tmux, 0);
      // The terminal echoes the Ctrl-C (`^C`) before the fake server's last line.
      const all = await tmux.screen(true);
      assert.ok(all.some((row) => row.endsWith("log stopped")), all.join("\n"));
    });
  },
});

Deno.test({
  name:
    "console tmux: started in the background (&), it is not stopped (SIGTTIN) and says so; fg turns the console on",
  ignore: tmuxVersion === null,
  async fn() {
    await withSession(async (tmux, run) => {
      await rememberTerminal(tmux);
      const tty = await tmux.paneTty();
      await tmux.type(`${run("300")} &`);
      await tmux.press("Enter");
      await tmux.waitFor(
        "the console to say it is off",
        (rows) => rows.some((row) => row.endsWith(`-- ${CONSOLE_NOTES.background}`)),
        { history: true },
      );
      await tmux.waitFor(
        "log lines from the background",
        (rows) => rows.filter((row) => TICK.test(row)).length >= 3,
        { history: true },
      );
      // (The terminal's modes say nothing here: bash's readline owns them at its prompt.
      // A background setRaw would have stopped the process, SIGTTOU, which ps shows.)
      await tmux.type(`echo "stat=$(ps -o stat= -p $!)"`);
      await tmux.press("Enter");
      const stat = await tmux.waitFor(
        "ps",
        (rows) => rows.some((row) => /^stat=\S+$/.test(row)),
        { history: true },
      );
      const state = stat.find((row) => /^stat=\S+$/.test(row))!.slice("stat=".length);
      assert.doesNotMatch(state, /T/, `the server is not stopped: ${state}`);
      assert.doesNotMatch(state, /\+/, `it is in the background: ${state}`);
      // Still running a moment later (a stop would show now).
      const ticks = (await tmux.screen(true)).filter((row) => TICK.test(row)).length;
      await tmux.waitFor(
        "more log lines",
        (rows) => rows.filter((row) => TICK.test(row)).length >= ticks + 2,
        { history: true },
      );

      await tmux.type("fg");
      await tmux.press("Enter");
      await tmux.waitFor(
        "the console to turn on in the foreground",
        (rows) =>
          rows.some((row) => row.endsWith(`-- ${CONSOLE_NOTES.foreground}`)) &&
          lastRow(rows) === "parley>",
        { history: true },
      );
      assert.ok(rawMode(await ttyModes(tty)), "raw mode once in the foreground");
      await tmux.type("/stats");
      await tmux.press("Enter");
      await tmux.waitFor(
        "the reply",
        (rows) => rows.includes(`reply to /stats: {"kind":"stats"}`),
        { history: true },
      );
      await tmux.press("C-c");
      await checkRestored(tmux, 0);
    });
  },
});
