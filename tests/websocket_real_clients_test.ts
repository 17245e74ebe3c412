/**
 * IRC over WebSocket on the real server's chat port (issue 22), against
 * WebSocket clients nobody at parley wrote: Python's `websockets` (Debian's
 * 10.4 with /usr/bin/python3, and websockets 15 when `.ci/run` has installed
 * it for irctest, see below) and npm `ws` (through Deno), each driven through
 * the scenarios of tests/fixtures/websocket_real_client.py and
 * tests/fixtures/websocket_real_client_ws.ts while a line client, bob, sits in
 * #lobby. tests/websocket_clients_test.ts runs the same libraries against an
 * echo server built from the codec alone; this is the server itself: the
 * handshake on the port line and IRC clients share, the IRC session, the
 * room, the close codes the transport sends.
 *
 * Per client: the handshake with `text.ircv3.net`, `binary.ircv3.net` first,
 * and none; chat with bob both ways, a fragmented message, a ping answered, a
 * QUIT closed with 1000; the client's close (4000) echoed; a line over IRC's
 * limit answered 417 and a message over 8 KiB closed with 1009; a text frame
 * that is not UTF-8 closed with 1007. A raw socket sends what no library does:
 * an unmasked client frame (1002).
 *
 * The newer websockets is looked for where `.ci/run` installs it for irctest's
 * websocket.py (`IRCTEST_PYTHONPATH`, else `$XDG_CACHE_HOME/parley/irctest-python`,
 * `~/.cache/…`), on PYTHONPATH for its runs only. A client that is missing is
 * said on stderr and its tests skipped. Everything is on loopback; every
 * client process is killed after {@linkcode CLIENT_DEADLINE_MS}.
 */

import assert from "node:assert/strict";
import { startServer, TestClient, type TestServer, waitUntil, withDeadline } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const PYTHON = "/usr/bin/python3";
const PYTHON_CLIENT = new URL("./fixtures/websocket_real_client.py", import.meta.url).pathname;
const WS_CLIENT = new URL("./fixtures/websocket_real_client_ws.ts", import.meta.url).pathname;
/** Where `.ci/run` installs websockets >= 11 for irctest (tests/irctest_test.ts: PYTHON_LIBS). */
const PYTHON_LIBS = Deno.env.get("IRCTEST_PYTHONPATH") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache`}` +
    "/parley/irctest-python";
/** How long a client process may run before it is killed. */
const CLIENT_DEADLINE_MS = 30_000;
/** The server's largest WebSocket message (src/net/websocket.ts DEFAULT_MAX_MESSAGE_BYTES). */
const MAX_MESSAGE = 8192 + 512;

// ---------------------------------------------------------------------------
// The clients

interface Client {
  /** As the test names say it. */
  name: string;
  /** Its nick: short, distinct per client. */
  nick: string;
  command: string;
  args: string[];
  /** The environment, whole, when set (the Python runs get only what they need). */
  env?: Record<string, string>;
  /** Why it cannot run here, or null. */
  missing: string | null;
}

interface Output {
  success: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, killed after `deadlineMs`. */
async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; deadlineMs?: number } = {},
): Promise<Output> {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    clearEnv: options.env !== undefined,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.deadlineMs ?? CLIENT_DEADLINE_MS);
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

/** What a Python run needs of the environment: PATH, HOME, and PYTHONPATH when given. */
function pythonEnv(pythonPath?: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONIOENCODING: "utf-8",
  };
  if (pythonPath !== undefined) env.PYTHONPATH = pythonPath;
  return env;
}

/** The websockets version `PYTHON` imports with that environment, or why it cannot. */
async function websocketsVersion(
  env: Record<string, string>,
): Promise<{ version: string } | { missing: string }> {
  try {
    const probe = await run(
      PYTHON,
      ["-c", "import websockets; print(websockets.__version__)"],
      { env, deadlineMs: 10_000 },
    );
    if (!probe.success) {
      return { missing: `${PYTHON} cannot import websockets: ${probe.stderr.trim().slice(-200)}` };
    }
    return { version: probe.stdout.trim() };
  } catch (error) {
    return { missing: `${PYTHON} is not available (${error})` };
  }
}

