/**
 * WebSocket (RFC 6455) for IRC on the chat port, as the IRCv3 WebSocket
 * transport has it: what its parts share. Pure: no socket; the caller reads
 * and writes, and decides.
 *
 * - ./websocket_handshake.ts: {@linkcode acceptWebSocket} checks an upgrade
 *   request read by `HttpHeadReader` (./http.ts) and gives the `101 Switching
 *   Protocols` bytes, or the refusal to send. The IRCv3 subprotocols are
 *   negotiated there; the `Origin` is handed to the caller, which alone knows
 *   which origins to allow.
 * - ./websocket_decoder.ts: {@linkcode WebSocketDecoder} turns the client's
 *   bytes, split anywhere, into messages, pings, pongs, a close, or the one
 *   protocol error that ends the connection with the close code to send.
 *   Memory is bounded by `maxMessage` however the bytes come.
 * - ./websocket_frames.ts: {@linkcode frameIrcLines} turns rendered IRC
 *   output (CR LF lines) into one WebSocket message per line, all in one
 *   buffer, so that output for many receivers is framed once and its bytes
 *   shared; {@linkcode textFrame}, {@linkcode binaryFrame},
 *   {@linkcode pingFrame}, {@linkcode pongFrame} and {@linkcode closeFrame}
 *   build single frames. Server frames are never masked.
 *
 * This module holds what they share: the subprotocols and modes, the close
 * codes, the opcodes.
 *
 * @module
 */

/** The IRCv3 subprotocols parley speaks (the client's order of preference decides between them). */
export const IRC_SUBPROTOCOLS = ["text.ircv3.net", "binary.ircv3.net"] as const;

/** An IRCv3 WebSocket subprotocol. */
export type IrcSubprotocol = typeof IRC_SUBPROTOCOLS[number];

/**
 * The kind of messages the server sends a WebSocket client: binary when
 * `binary.ircv3.net` was negotiated, text otherwise.
 */
export type WebSocketMode = "text" | "binary";

/** Close codes parley sends (RFC 6455 §7.4.1). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidData: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
} as const;

/**
 * The largest message a client may send by default: 8 KiB of tags plus a
 * 512-byte IRC line. A line longer than the IRC front end accepts but within
 * this limit reaches the front end, which answers it as IRC does (417); only
 * a bigger message closes the connection (1009).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 8192 + 512;

/** Frame opcodes (RFC 6455 §5.2). */
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;
/** The most bytes a control frame (close, ping, pong) carries. */
export const MAX_CONTROL_PAYLOAD = 125;

/** Close codes a peer may send (RFC 6455 §7.4.1, §7.4.2, and the IANA registry up to 1014). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}
