/**
 * Room operators and room modes as line clients (nc, telnet, `parley
 * client`) meet them, over real sockets: `/op`, `/deop`, `/voice`,
 * `/devoice`, `/kick` out of the room (back to the lobby), `/invite`, `/mode`
 * and `/join ROOM KEY`, every change told as a `***` line, `/help` listing
 * them; IRC and line operators acting on each other; a server operator's
 * `/kill`.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "./helpers.ts";

const S = "test.parley";

Deno.test("line: /op, /voice, /mode +m, +i with /invite, +k with /join ROOM KEY, +b, +l; each told as *** lines", async () => {
  const server = startServer();
  const clients: TestClient[] = [];
  const join = async (nick: string, room?: string) => {
    const client = await TestClient.join(server.port, nick);
    clients.push(client);
    if (room) {
      client.send(`/join ${room}`);
      await client.expect(new RegExp(`^\\*\\*\\* you are now in #${room} `));
    }
    return client;
  };
  try {
    const ann = await join("ann", "dev");
    const bob = await join("bob", "dev");
    const cy = await join("cy", "dev");
    ann.send("/who");
    await ann.expect("*** in #dev: @ann, bob, cy (3 here, 3 online)");
    bob.send("/op bob");
    await bob.expect("!!! only the operators of #dev can do that");
    ann.send("/op bob");
    await ann.expect("*** you made bob an operator in #dev");
    await bob.expect("*** ann made bob an operator in #dev");
    await cy.expect("*** ann made bob an operator in #dev");
    bob.send("/op nobody");
    await bob.expect("!!! no such nick: nobody");
    bob.send("/deop ann");
    await ann.expect("*** bob took ann's operator status in #dev");

    ann.send("/mode +m");
    await ann.expect("!!! only the operators of #dev can do that");
    bob.send("/mode +m");
    await cy.expect("*** bob moderated it (only operators and voiced members speak) in #dev");
    cy.send("may I?");
    await cy.expect("!!! #dev is moderated: only its operators and voiced members speak");
    bob.send("/voice cy");
    await cy.expect("*** bob gave cy a voice in #dev");
    cy.send("now I may");
    await bob.expect("<cy> now I may");
    bob.send("/who");
    await bob.expect("*** in #dev: ann, @bob, +cy (3 here, 3 online)");
    bob.send("/devoice cy");
    await cy.expect("*** bob took cy's voice in #dev");
    bob.send("/mode -m");
    await cy.expect("*** bob let everyone speak in #dev");

    // +i: only the invited; +k: the key; both at once, and /mode shows them.
    bob.send("/mode +i +k beer");
    await ann.expect("*** bob made it invite-only, set its key to beer in #dev");
    bob.send("/mode");
    await bob.expect(
      "*** modes of #dev: +intk beer (invite-only, key needed, no messages from outside, operators set the topic); no bans",
    );
    const dan = await join("dan");
    dan.send("/join dev");
    await dan.expect("!!! #dev is invite-only: one of its operators can /invite you");
    ann.send("/invite dan");
    await ann.expect("!!! only the operators of #dev can do that");
    bob.send("/invite dan");
    await bob.expect("*** you invited dan into #dev");
    await dan.expect("*** bob invites you to #dev: /join dev");
    dan.send("/join dev");
    await dan.expect("*** you are now in #dev (4 here)");
    dan.send("/join lobby");
    await dan.expect(/you are now in #lobby/);
    bob.send("/mode -i");
    await bob.expect("*** you opened it to everyone in #dev");
    dan.send("/join dev");
    await dan.expect("!!! #dev needs its key: /join dev KEY");
    dan.send("/join dev wine");
    await dan.expect("!!! #dev needs its key: /join dev KEY");
    dan.send("/join #dev beer");
    await dan.expect("*** you are now in #dev (4 here)");
    dan.send("/join no spaces");
    await dan.expect("!!! room name may contain only letters, digits, _ - and .");

    // +l and +b; a value that cannot be one is refused with why.
    bob.send("/mode -k +l abc");
    await bob.expect("!!! a limit is a whole number from 1 to 1000000");
    bob.send("/mode +l");
    await bob.expect(/^!!! \+l needs a value/);
    bob.send("/mode +x");
    await bob.expect(/^!!! unknown mode x/);
    bob.send("/mode +b eve");
    await bob.expect("*** you banned eve!*@* in #dev");
    const eve = await join("eve");
    eve.send("/join dev beer");
    await eve.expect("!!! you are banned from #dev");
    bob.send("/mode -b EVE");
    await bob.expect("*** you lifted the ban on eve!*@* in #dev");
    eve.send("/join dev beer");
    await eve.expect("*** you are now in #dev (5 here)");
    bob.send("/help");
    await bob.expect(/^\*\*\*   \/kick NICK \[REASON\] +take NICK out of your room/);
    for (const command of ["/op NICK", "/voice NICK", "/invite NICK", "/mode \\[CHANGES\\]"]) {
      assert.ok(
        bob.lines.some((line) => new RegExp(`^\\*\\*\\*   ${command} `).test(line)),
        command,
      );
    }
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("line: /kick takes someone out of the room to the lobby; IRC and line operators kick each other; /kill disconnects", async () => {
  const server = startServer({ withIrcPort: true, chat: { operPassword: "oper-pass-1234" } });
  const clients: TestClient[] = [];
  try {
    const ann = await TestClient.join(server.port, "ann");
    const bob = await TestClient.join(server.port, "bob");
    clients.push(ann, bob);
    ann.send("/join dev");
    await ann.expect(/you are now in #dev/);
    bob.send("/join dev");
    await bob.expect(/you are now in #dev/);
    const irc = await TestClient.registerIrc(server.ircPort, "ivy");
    clients.push(irc);
    irc.sendIrc("JOIN #dev");
    await irc.expect(/ 353 ivy = #dev :@ann bob ivy/);

    bob.send("/kick ann");
    await bob.expect("!!! only the operators of #dev can do that");
    ann.send("/kick nobody");
    await ann.expect("!!! no such nick: nobody");
    ann.send("/kick bob take a break");
    await ann.expect("*** you kicked bob from #dev");
    await bob.expect("*** ann kicked bob from #dev (take a break)");
    await bob.expect("*** you are now in #lobby (1 here)");
    await irc.expect(`:ann!line@${S} KICK #dev bob :take a break`);
    bob.send("still connected");
    assert.ok(!bob.isClosed);

    // A line operator makes an IRC user an operator; the IRC operator kicks the line one.
    ann.send("/op ivy");
    await irc.expect(`:ann!line@${S} MODE #dev +o ivy`);
    irc.sendIrc("KICK #dev ann :your turn");
    await ann.expect("*** ivy kicked ann from #dev (your turn)");
    await ann.expect("*** you are now in #lobby (2 here)");
    // Kicked from the lobby: in no room, told how to go on.
    irc.sendIrc("JOIN #lobby");
    await irc.expect(/ 366 ivy #lobby /);
    irc.sendIrc("OPER ivy oper-pass-1234");
    await irc.expect(/ 381 ivy /);
    irc.sendIrc("KICK #lobby bob");
    await bob.expect("*** ivy kicked bob from #lobby");
    await bob.expect("*** you are in no room yet; /join ROOM");
    bob.send("/join lobby");
    await bob.expect(/you are now in #lobby/);

    // /kill is the server operator's: out of the chat.
    ann.send("/kill bob");
    await ann.expect("!!! only server operators can do that (/oper PASSWORD)");
    ann.send("/oper oper-pass-1234");
    await ann.expect(/you are a server operator now/);
    ann.send("/kill bob enough");
    await bob.expect("!!! you were kicked by ann (enough)");
    await bob.expectClosed();
    await ann.expect("*** kicked bob");
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});
