/**
 * `parley server`: flags → a bound listener, the console and the signals →
 * {@linkcode serve}, until SIGINT or SIGTERM.
 *
 * @module
 */

import { problemText } from "../front/words.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import { serve, SERVER_DEFAULTS } from "../../server.ts";
import { colorWanted } from "../colors.ts";
import { type ServerCommand, ServerConsole } from "../console/console.ts";
import type { Chat, ChatOptions } from "../core/chat.ts";
import type { Retention } from "../core/history.ts";
import { errorText } from "../errors.ts";
import { moderatedLines } from "../front/moderation.ts";
import { changesSomething } from "../front/operator_commands.ts";
import { BufferedSink, Logger } from "../log.ts";
import { ServerMetrics } from "../metrics.ts";
import { serveMetrics } from "../metrics_endpoint.ts";
import { formatPeer } from "../net/peer.ts";
import { closeQuietly } from "../net/io.ts";
import type { ClusterJoin } from "./cluster_join.ts";
import { readServerFlags, SERVER_HELP, type ServerConfig } from "./server_flags.ts";
import { StartError } from "./start.ts";

export { SERVER_HELP } from "./server_flags.ts";

/** The cluster code (and with it the Redis client), loaded only with `--cluster`. */
const CLUSTER_MODULE = new URL("./cluster_join.ts", import.meta.url).href;

/**
 * Signals of one name this close together are copies of one keypress: a
 * terminal's Ctrl-C signals the whole process group, and `deno task` forwards
 * it to its child again. A second signal after this long means "now".
 */
const SIGNAL_COPY_MS = 250;

/** Runs `parley server ARGS`; returns the exit code. */
export async function serverCommand(args: string[]): Promise<number> {
  const config = readServerFlags(args);
  if (config === "help") {
    console.log(SERVER_HELP.trimEnd());
    return 0;
  }
  await runServer(config);
  return 0;
}

