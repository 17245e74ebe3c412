import {
  type ConsoleLine,
  describeProblem,
  formatBanTarget,
  formatDuration,
  helpLines,
  type OperatorCommand,
  parseDuration,
  parseOperatorLine,
} from "../src/front/operator_commands.ts";
import assert from "node:assert/strict";
import { CONSOLE_NOTES, type ServerCommand, ServerConsole } from "../src/console/console.ts";
import { ConsoleScreen } from "../src/console/console_screen.ts";
import { parseStat, standingFromStat } from "../src/console/job_control.ts";
import { formatCidr, parseCidr } from "../src/core/cidr.ts";
import { MemorySink } from "../src/log.ts";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** A command as data for comparison: CIDR blocks as their display form. */
function plain(line: ConsoleLine): unknown {
  if (line.type !== "command") return line;
  const command = line.command as OperatorCommand;
  if (command.kind === "ban") {
    return { ...command, target: formatBanTarget(command.target) };
  }
  if (command.kind === "unban") return { kind: "unban", block: formatCidr(command.block) };
  return command;
}

function parsed(line: string): unknown {
  return plain(parseOperatorLine(line));
}

function problem(line: string): string {
  const result = parseOperatorLine(line);
  assert.equal(result.type, "problem", `${line} should be refused, got ${JSON.stringify(result)}`);
  return describeProblem((result as Extract<ConsoleLine, { type: "problem" }>).problem);
}

Deno.test("operator commands: every command parses to its typed form", () => {
  const table: [string, unknown][] = [
    ["/say the server restarts at 18:00", { kind: "say", text: "the server restarts at 18:00" }],
    ["/SAY  spaced   out  ", { kind: "say", text: "spaced   out" }],
    ["/kick bob", { kind: "kick", nick: "bob" }],
    ["/kick bob flooding  the room", { kind: "kick", nick: "bob", reason: "flooding  the room" }],
    ["/ban bob", { kind: "ban", target: "bob" }],
    ["/ban bob 10m", { kind: "ban", target: "bob", duration: 10 * M }],
    ["/ban bob 2h spam links", {
      kind: "ban",
      target: "bob",
      duration: 2 * H,
      reason: "spam links",
    }],
    ["/ban bob spam links", { kind: "ban", target: "bob", reason: "spam links" }],
    ["/ban 203.0.113.7", { kind: "ban", target: "203.0.113.7" }],
    ["/ban 203.0.113.0/24 7d", { kind: "ban", target: "203.0.113.0/24", duration: 7 * D }],
    ["/ban 203.0.113.9/24", { kind: "ban", target: "203.0.113.0/24" }],
    ["/ban 2001:DB8::/32 1h30m x", {
      kind: "ban",
      target: "2001:db8::/32",
      duration: 90 * M,
      reason: "x",
    }],
    ["/ban ::ffff:203.0.113.7", { kind: "ban", target: "203.0.113.7" }],
    ["/ban 203.0.113.7:51234", { kind: "ban", target: "203.0.113.7" }], // as the log prints a peer
    ["/ban [2001:db8::1]:51234", { kind: "ban", target: "2001:db8::1" }],
    ["/ban [2001:db8::1]", { kind: "ban", target: "2001:db8::1" }],
    ["/unban 203.0.113.0/24", { kind: "unban", block: "203.0.113.0/24" }],
    ["/unban 2001:db8:0:0::1", { kind: "unban", block: "2001:db8::1" }],
    ["/bans", { kind: "bans" }],
    ["/mute bob", { kind: "mute", nick: "bob" }],
    ["/mute bob 30s", { kind: "mute", nick: "bob", duration: 30 * S }],
    ["/unmute bob", { kind: "unmute", nick: "bob" }],
    ["/topic #dev", { kind: "topic", room: "dev" }],
    ["/topic dev", { kind: "topic", room: "dev" }],
    ["/topic #dev release on Friday", { kind: "topic", room: "dev", text: "release on Friday" }],
    ["/who", { kind: "who" }],
    ["/who #dev", { kind: "who", room: "dev" }],
    ["/rooms", { kind: "rooms" }],
    ["/stats", { kind: "stats" }],
    ["/help", { kind: "help" }],
    ["/help ban", { kind: "help", command: "ban" }],
    ["/help /KICK", { kind: "help", command: "kick" }],
    ["  /Who   ", { kind: "who" }],
    ["/kick guest-3", { kind: "kick", nick: "guest-3" }],
    ["/kick Zoë", { kind: "kick", nick: "Zoë" }],
  ];
  for (const [line, expected] of table) {
    assert.deepEqual(parsed(line), expected, line);
  }
});

