/**
 * Issue 18 on the IRC front end: inputs that used to make the formatter
 * throw (and cost the sender its connection) are answered with a numeric, and
 * the connection stays.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "./helpers.ts";

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
