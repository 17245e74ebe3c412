/**
 * Fuzzing both protocols' parsers over real sockets (issue 18): clients send
 * random and mutated lines — IRC commands with parameters added, dropped,
 * emptied, colon-prefixed, spaced, tagged, with control characters and broken
 * UTF-8 — for a while. No client may be disconnected for a reason the
 * protocol does not call for (`error`), no handler may fail, and the server
 * must still serve a fresh pair of clients afterwards.
 *
 * The suite runs each for a few seconds; `FUZZ_SECONDS=60 deno test -A
 * tests/protocol_fuzz_test.ts` runs the minute the issue asks for.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "./helpers.ts";

const SECONDS = Number(Deno.env.get("FUZZ_SECONDS") ?? "4");
const CLIENTS = 16;
const encoder = new TextEncoder();

/** mulberry32: the same sequence for the same seed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const IRC_CORPUS = [
  "PRIVMSG #fuzz :hello there",
  "PRIVMSG a,b,#fuzz :x",
  "NOTICE #fuzz :note",
  "JOIN #fuzz",
  "JOIN #a,#b,#c key1,key2",
  "JOIN 0",
  "PART #fuzz :bye",
  "TOPIC #fuzz :a topic",
  "TOPIC #fuzz",
  "NAMES #fuzz",
  "LIST",
  "WHO #fuzz",
  "WHO nick",
  "WHOIS nick",
  "WHOIS server nick",
  "MODE #fuzz",
  "MODE #fuzz +b",
  "MODE #fuzz +o nick",
  "MODE nick +i",
  "AWAY :gone",
  "AWAY",
  "NICK other",
  "PING :token",
  "PONG :token",
  "CAP LS 302",
  "CAP REQ :server-time",
  "CAP LIST",
  "CAP END",
  "OPER name password",
  "KICK #fuzz nick :why",
  "KILL nick :why",
  "PRIVMSG NickServ :IDENTIFY nick password",
  "PRIVMSG NickServ :REGISTER password",
  "PRIVMSG #fuzz :\x01ACTION waves\x01",
  "USER u 0 * :real",
  "PASS secret",
  "@tag=value;other PRIVMSG #fuzz :tagged",
  ":source PRIVMSG #fuzz :sourced",
];

const LINE_CORPUS = [
  "hello",
  "/nick someone",
  "/me waves",
  "/msg nick text",
  "/who",
  "/join room",
  "/rooms",
  "/topic a topic",
  "/register password123",
  "/identify nick password123",
  "/identify password123",
  "/password old new",
  "/drop",
  "/oper password",
  "/kick nick why",
  "/ban nick 1h why",
  "/help",
  "//slash",
];

const JUNK = [
  "",
  " ",
  ":",
  "::",
  "#",
  "*",
  ",",
  "\x00",
  "\x01",
  "\x7f",
  "\u202e",
  "👍",
  "\xff",
  "a b",
];

/** A line from the corpus, mutated a few times. */
function mutate(next: () => number, corpus: readonly string[]): Uint8Array {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  let words = pick(corpus).split(" ");
  for (let n = Math.floor(next() * 4); n > 0; n--) {
    const at = Math.floor(next() * (words.length + 1));
    switch (Math.floor(next() * 7)) {
      case 0:
        words.splice(at, 0, pick(JUNK) + pick(JUNK));
        break;
      case 1:
        words.splice(at, 1);
        break;
      case 2:
        if (words[at] !== undefined) words[at] = ":" + words[at];
        break;
      case 3:
        if (words[at] !== undefined) words[at] = "";
        break;
      case 4:
        words = [...words.slice(0, at), pick(corpus), ...words.slice(at)];
        break;
      case 5:
        if (words[at] !== undefined) words[at] = words[at].toUpperCase();
        break;
      default:
        words.splice(at, 0, "x".repeat(Math.floor(next() * 600)));
    }
  }
  const text = encoder.encode(words.join(pick([" ", "  ", " :"])));
  if (next() < 0.1) {
    // broken UTF-8 somewhere
    const at = Math.floor(next() * (text.length + 1));
    return Uint8Array.from([...text.subarray(0, at), 0xc3, ...text.subarray(at), 0x0a]);
  }
  return Uint8Array.from([...text, 0x0a]);
}

async function fuzz(kind: "irc" | "line", seed: number): Promise<void> {
  const server = startServer({ withIrcPort: true, maxPerIp: 0, rate: 0 });
  const port = kind === "irc" ? server.ircPort : server.port;
  const next = random(seed);
  const deadline = Date.now() + SECONDS * 1000;
  let sent = 0;
  try {
    await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
      while (Date.now() < deadline) {
        const client = await TestClient.connect(port);
        try {
          if (kind === "irc") {
            client.sendIrc(`NICK fuzz${i}`);
            client.sendIrc(`USER fuzz${i} 0 * :fuzzer`);
          }
          for (let n = 0; n < 200 && Date.now() < deadline; n++) {
            await client.conn.write(mutate(next, kind === "irc" ? IRC_CORPUS : LINE_CORPUS));
            sent++;
            if (n % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          }
        } catch {
          // the server closed it: QUIT, /quit, a kick, a nick clash; the log says why
        } finally {
          client.close();
        }
      }
    }));
    // Still serving: a fresh pair talks.
    const a = await TestClient.join(server.port, "after_a");
    const b = await TestClient.join(server.port, "after_b");
    a.send("still alive");
    await b.expect("<after_a> still alive");
    a.close();
    b.close();
  } finally {
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.ok(sent > 1000, `sent ${sent} lines`);
  assert.doesNotMatch(log, /reason="error/, "no client was dropped for an error");
  const failures = log.split("\n").filter((line) => /\berror\b.*failed:/.test(line));
  assert.deepEqual(failures.slice(0, 10), [], "no handler failed");
  console.log(`${kind}: ${sent} fuzzed lines in ${SECONDS} s, no failure`);
}

Deno.test("fuzz: the IRC front end answers random and mutated lines without failing anyone", () =>
  fuzz("irc", 20261206));

Deno.test("fuzz: the line front end answers random and mutated lines without failing anyone", () =>
  fuzz("line", 20261207));
