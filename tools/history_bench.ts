/**
 * History at scale (issue 21; BENCHMARKS.md, "History"): a `--data` file (and
 * a Redis) holding 1,000,000 messages in 100 rooms, and what that costs.
 *
 *     deno run -A tools/history_bench.ts [--messages N] [--rooms R] [--pairs P]
 *                                        [--redis] [--only sqlite|redis] [--keep DIR]
 *
 * For the `--data` file, then (with `--redis`, needing redis-server) for Redis:
 *
 * 1. **fill**: the messages written as parley writes them (ids, times spread
 *    over the last 25 days, the search index built), straight into the file
 *    (or Redis) rather than through a server: the size per million messages;
 * 2. **start**: a server started on it, as users run it: the time from spawn
 *    to listening, and its RSS once started, against an empty store;
 * 3. **paced**: `parley bench`'s paced scenario (100 clients × 10 messages/s
 *    for 10 s, one room) against the full store and against an empty one,
 *    `--pairs` times, alternating: p99 and server CPU; on the full store, an
 *    IRC client meanwhile asks `CHATHISTORY BEFORE #rN msgid=… 100` 25 times a
 *    second at random places in 50 rooms: its p50/p99 (send to end of batch);
 * 4. **prune**: a pass deleting every message (a clock 60 days ahead, with
 *    `--history-days 30`), in the background steps parley runs, with the
 *    event loop watched every millisecond: the longest stall (SQLite), or the
 *    longest Redis round trip while Redis prunes (Redis).
 *
 * Nothing here is a test: it prints figures; the bounds of issue 21 are
 * printed beside them.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { createClient } from "npm:@redis/client@5.12.1";
import { SqliteStore } from "../src/store/sqlite.ts";
import { RedisHistory } from "../src/store/redis/history.ts";
import { RedisLink } from "../src/store/redis/link.ts";
import { DAY_MS } from "../src/core/history.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const args = parseArgs(Deno.args);
const MESSAGES = Number(args.messages ?? 1_000_000);
const ROOMS = Number(args.rooms ?? 100);
const PAIRS = Number(args.pairs ?? 2);
const NOW = Date.now();
const FROM = NOW - 25 * DAY_MS;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parseArgs(list: string[]): Record<string, string> {
  const found: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const name = list[i].replace(/^--/, "");
    if (name === "redis") found.redis = "1";
    else found[name] = list[++i];
  }
  return found;
}

function say(line: string): void {
  console.log(line);
}

// The messages: deterministic, so any message's id can be named again.

/** The time of message `i`, spread evenly over the last 25 days. */
function timeOf(i: number): number {
  return FROM + Math.floor(i * (25 * DAY_MS) / MESSAGES);
}

/** Message `i`'s id, in parley's form (time, a tag, a counter). */
function msgidOf(i: number): string {
  return timeOf(i).toString(36) + "fill" + (i % 36 ** 3).toString(36).padStart(3, "0");
}

const WORDS = (() => {
  const syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "gu"];
  const words: string[] = [];
  for (let i = 0; words.length < 3000; i++) {
    let word = "";
    for (let n = i; word.length < 4 || n > 0; n = Math.floor(n / 12)) word += syllables[n % 12];
    words.push(word);
  }
  return words;
})();

/** About 60 bytes of words, different for every message. */
function textOf(i: number): string {
  let seed = (i * 2654435761) >>> 0;
  const words: string[] = [];
  let length = 0;
  while (length < 60) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const word = WORDS[seed % WORDS.length];
    words.push(word);
    length += word.length + 1;
  }
  return words.join(" ");
}

function roomOf(i: number): string {
  return `r${i % ROOMS}`;
}

function eventOf(i: number) {
  return {
    kind: "message",
    room: roomOf(i),
    seq: Math.floor(i / ROOMS) + 1,
    id: msgidOf(i),
    time: timeOf(i),
    origin: `fill:${i % 500}`,
    nick: `user${i % 500}`,
    user: `user${i % 500}`,
    text: textOf(i),
    action: false,
  };
}

