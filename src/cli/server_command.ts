/**
 * `parley server`: flags → a bound listener, the console and the signals →
 * {@linkcode serve}, until SIGINT or SIGTERM.
 *
 * @module
 */

import { problemText } from "../front/words.ts";
import {
  invalidValue,
  parseFlags,
  parseHost,
  parseHostPort,
  parseInteger,
  parseNumber,
  parsePort,
  parseSize,
} from "./flags.ts";
import { UsageError } from "../errors.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import { serve, SERVER_DEFAULTS } from "../../server.ts";
import { colorWanted } from "../colors.ts";
import { type ServerCommand, ServerConsole } from "../console/console.ts";
import type { Chat, ChatOptions } from "../core/chat.ts";
import { errorText } from "../errors.ts";
import { moderatedLines } from "../front/moderation.ts";
import { BufferedSink, Logger } from "../log.ts";
import { serveMetrics, ServerMetrics } from "../metrics.ts";
import { formatPeer } from "../net/peer.ts";
import { closeQuietly } from "../net/io.ts";
import { cleanString } from "../text.ts";
import type { ClusterJoin } from "./cluster_join.ts";
import { DEFAULT_PORT, readPem, readTextFile, StartError } from "./start.ts";

/** The cluster code (and with it the Redis client), loaded only with `--cluster`. */
const CLUSTER_MODULE = new URL("./cluster_join.ts", import.meta.url).href;

/** `parley server --help`. */
export const SERVER_HELP = `Usage: parley server [options]

Runs a chat server. The console shows every connection, message and disconnection,
and takes operator commands (/help lists them). Stop it with Ctrl-C (or SIGTERM):
clients are told, output is flushed, exit code 0.

Options:
  --host HOST            address to listen on (default 0.0.0.0, all IPv4 interfaces; :: for IPv6)
  --port PORT            port (default ${DEFAULT_PORT}; 0 picks a free one, shown in the first log line)
  --max-line BYTES       longest line accepted (default ${SERVER_DEFAULTS.maxLine})
  --max-clients N        most clients at once (default ${SERVER_DEFAULTS.maxClients})
  --max-per-ip N         most clients from one address (default ${SERVER_DEFAULTS.maxPerIp}; 0 = no limit)
  --connect-rate N       new connections per address per minute (default 0 = no limit)
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
  --irc-port PORT        also listen for IRC clients here (6667 is the usual one; TLS with
                         --tls-cert); IRC clients are served on --port as well
  --irc-name NAME        server name in IRC replies (default: this machine's host name)
  --motd FILE            message of the day shown to IRC clients
  --data FILE            keep history, topics, rooms, accounts and bans in this SQLite
                         file across restarts (default: in memory only)
  --cluster URL          be one chat with every server using this Redis
                         (redis://[:PASSWORD@]HOST:PORT[/DB]; not with --data)
  --require-account      only identified owners of registered nicks may join rooms and talk
  --oper-password-file F the /oper password is in this file (without it, only the
                         console has operator commands)
  --no-console           do not read operator commands from stdin
  --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics (off by default)
  -h, --help             this help

Sizes take k, M and G suffixes (64k, 1M).
`;

/**
 * Signals of one name this close together are copies of one keypress: a
 * terminal's Ctrl-C signals the whole process group, and `deno task` forwards
 * it to its child again. A second signal after this long means "now".
 */
const SIGNAL_COPY_MS = 250;