/** Runs a server as configured until SIGINT or SIGTERM (or Ctrl-C on the console). */
async function runServer(config: ServerConfig): Promise<void> {
  const controller = new AbortController();
  let server: { chat: Chat } | null = null;
  const stdout = new BufferedSink(Deno.stdout);
  const color = colorWanted(Deno.stdout);
  const serverConsole: ServerConsole | null = config.console
    ? new ServerConsole({
      sink: stdout,
      json: config.format === "json",
      color,
      onCommand: (command) => server ? runOperatorCommand(server.chat, command, log) : [],
      onInterrupt: () => {
        // Ctrl-C on the console's input line: a key, not a signal.
        if (!controller.signal.aborted) return void controller.abort("SIGINT");
        Deno.exit(130);
      },
    })
    : null;
  const log: Logger = new Logger(serverConsole?.sink ?? stdout, {
    format: config.format,
    color,
    messageText: config.messageText,
  });
  onStopSignals(controller);
  onBackupSignal(() => server?.chat ?? null, log);
  /** What was opened, closed in reverse order on the way out. */
  const opened: (() => unknown)[] = [];
  try {
    const metrics = await serverMetrics(config);
    const { chat, cluster } = await openChat(config, { log, metrics, opened });
    const listener = listen(config.hostname, config.port, config.tls);
    opened.push(() => closeQuietly(listener));
    const ircListener = config.ircPort === undefined
      ? undefined
      : listen(config.hostname, config.ircPort, config.tls);
    opened.push(() => closeQuietly(ircListener));
    const metricsAt = startMetrics(config, { log, metrics, opened });
    warnAboutFileLimit(config.limits.maxClients ?? SERVER_DEFAULTS.maxClients);
    const running = serve(listener, {
      log,
      signal: controller.signal,
      tls: config.tls !== null,
      irc: { listener: ircListener, name: config.ircName, motd: config.motd },
      web: config.web,
      chat,
      metrics,
      ...config.limits,
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
}

/** What the parts of a starting server share: the log, the metrics, what to close at the end. */
interface Starting {
  log: Logger;
  metrics: ServerMetrics;
  opened: (() => unknown)[];
}

/** The metrics a server counts (with the process's CPU time when they are served). */
async function serverMetrics(config: ServerConfig): Promise<ServerMetrics> {
  // node:process costs memory: loaded only when the metrics are served.
  const nodeProcess = config.metricsAddress ? (await import("node:process")).default : null;
  return new ServerMetrics({
    version: denoConfig.version,
    clustered: config.cluster !== undefined,
    cpuUsage: nodeProcess ? () => nodeProcess.cpuUsage() : undefined,
  });
}

/** The chat's options: where it keeps things (`--data`, `--cluster`), accounts and operators. */
async function openChat(
  config: ServerConfig,
  { log, metrics, opened }: Starting,
): Promise<{ chat: Omit<ChatOptions, "history" | "maxRooms">; cluster: ClusterJoin | null }> {
  const chat: Omit<ChatOptions, "history" | "maxRooms"> = {
    requireAccount: config.requireAccount,
    minPasswordLength: config.minPasswordLength,
    registerBeforeEntering: config.registerBeforeConnect,
    operPassword: config.operPassword,
    maxRoomsPerMember: config.maxRoomsPerClient,
    maxSessions: config.maxSessions,
  };
  if (config.data !== undefined) {
    const store = await openStore(config.data, config.retention);
    store.onError = (message) => log.event({ event: "error", message });
    opened.push(() => store.close());
    chat.store = store;
  }
  if (config.cluster === undefined) return { chat, cluster: null };
  // Loaded only now, by a name Deno does not look at ahead of time: a single server
  // never loads (nor downloads) the Redis client.
  const { joinCluster }: typeof import("./cluster_join.ts") = await import(CLUSTER_MODULE);
  const cluster = await joinCluster(config.cluster, {
    historySize: config.retention.max,
    historyDays: config.retention.days,
    log,
    metrics,
    waitForRedis: config.clusterWait,
  });
  opened.push(() => cluster.close());
  Object.assign(chat, cluster.chatOptions);
  return { chat, cluster };
}

/** `--metrics HOST:PORT`: the endpoint, serving until the server stops; where it listens. */
function startMetrics(config: ServerConfig, { log, metrics, opened }: Starting) {
  if (!config.metricsAddress) return null;
  const stop = new AbortController();
  const endpoint = serveMetrics(config.metricsAddress, metrics, {
    signal: stop.signal,
    onError: (message) => log.event({ event: "error", message }),
  });
  opened.push(() => {
    stop.abort();
    return endpoint.finished;
  });
  return endpoint.addr;
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
  if (changesSomething(command)) {
    log.event({ event: "operator", by: "console", what: lines.join("; ") });
  }
  return lines;
}

/** `--data FILE`: the store, or a {@linkcode StartError} in one line naming the file. */
async function openStore(path: string, retention: Retention) {
  // Loaded only with --data, as the Redis client only with --cluster.
  const { SqliteStore, StoreError } = await import("../store/sqlite.ts");
  try {
    return SqliteStore.open(path, { historySize: retention.max, historyDays: retention.days });
  } catch (error) {
    if (error instanceof StoreError) throw new StartError(error.message);
    throw error;
  }
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
 * SIGUSR1 writes a backup of the database beside it (`/backup` for a server
 * with no console, e.g. run as a service: `kill -USR1 PID`); the log says
 * where, or why not.
 */
function onBackupSignal(chat: () => Chat | null, log: Logger): void {
  Deno.addSignalListener("SIGUSR1", () => {
    const running = chat();
    if (running === null) return;
    void running.moderate(null, { kind: "backup" }).then((reply) => {
      if (reply.kind === "refused") {
        return log.event({ event: "error", message: `SIGUSR1: ${problemText(reply.problem)}` });
      }
      log.event({ event: "operator", by: "SIGUSR1", what: moderatedLines(reply, Date.now())[0] });
    });
  });
}

/**
 * Connections the kernel may hold before the accept loop takes them (Deno's default is 511;
 * Linux caps it at `net.core.somaxconn`, 4096 by default). A full queue drops the SYN, and the
 * client retries only a second later (BENCHMARKS.md, "Connection storms").
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