/** A random message of room `room` with at least 100 before it in that room. */
function somewhere(room: number): number {
  const rounds = Math.floor(MESSAGES / ROOMS);
  const round = 100 + Math.floor(Math.random() * (rounds - 100));
  return round * ROOMS + room;
}

// Filling.

function fillSqlite(path: string): { withoutIndex: number; size: number; seconds: number } {
  const started = performance.now();
  SqliteStore.open(path, { historySize: 100_000, background: false }).close();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA synchronous = OFF");
  const insert = db.prepare(
    `INSERT INTO messages (room_key, room, seq, time, origin, nick, user, text, action, msgid)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
  );
  const room = db.prepare("INSERT INTO rooms (key, name, last_used) VALUES (?, ?, ?)");
  db.exec("BEGIN");
  for (let r = 0; r < ROOMS; r++) room.run(`r${r}`, `r${r}`, NOW);
  for (let i = 0; i < MESSAGES; i++) {
    const e = eventOf(i);
    insert.run(e.room, e.room, e.seq, e.time, e.origin, e.nick, e.user, e.text, e.id);
    if (i % 100_000 === 99_999) {
      db.exec("COMMIT");
      db.exec("BEGIN");
    }
  }
  db.exec("COMMIT");
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const withoutIndex = Deno.statSync(path).size;
  // The search index, as the background indexer would have left it.
  db.exec("BEGIN");
  db.exec("INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages");
  db.exec(
    "INSERT INTO history_state (key, value) SELECT 'indexed', max(id) FROM messages",
  );
  db.exec("COMMIT");
  db.exec("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')");
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return {
    withoutIndex,
    size: Deno.statSync(path).size,
    seconds: (performance.now() - started) / 1000,
  };
}

async function fillRedis(url: string): Promise<{ bytes: number; seconds: number }> {
  const started = performance.now();
  const client = createClient({ url });
  await client.connect();
  const before = usedMemory(await client.info("memory"));
  let multi = client.multi();
  let queued = 0;
  for (let r = 0; r < ROOMS; r++) {
    multi.sAdd("parley:rooms", `r${r}`);
    multi.hSet(`parley:room:{r${r}}:info`, { name: `r${r}`, lastUsed: String(NOW) });
  }
  for (let i = 0; i < MESSAGES; i++) {
    const e = eventOf(i);
    const key = `parley:room:{${e.room}}`;
    // As the publish script keeps it: an entry at the message's time, found by its msgid.
    const id = `${e.time}-0`;
    multi.xAdd(`${key}:history`, id, { s: String(e.seq), m: e.id, d: JSON.stringify(e) });
    multi.hSet(`${key}:ids`, e.id, `${id} ${e.time}`);
    if (++queued === 2000) {
      await multi.exec();
      multi = client.multi();
      queued = 0;
    }
  }
  await multi.exec();
  const after = usedMemory(await client.info("memory"));
  await client.close();
  return { bytes: after - before, seconds: (performance.now() - started) / 1000 };
}

function usedMemory(info: string): number {
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

// A server process.

interface Running {
  child: Deno.ChildProcess;
  port: number;
  ircPort: number;
  startMs: number;
  stop(): Promise<void>;
}

async function startParley(store: string[]): Promise<Running> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--rate",
      "0",
      "--max-per-ip",
      "0",
      "--connect-rate",
      "0",
      "--no-console",
      "--no-log-text",
      ...store,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  let port = 0;
  while (port === 0) {
    const { value, done } = await reader.read();
    if (done) {
      const error = await new Response(child.stderr).text();
      throw new Error(`server ended before listening: ${error}`);
    }
    text += decoder.decode(value);
    port = Number(/listening +127\.0\.0\.1:(\d+)/.exec(text)?.[1] ?? 0);
  }
  const startMs = performance.now() - started;
  (async () => {
    while (!(await reader.read()).done) { /* drain the console */ }
  })().catch(() => {});
  child.stderr.cancel().catch(() => {});
  return {
    child,
    port,
    ircPort: port, // IRC is served on the chat port too
    startMs,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

interface Paced {
  p99: number;
  p50: number;
  cpu: number;
  delivered: number;
  expected: number;
}

async function paced(server: Running): Promise<Paced> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "bench",
      "--target",
      `127.0.0.1:${server.port}`,
      "--clients",
      "100",
      "--messages",
      "100",
      "--rate",
      "10",
      "--server-pid",
      String(server.child.pid),
      "--json",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const result = JSON.parse(decoder.decode(output.stdout));
  return {
    p99: result.latencyMs.p99,
    p50: result.latencyMs.p50,
    cpu: result.server.cpuSeconds,
    delivered: result.delivered,
    expected: result.expected,
  };
}

/** An IRC client in rooms r0–r49 asking for 100 messages before a random one, `perSecond` a second. */
async function prober(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let buffer = "";
  const wait: { resolve: ((line: string) => void) | null } = { resolve: null };
  const lines: string[] = [];
  (async () => {
    const chunk = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return;
      buffer += decoder.decode(chunk.subarray(0, n));
      let at;
      while ((at = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const resolve = wait.resolve;
        if (resolve) {
          wait.resolve = null;
          resolve(line);
        } else lines.push(line);
      }
    }
  })();
  const next = (): Promise<string> =>
    lines.length > 0
      ? Promise.resolve(lines.shift()!)
      : new Promise((resolve) => wait.resolve = resolve);
  const until = async (test: (line: string) => boolean) => {
    for (;;) if (test(await next())) return;
  };
  const send = (line: string) => conn.write(encoder.encode(line + "\r\n"));
  await send("CAP REQ :batch message-tags server-time draft/chathistory");
  await send("NICK prober");
  await send("USER prober 0 * :prober");
  await send("CAP END");
  await until((line) => / 00[15] prober /.test(line) && / 001 /.test(line));
  for (let r = 0; r < 50; r++) await send(`JOIN #r${r}`);
  await until((line) => / 366 prober #r49 /.test(line));
  const times: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const room = Math.floor(Math.random() * 50);
      const started = performance.now();
      await send(`CHATHISTORY BEFORE #r${room} msgid=${msgidOf(somewhere(room))} 100`);
      let count = 0;
      await until((line) => {
        if (/^@\S*batch=/.test(line) && / PRIVMSG /.test(line)) count++;
        return / BATCH -/.test(line);
      });
      const took = performance.now() - started;
      if (count !== 100) throw new Error(`a CHATHISTORY batch held ${count} messages`);
      times.push(took);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 40 - took)));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      conn.close();
      times.sort((a, b) => a - b);
      return {
        count: times.length,
        p50: times[Math.floor(times.length * 0.5)],
        p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))],
        max: times[times.length - 1],
      };
    },
  };
}