async function findClients(): Promise<Client[]> {
  const clients: Client[] = [];
  const debianEnv = pythonEnv();
  const debian = await websocketsVersion(debianEnv);
  clients.push({
    name: `Python websockets ${"version" in debian ? debian.version : "(Debian)"}`,
    nick: "pyweb",
    command: PYTHON,
    args: [PYTHON_CLIENT],
    env: debianEnv,
    missing: "missing" in debian ? `${debian.missing} (.ci/run installs python3-websockets)` : null,
  });

  const newerEnv = pythonEnv(PYTHON_LIBS);
  const newer = await websocketsVersion(newerEnv);
  const major = (v: { version: string } | { missing: string }) =>
    "version" in v ? Number(v.version.split(".")[0]) : 0;
  let newerMissing: string | null = null;
  if (major(newer) < 11) {
    newerMissing = `no websockets >= 11 in ${PYTHON_LIBS} (.ci/run installs 15.0.1 there ` +
      `with pip --target)`;
  } else if ("version" in newer && "version" in debian && newer.version === debian.version) {
    newerMissing = `${PYTHON_LIBS} adds nothing: ${PYTHON} already has websockets ` +
      `${debian.version}, tested above`;
  }
  clients.push({
    name: `Python websockets ${
      "version" in newer && newerMissing === null ? newer.version : ">= 11"
    }`,
    nick: "pynew",
    command: PYTHON,
    args: [PYTHON_CLIENT],
    env: newerEnv,
    missing: newerMissing,
  });

  const wsArgs = ["run", "--no-config", "--no-lock", "-A", WS_CLIENT];
  let wsMissing: string | null = null;
  try {
    // The first run downloads ws from the npm registry.
    const probe = await run(Deno.execPath(), [...wsArgs, "-", "probe"], { deadlineMs: 60_000 });
    if (!probe.success) wsMissing = `npm ws cannot be loaded: ${probe.stderr.trim().slice(-300)}`;
  } catch (error) {
    wsMissing = `npm ws cannot be loaded: ${error}`;
  }
  clients.push({
    name: "npm ws 8.23.1",
    nick: "nodews",
    command: Deno.execPath(),
    args: wsArgs,
    missing: wsMissing,
  });

  for (const client of clients) {
    if (client.missing !== null) {
      console.error(
        `websocket_real_clients_test: SKIPPING the ${client.name} tests: ${client.missing}`,
      );
    }
  }
  return clients;
}

const clients = await findClients();

/** What a fixture prints (both print the same shape). */
interface Result {
  scenario: string;
  library: string;
  subprotocol?: string | null;
  /** Messages in order: a string for a text message, `{ binary: text }` for a binary one. */
  received: (string | { binary: string })[];
  pong?: boolean;
  close_code?: number | null;
  close_reason?: string | null;
  failure?: string;
}

/** Starts one scenario of `client` against `server`; `result` ends when the client does. */
function start(
  client: Client,
  server: TestServer,
  scenario: string,
  arg = "",
): { result: Promise<Result> } {
  const url = `ws://127.0.0.1:${server.port}/`;
  const output = run(client.command, [...client.args, url, scenario, client.nick, arg], {
    env: client.env,
  });
  const result = output.then((out) => {
    const last = out.stdout.trim().split("\n").at(-1) ?? "";
    if (!out.success || !last.startsWith("{")) {
      assert.fail(`${client.name} (${scenario}) failed:\n${out.stdout}\n${out.stderr}`);
    }
    const parsed = JSON.parse(last) as Result;
    assert.equal(parsed.failure, undefined, `${client.name} (${scenario}): ${parsed.failure}`);
    return parsed;
  });
  // A failure is reported where the test awaits it; not as an unhandled rejection meanwhile.
  result.catch(() => {});
  return { result };
}

/** The server's console lines about `nick`. */
function consoleLines(server: TestServer, nick: string): string[] {
  return server.log.lines.filter((line) => line.includes(` ${nick} `));
}

function clientTest(client: Client, title: string, fn: (client: Client) => Promise<void>): void {
  Deno.test({
    name: `${client.name}: ${title}`,
    ignore: client.missing !== null,
    fn: () => fn(client),
  });
}

