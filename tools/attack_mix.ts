/**
 * Issue 18's "must show", measured: with attackers from items 2, 3, 4, 7 and 8
 * running at once, an innocent pair of line clients (one line every 100 ms,
 * timed by the other on arrival) keeps its latency, and a legitimate
 * `/identify` succeeds.
 *
 *   deno run -A tools/attack_mix.ts [--seconds 20] [--repo DIR] [--json]
 *        [--only accounts,rooms,targets,bytes,churn]
 *
 * The server is started as users run it (`main.ts server`, every default:
 * flood control, --max-per-ip 32, --connect-rate 120, the budgets) from
 * `--repo` (this checkout by default; an older one to compare) on a free
 * port. The attackers run in a separate Python process (threads, blocking
 * sockets), from 127.0.0.2–127.0.0.11:
 *
 * - item 2, accounts: 30 connections registering nick after nick and
 *   guessing the owner's password;
 * - item 3, rooms: IRC clients joining 60 new rooms a line, over and over;
 * - item 4, targets: IRC clients sending `PRIVMSG #t,#t,…` as fast as taken;
 * - item 7, bytes: 8 connections sending 64 KiB without a line end, again
 *   and again;
 * - item 8, churn: 4 threads connecting and closing as fast as they can.
 *
 * It prints the pair's latency percentiles, how long the legitimate
 * `/identify` took and what it was told, the lines a lobby member got per
 * second (the churn reaching people), and the server's CPU time.
 *
 * @module
 */

import { parseArgs } from "node:util";
import net from "node:net";

const args = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    repo: { type: "string", default: new URL("..", import.meta.url).pathname },
    json: { type: "boolean", default: false },
    only: { type: "string", default: "accounts,rooms,targets,bytes,churn" },
  },
});
const seconds = Number(args.values.seconds);
const repo = args.values.repo!;

const ATTACKERS = String.raw`
import socket, sys, threading, time, random
port, seconds, only = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")
end = time.monotonic() + seconds
counts = {"accounts": 0, "rooms": 0, "targets": 0, "bytes": 0, "churn": 0, "refused": 0}
lock = threading.Lock()
def count(kind, n=1):
    with lock: counts[kind] += n
def connect(addr):
    s = socket.socket(); s.settimeout(2); s.bind((addr, 0)); s.connect(("127.0.0.1", port)); return s
def drain(s):
    try:
        s.setblocking(False)
        while s.recv(65536): pass
    except Exception: pass
    finally: s.setblocking(True); s.settimeout(2)
def forever(work):
    def run(*a):
        while time.monotonic() < end:
            try: work(*a)
            except Exception: count("refused"); time.sleep(0.05)
    return run
@forever
def accounts(addr, i):
    s = connect(addr); s.sendall(b"\n"); n = 0
    while time.monotonic() < end:
        n += 1
        s.sendall(("/nick a%d_%d\n/register pw%d_%d_secret\n/identify owner guess%d\n" % (i, n, i, n, n)).encode())
        count("accounts"); drain(s); time.sleep(0.05)
    s.close()
@forever
def rooms(addr, i):
    s = connect(addr); s.sendall(("NICK r%d\r\nUSER r 0 * :r\r\n" % i).encode()); n = 0
    while time.monotonic() < end:
        n += 1
        names = ",".join("#x%d_%d_%d" % (i, n, k) for k in range(60))
        s.sendall(("JOIN %s\r\nJOIN 0\r\n" % names).encode()); count("rooms"); drain(s); time.sleep(0.02)
    s.close()
@forever
def targets(addr, i):
    s = connect(addr); s.sendall(("NICK t%d\r\nUSER t 0 * :t\r\nJOIN #t\r\n" % i).encode())
    line = ("PRIVMSG " + ",".join(["#t"] * 40) + " :spam\r\n").encode()
    while time.monotonic() < end:
        s.sendall(line); count("targets"); drain(s)
    s.close()
@forever
def flood(addr):
    s = connect(addr); chunk = b"a" * 65536
    while time.monotonic() < end:
        s.sendall(chunk); count("bytes", len(chunk))
@forever
def churn(addr):
    s = connect(addr); s.close(); count("churn")
threads = []
addrs = ["127.0.0.%d" % k for k in range(2, 12)]
if "accounts" in only:
    for i in range(30): threads.append(threading.Thread(target=accounts, args=(addrs[i % 10], i)))
if "rooms" in only:
    for i in range(2): threads.append(threading.Thread(target=rooms, args=(addrs[i], i)))
if "targets" in only:
    for i in range(2): threads.append(threading.Thread(target=targets, args=(addrs[2 + i], i)))
if "bytes" in only:
    for i in range(8): threads.append(threading.Thread(target=flood, args=(addrs[4 + i % 4],)))
if "churn" in only:
    for i in range(4): threads.append(threading.Thread(target=churn, args=(addrs[8 + i % 2],)))
for t in threads: t.daemon = True; t.start()
time.sleep(seconds + 0.5)
print(" ".join("%s=%d" % kv for kv in counts.items()), flush=True)
`;

