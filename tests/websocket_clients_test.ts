/**
 * The HTTP head reader and the WebSocket codec against clients nobody at
 * parley wrote: Python's `websockets` (Debian's /usr/bin/python3) and npm
 * `ws` (in a Deno subprocess), each driven through one scenario per test
 * (tests/fixtures/websocket_client.py, tests/fixtures/websocket_client_ws.ts)
 * against a small echo server built here from the modules alone. A raw
 * socket sends what libraries never do (an unmasked client frame).
 *
 * The echo server, per text message: `CLOSE` → it closes (1000, "bye");
 * `PING-ME` → it pings; `LINES n` → n IRC lines through `frameIrcLines` in
 * the connection's mode; anything else → echoed. Binary messages are echoed.
 */

import assert from "node:assert/strict";
import { HttpHeadReader, type HttpHeadResult, httpResponse } from "../src/net/http.ts";
import { WebSocketDecoder } from "../src/net/websocket_decoder.ts";
import {
  binaryFrame,
  closeFrame,
  frameIrcLines,
  pingFrame,
  pongFrame,
  textFrame,
} from "../src/net/websocket_frames.ts";
import { acceptWebSocket } from "../src/net/websocket_handshake.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const PYTHON = "/usr/bin/python3";
const PYTHON_CLIENT = new URL("./fixtures/websocket_client.py", import.meta.url).pathname;
const WS_CLIENT = new URL("./fixtures/websocket_client_ws.ts", import.meta.url).pathname;
/** The echo server's message limit: small, so that "oversized" is quick. */
const MAX_MESSAGE = 1024;
/** How long a connection may live on the echo server, whatever happens. */
const CONNECTION_DEADLINE_MS = 10_000;
/** How long the server waits, after closing on an error, for the client to close too. */
const DRAIN_MS = 2_000;
/** How long a client process may run before it is killed. */
const CLIENT_DEADLINE_MS = 20_000;

// ---------------------------------------------------------------------------
// The echo server

interface Session {
  /** What the server saw and did, in order. */
  log: string[];
  done: Promise<void>;
}

interface EchoServer {
  port: number;
  sessions: Session[];
  close(): Promise<void>;
}

function startEchoServer(): EchoServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sessions: Session[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      const log: string[] = [];
      sessions.push({ log, done: serveConnection(conn, log) });
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    sessions,
    async close() {
      listener.close();
      await accepting;
      await Promise.all(sessions.map((session) => session.done));
    },
  };
}

/** The IRC lines `LINES n` asks for. */
function ircLines(count: number): string {
  let lines = "";
  for (let i = 1; i <= count; i++) lines += `:parley NOTICE * :line ${i}\r\n`;
  return lines;
}

