/**
 * One bench run against a line-based chat server over real sockets.
 *
 * The run connects its clients (stalled ones first, then talkers, then idle
 * listeners) by the window rule of {@linkcode Connector}, or all at once for
 * the storm; a connection counts as made once the server has greeted it, so
 * the run knows the server admitted it. Then it lets each talker send its
 * messages, as fast as the server takes them or at a steady rate. Every
 * reading client scans what it gets with one shared {@linkcode PayloadScanner}.
 *
 * The run never hangs. It ends when every expected payload has arrived, or:
 * - `stuck`: nothing arrived for `stallTimeout` while talkers were still sending,
 *   or everything was sent, nothing arrived for a while, and a probe message
 *   sent then did not get through either (the server stopped delivering; ncat
 *   does this when one client stops reading);
 * - `cut`: the server disconnected reading clients (talkers or listeners) and
 *   is otherwise alive: the payloads they missed count as lost. A stalled
 *   client being cut is the slow-reader defence working and does not count;
 *   it is reported on its own;
 * - `lost`: everything was sent and the probe got through, nobody who reads
 *   was cut, but some payloads never will arrive intact (the server dropped,
 *   cut or merged them);
 * - `timeout`: the hard `timeLimit` passed while payloads were still arriving.
 *
 * @module
 */

import { closeQuietly } from "../net/io.ts";
import { settlesWithin, sleep } from "../async.ts";
import { type ClientKind, messageEncoder } from "./client_kinds.ts";
import { type ClientState, joinInWaves, ReadingClient, receive, StalledClient } from "./clients.ts";
import {
  ConnectError,
  type ConnectMode,
  Connector,
  type ConnectorOptions,
  formatAddress,
  SILENT_GRACE,
  tcpStates,
} from "./connect.ts";
import type { LatencyHistogram } from "./histogram.ts";
import { IRC_CHANNEL, nowMicros, PayloadScanner, PROBE_SEQ } from "./payload.ts";
import { BenchError, type CpuTime, cpuTime, openFileLimit, peakRssMiB } from "./servers.ts";

/** The load a run puts on a server. */
export interface Load {
  /** Talking clients: each sends `messages` and reads everything the others send. */
  clients: number;
  /** Messages each talker sends. */
  messages: number;
  /** Messages per second per talker; 0 sends as fast as the server takes them. */
  rate: number;
  /** Payload bytes per message (the server adds its prefix, e.g. `<guest-7> `). */
  size: number;
  /** Connected listeners that never send. */
  idle: number;
  /** Clients that connect and never read (nor send). */
  stalled: number;
  /** What the clients speak (default line; see `client_kinds.ts`). */
  clientKind?: ClientKind;
}

/** What to run. */
export interface BenchOptions extends Load {
  host: string;
  port: number;
  /**
   * Several servers on `host` (a cluster), instead of `port`: client `i`
   * (stalled clients first, then talkers, then listeners) connects to
   * `ports[i % ports.length]`.
   */
  ports?: number[];
  /** The server's process id, for its CPU time and peak memory. */
  serverPid?: number;
  /** The process ids of several servers (a cluster), instead of `serverPid`: their CPU time is summed. */
  serverPids?: number[];
  /** Hard limit for the whole run, connecting included (ms). */
  timeLimit?: number;
  /**
   * No arrival for this long while talkers still send: the server is stuck.
   * With everything sent, the quiet period and the probe's wait share it (ms).
   */
  stallTimeout?: number;
  /** How connections are paced (default "window"; see {@linkcode Connector}). */
  connectMode?: ConnectMode;
  /** Source addresses (for tests: fewer connections per address). */
  connector?: ConnectorOptions;
  /**
   * What client `index` sends as soon as it is connected, before anything of the run's own
   * (the devices scenario: the line that proves its account, `devices.ts`); null: nothing.
   */
  firstLine?: (index: number) => Uint8Array | null;
  /** Called about ten times a second while the run goes on. */
  onProgress?: (progress: BenchProgress) => void;
}

