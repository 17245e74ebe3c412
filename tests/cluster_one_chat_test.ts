/**
 * Several servers on one real `redis-server` act as one chat for what issue
 * 24 found them not to (SPEC §9, §10), with real server processes and
 * clients over TCP:
 *
 * - a topic set on server A is shown to whoever joins the room on server B
 *   (the line on joining, `/topic`, IRC 332), a third client later, and
 *   after B restarts;
 * - `you are now in #ops (N here)` counts the members of every server, as
 *   `/who` does;
 * - the console's `/kick`, `/mute`, `/unmute`, `/ban` and `/unban`, and chat
 *   operators' `/kill`, `/mute`, IRC `KILL` and `DLINE`, act on a member of
 *   another server; a muted member stays muted reconnecting to another
 *   server, under its nick or the one it changed to; a ban reaches the other
 *   server's door at once;
 * - a guest (the owner of a registered nick back without its password) does
 *   not become the operator of an empty room that was there before it.
 *
 * Clients that must come from their own address (a ban by address) connect
 * from 127.0.0.2 and up through `node:net`, which can bind a source address.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import {
  delay,
  missingTools,
  type ServerProcess,
  startServerProcess,
  TestClient,
  waitUntil,
} from "./helpers.ts";
import { type RedisServer, startRedisServer } from "./redis_server.ts";

const NO_REDIS = await missingTools("cluster test", "redis-server");
/** Long enough for anything to cross servers through Redis. */
const T = 10_000;
const OPER_PASSWORD = "oper-pass-1234";

/** A parley server on `redis`, as users run it, plus `extra`. */
function start(
  redis: RedisServer,
  extra: string[] = [],
  options: { console?: boolean } = {},
): Promise<ServerProcess> {
  return startServerProcess(
    ["--cluster", redis.url, ...(options.console ? [] : ["--no-console"]), ...extra],
    options,
  );
}

/**
 * A line client that takes `nick` on `port`, trying again while the nick is
 * still held (its last owner left another server a moment ago).
 */
async function joinAs(port: number, nick: string): Promise<TestClient> {
  const deadline = Date.now() + T;
  for (;;) {
    const client = await TestClient.join(port);
    client.send(`/nick ${nick}`);
    const answer = await client.expect(/^(\*\*\* you are now |!!! nickname )/);
    if (answer === `*** you are now ${nick}`) return client;
    client.close();
    if (Date.now() > deadline) throw new Error(`could not become ${nick}: ${answer}`);
    await delay(100);
  }
}

/** Waits until `client`'s `/who` of its room says `count`. */
async function whoSays(client: TestClient, count: RegExp): Promise<string> {
  let last = "";
  await waitUntil(
    async () => {
      client.send("/who");
      last = await client.expect(/^\*\*\* in #/);
      return count.test(last);
    },
    () => `/who to match ${count}; last: ${last}`,
    T,
  );
  return last;
}

/** A line client bound to a source address (127.0.0.2 and up), collecting lines. */
class SourcedClient {
  readonly lines: string[] = [];
  closed = false;
  readonly #socket: net.Socket;
  #partial = "";
  #cursor = 0;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      const parts = (this.#partial + text).split(/\r?\n/);
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
    });
    socket.on("close", () => this.closed = true);
    socket.on("error", () => this.closed = true);
  }

  /** Connects to `port` on 127.0.0.1 from `source` and says it is a line client. */
  static connect(port: number, source: string): Promise<SourcedClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress: source });
      socket.once("connect", () => {
        const client = new SourcedClient(socket);
        client.send("");
        resolve(client);
      });
      socket.once("error", reject);
    });
  }

  /** Connects from `source`, waits for the welcome and takes `nick`. */
  static async join(port: number, source: string, nick: string): Promise<SourcedClient> {
    const client = await SourcedClient.connect(port, source);
    await client.expect(/^\*\*\* welcome to parley, you are /);
    client.send(`/nick ${nick}`);
    await client.expect(`*** you are now ${nick}`);
    return client;
  }

  send(line: string): void {
    if (!this.closed) this.#socket.write(line + "\n");
  }

  /** The next line (after those taken) matching `match`. */
  async expect(match: string | RegExp, timeout = T): Promise<string> {
    const deadline = Date.now() + timeout;
    for (;;) {
      while (this.#cursor < this.lines.length) {
        const line = this.lines[this.#cursor++];
        if (typeof match === "string" ? line === match : match.test(line)) return line;
      }
      if (this.closed || Date.now() > deadline) {
        throw new Error(`no line matching ${match}; got:\n${this.lines.slice(-10).join("\n")}`);
      }
      await delay(5);
    }
  }

  async expectClosed(timeout = T): Promise<void> {
    await waitUntil(() => this.closed, "the server to close the connection", timeout);
  }

  close(): void {
    this.#socket.destroy();
    this.closed = true;
  }
}