async function serveConnection(conn: Deno.Conn, log: string[]): Promise<void> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const deadline = setTimeout(() => {
    log.push("deadline");
    close();
  }, CONNECTION_DEADLINE_MS);
  const buffer = new Uint8Array(16 * 1024);
  const read = async (): Promise<Uint8Array | null> => {
    try {
      const n = await conn.read(buffer);
      return n === null ? null : buffer.subarray(0, n);
    } catch (error) {
      if (!closed) log.push(`read failed: ${error}`);
      return null;
    }
  };
  const write = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  };
  /** After closing on an error: read until the client closes, so it gets the close frame, not a reset. */
  const drain = async () => {
    await conn.closeWrite().catch(() => {});
    const timer = setTimeout(close, DRAIN_MS);
    while ((await read()) !== null) { /* discarded */ }
    clearTimeout(timer);
  };
  try {
    const reader = new HttpHeadReader();
    let result: HttpHeadResult = { kind: "more" };
    while (result.kind === "more") {
      const bytes = await read();
      if (bytes === null) return;
      result = reader.push(bytes);
    }
    if (result.kind === "error") {
      log.push(`http ${result.status}`);
      await write(httpResponse(result.status, { body: result.reason + "\n" }));
      return;
    }
    const handshake = acceptWebSocket(result.head);
    await write(handshake.response);
    if (!handshake.ok) {
      log.push(`refused ${handshake.status}`);
      return;
    }
    log.push(`open ${handshake.protocol}`);
    const frames = new WebSocketDecoder({ maxMessage: MAX_MESSAGE });
    let closeSent = false;
    for (let chunk: Uint8Array | null = result.rest; chunk !== null; chunk = await read()) {
      frames.push(chunk);
      for (let event = frames.next(); event !== null; event = frames.next()) {
        switch (event.type) {
          case "text": {
            const text = decoder.decode(event.data);
            log.push(`text ${text.length > 60 ? `of ${text.length} chars` : text}`);
            if (text === "CLOSE") {
              await write(closeFrame(1000, "bye"));
              closeSent = true;
            } else if (text === "PING-ME") {
              await write(pingFrame(encoder.encode("from-parley")));
            } else if (text.startsWith("LINES ")) {
              await write(frameIrcLines(ircLines(Number(text.slice(6))), handshake.mode));
            } else {
              await write(textFrame(event.data));
            }
            break;
          }
          case "binary":
            log.push(`binary ${[...event.data]}`);
            await write(binaryFrame(event.data));
            break;
          case "ping":
            log.push(`ping ${decoder.decode(event.data)}`);
            await write(pongFrame(event.data));
            break;
          case "pong":
            log.push(`pong ${decoder.decode(event.data)}`);
            break;
          case "close":
            log.push(`close ${event.code} ${event.reason}`);
            if (!closeSent) {
              await write(
                event.code === null ? closeFrame() : closeFrame(event.code, event.reason),
              );
            }
            return; // the server closes the TCP connection first (RFC 6455 §7.1.1)
          case "error":
            log.push(`error ${event.code} ${event.reason}`);
            await write(closeFrame(event.code, event.reason));
            await drain();
            return;
        }
      }
    }
    log.push("eof");
  } catch (error) {
    log.push(`failed: ${error}`);
  } finally {
    clearTimeout(deadline);
    await conn.closeWrite().catch(() => {});
    close();
  }
}

// ---------------------------------------------------------------------------
// The clients

type ClientResult = Record<string, unknown> & {
  subprotocol?: string | null;
  received?: unknown[];
  close_code?: number;
  close_reason?: string;
};

