/**
 * Which protocol a connection on the chat port speaks, from its first bytes
 * (SPEC §2): a TLS handshake (turned away on a plain port), or the first
 * front end that recognises them (HTTP, IRC), or the last one (line) when
 * none does. Pure.
 *
 * - A TLS handshake starts with 0x16 0x03.
 * - A first byte that is not an uppercase ASCII letter (lowercase chat, a
 *   `/command`, telnet's IAC, any UTF-8 text) is nobody's but the line
 *   front end's, at once.
 * - Otherwise the first line decides, once its LF has arrived; before it,
 *   the answer is `undecided` while the bytes can still become a front end's.
 *
 * @module
 */

import { recogniseTls } from "../net/sniff.ts";
import type { FrontEnd } from "./front_end.ts";
import { frontEnds } from "./registry.ts";

/**
 * The front end the first bytes belong to, `"tls"`, or `"undecided"` (wait
 * for more bytes, until the deadline). More bytes never turn a decided answer
 * into another one.
 */
export function classify(
  bytes: Uint8Array,
  fronts: readonly FrontEnd[],
): FrontEnd | "tls" | "undecided" {
  const tls = recogniseTls(bytes);
  if (tls !== "no") return tls === "yes" ? "tls" : "undecided";
  let undecided = false;
  for (const front of fronts.slice(0, -1)) {
    const answer = front.recognise(bytes);
    if (answer === "yes") return front;
    if (answer === "undecided") undecided = true;
  }
  return undecided ? "undecided" : fronts[fronts.length - 1];
}

/** What a connection is, by the name of its front end. */
export type Classification = "tls" | "http" | "irc" | "line" | "undecided";

let defaultFronts: FrontEnd[] | null = null;

/** {@linkcode classify} with the default front ends, by name. */
export function classifyFirstBytes(bytes: Uint8Array): Classification {
  const answer = classify(bytes, defaultFronts ??= frontEnds());
  return typeof answer === "string" ? answer : answer.name as Classification;
}
