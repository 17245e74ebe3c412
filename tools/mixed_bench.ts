/**
 * A paced run with half IRC and half line clients in one room, beside the
 * same run with line clients only, against parley servers this script starts
 * as users run them (`deno run -A main.ts server --rate 0 --max-per-ip 0`).
 * `parley bench` speaks only the line protocol; this is the IRC check of
 * issue 11: deliveries, latency and the server's CPU, for both mixes.
 *
 *     deno run -A tools/mixed_bench.ts [CLIENTS] [MESSAGES] [RATE]   # default 100 100 10
 */

const [clients = 100, messages = 100, rate = 10] = Deno.args.map(Number);
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const encoder = new TextEncoder();

interface Result {
  mix: string;
  expected: number;
  delivered: number;
  p50: number;
  p99: number;
  cpuSeconds: number;
}

/** Server CPU seconds (user + system) from /proc. */
function cpu(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startServer(): Promise<{ child: Deno.ChildProcess; port: number }> {
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
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("server ended before listening");
    text += new TextDecoder().decode(value);
    const port = /listening +127\.0\.0\.1:(\d+)\n/.exec(text)?.[1];
    if (port) {
      // Keep draining its console so it never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      return { child, port: Number(port) };
    }
  }
}

/** One client: connects, joins, reads everything; `send` says one payload. */
async function client(port: number, i: number, irc: boolean, onPayload: (sentAt: number) => void) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const nick = `${irc ? "i" : "l"}${i}`;
  const ready = Promise.withResolvers<void>();
  const write = (text: string) => conn.write(encoder.encode(text));
  if (irc) await write(`NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\nJOIN #lobby\r\n`);
  else await write(`\n/nick ${nick}\n`);
  (async () => {
    const buffer = new Uint8Array(64 * 1024);
    const decoder = new TextDecoder();
    let partial = "";
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      const parts = (partial + decoder.decode(buffer.subarray(0, n), { stream: true })).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        if (irc ? / 366 /.test(line) : line === `*** you are now ${nick}`) ready.resolve();
        const at = line.indexOf("t=");
        if (at >= 0 && (irc ? line.includes(" PRIVMSG #lobby :") : line.startsWith("<"))) {
          onPayload(Number(line.slice(at + 2, line.indexOf(" ", at))));
        }
      }
    }
  })().catch(() => {});
  await ready.promise;
  return {
    say: (seq: number) => {
      const text = `t=${performance.timeOrigin + performance.now()} ${seq} ${"x".repeat(24)}`;
      return write(irc ? `PRIVMSG #lobby :${text}\r\n` : `${text}\n`);
    },
    close: () => conn.close(),
  };
}

async function run(mix: string, ircShare: number): Promise<Result> {
  const server = await startServer();
  const latencies: number[] = [];
  const onPayload = (sentAt: number) =>
    latencies.push(performance.timeOrigin + performance.now() - sentAt);
  const all = [];
  for (let i = 0; i < clients; i++) {
    all.push(await client(server.port, i, i < clients * ircShare, onPayload));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpuBefore = cpu(server.child.pid);
  const expected = clients * messages * (clients - 1);
  await Promise.all(all.map(async (c, i) => {
    await new Promise((resolve) => setTimeout(resolve, (i * 1000) / rate / clients));
    for (let seq = 0; seq < messages; seq++) {
      await c.say(seq);
      await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
    }
  }));
  const deadline = Date.now() + 10_000;
  while (latencies.length < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const cpuSeconds = cpu(server.child.pid) - cpuBefore;
  for (const c of all) c.close();
  server.child.kill("SIGTERM");
  await server.child.status;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number(latencies[Math.floor(q * (latencies.length - 1))].toFixed(2));
  return { mix, expected, delivered: latencies.length, p50: at(0.5), p99: at(0.99), cpuSeconds };
}

console.log(`${clients} clients × ${messages} messages at ${rate}/s each, one room`);
for (
  const [mix, share] of [["line only", 0], ["half IRC", 0.5], ["line only", 0], [
    "half IRC",
    0.5,
  ]] as const
) {
  const r = await run(mix, share);
  console.log(
    `${
      r.mix.padEnd(10)
    } delivered ${r.delivered} of ${r.expected}, p50 ${r.p50} ms, p99 ${r.p99} ms, server CPU ${
      r.cpuSeconds.toFixed(2)
    } s`,
  );
}