/** A line client from 127.0.0.1: lines in as they come, with their arrival time. */
class LineClient {
  readonly lines: { text: string; at: number }[] = [];
  #socket: net.Socket;
  #pending = "";
  constructor(port: number) {
    this.#socket = net.connect({ host: "127.0.0.1", port });
    this.#socket.setEncoding("utf8");
    this.#socket.on("data", (chunk: string) => {
      const at = performance.now();
      const parts = (this.#pending + chunk).split("\n");
      this.#pending = parts.pop()!;
      for (const text of parts) this.lines.push({ text, at });
    });
    this.#socket.on("error", () => {});
  }
  send(line: string): void {
    this.#socket.write(line + "\n");
  }
  async waitFor(pattern: RegExp, ms = 10_000): Promise<{ text: string; at: number }> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      const found = this.lines.find((line) => pattern.test(line.text));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no line matching ${pattern}; got ${this.lines.slice(-5).map((l) => l.text)}`);
  }
  close(): void {
    this.#socket.destroy();
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const port = freePort();
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--v8-flags=--max-semi-space-size=8",
    `${repo}/main.ts`,
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--no-console",
  ],
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();
try {
  for (let tries = 0;; tries++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (tries > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  // The owner registers before the attack.
  const owner = new LineClient(port);
  owner.send("/nick owner");
  owner.send("/register owner-secret-1");
  await owner.waitFor(/is yours now/);
  owner.close();

  const a = new LineClient(port);
  const b = new LineClient(port);
  const lobby = new LineClient(port);
  for (const client of [a, b, lobby]) client.send("");
  a.send("/join pair");
  b.send("/join pair");
  await b.waitFor(/you are now in #pair/);
  await a.waitFor(/you are now in #pair/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const lobbyBefore = lobby.lines.length;

  const cpuBefore = cpuSeconds(server.pid);
  // At the lowest priority: an attacker on the internet does not share the server's CPU; on
  // loopback its threads would, and the pair would measure the machine, not the server.
  const attack = new Deno.Command("nice", {
    args: [
      "-n",
      "19",
      "python3",
      "-c",
      ATTACKERS,
      String(port),
      String(seconds),
      args.values.only!,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();

  const sentAt = new Map<number, number>();
  let sequence = 0;
  const talking = setInterval(() => {
    sequence++;
    sentAt.set(sequence, performance.now());
    a.send(`ping ${sequence}`);
  }, 100);

  // A legitimate login half-way through.
  await new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / 2));
  const legit = new LineClient(port);
  const askedAt = performance.now();
  legit.send("/identify owner owner-secret-1");
  let identify: string;
  try {
    const answer = await legit.waitFor(/you are identified as owner|!!!/, 15_000);
    identify = `${answer.text} (after ${(answer.at - askedAt).toFixed(0)} ms)`;
  } catch (error) {
    identify = `no answer: ${error}`;
  }
  legit.close();

  const attackers = await attack;
  clearInterval(talking);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  const latencies: number[] = [];
  for (const line of b.lines) {
    const match = /<\S+> ping (\d+)$/.exec(line.text);
    const sent = match && sentAt.get(Number(match[1]));
    if (sent !== undefined && sent !== null) latencies.push(line.at - sent);
  }
  latencies.sort((x, y) => x - y);
  const result = {
    seconds,
    pair: {
      sent: sequence,
      received: latencies.length,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies[latencies.length - 1],
    },
    identify,
    lobbyLinesPerSecond: (lobby.lines.length - lobbyBefore) / seconds,
    serverCpuSeconds: cpu,
    attackers: new TextDecoder().decode(attackers.stdout).trim(),
  };
  if (args.values.json) {
    console.log(JSON.stringify(result));
  } else {
    const { pair } = result;
    console.log(
      `pair: ${pair.received}/${pair.sent} lines, p50 ${pair.p50.toFixed(1)} ms, ` +
        `p99 ${pair.p99.toFixed(1)} ms, max ${pair.max.toFixed(1)} ms`,
    );
    console.log(`legitimate /identify: ${identify}`);
    console.log(`lines a lobby member got: ${result.lobbyLinesPerSecond.toFixed(1)}/s`);
    console.log(`server CPU: ${cpu.toFixed(1)} s in ${seconds} s`);
    console.log(`attackers: ${result.attackers}`);
  }
  for (const client of [a, b, lobby]) client.close();
} finally {
  server.kill("SIGTERM");
  await server.status;
}
