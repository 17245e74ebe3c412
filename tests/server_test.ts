/** The chat over real sockets: a server on a free loopback port, raw TCP clients. */

import assert from "node:assert/strict";
import { delay, startServer, TestClient, waitUntil } from "./helpers.ts";

const encoder = new TextEncoder();

Deno.test({
  name:
    "five clients at once: connects, messages and disconnects are logged with IP:PORT; others get the text intact",
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    const server = await startServer();
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => TestClient.join(server.port)),
    );
    const nicks = clients.map((client) => /you are (\S+)/.exec(client.lines[0])![1]);
    const texts = [
      "hello from one",
      "你好，世界",
      "emoji 👍🏽 👨‍👩‍👧 ok",
      "crlf input",
      "tab\tand spaces  ",
    ];

    for (const [i, client] of clients.entries()) {
      // Client 3 uses CRLF, like telnet; the CR must not reach anyone.
      await client.write(encoder.encode(texts[i] + (i === 3 ? "\r\n" : "\n")));
      for (const [j, other] of clients.entries()) {
        if (j !== i) await other.expect(`<${nicks[i]}> ${texts[i]}`);
      }
    }
    await delay(100);
    for (const [i, client] of clients.entries()) {
      const own = client.take().filter((line) => line.startsWith(`<${nicks[i]}>`));
      assert.deepEqual(own, [], `${nicks[i]} must not get its own message back`);
    }
    for (const client of clients) client.close();
    await waitUntil(() => server.server.online === 0, "everyone to be gone");
    await server.close();

    const log = server.log.lines.join("\n");
    for (const [i, client] of clients.entries()) {
      const where = `127.0.0.1:${client.localPort}`;
      assert.match(
        log,
        new RegExp(`connect +${where} +${nicks[i]}  online=\\d`),
        `connect of ${where}`,
      );
      assert.ok(
        log.includes(`message     ${where.padEnd(21)}  ${nicks[i]}  #lobby  ${texts[i]}`),
        `message of ${where}`,
      );
      assert.match(
        log,
        new RegExp(`disconnect  ${where} +${nicks[i]}  reason="closed"`),
        `disconnect of ${where}`,
      );
    }
  },
});

Deno.test("a newcomer is welcomed with its guest nick; others see it join and leave", async () => {
  const server = await startServer();
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.connect(server.port);
  const welcome = await bob.expect(/^\*\*\* welcome to parley, you are guest-\d+$/);
  const guest = welcome.split(" ").pop()!;
  await bob.expect(/^\*\*\* 2 online, 2 in #lobby/);
  await alice.expect(`*** ${guest} joined #lobby`);
  bob.send("/quit see you");
  await bob.expect("*** bye");
  await bob.expectClosed();
  await alice.expect(`*** ${guest} left (quit: see you)`);
  alice.close();
  await server.close();
});

Deno.test("/nick: validated, unique regardless of case, announced", async () => {
  const server = await startServer();
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port);
  const oldNick = /you are (\S+)/.exec(bob.lines[0])![1];

  bob.send("/nick ALICE");
  await bob.expect("!!! nickname alice is taken");
  bob.send("/nick bad name!");
  await bob.expect(/^!!! usage|^!!! nickname may contain only/);
  bob.send("/nick " + "b".repeat(25));
  await bob.expect(/^!!! nickname is too long/);
  bob.send("/nick Bob");
  await bob.expect("*** you are now Bob");
  await alice.expect(`*** ${oldNick} is now known as Bob`);
  // Bob's old guest nick is free again, and his new one is his in any case.
  alice.send("/msg bob hi");
  await bob.expect("*alice* hi");
  await alice.expect("-> *Bob* hi");
  alice.close();
  bob.close();
  await server.close();
  assert.ok(
    server.log.lines.some((line) => / nick +127\.0\.0\.1:\d+ +guest-\d+ -> Bob$/.test(line)),
  );
});

