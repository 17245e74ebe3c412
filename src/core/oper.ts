/**
 * The operator password (`/oper`, `--oper-password-file`): compared in
 * constant time, so how long a wrong guess takes says nothing about it.
 *
 * @module
 */

import { constantTimeEqual } from "./passwords.ts";

/** Whether `given` is the operator password `expected` (both compared as SHA-256 of their NFC form). */
export async function operPasswordMatches(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  return constantTimeEqual(a, b);
}

async function digest(text: string): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(text.normalize("NFC"));
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
