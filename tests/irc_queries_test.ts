/**
 * IRC queries over real sockets: WHO (real names, operator flags, masks,
 * invisible members, WHOX), WHOIS (313, 330), WHOWAS, LUSERS and the welcome's
 * counts, TIME, INFO, HELP, MOTD, USERHOST, ISON, away-notify, setname, LIST's
 * conditions, user modes, OPER's MODE line, an empty PING and UTF8ONLY.
 */

import assert from "node:assert/strict";
import { delay, startServer, TestClient } from "./helpers.ts";

const S = "test.parley";
const OPER = "oper-pass-1234";
const encoder = new TextEncoder();

/** The lines after the one matching `from` up to the one matching `to`, both included. */
async function reply(client: TestClient, to: RegExp): Promise<string[]> {
  const start = client.lines.length;
  await client.expect(to);
  return client.lines.slice(start);
}

Deno.test("irc queries: WHO shows real names, * for operators, @ in the channel; masks, +i, WHOX", async () => {
  const server = startServer({ withIrcPort: true, chat: { operPassword: OPER } });
  const lena = await TestClient.join(server.port, "lena");
  const alice = await TestClient.registerIrc(server.ircPort, "alice");
  const bob = await TestClient.registerIrc(server.ircPort, "bob");
  try {
    const isupport = alice.lines.filter((line) => / 005 alice /.test(line)).join(" ");
    assert.match(isupport, / WHOX /);
    alice.sendIrc("JOIN #dev");
    await alice.expect(/ 366 alice #dev /);
    bob.sendIrc("WHO alice");
    await bob.expect(`:${S} 352 bob * alice ${S} ${S} alice H :0 alice the tester`);
    await bob.expect(`:${S} 315 bob alice :End of WHO list`);

    alice.sendIrc(`OPER alice ${OPER}`);
    await alice.expect(/ 381 alice /);
    await alice.expect(`:alice!alice@${S} MODE alice :+o`);
    bob.sendIrc("WHO ALI*");
    await bob.expect(`:${S} 352 bob * alice ${S} ${S} alice H* :0 alice the tester`);
    await bob.expect(`:${S} 315 bob ALI* :End of WHO list`);
    bob.sendIrc("WHO #dev");
    await bob.expect(`:${S} 352 bob #dev alice ${S} ${S} alice H*@ :0 alice the tester`);

    // A mask matches nicks, user names and real names; a line client's is `parley line client`.
    bob.sendIrc("WHO *tester");
    const testers = await reply(bob, / 315 bob \*tester /);
    const found = testers.filter((line) => / 352 /.test(line)).map((line) => line.split(" ")[7]);
    assert.deepEqual(found, ["alice", "bob"]);
    bob.sendIrc("WHO :*line client");
    await bob.expect(`:${S} 352 bob * line ${S} ${S} lena H :0 parley line client`);
    bob.sendIrc("WHO *");
    assert.equal((await reply(bob, / 315 bob \* /)).length, 4);

    // An invisible member is found by its nick, or by those who share a room with it.
    alice.sendIrc("MODE alice +i");
    await alice.expect(`:alice!alice@${S} MODE alice :+i`);
    alice.sendIrc("MODE alice");
    await alice.expect(`:${S} 221 alice +io`);
    bob.sendIrc("WHO a*");
    assert.deepEqual(await reply(bob, / 315 bob a\* /), [`:${S} 315 bob a* :End of WHO list`]);
    bob.sendIrc("WHO alice");
    await bob.expect(/ 352 bob \* alice /);
    bob.sendIrc("JOIN #dev");
    await bob.expect(/ 366 bob #dev /);
    bob.sendIrc("WHO a*");
    await bob.expect(/ 352 bob \* alice /);

    // WHOX: the fields asked for, in WHOX's order, with the token.
    bob.sendIrc("WHO alice %rnatu,42");
    await bob.expect(`:${S} 354 bob 42 alice alice 0 :alice the tester`);
    await bob.expect(`:${S} 315 bob alice :End of WHO list`);
    bob.sendIrc("WHO #dev %cnf");
    await bob.expect(`:${S} 354 bob #dev alice H*@`);
  } finally {
    alice.close();
    bob.close();
    lena.close();
    await server.close();
  }
});

Deno.test("irc queries: WHOIS shows the real name, 313 for an operator, 330 for an account", async () => {
  const server = startServer({ withIrcPort: true, chat: { operPassword: OPER } });
  const carol = await TestClient.registerIrc(server.ircPort, "carol");
  const dan = await TestClient.registerIrc(server.ircPort, "dan");
  try {
    carol.sendIrc("PRIVMSG NickServ :REGISTER a-long-password");
    await carol.expect(/NickServ.*registered to you/i);
    carol.sendIrc(`OPER carol ${OPER}`);
    await carol.expect(/ 381 carol /);
    carol.sendIrc("JOIN #ops");
    await carol.expect(/ 366 carol #ops /);
    dan.sendIrc("WHOIS carol");
    const lines = await reply(dan, / 318 dan carol /);
    assert.deepEqual(lines.map((line) => line.split(" ")[1]), [
      "311",
      "319",
      "312",
      "313",
      "330",
      "317",
      "318",
    ]);
    assert.equal(lines[0], `:${S} 311 dan carol carol ${S} * :carol the tester`);
    assert.equal(lines[3], `:${S} 313 dan carol :is an IRC operator`);
    assert.equal(lines[4], `:${S} 330 dan carol carol :is logged in as`);

    // An invisible member's channels are shown only to those who share one.
    carol.sendIrc("MODE carol +i");
    await carol.expect(/ MODE carol :\+i$/);
    dan.sendIrc("WHOIS carol");
    assert.ok(!(await reply(dan, / 318 dan carol /)).some((line) => / 319 /.test(line)));
    dan.sendIrc("JOIN #ops");
    await dan.expect(/ 366 dan #ops /);
    dan.sendIrc("WHOIS carol");
    await dan.expect(`:${S} 319 dan carol :@#ops`);

    // The account as it was registered, case kept, in WHOIS and WHOX.
    const zed = await TestClient.registerIrc(server.ircPort, "Zed");
    zed.sendIrc("PRIVMSG NickServ :REGISTER a-long-password");
    await zed.expect(/NickServ.*registered to you/i);
    dan.sendIrc("WHOIS zed");
    await dan.expect(`:${S} 330 dan Zed Zed :is logged in as`);
    dan.sendIrc("WHO zed %na");
    await dan.expect(`:${S} 354 dan Zed Zed`);
    zed.close();
  } finally {
    carol.close();
    dan.close();
    await server.close();
  }
});

Deno.test("irc queries: WHOWAS remembers nicks given up by QUIT and NICK, newest first", async () => {
  const server = startServer({ withIrcPort: true });
  const asker = await TestClient.registerIrc(server.ircPort, "asker");
  try {
    const first = await TestClient.registerIrc(server.ircPort, "gone");
    first.sendIrc("QUIT :bye");
    await first.expectClosed();
    const second = await TestClient.registerIrc(server.ircPort, "renamer");
    second.sendIrc("NICK gone");
    await second.expect(/NICK :?gone$/);
    second.sendIrc("NICK later");
    await second.expect(/NICK :?later$/);

    asker.sendIrc("WHOWAS gone");
    const lines = await reply(asker, / 369 asker gone /);
    assert.deepEqual(lines.map((line) => line.split(" ")[1]), ["314", "312", "314", "312", "369"]);
    assert.equal(lines[0], `:${S} 314 asker gone renamer ${S} * :renamer the tester`);
    assert.equal(lines[2], `:${S} 314 asker gone gone ${S} * :gone the tester`);
    asker.sendIrc("WHOWAS GONE 1");
    const one = await reply(asker, / 369 asker GONE /);
    assert.deepEqual(one.map((line) => line.split(" ")[1]), ["314", "312", "369"]);
    asker.sendIrc("WHOWAS renamer");
    await asker.expect(`:${S} 314 asker renamer renamer ${S} * :renamer the tester`);
    asker.sendIrc("WHOWAS nobody");
    await asker.expect(`:${S} 406 asker nobody :There was no such nickname`);
    await asker.expect(`:${S} 369 asker nobody :End of WHOWAS`);
    asker.sendIrc("WHOWAS");
    await asker.expect(`:${S} 431 asker :No nickname given`);
    second.close();
  } finally {
    asker.close();
    await server.close();
  }
});

Deno.test("irc queries: LUSERS and the welcome count members, invisible, operators, channels, the unregistered", async () => {
  const server = startServer({ withIrcPort: true, chat: { operPassword: OPER } });
  const line = await TestClient.join(server.port, "lena");
  const erin = await TestClient.registerIrc(server.ircPort, "erin");
  const raw = await TestClient.connect(server.ircPort);
  try {
    const welcome = erin.lines.filter((l) => / 2(5[1-5]|6[56]) erin /.test(l));
    assert.deepEqual(welcome, [
      `:${S} 251 erin :There are 2 users and 0 invisible on 1 servers`,
      `:${S} 254 erin 1 :channels formed`,
      `:${S} 255 erin :I have 2 clients and 0 servers`,
      `:${S} 265 erin 2 2 :Current local users 2, max 2`,
      `:${S} 266 erin 2 2 :Current global users 2, max 2`,
    ]);
    raw.sendIrc("NICK waiting"); // not registered yet
    raw.sendIrc("PING sync");
    await raw.expect(/PONG/);
    erin.sendIrc("MODE erin +i");
    erin.sendIrc(`OPER erin ${OPER}`);
    await erin.expect(/ 381 erin /);
    erin.sendIrc("JOIN #a,#b");
    await erin.expect(/ 366 erin #b /);
    erin.sendIrc("LUSERS");
    assert.deepEqual(await reply(erin, / 266 erin /), [
      `:${S} 251 erin :There are 1 users and 1 invisible on 1 servers`,
      `:${S} 252 erin 1 :operator(s) online`,
      `:${S} 253 erin 1 :unknown connection(s)`,
      `:${S} 254 erin 3 :channels formed`,
      `:${S} 255 erin :I have 2 clients and 0 servers`,
      `:${S} 265 erin 2 2 :Current local users 2, max 2`,
      `:${S} 266 erin 2 2 :Current global users 2, max 2`,
    ]);
    raw.close();
    line.close();
    await delay(100);
    erin.sendIrc("LUSERS");
    const after = await reply(erin, / 266 erin /);
    assert.ok(!after.some((l) => / 253 /.test(l)), "no unregistered connection left");
    assert.ok(after.includes(`:${S} 265 erin 1 2 :Current local users 1, max 2`));
  } finally {
    raw.close();
    line.close();
    erin.close();
    await server.close();
  }
});

Deno.test("irc queries: TIME, INFO, MOTD, HELP and HELPOP", async () => {
  const server = startServer({ withIrcPort: true, irc: { motd: ["Be nice."] } });
  const fay = await TestClient.registerIrc(server.ircPort, "fay");
  try {
    fay.sendIrc("TIME");
    const time = await fay.expect(/ 391 fay /);
    assert.match(time, new RegExp(`^:${S} 391 fay ${S} :\\w{3}, \\d\\d \\w{3} \\d{4} `));
    fay.sendIrc("TIME other.server");
    await fay.expect(`:${S} 402 fay other.server :No such server`);
    fay.sendIrc("INFO");
    const info = await reply(fay, / 374 fay /);
    assert.match(info[0], /^:test\.parley 371 fay :parley /);
    assert.ok(info.slice(0, -1).every((line) => / 371 fay :/.test(line)));
    fay.sendIrc("MOTD");
    await fay.expect(`:${S} 375 fay :- ${S} Message of the day - `);
    await fay.expect(`:${S} 372 fay :- Be nice.`);
    await fay.expect(`:${S} 376 fay :End of /MOTD command.`);
    fay.sendIrc("HELP privmsg");
    const help = await reply(fay, / 706 fay privmsg /);
    assert.match(help[0], /^:test\.parley 704 fay privmsg :PRIVMSG <target>/);
    fay.sendIrc("HELPOP");
    const index = await reply(fay, / 706 fay \* /);
    assert.ok(index.some((line) => / 705 fay \* :.*\bWHOWAS\b/.test(line)));
    fay.sendIrc("HELP NOSUCHTHING");
    await fay.expect(`:${S} 524 fay NOSUCHTHING :No help available on this topic`);
  } finally {
    fay.close();
    await server.close();
  }
});

Deno.test("irc queries: USERHOST and ISON; away-notify tells neighbours who asked, on AWAY and on JOIN", async () => {
  const server = startServer({ withIrcPort: true });
  const line = await TestClient.join(server.port, "lena");
  const gus = await TestClient.registerIrc(server.ircPort, "gus", { caps: ["away-notify"] });
  const hal = await TestClient.registerIrc(server.ircPort, "hal");
  const ida = await TestClient.registerIrc(server.ircPort, "ida");
  try {
    gus.sendIrc("JOIN #lobby");
    hal.sendIrc("JOIN #lobby");
    await gus.expect(/ 366 gus #lobby /);
    await hal.expect(/ 366 hal #lobby /);
    await gus.expect(`:hal!hal@${S} JOIN #lobby`);
    ida.sendIrc("USERHOST hal nobody lena");
    await ida.expect(`:${S} 302 ida :hal=+hal@${S} lena=+line@${S}`);
    ida.sendIrc("ISON hal nobody LENA");
    await ida.expect(`:${S} 303 ida :hal lena`);

    hal.sendIrc("AWAY :lunch");
    await hal.expect(`:${S} 306 hal :You have been marked as being away`);
    await gus.expect(`:hal!hal@${S} AWAY :lunch`);
    ida.sendIrc("USERHOST hal");
    await ida.expect(`:${S} 302 ida :hal=-hal@${S}`);
    hal.sendIrc("AWAY");
    await gus.expect(`:hal!hal@${S} AWAY`);

    // Someone away who joins is shown away at once; the joiner is not told about itself.
    ida.sendIrc("AWAY :gone fishing");
    await ida.expect(/ 306 ida /);
    ida.sendIrc("JOIN #lobby");
    await ida.expect(/ 366 ida #lobby /);
    await gus.expect(`:ida!ida@${S} JOIN #lobby`);
    await gus.expect(`:ida!ida@${S} AWAY :gone fishing`);
    line.send("marker");
    await hal.expect(/PRIVMSG #lobby :marker$/);
    await gus.expect(/PRIVMSG #lobby :marker$/);
    assert.ok(!hal.take().some((l) => / AWAY /.test(l)), "no AWAY without away-notify");
    assert.ok(!ida.take().some((l) => / AWAY /.test(l)), "no AWAY about oneself");
    assert.ok(!line.take().some((l) => /lunch|fishing/.test(l)), "line clients see no AWAY");
  } finally {
    gus.close();
    hal.close();
    ida.close();
    line.close();
    await server.close();
  }
});

Deno.test("irc queries: SETNAME changes the real name, told to neighbours with setname; extended-join shows it", async () => {
  const server = startServer({ withIrcPort: true });
  const jo = await TestClient.registerIrc(server.ircPort, "jo", { caps: ["setname"] });
  const kim = await TestClient.registerIrc(server.ircPort, "kim", {
    caps: ["setname", "extended-join"],
  });
  const lou = await TestClient.registerIrc(server.ircPort, "lou");
  try {
    const isupport = jo.lines.filter((line) => / 005 jo /.test(line)).join(" ");
    assert.match(isupport, / NAMELEN=100 /);
    kim.sendIrc("JOIN #x");
    await kim.expect(/ 366 kim #x /);
    lou.sendIrc("JOIN #x");
    await lou.expect(/ 366 lou #x /);
    jo.sendIrc("JOIN #x");
    await jo.expect(/ 366 jo #x /);
    await kim.expect(`:jo!jo@${S} JOIN #x * :jo the tester`);
    jo.sendIrc("SETNAME :Jo March");
    await jo.expect(`:jo!jo@${S} SETNAME :Jo March`);
    await kim.expect(`:jo!jo@${S} SETNAME :Jo March`);
    lou.sendIrc("WHOIS jo");
    await lou.expect(`:${S} 311 lou jo jo ${S} * :Jo March`);
    assert.ok(!lou.take().some((line) => / SETNAME /.test(line)), "no SETNAME without the cap");
  } finally {
    jo.close();
    kim.close();
    lou.close();
    await server.close();
  }
});

Deno.test("irc queries: LIST shows no empty lobby and takes channels, masks and sizes", async () => {
  const server = startServer({ withIrcPort: true });
  const max = await TestClient.registerIrc(server.ircPort, "max");
  const ned = await TestClient.registerIrc(server.ircPort, "ned");
  try {
    max.sendIrc("JOIN #chan1,#chan2");
    await max.expect(/ 366 max #chan2 /);
    ned.sendIrc("JOIN #chan2");
    await ned.expect(/ 366 ned #chan2 /);
    const listed = async (command: string) => {
      ned.sendIrc(command);
      return (await reply(ned, / 323 ned /))
        .filter((line) => / 322 /.test(line)).map((line) => line.split(" ")[3]).sort();
    };
    assert.deepEqual(await listed("LIST"), ["#chan1", "#chan2"]);
    assert.deepEqual(await listed("LIST #chan1,#nonexistent"), ["#chan1"]);
    assert.deepEqual(await listed("LIST >1"), ["#chan2"]);
    assert.deepEqual(await listed("LIST <2"), ["#chan1"]);
    assert.deepEqual(await listed("LIST *an2"), ["#chan2"]);
    assert.deepEqual(await listed("LIST !*an2"), ["#chan1"]);
    const isupport = ned.lines.filter((line) => / 005 ned /.test(line)).join(" ");
    assert.match(isupport, / ELIST=MNU /);
  } finally {
    max.close();
    ned.close();
    await server.close();
  }
});

Deno.test("irc queries: PING with an empty token, and a line that is not UTF-8 gets FAIL and goes nowhere", async () => {
  const server = startServer({ withIrcPort: true });
  const oz = await TestClient.registerIrc(server.ircPort, "oz");
  const pat = await TestClient.registerIrc(server.ircPort, "pat");
  try {
    oz.sendIrc("PING :");
    await oz.expect(`:${S} PONG ${S} :`);
    await oz.write(
      Uint8Array.from([...encoder.encode("PRIVMSG pat :hi"), 0xaa, ...encoder.encode("\r\n")]),
    );
    await oz.expect(/^:test\.parley FAIL PRIVMSG INVALID_UTF8 :/);
    oz.sendIrc("PRIVMSG pat :fine");
    await pat.expect(/PRIVMSG pat :fine$/);
    assert.ok(!pat.lines.some((line) => /PRIVMSG pat :hi/.test(line)), "the bad line is dropped");
  } finally {
    oz.close();
    pat.close();
    await server.close();
  }
});
