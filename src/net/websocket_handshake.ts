/**
 * The WebSocket opening handshake (RFC 6455 §4): whether a request asks for
 * a WebSocket, and the `101 Switching Protocols` answer or the refusal to
 * send. The IRCv3 subprotocols are negotiated here; the `Origin` is handed
 * to the caller, which alone knows which origins to allow.
 *
 * @module
 */

import type { HttpRequestHead } from "./http.ts";
import { httpResponse } from "./http.ts";
import { sha1 } from "./sha1.ts";
import { IRC_SUBPROTOCOLS, type IrcSubprotocol, type WebSocketMode } from "./websocket.ts";

/** The GUID RFC 6455 §1.3 appends to the client's key. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ---------------------------------------------------------------------------
// Handshake

/** What {@linkcode acceptWebSocket} decided. */
export type WebSocketHandshake =
  | {
    ok: true;
    /** The subprotocol agreed on, or null when the client offered none parley speaks. */
    protocol: IrcSubprotocol | null;
    /** What to send the client: binary frames for `binary.ircv3.net`, text frames otherwise. */
    mode: WebSocketMode;
    /** The `Origin` header (sent by browsers), or null: the caller decides whether to allow it. */
    origin: string | null;
    /** The `101 Switching Protocols` response to write before any frame. */
    response: Uint8Array;
  }
  | {
    ok: false;
    /** 400 (malformed upgrade), 405 (not GET) or 426 (not WebSocket version 13). */
    status: 400 | 405 | 426;
    /** Why, in English (also the response's body). */
    reason: string;
    /** The complete refusal to write before closing the connection. */
    response: Uint8Array;
  };

/**
 * Whether a request asks for a WebSocket: its `Upgrade` header lists
 * `websocket`. Such a request goes to {@linkcode acceptWebSocket}, which
 * accepts or refuses it; any other request is plain HTTP.
 */
export function isWebSocketRequest(head: HttpRequestHead): boolean {
  return listsToken(head.headers.get("upgrade"), "websocket");
}

/**
 * Checks an opening handshake (RFC 6455 §4.2.1) and answers it (§4.2.2).
 *
 * Accepted: `GET`, HTTP/1.1, a `Host`, `Upgrade` listing `websocket` and
 * `Connection` listing `upgrade` (both case-insensitive),
 * `Sec-WebSocket-Version: 13` (otherwise 426 with
 * `Sec-WebSocket-Version: 13`), and a `Sec-WebSocket-Key` that is the base64
 * of 16 bytes.
 *
 * The subprotocol is the first one in the client's `Sec-WebSocket-Protocol`
 * that parley speaks, as IRCv3 says ("respecting the client's order of
 * preference"). A client that offers none gets text frames and no
 * `Sec-WebSocket-Protocol` header. A client that offers only others is
 * accepted all the same, without the header (the IRCv3 spec allows it; a
 * browser then fails the connection itself, and may retry without
 * subprotocols). Extensions (`permessage-deflate`) are never agreed to.
 */
export function acceptWebSocket(
  head: HttpRequestHead,
  options: { date?: Date } = {},
): WebSocketHandshake {
  const headers = head.headers;
  const refuse = (status: 400 | 405 | 426, reason: string, extra: [string, string][] = []) =>
    refusal(status, reason, { extra, date: options.date });
  if (head.method !== "GET") {
    return refuse(405, "a WebSocket handshake is a GET request", [["Allow", "GET"]]);
  }
  if (head.version !== "HTTP/1.1") return refuse(400, "a WebSocket handshake needs HTTP/1.1");
  if (!headers.has("host")) return refuse(400, "no Host header");
  if (!listsToken(headers.get("upgrade"), "websocket")) {
    return refuse(400, "the Upgrade header does not ask for websocket");
  }
  if (!listsToken(headers.get("connection"), "upgrade")) {
    return refuse(400, "the Connection header does not list upgrade");
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return refuse(426, "only WebSocket version 13 is supported", [["Sec-WebSocket-Version", "13"]]);
  }
  const key = headers.get("sec-websocket-key");
  if (key === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return refuse(400, "Sec-WebSocket-Key is not the base64 of 16 bytes");
  }
  const protocol = chooseSubprotocol(headers.get("sec-websocket-protocol"));
  const answer: [string, string][] = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", webSocketAccept(key)],
  ];
  if (protocol !== null) answer.push(["Sec-WebSocket-Protocol", protocol]);
  return {
    ok: true,
    protocol,
    mode: protocol === "binary.ircv3.net" ? "binary" : "text",
    origin: headers.get("origin") ?? null,
    response: httpResponse(101, { headers: answer, date: options.date }),
  };
}

/** A refused handshake and the plain-text response that says why. */
function refusal(
  status: 400 | 405 | 426,
  reason: string,
  { extra, date }: { extra: [string, string][]; date?: Date },
): WebSocketHandshake {
  const response = httpResponse(status, {
    headers: [["Content-Type", "text/plain; charset=utf-8"], ["Connection", "close"], ...extra],
    body: reason + "\n",
    date,
  });
  return { ok: false, status, reason, response };
}

/** The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2). */
export function webSocketAccept(key: string): string {
  const input = key + WEBSOCKET_GUID;
  const bytes = input.length <= acceptScratch.length
    ? acceptScratch.subarray(0, input.length)
    : new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) bytes[i] = input.charCodeAt(i) & 0xff;
  return btoa(String.fromCharCode(...sha1(bytes)));
}

/** The key and GUID of a handshake (60 bytes), hashed once per connection: one array for all. */
const acceptScratch = new Uint8Array(64);

/** The first subprotocol the client lists that parley speaks, or null. */
function chooseSubprotocol(offered: string | undefined): IrcSubprotocol | null {
  if (offered === undefined) return null;
  for (const item of offered.split(",")) {
    const name = item.trim();
    if ((IRC_SUBPROTOCOLS as readonly string[]).includes(name)) return name as IrcSubprotocol;
  }
  return null;
}

/** Whether a comma-separated header value lists `token` (compared case-insensitively). */
function listsToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  return value.split(",").some((item) => item.trim().toLowerCase() === token);
}