Deno.test("operator commands: empty lines are nothing; plain text is refused, never said", () => {
  assert.deepEqual(parseOperatorLine(""), { type: "empty" });
  assert.deepEqual(parseOperatorLine("   \t "), { type: "empty" });
  assert.equal(
    problem("hello everyone"),
    "commands start with / (/help lists them); to tell everyone something: /say TEXT",
  );
  assert.match(problem("say hi"), /\/say TEXT/);
});

Deno.test("operator commands: usage errors name the command and its usage", () => {
  const table: [string, string][] = [
    ["/say", "usage: /say TEXT"],
    ["/say   ", "usage: /say TEXT"],
    ["/kick", "usage: /kick NICK [REASON]"],
    ["/ban", "usage: /ban NICK|ADDRESS|CIDR [DURATION] [REASON]"],
    ["/unban", "usage: /unban ADDRESS|CIDR"],
    ["/unban 1.2.3.4 1.2.3.5", "usage: /unban ADDRESS|CIDR"],
    ["/bans all", "usage: /bans"],
    ["/mute", "usage: /mute NICK [DURATION]"],
    ["/mute bob 10m because", "usage: /mute NICK [DURATION]"],
    ["/unmute", "usage: /unmute NICK"],
    ["/unmute bob now", "usage: /unmute NICK"],
    ["/topic", "usage: /topic #ROOM [TEXT]"],
    ["/who #a #b", "usage: /who [#ROOM]"],
    ["/rooms now", "usage: /rooms"],
    ["/stats x", "usage: /stats"],
    ["/help a b", "usage: /help [COMMAND]"],
  ];
  for (const [line, expected] of table) assert.equal(problem(line), expected, line);
});

