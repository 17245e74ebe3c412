/** The real CLI as real processes: `main.ts server` and `main.ts client`, always killed and awaited. */

import assert from "node:assert/strict";
import {
  OutputCollector,
  runCli,
  type ServerProcess,
  spawnCli,
  startServerProcess,
  TestClient,
} from "./helpers.ts";

async function withServer(
  extra: string[],
  test: (server: ServerProcess) => Promise<void>,
): Promise<void> {
  const server = await startServerProcess(extra);
  try {
    await test(server);
  } finally {
    await server.stop("SIGKILL");
  }
}

Deno.test("--help and --version answer and exit 0", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /parley server \[options\]/);
  const serverHelp = await runCli(["server", "--help"]);
  assert.match(serverHelp.stdout, /--max-line BYTES/);
  const clientHelp = await runCli(["client", "-h"]);
  assert.match(clientHelp.stdout, /--name NICK/);
  const bare = await runCli([]);
  assert.equal(bare.code, 0, "parley alone shows the help");
  assert.equal(bare.stdout, help.stdout);
  const version = await runCli(["--version"]);
  assert.match(version.stdout, /^parley \d+\.\d+\.\d+\n$/);
});

Deno.test("wrong flags and values: one line on stderr naming the flag, exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["server", "--bogus"], /unknown option '--bogus'/],
    [["server", "--port", "99999"], /invalid value '99999' for --port/],
    [["server", "--port"], /option '--port' needs a value/],
    [["server", "--log", "xml"], /invalid value 'xml' for --log/],
    [["server", "--max-line", "lots"], /invalid value 'lots' for --max-line/],
    [["server", "--tls-cert", "x.pem"], /--tls-cert and --tls-key go together/],
    [["client", "--name", "no spaces allowed"], /invalid value 'no spaces allowed' for --name/],
    [["client", "a", "b"], /unexpected argument 'b'/],
    [["dance"], /unknown command 'dance'/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: exit code`);
    assert.match(result.stderr, message, args.join(" "));
    assert.equal(
      result.stderr.trim().split("\n").length,
      1,
      `${args.join(" ")}: one line, got ${result.stderr}`,
    );
    assert.match(result.stderr, /--help/, "a usage hint");
  }
});

Deno.test("a port already in use: one clear line, exit code 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String(taken.addr.port);
  const result = await runCli(["server", "--host", "127.0.0.1", "--port", port]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr.trim(),
    `parley server: cannot listen on 127.0.0.1:${port}: address already in use`,
  );
});

Deno.test("a missing certificate: one clear line, exit code 1", async () => {
  const result = await runCli([
    "server",
    "--port",
    "0",
    "--tls-cert",
    "/nonexistent/cert.pem",
    "--tls-key",
    "k.pem",
  ]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr.trim(),
    "parley server: cannot read --tls-cert /nonexistent/cert.pem: no such file",
  );
});

Deno.test("the client with nobody listening: clear message, exit code 1", async () => {
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = free.addr.port;
  free.close();
  const result = await runCli(["client", `127.0.0.1:${port}`]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: connection refused`),
  );
});

Deno.test("server and piped client as processes: messages arrive, the console shows all, SIGTERM exits 0", async () => {
  const server = await startServerProcess();
  try {
    const bob = await TestClient.join(server.port, "bob");
    const result = await runCli(["client", `127.0.0.1:${server.port}`, "--name", "alice"], {
      stdin: "hello from a pipe\n你好 👍\r\nlast line without newline",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /connected to 127\.0\.0\.1:\d+/);
    // --name: the first line is /nick alice, so alice arrives as alice (no guest-N first).
    assert.match(result.stdout, /^\*\*\* welcome to parley, you are alice$/m);
    assert.match(result.stdout, /^\*\*\* bye$/m);
    await bob.expect("<alice> hello from a pipe");
    await bob.expect("<alice> 你好 👍");
    await bob.expect("<alice> last line without newline");
    await bob.expect("*** alice left (quit)");
    bob.close();

    await server.stdout.waitFor(/disconnect  127\.0\.0\.1:\d+ +bob/);
    assert.equal(await server.stop("SIGTERM"), 0);
    const console = server.stdout.text;
    const alicePort = /connect +127\.0\.0\.1:(\d+) +alice  online=2/.exec(console)?.[1];
    assert.ok(alicePort, console);
    assert.match(
      console,
      new RegExp(`message +127\\.0\\.0\\.1:${alicePort} +alice  #lobby  你好 👍`),
    );
    assert.match(
      console,
      new RegExp(`disconnect  127\\.0\\.0\\.1:${alicePort} +alice  reason="quit"`),
    );
    assert.match(console, /shutdown +reason=SIGTERM/);
  } finally {
    await server.stop("SIGKILL");
  }
});

Deno.test("two CLI clients chat; the one left open gets what the piped one said, then leaves at end of input", async () => {
  await withServer([], async (server) => {
    const listener = spawnCli(["client", "--port", String(server.port), "--name", "carol"]);
    const heard = new OutputCollector(listener.stdout);
    const status = new OutputCollector(listener.stderr);
    const keyboard = listener.stdin.getWriter();
    try {
      await heard.waitFor(/welcome to parley, you are carol/);
      const talker = await runCli(["client", "--port", String(server.port), "--name", "dave"], {
        stdin: "hi carol\n",
      });
      assert.equal(talker.code, 0);
      await heard.waitFor(/^<dave> hi carol$/m);
      await keyboard.close();
      assert.equal((await listener.status).code, 0);
      await Promise.all([heard.done, status.done]);
      assert.match(heard.text, /^\*\*\* bye$/m);
    } finally {
      await keyboard.close().catch(() => {});
      try {
        listener.kill("SIGKILL");
      } catch { /* exited */ }
      await listener.status;
    }
  });
});

Deno.test("the server going away ends the client with a clear message and exit code 1", async () => {
  const server = await startServerProcess();
  const client = spawnCli(["client", "--port", String(server.port)]);
  const status = new OutputCollector(client.stderr);
  const heard = new OutputCollector(client.stdout);
  try {
    await heard.waitFor(/welcome to parley/);
    assert.equal(await server.stop("SIGTERM"), 0);
    assert.equal((await client.status).code, 1);
    await Promise.all([status.done, heard.done]);
    assert.match(heard.text, /server shutting down/);
    assert.match(status.text, /connection to 127\.0\.0\.1:\d+ closed by the server/);
  } finally {
    await server.stop("SIGKILL");
    try {
      client.kill("SIGKILL");
    } catch { /* exited */ }
    await client.status;
    await client.stdin.close().catch(() => {});
  }
});

Deno.test("--log json writes one JSON object per event", async () => {
  await withServer(["--log", "json"], async (server) => {
    const client = await TestClient.join(server.port, "jay");
    client.send("json please");
    await server.stdout.waitFor(/"event":"message"/);
    client.close();
    await server.stdout.waitFor(/"event":"disconnect"/);
    const records = server.stdout.text.trim().split("\n").map((line) => JSON.parse(line));
    const message = records.find((record) => record.event === "message");
    assert.deepEqual(
      {
        addr: message.addr,
        port: message.port,
        nick: message.nick,
        room: message.room,
        text: message.text,
      },
      {
        addr: "127.0.0.1",
        port: client.localPort,
        nick: "jay",
        room: "lobby",
        text: "json please",
      },
    );
  });
});
