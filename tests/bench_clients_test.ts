/**
 * The bench's IRC and WebSocket client kinds: the scanner's IRC message
 * check and the client side of RFC 6455 without sockets (frames split at
 * every byte, fragments, pings, frames a server may not send), small runs of
 * each kind against the bench's own parley server, and runs against a fake
 * IRC-over-WebSocket relay that drops, cuts, splits or merges messages, which
 * the run must report. Nothing here asserts timings.
 */

import assert from "node:assert/strict";
import {
  CLIENT_KINDS,
  joinBytes,
  messageEncoder,
  nickOf,
  openingBytes,
} from "../src/bench/client_kinds.ts";
import {
  IRC_CHANNEL,
  PayloadEncoder,
  PayloadScanner,
  type Receiver,
} from "../src/bench/payload.ts";
import { type BenchReport, runBench } from "../src/bench/run.ts";
import { suiteChart } from "../src/bench/chart.ts";
import { renderChart } from "../src/bench/chart_svg.ts";
import type { GrowthReport } from "../src/bench/growth.ts";
import { formatSuiteTable, type ScenarioResult } from "../src/bench/report.ts";
import { parleyLimits, SCENARIOS } from "../src/bench/suite.ts";
import { formatVersus, versusFigures } from "../src/bench/versus.ts";
import {
  type FrameHandler,
  MaskedFrameWriter,
  readUpgradeAnswer,
  ServerFrameReader,
  upgradeRequest,
} from "../src/bench/websocket_client.ts";
import { HttpHeadReader } from "../src/net/http.ts";
import { WebSocketDecoder } from "../src/net/websocket_decoder.ts";
import { textFrame } from "../src/net/websocket_frames.ts";
import { acceptWebSocket } from "../src/net/websocket_handshake.ts";
import { runCli } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SIZE = 48;

function payload(sender: number, seq: number, timeUs = 1_000): string {
  return decoder.decode(new PayloadEncoder(SIZE).encode(sender, seq, timeUs)).trimEnd();
}

function receiver(self = -1, senders = 4): Receiver {
  return { self, nextSeq: new Int32Array(senders), readAtUs: 5_000 };
}

/** Scans one IRC message (no CR LF) as a WebSocket message or a line would be. */
function scanIrc(scanner: PayloadScanner, message: string, into = receiver()): boolean {
  const bytes = encoder.encode(message);
  return scanner.scanIrc(bytes, 0, bytes.length, into);
}

Deno.test("an IRC message with one whole payload is intact; anything else with a marker is altered", () => {
  const scanner = new PayloadScanner(SIZE, 4);
  const into = receiver(0);
  const source = ":bob!bob@vm PRIVMSG #lobby :";
  assert.equal(scanIrc(scanner, ":vm 001 bob :Welcome", into), false, "no payload: the caller's");
  assert.equal(scanIrc(scanner, `${source}${payload(1, 0)}`, into), true);
  assert.equal(scanner.intact, 1);
  assert.equal(scanner.latency.count, 1);
  // Cut, merged, with its CR LF left in the message, or with a source that has a space: altered.
  scanIrc(scanner, `${source}${payload(1, 1).slice(0, 30)}`, into);
  scanIrc(scanner, `${source}${payload(1, 2)}${payload(2, 0)}`, into);
  scanIrc(scanner, `${source}${payload(1, 3)}\r\n`, into);
  scanIrc(scanner, `:bob!bob@vm x PRIVMSG #lobby :${payload(1, 4)}`, into);
  scanIrc(scanner, `${payload(1, 5)}`, into);
  scanIrc(scanner, `:bob!bob@vm PRIVMSG #other :${payload(1, 6)}`, into);
  assert.equal(scanner.altered, 1 + 2 + 1 + 1 + 1 + 1);
  assert.equal(scanner.intact, 1);
  // A history replay, an echo, a repeat, a probe.
  scanIrc(scanner, `${source}[07:12] ${payload(1, 7)}`, into);
  assert.equal(scanner.replayed, 1);
  scanIrc(scanner, `${source}${payload(0, 0)}`, into);
  assert.equal(scanner.echoes, 1);
  scanIrc(scanner, `${source}${payload(1, 0)}`, into);
  assert.equal(scanner.duplicates, 1);
  scanIrc(scanner, `${source}${payload(1, 0xffffffff)}`, into);
  assert.equal(scanner.probes, 1);
  assert.equal(scanner.intact, 1);
  // The bounds are the message's: bytes after `end` are not part of it.
  const bytes = encoder.encode(`${source}${payload(2, 0)}junk`);
  assert.equal(scanner.scanIrc(bytes, 0, bytes.length - 4, into), true);
  assert.equal(scanner.intact, 2);
});

