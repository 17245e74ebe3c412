/**
 * The parts of issue 18's transport work, without server processes: the
 * sniffing wait on a quiet server, CatchUp and EqualWaits' settle, the byte
 * budget, the descriptor reserve, address parsing and the socket shutdown
 * that ends a TLS handshake. (The process tests: hardening_net_test.ts.)
 */

import assert from "node:assert/strict";
import { CATCH_UP_IDLE_MS, CatchUp, EqualWaits } from "../src/async.ts";
import { DescriptorReserve, outOfDescriptors, RESERVE_SIZE } from "../src/net/accept.ts";
import { unterminatedLimit } from "../src/net/connection.ts";
import { TokenBucket } from "../src/net/rate_limit.ts";
import { ipBytes, SocketShutdown } from "../src/net/socket_shutdown.ts";
import { SNIFF_TIMEOUT_MS } from "../src/net/sniff.ts";
import { delay, startServer, TEST_TLS, TestClient, withDeadline } from "./helpers.ts";

Deno.test("a quiet server still waits SNIFF_TIMEOUT_MS for a silent client's first bytes, no more", async () => {
  const server = startServer();
  try {
    const silent = await TestClient.connect(server.port);
    const began = performance.now();
    await silent.expect(/^\*\*\* welcome to parley/);
    const waited = performance.now() - began;
    silent.close();
    assert.ok(
      waited >= SNIFF_TIMEOUT_MS - 10 && waited < SNIFF_TIMEOUT_MS + 150,
      `greeted after ${Math.round(waited)} ms`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("CatchUp: two steps on a quiet loop; on while arrivals or work keep coming; gives up when nothing arrives", async () => {
  const quiet = new CatchUp({ stepMs: 10 });
  let began = performance.now();
  await quiet.settle();
  assert.ok(performance.now() - began < 60, "two steps of 10 ms");

  const arriving = new CatchUp({ stepMs: 10 });
  const feeder = setInterval(() => arriving.progress++, 3);
  began = performance.now();
  const settled = arriving.settle();
  await delay(150);
  clearInterval(feeder);
  await settled;
  assert.ok(performance.now() - began >= 150, "not while arrivals keep coming");

  let work = 0;
  const busy = new CatchUp({ stepMs: 10, activity: () => work, busyActivity: 64 });
  const worker = setInterval(() => work += 100, 2);
  began = performance.now();
  await busy.settle();
  clearInterval(worker);
  const gaveUp = performance.now() - began;
  assert.ok(
    gaveUp >= CATCH_UP_IDLE_MS - 100 && gaveUp < CATCH_UP_IDLE_MS + 1000,
    `busy without arrivals: gave up after ${gaveUp} ms`,
  );
});

Deno.test("EqualWaits with settle: due waits end only after the settle, in order", async () => {
  let release = () => {};
  const waits = new EqualWaits(20, {
    settle: () => new Promise<void>((resolve) => release = resolve),
  });
  const ended: number[] = [];
  const all = [0, 1, 2].map((i) => waits.wait().then(() => ended.push(i)));
  await delay(60);
  assert.deepEqual(ended, [], "due, but not settled");
  release();
  await Promise.all(all);
  assert.deepEqual(ended, [0, 1, 2]);
});

Deno.test("the byte budget: spend goes into debt; the wait is the debt at the rate", () => {
  const bucket = new TokenBucket(1000, 500, 0); // 1,000 a second, 500 at once
  bucket.spend(400, 0);
  assert.equal(bucket.debtWait(0), 0);
  bucket.spend(600, 0); // 500 - 1,000 = -500
  assert.equal(bucket.debtWait(0), 500);
  assert.equal(bucket.debtWait(250), 250);
  assert.equal(bucket.debtWait(500), 0);
  assert.equal(unterminatedLimit(4096), 65536);
  assert.equal(unterminatedLimit(100_000), 400_000);
});

Deno.test("descriptors in reserve: held while a loop runs, lent once, closed after the last", () => {
  const first = DescriptorReserve.acquire();
  const second = DescriptorReserve.acquire();
  assert.equal(first, second, "one per process");
  assert.equal(first.held, RESERVE_SIZE);
  first.release();
  assert.equal(second.held, RESERVE_SIZE, "still one user");
  second.release();
  assert.equal(second.held, 0, "the last user closes them");
  assert.ok(outOfDescriptors(Object.assign(new Error("x"), { code: "EMFILE" })));
  assert.ok(outOfDescriptors(Object.assign(new Error("x"), { code: "ENFILE" })));
  assert.ok(!outOfDescriptors(new Deno.errors.ConnectionReset("x")));
});

Deno.test("ipBytes reads the addresses Deno reports", () => {
  assert.deepEqual(ipBytes("127.0.0.1"), new Uint8Array([127, 0, 0, 1]));
  assert.deepEqual(ipBytes("::1"), new Uint8Array([...Array(15).fill(0), 1]));
  assert.deepEqual(
    ipBytes("::ffff:10.1.2.3"),
    new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 2, 3]),
  );
  assert.deepEqual(
    ipBytes("2001:db8::8a2e:370:7334"),
    new Uint8Array([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0x8a, 0x2e, 3, 0x70, 0x73, 0x34]),
  );
  assert.deepEqual(ipBytes("fe80::1%eth0")?.[15], 1);
  for (const bad of ["", "1.2.3", "256.1.1.1", "1::2::3", "12345::", "localhost"]) {
    assert.equal(ipBytes(bad), null, bad);
  }
});

Deno.test({
  name: "SocketShutdown ends a TLS handshake under way: the peer reads the end",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: TEST_TLS.cert,
      key: TEST_TLS.key,
    });
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: (listener.addr as Deno.NetAddr).port,
    });
    const conn = await listener.accept();
    try {
      const handshake = conn.handshake().then(() => "done", () => "failed");
      assert.ok(SocketShutdown.shared().available, SocketShutdown.shared().unavailableBecause);
      assert.equal(await SocketShutdown.shared().shutDown(conn), true);
      assert.equal(await withDeadline(handshake, 2000, "the handshake to fail"), "failed");
      assert.equal(await withDeadline(client.read(new Uint8Array(8)), 2000, "EOF"), null);
    } finally {
      try {
        conn.close();
      } catch {
        // closed
      }
      client.close();
      listener.close();
    }
  },
});

Deno.test({
  name: "CatchUp.stop ends a settle under way and leaves no timer behind",
  sanitizeOps: true,
  async fn() {
    const catchUp = new CatchUp({ stepMs: 10_000 });
    const began = performance.now();
    const settled = catchUp.settle();
    catchUp.stop();
    await settled;
    await catchUp.settle();
    assert.ok(performance.now() - began < 1000);
  },
});
