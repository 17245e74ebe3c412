/**
 * One account on devices of two servers (issue 23), with real server
 * processes on one real `redis-server`: a line client of alice on A and an IRC
 * client of alice on B are one member (others see one join, each message once,
 * a private message reaches both, a join on B joins A's device too, a read on A moves the marker
 * on B, a status given on B holds on A), and when
 * A is killed with SIGKILL alice stays present on B: nobody sees her quit, and
 * her device there goes on talking.
 */

import assert from "node:assert/strict";
import { missingTools, type ServerProcess, startServerProcess, TestClient } from "./helpers.ts";
import { startRedisServer } from "./redis_server.ts";

const PASSWORD = "correct-horse-battery";
const S = "test.parley";
/** Waits across servers (a batch goes through Redis and back). */
const T = 10_000;

function plain(account: string, password: string): string {
  return btoa(`\0${account}\0${password}`);
}

Deno.test({
  name:
    "devices on two cluster servers: one member; kill -9 of the server holding one device leaves the person present on the other",
  ignore: await missingTools("cluster devices test", "redis-server"),
}, async () => {
  await using redis = await startRedisServer();
  const start = () =>
    startServerProcess(["--cluster", redis.url, "--irc-port", "0", "--irc-name", S]);
  const [a, b]: ServerProcess[] = await Promise.all([start(), start()]);
  const clients: TestClient[] = [];
  let aKilled = false;
  try {
    const owner = await TestClient.join(a.port, "alice");
    owner.send(`/register ${PASSWORD}`);
    await owner.expect(/is yours now/);
    owner.send("/quit");
    await owner.expectClosed();

    const bob = await TestClient.join(a.port, "bob");
    clients.push(bob);
    const carol = await TestClient.registerIrc(b.ircPort, "carol", { caps: ["message-tags"] });
    clients.push(carol);
    carol.sendIrc("JOIN #lobby,#dev");
    await carol.expect(/ 366 carol #dev /);

    // alice's line client on A: everyone sees her arrive, once.
    const line = await TestClient.connect(a.port);
    clients.push(line);
    line.send(`/identify alice ${PASSWORD}`);
    await line.expect("*** welcome to parley, you are alice");
    await line.expect(/^\*\*\* \d+ online, \d+ in #lobby/);
    await carol.expect(/:alice!line@test\.parley JOIN #lobby$/, T);
    await bob.expect("*** alice joined #lobby");

    // alice's IRC client on B: the same member, told its channels; nobody sees a second join.
    const irc = await TestClient.connect(b.ircPort);
    clients.push(irc);
    irc.send("CAP LS 302");
    irc.send("CAP REQ :sasl message-tags echo-message draft/read-marker");
    irc.send("AUTHENTICATE PLAIN");
    await irc.expect("AUTHENTICATE +");
    irc.send(`AUTHENTICATE ${plain("alice", PASSWORD)}`);
    await irc.expect(/ 903 /);
    irc.send("NICK alice");
    irc.send("USER alice 0 * :alice");
    irc.send("CAP END");
    await irc.expect(/ 001 alice /);
    await irc.expect(`:alice!line@${S} JOIN #lobby`);
    await irc.expect(/ 353 alice = #lobby :.*\balice\b/);

    // Each message once everywhere, from either device.
    line.send("from A");
    await irc.expect(/:alice!line@\S+ PRIVMSG #lobby :from A$/, T);
    await carol.expect(/:alice!line@\S+ PRIVMSG #lobby :from A$/, T);
    await bob.expect("<alice> from A");
    irc.sendIrc("PRIVMSG #lobby :from B");
    await irc.expect(/PRIVMSG #lobby :from B$/, T); // its echo
    await line.expect("<alice> from B", T);
    await bob.expect("<alice> from B", T);
    await carol.expect(/:alice!line@\S+ PRIVMSG #lobby :from B$/, T);
    carol.sendIrc("NAMES #lobby");
    const names = await carol.expect(/ 353 carol = #lobby :/);
    assert.equal(names.split(" ").filter((nick) => /^:?[@+]?alice$/.test(nick)).length, 1, names);
    bob.send("/who");
    const who = await bob.expect(/^\*\*\* in #lobby: /);
    assert.equal((who.match(/\balice\b/g) ?? []).length, 1, who);

    // A private message to alice reaches both devices, on both servers.
    carol.sendIrc("PRIVMSG alice :psst");
    await irc.expect(/:carol!carol@\S+ PRIVMSG alice :psst$/, T);
    await line.expect("*carol* psst", T);

    // Joining #dev on B joins alice's device on A too (told so); carol sees one JOIN.
    irc.sendIrc("JOIN #dev");
    await irc.expect(/ 366 alice #dev /);
    await carol.expect(/:alice!line@test\.parley JOIN #dev$/, T);
    await line.expect(
      "*** you joined #dev on another device (/join dev shows it here)",
      T,
    );
    line.send("/join dev");
    await line.expect(/^\*\*\* you are now in #dev/);
    carol.sendIrc("PRIVMSG #dev :in dev");
    await line.expect("<carol> in dev", T);
    await irc.expect(/:carol!\S+ PRIVMSG #dev :in dev$/, T);
    assert.equal(carol.lines.filter((l) => / JOIN #dev$/.test(l) && l.includes("alice")).length, 1);

    // Reading #dev on A moves the marker on B.
    line.send("/read");
    await line.expect(/^\*\*\* read #dev up to /);
    await irc.expect(/ MARKREAD #dev timestamp=\S+$/, T);

    // A status given on B (to B's record of alice) is alice's on A too: her line client runs #dev.
    carol.sendIrc("MODE #dev +o alice");
    await line.expect("*** carol made alice an operator in #dev", T);
    line.send("/topic set from A");
    await carol.expect(/:alice!line@\S+ TOPIC #dev :set from A$/, T);
    await irc.expect(/:alice!line@\S+ TOPIC #dev :set from A$/, T);

    // A dies without a word: bob (only on A) leaves carol's lists, alice (also on B) does not.
    a.child.kill("SIGKILL");
    await a.child.status;
    aKilled = true;
    await carol.expect(/:bob!line@\S+ QUIT :Server lost/, 30_000);
    carol.sendIrc("NAMES #dev");
    await carol.expect(/ 353 carol = #dev :.*\balice\b/);
    carol.sendIrc("WHOIS alice");
    await carol.expect(/ 311 carol alice /);
    irc.sendIrc("PRIVMSG #dev :still here");
    await carol.expect(/:alice!line@\S+ PRIVMSG #dev :still here$/, T);
    assert.ok(
      !carol.lines.some((l) => /:alice!\S+ QUIT/.test(l)),
      `carol saw alice quit:\n${carol.lines.join("\n")}`,
    );
    assert.ok(!irc.isClosed);
    // Her nick is still hers across the cluster (B holds the claim now).
    const dave = await TestClient.join(b.port);
    clients.push(dave);
    dave.send("/nick alice");
    await dave.expect(/^!!! nickname alice is taken|registered/);
  } catch (error) {
    console.log("A:", a.stdout.text, a.stderr.text, "\nB:", b.stdout.text, b.stderr.text);
    throw error;
  } finally {
    for (const client of clients) client.close();
    if (!aKilled) await a.stop("SIGKILL");
    await b.stop("SIGKILL");
  }
});
