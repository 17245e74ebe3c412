/** TLS: the server with a certificate, TLS clients, plaintext clients on a TLS port, bad certificates. */

import assert from "node:assert/strict";
import {
  delay,
  OutputCollector,
  runCli,
  startServer,
  startServerProcess,
  TEST_TLS,
  TestClient,
  waitUntil,
} from "./helpers.ts";

const TLS_FLAGS = ["--tls-cert", TEST_TLS.certFile, "--tls-key", TEST_TLS.keyFile];

Deno.test("two TLS clients chat; the server logs that it listens with TLS", async () => {
  const server = startServer({ tls: true });
  const alice = await TestClient.join(server.port, "alice", { tls: true });
  const bob = await TestClient.join(server.port, "bob", { tls: true });
  try {
    alice.send("encrypted 你好");
    await bob.expect("<alice> encrypted 你好");
    bob.send("/msg alice and private");
    await alice.expect("*bob* and private");
  } finally {
    alice.close();
    bob.close();
    await server.close();
  }
  assert.match(server.log.lines[0], /listening +127\.0\.0\.1:\d+ +\(tls\)$/);
});

Deno.test("a plaintext client on a TLS port is dropped and logged; TLS clients carry on", async () => {
  const server = startServer({ tls: true });
  const alice = await TestClient.join(server.port, "alice", { tls: true });
  const bob = await TestClient.join(server.port, "bob", { tls: true });
  try {
    const plain = await TestClient.connect(server.port);
    plain.send("hello? is this thing on?");
    await plain.expectClosed();
    assert.ok(
      !plain.lines.some((line) => line.startsWith("***")),
      "no chat for a plaintext client",
    );
    plain.close();
    alice.send("still fine");
    await bob.expect("<alice> still fine");
  } finally {
    alice.close();
    bob.close();
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.match(log, /refused +127\.0\.0\.1:\d+ +reason="TLS handshake failed: [^"]+"/);
  assert.equal((log.match(/ connect /g) ?? []).length, 2, "only the TLS clients joined");
});

Deno.test("clients that never finish a TLS handshake hold their slots, not the server; shutdown still completes", async () => {
  const server = startServer({ tls: true, maxPerIp: 2 });
  const silent = [await TestClient.connect(server.port), await TestClient.connect(server.port)];
  try {
    // Both silent connections count against the per-address limit while they handshake.
    const third = await TestClient.connectTls(server.port);
    await third.expect("!!! too many connections from 127.0.0.1 (at most 2)");
    await third.expectClosed();
    third.close();
    // When one goes away its slot is free again.
    silent[0].close();
    await waitUntil(
      () =>
        server.log.lines.some((line) =>
          new RegExp(`127\\.0\\.0\\.1:${silent[0].localPort} +reason="TLS handshake failed`).test(
            line,
          )
        ),
      "the server to notice the silent client left",
    );
    const alice = await TestClient.join(server.port, "alice", { tls: true });
    alice.close();
  } finally {
    const stopping = server.close();
    await stopping;
    for (const client of silent) client.close();
  }
});

Deno.test("parley client --tls --ca joins a TLS server process end to end", async () => {
  const server = await startServerProcess(TLS_FLAGS);
  try {
    const bob = await TestClient.join(server.port, "bob", { tls: true });
    const result = await runCli(
      ["client", `localhost:${server.port}`, "--tls", "--ca", TEST_TLS.certFile, "--name", "alice"],
      { stdin: "over TLS\n" },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /connected to localhost:\d+ \(TLS/);
    assert.match(result.stdout, /welcome to parley, you are alice/);
    await bob.expect("<alice> over TLS");
    bob.close();
    assert.match(server.stdout.text, /listening +127\.0\.0\.1:\d+ +\(tls\)/);
  } finally {
    await server.stop("SIGKILL");
  }
});

Deno.test("the client refuses a server certificate it does not trust, and says why", async () => {
  const server = await startServerProcess(TLS_FLAGS);
  try {
    const result = await runCli(["client", `localhost:${server.port}`, "--tls"], { stdin: "" });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot connect to localhost:\d+: .*certificate.*UnknownIssuer/i);
  } finally {
    await server.stop("SIGKILL");
  }
});

Deno.test("bad certificate paths and contents: one line, exit code 1", async () => {
  const garbage = await Deno.makeTempFile({ suffix: ".pem" });
  try {
    await Deno.writeTextFile(garbage, "not a certificate\n");
    const cases: [string[], RegExp][] = [
      [
        ["server", "--port", "0", "--tls-cert", "/nonexistent.pem", "--tls-key", TEST_TLS.keyFile],
        /cannot read --tls-cert \/nonexistent\.pem: no such file/,
      ],
      [
        ["server", "--port", "0", "--tls-cert", TEST_TLS.certFile, "--tls-key", "/nonexistent.pem"],
        /cannot read --tls-key \/nonexistent\.pem: no such file/,
      ],
      [
        ["server", "--port", "0", "--tls-cert", garbage, "--tls-key", TEST_TLS.keyFile],
        /cannot use --tls-cert\/--tls-key: No certificates found/,
      ],
      [
        ["server", "--port", "0", "--tls-cert", TEST_TLS.certFile, "--tls-key", garbage],
        /cannot use --tls-cert\/--tls-key: No keys found/,
      ],
      [
        ["client", "--tls", "--ca", "/nonexistent.pem"],
        /cannot read --ca \/nonexistent\.pem: no such file/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, 1, args.join(" "));
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
  } finally {
    await Deno.remove(garbage);
  }
});

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((output) => output.success, () => false);
if (!hasOpenssl) {
  console.warn("SKIPPED: openssl s_client test — openssl is not installed (.ci/run installs it)");
}

Deno.test({
  name: "openssl s_client, a TLS client that is not ours, chats with the server",
  ignore: !hasOpenssl,
  async fn() {
    const server = startServer({ tls: true });
    const bob = await TestClient.join(server.port, "bob", { tls: true });
    const openssl = new Deno.Command("openssl", {
      args: [
        "s_client",
        "-connect",
        `127.0.0.1:${server.port}`,
        "-CAfile",
        TEST_TLS.certFile,
        "-quiet",
        "-verify_return_error",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const heard = new OutputCollector(openssl.stdout);
    const errors = new OutputCollector(openssl.stderr);
    try {
      await heard.waitFor(/welcome to parley/);
      const writer = openssl.stdin.getWriter();
      await writer.write(new TextEncoder().encode("/nick ossl\nhello from openssl\n"));
      await bob.expect("<ossl> hello from openssl");
      bob.send("hi openssl");
      await heard.waitFor(/<bob> hi openssl/);
      await writer.close();
      openssl.kill("SIGKILL"); // gone without a TLS close_notify: an ordinary close, not an error
      await waitUntil(
        () =>
          server.log.lines.some((line) =>
            / disconnect  127\.0\.0\.1:\d+ +ossl  reason="closed"/.test(line)
          ),
        () => `ossl's disconnect logged as closed:\n${server.log.lines.slice(-3).join("\n")}`,
      );
    } finally {
      try {
        openssl.kill("SIGKILL");
      } catch { /* exited */ }
      await openssl.status;
      await Promise.all([heard.done, errors.done]);
      bob.close();
      await delay(10);
      await server.close();
    }
  },
});

Deno.test("SIGTERM on a TLS server: TLS clients get the notice, the process exits 0", async () => {
  const server = await startServerProcess(TLS_FLAGS);
  const clients = [
    await TestClient.join(server.port, "a", { tls: true }),
    await TestClient.join(server.port, "b", { tls: true }),
  ];
  try {
    assert.equal(await server.stop("SIGTERM"), 0);
    for (const client of clients) {
      await client.expect("*** server shutting down");
      await client.expectClosed();
    }
  } finally {
    for (const client of clients) client.close();
    await server.stop("SIGKILL");
  }
});
