/**
 * The line protocol's account commands, rows of the command table
 * (`commands.ts`): registering a nick, proving it (and joining the account's
 * other devices), passwords, dropping it, becoming a server operator, and
 * whether the account takes several devices at once.
 *
 * @module
 */

import type { Resumed } from "../../core/chat.ts";
import { renamedText } from "../../protocol/line.ts";
import { LOBBY } from "../../protocol/names.ts";
import { accountNamed, problemText } from "../words.ts";
import { CHAT_COMMANDS } from "./chat_commands.ts";
import type { LineCommand, LineCommandRow, LineContext, Rows } from "./line_command.ts";

/**
 * What a client that came in as an account is told of its member's rooms:
 * `you are on 2 devices; your rooms: #dev, #lobby` when it joined the account's
 * other devices, `back in your rooms: #dev, #lobby` when it was put back in them.
 */
export function resumedText(resumed: Resumed): string {
  const rooms = resumed.rooms.map(({ room }) => `#${room.name}`).join(", ") || "none";
  return resumed.how === "attached"
    ? `you are on ${resumed.devices} devices; your rooms: ${rooms}`
    : `back in your rooms: ${rooms}`;
}

/** The account commands' kinds. */
type AccountKind = "register" | "identify" | "password" | "drop" | "oper";

/** Accounts, in the order `/help` lists them. */
export const ACCOUNT_COMMANDS: Pick<Rows, AccountKind> = {
  register: {
    names: ["register"],
    usage: "/register PASSWORD",
    about: "reserve your nick with a password",
    parse: (args) => args ? { kind: "register", password: args } : null,
    async run(context, { password }) {
      const reply = await context.chat.apply(context.member, { kind: "register", password });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.account("registered");
      context.notice(`the nick ${reply.nick} is yours now: /identify PASSWORD proves it`);
    },
  },
  identify: {
    names: ["identify"],
    usage: "/identify [NICK] PASSWORD",
    about: "prove a nick is yours (you then have it)",
    parse(args) {
      const words = args.split(/\s+/).filter(Boolean);
      if (words.length === 1) return { kind: "identify", password: words[0] };
      if (words.length === 2) return { kind: "identify", nick: words[0], password: words[1] };
      return null;
    },
    async run(context, { nick, password }) {
      const reply = await context.chat.apply(context.member, { kind: "identify", nick, password });
      if (reply.kind === "refused") {
        context.account(
          `identify failed: ${reply.problem.code}`,
          accountNamed(reply.problem, nick),
        );
        return context.error(problemText(reply.problem));
      }
      context.account("identified", reply.nick);
      if (reply.renamedFrom !== null) {
        context.renamed(reply.renamedFrom, reply.nick);
        context.notice(renamedText(reply.nick));
      }
      context.notice(`you are identified as ${reply.nick}`);
      if (reply.attached !== undefined) {
        // One more device of the account: its rooms are this client's now; it shows one.
        const resumed = await context.chat.resume(context.member);
        context.notice(resumedText(resumed));
        const room = resumed.current?.name ?? LOBBY;
        return await CHAT_COMMANDS.join.run(context, { kind: "join", room });
      }
      // Waiting outside because the server wants an account: in you go.
      if (context.room === null) {
        await CHAT_COMMANDS.join.run(context, { kind: "join", room: LOBBY });
      }
    },
  },
  password: {
    names: ["password"],
    usage: "/password OLD NEW",
    about: "change your password",
    parse(args) {
      const words = args.split(/\s+/).filter(Boolean);
      return words.length === 2 ? { kind: "password", first: words[0], password: words[1] } : null;
    },
    run: changePassword,
  },
  drop: {
    names: ["drop"],
    usage: "/drop",
    about: "give up your nick's account",
    parse: (args) => args ? { kind: "drop", nick: args } : { kind: "drop" },
    async run(context, { nick }) {
      const reply = await context.chat.apply(context.member, { kind: "drop", nick });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.account("dropped", reply.nick);
      context.notice(`the nick ${reply.nick} is not registered any more`);
    },
  },
  oper: {
    names: ["oper"],
    usage: "/oper PASSWORD",
    about: "become a server operator (then /kick, /ban, /mute, /say, … work)",
    parse: (args) => args ? { kind: "oper", password: args } : null,
    async run(context, { password }) {
      const reply = await context.chat.apply(context.member, { kind: "oper", password });
      if (reply.kind === "refused") {
        context.account(`oper failed: ${reply.problem.code}`);
        return context.error(problemText(reply.problem));
      }
      context.account("is a server operator now");
      context.notice("you are a server operator now: /kick, /ban, /mute, /say, /stats …");
    },
  },
};

/** Operators' `/setpassword NICK NEW`: a row of its own, run like `/password`. */
export const SET_PASSWORD: LineCommandRow<"password"> = {
  names: ["setpassword"],
  usage: "/setpassword NICK NEW",
  about: "set NICK's password (operators)",
  unlisted: true,
  parse(args) {
    const words = args.split(/\s+/).filter(Boolean);
    return words.length === 2
      ? { kind: "password", first: "", nick: words[0], password: words[1] }
      : null;
  },
  run: changePassword,
};

async function changePassword(
  context: LineContext,
  command: Extract<LineCommand, { kind: "password" }>,
): Promise<void> {
  const reply = await context.chat.apply(
    context.member,
    command.nick === undefined
      ? { kind: "password", old: command.first, password: command.password }
      : { kind: "password", nick: command.nick, password: command.password },
  );
  if (reply.kind === "refused") return context.error(problemText(reply.problem));
  context.account("password changed", reply.nick);
  context.notice(`the password of ${reply.nick} is changed`);
}

/** `/multiclient on|off`: whether the account takes several devices at once. */
export const MULTICLIENT_COMMAND: LineCommandRow<"multiclient"> = {
  names: ["multiclient"],
  usage: "/multiclient on|off",
  about: "whether your account may be connected from several devices at once",
  parse: (args) =>
    /^(on|off)$/i.test(args) ? { kind: "multiclient", on: args.toLowerCase() === "on" } : null,
  async run(context, { on }) {
    if (!(await context.chat.setMulticlient(context.member, on))) {
      return context.error("you are not identified: /identify first");
    }
    context.account(`multiclient ${on ? "on" : "off"}`);
    context.notice(
      on
        ? "your account may be connected from several devices at once"
        : "your account takes one device at a time from now on",
    );
  },
};
