/**
 * Metrics: the registry's text rendering (exact), the server's families, and
 * the `--metrics` endpoint scraped by the real `curl`.
 */

import { CommandError } from "../src/errors.ts";
import assert from "node:assert/strict";
import process from "node:process";
import { ServerMetrics } from "../src/metrics.ts";
import { MetricsListenError, serveMetrics } from "../src/metrics_endpoint.ts";
import {
  Counter,
  escapeLabelValue,
  formatValue,
  Gauge,
  METRICS_CONTENT_TYPE,
  MetricsRegistry,
} from "../src/metrics_registry.ts";
import { withDeadline } from "./helpers.ts";

Deno.test("metrics: a small registry renders exactly, in registration order", () => {
  const registry = new MetricsRegistry();
  const accepted = registry.counter("demo_accepted_total", "Connections accepted.");
  const online = registry.gauge("demo_online", "Clients online, per front end.", {
    name: "frontend",
    values: ["line", "irc"],
  });
  const queued = registry.gauge("demo_queued_bytes", "Bytes queued.");
  let queuedNow = 0;
  queued.sample = () => queuedNow;

  accepted.inc();
  accepted.value += 2;
  online.of.line.inc();
  online.of.line.inc();
  online.of.irc.inc();
  online.of.line.dec();
  queuedNow = 4096;

  assert.equal(
    registry.render(),
    [
      "# HELP demo_accepted_total Connections accepted.",
      "# TYPE demo_accepted_total counter",
      "demo_accepted_total 3",
      "# HELP demo_online Clients online, per front end.",
      "# TYPE demo_online gauge",
      'demo_online{frontend="line"} 1',
      'demo_online{frontend="irc"} 1',
      "# HELP demo_queued_bytes Bytes queued.",
      "# TYPE demo_queued_bytes gauge",
      "demo_queued_bytes 4096",
      "",
    ].join("\n"),
  );
  queuedNow = 0;
  assert.match(
    registry.render(),
    /^demo_queued_bytes 0\n$/m,
    "the callback is read at each scrape",
  );
});

Deno.test("metrics: label values and help texts are escaped; special values spelled as Prometheus reads them", () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const registry = new MetricsRegistry();
  const odd = registry.counter(
    "demo_odd_total",
    'Help with a \\ backslash,\na line feed and "quotes".',
    {
      name: "path",
      values: ['C:\\dir "x"\nnext'],
    },
  );
  odd.of['C:\\dir "x"\nnext'].inc(0.5);
  assert.equal(
    registry.render(),
    '# HELP demo_odd_total Help with a \\\\ backslash,\\na line feed and "quotes".\n' +
      "# TYPE demo_odd_total counter\n" +
      'demo_odd_total{path="C:\\\\dir \\"x\\"\\nnext"} 0.5\n',
  );
  assert.deepEqual(
    [NaN, Infinity, -Infinity, 0, -2, 1.25, 2 ** 53].map(formatValue),
    ["NaN", "+Inf", "-Inf", "0", "-2", "1.25", "9007199254740992"],
  );
});

Deno.test("metrics: labelled series are objects taken once; new label values are added from 0", () => {
  const registry = new MetricsRegistry();
  const byReason = registry.counter("demo_left_total", "Left.", {
    name: "reason",
    values: ["quit"],
  });
  assert.ok(byReason.of.quit instanceof Counter);
  assert.equal(byReason.labels("quit"), byReason.of.quit, "the same series either way");
  byReason.labels("kicked").inc();
  byReason.labels("kicked").inc();
  assert.equal(
    registry.render(),
    "# HELP demo_left_total Left.\n# TYPE demo_left_total counter\n" +
      'demo_left_total{reason="quit"} 0\ndemo_left_total{reason="kicked"} 2\n',
  );
  assert.ok(registry.gauge("demo_plain", "A gauge.") instanceof Gauge);
});

Deno.test("metrics: names Prometheus would refuse are refused at registration", () => {
  const registry = new MetricsRegistry();
  registry.counter("demo_total", "Once.");
  assert.throws(() => registry.counter("demo_total", "Twice."), /registered twice/);
  assert.throws(() => registry.gauge("demo_total", "Twice."), /registered twice/);
  assert.throws(() => registry.counter("demo_count", "No suffix."), /ends in _total/);
  assert.throws(() => registry.gauge("9lives", "Digit first."), /not valid/);
  assert.throws(() => registry.gauge("has-dash", "Dash."), /not valid/);
  assert.throws(
    () => registry.gauge("demo_g", "Bad label.", { name: "__reserved", values: ["x"] }),
    /label name/,
  );
  assert.throws(
    () => registry.gauge("demo_h", "Bad label.", { name: "a-b", values: ["x"] }),
    /label name/,
  );
  assert.throws(
    () => registry.gauge("demo_i", "Twice.", { name: "v", values: ["x", "x"] }),
    /given twice/,
  );
});