/** Runs `parley server ARGS`; returns the exit code. */
export async function serverCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    "max-line": { type: "string" },
    "max-clients": { type: "string" },
    "max-per-ip": { type: "string" },
    "connect-rate": { type: "string" },
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
    "irc-port": { type: "string" },
    "irc-name": { type: "string" },
    motd: { type: "string" },
    data: { type: "string" },
    cluster: { type: "string" },
    "require-account": { type: "boolean" },
    "oper-password-file": { type: "string" },
    "no-console": { type: "boolean" },
    metrics: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(SERVER_HELP.trimEnd());
    return 0;
  }

  const optional = <T>(value: string | undefined, parse: (value: string) => T) =>
    value === undefined ? undefined : parse(value);
  const format = values.log ?? "text";
  if (format !== "text" && format !== "json") {
    throw invalidValue("log", format, "text or json");
  }
  if (Boolean(values["tls-cert"]) !== Boolean(values["tls-key"])) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  const hostname = optional(values.host, (v) => parseHost("host", v)) ?? "0.0.0.0";
  const port = optional(values.port, (v) => parsePort("port", v)) ?? DEFAULT_PORT;
  const limits = {
    maxLine: optional(values["max-line"], (v) => parseSize("max-line", v)),
    maxClients: optional(values["max-clients"], (v) => parseInteger("max-clients", v, 1)),
    maxPerIp: optional(
      values["max-per-ip"],
      (v) => parseInteger("max-per-ip", v, { min: 0, note: "0 = no limit" }),
    ),
    connectRate: optional(
      values["connect-rate"],
      (v) => parseInteger("connect-rate", v, { min: 0, note: "0 = no limit" }),
    ),
    rate: optional(values.rate, (v) => parseNumber("rate", v, { note: "0 = no flood control" })),
    burst: optional(values.burst, (v) => parseInteger("burst", v, 1)),
    sendQueue: optional(values["send-queue"], (v) => parseSize("send-queue", v, 1024)),
    idleTimeout: optional(
      values["idle-timeout"],
      (v) => parseNumber("idle-timeout", v, { note: "0 = never" }),
    ),
    history: optional(values.history, (v) => parseInteger("history", v, { note: "0 = off" })),
    maxRooms: optional(values["max-rooms"], (v) => parseInteger("max-rooms", v, 1)),
  };

  const tlsFiles = `--tls-cert ${values["tls-cert"]} and --tls-key ${values["tls-key"]}`;
  const tls = values["tls-cert"]
    ? {
      cert: readPem("--tls-cert", values["tls-cert"]),
      key: readPem("--tls-key", values["tls-key"]!),
    }
    : null;
  const ircPort = optional(values["irc-port"], (v) => parsePort("irc-port", v));
  const ircName = optional(values["irc-name"], (v) => parseIrcName(v));
  const motd = optional(values.motd, (v) => readMotd(v));
  if (values.data !== undefined && values.cluster !== undefined) {
    throw new UsageError(
      "--data and --cluster do not go together: with --cluster everything is kept in Redis",
    );
  }
  const operPassword = optional(values["oper-password-file"], readOperPassword);
  const metricsAddress = optional(values.metrics, (v) => {
    const { host, port } = parseHostPort(v, { flag: "metrics", requirePort: true, listen: true });
    return { hostname: host, port: port! };
  });
  const historySize = limits.history ?? SERVER_DEFAULTS.history;

  const controller = new AbortController();
  let server: { chat: Chat } | null = null;
  const stdout = new BufferedSink(Deno.stdout);
  const color = colorWanted(Deno.stdout);
  const serverConsole: ServerConsole | null = values["no-console"] ? null : new ServerConsole({
    sink: stdout,
    json: format === "json",
    color,
    onCommand: (command) => server ? runOperatorCommand(server.chat, command, log) : [],
    onInterrupt: () => {
      // Ctrl-C on the console's input line: a key, not a signal.
      if (!controller.signal.aborted) return void controller.abort("SIGINT");
      Deno.exit(130);
    },
  });
  const log: Logger = new Logger(serverConsole?.sink ?? stdout, {
    format,
    color,
    messageText: !values["no-log-text"],
  });
  onStopSignals(controller);
  /** What was opened, closed in reverse order on the way out. */
  const opened: (() => unknown)[] = [];
  try {
    const chat: Omit<ChatOptions, "history" | "maxRooms"> = {
      requireAccount: values["require-account"] ?? false,
      operPassword: operPassword ?? null,
    };
    if (values.data !== undefined) {
      const store = await openStore(values.data, historySize);
      store.onError = (message) => log.event({ event: "error", message });
      opened.push(() => store.close());
      chat.store = store;
    }
    const nodeProcess = metricsAddress ? (await import("node:process")).default : null;
    const metrics = new ServerMetrics({
      version: denoConfig.version,
      clustered: values.cluster !== undefined,
      cpuUsage: nodeProcess ? () => nodeProcess.cpuUsage() : undefined,
    });
    let cluster: ClusterJoin | null = null;
    if (values.cluster !== undefined) {
      // Loaded only now, by a name Deno does not look at ahead of time: a single server
      // never loads (nor downloads) the Redis client.
      const { joinCluster }: typeof import("./cluster_join.ts") = await import(CLUSTER_MODULE);
      const joined = cluster = await joinCluster(values.cluster, {
        historySize,
        log,
        metrics,
      });
      opened.push(() => joined.close());
      Object.assign(chat, joined.chatOptions);
    }
    const listener = listen(hostname, port, tls && { ...tls, files: tlsFiles });
    opened.push(() => closeQuietly(listener));
    const ircListener = ircPort === undefined
      ? undefined
      : listen(hostname, ircPort, tls && { ...tls, files: tlsFiles });
    opened.push(() => closeQuietly(ircListener));
    let metricsAt: Deno.NetAddr | null = null;
    if (metricsAddress) {
      const stop = new AbortController();
      const endpoint = serveMetrics(metricsAddress, metrics, {
        signal: stop.signal,
        onError: (message) => log.event({ event: "error", message }),
      });
      metricsAt = endpoint.addr;
      opened.push(() => {
        stop.abort();
        return endpoint.finished;
      });
    }
    warnAboutFileLimit(limits.maxClients ?? SERVER_DEFAULTS.maxClients);
    const running = serve(listener, {
      log,
      signal: controller.signal,
      tls: tls !== null,
      irc: { listener: ircListener, name: ircName, motd },
      chat,
      metrics,
      ...limits,
    });
    server = running;
    cluster?.attach(running.chat);
    running.ready.then(() => {
      // After the chat port's line, which scripts look for first.
      if (metricsAt) {
        log.event({ event: "listening", address: metricsAt, tls: false, protocol: "metrics" });
      }
      serverConsole?.start();
    });
    await running.finished;
  } finally {
    await serverConsole?.close();
    for (const close of opened.reverse()) {
      try {
        await close();
      } catch (error) {
        log.event({ event: "error", message: `while stopping: ${errorText(error)}` });
      }
    }
    await log.sink.flush();
  }
  return 0;
}

