/**
 * History over real sockets, one server (SPEC §13, issue 21): an IRC client
 * that reconnects fetches exactly what it missed with CHATHISTORY AFTER (also
 * across a restart with `--data`); private history readable by its two
 * parties and by no one else; paging back 10,000 lines 100 at a time; line
 * clients' /history and /search; retention with a fake clock.
 */

import assert from "node:assert/strict";
import { DAY_MS } from "../src/core/history.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { startServer, TestClient, type TestServer } from "./helpers.ts";

const CAPS = [
  "message-tags",
  "server-time",
  "batch",
  "echo-message",
  "labeled-response",
  "draft/chathistory",
];
const PASSWORD = "correct-horse-battery";

/** An IRC client with the history capabilities, proving `nick` with PASS when `password` is given. */
async function irc(port: number, nick: string, password?: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  if (password) client.send(`PASS ${nick}:${password}`);
  client.send("CAP LS 302");
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick}`);
  await client.expect(/^:\S+ CAP \S+ LS /);
  client.send(`CAP REQ :${CAPS.join(" ")}`);
  await client.expect(/ CAP \S+ ACK :/);
  client.send("CAP END");
  await client.expect(new RegExp(`^:\\S+ 001 ${nick} :`));
  await client.expect(/^:\S+ (376|422) /);
  return client;
}

/** Registers `nick` (from a line client that then leaves). */
async function register(port: number, nick: string): Promise<void> {
  const line = await TestClient.join(port, nick);
  line.send(`/register ${PASSWORD}`);
  await line.expect(new RegExp(`the nick ${nick} is yours now`));
  line.send("/quit");
  await line.expectClosed();
}

interface Kept {
  msgid: string;
  time: string;
  line: string;
  text: string;
}

/** Sends a CHATHISTORY command and collects its batch (empty when the batch is). */
async function history(client: TestClient, command: string): Promise<Kept[]> {
  client.take();
  client.sendIrc(`CHATHISTORY ${command}`);
  const start = await client.expect(/^(?:@\S+ )?:\S+ (?:BATCH \+\S+ chathistory |FAIL )/);
  if (/ FAIL /.test(start)) throw new Error(start);
  const ref = / BATCH \+(\S+) /.exec(start)![1];
  const kept: Kept[] = [];
  for (;;) {
    const line = await client.expect(/./);
    if (line.endsWith(` BATCH -${ref}`)) return kept;
    const tags = Object.fromEntries(
      line.slice(1, line.indexOf(" ")).split(";").map((tag) => tag.split("=")),
    );
    assert.equal(tags.batch, ref, `a line of the batch: ${line}`);
    kept.push({ msgid: tags.msgid, time: tags.time, line, text: line.replace(/^.* :/, "") });
  }
}

/** A live PRIVMSG's msgid, as a client with message-tags received it. */
function msgidOf(line: string): string {
  return /msgid=([^; ]+)/.exec(line)?.[1] ?? assert.fail(`no msgid: ${line}`);
}

async function withData<T>(
  test: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "parley-history-irc-" });
  try {
    return await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function serveWith(store: SqliteStore, options: Parameters<typeof startServer>[0] = {}) {
  return startServer({ withIrcPort: true, ...options, chat: { store, ...options.chat } });
}

Deno.test("history: a client back after a break fetches exactly what it missed with AFTER msgid, also across a restart with --data", async () => {
  await withData(async (dir) => {
    const path = `${dir}/chat.db`;
    let store = SqliteStore.open(path, { historySize: 100_000 });
    let server: TestServer = serveWith(store);
    try {
      const alice = await irc(server.ircPort, "alice");
      alice.sendIrc("JOIN #dev");
      await alice.expect(/ 366 alice #dev /);
      const bob = await TestClient.join(server.port, "bob");
      bob.send("/join dev");
      await bob.expect(/you are now in #dev/);
      for (let i = 1; i <= 5; i++) bob.send(`before the break ${i}`);
      const last = msgidOf(await alice.expect(/PRIVMSG #dev :before the break 5$/));
      alice.close();
      for (let i = 1; i <= 7; i++) bob.send(`while away ${i}`);
      bob.send("/who"); // answered once every line before it was said
      await bob.expect(/^\*\*\* in #dev: /);
      const back = await irc(server.ircPort, "alice");
      back.sendIrc("JOIN #dev");
      await back.expect(/ 366 alice #dev /);
      let missed = await history(back, `AFTER #dev msgid=${last} 100`);
      assert.deepEqual(
        missed.map((m) => m.text),
        Array.from({ length: 7 }, (_, i) => `while away ${i + 1}`),
      );
      assert.equal(new Set(missed.map((m) => m.msgid)).size, 7);
      const lastSeen = missed[6].msgid;
      back.close();
      bob.close();

      // A restart: the ids and the order are the file's.
      await server.close();
      await store.close();
      store = SqliteStore.open(path, { historySize: 100_000 });
      server = serveWith(store);
      const carol = await TestClient.join(server.port, "carol");
      carol.send("/join dev");
      await carol.expect(/you are now in #dev/);
      for (let i = 1; i <= 3; i++) carol.send(`after the restart ${i}`);
      const again = await irc(server.ircPort, "alice");
      again.sendIrc("JOIN #dev");
      await again.expect(/PRIVMSG #dev :after the restart 3$/);
      missed = await history(again, `AFTER #dev msgid=${lastSeen} 100`);
      assert.deepEqual(missed.map((m) => m.text), [
        "after the restart 1",
        "after the restart 2",
        "after the restart 3",
      ]);
      // Nothing twice: after the first batch's last, the second's; before it, the 12 said before.
      const before = await history(again, `BEFORE #dev msgid=${missed[0].msgid} 100`);
      assert.equal(before.length, 12);
      assert.equal(before[11].msgid, lastSeen);
      again.close();
      carol.close();
    } finally {
      await server.close();
      await store.close();
    }
  });
});

