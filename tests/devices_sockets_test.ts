/**
 * One account on several devices over real sockets, one server (issue 23):
 * line clients and IRC clients of one account at once, the session limit,
 * rooms that wait for the account with `--data` (a fake clock: back the next
 * day, exactly what was missed), read markers from the line protocol, and what
 * the console logs. The browser as a device is `devices_browser_test.ts`; two
 * servers are `devices_cluster_test.ts`.
 */

import assert from "node:assert/strict";
import { DAY_MS } from "../src/core/history.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { startServer, TestClient, type TestServer } from "./helpers.ts";

const PASSWORD = "correct-horse-battery";
const S = "test.parley";

/** `AUTHENTICATE` PLAIN's response for `account`. */
function plain(account: string, password: string): string {
  return btoa(`\0${account}\0${password}`);
}

/** An IRC client proving `account` with SASL before registering, with `caps`. */
async function ircDevice(
  port: number,
  account: string,
  caps: string[] = [],
  nick = account,
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.send("CAP LS 302");
  await client.expect(/ CAP \* LS :/);
  client.send(`CAP REQ :${["sasl", ...caps].join(" ")}`);
  await client.expect(/ CAP \S+ ACK :/);
  client.send("AUTHENTICATE PLAIN");
  await client.expect("AUTHENTICATE +");
  client.send(`AUTHENTICATE ${plain(account, PASSWORD)}`);
  await client.expect(/ 903 /);
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick} on IRC`);
  client.send("CAP END");
  return client;
}

/** A line client whose first line proves `account` (as `parley client --password-file` does). */
async function lineDevice(port: number, account: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.send(`/identify ${account} ${PASSWORD}`);
  await client.expect(new RegExp(`^\\*\\*\\* welcome to parley, you are ${account}$`));
  return client;
}

/** Registers `nick` from a line client that then leaves. */
async function register(port: number, nick: string): Promise<void> {
  const client = await TestClient.join(port, nick);
  client.send(`/register ${PASSWORD}`);
  await client.expect(/is yours now/);
  client.send("/quit");
  await client.expectClosed();
}

/** Waits until everything sent to `client` before now has been answered (a PING's PONG). */
async function settled(client: TestClient, token: string): Promise<void> {
  client.sendIrc(`PING :${token}`);
  await client.expect(new RegExp(`PONG \\S+ :?${token}$`));
}

Deno.test("devices: a line client and two IRC clients of one account: one member, everything on every device, the sixth session refused", async () => {
  const server = startServer({ withIrcPort: true, chat: { maxSessions: 5 } });
  const clients: TestClient[] = [];
  try {
    await register(server.port, "alice");
    const bob = await TestClient.join(server.port, "bob");
    clients.push(bob);

    const line = await lineDevice(server.port, "alice");
    clients.push(line);
    await line.expect(/you are now in #lobby|in #lobby;/);
    await bob.expect("*** alice joined #lobby");
    const irc = await ircDevice(server.ircPort, "alice", ["echo-message", "message-tags"]);
    clients.push(irc);
    await irc.expect(/ 001 alice /);
    await irc.expect(`:alice!line@${S} JOIN #lobby`);
    await irc.expect(/ 366 alice #lobby /);
    const other = await ircDevice(server.ircPort, "alice", ["message-tags"], "whatever");
    clients.push(other);
    await other.expect(/ 001 alice /);
    await other.expect(/ 366 alice #lobby /);

    // Said on the line client: the IRC clients get it, bob once; the sender nothing back.
    line.send("from the line client");
    await irc.expect(/:alice!line@\S+ PRIVMSG #lobby :from the line client$/);
    await other.expect(/:alice!line@\S+ PRIVMSG #lobby :from the line client$/);
    await bob.expect("<alice> from the line client");
    // Said on an IRC client with echo-message: its echo and everyone's copy share the msgid.
    irc.sendIrc("PRIVMSG #lobby :from irc");
    const echo = await irc.expect(/PRIVMSG #lobby :from irc$/);
    const msgid = /msgid=([^; ]+)/.exec(echo)![1];
    await line.expect("<alice> from irc");
    await bob.expect("<alice> from irc");
    await other.expect(/:alice!line@\S+ PRIVMSG #lobby :from irc$/);
    bob.send("/who");
    await bob.expect(/^\*\*\* in #lobby: alice, bob/);
    assert.equal(bob.lines.filter((l) => l === "<alice> from irc").length, 1);
    assert.equal(bob.lines.filter((l) => l.includes("alice joined")).length, 1);
    assert.ok(!bob.lines.some((l) => /devices\)/.test(l)), "bob is shown alice's device count");
    irc.sendIrc("WHOIS alice");
    await irc.expect(/ 320 alice alice :is connected on 3 devices$/);

    // A private message to alice reaches every device; alice's to bob, every other device as sent.
    bob.send("/msg alice psst");
    await line.expect("*bob* psst");
    await irc.expect(/:bob!line@\S+ PRIVMSG alice :psst$/);
    await other.expect(/:bob!line@\S+ PRIVMSG alice :psst$/);
    irc.sendIrc("PRIVMSG bob :hello bob");
    const sent = await irc.expect(/PRIVMSG bob :hello bob$/);
    await bob.expect("*alice* hello bob");
    await line.expect("-> *bob* hello bob");
    const copy = await other.expect(/:alice!line@\S+ PRIVMSG bob :hello bob$/);
    assert.equal(/msgid=([^; ]+)/.exec(copy)?.[1], /msgid=([^; ]+)/.exec(sent)?.[1]);

    // /join on the line client: the IRC clients are joined too, told as if they had joined.
    line.send("/join dev");
    await line.expect(/^\*\*\* you are now in #dev/);
    await irc.expect(`:alice!line@${S} JOIN #dev`);
    await irc.expect(/ 366 alice #dev /);
    await other.expect(/ 366 alice #dev /);
    // … and stay in #lobby (their channel), which the line client left by moving.
    await settled(irc, "after-join");
    assert.ok(!irc.lines.some((l) => / PART #lobby/.test(l)), "an IRC device was parted");

    // The session limit: 3 devices now, 2 more are let in, the sixth is refused clearly.
    const fourth = await ircDevice(server.ircPort, "alice");
    const fifth = await lineDevice(server.port, "alice");
    clients.push(fourth, fifth);
    await fourth.expect(/ 001 alice /);
    const sixth = await ircDevice(server.ircPort, "alice");
    clients.push(sixth);
    await sixth.expect(/ 433 \* alice :alice has 5 devices connected already \(at most 5\)$/);
    await sixth.expect(/^ERROR :Closing Link: .*at most 5/);
    await sixth.expectClosed();
    const sixthLine = await TestClient.connect(server.port);
    clients.push(sixthLine);
    sixthLine.send(`/identify alice ${PASSWORD}`);
    await sixthLine.expect(/^!!! alice has 5 devices connected already \(at most 5\)$/);

    // One device leaves: nobody sees it. The last one: bob sees alice quit, once.
    for (const device of [fourth, fifth, other, irc]) device.close();
    line.send("/join lobby");
    await line.expect(/^\*\*\* you are now in #lobby/);
    line.send("still here");
    await bob.expect("<alice> still here");
    line.send("/quit");
    await line.expectClosed();
    await bob.expect(/^\*\*\* alice left \(quit\)$/);
    bob.send("/who");
    await bob.expect(/^\*\*\* in #lobby: /);
    assert.equal(bob.lines.filter((l) => /alice left/.test(l)).length, 1);
    assert.ok(msgid.length > 0);

    // The console says whose device each connection was, and how many it had.
    const log = server.log.lines.join("\n");
    assert.match(log, /connect .*alice .*account=alice  devices=2/);
    assert.match(log, /disconnect .*alice .*account=alice/);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("devices: rooms wait with --data; the next day (fake clock) the account is back in them and is shown exactly what it missed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-devices-" });
  let now = Date.UTC(2031, 2, 10, 9, 0, 0);
  const clock = () => now;
  const store = SqliteStore.open(`${dir}/chat.db`, { historySize: 100_000, clock });
  let server: TestServer | null = null;
  const clients: TestClient[] = [];
  try {
    server = startServer({ withIrcPort: true, chat: { store, clock } });
    await register(server.port, "alice");
    const bob = await TestClient.join(server.port, "bob");
    clients.push(bob);
    bob.send("/join dev");
    await bob.expect(/you are now in #dev/);

    // alice: a line client in #dev, an IRC client in #dev and #ops.
    const line = await lineDevice(server.port, "alice");
    line.send("/join dev");
    await line.expect(/^\*\*\* you are now in #dev/);
    const caps = ["message-tags", "server-time", "batch", "draft/chathistory"];
    const irc = await ircDevice(server.ircPort, "alice", caps);
    await irc.expect(/ 366 alice #dev /);
    irc.sendIrc("JOIN #ops");
    await irc.expect(/ 366 alice #ops /);
    bob.send("before the break");
    const last = /msgid=([^; ]+)/.exec(await irc.expect(/PRIVMSG #dev :before the break$/))![1];
    await line.expect("<bob> before the break");

    // Every device leaves: bob sees alice quit, and nobody sees alice in #dev meanwhile.
    line.send("/quit");
    await line.expectClosed();
    irc.sendIrc("QUIT :night");
    await irc.expectClosed();
    await bob.expect(/^\*\*\* alice left \(quit: night\)$/);
    bob.send("/who");
    await bob.expect("*** in #dev: @bob (1 here, 1 online)");

    // The next day: bob says three things while alice is away.
    now += DAY_MS / 2;
    for (let i = 1; i <= 3; i++) bob.send(`while away ${i}`);
    bob.send("/who");
    await bob.expect(/^\*\*\* in #dev: @bob \(/);
    now += DAY_MS / 2;

    // A line client comes back: in #dev again (the others see alice arrive), shown what it missed.
    const back = await lineDevice(server.port, "alice");
    clients.push(back);
    await back.expect("*** back in your rooms: #dev, #ops");
    await back.expect(/^\*\*\* you are now in #dev|in #dev;/);
    await back.expect("*** 3 messages in #dev since you left");
    await back.expect(/^\*\*\* last 3 messages in #dev:$/);
    for (let i = 1; i <= 3; i++) {
      await back.expect(new RegExp(`^\\[03-1[01] \\d\\d:\\d\\d\\] <bob> while away ${i}$`));
    }
    await back.expect(/^\*\*\* end of history/);
    await bob.expect("*** alice joined #dev");
    assert.ok(!back.lines.some((l) => l.includes("before the break")), "nothing shown twice");

    // An IRC client of alice now: joined to both rooms; CHATHISTORY AFTER gives exactly the three.
    const irc2 = await ircDevice(server.ircPort, "alice", caps);
    clients.push(irc2);
    await irc2.expect(`:alice!line@${S} JOIN #dev`);
    await irc2.expect(`:alice!line@${S} JOIN #ops`);
    await irc2.expect(/ 366 alice #ops /);
    irc2.sendIrc(`CHATHISTORY AFTER #dev msgid=${last} 100`);
    const batch = await irc2.expect(/ BATCH \+\S+ chathistory #dev$/);
    const ref = / BATCH \+(\S+) /.exec(batch)![1];
    const texts: string[] = [];
    for (;;) {
      const l = await irc2.expect(/./);
      if (l.endsWith(` BATCH -${ref}`)) break;
      texts.push(l.replace(/^.* :/, ""));
    }
    assert.deepEqual(texts, ["while away 1", "while away 2", "while away 3"]);
  } finally {
    for (const client of clients) client.close();
    await server?.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("devices: a line client's /read moves the read marker; the IRC clients of the account hear MARKREAD", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    await register(server.port, "alice");
    const irc = await ircDevice(server.ircPort, "alice", ["draft/read-marker"]);
    clients.push(irc);
    irc.sendIrc("JOIN #dev");
    await irc.expect(/ MARKREAD #dev \*$/);
    await irc.expect(/ 366 alice #dev /);
    const line = await lineDevice(server.port, "alice");
    clients.push(line);
    line.send("/join dev");
    await line.expect(/^\*\*\* you are now in #dev/);
    line.send("/read");
    await line.expect(/^\*\*\* read #dev up to \d\d:\d\d$/);
    const marker = await irc.expect(/ MARKREAD #dev timestamp=\S+$/);
    const time = Date.parse(/timestamp=(\S+)$/.exec(marker)![1]);
    assert.ok(Math.abs(Date.now() - time) < 10_000, marker);
    // Set on IRC, earlier: the marker does not go back; the answer says where it is.
    irc.sendIrc("MARKREAD #dev timestamp=2020-01-01T00:00:00.000Z");
    await irc.expect(new RegExp(` MARKREAD #dev timestamp=${new Date(time).toISOString()}$`));
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("devices: /multiclient off keeps an account to one device; on lets several in again", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    await register(server.port, "alice");
    const line = await lineDevice(server.port, "alice");
    clients.push(line);
    line.send("/multiclient off");
    await line.expect("*** your account takes one device at a time from now on");
    const second = await TestClient.connect(server.port);
    clients.push(second);
    second.send(`/identify alice ${PASSWORD}`);
    await second.expect(
      "!!! alice is connected on another device and takes no other (multiclient is off)",
    );
    const irc = await ircDevice(server.ircPort, "alice");
    clients.push(irc);
    await irc.expect(/ 433 \* alice :alice is connected on another device/);
    line.send("/multiclient on");
    await line.expect("*** your account may be connected from several devices at once");
    const third = await lineDevice(server.port, "alice");
    clients.push(third);
    await third.expect("*** you are on 2 devices; your rooms: #lobby");
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("devices: IRC PASS attaches at registration; NickServ IDENTIFY later (its own nick's channels left, the account's joined)", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    await register(server.port, "alice");
    const line = await lineDevice(server.port, "alice");
    clients.push(line);
    line.send("/join dev");
    await line.expect(/^\*\*\* you are now in #dev/);

    const pass = await TestClient.connect(server.ircPort);
    clients.push(pass);
    pass.send(`PASS ${PASSWORD}`);
    pass.send("NICK alice");
    pass.send("USER alice 0 * :alice");
    await pass.expect(/ 001 alice /);
    await pass.expect(`:alice!line@${S} JOIN #dev`);
    await pass.expect(/ 366 alice #dev /);

    const zed = await TestClient.registerIrc(server.ircPort, "zed");
    clients.push(zed);
    zed.sendIrc("JOIN #lobby");
    await zed.expect(/ 366 zed #lobby /);
    zed.sendIrc(`PRIVMSG NickServ :IDENTIFY alice ${PASSWORD}`);
    await zed.expect(`:zed!zed@${S} PART #lobby`);
    await zed.expect(`:zed!zed@${S} NICK alice`);
    await zed.expect(`:alice!line@${S} JOIN #dev`);
    await zed.expect(/ 366 alice #dev /);
    await zed.expect(/NOTICE alice :You are now identified for alice, on 3 devices\.$/);
    line.send("three devices now");
    await zed.expect(/:alice!line@\S+ PRIVMSG #dev :three devices now$/);
    await pass.expect(/:alice!line@\S+ PRIVMSG #dev :three devices now$/);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});
