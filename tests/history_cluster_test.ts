/**
 * History in a cluster (SPEC §9, §13; issue 21), with a real redis-server:
 * two server processes are one history (a client that moves to the other
 * server fetches exactly what it missed with AFTER msgid; both servers answer
 * the same messages in the same order with the same msgids; private
 * conversations across servers are read back by their two parties only), and
 * retention in Redis with a fake clock.
 */

import assert from "node:assert/strict";
import { Chat, type ChatMember, type Endpoint, type Renderer } from "../src/core/chat.ts";
import { DAY_MS } from "../src/core/history.ts";
import { openCluster } from "../src/store/redis/cluster.ts";
import { RedisHistory } from "../src/store/redis/history.ts";
import { missingTools, type ServerProcess, startServerProcess, TestClient } from "./helpers.ts";
import { startRedisServer } from "./redis_server.ts";

const NO_REDIS = await missingTools("history cluster test", "redis-server");
const PASSWORD = "correct-horse-battery";
const CAPS = "message-tags server-time batch echo-message labeled-response draft/chathistory";

async function irc(port: number, nick: string, password?: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  if (password) client.send(`PASS ${nick}:${password}`);
  client.send("CAP LS 302");
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick}`);
  await client.expect(/^:\S+ CAP \S+ LS /, 10_000);
  client.send(`CAP REQ :${CAPS}`);
  await client.expect(/ CAP \S+ ACK :/);
  client.send("CAP END");
  await client.expect(new RegExp(`^:\\S+ 001 ${nick} :`), 10_000);
  await client.expect(/^:\S+ (376|422) /);
  return client;
}

interface Kept {
  msgid: string;
  text: string;
  line: string;
}

async function history(client: TestClient, command: string): Promise<Kept[]> {
  client.take();
  client.sendIrc(`CHATHISTORY ${command}`);
  const start = await client.expect(/^:\S+ (?:BATCH \+\S+ chathistory |FAIL )/, 10_000);
  if (/ FAIL /.test(start)) throw new Error(start);
  const ref = / BATCH \+(\S+) /.exec(start)![1];
  const kept: Kept[] = [];
  for (;;) {
    const line = await client.expect(/./);
    if (line.endsWith(` BATCH -${ref}`)) return kept;
    kept.push({
      msgid: /msgid=([^; ]+)/.exec(line)![1],
      text: line.replace(/^.* :/, ""),
      line: line.replace(/batch=[^; ]+;?/, ""),
    });
  }
}

Deno.test({
  name:
    "history cluster: two servers are one history: a client back on the other server fetches what it missed; same ids, same order; private copies per party",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  // IRC clients on the chat port itself (an IRC registration there is served as IRC).
  const args = ["--cluster", redis.url, "--no-console", "--rate", "0"];
  const servers: ServerProcess[] = await Promise.all([
    startServerProcess(args),
    startServerProcess(args),
  ]);
  const [a, b] = servers;
  const clients: TestClient[] = [];
  const keep = (client: TestClient) => (clients.push(client), client);
  try {
    for (const [nick, server] of [["alice", a], ["bob", b], ["carol", a]] as const) {
      const line = keep(await TestClient.join(server.port, nick));
      line.send(`/register ${PASSWORD}`);
      await line.expect(new RegExp(`the nick ${nick} is yours now`), 10_000);
      line.send("/quit");
      await line.expectClosed();
    }
    const alice = keep(await irc(a.port, "alice", PASSWORD));
    const bob = keep(await irc(b.port, "bob", PASSWORD));
    alice.sendIrc("JOIN #dev");
    await alice.expect(/ 366 alice #dev /);
    bob.sendIrc("JOIN #dev");
    await alice.expect(/:bob!\S+ JOIN #dev/, 10_000);
    for (let i = 1; i <= 5; i++) bob.sendIrc(`PRIVMSG #dev :before ${i}`);
    const last = /msgid=([^; ]+)/.exec(await alice.expect(/PRIVMSG #dev :before 5$/, 10_000))![1];
    alice.close();
    for (let i = 1; i <= 7; i++) bob.sendIrc(`PRIVMSG #dev :while away ${i}`);
    await bob.expect(/PRIVMSG #dev :while away 7$/); // echoed: in Redis
    // Back, on the other server.
    const back = keep(await irc(b.port, "alice", PASSWORD));
    back.sendIrc("JOIN #dev");
    await back.expect(/ 366 alice #dev /);
    const missed = await history(back, `AFTER #dev msgid=${last} 100`);
    assert.deepEqual(
      missed.map((m) => m.text),
      Array.from({ length: 7 }, (_, i) => `while away ${i + 1}`),
    );
    // Either server answers the same messages, in the same order, with the same ids.
    const watcher = keep(await irc(a.port, "watcher"));
    watcher.sendIrc("JOIN #dev");
    await watcher.expect(/ 366 watcher #dev /);
    const fromA = await history(watcher, "LATEST #dev * 100");
    const fromB = await history(back, "LATEST #dev * 100");
    assert.equal(fromA.length, 12);
    assert.deepEqual(fromA.map((m) => m.line), fromB.map((m) => m.line));
    assert.equal(new Set(fromA.map((m) => m.msgid)).size, 12);

    // Private messages across servers: alice on a, bob on b; each copy kept by its party's server.
    back.sendIrc("QUIT");
    await back.expectClosed();
    const onA = keep(await irc(a.port, "alice", PASSWORD));
    const said: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const [from, to] = i % 2 ? [onA, "bob"] : [bob, "alice"];
      from.sendIrc(`PRIVMSG ${to} :secret ${i}`);
      const echo = await from.expect(new RegExp(`PRIVMSG ${to} :secret ${i}$`), 10_000);
      said.push(/msgid=([^; ]+)/.exec(echo)![1]);
    }
    await onA.expect(/PRIVMSG alice :secret 4$/, 10_000);
    const conversation = async (client: TestClient, peer: string) => {
      let got: Kept[] = [];
      for (let tries = 0; tries < 50 && got.length < 4; tries++) {
        got = await history(client, `LATEST ${peer} * 10`);
        if (got.length < 4) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return got.map((m) => m.msgid);
    };
    assert.deepEqual(await conversation(onA, "bob"), said);
    assert.deepEqual(await conversation(bob, "alice"), said);
    onA.sendIrc("QUIT");
    await onA.expectClosed();
    const onB = keep(await irc(b.port, "alice", PASSWORD)); // alice's copy, read on b
    assert.deepEqual(await conversation(onB, "bob"), said);
    const carol = keep(await irc(a.port, "carol", PASSWORD));
    assert.deepEqual(await history(carol, "LATEST alice * 10"), []);
    assert.deepEqual(await history(carol, "LATEST bob * 10"), []);
    carol.take();
    carol.sendIrc(
      "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 10",
    );
    await carol.expect(/ BATCH \+\S+ draft\/chathistory-targets$/);
    assert.match(await carol.expect(/BATCH -/), /BATCH -/); // carol has nothing to list
    bob.take();
    bob.sendIrc(
      "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 10",
    );
    await bob.expect(/ CHATHISTORY TARGETS #dev /);
    await bob.expect(/ CHATHISTORY TARGETS alice /);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.stop("SIGTERM")));
  }
});

/** Hands events through as nothing: these members only ask for history. */
const renderer: Renderer = { render: () => null };
const nobody: Endpoint = { renderer, address: "127.0.0.1", send() {}, remove() {} };

Deno.test({
  name: "history cluster: retention in Redis with a fake clock: gone after the next pruning round",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  let now = Date.UTC(2030, 0, 1);
  const clock = () => now;
  const cluster = await openCluster(redis.url, { node: "a", historySize: 1000, historyDays: 30 });
  const chat = new Chat({
    node: "a",
    clock,
    bus: cluster.bus,
    directory: cluster.directory,
    presence: cluster.presence,
    store: cluster.store,
  });
  try {
    const ann = await chat.enter(nobody, "ann", "ann") as ChatMember;
    await chat.apply(ann, { kind: "join", room: "dev", move: false });
    const room = chat.findRoom("dev")!;
    for (let i = 1; i <= 3; i++) chat.say(ann, room, `old ${i}`);
    chat.flush();
    now += 10 * DAY_MS;
    chat.say(ann, room, "newer");
    chat.flush();
    const latest = async () => {
      const reply = await chat.apply(ann, {
        kind: "history",
        target: { room: "dev" },
        request: { kind: "latest", after: null, limit: 10 },
      });
      return reply.kind === "history" ? reply.events.map((event) => event.text) : reply.kind;
    };
    for (let tries = 0; tries < 100 && (await latest()).length < 4; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(await latest(), ["old 1", "old 2", "old 3", "newer"]);
    now += 25 * DAY_MS;
    const pruner = new RedisHistory(cluster.link, {
      max: 1000,
      days: 30,
      clock,
      report: (message) => assert.fail(message),
      write: () => {},
    });
    assert.equal(await pruner.prune(true), 3);
    assert.deepEqual(await latest(), ["newer"]);
    // The ids of what went are gone too: a msgid that was pruned finds nothing.
    assert.equal(Number(await redis.cli("HLEN", "parley:room:{dev}:ids")), 1);
  } finally {
    await cluster.close();
  }
});
