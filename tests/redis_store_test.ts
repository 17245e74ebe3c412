/**
 * The Redis store against a real redis-server: rooms and topics, accounts
 * (bytes intact), bans, and what happens while Redis is away: writes wait and
 * go out when it is back, account and ban reads refuse rather than answer
 * "none" by mistake, history answers nothing.
 */

import assert from "node:assert/strict";
import type { Account } from "../src/core/store.ts";
import { RedisLink } from "../src/store/redis/link.ts";
import { RedisStore } from "../src/store/redis/store.ts";
import { startRedisServer, until } from "./redis_server.ts";

const FAST = { graceMs: 100, checkMs: 300 } as const;

function account(nick: string): Account {
  return {
    key: nick.toLowerCase(),
    nick,
    hash: crypto.getRandomValues(new Uint8Array(64)),
    salt: crypto.getRandomValues(new Uint8Array(16)),
    params: { N: 16384, r: 8, p: 1 },
    created: 1_700_000_000_000,
  };
}

Deno.test("redis store: rooms, topics, accounts and bans round-trip", async () => {
  await using redis = await startRedisServer();
  const link = await RedisLink.open(redis.url, { node: "a", ...FAST });
  const store = new RedisStore(link);
  const errors: string[] = [];
  store.onError = (message) => errors.push(message);
  try {
    assert.equal(store.persistent, true);
    store.touchRoom("rust", "Rust", 10);
    store.touchRoom("rust", "RUST", 20); // the first display name stays
    store.touchRoom("lobby", "lobby", 5);
    store.setTopic("rust", { text: "crabs", nick: "ann", time: 15 });
    // Fire-and-forget writes, but on the one command connection: the read runs after them.
    const rooms = (await store.rooms()).sort((x, y) => x.key.localeCompare(y.key));
    assert.deepEqual(rooms, [
      { key: "lobby", name: "lobby", topic: null, lastUsed: 5, seq: 0 },
      {
        key: "rust",
        name: "Rust",
        topic: { text: "crabs", nick: "ann", time: 15 },
        lastUsed: 20,
        seq: 0,
      },
    ]);
    store.setTopic("rust", null);
    store.forgetRoom("lobby");
    assert.deepEqual((await store.rooms()).map((r) => [r.key, r.topic]), [["rust", null]]);

    const ann = account("Ann");
    assert.equal(await store.account("ann"), null);
    assert.equal(await store.addAccount(ann), true);
    assert.equal(await store.addAccount(account("ANN")), false, "registered already");
    assert.deepEqual(await store.account("ann"), ann);
    const renewed = { ...ann, hash: new Uint8Array([0, 255, 1, 254]) };
    await store.updateAccount(renewed);
    assert.deepEqual((await store.account("ann"))?.hash, renewed.hash);
    await store.dropAccount("ann");
    assert.equal(await store.account("ann"), null);

    const ban = {
      mask: "203.0.113.0/24",
      expires: null,
      reason: "spam",
      by: "console",
      created: 1,
    };
    store.addBan(ban);
    store.addBan({ ...ban, mask: "2001:db8::1", expires: 99 });
    assert.deepEqual((await store.bans()).map((b) => b.mask).sort(), ["2001:db8::1", ban.mask]);
    assert.equal(await store.removeBan(ban.mask), true);
    assert.equal(await store.removeBan(ban.mask), false);
    assert.deepEqual(errors, []);
  } finally {
    await store.close();
    await link.close();
  }
});

Deno.test("redis store: while Redis is away writes wait, reads of accounts and bans refuse", async () => {
  await using redis = await startRedisServer();
  const link = await RedisLink.open(redis.url, { node: "a", ...FAST });
  const store = new RedisStore(link);
  try {
    await redis.kill();
    await until(() => !link.ready, 3000, "link lost");
    store.touchRoom("rust", "Rust", 10);
    store.setTopic("rust", { text: "said while away", nick: "ann", time: 11 });
    store.addBan({ mask: "198.51.100.7", expires: null, reason: "x", by: "console", created: 1 });
    await assert.rejects(store.account("ann"), /link to Redis is down/);
    await assert.rejects(store.bans(), /link to Redis is down/);
    await assert.rejects(store.addAccount(account("Ann")), /link to Redis is down/);
    assert.deepEqual(await store.history.recent("rust", 10), []);
    assert.deepEqual(await store.rooms(), []);
    await redis.restart();
    await until(() => link.ready, 5000, "link back");
    // The waiting writes went out first (in order, on the one command connection).
    assert.deepEqual(await store.rooms(), [{
      key: "rust",
      name: "Rust",
      topic: { text: "said while away", nick: "ann", time: 11 },
      lastUsed: 10,
      seq: 0,
    }]);
    assert.deepEqual((await store.bans()).map((b) => b.mask), ["198.51.100.7"]);
  } finally {
    await store.close();
    await link.close();
  }
});
