/**
 * Issue 18 on the IRC front end: inputs that used to make the formatter
 * throw (and cost the sender its connection) are answered with a numeric, and
 * the connection stays.
 */

import assert from "node:assert/strict";
import { startServer, startServerProcess, TestClient } from "./helpers.ts";

const S = "test.parley";

Deno.test("irc: odd parameters get a numeric, never a disconnect (before and after registration)", async () => {
  const server = startServer({ withIrcPort: true });
  const irc = await TestClient.connect(server.ircPort);
  try {
    irc.sendIrc("CAP");
    await irc.expect(`:${S} 410 * * :Invalid CAP command`);
    irc.sendIrc("NICK :a b");
    await irc.expect(`:${S} 432 * a_b :Erroneous nickname`);
    irc.sendIrc("NICK ::x");
    await irc.expect(/^:test\.parley 432 \* x :Erroneous nickname$/);
    irc.sendIrc("NICK bob");
    irc.sendIrc("USER bob 0 * :Bob");
    await irc.expect(/ 001 bob /);
    const odd: [string, RegExp][] = [
      ["JOIN ::x", / 403 bob x :/],
      ["JOIN :#a b", / 403 bob #a_b :/],
      ["WHO :", / 315 bob \* :End of WHO list$/],
      ["CAP", / 410 bob \* :Invalid CAP command$/],
      ["CAP :", / 410 bob \* :Invalid CAP command$/],
      ["NICK :a b", / 432 bob a_b :/],
      ["PART ::y", / 403 bob y :/],
      ["TOPIC :#no such", / 403 bob #no_such :/],
      ["MODE :nobody here", / 401 bob nobody_here :/],
      ["MODE :#no such", / 403 bob #no_such :/],
      ["PRIVMSG :a b :hi", / 412 bob :No text to send$/],
      ["WHOIS :", / 431 bob :No nickname given$/],
      ["PING :", / PONG test\.parley :/],
      ["KILL :x y", / 481 bob :Permission Denied/],
    ];
    for (const [line, reply] of odd) {
      irc.sendIrc(line);
      await irc.expect(reply);
    }
    irc.sendIrc("PRIVMSG bob :still here");
    await irc.expect(/PRIVMSG bob :still here$/);
  } finally {
    irc.close();
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.doesNotMatch(log, /reason="error/);
  assert.doesNotMatch(log, /failed: /);
});

Deno.test("a password typed where the nick goes is never logged; a forged quit reason stays one field", async () => {
  const server = startServer({ withIrcPort: true });
  try {
    const owner = await TestClient.join(server.port, "admin");
    owner.send("/register correct-horse-9");
    await owner.expect(/^\*\*\* the nick admin is yours now/);
    const line = await TestClient.join(server.port, "ted");
    line.send("/identify Hunter2secret admin"); // arguments swapped
    await line.expect(/^!!! /);
    const irc = await TestClient.connect(server.ircPort);
    irc.sendIrc("NICK ivy");
    irc.sendIrc("USER ivy 0 * :Ivy");
    await irc.expect(/ 001 ivy /);
    irc.sendIrc("PRIVMSG NickServ :IDENTIFY Swordfish99 admin");
    await irc.expect(/NOTICE ivy :/);
    line.send("/identify admin wrong-password-1");
    await line.expect("!!! wrong password for admin");
    const forger = await TestClient.join(server.port, "forger");
    forger.send('/quit bye" session=9999s messages=31337');
    await forger.closed;
    await owner.expect('*** forger left (quit: bye" session=9999s messages=31337)');
    for (const client of [owner, line, irc]) client.close();
  } finally {
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.doesNotMatch(log, /Hunter2secret|Swordfish99|wrong-password-1/);
  assert.match(log, /account +127\.0\.0\.1:\d+ +ted +identify failed: not-registered/);
  assert.match(log, /account +127\.0\.0\.1:\d+ +admin +identify failed: wrong-password/);
  assert.match(
    log,
    /forger +reason="quit: bye\\" session=9999s messages=31337" +session=[\d.]+s +messages=0 /,
  );
});

Deno.test("irc: a topic is cut in bytes, so RPL_TOPIC fits one line whatever the script", async () => {
  const server = startServer({ withIrcPort: true });
  try {
    const setter = await TestClient.registerIrc(server.ircPort, "setter");
    setter.sendIrc("JOIN #wide");
    await setter.expect(/ 366 setter #wide /);
    setter.sendIrc(`TOPIC #wide :${"Ж".repeat(240)}`); // 480 bytes: fits the 512 an IRC line may have
    await setter.expect(/ TOPIC #wide :Ж+$/);
    const reader = await TestClient.registerIrc(server.ircPort, "reader");
    reader.sendIrc("JOIN #wide");
    const topic = await reader.expect(/ 332 reader #wide :/);
    const bytes = new TextEncoder().encode(topic + "\r\n").length;
    assert.ok(bytes <= 512, `RPL_TOPIC is ${bytes} bytes`);
    assert.equal(topic.split(":").pop(), "Ж".repeat(195));
    const isupport = reader.lines.find((line) => / 005 /.test(line))!;
    assert.match(isupport, / TOPICLEN=390 /);
    setter.close();
    reader.close();
  } finally {
    await server.close();
  }
});

Deno.test("irc: one client is in at most CHANLIMIT rooms; the rest of its JOIN gets 405", async () => {
  const server = startServer({ withIrcPort: true, chat: { maxRoomsPerMember: 5 } });
  try {
    const irc = await TestClient.registerIrc(server.ircPort, "hoarder");
    const isupport = irc.lines.filter((line) => / 005 /.test(line)).join(" ");
    assert.match(isupport, / CHANLIMIT=#:5 /);
    assert.match(isupport, / TARGMAX=PRIVMSG:4,NOTICE:4,/);
    irc.sendIrc(`JOIN ${Array.from({ length: 8 }, (_, i) => `#r${i}`).join(",")}`);
    for (let i = 0; i < 5; i++) await irc.expect(new RegExp(` 366 hoarder #r${i} `));
    for (let i = 5; i < 8; i++) {
      await irc.expect(new RegExp(` 405 hoarder #r${i} :You have joined too many channels$`));
    }
    assert.equal(server.server.chat.findRoom("r6"), undefined, "no room made past the limit");
    irc.close();
  } finally {
    await server.close();
  }
});

Deno.test("irc: duplicate targets are one, and at most four targets take one line", async () => {
  const server = startServer({ withIrcPort: true });
  try {
    const talker = await TestClient.registerIrc(server.ircPort, "talker");
    const listener = await TestClient.registerIrc(server.ircPort, "listener");
    for (const client of [talker, listener]) client.sendIrc("JOIN #t");
    await talker.expect(/ 366 talker #t /);
    await listener.expect(/ 366 listener #t /);
    talker.sendIrc(`PRIVMSG ${Array(71).fill("#t").join(",")},listener,LISTENER :once`);
    await listener.expect(/:talker!\S+ PRIVMSG #t :once$/);
    await listener.expect(/:talker!\S+ PRIVMSG listener :once$/);
    talker.sendIrc("PRIVMSG a1,a2,a3,a4,a5,a6 :many");
    await talker.expect(/ 407 talker a5 :Too many targets$/);
    await talker.expect(/ 407 talker a6 :Too many targets$/);
    talker.sendIrc("PRIVMSG listener :done");
    await listener.expect(/PRIVMSG listener :done$/);
    const copies = listener.lines.filter((line) => line.endsWith(":once")).length;
    assert.equal(copies, 2, "one copy to the channel, one to the nick");
    talker.close();
    listener.close();
  } finally {
    await server.close();
  }
  assert.equal(
    server.log.lines.filter((line) => /message +\S+ +talker +#t +once/.test(line)).length,
    1,
    "one message logged (and stored in history)",
  );
});

Deno.test("with --data, a room with history is never given up for someone's new empty room", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-rooms-" });
  const server = await startServerProcess([
    "--data",
    `${dir}/chat.db`,
    "--max-rooms",
    "4",
    "--irc-port",
    "0",
    "--rate",
    "0",
  ]);
  try {
    const keeper = await TestClient.join(server.port, "keeper");
    keeper.send("/join keep");
    await keeper.expect(/you are now in #keep/);
    keeper.send("remember me");
    keeper.send("/join lobby");
    await keeper.expect(/you are now in #lobby/);
    const maker = await TestClient.registerIrc(server.ircPort, "maker");
    maker.sendIrc("JOIN #e1,#e2");
    await maker.expect(/ 366 maker #e2 /);
    maker.sendIrc("PART #e1,#e2");
    await maker.expect(/ PART #e2/);
    // lobby, keep, e1, e2: at the cap. New rooms take the places of e1 and e2 ...
    maker.sendIrc("JOIN #n1,#n2");
    await maker.expect(/ 366 maker #n2 /);
    // ... and then there is nothing left to give up: #keep stays.
    maker.sendIrc("JOIN #n3");
    await maker.expect(/ 405 maker #n3 :Too many rooms on this server \(at most 4\)$/);
    const reader = await TestClient.join(server.port, "reader");
    reader.send("/join keep");
    await reader.expect(/\] <keeper> remember me$/);
    for (const client of [keeper, maker, reader]) client.close();
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PASS nick:password with a nick no NICK would take: the password stands, the nick is not echoed (CAP LS answers)", async () => {
  const server = startServer();
  const client = await TestClient.connect(server.port);
  try {
    // Found by tests/protocol_fuzz_test.ts: a 470-byte "nick" made every CAP reply unbuildable.
    client.sendIrc(`PASS ${"x".repeat(470)}:secret`);
    client.sendIrc("CAP LS 302");
    await client.expect(/^:\S+ CAP \* LS :.*server-time/);
    client.sendIrc("PASS bad nick:secret");
    client.sendIrc("CAP LS");
    await client.expect(/^:\S+ CAP \* LS :/);
  } finally {
    client.close();
    await server.close();
  }
  const failures = server.log.lines.filter((line) => /\berror\b.*failed:/.test(line));
  assert.deepEqual(failures, []);
});
