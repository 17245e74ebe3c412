/**
 * The parts of issue 18's transport work, without server processes: the
 * byte budget and the descriptor reserve. (The process tests:
 * hardening_net_test.ts.)
 */

import assert from "node:assert/strict";
import { DescriptorReserve, outOfDescriptors, RESERVE_SIZE } from "../src/net/accept.ts";
import { unterminatedLimit } from "../src/net/connection.ts";
import { TokenBucket } from "../src/net/rate_limit.ts";

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