Deno.test("history: private messages are read back by their two parties and by no one else", async () => {
  await withData(async (dir) => {
    const store = SqliteStore.open(`${dir}/chat.db`, { historySize: 100_000 });
    const server = serveWith(store, { chat: { operPassword: "oper-pass-1234" } });
    try {
      // Bob registered with a capital: copies go by the account's key all the same.
      for (const nick of ["alice", "Bob", "carol"]) await register(server.port, nick);
      const alice = await irc(server.ircPort, "alice", PASSWORD);
      const bob = await irc(server.ircPort, "Bob", PASSWORD);
      const said: string[] = [];
      for (let i = 1; i <= 4; i++) {
        const [from, to] = i % 2 ? [alice, "Bob"] : [bob, "alice"];
        from.sendIrc(`PRIVMSG ${to} :secret ${i}`);
        said.push(msgidOf(await from.expect(new RegExp(`PRIVMSG ${to} :secret ${i}$`)))); // echo
      }
      await alice.expect(/PRIVMSG alice :secret 4$/);
      const ofAlice = await history(alice, "LATEST bob * 10");
      const ofBob = await history(bob, "LATEST ALICE * 10"); // nicks in any case
      assert.deepEqual(ofAlice.map((m) => m.text), [
        "secret 1",
        "secret 2",
        "secret 3",
        "secret 4",
      ]);
      assert.deepEqual(ofAlice.map((m) => m.msgid), said);
      assert.deepEqual(ofBob.map((m) => m.msgid), said);
      assert.match(ofBob[0].line, /:alice!alice@\S+ PRIVMSG Bob :secret 1$/);

      // A third account, an operator, and a guest: nothing, as if nothing was ever said.
      const carol = await irc(server.ircPort, "carol", PASSWORD);
      assert.deepEqual(await history(carol, "LATEST alice * 10"), []);
      assert.deepEqual(await history(carol, "LATEST bob * 10"), []);
      const dave = await irc(server.ircPort, "dave");
      dave.sendIrc("OPER dave oper-pass-1234");
      await dave.expect(/ 381 dave /);
      assert.deepEqual(await history(dave, "LATEST alice * 10"), []);
      assert.deepEqual(await history(dave, "LATEST bob * 10"), []);

      // A guest's talk is kept for the account it talked to, never for the guest, nor for
      // whoever takes the guest's nick after it left.
      const eve = await irc(server.ircPort, "eve");
      eve.sendIrc("PRIVMSG alice :hello from a guest");
      await alice.expect(/PRIVMSG alice :hello from a guest$/);
      alice.sendIrc("PRIVMSG eve :hello guest");
      await eve.expect(/PRIVMSG eve :hello guest$/);
      assert.deepEqual((await history(alice, "LATEST eve * 10")).map((m) => m.text), [
        "hello from a guest",
        "hello guest",
      ]);
      assert.deepEqual(await history(eve, "LATEST alice * 10"), []);
      eve.sendIrc("QUIT");
      await eve.expectClosed();
      const mallory = await irc(server.ircPort, "eve");
      assert.deepEqual(await history(mallory, "LATEST alice * 10"), []);

      // A dropped account's copies go with it: whoever registers the nick next reads none.
      alice.sendIrc("PRIVMSG NickServ :DROP");
      await alice.expect(/NOTICE alice :.*not registered any more|dropped/i);
      alice.sendIrc("QUIT");
      await alice.expectClosed();
      await register(server.port, "alice");
      const newAlice = await irc(server.ircPort, "alice", PASSWORD);
      assert.deepEqual(await history(newAlice, "LATEST bob * 10"), []);
      assert.deepEqual((await history(bob, "LATEST alice * 10")).length, 4); // bob keeps his
      for (const client of [bob, carol, dave, mallory, newAlice]) client.close();
    } finally {
      await server.close();
      await store.close();
    }
  });
});