Deno.test("client frames are masked, and the server's codec reads them back", () => {
  const writer = new MaskedFrameWriter();
  const server = new WebSocketDecoder({ maxMessage: 100_000 });
  for (const text of ["NICK ann", "x".repeat(125), "y".repeat(126), "z".repeat(70_000)]) {
    const frame = writer.text(encoder.encode(text)).slice();
    assert.ok((frame[1] & 0x80) !== 0, "masked");
    server.push(frame);
    const event = server.next();
    assert.equal(event?.type, "text");
    assert.equal(decoder.decode(event!.type === "text" ? event!.data : undefined), text);
  }
  const encode = messageEncoder("websocket", 64);
  server.push(encode.encode(3, 7, 1234).slice());
  const message = server.next();
  assert.ok(message?.type === "text");
  assert.match(decoder.decode(message.data), new RegExp(`^PRIVMSG ${IRC_CHANNEL} :~pb.{61}$`));
  // Two frames' keys differ.
  const a = writer.text(encoder.encode("same")).slice(2, 6);
  const b = writer.text(encoder.encode("same")).slice(2, 6);
  assert.notDeepEqual(a, b);
});

Deno.test("what each kind sends to register and join", () => {
  assert.deepEqual(CLIENT_KINDS, ["line", "irc", "websocket"]);
  assert.equal(openingBytes("line", 3, { host: "h" }), null);
  assert.equal(joinBytes("line"), null);
  const nick = nickOf(3);
  assert.match(nick, /^b[a-z]{3}3$/);
  assert.equal(
    decoder.decode(openingBytes("irc", 3, { host: "h" })!),
    `NICK ${nick}\r\nUSER ${nick} 0 * :parley bench\r\n`,
  );
  assert.equal(
    decoder.decode(openingBytes("irc", 3, { host: "h", join: true })!),
    `NICK ${nick}\r\nUSER ${nick} 0 * :parley bench\r\nJOIN #lobby\r\n`,
  );
  assert.equal(decoder.decode(joinBytes("irc")!), "JOIN #lobby\r\n");
  assert.match(
    decoder.decode(messageEncoder("irc", 64).encode(1, 2, 3)),
    /^PRIVMSG #lobby :~pb.{61}\r\n$/,
  );

  // The WebSocket opening: a request head parley accepts, then the registration as frames.
  const opening = openingBytes("websocket", 3, { host: "127.0.0.1:1" })!;
  const head = new HttpHeadReader().push(opening);
  assert.equal(head.kind, "complete");
  const handshake = acceptWebSocket(head.kind === "complete" ? head.head : undefined!);
  assert.ok(handshake.ok);
  assert.equal(handshake.protocol, "text.ircv3.net");
  const frames = new WebSocketDecoder();
  frames.push(opening.slice(head.kind === "complete" ? head.head.length : 0));
  const lines: string[] = [];
  for (let event = frames.next(); event !== null; event = frames.next()) {
    if (event.type === "text") lines.push(decoder.decode(event.data));
  }
  assert.deepEqual(lines, [`NICK ${nick}`, `USER ${nick} 0 * :parley bench`]);
});

