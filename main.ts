/**
 * parley: a TCP chat server and client in one program.
 *
 * This entry point only parses flags, prints help, dispatches to a command and
 * maps failures to exit codes: 0 done, 1 failed (port taken, server gone),
 * 2 wrong usage.
 *
 * @module
 */

import denoConfig from "./deno.json" with { type: "json" };
import { serve, SERVER_DEFAULTS } from "./server.ts";
import { colorWanted } from "./src/colors.ts";
import {
  CommandError,
  parseFlags,
  parseHostPort,
  parseInteger,
  parseNumber,
  parsePort,
  parseSize,
  UsageError,
} from "./src/flags.ts";
import { BufferedSink, formatPeer, Logger } from "./src/log.ts";
import { nickProblem } from "./src/protocol.ts";

/** parley's version, from deno.json. */
export const VERSION: string = denoConfig.version;
const DEFAULT_PORT = 12000;

const MAIN_HELP = `parley ${VERSION}: TCP chat server and client

Usage:
  parley server [options]          run a chat server (default port ${DEFAULT_PORT})
  parley client [HOST[:PORT]]      join a chat server (default 127.0.0.1:${DEFAULT_PORT})
  parley bench [options]           measure a chat server: parley's own, or --target HOST:PORT
  parley COMMAND --help            options of a command
  parley --version

Anyone can also join with plain nc or telnet: nc HOST ${DEFAULT_PORT}
`;

const SERVER_HELP = `Usage: parley server [options]

Runs a chat server. The console shows every connection, message and disconnection.
Stop it with Ctrl-C (or SIGTERM): clients are told, output is flushed, exit code 0.

Options:
  --host HOST            address to listen on (default 0.0.0.0, all IPv4 interfaces; :: for IPv6)
  --port PORT            port (default ${DEFAULT_PORT}; 0 picks a free one, shown in the first log line)
  --max-line BYTES       longest line accepted (default ${SERVER_DEFAULTS.maxLine})
  --max-clients N        most clients at once (default ${SERVER_DEFAULTS.maxClients})
  --max-per-ip N         most clients from one address (default ${SERVER_DEFAULTS.maxPerIp}; 0 = no limit)
  --rate N               lines per second per client (default ${SERVER_DEFAULTS.rate}; 0 = no flood control)
  --burst N              lines a client may send at once (default ${SERVER_DEFAULTS.burst})
  --send-queue BYTES     output waiting for a client before it is dropped (default 1M)
  --idle-timeout SECONDS disconnect clients silent this long (default 0 = never)
  --history N            messages per room replayed to newcomers (default ${SERVER_DEFAULTS.history}; 0 = off)
  --max-rooms N          most rooms at once (default ${SERVER_DEFAULTS.maxRooms})
  --log text|json        console format (default text)
  --no-log-text          keep message text out of the console (privacy)
  --tls-cert FILE        serve TLS with this certificate (PEM) ...
  --tls-key FILE         ... and this private key (PEM)
  -h, --help             this help

Sizes take k, M and G suffixes (64k, 1M).
`;

const CLIENT_HELP = `Usage: parley client [HOST[:PORT]] [options]

Joins a chat server. Type a line and press Enter to send it; /help lists the
server's commands; exit, /quit, Ctrl-D (on an empty line) or Ctrl-C leaves.
On a terminal: line editing (arrows, Home/End, Ctrl-A/E/U/W/K/Y), Up/Down
history, times and coloured nicks (plain with NO_COLOR). With stdin piped,
every line is sent, the client leaves at end of input and prints what it
received.

Options:
  --host HOST     server address (default 127.0.0.1)
  --port PORT     server port (default ${DEFAULT_PORT})
  --name NICK     nickname to take on joining
  --reconnect     on a terminal: when the server goes away, retry (0.5 s doubling
                  to 10 s) and rejoin with the same nick and room
  --tls           connect with TLS
  --ca FILE       trust this CA certificate (PEM), e.g. a self-signed server's
  -h, --help      this help

Exit code 0 when you leave, 1 when the connection fails or the server goes away.
`;

/** Runs parley with command-line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "server":
        return await serverCommand(rest);
      case "client":
        return await clientCommand(rest);
      case "bench": {
        // Loaded only when asked for, like the client: a server never carries their code.
        const { benchCommand } = await import("./src/bench/command.ts");
        return await benchCommand(rest);
      }
      case "help":
      case "-h":
      case "--help":
        return print(
          rest[0] === "server"
            ? SERVER_HELP
            : rest[0] === "client"
            ? CLIENT_HELP
            : rest[0] === "bench"
            ? (await import("./src/bench/command.ts")).BENCH_HELP
            : MAIN_HELP,
        );
      case "--version":
      case "-V":
      case "version":
        return print(`parley ${VERSION}\n`);
      case undefined:
        console.error(`parley: missing command (see 'parley --help')`);
        return 2;
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

/** The program could not start or went wrong in a way the user must fix: exit code 1. */
class StartError extends CommandError {}

