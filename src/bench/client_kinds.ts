/**
 * The kinds of client the bench can run, and what each sends: how it joins
 * the chat, how it says a payload, how it answers the server's PING.
 *
 * - `line`: the line protocol (parley's, `ncat --chat`'s). It sends nothing
 *   to join (the server puts it in its lobby and greets it); a payload is its
 *   own line, `PAYLOAD` LF, relayed as `<name> PAYLOAD`.
 * - `irc`: IRC over TCP. `NICK` and `USER` at once, `JOIN #lobby` when told
 *   to join; a payload is `PRIVMSG #lobby :PAYLOAD` CR LF, relayed as
 *   `:nick!user@host PRIVMSG #lobby :PAYLOAD`.
 * - `websocket`: IRC over WebSocket, as parley's page speaks it (IRCv3
 *   WebSocket transport, `text.ircv3.net`): the upgrade request and the same
 *   IRC lines, one per masked text frame, without CR LF; the upgrade and the
 *   registration are sent at once.
 *
 * The IRC kinds ask for no capability (no tags, no echo): each relayed line
 * is the plain IRC message. A client of an IRC kind is in the room once it
 * has joined the channel (366 for `#lobby`), where the line clients are.
 *
 * Why joining is a step of its own: IRC tells every member of a channel of
 * every JOIN (the line protocol stays quiet in big rooms), so N clients
 * joining one channel cost N²/2 JOIN lines. Joining while others still
 * connect keeps the server and the bench's own event loop so busy that a new
 * connection's first bytes can come later than the server waits to tell
 * protocols apart (it then takes the client for a line client). So a run
 * connects and registers everyone first, then has them join in waves.
 *
 * @module
 */

import { IRC_CHANNEL, PayloadEncoder } from "./payload.ts";
import { MaskedFrameWriter, upgradeRequest } from "./websocket_client.ts";

/** A kind of bench client (see the module's comment). */
export type ClientKind = "line" | "irc" | "websocket";

/** Every kind, as `--client-kind` takes them. */
export const CLIENT_KINDS: readonly ClientKind[] = ["line", "irc", "websocket"];

/** How reports name a kind's clients. */
export const CLIENT_KIND_NAMES: Record<ClientKind, string> = {
  line: "line clients",
  irc: "IRC clients",
  websocket: "WebSocket clients",
};

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const PRIVMSG = encoder.encode(`PRIVMSG ${IRC_CHANNEL} :`);
const PONG = encoder.encode("PONG ");
/** Nicks of this process: `b`, three letters of its own, the client's index. */
const NICK_TAG = Array.from(
  crypto.getRandomValues(new Uint8Array(3)),
  (byte) => String.fromCharCode(0x61 + byte % 26),
).join("");

/** The nick of client `index` (IRC kinds). */
export function nickOf(index: number): string {
  return `b${NICK_TAG}${index}`;
}

/** The IRC lines that register client `index` (and join the channel, with `join`). */
function registration(index: number, join: boolean): string[] {
  const nick = nickOf(index);
  const lines = [`NICK ${nick}`, `USER ${nick} 0 * :parley bench`];
  return join ? [...lines, JOIN] : lines;
}

const JOIN = `JOIN ${IRC_CHANNEL}`;

/**
 * What client `index` sends as soon as it is connected to `host`; null:
 * nothing. With `join`, a client of an IRC kind joins the channel at once too.
 */
export function openingBytes(
  kind: ClientKind,
  index: number,
  options: { host: string; join?: boolean },
): Uint8Array | null {
  const lines = registration(index, options.join ?? false);
  switch (kind) {
    case "line":
      return null;
    case "irc":
      return encoder.encode(lines.map((line) => line + "\r\n").join(""));
    case "websocket": {
      const frames = new MaskedFrameWriter();
      return concat([
        upgradeRequest(options.host),
        ...lines.map((line) => frames.text(encoder.encode(line)).slice()),
      ]);
    }
  }
}

/** What a client of an IRC kind sends to join the channel; null for line clients (in it already). */
export function joinBytes(kind: ClientKind): Uint8Array | null {
  switch (kind) {
    case "line":
      return null;
    case "irc":
      return encoder.encode(JOIN + "\r\n");
    case "websocket":
      return new MaskedFrameWriter().text(encoder.encode(JOIN)).slice();
  }
}

/** Says payloads as one kind of client does. */
export interface MessageEncoder {
  /**
   * The bytes of one message (see {@linkcode PayloadEncoder.encode}): valid
   * until the next call, so write them fully before encoding again.
   */
  encode(sender: number, seq: number, timeUs: number): Uint8Array;
}

/** The encoder of `kind`'s messages of `size`-byte payloads. */
export function messageEncoder(kind: ClientKind, size: number): MessageEncoder {
  const payloads = new PayloadEncoder(size);
  if (kind === "line") return payloads;
  if (kind === "irc") {
    const line = new Uint8Array(PRIVMSG.length + size + CRLF.length);
    line.set(PRIVMSG);
    line.set(CRLF, PRIVMSG.length + size);
    return {
      encode(sender, seq, timeUs) {
        line.set(payloads.encode(sender, seq, timeUs).subarray(0, size), PRIVMSG.length);
        return line;
      },
    };
  }
  const frames = new MaskedFrameWriter();
  return {
    encode(sender, seq, timeUs) {
      return frames.text(PRIVMSG, payloads.encode(sender, seq, timeUs).subarray(0, size));
    },
  };
}

/**
 * The answer to the server's `PING token` (IRC kinds): `PONG token`, as a
 * line or a frame. Fresh bytes: they may wait behind a message being written.
 */
export function pongBytes(kind: ClientKind, token: Uint8Array): Uint8Array {
  if (kind === "websocket") return new MaskedFrameWriter().text(PONG, token).slice();
  return concat([PONG, token, CRLF]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
