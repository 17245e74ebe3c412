/**
 * The leanest chat relay this repository could write in Deno, as a memory
 * floor for the scale scenario (BENCHMARKS.md, "Where parley stands"): it
 * accepts, greets, reads lines with 256-byte reads and sends `<userN> line`
 * to every other connection, one write per socket at a time (what waits for
 * a socket meanwhile is joined) and at most 256 writes in flight, as parley
 * does. No names, rooms, limits or log. Prints its port; SIGTERM ends it.
 *
 *     deno run -A tools/lean_relay.ts PORT &
 *     deno run -A main.ts bench --target 127.0.0.1:PORT --server-pid $! \
 *       --clients 10 --messages 5 --rate 0.25 --idle 9990 --time-limit 180
 */

import { writeAll } from "../src/net/io.ts";

const port = Number(Deno.args[0] ?? 0);
const listener = Deno.listen({ hostname: "127.0.0.1", port, tcpBacklog: 4096 });
const encoder = new TextEncoder();
const MAX_WRITES_IN_FLIGHT = 256;

class Peer {
  queue: Uint8Array[] = [];
  writing = false;
  constructor(readonly conn: Deno.Conn) {}
}

const peers = new Set<Peer>();
const waiting: Peer[] = [];
let waitingHead = 0;
let inFlight = 0;

/** Writes what waits for `peer` unless a write to it is under way (or it waits for a slot). */
function kick(peer: Peer): void {
  if (peer.writing || peer.queue.length === 0) return;
  peer.writing = true;
  if (inFlight >= MAX_WRITES_IN_FLIGHT) waiting.push(peer);
  else start(peer);
}

function start(peer: Peer): void {
  inFlight++;
  const bytes = peer.queue.length === 1 ? peer.queue[0] : joined(peer.queue);
  peer.queue = [];
  writeAll(peer.conn, bytes).then(() => done(peer), () => {
    peers.delete(peer);
    done(peer);
  });
}

function done(peer: Peer): void {
  inFlight--;
  peer.writing = false;
  while (inFlight < MAX_WRITES_IN_FLIGHT && waitingHead < waiting.length) {
    start(waiting[waitingHead++]);
  }
  if (waitingHead === waiting.length) {
    waiting.length = 0;
    waitingHead = 0;
  }
  kick(peer);
}

function joined(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

async function relay(peer: Peer, name: string): Promise<void> {
  const buffer = new Uint8Array(256);
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for (
      let count = await peer.conn.read(buffer);
      count !== null;
      count = await peer.conn.read(buffer)
    ) {
      pending += decoder.decode(buffer.subarray(0, count), { stream: true });
      for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
        const line = encoder.encode(name + pending.slice(0, end + 1));
        pending = pending.slice(end + 1);
        for (const other of peers) {
          if (other === peer) continue;
          other.queue.push(line);
          kick(other);
        }
      }
    }
  } catch {
    // reset: the peer is gone
  }
  peers.delete(peer);
  try {
    peer.conn.close();
  } catch {
    // already closed
  }
}

console.log("listening", (listener.addr as Deno.NetAddr).port);
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
const greeting = encoder.encode("hi\n");
let joinedCount = 0;
for await (const conn of listener) {
  const peer = new Peer(conn);
  peers.add(peer);
  peer.queue.push(greeting);
  kick(peer);
  void relay(peer, `<user${++joinedCount}> `);
}
