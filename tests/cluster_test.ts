/**
 * Several parley server processes on one real redis-server (SPEC §9): one
 * chat across them (rooms, order, /who, /rooms, /msg, nicks), history that
 * outlives the servers, a server killed with -9, a clean SIGTERM, and Redis
 * itself going away for 3 s. Clients are plain line clients over TCP.
 */

import assert from "node:assert/strict";
import {
  missingTools,
  runCli,
  type ServerProcess,
  startServerProcess,
  TestClient,
  waitUntil,
} from "./helpers.ts";
import { type RedisServer, startRedisServer } from "./redis_server.ts";

const NO_REDIS = await missingTools("cluster test", "redis-server");

/** `n` parley servers on `redis`, each as users run it (defaults) plus `--cluster`. */
async function servers(redis: RedisServer, n: number): Promise<ServerProcess[]> {
  return await Promise.all(
    Array.from({ length: n }, () => startServerProcess(["--cluster", redis.url, "--no-console"])),
  );
}

async function stopAll(processes: ServerProcess[], clients: TestClient[]): Promise<void> {
  for (const client of clients) client.close();
  await Promise.all(processes.map((p) => p.stop("SIGKILL")));
}

/** ann on the first server and bob on the second, once ann has seen bob arrive. */
async function annAndBob(
  processes: ServerProcess[],
  clients: TestClient[],
): Promise<{ ann: TestClient; bob: TestClient }> {
  const ann = await TestClient.join(processes[0].port, "ann");
  const bob = await TestClient.join(processes[1].port, "bob");
  clients.push(ann, bob);
  await ann.expect(/^\*\*\* guest-\d+ is now known as bob$/, 10_000);
  return { ann, bob };
}

/** The room lines (`<nick> text`) a client has received, in order. */
function said(client: TestClient): string[] {
  return client.lines.filter((line) => line.startsWith("<"));
}

