/**
 * Budgets of expensive work (src/core/budgets.ts) and the account and
 * operator rules that use them, with no socket: the key addresses are counted
 * by (IPv6 per /64), the throttles, the token buckets, the fair hashing queue,
 * and {@linkcode Accounts} over a memory store with a counting hasher, so that
 * "how many real guesses did that get" is a number, not a timing.
 */

import assert from "node:assert/strict";
import { Accounts } from "../src/core/accounts.ts";
import {
  addressKey,
  AttemptThrottle,
  DEFAULT_BUDGETS,
  FairQueue,
  type Queued,
  RateLimit,
} from "../src/core/budgets.ts";
import type { Problem } from "../src/core/commands.ts";
import { OperPassword } from "../src/core/oper.ts";
import type { PasswordHash, PasswordHasher } from "../src/core/passwords.ts";
import { type Account, MemoryStore } from "../src/core/store.ts";
import { delay } from "./helpers.ts";

Deno.test("addressKey: IPv4 as it is, IPv6 per /64 unless told otherwise", () => {
  assert.equal(addressKey("203.0.113.7"), "203.0.113.7");
  assert.equal(addressKey("::ffff:203.0.113.7"), "203.0.113.7", "a mapped address is its IPv4");
  assert.equal(addressKey("2001:db8::1"), "2001:db8::/64");
  assert.equal(addressKey("2001:db8::2"), "2001:db8::/64");
  assert.equal(addressKey("2001:DB8:0:0:ffff:ffff:ffff:ffff"), "2001:db8::/64");
  assert.equal(addressKey("2001:db8:0:1::1"), "2001:db8:0:1::/64", "the next /64 is another key");
  assert.equal(addressKey("::1"), "::/64");
  assert.equal(addressKey("2001:db8::1", { v6Prefix: 128 }), "2001:db8::1");
  assert.equal(addressKey("2001:db8:0:ff::1", { v6Prefix: 56 }), "2001:db8::/56");
  assert.equal(addressKey("2001:db8:1234::1", { v6Prefix: 48 }), "2001:db8:1234::/48");
  assert.equal(addressKey("not an address"), "not an address", "text is its own key");
  for (const wrong of [-1, 129, 64.5, NaN]) {
    assert.throws(() => addressKey("2001:db8::1", { v6Prefix: wrong }), RangeError);
  }
});

Deno.test("attempt throttle: a reservation counts at once and is forgiven when released", () => {
  const throttle = new AttemptThrottle({ limit: 3, windowMs: 60_000 });
  const ip = "198.51.100.9";
  const a = throttle.reserve(ip, 0);
  const b = throttle.reserve(ip, 1);
  const c = throttle.reserve(ip, 2);
  assert.equal(throttle.blocked(ip, 3), 59_997, "three attempts in flight use up the budget");
  throttle.release(b);
  assert.equal(throttle.blocked(ip, 3), 0, "one of them was right: one more may start");
  // Releasing one reservation never forgets the address's other failures.
  throttle.failed(ip, 4);
  assert.ok(throttle.blocked(ip, 5) > 0);
  throttle.release(a);
  throttle.release(c);
  throttle.release(c); // twice: nothing more happens
  assert.equal(throttle.blocked(ip, 5), 0);
  assert.equal(throttle.size, 1);
});

Deno.test("attempt throttle keyed by addressKey: 2001:db8::1 and 2001:db8::2 count together", () => {
  const throttle = new AttemptThrottle({ limit: 3 });
  for (const address of ["2001:db8::1", "2001:db8::2", "2001:db8::ffff"]) {
    throttle.failed(addressKey(address), 0);
  }
  assert.ok(throttle.blocked(addressKey("2001:db8::3"), 1) > 0, "the whole /64 waits");
  assert.equal(throttle.blocked(addressKey("2001:db8:0:1::1"), 1), 0, "the next /64 does not");
  assert.equal(throttle.blocked(addressKey("203.0.113.1"), 1), 0);
});

