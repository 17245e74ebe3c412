/**
 * The bench's big channel scenario (`src/bench/big_channel.ts`): what it
 * runs, how parley is started for it (an IRC port), and how its table and
 * targets read, from made-up reports. A small real run (200 clients of each
 * kind) checks the plumbing end to end.
 */

import assert from "node:assert/strict";
import {
  BIG_CHANNEL_LOAD,
  type BigChannelReport,
  formatBigChannel,
  runBigChannel,
  targetsMet,
} from "../src/bench/big_channel.ts";
import type { BenchReport } from "../src/bench/run.ts";
import { parleyArgs } from "../src/bench/servers.ts";
import { SCENARIOS } from "../src/bench/suite.ts";

Deno.test("bench channel: scale's load, every kind, parley with an IRC port", () => {
  const channel = SCENARIOS.find((scenario) => scenario.name === "channel");
  assert.ok(channel !== undefined && channel.kind === "channel");
  assert.equal(channel.clients + channel.idle, 10_000);
  assert.deepEqual(
    { ...BIG_CHANNEL_LOAD },
    {
      clients: channel.clients,
      messages: channel.messages,
      rate: channel.rate,
      size: channel.size,
      idle: channel.idle,
      stalled: channel.stalled,
    },
  );
  const args = parleyArgs({ ircPort: true });
  assert.deepEqual(args.slice(args.indexOf("--irc-port"), args.indexOf("--irc-port") + 2), [
    "--irc-port",
    "0",
  ]);
  assert.ok(!parleyArgs().includes("--irc-port"));
});

/** A report with the figures the table shows (the rest as a complete run has them). */
function report(figures: { joinMs: number; cpu: number; rss: number }): BenchReport {
  return {
    status: "complete",
    delivered: 499_950,
    expected: 499_950,
    disconnected: 0,
    failed: 0,
    connectMs: figures.joinMs,
    latencyMs: { p50: 100, p90: 200, p99: 300, max: 400, mean: 120 },
    server: {
      pid: 1,
      cpuSeconds: figures.cpu,
      systemSeconds: figures.cpu / 2,
      peakRssMiB: figures.rss,
    },
    bench: { pid: 2, cpuSeconds: 5, systemSeconds: 1, peakRssMiB: 200 },
  } as BenchReport;
}

Deno.test("bench channel: the table puts the kinds side by side and holds IRC clients to line clients'", () => {
  const channel: BigChannelReport = {
    parleyCommand: "deno run -A main.ts server --irc-port 0",
    runs: [
      { kind: "line", port: "chat", report: report({ joinMs: 1_200, cpu: 6, rss: 200 }) },
      { kind: "irc", port: "irc", report: report({ joinMs: 1_900, cpu: 8.4, rss: 310 }) },
      { kind: "websocket", port: "chat", report: null, error: "no server" },
    ],
  };
  const text = formatBigChannel(channel);
  assert.match(text, /\| figure +\| line clients \(chat port\) \| IRC clients \(irc port\) \|/);
  assert.match(text, /\| join ms \(all in the room\) +\| +1,200 \| +1,900 \|/);
  assert.match(text, /error: no server/);
  assert.deepEqual(targetsMet(channel.runs[1], channel.runs[0]), [
    "every message to every member: **met**",
    "all joined within 2,000 ms: **met**",
    "server CPU ≤ 1.5× line clients' (1.40×): **met**",
    "peak RSS ≤ 1.5× line clients' (1.55×): **not met**",
  ]);
  assert.deepEqual(targetsMet(channel.runs[0], channel.runs[0]), []);
});

Deno.test("bench channel: 200 clients of each kind, each against its own server", async () => {
  const channel = await runBigChannel({
    load: { ...BIG_CHANNEL_LOAD, idle: 190, messages: 2, rate: 4 },
    timeLimit: 30_000,
  });
  assert.deepEqual(channel.runs.map((run) => [run.kind, run.port]), [
    ["line", "chat"],
    ["irc", "irc"],
    ["websocket", "chat"],
  ]);
  for (const run of channel.runs) {
    assert.equal(run.report?.status, "complete", `${run.kind}: ${run.error ?? ""}`);
    assert.equal(run.report?.delivered, 10 * 2 * 199);
  }
  assert.match(channel.parleyCommand, /--irc-port 0$/);
});
