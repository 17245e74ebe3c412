/**
 * Admission: whether a new connection may join, counted from accept to close.
 * It enforces the total (`--max-clients`) and per-address (`--max-per-ip`)
 * limits over every listener of a server (line and IRC alike). Refusals are
 * codes; the front end of the listener words them.
 *
 * ```ts
 * const refusal = admission.admit(peer.hostname); // counts the connection either way
 * try { if (refusal) refuse(refusal); else serve(); } finally { admission.release(peer.hostname); }
 * ```
 *
 * @module
 */

/** Why a connection is turned away. */
export type Refusal =
  | { code: "full"; max: number }
  | { code: "per-address"; address: string; max: number };

/** Admission limits. */
export interface AdmissionLimits {
  /** Most connections at once. */
  maxClients: number;
  /** Most connections from one address (0 = no limit). */
  maxPerIp: number;
}

/** Counts connections and says which may not stay. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #perAddress = new Map<string, number>();
  #count = 0;

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
  admit(address: string): Refusal | null {
    this.#count++;
    const fromAddress = (this.#perAddress.get(address) ?? 0) + 1;
    this.#perAddress.set(address, fromAddress);
    const { maxClients, maxPerIp } = this.#limits;
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
}
