/**
 * The IRC front end spoken raw over real sockets (SPEC §8): registration and
 * its errors, PING/PONG both ways, channels, messages across protocols, the
 * queries clients make, limits and defences.
 */

import assert from "node:assert/strict";
import { connectStalled, delay, startServer, TestClient, waitUntil } from "./helpers.ts";

const S = "test.parley";

Deno.test("irc: registration with CAP LS 302, 001-005 with ISUPPORT, 422 without a MOTD", async () => {
  const server = startServer({ withIrcPort: true });
  const irc = await TestClient.connect(server.ircPort);
  try {
    irc.sendIrc("CAP LS 302");
    irc.sendIrc("NICK alice");
    irc.sendIrc("USER alice 0 * :Alice Liddell");
    await irc.expect(/^:test\.parley CAP \* LS :.*\bserver-time\b/);
    irc.sendIrc("CAP REQ :server-time no-such-cap");
    await irc.expect(`:${S} CAP alice NAK :server-time no-such-cap`, 2000);
    irc.sendIrc("CAP REQ :server-time");
    await irc.expect(`:${S} CAP alice ACK :server-time`);
    await delay(50);
    assert.ok(!irc.take().some((line) => / 001 /.test(line)), "no 001 before CAP END");
    irc.sendIrc("CAP END");
    await irc.expect(`:${S} 001 alice :Welcome to the parley network, alice!alice@${S}`);
    await irc.expect(/^:test\.parley 002 alice :Your host is test\.parley, running parley /);
    await irc.expect(/^:test\.parley 003 alice :/);
    await irc.expect(/^:test\.parley 004 alice test\.parley parley-\S+ \S+ biklmnostv bklov$/);
    await irc.expect(/^:test\.parley 005 alice /);
    await irc.expect(`:${S} 422 alice :MOTD File is missing`);
    // 005 comes in lines of at most 13 tokens.
    const isupport = irc.lines.filter((line) => / 005 alice /.test(line)).join(" ");
    for (
      const token of [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        "NICKLEN=24",
        "CHANNELLEN=50",
        "TOPICLEN=",
        "NETWORK=parley",
        "PREFIX=(ov)@+",
        "CHANMODES=b,k,l,imnst",
      ]
    ) assert.ok(isupport.includes(token), `${token} in ${isupport}`);
    irc.sendIrc("USER again 0 * :x");
    await irc.expect(`:${S} 462 alice :You may not reregister`);
  } finally {
    irc.close();
    await server.close();
  }
  assert.match(server.log.lines.join("\n"), /connect +127\.0\.0\.1:\d+ +alice  online=1  irc/);
});

Deno.test("irc: 451 before registration, 432 and 433 at registration, NICK/USER without CAP", async () => {
  const server = startServer({ withIrcPort: true });
  const line = await TestClient.join(server.port, "taken");
  const irc = await TestClient.connect(server.ircPort);
  try {
    irc.sendIrc("JOIN :"); // what irssi sends at once: 451 tells it there is no CAP to wait for
    await irc.expect(`:${S} 451 * :You have not registered`);
    irc.sendIrc("PRIVMSG #lobby :too early");
    await irc.expect(`:${S} 451 * :You have not registered`);
    irc.sendIrc("PING :early");
    await irc.expect(`:${S} PONG ${S} :early`);
    irc.sendIrc("NICK bad*nick");
    irc.sendIrc("USER u 0 * :u");
    await irc.expect(`:${S} 432 * bad*nick :Erroneous nickname`);
    irc.sendIrc("NICK TAKEN");
    await irc.expect(`:${S} 433 * taken :Nickname is already in use`);
    irc.sendIrc("NICK taken_");
    await irc.expect(/^:test\.parley 001 taken_ /);
    await delay(50);
    assert.ok(!line.take().some((text) => text.includes("too early")));
  } finally {
    irc.close();
    line.close();
    await server.close();
  }
});