/** Carries out an operator command typed on the console; the reply lines. */
async function runOperatorCommand(
  chat: Chat,
  command: ServerCommand,
  log: Logger,
): Promise<string[]> {
  const reply = await chat.moderate(null, command);
  if (reply.kind === "refused") return [`!!! ${problemText(reply.problem)}`];
  const lines = moderatedLines(reply, Date.now());
  if (CHANGES.has(command.kind) && !(command.kind === "topic" && command.text === undefined)) {
    log.event({ event: "operator", by: "console", what: lines.join("; ") });
  }
  return lines;
}

/** The operator commands that change something (and are logged); the others only look. */
const CHANGES = new Set<ServerCommand["kind"]>([
  "say",
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
  "topic",
]);

/** `--data FILE`: the store, or a {@linkcode StartError} in one line naming the file. */
async function openStore(path: string, historySize: number) {
  // Loaded only with --data, as the Redis client only with --cluster.
  const { SqliteStore, StoreError } = await import("../store/sqlite.ts");
  try {
    return SqliteStore.open(path, { historySize });
  } catch (error) {
    if (error instanceof StoreError) throw new StartError(error.message);
    throw error;
  }
}

/** `--oper-password-file F`: its first line, which must not be empty. */
function readOperPassword(path: string): string {
  const password = readTextFile("--oper-password-file", path).split(/\r?\n/)[0];
  if (password.trim() === "") {
    throw new StartError(
      `--oper-password-file ${path} is empty: put the /oper password on its first line`,
    );
  }
  return password;
}

/**
 * SIGINT and SIGTERM abort `controller` (a graceful shutdown); a second one,
 * not a copy of the first (see {@linkcode SIGNAL_COPY_MS}), exits at once
 * with 130 or 143. The listeners stay until the process exits: a copy that
 * comes after the stop is done would otherwise meet the default action and
 * end a clean stop with 130.
 */
function onStopSignals(controller: AbortController): void {
  let firstAt = 0;
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => {
      const now = performance.now();
      if (!controller.signal.aborted) {
        firstAt = now;
        return controller.abort(name);
      }
      if (now - firstAt >= SIGNAL_COPY_MS) Deno.exit(name === "SIGINT" ? 130 : 143);
    });
  }
}

/**
 * Connections the kernel may hold before the accept loop takes them (Deno's default is 511;
 * Linux caps it at `net.core.somaxconn`, 4096 by default). A full queue drops the SYN, and the
 * client retries only a second later: with 511, 10,000 clients connecting at once lost about
 * 800 SYNs that way (BENCHMARKS.md, "Connection storms").
 */
const LISTEN_BACKLOG = 4096;

function listen(
  hostname: string,
  port: number,
  tls: { cert: string; key: string; files: string } | null,
): Deno.Listener {
  const where = formatPeer({ hostname, port });
  try {
    return tls
      ? Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key, tcpBacklog: LISTEN_BACKLOG })
      : Deno.listen({ hostname, port, tcpBacklog: LISTEN_BACKLOG });
  } catch (error) {
    if (tls && /KeyMismatch|keys may not be consistent/i.test(errorText(error))) {
      throw new StartError(
        `${tls.files} do not belong together: the key is not the certificate's private key`,
      );
    }
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
    throw new StartError(`cannot listen on ${where}: ${errorText(error)}`);
  }
}

/** An IRC server name: a host-name-like word (it is the host part of every source). */
function parseIrcName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9.\-]{0,62}$/.test(value)) {
    throw invalidValue(
      "irc-name",
      value,
      "a host name such as chat.example.org (letters, digits, . and -)",
    );
  }
  return value;
}

/** The lines of a message-of-the-day file, cleaned, at most 100 of 400 characters. */
function readMotd(path: string): string[] {
  const text = readTextFile("--motd", path);
  return text.split(/\r?\n/).map((line) => [...cleanString(line)].slice(0, 400).join(""))
    .slice(0, 100);
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
