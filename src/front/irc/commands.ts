/**
 * The IRC front end's commands, as one table (after ergo's
 * `irc/commands.go`): for each command, what it does before registration and
 * once registered, and how many parameters each needs. {@linkcode dispatch}
 * checks the phase and the parameter count once: a command not usable before
 * registration gets 451, a short one 461, an unknown one 421.
 *
 * @module
 */

import type { IrcMessage } from "../../protocol/irc/message.ts";
import { cleanString as clean } from "../../text.ts";
import * as accountRegistration from "./account_registration.ts";
import * as channels from "./channels.ts";
import { chathistory } from "./chathistory.ts";
import { markread } from "./devices.ts";
import { nickServ } from "./nickserv.ts";
import type { IrcContext } from "./context.ts";
import * as messaging from "./messaging.ts";
import * as modes from "./modes.ts";
import { monitor } from "./monitor.ts";
import * as N from "./numerics.ts";
import * as operators from "./operators.ts";
import * as queries from "./queries.ts";
import { authenticate } from "./sasl.ts";
import * as serverInfo from "./server_info.ts";

type Handler = (context: IrcContext, message: IrcMessage) => void | Promise<void>;

/** One phase of a command: its handler and the parameters it needs (fewer, or an empty one: 461). */
interface Phase {
  run: Handler;
  minParams?: number;
}

/** A command: what it does before registration (absent: 451) and once registered. */
interface IrcCommandRow {
  before?: Phase;
  registered: Phase;
}

const cap: Phase = { run: (context, message) => context.cap(message) };
const ping: Phase = { run: (context, message) => context.pong(message.params[0]) };
const sasl: Phase = { run: authenticate, minParams: 1 };
const register: Phase = { run: accountRegistration.register, minParams: 3 };
const verify: Phase = { run: accountRegistration.verify, minParams: 2 };
const alreadyRegistered: Phase = {
  run: (context) => context.numeric(N.ERR_ALREADYREGISTERED, "You may not reregister"),
};

/** Every command parley serves. */
const COMMANDS: Readonly<Record<string, IrcCommandRow>> = {
  CAP: { before: cap, registered: cap },
  NICK: {
    before: { run: (context, message) => context.nickGiven(message) },
    registered: { run: messaging.rename },
  },
  USER: {
    before: {
      run: (context, message) => context.userGiven(message),
      minParams: 4,
    },
    registered: alreadyRegistered,
  },
  PASS: {
    before: { run: (context, message) => context.passGiven(message) },
    registered: alreadyRegistered,
  },
  AUTHENTICATE: { before: sasl, registered: sasl },
  REGISTER: { before: register, registered: register },
  VERIFY: { before: verify, registered: verify },
  PING: { before: ping, registered: ping },
  PONG: { before: { run: () => {} }, registered: { run: (context) => context.ponged() } },
  QUIT: {
    before: {
      run: (context, { params }) => context.quit(params[1] ?? params[0] ?? ""),
    },
    registered: { run: (context, { params }) => context.quit(params[0] ?? "") },
  },
  PRIVMSG: { registered: { run: messaging.text } },
  NOTICE: { registered: { run: messaging.text } },
  TAGMSG: { registered: { run: messaging.tagmsg, minParams: 1 } },
  JOIN: { registered: { run: channels.join, minParams: 1 } },
  PART: { registered: { run: channels.part, minParams: 1 } },
  TOPIC: { registered: { run: channels.topic, minParams: 1 } },
  NAMES: { registered: { run: (context, message) => channels.names(context, message.params[0]) } },
  LIST: { registered: { run: channels.list } },
  MODE: { registered: { run: channels.mode, minParams: 1 } },
  WHO: { registered: { run: queries.who } },
  WHOIS: { registered: { run: queries.whois } },
  WHOWAS: { registered: { run: queries.whowas } },
  USERHOST: { registered: { run: queries.userhost, minParams: 1 } },
  ISON: { registered: { run: queries.ison, minParams: 1 } },
  AWAY: { registered: { run: queries.away } },
  CHATHISTORY: { registered: { run: chathistory } },
  MARKREAD: { registered: { run: markread } },
  // `NS IDENTIFY …`, `NICKSERV SET MULTICLIENT OFF`: NickServ without PRIVMSG (as ergo takes it).
  NS: { registered: { run: (context, message) => nickServ(context, message.params.join(" ")) } },
  NICKSERV: {
    registered: { run: (context, message) => nickServ(context, message.params.join(" ")) },
  },
  MONITOR: { registered: { run: monitor, minParams: 1 } },
  SETNAME: { registered: { run: queries.setname, minParams: 1 } },
  LUSERS: { registered: { run: serverInfo.lusers } },
  TIME: { registered: { run: serverInfo.time } },
  INFO: { registered: { run: serverInfo.info } },
  MOTD: { registered: { run: serverInfo.motd } },
  HELP: { registered: { run: serverInfo.help } },
  HELPOP: { registered: { run: serverInfo.help } },
  OPER: { registered: { run: operators.oper, minParams: 1 } },
  KICK: { registered: { run: modes.kick, minParams: 2 } },
  INVITE: { registered: { run: modes.invite } },
  KILL: { registered: { run: operators.kick } },
  DLINE: { registered: { run: operators.dline, minParams: 1 } },
  UNDLINE: { registered: { run: operators.dline, minParams: 1 } },
};

/** Carries out one message from the client, or answers why not. */
export function dispatch(context: IrcContext, message: IrcMessage): void | Promise<void> {
  const row = COMMANDS[message.command];
  if (!context.registered) {
    const phase = row?.before;
    if (phase === undefined) return context.numeric(N.ERR_NOTREGISTERED, "You have not registered");
    return run(context, message, phase);
  }
  if (row === undefined) {
    return context.numeric(N.ERR_UNKNOWNCOMMAND, clean(message.command), "Unknown command");
  }
  return run(context, message, row.registered);
}

function run(context: IrcContext, message: IrcMessage, phase: Phase): void | Promise<void> {
  const needed = phase.minParams ?? 0;
  const params = message.params;
  if (params.length < needed || params.slice(0, needed).includes("")) {
    return context.numeric(N.ERR_NEEDMOREPARAMS, message.command, "Not enough parameters");
  }
  return phase.run(context, message);
}
