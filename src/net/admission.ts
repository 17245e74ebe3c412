/**
 * Admission: whether a new connection may join, counted from accept to close.
 * It enforces bans, the connect rate per address (`--connect-rate`), and the
 * total (`--max-clients`) and per-address (`--max-per-ip`) limits over every
 * listener of a server (line and IRC alike). Refusals are codes; the front
 * end of the listener words them.
 *
 * Per-address limits count by {@linkcode addressKey}: an IPv4 address as it
 * is, IPv6 per /64 by default (`--ipv6-prefix`), since one subscriber
 * usually holds a whole /64. Addresses that are `exempt` (trusted reverse
 * proxies, `--trust-proxy`, which carry everyone's web connections) count
 * only toward the total.
 *
 * ```ts
 * const refusal = admission.admit(peer.hostname); // counts the connection either way
 * try { if (refusal) refuse(refusal); else serve(); } finally { admission.release(peer.hostname); }
 * ```
 *
 * @module
 */

import { addressKey } from "../core/cidr.ts";
import type { Ban } from "../core/store.ts";
import { TokenBucket } from "./rate_limit.ts";

/** Why a connection is turned away. */
export type Refusal =
  | { code: "full"; max: number }
  | { code: "per-address"; address: string; max: number }
  | { code: "banned"; address: string; ban: Ban }
  /** `first`: the first refusal of this burst from the address (the one that is logged). */
  | { code: "connect-rate"; address: string; max: number; first: boolean };

/** Admission limits. */
export interface AdmissionLimits {
  /** Most connections at once. */
  maxClients: number;
  /** Most connections from one address (0 = no limit). */
  maxPerIp: number;
  /** New connections per address per minute (0 = no limit). */
  connectRate?: number;
  /** The ban that covers an address, if any. */
  bannedBy?: (address: string) => Ban | null;
  /** IPv6 addresses are counted per this prefix (64 when not given). */
  ipv6Prefix?: number;
  /** Addresses the per-address limits do not apply to (trusted proxies). */
  exempt?: (address: string) => boolean;
}

/** Addresses whose connect rate is tracked are looked over this often (admits), to forget the quiet. */
const SWEEP_EVERY = 1024;
const MINUTE_MS = 60_000;

/** One address's connect rate: a bucket of `connectRate` a minute, and whether it is being refused. */
interface Pace {
  bucket: TokenBucket;
  refusing: boolean;
  last: number;
}

/** Counts connections and says which may not stay. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #perAddress = new Map<string, number>();
  readonly #paces = new Map<string, Pace>();
  #count = 0;
  #admits = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** Connections counted now (refused ones too, until released). */
  get count(): number {
    return this.#count;
  }

  /**
   * Counts a new connection from `address` and says why it may not stay, or
   * null when it may. Every call is matched by one {@linkcode release}.
   */
  admit(address: string, now = performance.now()): Refusal | null {
    this.#count++;
    const { maxClients, maxPerIp, bannedBy } = this.#limits;
    const key = this.#keyOf(address);
    const fromAddress = key === null ? 0 : (this.#perAddress.get(key) ?? 0) + 1;
    if (key !== null) this.#perAddress.set(key, fromAddress);
    const ban = bannedBy?.(address);
    if (ban) return { code: "banned", address, ban };
    const tooFast = key === null ? null : this.#tooFast(key, now);
    if (tooFast) return tooFast;
    if (this.#count > maxClients) return { code: "full", max: maxClients };
    if (maxPerIp > 0 && fromAddress > maxPerIp) {
      return { code: "per-address", address: key!, max: maxPerIp };
    }
    return null;
  }

  /** A connection from `address` is closed. */
  release(address: string): void {
    this.#count--;
    const key = this.#keyOf(address);
    if (key === null) return;
    const left = (this.#perAddress.get(key) ?? 1) - 1;
    if (left <= 0) this.#perAddress.delete(key);
    else this.#perAddress.set(key, left);
  }

  /** What the per-address limits count `address` under; null for an exempt one. */
  #keyOf(address: string): string | null {
    if (this.#limits.exempt?.(address)) return null;
    return addressKey(address, { v6Prefix: this.#limits.ipv6Prefix });
  }

  /** The connect-rate refusal for `address`, or null when it is within its rate. */
  #tooFast(address: string, now: number): Refusal | null {
    const rate = this.#limits.connectRate ?? 0;
    if (rate <= 0) return null;
    if (++this.#admits % SWEEP_EVERY === 0) this.#sweep(now);
    let pace = this.#paces.get(address);
    if (pace === undefined) {
      pace = { bucket: new TokenBucket(rate / 60, rate, now), refusing: false, last: now };
      this.#paces.set(address, pace);
    }
    pace.last = now;
    if (pace.bucket.take(now)) {
      pace.refusing = false;
      return null;
    }
    const first = !pace.refusing;
    pace.refusing = true;
    return { code: "connect-rate", address, max: rate, first };
  }

  /** Forgets addresses that have not connected for a minute (their bucket is full again). */
  #sweep(now: number): void {
    for (const [address, pace] of this.#paces) {
      if (now - pace.last >= MINUTE_MS) this.#paces.delete(address);
    }
  }
}
