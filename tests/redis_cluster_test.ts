/**
 * The cluster parts together, against a real redis-server, with today's
 * `Chat` on top (no cluster changes to it yet): two chats on one Redis share
 * rooms, nicks and history; Redis killed for about two seconds and restarted
 * empty (link down and up, each chat serving its own members meanwhile,
 * their lines reaching the other chat in order afterwards, claims
 * re-asserted); and the publish → deliver latency and throughput of the bus.
 */

import assert from "node:assert/strict";
import { Chat, type ChatMember, type Endpoint, type Renderer } from "../src/core/chat.ts";
import type { ChatEvent, MessageEvent } from "../src/core/events.ts";
import { type Cluster, type LinkState, openCluster } from "../src/store/redis/cluster.ts";
import { type RedisServer, sleep, startRedisServer, until } from "./redis_server.ts";

/** Hands events through as JSON. */
const renderer: Renderer = {
  render: (events) => new TextEncoder().encode(JSON.stringify(events)),
};

/** A member's far end: what reached it. */
class Fake implements Endpoint {
  readonly renderer = renderer;
  readonly heard: ChatEvent[] = [];
  readonly address = "127.0.0.1";
  remove(): void {}
  send(bytes: Uint8Array): void {
    this.heard.push(...JSON.parse(new TextDecoder().decode(bytes)));
  }
  said(): string[] {
    return this.heard.filter((e): e is MessageEvent => e.kind === "message")
      .map((e) => `${e.nick}: ${e.text}`);
  }
}

interface Server {
  cluster: Cluster;
  chat: Chat;
  states: LinkState[];
  unsent: string[];
  enter(nick: string, room?: string): Promise<{ member: ChatMember; far: Fake }>;
}

async function server(redis: RedisServer, node: string): Promise<Server> {
  const unsent: string[] = [];
  const cluster = await openCluster(redis.url, {
    node,
    historySize: 10,
    link: { graceMs: 100, checkMs: 300 },
    bus: { onUnsent: (events, reason) => unsent.push(`${reason}: ${events.length}`) },
  });
  const chat = new Chat({
    node,
    bus: cluster.bus,
    directory: cluster.directory,
    presence: cluster.presence,
    store: cluster.store,
  });
  const states: LinkState[] = [];
  cluster.link.onState((state) => states.push(state));
  return {
    cluster,
    chat,
    states,
    unsent,
    async enter(nick, room = "lobby") {
      const far = new Fake();
      const entered = await chat.enter(far, nick, nick);
      assert.ok(!("kind" in entered), `${nick} entered`);
      await chat.apply(entered, { kind: "join", room, move: false });
      return { member: entered, far };
    },
  };
}

Deno.test("redis cluster: two chats on one Redis share rooms, nicks and history", async () => {
  await using redis = await startRedisServer();
  const a = await server(redis, "a");
  const b = await server(redis, "b");
  try {
    const ann = await a.enter("ann");
    const bob = await b.enter("bob");
    assert.deepEqual(await b.chat.enter(new Fake(), "ANN", "x"), {
      kind: "refused",
      problem: { code: "nick-taken", nick: "ANN" },
    });
    await until(() => ann.far.heard.some((e) => e.kind === "joined"), 3000, "ann sees bob join");
    a.chat.say(ann.member, a.chat.findRoom("lobby")!, "hi from a");
    a.chat.say(ann.member, a.chat.findRoom("lobby")!, "and again");
    a.chat.flush();
    b.chat.say(bob.member, b.chat.findRoom("lobby")!, "hi from b");
    b.chat.flush();
    await until(() => bob.far.said().length === 2 && ann.far.said().length === 1, 3000, "heard");
    assert.deepEqual(bob.far.said(), ["ann: hi from a", "ann: and again"]);
    assert.deepEqual(ann.far.said(), ["bob: hi from b"]);
    // A newcomer on b is shown the room's history, from Redis.
    const far = new Fake();
    const cy = await b.chat.enter(far, "cy", "cy") as ChatMember;
    const joined = await b.chat.apply(cy, { kind: "join", room: "lobby", move: false });
    assert.equal(joined.kind, "joined");
    if (joined.kind === "joined") {
      assert.deepEqual(joined.history.map((m) => m.text), ["hi from a", "and again", "hi from b"]);
    }
    // Each chat tells the cluster who its members are: a sees b's too.
    const everyone = (await a.cluster.presence.members()).map((m) => `${m.nick}@${m.node}`);
    assert.deepEqual(everyone.sort(), ["ann@a", "bob@b", "cy@b"]);
  } finally {
    await a.cluster.close();
    await b.cluster.close();
  }
});

