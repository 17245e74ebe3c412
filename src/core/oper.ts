/**
 * The operator password (`/oper`, `--oper-password-file`): compared in
 * constant time, so how long a wrong guess takes says nothing about it, and
 * guarded against guessing (SPEC §4, "expensive work"): a few wrong ones per
 * address (IPv6: per /64) and a few more from everyone together per window;
 * past either, `/oper` is refused without comparing anything, even with the
 * right password, until the window has passed. An attempt counts as wrong
 * from the moment it starts and is forgiven when it was right, so attempts
 * sent at once cannot overtake the count. The budgets and why are in
 * `budgets.ts`; the server console needs no password and is never throttled.
 *
 * @module
 */

import { addressKey, AttemptThrottle, type Budgets, budgets, waitSeconds } from "./budgets.ts";
import type { Problem } from "./commands.ts";
import type { Clock } from "./events.ts";
import { constantTimeEqual } from "./passwords.ts";

/** Whether `given` is the operator password `expected` (both compared as SHA-256 of their NFC form). */
export async function operPasswordMatches(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  return constantTimeEqual(a, b);
}

/** The operator password with its guessing budgets. */
export class OperPassword {
  readonly #password: string | null;
  readonly #clock: Clock;
  readonly #v6Prefix: number;
  readonly #perAddress: AttemptThrottle;
  readonly #everyone: AttemptThrottle;

  /** `password` null: the server has none, and nobody can become an operator. */
  constructor(
    password: string | null,
    options: {
      clock: Clock;
      budgets?: Partial<Pick<Budgets, "v6Prefix" | "operFailures" | "serverOperFailures">>;
    },
  ) {
    const chosen = budgets(options.budgets);
    this.#password = password;
    this.#clock = options.clock;
    this.#v6Prefix = chosen.v6Prefix;
    this.#perAddress = new AttemptThrottle(chosen.operFailures);
    this.#everyone = new AttemptThrottle(chosen.serverOperFailures);
  }

  /** Null when `given`, tried from `address`, is the operator password; else why not. */
  async check(address: string, given: string): Promise<Problem | null> {
    if (this.#password === null) return { code: "no-operators" };
    const from = addressKey(address, { v6Prefix: this.#v6Prefix });
    const now = this.#clock();
    const wait = this.#perAddress.blocked(from, now);
    if (wait > 0) return { code: "too-many-attempts", seconds: waitSeconds(wait) };
    const everyoneWait = this.#everyone.blocked("", now);
    if (everyoneWait > 0) {
      return {
        code: "busy",
        work: "oper-attempts",
        scope: "server",
        seconds: waitSeconds(everyoneWait),
      };
    }
    const mine = this.#perAddress.reserve(from, now);
    const everyone = this.#everyone.reserve("", now);
    if (!(await operPasswordMatches(given, this.#password))) {
      return { code: "wrong-oper-password" };
    }
    this.#perAddress.release(mine);
    this.#everyone.release(everyone);
    return null;
  }
}

async function digest(text: string): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(text.normalize("NFC"));
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