/** How late the event loop was, watched every millisecond while `work` runs. */
async function watchStalls<T>(
  work: () => Promise<T>,
): Promise<{ result: T; stallMs: number; over10: number; over50: number }> {
  let last = performance.now();
  let longest = 0;
  let over10 = 0;
  let over50 = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - 1;
    longest = Math.max(longest, late);
    if (late > 10) over10++;
    if (late > 50) over50++;
    last = now;
  }, 1);
  try {
    const result = await work();
    return { result, stallMs: longest, over10, over50 };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The control: the message path's own writes (one message appended and
 * committed per turn, as a chat at 1000 messages/s does), watched the same way
 * for `seconds`: the stalls any write to this disk meets, pruning or not.
 */
async function commitControl(path: string, seconds: number) {
  const store = SqliteStore.open(path, { historySize: 100_000, background: false });
  let i = 0;
  const watched = await watchStalls(async () => {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const e = eventOf(i++);
      store.history.append(e.room, { ...e, kind: "message", time: Date.now() });
      store.history.commit();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  });
  await store.close();
  return { ...watched, commits: i };
}

function fixed(value: number, digits = 1): string {
  return value.toFixed(digits);
}

// The runs.

async function comparePaced(full: () => Promise<Running>, empty: () => Promise<Running>) {
  const rows: string[] = [];
  const probes: Awaited<ReturnType<Awaited<ReturnType<typeof prober>>["stop"]>>[] = [];
  const run = async (name: string, start: () => Promise<Running>, probe: boolean, pair: number) => {
    const server = await start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000)); // the census, in the background
      const probing = probe ? await prober(server.ircPort) : null;
      const result = await paced(server);
      if (probing) probes.push(await probing.stop());
      rows.push(
        `| ${pair} | ${name} | ${result.delivered}/${result.expected} | ${fixed(result.p50, 2)} | ${
          fixed(result.p99, 2)
        } | ${fixed(result.cpu, 2)} |`,
      );
    } finally {
      await server.stop();
    }
  };
  // The store's own cost: the same load on an empty store and on the full one, alternating.
  for (let pair = 1; pair <= PAIRS; pair++) {
    await run("empty", empty, false, pair);
    await run("1M", full, false, pair);
  }
  // Then the full store with the CHATHISTORY client asking meanwhile.
  for (let pair = 1; pair <= PAIRS; pair++) await run("1M + CHATHISTORY", full, true, pair);
  say("| run | store | delivered | p50 ms | p99 ms | server CPU s |");
  say("|---|---|---|---|---|---|");
  for (const row of rows) say(row);
  for (const probe of probes) {
    say(
      `CHATHISTORY BEFORE … 100 during paced: ${probe.count} requests, p50 ${
        fixed(probe.p50, 2)
      } ms, p99 ${fixed(probe.p99, 2)} ms, max ${fixed(probe.max, 2)} ms (bound: p99 ≤ 5 ms)`,
    );
  }
}

