/**
 * The words for what operator commands did, shared by the server console and
 * line clients who are operators, so that `/ban` answers alike wherever it is
 * typed. Pure.
 *
 * @module
 */

import { roomsText, topicText, whoText } from "./words.ts";
import { historyTime } from "../protocol/line.ts";
import { formatDuration } from "./operator_commands.ts";
import type { Moderated } from "../core/commands.ts";
import type { Ban } from "../core/store.ts";

/** The reply lines for what an operator command did. */
export function moderatedLines(reply: Moderated, now: number): string[] {
  switch (reply.kind) {
    case "said":
      return [`told ${reply.reached} online: ${reply.text}`];
    case "kicked":
      return [`kicked ${reply.nick}`];
    case "banned":
      return [
        `banned ${describeBan(reply.ban, now)}`,
        ...(reply.kicked.length > 0 ? [`removed: ${reply.kicked.join(", ")}`] : []),
      ];
    case "unbanned":
      return [`lifted the ban on ${reply.mask}`];
    case "bans":
      return reply.bans.length === 0 ? ["no bans"] : reply.bans.map((ban) => describeBan(ban, now));
    case "muted":
      return [
        reply.until === null
          ? `muted ${reply.nick} until /unmute`
          : `muted ${reply.nick} for ${formatDuration(reply.until - now)}`,
      ];
    case "unmuted":
      return [`unmuted ${reply.nick}`];
    case "backed-up":
      return [`backed up the database to ${reply.path}`];
    case "dropped":
      return [`the nick ${reply.nick} is not registered any more`];
    case "password-changed":
      return [`the password of ${reply.nick} is changed`];
    case "topic":
      return [
        reply.changed
          ? `topic of #${reply.room} is now: ${reply.topic?.text ?? ""}`
          : topicText(reply.room, reply.topic, now),
      ];
    case "who":
      return reply.room === "" && reply.members.length === 0
        ? ["nobody online"]
        : reply.room === ""
        ? [
          `online (${reply.members.length}): ${
            reply.members.map((member) => (member.operator ? "@" : "") + member.nick).join(", ")
          }`,
        ]
        : [whoText(reply.room, reply.members, reply.online)];
    case "rooms":
      return [roomsText(reply.rooms)];
    case "stats":
      return [
        `${reply.online} online, ${count(reply.rooms, "room")}, up ${
          formatDuration(reply.uptime * 1000)
        }, ${count(reply.bans, "ban")}, ${count(reply.operators, "operator")} here`,
      ];
  }
}

/** `203.0.113.0/24 for 1h59m (spam), by alice` */
function describeBan(ban: Ban, now: number): string {
  const span = ban.expires === null
    ? "for good"
    : `until ${historyTime(ban.expires, now)} (${
      formatDuration(Math.max(1000, ban.expires - now))
    } left)`;
  const reason = ban.reason ? ` (${ban.reason})` : "";
  return `${ban.mask} ${span}${reason}, by ${ban.by}`;
}

/** `1 room`, `3 rooms`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
