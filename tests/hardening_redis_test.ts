/**
 * Issue 18: what comes back from Redis is checked like client input. Anyone
 * who can publish on a feed's channel must not be able to send raw LF or ESC
 * to line clients, nor stop a room by publishing a batch with a made-up
 * sequence number (every later batch would otherwise be taken for a
 * duplicate). Rejects are logged.
 */

import assert from "node:assert/strict";
import { missingTools, startServerProcess, TestClient } from "./helpers.ts";
import { startRedisServer } from "./redis_server.ts";

const NO_REDIS = await missingTools("redis hardening test", "redis-server");

Deno.test({
  name: "cluster: forged batches on a feed are cleaned or refused, and logged; the room goes on",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const server = await startServerProcess(["--cluster", redis.url, "--no-console"]);
  try {
    const ann = await TestClient.join(server.port, "ann");
    const bob = await TestClient.join(server.port, "bob");
    await ann.expect("*** guest-2 is now known as bob");
    bob.send("before");
    await ann.expect("<bob> before");
    const meta = "parley:feed:{lobby}:meta";
    const epoch = await redis.cli("HGET", meta, "epoch");
    const next = Number(await redis.cli("HGET", meta, "seq")) + 1;
    const event = (text: string) =>
      JSON.stringify({
        kind: "message",
        room: "lobby",
        seq: 0,
        time: Date.now(),
        origin: "x/1",
        nick: "mallory",
        user: "mallory",
        text,
        action: false,
      });
    // Raw LF and ESC: cleaned, like anything a client sends.
    await redis.cli(
      "PUBLISH",
      "parley:feed:{lobby}",
      `${next} ${epoch} forged:1:1 [${event("hi\n\x1b[31mred\x1b]0;title\x07")}]`,
    );
    const cleaned = await ann.expect(/^<mallory> /);
    assert.equal(cleaned, "<mallory> hi[31mred]0;title");
    // A made-up sequence number far ahead: refused (its feed's log does not hold it).
    await redis.cli(
      "PUBLISH",
      "parley:feed:{lobby}",
      `1000000000000 ${epoch} forged:1:2 [${event("from the future")}]`,
    );
    // Not an event at all, and a nick that is not one.
    await redis.cli(
      "PUBLISH",
      "parley:feed:{lobby}",
      `${next + 1} ${epoch} forged:1:3 [{"kind":1}]`,
    );
    await redis.cli(
      "PUBLISH",
      "parley:feed:{lobby}",
      `${next + 1} ${epoch} forged:1:4 [${event("x").replace('"mallory"', '"bad nick"')}]`,
    );
    bob.send("after");
    await ann.expect("<bob> after");
    bob.send("and again");
    await ann.expect("<bob> and again");
    assert.ok(!ann.lines.some((line) => line.includes("from the future")));
    await server.stdout.waitFor(/ignored batch forged:1:2 \(seq 1000000000000\)/);
    await server.stdout.waitFor(/ignored a message on parley:feed:\{lobby\}: a damaged event/);
    ann.close();
    bob.close();
  } finally {
    await server.stop();
  }
});

Deno.test({
  name: "cluster: an event keeps its id from one server to the other",
  ignore: NO_REDIS,
}, async () => {
  const { checkEvent } = await import("../src/store/redis/event_check.ts");
  const event = {
    kind: "message",
    room: "lobby",
    seq: 3,
    id: "mabc123xyz0001",
    time: 1,
    origin: "n/1",
    nick: "ann",
    user: "ann",
    text: "hi",
    action: false,
  };
  const checked = checkEvent(JSON.parse(JSON.stringify(event)));
  assert.ok("event" in checked);
  assert.equal(checked.event.id, "mabc123xyz0001");
  assert.ok("why" in checkEvent({ ...event, id: "bad id with spaces" }));
});