Deno.test("rate limit: a burst, then a token every 60/perMinute s; refunds; keys apart; bounded", () => {
  const limit = new RateLimit({ perMinute: 3, burst: 5 });
  for (let i = 0; i < 5; i++) assert.equal(limit.take("a", 0), 0, `token ${i + 1} of the burst`);
  assert.equal(limit.take("a", 0), 20_000, "the next token comes in 20 s");
  assert.equal(limit.take("b", 0), 0, "another key has its own bucket");
  assert.equal(limit.take("a", 19_999), 1);
  assert.equal(limit.take("a", 20_000), 0);
  assert.equal(limit.take("a", 20_000), 20_000);
  limit.refund("a", 20_000);
  assert.equal(limit.take("a", 20_000), 0, "a refunded token can be taken again");
  // A key whose bucket is full again is forgotten; at most maxAddresses are kept.
  assert.equal(limit.take("c", 200_000), 0);
  assert.equal(limit.size, 1);
  const small = new RateLimit({ perMinute: 1, burst: 1, maxAddresses: 10 });
  for (let i = 0; i < 100; i++) small.take(`k${i}`, i);
  assert.equal(small.size, 10);
  assert.equal(new RateLimit({ perMinute: 0, burst: 1 }).take("x", 0), 0, "0 a minute: no limit");
});

/** A job that finishes when told to; records when it started. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => open = resolve);
  return {
    open: () => open(),
    work: async () => {
      log.push(name);
      await opened;
      return name;
    },
  };
}

Deno.test("fair queue: one job at a time per key; waiting keys take turns, one job each", async () => {
  const queue = new FairQueue({ running: 1, waiting: 32, perAddress: 8 });
  const order: string[] = [];
  const gates = new Map<string, ReturnType<typeof gate>>();
  const promises: Promise<Queued<string>>[] = [];
  // a floods first, then b and c come.
  for (const name of ["a1", "a2", "a3", "a4", "b1", "c1", "b2"]) {
    const job = gate(order, name);
    gates.set(name, job);
    promises.push(queue.run(name[0], job.work));
  }
  // Each job finishes as soon as it has started.
  for (let i = 0; i < 7; i++) {
    await delay(1);
    gates.get(order[order.length - 1])!.open();
  }
  const values = await Promise.all(promises);
  assert.ok(values.every((value) => value.done));
  assert.deepEqual(order, ["a1", "a2", "b1", "c1", "a3", "b2", "a4"]);
  assert.equal(queue.running, 0);
  assert.equal(queue.waiting, 0);
});

Deno.test("fair queue: one key's jobs never run side by side, even with cores free", async () => {
  const queue = new FairQueue({ running: 4, waiting: 32, perAddress: 8 });
  let inFlight = 0;
  let most = 0;
  const work = async () => {
    most = Math.max(most, ++inFlight);
    await delay(5);
    inFlight--;
  };
  await Promise.all(Array.from({ length: 6 }, () => queue.run("same", work)));
  assert.equal(most, 1);
});

Deno.test("fair queue: a key past its share is told to wait; when all places are taken, the greediest key gives up its newest", async () => {
  const queue = new FairQueue({ running: 1, waiting: 4, perAddress: 3 });
  const order: string[] = [];
  const blocker = gate(order, "x");
  const running = queue.run("x", blocker.work);
  const a = [1, 2, 3, 4].map((i) => queue.run("a", () => Promise.resolve(`a${i}`)));
  const a4 = await a[3];
  assert.equal(a4.done, false);
  assert.equal(!a4.done && a4.scope, "address", "a has its 3 places already");
  assert.ok(!a4.done && a4.seconds >= 1);
  const b1 = queue.run("b", () => Promise.resolve("b1")); // the 4th place: free
  assert.equal(queue.waiting, 4);
  // All 4 taken: c holds none, a holds 3: a's newest (a3) makes room.
  const c1 = queue.run("c", () => Promise.resolve("c1"));
  const a3 = await a[2];
  assert.equal(a3.done, false);
  assert.equal(!a3.done && a3.scope, "server");
  // b holds 1 and so does c now, a holds 2: b's second job takes a's newest (a2).
  const b2 = queue.run("b", () => Promise.resolve("b2"));
  assert.equal((await a[1]).done, false);
  // a, b and c hold 1, 2 and 1: c's second takes b's newest (b2).
  const c2 = queue.run("c", () => Promise.resolve("c2"));
  assert.equal((await b2).done, false);
  // a, b and c hold 1, 1 and 2: c's third would take from c itself, the greediest: refused.
  const c3 = await queue.run("c", () => Promise.resolve("c3"));
  assert.equal(c3.done, false);
  assert.equal(!c3.done && c3.scope, "server", "c holds as many as anyone: refused");
  blocker.open();
  await running;
  const done = await Promise.all([a[0], b1, c1, c2]);
  assert.deepEqual(done.map((r) => r.done && r.value), ["a1", "b1", "c1", "c2"]);
});

Deno.test("fair queue: logins (urgent) go before registrations, and take their places when all are taken", async () => {
  const queue = new FairQueue({ running: 1, waiting: 3, perAddress: 8 });
  const order: string[] = [];
  const blocker = gate(order, "x");
  const running = queue.run("x", blocker.work);
  const job = (name: string) => () => {
    order.push(name);
    return Promise.resolve(name);
  };
  const registrations = ["r1", "r2", "r3"].map((name, i) => queue.run(`a${i}`, job(name)));
  // Full: a login from an address holding nothing, or even holding a registration, takes the
  // place of the newest registration of the greediest address (all hold one: the newest, r3).
  const login = queue.run("a0", job("login"), { urgent: true });
  assert.deepEqual(await registrations[2], { done: false, seconds: 1, scope: "server" });
  blocker.open();
  await running;
  assert.equal((await login).done, true);
  await Promise.all(registrations.slice(0, 2));
  assert.deepEqual(order, ["x", "login", "r1", "r2"], "the login first");
});

Deno.test("fair queue: a job that throws rejects only its own promise; the queue goes on", async () => {
  const queue = new FairQueue({ running: 1 });
  const failing = queue.run("a", () => Promise.reject(new Error("store down")));
  const next = queue.run("b", () => Promise.resolve(42));
  await assert.rejects(failing, /store down/);
  assert.deepEqual(await next, { done: true, value: 42 });
  const thrown = queue.run("a", () => {
    throw new Error("at once");
  });
  await assert.rejects(thrown, /at once/);
  assert.deepEqual(await queue.run("a", () => Promise.resolve(1)), { done: true, value: 1 });
});

/** A hasher that takes `ms` per hash and counts them: the password's bytes are its "hash". */
class CountingHasher implements PasswordHasher {
  hashes = 0;
  verifies = 0;
  inFlight = 0;
  most = 0;
  constructor(readonly ms = 20) {}

