/**
 * `parley bench`: the payload format and its scanner without sockets, the
 * latency histogram, small real runs (against the CLI's own parley server, a
 * server that stops relaying, one that drops lines, and ncat when installed),
 * and its flags. Nothing here asserts timings: the machine is shared.
 */

import assert from "node:assert/strict";
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
import { formatReport, formatSuiteTable } from "../src/bench/report.ts";
import { type BenchReport, runBench } from "../src/bench/run.ts";
import { ncatAvailable, startNcat } from "../src/bench/servers.ts";
import { runCli } from "./helpers.ts";

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
  assert.equal(report.stalled, 1);
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
    const label of ["status", "deliveries", "lost", "altered", "latency", "connect", "server"]
  ) {
    assert.match(result.stdout, new RegExp(`^  ${label} `, "m"));
  }
  assert.match(result.stdout, /of 60 in/); // 3 talkers × 5 messages × (5 readers − 1)
  assert.match(result.stdout, /complete/);
});

/** A chat server for the tests: greets, then relays lines as `<uN> line` unless `relay` says no. */
function fakeServer(relay: (line: string, client: number) => boolean) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const done = (async () => {
    let next = 0;
    for await (const conn of listener) {
      const id = next++;
      conns.add(conn);
      void (async () => {
        await conn.write(encoder.encode("*** hello\n")).catch(() => {});
        const decoder = new TextDecoder();
        const buffer = new Uint8Array(4096);
        let partial = "";
        try {
          for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
            const parts = (partial + decoder.decode(buffer.subarray(0, n))).split("\n");
            partial = parts.pop()!;
            for (const line of parts) {
              if (!relay(line, id)) continue;
              const bytes = encoder.encode(`<u${id}> ${line}\n`);
              for (const other of conns) if (other !== conn) other.write(bytes).catch(() => {});
            }
          }
        } catch {
          // closed
        }
        conns.delete(conn);
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const conn of conns) conn.close();
      await done;
    },
  };
}

Deno.test("a server that stops relaying is reported stuck, not waited for", async () => {
  let relayed = 0;
  const server = fakeServer(() => relayed++ < 10);
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
  const server = fakeServer((line) => line.slice(13, 21) !== "00000003");
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

Deno.test("reports format without surprises", () => {
  const report: BenchReport = {
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
    seconds: 0.001,
    deliveriesPerSecond: 2000,
    latencyMs: { p50: 0.5, p90: 0.6, p99: 0.7, max: 0.8, mean: 0.55 },
    connectMs: 3,
    server: { pid: 1, cpuSeconds: 0.01, systemSeconds: 0, peakRssMiB: 40 },
    bench: { pid: 2, cpuSeconds: 0.02, systemSeconds: 0.01, peakRssMiB: 50 },
  };
  assert.match(formatReport(report, "test"), /p99 0\.70/);
  const table = formatSuiteTable([
    { name: "burst", description: "", parley: { report }, ncat: { report } },
    { name: "scale", description: "", parley: { report }, ncat: { skipped: "n/a" } },
  ]);
  assert.match(table, /\| burst +\| status +\| +complete \| +complete \| +\|/);
  assert.match(table, /deliveries\/s +\| +2,000 \| +2,000 \| +1\.00 \|/);
  assert.match(table, /\| scale +\| status +\| +complete \| +n\/a \|/);
});

Deno.test("bench flags: one line naming the flag, exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["bench", "--clients", "0"], /invalid value '0' for --clients/],
    [["bench", "--size", "10"], /invalid value '10' for --size/],
    [["bench", "--rate", "fast"], /invalid value 'fast' for --rate/],
    [["bench", "--target", "localhost"], /invalid value 'localhost' for --target/],
    [["bench", "--suite", "--clients", "5"], /--clients does not go with --suite/],
    [["bench", "--suite", "--scenarios", "burst,nope"], /invalid value 'nope' for --scenarios/],
    [["bench", "--scenarios", "burst"], /go with --suite/],
    [["bench", "--server-pid", "1"], /--server-pid goes with --target/],
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
  assert.match(help.stdout, /--stalled K/);
  assert.match((await runCli(["--help"])).stdout, /parley bench/);
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
