/**
 * Room modes that outlive a process and rooms run alike on every server,
 * with real server processes: `--data` keeps a room's modes, key, limit,
 * bans and creation time across a restart; with `--cluster`, two servers on
 * one `redis-server` share a room's operators (op on A is op on B), its
 * modes (+m set on A silences a member on B) and its kicks (a kick from A
 * takes a member of B out of the room), and a third server started later
 * reads them from Redis.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { missingTools, type ServerProcess, startServerProcess, TestClient } from "./helpers.ts";
import { startRedisServer } from "./redis_server.ts";

const S = "test.parley";

Deno.test("--data: a room's modes, key, limit, bans and creation time survive a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-modes-" });
  const data = join(dir, "chat.db");
  const operFile = join(dir, "oper");
  await Deno.writeTextFile(operFile, "oper-pass-1234\n");
  const args = [
    "--data",
    data,
    "--irc-port",
    "0",
    "--irc-name",
    S,
    "--oper-password-file",
    operFile,
  ];
  let server = await startServerProcess(args);
  const clients: TestClient[] = [];
  try {
    const ann = await TestClient.registerIrc(server.ircPort, "ann");
    clients.push(ann);
    ann.sendIrc("JOIN #keep");
    await ann.expect(/ 366 ann #keep /);
    ann.sendIrc("MODE #keep +imsk-t sesame");
    await ann.expect(`:ann!ann@${S} MODE #keep +imsk-t sesame`);
    ann.sendIrc("MODE #keep +lb 10 bob");
    await ann.expect(`:ann!ann@${S} MODE #keep +lb 10 bob!*@*`);
    ann.sendIrc("MODE #keep");
    await ann.expect(`:${S} 324 ann #keep +imnskl sesame 10`);
    const created = (await ann.expect(/ 329 ann #keep \d+$/)).split(" ").pop();
    ann.close();
    assert.equal(await server.stop("SIGTERM"), 0);

    server = await startServerProcess(args);
    const out = await TestClient.registerIrc(server.ircPort, "out");
    const bob = await TestClient.registerIrc(server.ircPort, "bob");
    const oper = await TestClient.registerIrc(server.ircPort, "oper");
    clients.push(out, bob, oper);
    out.sendIrc("MODE #keep");
    await out.expect(`:${S} 324 out #keep +imnskl * 10`);
    await out.expect(`:${S} 329 out #keep ${created}`);
    out.sendIrc("MODE #keep b");
    await out.expect(/^:test\.parley 367 out #keep bob!\*@\* ann \d+$/);
    out.sendIrc("JOIN #keep sesame");
    await out.expect(`:${S} 473 out #keep :Cannot join channel (+i)`);
    bob.sendIrc("JOIN #keep sesame");
    await bob.expect(`:${S} 474 bob #keep :Cannot join channel (+b)`);
    // A server operator passes the door; the first one in a kept room runs it.
    oper.sendIrc("OPER oper oper-pass-1234");
    await oper.expect(/ 381 oper /);
    oper.sendIrc("JOIN #keep");
    await oper.expect(`:${S} 353 oper @ #keep :@oper`);
  } finally {
    for (const client of clients) client.close();
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "cluster: op on A is op on B, +m set on A silences a member on B, a kick from A takes a member of B out of the room",
  ignore: await missingTools("cluster test", "redis-server"),
}, async () => {
  await using redis = await startRedisServer();
  const start = () =>
    startServerProcess(["--cluster", redis.url, "--irc-port", "0", "--irc-name", S]);
  const processes: ServerProcess[] = await Promise.all([start(), start()]);
  const [a, b] = processes;
  const clients: TestClient[] = [];
  const T = 10_000;
  try {
    const ann = await TestClient.registerIrc(a.ircPort, "ann");
    clients.push(ann);
    ann.sendIrc("JOIN #dev");
    await ann.expect(`:${S} 353 ann = #dev :@ann`);
    const bob = await TestClient.registerIrc(b.ircPort, "bob");
    clients.push(bob);
    bob.sendIrc("JOIN #dev");
    await bob.expect(`:${S} 353 bob = #dev :@ann bob`, T);
    const cy = await TestClient.join(b.port, "cy");
    clients.push(cy);
    cy.send("/join dev");
    await cy.expect(/^\*\*\* you are now in #dev/);
    await ann.expect(`:cy!line@${S} JOIN #dev`, T);

    // Op on A is op on B: bob, opped by ann on A, runs #dev on B.
    ann.sendIrc("MODE #dev +o bob");
    await bob.expect(`:ann!ann@${S} MODE #dev +o bob`, T);
    await cy.expect("*** ann made bob an operator in #dev", T);
    bob.sendIrc("NAMES #dev");
    await bob.expect(`:${S} 353 bob = #dev :@ann @bob cy`, T);
    bob.sendIrc("TOPIC #dev :run from B");
    await ann.expect(`:bob!bob@${S} TOPIC #dev :run from B`, T);

    // +m set on A silences cy on B; a voice given on B lets cy speak on both.
    ann.sendIrc("MODE #dev +m");
    await cy.expect("*** ann moderated it (only operators and voiced members speak) in #dev", T);
    cy.send("anyone?");
    await cy.expect("!!! #dev is moderated: only its operators and voiced members speak");
    bob.sendIrc("MODE #dev +v cy");
    await ann.expect(`:bob!bob@${S} MODE #dev +v cy`, T);
    cy.send("heard now");
    await ann.expect(`:cy!line@${S} PRIVMSG #dev :heard now`, T);

    // A kick from A takes cy, on B, out of #dev (and into B's lobby); cy stays connected.
    ann.sendIrc("KICK #dev cy :off you go");
    await ann.expect(`:ann!ann@${S} KICK #dev cy :off you go`);
    await bob.expect(`:ann!ann@${S} KICK #dev cy :off you go`, T);
    await cy.expect("*** ann kicked cy from #dev (off you go)", T);
    await cy.expect(/^\*\*\* you are now in #lobby/, T);
    bob.sendIrc("NAMES #dev");
    await bob.expect(`:${S} 353 bob = #dev :@ann @bob`, T);
    cy.send("/who");
    await cy.expect(/^\*\*\* in #lobby: cy /);

    // A server started later reads the room's operators and modes from Redis.
    const c = await start();
    processes.push(c);
    const dan = await TestClient.registerIrc(c.ircPort, "dan");
    clients.push(dan);
    dan.sendIrc("MODE #dev");
    await dan.expect(`:${S} 324 dan #dev +mnt`, T);
    dan.sendIrc("JOIN #dev");
    await dan.expect(`:${S} 353 dan = #dev :@ann @bob dan`, T);
    dan.sendIrc("PRIVMSG #dev :hello?");
    await dan.expect(`:${S} 404 dan #dev :Cannot send to channel`);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  }
});
