/**
 * Issue 18, impersonation: nicks are compared by their UTS #39 skeletons as
 * well as case folding, invisible and blank-looking characters are refused,
 * and reserved names are protected the same way, on both protocols.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "./helpers.ts";

const LOOKALIKES = [
  ["\u0430dmin", "Cyrillic а"],
  ["admin\u034f", "U+034F, invisible"],
  ["admin\ufe0f", "U+FE0F, invisible"],
  ["NickS\u0435rv", "Cyrillic е in a reserved name"],
  ["\u3164", "U+3164, a blank letter"],
  ["ADMlN", "l for I"],
  ["gu\u0435st-7", "a guest's nick with a Cyrillic е"],
] as const;

Deno.test("lookalikes of an online nick, invisible characters and reserved names are refused (line)", async () => {
  const server = startServer();
  try {
    const admin = await TestClient.join(server.port, "admin");
    const other = await TestClient.join(server.port);
    for (const [nick, what] of LOOKALIKES) {
      other.send(`/nick ${nick}`);
      const answer = await other.expect(/^!!! /);
      assert.match(
        answer,
        /looks too much like one that is taken|invisible or blank|is reserved|may contain only/,
        `${what}: ${answer}`,
      );
    }
    // Ordinary names stay apart, and the owner may change its own case.
    other.send("/nick Иван");
    await other.expect("*** you are now Иван");
    other.send("/nick ivan");
    await other.expect("*** you are now ivan");
    admin.send("/nick Admin");
    await admin.expect("*** you are now Admin");
    admin.send("/join r\u034foom");
    await admin.expect("!!! room name may not contain invisible or blank characters");
    // Once admin leaves, its lookalike is free again.
    admin.close();
    await other.expect(/^\*\*\* Admin left/);
    other.send("/nick \u0430dmin");
    await other.expect("*** you are now \u0430dmin");
    other.close();
  } finally {
    await server.close();
  }
});

Deno.test("lookalikes are refused at IRC registration and on NICK (433 with the reason)", async () => {
  const server = startServer({ withIrcPort: true });
  try {
    const admin = await TestClient.join(server.port, "admin");
    const irc = await TestClient.connect(server.ircPort);
    irc.sendIrc("NICK \u0430dmin");
    irc.sendIrc("USER x 0 * :x");
    await irc.expect(
      / 433 \* \u0430dmin :nickname \u0430dmin looks too much like one that is taken/,
    );
    irc.sendIrc("NICK admin\u034f");
    await irc.expect(/ 432 \* admin\u034f :Erroneous nickname/);
    irc.sendIrc("NICK carol");
    await irc.expect(/ 001 carol /);
    irc.sendIrc("NICK ADMlN");
    await irc.expect(/ 433 carol ADMlN :/);
    irc.sendIrc("NICK N\u0456ckServ");
    await irc.expect(/ 433 carol N\u0456ckServ :the nick N\u0456ckServ is reserved/);
    admin.close();
    irc.close();
  } finally {
    await server.close();
  }
});

Deno.test("--require-account: a guest is welcomed, told to identify, and in the lobby once it has", async () => {
  const server = startServer({ withIrcPort: true, chat: { requireAccount: true } });
  try {
    const owner = await TestClient.connect(server.port);
    await owner.expect(/^\*\*\* welcome to parley, you are guest-1$/);
    await owner.expect("!!! this server lets only registered nicks speak: /identify NICK PASSWORD");
    owner.send("hello?");
    await owner.expect("!!! you are in no room yet; /join ROOM");
    owner.send("/who");
    await owner.expect("!!! you are in no room yet; /join ROOM");
    owner.send("/join lobby");
    await owner.expect("!!! this server lets only registered nicks speak: /identify NICK PASSWORD");
    owner.send("/nick dora");
    await owner.expect("*** you are now dora");
    owner.send("/register sesame-street-1");
    await owner.expect(/^\*\*\* the nick dora is yours now/);
    owner.send("/identify sesame-street-1");
    await owner.expect("*** you are identified as dora");
    await owner.expect(/^\*\*\* you are now in #lobby \(1 here\)$/);
    owner.send("I am in");
    const irc = await TestClient.registerIrc(server.ircPort, "ivy");
    irc.sendIrc("JOIN #lobby");
    await irc.expect(/ 477 ivy #lobby :this server lets only registered nicks speak/);
    owner.close();
    irc.close();
  } finally {
    await server.close();
  }
  assert.doesNotMatch(server.log.lines.join("\n"), /reason="error/);
});
