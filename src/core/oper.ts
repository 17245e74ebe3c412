/**
 * The operator password (`/oper`, `--oper-password-file`): compared in
 * constant time, so how long a wrong guess takes says nothing about it.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

/** Whether `given` is the operator password `expected`. */
export function operPasswordMatches(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text.normalize("NFC")).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
