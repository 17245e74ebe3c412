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
