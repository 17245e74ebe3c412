/**
 * The front ends a server speaks, in the order a connection to the chat port
 * is offered to them: each recognises its own protocol from the first bytes;
 * the last one (line) takes whatever nobody else recognised. Adding a front
 * end is its folder and one line here.
 *
 * @module
 */

import type { FrontEnd } from "./front_end.ts";
import { httpFrontEnd } from "./http/front_end.ts";
import type { WebPolicy } from "./http/web_policy.ts";
import { ircFrontEnd, type IrcOptions } from "./irc/front_end.ts";
import { lineFrontEnd } from "./line/front_end.ts";

/** Options of the front ends that take any. */
export interface FrontEndOptions {
  irc?: IrcOptions;
  /** Which other sites' pages may connect, which proxies are believed (`--web-origin`, `--trust-proxy`). */
  web?: WebPolicy;
}

/** The server's front ends; the last one is the chat port's fallback. */
export function frontEnds(options: FrontEndOptions = {}): FrontEnd[] {
  const irc = ircFrontEnd(options.irc);
  return [httpFrontEnd(irc, options.web), irc, lineFrontEnd];
}