  async hash(password: string): Promise<PasswordHash> {
    this.hashes++;
    await this.#work();
    return {
      hash: new TextEncoder().encode(password),
      salt: new Uint8Array(16),
      params: { N: 2, r: 1, p: 1 },
    };
  }

  async verify(password: string, account: Pick<Account, "hash">): Promise<boolean> {
    this.verifies++;
    await this.#work();
    return new TextDecoder().decode(account.hash) === password;
  }

  async #work(): Promise<void> {
    this.most = Math.max(this.most, ++this.inFlight);
    await delay(this.ms);
    this.inFlight--;
  }
}

function accountsFor(options: { hasher: CountingHasher; now?: () => number }) {
  const store = new MemoryStore(0);
  let time = 1_000_000;
  const accounts = new Accounts(store, {
    clock: options.now ?? (() => time),
    hasher: options.hasher,
  });
  return {
    store,
    accounts,
    advance(ms: number) {
      time += ms;
    },
  };
}

const PASSWORD = "right-password-1";

Deno.test("accounts: 32 wrong passwords at once from one address make 3 real guesses, not 34", async () => {
  const hasher = new CountingHasher(20);
  const { accounts } = accountsFor({ hasher });
  assert.equal(await accounts.register("192.0.2.50", "target", "target", PASSWORD), null);
  hasher.verifies = 0;
  const answers = await Promise.all(
    Array.from(
      { length: 32 },
      (_, i) => accounts.check("192.0.2.51", "target", "target", `guess-${i}`),
    ),
  );
  const codes = answers.map((problem) => problem?.code);
  assert.equal(hasher.verifies, 3, `real guesses: ${hasher.verifies}`);
  assert.equal(codes.filter((code) => code === "wrong-password").length, 3);
  assert.ok(
    codes.every((code) =>
      code === "wrong-password" || code === "too-many-attempts" || code === "busy"
    ),
  );
  assert.equal(hasher.most, 1, "one address's hashes run one at a time");
  // And now even the right password waits.
  const right = await accounts.check("192.0.2.51", "target", "target", PASSWORD);
  assert.equal(right?.code, "too-many-attempts");
  assert.equal(hasher.verifies, 3);
});

