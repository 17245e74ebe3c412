/**
 * IRC's server-operator commands: OPER, and KILL (the user leaves the
 * server), DLINE and UNDLINE (the server's address bans, as `/ban` and
 * `/unban`) carried out as operator commands, answered as server notices.
 * KICK and MODE `+b` are a room operator's (`modes.ts`); server operators are
 * room operators everywhere.
 *
 * @module
 */

import type { Moderated, OperatorCommand, Refused } from "../../core/commands.ts";
import type { IrcMessage } from "../../protocol/irc/message.ts";
import { cleanString as clean } from "../../text.ts";
import { moderatedLines } from "../moderation.ts";
import { changesSomething, describeProblem, parseOperatorLine } from "../operator_commands.ts";
import { problemText } from "../words.ts";
import type { IrcContext } from "./context.ts";
import * as N from "./numerics.ts";

/** `OPER [name] password`. */
export async function oper(context: IrcContext, message: IrcMessage): Promise<void> {
  const password = message.params[message.params.length - 1];
  const reply = await context.chat.apply(context.member, { kind: "oper", password });
  if (reply.kind === "refused") {
    context.account(`oper failed: ${reply.problem.code}`);
    return context.numeric(N.ERR_PASSWDMISMATCH, problemText(reply.problem));
  }
  context.account("is a server operator now");
  context.numeric(N.RPL_YOUREOPER, "You are now an IRC operator");
  context.sendLine(context.own("MODE", [context.nick, "+o"], true));
}

/** `KILL nick [reason]`: a server operator removes the user from the server. */
export function kick(context: IrcContext, message: IrcMessage): Promise<void> | void {
  const [nick, reason] = message.params;
  if (!nick) {
    return context.numeric(N.ERR_NEEDMOREPARAMS, message.command, "Not enough parameters");
  }
  return moderate(context, { kind: "kick", nick, reason: reason ? clean(reason) : undefined });
}

/**
 * `DLINE NICK|ADDRESS|CIDR [DURATION] [REASON]` and `UNDLINE ADDRESS|CIDR`:
 * the server's address bans, read as the console reads `/ban` and `/unban`.
 */
export function dline(context: IrcContext, message: IrcMessage): Promise<void> | void {
  const verb = message.command === "DLINE" ? "/ban" : "/unban";
  const parsed = parseOperatorLine([verb, ...message.params.map(clean)].join(" "));
  if (parsed.type === "problem") return context.serverNotice(describeProblem(parsed.problem));
  if (parsed.type !== "command") return;
  return moderate(context, parsed.command);
}

/** An operator command from IRC: answered as server notices. */
export async function moderate(context: IrcContext, command: OperatorCommand): Promise<void> {
  const member = context.member;
  const reply = await context.chat.apply(member, { kind: "moderate", command });
  if (reply.kind === "refused") {
    if (reply.problem.code === "not-server-operator") {
      return context.numeric(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator");
    }
    return context.serverNotice(problemText(reply.problem));
  }
  const lines = moderatedLines(reply as Exclude<Moderated | Refused, Refused>, Date.now());
  if (changesSomething(command)) {
    context.log.event({ event: "operator", by: member.nick, what: lines.join("; ") });
  }
  for (const line of lines) context.serverNotice(line);
}
