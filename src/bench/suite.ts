/**
 * The benchmark suite of `deno task bench`: the scenarios of issue 6 and
 * issue 13, each run against a fresh parley server and, when `ncat` is
 * installed, a fresh `ncat -l --chat`, both started by the bench on free
 * loopback ports. parley runs as users run it: `deno run -A main.ts server`
 * with its defaults (send queue, line length) except flood control and the
 * per-address limit off and room for every client; the scale scenario once
 * more as `deno task server` runs it (its V8 flag).
 *
 * @module
 */

import { type LeanReaders, leanReaders, measureFloor, measurePaced } from "./floor.ts";
import { runGrowth } from "./growth.ts";
import type { ClientKind } from "./client_kinds.ts";
import { BIG_CHANNEL_LOAD, runBigChannel } from "./big_channel.ts";
import { deviceFirstLine, LOGINS_PER_SOURCE, registerAccounts } from "./devices.ts";
import { type Outcome, type ProgressBar, type ScenarioResult } from "./report.ts";
import { type BenchOptions, type Load, runBench } from "./run.ts";
import { SERVER_V8_FLAGS } from "../../server.ts";
import type { ConnectMode } from "./connect.ts";
import {
  type BenchServer,
  describeParley,
  ncatAvailable,
  type ParleyServerOptions,
  startNcat,
  startParley,
} from "./servers.ts";

/** A load to measure (a {@linkcode runBench} run). */
export interface LoadScenario extends Load {
  kind: "load";
  name: string;
  description: string;
  /** What the result is held against, if anything. */
  target?: string;
  /** Hard limit for the run, connecting included (ms). */
  timeLimit: number;
  /** Why ncat does not run this scenario, if it does not. */
  notForNcat?: string;
  /** How connections are paced (default: the window rule). */
  connectMode?: ConnectMode;
  /** Run parley a second time as `deno task server` runs it (with its V8 flag), with this target. */
  alsoTaskFlags?: { target?: string };
  /** After the Deno bench, measure the same server with the lean readers (C, Python). */
  leanReaders?: boolean;
  /** After the Deno bench, run the same load from the lean C epoll client, on a fresh server. */
  leanClient?: boolean;
  /**
   * A comparison of client kinds on parley alone: the same load with these
   * clients too, each kind against a fresh server (`clientKind`'s own is the
   * one measured, this one the reference); ncat is not run.
   */
  versus?: ClientKind;
  /** Run parley as `deno task server` runs it (its V8 flag) instead of `deno run -A main.ts server`. */
  taskFlags?: boolean;
  /**
   * Half the talkers are second devices of the other half's accounts (issue 23): the
   * accounts are registered first, every talker's first line proves one (`devices.ts`).
   */
  devices?: boolean;
}

/** Memory against connections (a {@linkcode runGrowth} run); parley only. */
export interface GrowthScenario {
  kind: "growth";
  name: string;
  description: string;
  target?: string;
  levels: readonly number[];
  timeLimit: number;
  notForNcat: string;
  /** What the clients speak (default line). */
  clientKind?: ClientKind;
  /** As {@linkcode LoadScenario.versus}. */
  versus?: ClientKind;
  /** As {@linkcode LoadScenario.taskFlags}. */
  taskFlags?: boolean;
}

/**
 * One load run once per kind of client (`big_channel.ts`), each against a
 * fresh parley server; parley only.
 */
export interface ChannelScenario extends Load {
  kind: "channel";
  name: string;
  description: string;
  target: string;
  notForNcat: string;
}

/** A scenario of the suite. */
export type Scenario = LoadScenario | GrowthScenario | ChannelScenario;