async function runProcess(
  command: string,
  args: string[],
  deadlineMs = CLIENT_DEADLINE_MS,
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, deadlineMs);
  try {
    const output = await child.output();
    return {
      success: output.success,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

const wsArgs = (...args: string[]) => ["run", "--no-config", "--no-lock", "-A", WS_CLIENT, ...args];

const clients = {
  python: (port: number, scenario: string, arg = "") =>
    runProcess(PYTHON, [PYTHON_CLIENT, String(port), scenario, arg]),
  ws: (port: number, scenario: string, arg = "") =>
    runProcess(Deno.execPath(), wsArgs(String(port), scenario, arg)),
};
type ClientName = keyof typeof clients;

/** Why a client cannot run here, or null when it can. */
async function missing(name: ClientName): Promise<string | null> {
  if (name === "python") {
    try {
      const probe = await runProcess(PYTHON, ["-c", "import websockets"], 10_000);
      return probe.success ? null : `${PYTHON} cannot import websockets: ${probe.stderr.trim()}`;
    } catch (error) {
      return `${PYTHON} is not available (${error})`;
    }
  }
  const probe = await runProcess(Deno.execPath(), wsArgs("0", "probe"), 60_000);
  return probe.success ? null : `npm ws cannot be loaded: ${probe.stderr.trim().slice(-300)}`;
}

const unavailable: Record<ClientName, string | null> = {
  python: await missing("python"),
  ws: await missing("ws"),
};
for (const [name, why] of Object.entries(unavailable)) {
  if (why !== null) {
    console.error(`websocket_clients_test: skipping the ${name} client tests: ${why}`);
  }
}

/** Starts an echo server, runs one client scenario against it, and gives both sides' accounts. */
async function converse(
  name: ClientName,
  scenario: string,
  arg = "",
): Promise<{ client: ClientResult; log: string[] }> {
  const server = startEchoServer();
  let output;
  try {
    output = await clients[name](server.port, scenario, arg);
  } finally {
    await server.close();
  }
  const log = server.sessions.flatMap((session) => session.log);
  if (!output.success) {
    assert.fail(
      `the ${name} client failed (${scenario}):\n${output.stderr}\nserver: ${log.join(" | ")}`,
    );
  }
  const client = JSON.parse(output.stdout.trim().split("\n").at(-1)!) as ClientResult;
  assert.equal(client.failure, undefined, `${name} (${scenario}): ${client.failure}`);
  assert.equal(server.sessions.length, 1, "one connection");
  assert.ok(!log.includes("deadline"), `the connection ended in time: ${log.join(" | ")}`);
  return { client, log };
}

/** The messages a client received, from either client's report. */
function received(client: ClientResult): unknown[] {
  if (client.received) return client.received;
  const events = (client.events ?? []) as { kind: string; data: unknown; binary: boolean }[];
  return events.filter((e) => e.kind === "message").map((e) =>
    e.binary ? { binary: e.data } : e.data
  );
}

const bytesOf = (text: string) => [...encoder.encode(text)];

function clientTest(name: ClientName, title: string, fn: () => Promise<void>): void {
  Deno.test({ name: `${name}: ${title}`, ignore: unavailable[name] !== null, fn });
}

for (const name of ["python", "ws"] as const) {
  clientTest(name, "handshake with text.ircv3.net; text and binary messages echoed", async () => {
    const { client, log } = await converse(name, "echo");
    assert.equal(client.subprotocol, "text.ircv3.net");
    assert.deepEqual(received(client), [
      "NICK alice",
      { binary: [0, 1, 255] },
      "PRIVMSG #c :héllo 👍",
    ]);
    assert.equal(client.close_code, 1000);
    assert.deepEqual(log.slice(0, 4), [
      "open text.ircv3.net",
      "text NICK alice",
      "binary 0,1,255",
      "text PRIVMSG #c :héllo 👍",
    ]);
    assert.match(log[4], /^close 1000/);
  });

  clientTest(name, "binary.ircv3.net first: IRC lines come in binary frames", async () => {
    const { client, log } = await converse(name, "binary");
    assert.equal(client.subprotocol, "binary.ircv3.net");
    assert.deepEqual(received(client), [
      { binary: bytesOf("NICK bob") },
      { binary: bytesOf(":parley NOTICE * :line 1") },
      { binary: bytesOf(":parley NOTICE * :line 2") },
    ]);
    assert.equal(log[0], "open binary.ircv3.net");
  });

  clientTest(name, "IRC output: one message per line, CR LF removed", async () => {
    const { client } = await converse(name, "lines");
    assert.deepEqual(received(client), [1, 2, 3].map((i) => `:parley NOTICE * :line ${i}`));
  });

  clientTest(name, "a fragmented message arrives whole", async () => {
    const { client, log } = await converse(name, "fragmented");
    assert.equal(log[1], "text PRIVMSG #c :fragmented ✓");
    assert.equal(received(client)[0], "PRIVMSG #c :fragmented ✓");
    if (name === "python") {
      assert.equal(log[2], "binary 1,2,3");
      assert.deepEqual(received(client)[1], { binary: [1, 2, 3] });
    }
  });

  clientTest(name, "an oversized message: the client sees close 1009", async () => {
    const { client, log } = await converse(name, "oversized", String(MAX_MESSAGE * 5));
    assert.equal(client.close_code, 1009);
    assert.deepEqual(log, ["open text.ircv3.net", `error 1009 message over ${MAX_MESSAGE} bytes`]);
  });

  clientTest(name, "ping and pong both ways", async () => {
    const { client, log } = await converse(name, "ping");
    assert.ok(log.includes(`ping from-${name}`), log.join(" | "));
    assert.ok(log.includes("pong from-parley"), log.join(" | "));
    assert.deepEqual(received(client), ["after"]);
    if (name === "python") assert.equal(client.pong, true);
    if (name === "ws") {
      const events = client.events as { kind: string; data: string }[];
      assert.ok(events.some((e) => e.kind === "pong" && e.data === "from-ws"));
      assert.ok(events.some((e) => e.kind === "ping" && e.data === "from-parley"));
    }
  });

  clientTest(name, "the client closes (1000): the server answers and closes", async () => {
    const { client, log } = await converse(name, "client-close");
    assert.equal(client.close_code, 1000);
    assert.equal(client.close_reason, "done");
    assert.deepEqual(log, ["open text.ircv3.net", "text hello", "close 1000 done"]);
  });

  clientTest(name, "the server closes (1000): the client answers", async () => {
    const { client, log } = await converse(name, "server-close");
    assert.equal(client.close_code, 1000);
    assert.equal(client.close_reason, "bye");
    assert.equal(log[1], "text CLOSE");
    assert.match(log[2], /^close 1000/, "the client's answering close frame was read");
  });

  clientTest(name, "invalid UTF-8 in a text message: the client sees close 1007", async () => {
    const { client, log } = await converse(name, "invalid-utf8");
    assert.equal(client.close_code, 1007);
    assert.deepEqual(log, ["open text.ircv3.net", "error 1007 invalid UTF-8"]);
  });
}

clientTest("python", "no subprotocol offered: accepted without one, text frames", async () => {
  const { client, log } = await converse("python", "no-subprotocol");
  assert.equal(client.subprotocol, null);
  assert.equal(log[0], "open null");
  assert.deepEqual(received(client)[0], "NICK alice");
});

// ---------------------------------------------------------------------------
// A raw socket: what libraries never send

/** Reads from `conn` until `done(bytes so far)` or EOF, within a deadline. */
async function readUntil(
  conn: Deno.Conn,
  done: (bytes: Uint8Array) => boolean,
  deadlineMs = 5000,
): Promise<Uint8Array> {
  const timer = setTimeout(() => conn.close(), deadlineMs);
  let bytes = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  try {
    while (!done(bytes)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const grown = new Uint8Array(bytes.length + n);
      grown.set(bytes);
      grown.set(buffer.subarray(0, n), bytes.length);
      bytes = grown;
    }
  } finally {
    clearTimeout(timer);
  }
  return bytes;
}

const endOfHead = (bytes: Uint8Array) => decoder.decode(bytes).includes("\r\n\r\n");

Deno.test("raw socket: an unmasked client frame is refused with close 1002", async () => {
  const server = startEchoServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(encoder.encode(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n",
    ));
    const head = decoder.decode(await readUntil(conn, endOfHead));
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    assert.match(head, /\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n/);
    // "hi", unmasked.
    await conn.write(Uint8Array.from([0x81, 0x02, 0x68, 0x69]));
    const reply = await readUntil(conn, () => false); // until the server closes
    assert.equal(reply[0], 0x88, "a close frame");
    assert.equal((reply[2] << 8) | reply[3], 1002);
    assert.equal(decoder.decode(reply.subarray(4, 2 + reply[1])), "unmasked client frame");
    assert.equal(reply.length, 2 + reply[1], "nothing after the close frame");
  } finally {
    conn.close();
    await server.close();
  }
  assert.deepEqual(server.sessions[0].log, [
    "open text.ircv3.net",
    "error 1002 unmasked client frame",
  ]);
});

Deno.test("raw socket: frames sent with the request are kept; bad handshakes get their status", async () => {
  const server = startEchoServer();
  try {
    // The request and a masked "NICK a" in one write.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      const frame = [
        0x81,
        0x86,
        1,
        2,
        3,
        4,
        ...encoder.encode("NICK a").map((b, i) => b ^ (i % 4 + 1)),
      ];
      const request = encoder.encode(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      await conn.write(Uint8Array.from([...request, ...frame]));
      // The 101 head, then the echo: a text frame (0x81), 6 bytes, unmasked.
      const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
      const bytes = await readUntil(conn, (b) => latin1(b).endsWith("\r\n\r\n\x81\x06NICK a"));
      const text = latin1(bytes);
      assert.match(text, /^HTTP\/1\.1 101 /);
      assert.doesNotMatch(text, /Sec-WebSocket-Protocol/);
      assert.ok(text.endsWith("\r\n\r\n\x81\x06NICK a"), JSON.stringify(text));
    } finally {
      conn.close();
    }
    for (
      const [request, status] of [
        [
          "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 8\r\n\r\n",
          426,
        ],
        ["GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400],
        ["GET / HTTP/2.0\r\n\r\n", 505],
      ] as const
    ) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        await conn.write(encoder.encode(request));
        const reply = decoder.decode(await readUntil(conn, () => false));
        assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `));
        if (status === 426) assert.match(reply, /\r\nSec-WebSocket-Version: 13\r\n/);
      } finally {
        conn.close();
      }
    }
  } finally {
    await server.close();
  }
});
