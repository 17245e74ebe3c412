/**
 * IP addresses and CIDR blocks, for bans and per-address limits: parsing,
 * matching and one display form per address, so that `2001:DB8:0::1` and
 * `2001:db8::1` are the same ban and the console shows them the same way;
 * and the key a client is counted by ({@linkcode addressKey}: IPv6 per /64).
 *
 * - IPv4 is four decimal numbers 0–255 (`203.0.113.7`); leading zeros are
 *   refused (`010.0.0.1` means 8.0.0.1 to some tools and 10.0.0.1 to others).
 * - IPv6 is RFC 4291 text (`2001:db8::1`, `::`, `::ffff:192.0.2.1`), shown as
 *   RFC 5952 says: lower case, no leading zeros, the longest run of two or
 *   more zero groups (the first of equals) as `::`. Zone ids (`fe80::1%eth0`)
 *   are refused: a ban is about an address, not an interface.
 * - An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack listener
 *   sees for an IPv4 client) is that IPv4 address, and a block inside
 *   `::ffff:0:0/96` is the IPv4 block it maps (`::ffff:192.0.2.0/120` is
 *   `192.0.2.0/24`).
 * - A block is `ADDRESS/PREFIX`; a plain address is a block of one (/32, /128)
 *   and is shown without the prefix. Bits past the prefix are cleared
 *   (`203.0.113.7/24` is `203.0.113.0/24`).
 * - Families do not mix: an IPv6 block never contains an IPv4 address, so
 *   `::/0` is every IPv6 address and `0.0.0.0/0` every IPv4 one.
 *
 * Pure: strings in, values out; invalid text gives null, never an exception.
 *
 * @module
 */

/** 4 or 6. */
export type IpFamily = 4 | 6;

/** One IP address; IPv4-mapped IPv6 addresses are held as IPv4. */
export interface IpAddress {
  readonly family: IpFamily;
  /** The address as a 32- or 128-bit number. */
  readonly value: bigint;
}