Deno.test("history: paging back 10,000 lines 100 at a time yields every line once, in order", async () => {
  await withData(async (dir) => {
    const store = SqliteStore.open(`${dir}/chat.db`, { historySize: 100_000 });
    const server = serveWith(store);
    try {
      const bob = await TestClient.join(server.port, "bob");
      bob.send("/join dev");
      await bob.expect(/you are now in #dev/);
      const lines = Array.from({ length: 10_000 }, (_, i) => `line ${i}`);
      for (let at = 0; at < lines.length; at += 500) {
        await bob.write(new TextEncoder().encode(lines.slice(at, at + 500).join("\n") + "\n"));
      }
      bob.send("/who"); // answered once every line before it was said
      await bob.expect(/^\*\*\* in #dev: /, 30_000);
      const alice = await irc(server.ircPort, "alice");
      alice.sendIrc("JOIN #dev");
      await alice.expect(/ 366 alice #dev /);
      const seen: Kept[] = [];
      let page = await history(alice, "LATEST #dev * 100");
      while (page.length > 0) {
        assert.ok(page.length <= 100);
        seen.unshift(...page);
        page = await history(alice, `BEFORE #dev msgid=${page[0].msgid} 100`);
      }
      assert.equal(seen.length, 10_000);
      assert.deepEqual(seen.map((m) => m.text), lines);
      assert.equal(new Set(seen.map((m) => m.msgid)).size, 10_000);
      alice.close();
      bob.close();
    } finally {
      await server.close();
      await store.close();
    }
  });
});

Deno.test("history: line clients page back with /history and find with /search", async () => {
  await withData(async (dir) => {
    const store = SqliteStore.open(`${dir}/chat.db`, { historySize: 100_000 });
    const server = serveWith(store, { history: 5 });
    try {
      await register(server.port, "carol");
      const bob = await TestClient.join(server.port, "bob");
      bob.send("/join dev");
      await bob.expect(/you are now in #dev/);
      for (let i = 0; i < 30; i++) bob.send(`line ${i}${i === 7 ? " with a Needle" : ""}`);
      const carol = await TestClient.join(server.port);
      carol.send(`/identify carol ${PASSWORD}`);
      await carol.expect("*** you are identified as carol");
      bob.send("/msg carol a needle for carol");
      await bob.expect("-> *carol* a needle for carol");
      carol.send("/join dev");
      await carol.expect("*** last 5 messages in #dev:");
      await carol.expect("*** end of history; new messages follow");
      const block = async (start: string | RegExp, end: string, client = carol) => {
        await client.expect(start);
        const got: string[] = [];
        for (;;) {
          const line = await client.expect(/./);
          if (line === end) return got;
          got.push(line);
        }
      };
      carol.send("/history 10");
      let got = await block("*** 10 earlier messages in #dev:", "*** end of earlier messages");
      assert.equal(got.length, 10);
      got.forEach((line, i) =>
        assert.match(line, new RegExp(`^\\[\\d\\d:\\d\\d\\] <bob> line ${15 + i}$`))
      );
      carol.send("/more");
      got = await block("*** 15 earlier messages in #dev:", "*** end of earlier messages");
      assert.match(got[0], /^\[\d\d:\d\d\] <bob> line 0$/);
      assert.match(got[14], /^\[\d\d:\d\d\] <bob> line 14$/);
      carol.send("/history");
      await carol.expect("*** no earlier messages in #dev");

      carol.send("/search NEEDLE");
      got = await block(
        '*** 2 messages with "needle" in #dev and your private messages:',
        "*** end of search",
      );
      assert.match(got[0], /^\[\d\d:\d\d\] <bob> line 7 with a Needle$/);
      assert.match(got[1], /^\[\d\d:\d\d\] \*bob\* a needle for carol$/);
      bob.send("/search needle");
      got = await block('*** 1 message with "needle" in #dev:', "*** end of search", bob);
      assert.equal(got.length, 1); // bob is a guest: no private messages kept for him
      carol.send("/search nothing like it");
      await carol.expect(/^\*\*\* no messages with "nothing like it" in #dev/);
      carol.close();
      bob.close();
    } finally {
      await server.close();
      await store.close();
    }
  });
});

Deno.test("history: retention with a fake clock: older than --history-days is gone after the next pruning step", async () => {
  await withData(async (dir) => {
    const start = Date.UTC(2030, 0, 1);
    let now = start;
    const clock = () => now;
    const store = SqliteStore.open(`${dir}/chat.db`, {
      historySize: 100_000,
      historyDays: 30,
      clock,
    });
    const server = serveWith(store, { chat: { clock } });
    try {
      const bob = await TestClient.join(server.port, "bob");
      bob.send("/join dev");
      await bob.expect(/you are now in #dev/);
      const alice = await irc(server.ircPort, "alice");
      alice.sendIrc("JOIN #dev");
      await alice.expect(/ 366 alice #dev /);
      for (let i = 1; i <= 3; i++) bob.send(`old ${i}`);
      await alice.expect(/PRIVMSG #dev :old 3$/);
      now += 10 * DAY_MS;
      bob.send("newer");
      await alice.expect(/PRIVMSG #dev :newer$/);
      now += 25 * DAY_MS; // "old" are 35 days old, "newer" 25
      assert.deepEqual((await history(alice, "LATEST #dev * 10")).map((m) => m.text), [
        "old 1",
        "old 2",
        "old 3",
        "newer",
      ]);
      store.history.maintain({ prune: true });
      assert.deepEqual((await history(alice, "LATEST #dev * 10")).map((m) => m.text), ["newer"]);
      assert.equal(
        (await history(alice, `BEFORE #dev timestamp=${new Date(now).toISOString()} 10`)).length,
        1,
      );
      alice.close();
      bob.close();
    } finally {
      await server.close();
      await store.close();
    }
  });
});

Deno.test("history: CHATHISTORY's errors and its limits", async () => {
  const server = startServer({ withIrcPort: true });
  try {
    const alice = await irc(server.ircPort, "alice");
    alice.sendIrc("JOIN #dev");
    await alice.expect(/ 366 alice #dev /);
    alice.sendIrc("CHATHISTORY SIDEWAYS #dev * 10");
    await alice.expect(/ FAIL CHATHISTORY UNKNOWN_COMMAND SIDEWAYS :/);
    alice.sendIrc("CHATHISTORY BEFORE #dev");
    await alice.expect(/ FAIL CHATHISTORY NEED_MORE_PARAMS BEFORE :/);
    alice.sendIrc("CHATHISTORY BEFORE #dev yesterday 10");
    await alice.expect(/ FAIL CHATHISTORY INVALID_PARAMS BEFORE #dev :/);
    alice.sendIrc("CHATHISTORY LATEST #dev * none");
    await alice.expect(/ FAIL CHATHISTORY INVALID_PARAMS LATEST none :/);
    alice.sendIrc("CHATHISTORY LATEST #elsewhere * 10");
    await alice.expect(/ FAIL CHATHISTORY INVALID_TARGET LATEST #elsewhere :/);
    // In memory (no --data): the newest 1000 per room; a request gets at most 100.
    for (let i = 0; i < 150; i++) alice.sendIrc(`PRIVMSG #dev :m${i}`);
    await alice.expect(/PRIVMSG #dev :m149$/);
    const latest = await history(alice, "LATEST #dev * 1000");
    assert.equal(latest.length, 100);
    assert.equal(latest[99].text, "m149");
    // A labelled request: the label on the batch's start.
    alice.sendIrc("@label=abc CHATHISTORY LATEST #dev * 2");
    await alice.expect(/^@label=abc :\S+ BATCH \+\S+ chathistory #dev$/);
    alice.sendIrc(
      "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 10",
    );
    await alice.expect(/ BATCH \+\S+ draft\/chathistory-targets$/);
    await alice.expect(/ CHATHISTORY TARGETS #dev \d{4}-\d\d-\d\dT/);
    alice.close();
  } finally {
    await server.close();
  }
});