Deno.test("/me, /msg, /who, /help, // and unknown commands", async () => {
  const server = await startServer();
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const carol = await TestClient.join(server.port, "carol");

  alice.send("/me waves");
  await bob.expect("* alice waves");
  await carol.expect("* alice waves");

  alice.send("/msg bob just between us");
  await bob.expect("*alice* just between us");
  await alice.expect("-> *bob* just between us");
  alice.send("/msg nobody hello?");
  await alice.expect("!!! no such nick: nobody");

  alice.send("/who");
  await alice.expect("*** in #lobby: alice, bob, carol (3 here, 3 online)");

  alice.send("/help");
  await alice.expect("*** commands:");
  await alice.expect(/^\*\*\*   \/msg NICK TEXT/);

  alice.send("//slash at the start");
  await bob.expect("<alice> /slash at the start");

  alice.send("/frobnicate now");
  await alice.expect("!!! unknown command /frobnicate (try /help)");

  await delay(100);
  assert.ok(
    !carol.take().some((line) => line.includes("just between us")),
    "private stays private",
  );
  assert.ok(!alice.take().some((line) => line.startsWith("* alice")), "no echo of own action");
  for (const client of [alice, bob, carol]) client.close();
  await server.close();
});

Deno.test("a line split across TCP segments is one message; many lines in one segment are many", async () => {
  const server = await startServer();
  const sender = await TestClient.join(server.port, "sender");
  const reader = await TestClient.join(server.port, "reader");

  const bytes = encoder.encode("split 你好 across segments\n");
  for (let i = 0; i < bytes.length; i += 4) {
    await sender.write(bytes.subarray(i, i + 4));
    await delay(5);
  }
  await reader.expect("<sender> split 你好 across segments");

  const lines = Array.from({ length: 200 }, (_, i) => `burst line ${i}`);
  await sender.write(encoder.encode(lines.join("\n") + "\n"));
  for (const line of lines) await reader.expect(`<sender> ${line}`);
  sender.close();
  reader.close();
  await server.close();
});

Deno.test("hostile bytes are cleaned before they reach anyone or the log", async () => {
  const server = await startServer();
  const mallory = await TestClient.join(server.port, "mallory");
  const victim = await TestClient.join(server.port, "victim");

  await mallory.write(
    encoder.encode("\x1b[2J\x1b[31mred\x1b[0m \u202Eevil\u202C fake\r\x07bell\n"),
  );
  await victim.expect("<mallory> [2J[31mred[0m evil fakebell");
  // Invalid UTF-8 (0xFF would be a telnet command, which never becomes text: see telnet tests).
  await mallory.write(new Uint8Array([0x62, 0x61, 0x64, 0x20, 0xfe, 0xc0, 0x0a]));
  await victim.expect("<mallory> bad \uFFFD\uFFFD");
  // A line that is empty after cleaning is not a message.
  await mallory.write(encoder.encode("\x1b\x07\x00\n   \nafter\n"));
  await victim.expect("<mallory> after");
  mallory.close();
  victim.close();
  await server.close();
  const log = server.log.lines.join("\n");
  // deno-lint-ignore no-control-regex -- looking for control characters is the point
  const unsafe = /[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e]/;
  assert.ok(!unsafe.test(log), "the log has no control characters");
  assert.ok(log.includes("mallory  #lobby  [2J[31mred[0m evil fakebell"));
});

Deno.test("an over-long line is refused with !!! and the connection stays usable", async () => {
  const server = await startServer({ maxLine: 100 });
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  alice.send("x".repeat(101));
  await alice.expect("!!! line too long (over 100 bytes); it was dropped");
  alice.send("y".repeat(100));
  await bob.expect(`<alice> ${"y".repeat(100)}`);
  assert.ok(!bob.take().some((line) => line.includes("xxx")));
  alice.close();
  bob.close();
  await server.close();
});

Deno.test({
  name: "shutdown tells every client, closes every connection, and finishes",
  sanitizeResources: true,
  sanitizeOps: true,
  async fn() {
    const server = await startServer();
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.join(server.port)));
    await server.close();
    for (const client of clients) {
      await client.expect("*** server shutting down");
      await client.expectClosed();
      client.close();
    }
    const log = server.log.lines.join("\n");
    assert.match(log, /shutdown +reason=test over  online=3/);
    assert.equal((log.match(/reason="shutdown"/g) ?? []).length, 3);
    assert.match(log, /stopped/);
  },
});
