/**
 * The cluster bus against a real redis-server, with several links in one
 * process standing for several servers: one order per room for everyone, no
 * duplicates, gaps filled after the subscriber connections are killed, an
 * outage with Redis restarted empty (local delivery meanwhile, then in order
 * to the others), the bounded queue, and the history kept in Redis.
 */

import assert from "node:assert/strict";
import type { ChatEvent, MessageEvent } from "../src/core/events.ts";
import { RedisBus, type RedisBusOptions, type UnsentReason } from "../src/store/redis/bus.ts";
import { RedisLink } from "../src/store/redis/link.ts";
import { recentMessages } from "../src/store/redis/room_log.ts";
import { type RedisServer, sleep, startRedisServer, until } from "./redis_server.ts";

/** One server's end of the bus, recording what it delivers. */
interface Node {
  name: string;
  link: RedisLink;
  bus: RedisBus;
  heard: ChatEvent[];
  batches: number;
  unsent: { events: readonly ChatEvent[]; reason: UnsentReason }[];
  close(): Promise<void>;
}

async function node(
  redis: RedisServer,
  name: string,
  options: Partial<RedisBusOptions> = {},
): Promise<Node> {
  const link = await RedisLink.open(redis.url, { node: name, graceMs: 100, checkMs: 300 });
  const unsent: Node["unsent"] = [];
  const bus = new RedisBus(link, {
    historySize: 5,
    onUnsent: (events, reason) => unsent.push({ events, reason }),
    ...options,
  });
  const self: Node = {
    name,
    link,
    bus,
    heard: [],
    batches: 0,
    unsent,
    async close() {
      await bus.close(500);
      await link.close();
    },
  };
  bus.deliverTo((events) => {
    self.batches++;
    self.heard.push(...events);
  });
  await bus.start();
  return self;
}

let clock = 1_700_000_000_000;

function message(room: string, origin: string, text: string, extra: Partial<MessageEvent> = {}) {
  return {
    kind: "message",
    room,
    seq: 0,
    time: ++clock,
    origin,
    nick: origin.replace("/", "_"), // a nick as servers send them (events from Redis are checked)
    user: origin.replace("/", "_"),
    text,
    action: false,
    ...extra,
  } satisfies MessageEvent;
}

/** `origin:text` of a node's room messages, in the order delivered. */
function said(node: Node, room: string): string[] {
  return node.heard
    .filter((event): event is MessageEvent => event.kind === "message" && event.room === room)
    .map((event) => `${event.origin}:${event.text}`);
}

Deno.test("redis bus: concurrent publishers, one order per room for every receiver, no duplicates", async () => {
  await using redis = await startRedisServer();
  const nodes = await Promise.all(["a", "b", "c"].map((name) => node(redis, name)));
  try {
    const [a, b] = nodes;
    const rounds = 150;
    for (let i = 0; i < rounds; i++) {
      // Interleaved, never awaited: both publishers' batches race in Redis.
      a.bus.publish([message("lobby", "a/1", `${i}.1`), message("lobby", "a/1", `${i}.2`)]);
      b.bus.publish([message("lobby", "b/1", `${i}`)]);
      if (i % 3 === 0) b.bus.publish([message("Other", "b/2", `${i}`)]);
    }
    const total = rounds * 3;
    await until(() => nodes.every((n) => said(n, "lobby").length >= total), 10_000, "all heard");
    await sleep(50);
    const orders = nodes.map((n) => said(n, "lobby"));
    for (const order of orders) {
      assert.equal(order.length, total, "no duplicates, nothing missing");
      assert.equal(new Set(order).size, total);
      assert.deepEqual(order, orders[0], "one order everywhere");
    }
    // Each publisher's own order is kept, and seqs run 1, 2, 3, … everywhere.
    const fromA = orders[0].filter((line) => line.startsWith("a/1:"));
    assert.deepEqual(fromA.slice(0, 4), ["a/1:0.1", "a/1:0.2", "a/1:1.1", "a/1:1.2"]);
    for (const n of nodes) {
      const seqs = n.heard.filter((e) => e.kind === "message" && e.room === "lobby")
        .map((e) => (e as MessageEvent).seq);
      assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i + 1));
      assert.equal(said(n, "Other").length, 50);
      assert.equal(n.bus.stats.duplicates, 0);
    }
    assert.ok(nodes.every((n) => n.unsent.length === 0));
  } finally {
    for (const n of nodes) await n.close();
  }
});

