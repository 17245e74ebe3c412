/**
 * `parley server`'s flags: the help text, and the flags read into a
 * {@linkcode ServerConfig} with every value checked and every file named by
 * a flag read (a bad one is a one-line error naming the flag).
 *
 * @module
 */

import { SERVER_DEFAULTS, type ServerLimits } from "../../server.ts";
import { UsageError } from "../errors.ts";
import { DEFAULT_RETENTION, MEMORY_HISTORY, type Retention } from "../core/history.ts";
import { DEFAULT_MAX_SESSIONS } from "../core/devices.ts";
import { type CidrBlock, parseCidr } from "../core/cidr.ts";
import { normalOrigin, type WebPolicy } from "../front/http/web_policy.ts";
import { cleanString } from "../text.ts";
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
import { DEFAULT_PORT, readPem, readTextFile, StartError } from "./start.ts";

/** The default of `--min-password-length`. */
const MIN_PASSWORD_LENGTH = 8;

/** The default of `--max-rooms-per-client`. */
const MAX_ROOMS_PER_CLIENT = 50;

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
  --connect-rate N       new connections per address per minute (default ${SERVER_DEFAULTS.connectRate}; 0 = no limit)
  --ipv6-prefix N        IPv6 clients count per /N for every per-address limit (default ${SERVER_DEFAULTS.ipv6Prefix})
  --rate N               lines per second per client (default ${SERVER_DEFAULTS.rate}; 0 = no flood control)
  --burst N              lines a client may send at once (default ${SERVER_DEFAULTS.burst})
  --send-queue BYTES     output waiting for a client before it is dropped (default 1M)
  --idle-timeout SECONDS disconnect clients silent this long (default 0 = never)
  --history N            messages per room replayed to newcomers (default ${SERVER_DEFAULTS.history}; 0 = off)
  --history-days N       with --data or --cluster: keep messages this many days (default
                         ${DEFAULT_RETENTION.days}; 0 = no age limit); older ones are pruned in the background
  --history-max N        with --data or --cluster: most messages kept per room, and private
                         ones per account (default ${DEFAULT_RETENTION.max}; 0 = keep none); in memory
                         ${MEMORY_HISTORY} per room
  --max-rooms N          most rooms at once (default ${SERVER_DEFAULTS.maxRooms})
  --max-rooms-per-client N
                         most rooms one client may be in at once (default ${MAX_ROOMS_PER_CLIENT};
                         IRC's CHANLIMIT)
  --log text|json        console format (default text)
  --no-log-text          keep message text out of the console (privacy)
  --tls-cert FILE        serve TLS with this certificate (PEM) ...
  --tls-key FILE         ... and this private key (PEM)
  --irc-port PORT        also listen for IRC clients here (6667 is the usual one; TLS with
                         --tls-cert); IRC clients are served on --port as well
  --web-origin ORIGINS   other sites whose pages may connect over WebSocket, comma-separated
                         (https://chat.example.org,http://10.0.0.5:8080; * for any); the page
                         served here may always
  --trust-proxy CIDRS    reverse proxies (comma-separated addresses or blocks, e.g. 127.0.0.1)
                         whose X-Forwarded-For names a web client's address
  --irc-name NAME        server name in IRC replies (default: this machine's host name)
  --motd FILE            message of the day shown to IRC clients
  --data FILE            keep history, topics, rooms, accounts and bans in this SQLite
                         file across restarts (default: in memory only)
  --cluster-wait         with --cluster: start even when Redis is not reachable yet, and join
                         it when it is (without it, an unreachable Redis stops the start)
  --cluster URL          be one chat with every server using this Redis
                         (redis://[:PASSWORD@]HOST:PORT[/DB]; not with --data)
  --require-account      only identified owners of registered nicks may join rooms and talk
  --max-sessions N       most devices one account may have connected at once, on every
                         server (default ${DEFAULT_MAX_SESSIONS}); one more is refused
  --min-password-length N
                         shortest password an account may get (default ${MIN_PASSWORD_LENGTH})
  --no-register-before-connect
                         IRC clients register a nick (REGISTER) only once connected
  --oper-password-file F the /oper password is in this file (without it, only the
                         console has operator commands)
  --no-console           do not read operator commands from stdin
  --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics (off by default)
  -h, --help             this help

Sizes take k, M and G suffixes (64k, 1M).
`;

/** What `parley server` was asked to do. */
export interface ServerConfig {
  hostname: string;
  port: number;
  /** The limits given (the others keep their defaults). */
  limits: Partial<ServerLimits>;
  format: "text" | "json";
  /** Message text in the console (`--no-log-text` turns it off). */
  messageText: boolean;
  /** The certificate and key (PEM), and how to name them in an error. */
  tls: { cert: string; key: string; files: string } | null;
  ircPort: number | undefined;
  ircName: string | undefined;
  /** `--web-origin` and `--trust-proxy`. */
  web: WebPolicy;
  motd: string[] | undefined;
  /** `--data FILE`. */
  data: string | undefined;
  /** `--cluster URL`. */
  cluster: string | undefined;
  /** `--cluster-wait`: start without Redis, join when it is there. */
  clusterWait: boolean;
  requireAccount: boolean;
  /** The shortest password an account may get (`--min-password-length`). */
  minPasswordLength: number;
  /** IRC's REGISTER before connecting (`--no-register-before-connect` turns it off). */
  registerBeforeConnect: boolean;
  operPassword: string | null;
  /** Read operator commands from stdin. */
  console: boolean;
  metricsAddress: { hostname: string; port: number } | undefined;
  /** Messages per room replayed to newcomers. */
  historySize: number;
  /** What `--data` and `--cluster` keep (`--history-days`, `--history-max`). */
  retention: Retention;
  /** Most rooms one client may be in (`--max-rooms-per-client`). */
  maxRoomsPerClient: number | undefined;
  /** Most devices one account may have connected at once (`--max-sessions`). */
  maxSessions: number | undefined;
}

/** Reads `parley server ARGS`: the config, or `"help"` for `--help`. */
export function readServerFlags(args: string[]): ServerConfig | "help" {
  const { values } = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    "max-line": { type: "string" },
    "max-clients": { type: "string" },
    "max-per-ip": { type: "string" },
    "connect-rate": { type: "string" },
    "ipv6-prefix": { type: "string" },
    rate: { type: "string" },
    burst: { type: "string" },
    "send-queue": { type: "string" },
    "idle-timeout": { type: "string" },
    history: { type: "string" },
    "history-days": { type: "string" },
    "history-max": { type: "string" },
    "max-rooms": { type: "string" },
    "max-rooms-per-client": { type: "string" },
    "max-sessions": { type: "string" },
    log: { type: "string" },
    "no-log-text": { type: "boolean" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "irc-port": { type: "string" },
    "irc-name": { type: "string" },
    "web-origin": { type: "string" },
    "trust-proxy": { type: "string" },
    motd: { type: "string" },
    data: { type: "string" },
    cluster: { type: "string" },
    "cluster-wait": { type: "boolean" },
    "require-account": { type: "boolean" },
    "min-password-length": { type: "string" },
    "no-register-before-connect": { type: "boolean" },
    "oper-password-file": { type: "string" },
    "no-console": { type: "boolean" },
    metrics: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";

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
    ipv6Prefix: optional(
      values["ipv6-prefix"],
      (v) => parseInteger("ipv6-prefix", v, { min: 0, max: 128 }),
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
  if (values["cluster-wait"] && values.cluster === undefined) {
    throw new UsageError("--cluster-wait goes with --cluster URL");
  }
  if (ircPort !== undefined && ircPort !== 0 && ircPort === port) {
    throw new UsageError(
      `--irc-port ${ircPort} is --port as well: IRC clients are served on --port too, so leave ` +
        "--irc-port out, or give it another port",
    );
  }
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
  const retention: Retention = {
    days: optional(
      values["history-days"],
      (v) => parseInteger("history-days", v, { min: 0, max: 36_500, note: "0 = no age limit" }),
    ) ?? DEFAULT_RETENTION.days,
    max: optional(
      values["history-max"],
      (v) => parseInteger("history-max", v, { min: 0, note: "0 = keep none" }),
    ) ?? DEFAULT_RETENTION.max,
  };
  return {
    hostname,
    port,
    limits,
    format,
    messageText: !values["no-log-text"],
    tls: tls && { ...tls, files: tlsFiles },
    ircPort,
    ircName,
    web: {
      origins: optional(values["web-origin"], parseOrigins) ?? [],
      trustedProxies: optional(values["trust-proxy"], parseProxies) ?? [],
    },
    motd,
    data: values.data,
    cluster: values.cluster,
    clusterWait: values["cluster-wait"] ?? false,
    requireAccount: values["require-account"] ?? false,
    minPasswordLength: optional(
      values["min-password-length"],
      (v) => parseInteger("min-password-length", v, 1),
    ) ?? MIN_PASSWORD_LENGTH,
    registerBeforeConnect: !values["no-register-before-connect"],
    operPassword: operPassword ?? null,
    console: !values["no-console"],
    metricsAddress,
    historySize,
    retention,
    maxRoomsPerClient: optional(
      values["max-rooms-per-client"],
      (v) => parseInteger("max-rooms-per-client", v, 1),
    ),
    maxSessions: optional(values["max-sessions"], (v) => parseInteger("max-sessions", v, 1)),
  };
}

/** `--web-origin`: `*`, or origins such as `https://chat.example.org`, comma-separated. */
function parseOrigins(value: string): string[] {
  const origins = value.split(",").map((item) => item.trim());
  for (const origin of origins) {
    if (origin !== "*" && normalOrigin(origin) === null) {
      throw invalidValue(
        "web-origin",
        value,
        "origins such as https://chat.example.org or http://10.0.0.5:8080 (scheme, host, " +
          "port; no path), comma-separated, or *",
        `${JSON.stringify(origin)} is not one`,
      );
    }
  }
  return origins;
}

/** `--trust-proxy`: addresses or CIDR blocks, comma-separated. */
function parseProxies(value: string): CidrBlock[] {
  return value.split(",").map((item) => {
    const block = parseCidr(item.trim());
    if (block === null) {
      throw invalidValue(
        "trust-proxy",
        value,
        "addresses or blocks such as 127.0.0.1 or 10.0.0.0/8, comma-separated",
        `${JSON.stringify(item.trim())} is not one`,
      );
    }
    return block;
  });
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
