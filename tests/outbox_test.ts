import assert from "node:assert/strict";
import {
  HOLD_LIMIT_MS,
  MAX_WRITES_IN_FLIGHT,
  Outbox,
  type OutboxOptions,
  TAKING_GRACE_MS,
  WriteScheduler,
} from "../src/net/outbox.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const scheduler = new WriteScheduler();

/** A writer that takes at most `step` bytes per write, like a busy socket. */
class PartialWriter {
  received: number[] = [];
  writes = 0;
  constructor(readonly step: number) {}
  write(bytes: Uint8Array): Promise<number> {
    this.writes++;
    const taken = bytes.subarray(0, this.step);
    this.received.push(...taken);
    return Promise.resolve(taken.length);
  }
}

/** A writer that never finishes a write: a peer that stopped reading. */
class StalledWriter {
  writes = 0;
  write(): Promise<number> {
    this.writes++;
    return new Promise(() => {});
  }
}

Deno.test("partial writes are retried until every byte is out, in order", async () => {
  const writer = new PartialWriter(3);
  const outbox = new Outbox(writer, { sendQueueLimit: 1024 }, scheduler);
  outbox.send(new Uint8Array([1, 2, 3, 4, 5]));
  outbox.send(new Uint8Array([6, 7]));
  await outbox.idle();
  assert.deepEqual(writer.received, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(outbox.pendingBytes, 0);
});

Deno.test("everything sent in one turn goes out in a single write", async () => {
  const writer = new PartialWriter(1 << 20);
  const outbox = new Outbox(writer, { sendQueueLimit: 1 << 20 }, scheduler);
  for (let i = 0; i < 100; i++) outbox.send(new Uint8Array([i]));
  await outbox.idle();
  assert.equal(writer.writes, 1);
  assert.equal(writer.received.length, 100);
});

Deno.test("a peer that stops reading overflows its own outbox, once its socket is seen not to take bytes", async () => {
  const writer = new StalledWriter();
  let overflows = 0;
  const outbox = new Outbox(writer, {
    sendQueueLimit: 1000,
    onSendQueueOverflow: () => overflows++,
  }, scheduler);
  const chunk = new Uint8Array(100);
  outbox.send(chunk);
  await Promise.resolve(); // the write starts, and never finishes
  await delay(TAKING_GRACE_MS + 50);
  let accepted = 1;
  for (let i = 0; i < 50; i++) if (outbox.send(chunk)) accepted++;
  assert.equal(accepted, 10, "up to the limit is accepted");
  assert.equal(overflows, 1);
  assert.equal(outbox.open, false);
  assert.equal(outbox.pendingBytes, 0, "the queue is given back");
  assert.equal(outbox.send(chunk), false);
  assert.ok(outbox.stalledFor(performance.now()) === 0, "a failed outbox is not stalled");
});

Deno.test("output the server has not written yet holds talkers back instead of cutting the reader", async () => {
  const scheduler = new WriteScheduler();
  const writer = new PartialWriter(1 << 20);
  const pressure: boolean[] = [];
  let overflows = 0;
  const outbox = new Outbox(writer, {
    sendQueueLimit: 4096,
    onSendQueueOverflow: () => overflows++,
    onPressure: (holding) => pressure.push(holding),
  }, scheduler);
  // A burst the server reads faster than it writes: 10× the limit in one turn.
  for (let i = 0; i < 400; i++) outbox.send(new Uint8Array(100));
  assert.equal(overflows, 0, "a reader that takes bytes is never cut for the server's slowness");
  assert.deepEqual(pressure, [true], "it holds the talkers back");
  assert.equal(scheduler.behind, 1);
  await outbox.idle();
  assert.equal(writer.received.length, 40_000, "everything arrives");
  assert.deepEqual(pressure, [true, false], "and lets them go once caught up");
  assert.equal(scheduler.behind, 0);
});

Deno.test("a socket that takes nothing holds nobody back; one that never catches up holds at most HOLD_LIMIT_MS", async () => {
  const scheduler = new WriteScheduler();
  const pressure: boolean[] = [];
  let overflows = 0;
  const stalled = new Outbox(new StalledWriter(), {
    sendQueueLimit: 4096,
    onSendQueueOverflow: () => overflows++,
    onPressure: (holding) => pressure.push(holding),
  }, scheduler);
  stalled.send(new Uint8Array(100));
  await Promise.resolve();
  await delay(TAKING_GRACE_MS + 50);
  assert.ok(stalled.stalledFor(performance.now()) >= TAKING_GRACE_MS, "it reports how long");
  stalled.send(new Uint8Array(2000)); // behind, but its socket is not taking: no hold
  assert.equal(pressure.length, 0, "no hold");
  stalled.send(new Uint8Array(3000));
  assert.equal(overflows, 1, "and its limit applies");

  // A slow reader: one small write every 40 ms, far slower than what comes.
  const slow = new Outbox({
    write: (bytes) => delay(40).then(() => Math.min(bytes.length, 64)),
  }, {
    sendQueueLimit: 4096,
    onSendQueueOverflow: () => overflows++,
    onPressure: (holding) => pressure.push(holding),
  }, scheduler);
  const keepAlive = setTimeout(() => {}, HOLD_LIMIT_MS + 3000);
  const started = performance.now();
  while (slow.open && performance.now() - started < HOLD_LIMIT_MS + 2000) {
    slow.send(new Uint8Array(200));
    await delay(20);
  }
  clearTimeout(keepAlive);
  const held = performance.now() - started;
  assert.deepEqual(pressure, [true, false], "it held, then stopped holding");
  assert.equal(overflows, 2, "then its limit cut it");
  assert.ok(
    held >= HOLD_LIMIT_MS - 200 && held < HOLD_LIMIT_MS + 1500,
    `held ${held.toFixed(0)} ms`,
  );
});

Deno.test("an owner object can be the options: its methods are called on it", async () => {
  // As a session is: the object that owns the outbox is its options, with no closures.
  class Owner implements OutboxOptions {
    readonly sendQueueLimit = 100;
    overflows = 0;
    errors: unknown[] = [];
    onSendQueueOverflow(): void {
      this.overflows++;
    }
    onWriteError(error: unknown): void {
      this.errors.push(error);
    }
  }
  const overflowing = new Owner();
  const stalled = new Outbox(new StalledWriter(), overflowing, scheduler);
  stalled.send(new Uint8Array(40));
  await Promise.resolve();
  await delay(TAKING_GRACE_MS + 50);
  for (let i = 0; i < 5; i++) stalled.send(new Uint8Array(40));
  assert.equal(overflowing.overflows, 1);

  const failing = new Owner();
  const broken = new Outbox(
    { write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")) },
    failing,
    scheduler,
  );
  broken.send(new Uint8Array([1]));
  await broken.idle();
  assert.equal(failing.errors.length, 1);
  assert.ok(failing.errors[0] instanceof Deno.errors.BrokenPipe);
});

Deno.test("a failed write is reported once and the outbox closes", async () => {
  const errors: unknown[] = [];
  const outbox = new Outbox({ write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")) }, {
    sendQueueLimit: 1000,
    onWriteError: (error) => errors.push(error),
  }, scheduler);
  outbox.send(new Uint8Array([1]));
  await outbox.idle();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.BrokenPipe);
  assert.equal(outbox.send(new Uint8Array([2])), false);
});

Deno.test("idle resolves at once when nothing is queued", async () => {
  const outbox = new Outbox(new PartialWriter(10), { sendQueueLimit: 10 }, scheduler);
  await outbox.idle();
});

Deno.test("many queued arrays are joined into few writes of bounded size, bytes in order", async () => {
  const writer = new PartialWriter(1 << 30);
  const outbox = new Outbox(writer, { sendQueueLimit: 1 << 30 }, scheduler);
  const expected: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const chunk = new Uint8Array(100).fill(i % 251);
    expected.push(...chunk);
    outbox.send(chunk);
  }
  await outbox.idle();
  assert.deepEqual(writer.received, expected);
  assert.ok(writer.writes >= 5 && writer.writes <= 6, `${writer.writes} writes for 300,000 bytes`);
});