Deno.test("metrics: the server's families, one HELP and TYPE each, every sample well formed", () => {
  const metrics = new ServerMetrics({ version: "9.8.7", cpuUsage: () => process.cpuUsage() });
  metrics.connectionsAccepted.inc();
  metrics.clientsOnline.of.irc.inc();
  metrics.messagesReceived.of.line.value += 3;
  metrics.deliveries.value += 40;
  metrics.bytesSent.inc(1234);
  metrics.refused("per-address");
  metrics.refused("full");
  metrics.disconnected("send queue exceeded");
  metrics.disconnected("quit");
  metrics.sendQueueBytes.sample = () => 777;
  const text = metrics.render();
  assert.ok(text.endsWith("\n"));
  assert.equal(metrics.clusterLinkUp, null);
  assert.doesNotMatch(text, /cluster_link_up/, "only when clustered");

  const families: string[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP (\S+) \S.*$/.exec(line);
    if (help) {
      families.push(help[1]);
      continue;
    }
    const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
    if (type) {
      assert.equal(type[1], families.at(-1), `TYPE right after HELP: ${line}`);
      if (type[2] === "counter") assert.match(type[1], /_total$/);
      continue;
    }
    const sample = /^([a-z_]+)(\{[a-z_]+="[^"\\\n]*"\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${JSON.stringify(line)}`);
    assert.equal(sample[1], families.at(-1), `a sample of the family just announced: ${line}`);
    assert.ok(Number.isFinite(Number(sample[3])), line);
  }
  assert.deepEqual(families, [
    "parley_info",
    "parley_clients_online",
    "parley_connections_accepted_total",
    "parley_connections_refused_total",
    "parley_messages_received_total",
    "parley_private_messages_total",
    "parley_deliveries_total",
    "parley_bytes_received_total",
    "parley_bytes_sent_total",
    "parley_disconnects_total",
    "parley_send_queue_bytes",
    "parley_flood_throttled_reads_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_start_time_seconds",
  ]);
  for (
    const expected of [
      'parley_info{version="9.8.7"} 1',
      'parley_clients_online{frontend="line"} 0',
      'parley_clients_online{frontend="irc"} 1',
      "parley_connections_accepted_total 1",
      'parley_connections_refused_total{reason="full"} 1',
      'parley_connections_refused_total{reason="per_address"} 1',
      'parley_connections_refused_total{reason="tls_handshake"} 0',
      'parley_messages_received_total{frontend="line"} 3',
      "parley_deliveries_total 40",
      "parley_bytes_sent_total 1234",
      'parley_disconnects_total{reason="send_queue_exceeded"} 1',
      'parley_disconnects_total{reason="quit"} 1',
      'parley_disconnects_total{reason="shutdown"} 0',
      "parley_send_queue_bytes 777",
    ]
  ) {
    assert.ok(text.split("\n").includes(expected), `has ${expected}`);
  }
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  assert.ok(value("process_resident_memory_bytes") > 1024 * 1024);
  assert.ok(value("process_cpu_seconds_total") > 0);
  const started = value("process_start_time_seconds");
  assert.ok(started <= Date.now() / 1000 && started > Date.now() / 1000 - 3600, `${started}`);

  const clustered = new ServerMetrics({ version: "1", clustered: true });
  clustered.clusterLinkUp!.set(1);
  assert.match(
    clustered.render(),
    /^# HELP parley_cluster_link_up .+\n# TYPE parley_cluster_link_up gauge\nparley_cluster_link_up 1\n/m,
  );
  assert.doesNotMatch(clustered.render(), /process_cpu_seconds_total/, "no CPU clock given");
});

/** `curl -s -i` (plus `args`): the status line, the headers (lower case) and the body. */
async function curl(
  url: string,
  ...args: string[]
): Promise<{ code: number; status: number; headers: Map<string, string>; body: string }> {
  const output = await new Deno.Command("curl", {
    args: ["-s", "-i", "--max-time", "5", ...args, url],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const split = text.indexOf("\r\n\r\n");
  const head = split === -1 ? text : text.slice(0, split);
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const headers = new Map(headerLines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
  }));
  return {
    code: output.code,
    status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body: split === -1 ? "" : text.slice(split + 4),
  };
}

/** The page with the values that change by themselves (memory, CPU time) blanked out. */
function withoutMovingValues(text: string): string {
  return text.replace(/^(process_(?:resident_memory_bytes|cpu_seconds_total)) \S+$/gm, "$1 _");
}

Deno.test("metrics endpoint: curl scrapes the counters; HEAD, /, 404 and 405; stops on abort", async () => {
  const metrics = new ServerMetrics({ version: "0.1.0" });
  const controller = new AbortController();
  let listening: Deno.NetAddr | null = null;
  const endpoint = serveMetrics({ hostname: "127.0.0.1", port: 0 }, metrics, {
    signal: controller.signal,
    onListening: (addr) => listening = addr,
  });
  try {
    const port = endpoint.addr.port;
    assert.ok(port > 0);
    assert.deepEqual(listening, endpoint.addr, "onListening gets the real address");
    const base = `http://127.0.0.1:${port}`;

    for (let i = 0; i < 3; i++) metrics.connectionsAccepted.inc();
    metrics.clientsOnline.of.line.inc();
    metrics.bytesReceived.value += 512;
    metrics.disconnected("reset");

    const scrape = await curl(`${base}/metrics`);
    assert.equal(scrape.code, 0);
    assert.equal(scrape.status, 200);
    assert.equal(scrape.headers.get("content-type"), METRICS_CONTENT_TYPE);
    assert.equal(withoutMovingValues(scrape.body), withoutMovingValues(metrics.render()));
    const lines = scrape.body.split("\n");
    assert.ok(lines.includes("parley_connections_accepted_total 3"), scrape.body);
    assert.ok(lines.includes('parley_clients_online{frontend="line"} 1'));
    assert.ok(lines.includes("parley_bytes_received_total 512"));
    assert.ok(lines.includes('parley_disconnects_total{reason="reset"} 1'));

    metrics.connectionsAccepted.inc();
    const again = await curl(`${base}/metrics`);
    assert.ok(again.body.split("\n").includes("parley_connections_accepted_total 4"), "live");

    const head = await curl(`${base}/metrics`, "-I");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), METRICS_CONTENT_TYPE);
    assert.ok(Number(head.headers.get("content-length")) > 1000, "the length of the page");
    assert.equal(head.body, "", "HEAD has no body");

    const root = await curl(`${base}/`);
    assert.equal(root.status, 200);
    assert.match(root.body, /^[^\n]*\/metrics[^\n]*\n$/, "one line pointing at /metrics");

    const missing = await curl(`${base}/metricz`);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /not found/);

    const posted = await curl(`${base}/metrics`, "-X", "POST", "-d", "x=1");
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get("allow"), "GET, HEAD");
  } finally {
    controller.abort();
    await endpoint.finished;
  }
  const after = await curl(`http://127.0.0.1:${endpoint.addr.port}/metrics`);
  assert.equal(after.code, 7, "curl cannot connect once the endpoint stopped");
});