Deno.test("operator commands: bad nicks, rooms, addresses and durations say what is wrong", () => {
  assert.equal(
    problem("/kick bad*nick"),
    "/kick: bad*nick is not a nick (letters, digits, _ - . only); usage: /kick NICK [REASON]",
  );
  assert.match(problem(`/mute ${"n".repeat(25)}`), /is not a nick \(too long\)/);
  assert.match(problem("/ban b@d"), /^\/ban: b@d is not a nick/);
  assert.equal(
    problem("/topic #a!b"),
    "/topic: #a!b is not a room name (letters, digits, _ - . only)",
  );
  assert.match(problem("/topic #"), /^\/topic: # is not a room name \(empty\)/);
  assert.match(problem("/who #a!b"), /is not a room name/);
  const badAddress =
    "is not an address or a CIDR block (like 203.0.113.7, 203.0.113.0/24, 2001:db8::1 or 2001:db8::/32)";
  assert.equal(problem("/ban 203.0.113.0/33"), `/ban: 203.0.113.0/33 ${badAddress}`);
  assert.equal(problem("/ban 1.2.3"), `/ban: 1.2.3 ${badAddress}`); // digits and dots: an address
  assert.equal(problem("/ban fe80::1%eth0"), `/ban: fe80::1%eth0 ${badAddress}`);
  assert.equal(problem("/unban 300.1.1.1"), `/unban: 300.1.1.1 ${badAddress}`);
  assert.equal(
    problem("/unban bob"),
    "/unban takes the address or block that /bans lists, not a nick (bob)",
  );
  assert.equal(
    problem("/ban bob 5 spam"),
    "/ban: 5 is not a duration (give a unit: 30s, 10m, 2h, 7d)",
  );
  assert.equal(
    problem("/ban bob 5x"),
    "/ban: 5x is not a duration (like 30s, 10m, 2h, 7d or 1h30m)",
  );
  assert.equal(problem("/ban bob 0s"), "/ban: 0s is not a duration (it must be more than 0)");
  assert.equal(
    problem("/mute bob 400d"),
    "/mute: 400d is not a duration (at most 365d; leave it out for good)",
  );
  assert.match(problem("/mute bob soon"), /soon is not a duration/);
});

Deno.test("operator commands: unknown commands, and what people type to stop a server", () => {
  assert.equal(problem("/nick root"), "unknown command /nick (/help lists the console's commands)");
  assert.equal(problem("/help nick"), "unknown command /nick (/help lists the console's commands)");
  assert.equal(problem("/"), "a command name must follow the / (/help lists them)");
  assert.equal(problem("/ hi"), "a command name must follow the / (/help lists them)");
  for (const word of ["quit", "exit", "stop", "shutdown", "QUIT"]) {
    assert.equal(
      problem(`/${word}`),
      `no /${word.toLowerCase()} here: Ctrl-C on the server's terminal (or SIGTERM) stops the server`,
    );
  }
});

Deno.test("durations: units s m h d w, combined, bounded", () => {
  const table: [string, number][] = [
    ["30s", 30 * S],
    ["10m", 10 * M],
    ["2h", 2 * H],
    ["7d", 7 * D],
    ["2w", 14 * D],
    ["1h30m", 90 * M],
    ["1d12h", 36 * H],
    ["90S", 90 * S],
    ["365d", 365 * D],
    ["0h1s", S],
  ];
  for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
  assert.deepEqual(parseDuration("10"), { why: "no-unit" });
  assert.deepEqual(parseDuration(""), { why: "malformed" });
  assert.deepEqual(parseDuration("m10"), { why: "malformed" });
  assert.deepEqual(parseDuration("10 m"), { why: "malformed" });
  assert.deepEqual(parseDuration("1.5h"), { why: "malformed" });
  assert.deepEqual(parseDuration("-5m"), { why: "malformed" });
  assert.deepEqual(parseDuration("10y"), { why: "malformed" });
  assert.deepEqual(parseDuration("0m"), { why: "zero" });
  assert.deepEqual(parseDuration("366d"), { why: "too-long" });
  assert.deepEqual(parseDuration("99999999999999999999d"), { why: "too-long" });
  assert.equal(formatDuration(45 * S), "45s");
  assert.equal(formatDuration(10 * M), "10m");
  assert.equal(formatDuration(90 * M), "1h30m");
  assert.equal(formatDuration(7 * D), "7d");
  assert.equal(formatDuration(2 * D + 3 * H + 1 * S), "2d3h1s");
  assert.equal(formatDuration(200), "1s");
});

Deno.test("help: every command once, and one command alone", () => {
  const lines = helpLines();
  assert.equal(lines[0], "console commands:");
  const names = ["say", "kick", "ban", "unban", "bans", "mute", "unmute", "topic", "who", "rooms"];
  for (const name of [...names, "stats", "help"]) {
    const rows = lines.filter((line) => new RegExp(`^  /${name}( |$)`).test(line));
    assert.equal(rows.length, 1, name);
  }
  assert.deepEqual(helpLines("kick"), ["/kick NICK [REASON]  disconnect a user"]);
});

Deno.test("job control: /proc/self/stat fields, and foreground against background", () => {
  const fields = parseStat(
    "21059 (deno) S 21006 21059 21006 34816 21060 4194304 2684 0 0 0 0 1 0 0 20 0 6 0 363136",
  );
  assert.deepEqual(fields, { pgrp: 21059, ttyNr: 34816, tpgid: 21060 });
  // A command name with spaces and parentheses: fields count from the last ")".
  assert.deepEqual(parseStat("7 (a) (b c)) R 1 7 7 34816 7 0"), {
    pgrp: 7,
    ttyNr: 34816,
    tpgid: 7,
  });
  assert.equal(parseStat("garbage"), null);
  assert.equal(parseStat("1 (x) R"), null);

  assert.deepEqual(standingFromStat({ pgrp: 7, ttyNr: 34816, tpgid: 7 }), { place: "foreground" });
  assert.deepEqual(standingFromStat({ pgrp: 7, ttyNr: 34816, tpgid: 9 }), { place: "background" });
  assert.deepEqual(standingFromStat({ pgrp: 7, ttyNr: 34816, tpgid: 9 }, 34816), {
    place: "background",
  });
  // Stdin is another terminal than the controlling one: reading it stops nobody.
  assert.deepEqual(standingFromStat({ pgrp: 7, ttyNr: 34816, tpgid: 9 }, 34817), {
    place: "foreground",
  });
  // No controlling terminal, or no foreground group on it.
  assert.deepEqual(standingFromStat({ pgrp: 7, ttyNr: 0, tpgid: -1 }), { place: "foreground" });
  assert.deepEqual(standingFromStat({ pgrp: 7, ttyNr: 34816, tpgid: -1 }), { place: "foreground" });
});

/** A writer that keeps what is written, optionally slow. */
class FakeTerminal {
  writes: string[] = [];
  #decoder = new TextDecoder();
  gate: Promise<void> | null = null;
  async write(bytes: Uint8Array): Promise<number> {
    if (this.gate) await this.gate;
    this.writes.push(this.#decoder.decode(bytes));
    return bytes.length;
  }
  get text(): string {
    return this.writes.join("");
  }
}

Deno.test("console screen: log lines go above the input line, which is drawn again whole", async () => {
  const terminal = new FakeTerminal();
  const screen = new ConsoleScreen(terminal, { prompt: "parley> ", columns: 80 });
  screen.print(["queued before raw mode"]);
  await screen.flush();
  assert.equal(terminal.text, "", "nothing is written before enable()");
  screen.enable();
  await screen.flush();
  assert.equal(terminal.text, "\r\x1b[Kqueued before raw mode\r\n\rparley> \x1b[K\r\x1b[8C");

  terminal.writes = [];
  for (const char of "/kick bo") screen.editor.handle({ type: "text", text: char });
  screen.redraw();
  screen.print(["12:00:00  connect  1.2.3.4:5  guest-1", "12:00:01  message  ..."], true);
  await screen.flush();
  assert.equal(terminal.writes.length, 1, "one write for the turn's lines and the redraw");
  assert.equal(
    terminal.text,
    "\r\x1b[K12:00:00  connect  1.2.3.4:5  guest-1\r\n\r\x1b[K12:00:01  message  ...\r\n" +
      "\rparley> /kick bo\x1b[K\r\x1b[16C",
  );
});

Deno.test("console screen: a slow terminal bounds waiting log lines, counts the dropped, keeps replies", async () => {
  const terminal = new FakeTerminal();
  const release = Promise.withResolvers<void>();
  terminal.gate = release.promise;
  const screen = new ConsoleScreen(terminal, { prompt: "> ", columns: 80, limit: 100 });
  screen.enable();
  await Promise.resolve();
  await Promise.resolve(); // the first write (the input line) is now waiting on the gate
  for (let i = 0; i < 50; i++) screen.print([`log line ${String(i).padStart(2, "0")}`], true);
  screen.print(["reply: never dropped"]);
  assert.equal(screen.pending, true);
  release.resolve();
  while (screen.pending) await screen.flush();
  const text = terminal.text;
  assert.match(text, /log line 00/);
  assert.doesNotMatch(text, /log line 49/);
  assert.match(text, /\(log: \d+ lines dropped: the terminal was not keeping up\)/);
  assert.match(text, /reply: never dropped/);
});

/** Line input from a list of chunks, then end of input. */
function chunks(...parts: string[]) {
  const encoder = new TextEncoder();
  const queue = parts.map((part) => encoder.encode(part));
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (next === undefined) return Promise.resolve(null);
      if (next.length > buffer.length) queue.unshift(next.subarray(buffer.length));
      const taken = next.subarray(0, buffer.length);
      buffer.set(taken);
      return Promise.resolve(taken.length);
    },
  };
}