/** Where a run is, for a progress bar. */
export interface BenchProgress {
  /** Connecting clients, joining them to the channel (IRC kinds), or waiting for payloads. */
  phase: "connecting" | "joining" | "delivering";
  /** Clients connected or joined, or payloads delivered to a reader. */
  done: number;
  /** Clients to connect or join, or deliveries expected. */
  total: number;
}

/** How a run ended (see the module documentation). */
export type BenchStatus = "complete" | "cut" | "lost" | "stuck" | "timeout";

/** Latency percentiles in milliseconds. */
export interface LatencyReport {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** CPU time and peak memory of a process over a run. */
export interface ProcessReport {
  pid: number;
  /** User + system CPU seconds used during the run (connecting included). */
  cpuSeconds: number | null;
  /** The part of `cpuSeconds` spent in the kernel (for loopback TCP, both ends' work). */
  systemSeconds: number | null;
  /** Peak resident memory (VmHWM) in MiB: the process's lifetime peak. */
  peakRssMiB: number | null;
}

/** CPU time and peak memory of every server over a run: one process, or several (a cluster). */
export interface ServersReport {
  pids: number[];
  /** User + system CPU seconds of all of them together during the run. */
  cpuSeconds: number | null;
  /** The part of `cpuSeconds` spent in the kernel. */
  systemSeconds: number | null;
  /** The largest peak resident memory (VmHWM) among them, in MiB. */
  peakRssMiB: number | null;
  /** Each process on its own. */
  each: ProcessReport[];
}

/** What a run measured, and the load it was. */
export interface BenchReport extends Load {
  target: string;
  status: BenchStatus;
  /** Messages the talkers wrote (fewer than clients × messages when the server stopped reading). */
  sent: number;
  /** Deliveries a perfect server makes: talkers × messages × (readers − 1). */
  expected: number;
  /** Payloads that arrived intact and in order. */
  delivered: number;
  /** Of those, payloads whose line lacked the `<sender> ` prefix (ncat's multi-line chunks). */
  unattributed: number;
  /** Payloads that never arrived: expected − delivered − altered. */
  lost: number;
  /** Payloads that arrived damaged: cut, or merged with bytes of another line. */
  altered: number;
  /** Intact payloads that arrived twice or out of order (not counted as delivered). */
  duplicates: number;
  /** Payloads the server sent back to their own sender. */
  echoes: number;
  /** Reading clients (talkers and listeners) the server disconnected during the run. */
  disconnected: number;
  /** Of `lost`, the payloads the disconnected readers had not received when they were cut. */
  lostAtCutReaders: number;
  /**
   * Clients that gave up because the server broke their protocol or refused
   * them (a WebSocket upgrade not answered 101, a frame RFC 6455 does not
   * allow, an IRC registration refused); always 0 for line clients.
   */
  failed?: number;
  /** The first of those failures, in words; null when none. */
  firstFailure?: string | null;
  /**
   * Stalled clients the server had disconnected by the end of the run (the
   * slow-reader defence; not held against the run); null without stalled
   * clients, or when the kernel does not say (not Linux).
   */
  stalledCut: number | null;
  /** From the first message sent to the last payload received (s). */
  seconds: number;
  deliveriesPerSecond: number;
  /** Send → receive of delivered payloads; null when none arrived. */
  latencyMs: LatencyReport | null;
  /** How connections were paced. */
  connectMode: ConnectMode;
  /**
   * Until every client was connected and had heard from the server (ms); for
   * IRC kinds, until every one had joined the channel too.
   */
  connectMs: number;
  /** Of `connectMs`, joining the channel once everyone was connected (IRC kinds; null for line clients). */
  joinMs?: number | null;
  /** Each client's wait from `connect()` to the server's first bytes; null when none came. */
  greetingMs: LatencyReport | null;
  /** `connect()` calls that took over 0.9 s: most likely a full listen queue dropped the SYN. */
  slowConnects: number;
  /** The server's figures when its pid is known (null for several servers: see `servers`). */
  server: ProcessReport | null;
  /** Every measured server's figures (one or several); null when no pid is known. */
  servers: ServersReport | null;
  /**
   * The servers' CPU seconds from the first message sent to the end of the
   * run: the delivering alone, without connecting and joining. Null when no
   * pid is known.
   */
  deliveringCpuSeconds?: number | null;
  /** The bench process's own figures (it should be far from busy). */
  bench: ProcessReport;
}

const DEFAULTS = {
  timeLimit: 120_000,
  stallTimeout: 5_000,
  connectMode: "window" as ConnectMode,
};
/**
 * Everything sent and nothing arriving for this share of the stall timeout:
 * time to probe; the probe has the rest of it to arrive.
 */
const QUIET_SHARE = 0.4;
const TICK = 100;
/** Descriptors the bench needs besides its connections. */
export const FILES_OF_OUR_OWN = 64;
/** All receive buffers together stay below about this many bytes… */
const RECEIVE_BUDGET = 16 * 1024 * 1024;
/** …each one between these sizes (a pending read pins its buffer). */
const MIN_RECEIVE_BUFFER = 1024;
const MAX_RECEIVE_BUFFER = 256 * 1024;

/** The receive buffer of each of `readers` clients. */
export function receiveBufferSize(readers: number): number {
  return Math.min(
    MAX_RECEIVE_BUFFER,
    Math.max(MIN_RECEIVE_BUFFER, Math.floor(RECEIVE_BUDGET / Math.max(1, readers))),
  );
}

/** Shared state of one run. */
interface RunState extends ClientState {
  /** Messages written by talkers. */
  sent: number;
  /** Talkers that finished (all sent, or failed). */
  talkersDone: number;
  firstSendUs: number;
}

/** Runs one bench against `options.host:port`; resolves with its report. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const settings = { ...DEFAULTS, ...withoutUndefined(options) };
  const { clients, messages, rate, size, idle, stalled } = options;
  const clientKind = options.clientKind ?? "line";
  const readers = clients + idle;
  const total = readers + stalled;
  const expected = clients * messages * Math.max(0, readers - 1);
  const ports = options.ports !== undefined && options.ports.length > 0
    ? options.ports
    : [options.port];
  const target = ports.map((port) => formatAddress(options.host, port)).join(", ");
  checkFileLimit(total);
  const serverPids = options.serverPids ??
    (options.serverPid === undefined ? [] : [options.serverPid]);
  for (const pid of serverPids) {
    if (cpuTime(pid) === null) throw new BenchError(`no process ${pid} to measure (--server-pid)`);
  }

  const started = performance.now();
  const deadline = started + settings.timeLimit;
  const serverCpuStart = serverPids.map((pid) => cpuTime(pid));
  const benchCpuStart = cpuTime("self");
  const state: RunState = {
    scanner: new PayloadScanner(size, clients),
    heard: 0,
    disconnected: 0,
    failed: 0,
    sent: 0,
    talkersDone: 0,
    firstSendUs: Infinity,
    stopping: false,
  };
  const bufferSize = receiveBufferSize(readers);
  const conns: { close(): void }[] = [];
  const talkers: ReadingClient[] = [];
  const readingClients: ReadingClient[] = [];
  const stalledClients: StalledClient[] = [];
  /** The port each stalled client connected to, in the order of `stalledClients`. */
  const stalledPorts: number[] = [];
  const loops: Promise<unknown>[] = [];
  const greetings: Promise<boolean>[] = [];
  const connector = new Connector(options, options.connector);
  try {
    // Stalled clients first, so they are in the room before anyone talks.
    const progress = (done: number) => options.onProgress?.({ phase: "connecting", done, total });
    await connector.open({
      count: total,
      mode: settings.connectMode,
      deadline,
      stopping: () => state.stopping,
      onProgress: progress,
      onConnect(conn, index) {
        conns.push(conn);
        const first = options.firstLine?.(index);
        if (first) conn.write(first).catch(() => {});
        const identity = { kind: clientKind, index, host: options.host };
        if (index < stalled) {
          const client = new StalledClient(conn, state, identity);
          stalledClients.push(client);
          stalledPorts.push(connector.portFor(index));
          greetings.push(client.greeted);
          return client.greeted;
        }
        const talker = index - stalled < clients;
        const client = new ReadingClient(conn, {
          self: talker ? index - stalled : -1,
          senders: clients,
          buffer: bufferSize,
          ...identity,
        });
        client.done = receive(client, state);
        loops.push(client.done);
        readingClients.push(client);
        if (talker) talkers.push(client);
        greetings.push(client.greeted);
        return client.greeted;
      },
    }).catch((error) => {
      throw error instanceof ConnectError ? new BenchError(error.message) : error;
    });
    await waitForGreetings(state, { greetings, deadline });
    // IRC kinds join the channel once everyone is connected (see `client_kinds.ts`).
    let joinMs: number | null = null;
    if (clientKind !== "line") {
      const joinStart = performance.now();
      const joined = await joinInWaves(readingClients, {
        deadline,
        onProgress: (done) =>
          options.onProgress?.({ phase: "joining", done, total: readingClients.length }),
      });
      if (!joined) {
        const inRoom = readingClients.filter((client) => client.joined).length;
        throw new BenchError(
          `only ${inRoom} of ${readingClients.length} clients joined ${IRC_CHANNEL} ` +
            `before the time limit`,
        );
      }
      joinMs = Math.round(performance.now() - joinStart);
    }
    const connectMs = performance.now() - started;
    progress(total);

    const sendStart = performance.now();
    const serverCpuAtSend = serverPids.map((pid) => cpuTime(pid));
    talkers.sort((a, b) => a.self - b.self);
    for (const talker of talkers) {
      loops.push(talk(talker, state, { messages, rate, size, talkers: clients, start: sendStart }));
    }
    let status = await watch(state, {
      expected,
      talkers: clients,
      deadline,
      stallTimeout: Math.max(settings.stallTimeout, rate > 0 ? 3000 / rate : 0),
      probe: () => sendProbe(talkers.find((talker) => !talker.cut && !talker.failed), size),
      onProgress: options.onProgress,
    });
    // Every payload came, but not every one intact (cut, merged, split): not complete.
    if (status === "complete" && state.scanner.altered > 0) status = "lost";
    if (state.disconnected > 0 && (status === "complete" || status === "lost")) status = "cut";
    const stalledCut = stalledClients.length === 0
      ? null
      : countCutPerPort(stalledClients.map((client) => client.conn), stalledPorts);

    const { scanner } = state;
    const serverCpuEnd = serverPids.map((pid) => cpuTime(pid));
    const delivering = serverPids.map((_, index) =>
      cpuUsed(serverCpuAtSend[index], serverCpuEnd[index]).cpuSeconds
    );
    const benchCpuEnd = cpuTime("self");
    const servers: ProcessReport[] = serverPids.map((pid, index) => ({
      pid,
      ...cpuUsed(serverCpuStart[index], serverCpuEnd[index]),
      peakRssMiB: roundOrNull(peakRssMiB(pid), 1),
    }));
    const seconds = scanner.lastArrivalUs > state.firstSendUs
      ? (scanner.lastArrivalUs - state.firstSendUs) / 1e6
      : 0;
    return {
      target,
      clientKind,
      clients,
      messages,
      rate,
      size,
      idle,
      stalled,
      status,
      sent: state.sent,
      expected,
      delivered: scanner.intact,
      unattributed: scanner.unattributed,
      lost: Math.max(0, expected - scanner.intact - scanner.altered),
      altered: scanner.altered,
      duplicates: scanner.duplicates,
      echoes: scanner.echoes,
      disconnected: state.disconnected,
      lostAtCutReaders: missedByCut(readingClients, { clients, messages }),
      failed: state.failed ?? 0,
      firstFailure: state.firstFailure ?? null,
      stalledCut,
      seconds: round(seconds, 3),
      deliveriesPerSecond: seconds > 0 ? Math.round(scanner.intact / seconds) : 0,
      latencyMs: latencyReport(scanner.latency),
      connectMode: settings.connectMode,
      connectMs: Math.round(connectMs),
      joinMs,
      greetingMs: latencyReport(connector.greetingWait),
      slowConnects: connector.slowConnects,
      server: servers.length === 1 ? servers[0] : null,
      servers: servers.length === 0 ? null : sumServers(servers),
      deliveringCpuSeconds: delivering.length === 0 || delivering.includes(null)
        ? null
        : round(delivering.reduce((total: number, value) => total + value!, 0), 2),
      bench: {
        pid: Deno.pid,
        ...cpuUsed(benchCpuStart, benchCpuEnd),
        peakRssMiB: roundOrNull(peakRssMiB("self"), 1),
      },
    };
  } finally {
    state.stopping = true;
    for (const conn of conns) closeQuietly(conn);
    // A write stuck on a server that stopped reading may only end once the server
    // goes: do not wait for it longer than a moment.
    await settlesWithin(Promise.allSettled(loops), 3000);
  }
}

