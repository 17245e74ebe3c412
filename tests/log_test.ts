import assert from "node:assert/strict";
import { BufferedSink, Logger, MemorySink } from "../src/log.ts";
import { formatPeer, peerOf } from "../src/net/peer.ts";

const peer = { hostname: "127.0.0.1", port: 50123 };
const peer6 = { hostname: "::1", port: 50124 };

Deno.test("text log lines carry IP:PORT, nick, room and text", () => {
  const sink = new MemorySink();
  const log = new Logger(sink);
  log.event({ event: "connect", peer, nick: "guest-1", online: 3 });
  log.event({ event: "message", peer, nick: "guest-1", room: "lobby", text: "hello 你好" });
  log.event({
    event: "disconnect",
    peer: peer6,
    nick: "bob",
    reason: "quit",
    seconds: 12.34,
    messages: 5,
    online: 2,
  });
  assert.match(
    sink.lines[0],
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  connect +127\.0\.0\.1:50123 +guest-1  online=3$/,
  );
  assert.match(sink.lines[1], /  message +127\.0\.0\.1:50123 +guest-1  #lobby  hello 你好$/);
  assert.match(
    sink.lines[2],
    /  disconnect  \[::1\]:50124 +bob  reason="quit"  session=12\.3s  messages=5  online=2$/,
  );
  assert.ok(sink.lines.every((line) => !line.includes("\x1b")), "no colour unless asked");
});

Deno.test("JSON log lines are one object each with ts, event, addr, port, nick", () => {
  const sink = new MemorySink();
  const log = new Logger(sink, { format: "json" });
  log.event({ event: "connect", peer, nick: "guest-1", online: 1 });
  log.event({
    event: "message",
    peer,
    nick: "guest-1",
    room: "lobby",
    text: 'quote " and \\ backslash',
  });
  const records = sink.lines.map((line) => JSON.parse(line));
  assert.deepEqual(Object.keys(records[0]), ["ts", "event", "addr", "port", "nick", "online"]);
  assert.equal(records[0].event, "connect");
  assert.equal(records[0].port, 50123);
  assert.equal(records[1].text, 'quote " and \\ backslash');
  assert.ok(!Number.isNaN(Date.parse(records[1].ts)));
});

Deno.test("message text can be kept out of the log", () => {
  const sink = new MemorySink();
  new Logger(sink, { messageText: false }).event({
    event: "message",
    peer,
    nick: "a",
    room: "lobby",
    text: "secret",
  });
  new Logger(sink, { messageText: false, format: "json" }).event({
    event: "private",
    peer,
    nick: "a",
    to: "b",
    text: "secret",
  });
  assert.ok(sink.lines.every((line) => !line.includes("secret")), sink.lines.join("\n"));
  assert.equal(sink.lines.length, 2, "the events are still logged");
});

Deno.test("colour is used only when asked", () => {
  const sink = new MemorySink();
  new Logger(sink, { color: true }).event({ event: "connect", peer, nick: "a", online: 1 });
  assert.ok(sink.lines[0].includes("\x1b["));
});

Deno.test("the buffered sink joins lines into few writes and loses none", async () => {
  const chunks: string[] = [];
  const sink = new BufferedSink({
    write(bytes) {
      chunks.push(new TextDecoder().decode(bytes));
      return Promise.resolve(bytes.length);
    },
  });
  for (let i = 0; i < 1000; i++) sink.write(`line ${i}\n`);
  await sink.flush();
  assert.equal(chunks.length, 1);
  assert.equal(chunks.join("").split("\n").length, 1001);
});

Deno.test("a console that stops taking output costs bounded memory and says what it dropped", async () => {
  let release: (n: number) => void = () => {};
  const chunks: string[] = [];
  let first = true;
  const sink = new BufferedSink({
    write(bytes) {
      chunks.push(new TextDecoder().decode(bytes));
      if (!first) return Promise.resolve(bytes.length);
      first = false;
      return new Promise((resolve) => release = () => resolve(bytes.length));
    },
  }, 100);
  sink.write("first\n");
  await Promise.resolve();
  await Promise.resolve();
  for (let i = 0; i < 100; i++) sink.write(`line ${i}\n`); // far more than 100 characters
  release(0);
  await sink.flush();
  const text = chunks.join("");
  assert.match(text, /lines dropped/);
  assert.ok(text.length < 300, `${text.length} characters buffered`);
});

Deno.test("IPv4 clients of a dual-stack listener are shown as plain IPv4", () => {
  assert.deepEqual(peerOf({ transport: "tcp", hostname: "::ffff:10.0.0.7", port: 1 }), {
    hostname: "10.0.0.7",
    port: 1,
  });
  assert.deepEqual(peerOf({ transport: "tcp", hostname: "::1", port: 2 }), {
    hostname: "::1",
    port: 2,
  });
  assert.equal(formatPeer({ hostname: "fe80::1", port: 3 }), "[fe80::1]:3");
});
