/**
 * One bench run against a line-based chat server over real sockets.
 *
 * The run connects its clients (stalled ones first, then talkers, then idle
 * listeners) a few at a time: a connection counts as made once the server has
 * greeted it, so the run knows the server admitted it and a server with a
 * short listen backlog (ncat: 10) is not overrun. Then it lets each talker send
 * its messages, as fast as the server takes them or at a steady rate. Every
 * reading client scans what it gets with one shared {@linkcode PayloadScanner}.
 *
 * The run never hangs. It ends when every expected payload has arrived, or:
 * - `stuck`: nothing arrived for `stallTimeout` while talkers were still sending,
 *   or everything was sent, nothing arrived for a while, and a probe message
 *   sent then did not get through either (the server stopped delivering; ncat
 *   does this when one client stops reading);
 * - `lost`: everything was sent and the probe got through, but some payloads
 *   never will (the server dropped them);
 * - `timeout`: the hard `timeLimit` passed while payloads were still arriving.
 *
 * @module
 */

import { nowMicros, PayloadEncoder, PayloadScanner, PROBE_SEQ, type Receiver } from "./payload.ts";
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
}

/** What to run. */
export interface BenchOptions extends Load {
  host: string;
  port: number;
  /** The server's process id, for its CPU time and peak memory. */
  serverPid?: number;
  /** Hard limit for the whole run, connecting included (ms). */
  timeLimit?: number;
  /**
   * No arrival for this long while talkers still send: the server is stuck.
   * With everything sent, the quiet period and the probe's wait share it (ms).
   */
  stallTimeout?: number;
  /** Connections being opened at once. */
  connectConcurrency?: number;
  /** Called about ten times a second while the run goes on. */
  onProgress?: (progress: BenchProgress) => void;
}

/** Where a run is, for a progress bar. */
export interface BenchProgress {
  phase: "connecting" | "sending";
  /** Clients connected, or payloads arrived. */
  done: number;
  /** Clients to connect, or payloads expected. */
  total: number;
}

/** How a run ended (see the module documentation). */
export type BenchStatus = "complete" | "lost" | "stuck" | "timeout";

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
  /** Reading clients the server disconnected during the run. */
  disconnected: number;
  /** From the first message sent to the last payload received (s). */
  seconds: number;
  deliveriesPerSecond: number;
  /** Send → receive of delivered payloads; null when none arrived. */
  latencyMs: LatencyReport | null;
  /** Until every client was connected and had heard from the server (ms). */
  connectMs: number;
  /** The server's figures when its pid is known. */
  server: ProcessReport | null;
  /** The bench process's own figures (it should be far from busy). */
  bench: ProcessReport;
}

const DEFAULTS = {
  timeLimit: 120_000,
  stallTimeout: 5_000,
  connectConcurrency: 8,
};
/**
 * Everything sent and nothing arriving for this share of the stall timeout:
 * time to probe; the probe has the rest of it to arrive.
 */
const QUIET_SHARE = 0.4;
/** A server that greets nobody within this long is taken as silent: no more waiting (ms). */
const SILENT_GRACE = 2_000;
/** How long a new connection may wait for the server's greeting before the next one starts (ms). */
const GREETING_WAIT = 1_000;
/** A stalled client reads the server's greeting into this, then never reads again. */
const GREETING_BUFFER = 4 * 1024;
const TICK = 100;
/** All receive buffers together stay below about this many bytes… */
const RECEIVE_BUDGET = 16 * 1024 * 1024;
/** …each one between these sizes (a pending read pins its buffer). */
const MIN_RECEIVE_BUFFER = 1024;
const MAX_RECEIVE_BUFFER = 256 * 1024;
/** A receive buffer grows to hold a line of up to this many bytes; longer ones are dropped. */
const MAX_LINE_BUFFER = 1024 * 1024;

/** A connection that reads: a talker or an idle listener. */
class ReadingClient implements Receiver {
  readonly conn: Deno.TcpConn;
  readonly self: number;
  readonly nextSeq: Int32Array;
  readAtUs = 0;
  heard = false;
  buffer: Uint8Array;
  done: Promise<void> = Promise.resolve();
  /** Resolves when the client first hears from the server. */
  readonly greeted: Promise<void>;
  readonly markGreeted: () => void;

  constructor(conn: Deno.TcpConn, options: { self: number; senders: number; buffer: number }) {
    this.conn = conn;
    this.self = options.self;
    this.nextSeq = new Int32Array(options.senders);
    this.buffer = new Uint8Array(options.buffer);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.greeted = promise;
    this.markGreeted = resolve;
  }
}

/** Shared state of one run. */
interface RunState {
  scanner: PayloadScanner;
  /** Clients that have received anything (a greeting, at least). */
  heard: number;
  /** Reading clients the server closed on us. */
  disconnected: number;
  /** Messages written by talkers. */
  sent: number;
  /** Talkers that finished (all sent, or failed). */
  talkersDone: number;
  firstSendUs: number;
  /** Set when the run is over: loops stop, errors are expected. */
  stopping: boolean;
}

