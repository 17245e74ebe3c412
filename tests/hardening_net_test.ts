/**
 * Issue 18, the transport's part, over real sockets and server processes:
 * running out of descriptors (item 1), bytes that never form a line (7),
 * TLS handshakes that never finish (10), and a burst of IRC clients taken
 * for line clients (11). Each test here fails on 6c5772e (this file imports
 * nothing new, so that it can be run there); the new parts are tested one by
 * one in hardening_net_parts_test.ts. Timings are measured by
 * tools/byte_flood.ts, not asserted here.
 */

import assert from "node:assert/strict";
import {
  delay,
  missingTools,
  type ServerProcess,
  startServerProcess,
  TEST_TLS,
  TestClient,
  waitUntil,
  withDeadline,
} from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** This process's soft and hard limits on open files (Linux), or null. */
function fileLimits(): { soft: number; hard: number } | null {
  try {
    const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
      Deno.readTextFileSync("/proc/self/limits"),
    );
    if (!match) return null;
    const value = (text: string) => text === "unlimited" ? Infinity : Number(text);
    return { soft: value(match[1]), hard: value(match[2]) };
  } catch {
    return null;
  }
}

/** For a test's `ignore`: true (after saying why) when this process cannot open `needed` files. */
function tooFewDescriptors(test: string, needed: number): boolean {
  const limits = fileLimits();
  if (limits !== null && limits.soft >= needed && limits.hard >= needed) return false;
  console.warn(`${test}: skipped, needs ${needed} open files (ulimit -n) and Linux's /proc`);
  return true;
}

/** `GET /metrics` over a raw connection: the status line, or what happened instead. */
async function scrape(port: number): Promise<string> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    return `cannot connect: ${error}`;
  }
  const timer = setTimeout(() => conn.close(), 5000);
  let text = "";
  try {
    await conn.write(
      encoder.encode("GET /metrics HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n"),
    );
    const buffer = new Uint8Array(64 * 1024);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      text += decoder.decode(buffer.subarray(0, n));
    }
    conn.close();
  } catch (error) {
    return `failed: ${error}`;
  } finally {
    clearTimeout(timer);
  }
  return text === "" ? "closed without an answer" : text;
}