/** A CIDR block: the addresses whose first `prefix` bits are those of `network`. */
export interface CidrBlock {
  readonly family: IpFamily;
  /** The first address of the block (bits past the prefix are zero). */
  readonly network: bigint;
  /** 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefix: number;
}

/** Longest text either parser looks at: a full IPv6 address with an IPv4 tail and a prefix. */
const MAX_TEXT = 64;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const PREFIX = /^(0|[1-9]\d{0,2})$/;
/** `::ffff:0:0/96`: where IPv4-mapped addresses live. */
const MAPPED = 0xffffn << 32n;
const MAPPED_MASK = ~0xffff_ffffn & ((1n << 128n) - 1n);

/** Parses an IPv4 or IPv6 address; null when `text` is not one. */
export function parseAddress(text: string): IpAddress | null {
  if (text.length === 0 || text.length > MAX_TEXT) return null;
  if (!text.includes(":")) {
    const value = parseIpv4(text);
    return value === null ? null : { family: 4, value };
  }
  const value = parseIpv6(text);
  if (value === null) return null;
  if ((value & MAPPED_MASK) === MAPPED) return { family: 4, value: value & 0xffff_ffffn };
  return { family: 6, value };
}

/** An address in its one display form (`203.0.113.7`, `2001:db8::1`). */
export function formatAddress(address: IpAddress): string {
  return address.family === 4 ? formatIpv4(address.value) : formatIpv6(address.value);
}

/**
 * Parses `ADDRESS` or `ADDRESS/PREFIX` into a block; null when `text` is
 * neither or the prefix is out of range for the family.
 */
export function parseCidr(text: string): CidrBlock | null {
  if (text.length === 0 || text.length > MAX_TEXT) return null;
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? null : text.slice(slash + 1);
  if (prefixText !== null && !PREFIX.test(prefixText)) return null;
  if (!addressText.includes(":")) {
    const value = parseIpv4(addressText);
    const prefix = prefixText === null ? 32 : Number(prefixText);
    if (value === null || prefix > 32) return null;
    return block(4, value, prefix);
  }
  const value = parseIpv6(addressText);
  const prefix = prefixText === null ? 128 : Number(prefixText);
  if (value === null || prefix > 128) return null;
  if (prefix >= 96 && (value & MAPPED_MASK) === MAPPED) {
    return block(4, value & 0xffff_ffffn, prefix - 96);
  }
  return block(6, value, prefix);
}

/** A block in its one display form: `203.0.113.0/24`, `2001:db8::/32`; a single address bare. */
export function formatCidr(cidr: CidrBlock): string {
  const address = formatAddress({ family: cidr.family, value: cidr.network });
  return cidr.prefix === bits(cidr.family) ? address : `${address}/${cidr.prefix}`;
}

/**
 * Whether `address` (parsed, or text such as a peer's host name) is inside
 * `cidr`. Text that is not an address is in no block.
 */
export function cidrContains(cidr: CidrBlock, address: IpAddress | string): boolean {
  const parsed = typeof address === "string" ? parseAddress(address) : address;
  if (parsed === null || parsed.family !== cidr.family) return false;
  const shift = BigInt(bits(cidr.family) - cidr.prefix);
  return parsed.value >> shift === cidr.network >> shift;
}

/** The number of addresses in `cidr` (2^(bits − prefix)). */
export function cidrSize(cidr: CidrBlock): bigint {
  return 1n << BigInt(bits(cidr.family) - cidr.prefix);
}

function bits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function block(family: IpFamily, value: bigint, prefix: number): CidrBlock {
  const width = BigInt(bits(family));
  const hostBits = width - BigInt(prefix);
  const mask = ((1n << width) - 1n) ^ ((1n << hostBits) - 1n);
  return { family, network: value & mask, prefix };
}

function parseIpv4(text: string): bigint | null {
  const match = IPV4.exec(text);
  if (match === null) return null;
  let value = 0n;
  for (const part of match.slice(1)) {
    if (part.length > 1 && part.startsWith("0")) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** RFC 4291 §2.2 text (all three forms) → 128 bits; null when malformed. */
function parseIpv6(text: string): bigint | null {
  if (text.includes("%")) return null; // a zone id
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 1 || halves[1] === "" ? [] : halves[1].split(":");
  const compressed = halves.length === 2;
  const groups: number[] = [];
  const parts = [...head, ...tail];
  // Only the text's last part may be IPv4 (`::1.2.3.4`, not `1.2.3.4::`).
  const last = compressed && tail.length === 0 ? -1 : parts.length - 1;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i === last && part.includes(".")) {
      // The last 32 bits written as IPv4.
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return null; // empty (":1", "1:", "1:::2") or not hex
    }
  }
  // The head's share of `groups`: its IPv4 tail counts twice when there is no `::`.
  const headGroups = compressed ? head.length : groups.length;
  if (compressed ? groups.length > 7 : groups.length !== 8) return null;
  const missing = 8 - groups.length;
  const full = [
    ...groups.slice(0, headGroups),
    ...new Array<number>(missing).fill(0),
    ...groups.slice(headGroups),
  ];
  let value = 0n;
  for (const group of full) value = (value << 16n) | BigInt(group);
  return value;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

/** RFC 5952 §4: lower case, no leading zeros, the longest zero run of two or more as `::`. */
function formatIpv6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(":");
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** The prefix length IPv6 clients are counted by unless told otherwise: one /64 is one subscriber. */
export const DEFAULT_V6_PREFIX = 64;

/** How {@linkcode addressKey} groups addresses. */
export interface AddressKeyOptions {
  /**
   * IPv6 addresses are counted per network of this many leading bits (0–128;
   * default {@linkcode DEFAULT_V6_PREFIX}). 128 counts each address alone.
   */
  v6Prefix?: number;
}

/**
 * The key to count a client by, for every per-address limit: an IPv4 address
 * as it is (in its display form; an IPv4-mapped IPv6 address is its IPv4
 * address), an IPv6 address as the network of `v6Prefix` bits it is in
 * (`2001:db8::1` and `2001:db8::2` are both `2001:db8::/64`). One IPv6
 * subscriber is usually given a whole /64 (RFC 6177), so counting addresses
 * alone would hand it 2^64 budgets. Text that is not an address (a test's
 * made-up peer, a Unix socket) is its own key.
 *
 * Throws a RangeError when `v6Prefix` is not an integer from 0 to 128 (a
 * setting, checked where it is read).
 */
export function addressKey(address: string, options: AddressKeyOptions = {}): string {
  const prefix = options.v6Prefix ?? DEFAULT_V6_PREFIX;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 128) {
    throw new RangeError(`IPv6 prefix must be a whole number from 0 to 128, not ${prefix}`);
  }
  const parsed = parseAddress(address);
  if (parsed === null) return address;
  if (parsed.family === 4 || prefix === 128) return formatAddress(parsed);
  return formatCidr(block(6, parsed.value, prefix));
}