Deno.test("redis bus: what was published while the subscribers were cut off is filled in", async () => {
  await using redis = await startRedisServer();
  const a = await node(redis, "a");
  const b = await node(redis, "b", {});
  try {
    for (let i = 0; i < 5; i++) a.bus.publish([message("lobby", "a/1", `before ${i}`)]);
    await until(() => said(b, "lobby").length === 5, 3000, "before");
    // On a's command connection, so Redis runs the kill first and the publishes
    // right after: the subscribers are reconnecting, nobody hears these live.
    const killed = a.link.commands.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
    for (let i = 0; i < 5; i++) a.bus.publish([message("lobby", "a/1", `during ${i}`)]);
    assert.equal(await killed, 2);
    await a.bus.flushed(2000);
    await until(() => said(b, "lobby").length === 10, 5000, "filled in");
    a.bus.publish([message("lobby", "a/1", "after")]);
    await until(() => said(b, "lobby").length === 11, 3000, "after");
    await sleep(50);
    const expected = [
      ...Array.from({ length: 5 }, (_, i) => `a/1:before ${i}`),
      ...Array.from({ length: 5 }, (_, i) => `a/1:during ${i}`),
      "a/1:after",
    ];
    assert.deepEqual(said(b, "lobby"), expected);
    assert.deepEqual(said(a, "lobby"), expected, "the publisher hears its own once too");
    assert.ok(b.bus.stats.filled >= 1, "filled from the log");
    assert.ok(b.bus.stats.resyncs >= 1);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("redis bus: Redis down and back empty: local delivery meanwhile, then in order to the others", async () => {
  await using redis = await startRedisServer();
  const nodes = await Promise.all(["a", "b", "c"].map((name) => node(redis, name)));
  const [a, b, c] = nodes;
  try {
    a.bus.publish([message("lobby", "a/1", "hello")]);
    await until(() => nodes.every((n) => said(n, "lobby").length === 1), 3000, "first");
    const epochs: string[] = [];
    for (const n of nodes) n.link.onNewEpoch((epoch) => void epochs.push(epoch));

    await redis.kill();
    await until(() => nodes.every((n) => n.link.state === "down"), 3000, "down");
    for (let i = 0; i < 4; i++) {
      a.bus.publish([message("lobby", "a/1", `a${i}`)]);
      b.bus.publish([message("lobby", "b/1", `b${i}`)]);
    }
    // Each server's own members heard their own lines at once.
    assert.deepEqual(said(a, "lobby").slice(1), ["a/1:a0", "a/1:a1", "a/1:a2", "a/1:a3"]);
    assert.deepEqual(said(b, "lobby").slice(1), ["b/1:b0", "b/1:b1", "b/1:b2", "b/1:b3"]);
    assert.equal(a.bus.queued, 4);
    await sleep(1500);
    await redis.restart();
    await until(() => nodes.every((n) => n.link.state === "up"), 5000, "up");
    await until(() => said(c, "lobby").length === 9, 5000, "c heard the queued lines");
    await until(() => said(a, "lobby").length === 9 && said(b, "lobby").length === 9, 3000, "all");
    await sleep(100);
    assert.equal(epochs.length, 3, "every link saw the new epoch");
    assert.equal(new Set(epochs).size, 1);
    const order = said(c, "lobby");
    // Each sender's lines in its order; a's and b's after each other (the queue drains per node).
    assert.deepEqual(order.filter((l) => l.startsWith("a/1")), [
      "a/1:hello",
      "a/1:a0",
      "a/1:a1",
      "a/1:a2",
      "a/1:a3",
    ]);
    assert.deepEqual(order.filter((l) => l.startsWith("b/1")), [
      "b/1:b0",
      "b/1:b1",
      "b/1:b2",
      "b/1:b3",
    ]);
    // a heard b's lines once (and its own were not delivered a second time), and vice versa.
    assert.deepEqual(said(a, "lobby").slice(5), order.filter((l) => l.startsWith("b/1")));
    assert.deepEqual(said(b, "lobby").slice(5), order.filter((l) => l.startsWith("a/1:a")));
    // The new epoch's log starts at 1: the history holds what was said since.
    const history = await recentMessages(c.link.commands, "lobby", 10);
    assert.equal(history.length, 5, "history capped at 5");
    assert.ok(nodes.every((n) => n.unsent.length === 0));
  } finally {
    for (const n of nodes) await n.close();
  }
});

Deno.test("redis bus: the queue is bounded: overflow and expiry are reported, not lost silently", async () => {
  await using redis = await startRedisServer();
  const a = await node(redis, "a", { maxQueued: 3, maxQueuedMs: 400 });
  try {
    await redis.kill();
    await until(() => a.link.state === "down", 3000, "down");
    for (let i = 0; i < 5; i++) a.bus.publish([message("lobby", "a/1", `m${i}`)]);
    assert.deepEqual(a.unsent.map((u) => u.reason), ["overflow", "overflow"]);
    assert.deepEqual(a.unsent.map((u) => (u.events[0] as MessageEvent).text), ["m3", "m4"]);
    assert.equal(said(a, "lobby").length, 5, "all were shown here (the link is down)");
    await until(() => a.unsent.length === 5, 2000, "expired");
    assert.deepEqual(a.unsent.slice(2).map((u) => u.reason), ["expired", "expired", "expired"]);
    assert.deepEqual(a.unsent.slice(2).map((u) => (u.events[0] as MessageEvent).text), [
      "m0",
      "m1",
      "m2",
    ]);
    assert.equal(a.bus.queued, 0);
  } finally {
    await a.close();
  }
});

Deno.test("redis bus: history keeps messages only, the newest N; private and member events reach every server", async () => {
  await using redis = await startRedisServer();
  const a = await node(redis, "a", { historySize: 3 });
  const b = await node(redis, "b", { historySize: 3 });
  try {
    a.bus.publish([{
      kind: "joined",
      room: "lobby",
      seq: 0,
      time: ++clock,
      origin: "a/1",
      nick: "ann",
      user: "ann",
    }]);
    a.bus.publish([message("lobby", "a/1", "one"), message("lobby", "a/1", "two")]);
    a.bus.publish([message("lobby", "a/1", "psst", { notice: true })]);
    a.bus.publish([message("lobby", "a/1", "three"), message("lobby", "a/1", "four")]);
    a.bus.publish([{
      kind: "private",
      to: "bob",
      nick: "ann",
      user: "ann",
      text: "hi bob",
      action: false,
      time: ++clock,
      origin: "a/1",
    }]);
    a.bus.publish([{
      kind: "renamed",
      rooms: ["lobby"],
      nick: "ann",
      user: "ann",
      to: "anna",
      time: ++clock,
      origin: "a/1",
    }]);
    await until(() => b.heard.length === 8, 3000, "b heard all");
    assert.deepEqual(b.heard.map((e) => e.kind), [
      "joined",
      "message",
      "message",
      "message",
      "message",
      "message",
      "private",
      "renamed",
    ]);
    const history = await recentMessages(b.link.commands, "lobby", 50);
    assert.deepEqual(history.map((m) => m.text), ["two", "three", "four"]);
    assert.deepEqual(history.map((m) => m.seq), [3, 5, 6], "with the room's seqs");
    assert.deepEqual((await recentMessages(b.link.commands, "lobby", 2)).map((m) => m.text), [
      "three",
      "four",
    ]);
  } finally {
    await a.close();
    await b.close();
  }
});