async function serverCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    "max-line": { type: "string" },
    "max-clients": { type: "string" },
    "max-per-ip": { type: "string" },
    rate: { type: "string" },
    burst: { type: "string" },
    "send-queue": { type: "string" },
    "idle-timeout": { type: "string" },
    history: { type: "string" },
    "max-rooms": { type: "string" },
    log: { type: "string" },
    "no-log-text": { type: "boolean" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return print(SERVER_HELP);

  const optional = <T>(value: string | undefined, parse: (value: string) => T) =>
    value === undefined ? undefined : parse(value);
  const format = values.log ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`invalid value '${format}' for --log: expected text or json`);
  }
  if (Boolean(values["tls-cert"]) !== Boolean(values["tls-key"])) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  const hostname = values.host ?? "0.0.0.0";
  const port = optional(values.port, (v) => parsePort("port", v)) ?? DEFAULT_PORT;
  const limits = {
    maxLine: optional(values["max-line"], (v) => parseSize("max-line", v)),
    maxClients: optional(values["max-clients"], (v) => parseInteger("max-clients", v, 1)),
    maxPerIp: optional(values["max-per-ip"], (v) => parseInteger("max-per-ip", v, 0)),
    rate: optional(values.rate, (v) => parseNumber("rate", v)),
    burst: optional(values.burst, (v) => parseInteger("burst", v, 1)),
    sendQueue: optional(values["send-queue"], (v) => parseSize("send-queue", v, 1024)),
    idleTimeout: optional(values["idle-timeout"], (v) => parseNumber("idle-timeout", v)),
    history: optional(values.history, (v) => parseInteger("history", v, 0)),
    maxRooms: optional(values["max-rooms"], (v) => parseInteger("max-rooms", v, 1)),
  };

  const tls = values["tls-cert"]
    ? {
      cert: readPem("--tls-cert", values["tls-cert"]),
      key: readPem("--tls-key", values["tls-key"]!),
    }
    : null;
  const listener = listen(hostname, port, tls);
  const log = new Logger(new BufferedSink(Deno.stdout), {
    format,
    color: colorWanted(Deno.stdout),
    messageText: !values["no-log-text"],
  });
  warnAboutFileLimit(limits.maxClients ?? SERVER_DEFAULTS.maxClients);

  const controller = new AbortController();
  const onSignal = (name: Deno.Signal) => () => {
    if (controller.signal.aborted) Deno.exit(name === "SIGINT" ? 130 : 143);
    controller.abort(name);
  };
  const signals = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = onSignal(name);
    Deno.addSignalListener(name, handler);
    return () => Deno.removeSignalListener(name, handler);
  });
  try {
    await serve(listener, { log, signal: controller.signal, tls: tls !== null, ...limits })
      .finished;
  } finally {
    for (const remove of signals) remove();
  }
  return 0;
}

function listen(
  hostname: string,
  port: number,
  tls: { cert: string; key: string } | null,
): Deno.Listener {
  const where = formatPeer({ hostname, port });
  try {
    return tls ? Deno.listenTls({ hostname, port, ...tls }) : Deno.listen({ hostname, port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new StartError(`cannot listen on ${where}: address already in use`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new StartError(
        `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new StartError(`cannot listen on ${where}: no such address on this machine`);
    }
    if (tls && error instanceof Deno.errors.InvalidData) {
      throw new StartError(
        `cannot use --tls-cert/--tls-key: ${error.message} (expected PEM files)`,
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new StartError(`cannot listen on ${where}: ${message}`);
  }
}

function readPem(flag: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new StartError(`cannot read ${flag} ${path}: ${why}`);
  }
}

/** Thousands of clients need thousands of descriptors; say so before they fail. */
function warnAboutFileLimit(maxClients: number): void {
  let limits: string;
  try {
    limits = Deno.readTextFileSync("/proc/self/limits");
  } catch {
    return; // not Linux: nothing cheap to check
  }
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
  if (soft > 0 && soft < maxClients + 64) {
    console.error(
      `parley server: warning: this process may open only ${soft} files, fewer than --max-clients ${maxClients}; ` +
        `raise it with 'ulimit -n' or lower --max-clients`,
    );
  }
}

async function clientCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    name: { type: "string" },
    reconnect: { type: "boolean" },
    tls: { type: "boolean" },
    ca: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 1);
  if (values.help) return print(CLIENT_HELP);
  const address = positionals[0]
    ? parseHostPort(positionals[0])
    : { host: undefined, port: undefined };
  const host = values.host ?? address.host ?? "127.0.0.1";
  const port = values.port !== undefined
    ? parsePort("port", values.port)
    : address.port ?? DEFAULT_PORT;
  if (port === 0) throw new UsageError("invalid value '0' for --port: a server port is 1 to 65535");
  if (values.ca && !values.tls) throw new UsageError("--ca needs --tls");
  const nameProblem = values.name === undefined ? null : nickProblem(values.name);
  if (nameProblem) {
    throw new UsageError(`invalid value '${values.name}' for --name: ${nameProblem}`);
  }
  const caCerts = values.ca ? [readPem("--ca", values.ca)] : undefined;
  const { runClient } = await import("./client.ts");
  return await runClient({
    host,
    port,
    name: values.name,
    tls: values.tls,
    caCerts,
    reconnect: values.reconnect,
  });
}

function print(text: string): number {
  console.log(text.trimEnd());
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