/** Percentiles of a histogram in milliseconds; null without samples. */
export function latencyReport(histogram: LatencyHistogram): LatencyReport | null {
  if (histogram.count === 0) return null;
  const ms = (us: number) => round(us / 1000, 3);
  return {
    p50: ms(histogram.percentile(50)),
    p90: ms(histogram.percentile(90)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    mean: ms(histogram.mean),
  };
}

/**
 * How many of `conns` the server has disconnected, from the kernel's view of
 * both ends: our socket is no longer established (the server's FIN came, or a
 * reset removed it), or, for a server on this machine, the server's end of it
 * is no longer established. The second is what shows a client that never
 * reads: the server's FIN waits behind the data the client did not take, so
 * our end stays established after the server closed its own. Null when the
 * kernel does not say.
 */
export function countCut(conns: { localAddr: Deno.NetAddr }[], serverPort: number): number | null {
  const states = tcpStates();
  if (states === null) return null;
  return conns.filter((conn) => {
    const port = conn.localAddr.port;
    const ours = states.get(`${port}:${serverPort}`);
    const theirs = states.get(`${serverPort}:${port}`);
    return ours !== "established" || (theirs !== undefined && theirs !== "established");
  }).length;
}

/** {@linkcode countCut} for connections to several servers: `ports[i]` is where `conns[i]` went. */
function countCutPerPort(conns: { localAddr: Deno.NetAddr }[], ports: number[]): number | null {
  let cut = 0;
  for (const port of new Set(ports)) {
    const count = countCut(conns.filter((_, index) => ports[index] === port), port);
    if (count === null) return null;
    cut += count;
  }
  return cut;
}

/** The servers' figures together: CPU summed, the largest peak memory. */
function sumServers(servers: ProcessReport[]): ServersReport {
  const sum = (values: (number | null)[]) =>
    values.some((value) => value === null)
      ? null
      : round(values.reduce((total: number, value) => total + value!, 0), 2);
  const peaks = servers.map((server) => server.peakRssMiB);
  return {
    pids: servers.map((server) => server.pid),
    cpuSeconds: sum(servers.map((server) => server.cpuSeconds)),
    systemSeconds: sum(servers.map((server) => server.systemSeconds)),
    peakRssMiB: peaks.some((peak) => peak === null) ? null : Math.max(...(peaks as number[])),
    each: servers,
  };
}

/** What the readers the server cut had not received from the other talkers when they went. */
function missedByCut(
  readers: ReadingClient[],
  plan: { clients: number; messages: number },
): number {
  let missed = 0;
  for (const reader of readers) {
    if (!reader.cut) continue;
    for (let sender = 0; sender < plan.clients; sender++) {
      if (sender !== reader.self) missed += Math.max(0, plan.messages - reader.nextSeq[sender]);
    }
  }
  return missed;
}

/**
 * Waits until every client has heard from the server (it admitted them) or
 * was closed first (a reader closed so counts as disconnected).
 */
async function waitForGreetings(
  state: RunState,
  plan: { greetings: Promise<boolean>[]; deadline: number },
): Promise<void> {
  let settled = 0;
  for (const greeting of plan.greetings) greeting.finally(() => settled++);
  const silentAfter = performance.now() + SILENT_GRACE;
  while (settled < plan.greetings.length) {
    const now = performance.now();
    // A server that greets nobody at all is silent by design: go on without greetings.
    if (state.heard === 0 && now > silentAfter) return;
    if (now > plan.deadline) {
      throw new BenchError(
        `only ${state.heard} of ${plan.greetings.length} clients heard from the server ` +
          `before the time limit`,
      );
    }
    await sleep(10);
  }
}

/** A talker's loop: sends its messages, paced or as fast as the server reads them. */
async function talk(
  client: ReadingClient,
  state: RunState,
  plan: { messages: number; rate: number; size: number; talkers: number; start: number },
): Promise<void> {
  const encoder = messageEncoder(client.kind, plan.size);
  const interval = plan.rate > 0 ? 1000 / plan.rate : 0;
  // Paced talkers are spread over the interval so that they do not all send at once.
  const offset = interval * (client.self / plan.talkers);
  try {
    for (let seq = 0; seq < plan.messages && !state.stopping; seq++) {
      if (interval > 0) {
        const wait = plan.start + offset + seq * interval - performance.now();
        if (wait >= 1) await sleep(wait);
        if (state.stopping) break;
      }
      const at = nowMicros();
      if (at < state.firstSendUs) state.firstSendUs = at;
      await client.send(encoder.encode(client.self, seq, at));
      state.sent++;
    }
  } catch {
    // The server closed this client: its remaining messages count as lost.
  } finally {
    state.talkersDone++;
  }
}

/** Sends one probe line from `client`; it counts only as a sign of life. */
function sendProbe(client: ReadingClient | undefined, size: number): void {
  if (!client) return;
  const line = messageEncoder(client.kind, size).encode(client.self, PROBE_SEQ, nowMicros());
  client.send(line).catch(() => {});
}

/** Watches the run until it is over; returns how it ended. */
async function watch(
  state: RunState,
  plan: {
    expected: number;
    talkers: number;
    deadline: number;
    stallTimeout: number;
    probe: () => void;
    onProgress?: (progress: BenchProgress) => void;
  },
): Promise<BenchStatus> {
  const { scanner } = state;
  let arrived = -1;
  let lastArrival = performance.now();
  let probedAt = -1;
  for (;;) {
    plan.onProgress?.({ phase: "delivering", done: scanner.arrived, total: plan.expected });
    if (scanner.arrived >= plan.expected) return "complete";
    const now = performance.now();
    if (scanner.arrived !== arrived) {
      arrived = scanner.arrived;
      lastArrival = now;
      probedAt = -1;
    } else if (state.talkersDone < plan.talkers) {
      if (now - lastArrival >= plan.stallTimeout) return "stuck";
    } else if (probedAt < 0) {
      if (now - lastArrival >= plan.stallTimeout * QUIET_SHARE) {
        plan.probe();
        probedAt = now;
      }
    } else if (scanner.probes > 0) {
      return "lost";
    } else if (now - probedAt >= plan.stallTimeout * (1 - QUIET_SHARE)) {
      return "stuck";
    }
    if (now >= plan.deadline) return "timeout";
    await sleep(TICK);
  }
}

/**
 * Fails with a clear message when this process may not open a descriptor per
 * connection (`ulimit -n`), plus a few for itself.
 */
export function checkFileLimit(connections: number): void {
  const limit = openFileLimit();
  if (limit !== null && limit < connections + FILES_OF_OUR_OWN) {
    throw new BenchError(
      `${connections} connections need ${connections + FILES_OF_OUR_OWN} open files, ` +
        `but 'ulimit -n' is ${limit} for this process: raise it (ulimit -n ${
          connections + FILES_OF_OUR_OWN
        }) or run fewer clients`,
    );
  }
}

/** `value` with `digits` decimals. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function roundOrNull(value: number | null, digits: number): number | null {
  return value === null ? null : round(value, digits);
}

/** CPU seconds between two readings; nulls when either is unknown. */
export function cpuUsed(
  start: CpuTime | null,
  end: CpuTime | null,
): { cpuSeconds: number | null; systemSeconds: number | null } {
  if (start === null || end === null) return { cpuSeconds: null, systemSeconds: null };
  return {
    cpuSeconds: round(end.user + end.system - start.user - start.system, 2),
    systemSeconds: round(end.system - start.system, 2),
  };
}

function withoutUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
