/**
 * How IRC clients see the chat's events: `:alice!alice@parley PRIVMSG #dev :hi`,
 * JOIN, PART, NICK, QUIT and TOPIC lines, with `@time=` tags for clients that
 * asked for `server-time`. One renderer per (server name, tags) pair, shared by
 * every IRC member that renders alike, so a batch is formatted once for all
 * of them.
 *
 * The host shown in a source is the server's, never the client's address.
 *
 * @module
 */

import { formatMessage } from "../../protocol/irc/message.ts";
import { formatServerTime, formatTextLines } from "../../protocol/irc/text.ts";
import { serverNoticeText } from "../words.ts";
import type { Renderer } from "../../core/records.ts";
import type { ChatEvent, MessageEvent, QuitReason } from "../../core/events.ts";

const encoder = new TextEncoder();

/** Renders events as IRC lines. */
export class IrcRenderer implements Renderer {
  /** The host part of every source (`--irc-name`). */
  readonly host: string;
  /** Whether lines carry `@time=` tags (the `server-time` capability). */
  readonly serverTime: boolean;

  constructor(host: string, options: { serverTime: boolean }) {
    this.host = host;
    this.serverTime = options.serverTime;
  }

  /** `nick!user@host`. */
  source(nick: string, user: string): string {
    return `${nick}!${user}@${this.host}`;
  }

  render(events: readonly ChatEvent[]): Uint8Array | null {
    let text = "";
    for (const event of events) text += this.lines(event);
    return text === "" ? null : encoder.encode(text);
  }

  /** One event's lines, CRLF-terminated, joined. */
  lines(event: ChatEvent): string {
    const tags = this.serverTime ? { time: formatServerTime(event.time) } : undefined;
    if (event.kind === "notice") {
      return formatTextLines({
        tags,
        source: this.host,
        command: "NOTICE",
        target: event.to ?? "*",
        text: serverNoticeText(event.notice),
      }).join("");
    }
    const source = this.source(event.nick, event.user);
    switch (event.kind) {
      case "message":
        return this.messageLines(event, tags);
      case "private":
        return formatTextLines({
          tags,
          source,
          command: event.notice ? "NOTICE" : "PRIVMSG",
          target: event.to,
          text: event.text,
          action: event.action,
        }).join("");
      case "joined":
        return formatMessage({ tags, source, command: "JOIN", params: [`#${event.room}`] });
      case "left":
        return formatMessage({
          tags,
          source,
          command: "PART",
          params: [
            `#${event.room}`,
            event.how === "moved" ? `went to #${event.to}` : event.text ?? "",
          ],
        });
      case "renamed":
        return formatMessage({ tags, source, command: "NICK", params: [event.to] });
      case "quit":
        return formatMessage({
          tags,
          source,
          command: "QUIT",
          params: [quitText(event.reason, event.detail)],
        });
      case "topic":
        return formatMessage({
          tags,
          source,
          command: "TOPIC",
          params: [`#${event.room}`, event.text],
        }, { trailing: true });
    }
  }

  /** A room message as PRIVMSG (or NOTICE) lines to its channel, split to fit 512 bytes. */
  messageLines(event: MessageEvent, tags?: Record<string, string>): string {
    return formatTextLines({
      tags,
      source: this.source(event.nick, event.user),
      command: event.notice ? "NOTICE" : "PRIVMSG",
      target: `#${event.room}`,
      text: event.text,
      action: event.action,
    }).join("");
  }
}

/** The text of a QUIT as IRC clients show it (`Quit: gone fishing`, `Connection reset`, …). */
export function quitText(reason: QuitReason, detail: string): string {
  switch (reason) {
    case "quit":
      return detail ? `Quit: ${detail}` : "Quit";
    case "closed":
      return "Connection closed";
    case "reset":
      return detail ? `Connection reset (${detail})` : "Connection reset";
    case "idle":
      return detail ? `Idle: ${detail}` : "Idle";
    case "send queue exceeded":
    case "send queue stalled":
      return `Excess flood: ${reason}`;
    case "shutdown":
      return "Server shutting down";
    case "error":
      return "Error";
    case "kicked":
      return detail ? `Kicked (${detail})` : "Kicked";
    case "server lost":
      return "Server lost (*.net *.split)";
  }
}