Deno.test("redis cluster: Redis down ~2 s and back empty: served locally, then delivered in order", async () => {
  await using redis = await startRedisServer();
  const a = await server(redis, "a");
  const b = await server(redis, "b");
  try {
    const ann = await a.enter("ann");
    const amy = await a.enter("amy");
    const bob = await b.enter("bob");
    const epochs: string[] = [];
    for (const s of [a, b]) s.cluster.link.onNewEpoch((epoch) => void epochs.push(epoch));
    await until(() => amy.far.heard.filter((e) => e.kind === "joined").length === 1, 3000, "joins");

    await redis.kill();
    await until(() => a.states.includes("down") && b.states.includes("down"), 3000, "down");
    const lobby = a.chat.findRoom("lobby")!;
    for (const text of ["one", "two", "three"]) {
      a.chat.say(ann.member, lobby, text);
      a.chat.flush();
    }
    // amy, on the same server, heard them at once.
    assert.deepEqual(amy.far.said(), ["ann: one", "ann: two", "ann: three"]);
    assert.deepEqual(bob.far.said(), []);
    // While Redis is away no nick can be checked against the accounts: refused, not guessed.
    assert.deepEqual(await b.chat.enter(new Fake(), "dot", "dot"), {
      kind: "refused",
      problem: { code: "accounts-unavailable" },
    });
    // A guest still gets in there (and its claim is re-asserted later).
    const guest = await b.chat.enterAsGuest(new Fake());
    await sleep(1700);
    await redis.restart();
    await until(() => a.states.at(-1) === "up" && b.states.at(-1) === "up", 5000, "up");
    await until(() => bob.far.said().length === 3, 3000, "bob heard what was said meanwhile");
    assert.deepEqual(bob.far.said(), ["ann: one", "ann: two", "ann: three"]);
    await sleep(100);
    assert.deepEqual(amy.far.said(), ["ann: one", "ann: two", "ann: three"], "not twice");
    assert.deepEqual(a.states, ["down", "up"]);
    assert.deepEqual(b.states, ["down", "up"]);
    assert.equal(epochs.length, 2);
    const owner = async (nick: string) =>
      (await redis.cli("GET", `parley:nick:{${nick}}`)).split(" ")[1];
    assert.equal(await owner("ann"), ann.member.id, "re-asserted after the restart");
    assert.equal(await owner("bob"), bob.member.id);
    assert.equal(await owner(guest.nick), guest.id);
    assert.deepEqual([...a.unsent, ...b.unsent], []);
  } finally {
    await a.cluster.close();
    await b.cluster.close();
  }
});

Deno.test("redis cluster: bus publish → deliver latency and throughput (measured, loosely bounded)", async () => {
  await using redis = await startRedisServer();
  const a = await server(redis, "a");
  const b = await server(redis, "b");
  try {
    const arrived: number[] = [];
    let wake = () => {};
    b.cluster.bus.deliverTo((events) => {
      for (const _ of events) arrived.push(performance.now());
      wake();
    });
    const event = (i: number): MessageEvent => ({
      kind: "message",
      room: "lobby",
      seq: 0,
      time: Date.now(),
      origin: "a/1",
      nick: "ann",
      user: "ann",
      text: `line ${i} ${"x".repeat(40)}`,
      action: false,
    });
    // Latency: one batch at a time, each after the previous arrived.
    const latencies: number[] = [];
    for (let i = 0; i < 300; i++) {
      const came = new Promise<void>((resolve) => wake = resolve);
      const sent = performance.now();
      a.cluster.bus.publish([event(i)]);
      await came;
      latencies.push(arrived[i] - sent);
    }
    latencies.sort((x, y) => x - y);
    const p50 = latencies[Math.floor(latencies.length * 0.5)];
    const p99 = latencies[Math.floor(latencies.length * 0.99)];
    // Throughput: 5000 one-line batches at once.
    arrived.length = 0;
    const count = 5000;
    const started = performance.now();
    for (let i = 0; i < count; i++) a.cluster.bus.publish([event(i)]);
    await until(() => arrived.length === count, 10_000, "all arrived");
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `publish→deliver latency p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; ` +
        `throughput ${Math.round(count / seconds)} batches/s (${count} one-line batches)`,
    );
    assert.ok(p50 < 50, `p50 ${p50} ms`);
  } finally {
    await a.cluster.close();
    await b.cluster.close();
  }
});
