/**
 * Big channels over real sockets (`src/core/big_rooms.ts`): in a channel of
 * 200 members or more, a member who joins is not announced to the others (no
 * JOIN to each of them), NAMES lists who is shown and a NOTICE says how many
 * are not, the member's JOIN reaches everyone just before its first message,
 * which reaches everyone; a quiet member leaves quietly, a shown one does
 * not. The same for a web client (IRC over WebSocket) and for a line client
 * who speaks there. Small channels are irctest's (tests/irctest_test.ts).
 *
 * The crowd is raw IRC connections that register and join at once (about a
 * second for 200 on loopback).
 */

import assert from "node:assert/strict";
import { startServer, TestClient, waitUntil, withDeadline } from "./helpers.ts";
import { QUIET_FROM } from "../src/core/big_rooms.ts";

const S = "test.parley";
const CHANNEL = "#big";

/** `count` IRC clients `c1`…`cN` in `channel`, each waited for until its 366. */
async function crowd(port: number, count: number): Promise<TestClient[]> {
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const client = await TestClient.connect(port);
    const nick = `c${i + 1}`;
    client.sendIrc(`NICK ${nick}\r\nUSER ${nick} 0 * :crowd\r\nJOIN ${CHANNEL}`);
    await client.expect(new RegExp(`^:\\S+ 366 ${nick} ${CHANNEL} `), 20_000);
    return client;
  }));
}

/** A round trip: every line the server sent `client` before it is in `client.lines`. */
async function sync(client: TestClient, token: string): Promise<void> {
  client.sendIrc(`PING ${token}`);
  await client.expect(new RegExp(`PONG \\S+ :?${token}$`));
}

/** The lines of `client` mentioning `nick` as a source. */
function from(client: TestClient, nick: string): string[] {
  return client.lines.filter((line) => line.startsWith(`:${nick}!`));
}