/** The scenarios, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  {
    kind: "load",
    name: "burst",
    description: "100 clients each send 500 messages as fast as they can (4,950,000 deliveries)",
    clients: 100,
    messages: 500,
    rate: 0,
    size: 64,
    idle: 0,
    stalled: 0,
    timeLimit: 180_000,
  },
  {
    kind: "load",
    name: "burst-ws",
    description: "burst with WebSocket clients (IRC over WebSocket, as the page speaks it), " +
      "against the same with line clients, each on a fresh parley run as `deno task server` runs it",
    clients: 100,
    messages: 500,
    rate: 0,
    size: 64,
    idle: 0,
    stalled: 0,
    timeLimit: 180_000,
    clientKind: "websocket",
    versus: "line",
    taskFlags: true,
    notForNcat: "n/a (WebSocket clients against parley's own line clients)",
    target: "nothing lost; deliveries/s ≥ 0.8× and server CPU ≤ 1.3× the line clients'",
  },
  {
    kind: "load",
    name: "floor",
    // Not a target: the reference the latency targets are read against. One message at a time
    // reaches 99 readers, so nothing queues; its latency is what one fan-out costs this machine
    // (the server's 99 writes, the kernel, the bench's 99 reads). ncat runs it too.
    // Every 10 ms, not rarer: after longer pauses the idle VM's wake-up shows in the latency.
    description:
      "1 client sends 1 message every 10 ms for 5 s, 99 listen (49,500 deliveries): one fan-out at a time",
    clients: 1,
    messages: 500,
    rate: 100,
    size: 64,
    idle: 99,
    stalled: 0,
    timeLimit: 60_000,
    leanReaders: true,
  },
  {
    kind: "load",
    name: "paced",
    description: "100 clients × 10 messages/s each for 10 s (990,000 deliveries)",
    clients: 100,
    messages: 100,
    rate: 10,
    size: 64,
    idle: 0,
    stalled: 0,
    timeLimit: 60_000,
    leanClient: true,
  },
  {
    kind: "load",
    name: "paced-devices",
    description:
      "the paced load on 50 accounts of 2 devices each: 100 clients × 10 messages/s each for 10 s, " +
      "every client's first line proving its account (990,000 deliveries)",
    clients: 100,
    messages: 100,
    rate: 10,
    size: 64,
    idle: 0,
    stalled: 0,
    timeLimit: 120_000,
    devices: true,
    notForNcat: "n/a (accounts on several devices are parley's)",
    target: "nothing lost; figures beside paced",
  },
  {
    kind: "load",
    name: "heavy",
    description: "100 clients × 50 messages/s each for 10 s (4,950,000 deliveries)",
    clients: 100,
    messages: 500,
    rate: 50,
    size: 64,
    idle: 0,
    stalled: 0,
    timeLimit: 60_000,
    leanClient: true,
  },
  {
    kind: "load",
    name: "scale",
    // 2.5 messages/s into a 10,000-member room is 25,000 deliveries/s: what two cores sustain for
    // the server and the bench's own 10,000 sockets together. At 10 messages/s the two saturate
    // the machine between them and the run measures the machine, not the server.
    description:
      "10,000 connected: 10 talk at 1 message every 4 s each for 20 s, 9,990 listen (499,950 deliveries)",
    clients: 10,
    messages: 5,
    rate: 0.25,
    size: 64,
    idle: 9_990,
    stalled: 0,
    timeLimit: 180_000,
    notForNcat: "n/a (ncat cannot hold 10,000 connections)",
    target: "peak RSS ≤ 150 MiB",
    alsoTaskFlags: { target: "peak RSS ≤ 120 MiB" },
  },
  {
    kind: "load",
    name: "scale-ws",
    description: "scale with WebSocket clients (10,000 in #lobby, 10 talking), against the same " +
      "with line clients, each on a fresh parley run as `deno task server` runs it",
    clients: 10,
    messages: 5,
    rate: 0.25,
    size: 64,
    idle: 9_990,
    stalled: 0,
    timeLimit: 400_000,
    clientKind: "websocket",
    versus: "line",
    taskFlags: true,
    notForNcat: "n/a (WebSocket clients against parley's own line clients)",
    target: "nothing lost; deliveries/s ≥ 0.8× and server CPU ≤ 1.3× the line clients'",
  },
  {
    kind: "channel",
    name: "channel",
    description: "scale's load with each kind of client: 10,000 join one room (IRC clients: " +
      "JOIN #lobby on the IRC port), then 10 talk; line, IRC and web (IRC over WebSocket) clients",
    target: "IRC clients: all delivered, all joined within 2 s, server CPU and peak RSS ≤ 1.5× " +
      "line clients'",
    notForNcat: "n/a (ncat speaks no IRC)",
    ...BIG_CHANNEL_LOAD,
  },
  {
    kind: "load",
    name: "stalled",
    description:
      "20 clients each send 2,000 messages of 200 bytes as fast as they can while 1 more client never reads (760,000 deliveries)",
    clients: 20,
    messages: 2_000,
    rate: 0,
    size: 200,
    idle: 0,
    stalled: 1,
    timeLimit: 60_000,
    target: "every message reaches the 19 others; the stalled client may be cut",
  },
  {
    kind: "load",
    name: "storm",
    // Not paced by greetings: the connects go out as fast as the kernel completes handshakes
    // (at most 256 pending), so what is timed is how fast the server admits and greets them.
    description:
      "10,000 clients connect at once, nobody waiting for a greeting first; then 1 message reaches the 9,999 others",
    clients: 1,
    messages: 1,
    rate: 0,
    size: 64,
    idle: 9_999,
    stalled: 0,
    connectMode: "storm",
    timeLimit: 120_000,
    notForNcat: "n/a (ncat cannot hold 10,000 connections)",
    target: "every client greeted within 2 s (connect ms)",
  },
  {
    kind: "growth",
    name: "growth",
    description:
      "server RSS at 1,000, 10,000 and 19,000 connections, 2 talkers sending 2 messages to everyone at each level",
    levels: [1_000, 10_000, 19_000],
    timeLimit: 600_000,
    notForNcat: "n/a (ncat cannot hold 10,000 connections)",
  },
  {
    kind: "growth",
    name: "idle-ws",
    description: "server RSS per connection at 10,000 idle WebSocket clients in #lobby, against " +
      "10,000 line clients, each on a fresh parley run as `deno task server` runs it",
    levels: [10_000],
    timeLimit: 600_000,
    clientKind: "websocket",
    versus: "line",
    taskFlags: true,
    notForNcat: "n/a (WebSocket clients against parley's own line clients)",
    target: "KiB per WebSocket connection ≤ 1.25× a line connection's",
  },
];

/** What a suite run needs. */
export interface SuiteOptions {
  /** Scenario names to run (all when empty). */
  only?: string[];
  /** Measure `ncat -l --chat` too when it is installed (default true). */
  ncat?: boolean;
  /** Run the floor's lean readers (C, Python) when they are available (default true). */
  leanReaders?: boolean;
  progress?: ProgressBar;
  /** Called when one server's run of a scenario is done. */
  onResult?: (result: ScenarioResult, server: string, outcome: Outcome) => void;
}

