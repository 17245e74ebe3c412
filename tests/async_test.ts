/** The shared waits of src/async.ts, on real timers. */

import assert from "node:assert/strict";
import { EqualWaits, WAIT_GRAIN_MS } from "../src/async.ts";
import { delay } from "./helpers.ts";

Deno.test("EqualWaits: every wait lasts its length (or up to the grain less), and they end in the order they began", async () => {
  const waits = new EqualWaits(100);
  const ended: { index: number; began: number; lasted: number }[] = [];
  const all: Promise<void>[] = [];
  for (let index = 0; index < 2_000; index++) {
    // Begun over about 60 ms, in bursts, as a connect storm's clients are.
    if (index % 500 === 0 && index > 0) await delay(20);
    const began = performance.now();
    all.push(
      waits.wait().then(() => {
        ended.push({ index, began, lasted: performance.now() - began });
      }),
    );
  }
  await Promise.all(all);
  assert.deepEqual(
    ended.map((e) => e.index),
    [...ended.keys()],
    "they end in the order they began",
  );
  const shortest = Math.min(...ended.map((e) => e.lasted));
  const longest = Math.max(...ended.map((e) => e.lasted));
  assert.ok(
    shortest >= 100 - WAIT_GRAIN_MS,
    `no wait is cut short: the shortest lasted ${shortest.toFixed(1)} ms`,
  );
  // 100 ms by design; the rest is room for a busy machine's late timers.
  assert.ok(longest < 400, `no wait is forgotten: the longest lasted ${longest.toFixed(1)} ms`);
});

Deno.test("EqualWaits: a wait begun after the queue ran empty is timed afresh", async () => {
  const waits = new EqualWaits(50);
  await waits.wait();
  const began = performance.now();
  await waits.wait();
  const lasted = performance.now() - began;
  assert.ok(
    lasted >= 50 - WAIT_GRAIN_MS && lasted < 300,
    `the second wait lasted ${lasted.toFixed(1)} ms`,
  );
});

Deno.test("EqualWaits: endAll ends every wait at once and leaves no timer behind", async () => {
  const waits = new EqualWaits(60_000);
  const began = performance.now();
  const all = Promise.all([waits.wait(), waits.wait(), waits.wait()]);
  waits.endAll();
  await all;
  // The test's own sanitizer fails it if the 60 s timer were still set.
  assert.ok(performance.now() - began < 1_000, "ended at once, not after a minute");
});
