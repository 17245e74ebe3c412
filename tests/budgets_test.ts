/** The key a client is counted by for per-address limits: IPv6 per /64 (src/core/cidr.ts). */

import assert from "node:assert/strict";
import { addressKey } from "../src/core/cidr.ts";

Deno.test("addressKey: IPv4 as it is, IPv6 per /64 unless told otherwise", () => {
  assert.equal(addressKey("203.0.113.7"), "203.0.113.7");
  assert.equal(addressKey("::ffff:203.0.113.7"), "203.0.113.7", "a mapped address is its IPv4");
  assert.equal(addressKey("2001:db8::1"), "2001:db8::/64");
  assert.equal(addressKey("2001:db8::2"), "2001:db8::/64");
  assert.equal(addressKey("2001:DB8:0:0:ffff:ffff:ffff:ffff"), "2001:db8::/64");
  assert.equal(addressKey("2001:db8:0:1::1"), "2001:db8:0:1::/64", "the next /64 is another key");
  assert.equal(addressKey("::1"), "::/64");
  assert.equal(addressKey("2001:db8::1", { v6Prefix: 128 }), "2001:db8::1");
  assert.equal(addressKey("2001:db8:0:ff::1", { v6Prefix: 56 }), "2001:db8::/56");
  assert.equal(addressKey("2001:db8:1234::1", { v6Prefix: 48 }), "2001:db8:1234::/48");
  assert.equal(addressKey("not an address"), "not an address", "text is its own key");
  for (const wrong of [-1, 129, 64.5, NaN]) {
    assert.throws(() => addressKey("2001:db8::1", { v6Prefix: wrong }), RangeError);
  }
});
