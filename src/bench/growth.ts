/**
 * The growth scenario: how a server's memory grows with its connections.
 * The bench reads the server's resident memory (VmRSS) with no client, then
 * opens connections up to each level (1,000, 10,000, 19,000 in the suite),
 * makes a few messages flow to everyone at each level so that every
 * connection is live (joined, greeted, written to), lets the server settle,
 * and reads it again. Memory per connection is the RSS above the empty
 * server's, divided by the connections.
 *
 * Each connection costs a descriptor on both sides, so a level above either
 * process's `ulimit -n` is skipped and said so. At 19,000 connections one
 * loopback source address runs short of ephemeral ports: the
 * {@linkcode Connector} then opens the rest from 127.0.0.2 and on.
 *
 * @module
 */

import { settlesWithin, sleep } from "../async.ts";
import { closeQuietly } from "../net/io.ts";
import { type ClientKind, messageEncoder } from "./client_kinds.ts";
import { type ClientState, joinInWaves, ReadingClient, receive } from "./clients.ts";
import { ConnectError, Connector, type ConnectorOptions } from "./connect.ts";
import { nowMicros, PayloadScanner } from "./payload.ts";
import {
  type BenchProgress,
  cpuUsed,
  FILES_OF_OUR_OWN,
  type LatencyReport,
  latencyReport,
  type ProcessReport,
  receiveBufferSize,
  round,
} from "./run.ts";
import { BenchError, cpuTime, currentRssMiB, openFileLimit, peakRssMiB } from "./servers.ts";

/** What to run. */
export interface GrowthOptions {
  host: string;
  port: number;
  /** The server's process id: its memory is what this measures. */
  serverPid: number;
  /** Connection counts to measure at, ascending. */
  levels: readonly number[];
  /** Clients (the first ones) that send at each level (default 2). */
  talkers?: number;
  /** Messages each talker sends at each level (default 2). */
  messages?: number;
  /** Payload bytes (default 64). */
  size?: number;
  /** What the clients speak (default line; see `client_kinds.ts`). */
  clientKind?: ClientKind;
  /** Wait before each memory reading (ms, default 1000). */
  settle?: number;
  /** Hard limit for the whole run (ms, default 600,000). */
  timeLimit?: number;
  /** No delivery for this long at a level: go on without the rest (ms, default 5000). */
  stallTimeout?: number;
  /** Source addresses (for tests: fewer connections per address). */
  connector?: ConnectorOptions;
  onProgress?: (progress: BenchProgress) => void;
}

/** One level's figures. */
export interface GrowthLevel {
  connections: number;
  /** The server's VmRSS at this level (MiB). */
  rssMiB: number | null;
  /** (RSS − RSS with no client) / connections, in KiB. */
  kibPerConnection: number | null;
  /** (RSS − RSS at the level before) / connections added, in KiB; null at the first level. */
  kibPerAddedConnection: number | null;
  /** Opening this level's new connections until all were greeted (ms). */
  connectMs: number;
  /** Messages of this level delivered, of those expected at the readers still connected. */
  delivered: number;
  expected: number;
  /** Readers the server had disconnected by the end of this level (all levels so far). */
  disconnected: number;
}

/** What a growth run measured. */
export interface GrowthReport {
  target: string;
  clientKind?: ClientKind;
  /** The server's VmRSS with no client (MiB). */
  baseRssMiB: number | null;
  levels: GrowthLevel[];
  /** Levels not run, and why (too few descriptors). */
  skipped: { connections: number; reason: string }[];
  /** `ulimit -n` of the bench and of the server (null: unknown). */
  fileLimits: { bench: number | null; server: number | null };
  /** Source addresses used, with their connections. */
  sources: { address: string; connections: number }[];
  /** Connect → first byte, over all connections. */
  greetingMs: LatencyReport | null;
  slowConnects: number;
  server: ProcessReport;
  bench: ProcessReport;
}

