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
  type ServerProcess,
  startServerProcess,
  TestClient,
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
      ["--metrics", "127.0.0.1:0", "--max-per-ip", "0", "--max-clients", "5000"],
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