/** Whether the process is still running. */
function running(server: ServerProcess): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${server.child.pid}/stat`).split(" ")[2] !== "Z";
  } catch {
    return false;
  }
}

/** Two clients join and chat: the server still works. */
async function chatStillWorks(port: number, tag: string): Promise<void> {
  const alice = await TestClient.join(port, `alice${tag}`);
  const bob = await TestClient.join(port, `bob${tag}`);
  try {
    alice.send(`still here ${tag}`);
    await bob.expect(`<alice${tag}> still here ${tag}`);
  } finally {
    alice.close();
    bob.close();
  }
}

async function connectMany(port: number, count: number, first?: Uint8Array): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    if (first) conn.write(first).catch(() => {});
    conns.push(conn);
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // closed by the server already
    }
  }
}

// Item 1: descriptors.

Deno.test({
  name:
    "out of descriptors (ulimit -n 1024): 1,100 idle connections to the metrics port; the server stays up, scrapes and chats",
  ignore: tooFewDescriptors("metrics flood", 4096),
  async fn() {
    const server = await startServerProcess(
      ["--metrics", "127.0.0.1:0", "--max-per-ip", "0"],
      { shellPrefix: "ulimit -n 1024" },
    );
    let idle: Deno.Conn[] = [];
    try {
      idle = await connectMany(server.metricsPort, 1100);
      await delay(500);
      assert.ok(running(server), `the server died:\n${server.stderr.text}`);
      // Held connections do not lock a scraper out: at most 64 are kept, the oldest go first.
      assert.match(await scrape(server.metricsPort), /^HTTP\/1\.1 200 OK\r\n/);
      await chatStillWorks(server.port, "1");
      closeAll(idle);
      idle = [];
      assert.match(await scrape(server.metricsPort), /^HTTP\/1\.1 200 OK\r\n/);
    } finally {
      closeAll(idle);
      const code = await server.stop();
      assert.equal(code, 0, server.stderr.text);
    }
    assert.doesNotMatch(server.stderr.text, /Uncaught|Too many open files/);
  },
});

Deno.test({
  name:
    "out of descriptors (ulimit -n 1024): chat connections up to the limit and a scrape; the server closes what it cannot serve, then serves again",
  ignore: tooFewDescriptors("chat flood", 4096),
  async fn() {
    const server = await startServerProcess(
      [
        "--metrics",
        "127.0.0.1:0",
        "--max-per-ip",
        "0",
        "--connect-rate",
        "0",
        "--max-clients",
        "5000",
      ],
      { shellPrefix: "ulimit -n 1024" },
    );
    let held: Deno.Conn[] = [];
    try {
      // An empty line makes each a line client at once (no sniffing wait).
      held = await connectMany(server.port, 1100, new Uint8Array([0x0a]));
      await delay(1000);
      const atTheLimit = await scrape(server.metricsPort);
      assert.ok(
        running(server),
        `the server died on a scrape (${atTheLimit}):\n${server.stderr.text}`,
      );
      await server.stdout.waitFor(/closing new connections at once/);
      // Past the limit a connection is closed at once: the client reads the end, not a hang.
      const extra = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const read = await withDeadline(
        extra.read(new Uint8Array(1024)).catch(() => null),
        5000,
        "a connection past the limit to be closed",
      );
      assert.equal(read, null);
      extra.close();
      closeAll(held.splice(0, 300));
      await delay(500);
      assert.match(await scrape(server.metricsPort), /^HTTP\/1\.1 200 OK\r\n/);
      await chatStillWorks(server.port, "2");
    } finally {
      closeAll(held);
      const code = await server.stop();
      assert.equal(code, 0, server.stderr.text);
    }
    assert.doesNotMatch(server.stderr.text, /Uncaught/);
    assert.match(
      server.stdout.text,
      /descriptors are free again: \d+ connections were closed unserved/,
    );
  },
});

// Item 7: bytes.

/** A metric's value in an exposition text. */
function metricValue(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return Number(line?.slice(series.length + 1));
}

/** Writes `chunk` until the connection fails; collects what comes back. */
function flood(conn: Deno.Conn, chunk: Uint8Array): { received: Promise<string> } {
  (async () => {
    try {
      for (;;) await conn.write(chunk);
    } catch {
      // closed by the server
    }
  })();
  const received = (async () => {
    let text = "";
    const buffer = new Uint8Array(4096);
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        text += decoder.decode(buffer.subarray(0, n));
      }
    } catch {
      // reset: what came before is what counts
    }
    return text;
  })();
  return { received };
}

Deno.test("input flood: endless bytes without a line end are cut off with a reason, line and IRC; the others keep chatting", async () => {
  const server = await startServerProcess(["--max-per-ip", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const zeros = new Uint8Array(16 * 1024).fill(0x61); // "aaaa…": a line client's text, never an LF
  const flooders: Deno.Conn[] = [];
  try {
    const floods = [];
    for (let i = 0; i < 8; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      flooders.push(conn);
      floods.push(flood(conn, zeros));
    }
    // IRC on the chat port (sniffed), as irssi -c host -p 12000 does.
    const irc = await TestClient.registerIrc(server.port, "flooder");
    // The test client reads the IRC connection itself: here only the writing.
    (async () => {
      try {
        for (;;) await irc.conn.write(zeros);
      } catch {
        // closed by the server
      }
    })();
    for (let i = 0; i < 10; i++) {
      alice.send(`line ${i}`);
      await bob.expect(`<alice> line ${i}`);
      await delay(100);
    }
    for (const { received } of floods) {
      const text = await withDeadline(received, 10_000, "a flooder to be cut off");
      assert.match(text, /^!!! input flood: over 65536 bytes without a line end$/m);
    }
    await irc.expect("ERROR :Closing Link: input flood: over 65536 bytes without a line end");
    await irc.expectClosed(10_000);
    alice.send("after the flood");
    await bob.expect("<alice> after the flood");
  } finally {
    alice.close();
    bob.close();
    closeAll(flooders);
    await server.stop();
  }
  const cutOff = server.stdout.text.match(
    /disconnect .*reason="input flood: over 65536 bytes without a line end"/g,
  ) ?? [];
  assert.equal(cutOff.length, 9, server.stdout.text.slice(-3000));
  assert.doesNotMatch(server.stdout.text, /message .*aaaa/, "nothing of it became chat");
});

Deno.test("byte budget: long refused lines cost time (reading pauses); a 4 KiB paste and a 4,000-byte line go through at once", async () => {
  const server = await startServerProcess(["--metrics", "127.0.0.1:0", "--max-per-ip", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const talker = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // Legitimate use first: a paste of 20 lines (4 KiB in all) and one long line, at once.
    const paste = Array.from({ length: 20 }, (_, i) => `${i} `.padEnd(200, "p")).join("\n");
    const longLine = "L".repeat(4000);
    const began = performance.now();
    await alice.write(encoder.encode(paste + "\n" + longLine + "\n"));
    await bob.expect(`<alice> ${"19 ".padEnd(200, "p")}`, 2000);
    await bob.expect(`<alice> ${longLine}`, 2000);
    assert.ok(performance.now() - began < 1000, "no byte budget in the way of a paste");

    // 60,000-byte lines (each refused as too long, each ending before the input-flood bound):
    // the line budget alone lets 10 a second in, 600 KB/s; the byte budget, 40 KiB/s.
    const line = new Uint8Array(60_001).fill(0x62);
    line[60_000] = 0x0a;
    const sent = flood(talker, line);
    const readBytes = async () =>
      metricValue(await scrape(server.metricsPort), "parley_bytes_received_total");
    await delay(2500); // past the burst
    const before = await readBytes();
    await delay(2000);
    const rate = (await readBytes() - before) / 2;
    assert.ok(rate < 100_000, `read ${Math.round(rate)} bytes/s from the long-line sender`);
    talker.close();
    assert.match(await sent.received, /^!!! line too long/m, "told, and kept connected");
  } finally {
    alice.close();
    bob.close();
    try {
      talker.close();
    } catch {
      // closed above
    }
    await server.stop();
  }
});

// Item 10: TLS handshakes.

Deno.test({
  name:
    "TLS handshakes that never finish are dropped after 10 s and free their slot and descriptor (--max-clients 5)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const server = await startServerProcess([
      "--tls-cert",
      TEST_TLS.certFile,
      "--tls-key",
      TEST_TLS.keyFile,
      "--max-clients",
      "5",
      "--max-per-ip",
      "0",
    ]);
    const sockets = () =>
      [...Deno.readDirSync(`/proc/${server.child.pid}/fd`)].filter((entry) => {
        try {
          return Deno.readLinkSync(`/proc/${server.child.pid}/fd/${entry.name}`).startsWith(
            "socket:",
          );
        } catch {
          return false;
        }
      }).length;
    const before = sockets();
    const stalled: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        // Some say nothing; some send half a ClientHello (a record of 512 bytes, 11 of them).
        if (i % 2 === 1) {
          await conn.write(new Uint8Array([22, 3, 1, 2, 0, 1, 0, 1, 252, 3, 3]));
        }
        stalled.push(conn);
      }
      const began = performance.now();
      const turnedAway = await TestClient.connectTls(server.port);
      turnedAway.send("");
      await turnedAway.expect(/^!!! server full/);
      turnedAway.close();
      assert.equal(sockets(), before + 5, "the stalled handshakes hold their sockets meanwhile");
      // After the deadline the server closes them: each stalled client reads the end.
      for (const conn of stalled) {
        const read = await withDeadline(
          conn.read(new Uint8Array(64)).catch(() => null),
          15_000,
          "a stalled handshake to be dropped",
        );
        assert.equal(read, null);
      }
      const waited = performance.now() - began;
      assert.ok(waited > 8000, `dropped after ${Math.round(waited)} ms, not before the deadline`);
      const alice = await TestClient.join(server.port, "alice", { tls: true });
      alice.close();
      await waitUntil(() => sockets() <= before, () => `sockets back to ${before}: ${sockets()}`);
    } finally {
      closeAll(stalled);
      await server.stop();
    }
    const dropped = server.stdout.text.match(/reason="TLS handshake timed out after 10 s"/g) ?? [];
    assert.equal(dropped.length, 5, server.stdout.text);
  },
});

// Item 11: a burst of IRC clients.

const TOOLS = new URL("../tools/", import.meta.url).pathname;

Deno.test({
  name:
    "a burst of 3,000 IRC clients from 10 addresses, each sending its registration with its connect: every one served as IRC, none of it chat",
  ignore: await missingTools("IRC burst", "python3") ||
    tooFewDescriptors("IRC burst", 10_000),
  async fn() {
    const server = await startServerProcess(
      ["--max-clients", "5000", "--max-per-ip", "0", "--connect-rate", "0"],
      { shellPrefix: "ulimit -n 10000" },
    );
    let result: Record<string, number>;
    try {
      const burst = await new Deno.Command("sh", {
        args: [
          "-c",
          `ulimit -n 10000 && exec python3 ${TOOLS}irc_burst.py ${server.port} ` +
          `--clients 3000 --sources 10 --timeout 30`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(burst.success, decoder.decode(burst.stderr));
      result = JSON.parse(decoder.decode(burst.stdout));
    } finally {
      await server.stop();
    }
    assert.deepEqual(
      { served: result.served, line: result.line, closed: result.closed },
      { served: 3000, line: 0, closed: 0 },
      JSON.stringify(result),
    );
    const posted = server.stdout.text.split("\n").filter((line) => /^\S+ \S+ +message /.test(line));
    assert.deepEqual(posted, [], "nothing of theirs posted as chat");
  },
});
