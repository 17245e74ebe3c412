/**
 * `parley bench`: the payload format and its scanner without sockets, the
 * latency histogram and the connect window's arithmetic, small real runs
 * (against the CLI's own parley server, servers that stop relaying, drop
 * lines, cut a reader, cut a stalled client or greet late, and ncat when
 * installed), one server against a cluster of two (`--cluster`, when
 * redis-server is installed), the growth scenario scaled down, the lean floor readers, the
 * scenario definitions and the flags. Nothing here asserts timings: the
 * machine is shared.
 */

import assert from "node:assert/strict";
import {
  BASE_WINDOW,
  Connector,
  DELIBERATE_DELAY,
  GreetingWindow,
  MAX_PENDING_CONNECTS,
} from "../src/bench/connect.ts";
import { type LeanFloor, leanReaders, measureFloor, measurePaced } from "../src/bench/floor.ts";
import { planLevels, runGrowth } from "../src/bench/growth.ts";
import { LatencyHistogram } from "../src/bench/histogram.ts";
import {
  findMarker,
  PAYLOAD_MIN_SIZE,
  PayloadDecoder,
  PayloadEncoder,
  PayloadScanner,
  PROBE_SEQ,
  type Receiver,
} from "../src/bench/payload.ts";
import {
  type ClusterComparison,
  formatClusterComparison,
  formatReport,
  formatSuiteTable,
  type ScenarioResult,
} from "../src/bench/report.ts";
import { type BenchReport, runBench } from "../src/bench/run.ts";
import {
  describeParley,
  ncatAvailable,
  redisAvailable,
  startNcat,
  startParley,
} from "../src/bench/servers.ts";
import { parleyLimits, SCENARIOS } from "../src/bench/suite.ts";
import { SERVER_DEFAULTS, SERVER_V8_FLAGS } from "../server.ts";
import { runCli, spawnCli } from "./helpers.ts";

const encoder = new TextEncoder();
const SIZE = 48;

function payload(sender: number, seq: number, timeUs = 1_000): string {
  return new TextDecoder().decode(new PayloadEncoder(SIZE).encode(sender, seq, timeUs))
    .trimEnd();
}

function receiver(self = -1, senders = 4): Receiver {
  return { self, nextSeq: new Int32Array(senders), readAtUs: 5_000 };
}

function scanText(scanner: PayloadScanner, text: string, into = receiver()): number {
  return scanner.scan(encoder.encode(text), into);
}

Deno.test("a payload decodes to what was encoded, and any changed byte is caught", () => {
  const line = new PayloadEncoder(SIZE).encode(0x2a, 0x1f3, 0xa81c4f1234).slice();
  assert.equal(line.length, SIZE + 1);
  assert.equal(line[SIZE], 0x0a);
  assert.match(
    new TextDecoder().decode(line),
    /^~pb[0-9a-f]{4}00002a000001f3a81c4f1234[a-z0-9]+[0-9a-f]{8}\n$/,
  );
  const decoder = new PayloadDecoder(SIZE);
  assert.ok(decoder.decode(line, 0));
  assert.deepEqual(decoder.fields, { sender: 0x2a, seq: 0x1f3, timeUs: 0xa81c4f1234 });
  for (let i = 0; i < SIZE; i++) {
    const damaged = line.slice();
    damaged[i] = damaged[i] === 0x30 ? 0x31 : 0x30;
    assert.equal(decoder.decode(damaged, 0), false, `byte ${i} changed`);
  }
  assert.equal(decoder.decode(line.subarray(0, SIZE - 1), 0), false, "cut short");
  assert.throws(() => new PayloadEncoder(PAYLOAD_MIN_SIZE - 1), RangeError);
  assert.ok(new PayloadDecoder(PAYLOAD_MIN_SIZE).decode(
    new PayloadEncoder(PAYLOAD_MIN_SIZE).encode(1, PROBE_SEQ, 2 ** 40 - 1),
    0,
  ));
});

Deno.test("findMarker skips look-alikes", () => {
  const bytes = encoder.encode("a~p ~~pb~x");
  assert.equal(findMarker(bytes, 0), 5);
  assert.equal(findMarker(bytes, 6), -1);
});

Deno.test("the scanner counts intact payloads, skips notices, times them", () => {
  const scanner = new PayloadScanner(SIZE, 4);
  const into = receiver();
  const text = `*** welcome to parley, you are guest-3\n<guest-1> ${payload(0, 0, 1_000)}\n` +
    `*** guest-9 joined #lobby\n<bob> ${payload(1, 0, 2_000)}\r\n<guest-1> ${
      payload(0, 1, 3_000)
    }\n`;
  assert.equal(scanText(scanner, text, into), encoder.encode(text).length);
  assert.equal(scanner.intact, 3);
  assert.equal(scanner.altered, 0);
  assert.equal(scanner.unattributed, 0);
  assert.deepEqual([...into.nextSeq], [2, 1, 0, 0]);
  assert.equal(scanner.latency.count, 3);
  assert.equal(scanner.latency.max, 4_000);
  assert.equal(scanner.lastArrivalUs, 5_000);
});

