/**
 * The IRC front end as the server registers it: recognised by an IRC
 * registration as a connection's first line, served by an
 * {@linkcode IrcSession}, refusals as ERROR lines. Its options are `--irc-port`,
 * `--irc-name` and `--motd`.
 *
 * @module
 */

import denoConfig from "../../../deno.json" with { type: "json" };
import { firstCommandLine, type Recognition } from "../../net/sniff.ts";
import { formatMessage } from "../../protocol/irc/message.ts";
import type { Transport } from "../../net/transport.ts";
import type { FrontEnd, ServeContext, Session } from "../front_end.ts";
import type { IrcServerInfo } from "./context.ts";
import { IrcRenderers } from "./render.ts";
import { IrcSession } from "./session.ts";

/** IRC settings. IRC clients are served on the line port too (told apart by their first line). */
export interface IrcOptions {
  /** A listener that speaks only IRC (`--irc-port`); TLS when the line listener is. */
  listener?: Deno.Listener;
  /** The server name in replies and in every source's host (`--irc-name`); the host name by default. */
  name?: string;
  /** The message of the day (`--motd FILE`); none gives 422. */
  motd?: readonly string[] | null;
  /** Silence after which a client is PINGed (ms; default 120 s). */
  pingAfterMs?: number;
  /** An unanswered PING ends the connection after this long (ms; default 60 s). */
  pingTimeoutMs?: number;
}

/** IRC clients are PINGed after this much silence, and dropped this long after an unanswered PING (SPEC §8). */
const IRC_PING_AFTER_MS = 120_000;
const IRC_PING_TIMEOUT_MS = 60_000;
const encoder = new TextEncoder();

// The patterns run on a first line as Latin-1 (see `firstCommandLine`).
const IRC_REGISTRATION = new RegExp(
  "^(?:" + [
    /CAP (?:LS(?: \d+)?|LIST|END|REQ .*)/,
    /NICK :?[^ ]{1,64}/,
    // Clients always send the real name as a trailing parameter.
    /USER [^ :][^ ]* [^ ]+ [^ ]+ :.*/,
    /PASS (?::.*|[^ :][^ ]*)/,
  ].map((pattern) => pattern.source).join("|") + ")$",
);
/** An unfinished first word: an IRC command may still follow. */
const PARTIAL_WORD = /^[A-Z][A-Z_-]{0,31}$/;
/** An IRC registration command and a space: its parameters are still coming. */
const PARTIAL_IRC = /^(?:CAP|NICK|USER|PASS) .*$/;

/**
 * Whether the first bytes are an IRC registration command with the
 * parameters clients send (uppercase, no tags, no prefix): `CAP LS [302]`,
 * `CAP REQ …`, `CAP LIST`, `CAP END`, `NICK name`, `USER name mode unused
 * :real name`, `PASS secret` or `PASS :secret`. `NICK is here`, `PASS the
 * salt` and `CAPS LOCK` are not.
 */
export function recogniseIrc(bytes: Uint8Array): Recognition {
  const line = firstCommandLine(bytes);
  if (line === null) return bytes.length === 0 ? "undecided" : "no";
  if (line.complete) return IRC_REGISTRATION.test(line.text) ? "yes" : "no";
  return PARTIAL_WORD.test(line.text) || PARTIAL_IRC.test(line.text) ? "undecided" : "no";
}

/** The IRC front end, which also serves IRC over other transports (WebSocket). */
export interface IrcFrontEnd extends FrontEnd {
  /** An IRC session over `transport`, marked `web` on the console when it is a WebSocket. */
  sessionOver(transport: Transport, context: ServeContext, mark: "irc" | "web"): Session;
}

/** The IRC front end with its options: the server name, the MOTD, the PING clock. */
export function ircFrontEnd(options: IrcOptions = {}): IrcFrontEnd {
  const name = options.name ?? hostName();
  const irc: IrcServerInfo = {
    name,
    version: denoConfig.version,
    created: new Date(),
    motd: options.motd ?? null,
    renderers: new IrcRenderers(name),
    pingAfterMs: options.pingAfterMs ?? IRC_PING_AFTER_MS,
    pingTimeoutMs: options.pingTimeoutMs ?? IRC_PING_TIMEOUT_MS,
  };
  const sessionOver = (transport: Transport, context: ServeContext, mark: "irc" | "web") =>
    new IrcSession(transport, {
      chat: context.chat,
      log: context.log,
      irc,
      counters: context.counters,
      onEnd: context.onEnd,
      mark,
    });
  return {
    name: "irc",
    counted: "irc",
    listener: options.listener,
    recognise: recogniseIrc,
    serve: (connection, context) => sessionOver(connection, context, "irc"),
    sessionOver,
    refusal: (text) =>
      encoder.encode(formatMessage({ command: "ERROR", params: [`Closing Link: ${text}`] })),
  };
}

/** This machine's name, for IRC replies; `parley` when it cannot be read. */
function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "parley";
  }
}
