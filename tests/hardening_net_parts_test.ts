/**
 * The parts of issue 18's transport work, without server processes: the
 * byte budget, the descriptor reserve, address parsing and the socket
 * shutdown that ends a TLS handshake. (The process tests:
 * hardening_net_test.ts.)
 */

import assert from "node:assert/strict";
import { DescriptorReserve, outOfDescriptors, RESERVE_SIZE } from "../src/net/accept.ts";
import { unterminatedLimit } from "../src/net/connection.ts";
import { TokenBucket } from "../src/net/rate_limit.ts";
import { ipBytes, SocketShutdown } from "../src/net/socket_shutdown.ts";
import { TEST_TLS, withDeadline } from "./helpers.ts";

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