/** Runs one bench against `options.host:port`; resolves with its report. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const settings = { ...DEFAULTS, ...withoutUndefined(options) };
  const { clients, messages, rate, size, idle, stalled } = options;
  const readers = clients + idle;
  const total = readers + stalled;
  const expected = clients * messages * Math.max(0, readers - 1);
  const target = formatTarget(options.host, options.port);
  checkFileLimit(total);
  if (options.serverPid !== undefined && cpuTime(options.serverPid) === null) {
    throw new BenchError(`no process ${options.serverPid} to measure (--server-pid)`);
  }

  const started = performance.now();
  const deadline = started + settings.timeLimit;
  const serverCpuStart = options.serverPid === undefined ? null : cpuTime(options.serverPid);
  const benchCpuStart = cpuTime("self");
  const state: RunState = {
    scanner: new PayloadScanner(size, clients),
    heard: 0,
    disconnected: 0,
    sent: 0,
    talkersDone: 0,
    firstSendUs: Infinity,
    stopping: false,
  };
  const bufferSize = Math.min(
    MAX_RECEIVE_BUFFER,
    Math.max(MIN_RECEIVE_BUFFER, Math.floor(RECEIVE_BUDGET / Math.max(1, readers))),
  );
  const conns: Deno.TcpConn[] = [];
  const talkers: ReadingClient[] = [];
  const loops: Promise<void>[] = [];
  try {
    // Stalled clients first, so they are in the room before anyone talks.
    const progress = (done: number) => options.onProgress?.({ phase: "connecting", done, total });
    await connectAll(options, {
      count: total,
      concurrency: settings.connectConcurrency,
      deadline,
      stopping: () => state.stopping,
      onConnect(conn, index) {
        conns.push(conn);
        if (conns.length % 100 === 0) progress(conns.length);
        if (index < stalled) {
          const greeting = readGreeting(conn, state);
          loops.push(greeting);
          return greeting;
        }
        const talker = index - stalled < clients;
        const client = new ReadingClient(conn, {
          self: talker ? index - stalled : -1,
          senders: clients,
          buffer: bufferSize,
        });
        client.done = receive(client, state);
        loops.push(client.done);
        if (talker) talkers.push(client);
        return client.greeted;
      },
    });
    await waitForGreetings(state, { clients: total, deadline });
    const connectMs = performance.now() - started;
    progress(total);

    const sendStart = performance.now();
    talkers.sort((a, b) => a.self - b.self);
    for (const talker of talkers) {
      loops.push(talk(talker, state, { messages, rate, size, talkers: clients, start: sendStart }));
    }
    const status = await watch(state, {
      expected,
      talkers: clients,
      deadline,
      stallTimeout: Math.max(settings.stallTimeout, rate > 0 ? 3000 / rate : 0),
      probe: () => sendProbe(talkers[0], size),
      onProgress: options.onProgress,
    });

    const { scanner } = state;
    const serverCpuEnd = options.serverPid === undefined ? null : cpuTime(options.serverPid);
    const benchCpuEnd = cpuTime("self");
    const seconds = scanner.lastArrivalUs > state.firstSendUs
      ? (scanner.lastArrivalUs - state.firstSendUs) / 1e6
      : 0;
    const latency = scanner.latency;
    const ms = (us: number) => round(us / 1000, 3);
    return {
      target,
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
      seconds: round(seconds, 3),
      deliveriesPerSecond: seconds > 0 ? Math.round(scanner.intact / seconds) : 0,
      latencyMs: latency.count === 0 ? null : {
        p50: ms(latency.percentile(50)),
        p90: ms(latency.percentile(90)),
        p99: ms(latency.percentile(99)),
        max: ms(latency.max),
        mean: ms(latency.mean),
      },
      connectMs: Math.round(connectMs),
      server: options.serverPid === undefined ? null : {
        pid: options.serverPid,
        ...cpuUsed(serverCpuStart, serverCpuEnd),
        peakRssMiB: roundOrNull(peakRssMiB(options.serverPid), 1),
      },
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

/** Opens `count` connections, at most `concurrency` at a time, in index order. */
async function connectAll(
  address: { host: string; port: number },
  plan: {
    count: number;
    concurrency: number;
    deadline: number;
    stopping: () => boolean;
    /** Takes a new connection; resolves when the server has greeted it. */
    onConnect: (conn: Deno.TcpConn, index: number) => Promise<void>;
  },
): Promise<void> {
  const started = performance.now();
  let next = 0;
  let greetedAny = false;
  let connected = 0;
  let failure: BenchError | undefined;
  let timedOut = false;
  async function worker(): Promise<void> {
    while (next < plan.count && failure === undefined && !timedOut && !plan.stopping()) {
      const index = next++;
      try {
        const conn = await Deno.connect({ hostname: address.host, port: address.port });
        if (failure !== undefined || timedOut || plan.stopping()) {
          closeQuietly(conn);
          return;
        }
        conn.setNoDelay(true);
        connected++;
        const greeted = plan.onConnect(conn, index);
        // Waiting for the greeting paces connects to the server's accept rate;
        // a server that greets nobody is not waited for.
        if (greetedAny || performance.now() - started < SILENT_GRACE) {
          if (await settlesWithin(greeted, GREETING_WAIT)) greetedAny = true;
        }
      } catch (error) {
        failure ??= new BenchError(
          `cannot connect client ${index + 1} of ${plan.count} to ${
            formatTarget(address.host, address.port)
          }: ${errorText(error)}`,
        );
      }
    }
  }
  const workers = Promise.all(
    Array.from({ length: Math.min(plan.concurrency, plan.count) }, worker),
  );
  if (!(await settlesWithin(workers, plan.deadline - performance.now()))) {
    timedOut = true;
    throw new BenchError(
      `only ${connected} of ${plan.count} clients connected before the time limit`,
    );
  }
  if (failure) throw failure;
}

