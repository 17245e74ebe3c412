/**
 * Issue 18, item 7, measured: an innocent pair of line clients (one line
 * every 100 ms, timed by the other on arrival) while attackers send bytes.
 *
 *   deno run -A tools/byte_flood.ts [--mode zero|zero-reconnect|long-lines|none]
 *        [--attackers 8] [--seconds 10] [--repo DIR] [--rate N]
 *
 * Modes:
 * - `zero`: each attacker sends an endless stream without a line end, as
 *   `ncat HOST PORT </dev/zero` does (bytes 'a', so that the server takes it
 *   for a line client at once); once cut off it is done;
 * - `zero-reconnect`: the same, connecting again 10 ms after each cut-off;
 * - `long-lines`: lines of 60,000 bytes (each refused as too long, each
 *   ending before the input-flood bound), as fast as the server takes them;
 * - `none`: the pair alone.
 *
 * It starts `main.ts server` from `--repo` (default: this checkout; give an
 * older checkout to compare) on a free port with `--max-per-ip 0` and the
 * default flood control (or `--rate N`), puts the pair in a room of their own
 * (so that attackers' joins and leaves do not reach them), runs the attackers
 * in a separate Python process (threads, one blocking socket each), and
 * prints the pair's latency percentiles, the server's CPU time and the bytes
 * the attackers got in. Python 3 and Linux's /proc are needed.
 *
 * @module
 */

import { parseArgs } from "node:util";

const args = parseArgs({
  options: {
    mode: { type: "string", default: "zero" },
    attackers: { type: "string", default: "8" },
    seconds: { type: "string", default: "10" },
    repo: { type: "string", default: new URL("..", import.meta.url).pathname },
    rate: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const mode = args.values.mode!;
const attackers = Number(args.values.attackers);
const seconds = Number(args.values.seconds);
const repo = args.values.repo!;
if (!["zero", "zero-reconnect", "long-lines", "none"].includes(mode)) {
  console.error(`byte_flood: unknown --mode ${mode}`);
  Deno.exit(2);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The attackers: one thread and one blocking socket each; prints bytes sent and connects. */
const ATTACKER = `
import socket, sys, threading, time
port, count, mode, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
end = time.monotonic() + seconds
sent = [0] * count
connects = [0] * count
if mode == "long-lines":
    chunk = b"b" * 60000 + b"\\n"
else:
    chunk = b"a" * 65536
def attack(i):
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(0.5)
            connects[i] += 1
            while time.monotonic() < end:
                try:
                    sent[i] += s.send(chunk)
                except socket.timeout:
                    continue
        except OSError:
            pass
        finally:
            try:
                s.close()
            except Exception:
                pass
        if mode != "zero-reconnect":
            while time.monotonic() < end:
                time.sleep(0.1)
            return
        time.sleep(0.01)
threads = [threading.Thread(target=attack, args=(i,), daemon=True) for i in range(count)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(sent), sum(connects))
`;

function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A line client: lines in, lines out. */
class Client {
  readonly conn: Deno.Conn;
  readonly lines: string[] = [];
  onLine: ((line: string) => void) | null = null;
  #partial = "";

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    (conn as Deno.TcpConn).setNoDelay(true);
    this.#pump();
  }

  send(text: string): Promise<number> {
    return this.conn.write(encoder.encode(text + "\n"));
  }

  async waitFor(pattern: RegExp, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.lines.some((line) => pattern.test(line))) {
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async #pump(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      for (let n = await this.conn.read(buffer); n !== null; n = await this.conn.read(buffer)) {
        const parts = (this.#partial + decoder.decode(buffer.subarray(0, n), { stream: true }))
          .split("\n");
        this.#partial = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          this.onLine?.(line);
        }
      }
    } catch {
      // closed
    }
  }
}

const serverArgs = ["run", "-A", "main.ts", "server", "--host", "127.0.0.1", "--port", "0"];
serverArgs.push("--max-per-ip", "0", "--no-console");
if (args.values.rate !== undefined) serverArgs.push("--rate", args.values.rate);
const server = new Deno.Command(Deno.execPath(), {
  args: serverArgs,
  cwd: repo,
  stdin: "null",
  stdout: "piped",
  stderr: "null",
  env: { NO_COLOR: "1" },
}).spawn();
let serverOutput = "";
(async () => {
  for await (const chunk of server.stdout) serverOutput += decoder.decode(chunk);
})();
try {
  const started = Date.now();
  let match: RegExpMatchArray | null = null;
  while ((match = /listening +127\.0\.0\.1:(\d+)/.exec(serverOutput)) === null) {
    if (Date.now() - started > 15_000) throw new Error("the server did not start");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const port = Number(match[1]);
  const join = async (nick: string) => {
    const client = new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
    await client.send(`/nick ${nick}`);
    await client.waitFor(new RegExp(`you are (now )?${nick}\\b`));
    await client.send("/join pair");
    await client.waitFor(/#pair/);
    return client;
  };
  const alice = await join("alice");
  const bob = await join("bob");

  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  bob.onLine = (line) => {
    const seq = /^<alice> t(\d+)$/.exec(line)?.[1];
    if (seq === undefined) return;
    const at = sentAt.get(Number(seq));
    if (at !== undefined) latencies.push(performance.now() - at);
  };

  const cpuBefore = cpuSeconds(server.pid);
  const attack = mode === "none" ? null : new Deno.Command("python3", {
    args: ["-c", ATTACKER, String(port), String(attackers), mode, String(seconds)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = Math.floor(seconds * 10);
  for (let seq = 0; seq < lines; seq++) {
    sentAt.set(seq, performance.now());
    await alice.send(`t${seq}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  const attackOutput = attack ? decoder.decode((await attack.output()).stdout).trim() : "0 0";
  const [attackBytes, attackConnects] = attackOutput.split(" ").map(Number);
  alice.conn.close();
  bob.conn.close();

  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const result = {
    mode,
    attackers: mode === "none" ? 0 : attackers,
    seconds,
    delivered: latencies.length,
    lost: lines - latencies.length,
    p50: Number(at(0.5)?.toFixed(2)),
    p90: Number(at(0.9)?.toFixed(2)),
    p99: Number(at(0.99)?.toFixed(2)),
    max: Number(sorted.at(-1)?.toFixed(2)),
    serverCpuSeconds: Number(cpu.toFixed(2)),
    attackerBytesSent: attackBytes,
    attackerConnects: attackConnects,
    inputFloodDisconnects: (serverOutput.match(/reason="input flood/g) ?? []).length,
  };
  if (args.values.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(
      `${mode}, ${result.attackers} attackers, ${seconds} s: pair p50 ${result.p50} ms, ` +
        `p90 ${result.p90} ms, p99 ${result.p99} ms, max ${result.max} ms ` +
        `(${result.delivered} delivered, ${result.lost} lost); server CPU ${result.serverCpuSeconds} s; ` +
        `attackers sent ${(attackBytes / 1e6).toFixed(1)} MB over ${attackConnects} connections; ` +
        `${result.inputFloodDisconnects} cut off for input flood`,
    );
  }
} finally {
  try {
    server.kill("SIGTERM");
  } catch {
    // gone
  }
  await server.status;
}
