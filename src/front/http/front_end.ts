/**
 * HTTP on the chat port: recognised by its request line, and answered with a
 * short plain-text reply saying what this port is, so that a browser or curl
 * pointed at the chat port learns how to join (SPEC §2). Nothing of it
 * reaches a room; the log says what it was.
 *
 * @module
 */

import type { Connection } from "../../net/connection.ts";
import { firstCommandLine, type Recognition } from "../../net/sniff.ts";
import type { FrontEnd, TurnedAway } from "../front_end.ts";

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

/** The HTTP front end: today a polite "this is a chat port". */
export const httpFrontEnd: FrontEnd = {
  name: "http",
  recognise: recogniseHttp,
  serve(connection: Connection, _context, first): TurnedAway {
    const local = connection.localAddr;
    const notice = chatPortNotice(local.hostname, local.port);
    connection.end("closed", { notice: httpReply(notice, { request: first }) });
    return { kind: "turned-away", reason: "HTTP request on the chat port", metric: "http" };
  },
  refusal: (text) => httpReply(text + "\n"),
};

/** Options for {@linkcode httpReply}. */
export interface HttpReplyOptions {
  /** The request's first bytes: a HEAD request gets the headers without the body. */
  request?: Uint8Array;
  /** The time for the Date header (the current time when not given). */
  date?: Date;
}

const encoder = new TextEncoder();
const HEAD = encoder.encode("HEAD ");

/**
 * A complete HTTP/1.1 response carrying `text` as a plain-text body, for an
 * HTTP client that reached the chat port. The status is 400 Bad Request: the
 * request is at fault (it was sent to a port that does not speak HTTP), and
 * unlike 404 a 400 is not cached, unlike 503 it does not invite a retry. The
 * server closes the connection after sending it (`Connection: close`).
 */
export function httpReply(text: string, options: HttpReplyOptions = {}): Uint8Array {
  const body = encoder.encode(text);
  const date = (options.date ?? new Date()).toUTCString();
  const head = [
    "HTTP/1.1 400 Bad Request",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${body.length}`,
    "Connection: close",
    `Date: ${date}`,
    "",
    "",
  ].join("\r\n");
  const headBytes = encoder.encode(head);
  if (options.request && startsWith(options.request, HEAD)) return headBytes;
  const reply = new Uint8Array(headBytes.length + body.length);
  reply.set(headBytes);
  reply.set(body, headBytes.length);
  return reply;
}

/**
 * What an HTTP client is told: that this is a parley chat port and how to
 * join it. `hostname` and `port` are the address the client connected to
 * (the connection's local address, not a wildcard like 0.0.0.0).
 */
export function chatPortNotice(hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return [
    `This is a parley chat server (${host}:${port}), not a web server.`,
    "Join the chat from a terminal with one of:",
    "",
    `  nc ${hostname} ${port}`,
    `  telnet ${hostname} ${port}`,
    `  parley client ${host}:${port}`,
    "",
  ].join("\n");
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}