/** Runs the scenarios; one server failing is recorded, not thrown. */
export async function runSuite(options: SuiteOptions = {}): Promise<ScenarioResult[]> {
  const scenarios = options.only?.length
    ? SCENARIOS.filter((scenario) => options.only!.includes(scenario.name))
    : SCENARIOS;
  const withNcat = (options.ncat ?? true) && await ncatAvailable();
  const lean = (options.leanReaders ?? true) &&
      scenarios.some((scenario) =>
        scenario.kind === "load" && (scenario.leanReaders || scenario.leanClient)
      )
    ? await leanReaders()
    : undefined;
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      if ("versus" in scenario && scenario.versus !== undefined) {
        results.push(await measureVersus(scenario, scenario.versus, { ...options, lean }));
        continue;
      }
      if (scenario.kind === "channel") {
        results.push(await measureChannel(scenario, options));
        continue;
      }
      for (const taskFlags of runsOf(scenario)) {
        const limits: ParleyServerOptions = { ...parleyLimits(scenario), taskFlags };
        const result: ScenarioResult = {
          name: scenario.name,
          label: taskFlags ? `${scenario.name} (task)` : scenario.name,
          kind: scenario.kind,
          description: taskFlags
            ? `${scenario.description}, parley run as \`deno task server\` runs it ` +
              `(--v8-flags=${SERVER_V8_FLAGS})`
            : scenario.description,
          target: taskFlags && scenario.kind === "load"
            ? scenario.alsoTaskFlags?.target
            : scenario.target,
          parleyCommand: describeParley(limits),
          parley: { skipped: "not run" },
          ncat: { skipped: "not run" },
        };
        result.parley = await measure(scenario, result, "parley", () => startParley(limits), {
          ...options,
          lean,
        });
        result.ncat = !withNcat
          ? { skipped: options.ncat === false ? "not run" : "n/a (ncat not installed)" }
          : scenario.notForNcat || taskFlags
          ? { skipped: scenario.notForNcat ?? "n/a" }
          : await measure(
            scenario,
            result,
            "ncat",
            () => startNcat({ maxConnections: connections(scenario) + 16 }),
            { ...options, lean },
          );
        results.push(result);
      }
    }
  } finally {
    await lean?.dispose();
  }
  return results;
}

/** The big channel scenario: a run per kind of client (`big_channel.ts`). */
async function measureChannel(
  scenario: ChannelScenario,
  options: SuiteOptions,
): Promise<ScenarioResult> {
  const progress = options.progress;
  const channel = await runBigChannel({
    load: scenario,
    onKind: (kind) => {
      if (progress) progress.label = `${scenario.name}/${kind}`;
    },
    onProgress: progress ? progress.update.bind(progress) : undefined,
  });
  progress?.clear();
  const result: ScenarioResult = {
    name: scenario.name,
    label: scenario.name,
    kind: "channel",
    description: scenario.description,
    target: scenario.target,
    parleyCommand: channel.parleyCommand,
    parley: { channel },
    ncat: { skipped: scenario.notForNcat },
  };
  options.onResult?.(result, "parley", result.parley);
  return result;
}

/**
 * A comparison of client kinds: the reference kind's run, then the
 * scenario's own kind's, each against a fresh parley server started alike.
 */
