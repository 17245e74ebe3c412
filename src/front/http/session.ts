/**
 * One HTTP connection on the chat port, from its first request head to its
 * close, or to its upgrade: a WebSocket handshake turns it into an IRC
 * session over a {@linkcode WebSocketTransport}, which this session then
 * stands for in the server's eyes (its member, its clock, its stop).
 *
 * Plain requests get the page (`page.ts`) on a bounded keep-alive: at most
 * {@linkcode MAX_REQUESTS} requests, the first head complete within
 * {@linkcode FIRST_HEAD_MS}, each next one within {@linkcode KEEP_ALIVE_MS}
 * of the last answer; a request with a body is answered and the connection
 * closed (bodies are never read). A head that is malformed or too long
 * (8 KiB, `net/http.ts`) gets its 400/431/505 and the close.
 *
 * The console shows the page being fetched (`GET /`) and every refused
 * request, not the page's files one by one: a visitor is one `http` line
 * and then, once the page has joined, the usual `connect` line marked `web`.
 *
 * @module
 */

import { errorText } from "../../errors.ts";
import type { Connection } from "../../net/connection.ts";
import { HttpHeadReader, type HttpHeadResult, type HttpRequestHead } from "../../net/http.ts";
import type { Transport } from "../../net/transport.ts";
import { acceptWebSocket, isWebSocketRequest } from "../../net/websocket_handshake.ts";
import { WebSocketTransport } from "../../net/websocket_transport.ts";
import type { ServeContext, Session } from "../front_end.ts";
import { type PageAnswer, pageAnswer, pathOf, plain, preparePage } from "./page.ts";
import { clientPeer, originAllowed, type WebPolicy } from "./web_policy.ts";

/** Requests served on one connection before it is closed. */
export const MAX_REQUESTS = 100;
/** How long a new connection has to send its first request head (ms). */
export const FIRST_HEAD_MS = 10_000;
/** How long a kept-alive connection may wait for its next request (ms). */
export const KEEP_ALIVE_MS = 5_000;

/** What the web side needs besides the connection: its policy, and IRC sessions. */
export interface WebServing {
  policy: WebPolicy;
  /** An IRC session over a WebSocket transport (the IRC front end's). */
  ircSession(transport: Transport, context: ServeContext): Session;
}

/** What reading a request head came to. */
type HeadRead =
  | { kind: "head"; head: HttpRequestHead }
  | { kind: "refused"; status: number; reason: string }
  /** Nothing came (the client closed or stayed quiet between requests). */
  | { kind: "nothing" }
  /** Part of a head came, and then nothing in time. */
  | { kind: "timed out" };

/** An HTTP connection (see the module's comment). */
export class HttpSession implements Session {
  readonly #connection: Connection;
  readonly #context: ServeContext;
  readonly #web: WebServing;
  /** The IRC session after an upgrade. */
  #irc: Session | null = null;

  constructor(connection: Connection, context: ServeContext, web: WebServing) {
    this.#connection = connection;
    this.#context = context;
    this.#web = web;
  }

  /** The TCP connection, whatever it carries (the server counts and releases it by its peer). */
  get connection(): Transport {
    return this.#connection;
  }

  get present() {
    return this.#irc?.present ?? null;
  }

