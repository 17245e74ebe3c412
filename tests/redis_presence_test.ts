/**
 * Presence against a real redis-server: every server's members seen from
 * every server, a server process killed without a goodbye noticed by the
 * others within its lease (reported once each, with its members, its nicks
 * released by one reaper), and a clean goodbye reported as such.
 *
 * Run as `deno run -A tests/redis_presence_test.ts --node URL NAME`, it is a
 * server that is going to die: two members with nick claims, heartbeats, and
 * "ready" on stdout once all is written.
 */

import assert from "node:assert/strict";
import { RedisDirectory } from "../src/store/redis/directory.ts";
import { RedisLink } from "../src/store/redis/link.ts";
import { type ClusterMember, type GoneHow, Presence } from "../src/store/redis/presence.ts";
import { type RedisServer, sleep, startRedisServer, until } from "./redis_server.ts";

/** Times scaled down from the defaults (lease 10 s, beat 3 s, poll 2 s). */
const TIMES = { leaseMs: 1000, beatMs: 300, pollMs: 200 } as const;
const FAST = { graceMs: 100, checkMs: 300 } as const;

if (import.meta.main && Deno.args[0] === "--node") {
  const [, url, name] = Deno.args;
  const link = await RedisLink.open(url, { node: name, ...FAST });
  const presence = new Presence(link, TIMES);
  const directory = new RedisDirectory(link);
  directory.start();
  await presence.start();
  for (const [i, nick] of ["zed", "yve"].entries()) {
    await directory.claim(nick, `${name}/${i + 1}`);
    presence.set(`${name}/${i + 1}`, { nick, user: nick, rooms: ["lobby"], away: null });
  }
  await presence.beat();
  console.log("ready");
  await new Promise(() => {}); // beat until killed
}

interface Gone {
  at: number;
  node: string;
  nicks: string[];
  how: GoneHow;
}

async function server(redis: RedisServer, name: string, gone: Gone[] = []) {
  const link = await RedisLink.open(redis.url, { node: name, ...FAST });
  const presence = new Presence(link, {
    ...TIMES,
    onNodeGone: (node: string, members: ClusterMember[], how: GoneHow) =>
      gone.push({ at: Date.now(), node, nicks: members.map((m) => m.nick).sort(), how }),
  });
  await presence.start();
  return {
    link,
    presence,
    gone,
    async close(goodbye = true) {
      await presence.stop(goodbye);
      await link.close();
    },
  };
}

Deno.test("redis presence: a killed server is noticed within its lease, once, by everyone", async () => {
  await using redis = await startRedisServer();
  const one = await server(redis, "n1");
  const three = await server(redis, "n3");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", import.meta.filename!, "--node", redis.url, "n2"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    one.presence.set("n1/1", { nick: "ann", user: "ann", rooms: ["lobby", "rust"], away: null });
    for (let text = ""; !text.includes("ready");) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the child server ended before it was ready");
      text += value;
    }
    await until(
      () => one.presence.nodes.includes("n2") && three.presence.nodes.includes("n2"),
      3000,
      "n2 seen alive",
    );
    const members = await three.presence.members();
    assert.deepEqual(members.map((m) => `${m.node}:${m.nick}`).sort(), [
      "n1:ann",
      "n2:yve",
      "n2:zed",
    ]);
    assert.deepEqual(members.find((m) => m.nick === "ann")?.rooms, ["lobby", "rust"]);
    assert.match(await redis.cli("GET", "parley:nick:{zed}"), / n2\/1$/);

    const killed = Date.now();
    child.kill("SIGKILL");
    await child.status;
    await until(() => one.gone.length > 0 && three.gone.length > 0, 3000, "n2 reported gone");
    await sleep(TIMES.pollMs * 3); // a second report would come now
    for (const { gone } of [one, three]) {
      assert.equal(gone.length, 1, "once");
      assert.deepEqual({ ...gone[0], at: 0 }, {
        at: 0,
        node: "n2",
        nicks: ["yve", "zed"],
        how: "lost",
      });
      assert.ok(
        gone[0].at - killed <= TIMES.leaseMs + TIMES.pollMs + 300,
        `noticed ${gone[0].at - killed} ms after the kill`,
      );
    }
    // One of them reaped n2: its nicks are free now, not when their 15 s leases run out.
    assert.equal(await redis.cli("GET", "parley:nick:{zed}"), "");
    assert.equal(await redis.cli("SISMEMBER", "parley:nodes", "n2"), "0");
    assert.deepEqual((await one.presence.members()).map((m) => m.nick), ["ann"]);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* killed already */ }
    await child.status;
    await lines.cancel();
    await one.close();
    await three.close();
  }
});

Deno.test("redis presence: a goodbye is reported as such; a server taken for dead re-joins", async () => {
  await using redis = await startRedisServer();
  const one = await server(redis, "n1");
  const two = await server(redis, "n2");
  let reaped = 0;
  const threeLink = await RedisLink.open(redis.url, { node: "n3", ...FAST });
  const three = new Presence(threeLink, { ...TIMES, onReaped: () => reaped++ });
  try {
    await three.start();
    two.presence.set("n2/1", { nick: "bob", user: "bob", rooms: ["lobby"], away: "lunch" });
    await until(() => one.presence.nodes.includes("n2"), 3000, "n2 seen");
    await two.close(true);
    await until(() => one.gone.length === 1, 2000, "n2 reported");
    assert.deepEqual({ ...one.gone[0], at: 0 }, { at: 0, node: "n2", nicks: ["bob"], how: "left" });

    // n3 cut off (as if): removed from the set by someone; its next beat notices.
    await redis.cli("SREM", "parley:nodes", "n3");
    await until(() => reaped === 1, 2000, "n3 notices it was reaped");
    assert.equal(await redis.cli("SISMEMBER", "parley:nodes", "n3"), "1");
  } finally {
    await one.close();
    await two.close();
    await three.stop();
    await threeLink.close();
  }
});
