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
import { joinedAccount } from "./devices.ts";

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
      const rooms = member.rooms.map((room) => room.name);
      const reply = await chat.apply(member, { kind: "identify", nick, password });
      if (reply.kind === "refused") {
        context.account(
          `identify failed: ${reply.problem.code}`,
          accountNamed(reply.problem, nick),
        );
        return say(problemText(reply.problem));
      }
      context.account("identified", reply.nick);
      if (reply.attached !== undefined) {
        // The account was connected on other devices: this client is one of them now.
        await joinedAccount(context, { nick: from, user, rooms });
        return say(
          `You are now identified for ${reply.nick}, on ${reply.attached} devices.`,
        );
      }
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
    case "SET": {
      // SET MULTICLIENT ON|OFF: whether the account takes more than one device at once.
      const [what = "", value = ""] = words.map((word) => word.toUpperCase());
      if (what !== "MULTICLIENT" || (value !== "ON" && value !== "OFF")) {
        return say("usage: SET MULTICLIENT ON|OFF");
      }
      if (!(await chat.setMulticlient(member, value === "ON"))) {
        return say("You are not identified: IDENTIFY first.");
      }
      context.account(`multiclient ${value.toLowerCase()}`);
      return say(
        value === "ON"
          ? "Your account may be connected from several devices at once."
          : "Your account takes one device at a time from now on.",
      );
    }
    case "DROP": {
      const reply = await chat.apply(member, { kind: "drop", nick: words[0] });
      if (reply.kind === "refused") return say(problemText(reply.problem));
      context.account("dropped", reply.nick);
      return say(`The nick ${reply.nick} is not registered any more.`);
    }
    default:
      return say(
        "commands: IDENTIFY [NICK] PASSWORD, REGISTER PASSWORD, DROP, SET MULTICLIENT ON|OFF",
      );
  }
}
