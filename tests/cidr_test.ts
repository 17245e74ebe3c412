import assert from "node:assert/strict";
import {
  cidrContains,
  cidrSize,
  formatAddress,
  formatCidr,
  parseAddress,
  parseCidr,
} from "../src/core/cidr.ts";

/** The display form of an address, or null when it does not parse. */
function address(text: string): string | null {
  const parsed = parseAddress(text);
  return parsed === null ? null : formatAddress(parsed);
}

function cidr(text: string): string | null {
  const parsed = parseCidr(text);
  return parsed === null ? null : formatCidr(parsed);
}

Deno.test("IPv4 addresses: the four-number form only, 0–255, no leading zeros", () => {
  const valid: [string, string][] = [
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["203.0.113.7", "203.0.113.7"],
    ["10.0.0.1", "10.0.0.1"],
  ];
  for (const [text, shown] of valid) assert.equal(address(text), shown, text);
  const invalid = [
    "",
    "256.0.0.1",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.",
    ".1.2.3",
    "01.2.3.4",
    "1.2.3.04",
    "1.2.3.-4",
    "1.2.3.4 ",
    " 1.2.3.4",
    "1.2.3.a",
    "1..2.3",
    "0x7f.0.0.1",
    "1234.1.1.1",
    "１.2.3.4", // a full-width digit
  ];
  for (const text of invalid) assert.equal(address(text), null, JSON.stringify(text));
});

Deno.test("IPv6 addresses: every RFC 4291 form, shown as RFC 5952 says", () => {
  const valid: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group stays
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of equal runs
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"], // `::` for one group parses, is not shown
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["fe80::1", "fe80::1"],
    ["::1.2.3.4", "::102:304"], // IPv4-compatible (deprecated): plain IPv6
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
  ];
  for (const [text, shown] of valid) assert.equal(address(text), shown, text);
  const invalid = [
    ":",
    ":::",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "1::2::3",
    ":1::2",
    "1::2:",
    "1:2:3:4:5:6:7:",
    "12345::",
    "g::1",
    "fe80::1%eth0",
    "[::1]",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "::256.1.1.1",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::ffff:1.2.3",
    ":: 1",
    "x".repeat(100),
  ];
  for (const text of invalid) assert.equal(address(text), null, JSON.stringify(text));
});