async function startAndRss(name: string, start: () => Promise<Running>) {
  const times: number[] = [];
  let rss = 0;
  for (let i = 0; i < 3; i++) {
    const server = await start();
    times.push(server.startMs);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    rss = rssMiB(server.child.pid);
    await server.stop();
  }
  say(
    `start (${name}): ${
      times.map((t) => fixed(t / 1000, 2)).join(" s, ")
    } s to listening; RSS 1 s after: ${
      fixed(rss)
    } MiB (bound: ≤ 2 s, RSS not growing with the store)`,
  );
}

async function sqlite(dir: string): Promise<void> {
  say(`## --data: ${MESSAGES.toLocaleString("en")} messages in ${ROOMS} rooms`);
  const full = `${dir}/full.db`;
  const empty = `${dir}/empty.db`;
  const filled = fillSqlite(full);
  SqliteStore.open(empty, { historySize: 100_000, background: false }).close();
  const perMillion = (bytes: number) => fixed(bytes / MESSAGES * 1_000_000 / 2 ** 20);
  say(
    `fill: ${fixed(filled.seconds)} s; file ${fixed(filled.size / 2 ** 20)} MiB = ${
      perMillion(filled.size)
    } MiB per million messages (${perMillion(filled.withoutIndex)} MiB without the search index)`,
  );
  await startAndRss("empty file", () => startParley(["--data", empty]));
  await startAndRss("1M file", () => startParley(["--data", full]));
  await comparePaced(() => startParley(["--data", full]), () => startParley(["--data", empty]));

  // Pruning: a copy of the file, a clock 60 days ahead, every message older than 30 days.
  const copy = `${dir}/prune.db`;
  Deno.copyFileSync(full, copy);
  const counting = new DatabaseSync(copy, { readOnly: true });
  const total = (counting.prepare("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
  counting.close();
  const store = SqliteStore.open(copy, {
    historySize: 100_000,
    historyDays: 30,
    clock: () => Date.now() + 60 * DAY_MS,
  });
  const started = performance.now();
  const watched = await watchStalls(async () => {
    store.history.maintain({ prune: true, maxSteps: 0 }); // the next pass is due now
    while (store.history.stats.pruned < total) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const stats = store.history.stats;
  say(
    `prune: ${stats.pruned.toLocaleString("en")} messages in ${
      fixed(seconds)
    } s (census included), ${stats.steps.toLocaleString("en")} steps; steps by duration (ms) ${
      JSON.stringify(stats.stepsUnderMs)
    }; longest step ${fixed(stats.longestStepMs, 2)} ms (${JSON.stringify(stats.longestMs)})`,
  );
  say(
    `prune: event loop late > 10 ms ${watched.over10} times, > 50 ms ${watched.over50} times, at most ${
      fixed(watched.stallMs, 1)
    } ms (bound: ≤ 10 ms)`,
  );
  await store.close();
  const control = await commitControl(empty, Math.max(5, Math.min(60, seconds)));
  say(
    `control, no pruning: ${
      control.commits.toLocaleString("en")
    } single-message commits, event loop late > 10 ms ${control.over10} times, > 50 ms ${control.over50} times, at most ${
      fixed(control.stallMs, 1)
    } ms`,
  );
}

async function redis(dir: string): Promise<void> {
  say(`## --cluster: ${MESSAGES.toLocaleString("en")} messages in ${ROOMS} rooms`);
  const start = async (port: number) => {
    const child = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
      cwd: dir,
    }).spawn();
    for (let i = 0; i < 100; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return child;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    throw new Error("redis-server did not start");
  };
  const fullPort = 15_411;
  const emptyPort = 15_412;
  const fullRedis = await start(fullPort);
  const emptyRedis = await start(emptyPort);
  try {
    const fullUrl = `redis://127.0.0.1:${fullPort}`;
    const emptyUrl = `redis://127.0.0.1:${emptyPort}`;
    const filled = await fillRedis(fullUrl);
    say(
      `fill: ${fixed(filled.seconds)} s; Redis memory +${fixed(filled.bytes / 2 ** 20)} MiB = ${
        fixed(filled.bytes / MESSAGES * 1_000_000 / 2 ** 20)
      } MiB per million messages (RAM; on disk as much again with RDB or AOF)`,
    );
    await startAndRss("empty Redis", () => startParley(["--cluster", emptyUrl]));
    await startAndRss("1M in Redis", () => startParley(["--cluster", fullUrl]));
    await comparePaced(
      () => startParley(["--cluster", fullUrl]),
      () => startParley(["--cluster", emptyUrl]),
    );
    // Pruning, from this process: every message older than 30 days at a clock 60 days ahead.
    const link = await RedisLink.open(fullUrl, { node: "prune" });
    const history = new RedisHistory(link, {
      max: 100_000,
      days: 30,
      clock: () => Date.now() + 60 * DAY_MS,
      report: (message) => say(`  ${message}`),
      write: () => {},
    });
    let longestPing = 0;
    let pinging = true;
    const pinger = (async () => {
      const client = createClient({ url: fullUrl });
      await client.connect();
      while (pinging) {
        const started = performance.now();
        await client.ping();
        longestPing = Math.max(longestPing, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await client.close();
    })();
    const started = performance.now();
    const { result: pruned, stallMs } = await watchStalls(() => history.prune(true));
    const seconds = (performance.now() - started) / 1000;
    pinging = false;
    await pinger;
    await link.close();
    say(
      `prune: ${pruned.toLocaleString("en")} messages in ${
        fixed(seconds)
      } s; parley's event loop: longest stall ${
        fixed(stallMs, 2)
      } ms; Redis: longest PING round trip meanwhile ${
        fixed(longestPing, 2)
      } ms (each script deletes at most 100)`,
    );
  } finally {
    for (const child of [fullRedis, emptyRedis]) {
      child.kill("SIGKILL");
      await child.status;
    }
  }
}

const dir = args.keep ?? await Deno.makeTempDir({ prefix: "parley-history-bench-" });
try {
  say(
    `history bench: ${new Date().toISOString()}, ${Deno.build.os} ${
      Deno.hostname?.() ?? ""
    }, deno ${Deno.version.deno}, load average ${Deno.loadavg().map((l) => fixed(l, 2)).join(" ")}`,
  );
  if (args.only !== "redis") await sqlite(dir);
  if (args.redis || args.only === "redis") await redis(dir);
} finally {
  if (args.keep === undefined) await Deno.remove(dir, { recursive: true });
}
