/**
 * The line protocol's commands, as one table: each row names a command and
 * its aliases, its usage and what it does (`/help` is made from them), how
 * its arguments are read, and what carrying it out does. {@linkcode parseLine}
 * reads a line with the table (pure, tested without a socket);
 * {@linkcode runLineCommand} carries a command out for a session, through the
 * {@linkcode LineContext} the session gives it. An unknown command or one
 * without what it needs is answered in one place.
 *
 * Client → server: plain text is a room message; `/command args` is a
 * command; `//text` is a message that starts with `/`. The operator commands
 * (`/kick`, `/ban`, …) are read with the console's grammar
 * (`operator_commands.ts`) and need `/oper` first.
 *
 * The rows live by concern: talking, names and rooms in `chat_commands.ts`;
 * accounts in `account_commands.ts`; operators' in `moderation_commands.ts`;
 * history in `history_commands.ts`. What a command, its context and a row
 * are: `line_command.ts`.
 *
 * @module
 */

import { ACCOUNT_COMMANDS, MULTICLIENT_COMMAND, SET_PASSWORD } from "./account_commands.ts";
import { CHAT_COMMANDS } from "./chat_commands.ts";
import { HISTORY_COMMANDS } from "./history_commands.ts";
import type { LineCommand, LineCommandRow, LineContext, Rows, TableKind } from "./line_command.ts";
import { MODERATION_COMMANDS } from "./moderation_commands.ts";

/** Longest `/quit` reason kept, in characters. */
export const MAX_REASON = 100;

/** Every command, in the order `/help` lists them. */
const COMMANDS: Rows = {
  ...CHAT_COMMANDS,
  ...ACCOUNT_COMMANDS,
  ...MODERATION_COMMANDS,
  ...HISTORY_COMMANDS,
  multiclient: MULTICLIENT_COMMAND,
  quit: {
    names: ["quit", "exit"],
    usage: "/quit [REASON]",
    about: "leave",
    parse: (args) => ({ kind: "quit", reason: [...args].slice(0, MAX_REASON).join("") }),
    run: (context, { reason }) => context.quit(reason),
  },
  help: {
    names: ["help", "?"],
    usage: "/help",
    about: "this list",
    parse: () => ({ kind: "help" }),
    run(context) {
      for (const line of HELP) context.notice(line);
    },
  },
};

/** Rows by every name and alias they answer to. */
const BY_NAME = new Map<string, LineCommandRow<TableKind>>();
for (const row of [...Object.values(COMMANDS), SET_PASSWORD]) {
  for (const name of row.names) BY_NAME.set(name, row as LineCommandRow<TableKind>);
}

/** The commands and what they do, as `/help` prints them. */
export const HELP: readonly string[] = [
  "commands:",
  "  text              say text to everyone in your room",
  ...Object.values(COMMANDS).filter((row) => !row.unlisted)
    .map((row) => `  ${row.usage.padEnd(17)} ${row.about}`),
  "  //text            say text that starts with /",
];

const SLASH = 0x2f;

/**
 * Parses a cleaned line. Plain text (the common case) is recognised without a
 * regular expression so that the message path stays cheap.
 */
export function parseLine(line: string): LineCommand {
  if (line.charCodeAt(0) !== SLASH) return { kind: "say", text: line };
  if (line.charCodeAt(1) === SLASH) return { kind: "say", text: line.slice(1) };
  const match = /^\/(\S*)\s*(.*)$/s.exec(line)!;
  const name = match[1].toLowerCase();
  const row = BY_NAME.get(name);
  if (row === undefined) return { kind: "unknown", name };
  return row.parse(match[2].trim(), line) ?? { kind: "usage", form: row.usage };
}

/** Carries out a parsed command for a session; an unknown or short one is answered here. */
export function runLineCommand(context: LineContext, command: LineCommand): void | Promise<void> {
  switch (command.kind) {
    case "say":
      context.say(command.text, false);
      return context.chat.flush();
    case "usage":
      return context.error(usageText(command.form));
    case "unknown":
      // By name only: a mistyped command may carry a password (`/identfy secret`).
      context.rejected(`unknown command /${[...command.name].slice(0, 32).join("")}`);
      return context.error(unknownCommandText(command.name));
    default: {
      const row = COMMANDS[command.kind] as LineCommandRow<typeof command.kind>;
      return row.run(context, command as never);
    }
  }
}

/** The usage error of a command given without what it needs. */
export function usageText(form: string): string {
  return `usage: ${form}`;
}

/** The error for a command parley does not have. */
export function unknownCommandText(name: string): string {
  return `unknown command /${name} (try /help)`;
}
