/**
 * What a line typed into the input means: a message, `/me`, or a command.
 * Pure: it returns an action for the chat to carry out. `/cmd args` that the
 * page does not know is sent to the server as the raw line `CMD args`, and
 * `//text` is a message that starts with `/`.
 *
 * @module
 */

/**
 * @typedef {(
 *   | {type: "say", target: string, text: string}
 *   | {type: "action", target: string, text: string}
 *   | {type: "open", target: string, text: string}
 *   | {type: "join", channels: string[]}
 *   | {type: "part", channel: string, reason: string}
 *   | {type: "close"}
 *   | {type: "topic", channel: string, text: string | null}
 *   | {type: "quit", reason: string}
 *   | {type: "raw", line: string}
 *   | {type: "help"}
 *   | {type: "error", text: string}
 * )} Action
 */

/** The commands `/help` lists. */
export const HELP = [
  "/join #room — join or create a room",
  "/part [#room] [reason] — leave a room",
  "/msg nick text — private message",
  "/query nick — open a private conversation",
  "/me text — an action",
  "/nick name — change your nick",
  "/topic [text] — show or set the room's topic",
  "/away [text] — mark yourself away (no text: back)",
  "/who — who is in this room",
  "/close — close this conversation",
  "/quit [reason] — leave the chat",
  "/quote LINE — send a raw IRC line (any other /CMD args is sent as CMD args)",
  "Tab completes nicks, ↑/↓ recall what you sent, Alt+↑/↓ switch conversations",
];

/**
 * Interprets a typed line.
 * @param {string} input the line as typed
 * @param {{name: string, kind: string}} buffer the conversation it was typed in
 * @returns {Action | null} null for an empty line
 */
export function interpret(input, buffer) {
  const line = input.replace(/[\r\n]+/g, " ");
  if (!line.trim()) return null;
  const here = buffer.kind === "server" ? "" : buffer.name;
  if (!line.startsWith("/") || line.startsWith("//")) {
    const text = line.startsWith("//") ? line.slice(1) : line;
    if (!here) {
      return { type: "error", text: "Messages go to a room or a person: /join #room first." };
    }
    return { type: "say", target: here, text };
  }
  const space = line.indexOf(" ");
  const name = (space < 0 ? line.slice(1) : line.slice(1, space)).toLowerCase();
  const args = space < 0 ? "" : line.slice(space + 1);
  const [first = ""] = args.trim().split(/\s+/);
  const rest = args.trim().slice(first.length).trimStart();
  const need = (what) => ({ type: "error", text: `Usage: /${name} ${what}` });
  switch (name) {
    case "me":
      if (!here) return { type: "error", text: "/me works in a room or a private conversation." };
      return { type: "action", target: here, text: args };
    case "msg":
      if (!first || !rest) return need("nick text");
      return { type: "say", target: first, text: rest };
    case "query":
    case "q":
      if (!first) return need("nick");
      return { type: "open", target: first, text: rest };
    case "join":
    case "j":
      if (!first) return need("#room");
      return {
        type: "join",
        channels: first.split(",").filter(Boolean).map((c) => (c.startsWith("#") ? c : `#${c}`)),
      };
    case "part":
    case "leave": {
      const explicit = first.startsWith("#");
      const channel = explicit ? first : buffer.kind === "channel" ? buffer.name : "";
      if (!channel) return need("#room [reason]");
      return { type: "part", channel, reason: explicit ? rest : args.trim() };
    }
    case "close":
      return { type: "close" };
    case "nick":
      if (!first) return need("name");
      return { type: "raw", line: `NICK ${first}` };
    case "topic": {
      const explicit = first.startsWith("#");
      const channel = explicit ? first : buffer.kind === "channel" ? buffer.name : "";
      if (!channel) return need("[#room] [text]");
      const text = explicit ? rest : args.trim();
      return { type: "topic", channel, text: text || null };
    }
    case "away":
      return { type: "raw", line: args.trim() ? `AWAY :${args.trim()}` : "AWAY" };
    case "quit":
    case "disconnect":
      return { type: "quit", reason: args.trim() };
    case "notice":
      if (!first || !rest) return need("target text");
      return { type: "raw", line: `NOTICE ${first} :${rest}` };
    case "whois":
      if (!first) return need("nick");
      return { type: "raw", line: `WHOIS ${first}` };
    case "help":
      return { type: "help" };
    case "who":
    case "names":
      if (buffer.kind !== "channel") return { type: "error", text: `/${name} works in a room.` };
      return { type: "who" };
    case "quote":
    case "raw":
      if (!args.trim()) return need("LINE");
      return { type: "raw", line: args.trim() };
    default:
      if (!/^[a-z][a-z0-9]*$/.test(name)) {
        return { type: "error", text: `Unknown command /${name}` };
      }
      return { type: "raw", line: args ? `${name.toUpperCase()} ${args}` : name.toUpperCase() };
  }
}
