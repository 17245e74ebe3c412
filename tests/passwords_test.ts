/** Password hashes and the failed-attempt throttle (src/core/passwords.ts). */

import assert from "node:assert/strict";
import {
  AttemptThrottle,
  HASH_BYTES,
  hashPassword,
  SALT_BYTES,
  SCRYPT_PARAMS,
  verifyPassword,
} from "../src/core/passwords.ts";

Deno.test("passwords: a hash verifies its password and nothing else", async () => {
  const stored = await hashPassword("correct horse battery staple");
  assert.equal(stored.hash.length, HASH_BYTES);
  assert.equal(stored.salt.length, SALT_BYTES);
  assert.deepEqual(stored.params, { N: 32768, r: 8, p: 1 });
  assert.deepEqual(stored.params, { ...SCRYPT_PARAMS });
  const [right, wrong, empty, close] = await Promise.all([
    verifyPassword("correct horse battery staple", stored),
    verifyPassword("Correct horse battery staple", stored),
    verifyPassword("", stored),
    verifyPassword("correct horse battery stapl", stored),
  ]);
  assert.deepEqual([right, wrong, empty, close], [true, false, false, false]);
});

Deno.test("passwords: the same password gets a different salt and hash each time", async () => {
  const password = "hunter2";
  const [a, b] = await Promise.all([hashPassword(password), hashPassword(password)]);
  assert.notDeepEqual(a.salt, b.salt);
  assert.notDeepEqual(a.hash, b.hash);
  // Not the password, nor anything containing it.
  const plain = new TextEncoder().encode(password);
  for (const hash of [a.hash, b.hash]) {
    assert.notDeepEqual(hash.slice(0, plain.length), plain);
    assert.ok(!new TextDecoder("latin1").decode(hash).includes(password));
  }
  // Each checks out with its own salt only.
  assert.equal(await verifyPassword(password, a), true);
  assert.equal(await verifyPassword(password, { ...a, salt: b.salt }), false);
});

Deno.test("passwords: a stored hash of the wrong length never matches", async () => {
  const stored = await hashPassword("pw");
  assert.equal(await verifyPassword("pw", { ...stored, hash: stored.hash.slice(0, 16) }), false);
  assert.equal(await verifyPassword("pw", { ...stored, hash: new Uint8Array(0) }), false);
  const longer = new Uint8Array(HASH_BYTES + 1);
  longer.set(stored.hash);
  assert.equal(await verifyPassword("pw", { ...stored, hash: longer }), false);
  await assert.rejects(
    verifyPassword("pw", { ...stored, params: { N: 1000, r: 8, p: 1 } }),
    /unusable scrypt parameters/,
  );
});

Deno.test("passwords: composed and decomposed accents are the same password", async () => {
  const stored = await hashPassword("caf\u00e9");
  assert.equal(await verifyPassword("cafe\u0301", stored), true);
});

Deno.test("passwords: many at once all finish (two at a time)", async () => {
  const passwords = ["a", "b", "c", "d", "e"];
  const hashes = await Promise.all(passwords.map((p) => hashPassword(p)));
  const checks = await Promise.all(hashes.map((h, i) => verifyPassword(passwords[i], h)));
  assert.deepEqual(checks, [true, true, true, true, true]);
});

Deno.test("attempt throttle: the 4th failure within a minute waits; after the window it may", () => {
  const throttle = new AttemptThrottle();
  const t0 = 1_000_000;
  const ip = "203.0.113.7";
  assert.equal(throttle.blocked(ip, t0), 0);
  throttle.failed(ip, t0);
  throttle.failed(ip, t0 + 1_000);
  assert.equal(throttle.blocked(ip, t0 + 2_000), 0);
  throttle.failed(ip, t0 + 2_000);
  // Three failures: the next attempt waits until the first is a minute old.
  assert.equal(throttle.blocked(ip, t0 + 3_000), 57_000);
  assert.equal(throttle.blocked("198.51.100.1", t0 + 3_000), 0, "other addresses are not affected");
  assert.equal(throttle.blocked(ip, t0 + 59_999), 1);
  assert.equal(throttle.blocked(ip, t0 + 60_000), 0);
  // One more failure and it waits again, until the second is a minute old.
  throttle.failed(ip, t0 + 60_000);
  assert.equal(throttle.blocked(ip, t0 + 60_000), 1_000);
  // A reserved attempt that succeeds is forgiven; the address's other failures still count.
  const attempt = throttle.reserve(ip, t0 + 61_000);
  assert.equal(throttle.blocked(ip, t0 + 61_000), 1_000);
  throttle.release(attempt);
  assert.equal(throttle.blocked(ip, t0 + 61_500), 0);
});

Deno.test("attempt throttle: limit and window can be set", () => {
  const throttle = new AttemptThrottle({ limit: 1, windowMs: 10 });
  throttle.failed("a", 0);
  assert.equal(throttle.blocked("a", 5), 5);
  assert.equal(throttle.blocked("a", 10), 0);
});

Deno.test("attempt throttle: memory stays bounded", () => {
  const throttle = new AttemptThrottle({ maxAddresses: 100 });
  for (let i = 0; i < 1000; i++) throttle.failed(`10.0.${i >> 8}.${i & 255}`, i);
  assert.equal(throttle.size, 100);
  // The newest are the ones kept.
  throttle.failed("10.0.3.231", 1000);
  throttle.failed("10.0.3.231", 1001);
  assert.ok(throttle.blocked("10.0.3.231", 1002) > 0);
  // A minute later every one of them is stale: the next failure forgets them.
  throttle.failed("192.0.2.1", 70_000);
  assert.equal(throttle.size, 1);
  // Reading forgets stale entries too.
  assert.equal(throttle.blocked("192.0.2.1", 200_000), 0);
  assert.equal(throttle.size, 0);
});