Deno.test("the scanner keeps an unfinished line for the next call", () => {
  const scanner = new PayloadScanner(SIZE, 4);
  const into = receiver();
  const whole = `<a> ${payload(2, 0)}\n<a> ${payload(2, 1)}\n`;
  for (let cut = 1; cut < whole.length; cut += 7) {
    const bytes = encoder.encode(whole);
    into.nextSeq.fill(0);
    const before = scanner.intact;
    const used = scanner.scan(bytes.subarray(0, cut), into);
    const rest = bytes.subarray(used);
    assert.equal(scanner.scan(rest, into), rest.length);
    assert.equal(scanner.intact - before, 2, `cut at ${cut}`);
  }
  assert.equal(scanner.altered, 0);
});

Deno.test("the scanner tells altered, unattributed, echoed, repeated and probe lines apart", () => {
  const scanner = new PayloadScanner(SIZE, 4);
  const into = receiver(3);
  const p = (sender: number, seq: number) => payload(sender, seq);
  const lines = [
    `<a> ${p(0, 0)}${p(1, 0)}`, // two payloads merged into one line: 2 altered
    `<a> ${p(0, 1).slice(0, 30)}`, // cut: 1 altered
    `${p(0, 1).slice(30)}<b> ${p(1, 1)}`, // the cut's tail merged with another: 1 altered
    `xx<a> ${p(0, 2)}`, // junk before the prefix: 1 altered
    `<a> <b> ${p(0, 3)}`, // two prefixes: 1 altered
    p(0, 4), // ncat's later lines of one chunk: intact, unattributed
    `<me> ${p(3, 0)}`, // its own message back: an echo
    `<a> ${p(0, 4)}`, // already had it: a duplicate
    `<a> ${p(2, PROBE_SEQ)}`, // a probe
    `<a> ${p(9, 0)}`, // a sender that does not exist: altered
  ];
  scanText(scanner, lines.join("\n") + "\n", into);
  assert.equal(scanner.altered, 7);
  assert.equal(scanner.intact, 1);
  assert.equal(scanner.unattributed, 1);
  assert.equal(scanner.echoes, 1);
  assert.equal(scanner.duplicates, 1);
  assert.equal(scanner.probes, 1);
});

Deno.test("the latency histogram gives exact small values and close large ones", () => {
  const histogram = new LatencyHistogram();
  assert.equal(histogram.percentile(50), 0);
  for (let us = 1; us <= 1000; us++) histogram.record(us);
  assert.equal(histogram.percentile(50), 500);
  assert.equal(histogram.percentile(99), 990);
  assert.equal(histogram.max, 1000);
  const large = new LatencyHistogram();
  for (let i = 1; i <= 100_000; i++) large.record(i * 37);
  for (const percent of [50, 90, 99, 99.9]) {
    const exact = Math.ceil(percent / 100 * 100_000) * 37;
    const relative = Math.abs(large.percentile(percent) - exact) / exact;
    assert.ok(relative < 0.002, `p${percent}: ${large.percentile(percent)} vs ${exact}`);
  }
  assert.equal(large.percentile(100), 3_700_000);
  histogram.merge(large);
  assert.equal(histogram.count, 101_000);
});

function assertSane(report: BenchReport): void {
  const readers = report.clients + report.idle;
  assert.equal(report.expected, report.clients * report.messages * (readers - 1));
  assert.equal(report.delivered + report.lost + report.altered, report.expected);
  assert.ok(report.seconds >= 0 && report.deliveriesPerSecond >= 0);
  assert.ok(report.connectMs >= 0);
}

