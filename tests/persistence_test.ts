/**
 * `--data FILE` and the operator console with real server processes (SPEC
 * §10): what survives a restart (history with its times, topics, accounts,
 * bans), what survives `kill -9`, a corrupt file, and operator commands typed
 * into the server's stdin, with clients from other loopback addresses (`nc -s`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  missingTools,
  NetcatClient,
  runCli,
  startServerProcess,
  TestClient,
  waitUntil,
} from "./helpers.ts";

const PASSWORD = "sekret-horse-42";
/** `/me waves` as IRC clients get it: a CTCP ACTION. */
const ACTION_WAVES = new RegExp("PRIVMSG #rust :\x01ACTION waves\x01$");

/** The `@time=` tag of a line. */
function timeTag(line: string): string {
  return /^@time=(\S+) /.exec(line)?.[1] ?? assert.fail(`no time tag: ${line}`);
}

Deno.test("--data: history with its times, topics, rooms, accounts and bans survive a SIGTERM restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-data-" });
  const data = join(dir, "chat.db");
  const args = ["--data", data, "--irc-port", "0", "--irc-name", "test.parley"];
  let server = await startServerProcess(args, { console: true });
  try {
    const alice = await TestClient.join(server.port, "alice");
    alice.send(`/register ${PASSWORD}`);
    await alice.expect(/the nick alice is yours now/);
    alice.send("/join rust");
    await alice.expect(/^\*\*\* you are now in #rust/);
    alice.send("/topic crabs and borrowing");
    await alice.expect(/topic of #rust is now: crabs and borrowing/);
    const watcher = await TestClient.registerIrc(server.ircPort, "watcher", {
      caps: ["server-time"],
    });
    watcher.sendIrc("JOIN #rust");
    await watcher.expect(/ 366 watcher #rust /);
    alice.send("hello 世界 👋");
    alice.send("/me waves");
    const said = timeTag(await watcher.expect(/PRIVMSG #rust :hello 世界 👋$/));
    const waved = timeTag(await watcher.expect(ACTION_WAVES));
    await server.type("/ban 203.0.113.0/24 2h abuse from that block");
    await server.stdout.waitFor(
      /banned 203\.0\.113\.0\/24 until .* \(abuse from that block\), by console/,
    );
    alice.close();
    watcher.close();
    assert.equal(await server.stop("SIGTERM"), 0);

    server = await startServerProcess(args, { console: true });
    const irc = await TestClient.registerIrc(server.ircPort, "reader", { caps: ["server-time"] });
    irc.sendIrc("JOIN #rust");
    await irc.expect(/ 332 reader #rust :crabs and borrowing$/);
    assert.equal(timeTag(await irc.expect(/PRIVMSG #rust :hello 世界 👋$/)), said);
    assert.equal(timeTag(await irc.expect(ACTION_WAVES)), waved);
    const line = await TestClient.join(server.port);
    line.send("/nick alice");
    await line.expect(/^!!! the nick alice is registered/);
    line.send(`/identify alice ${PASSWORD}`);
    await line.expect("*** you are identified as alice");
    line.send("/rooms");
    await line.expect(/#rust \(1\)/);
    await server.type("/bans");
    await server.stdout.waitFor(
      /^203\.0\.113\.0\/24 until .* left\) \(abuse from that block\), by console$/m,
    );
    line.close();
    irc.close();
  } finally {
    await server.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--data: kill -9 in the middle of a conversation loses no message anyone received", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-data-" });
  const data = join(dir, "chat.db");
  const args = ["--data", data, "--history", "1000", "--rate", "0"];
  let server = await startServerProcess(args);
  try {
    const talker = await TestClient.join(server.port, "talker");
    const listener = await TestClient.join(server.port, "listener");
    let sent = 0;
    const encoder = new TextEncoder();
    const talking = (async () => {
      try {
        while (sent < 600) {
          await talker.write(encoder.encode(`line ${++sent}\n`));
          if (sent % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
        }
      } catch {
        // the server is gone (killed): the talker stops
      }
    })();
    await waitUntil(
      () => listener.lines.filter((l) => l.startsWith("<talker> line ")).length >= 150,
      "the listener to hear 150 lines",
    );
    server.child.kill("SIGKILL");
    await server.child.status;
    await talking;
    await waitUntil(() => listener.isClosed, "the listener to see the server gone");
    const heard = listener.lines.filter((l) => l.startsWith("<talker> line "))
      .map((l) => l.slice("<talker> ".length));
    talker.close();
    server = await startServerProcess(args);
    const newcomer = await TestClient.connect(server.port);
    newcomer.send("");
    await newcomer.expect(/^\*\*\* end of history/, 10_000);
    const kept = newcomer.lines.map((l) => /^\[\d\d:\d\d\] <talker> (line \d+)$/.exec(l)?.[1])
      .filter((l) => l !== undefined);
    assert.ok(heard.length >= 150 && heard.length < 600, `heard ${heard.length}`);
    assert.deepEqual(kept.slice(0, heard.length), heard, "every line heard is in the history");
    newcomer.close();
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--data: a file that is not parley's database, and --data with --cluster: one line, a non-zero exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-data-" });
  try {
    const corrupt = join(dir, "corrupt.db");
    await Deno.writeFile(corrupt, new TextEncoder().encode("SQLite format 3\0" + "x".repeat(5000)));
    const result = await runCli(["server", "--port", "0", "--data", corrupt]);
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^parley server: .*corrupt\.db/);
    assert.equal(result.stdout, "");

    const text = join(dir, "notes.txt");
    await Deno.writeTextFile(text, "my shopping list\n".repeat(100));
    const other = await runCli(["server", "--port", "0", "--data", text]);
    assert.equal(other.code, 1, other.stderr);
    assert.match(other.stderr.trim(), /^parley server: [^\n]*notes\.txt[^\n]*$/);
    assert.equal(await Deno.readTextFile(text), "my shopping list\n".repeat(100), "left as it was");

    const both = await runCli([
      "server",
      "--data",
      join(dir, "x.db"),
      "--cluster",
      "redis://127.0.0.1:1",
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--data and --cluster do not go together/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "console: /say, /mute, /kick, /ban of an address and a CIDR block with expiry, /unban, typed into the server's stdin",
  ignore: await missingTools("console test", "nc"),
}, async () => {
  const server = await startServerProcess([], { console: true });
  const netcats: NetcatClient[] = [];
  try {
    const ann = await TestClient.join(server.port, "ann");
    const far = new NetcatClient(server.port, "127.0.0.9");
    netcats.push(far);
    await far.send("/nick far");
    await ann.expect("*** far joined #lobby"); // a first line /nick NAME arrives as NAME
    const near = new NetcatClient(server.port, "127.0.0.10");
    netcats.push(near);
    await near.send("/nick near");
    await ann.expect("*** near joined #lobby");

    await server.type("/say maintenance at noon");
    await ann.expect("*** maintenance at noon");
    await far.output.waitFor(/\*\*\* maintenance at noon/);

    await server.type("/mute near 10m");
    await server.stdout.waitFor(/^muted near for 10m$/m);
    await near.send("am I heard?");
    await near.output.waitFor(/!!! you are muted until/);

    await server.type("/kick near enough");
    await near.output.waitFor(/!!! you were kicked by console \(enough\)/);
    await near.closedByServer();
    await ann.expect("*** near left (kicked by console: enough)");

    // A ban on a block kicks who is in it, and refuses them at the door until it ends.
    await server.type("/ban 127.0.0.8/30 30m spam");
    await far.output.waitFor(/!!! you are banned from this server until .* UTC: spam$/m);
    await far.closedByServer();
    await server.stdout.waitFor(/banned 127\.0\.0\.8\/30 until .*by console/);
    const again = new NetcatClient(server.port, "127.0.0.11");
    netcats.push(again);
    await again.output.waitFor(
      /^!!! you are banned from this server until \d{4}-\d\d-\d\d \d\d:\d\d UTC: spam$/m,
    );
    assert.equal(await again.closedByServer(), 0);
    await server.stdout.waitFor(/refused +127\.0\.0\.11:\d+ +reason="banned \(127\.0\.0\.8\/30\)"/);

    // A ban on one address, for good; the others still come in.
    await server.type("/ban 127.0.0.20");
    await server.stdout.waitFor(/^banned 127\.0\.0\.20 for good, by console$/m);
    const banned = new NetcatClient(server.port, "127.0.0.20");
    netcats.push(banned);
    await banned.output.waitFor(/^!!! you are banned from this server$/m);
    await server.type("/unban 127.0.0.8/30");
    await server.stdout.waitFor(/^lifted the ban on 127\.0\.0\.8\/30$/m);
    const back = new NetcatClient(server.port, "127.0.0.11");
    netcats.push(back);
    await back.output.waitFor(/welcome to parley/);
    await server.type("/bans");
    await server.stdout.waitFor(/^127\.0\.0\.20 for good, by console$/m);
    await server.type("/who");
    await server.stdout.waitFor(/^online \(2\): /m);
    ann.close();
  } finally {
    for (const nc of netcats) await nc.close();
    await server.stop("SIGTERM");
  }
});

Deno.test({
  name: "--metrics: curl sees the counts of what happened",
  ignore: await missingTools("metrics test", "curl"),
}, async () => {
  const server = await startServerProcess(["--metrics", "127.0.0.1:0"]);
  try {
    const a = await TestClient.join(server.port, "a");
    const b = await TestClient.join(server.port, "b");
    const irc = await TestClient.registerIrc(server.port, "i");
    irc.sendIrc("JOIN #lobby");
    await irc.expect(/ 366 i #lobby /);
    a.send("one");
    a.send("two");
    b.send("three");
    a.send("/msg b psst");
    await b.expect("*a* psst");
    await irc.expect(/PRIVMSG #lobby :three$/);
    await a.expect("<b> three");
    // A browser's request on the chat port: the page, served; no client in the chat.
    const http = new Deno.Command("curl", {
      args: ["-s", "-m", "5", `http://127.0.0.1:${server.port}/`],
    });
    await http.output();
    b.send("/quit");
    await b.expectClosed();
    const scrape = async () => {
      const out = await new Deno.Command("curl", {
        args: ["-s", "-m", "5", `http://127.0.0.1:${server.metricsPort}/metrics`],
      }).output();
      return new TextDecoder().decode(out.stdout);
    };
    let text = "";
    const value = (series: string) => {
      const found = text.split("\n").find((l) => l.startsWith(series + " "));
      return found === undefined ? NaN : Number(found.slice(series.length + 1));
    };
    await waitUntil(async () => {
      text = await scrape();
      return value('parley_disconnects_total{reason="quit"}') === 1;
    }, "the quit to be counted");
    assert.equal(value('parley_clients_online{frontend="line"}'), 1);
    assert.equal(value('parley_clients_online{frontend="irc"}'), 1);
    assert.equal(value("parley_connections_accepted_total"), 4);
    assert.equal(value('parley_clients_online{frontend="web"}'), 0);
    assert.equal(value('parley_messages_received_total{frontend="line"}'), 3);
    assert.equal(value("parley_private_messages_total"), 1);
    // one, two: to b and i; three: to a and i; psst: to b.
    assert.equal(value("parley_deliveries_total"), 7);
    assert.ok(value("parley_bytes_received_total") > 50);
    assert.ok(value("parley_bytes_sent_total") > 200);
    assert.ok(value("process_resident_memory_bytes") > 10e6);
    assert.match(text, /# TYPE parley_deliveries_total counter/);
    a.close();
    irc.close();
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("console: /setpassword NICK PASSWORD and /drop NICK, as operators in chat have them", async () => {
  const server = await startServerProcess([], { console: true });
  try {
    const bob = await TestClient.join(server.port, "bob");
    await bob.send(`/register ${PASSWORD}`);
    await bob.expect(/^\*\*\* the nick bob is yours now/);

    await server.type("/setpassword bob another-horse-43");
    await server.stdout.waitFor(/^the password of bob is changed$/m);
    await server.stdout.waitFor(/operator +console +the password of bob is changed/);
    assert.ok(!server.stdout.text.includes("another-horse-43"), "no password in the log");
    const again = await TestClient.join(server.port);
    await again.send(`/identify bob ${PASSWORD}`);
    await again.expect("!!! wrong password for bob");
    await again.send("/identify bob another-horse-43");
    await again.expect("*** you are identified as bob");

    await server.type("/drop bob");
    await server.stdout.waitFor(/^the nick bob is not registered any more$/m);
    const third = await TestClient.join(server.port);
    await third.send("/identify bob another-horse-43");
    await third.expect("!!! the nick bob is not registered");

    await server.type("/drop nobody");
    await server.stdout.waitFor(/^!!! the nick nobody is not registered$/m);
    await server.type("/setpassword bob");
    await server.stdout.waitFor(/^!!! usage: \/setpassword NICK PASSWORD$/m);
    for (const client of [bob, again, third]) client.close();
  } finally {
    await server.stop();
  }
});