Deno.test("the upgrade answer: 101 and where frames start, or the refusal", () => {
  const head = encoder.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  );
  const accepted = new Uint8Array([...head, 0x81, 2, 0x68, 0x69]);
  assert.deepEqual(readUpgradeAnswer(accepted.subarray(0, 30)), { kind: "more" });
  assert.deepEqual(readUpgradeAnswer(accepted), { kind: "accepted", length: accepted.length - 4 });
  assert.deepEqual(
    readUpgradeAnswer(encoder.encode("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")),
    { kind: "refused", statusLine: "HTTP/1.1 403 Forbidden" },
  );
  assert.deepEqual(readUpgradeAnswer(encoder.encode("*** welcome to parley\n*** 1 online")), {
    kind: "refused",
    statusLine: "not HTTP: *** welcome to parley",
  });
  assert.deepEqual(readUpgradeAnswer(encoder.encode("HTT")), { kind: "more" });
  assert.equal(
    readUpgradeAnswer(encoder.encode("HTTP/1.1 101 " + "x".repeat(9000))).kind,
    "refused",
  );
  assert.match(decoder.decode(upgradeRequest("h:1")), /^GET \/ HTTP\/1\.1\r\nHost: h:1\r\n/);
});

/** Collects what a reader hands over. */
function collector(): FrameHandler & { got: string[] } {
  const got: string[] = [];
  return {
    got,
    message: (bytes, start, end) => got.push(decoder.decode(bytes.subarray(start, end))),
    ping: (bytes, start, end) => got.push(`ping:${decoder.decode(bytes.subarray(start, end))}`),
    close: () => got.push("close"),
  };
}

/** Feeds `bytes` to a reader in pieces of `step`, keeping the unread rest as the bench does. */
function feed(reader: ServerFrameReader, bytes: Uint8Array, step: number, handler: FrameHandler) {
  const buffer = new Uint8Array(bytes.length);
  let filled = 0;
  for (let at = 0; at < bytes.length; at += step) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + step));
    buffer.set(piece, filled);
    filled += piece.length;
    const used = reader.read(buffer, filled, handler);
    assert.ok(used >= 0, reader.error ?? "");
    buffer.copyWithin(0, used, filled);
    filled -= used;
  }
  assert.equal(filled, 0);
}

Deno.test("server frames are read however the bytes are split, fragments joined", () => {
  const long = "L".repeat(300);
  const fragmented = [
    new Uint8Array([0x01, 3, ...encoder.encode("abc")]), // text, not final
    new Uint8Array([0x89, 1, ...encoder.encode("p")]), // a ping between fragments
    new Uint8Array([0x00, 2, ...encoder.encode("de")]), // continuation
    new Uint8Array([0x80, 1, ...encoder.encode("f")]), // final continuation
  ];
  const parts = [
    textFrame("one"),
    textFrame(long),
    ...fragmented,
    textFrame("two"),
    new Uint8Array([0x8a, 0]), // a pong: nothing
    new Uint8Array([0x88, 2, 0x03, 0xe8]), // close 1000
  ];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  for (const step of [1, 2, 3, 7, 64, all.length]) {
    const handler = collector();
    feed(new ServerFrameReader(), all, step, handler);
    assert.deepEqual(
      handler.got,
      ["one", long, "ping:p", "abcdef", "two", "close"],
      `step ${step}`,
    );
  }
});

Deno.test("a frame a server may not send fails the connection", () => {
  const cases: [number[], RegExp][] = [
    [[0x81, 0x82, 1, 2, 3, 4, 0, 0], /masked/],
    [[0xc1, 0], /reserved/],
    [[0x83, 0], /opcode 3/],
    [[0x09, 0], /fragmented control/],
    [[0x89, 126, 0, 126], /control frame over 125/],
    [[0x80, 0], /no message to continue/],
    [[0x01, 1, 0x61, 0x81, 1, 0x62], /inside a fragmented/],
  ];
  for (const [bytes, why] of cases) {
    const reader = new ServerFrameReader();
    assert.equal(reader.read(new Uint8Array(bytes), bytes.length, collector()), -1, String(why));
    assert.match(reader.error!, why);
  }
});

