/**
 * Nick claims in Redis against a real redis-server: claim and release by
 * owner, leases kept alive by renewal and lapsing without it, two OS
 * processes racing for the same nicks (exactly one wins each), and claims
 * re-asserted after Redis restarted empty, with the clash rule (the older
 * claim wins) deciding who keeps a nick both took while Redis was away.
 *
 * Run as `deno run -A tests/redis_directory_test.ts --race URL NAME AT N`, it is
 * one racer: claims `race0`…`race{N-1}`, one every 10 ms from time AT, and
 * prints the numbers it won as JSON.
 */

import assert from "node:assert/strict";
import { RedisDirectory } from "../src/store/redis/directory.ts";
import { RedisLink } from "../src/store/redis/link.ts";
import { type RedisServer, sleep, startRedisServer, until } from "./redis_server.ts";

const FAST = { graceMs: 100, checkMs: 300 } as const;

async function directory(
  redis: RedisServer,
  node: string,
  options: ConstructorParameters<typeof RedisDirectory>[1] = {},
) {
  const link = await RedisLink.open(redis.url, { node, ...FAST });
  const directory = new RedisDirectory(link, options);
  return {
    link,
    directory,
    async close() {
      await directory.close();
      await link.close();
    },
  };
}

if (import.meta.main && Deno.args[0] === "--race") {
  const [, url, name, at, count] = Deno.args;
  const link = await RedisLink.open(url, { node: name, ...FAST });
  const directory = new RedisDirectory(link);
  const won: number[] = [];
  for (let i = 0; i < Number(count); i++) {
    const wait = Number(at) + i * 10 - Date.now();
    if (wait > 0) await sleep(wait);
    if (await directory.claim(`race${i}`, `${name}/${i}`)) won.push(i);
  }
  console.log(JSON.stringify(won));
  await link.close(); // no directory.close(): the claims must stay for the parent to see
}

Deno.test("redis directory: claims by owner, release only by the owner, guests counted", async () => {
  await using redis = await startRedisServer();
  const a = await directory(redis, "a");
  const b = await directory(redis, "b");
  try {
    assert.equal(await a.directory.claim("ann", "a/1"), true);
    assert.equal(await b.directory.claim("ann", "b/1"), false, "held on another server");
    assert.equal(await a.directory.claim("ann", "a/1"), true, "again by its owner");
    assert.equal(await a.directory.claim("ann", "a/2"), false, "held on this server");
    assert.equal(await b.directory.holder("ann"), "a/1");
    b.directory.release("ann", "b/1"); // not b's: nothing happens
    a.directory.release("ann", "a/9");
    assert.equal(await b.directory.claim("ann", "b/1"), false);
    a.directory.release("ann", "a/1");
    await sleep(20);
    assert.equal(await b.directory.claim("ann", "b/1"), true);
    assert.equal(await redis.cli("GET", "parley:nick:{ann}").then((v) => v.split(" ")[1]), "b/1");
    const guests = [await a.directory.nextGuest(), await b.directory.nextGuest()];
    assert.deepEqual(guests, [1, 2]);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("redis directory: renewal keeps a lease alive; without it the nick lapses", async () => {
  await using redis = await startRedisServer();
  const a = await directory(redis, "a", { leaseMs: 300, renewMs: 100 });
  const quiet = await directory(redis, "q", { leaseMs: 300, renewMs: 100 });
  const b = await directory(redis, "b");
  try {
    a.directory.start(); // renews; `quiet` never does (a server that died)
    assert.equal(await a.directory.claim("ann", "a/1"), true);
    assert.equal(await quiet.directory.claim("zed", "q/1"), true);
    await sleep(700);
    assert.equal(await b.directory.claim("ann", "b/1"), false, "renewed");
    assert.ok(Number(await redis.cli("PTTL", "parley:nick:{ann}")) > 0);
    assert.equal(await b.directory.claim("zed", "b/2"), true, "lapsed");
    const renewal = await a.directory.renew();
    assert.deepEqual(renewal.renewed, ["ann"]);
  } finally {
    await a.close();
    await quiet.link.close();
    await b.close();
  }
});

Deno.test("redis directory: two processes race for 50 nicks, exactly one wins each", async () => {
  await using redis = await startRedisServer();
  const count = 50;
  const at = Date.now() + 1500; // both processes started and connected by then
  const racer = (name: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        import.meta.filename!,
        "--race",
        redis.url,
        name,
        String(at),
        String(count),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
  const [p, q] = await Promise.all([racer("p"), racer("q")]);
  assert.equal(p.code, 0);
  assert.equal(q.code, 0);
  const wonP: number[] = JSON.parse(new TextDecoder().decode(p.stdout));
  const wonQ: number[] = JSON.parse(new TextDecoder().decode(q.stdout));
  assert.equal(wonP.filter((i) => wonQ.includes(i)).length, 0, "never both");
  assert.deepEqual(
    [...wonP, ...wonQ].sort((x, y) => x - y),
    [...Array(count).keys()],
    "always one",
  );
  // What Redis holds agrees with who was told it won.
  for (const i of [0, 17, 49]) {
    const owner = (await redis.cli("GET", `parley:nick:{race${i}}`)).split(" ")[1];
    assert.equal(owner, wonP.includes(i) ? `p/${i}` : `q/${i}`);
  }
});

Deno.test("redis directory: after an empty restart claims are re-asserted; the older claim wins a clash", async () => {
  await using redis = await startRedisServer();
  let now = 1_000_000;
  const clock = () => now;
  const lost: string[] = [];
  const onLost = (key: string, owner: string, holder: string | null) =>
    lost.push(`${key} ${owner} → ${holder}`);
  const a = await directory(redis, "a", { clock, onLost });
  const b = await directory(redis, "b", { clock, onLost });
  try {
    a.directory.start();
    b.directory.start();
    assert.equal(await a.directory.claim("ann", "a/1"), true);
    assert.equal(await b.directory.claim("bob", "b/1"), true);
    await redis.kill();
    await until(() => !a.link.ready && !b.link.ready, 3000, "links lost");
    // Both take "zed" while Redis is away (granted locally); b's claim is the younger.
    now += 10;
    assert.equal(await a.directory.claim("zed", "a/2"), true);
    now += 10;
    assert.equal(await b.directory.claim("zed", "b/2"), true);
    now += 10;
    assert.equal(await b.directory.claim("yve", "b/3"), true);
    a.directory.release("ann", "a/1"); // given up while away: must not come back
    await sleep(300);
    await redis.restart();
    await until(() => a.link.state === "up" && b.link.state === "up", 5000, "links back");
    await until(() => lost.length === 1, 3000, "the clash resolved");
    await Promise.all([a.directory.renew(), b.directory.renew()]);
    assert.deepEqual(lost, ["zed b/2 → a/2"]);
    const owner = async (nick: string) =>
      (await redis.cli("GET", `parley:nick:{${nick}}`)).split(" ")[1] ?? null;
    assert.equal(await owner("zed"), "a/2");
    assert.equal(await owner("bob"), "b/1", "re-asserted");
    assert.equal(await owner("yve"), "b/3", "re-asserted");
    assert.equal(await owner("ann"), null, "released while away, not re-asserted");
    assert.equal(a.directory.held, 1);
    assert.equal(b.directory.held, 2);
  } finally {
    await a.close();
    await b.close();
  }
});