async function measureVersus(
  scenario: LoadScenario | GrowthScenario,
  versus: ClientKind,
  options: SuiteOptions & { lean?: LeanReaders },
): Promise<ScenarioResult> {
  const limits: ParleyServerOptions = { ...parleyLimits(scenario), taskFlags: scenario.taskFlags };
  const kind = scenario.clientKind ?? "line";
  const result: ScenarioResult = {
    name: scenario.name,
    label: scenario.name,
    kind: scenario.kind,
    description: scenario.description,
    target: scenario.target,
    parleyCommand: describeParley(limits),
    parley: { skipped: "not run" },
    ncat: { skipped: scenario.notForNcat ?? "n/a" },
    clientKind: kind,
    versus: { kind: versus, outcome: { skipped: "not run" } },
  };
  const start = () => startParley(limits);
  result.versus!.outcome = await measure(
    { ...scenario, clientKind: versus },
    result,
    `parley, ${versus} clients`,
    start,
    options,
  );
  result.parley = await measure(scenario, result, `parley, ${kind} clients`, start, options);
  return result;
}

/** parley runs once as `deno run -A main.ts server`, and once more with the task's flags if asked. */
function runsOf(scenario: Scenario): boolean[] {
  return scenario.kind === "load" && scenario.alsoTaskFlags !== undefined ? [false, true] : [false];
}

/**
 * parley's limits for a scenario: its defaults, with room for every client.
 * The send queue and the line length stay at parley's defaults (1 MiB, 4096
 * bytes): a reader cut for falling behind is reported, not prevented.
 */
export function parleyLimits(
  load: Pick<BenchOptions, "clients" | "idle" | "stalled"> | { levels: readonly number[] },
): ParleyServerOptions {
  return { maxClients: connections(load) + 100 };
}

async function measure(
  scenario: LoadScenario | GrowthScenario,
  result: ScenarioResult,
  name: string,
  start: () => Promise<BenchServer>,
  options: SuiteOptions & { lean?: LeanReaders },
): Promise<Outcome> {
  let outcome: Outcome;
  let server: BenchServer | undefined;
  try {
    server = await start();
    if (options.progress) options.progress.label = `${result.label}/${name}`;
    const onProgress = options.progress
      ? options.progress.update.bind(options.progress)
      : undefined;
    if (scenario.kind === "growth") {
      const growth = await runGrowth({
        host: server.host,
        port: server.port,
        serverPid: server.pid,
        levels: scenario.levels,
        timeLimit: scenario.timeLimit,
        clientKind: scenario.clientKind,
        onProgress,
      });
      outcome = { growth };
    } else {
      if (scenario.devices) await registerAccounts(server.host, server.port, scenario.clients);
      const report = await runBench({
        ...scenario,
        host: server.host,
        port: server.port,
        serverPid: server.pid,
        onProgress,
        ...(scenario.devices
          ? {
            firstLine: deviceFirstLine(scenario.clients),
            connector: { perSource: LOGINS_PER_SOURCE },
          }
          : {}),
      });
      outcome = { report };
      if (scenario.leanReaders && options.lean) {
        // Each lean reader gets a fresh server, as the bench did (ncat also quits when many
        // connections close at once, which the bench's end of run does).
        await server.stop();
        server = undefined;
        outcome.lean = [];
        outcome.leanMissing = [...options.lean.missing];
        for (const reader of options.lean.readers) {
          try {
            server = await start();
            outcome.lean.push(
              await measureFloor(reader, {
                port: server.port,
                readers: scenario.idle,
                messages: scenario.messages,
              }),
            );
          } catch (error) {
            outcome.leanMissing.push(error instanceof Error ? error.message : String(error));
          } finally {
            await server?.stop();
            server = undefined;
          }
        }
      }
      if (scenario.leanClient && options.lean) {
        await server?.stop();
        server = undefined;
        outcome.lean ??= [];
        outcome.leanMissing ??= [];
        if (!options.lean.client) {
          const why = options.lean.missing.filter((line) => line.startsWith("C epoll client"));
          outcome.leanMissing.push(...(why.length > 0 ? why : ["C epoll client: not available"]));
        } else {
          try {
            server = await start();
            outcome.lean.push(
              await measurePaced(options.lean.client, {
                port: server.port,
                serverPid: server.pid,
                clients: scenario.clients,
                messages: scenario.messages,
                rate: scenario.rate,
                size: scenario.size,
              }),
            );
          } catch (error) {
            outcome.leanMissing.push(error instanceof Error ? error.message : String(error));
          }
        }
      }
    }
  } catch (error) {
    outcome = { error: error instanceof Error ? error.message : String(error) };
  } finally {
    options.progress?.clear();
    await server?.stop();
  }
  options.onResult?.(result, name, outcome);
  return outcome;
}

function connections(
  load: Pick<BenchOptions, "clients" | "idle" | "stalled"> | { levels: readonly number[] },
): number {
  return "levels" in load ? Math.max(...load.levels) : load.clients + load.idle + load.stalled;
}