const DEFAULTS = {
  talkers: 2,
  messages: 2,
  size: 64,
  settle: 1_000,
  timeLimit: 600_000,
  stallTimeout: 5_000,
};

/** The levels that fit both processes' descriptor limits, and the others with why not. */
export function planLevels(
  levels: readonly number[],
  limits: { bench: number | null; server: number | null },
): { run: number[]; skipped: { connections: number; reason: string }[] } {
  const run: number[] = [];
  const skipped: { connections: number; reason: string }[] = [];
  for (const connections of levels) {
    const need = connections + FILES_OF_OUR_OWN;
    const short = (["bench", "server"] as const).filter((side) =>
      limits[side] !== null && limits[side]! < need
    );
    if (short.length === 0) {
      run.push(connections);
    } else {
      skipped.push({
        connections,
        reason: `needs ${need} open files per process; 'ulimit -n' is ` +
          short.map((side) => `${limits[side]} for the ${side}`).join(" and ") +
          ` (raise it to ${need} or more)`,
      });
    }
  }
  return { run, skipped };
}

/** Runs the growth measurement against a server whose pid is known. */
export async function runGrowth(options: GrowthOptions): Promise<GrowthReport> {
  const settings = { ...DEFAULTS, ...options };
  const { talkers, messages, size } = settings;
  const clientKind = options.clientKind ?? "line";
  const fileLimits = { bench: openFileLimit(), server: openFileLimit(options.serverPid) };
  const { run: levels, skipped } = planLevels(options.levels, fileLimits);
  if (levels.length === 0) {
    throw new BenchError(`growth: no level can run: ${skipped.map((s) => s.reason).join("; ")}`);
  }
  if (levels[0] < talkers + 1) {
    throw new BenchError(`growth: the first level needs more than ${talkers} connections`);
  }
  const top = levels[levels.length - 1];
  const started = performance.now();
  const deadline = started + settings.timeLimit;
  const serverCpuStart = cpuTime(options.serverPid);
  const benchCpuStart = cpuTime("self");
  const state: ClientState = {
    scanner: new PayloadScanner(size, talkers),
    heard: 0,
    disconnected: 0,
    stopping: false,
  };
  const encoders = Array.from({ length: talkers }, () => messageEncoder(clientKind, size));
  const clients: ReadingClient[] = [];
  /** The talkers by their index (connections may complete out of order). */
  const speakers: ReadingClient[] = [];
  const loops: Promise<void>[] = [];
  const connector = new Connector(options, options.connector);
  const bufferSize = receiveBufferSize(top);
  const report = (phase: BenchProgress["phase"], done: number, total: number) =>
    options.onProgress?.({ phase, done, total });
  try {
    await sleep(settings.settle);
    const baseRssMiB = currentRssMiB(options.serverPid);
    const measured: GrowthLevel[] = [];
    let seq = 0;
    let previous: { connections: number; rssMiB: number | null } = {
      connections: 0,
      rssMiB: baseRssMiB,
    };
    for (const level of levels) {
      // Connect up to the level; newcomers skip what a history replay shows them of earlier levels.
      const connectStart = performance.now();
      const greetings: Promise<boolean>[] = [];
      const firstSeq = seq;
      await connector.open({
        count: level - clients.length,
        first: clients.length,
        mode: "window",
        deadline,
        stopping: () => state.stopping,
        onProgress: (connected) => report("connecting", previous.connections + connected, top),
        onConnect(conn, index) {
          const client = new ReadingClient(conn, {
            self: index < talkers ? index : -1,
            senders: talkers,
            buffer: bufferSize,
            firstSeq,
            kind: clientKind,
            index,
            host: options.host,
          });
          client.done = receive(client, state);
          clients.push(client);
          if (index < talkers) speakers[index] = client;
          loops.push(client.done);
          greetings.push(client.greeted);
          return client.greeted;
        },
      }).catch((error) => {
        throw error instanceof ConnectError ? new BenchError(`growth: ${error.message}`) : error;
      });
      if (!await settlesWithin(Promise.all(greetings), deadline - performance.now())) {
        throw new BenchError(`growth: not every client was greeted before the time limit`);
      }
      // IRC kinds join the channel once this level's clients are connected.
      if (clientKind !== "line") {
        const joined = await joinInWaves(clients.slice(clients.length - greetings.length), {
          deadline,
          onProgress: (done) => report("joining", previous.connections + done, top),
        });
        if (!joined) throw new BenchError(`growth: not every client joined before the time limit`);
      }
      const connectMs = performance.now() - connectStart;

      // A few messages from each talker to everyone: every connection is written to.
      const readers = clients.length - state.disconnected;
      const expected = speakers.filter((talker) => !talker.cut).length * messages *
        Math.max(0, readers - 1);
      const before = state.scanner.intact;
      for (let i = 0; i < messages; i++, seq++) {
        for (let talker = 0; talker < talkers; talker++) {
          const client = speakers[talker];
          if (client.cut) continue;
          await client.send(encoders[talker].encode(talker, seq, nowMicros())).catch(() => {});
        }
      }
      const delivered = await waitForDeliveries(state, {
        before,
        expected,
        stallTimeout: settings.stallTimeout,
        deadline,
        onProgress: (done) => report("delivering", done, expected),
      });

      await sleep(settings.settle);
      const rssMiB = currentRssMiB(options.serverPid);
      measured.push({
        connections: level,
        rssMiB: rssMiB === null ? null : round(rssMiB, 1),
        kibPerConnection: perConnection(rssMiB, baseRssMiB, level),
        kibPerAddedConnection: previous.connections === 0
          ? null
          : perConnection(rssMiB, previous.rssMiB, level - previous.connections),
        connectMs: Math.round(connectMs),
        delivered,
        expected,
        disconnected: state.disconnected,
      });
      previous = { connections: level, rssMiB };
    }
    const serverCpuEnd = cpuTime(options.serverPid);
    const benchCpuEnd = cpuTime("self");
    const peak = peakRssMiB(options.serverPid);
    const benchPeak = peakRssMiB("self");
    return {
      target: `${options.host}:${options.port}`,
      clientKind,
      baseRssMiB: baseRssMiB === null ? null : round(baseRssMiB, 1),
      levels: measured,
      skipped,
      fileLimits,
      sources: connector.sources,
      greetingMs: latencyReport(connector.greetingWait),
      slowConnects: connector.slowConnects,
      server: {
        pid: options.serverPid,
        ...cpuUsed(serverCpuStart, serverCpuEnd),
        peakRssMiB: peak === null ? null : round(peak, 1),
      },
      bench: {
        pid: Deno.pid,
        ...cpuUsed(benchCpuStart, benchCpuEnd),
        peakRssMiB: benchPeak === null ? null : round(benchPeak, 1),
      },
    };
  } finally {
    state.stopping = true;
    for (const client of clients) closeQuietly(client.conn);
    await settlesWithin(Promise.allSettled(loops), 3000);
  }
}

/** Waits for `expected` more deliveries than `before`; returns how many came. */
async function waitForDeliveries(
  state: ClientState,
  plan: {
    before: number;
    expected: number;
    stallTimeout: number;
    deadline: number;
    onProgress: (done: number) => void;
  },
): Promise<number> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const done = state.scanner.intact - plan.before;
    plan.onProgress(done);
    const now = performance.now();
    if (done >= plan.expected || now > plan.deadline) return done;
    if (done !== last) {
      last = done;
      lastChange = now;
    } else if (now - lastChange > plan.stallTimeout) {
      return done;
    }
    await sleep(20);
  }
}

function perConnection(rss: number | null, base: number | null, connections: number) {
  return rss === null || base === null || connections <= 0
    ? null
    : round(((rss - base) * 1024) / connections, 2);
}
