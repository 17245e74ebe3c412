/**
 * Admission: whether a new connection may join, counted from accept to close.
 * It enforces bans, the connect rate per address (`--connect-rate`), and the
 * total (`--max-clients`) and per-address (`--max-per-ip`) limits over every
 * listener of a server (line and IRC alike). Refusals are codes; the front
 * end of the listener words them.
 *
 * ```ts
 * const refusal = admission.admit(peer.hostname); // counts the connection either way
 * try { if (refusal) refuse(refusal); else serve(); } finally { admission.release(peer.hostname); }
 * ```
 *
 * @module
 */

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
    const fromAddress = (this.#perAddress.get(address) ?? 0) + 1;
    this.#perAddress.set(address, fromAddress);
    const { maxClients, maxPerIp, bannedBy } = this.#limits;
    const ban = bannedBy?.(address);
    if (ban) return { code: "banned", address, ban };
    const tooFast = this.#tooFast(address, now);
    if (tooFast) return tooFast;
    if (this.#count > maxClients) return { code: "full", max: maxClients };
    if (maxPerIp > 0 && fromAddress > maxPerIp) {
      return { code: "per-address", address, max: maxPerIp };
    }
    return null;
  }

  /** A connection from `address` is closed. */
  release(address: string): void {
    this.#count--;
    const left = (this.#perAddress.get(address) ?? 1) - 1;
    if (left <= 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, left);
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