Deno.test("IPv4-mapped IPv6 addresses are the IPv4 address", () => {
  assert.deepEqual(parseAddress("::ffff:192.0.2.1"), parseAddress("192.0.2.1"));
  assert.equal(address("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(address("::FFFF:c000:0201"), "192.0.2.1");
  assert.equal(address("0:0:0:0:0:ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(parseAddress("::ffff:192.0.2.1")?.family, 4);
  // Near misses stay IPv6.
  assert.equal(address("::fffe:192.0.2.1"), "::fffe:c000:201");
  assert.equal(address("1::ffff:192.0.2.1"), "1::ffff:c000:201");
});

Deno.test("blocks: prefixes per family, host bits cleared, a single address shown bare", () => {
  const valid: [string, string][] = [
    ["203.0.113.0/24", "203.0.113.0/24"],
    ["203.0.113.7/24", "203.0.113.0/24"],
    ["203.0.113.7", "203.0.113.7"],
    ["203.0.113.7/32", "203.0.113.7"],
    ["203.0.113.7/31", "203.0.113.6/31"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["255.255.255.255/1", "128.0.0.0/1"],
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["2001:db8::/32", "2001:db8::/32"],
    ["2001:DB8:1234::/32", "2001:db8::/32"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:db8::1/128", "2001:db8::1"],
    ["2001:db8::1/127", "2001:db8::/127"],
    ["::/0", "::/0"],
    ["ffff:ffff::/1", "8000::/1"],
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff/64", "2001:db8:aaaa:bbbb::/64"],
    // Mapped blocks are IPv4 blocks.
    ["::ffff:192.0.2.0/120", "192.0.2.0/24"],
    ["::ffff:192.0.2.1/128", "192.0.2.1"],
    ["::ffff:0:0/96", "0.0.0.0/0"],
    ["::ffff:0:0/95", "::fffe:0:0/95"],
  ];
  for (const [text, shown] of valid) assert.equal(cidr(text), shown, text);
  const invalid = [
    "",
    "/24",
    "203.0.113.0/",
    "203.0.113.0/33",
    "203.0.113.0/-1",
    "203.0.113.0/+8",
    "203.0.113.0/024",
    "203.0.113.0/24/8",
    "203.0.113.0/2 4",
    "203.0.113.0 /24",
    "203.0.113.0/x",
    "2001:db8::/129",
    "2001:db8::/1000",
    "2001:db8::/",
    "bob",
    "bob/24",
    "fe80::1%eth0/64",
    "256.0.0.0/8",
  ];
  for (const text of invalid) assert.equal(cidr(text), null, JSON.stringify(text));
});

Deno.test("a block contains its first and last address and nothing either side", () => {
  const v4 = parseCidr("203.0.113.0/24")!;
  assert.equal(cidrContains(v4, "203.0.113.0"), true);
  assert.equal(cidrContains(v4, "203.0.113.255"), true);
  assert.equal(cidrContains(v4, "203.0.112.255"), false);
  assert.equal(cidrContains(v4, "203.0.114.0"), false);
  assert.equal(cidrSize(v4), 256n);

  const v6 = parseCidr("2001:db8::/32")!;
  assert.equal(cidrContains(v6, "2001:db8::"), true);
  assert.equal(cidrContains(v6, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), true);
  assert.equal(cidrContains(v6, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), false);
  assert.equal(cidrContains(v6, "2001:db9::"), false);
  assert.equal(cidrSize(v6), 2n ** 96n);

  const one = parseCidr("198.51.100.9")!;
  assert.equal(cidrContains(one, "198.51.100.9"), true);
  assert.equal(cidrContains(one, "198.51.100.8"), false);
  assert.equal(cidrContains(one, "198.51.100.10"), false);
  assert.equal(cidrSize(one), 1n);

  const all4 = parseCidr("0.0.0.0/0")!;
  assert.equal(cidrContains(all4, "0.0.0.0"), true);
  assert.equal(cidrContains(all4, "255.255.255.255"), true);
  assert.equal(cidrContains(all4, "::1"), false);
});

Deno.test("IPv4 blocks match IPv4-mapped peers; IPv6 blocks never match IPv4", () => {
  const v4 = parseCidr("192.0.2.0/24")!;
  assert.equal(cidrContains(v4, "::ffff:192.0.2.77"), true);
  assert.equal(cidrContains(v4, "::ffff:c000:2ff"), true);
  assert.equal(cidrContains(v4, "::ffff:192.0.3.1"), false);
  assert.equal(cidrContains(parseCidr("::ffff:192.0.2.0/120")!, "192.0.2.5"), true);
  // `::/0` is every IPv6 address, not IPv4 ones (nor the mapped form of them).
  const all6 = parseCidr("::/0")!;
  assert.equal(cidrContains(all6, "2001:db8::1"), true);
  assert.equal(cidrContains(all6, "192.0.2.1"), false);
  assert.equal(cidrContains(all6, "::ffff:192.0.2.1"), false);
  // A parsed address works as well as text; text that is no address is in no block.
  assert.equal(cidrContains(v4, parseAddress("192.0.2.1")!), true);
  assert.equal(cidrContains(v4, "localhost"), false);
  assert.equal(cidrContains(v4, ""), false);
});

Deno.test("the same block written differently is one display form", () => {
  const forms = ["2001:db8::/32", "2001:0DB8::/32", "2001:db8:0:0:0:0:0:0/32", "2001:db8:ff::1/32"];
  assert.deepEqual(new Set(forms.map(cidr)), new Set(["2001:db8::/32"]));
  assert.equal(cidr("::ffff:203.0.113.7"), cidr("203.0.113.7"));
});
