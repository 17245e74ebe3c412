/**
 * The parts of issue 18's transport work, without server processes: the
 * descriptor reserve. (The process tests: hardening_net_test.ts.)
 */

import assert from "node:assert/strict";
import { DescriptorReserve, outOfDescriptors, RESERVE_SIZE } from "../src/net/accept.ts";

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