Deno.test("console in line mode: commands in order, replies and problems to the sink, end of input said", async () => {
  const sink = new MemorySink();
  const seen: ServerCommand[] = [];
  const console = new ServerConsole({
    sink,
    input: chunks("/who\n/kick bo", "b spam\nhello\n\n/help kick\n/stats\n/rooms"),
    onInterrupt: () => {},
    async onCommand(command) {
      seen.push(command);
      if (command.kind === "stats") throw new Error("store unreachable");
      await new Promise((resolve) => setTimeout(resolve, command.kind === "who" ? 30 : 0));
      return [`did ${command.kind}`, "second\x1b[31m line"];
    },
  });
  console.start();
  assert.equal(console.state, "lines");
  await console.ended;
  assert.equal(console.state, "ended");
  assert.deepEqual(seen.map((command) => command.kind), ["who", "kick", "stats", "rooms"]);
  assert.deepEqual(seen[1], { kind: "kick", nick: "bob", reason: "spam" });
  assert.deepEqual(sink.lines, [
    "did who",
    "second[31m line", // control characters removed
    "did kick",
    "second[31m line",
    `!!! ${describeProblem({ code: "not-a-command", text: "hello" })}`,
    "/kick NICK [REASON]  disconnect a user",
    "!!! /stats failed: store unreachable",
    "did rooms", // the last line had no line ending
    "second[31m line",
    `-- ${CONSOLE_NOTES.ended}`,
  ]);
  await console.close();
  assert.equal(console.state, "closed");
});

