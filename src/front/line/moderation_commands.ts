/**
 * The line protocol's commands for operators, rows of the command table
 * (`commands.ts`): a room's operators kick, give and take statuses, invite
 * and change the room's modes; server operators disconnect (`/kill`) and use
 * the console's commands (`/ban`, `/mute`, …, read with its grammar).
 *
 * @module
 */

import { formatChanges, type ModeChange, parseModeString } from "../../core/channel_modes.ts";
import { moderatedLines } from "../moderation.ts";
import { changesSomething, describeProblem, parseOperatorLine } from "../operator_commands.ts";
import { modeChangeText, modesText, problemText } from "../words.ts";
import {
  type LineCommand,
  type LineCommandRow,
  type LineContext,
  NO_ROOM_TEXT,
  type Rows,
} from "./line_command.ts";

/** The operators' commands' kinds. */
type ModerationKind =
  | "kick"
  | "kill"
  | "op"
  | "deop"
  | "voice"
  | "devoice"
  | "invite"
  | "mode"
  | "operator";

/** Operators' commands, in the order `/help` lists them. */
export const MODERATION_COMMANDS: Pick<Rows, ModerationKind> = {
  kick: {
    names: ["kick"],
    usage: "/kick NICK [REASON]",
    about: "take NICK out of your room (its operators)",
    parse(args) {
      const [, nick, reason] = /^(\S+)\s*(.*)$/s.exec(args) ?? [];
      return nick ? { kind: "kick", nick, reason: reason?.trim() || undefined } : null;
    },
    async run(context, { nick, reason }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "kick",
        room: context.room.name,
        nick,
        reason,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      const { target, text } = reply.event;
      context.operatorDid(`kicked ${target} from #${reply.room} (${text})`);
      context.notice(`you kicked ${target} from #${reply.room}`);
    },
  },
  // Server operators' `/kill NICK [REASON]`: out of the chat (the console's `/kick`).
  kill: {
    names: ["kill"],
    usage: "/kill NICK [REASON]",
    about: "disconnect NICK (server operators)",
    unlisted: true,
    parse(args) {
      const [, nick, reason] = /^(\S+)\s*(.*)$/s.exec(args) ?? [];
      return nick ? { kind: "kill", nick, reason: reason?.trim() || undefined } : null;
    },
    async run(context, { nick, reason }) {
      const reply = await context.chat.apply(context.member, {
        kind: "moderate",
        command: { kind: "kick", nick, reason },
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      const lines = moderatedLines(reply, Date.now());
      context.operatorDid(lines.join("; "));
      for (const text of lines) context.notice(text);
    },
  },
  op: statusRow("op", "o", true, "make NICK an operator of your room"),
  deop: statusRow("deop", "o", false, "take NICK's operator status in your room"),
  voice: statusRow("voice", "v", true, "let NICK speak in your room when it is moderated"),
  devoice: statusRow("devoice", "v", false, "take NICK's voice in your room"),
  invite: {
    names: ["invite"],
    usage: "/invite NICK",
    about: "invite NICK into your room (past its key, limit, bans and +i)",
    parse: (args) => /^\S+$/.test(args) ? { kind: "invite", nick: args } : null,
    async run(context, { nick }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "invite",
        room: context.room.name,
        nick,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.notice(`you invited ${reply.nick} into #${reply.room}`);
    },
  },
  mode: {
    names: ["mode"],
    usage: "/mode [CHANGES]",
    about:
      "your room's modes; its operators change them: +i, +k KEY, +l N, +m, +s, +t, +b MASK (- undoes)",
    parse: (args) => ({ kind: "mode", words: args.split(/\s+/).filter(Boolean) }),
    async run(context, { words }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const room = context.room.name;
      if (words.length === 0) {
        const reply = await context.chat.apply(context.member, { kind: "modes", room });
        if (reply.kind === "refused") return context.error(problemText(reply.problem));
        return context.notice(modesText(reply.room, reply.modes, reply.member));
      }
      const changes = words.filter((word) => /^[+-]/.test(word)).join("");
      const params = words.filter((word) => !/^[+-]/.test(word));
      const parsed = parseModeString(changes, params, false);
      if (parsed.unknown.length > 0 || changes === "") {
        return context.error(`unknown mode ${parsed.unknown.join("") || words[0]} (${MODES_HELP})`);
      }
      if (parsed.missing.length > 0) {
        return context.error(`+${parsed.missing.join("")} needs a value (${MODES_HELP})`);
      }
      if (parsed.changes.length === 0) {
        const reply = await context.chat.apply(context.member, { kind: "modes", room });
        if (reply.kind === "refused") return context.error(problemText(reply.problem));
        return context.notice(modesText(reply.room, reply.modes, reply.member));
      }
      await changeModes(context, parsed.changes);
    },
  },
  operator: {
    names: ["ban", "unban", "bans", "mute", "unmute", "say", "stats", "backup"],
    usage: "/ban NICK …",
    about: "operator commands (see /oper)",
    unlisted: true,
    parse: (_args, line) => ({ kind: "operator", line }),
    async run(context, { line }) {
      const parsed = parseOperatorLine(line);
      if (parsed.type === "problem") return context.error(describeProblem(parsed.problem));
      if (parsed.type !== "command") return;
      const reply = await context.chat.apply(context.member, {
        kind: "moderate",
        command: parsed.command,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      const lines = moderatedLines(reply, Date.now());
      if (changesSomething(parsed.command)) context.operatorDid(lines.join("; "));
      for (const text of lines) context.notice(text);
    },
  },
};

/** What `/mode` takes, for its errors. */
const MODES_HELP = "modes: +i, +k KEY, +l N, +m, +n, +s, +t, +b MASK; - undoes";

/** `/op`, `/deop`, `/voice`, `/devoice`: a status given or taken in the current room. */
function statusRow<K extends "op" | "deop" | "voice" | "devoice">(
  kind: K,
  mode: "o" | "v",
  on: boolean,
  about: string,
): LineCommandRow<K> {
  return {
    names: [kind],
    usage: `/${kind} NICK`,
    about,
    parse: (args) =>
      /^\S+$/.test(args) ? { kind, nick: args } as Extract<LineCommand, { kind: K }> : null,
    async run(context, command) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const { nick } = command as { nick: string };
      await changeModes(context, [{ mode, on, param: nick }]);
    },
  };
}

/** Changes the current room's modes; the client is told what changed and what could not. */
async function changeModes(context: LineContext, changes: ModeChange[]): Promise<void> {
  const reply = await context.chat.apply(context.member, {
    kind: "mode",
    room: context.room!.name,
    changes,
  });
  if (reply.kind === "refused") return context.error(problemText(reply.problem));
  for (const problem of reply.refused) context.error(problemText(problem));
  if (reply.event === null) {
    if (reply.refused.length === 0) context.notice("nothing to change");
    return;
  }
  const done = reply.event.changes.map(modeChangeText).join(", ");
  context.operatorDid(`set #${reply.room} ${formatChanges(reply.event.changes, false).join(" ")}`);
  context.notice(`you ${done} in #${reply.room}`);
}
