/**
 * parley: a TCP chat server and client in one program.
 *
 * This entry point only dispatches to a command, prints help and maps failures
 * to exit codes: 0 done, 1 failed (port taken, server gone), 2 wrong usage.
 * The commands live in `src/cli/` (and `src/bench/`); the client and the bench
 * are loaded only when asked for, so a server never carries their code.
 *
 * @module
 */

import { CommandError, UsageError } from "./src/errors.ts";
import denoConfig from "./deno.json" with { type: "json" };
import { SERVER_HELP, serverCommand } from "./src/cli/server_command.ts";
import { DEFAULT_PORT } from "./src/cli/start.ts";

/** parley's version, from deno.json. */
export const VERSION: string = denoConfig.version;

const MAIN_HELP = `parley ${VERSION}: TCP chat server and client

Usage:
  parley server [options]          run a chat server (default port ${DEFAULT_PORT})
  parley client [HOST[:PORT]]      join a chat server (default 127.0.0.1:${DEFAULT_PORT})
  parley bench [options]           measure a chat server: parley's own, or --target HOST:PORT
  parley COMMAND --help            options of a command
  parley --version

Anyone can also join with plain nc or telnet: nc HOST ${DEFAULT_PORT}
`;

/** Runs parley with command-line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "server":
        return await serverCommand(rest);
      case "client": {
        const { clientCommand } = await import("./src/cli/client_command.ts");
        return await clientCommand(rest);
      }
      case "bench": {
        const { benchCommand } = await import("./src/bench/command.ts");
        return await benchCommand(rest);
      }
      case "help":
      case "-h":
      case "--help":
        return print(await helpFor(rest[0]));
      case "--version":
      case "-V":
      case "version":
        return print(`parley ${VERSION}\n`);
      case undefined: // no command: say what there is
        return print(MAIN_HELP);
      default:
        console.error(`parley: unknown command '${command}' (see 'parley --help')`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`parley ${command}: ${error.message} (see 'parley ${command} --help')`);
      return 2;
    }
    if (error instanceof CommandError) {
      console.error(`parley ${command}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function helpFor(command: string | undefined): Promise<string> {
  switch (command) {
    case "server":
      return SERVER_HELP;
    case "client":
      return (await import("./src/cli/client_command.ts")).CLIENT_HELP;
    case "bench":
      return (await import("./src/bench/command.ts")).BENCH_HELP;
    default:
      return MAIN_HELP;
  }
}

function print(text: string): number {
  console.log(text.trimEnd());
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