Deno.test("metrics endpoint: a failing sample answers 500 and is reported once", async () => {
  const registry = new MetricsRegistry();
  registry.gauge("demo_broken", "Breaks.").sample = () => {
    throw new Error("no /proc here");
  };
  const errors: string[] = [];
  const controller = new AbortController();
  const endpoint = serveMetrics({ hostname: "127.0.0.1", port: 0 }, registry, {
    signal: controller.signal,
    onError: (message) => errors.push(message),
  });
  try {
    const answer = await curl(`http://127.0.0.1:${endpoint.addr.port}/metrics`);
    assert.equal(answer.status, 500);
    assert.deepEqual(errors, ["metrics scrape failed: no /proc here"]);
  } finally {
    controller.abort();
    await endpoint.finished;
  }
});

Deno.test("metrics endpoint: a port in use is one clear error, exit-code-1 kind", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const controller = new AbortController();
  try {
    assert.throws(
      () =>
        serveMetrics({ hostname: "127.0.0.1", port }, new MetricsRegistry(), {
          signal: controller.signal,
        }),
      (error: unknown) => {
        assert.ok(error instanceof MetricsListenError);
        assert.ok(error instanceof CommandError, "main.ts prints it as one line and exits 1");
        assert.equal(
          error.message,
          `cannot listen on 127.0.0.1:${port} for --metrics: address already in use`,
        );
        return true;
      },
    );
  } finally {
    controller.abort();
    taken.close();
  }
});

Deno.test("metrics endpoint: an IPv6 address is written in brackets in the error", () => {
  let taken: Deno.Listener;
  try {
    taken = Deno.listen({ hostname: "::1", port: 0 });
  } catch {
    return; // no IPv6 loopback here
  }
  const port = (taken.addr as Deno.NetAddr).port;
  const controller = new AbortController();
  try {
    assert.throws(
      () =>
        serveMetrics({ hostname: "::1", port }, new MetricsRegistry(), {
          signal: controller.signal,
        }),
      { message: `cannot listen on [::1]:${port} for --metrics: address already in use` },
    );
  } finally {
    controller.abort();
    taken.close();
  }
});

Deno.test("metrics endpoint: a scraper's kept-alive connection does not hold up the stop", async () => {
  const controller = new AbortController();
  const endpoint = serveMetrics(
    { hostname: "127.0.0.1", port: 0 },
    new ServerMetrics({ version: "0.1.0" }),
    { signal: controller.signal },
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: endpoint.addr.port });
  try {
    await conn.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: parley\r\n\r\n"));
    const buffer = new Uint8Array(64 * 1024);
    const first = await withDeadline(conn.read(buffer), 5000, "the response");
    assert.match(
      new TextDecoder().decode(buffer.subarray(0, first ?? 0)),
      /^HTTP\/1\.1 200 OK\r\n/,
    );
    controller.abort();
    await withDeadline(endpoint.finished, 5000, "the stop");
    assert.equal(
      await withDeadline(conn.read(buffer), 5000, "the close"),
      null,
      "the server closed it",
    );
  } finally {
    controller.abort();
    conn.close();
    await endpoint.finished;
  }
});
