/** The interactive client's pure pieces that live in client.ts. */

import assert from "node:assert/strict";
import { reconnectDelay } from "../client.ts";

Deno.test("client: reconnect back-off is 0.5 s doubling to at most 10 s", () => {
  const delays = Array.from({ length: 8 }, (_, attempt) => reconnectDelay(attempt));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  assert.equal(reconnectDelay(10_000), 10_000, "no overflow after a long outage");
});
