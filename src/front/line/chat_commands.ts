/**
 * The line protocol's chat commands, rows of the command table
 * (`commands.ts`): nick, actions, private messages, who, joining, the room
 * list, topics.
 *
 * @module
 */

import { alreadyText, movedText, privateSentLine, renamedText } from "../../protocol/line.ts";
import { MAX_NICK } from "../../protocol/names.ts";
import { problemText, roomsText, topicText, whoText } from "../words.ts";
import { NO_ROOM_TEXT, type Rows } from "./line_command.ts";

/** The chat commands' kinds. */
type ChatKind = "nick" | "me" | "msg" | "who" | "join" | "rooms" | "topic";

/** Talking, names and rooms, in the order `/help` lists them. */
export const CHAT_COMMANDS: Pick<Rows, ChatKind> = {
  nick: {
    names: ["nick"],
    usage: "/nick NAME",
    about: `change your nickname (letters, digits, _ - . ; up to ${MAX_NICK})`,
    parse: (args) => args ? { kind: "nick", nick: args } : null,
    async run(context, { nick }) {
      const reply = await context.chat.apply(context.member, { kind: "nick", nick });
      if (reply.kind === "refused") {
        // A taken nick is a name; an invalid one may be any text, so only its fault is logged.
        const problem = reply.problem;
        context.rejected(
          problem.code === "nick-taken"
            ? `nick ${problem.nick}: taken`
            : `nick: ${problem.code === "nick-invalid" ? problem.why : problem.code}`,
        );
        return context.error(problemText(problem));
      }
      if (reply.kind === "unchanged") return context.notice(alreadyText(reply.nick));
      context.notice(renamedText(reply.to));
      context.renamed(reply.from, reply.to);
    },
  },
  me: {
    names: ["me"],
    usage: "/me ACTION",
    about: "act: * you ACTION",
    parse: (args) => args ? { kind: "me", text: args } : null,
    run(context, { text }) {
      context.say(text, true);
      context.chat.flush();
    },
  },
  msg: {
    names: ["msg", "m"],
    usage: "/msg NICK TEXT",
    about: "private message to NICK",
    parse(args) {
      const [, nick, text] = /^(\S+)\s+(.*)$/s.exec(args) ?? [];
      return nick && text?.trim() ? { kind: "msg", nick, text: text.trim() } : null;
    },
    async run(context, { nick, text }) {
      const reply = await context.chat.apply(context.member, {
        kind: "private",
        nick,
        text,
        action: false,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.reply(privateSentLine(reply.to, reply.text, reply.action));
      context.privateSent(reply.to, reply.text);
    },
  },
  who: {
    names: ["who", "names"],
    usage: "/who",
    about: "who is in your room",
    parse: () => ({ kind: "who" }),
    async run(context) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const reply = await context.chat.apply(context.member, {
        kind: "who",
        room: context.room.name,
      });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      context.notice(whoText(reply.room, reply.members, reply.online));
    },
  },
  join: {
    names: ["join"],
    usage: "/join ROOM [KEY]",
    about: "switch to ROOM (created if needed; everyone starts in lobby)",
    parse(args) {
      const [room, key] = args.split(/\s+/);
      return room ? { kind: "join", room: room.replace(/^#/, ""), key, whole: args } : null;
    },
    async run(context, command) {
      let { room, key } = command;
      // A second word is a key only for a room that exists: `/join no spaces` is a bad name.
      if (key !== undefined && context.chat.findRoom(room) === undefined) {
        room = (command.whole ?? room).replace(/^#/, "");
        key = undefined;
      }
      context.hold();
      try {
        const reply = await context.chat.apply(context.member, {
          kind: "join",
          room,
          move: true,
          key,
        });
        if (reply.kind === "refused") return context.error(problemText(reply.problem));
        // Everyone in it, on every server, as /who counts them.
        const census = await context.chat.census(reply.room);
        context.notice(movedText({ name: reply.room.name, size: census.inRoom }));
        context.entered(reply);
      } finally {
        context.release();
      }
    },
  },
  rooms: {
    names: ["rooms", "list"],
    usage: "/rooms",
    about: "rooms and how many are in each",
    parse: () => ({ kind: "rooms" }),
    async run(context) {
      const reply = await context.chat.apply(context.member, { kind: "rooms" });
      context.notice(roomsText(reply.rooms));
    },
  },
  topic: {
    names: ["topic"],
    usage: "/topic [TEXT]",
    about: "show your room's topic, or set it (its operators; anyone if it is -t)",
    parse: (args) => args ? { kind: "topic", text: args } : { kind: "topic" },
    async run(context, { text }) {
      if (context.room === null) return context.error(NO_ROOM_TEXT);
      const room = context.room.name;
      const reply = await context.chat.apply(context.member, { kind: "topic", room, text });
      if (reply.kind === "refused") return context.error(problemText(reply.problem));
      if (reply.changed) context.topicSet(reply.room, reply.topic?.text ?? "");
      context.notice(
        reply.changed
          ? `topic of #${reply.room} is now: ${reply.topic?.text ?? ""}`
          : topicText(reply.room, reply.topic, Date.now()),
      );
    },
  },
};