Deno.test("a partial write of a joined buffer continues where it stopped", async () => {
  const writer = new PartialWriter(7);
  const outbox = new Outbox(writer, { sendQueueLimit: 1 << 20 }, scheduler);
  const expected: number[] = [];
  for (let i = 0; i < 50; i++) {
    const chunk = Uint8Array.from({ length: 13 }, (_, j) => (i * 13 + j) % 256);
    expected.push(...chunk);
    outbox.send(chunk);
  }
  await outbox.idle();
  assert.deepEqual(writer.received, expected);
});

Deno.test("writes in flight are capped across outboxes; the rest wait their turn and lose nothing", async () => {
  const scheduler = new WriteScheduler();
  let inFlight = 0;
  let most = 0;
  const releases: (() => void)[] = [];
  const received = new Map<number, number>();
  const outboxes = Array.from({ length: 3000 }, (_, i) =>
    new Outbox(
      {
        write(bytes) {
          inFlight++;
          most = Math.max(most, inFlight);
          return new Promise((resolve) =>
            releases.push(() => {
              inFlight--;
              received.set(i, (received.get(i) ?? 0) + bytes.length);
              resolve(bytes.length);
            })
          );
        },
      },
      { sendQueueLimit: 1 << 20 },
      scheduler,
    ));
  for (const outbox of outboxes) outbox.send(new Uint8Array(10));
  for (const outbox of outboxes) outbox.send(new Uint8Array(5)); // joins the first write of each
  await Promise.resolve();
  while (releases.length > 0) {
    for (const release of releases.splice(0)) release();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await Promise.all(outboxes.map((outbox) => outbox.idle()));
  assert.equal(most, MAX_WRITES_IN_FLIGHT, `at most ${MAX_WRITES_IN_FLIGHT} writes in flight`);
  assert.equal(received.size, 3000);
  assert.ok([...received.values()].every((bytes) => bytes === 15), "every byte of every outbox");
});

Deno.test("peers that never read cannot hold the write slots: others get through after about a second", async () => {
  const scheduler = new WriteScheduler();
  const stalled = Array.from(
    { length: MAX_WRITES_IN_FLIGHT + 76 },
    () => new Outbox(new StalledWriter(), { sendQueueLimit: 1 << 20 }, scheduler),
  );
  for (const outbox of stalled) outbox.send(new Uint8Array(10));
  await Promise.resolve();
  const writer = new PartialWriter(1 << 20);
  const healthy = new Outbox(writer, { sendQueueLimit: 1 << 20 }, scheduler);
  healthy.send(new Uint8Array([1, 2, 3]));
  const started = performance.now();
  // The slot timer does not hold the process open (a server's sockets do): this test must.
  const keepAlive = setTimeout(() => {}, 5000);
  await healthy.idle();
  clearTimeout(keepAlive);
  const waited = performance.now() - started;
  assert.deepEqual(writer.received, [1, 2, 3]);
  assert.ok(waited >= 900 && waited < 3000, `waited ${waited.toFixed(0)} ms for a slot`);
  // The stalled writes never settle; their slots were released, not their outboxes.
  for (const outbox of stalled) outbox.close();
});