Deno.test("console in line mode: JSON log, JSON replies; nothing read means nothing said", async () => {
  const sink = new MemorySink();
  const console = new ServerConsole({
    sink,
    json: true,
    input: chunks("/bans\n"),
    onInterrupt: () => {},
    onCommand: () => ["no bans"],
  });
  console.start();
  await console.ended;
  const records = sink.lines.map((line) => JSON.parse(line));
  assert.deepEqual(records.map(({ event, text }) => ({ event, text })), [
    { event: "console", text: "no bans" },
    { event: "console", text: `-- ${CONSOLE_NOTES.ended}` },
  ]);
  assert.match(records[0].ts, /^\d{4}-\d\d-\d\dT/);

  const quiet = new MemorySink();
  const idle = new ServerConsole({
    sink: quiet,
    input: chunks(),
    onInterrupt: () => {},
    onCommand: () => [],
  });
  idle.start();
  await idle.ended;
  assert.deepEqual(quiet.lines, [], "stdin like /dev/null: the console ends without a word");
});

Deno.test("console sink: without an input line, log lines go to the wrapped sink", async () => {
  const sink = new MemorySink();
  const console = new ServerConsole({ sink, onInterrupt: () => {}, onCommand: () => [] });
  console.sink.write("12:00:00  listening  0.0.0.0:12000\n");
  await console.sink.flush();
  assert.deepEqual(sink.lines, ["12:00:00  listening  0.0.0.0:12000"]);
  assert.equal(console.state, "idle");
  await console.close();
});

/** The driver: a ServerConsole on the real stdin, a fake server behind it. */
const DRIVER = `
import { ServerConsole } from ${
  JSON.stringify(new URL("../src/console/console.ts", import.meta.url).href)
};
const console = new ServerConsole({
  onInterrupt: () => ["interrupt"],
  onCommand: (command) => ["reply " + JSON.stringify(command)],
});
console.sink.write("log: started " + console.state + "\\n");
console.start();
console.sink.write("log: console " + console.state + "\\n");
await console.ended;
console.sink.write("log: the server goes on\\n");
await new Promise((resolve) => setTimeout(resolve, 100));
console.sink.write("log: still running\\n");
await console.close();
await console.sink.flush();
`;

async function writeDriver(): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "parley-console-driver-", suffix: ".ts" });
  await Deno.writeTextFile(path, DRIVER);
  return path;
}

Deno.test("console from a pipe, as a real process: replies on stdout, end of input ends only the console", async () => {
  const driver = await writeDriver();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", driver],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("/mute bob 10m\nhi\n/help mute\n"));
    await writer.close();
    const timer = setTimeout(() => child.kill(), 20_000);
    const { code, stdout, stderr } = await child.output();
    clearTimeout(timer);
    const lines = new TextDecoder().decode(stdout).trimEnd().split("\n");
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.deepEqual(lines, [
      "log: started idle",
      "log: console lines",
      `reply {"kind":"mute","nick":"bob","duration":600000}`,
      `!!! ${describeProblem({ code: "not-a-command", text: "hi" })}`,
      "/mute NICK [DURATION]  the user's messages reach nobody; no duration = until /unmute",
      `-- ${CONSOLE_NOTES.ended}`,
      "log: the server goes on",
      "log: still running",
    ]);
  } finally {
    await Deno.remove(driver);
  }
});

Deno.test("a ban target parsed from text matches what parseCidr gives", () => {
  const result = parseOperatorLine("/ban 198.51.100.0/24");
  assert.equal(result.type, "command");
  const command = (result as Extract<ConsoleLine, { type: "command" }>).command;
  assert.equal(command.kind, "ban");
  if (command.kind === "ban" && command.target.kind === "addresses") {
    assert.deepEqual(command.target.block, parseCidr("198.51.100.0/24"));
  } else {
    assert.fail("an address target");
  }
});

Deno.test("console in line mode: an over-long line is refused in its place, the rest still runs", async () => {
  const sink = new MemorySink();
  const console = new ServerConsole({
    sink,
    input: chunks("/rooms\n", "/say " + "x".repeat(70_000) + "\n/bans\n"),
    onInterrupt: () => {},
    onCommand: (command) => [`did ${command.kind}`],
  });
  console.start();
  await console.ended;
  assert.deepEqual(sink.lines, [
    "did rooms",
    "!!! line longer than 65536 bytes ignored",
    "did bans",
    `-- ${CONSOLE_NOTES.ended}`,
  ]);
});
