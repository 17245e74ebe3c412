/**
 * NickServ, the way IRC clients reach accounts: `PRIVMSG NickServ :IDENTIFY
 * [nick] password`, `REGISTER password`, `DROP`. Answers come as NOTICEs from
 * `NickServ`. Passwords never reach the log.
 *
 * @module
 */

import { formatMessage } from "../../protocol/irc/message.ts";
import { cleanString as clean } from "../../text.ts";
import { accountNamed, problemText } from "../words.ts";
import type { IrcContext } from "./context.ts";

/** One line to NickServ. */
export async function nickServ(context: IrcContext, text: string): Promise<void> {
  const member = context.member;
  const chat = context.chat;
  const [verb = "", ...words] = clean(text).split(/\s+/).filter(Boolean);
  const say = (line: string) =>
    context.sendLine(formatMessage({
      source: `NickServ!services@${context.irc.name}`,
      command: "NOTICE",
      params: [context.nick, line],
    }, { trailing: true }));
  switch (verb.toUpperCase()) {
    case "IDENTIFY": {
      if (words.length < 1 || words.length > 2) return say("usage: IDENTIFY [NICK] PASSWORD");
      const [nick, password] = words.length === 2 ? words : [undefined, words[0]];
      const from = member.nick;
      const user = member.user;
      const reply = await chat.apply(member, { kind: "identify", nick, password });
      if (reply.kind === "refused") {
        context.account(
          `identify failed: ${reply.problem.code}`,
          accountNamed(reply.problem, nick),
        );
        return say(problemText(reply.problem));
      }
      context.account("identified", reply.nick);
      if (reply.renamedFrom !== null) {
        context.sendLine(formatMessage({
          source: context.irc.renderers.plain.source(from, user),
          command: "NICK",
          params: [reply.nick],
        }));
      }
      return say(`You are now identified for ${reply.nick}.`);
    }
    case "REGISTER": {
      if (words.length < 1) return say("usage: REGISTER PASSWORD");
      const reply = await chat.apply(member, { kind: "register", password: words[0] });
      if (reply.kind === "refused") return say(problemText(reply.problem));
      context.account("registered");
      return say(`The nick ${reply.nick} is registered to you.`);
    }
    case "DROP": {
      const reply = await chat.apply(member, { kind: "drop", nick: words[0] });
      if (reply.kind === "refused") return say(problemText(reply.problem));
      context.account("dropped", reply.nick);
      return say(`The nick ${reply.nick} is not registered any more.`);
    }
    default:
      return say("commands: IDENTIFY [NICK] PASSWORD, REGISTER PASSWORD, DROP");
  }
}