Deno.test({
  name:
    "cluster: a topic set on A is shown to whoever joins the room on B: on joining, by /topic, as IRC 332, to a third client later, after B restarts",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await Promise.all([start(redis), start(redis)]);
  const clients: { close(): void }[] = [];
  const topicLine = /^\*\*\* topic of #ops: deploy at noon \(set by ann, .+\)$/;
  try {
    const [a] = processes;
    const ann = await TestClient.join(a.port, "ann");
    clients.push(ann);
    ann.send("/join ops");
    await ann.expect(/^\*\*\* you are now in #ops/);
    ann.send("/topic deploy at noon");
    await ann.expect("*** topic of #ops is now: deploy at noon");

    // B never had #ops: bob joins it there, is shown its topic, and /topic answers it.
    const bob = await TestClient.join(processes[1].port, "bob");
    clients.push(bob);
    bob.send("/join ops");
    await bob.expect(/^\*\*\* you are now in #ops/);
    await bob.expect(topicLine, 2000);
    bob.send("/topic");
    await bob.expect(topicLine);
    // A third client, over IRC, later on B.
    const cy = await TestClient.registerIrc(processes[1].port, "cy");
    clients.push(cy);
    cy.sendIrc("JOIN #ops");
    await cy.expect(/^:\S+ 332 cy #ops :deploy at noon$/);
    await cy.expect(/^:\S+ 333 cy #ops ann \d+$/);

    // B restarts: the topic is read from Redis.
    bob.close();
    cy.close();
    assert.equal(await processes[1].stop("SIGTERM"), 0);
    processes[1] = await start(redis);
    const dan = await TestClient.join(processes[1].port, "dan");
    clients.push(dan);
    dan.send("/join ops");
    await dan.expect(/^\*\*\* you are now in #ops/);
    await dan.expect(topicLine, 2000);
    dan.send("/topic");
    await dan.expect(topicLine);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  }
});

Deno.test({
  name: "cluster: joining a room on B says as many here as /who counts, on every server",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await Promise.all([start(redis), start(redis)]);
  const [a, b] = processes;
  const clients: TestClient[] = [];
  try {
    const ann = await TestClient.join(a.port, "ann");
    const amy = await TestClient.join(a.port, "amy");
    clients.push(ann, amy);
    for (const client of [ann, amy]) {
      client.send("/join ops");
      await client.expect(/^\*\*\* you are now in #ops/);
    }
    // The others are counted from a view of them at most a second old.
    await delay(1100);
    const bob = await TestClient.join(b.port, "bob");
    clients.push(bob);
    bob.send("/join ops");
    await bob.expect("*** you are now in #ops (3 here)");
    assert.match(await whoSays(bob, /\(3 here, 3 online\)/), /^\*\*\* in #ops: /);
    // And the same on the other side.
    await delay(1100);
    const cy = await TestClient.join(a.port, "cy");
    clients.push(cy);
    cy.send("/join OPS");
    await cy.expect("*** you are now in #ops (4 here)");
    await whoSays(cy, /\(4 here, 4 online\)/);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  }
});

Deno.test({
  name:
    "cluster: the console's /mute, /unmute and /kick act on a member of another server; a muted member stays muted reconnecting anywhere, under its nick or a new one",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await Promise.all([start(redis, [], { console: true }), start(redis)]);
  const [a, b] = processes;
  const clients: { close(): void }[] = [];
  try {
    const ann = await TestClient.join(a.port, "ann");
    clients.push(ann);
    let bob = await TestClient.join(b.port, "bob");
    clients.push(bob);
    await ann.expect(/^\*\*\* guest-\d+ is now known as bob$/, T);

    // A mute typed on A reaches bob on B, at once.
    await a.type("/mute bob");
    await a.stdout.waitFor(/^muted bob until \/unmute$/m);
    await bob.expect("*** console muted you: your lines reach nobody until you are unmuted", T);
    bob.send("anyone there?");
    await bob.expect("!!! you are muted; your lines go nowhere");

    // Reconnecting to the other server, under the same nick, is no way out.
    bob.close();
    bob = await joinAs(a.port, "bob");
    clients.push(bob);
    bob.send("from A now");
    await bob.expect("!!! you are muted; your lines go nowhere");
    // Nor is a new nick, there or after reconnecting to B under it.
    bob.send("/nick bobby");
    await bob.expect("*** you are now bobby");
    bob.send("as bobby");
    await bob.expect("!!! you are muted; your lines go nowhere");
    bob.close();
    bob = await joinAs(b.port, "bobby");
    clients.push(bob);
    bob.send("bobby on B");
    await bob.expect("!!! you are muted; your lines go nowhere");

    // /unmute on A, for bobby on B, lifts the mute whole (the old nick's too).
    await a.type("/unmute bobby");
    await a.stdout.waitFor(/^unmuted bobby$/m);
    await bob.expect("*** console unmuted you: you are heard again", T);
    bob.send("heard again");
    await ann.expect("<bobby> heard again", T);
    bob.send("/nick bob");
    await bob.expect("*** you are now bob");
    bob.send("and as bob");
    await ann.expect("<bob> and as bob", T);
    assert.ok(
      !ann.lines.some((line) =>
        /^<\S+> (anyone there\?|from A now|as bobby|bobby on B)$/.test(line)
      ),
      "nothing a muted member said reached anyone",
    );

    // /kick on A disconnects bob on B.
    await a.type("/kick bob spamming");
    await a.stdout.waitFor(/^kicked bob$/m);
    await bob.expect("!!! you were kicked by console (spamming)", T);
    await bob.expectClosed(T);
    await ann.expect(/^\*\*\* bob left \(kicked by console/, T);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  }
});

Deno.test({
  name:
    "cluster: the console's /ban removes whoever is on another server from the block at once, bans a nick of another server, and the ban and /unban reach that server's door at once",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await Promise.all([start(redis, [], { console: true }), start(redis)]);
  const [a, b] = processes;
  const clients: { close(): void }[] = [];
  try {
    const ann = await TestClient.join(a.port, "ann");
    clients.push(ann);
    // A ban of an address takes whoever is on B from it out at once.
    const erin = await SourcedClient.join(b.port, "127.0.0.22", "erin");
    clients.push(erin);
    await ann.expect(/^\*\*\* guest-\d+ is now known as erin$/, T);
    await a.type("/ban 127.0.0.22");
    await a.stdout.waitFor(/^banned 127\.0\.0\.22 for good, by console$/m);
    await erin.expect(/^!!! you are banned from this server/);
    await erin.expectClosed();
    await a.stdout.waitFor(/^removed: erin$/m);

    // /ban of a nick on B: its address is refused at once on both servers.
    const dave = await SourcedClient.join(b.port, "127.0.0.21", "dave");
    clients.push(dave);
    await ann.expect(/^\*\*\* guest-\d+ is now known as dave$/, T);
    await a.type("/ban dave 1h flooding");
    await a.stdout.waitFor(/^banned 127\.0\.0\.21 until .* \(flooding\), by console$/m);
    await a.stdout.waitFor(/^removed: dave$/m);
    await dave.expect(/^!!! you are banned from this server .*flooding/);
    await dave.expectClosed();
    for (const port of [b.port, a.port]) {
      const again = await SourcedClient.connect(port, "127.0.0.21");
      clients.push(again);
      await again.expect(/^!!! you are banned from this server .*flooding/, 3000);
      await again.expectClosed(3000);
    }
    // /unban on A lets dave into B at once.
    await a.type("/unban 127.0.0.21");
    await a.stdout.waitFor(/^lifted the ban on 127\.0\.0\.21$/m);
    const back = await SourcedClient.join(b.port, "127.0.0.21", "dave");
    clients.push(back);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  }
});

Deno.test({
  name: "cluster: chat operators on A reach members of B: /mute, /kill, IRC KILL and DLINE by nick",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const dir = await Deno.makeTempDir({ prefix: "parley-one-chat-" });
  const operFile = join(dir, "oper");
  await Deno.writeTextFile(operFile, `${OPER_PASSWORD}\n`);
  const extra = ["--oper-password-file", operFile];
  const processes = await Promise.all([start(redis, extra), start(redis, extra)]);
  const [a, b] = processes;
  const clients: { close(): void }[] = [];
  try {
    const ann = await TestClient.join(a.port, "ann");
    clients.push(ann);
    ann.send(`/oper ${OPER_PASSWORD}`);
    await ann.expect(/^\*\*\* you are a server operator now/);
    const bob = await TestClient.join(b.port, "bob");
    const cy = await TestClient.join(b.port, "cy");
    clients.push(bob, cy);
    await ann.expect(/^\*\*\* guest-\d+ is now known as cy$/, T);

    ann.send("/mute cy 10m");
    await ann.expect(/^\*\*\* muted cy for (10m|9m\d+s)$/);
    await cy.expect(
      /^\*\*\* ann muted you until \d\d:\d\d: your lines reach nobody until then$/,
      T,
    );
    cy.send("hello?");
    await cy.expect(/^!!! you are muted until \d\d:\d\d; your lines go nowhere$/);
    ann.send("/unmute cy");
    await ann.expect("*** unmuted cy");
    await cy.expect("*** ann unmuted you: you are heard again", T);

    ann.send("/kill bob enough");
    await ann.expect("*** kicked bob");
    await bob.expect("!!! you were kicked by ann (enough)", T);
    await bob.expectClosed(T);

    // An IRC operator on A: KILL and DLINE of members of B.
    const ivy = await TestClient.registerIrc(a.port, "ivy");
    clients.push(ivy);
    ivy.sendIrc(`OPER ivy ${OPER_PASSWORD}`);
    await ivy.expect(/ 381 ivy /);
    const dan = await TestClient.registerIrc(b.port, "dan");
    clients.push(dan);
    await waitUntil(
      async () => {
        ivy.sendIrc("ISON dan");
        return / 303 ivy :dan$/.test(await ivy.expect(/ 303 ivy /));
      },
      "ivy to see dan",
      T,
    );
    ivy.sendIrc("KILL dan :go home");
    await ivy.expect(/^:\S+ NOTICE ivy :kicked dan$/);
    await dan.expectClosed(T);
    assert.ok(dan.lines.some((line) => /go home/.test(line)), dan.lines.join("\n"));

    const eve = await SourcedClient.join(b.port, "127.0.0.23", "eve");
    clients.push(eve);
    await waitUntil(
      async () => {
        ivy.sendIrc("ISON eve");
        return / 303 ivy :eve$/.test(await ivy.expect(/ 303 ivy /));
      },
      "ivy to see eve",
      T,
    );
    ivy.sendIrc("DLINE eve 10m :spam");
    await ivy.expect(/^:\S+ NOTICE ivy :banned 127\.0\.0\.23 until /);
    await ivy.expect(/^:\S+ NOTICE ivy :removed: eve$/);
    await eve.expect(/^!!! you are banned from this server/);
    await eve.expectClosed();
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "cluster: the owner of a registered nick back without its password is a guest, and no operator of an empty room that was there before; identified, it is",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes = await Promise.all([start(redis), start(redis)]);
  const [a, b] = processes;
  const clients: TestClient[] = [];
  try {
    let bob = await TestClient.join(a.port, "bob");
    clients.push(bob);
    bob.send("/register bob-password-1");
    await bob.expect(/^\*\*\* the nick bob is yours now/);
    bob.send("/join ops");
    await bob.expect(/^\*\*\* you are now in #ops/);
    bob.send("/topic ours");
    await bob.expect("*** topic of #ops is now: ours");
    bob.send("kept in history");
    bob.close();

    // Back on B, without the password: a guest, and #ops gets no operator from it.
    const guest = await TestClient.join(b.port);
    clients.push(guest);
    guest.send("/nick bob");
    await guest.expect(/^!!! .*bob.* registered/);
    guest.send("/join ops");
    await guest.expect(/^\*\*\* you are now in #ops \(1 here\)$/);
    const who = await whoSays(guest, /\(1 here, 1 online\)/);
    assert.match(who, /^\*\*\* in #ops: guest-\d+ \(1 here/, "the guest is no operator");
    guest.send("/topic mine now");
    await guest.expect("!!! only the operators of #ops can set its topic");
    guest.close();

    // The owner, identified, on B: #ops is its again.
    bob = await TestClient.join(b.port);
    clients.push(bob);
    bob.send("/identify bob bob-password-1");
    await bob.expect(/^\*\*\* you are now bob/);
    bob.send("/join ops");
    await bob.expect(/^\*\*\* you are now in #ops \(1 here\)$/);
    await whoSays(bob, /^\*\*\* in #ops: @bob \(1 here/);
    // A room the guest makes is the guest's, as ever.
    const newcomer = await TestClient.join(a.port);
    clients.push(newcomer);
    newcomer.send("/join brand-new");
    await newcomer.expect(/^\*\*\* you are now in #brand-new \(1 here\)$/);
    await whoSays(newcomer, /^\*\*\* in #brand-new: @guest-\d+ \(1 here/);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  }
});

Deno.test("--data: a guest is no operator of an empty room that was there before it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-guest-op-" });
  const server = await startServerProcess(["--data", join(dir, "chat.db"), "--no-console"]);
  const clients: TestClient[] = [];
  try {
    const bob = await TestClient.join(server.port, "bob");
    clients.push(bob);
    bob.send("/register bob-password-1");
    await bob.expect(/^\*\*\* the nick bob is yours now/);
    bob.send("/join ops");
    await bob.expect(/^\*\*\* you are now in #ops/);
    bob.send("said before");
    bob.send("/quit");
    await bob.expectClosed();
    const guest = await TestClient.join(server.port);
    clients.push(guest);
    guest.send("/join ops");
    await guest.expect(/^\*\*\* you are now in #ops/);
    guest.send("/who");
    assert.match(await guest.expect(/^\*\*\* in #ops: /), /^\*\*\* in #ops: guest-\d+ \(1 here/);
  } finally {
    for (const client of clients) client.close();
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
