/**
 * A deterministic fuzz run over real sockets: hundreds of connections send
 * random bytes, broken UTF-8, NULs, escape sequences, huge and empty lines and
 * commands with junk arguments, split at random points, and leave in every
 * way there is. The server must survive, answer only well-formed lines, keep
 * its log clean, and still let two ordinary clients chat afterwards.
 */

import assert from "node:assert/strict";
import { delay, startServer, TestClient, waitUntil } from "./helpers.ts";

const SEED = 20261128;
const CONNECTIONS = 300;
const CONCURRENCY = 30;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const encoder = new TextEncoder();
/** Every line a parley server sends starts with one of these kinds (replayed ones with a time). */
const WELL_FORMED =
  /^(\[(\d\d-\d\d )?\d\d:\d\d\] )?(<[^\s<>]+> |\* [^\s*]+ |\*[^\s*]+\* |-> \*[^\s*]+\* |\*\*\* |!!! )/;
// deno-lint-ignore no-control-regex -- looking for control characters is the point
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function fuzzInput(next: () => number): Uint8Array[] {
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)];
  const bytes = (length: number) => Uint8Array.from({ length }, () => Math.floor(next() * 256));
  const junk = () => new TextDecoder().decode(bytes(1 + Math.floor(next() * 30)));
  const makers: (() => Uint8Array)[] = [
    () => bytes(Math.floor(next() * 300)),
    () =>
      Uint8Array.from([
        ...encoder.encode("text "),
        ...encoder.encode("你好👍").subarray(0, 1 + Math.floor(next() * 9)),
        10,
      ]),
    () => new Uint8Array([0, 0, 10, 0, 13, 10]),
    () => encoder.encode("\x1b[2J\x1b]0;owned\x07\x1b[31m red \u202Eevil\u2066\n"),
    () => new Uint8Array(4000 + Math.floor(next() * 20_000)).fill(0x41 + Math.floor(next() * 26)),
    () => encoder.encode(pick(["\n", "\r\n", "\r", "\n\n\n", " \t \n"])),
    () =>
      encoder.encode(
        `/${
          pick(["nick", "msg", "join", "me", "who", "rooms", "quit", "help", "", "NICK", "m"])
        } ${junk()} ${junk()}\n`,
      ),
    () =>
      encoder.encode(
        `/nick ${pick(["guest-1", "a".repeat(30), "ok_nick", "bad nick", "ÄÖÜ", "👍"])}\n`,
      ),
    () => encoder.encode(`/join ${pick(["lobby", "#dev", "x".repeat(40), "bad room", "Dev"])}\n`),
    () => encoder.encode(`/msg ${pick(["guest-1", "guest-2", "nobody", ""])} ${junk()}\n`),
    () => encoder.encode(`//${junk()}\n`),
    () => encoder.encode("plain message\n"),
  ];
  return Array.from({ length: 1 + Math.floor(next() * 12) }, () => pick(makers)());
}

/** One fuzzing connection: sends its script split at random points, then leaves one of four ways. */
async function fuzzConnection(port: number, next: () => number): Promise<string[]> {
  const client = await TestClient.connect(port);
  try {
    for (const chunk of fuzzInput(next)) {
      let offset = 0;
      while (offset < chunk.length) {
        const end = Math.min(chunk.length, offset + 1 + Math.floor(next() * 2000));
        await client.write(chunk.subarray(offset, end));
        offset = end;
        if (next() < 0.1) await delay(1);
      }
    }
    const ending = Math.floor(next() * 4);
    if (ending === 0) await client.write(encoder.encode("\n/quit fuzz done\n")); // end any partial line first
    if (ending === 1) await client.conn.closeWrite(); // half-close: the server ends the session
    if (ending <= 1) await client.expectClosed(5000);
    else if (ending === 2) await delay(20); // then close: FIN, or RST if output is unread
    // ending 3: close at once, mid-whatever
  } catch {
    // the server may close on us (a /quit inside the junk): that is allowed
  } finally {
    client.close();
  }
  return client.lines;
}

Deno.test("fuzz: 300 hostile connections; the server survives, answers only well-formed clean lines, and chat still works", async () => {
  const server = startServer({ rate: 1000, burst: 50 });
  const next = random(SEED);
  const received: string[] = [];
  try {
    for (let i = 0; i < CONNECTIONS; i += CONCURRENCY) {
      const batch = Array.from({ length: CONCURRENCY }, () => random(Math.floor(next() * 2 ** 31)));
      for (const lines of await Promise.all(batch.map((rng) => fuzzConnection(server.port, rng)))) {
        received.push(...lines);
      }
    }
    await waitUntil(() => server.server.online === 0, "every fuzz session to end", 10_000);

    const malformed = received.filter((line) => !WELL_FORMED.test(line) || UNSAFE.test(line));
    assert.deepEqual(
      malformed.slice(0, 5),
      [],
      `${malformed.length} malformed lines of ${received.length}`,
    );
    assert.ok(
      received.length > CONNECTIONS * 2,
      `the fuzzers were answered (${received.length} lines)`,
    );

    const alice = await TestClient.join(server.port, "alice");
    const bob = await TestClient.join(server.port, "bob");
    alice.send("still standing? 你好");
    await bob.expect("<alice> still standing? 你好");
    bob.send("/msg alice yes");
    await alice.expect("*bob* yes");
    alice.close();
    bob.close();
  } finally {
    await server.close();
  }
  const log = server.log.lines;
  assert.ok(log.filter((line) => line.includes(" connect ")).length >= CONNECTIONS);
  const unsafeLog = log.filter((line) => UNSAFE.test(line));
  assert.deepEqual(unsafeLog.slice(0, 3), [], "the log has no control characters");
});
