/**
 * What a front end is to the server: an object it registers that says how
 * its protocol is recognised from a connection's first bytes, how a session
 * is made over a transport, how a refusal is worded, and under which name it
 * is counted. The server names no protocol: it asks its front ends
 * (`registry.ts` lists them).
 *
 * @module
 */

import type { Chat, ChatMember } from "../core/chat.ts";
import type { Logger } from "../log.ts";
import type { FrontCounters, Frontend } from "../metrics.ts";
import type { Connection } from "../net/connection.ts";
import type { Recognition } from "../net/sniff.ts";
import type { Transport } from "../net/transport.ts";

/** A client's session, whatever its protocol, as the server sees it. */
export interface Session {
  readonly connection: Transport;
  /** Its member while the client is in the chat, else null. */
  readonly present: ChatMember | null;
  /** Greets and starts serving the client; the session reports its end through `onEnd`. */
  start(): Promise<void>;
  /** Ends it from outside, telling the client why in its protocol. */
  stop(reason: "shutdown"): void;
  /** Once a second or so: time-driven duties (idleness, PING, a stalled socket). */
  tick(now: number): void;
}

/** What the server gives a front end for each connection it serves. */
export interface ServeContext {
  chat: Chat;
  log: Logger;
  /** Longest line in bytes (`--max-line`). */
  maxLine: number;
  /** Seconds without a line before a client is disconnected (0 = never). */
  idleTimeout: number;
  /** What this front end counts for `--metrics`. */
  counters?: FrontCounters;
  /** Told once the session is over and its connection closed. */
  onEnd: (session: Session) => void;
}

/** A connection a front end answered and closed itself (no session): why, for the log. */
export interface TurnedAway {
  kind: "turned-away";
  /** For the log's `refused` line. */
  reason: string;
  /** For the metrics' refused counter. */
  metric: "http";
}

/** One protocol the server speaks. */
export interface FrontEnd {
  /** Its name in the log. */
  readonly name: string;
  /** Its label in the metrics when its clients are counted (HTTP's are not). */
  readonly counted?: Frontend;
  /** A port of its own (`--irc-port`), besides the chat port shared by all. */
  readonly listener?: Deno.Listener;
  /** Whether it is also offered connections on the other front ends' own ports (HTTP is). */
  readonly everyPort?: boolean;
  /** Whether a connection's first bytes are this protocol's (on a port shared by several). */
  recognise(first: Uint8Array): Recognition;
  /**
   * Serves a connection whose first bytes (`first`, still to be read by its
   * session) were sniffed: a session, or the connection answered and closed.
   */
  serve(connection: Connection, context: ServeContext, first: Uint8Array): Session | TurnedAway;
  /** What a refused connection (full, banned, …) is told, in this protocol. */
  refusal(text: string): Uint8Array;
}
