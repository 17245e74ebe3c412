/**
 * HTTP on the chat port (SPEC §12): recognised by its request line; the page
 * and its files are served, and a WebSocket upgrade on any path carries IRC
 * (the IRC front end's sessions, counted and logged as `web`). Each
 * connection is an {@linkcode HttpSession}.
 *
 * @module
 */

import type { Connection } from "../../net/connection.ts";
import { firstCommandLine, type Recognition } from "../../net/sniff.ts";
import type { FrontEnd, ServeContext } from "../front_end.ts";
import type { IrcFrontEnd } from "../irc/front_end.ts";
import { plain } from "./page.ts";
import { HttpSession } from "./session.ts";
import { DEFAULT_WEB_POLICY, type WebPolicy } from "./web_policy.ts";

// The patterns run on a first line as Latin-1 (see `firstCommandLine`).
const HTTP_REQUEST_LINE = /^[A-Z][A-Z_-]{0,31} [!-~]+ HTTP\/\d(?:\.\d)?$/;
/** An unfinished first word: an HTTP method may still follow. */
const PARTIAL_WORD = /^[A-Z][A-Z_-]{0,31}$/;
/** A method, a target, and the start of `HTTP/d.d`. */
const PARTIAL_HTTP =
  /^[A-Z][A-Z_-]{0,31} [!-~]*(?: (?:H|HT|HTT|HTTP|HTTP\/|HTTP\/\d|HTTP\/\d\.|HTTP\/\d\.\d)?)?$/;

/**
 * Whether the first bytes are an HTTP/1.x request line, `METHOD TARGET
 * HTTP/d.d`, any method in uppercase (the HTTP/2 preface `PRI * HTTP/2.0`
 * too). `GET me a coffee` is not.
 */
export function recogniseHttp(bytes: Uint8Array): Recognition {
  const line = firstCommandLine(bytes);
  if (line === null) return bytes.length === 0 ? "undecided" : "no";
  if (line.complete) return HTTP_REQUEST_LINE.test(line.text) ? "yes" : "no";
  return PARTIAL_WORD.test(line.text) || PARTIAL_HTTP.test(line.text) ? "undecided" : "no";
}

/**
 * The web front end: the page over HTTP, and IRC over WebSocket through
 * `irc`'s sessions. Its clients are counted as `web`.
 */
export function httpFrontEnd(irc: IrcFrontEnd, policy: WebPolicy = DEFAULT_WEB_POLICY): FrontEnd {
  const web = {
    policy,
    ircSession: (transport: Parameters<IrcFrontEnd["sessionOver"]>[0], context: ServeContext) =>
      irc.sessionOver(transport, context, "web"),
  };
  return {
    name: "http",
    counted: "web",
    everyPort: true,
    recognise: recogniseHttp,
    serve: (connection: Connection, context: ServeContext) =>
      new HttpSession(connection, context, web),
    refusal: (text) => plain(503, text + "\n", { close: true }).response,
  };
}