Deno.test({
  name:
    "cluster: three servers on one Redis are one chat: one order everywhere, /who, /rooms, /msg, one owner per nick",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await servers(redis, 3);
  const clients: TestClient[] = [];
  try {
    const [a, b, c] = await Promise.all(
      ["ann", "bob", "cy"].map((nick, i) => TestClient.join(processes[i].port, nick)),
    );
    clients.push(a, b, c);
    await waitUntil(
      async () => {
        a.send("/who");
        return (await a.expect(/^\*\*\* in #lobby: /)).includes("(3 here, 3 online)");
      },
      "ann to see all three in /who",
      10_000,
    );

    // Two talkers on two servers at once: every reader sees one and the same order.
    for (let i = 1; i <= 40; i++) {
      a.send(`a${i}`);
      b.send(`b${i}`);
    }
    await waitUntil(
      () => said(c).length >= 80,
      () => `cy to hear 80 lines, has ${said(c).length}`,
      10_000,
    );
    await waitUntil(
      () => said(a).length >= 40 && said(b).length >= 40,
      "ann and bob to hear each other",
    );
    const order = said(c);
    assert.equal(order.length, 80);
    const merged = (mine: string, others: string[]) => {
      // What each talker sees: the others' lines, in the room's order.
      return order.filter((line) => !line.startsWith(`<${mine}>`)).join("\n") === others.join("\n");
    };
    assert.ok(merged("ann", said(a)), "ann's view of bob's lines is in the room's order");
    assert.ok(merged("bob", said(b)), "bob's view of ann's lines is in the room's order");
    for (const [nick, prefix] of [["ann", "a"], ["bob", "b"]]) {
      const own = order.filter((line) => line.startsWith(`<${nick}>`));
      assert.deepEqual(own, Array.from({ length: 40 }, (_, i) => `<${nick}> ${prefix}${i + 1}`));
    }

    // /msg reaches a nick on another server; /rooms counts everyone.
    c.send("/join deep");
    await c.expect(/you are now in #deep/);
    a.send("/msg cy across the cluster");
    await c.expect("*ann* across the cluster");
    await a.expect("-> *cy* across the cluster");
    await waitUntil(
      async () => {
        b.send("/rooms");
        return /#lobby \(2\).*#deep \(1\)|#deep \(1\).*#lobby \(2\)/.test(
          await b.expect(/^\*\*\* rooms: /),
        );
      },
      "bob's /rooms to count every server",
      10_000,
    );

    // A nick taken on one server is taken on all; two racing for one: exactly one wins.
    b.send("/nick cy");
    await b.expect("!!! nickname cy is taken");
    const racers = await Promise.all(processes.slice(0, 2).map((p) => TestClient.join(p.port)));
    clients.push(...racers);
    const wins = [0, 0];
    for (let round = 1; round <= 50; round++) {
      const nick = `zed${round}`;
      for (const racer of racers) racer.send(`/nick ${nick}`);
      const outcomes = await Promise.all(
        racers.map((racer) =>
          racer.expect(
            new RegExp(`^(\\*\\*\\* you are now ${nick}|!!! nickname ${nick} is taken)$`),
          )
        ),
      );
      const won = outcomes.map((line) => line.startsWith("***"));
      assert.equal(won.filter(Boolean).length, 1, `round ${round}: ${outcomes.join(" | ")}`);
      wins[won.indexOf(true)]++;
    }
    console.log(
      `nick races: 50 rounds, exactly one winner each (server 1 won ${wins[0]}, server 2 ${
        wins[1]
      })`,
    );
  } finally {
    await stopAll(processes, clients);
  }
});

Deno.test({
  name:
    "cluster: history lives in Redis; a server killed with -9 takes its users out of the others' lists within 15 s",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  let processes = await servers(redis, 2);
  const clients: TestClient[] = [];
  try {
    const { ann, bob } = await annAndBob(processes, clients);
    ann.send("remember me");
    await bob.expect("<ann> remember me");

    const killedAt = performance.now();
    processes[1].child.kill("SIGKILL");
    await ann.expect("*** bob left (server lost)", 15_000);
    const seconds = (performance.now() - killedAt) / 1000;
    assert.ok(seconds <= 15, `took ${seconds.toFixed(1)} s`);
    ann.send("/who");
    assert.match(await ann.expect(/^\*\*\* in #lobby: /), /\(1 here, 1 online\)/);

    // Every parley gone; a new one on the same Redis still has the room's history.
    await Promise.all(processes.map((p) => p.stop("SIGTERM")));
    processes = await servers(redis, 1);
    const newcomer = await TestClient.connect(processes[0].port);
    clients.push(newcomer);
    newcomer.send("");
    await newcomer.expect(/^\[\d\d:\d\d\] <ann> remember me$/);
  } finally {
    await stopAll(processes, clients);
  }
});

Deno.test({
  name:
    "cluster: Redis gone for 3 s: each server serves its own, says the link is lost and restored, and what was said meanwhile is delivered after",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await servers(redis, 2);
  const clients: TestClient[] = [];
  try {
    const ann = await TestClient.join(processes[0].port, "ann");
    const amy = await TestClient.join(processes[0].port, "amy");
    const bob = await TestClient.join(processes[1].port, "bob");
    clients.push(ann, amy, bob);
    await waitUntil(
      async () => {
        bob.send("/who");
        return (await bob.expect(/^\*\*\* in #lobby: /)).includes("3 online");
      },
      "bob to see all three",
      10_000,
    );

    await redis.kill();
    const lost =
      "*** the link to the other servers is lost: until it is back, messages reach people on this server only";
    await Promise.all([ann.expect(lost, 5000), bob.expect(lost, 5000)]);
    for (const text of ["one", "two", "three"]) ann.send(text);
    await amy.expect("<ann> three"); // the same server: at once
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.deepEqual(said(bob).filter((l) => l.startsWith("<ann>")), [], "bob hears nothing yet");
    await redis.restart();
    const restored = "*** the link to the other servers is restored";
    await Promise.all([ann.expect(restored, 10_000), bob.expect(restored, 10_000)]);
    // Delivered afterwards, in order, or ann is told it did not go out: never lost silently.
    await waitUntil(
      () =>
        said(bob).filter((l) => l.startsWith("<ann>")).length === 3 ||
        ann.lines.some((l) => l.includes("did not reach the other servers")),
      "bob to hear ann's lines (or ann to be told)",
      10_000,
    );
    const heard = said(bob).filter((l) => l.startsWith("<ann>"));
    console.log(
      heard.length > 0
        ? "said while Redis was away: delivered after"
        : "said while Redis was away: ann was told",
    );
    if (heard.length > 0) assert.deepEqual(heard, ["<ann> one", "<ann> two", "<ann> three"]);
    assert.deepEqual(said(amy).filter((l) => l.startsWith("<ann>")), [
      "<ann> one",
      "<ann> two",
      "<ann> three",
    ], "amy, on ann's server, heard each once");
    // And the chat goes on across the servers.
    bob.send("back to normal");
    await ann.expect("<bob> back to normal", 5000);
    const log = processes[0].stdout.text;
    assert.match(log, /cluster +link to Redis at redis:\/\/127\.0\.0\.1:\d+\/? lost/);
    assert.match(log, /cluster +link to Redis at redis:\/\/127\.0\.0\.1:\d+\/? restored/);
  } finally {
    await stopAll(processes, clients);
  }
});

Deno.test({
  name:
    "cluster: a server stopped with SIGTERM says goodbye: its users leave the others' lists at once",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await servers(redis, 2);
  const clients: TestClient[] = [];
  try {
    const { ann, bob } = await annAndBob(processes, clients);
    // The servers look at each other every 2 s: a server gone before anyone looked is not missed.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const stoppedAt = performance.now();
    assert.equal(await processes[1].stop("SIGTERM"), 0);
    await bob.expect("*** server shutting down");
    await ann.expect(/^\*\*\* bob left \(/, 5000).catch((error) => {
      throw new Error(
        `${error.message}\n--- bob's server:\n${processes[1].stdout.text}\n--- ann's:\n${
          processes[0].stdout.text
        }`,
      );
    });
    assert.ok(performance.now() - stoppedAt < 5000);
    ann.send("/who");
    assert.match(await ann.expect(/^\*\*\* in #lobby: /), /\(1 here, 1 online\)/);
  } finally {
    await stopAll(processes, clients);
  }
});

Deno.test({
  name:
    "cluster: the Redis password from REDIS_PASSWORD or the URL, never in the console; a wrong one is one line, exit 1",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer({ password: "redis-secret-77" });
  const bare = `redis://127.0.0.1:${redis.port}`;
  const server = await startServerProcess(["--cluster", bare, "--no-console"], {
    env: { REDIS_PASSWORD: "redis-secret-77" },
  });
  try {
    const ann = await TestClient.join(server.port, "ann");
    ann.close();
    assert.match(server.stdout.text, /cluster +joined the cluster at redis:\/\/127\.0\.0\.1:\d+/);
  } finally {
    await server.stop("SIGTERM");
  }
  assert.ok(!server.stdout.text.includes("redis-secret-77"));
  const wrong = await runCli([
    "server",
    "--port",
    "0",
    "--cluster",
    `redis://:not-it@127.0.0.1:${redis.port}`,
  ]);
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
  assert.match(
    wrong.stderr,
    /^parley server: cannot join the cluster at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/,
  );
  assert.ok(!wrong.stderr.includes("not-it") && !wrong.stdout.includes("not-it"));
});

Deno.test({
  name:
    "cluster: messages, actions, joins, leaves and renames from three servers reach watchers on every server in one order",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await servers(redis, 3);
  const clients: TestClient[] = [];
  try {
    const watchers = await Promise.all(processes.map((p, i) => TestClient.join(p.port, `w${i}`)));
    const [ann, bob, mo] = await Promise.all(
      ["ann", "bob", "mo"].map((nick, i) => TestClient.join(processes[i].port, nick)),
    );
    clients.push(...watchers, ann, bob, mo);
    await waitUntil(
      async () => {
        watchers[0].send("/who");
        return (await watchers[0].expect(/^\*\*\* in #lobby: /)).includes("(6 here, 6 online)");
      },
      "everyone in the lobby",
      10_000,
    );
    const from = watchers.map((w) => w.lines.length);
    for (let i = 1; i <= 30; i++) {
      ann.send(i % 10 === 0 ? `/me nods ${i}` : `a${i}`);
      bob.send(`b${i}`);
      if (i === 10) mo.send("/nick mo2");
      if (i === 15) mo.send("/join side");
      if (i === 20) mo.send("/join lobby");
      if (i === 25) mo.send("/me is back");
    }
    const last = "<bob> b30";
    await Promise.all(watchers.map((w) => w.expect(last, 10_000)));
    await waitUntil(
      () => watchers.every((w) => w.lines.some((l) => l === "* ann nods 30")),
      "ann's last action everywhere",
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const views = watchers.map((w, i) =>
      w.lines.slice(from[i]).filter((l) =>
        /^(<|\* |\*\*\* )/.test(l) && !/^\*\*\* (in #|rooms:)/.test(l)
      )
    );
    assert.ok(
      views[0].length >= 64,
      `watcher 0 saw ${views[0].length} events:\n${views[0].join("\n")}`,
    );
    assert.ok(views[0].includes("*** mo is now known as mo2"));
    assert.ok(
      views[0].some((l) => /^\*\*\* mo2 (left #lobby|went to #side)/.test(l)),
      views[0].join("\n"),
    );
    assert.deepEqual(views[1], views[0], "server 2's watcher saw the same, in the same order");
    assert.deepEqual(views[2], views[0], "server 3's watcher saw the same, in the same order");
  } finally {
    await stopAll(processes, clients);
  }
});
