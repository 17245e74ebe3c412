/**
 * Accounts and operators over real sockets (SPEC §10): registered nicks,
 * identifying, throttled guessing, passwords kept out of the log, `/oper`
 * from a line client and from an IRC client, and the connect rate.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startServer, TestClient, waitUntil } from "./helpers.ts";

const PASSWORD = "sekret-horse-42";

Deno.test("accounts: a registered nick needs its password; its owner takes it back; guessing is throttled; no password is logged", async () => {
  const server = startServer();
  const clients: TestClient[] = [];
  try {
    const alice = await TestClient.join(server.port, "alice");
    clients.push(alice);
    alice.send(`/register ${PASSWORD}`);
    await alice.expect("*** the nick alice is yours now: /identify PASSWORD proves it");
    alice.send("/identfy alice " + PASSWORD); // a typo: only the command's name may be logged
    await alice.expect(/^!!! unknown command \/identfy/);

    // The owner, on a second connection, proves the nick: one more device of alice (issue
    // 23; before, whoever held the nick was renamed): its guest nick goes, alice stays alice.
    const again = await TestClient.join(server.port);
    clients.push(again);
    again.send(`/identify alice ${PASSWORD}`);
    await again.expect("*** you are now alice");
    await again.expect("*** you are identified as alice");
    await again.expect("*** you are on 2 devices; your rooms: #lobby");
    await again.expect("*** you are now in #lobby (1 here)");
    alice.send("/who");
    await alice.expect(/^\*\*\* .*alice \(2 devices\)/);

    // Nobody else can take it, online or not.
    const mallory = await TestClient.join(server.port);
    clients.push(mallory);
    mallory.send("/nick ALICE");
    await mallory.expect("!!! nickname alice is taken");
    again.send("/quit");
    await again.expectClosed();
    alice.send("/quit");
    await alice.expectClosed();
    mallory.send("/nick ALICE");
    await mallory.expect(
      "!!! the nick ALICE is registered; /identify ALICE PASSWORD if it is yours",
    );

    // Guessing: three wrong passwords a minute from one address, then even the right one waits.
    for (const guess of ["wrong-guess-1", "wrong-guess-2", "wrong-guess-3"]) {
      mallory.send(`/identify alice ${guess}`);
      await mallory.expect("!!! wrong password for alice");
    }
    mallory.send(`/identify alice ${PASSWORD}`);
    await mallory.expect(/^!!! too many wrong passwords from your address; try again in \d+ s$/);

    const log = server.log.lines.join("\n");
    assert.match(log, /account +127\.0\.0\.1:\d+ +alice  registered/);
    assert.match(log, /alice  identify failed: wrong-password/);
    assert.match(log, /rejected .*unknown command \/identfy/);
    for (const secret of [PASSWORD, "wrong-guess-1", "wrong-guess-3"]) {
      assert.ok(!log.includes(secret), `the log holds a password (${secret}):\n${log}`);
    }
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("accounts: /password changes it, /drop gives the nick up, reserved names are nobody's", async () => {
  const server = startServer();
  const clients: TestClient[] = [];
  try {
    const bob = await TestClient.join(server.port, "bob");
    clients.push(bob);
    bob.send("/register short");
    await bob.expect(/^!!! .*at least 8/);
    bob.send(`/register ${PASSWORD}`);
    await bob.expect(/the nick bob is yours now/);
    bob.send(`/password ${PASSWORD} another-password-9`);
    await bob.expect(/^\*\*\* .*password .*changed/);
    const other = await TestClient.join(server.port);
    clients.push(other);
    other.send(`/identify bob ${PASSWORD}`);
    await other.expect("!!! wrong password for bob");
    bob.send("/drop");
    await bob.expect("*** the nick bob is not registered any more");
    for (const name of ["NickServ", "chanserv", "server", "guest-77"]) {
      other.send(`/nick ${name}`);
      await other.expect(new RegExp(`^!!! .*${name}.*`, "i"));
    }
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("accounts over IRC: PASS at registration, NickServ IDENTIFY, and OPER then KILL", async () => {
  const server = startServer({ chat: { operPassword: "oper-pass-1234" } });
  const clients: TestClient[] = [];
  try {
    const owner = await TestClient.join(server.port, "carol");
    clients.push(owner);
    owner.send(`/register ${PASSWORD}`);
    await owner.expect(/the nick carol is yours now/);
    owner.send("/quit");
    await owner.expectClosed();

    // A registered nick without PASS: 433 with the reason.
    const bare = await TestClient.connect(server.port);
    clients.push(bare);
    bare.sendIrc("NICK carol");
    bare.sendIrc("USER carol 0 * :Carol");
    await bare.expect(/ 433 \* carol :the nick carol is registered/);
    // Then NickServ IDENTIFY after registering as someone else.
    bare.sendIrc("NICK carol_");
    await bare.expect(/ 001 carol_ /);
    bare.sendIrc(`PRIVMSG NickServ :IDENTIFY carol ${PASSWORD}`);
    await bare.expect(/^:carol_!\S+ NICK :?carol$/);
    bare.sendIrc("QUIT :done");
    await bare.expectClosed();

    // PASS at registration: straight in as carol.
    const irc = await TestClient.connect(server.port);
    clients.push(irc);
    irc.sendIrc(`PASS ${PASSWORD}`);
    irc.sendIrc("NICK carol");
    irc.sendIrc("USER carol 0 * :Carol");
    await irc.expect(/ 001 carol :/);
    irc.sendIrc("JOIN #lobby");
    await irc.expect(/ 366 carol #lobby /);

    const dave = await TestClient.join(server.port, "dave");
    clients.push(dave);
    await irc.expect(/^:guest-\d+!\S+ NICK :?dave$/);
    irc.sendIrc("KILL dave :not yet");
    await irc.expect(/ 481 carol :/); // not an operator yet
    irc.sendIrc("OPER carol wrong-one");
    await irc.expect(/ 464 carol :/);
    irc.sendIrc("OPER carol oper-pass-1234");
    await irc.expect(/ 381 carol :/);
    irc.sendIrc("KILL dave :enough"); // KICK takes someone out of a channel only
    await dave.expect("!!! you were kicked by carol (enough)");
    await dave.expectClosed();
    await irc.expect(/^:dave!\S+ QUIT :.*kicked/);
    const log = server.log.lines.join("\n");
    assert.ok(!log.includes(PASSWORD) && !log.includes("oper-pass-1234"), log);
    assert.match(log, /operator +carol  kicked dave/);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("operators: /oper from a line client, then /mute, /say and /kill; others cannot", async () => {
  const server = startServer({ chat: { operPassword: "oper-pass-1234" } });
  const clients: TestClient[] = [];
  try {
    const op = await TestClient.join(server.port, "op");
    const eve = await TestClient.join(server.port, "eve");
    const joe = await TestClient.join(server.port, "joe");
    clients.push(op, eve, joe);
    eve.send("/kill joe");
    await eve.expect("!!! only server operators can do that (/oper PASSWORD)");
    op.send("/oper nope-nope");
    await op.expect("!!! wrong operator password");
    op.send("/oper oper-pass-1234");
    await op.expect(/^\*\*\* you are a server operator now/);
    op.send("/mute eve 5m");
    await op.expect("*** muted eve for 5m");
    eve.send("can anyone hear me");
    await eve.expect(/^!!! you are muted until .*; your lines go nowhere$/);
    op.send("/say the server restarts at noon");
    await joe.expect("*** the server restarts at noon");
    await eve.expect("*** the server restarts at noon");
    op.send("/kill eve take a break"); // /kick takes someone out of a room only
    await eve.expect("!!! you were kicked by op (take a break)");
    await eve.expectClosed();
    await joe.expect("*** eve left (kicked by op: take a break)");
    assert.ok(
      !joe.lines.some((line) => line.includes("can anyone hear me")),
      "a muted line went out",
    );
    op.send("/who");
    await op.expect(/^\*\*\* in #lobby: (joe, @op|@op, joe) \(2 here, 2 online\)$/);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("--connect-rate: past N new connections a minute one !!! line and close, logged once per burst", async () => {
  const server = startServer({ connectRate: 3 });
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < 3; i++) clients.push(await TestClient.join(server.port));
    for (let i = 0; i < 3; i++) {
      const refused = await TestClient.connect(server.port);
      clients.push(refused);
      await refused.expect(
        "!!! too many new connections from 127.0.0.1 (at most 3 a minute); try again later",
      );
      await refused.expectClosed();
    }
    await waitUntil(() => server.log.lines.some((line) => /refused/.test(line)), "the refusal");
    const logged = server.log.lines.filter((line) => /too many new connections/.test(line));
    assert.equal(logged.length, 1, `one log line for the burst:\n${logged.join("\n")}`);
    assert.match(logged[0], /not logged until it slows down/);
    // Those already in are not affected.
    clients[0].send("still here");
    await clients[1].expect(/<guest-1> still here/);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("client --password-file: the piped client proves its registered nick on joining", async () => {
  const server = startServer();
  const dir = await Deno.makeTempDir({ prefix: "parley-pw-" });
  try {
    const owner = await TestClient.join(server.port, "dana");
    owner.send(`/register ${PASSWORD}`);
    await owner.expect(/the nick dana is yours now/);
    owner.send("/quit");
    await owner.expectClosed();
    const file = join(dir, "password");
    await Deno.writeTextFile(file, PASSWORD + "\n");
    const listener = await TestClient.join(server.port, "lis");
    const args = ["client", "--port", String(server.port), "--name", "dana"];
    const proved = await runCli([...args, "--password-file", file], { stdin: "hi, it is me\n" });
    assert.equal(proved.code, 0, proved.stderr);
    assert.match(proved.stdout, /\*\*\* you are identified as dana/);
    await listener.expect("<dana> hi, it is me");
    // Without it, a registered nick is refused and the script does not post as someone else.
    const refused = await runCli(args, { stdin: "not me\n" });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot join as dana: the nick dana is registered/);
    const wrong = await runCli(["client", "--port", String(server.port), "--password-file", file]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--password-file needs --name/);
    assert.ok(!server.log.lines.join("\n").includes(PASSWORD));
    listener.close();
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
