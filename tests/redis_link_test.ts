/**
 * The Redis link against a real redis-server: URL handling, the up/down
 * state across a crash and a restart with empty memory (a new epoch), a
 * refused password (never logged), and closing while Redis is away.
 */

import assert from "node:assert/strict";
import { type LinkState, parseRedisUrl, redactUrl, RedisLink } from "../src/store/redis/link.ts";
import { sleep, startRedisServer, until } from "./redis_server.ts";

const FAST = { graceMs: 100, checkMs: 300 } as const;

Deno.test("redis link: URLs are checked and passwords redacted", () => {
  assert.equal(redactUrl("redis://:s3cret@h:6379/2"), "redis://:***@h:6379/2");
  assert.equal(redactUrl("rediss://u:s3cret@h:6380"), "rediss://u:***@h:6380");
  assert.equal(redactUrl("redis://h:6379"), "redis://h:6379");
  assert.ok(!redactUrl("not a url //x:s3cret@h").includes("s3cret"));
  const url = parseRedisUrl("rediss://:p%40ss@example.org:6380/3");
  assert.deepEqual(
    { tls: url.tls, host: url.host, port: url.port, db: url.db, password: url.password },
    { tls: true, host: "example.org", port: 6380, db: 3, password: "p@ss" },
  );
  assert.equal(parseRedisUrl("redis://localhost").port, 6379);
  for (const bad of ["http://h:1", "redis://:s3cret@h:1/x", "nonsense:s3cret"]) {
    assert.throws(() => parseRedisUrl(bad), (error: Error) => {
      assert.ok(error instanceof RangeError);
      assert.ok(!error.message.includes("s3cret"), error.message);
      return true;
    });
  }
});

Deno.test("redis link: down and up across a crash, a new epoch after an empty restart", async () => {
  await using redis = await startRedisServer();
  const log: string[] = [];
  const link = await RedisLink.open(redis.url, { node: "n1", ...FAST, log: (m) => log.push(m) });
  try {
    assert.equal(link.state, "up");
    assert.ok(link.ready);
    const first = link.epoch;
    assert.ok(first);
    const states: LinkState[] = [];
    link.onState((state) => states.push(state));
    const epochs: [string, string][] = [];
    link.onNewEpoch((epoch, previous) => {
      epochs.push([epoch, previous]);
    });
    await redis.kill();
    await until(() => link.state === "down", 3000);
    assert.equal(link.ready, false);
    await redis.restart();
    await until(() => link.state === "up", 5000);
    assert.deepEqual(states, ["down", "up"]);
    assert.equal(epochs.length, 1);
    assert.equal(epochs[0][1], first);
    assert.equal(epochs[0][0], link.epoch);
    assert.equal(await link.commands.get("parley:epoch"), link.epoch);
    assert.ok(log.length >= 1, "the lost connection was logged");
  } finally {
    await link.close();
  }
});

Deno.test("redis link: a blip shorter than the grace is not reported", async () => {
  await using redis = await startRedisServer();
  const link = await RedisLink.open(redis.url, { node: "n1", graceMs: 1500, checkMs: 300 });
  try {
    const states: LinkState[] = [];
    link.onState((state) => states.push(state));
    const readies: string[] = [];
    link.onReady((which) => readies.push(which));
    await link.subscriber.subscribe("parley:test", () => {});
    await redis.cli("CLIENT", "KILL", "TYPE", "pubsub");
    await until(() => readies.includes("subscriber"), 3000);
    await sleep(50);
    assert.deepEqual(states, []);
    assert.equal(link.state, "up");
  } finally {
    await link.close();
  }
});

Deno.test("redis link: starts with Redis away, comes up when it appears", async () => {
  await using redis = await startRedisServer();
  await redis.kill();
  const link = await RedisLink.open(redis.url, { node: "n1", ...FAST, waitMs: 200 });
  try {
    assert.equal(link.state, "down");
    await redis.restart();
    await until(() => link.state === "up", 5000);
    assert.ok(await link.whenReady(100));
  } finally {
    await link.close();
  }
});

Deno.test("redis link: a refused password fails the open, and is never logged", async () => {
  await using redis = await startRedisServer({ password: "right-one" });
  const log: string[] = [];
  const wrong = `redis://:wr0ng-s3cret@127.0.0.1:${redis.port}`;
  await assert.rejects(
    RedisLink.open(wrong, { node: "n1", ...FAST, log: (m) => log.push(m) }),
    (error: Error) => {
      assert.match(error.message, /WRONGPASS|NOAUTH|invalid/i);
      assert.ok(!error.message.includes("wr0ng-s3cret"));
      return true;
    },
  );
  assert.ok(log.every((line) => !line.includes("wr0ng-s3cret")), log.join("\n"));
  const link = await RedisLink.open(redis.url, { node: "n1", ...FAST });
  assert.equal(link.state, "up");
  assert.ok(!link.where.includes("right-one"));
  await link.close();
});

Deno.test("redis link: close while Redis is away ends at once", async () => {
  await using redis = await startRedisServer();
  const link = await RedisLink.open(redis.url, { node: "n1", ...FAST });
  await redis.kill();
  await until(() => !link.ready, 2000);
  const started = Date.now();
  await link.close();
  assert.ok(Date.now() - started < 500);
});