function assertComplete(report: BenchReport, kind: string): void {
  assert.equal(report.clientKind, kind);
  assert.equal(report.status, "complete", JSON.stringify(report));
  assert.equal(report.delivered, report.expected);
  assert.equal(report.lost, 0);
  assert.equal(report.altered, 0);
  assert.equal(report.unattributed, 0);
  assert.equal(report.duplicates, 0);
  assert.equal(report.echoes, 0, "no echo-message asked for");
  assert.equal(report.disconnected, 0);
  assert.equal(report.failed, 0, report.firstFailure ?? "");
}

for (const kind of ["websocket", "irc"] as const) {
  Deno.test(`a small run of ${kind} clients against the bench's own parley loses nothing`, async () => {
    const result = await runCli(
      [
        "bench",
        "--client-kind",
        kind,
        "--clients",
        "5",
        "--messages",
        "30",
        "--idle",
        "2",
        "--stalled",
        "1",
        "--json",
      ],
      { timeout: 60_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as BenchReport;
    assertComplete(report, kind);
    assert.equal(report.expected, 5 * 30 * 6);
    assert.ok(report.joinMs != null && report.joinMs <= report.connectMs);
    if (Deno.build.os === "linux") assert.equal(report.stalledCut, 0);
  });
}

Deno.test("--client-kind takes line, irc or websocket", async () => {
  const result = await runCli(["bench", "--clients", "2", "--client-kind", "telnet"], {
    timeout: 30_000,
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--client-kind.*line, irc, websocket/);
});

/** How the fake relay damages the relayed message of sender 1's seq 3 (each receiver's copy). */
type Damage = "none" | "drop" | "cut" | "split" | "merge" | "crlf" | "masked";

/**
 * A fake IRC-over-WebSocket relay: answers the upgrade, welcomes, answers
 * JOIN with 366, relays each PRIVMSG #lobby to the others as one frame, and
 * damages one message as told.
 */
function fakeWebSocketRelay(damage: Damage) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peers = new Set<{ conn: Deno.Conn; nick: string }>();
  const tasks = new Set<Promise<void>>();
  const send = (conn: Deno.Conn, bytes: Uint8Array) => conn.write(bytes).catch(() => 0);
  const frameOf = (text: string) => textFrame(text).slice();
  async function serve(conn: Deno.Conn) {
    const peer = { conn, nick: "" };
    const buffer = new Uint8Array(64 * 1024);
    const head = new HttpHeadReader();
    let headBytes = 0;
    let frames: WebSocketDecoder | null = null;
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        let bytes = buffer.slice(0, n);
        if (frames === null) {
          const result = head.push(bytes);
          if (result.kind !== "complete") {
            headBytes += n;
            continue;
          }
          await send(conn, acceptWebSocket(result.head).response);
          frames = new WebSocketDecoder();
          bytes = bytes.slice(result.head.length - headBytes);
        }
        frames.push(bytes);
        for (let event = frames.next(); event !== null; event = frames.next()) {
          if (event.type !== "text") continue;
          const line = decoder.decode(event.data);
          if (line.startsWith("NICK ")) {
            peer.nick = line.slice(5);
            await send(conn, frameOf(`:fake 001 ${peer.nick} :hi`));
          } else if (line.startsWith("JOIN ")) {
            peers.add(peer);
            await send(conn, frameOf(`:fake 366 ${peer.nick} #lobby :End of /NAMES list`));
          } else if (line.startsWith("PRIVMSG #lobby :")) {
            const text = line.slice("PRIVMSG #lobby :".length);
            const out = `:${peer.nick}!u@fake PRIVMSG #lobby :${text}`;
            const hit = text.slice(7, 21) === "00000100000003"; // sender 1, seq 3
            for (const other of peers) {
              if (other === peer) continue;
              if (!hit || damage === "none") await send(other.conn, frameOf(out));
              else if (damage === "drop") continue;
              else if (damage === "cut") await send(other.conn, frameOf(out.slice(0, -10)));
              else if (damage === "split") {
                await send(other.conn, frameOf(out.slice(0, 50)));
                await send(other.conn, frameOf(out.slice(50)));
              } else if (damage === "merge") await send(other.conn, frameOf(`${out}\r\n${out}`));
              else if (damage === "crlf") await send(other.conn, frameOf(`${out}\r\n`));
              else if (damage === "masked") {
                await send(other.conn, new MaskedFrameWriter().text(encoder.encode(out)).slice());
              }
            }
          }
        }
      }
    } catch {
      // closed
    } finally {
      peers.delete(peer);
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  }
  const accepting = (async () => {
    for await (const conn of listener) {
      const task = serve(conn);
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const peer of peers) {
        try {
          peer.conn.close();
        } catch {
          // closed already
        }
      }
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  };
}

Deno.test("a WebSocket relay that loses, cuts, splits or merges a message is caught", async () => {
  const expectations: [Damage, (report: BenchReport) => void][] = [
    ["none", (r) => assertComplete(r, "websocket")],
    ["drop", (r) => assert.equal(r.lost, 3, "sender 1's message 3, at its 3 receivers")],
    ["cut", (r) => assert.equal(r.altered, 3)],
    ["split", (r) => assert.equal(r.altered, 3, "each half has the marker or not: one altered")],
    ["merge", (r) => assert.ok(r.altered >= 3)],
    ["crlf", (r) => assert.equal(r.altered, 3, "a CR LF inside a message is not IRCv3 WebSocket")],
    ["masked", (r) => assert.ok((r.failed ?? 0) >= 1 && /masked/.test(r.firstFailure ?? ""))],
  ];
  for (const [damage, check] of expectations) {
    const relay = fakeWebSocketRelay(damage);
    try {
      const report = await runBench({
        host: "127.0.0.1",
        port: relay.port,
        clients: 3,
        messages: 6,
        rate: 0,
        size: 64,
        idle: 1,
        stalled: 0,
        stallTimeout: 1000,
        timeLimit: 20_000,
        clientKind: "websocket",
      });
      check(report);
      if (damage !== "none") {
        assert.notEqual(report.status, "complete", damage);
        assert.ok(report.delivered < report.expected, damage);
      }
    } finally {
      await relay.close();
    }
  }
});

function sampleReport(changes: Partial<BenchReport> = {}): BenchReport {
  return {
    target: "127.0.0.1:1",
    clients: 100,
    messages: 500,
    rate: 0,
    size: 64,
    idle: 0,
    stalled: 0,
    status: "complete",
    sent: 50_000,
    expected: 4_950_000,
    delivered: 4_950_000,
    unattributed: 0,
    lost: 0,
    altered: 0,
    duplicates: 0,
    echoes: 0,
    disconnected: 0,
    lostAtCutReaders: 0,
    stalledCut: null,
    seconds: 1,
    deliveriesPerSecond: 4_950_000,
    latencyMs: { p50: 1, p90: 2, p99: 3, max: 4, mean: 1.5 },
    connectMode: "window",
    connectMs: 1_000,
    greetingMs: null,
    slowConnects: 0,
    server: { pid: 1, cpuSeconds: 1, systemSeconds: 0.5, peakRssMiB: 90 },
    servers: null,
    bench: { pid: 2, cpuSeconds: 1, systemSeconds: 0.5, peakRssMiB: 100 },
    ...changes,
  };
}

function sampleGrowth(kib: number): GrowthReport {
  const process = { pid: 1, cpuSeconds: 1, systemSeconds: 0.5, peakRssMiB: 150 };
  return {
    target: "127.0.0.1:1",
    baseRssMiB: 55,
    levels: [{
      connections: 10_000,
      rssMiB: 55 + kib * 10_000 / 1024,
      kibPerConnection: kib,
      kibPerAddedConnection: null,
      connectMs: 5_000,
      delivered: 39_996,
      expected: 39_996,
      disconnected: 0,
    }],
    skipped: [],
    fileLimits: { bench: 20_000, server: 20_000 },
    sources: [],
    greetingMs: null,
    slowConnects: 0,
    server: process,
    bench: process,
  };
}

/** The three comparisons as the suite makes them: WebSocket clients' run against line clients'. */
function versusResults(): ScenarioResult[] {
  const common = {
    description: "",
    parleyCommand: "deno run -A --v8-flags=--max-semi-space-size=8 main.ts server",
    ncat: { skipped: "n/a (WebSocket clients against parley's own line clients)" },
    clientKind: "websocket" as const,
  };
  const server = (cpuSeconds: number) => ({
    pid: 1,
    cpuSeconds,
    systemSeconds: 0.2,
    peakRssMiB: 120,
  });
  return [
    {
      ...common,
      name: "burst-ws",
      label: "burst-ws",
      kind: "load",
      target: "nothing lost; deliveries/s ≥ 0.8× and server CPU ≤ 1.3× the line clients'",
      parley: {
        report: sampleReport({
          clientKind: "websocket",
          deliveriesPerSecond: 3_000_000,
          server: server(1),
          deliveringCpuSeconds: 0.9,
        }),
      },
      versus: {
        kind: "line",
        outcome: { report: sampleReport({ deliveriesPerSecond: 4_000_000, server: server(0.6) }) },
      },
    },
    {
      ...common,
      name: "scale-ws",
      label: "scale-ws",
      kind: "load",
      parley: {
        report: sampleReport({
          clientKind: "websocket",
          status: "cut",
          disconnected: 3,
          lost: 15,
          delivered: 4_949_985,
          server: server(8),
        }),
      },
      versus: { kind: "line", outcome: { report: sampleReport({ server: server(7) }) } },
    },
    {
      ...common,
      name: "idle-ws",
      label: "idle-ws",
      kind: "growth",
      parley: { growth: sampleGrowth(12) },
      versus: { kind: "line", outcome: { growth: sampleGrowth(10) } },
    },
  ];
}

Deno.test("a comparison of client kinds: the figures side by side, the targets judged", () => {
  const [burst, scale, idle] = versusResults();
  const figures = (result: ScenarioResult) =>
    Object.fromEntries(versusFigures(result).map((f) => [f.label, f]));
  const b = figures(burst);
  assert.equal(b["nothing lost"].met, true);
  assert.equal(b["deliveries/s"].ratio, 0.75);
  assert.equal(b["deliveries/s"].met, false, "0.75 < 0.8");
  assert.ok(Math.abs(b["server CPU s"].ratio! - 1 / 0.6) < 1e-9);
  assert.equal(b["server CPU s"].met, false);
  const s = figures(scale);
  assert.equal(s["nothing lost"].met, false, "readers cut");
  assert.equal(s["server CPU s"].met, true, "8/7 ≤ 1.3");
  const i = figures(idle);
  assert.equal(i["KiB per connection"].ratio, 1.2);
  assert.equal(i["KiB per connection"].met, true);

  const text = formatVersus(versusResults());
  assert.match(text, /burst-ws: WebSocket clients against line clients/);
  assert.match(
    text,
    /\| deliveries\/s +\| +3,000,000 \| +4,000,000 \| +0\.75 \| ≥ 0\.8×: \*\*not met\*\* +\|/,
  );
  assert.match(
    text,
    /\| server CPU s +\| +1\.00 \| +0\.60 \| +1\.67 \| ≤ 1\.3×: \*\*not met\*\* +\|/,
  );
  assert.match(text, /\| … of which delivering +\| +0\.90 \| +n\/a/);
  assert.match(
    text,
    /\| status +\| +cut \| +complete \| +\| all delivered intact, no reader cut: \*\*not met\*\*/,
  );
  assert.match(
    text,
    /\| KiB per connection +\| +12\.00 \| +10\.00 \| +1\.20 \| ≤ 1\.25×: \*\*met\*\* +\|/,
  );
  assert.equal(formatVersus([]), "");
  // The main table leaves comparisons out: they have no ncat column.
  assert.doesNotMatch(formatSuiteTable(versusResults()), /burst-ws/);
});

Deno.test("the chart draws each comparison's figures with the two kinds as its bars", () => {
  const chart = suiteChart(versusResults(), {
    date: new Date("2026-12-06T07:00:00Z"),
    commit: "abc1234",
    cpus: 2,
    cpuModel: "CPU",
    deno: "2.9.6",
    loadBefore: "0.5",
    loadAfter: "1.0",
  });
  const titles = chart.panels.map((panel) => panel.title);
  assert.deepEqual(titles, [
    "WebSocket vs line clients: deliveries/s, burst-ws",
    "WebSocket vs line clients: deliveries/s, scale-ws",
    "WebSocket vs line clients: server CPU s",
    "WebSocket vs line clients: KiB per connection",
  ]);
  assert.equal(chart.title, "parley: WebSocket clients against line clients (deno task bench)");
  assert.deepEqual(chart.series, ["WebSocket clients", "line clients"]);
  const [deliveries, , cpu, memory] = chart.panels;
  assert.deepEqual(deliveries.series, ["WebSocket clients", "line clients"]);
  assert.deepEqual(deliveries.rows.map((row) => row.label), ["burst-ws"]);
  const burst = deliveries.rows[0];
  assert.equal(burst.parley.value, 3_000_000);
  assert.equal(burst.ncat.value, 4_000_000);
  assert.equal(burst.target?.value, 0.8 * 4_000_000);
  assert.equal(burst.target?.met, false);
  assert.match(cpu.rows[1].parley.text, /3 readers cut/);
  assert.equal(cpu.rows[1].target?.met, true);
  assert.equal(memory.rows[0].target?.value, 12.5);
  const svg = renderChart(chart);
  assert.match(svg, /WebSocket clients \/ line/);
  assert.match(svg, /burst-ws, WebSocket clients: 3\.00 M\/s/);
});

Deno.test("the suite compares WebSocket clients with line clients, parley run as deno task server runs it", () => {
  const byName = new Map(SCENARIOS.map((scenario) => [scenario.name, scenario]));
  for (const name of ["burst-ws", "scale-ws", "idle-ws"]) {
    const scenario = byName.get(name);
    assert.ok(scenario && scenario.kind !== "channel", name);
    assert.equal(scenario.clientKind, "websocket", name);
    assert.equal(scenario.versus, "line", name);
    assert.equal(scenario.taskFlags, true, name);
    assert.deepEqual(Object.keys(parleyLimits(scenario)), ["maxClients"]);
  }
  const burst = byName.get("burst-ws")!;
  const plain = byName.get("burst")!;
  assert.ok(burst.kind === "load" && plain.kind === "load");
  assert.deepEqual(
    [burst.clients, burst.messages, burst.rate, burst.size, burst.idle],
    [plain.clients, plain.messages, plain.rate, plain.size, plain.idle],
  );
  const scale = byName.get("scale-ws")!;
  assert.ok(scale.kind === "load" && scale.clients + scale.idle === 10_000);
  const idle = byName.get("idle-ws")!;
  assert.ok(idle.kind === "growth" && idle.levels.length === 1 && idle.levels[0] === 10_000);
});