Deno.test("a small run against the bench's own parley server loses nothing", async () => {
  const result = await runCli(
    ["bench", "--clients", "5", "--messages", "20", "--stalled", "1", "--json"],
    { timeout: 60_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as BenchReport;
  assertSane(report);
  assert.equal(report.status, "complete");
  assert.equal(report.sent, 5 * 20);
  assert.equal(report.expected, 5 * 4 * 20);
  assert.equal(report.delivered, 5 * 4 * 20);
  assert.equal(report.lost, 0);
  assert.equal(report.altered, 0);
  assert.equal(report.unattributed, 0);
  assert.equal(report.duplicates, 0);
  assert.equal(report.echoes, 0, "parley does not echo");
  assert.equal(report.disconnected, 0);
  assert.equal(report.lostAtCutReaders, 0);
  assert.equal(report.stalled, 1);
  if (Deno.build.os === "linux") assert.equal(report.stalledCut, 0, "little data: not cut");
  assert.equal(report.connectMode, "window");
  assert.ok(report.greetingMs && report.greetingMs.p50 <= report.greetingMs.max);
  assert.equal(typeof report.slowConnects, "number");
  const latency = report.latencyMs!;
  for (const key of ["p50", "p90", "p99", "max", "mean"] as const) {
    assert.equal(typeof latency[key], "number", key);
    assert.ok(latency[key] >= 0, key);
  }
  assert.ok(latency.p50 <= latency.p90 && latency.p90 <= latency.p99 && latency.p99 <= latency.max);
  assert.ok(report.server, "the server it started is measured");
  assert.equal(typeof report.server.cpuSeconds, "number");
  assert.ok(report.server.peakRssMiB! > 0);
  assert.ok(report.bench.peakRssMiB! > 0);
});

Deno.test("the readable summary names every figure", async () => {
  const result = await runCli(["bench", "--clients", "3", "--messages", "5", "--idle", "2"], {
    timeout: 60_000,
  });
  assert.equal(result.code, 0, result.stderr);
  for (
    const label of [
      "status",
      "deliveries",
      "lost",
      "altered",
      "readers cut",
      "latency",
      "connect",
      "server",
    ]
  ) {
    assert.match(result.stdout, new RegExp(`^  ${label} `, "m"));
  }
  assert.match(result.stdout, /of 60 in/); // 3 talkers × 5 messages × (5 readers − 1)
  assert.match(result.stdout, /complete/);
  // Started as users run it: no raised send queue or line limit, no V8 flags.
  assert.match(
    result.stdout,
    /deno run -A main\.ts server --host 127\.0\.0\.1 --port \d+ --rate 0/,
  );
  assert.doesNotMatch(result.stdout, /--send-queue|--max-line|--v8-flags/);
});

/** How a fake chat server behaves. */
interface FakeOptions {
  /** Whether to relay a line (default: all); `close` ends a client's connection. */
  relay?: (line: string, client: number, close: (client: number) => void) => boolean;
  /** Greet each connection this long after accepting it (ms). */
  greetDelay?: number;
  /** Close every client that has sent nothing this long after the first line arrived (ms). */
  closeSilentAfter?: number;
  /** Before closing a silent client, write it this many bytes it will not read. */
  floodSilent?: number;
}

/** A chat server for the tests: greets, then relays lines as `<uN> line` unless told otherwise. */
function fakeServer(options: FakeOptions = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Map<number, Deno.Conn>();
  const talked = new Set<number>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let silentTimer: ReturnType<typeof setTimeout> | undefined;
  const close = (id: number) => {
    try {
      conns.get(id)?.close();
    } catch {
      // closed already
    }
    conns.delete(id);
  };
  const done = (async () => {
    let next = 0;
    for await (const conn of listener) {
      const id = next++;
      conns.set(id, conn);
      void (async () => {
        const greet = () => conn.write(encoder.encode("*** hello\n")).catch(() => {});
        if (options.greetDelay) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            greet();
          }, options.greetDelay);
          timers.add(timer);
        } else {
          await greet();
        }
        const decoder = new TextDecoder();
        const buffer = new Uint8Array(4096);
        let partial = "";
        try {
          for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
            talked.add(id);
            if (options.closeSilentAfter !== undefined && silentTimer === undefined) {
              silentTimer = setTimeout(() => {
                for (const other of [...conns.keys()]) {
                  if (talked.has(other)) continue;
                  // What a server does to a client that takes nothing: queue, then give up on it.
                  const flood = new Uint8Array(options.floodSilent ?? 0).fill(0x78);
                  if (flood.length > 0) conns.get(other)?.write(flood).catch(() => {});
                  close(other);
                }
              }, options.closeSilentAfter);
            }
            const parts = (partial + decoder.decode(buffer.subarray(0, n))).split("\n");
            partial = parts.pop()!;
            for (const line of parts) {
              if (options.relay && !options.relay(line, id, close)) continue;
              const bytes = encoder.encode(`<u${id}> ${line}\n`);
              for (const [otherId, other] of conns) {
                if (otherId !== id) other.write(bytes).catch(() => {});
              }
            }
          }
        } catch {
          // closed
        }
        conns.delete(id);
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      clearTimeout(silentTimer);
      for (const timer of timers) clearTimeout(timer);
      listener.close();
      for (const id of [...conns.keys()]) close(id);
      await done;
    },
  };
}

Deno.test("a server that stops relaying is reported stuck, not waited for", async () => {
  let relayed = 0;
  const server = fakeServer({ relay: () => relayed++ < 10 });
  try {
    const report = await runBench({
      host: "127.0.0.1",
      port: server.port,
      clients: 3,
      messages: 20,
      rate: 0,
      size: 64,
      idle: 0,
      stalled: 0,
      stallTimeout: 1000,
    });
    assert.equal(report.status, "stuck");
    assertSane(report);
    assert.equal(report.delivered, 20);
    assert.equal(report.server, null);
  } finally {
    await server.close();
  }
});

Deno.test("a server that drops lines but stays alive: status lost, gaps counted", async () => {
  // Drops every sender's message 3 (the seq field's 8 hex digits follow "~pb", the run's 4 and the sender's 6).
  const server = fakeServer({ relay: (line) => line.slice(13, 21) !== "00000003" });
  try {
    const report = await runBench({
      host: "127.0.0.1",
      port: server.port,
      clients: 3,
      messages: 10,
      rate: 0,
      size: 64,
      idle: 1,
      stalled: 0,
      stallTimeout: 1000,
    });
    assert.equal(report.status, "lost");
    assertSane(report);
    assert.equal(report.lost, 3 * 3, "3 senders' message 3, for 3 receivers each");
    assert.equal(report.altered, 0);
  } finally {
    await server.close();
  }
});

Deno.test({
  name: "ncat -l --chat can be measured: its framing is understood",
  ignore: !(await ncatAvailable()),
  async fn() {
    const ncat = await startNcat({ maxConnections: 20 });
    try {
      const report = await runBench({
        host: ncat.host,
        port: ncat.port,
        serverPid: ncat.pid,
        clients: 3,
        messages: 10,
        rate: 20,
        size: 64,
        idle: 1,
        stalled: 0,
        stallTimeout: 2000,
      });
      assertSane(report);
      assert.equal(report.echoes, 0, "ncat does not echo");
      assert.ok(report.delivered > 0, JSON.stringify(report));
      assert.ok(report.server!.peakRssMiB! > 0);
      assert.ok(["complete", "lost"].includes(report.status), report.status);
    } finally {
      await ncat.stop();
    }
  },
});

function sampleReport(changes: Partial<BenchReport> = {}): BenchReport {
  return {
    target: "127.0.0.1:1",
    clients: 2,
    messages: 1,
    rate: 0,
    size: 64,
    idle: 0,
    stalled: 0,
    status: "complete",
    sent: 2,
    expected: 2,
    delivered: 2,
    unattributed: 0,
    lost: 0,
    altered: 0,
    duplicates: 0,
    echoes: 0,
    disconnected: 0,
    lostAtCutReaders: 0,
    stalledCut: null,
    seconds: 0.001,
    deliveriesPerSecond: 2000,
    latencyMs: { p50: 0.5, p90: 0.6, p99: 0.7, max: 0.8, mean: 0.55 },
    connectMode: "window",
    connectMs: 3,
    greetingMs: { p50: 1, p90: 1.5, p99: 2, max: 2.5, mean: 1.1 },
    slowConnects: 0,
    server: { pid: 1, cpuSeconds: 0.01, systemSeconds: 0, peakRssMiB: 40 },
    servers: {
      pids: [1],
      cpuSeconds: 0.01,
      systemSeconds: 0,
      peakRssMiB: 40,
      each: [{ pid: 1, cpuSeconds: 0.01, systemSeconds: 0, peakRssMiB: 40 }],
    },
    bench: { pid: 2, cpuSeconds: 0.02, systemSeconds: 0.01, peakRssMiB: 50 },
    ...changes,
  };
}

function sampleResult(
  name: string,
  parley: ScenarioResult["parley"],
  ncat: ScenarioResult["ncat"],
): ScenarioResult {
  return {
    name,
    label: name,
    kind: name === "growth" ? "growth" : "load",
    description: "",
    parleyCommand: "deno run -A main.ts server",
    parley,
    ncat,
  };
}

/** What the C epoll client measured in a paced run (for the table tests). */
function pacedClient(
  figures: Pick<LeanFloor, "p50" | "p99" | "max" | "serverCpuSeconds">,
): LeanFloor {
  return { reader: "C epoll", tool: "client", readers: 100, messages: 100, ...figures };
}

Deno.test("reports format without surprises", () => {
  const report = sampleReport();
  assert.match(formatReport(report, "test"), /p99 0\.70/);
  assert.match(formatReport(report, "test"), /readers cut +none/);
  const cut = sampleReport({
    status: "cut",
    disconnected: 3,
    lostAtCutReaders: 120,
    stalled: 1,
    stalledCut: 1,
  });
  const summary = formatReport(cut, "test");
  assert.match(summary, /CUT: the server disconnected 3 reading clients/);
  assert.match(summary, /readers cut +3 of 2 reading clients .*120 payloads missed/);
  assert.match(summary, /stalled cut +yes/);
  const table = formatSuiteTable([
    sampleResult("burst", { report }, { report }),
    sampleResult("stalled", { report: cut }, {
      report: sampleReport({ stalled: 1, stalledCut: 0 }),
    }),
    sampleResult("scale", { report }, { skipped: "n/a" }),
    sampleResult("floor", {
      report,
      lean: [{
        reader: "C epoll",
        tool: "reader",
        readers: 99,
        messages: 500,
        p50: 1.5,
        p99: 2.5,
        max: 3,
      }],
    }, {
      report,
      lean: [{
        reader: "C epoll",
        tool: "reader",
        readers: 99,
        messages: 500,
        p50: 1,
        p99: 2,
        max: 3,
      }],
    }),
    sampleResult(
      "paced",
      { report, lean: [pacedClient({ p50: 2, p99: 4, max: 9, serverCpuSeconds: 4.5 })] },
      { report, lean: [pacedClient({ p50: 8, p99: 16, max: 40, serverCpuSeconds: 3 })] },
    ),
  ]);
  assert.match(table, /\| burst +\| status +\| +complete \| +complete \| +\|/);
  assert.match(table, /deliveries\/s +\| +2,000 \| +2,000 \| +1\.00 \|/);
  assert.match(table, /\| stalled +\| status +\| +cut \| +complete \|/);
  assert.match(table, /\| +\| readers cut +\| +3 \| +0 \| +\|/);
  assert.match(table, /\| +\| stalled client cut +\| +yes \| +no \|/);
  assert.match(table, /\| scale +\| status +\| +complete \| +n\/a \|/);
  assert.match(table, /\| +\| C epoll reader p99 ms +\| +2\.50 \| +2\.00 \| +1\.25 \|/);
  assert.equal(table.match(/C epoll reader p50/g)?.length, 1, "lean rows only for the floor");
  assert.match(table, /\| +\| C epoll client p99 ms +\| +4\.00 \| +16\.0 \| +0\.25 \|/);
  assert.match(table, /\| +\| C epoll client: server CPU s +\| +4\.50 \| +3\.00 \| +1\.50 \|/);
  assert.match(table, /greeting p99 ms/);
});

Deno.test("one server against a cluster: both summaries, then the figures side by side", () => {
  const single = sampleReport();
  const cluster = sampleReport({
    target: "127.0.0.1:1, 127.0.0.1:2",
    latencyMs: { p50: 1, p90: 1.2, p99: 1.4, max: 2, mean: 1.1 },
    server: null,
    servers: {
      pids: [3, 4],
      cpuSeconds: 0.05,
      systemSeconds: 0.01,
      peakRssMiB: 110,
      each: [
        { pid: 3, cpuSeconds: 0.02, systemSeconds: 0, peakRssMiB: 100 },
        { pid: 4, cpuSeconds: 0.03, systemSeconds: 0.01, peakRssMiB: 110 },
      ],
    },
  });
  const text = formatClusterComparison(
    { servers: 2, single, cluster, redisCpuSeconds: 0.04, p99Ratio: 2 },
    { single: "one", cluster: "two" },
  );
  assert.match(text, /servers +CPU 0\.05 s together \(0\.01 s system; 0\.02 \+ 0\.03\)/);
  assert.match(text, /largest peak RSS 110\.0 MiB \(pids 3, 4\)/);
  assert.match(text, /redis +CPU 0\.04 s during the run/);
  assert.match(text, /\| latency p99 ms +\| +0\.70 \| +1\.40 \| +2\.00 \|/);
  assert.match(text, /\| parley CPU s +\| +0\.01 \| +0\.05 \| +5\.00 \|/);
  assert.match(text, /\| redis CPU s +\| +\| +0\.04 \| +\|/);
});

Deno.test("the growth table shows each level and what limited it", () => {
  const growth = {
    target: "127.0.0.1:1",
    baseRssMiB: 40,
    levels: [
      {
        connections: 1000,
        rssMiB: 50,
        kibPerConnection: 10.24,
        kibPerAddedConnection: null,
        connectMs: 100,
        delivered: 3996,
        expected: 3996,
        disconnected: 0,
      },
      {
        connections: 10_000,
        rssMiB: 130,
        kibPerConnection: 9.22,
        kibPerAddedConnection: 9.1,
        connectMs: 900,
        delivered: 39_996,
        expected: 39_996,
        disconnected: 0,
      },
    ],
    skipped: [{ connections: 19_000, reason: "needs 19064 open files per process" }],
    fileLimits: { bench: 1024, server: 1024 },
    sources: [{ address: "127.0.0.1 (kernel's choice)", connections: 10_000 }],
    greetingMs: null,
    slowConnects: 0,
    server: { pid: 1, cpuSeconds: 1, systemSeconds: 0.5, peakRssMiB: 140 },
    bench: { pid: 2, cpuSeconds: 1, systemSeconds: 0.5, peakRssMiB: 100 },
  };
  const text = formatSuiteTable([
    sampleResult("burst", { report: sampleReport() }, { skipped: "n/a" }),
    sampleResult("growth", { growth }, { skipped: "n/a" }),
  ]);
  assert.match(text, /^growth \(parley: deno run -A main\.ts server\)$/m);
  assert.match(text, /\| +1,000 \| +50\.0 \| +10\.2 \| +\| +100 \| +3,996 \/ 3,996 \| +0 \|/);
  assert.match(text, /\| +10,000 \| +130\.0 \| +9\.2 \| +9\.1 \|/);
  assert.match(text, /19,000 connections skipped: needs 19064 open files/);
  assert.match(text, /'ulimit -n': 1,024 for the bench, 1,024 for the server/);
  assert.doesNotMatch(text, /\| growth +\| status/, "growth is not in the load table");
  const failed = formatSuiteTable([sampleResult("growth", { error: "boom" }, { skipped: "n/a" })]);
  assert.match(failed, /^growth \(parley: .*\): error: boom$/);
});

Deno.test("bench flags: one line naming the flag, exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["bench", "--clients", "0"], /invalid value '0' for --clients/],
    [["bench", "--size", "10"], /invalid value '10' for --size/],
    [["bench", "--size", "5000"], /invalid value '5000' for --size: .*--max-line of 4096/],
    [["bench", "--rate", "fast"], /invalid value 'fast' for --rate/],
    [["bench", "--target", "localhost"], /invalid value 'localhost' for --target/],
    [["bench", "--suite", "--clients", "5"], /--clients does not go with --suite/],
    [["bench", "--suite", "--port", "5000"], /--port does not go with --suite/],
    [["bench", "--suite", "--scenarios", "burst,nope"], /invalid value 'nope' for --scenarios/],
    [["bench", "--scenarios", "nope"], /invalid value 'nope' for --scenarios/],
    [["bench", "--clients", "5", "--scenarios", "burst"], /--scenarios is for the suite/],
    [["bench", "--clients", "5", "--no-ncat"], /--no-ncat is for the suite/],
    [["bench", "--server-pid", "1"], /--server-pid goes with --target/],
    [["bench", "--target", "127.0.0.1:1", "--port", "2"], /--port is for the bench's own/],
    [["bench", "--port", "70000"], /invalid value '70000' for --port/],
    [
      ["bench", "--cluster", "1"],
      /invalid value '1' for --cluster: expected an integer from 2 to 8/,
    ],
    [
      ["bench", "--cluster", "9"],
      /invalid value '9' for --cluster: expected an integer from 2 to 8/,
    ],
    [["bench", "--cluster", "2", "--target", "127.0.0.1:1"], /--cluster does not go with --target/],
    [["bench", "--cluster", "2", "--port", "4000"], /--port does not go with --cluster/],
    [["bench", "--suite", "--cluster", "2"], /--cluster does not go with --suite/],
    [["bench", "--bogus"], /unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: exit code`);
    assert.match(result.stderr, message, args.join(" "));
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  const help = await runCli(["bench", "--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["--stalled K", "--port P", "--scenarios LIST", "--suite", "--cluster N"]) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  assert.match(help.stdout, /Without any flag of a single run/);
  assert.match((await runCli(["--help"])).stdout, /parley bench/);
});

const haveRedis = await redisAvailable();
if (!haveRedis) {
  console.warn("bench_test: redis-server is not installed: the --cluster run is skipped");
}

Deno.test({
  name: "--cluster 2 runs the load on one server, then on two in a cluster, and reports both",
  ignore: !haveRedis,
  async fn() {
    const result = await runCli(
      ["bench", "--cluster", "2", "--clients", "4", "--messages", "20", "--json"],
      { timeout: 90_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const comparison = JSON.parse(result.stdout) as ClusterComparison & { parleyCommand: string };
    assert.equal(comparison.servers, 2);
    assert.match(comparison.parleyCommand, /--cluster redis:\/\/127\.0\.0\.1:\d+$/);
    for (const report of [comparison.single, comparison.cluster]) {
      assertSane(report);
      assert.equal(report.status, "complete");
      assert.equal(report.lost, 0);
      assert.equal(report.delivered, 4 * 3 * 20);
      assert.equal(report.disconnected, 0);
      assert.ok(report.latencyMs, "latency measured");
      assert.equal(typeof report.servers?.cpuSeconds, "number");
    }
    assert.equal(comparison.single.servers!.pids.length, 1);
    const cluster = comparison.cluster;
    assert.equal(cluster.servers!.pids.length, 2, "both servers measured");
    assert.equal(cluster.server, null, "no single server figures for a cluster");
    assert.equal(cluster.target.split(", ").length, 2, "clients went to two ports");
    assert.equal(typeof comparison.redisCpuSeconds, "number");
    assert.equal(
      comparison.p99Ratio,
      Math.round(cluster.latencyMs!.p99 / comparison.single.latencyMs!.p99 * 100) / 100,
    );
  },
});

Deno.test("deno task bench with single-run flags is a single run (issue 9)", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const tasks = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks;
  assert.doesNotMatch(tasks.bench, /--suite/, "the task leaves the choice to the flags");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "bench", "--clients", "3", "--messages", "5", "--json"],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const report = JSON.parse(new TextDecoder().decode(output.stdout)) as BenchReport;
  assert.equal(report.status, "complete");
  assert.equal(report.delivered, 3 * 2 * 5);
});

Deno.test("--port puts the bench's own parley server on that port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const result = await runCli(
    ["bench", "--port", String(port), "--clients", "2", "--messages", "3", "--json"],
    { timeout: 60_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as BenchReport;
  assert.equal(report.target, `127.0.0.1:${port}`);
  assert.equal(report.status, "complete");
});

Deno.test("too few file descriptors: one line naming ulimit -n, exit code 1", async () => {
  const child = spawnCli(["bench", "--clients", "2", "--idle", "200"], {
    shellPrefix: "ulimit -n 128",
  });
  await child.stdin.close();
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1, stderr);
  assert.match(stderr, /202 connections need 266 open files, but 'ulimit -n' is 128/);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
});

Deno.test("a target that is not there: one line, exit code 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const result = await runCli(["bench", "--target", `127.0.0.1:${port}`, "--clients", "2"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^parley bench: cannot connect client \d of 2 to 127\.0\.0\.1:\d+/);
});

Deno.test("payloads of another run (a history replay) are skipped, not counted", () => {
  const scanner = new PayloadScanner(SIZE, 4);
  const receiver = { self: 0, nextSeq: new Int32Array(4), readAtUs: 0 };
  const ours = new TextDecoder().decode(new PayloadEncoder(SIZE).encode(1, 0, 5));
  const theirs = ours.slice(0, 3) + (ours.slice(3, 7) === "0000" ? "0001" : "0000") + ours.slice(7);
  const bytes = new TextEncoder().encode(`<a> ${theirs}\n<b> ${ours}\n`);
  scanner.scan(bytes, receiver);
  assert.equal(scanner.intact, 1);
  assert.equal(scanner.altered, 0);
  assert.equal(scanner.duplicates, 0);
});

Deno.test("a history replay with times ([07:12] <name> …) is skipped, not counted as altered", () => {
  const scanner = new PayloadScanner(SIZE, 4);
  const into = receiver(3);
  const text = `*** last 2 messages in #lobby:\n[07:12] <guest-1> ${payload(0, 0)}\n` +
    `[11-28 07:12] <guest-2> ${payload(1, 0)}\n*** end of history\n<guest-1> ${payload(0, 1)}\n`;
  scanText(scanner, text, into);
  assert.equal(scanner.replayed, 2);
  assert.equal(scanner.altered, 0);
  assert.equal(scanner.intact, 1);
});

Deno.test("a receiver that starts at a later sequence counts earlier payloads as repeats", () => {
  const scanner = new PayloadScanner(SIZE, 2);
  const into = { self: -1, nextSeq: new Int32Array(2).fill(5), readAtUs: 0 };
  scanText(scanner, `<a> ${payload(0, 3)}\n<a> ${payload(0, 5)}\n`, into);
  assert.equal(scanner.duplicates, 1);
  assert.equal(scanner.intact, 1);
});

Deno.test("the connect window: 8 for a server that greets as it accepts, grows with a delay", () => {
  const window = new GreetingWindow();
  assert.equal(window.size(0), BASE_WINDOW, "before any greeting");
  window.greeted(1, 0.3);
  for (let i = 0; i < 50; i++) window.greeted(1 + i / 100, 0.3);
  assert.equal(window.size(2), BASE_WINDOW, "a server that greets at once keeps the base window");

  const delayed = new GreetingWindow();
  for (let i = 0; i < BASE_WINDOW; i++) delayed.greeted(250 + i / 10, 250 + i / 10);
  assert.equal(delayed.shortestWait, 250);
  assert.equal(
    delayed.size(251),
    BASE_WINDOW + 2 * BASE_WINDOW,
    "twice the last delay's greetings",
  );
  assert.equal(delayed.size(1000), BASE_WINDOW, "nothing greeted lately: back to the base");

  const short = new GreetingWindow();
  for (let i = 0; i < 40; i++) short.greeted(100 + i, DELIBERATE_DELAY * 2);
  // 20 ms delay, counted over 100 ms: 40 greetings × 2 × 20/100.
  assert.equal(short.size(140), BASE_WINDOW + 16);
  assert.ok(MAX_PENDING_CONNECTS >= BASE_WINDOW);
});

Deno.test("a server that greets late gets many connections waiting at once", async () => {
  const server = fakeServer({ greetDelay: 300 });
  const conns: { close(): void }[] = [];
  try {
    const connector = new Connector({ host: "127.0.0.1", port: server.port });
    let greeted = 0;
    await connector.open({
      count: 60,
      mode: "window",
      deadline: performance.now() + 30_000,
      stopping: () => false,
      async onConnect(conn) {
        conns.push(conn);
        const heard = await conn.read(new Uint8Array(64)).catch(() => null) !== null;
        if (heard) greeted++;
        return heard;
      },
    });
    while (greeted < 60) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(
      connector.mostInFlight > BASE_WINDOW,
      `window grew past ${BASE_WINDOW}: ${connector.mostInFlight}`,
    );
    assert.ok(connector.greetingWait.percentile(50) >= 300_000, "each waited for its greeting");
  } finally {
    for (const conn of conns) conn.close();
    await server.close();
  }
});

Deno.test("a reader the server cuts makes the run 'cut', not complete", async () => {
  let relayed = 0;
  let cut = false;
  const server = fakeServer({
    relay(_line, client, close) {
      if (++relayed === 10 && !cut) {
        cut = true;
        close(client === 4 ? 3 : 4);
      }
      return true;
    },
  });
  try {
    const report = await runBench({
      host: "127.0.0.1",
      port: server.port,
      clients: 3,
      messages: 20,
      rate: 0,
      size: 64,
      idle: 2,
      stalled: 0,
      stallTimeout: 1000,
    });
    assertSane(report);
    assert.equal(report.status, "cut");
    assert.equal(report.disconnected, 1);
    assert.ok(report.lost > 0);
    assert.ok(report.lostAtCutReaders > 0 && report.lostAtCutReaders <= report.lost);
  } finally {
    await server.close();
  }
});

Deno.test({
  name: "a stalled client the server cuts is reported apart and does not spoil the run",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // Flooded first: the server's FIN then waits behind data the client never takes, so only
    // the server's end of the connection shows that it was cut.
    const server = fakeServer({ closeSilentAfter: 300, floodSilent: 16 * 1024 * 1024 });
    try {
      const report = await runBench({
        host: "127.0.0.1",
        port: server.port,
        clients: 2,
        messages: 10,
        rate: 10,
        size: 64,
        idle: 0,
        stalled: 1,
        stallTimeout: 2000,
      });
      assertSane(report);
      assert.equal(report.stalledCut, 1);
      assert.equal(report.disconnected, 0);
      assert.equal(report.status, "complete");
      assert.match(formatReport(report, "fake"), /stalled cut +yes/);
    } finally {
      await server.close();
    }
  },
});

Deno.test("the storm connects everyone at once and still delivers", async () => {
  const server = await startParley({ maxClients: 300 });
  try {
    const report = await runBench({
      host: server.host,
      port: server.port,
      serverPid: server.pid,
      clients: 1,
      messages: 1,
      rate: 0,
      size: 64,
      idle: 199,
      stalled: 0,
      connectMode: "storm",
    });
    assertSane(report);
    assert.equal(report.connectMode, "storm");
    assert.equal(report.status, "complete");
    assert.equal(report.delivered, 199);
    assert.ok(report.greetingMs !== null);
  } finally {
    await server.stop();
  }
});

Deno.test("growth, scaled down: memory per level, other source addresses beyond a share", async () => {
  const server = await startParley({});
  try {
    const growth = await runGrowth({
      host: server.host,
      port: server.port,
      serverPid: server.pid,
      levels: [5, 30],
      settle: 100,
      connector: { perSource: 12 },
    });
    assert.equal(growth.levels.length, 2);
    assert.ok(growth.baseRssMiB! > 0);
    for (const level of growth.levels) {
      assert.ok(level.rssMiB! > 0);
      assert.equal(typeof level.kibPerConnection, "number");
      assert.equal(level.delivered, level.expected, "history replays are not counted");
      assert.equal(level.expected, 2 * 2 * (level.connections - 1));
      assert.equal(level.disconnected, 0);
    }
    assert.equal(growth.levels[0].kibPerAddedConnection, null);
    assert.equal(typeof growth.levels[1].kibPerAddedConnection, "number");
    assert.deepEqual(growth.sources.map((source) => source.connections), [12, 12, 6]);
    assert.deepEqual(growth.sources.slice(1).map((source) => source.address), [
      "127.0.0.2",
      "127.0.0.3",
    ]);
    assert.ok(growth.server.peakRssMiB! >= growth.levels[1].rssMiB!);
  } finally {
    await server.stop();
  }
});

Deno.test("growth levels beyond ulimit -n are skipped with the reason", () => {
  const { run, skipped } = planLevels([1000, 10_000, 19_000], { bench: 20_000, server: 12_000 });
  assert.deepEqual(run, [1000, 10_000]);
  assert.equal(skipped.length, 1);
  assert.match(skipped[0].reason, /needs 19064 open files.*12000 for the server/);
  assert.deepEqual(planLevels([5], { bench: null, server: null }).run, [5]);
});

Deno.test("the lean floor readers (C, Python) and the C paced client measure a parley server", async () => {
  const lean = await leanReaders();
  const server = await startParley({});
  try {
    for (const why of lean.missing) console.log(`  skipped: ${why}`);
    for (const reader of lean.readers) {
      const floor = await measureFloor(reader, { port: server.port, readers: 5, messages: 20 });
      assert.equal(floor.reader, reader.name);
      assert.ok(floor.p50 > 0 && floor.p50 <= floor.p99 && floor.p99 <= floor.max, reader.name);
    }
    if (lean.client) {
      const paced = await measurePaced(lean.client, {
        port: server.port,
        serverPid: server.pid,
        clients: 5,
        messages: 20,
        rate: 20,
        size: 64,
      });
      assert.equal(paced.tool, "client");
      assert.ok(paced.p50 > 0 && paced.p50 <= paced.p99 && paced.p99 <= paced.max);
      assert.ok(paced.serverCpuSeconds !== null && paced.serverCpuSeconds! >= 0);
    }
  } finally {
    await server.stop();
    await lean.dispose();
  }
});

Deno.test("the scenarios run parley as users run it", () => {
  const names = SCENARIOS.map((scenario) => scenario.name);
  for (const name of ["burst", "floor", "scale", "stalled", "storm", "growth"]) {
    assert.ok(names.includes(name), name);
  }
  for (const scenario of SCENARIOS) {
    assert.deepEqual(Object.keys(parleyLimits(scenario)), ["maxClients"], scenario.name);
    if (scenario.kind === "load") {
      // The payload and parley's `<guest-N> ` prefix fit its default line limit.
      assert.ok(scenario.size + 40 <= SERVER_DEFAULTS.maxLine, scenario.name);
    }
  }
  const scale = SCENARIOS.find((scenario) => scenario.name === "scale")!;
  assert.ok(scale.kind === "load" && scale.alsoTaskFlags?.target?.includes("120 MiB"));
  const storm = SCENARIOS.find((scenario) => scenario.name === "storm")!;
  assert.ok(storm.kind === "load" && storm.connectMode === "storm" && storm.idle + 1 === 10_000);
  const growth = SCENARIOS.find((scenario) => scenario.name === "growth")!;
  assert.ok(growth.kind === "growth" && growth.levels.includes(19_000));

  const plain = describeParley(parleyLimits({ clients: 10, idle: 9_990, stalled: 0 }));
  assert.match(
    plain,
    /^deno run -A \S*main\.ts server .*--rate 0 --max-per-ip 0 --connect-rate 0 --max-clients 10100$/,
  );
  assert.doesNotMatch(plain, /--send-queue|--max-line|--v8-flags/);
  assert.doesNotMatch(
    describeParley({ maxClients: 200 }),
    /--max-clients/,
    "the default is enough",
  );
  assert.ok(describeParley({ taskFlags: true }).includes(`--v8-flags=${SERVER_V8_FLAGS}`));
});
