/**
 * What a new user tripped over (issue 9), each as it happens: Ctrl-C on
 * `deno task server` (the whole process group is signalled), telnet's command
 * bytes, a piped `exit`, other protocols on the chat port, and the privacy
 * switch. Real sockets and real processes.
 */

import assert from "node:assert/strict";
import {
  delay,
  missingTools,
  OutputCollector,
  runCli,
  startServer,
  startServerProcess,
  TestClient,
  waitUntil,
} from "./helpers.ts";
import { SNIFF_TIMEOUT_MS } from "../src/net/sniff.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const encoder = new TextEncoder();
const IAC = 0xff;
const DO = 0xfd;
const WILL = 0xfb;
const WONT = 0xfc;
const BINARY = 0;
const TIMING_MARK = 6;

Deno.test({
  name:
    "Ctrl-C on `deno task server`: the group's copies of SIGINT count as one, shutdown is graceful",
  ignore: await missingTools("Ctrl-C on `deno task server`", "setsid"),
  async fn() {
    // `setsid` gives the task its own process group, as a terminal's foreground job has; Ctrl-C
    // signals that whole group, and `deno task` forwards the signal to the server once more.
    const task = new Deno.Command("setsid", {
      args: [Deno.execPath(), "task", "server", "--host", "127.0.0.1", "--port", "0"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stdout = new OutputCollector(task.stdout);
    const stderr = new OutputCollector(task.stderr);
    let client: TestClient | null = null;
    try {
      const port = Number((await stdout.waitFor(/listening +127\.0\.0\.1:(\d+)/))[1]);
      client = await TestClient.join(port, "nc-user");
      // The group's leader is the process setsid started: its pid is the group id.
      Deno.kill(-task.pid, "SIGINT");
      await client.expect("*** server shutting down");
      await client.expectClosed();
      const { code } = await task.status;
      await Promise.all([stdout.done, stderr.done]);
      assert.equal(code, 0, `exit code 0, not 130\n${stdout.text}${stderr.text}`);
      assert.match(stdout.text, /disconnect +127\.0\.0\.1:\d+ +nc-user  reason="shutdown"/);
      assert.match(stdout.text, /stopped\n$/);
    } finally {
      client?.close();
      try {
        Deno.kill(-task.pid, "SIGKILL");
      } catch { /* gone */ }
      await task.status;
    }
  },
});

Deno.test({
  name:
    "SIGINT copies that keep coming for 100 ms after the first are one stop, even after the stop is done: exit 0",
  ignore: await missingTools("SIGINT copies", "sh", "timeout"),
  async fn() {
    const server = await startServerProcess();
    const client = await TestClient.join(server.port, "nc-user");
    try {
      // As fast as a shell can send them: some land after the server has stopped and is
      // about to exit, where only its own listener stands between a copy and exit code 130.
      const copies = new Deno.Command("timeout", {
        args: ["0.1", "sh", "-c", `while kill -INT ${server.child.pid} 2>/dev/null; do :; done`],
      }).spawn();
      const { code } = await server.child.status;
      await copies.status;
      await Promise.all([server.stdout.done, server.stderr.done]);
      assert.equal(code, 0, `exit code 0, not ${code}\n${server.stdout.text}${server.stderr.text}`);
      assert.match(server.stdout.text, /shutdown +reason=SIGINT/);
      assert.match(server.stdout.text, /stopped\n$/);
    } finally {
      client.close();
    }
  },
});

Deno.test("telnet: command bytes never reach anyone; DO TIMING-MARK is refused; after BINARY, text arrives intact", async () => {
  const server = startServer();
  const bob = await TestClient.join(server.port, "bob");
  // What netkit telnet sends for `x发👍🏽y` in its default mode: 0x8F became IAC AO + DO TIMING-MARK.
  const telnet = await TestClient.connect(server.port);
  try {
    await telnet.write(
      Uint8Array.from([
        ...[0x78, 0xe5, 0xff, 0xf5, 0xff, 0xfd, 0x06, 0x91, 0xf0, 0x9f, 0x91, 0x8d],
        ...[0xf0, 0x9f, 0xff, 0xf5, 0xff, 0xfd, 0x06, 0xbd, 0x79, 0x0d, 0x0a],
      ]),
    );
    await telnet.expect(/^\*\*\* welcome to parley, you are guest-\d+$/);
    const line = await bob.expect(/^<guest-\d+> /);
    assert.ok(!line.includes("\uFFFD"), `no telnet byte became text: ${line}`);
    assert.equal(
      line.replace(/^<guest-\d+> /, ""),
      "x发👍🏽y",
      "the bytes telnet mangled are restored",
    );
    await waitUntil(
      () => hasCommand(telnet, WONT, TIMING_MARK),
      () => `WONT TIMING-MARK, got ${JSON.stringify(telnet.telnetCommands)}`,
    );
    assert.ok(hasCommand(telnet, DO, BINARY), "the server asks for BINARY on the first command");
    assert.ok(
      !hasCommand(telnet, WILL, BINARY),
      "but does not send binary (telnet would staircase)",
    );

    // The telnet user keeps receiving, and once telnet agrees to BINARY its bytes come verbatim.
    bob.send("can you read me?");
    await telnet.expect("<bob> can you read me?");
    await telnet.write(Uint8Array.from([IAC, WILL, BINARY]));
    await telnet.write(encoder.encode("x发👍🏽y\n"));
    await bob.expect(/^<guest-\d+> x发👍🏽y$/);
    // Ctrl-C in telnet: IAC IP, IAC DO TIMING-MARK; it is answered again and nothing is said.
    await telnet.write(Uint8Array.from([IAC, 0xf4, IAC, DO, TIMING_MARK]));
    bob.send("still there?");
    await telnet.expect("<bob> still there?");
    await delay(50);
    assert.ok(!bob.take().some((text) => text.includes("\uFFFD")), "nothing of Ctrl-C was said");
  } finally {
    telnet.close();
    bob.close();
    await server.close();
  }
});

Deno.test("piped client: a line `exit` is a message like any other; end of input leaves", async () => {
  const server = startServer();
  const bob = await TestClient.join(server.port, "bob");
  try {
    const result = await runCli(["client", `127.0.0.1:${server.port}`], {
      stdin: "before\nexit\nafter\n",
    });
    assert.equal(result.code, 0, result.stderr);
    await bob.expect(/^<guest-\d+> before$/);
    await bob.expect(/^<guest-\d+> exit$/);
    await bob.expect(/^<guest-\d+> after$/);
    await bob.expect(/^\*\*\* guest-\d+ left \(quit\)$/);
  } finally {
    bob.close();
    await server.close();
  }
});

Deno.test("piped client with --name: a taken name is an error before anything is sent, exit 1", async () => {
  const server = startServer();
  const bob = await TestClient.join(server.port, "bob");
  try {
    const result = await runCli(["client", `127.0.0.1:${server.port}`, "--name", "BOB"], {
      stdin: "this must not be posted under a guest name\n",
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /parley client: cannot join as BOB: nickname bob is taken\n$/);
    await delay(100);
    assert.ok(!bob.take().some((line) => line.includes("must not be posted")));
  } finally {
    bob.close();
    await server.close();
  }
});

Deno.test("other protocols on the chat port reach no room and no history", async () => {
  const server = startServer();
  const bob = await TestClient.join(server.port, "bob");
  try {
    // A TLS ClientHello (its first bytes are enough): dropped, logged as what it is.
    const tls = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await tls.write(Uint8Array.from([0x16, 0x03, 0x01, 0x01, 0x24, 0x01, 0x00, 0x01, 0x20, 0x03]));
    assert.equal(await readAll(tls), "", "nothing is sent to a TLS client");

    // An HTTP request: the chat page (SPEC §12).
    const http = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await http.write(
      encoder.encode("GET / HTTP/1.1\r\nHost: chat\r\nAccept: */*\r\nConnection: close\r\n\r\n"),
    );
    const reply = await readAll(http);
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(reply, /Content-Type: text\/html; charset=utf-8\r\n/);
    assert.match(reply, /<title>parley<\/title>/);

    // An IRC registration: served as IRC (SPEC §8), never broadcast as chat.
    const irc = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await irc.write(encoder.encode("CAP LS 302\r\nNICK weechat\r\nUSER root 0 * :root\r\n"));
    assert.match(await readAll(irc), /^:\S+ CAP \* LS :/);

    await delay(100);
    const late = await TestClient.join(server.port, "late");
    await delay(100);
    const everything = [...bob.take(), ...late.take()].join("\n");
    for (const trace of ["GET /", "Host:", "CAP LS", "USER root", "\uFFFD"]) {
      assert.ok(!everything.includes(trace), `${trace} reached someone:\n${everything}`);
    }
    // None of them entered the chat: the next guest number went to the late line client.
    assert.match(everything, /\*\*\* guest-2 joined #lobby/);
    assert.doesNotMatch(everything, /guest-[3-9] joined/);
    assert.ok(!everything.includes("last"), "nothing went into the history");
    late.close();
  } finally {
    bob.close();
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.match(log, /refused +127\.0\.0\.1:\d+ +reason="TLS client on a plain port"/);
  assert.match(log, /http +127\.0\.0\.1:\d+ +GET \/  200/);
});

Deno.test("a first line that straddles the sniffing deadline arrives whole, and so does one ended by the client's close", async () => {
  const server = startServer();
  const bob = await TestClient.join(server.port, "bob");
  const clients: TestClient[] = [];
  const connect = async () => {
    const client = await TestClient.connect(server.port);
    clients.push(client);
    return client;
  };
  try {
    // "HEL" could begin an HTTP method: the server waits for more, then takes it for a line client.
    const slow = await connect();
    await slow.write(encoder.encode("HEL"));
    await slow.expect(/^\*\*\* welcome to parley, you are guest-\d+$/, SNIFF_TIMEOUT_MS + 5000);
    await slow.write(encoder.encode("LO there\n"));
    await bob.expect(/^<guest-\d+> HELLO there$/);

    // Closed while the server is still waiting to tell what it is.
    const early = await connect();
    await early.write(encoder.encode("GE"));
    await (early.conn as Deno.TcpConn).closeWrite();
    await bob.expect(/^<guest-\d+> GE$/);

    // Closed after the wait, with the unfinished first line still the only thing sent.
    const late = await connect();
    await late.write(encoder.encode("PO"));
    await late.expect(/^\*\*\* welcome to parley/, SNIFF_TIMEOUT_MS + 5000);
    await (late.conn as Deno.TcpConn).closeWrite();
    await bob.expect(/^<guest-\d+> PO$/);
  } finally {
    for (const client of clients) client.close();
    bob.close();
    await server.close();
  }
});

Deno.test({
  name:
    "a client reset during the sniffing wait is a reset: its unfinished first line reaches no one",
  ignore: await missingTools("reset during the sniffing wait", "python3"),
  async fn() {
    const server = startServer();
    const bob = await TestClient.join(server.port, "bob");
    try {
      // Deno cannot send an RST; Python can: SO_LINGER with a zero timeout, then close.
      const script = `
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"HEL")
time.sleep(0.05)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
`;
      const { code } = await new Deno.Command("python3", {
        args: ["-c", script, String(server.port)],
      }).output();
      assert.equal(code, 0);
      await bob.expect(/^\*\*\* guest-\d+ left \(reset\)$/);
      assert.ok(!bob.lines.some((line) => line.includes("HEL")), bob.lines.join("\n"));
    } finally {
      bob.close();
      await server.close();
    }
    assert.match(
      server.log.lines.join("\n"),
      /disconnect +127\.0\.0\.1:\d+ +guest-\d+  reason="reset"  session=\S+  messages=0/,
    );
  },
});

Deno.test("--no-log-text keeps quit reasons and failed nick text out of the log; the events stay", async () => {
  const server = await startServerProcess(["--no-log-text"]);
  try {
    const alice = await TestClient.join(server.port, "alice");
    alice.send("secret message");
    alice.send("/nick my secret plan");
    await alice.expect(/^!!! nickname may contain only/);
    alice.send("/identfy hunter2");
    await alice.expect(/^!!! unknown command \/identfy/);
    alice.send("/quit secret reason");
    await alice.expectClosed();
    await server.stdout.waitFor(/disconnect .* alice  reason="quit"/);
  } finally {
    await server.stop("SIGTERM");
  }
  const log = server.stdout.text;
  for (const secret of ["secret", "hunter2", "plan"]) {
    assert.ok(!log.includes(secret), `'${secret}' is in the log:\n${log}`);
  }
  assert.match(log, /message +127\.0\.0\.1:\d+ +alice  #lobby\n/, "the message event is kept");
  assert.match(log, /rejected +127\.0\.0\.1:\d+ +alice  nick: bad-characters/);
  assert.match(log, /rejected +127\.0\.0\.1:\d+ +alice  unknown command \/identfy\n/);
  assert.match(log, /disconnect +127\.0\.0\.1:\d+ +alice  reason="quit"  session=/);
});

function hasCommand(client: TestClient, verb: number, option: number): boolean {
  return client.telnetCommands.some(([iac, v, o]) => iac === IAC && v === verb && o === option);
}

/** Everything the server sends until it closes (2 s at most). */
async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), 2000);
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      chunks.push(buffer.slice(0, n));
    }
  } catch {
    // closed by the timer or reset
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  return new TextDecoder().decode(Uint8Array.from(chunks.flatMap((chunk) => [...chunk])));
}

Deno.test("a single server starts from an empty Deno cache without downloading anything (the Redis client is loaded only with --cluster)", async () => {
  const cache = await Deno.makeTempDir({ prefix: "parley-deno-dir-" });
  try {
    const server = await startServerProcess([], { env: { DENO_DIR: cache } });
    const client = await TestClient.join(server.port, "solo");
    client.close();
    assert.equal(await server.stop("SIGTERM"), 0);
    assert.doesNotMatch(server.stderr.text, /Download/, server.stderr.text);
    assert.equal(server.stderr.text, "");
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
