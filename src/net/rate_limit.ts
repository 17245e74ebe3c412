/**
 * Flood control: a token bucket per client. Each line costs one token; tokens
 * come back at `rate` per second up to `burst`. When the bucket is empty the
 * server stops reading that client until a token is back, so TCP slows the
 * sender down and nothing is dropped. A second bucket counts bytes: each read
 * {@linkcode TokenBucket.spend}s what it brought, and the next read waits
 * until the bucket is out of debt ({@linkcode TokenBucket.debtWait}).
 *
 * @module
 */

/** A token bucket (of lines, or of bytes). */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  /** `rate` tokens per second, holding at most `burst` (at least 1). */
  constructor(rate: number, burst: number, now = performance.now()) {
    if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`);
    this.#perMs = rate / 1000;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
    this.#last = now;
  }

  /** Takes a token if one is there. */
  take(now = performance.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Takes `amount` tokens whether or not they are there: the bucket may go into debt. */
  spend(amount: number, now = performance.now()): void {
    this.#refill(now);
    this.#tokens -= amount;
  }

  /** Milliseconds until the bucket is out of debt (0 when it is not in debt). */
  debtWait(now = performance.now()): number {
    this.#refill(now);
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.#perMs);
  }

  /** Milliseconds until the next token (0 when one is there). */
  wait(now = performance.now()): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
  }
}