/** Waits until every client has received something (the server has admitted it). */
async function waitForGreetings(
  state: RunState,
  plan: { clients: number; deadline: number },
): Promise<void> {
  const silentAfter = performance.now() + SILENT_GRACE;
  while (state.heard < plan.clients) {
    const now = performance.now();
    // A server that greets nobody at all is silent by design: go on without greetings.
    if (state.heard === 0 && now > silentAfter) return;
    if (now > plan.deadline) {
      throw new BenchError(
        `only ${state.heard} of ${plan.clients} clients heard from the server before the time limit`,
      );
    }
    await sleep(10);
  }
}

/** A reading client's loop: read, scan complete lines, keep the unfinished one. */
async function receive(client: ReadingClient, state: RunState): Promise<void> {
  const { scanner } = state;
  let buffer = client.buffer;
  let filled = 0;
  try {
    for (;;) {
      const count = await client.conn.read(filled === 0 ? buffer : buffer.subarray(filled));
      if (count === null) break;
      client.readAtUs = nowMicros();
      if (!client.heard) {
        client.heard = true;
        state.heard++;
        client.markGreeted();
      }
      filled += count;
      const used = scanner.scan(
        filled === buffer.length ? buffer : buffer.subarray(0, filled),
        client,
      );
      if (used === filled) {
        filled = 0;
      } else if (used > 0) {
        buffer.copyWithin(0, used, filled);
        filled -= used;
      } else if (filled === buffer.length) {
        // One line fills the whole buffer: make room, or drop a line beyond all reason.
        if (buffer.length < MAX_LINE_BUFFER) {
          const grown = new Uint8Array(buffer.length * 2);
          grown.set(buffer);
          buffer = client.buffer = grown;
        } else {
          filled = 0;
        }
      }
    }
  } catch {
    // Closed by the bench at the end of the run, or reset by the server.
  }
  if (!state.stopping) state.disconnected++;
}

/** A stalled client reads once, the server's greeting, and never again. */
async function readGreeting(conn: Deno.TcpConn, state: RunState): Promise<void> {
  try {
    if (await conn.read(new Uint8Array(GREETING_BUFFER)) !== null) state.heard++;
  } catch {
    // closed by the bench at the end of the run, or reset by the server
  }
}

/** A talker's loop: sends its messages, paced or as fast as the server reads them. */
async function talk(
  client: ReadingClient,
  state: RunState,
  plan: { messages: number; rate: number; size: number; talkers: number; start: number },
): Promise<void> {
  const encoder = new PayloadEncoder(plan.size);
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
      await writeAll(client.conn, encoder.encode(client.self, seq, at));
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
  const line = new PayloadEncoder(size).encode(client.self, PROBE_SEQ, nowMicros());
  writeAll(client.conn, line).catch(() => {});
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
    plan.onProgress?.({ phase: "sending", done: scanner.arrived, total: plan.expected });
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

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(written === 0 ? bytes : bytes.subarray(written));
  }
}

function checkFileLimit(connections: number): void {
  const limit = openFileLimit();
  if (limit !== null && limit < connections + 64) {
    throw new BenchError(
      `${connections} connections need more open files than this process may have (${limit}); ` +
        `raise the limit with 'ulimit -n'`,
    );
  }
}

function formatTarget(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** True when `promise` settles within `ms`; the timer never outlives the wait. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function roundOrNull(value: number | null, digits: number): number | null {
  return value === null ? null : round(value, digits);
}

function cpuUsed(
  start: CpuTime | null,
  end: CpuTime | null,
): { cpuSeconds: number | null; systemSeconds: number | null } {
  if (start === null || end === null) return { cpuSeconds: null, systemSeconds: null };
  return {
    cpuSeconds: round(end.user + end.system - start.user - start.system, 2),
    systemSeconds: round(end.system - start.system, 2),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withoutUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