Deno.test("irc: PING and PONG both ways; a client that does not answer is dropped", async () => {
  const server = startServer({ withIrcPort: true, irc: { pingAfterMs: 300, pingTimeoutMs: 600 } });
  const irc = await TestClient.registerIrc(server.ircPort, "pinger");
  const quiet = await TestClient.registerIrc(server.ircPort, "quiet");
  try {
    irc.sendIrc("PING :12345");
    await irc.expect(`:${S} PONG ${S} :12345`);
    irc.sendIrc("PING");
    await irc.expect(`:${S} 409 pinger :No origin specified`);
    // Silent: the server PINGs; an answer keeps the connection.
    await irc.expect(`PING ${S}`, 3000);
    irc.sendIrc(`PONG ${S}`);
    await quiet.expect(`PING ${S}`, 3000);
    await quiet.expect(/^ERROR :Closing Link: test\.parley \(no answer to PING for 1 s\)$/, 3000);
    await quiet.expectClosed();
    assert.ok(!irc.isClosed, "the client that answered stays");
  } finally {
    irc.close();
    quiet.close();
    await server.close();
  }
  assert.match(server.log.lines.join("\n"), /quiet  reason="idle: no answer to PING for 1 s"/);
});

Deno.test("irc: JOIN of two channels with names and topic; history on join, with server-time", async () => {
  const server = startServer({ withIrcPort: true });
  const carol = await TestClient.join(server.port, "carol");
  try {
    carol.send("/join dev");
    await carol.expect(/you are now in #dev/);
    carol.send("/topic release on friday");
    await carol.expect("*** topic of #dev is now: release on friday");
    carol.send("the build is green");
    carol.send("/me deploys");
    const irc = await TestClient.registerIrc(server.ircPort, "ivy", { caps: ["server-time"] });
    try {
      irc.sendIrc("JOIN #lobby,#DEV");
      await irc.expect(`:ivy!ivy@${S} JOIN #lobby`);
      await irc.expect(`:${S} 353 ivy = #lobby :ivy`);
      await irc.expect(`:${S} 366 ivy #lobby :End of /NAMES list`);
      await irc.expect(`:ivy!ivy@${S} JOIN #dev`);
      await irc.expect(`:${S} 332 ivy #dev :release on friday`);
      await irc.expect(/^:test\.parley 333 ivy #dev carol \d+$/);
      await irc.expect(`:${S} 353 ivy = #dev :@carol ivy`);
      await irc.expect(`:${S} 366 ivy #dev :End of /NAMES list`);
      const said = await irc.expect(/PRIVMSG #dev :the build is green$/);
      assert.match(said, /^@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :carol!line@test\.parley /);
      // deno-lint-ignore no-control-regex -- CTCP ACTION is delimited by \x01
      await irc.expect(/^@time=\S+ :carol!line@test\.parley PRIVMSG #dev :\x01ACTION deploys\x01$/);
      await carol.expect("*** ivy joined #dev");
      // Live lines carry the tag too.
      carol.send("welcome ivy");
      await irc.expect(/^@time=\S+ :carol!line@test\.parley PRIVMSG #dev :welcome ivy$/);
    } finally {
      irc.close();
    }
    // Without server-time, the time is in the text.
    const plain = await TestClient.registerIrc(server.ircPort, "plain");
    plain.sendIrc("JOIN #dev");
    await plain.expect(/^:carol!line@test\.parley PRIVMSG #dev :\[\d\d:\d\d\] the build is green$/);
    plain.close();
  } finally {
    carol.close();
    await server.close();
  }
});

Deno.test("irc: a line user and an IRC user chat both ways; actions, private messages, notices", async () => {
  const server = startServer({ withIrcPort: true });
  const line = await TestClient.join(server.port, "lena");
  const irc = await TestClient.registerIrc(server.ircPort, "ivy");
  try {
    irc.sendIrc("JOIN #lobby");
    await irc.expect(`:${S} 366 ivy #lobby :End of /NAMES list`);
    await line.expect("*** ivy joined #lobby");
    irc.sendIrc("PRIVMSG #lobby :hello from irc 你好");
    await line.expect("<ivy> hello from irc 你好");
    irc.sendIrc("PRIVMSG #lobby :\x01ACTION waves\x01");
    await line.expect("* ivy waves");
    irc.sendIrc("NOTICE #lobby :a notice");
    await line.expect("<ivy> a notice");
    line.send("hello from a line client");
    await irc.expect(`:lena!line@${S} PRIVMSG #lobby :hello from a line client`);
    line.send("/me nods");
    await irc.expect(`:lena!line@${S} PRIVMSG #lobby :\x01ACTION nods\x01`);
    // Private messages cross protocols.
    irc.sendIrc("PRIVMSG lena :psst");
    await line.expect("*ivy* psst");
    line.send("/msg ivy psst back");
    await line.expect("-> *ivy* psst back");
    await irc.expect(`:lena!line@${S} PRIVMSG ivy :psst back`);
    // Formatting codes are removed; a message longer than one IRC line is split, whole for line users.
    irc.sendIrc("PRIVMSG #lobby :\x02bold\x02 and \x0304red\x03");
    await line.expect("<ivy> bold and red");
    const long = "x".repeat(3000);
    line.send(long);
    let received = "";
    while (received.length < long.length) {
      const part = await irc.expect(/^:lena!line@test\.parley PRIVMSG #lobby :x+$/);
      assert.ok(new TextEncoder().encode(part + "\r\n").length <= 512, "each line fits 512 bytes");
      received += part.slice(part.lastIndexOf(":") + 1);
    }
    assert.equal(received, long);
  } finally {
    irc.close();
    line.close();
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.match(log, /message +127\.0\.0\.1:\d+ +ivy  #lobby  hello from irc 你好/);
  assert.match(log, /private +127\.0\.0\.1:\d+ +ivy  -> lena  psst/);
});

Deno.test("irc: error numerics 401, 403, 404, 411, 412, 421, 442, 461; NOTICE gets none", async () => {
  const server = startServer({ withIrcPort: true });
  const irc = await TestClient.registerIrc(server.ircPort, "err");
  try {
    const cases: [string, string][] = [
      ["PRIVMSG nobody :hi", `:${S} 401 err nobody :No such nick/channel`],
      ["PRIVMSG #nowhere :hi", `:${S} 403 err #nowhere :No such channel`],
      ["PRIVMSG #lobby :not joined", `:${S} 404 err #lobby :Cannot send to channel`],
      ["PRIVMSG", `:${S} 411 err :No recipient given (PRIVMSG)`],
      ["PRIVMSG #lobby", `:${S} 412 err :No text to send`],
      ["FROB x", `:${S} 421 err FROB :Unknown command`],
      ["PART #lobby", `:${S} 442 err #lobby :You're not on that channel`],
      ["JOIN", `:${S} 461 err JOIN :Not enough parameters`],
      ["JOIN nohash", `:${S} 403 err nohash :No such channel`],
      ["NICK", `:${S} 431 err :No nickname given`],
      ["NICK no*way", `:${S} 432 err no*way :Erroneous nickname`],
      ["WHOIS ghost", `:${S} 401 err ghost :No such nick/channel`],
    ];
    for (const [sent, expected] of cases) {
      irc.sendIrc(sent);
      await irc.expect(expected);
    }
    irc.sendIrc("NOTICE nobody :hi");
    irc.sendIrc("NOTICE #nowhere :hi");
    irc.sendIrc("PING :after");
    await irc.expect(`:${S} PONG ${S} :after`);
    assert.deepEqual(irc.take().filter((line) => / 4\d\d /.test(line)), [], "no replies to NOTICE");
  } finally {
    irc.close();
    await server.close();
  }
});

Deno.test("irc: NICK, TOPIC, PART and QUIT as each protocol shows them", async () => {
  const server = startServer({ withIrcPort: true });
  const line = await TestClient.join(server.port, "lena");
  const irc = await TestClient.registerIrc(server.ircPort, "ivy");
  const other = await TestClient.registerIrc(server.ircPort, "otto");
  try {
    for (const client of [irc, other]) {
      client.sendIrc("JOIN #lobby");
      await client.expect(/ 366 \S+ #lobby /);
    }
    irc.sendIrc("NICK ivy2");
    await irc.expect(`:ivy!ivy@${S} NICK ivy2`);
    await other.expect(`:ivy!ivy@${S} NICK ivy2`);
    await line.expect("*** ivy is now known as ivy2");
    line.send("/nick lena2");
    await line.expect("*** you are now lena2");
    await irc.expect(`:lena!line@${S} NICK lena2`);
    irc.sendIrc("NICK OTTO");
    await irc.expect(`:${S} 433 ivy2 otto :Nickname is already in use`);

    // The lobby has no operator: nobody sets its topic. The creator of #dev does.
    irc.sendIrc("TOPIC #lobby :mine now");
    await irc.expect(`:${S} 482 ivy2 #lobby :You're not channel operator`);
    irc.sendIrc("JOIN #dev");
    await irc.expect(`:${S} 353 ivy2 = #dev :@ivy2`);
    line.send("/join dev");
    await line.expect("*** you are now in #dev (2 here)");
    irc.sendIrc("TOPIC #dev :shipping today");
    await irc.expect(`:ivy2!ivy@${S} TOPIC #dev :shipping today`);
    await line.expect("*** ivy2 set the topic of #dev: shipping today");
    irc.sendIrc("TOPIC #dev");
    await irc.expect(`:${S} 332 ivy2 #dev :shipping today`);
    line.send("/topic");
    await line.expect(/^\*\*\* topic of #dev: shipping today \(set by ivy2, [\d: -]+\)$/);
    line.send("/topic not mine");
    await line.expect("!!! only the operators of #dev can set its topic");

    irc.sendIrc("PART #dev :see you");
    await irc.expect(`:ivy2!ivy@${S} PART #dev :see you`);
    await line.expect("*** ivy2 left #dev (see you)");
    line.send("/join lobby");
    await other.expect(`:lena2!line@${S} JOIN #lobby`);
    irc.sendIrc("QUIT :off to lunch");
    await irc.expect(`ERROR :Closing Link: ${S} (Quit: off to lunch)`);
    await irc.expectClosed();
    await line.expect("*** ivy2 left (quit: off to lunch)");
    await other.expect(`:ivy2!ivy@${S} QUIT :Quit: off to lunch`);
  } finally {
    for (const client of [line, irc, other]) client.close();
    await server.close();
  }
});

Deno.test("irc: WHO, WHOIS, LIST, NAMES, MODE and AWAY answer as clients expect", async () => {
  const server = startServer({ withIrcPort: true });
  const line = await TestClient.join(server.port, "lena");
  const irc = await TestClient.registerIrc(server.ircPort, "ivy");
  try {
    irc.sendIrc("JOIN #dev,#lobby");
    await irc.expect(/ 366 ivy #lobby /);
    irc.sendIrc("WHO #lobby");
    await irc.expect(`:${S} 352 ivy #lobby ivy ${S} ${S} ivy H :0 ivy the tester`);
    await irc.expect(`:${S} 352 ivy #lobby line ${S} ${S} lena H :0 parley line client`);
    await irc.expect(`:${S} 315 ivy #lobby :End of WHO list`);
    irc.sendIrc("WHOIS lena");
    await irc.expect(`:${S} 311 ivy lena line ${S} * :parley line client`);
    await irc.expect(`:${S} 319 ivy lena :#lobby`);
    await irc.expect(`:${S} 312 ivy lena ${S} :parley`);
    await irc.expect(/^:test\.parley 317 ivy lena \d+ \d+ :seconds idle, signon time$/);
    await irc.expect(`:${S} 318 ivy lena :End of /WHOIS list`);
    irc.sendIrc("LIST");
    await irc.expect(/^:test\.parley 321 ivy Channel :Users +Name$/);
    await irc.expect(`:${S} 322 ivy #lobby 2 :`);
    await irc.expect(`:${S} 322 ivy #dev 1 :`);
    await irc.expect(`:${S} 323 ivy :End of /LIST`);
    irc.sendIrc("NAMES #dev");
    await irc.expect(`:${S} 353 ivy = #dev :@ivy`);
    await irc.expect(`:${S} 366 ivy #dev :End of /NAMES list`);
    irc.sendIrc("MODE #dev");
    await irc.expect(`:${S} 324 ivy #dev +nt`);
    irc.sendIrc("MODE #dev b");
    await irc.expect(`:${S} 368 ivy #dev :End of channel ban list`);
    irc.sendIrc("MODE ivy");
    await irc.expect(`:${S} 221 ivy +`);
    irc.sendIrc("MODE lena");
    await irc.expect(/^:test\.parley 502 ivy :/);
    irc.sendIrc("AWAY :lunch");
    await irc.expect(`:${S} 306 ivy :You have been marked as being away`);
    line.send("/who");
    await line.expect("*** in #lobby: ivy, lena (2 here, 2 online)");
    const other = await TestClient.registerIrc(server.ircPort, "otto");
    other.sendIrc("PRIVMSG ivy :are you there?");
    await other.expect(`:${S} 301 otto ivy :lunch`);
    other.sendIrc("WHO #lobby");
    await other.expect(`:${S} 352 otto #lobby ivy ${S} ${S} ivy G :0 ivy the tester`);
    other.close();
    irc.sendIrc("AWAY");
    await irc.expect(`:${S} 305 ivy :You are no longer marked as being away`);
  } finally {
    irc.close();
    line.close();
    await server.close();
  }
});

Deno.test("irc: an IRC registration on the line port is served as IRC", async () => {
  const server = startServer();
  const line = await TestClient.join(server.port, "lena");
  try {
    const irc = await TestClient.registerIrc(server.port, "ivy");
    irc.sendIrc("JOIN #lobby");
    await line.expect("*** ivy joined #lobby");
    irc.sendIrc("PRIVMSG #lobby :over the line port");
    await line.expect("<ivy> over the line port");
    await delay(50);
    assert.ok(!line.take().some((text) => text.includes("CAP") || text.includes("USER")));
    irc.close();
  } finally {
    line.close();
    await server.close();
  }
});

Deno.test("irc: a line over 512 bytes gets 417 and the connection stays; flood control applies", async () => {
  const server = startServer({ withIrcPort: true, rate: 5, burst: 5 });
  const line = await TestClient.join(server.port, "lena");
  const irc = await TestClient.registerIrc(server.ircPort, "ivy");
  try {
    irc.sendIrc("JOIN #lobby");
    await irc.expect(/ 366 ivy #lobby /);
    irc.sendIrc(`PRIVMSG #lobby :${"y".repeat(600)}`);
    await irc.expect(`:${S} 417 ivy :Input line was too long`);
    irc.sendIrc("PRIVMSG #lobby :still here");
    await line.expect("<ivy> still here");
    // 20 lines at 5 a second: they all arrive, in order, over about three seconds.
    const started = performance.now();
    for (let i = 0; i < 20; i++) irc.sendIrc(`PRIVMSG #lobby :flood ${i}`);
    for (let i = 0; i < 20; i++) await line.expect(`<ivy> flood ${i}`, 8000);
    const took = performance.now() - started;
    assert.ok(took > 2000, `flood control slowed the sender (${took.toFixed(0)} ms)`);
  } finally {
    irc.close();
    line.close();
    await server.close();
  }
});

Deno.test("irc: a stalled IRC reader is cut by the send queue; the others keep chatting", async () => {
  const server = startServer({ withIrcPort: true });
  const talker = await TestClient.join(server.port, "talker");
  const reader = await TestClient.registerIrc(server.ircPort, "reader");
  const stalled = await connectStalled(server.ircPort);
  try {
    reader.sendIrc("JOIN #lobby");
    await reader.expect(/ 366 reader #lobby /);
    const encoder = new TextEncoder();
    await stalled.write(encoder.encode("NICK stuck\r\nUSER stuck 0 * :s\r\nJOIN #lobby\r\n"));
    await talker.expect("*** stuck joined #lobby");
    // 10 MB: far more than the stalled socket's kernel buffers hold.
    const lines = Array.from({ length: 2500 }, (_, i) => `line ${i} ${"z".repeat(4000)}`);
    for (let i = 0; i < lines.length; i += 50) {
      await talker.write(encoder.encode(lines.slice(i, i + 50).join("\n") + "\n"));
      await reader.expect(new RegExp(`PRIVMSG #lobby :line ${i + 49} `), 10_000);
    }
    await waitUntil(
      () => server.log.lines.some((text) => /stuck  reason="send queue exceeded"/.test(text)),
      "the stalled IRC client to be cut",
      10_000,
    );
    await talker.expect("*** stuck left (send queue exceeded)");
  } finally {
    stalled.close();
    reader.close();
    talker.close();
    await server.close();
  }
});