  async start(): Promise<void> {
    try {
      if (await this.#serve()) return;
    } catch (error) {
      this.#context.log.event({
        event: "error",
        message: `HTTP connection failed: ${errorText(error)}`,
      });
      this.#connection.end("error", { detail: errorText(error) });
    }
    await this.#connection.close();
    this.#context.onEnd(this);
  }

  stop(reason: "shutdown"): void {
    if (this.#irc !== null) return this.#irc.stop(reason);
    this.#connection.end(reason);
  }

  tick(now: number): void {
    if (this.#irc !== null) return this.#irc.tick(now);
    this.#connection.checkStalled();
  }

  /** Answers requests until the connection is done with (false) or upgraded (true). */
  async #serve(): Promise<boolean> {
    for (let served = 0; served < MAX_REQUESTS; served++) {
      const read = await this.#readHead(served === 0 ? FIRST_HEAD_MS : KEEP_ALIVE_MS);
      if (this.#connection.ending || read.kind === "nothing") return false;
      if (read.kind === "timed out") {
        this.#answer(
          "-",
          "-",
          plain(408, "The request took too long to arrive.\n", { close: true }),
        );
        return false;
      }
      if (read.kind === "refused") {
        this.#answer("-", "-", plain(read.status, read.reason + "\n", { close: true }));
        return false;
      }
      const head = read.head;
      this.#connection.consume(head.length);
      if (isWebSocketRequest(head)) return await this.#upgrade(head);
      const last = served + 1 === MAX_REQUESTS || !keepsAlive(head);
      await preparePage();
      this.#answer(head.method, head.target, pageAnswer(head, { close: last }));
      if (last) return false;
    }
    return false;
  }

  /** Reads one request head within `ms`; the bytes after it stay for what comes next. */
  async #readHead(ms: number): Promise<HeadRead> {
    const reader = new HttpHeadReader();
    let result: HttpHeadResult = { kind: "more" };
    let fed = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeUp = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
    const bytes = await this.#connection.peek(timeUp, (bytes) => {
      if (bytes.length > fed) {
        result = reader.push(bytes.subarray(fed));
        fed = bytes.length;
      }
      return result.kind !== "more";
    });
    clearTimeout(timer);
    result = result as HttpHeadResult;
    if (result.kind === "complete") return { kind: "head", head: result.head };
    if (result.kind === "error") {
      return { kind: "refused", status: result.status, reason: result.reason };
    }
    return bytes.length === 0 ? { kind: "nothing" } : { kind: "timed out" };
  }

  /**
   * A WebSocket handshake: refused with its status, or a page from another
   * site without `--web-origin` (403); else answered 101 and the connection
   * carries an IRC session from here.
   */
  async #upgrade(head: HttpRequestHead): Promise<boolean> {
    const handshake = acceptWebSocket(head);
    if (!handshake.ok) {
      this.#answer(head.method, head.target, handshake);
      return false;
    }
    const policy = this.#web.policy;
    if (!originAllowed(handshake.origin, head.headers.get("host"), policy)) {
      const why = `A page from ${handshake.origin} may not open a chat connection here ` +
        `(the server allows it with --web-origin).\n`;
      this.#answer(head.method, head.target, plain(403, why, { close: true }));
      return false;
    }
    const connection = this.#connection;
    const peer = clientPeer(
      connection.peer,
      head.headers.get("x-forwarded-for"),
      policy.trustedProxies,
    );
    connection.send(handshake.response);
    const transport = new WebSocketTransport(connection, { mode: handshake.mode, peer });
    const irc = this.#web.ircSession(transport, {
      ...this.#context,
      onEnd: () => this.#context.onEnd(this),
    });
    this.#irc = irc;
    await irc.start();
    return true;
  }

  /** Sends an answer; the console hears of the page itself and of every refusal. */
  #answer(
    method: string,
    target: string,
    answer: PageAnswer | { status: number; response: Uint8Array },
  ): void {
    this.#connection.send(answer.response);
    if (answer.status >= 400 || pathOf(target) === "/") {
      this.#context.log.event({
        event: "http",
        peer: this.#connection.peer,
        method,
        target: target.length > 200 ? target.slice(0, 200) + "…" : target,
        status: answer.status,
      });
    }
  }
}

/**
 * Whether the connection stays open for another request: HTTP/1.1 unless it
 * says `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`;
 * never after a request with a body (its bytes are not read).
 */
function keepsAlive(head: HttpRequestHead): boolean {
  const headers = head.headers;
  if (headers.has("transfer-encoding")) return false;
  const length = headers.get("content-length");
  if (length !== undefined && length !== "0") return false;
  const tokens = (headers.get("connection") ?? "").toLowerCase().split(",").map((t) => t.trim());
  if (tokens.includes("close")) return false;
  return head.version === "HTTP/1.1" || tokens.includes("keep-alive");
}