Deno.test("accounts: a right password forgives only itself; guessing cannot be reset by proving one's own nick", async () => {
  const hasher = new CountingHasher(1);
  const { accounts } = accountsFor({ hasher });
  assert.equal(await accounts.register("192.0.2.60", "mine", "mine", PASSWORD), null);
  assert.equal(await accounts.register("192.0.2.61", "victim", "victim", "victims-password"), null);
  const from = "192.0.2.62";
  for (const guess of ["guess-one", "guess-two"]) {
    assert.equal((await accounts.check(from, "victim", "victim", guess))?.code, "wrong-password");
  }
  assert.equal(await accounts.check(from, "mine", "mine", PASSWORD), null, "the right password");
  assert.equal((await accounts.check(from, "victim", "victim", "guess-3"))?.code, "wrong-password");
  assert.equal(
    (await accounts.check(from, "victim", "victim", "guess-4"))?.code,
    "too-many-attempts",
  );
});

Deno.test("accounts: failures from 2001:db8::1 and 2001:db8::2 count together; the next /64 is apart", async () => {
  const hasher = new CountingHasher(1);
  const { accounts } = accountsFor({ hasher });
  assert.equal(await accounts.register("2001:db8:1::1", "v6", "v6", PASSWORD), null);
  for (const address of ["2001:db8::1", "2001:db8::2", "2001:db8::1"]) {
    assert.equal((await accounts.check(address, "v6", "v6", "wrong-one"))?.code, "wrong-password");
  }
  const sameNetwork = await accounts.check("2001:db8::abcd", "v6", "v6", PASSWORD);
  assert.equal(sameNetwork?.code, "too-many-attempts");
  assert.equal(await accounts.check("2001:db8:0:1::1", "v6", "v6", PASSWORD), null);
});

Deno.test("accounts: registrations take tokens per address (5, then one per 20 s) and per server; refused ones hash nothing", async () => {
  const hasher = new CountingHasher(1);
  const { accounts, advance } = accountsFor({ hasher });
  for (let i = 0; i < 5; i++) {
    assert.equal(await accounts.register("192.0.2.70", `nick${i}`, `nick${i}`, PASSWORD), null);
  }
  const sixth = await accounts.register("192.0.2.70", "nick5", "nick5", PASSWORD);
  assert.deepEqual(sixth, { code: "busy", work: "registrations", scope: "address", seconds: 20 });
  assert.equal(hasher.hashes, 5);
  // A password change is an account change too.
  const change = await accounts.setPassword("192.0.2.70", "nick0", "nick0", "another-password");
  assert.equal(change?.code, "busy");
  assert.equal(await accounts.setPassword(null, "nick0", "nick0", "another-password"), null);
  assert.equal(await accounts.register("192.0.2.71", "other", "other", PASSWORD), null);
  advance(20_000);
  assert.equal(await accounts.register("192.0.2.70", "nick5", "nick5", PASSWORD), null);
  // Nicks already registered cost no token and no hash.
  const hashes = hasher.hashes;
  assert.equal(
    (await accounts.register("192.0.2.72", "nick5", "nick5", PASSWORD))?.code,
    "nick-registered",
  );
  assert.equal(hasher.hashes, hashes);
  // The server's bucket: 30 at once from everywhere.
  let refusedBy: Problem | null = null;
  for (let i = 0; i < 40 && refusedBy === null; i++) {
    refusedBy = await accounts.register(`198.51.100.${i}`, `many${i}`, `many${i}`, PASSWORD);
  }
  assert.equal(refusedBy?.code, "busy");
  assert.equal(refusedBy?.code === "busy" && refusedBy.scope, "server");
});

