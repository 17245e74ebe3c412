/**
 * Room operators and channel modes as IRC clients meet them, over real
 * sockets (SPEC §8): `@` and `+` in NAMES and WHO (multi-prefix,
 * userhost-in-names), MODE changes echoed to the channel, 324/329 and the ban
 * list, KICK out of a channel only, INVITE (341, invite-notify, the list), and
 * each mode's refusal: 473, 475, 471, 474, 404, 482, 696; LIST, NAMES and
 * WHOIS keeping a secret channel from outsiders.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "./helpers.ts";

const S = "test.parley";

Deno.test("irc: the creator is @; MODE +o/+v echoed to the channel; NAMES and WHO prefixes; KICK from the channel only", async () => {
  const server = startServer({ withIrcPort: true });
  const ann = await TestClient.registerIrc(server.ircPort, "ann", {
    caps: ["multi-prefix", "userhost-in-names"],
  });
  const bob = await TestClient.registerIrc(server.ircPort, "bob");
  const cy = await TestClient.registerIrc(server.ircPort, "cy");
  try {
    ann.sendIrc("JOIN #dev");
    await ann.expect(`:${S} 353 ann = #dev :@ann!ann@${S}`);
    bob.sendIrc("JOIN #dev");
    await bob.expect(`:${S} 353 bob = #dev :@ann bob`);
    cy.sendIrc("JOIN #dev");
    await cy.expect(/ 366 cy #dev /);
    ann.sendIrc("MODE #dev");
    await ann.expect(`:${S} 324 ann #dev +nt`);
    await ann.expect(/^:test\.parley 329 ann #dev \d+$/);

    // Not an operator: 482; a stranger: 401; someone elsewhere: 441; no such channel: 403.
    bob.sendIrc("MODE #dev +o bob");
    await bob.expect(`:${S} 482 bob #dev :You're not channel operator`);
    ann.sendIrc("MODE #dev +o nobody");
    await ann.expect(`:${S} 401 ann nobody :No such nick/channel`);
    const dan = await TestClient.registerIrc(server.ircPort, "dan");
    ann.sendIrc("MODE #dev +v dan");
    await ann.expect(`:${S} 441 ann dan #dev :They aren't on that channel`);
    ann.sendIrc("MODE #nowhere +o bob");
    await ann.expect(`:${S} 403 ann #nowhere :No such channel`);
    ann.sendIrc("MODE #dev +x");
    await ann.expect(`:${S} 472 ann x :is unknown mode char to me`);

    ann.sendIrc("MODE #dev +ov bob bob");
    for (const client of [ann, bob, cy]) {
      await client.expect(`:ann!ann@${S} MODE #dev +ov bob bob`);
    }
    ann.sendIrc("NAMES #dev");
    await ann.expect(`:${S} 353 ann = #dev :@ann!ann@${S} @+bob!bob@${S} cy!cy@${S}`);
    cy.sendIrc("NAMES #dev");
    await cy.expect(`:${S} 353 cy = #dev :@ann @bob cy`, 5000);
    ann.sendIrc("WHO #dev");
    await ann.expect(/^:test\.parley 352 ann #dev bob \S+ \S+ bob H@\+ :/);
    cy.sendIrc("WHO #dev");
    await cy.expect(/^:test\.parley 352 cy #dev bob \S+ \S+ bob H@ :/);

    // A kick: everyone in the channel sees it, the kicked one too; it stays in the chat.
    cy.sendIrc("KICK #dev ann");
    await cy.expect(`:${S} 482 cy #dev :You're not channel operator`);
    dan.sendIrc("KICK #dev cy");
    await dan.expect(`:${S} 442 dan #dev :You're not on that channel`);
    bob.sendIrc("KICK #dev dan");
    await bob.expect(`:${S} 441 bob dan #dev :They aren't on that channel`);
    bob.sendIrc("KICK #nowhere cy");
    await bob.expect(`:${S} 403 bob #nowhere :No such channel`);
    bob.sendIrc("KICK #dev cy");
    for (const client of [ann, bob, cy]) await client.expect(`:bob!bob@${S} KICK #dev cy :bob`);
    bob.sendIrc("KICK #dev ann :enough for today");
    await ann.expect(`:bob!bob@${S} KICK #dev ann :enough for today`);
    cy.sendIrc("PRIVMSG #dev :let me back");
    await cy.expect(`:${S} 404 cy #dev :Cannot send to channel`);
    cy.sendIrc("PRIVMSG bob :still here");
    await bob.expect(`:cy!cy@${S} PRIVMSG bob :still here`);
    ann.sendIrc("NAMES #dev");
    await ann.expect(`:${S} 353 ann = #dev :@+bob!bob@${S}`);
    dan.close();
  } finally {
    for (const client of [ann, bob, cy]) client.close();
    await server.close();
  }
  assert.match(server.log.lines.join("\n"), /operator +bob  kicked cy from #dev \(bob\)/);
});

Deno.test("irc: +i and INVITE (341, invite-notify, the list), +k with JOIN keys, +l, +b and their numerics", async () => {
  const server = startServer({ withIrcPort: true });
  const ann = await TestClient.registerIrc(server.ircPort, "ann", { caps: ["invite-notify"] });
  const vic = await TestClient.registerIrc(server.ircPort, "vic", { caps: ["invite-notify"] });
  const bob = await TestClient.registerIrc(server.ircPort, "bob");
  try {
    ann.sendIrc("JOIN #dev");
    await ann.expect(/ 366 ann #dev /);
    vic.sendIrc("JOIN #dev");
    await vic.expect(/ 366 vic #dev /);
    ann.sendIrc("MODE #dev +i");
    await ann.expect(`:ann!ann@${S} MODE #dev +i`);
    bob.sendIrc("JOIN #dev");
    await bob.expect(`:${S} 473 bob #dev :Cannot join channel (+i)`);
    vic.sendIrc("INVITE bob #dev");
    await vic.expect(`:${S} 482 vic #dev :You're not channel operator`);
    ann.sendIrc("INVITE vic #dev");
    await ann.expect(`:${S} 443 ann vic #dev :is already on channel`);
    ann.sendIrc("MODE #dev +o vic");
    await vic.expect(`:ann!ann@${S} MODE #dev +o vic`);
    ann.sendIrc("INVITE bob #dev");
    await ann.expect(`:${S} 341 ann bob #dev`);
    await bob.expect(`:ann!ann@${S} INVITE bob #dev`);
    await vic.expect(`:ann!ann@${S} INVITE bob #dev`); // an operator with invite-notify
    bob.sendIrc("INVITE");
    await bob.expect(`:${S} 336 bob #dev`);
    await bob.expect(`:${S} 337 bob :End of /INVITE list`);
    bob.sendIrc("JOIN #dev");
    await bob.expect(`:bob!bob@${S} JOIN #dev`);
    bob.sendIrc("INVITE");
    await bob.expect(`:${S} 337 bob :End of /INVITE list`);
    bob.sendIrc("PART #dev");
    await bob.expect(/ PART #dev/);

    // +k: a key to enter, JOIN #a,#b with keys in order; 696 for a key that cannot be one.
    ann.sendIrc("MODE #dev -i+k beer");
    await ann.expect(`:ann!ann@${S} MODE #dev -i+k beer`);
    ann.sendIrc("MODE #dev +k :two words");
    await ann.expect(/^:test\.parley 696 ann #dev k \* :a key is /);
    ann.sendIrc("JOIN #ops");
    await ann.expect(/ 366 ann #ops /);
    ann.sendIrc("MODE #ops +k wine");
    await ann.expect(/ MODE #ops \+k wine/);
    bob.sendIrc("JOIN #dev,#ops beer,water");
    await bob.expect(`:bob!bob@${S} JOIN #dev`);
    await bob.expect(`:${S} 475 bob #ops :Cannot join channel (+k)`);
    bob.sendIrc("MODE #dev");
    await bob.expect(/^:test\.parley 324 bob #dev \+ntk beer$/);
    const out = await TestClient.registerIrc(server.ircPort, "out");
    out.sendIrc("MODE #dev");
    await out.expect(/^:test\.parley 324 out #dev \+ntk \*$/);

    // +l: 471 when full; 696 for a limit that is none.
    ann.sendIrc("MODE #dev -k+l * 3");
    await ann.expect(`:ann!ann@${S} MODE #dev -k+l 3`);
    out.sendIrc("JOIN #dev");
    await out.expect(`:${S} 471 out #dev :Cannot join channel (+l)`);
    ann.sendIrc("MODE #dev +l 0");
    await ann.expect(/^:test\.parley 696 ann #dev l 0 :a limit is /);

    // +b nick!user@host: 474; the list with who set it; -b lets in again.
    ann.sendIrc("MODE #dev -l+b ou?!*@*");
    await ann.expect(`:ann!ann@${S} MODE #dev -l+b ou?!*@*`);
    ann.sendIrc("MODE #dev +b *!*@203.0.113.7");
    await ann.expect(/^:test\.parley 696 ann #dev b \*!\*@203\.0\.113\.7 :a ban is nick!user/);
    out.sendIrc("JOIN #dev");
    await out.expect(`:${S} 474 out #dev :Cannot join channel (+b)`);
    out.sendIrc("MODE #dev b");
    await out.expect(/^:test\.parley 367 out #dev ou\?!\*@\* ann \d+$/);
    await out.expect(`:${S} 368 out #dev :End of channel ban list`);
    ann.sendIrc("MODE #dev -b OU?!*@*");
    await ann.expect(`:ann!ann@${S} MODE #dev -b ou?!*@*`);
    out.sendIrc("JOIN #dev");
    await out.expect(`:out!out@${S} JOIN #dev`);
    out.close();
  } finally {
    for (const client of [ann, vic, bob]) client.close();
    await server.close();
  }
});

Deno.test("irc: +m needs a voice, -n lets outsiders in, +t and -t for the topic, +s hides a channel from outsiders", async () => {
  const server = startServer({ withIrcPort: true });
  const ann = await TestClient.registerIrc(server.ircPort, "ann");
  const bob = await TestClient.registerIrc(server.ircPort, "bob");
  const out = await TestClient.registerIrc(server.ircPort, "out");
  try {
    for (const client of [ann, bob]) {
      client.sendIrc("JOIN #dev");
      await client.expect(/ 366 \S+ #dev /);
    }
    out.sendIrc("PRIVMSG #dev :hello from outside");
    await out.expect(`:${S} 404 out #dev :Cannot send to channel`);
    ann.sendIrc("MODE #dev -n");
    await ann.expect(/ MODE #dev -n$/);
    out.sendIrc("PRIVMSG #dev :hello from outside");
    await bob.expect(`:out!out@${S} PRIVMSG #dev :hello from outside`);

    ann.sendIrc("MODE #dev +m");
    await bob.expect(`:ann!ann@${S} MODE #dev +m`);
    bob.sendIrc("PRIVMSG #dev :can I?");
    await bob.expect(`:${S} 404 bob #dev :Cannot send to channel`);
    ann.sendIrc("MODE #dev +v bob");
    await bob.expect(`:ann!ann@${S} MODE #dev +v bob`);
    bob.sendIrc("PRIVMSG #dev :now I can");
    await ann.expect(`:bob!bob@${S} PRIVMSG #dev :now I can`);

    bob.sendIrc("TOPIC #dev :mine");
    await bob.expect(`:${S} 482 bob #dev :You're not channel operator`);
    ann.sendIrc("MODE #dev -t");
    await ann.expect(/ MODE #dev -t$/);
    bob.sendIrc("TOPIC #dev :mine");
    await ann.expect(`:bob!bob@${S} TOPIC #dev :mine`);

    ann.sendIrc("MODE #dev +s");
    await ann.expect(/ MODE #dev \+s$/);
    ann.sendIrc("NAMES #dev");
    await ann.expect(`:${S} 353 ann @ #dev :@ann +bob`);
    out.sendIrc("LIST");
    const listed = await out.expect(/ 32[23] /);
    assert.match(listed, / 323 /, "a secret channel is not listed to outsiders");
    out.sendIrc("NAMES #dev");
    await out.expect(`:${S} 366 out #dev :End of /NAMES list`);
    assert.ok(!out.lines.some((line) => / 353 out @ #dev /.test(line)));
    out.sendIrc("WHOIS bob");
    await out.expect(/ 318 out bob /);
    assert.ok(!out.lines.some((line) => / 319 out bob /.test(line)), "no secret channel in WHOIS");
    ann.sendIrc("WHOIS bob");
    await ann.expect(`:${S} 319 ann bob :#dev`);
  } finally {
    for (const client of [ann, bob, out]) client.close();
    await server.close();
  }
});

Deno.test("the lobby's creation time (329) is the server's start, not 1970 (irssi showed 'created Thu Jan 1 1970')", async () => {
  const before = Math.floor(Date.now() / 1000);
  const server = startServer();
  const client = await TestClient.registerIrc(server.port, "ircy");
  try {
    client.sendIrc("MODE #lobby");
    const line = await client.expect(/ 329 ircy #lobby /);
    const created = Number(line.split(" ").at(-1));
    assert.ok(created >= before && created <= Date.now() / 1000 + 1, line);
  } finally {
    client.close();
    await server.close();
  }
});
