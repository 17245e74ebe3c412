/** Rooms and history over real sockets. */

import { historyTime } from "../src/protocol/line.ts";
import assert from "node:assert/strict";
import { delay, startServer, TestClient } from "./helpers.ts";

Deno.test("rooms are isolated: messages, actions and notices stay in their room", async () => {
  const server = startServer();
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const carol = await TestClient.join(server.port, "carol");
  const dave = await TestClient.join(server.port, "dave");
  try {
    carol.send("/join #dev");
    await carol.expect("*** you are now in #dev (1 here)");
    await alice.expect("*** carol went to #dev");
    dave.send("/join DEV");
    await dave.expect("*** you are now in #dev (2 here)");
    await carol.expect("*** dave joined #dev");

    alice.send("lobby only");
    await bob.expect("<alice> lobby only");
    carol.send("dev only");
    carol.send("/me deploys");
    await dave.expect("<carol> dev only");
    await dave.expect("* carol deploys");

    // Private messages cross rooms.
    bob.send("/msg carol psst");
    await carol.expect("*bob* psst");

    await delay(100);
    assert.ok(!carol.take().some((line) => line.includes("lobby only")));
    assert.ok(!dave.take().some((line) => line.includes("lobby only")));
    for (const lobbyMember of [alice, bob]) {
      const lines = lobbyMember.take();
      assert.ok(
        !lines.some((line) => line.includes("dev only") || line.includes("deploys")),
        lines.join("\n"),
      );
      assert.ok(
        !lines.some((line) => line.includes("dave joined")),
        "joins are told only to the room joined",
      );
    }
  } finally {
    for (const client of [alice, bob, carol, dave]) client.close();
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.match(log, /message +127\.0\.0\.1:\d+ +carol  #dev  dev only/);
  assert.match(log, /action +127\.0\.0\.1:\d+ +carol  #dev  deploys/);
  assert.match(log, /join +127\.0\.0\.1:\d+ +carol  #lobby -> #dev/);
});

Deno.test("/who is per room; /rooms lists rooms with counts; empty rooms disappear", async () => {
  const server = startServer();
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const carol = await TestClient.join(server.port, "carol");
  try {
    carol.send("/join dev");
    await carol.expect(/you are now in #dev/);
    alice.send("/who");
    await alice.expect("*** in #lobby: alice, bob (2 here, 3 online)");
    carol.send("/who");
    // Whoever creates a room is its operator (SPEC §8), marked @.
    await carol.expect("*** in #dev: @carol (1 here, 3 online)");
    alice.send("/rooms");
    await alice.expect("*** rooms: #lobby (2), #dev (1)");

    carol.send("/join lobby");
    await carol.expect(/you are now in #lobby/);
    alice.send("/rooms");
    await alice.expect("*** rooms: #lobby (3)");
    carol.send("/join lobby");
    await carol.expect("!!! you are already in #lobby");
    carol.send("/join no spaces");
    await carol.expect("!!! room name may contain only letters, digits, _ - and .");
  } finally {
    for (const client of [alice, bob, carol]) client.close();
    await server.close();
  }
});

Deno.test("a late joiner gets the room's recent messages between two notices; the bound holds", async () => {
  const server = startServer({ history: 3 });
  const alice = await TestClient.join(server.port, "alice");
  const listener = await TestClient.join(server.port, "listener");
  try {
    for (let i = 1; i <= 5; i++) alice.send(`message ${i}`);
    alice.send("/me is done");
    await listener.expect("* alice is done");

    const late = await TestClient.connect(server.port);
    await late.expect("*** last 3 messages in #lobby:");
    const replay = late.take().slice(0, 4);
    // Replayed lines carry the time they were said, in the server's local time.
    const saidAt = new RegExp(`^\\[${historyTime(Date.now(), Date.now())}\\] `);
    assert.ok(replay.slice(0, 3).every((line) => saidAt.test(line)), replay.join("\n"));
    assert.deepEqual(replay.map((line) => line.replace(saidAt, "")), [
      "<alice> message 4",
      "<alice> message 5",
      "* alice is done",
      "*** end of history; new messages follow",
    ]);
    alice.send("new one");
    await late.expect("<alice> new one");
    late.close();

    // History belongs to its room: a newcomer to #dev sees only #dev's.
    alice.send("/join dev");
    await alice.expect(/you are now in #dev/);
    alice.send("in dev");
    const devJoiner = await TestClient.join(server.port, "devjoiner");
    devJoiner.send("/join dev");
    await devJoiner.expect("*** you are now in #dev (2 here)");
    await devJoiner.expect("*** last message in #dev:");
    await devJoiner.expect(/^\[[\d: -]+\] <alice> in dev$/);
    devJoiner.close();
  } finally {
    alice.close();
    listener.close();
    await server.close();
  }
});

Deno.test("--history 0: no replay at all", async () => {
  const server = startServer({ history: 0 });
  const alice = await TestClient.join(server.port, "alice");
  try {
    alice.send("nobody will remember this");
    await delay(50);
    const late = await TestClient.join(server.port);
    await delay(100);
    assert.ok(
      !late.lines.some((line) => line.includes("remember") || line.includes("last")),
      late.lines.join("\n"),
    );
    late.close();
  } finally {
    alice.close();
    await server.close();
  }
});

Deno.test("the room cap refuses new rooms with a clear error; a room that empties frees its place and its history", async () => {
  const server = startServer({ maxRooms: 2 });
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  try {
    alice.send("/join first");
    await alice.expect(/you are now in #first/);
    alice.send("said in first");
    bob.send("/join second");
    await bob.expect("!!! too many rooms (at most 2); join an existing one (/rooms)");
    bob.send("/join FIRST");
    await bob.expect("*** you are now in #first (2 here)");
    await bob.expect(/^\[[\d: -]+\] <alice> said in first$/);

    alice.send("/join lobby");
    await alice.expect(/you are now in #lobby/);
    bob.send("/join lobby");
    await bob.expect(/you are now in #lobby/);
    bob.send("/join second");
    await bob.expect("*** you are now in #second (1 here)");
    alice.send("/join first");
    await alice.expect("!!! too many rooms (at most 2); join an existing one (/rooms)");
    bob.send("/join lobby");
    await bob.expect(/you are now in #lobby/);
    alice.send("/join first");
    await alice.expect("*** you are now in #first (1 here)");
    await delay(50);
    assert.ok(
      !alice.take().some((line) => line.includes("said in first")),
      "an emptied room forgets its history",
    );
  } finally {
    alice.close();
    bob.close();
    await server.close();
  }
});
