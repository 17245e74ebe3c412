/** Admission and flood control as units: counts, limits, and a token bucket on a test clock. */

import assert from "node:assert/strict";
import { Admission } from "../src/net/admission.ts";
import { TokenBucket } from "../src/net/rate_limit.ts";

Deno.test("admission: the total and per-address limits, counted until release", () => {
  const admission = new Admission({ maxClients: 3, maxPerIp: 2 });
  assert.equal(admission.admit("10.0.0.1"), null);
  assert.equal(admission.admit("10.0.0.1"), null);
  assert.deepEqual(admission.admit("10.0.0.1"), {
    code: "per-address",
    address: "10.0.0.1",
    max: 2,
  });
  assert.deepEqual(admission.admit("10.0.0.2"), { code: "full", max: 3 }, "refused ones count too");
  admission.release("10.0.0.1");
  admission.release("10.0.0.2");
  assert.equal(admission.count, 2);
  assert.equal(admission.admit("10.0.0.3"), null);
  for (const address of ["10.0.0.1", "10.0.0.1", "10.0.0.3"]) admission.release(address);
  assert.equal(admission.count, 0);
  assert.equal(admission.admit("10.0.0.1"), null, "an address that left may come back");
});

Deno.test("admission: max-per-ip 0 means no per-address limit", () => {
  const admission = new Admission({ maxClients: 100, maxPerIp: 0 });
  for (let i = 0; i < 100; i++) assert.equal(admission.admit("::1"), null);
  assert.equal(admission.admit("::1")?.code, "full");
});

Deno.test("token bucket: a burst, then the rate, on an injected clock", () => {
  const bucket = new TokenBucket(10, 3, 0);
  assert.ok(bucket.take(0) && bucket.take(0) && bucket.take(0), "the burst");
  assert.equal(bucket.take(0), false);
  assert.equal(bucket.wait(0), 100, "one token per 100 ms at 10/s");
  assert.equal(bucket.wait(40), 60);
  assert.ok(bucket.take(100));
  assert.equal(bucket.take(150), false);
  assert.ok(bucket.take(10_000));
  assert.ok(bucket.take(10_000) && bucket.take(10_000), "refills up to the burst, no more");
  assert.equal(bucket.take(10_000), false);
  assert.throws(() => new TokenBucket(0, 1), RangeError);
});

Deno.test("admission: bans refuse first, and the connect rate refuses past N a minute, flagging the first of a burst", () => {
  const ban = { mask: "10.9.0.0/16", expires: null, reason: "spam", by: "console", created: 0 };
  const admission = new Admission({
    maxClients: 100,
    maxPerIp: 0,
    connectRate: 2,
    bannedBy: (address) => address.startsWith("10.9.") ? ban : null,
  });
  assert.deepEqual(admission.admit("10.9.1.1", 0), { code: "banned", address: "10.9.1.1", ban });
  assert.equal(admission.admit("10.0.0.1", 0), null);
  assert.equal(admission.admit("10.0.0.1", 1), null);
  const refusal = (first: boolean) => ({
    code: "connect-rate",
    address: "10.0.0.1",
    max: 2,
    first,
  });
  assert.deepEqual(admission.admit("10.0.0.1", 2), refusal(true));
  assert.deepEqual(admission.admit("10.0.0.1", 3), refusal(false), "the rest of the burst");
  assert.equal(admission.admit("10.0.0.2", 3), null, "another address has its own rate");
  // Two a minute: one is back after 30 s.
  assert.equal(admission.admit("10.0.0.1", 30_010), null);
  assert.deepEqual(
    admission.admit("10.0.0.1", 30_020),
    refusal(true),
    "a new burst is logged again",
  );
  assert.equal(admission.count, 8, "refused connections count until released");
});

Deno.test("admission: IPv6 counts per /64 by default (any prefix on request), IPv4 per address", () => {
  const admission = new Admission({ maxClients: 100, maxPerIp: 2, connectRate: 3 });
  assert.equal(admission.admit("2001:db8:1:2::1", 0), null);
  assert.equal(admission.admit("2001:db8:1:2:ffff::9", 0), null);
  assert.deepEqual(admission.admit("2001:db8:1:2:aaaa::1", 0), {
    code: "per-address",
    address: "2001:db8:1:2::/64",
    max: 2,
  });
  assert.equal(admission.admit("2001:db8:1:3::1", 0), null, "the next /64 is someone else");
  assert.equal(admission.admit("192.0.2.1", 0), null);
  assert.equal(admission.admit("192.0.2.2", 0), null);
  assert.equal(admission.admit("::ffff:192.0.2.1", 0), null, "a mapped address is its IPv4");
  assert.equal(admission.admit("192.0.2.1", 0)?.code, "per-address");
  // The connect rate counts the /64 too: its fourth connect in the same instant is refused.
  for (const address of ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa::1"]) {
    admission.release(address);
  }
  assert.equal(admission.admit("2001:db8:1:2::77", 0)?.code, "connect-rate");

  const per48 = new Admission({ maxClients: 100, maxPerIp: 1, ipv6Prefix: 48 });
  assert.equal(per48.admit("2001:db8:1:2::1"), null);
  assert.deepEqual(per48.admit("2001:db8:1:ffff::1"), {
    code: "per-address",
    address: "2001:db8:1::/48",
    max: 1,
  });
});

Deno.test("admission: a trusted proxy's connections count only toward the total", () => {
  const admission = new Admission({
    maxClients: 5,
    maxPerIp: 1,
    connectRate: 1,
    exempt: (address) => address === "127.0.0.1",
  });
  for (let i = 0; i < 5; i++) assert.equal(admission.admit("127.0.0.1", 0), null);
  assert.equal(admission.admit("127.0.0.1", 0)?.code, "full");
  admission.release("127.0.0.1");
  admission.release("127.0.0.1");
  assert.equal(admission.admit("10.0.0.1", 0), null);
  assert.equal(admission.admit("10.0.0.1", 0)?.code, "connect-rate", "others keep their limits");
});