Deno.test("big channel: a quiet JOIN reaches nobody, NAMES lists who is shown, the JOIN comes with the first message, which reaches everyone", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    const ann = await TestClient.registerIrc(server.ircPort, "ann");
    clients.push(ann);
    ann.sendIrc(`JOIN ${CHANNEL}`);
    await ann.expect(/ 366 ann #big /);
    // ann and the crowd: QUIET_FROM members, each of them announced.
    const members = await crowd(server.ircPort, QUIET_FROM - 1);
    clients.push(...members);
    await sync(ann, "crowd");
    assert.equal(ann.lines.filter((line) => / JOIN #big$/.test(line)).length, QUIET_FROM);

    // zed enters a channel of QUIET_FROM: quietly. Its NAMES: itself and those shown.
    const zed = await TestClient.registerIrc(server.ircPort, "zed");
    clients.push(zed);
    zed.sendIrc(`JOIN ${CHANNEL}`);
    await zed.expect(`:zed!zed@${S} JOIN #big`);
    const names = [];
    for (;;) {
      const line = await zed.expect(/ (353|366) zed /);
      if (/ 366 /.test(line)) break;
      names.push(...line.split(" :")[1].split(" "));
    }
    assert.equal(names.length, QUIET_FROM + 1);
    assert.ok(names.includes("zed") && names.includes("@ann") && names.includes("c7"));
    // yan too; its NAMES leaves zed out (quiet), and a NOTICE to the channel says so.
    const yan = await TestClient.registerIrc(server.ircPort, "yan");
    clients.push(yan);
    yan.sendIrc(`JOIN ${CHANNEL}`);
    await yan.expect(
      `:${S} NOTICE #big :#big has ${QUIET_FROM + 2} members, ${QUIET_FROM + 1} listed: ` +
        `in a channel of ${QUIET_FROM} or more, a member who joins is shown when they first speak`,
    );
    await yan.expect(/ 366 yan #big /);
    assert.ok(!yan.lines.some((line) => / 353 yan = #big :.*\bzed\b/.test(line)));
    // WHO lists the same members.
    yan.sendIrc(`WHO ${CHANNEL}`);
    await yan.expect(/ 315 yan #big /);
    const who = yan.lines.filter((line) => / 352 yan #big /.test(line));
    assert.equal(who.length, QUIET_FROM + 1);
    assert.ok(!who.some((line) => / zed H/.test(line)));

    // Nobody was told of zed's or yan's JOIN.
    await Promise.all([ann, members[0], members[150]].map((c, i) => sync(c, `late${i}`)));
    for (const client of [ann, members[0], members[150]]) {
      assert.deepEqual([...from(client, "zed"), ...from(client, "yan")], []);
    }

    // zed speaks: everyone gets its JOIN, then its message, the crowd's last member too.
    zed.sendIrc("PRIVMSG #big :hello, big room");
    for (const client of [ann, yan, ...members]) {
      await client.expect(`:zed!zed@${S} JOIN #big`, 10_000);
      assert.equal(
        client.lines[client.lines.indexOf(`:zed!zed@${S} JOIN #big`) + 1],
        `:zed!zed@${S} PRIVMSG #big :hello, big room`,
      );
    }
    // Its second message: no second JOIN.
    zed.sendIrc("PRIVMSG #big :again");
    await ann.expect(`:zed!zed@${S} PRIVMSG #big :again`);
    assert.equal(from(ann, "zed").filter((line) => line.endsWith(" JOIN #big")).length, 1);
    // Shown now: listed by NAMES.
    ann.sendIrc(`NAMES ${CHANNEL}`);
    await ann.expect(/ 353 ann = #big :.*\bzed\b/);

    // yan, quiet, leaves: nobody is told. zed, shown, quits: everyone is.
    yan.sendIrc("PART #big :bye");
    await yan.expect(/^:yan!yan@test\.parley PART #big :?bye$/);
    zed.sendIrc("QUIT :gone");
    await ann.expect(`:zed!zed@${S} QUIT :Quit: gone`);
    await sync(members[42], "end");
    assert.deepEqual(from(members[42], "yan"), []);
    assert.ok(members[42].lines.includes(`:zed!zed@${S} QUIT :Quit: gone`));
    assert.deepEqual(from(ann, "yan"), []);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("big channel: a web client sees what IRC clients see; a quiet line client's first line shows its JOIN; a quiet member made voiced is shown first", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  const seen: string[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/chat`, ["text.ircv3.net"]);
  socket.onmessage = (event) => seen.push(String(event.data));
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  const opened = new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  try {
    const ann = await TestClient.registerIrc(server.ircPort, "ann");
    clients.push(ann);
    ann.sendIrc(`JOIN ${CHANNEL}`);
    await ann.expect(/ 366 ann #big /);
    clients.push(...await crowd(server.ircPort, QUIET_FROM - 1));

    // A line client enters quietly, then the web client: its NAMES leaves lena out, and says so.
    const lena = await TestClient.join(server.port, "lena");
    clients.push(lena);
    lena.send(`/join ${CHANNEL}`);
    await lena.expect(/#big/);
    await withDeadline(opened, 5000, "the web client's connection");
    socket.send("NICK webber");
    socket.send("USER web 0 * :Web Person");
    socket.send(`JOIN ${CHANNEL}`);
    await waitUntil(() => seen.some((m) => / 366 webber #big /.test(m)), "webber's 366");
    assert.ok(seen.includes(
      `:${S} NOTICE #big :#big has ${QUIET_FROM + 2} members, ${QUIET_FROM + 1} listed: ` +
        `in a channel of ${QUIET_FROM} or more, a member who joins is shown when they first speak`,
    ));
    assert.ok(!seen.some((m) => / 353 webber = #big :.*\blena\b/.test(m)));
    await sync(ann, "quiet");
    assert.deepEqual(from(ann, "webber"), []);
    assert.deepEqual(from(ann, "lena"), []);
    lena.send("hello from a line client");
    await ann.expect(/^:lena!\S+ JOIN #big$/);
    await ann.expect(/^:lena!\S+ PRIVMSG #big :hello from a line client$/);
    await waitUntil(
      () => seen.some((m) => /^:lena!\S+ PRIVMSG #big :hello from a line client$/.test(m)),
      "the web client to get lena's line",
    );
    const at = seen.findIndex((m) => /^:lena!\S+ JOIN #big$/.test(m));
    assert.ok(at !== -1 && /PRIVMSG #big :hello from a line client$/.test(seen[at + 1]));

    // ann, the channel's operator, voices the quiet web client: its JOIN comes first.
    ann.sendIrc("MODE #big +v webber");
    await ann.expect(/^:webber!\S+ JOIN #big$/);
    await ann.expect(`:ann!ann@${S} MODE #big +v webber`);
    // The web client speaks: no second JOIN.
    socket.send("PRIVMSG #big :hi all");
    await ann.expect(/^:webber!\S+ PRIVMSG #big :hi all$/);
    assert.equal(from(ann, "webber").filter((line) => line.endsWith(" JOIN #big")).length, 1);
    socket.send("QUIT :bye");
    await withDeadline(closed, 5000, "the web client's close");
    await ann.expect(/^:webber!\S+ QUIT /);
  } finally {
    socket.close();
    for (const client of clients) client.close();
    await server.close();
  }
});
