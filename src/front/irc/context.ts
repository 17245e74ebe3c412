/**
 * What the IRC front end's command handlers may do to and through the
 * session that runs them ({@linkcode IrcContext}), and what every IRC session
 * of one server shares ({@linkcode IrcServerInfo}). The session implements
 * the context; handlers never reach into it otherwise.
 *
 * @module
 */

import type { Chat, ChatMember } from "../../core/chat.ts";
import type { Problem, ProvedAccount } from "../../core/commands.ts";
import type { ChatEvent } from "../../core/events.ts";
import type { Logger } from "../../log.ts";
import type { FrontCounters } from "../../metrics.ts";
import type { Transport } from "../../net/transport.ts";
import type { IrcMessage } from "../../protocol/irc/message.ts";
import type { IrcRenderer, IrcRenderers } from "./render.ts";

/** What every IRC session of one server shares. */
export interface IrcServerInfo {
  /** The server's name in replies and the host part of every source (`--irc-name`). */
  name: string;
  /** parley's version, for 002 and 004. */
  version: string;
  /** When the server started, for 003. */
  created: Date;
  /** The message of the day (`--motd`), or null for 422. */
  motd: readonly string[] | null;
  /** The renderers, one per distinct set of rendering capabilities. */
  renderers: IrcRenderers;
  /** Silence after which the server PINGs the client (ms). */
  pingAfterMs: number;
  /** An unanswered PING ends the connection after this long (ms). */
  pingTimeoutMs: number;
}

/** One IRC session, as its command handlers see it. */
export interface IrcContext {
  readonly chat: Chat;
  readonly log: Logger;
  readonly irc: IrcServerInfo;
  readonly transport: Transport;
  readonly counters: FrontCounters | undefined;
  /** The member once registered (handlers of registered commands run only then). */
  readonly member: ChatMember;
  /** Whether the client has registered. */
  readonly registered: boolean;
  /** The nick: registered, asked for, or `*`. */
  readonly nick: string;
  /** The capabilities the client asked for and has. */
  readonly caps: ReadonlySet<string>;
  /** The client negotiated capabilities (CAP LS or REQ), whichever it took. */
  readonly negotiated: boolean;
  /** How events look to this client (its capabilities' renderer). */
  readonly renderer: IrcRenderer;

  /** A numeric whose last parameter is text for people (sent as `:trailing`). */
  numeric(code: string, ...params: string[]): void;
  /** A numeric of data only (004, 221, 324, 333): parameters sent as they are. */
  numericData(code: string, ...params: string[]): void;
  /** One formatted line (CRLF included) to this client. */
  sendLine(line: string): void;
  /** Its own message or private message back, for a client with echo-message. */
  echo(event: ChatEvent): void;
  /** A line about this member's own doing (`:me!user@host JOIN #dev`), as the others see it. */
  own(command: string, params: string[], trailing?: boolean): string;
  /** A NOTICE from the server to this client. */
  serverNotice(text: string): void;
  /** Events wait while the client is told about a channel it joins (`hold`), then go out. */
  hold(): void;
  release(): void;
  /** Logs an account matter (never a password). */
  account(what: string, nick?: string): void;
  /** Counts a message this client sent (the session's total and the metrics). */
  counted(kind: "room" | "private"): void;
  /** The 433/432 a nick problem gets. */
  nickProblem(problem: Problem, wanted: string): void;
  /** The numeric a channel problem gets. */
  roomProblem(channel: string, problem: Problem): void;
  /** Registration: NICK, USER and PASS before it, CAP before and after. */
  nickGiven(message: IrcMessage): void | Promise<void>;
  userGiven(message: IrcMessage): void | Promise<void>;
  passGiven(message: IrcMessage): void;
  /**
   * Before registration: the account the client proved (SASL, REGISTER), which it
   * enters the chat with; null when none. Once registered, the member's account counts.
   */
  provedAccount: ProvedAccount | null;
  cap(message: IrcMessage): void | Promise<void>;
  /** Answers the client's PING. */
  pong(token: string | undefined): void;
  /** The client answered the server's PING. */
  ponged(): void;
  /** QUIT: the client leaves with an ERROR line. */
  quit(reason: string): void;
}
