/**
 * How IRC clients see the chat's events: `:alice!alice@parley PRIVMSG #dev :hi`,
 * JOIN, PART, NICK, QUIT and TOPIC lines, with the tags the client's
 * capabilities ask for (`time`, `msgid`, `account`, client-only tags). One
 * renderer per distinct set of rendering capabilities ({@linkcode IrcRenderers}),
 * shared by every IRC member that renders alike, so a batch is formatted once
 * for all of them.
 *
 * The host shown in a source is the server's, never the client's address.
 *
 * @module
 */

import type { ChatEvent, MessageEvent, QuitReason } from "../../core/events.ts";
import { formatChanges } from "../../core/channel_modes.ts";
import type { Renderer } from "../../core/records.ts";
import { formatMessage } from "../../protocol/irc/message.ts";
import { formatServerTime, formatTextLines } from "../../protocol/irc/text.ts";
import { serverNoticeText } from "../words.ts";
import { type RenderCaps, renderCaps, renderKey } from "./capabilities.ts";

const encoder = new TextEncoder();

/** The renderers of one server, one per distinct set of rendering capabilities. */
export class IrcRenderers {
  /** The host part of every source (`--irc-name`). */
  readonly host: string;
  readonly #renderers = new Map<string, IrcRenderer>();
  /** The renderer of a client without capabilities. */
  readonly plain: IrcRenderer;

  constructor(host: string) {
    this.host = host;
    this.plain = this.for(new Set());
  }

  /** The renderer for a client with `caps`. */
  for(caps: ReadonlySet<string>): IrcRenderer {
    const key = renderKey(caps);
    let renderer = this.#renderers.get(key);
    if (renderer === undefined) {
      this.#renderers.set(key, renderer = new IrcRenderer(this.host, renderCaps(caps)));
    }
    return renderer;
  }
}

/** Renders events as IRC lines. */
export class IrcRenderer implements Renderer {
  /** The host part of every source (`--irc-name`). */
  readonly host: string;
  /** What this renderer's clients asked to see. */
  readonly caps: RenderCaps;

  constructor(host: string, caps: RenderCaps) {
    this.host = host;
    this.caps = caps;
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

  /** The tags an event's lines carry for these capabilities (undefined: none). */
  tags(event: ChatEvent): Record<string, string> | undefined {
    const caps = this.caps;
    let tags: Record<string, string> | undefined;
    if (caps.messageTags && "tags" in event && event.tags) tags = { ...event.tags };
    if (caps.serverTime) (tags ??= {}).time = formatServerTime(event.time);
    if (caps.messageTags && event.id) (tags ??= {}).msgid = event.id;
    if (caps.accountTag && event.account) (tags ??= {}).account = event.account;
    return tags;
  }

  /** One event's lines, CRLF-terminated, joined; `extra` tags on each (a label, a batch). */
  lines(event: ChatEvent, extra?: Record<string, string>): string {
    const base = this.tags(event);
    const tags = extra ? { ...base, ...extra } : base;
    if (event.kind === "notice") {
      return formatTextLines({
        tags,
        source: this.host,
        command: "NOTICE",
        target: event.to ?? "*",
        text: serverNoticeText(event.notice),
      }).join("");
    }
    if (event.kind === "moderated") return ""; // an operator's act: carried out, not shown
    const source = this.source(event.nick, event.user);
    if ((event.kind === "message" || event.kind === "private") && event.tagmsg) {
      if (!this.caps.messageTags) return "";
      const target = event.kind === "message" ? `#${event.room}` : event.to;
      return formatMessage({ tags, source, command: "TAGMSG", params: [target] });
    }
    switch (event.kind) {
      case "message":
        return formatTextLines({
          tags,
          source,
          command: event.notice ? "NOTICE" : "PRIVMSG",
          target: `#${event.room}`,
          text: event.text,
          action: event.action,
        }).join("");
      case "private":
        return formatTextLines({
          tags,
          source,
          command: event.notice ? "NOTICE" : "PRIVMSG",
          target: event.to,
          text: event.text,
          action: event.action,
        }).join("");
      case "joined": {
        const join = formatMessage({
          tags,
          source,
          command: "JOIN",
          params: this.caps.extendedJoin
            ? [`#${event.room}`, event.account ?? "*", realnameShown(event.realname, event.user)]
            : [`#${event.room}`],
        }, { trailing: this.caps.extendedJoin });
        // away-notify: someone away who joins is told about as away at once.
        if (!this.caps.awayNotify || !event.away) return join;
        return join + formatMessage({ tags, source, command: "AWAY", params: [event.away] });
      }
      case "account":
        // account-notify: `ACCOUNT name` when someone proves an account, `ACCOUNT *` when dropped.
        if (!this.caps.accountNotify) return "";
        return formatMessage({ tags, source, command: "ACCOUNT", params: [event.account ?? "*"] });
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
      case "mode":
        return formatMessage({
          tags,
          source,
          command: "MODE",
          params: [`#${event.room}`, ...formatChanges(event.changes)],
        });
      case "kicked":
        return formatMessage({
          tags,
          source,
          command: "KICK",
          params: [`#${event.room}`, event.target, event.text],
        }, { trailing: true });
      case "invited":
        // The invited member, and with invite-notify the room's operators.
        if (event.notify && !this.caps.inviteNotify) return "";
        return formatMessage({
          tags,
          source,
          command: "INVITE",
          params: [event.to, `#${event.room}`],
        });
      case "away":
        if (!this.caps.awayNotify) return "";
        return formatMessage({
          tags,
          source,
          command: "AWAY",
          params: event.text === "" ? [] : [event.text],
        }, { trailing: event.text !== "" });
      case "realname":
        if (!this.caps.setname) return "";
        return formatMessage(
          { tags, source, command: "SETNAME", params: [realnameShown(event.realname, event.user)] },
          { trailing: true },
        );
    }
  }

  /** A room message as PRIVMSG (or NOTICE) lines to its channel (history replay). */
  messageLines(event: MessageEvent, extra?: Record<string, string>): string {
    return this.lines(event, extra);
  }
}

/** What IRC shows as the real name of a member who gave none (a line client). */
export const NO_REALNAME = "parley line client";

/**
 * A member's real name as IRC shows it: {@linkcode NO_REALNAME} when it gave
 * none (""), its user name when it is not known (null or absent: another
 * server's member, an event from before real names were kept).
 */
export function realnameShown(realname: string | null | undefined, user: string): string {
  if (realname === undefined || realname === null) return user;
  return realname || NO_REALNAME;
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
    case "input flood":
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