for (const client of clients) {
  clientTest(
    client,
    "text.ircv3.net; chats with a line client in #lobby both ways, a fragmented message, a ping, QUIT closes with 1000",
    async ({ nick }) => {
      const t = startServer();
      const bob = await TestClient.join(t.port, "bob");
      try {
        const reply = `hi ${nick}, from a line client ✓`;
        const { result } = start(client, t, "chat", reply);
        await bob.expect(new RegExp(`<${nick}> hello from ${nick}$`), 15_000);
        bob.send(reply);
        await bob.expect(new RegExp(`<${nick}> fragmented ✓$`), 15_000);
        const r = await result;
        assert.equal(r.subprotocol, "text.ircv3.net");
        const fromBob = new RegExp(`^:bob!\\S+ PRIVMSG #lobby :${reply}$`);
        assert.ok(
          r.received.some((m) => typeof m === "string" && fromBob.test(m)),
          `bob's line reached ${nick}:\n${r.received.join("\n")}`,
        );
        for (const message of r.received) {
          assert.equal(typeof message, "string", "text frames in text.ircv3.net");
          assert.doesNotMatch(message as string, /[\r\n]/, "one line per message, no CR LF");
        }
        assert.equal(r.pong, true, "the ping was answered with its data");
        assert.ok(r.received.some((m) => /^ERROR /.test(m as string)), "ERROR before the close");
        assert.equal(r.close_code, 1000, "QUIT closes with 1000");
        await bob.expect(new RegExp(`${nick}.*(left|quit)`, "i"));
        const lines = consoleLines(t, nick).join("\n");
        assert.match(lines, /connect +127\.0\.0\.1:\d+ +\S+ +online=\d+ +web/);
        assert.match(
          lines,
          new RegExp(`message +127\\.0\\.0\\.1:\\d+ +${nick} +#lobby +fragmented ✓`),
        );
        assert.match(lines, /disconnect .*reason="quit: done here".* web/);
      } finally {
        bob.close();
        await t.close();
      }
    },
  );

  clientTest(
    client,
    "binary.ircv3.net first: binary messages both ways; the client's close (4000) is echoed",
    async ({ nick }) => {
      const t = startServer();
      const bob = await TestClient.join(t.port, "bob");
      try {
        const { result } = start(client, t, "binary");
        await bob.expect(new RegExp(`<${nick}> in binary ✓$`), 15_000);
        const r = await result;
        assert.equal(r.subprotocol, "binary.ircv3.net");
        assert.ok(r.received.length > 0);
        for (const message of r.received) {
          assert.equal(typeof message, "object", `a binary message: ${JSON.stringify(message)}`);
        }
        assert.ok(
          r.received.some((m) => typeof m === "object" && / 001 /.test(m.binary)),
          "the welcome, in binary",
        );
        assert.equal(r.close_code, 4000, "the client's close code, echoed");
        await bob.expect(new RegExp(`${nick}.*(left|quit)`, "i"));
        await waitUntil(
          () => consoleLines(t, nick).some((l) => / disconnect /.test(l)),
          "the disconnect line",
        );
        const disconnect = consoleLines(t, nick).find((l) => / disconnect /.test(l))!;
        assert.match(disconnect, /reason="closed: WebSocket close code 4000 \\"bye\\""/);
      } finally {
        bob.close();
        await t.close();
      }
    },
  );

  clientTest(
    client,
    "no subprotocol: text; a line over IRC's limit gets 417, a message over 8 KiB closes with 1009",
    async ({ nick }) => {
      const t = startServer();
      const bob = await TestClient.join(t.port, "bob");
      try {
        const r = await start(client, t, "oversized", String(MAX_MESSAGE + 1000)).result;
        assert.equal(r.subprotocol, null);
        assert.ok(r.received.every((m) => typeof m === "string"), "text frames without one");
        assert.ok(r.received.some((m) => / 417 /.test(m as string)), "417 for a long line");
        assert.equal(r.close_code, 1009);
        assert.match(r.close_reason ?? "", /message over 8704 bytes/);
        // The server is none the worse: bob still chats.
        const carol = await TestClient.join(t.port, "carol");
        bob.send("still here");
        await carol.expect(/<bob> still here$/);
        carol.close();
        await waitUntil(
          () => consoleLines(t, nick).some((l) => / disconnect /.test(l)),
          "the disconnect line",
        );
      } finally {
        bob.close();
        await t.close();
      }
    },
  );

  clientTest(client, "a text frame that is not UTF-8 closes with 1007", async ({ nick }) => {
    const t = startServer();
    const bob = await TestClient.join(t.port, "bob");
    try {
      const r = await start(client, t, "bad-utf8").result;
      assert.equal(r.subprotocol, "text.ircv3.net");
      assert.equal(r.close_code, 1007);
      assert.equal(r.close_reason, "invalid UTF-8");
      await waitUntil(
        () => consoleLines(t, nick).some((l) => / disconnect /.test(l)),
        "the disconnect line",
      );
      assert.ok(!bob.lines.some((l) => l.includes("caf")), "the bad line went nowhere");
    } finally {
      bob.close();
      await t.close();
    }
  });
}

