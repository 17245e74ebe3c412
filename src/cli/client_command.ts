/**
 * `parley client`: flags → where to connect and who to be → the client
 * (loaded only now, so a server never carries its code).
 *
 * @module
 */

import { nameProblemText } from "../protocol/line.ts";
import { nickProblem } from "../protocol/names.ts";
import { parseConnectPort, parseFlags, parseHost, parseHostPort, quote } from "./flags.ts";
import { UsageError } from "../errors.ts";
import { DEFAULT_PORT, readPem, readTextFile, StartError } from "./start.ts";

/** `parley client --help`. */
export const CLIENT_HELP = `Usage: parley client [HOST[:PORT]] [options]

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
  --password-file FILE
                  NICK is registered and its password is in FILE (first line):
                  the client identifies as NICK on joining
  --reconnect     on a terminal: when the server goes away, retry (0.5 s doubling
                  to 10 s) and rejoin with the same nick and room
  --tls           connect with TLS
  --ca FILE       trust this CA certificate (PEM), e.g. a self-signed server's
  -h, --help      this help

Exit code 0 when you leave, 1 when the connection fails or the server goes away.
`;

/** Runs `parley client ARGS`; returns the exit code. */
export async function clientCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    name: { type: "string" },
    "password-file": { type: "string" },
    reconnect: { type: "boolean" },
    tls: { type: "boolean" },
    ca: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 1);
  if (values.help) {
    console.log(CLIENT_HELP.trimEnd());
    return 0;
  }
  const address = positionals[0] !== undefined
    ? parseHostPort(positionals[0])
    : { host: undefined, port: undefined };
  const host = values.host !== undefined
    ? parseHost("host", values.host)
    : address.host ?? "127.0.0.1";
  const port = values.port !== undefined
    ? parseConnectPort("port", values.port)
    : address.port ?? DEFAULT_PORT;
  if (values.ca && !values.tls) throw new UsageError("--ca needs --tls");
  const name = values.name?.normalize("NFC");
  const why = name === undefined ? null : nickProblem(name);
  if (why) {
    throw new UsageError(
      `invalid value ${quote(values.name!)} for --name: ${nameProblemText("nickname", why)}`,
    );
  }
  if (values["password-file"] !== undefined && name === undefined) {
    throw new UsageError("--password-file needs --name (the nick the password is for)");
  }
  const password = values["password-file"] === undefined
    ? undefined
    : readPassword(values["password-file"]);
  const caCerts = values.ca ? [readPem("--ca", values.ca)] : undefined;
  const { runClient } = await import("../../client.ts");
  return await runClient({
    host,
    port,
    name,
    password,
    tls: values.tls,
    caCerts,
    reconnect: values.reconnect,
  });
}

/** The first line of a `--password-file`, which must not be empty. */
function readPassword(path: string): string {
  const password = readTextFile("--password-file", path).split(/\r?\n/)[0];
  if (password.trim() === "") {
    throw new StartError(`--password-file ${path} is empty: put the password on its first line`);
  }
  return password;
}