Deno.test("accounts: a flood from 10 addresses never makes another address's login fail or throw", async () => {
  const hasher = new CountingHasher(20);
  const { accounts } = accountsFor({ hasher });
  assert.equal(await accounts.register("192.0.2.1", "legit", "legit", PASSWORD), null);
  const flood: Promise<Problem | null>[] = [];
  for (let i = 0; i < 300; i++) {
    const address = `127.0.0.${2 + (i % 10)}`;
    flood.push(accounts.register(address, `flood${i}`, `flood${i}`, PASSWORD));
    flood.push(accounts.check(address, "legit", "legit", "wrong-guess"));
  }
  const started = performance.now();
  const login = await accounts.check("192.0.2.1", "legit", "legit", PASSWORD);
  const waited = performance.now() - started;
  assert.equal(login, null);
  // Round-robin: ~10 flooding addresses ahead, 20 ms each, two at a time.
  assert.ok(waited < 1_000, `the login waited ${waited.toFixed(0)} ms`);
  const answers = await Promise.all(flood);
  const real = hasher.hashes + hasher.verifies;
  // Per address: 5 registrations at once and 3 wrong passwords; the rest refused before hashing.
  assert.ok(real <= 10 * (5 + 3) + 2, `the flood got ${real} hashes`);
  assert.ok(answers.every((problem) => problem === null || typeof problem.code === "string"));
});

Deno.test("oper password: past the failures allowed, refused without comparing (even the right one) until the window passes", async () => {
  let now = 0;
  const oper = new OperPassword("the-oper-password", {
    clock: () => now,
    budgets: {
      operFailures: { limit: 2, windowMs: 50 },
      serverOperFailures: { limit: 5, windowMs: 50 },
    },
  });
  assert.equal((await oper.check("192.0.2.80", "guess-1"))?.code, "wrong-oper-password");
  assert.equal((await oper.check("192.0.2.80", "guess-2"))?.code, "wrong-oper-password");
  assert.deepEqual(await oper.check("192.0.2.80", "the-oper-password"), {
    code: "too-many-attempts",
    seconds: 1,
  });
  assert.equal(await oper.check("192.0.2.81", "the-oper-password"), null, "another address may");
  now = 50;
  assert.equal(await oper.check("192.0.2.80", "the-oper-password"), null, "the window has passed");
  // Attempts at once cannot overtake the count.
  const burst = await Promise.all(
    Array.from({ length: 20 }, (_, i) => oper.check("192.0.2.82", `guess-${i}`)),
  );
  assert.equal(burst.filter((p) => p?.code === "wrong-oper-password").length, 2);
  // From everywhere together: 5 wrong ones in the window, then everyone waits.
  for (const address of ["192.0.2.83", "192.0.2.84", "192.0.2.85"]) {
    await oper.check(address, "wrong");
  }
  const server = await oper.check("192.0.2.86", "the-oper-password");
  assert.equal(server?.code, "busy");
  assert.deepEqual(await new OperPassword(null, { clock: () => 0 }).check("x", "y"), {
    code: "no-operators",
  });
});

Deno.test("budgets: the defaults are the documented ones", () => {
  assert.deepEqual(DEFAULT_BUDGETS, {
    v6Prefix: 64,
    loginFailures: { limit: 3, windowMs: 60_000 },
    registrations: { perMinute: 3, burst: 5 },
    serverRegistrations: { perMinute: 60, burst: 30 },
    operFailures: { limit: 3, windowMs: 600_000 },
    serverOperFailures: { limit: 30, windowMs: 600_000 },
    passwordQueue: { running: 2, waiting: 32, perAddress: 8 },
  });
});