// ---------------------------------------------------------------------------
// A raw socket: what no library sends

/** A masked client frame (RFC 6455 §5.2), or unmasked with `mask: false`. */
function clientFrame(opcode: number, text: string, mask = true): Uint8Array {
  const data = encoder.encode(text);
  assert.ok(data.length < 126);
  const key = mask ? crypto.getRandomValues(new Uint8Array(4)) : new Uint8Array(0);
  const out = new Uint8Array(2 + key.length + data.length);
  out[0] = 0x80 | opcode;
  out[1] = (mask ? 0x80 : 0) | data.length;
  out.set(key, 2);
  for (let i = 0; i < data.length; i++) {
    out[2 + key.length + i] = mask ? data[i] ^ key[i % 4] : data[i];
  }
  return out;
}

/** Server frames in `bytes` (after the handshake's head). */
function serverFrames(bytes: Uint8Array): { opcode: number; payload: Uint8Array }[] {
  const frames = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    assert.equal(bytes[at + 1] & 0x80, 0, "server frames are not masked");
    let length = bytes[at + 1] & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = (bytes[at + 2] << 8) | bytes[at + 3];
      start = at + 4;
    } else if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
      start = at + 10;
    }
    if (start + length > bytes.length) break;
    frames.push({ opcode: bytes[at] & 0x0f, payload: bytes.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}

Deno.test("raw socket on the real server: an unmasked client frame is refused with close 1002", async () => {
  const t = startServer();
  const bob = await TestClient.join(t.port, "bob");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  let received = new Uint8Array(0);
  let ended = false;
  const reading = (async () => {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        const grown = new Uint8Array(received.length + n);
        grown.set(received);
        grown.set(buffer.subarray(0, n), received.length);
        received = grown;
      }
    } catch { /* reset: what came is what there is */ }
    ended = true;
  })();
  const afterHead = () => {
    const text = new TextDecoder("latin1").decode(received);
    const end = text.indexOf("\r\n\r\n");
    return end === -1 ? null : { head: text.slice(0, end), frames: received.subarray(end + 4) };
  };
  const texts = () =>
    serverFrames(afterHead()?.frames ?? new Uint8Array(0))
      .filter((f) => f.opcode === 0x1).map((f) => decoder.decode(f.payload));
  try {
    await conn.write(encoder.encode(
      `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n",
    ));
    await waitUntil(() => afterHead() !== null, "the handshake's answer");
    assert.match(afterHead()!.head, /^HTTP\/1\.1 101 /);
    assert.match(afterHead()!.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
    for (const line of ["NICK rawweb", "USER raw 0 * :raw", "JOIN #lobby"]) {
      await conn.write(clientFrame(0x1, line));
    }
    await waitUntil(
      () => texts().some((m) => / 366 rawweb #lobby /.test(m)),
      () => `joined #lobby; got:\n${texts().join("\n")}`,
    );
    await conn.write(clientFrame(0x1, "PRIVMSG #lobby :masked, as it should be"));
    await bob.expect(/<rawweb> masked, as it should be$/);

    await conn.write(clientFrame(0x1, "PRIVMSG #lobby :unmasked", false));
    await withDeadline(reading, 5000, "the server closing the connection");
    assert.ok(ended);
    const frames = serverFrames(afterHead()!.frames);
    const last = frames.at(-1)!;
    assert.equal(last.opcode, 0x8, "the last frame is a close");
    assert.equal((last.payload[0] << 8) | last.payload[1], 1002);
    assert.equal(decoder.decode(last.payload.subarray(2)), "unmasked client frame");
    await bob.expect(/rawweb.*(left|quit)/i);
    assert.ok(!bob.lines.some((l) => l.includes("<rawweb> unmasked")), "the frame went nowhere");
    await waitUntil(
      () => consoleLines(t, "rawweb").some((l) => / disconnect /.test(l)),
      "the disconnect line",
    );
    assert.match(
      consoleLines(t, "rawweb").find((l) => / disconnect /.test(l))!,
      /unmasked client frame/,
    );
  } finally {
    conn.close();
    bob.close();
    await t.close();
  }
});
