/**
 * The History seam (src/core/history.ts) without sockets: CHATHISTORY's five
 * ways of asking, answered the same by the in-memory history and by the
 * `--data` file; private copies kept once per account; retention with a fake
 * clock; caps; search; a dropped account's copies gone at once.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { MessageEvent, PrivateEvent } from "../src/core/events.ts";
import {
  DAY_MS,
  type History,
  type HistoryRequest,
  type HistoryTarget,
  MemoryHistory,
  readHistory,
  searchWords,
} from "../src/core/history.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

const ROOM: HistoryTarget = { kind: "room", key: "dev" };
const T0 = Date.UTC(2030, 0, 1);

function message(i: number, time = T0 + i * 10, text = `message ${i}`): MessageEvent {
  return {
    kind: "message",
    room: "dev",
    seq: i,
    id: `m${String(i).padStart(8, "0")}`,
    time,
    origin: "node:1",
    nick: "alice",
    user: "alice",
    text,
    action: false,
  };
}

function privately(i: number, from: string, to: string, text = `psst ${i}`): PrivateEvent {
  return {
    kind: "private",
    id: `p${String(i).padStart(8, "0")}`,
    to,
    nick: from,
    user: from,
    text,
    action: false,
    time: T0 + i * 10,
    origin: `node:${from}`,
    account: from,
  };
}

async function withFile(
  test: (store: SqliteStore, path: string) => Promise<void>,
  options: { historySize?: number; historyDays?: number; clock?: () => number } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "parley-history-" });
  const path = `${dir}/chat.db`;
  const store = SqliteStore.open(path, {
    historySize: options.historySize ?? 100_000,
    historyDays: options.historyDays,
    clock: options.clock,
    background: false,
  });
  try {
    await test(store, path);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The texts `request` gets from `history`. */
async function texts(history: History, request: HistoryRequest, target = ROOM) {
  return (await readHistory(history, target, request)).map((event) => event.text);
}

const at = (i: number) => ({ msgid: message(i).id! });
const time = (i: number) => ({ time: message(i).time });
const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `message ${from + i}`);

/** irctest's chathistory.py checks, on messages 0-9 (one every 10 ms). */
async function checkSubcommands(history: History): Promise<void> {
  for (let i = 0; i < 10; i++) history.append("dev", message(i));
  history.commit();
  const latest = (after: ReturnType<typeof at> | null, limit: number) =>
    texts(history, { kind: "latest", after, limit });
  assert.deepEqual(await latest(null, 20), range(0, 10));
  assert.deepEqual(await latest(null, 5), range(5, 10));
  assert.deepEqual(await latest(at(4), 20), range(5, 10));
  assert.deepEqual(
    await texts(history, { kind: "latest", after: time(4), limit: 20 }),
    range(5, 10),
  );

  const before = (mark: object, limit: number) =>
    texts(history, { kind: "before", mark: mark as never, limit });
  assert.deepEqual(await before(at(6), 20), range(0, 6));
  assert.deepEqual(await before(time(6), 20), range(0, 6));
  assert.deepEqual(await before(time(6), 2), range(4, 6));
  assert.deepEqual(await before({ time: T0 + 1000 }, 3), range(7, 10)); // after the newest

  const after = (mark: object, limit: number) =>
    texts(history, { kind: "after", mark: mark as never, limit });
  assert.deepEqual(await after(at(3), 20), range(4, 10));
  assert.deepEqual(await after(time(3), 20), range(4, 10));
  assert.deepEqual(await after(time(3), 3), range(4, 7));
  assert.deepEqual(await after({ time: T0 - 1 }, 2), range(0, 2));
  assert.deepEqual(await after({ time: T0 + 1000 }, 2), []);

  const between = (from: object, to: object, limit: number) =>
    texts(history, { kind: "between", from: from as never, to: to as never, limit });
  assert.deepEqual(await between(at(0), at(9), 20), range(1, 9));
  assert.deepEqual(await between(at(9), at(0), 20), range(1, 9));
  assert.deepEqual(await between(at(0), at(9), 3), range(1, 4));
  assert.deepEqual(await between(at(9), at(0), 3), range(6, 9));
  assert.deepEqual(await between(time(0), time(9), 20), range(1, 9));
  assert.deepEqual(await between(time(9), time(0), 3), range(6, 9));

  const around = (mark: object, limit: number) =>
    texts(history, { kind: "around", mark: mark as never, limit });
  assert.deepEqual(await around(at(7), 1), ["message 7"]);
  assert.deepEqual(await around(at(7), 3), range(6, 9));
  assert.ok((await around(time(7), 3)).includes("message 7"));

  // A msgid that is not kept there: nothing, whatever is asked.
  assert.deepEqual(await before({ msgid: "nosuchmessage" }, 5), []);
  assert.deepEqual(
    await texts(history, { kind: "latest", after: null, limit: 5 }, {
      kind: "room",
      key: "elsewhere",
    }),
    [],
  );
}

Deno.test("history: CHATHISTORY's subcommands, in memory", async () => {
  await checkSubcommands(new MemoryHistory(1000));
});

Deno.test("history: CHATHISTORY's subcommands, in the --data file", async () => {
  await withFile((store) => checkSubcommands(store.history));
});

Deno.test("history: the memory history keeps the newest N per room", async () => {
  const history = new MemoryHistory(100);
  for (let i = 0; i < 1000; i++) history.append("dev", message(i));
  const kept = await texts(history, { kind: "latest", after: null, limit: 100 });
  assert.deepEqual(kept, range(900, 1000));
  assert.deepEqual(await texts(history, { kind: "before", mark: at(901), limit: 100 }), [
    "message 900",
  ]);
  assert.deepEqual(await texts(history, { kind: "before", mark: at(899), limit: 100 }), []);
});

Deno.test("history: private copies, once per account and msgid, only under their owner", async () => {
  for (const make of ["memory", "file"] as const) {
    const check = async (history: History) => {
      const alice: HistoryTarget = { kind: "private", owner: "alice", peer: "bob" };
      const bob: HistoryTarget = { kind: "private", owner: "bob", peer: "alice" };
      for (let i = 0; i < 6; i++) {
        const event = i % 2 ? privately(i, "bob", "alice") : privately(i, "alice", "bob");
        history.appendPrivate("alice", "bob", event);
        history.appendPrivate("alice", "bob", event); // a second hand-over changes nothing
        history.appendPrivate("bob", "alice", event);
      }
      history.appendPrivate("alice", "carol", privately(9, "alice", "carol", "to carol"));
      history.commit();
      const all = { kind: "latest", after: null, limit: 50 } as const;
      const six = Array.from({ length: 6 }, (_, i) => `psst ${i}`);
      assert.deepEqual(await texts(history, all, alice), six);
      assert.deepEqual(await texts(history, all, bob), six);
      assert.deepEqual(
        await texts(history, all, { kind: "private", owner: "carol", peer: "alice" }),
        [],
      );
      const conversations = (await history.conversations("alice")).map((c) => [c.peer, c.nick]);
      assert.deepEqual(conversations.sort(), [["bob", "bob"], ["carol", "carol"]]);
      // Found by id within its conversation only.
      assert.notEqual(await history.locate(alice, "p00000002"), null);
      assert.equal(await history.locate({ ...alice, peer: "carol" }, "p00000002"), null);
      // A dropped account's copies are gone at once; the other party keeps its own.
      history.forgetOwner("alice");
      assert.deepEqual(await texts(history, all, alice), []);
      assert.deepEqual(await history.conversations("alice"), []);
      assert.deepEqual(await texts(history, all, bob), six);
      // A new account under that nick starts with nothing and keeps what comes.
      history.appendPrivate("alice", "bob", privately(20, "bob", "alice", "welcome back"));
      assert.deepEqual(await texts(history, all, alice), ["welcome back"]);
    };
    if (make === "memory") await check(new MemoryHistory(1000));
    else {
      await withFile(async (store) => {
        await check(store.history);
        store.history.maintain(); // the dropped copies are deleted in steps
      });
    }
  }
});

Deno.test("history: retention by age with a fake clock: gone after the next pruning step", async () => {
  let now = T0;
  await withFile(async (store, path) => {
    const history = store.history;
    for (let i = 0; i < 50; i++) history.append("dev", message(i, T0 + i * DAY_MS / 10));
    history.appendPrivate("alice", "bob", { ...privately(1, "alice", "bob"), time: T0 });
    history.appendPrivate("alice", "bob", {
      ...privately(2, "alice", "bob"),
      time: T0 + 4 * DAY_MS,
    });
    history.commit();
    // Five days later, with --history-days 3: what was said in the first two days goes.
    now = T0 + 5 * DAY_MS;
    history.maintain({ prune: true });
    const left = await texts(history, { kind: "latest", after: null, limit: 100 });
    assert.deepEqual(left, range(20, 50));
    const conversation: HistoryTarget = { kind: "private", owner: "alice", peer: "bob" };
    assert.deepEqual(
      await texts(history, { kind: "latest", after: null, limit: 10 }, conversation),
      ["psst 2"],
    );
    assert.ok(history.stats.pruned >= 21);
    await store.close();
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal((db.prepare("SELECT count(*) AS n FROM messages").get() as { n: number }).n, 30);
    } finally {
      db.close();
    }
  }, { historyDays: 3, clock: () => now });
});

Deno.test("history: a room over --history-max loses its oldest, a few per append", async () => {
  await withFile(async (store) => {
    for (let i = 0; i < 100; i++) store.history.append("dev", message(i));
    store.history.commit();
    assert.deepEqual(
      await texts(store.history, { kind: "latest", after: null, limit: 100 }),
      range(90, 100),
    );
    assert.equal(await store.history.locate(ROOM, message(89).id!), null);
  }, { historySize: 10 });
});

Deno.test("history: search with FTS5 (words, case and accents aside) in a room and one's own messages", async () => {
  await withFile(async (store) => {
    const history = store.history;
    const said = ["Le café est prêt", "tea please", "CAFE au lait", "nothing here", "café crème"];
    said.forEach((text, i) => history.append("dev", message(i, T0 + i, text)));
    history.append("ops", { ...message(9, T0 + 9, "café in ops"), room: "ops" });
    history.appendPrivate("alice", "bob", privately(1, "alice", "bob", "a café later?"));
    history.commit();
    // Some searched before the index has them (scanned), the rest after (FTS5).
    const words = searchWords("Café");
    const scanned = (await history.search({ kind: "room", key: "dev" }, words, 10))
      .map((e) => e.text);
    assert.deepEqual(scanned, ["Le café est prêt", "CAFE au lait", "café crème"]);
    history.maintain();
    assert.ok(history.stats.indexed >= 6);
    const indexed = (await history.search({ kind: "room", key: "dev" }, searchWords("cafe"), 10))
      .map((e) => e.text);
    assert.deepEqual(indexed, ["Le café est prêt", "CAFE au lait", "café crème"]);
    const two = (await history.search({ kind: "room", key: "dev" }, searchWords("cafe LAIT"), 10))
      .map((e) => e.text);
    assert.deepEqual(two, ["CAFE au lait"]);
    // Whole words only: a part of one finds nothing.
    assert.deepEqual(
      await history.search({ kind: "room", key: "dev" }, searchWords("caf"), 10),
      [],
    );
    const mine = (await history.search({ kind: "owner", owner: "alice" }, words, 10))
      .map((e) => e.text);
    assert.deepEqual(mine, ["a café later?"]);
    assert.deepEqual(await history.search({ kind: "owner", owner: "carol" }, words, 10), []);
  });
});

Deno.test("history: messages kept without an id (before schema v3) still read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-history-" });
  try {
    const path = `${dir}/old.db`;
    const first = SqliteStore.open(path, { historySize: 50, background: false });
    await first.close();
    // A message as a file before v3 kept it: no msgid, no account, no tags.
    const db = new DatabaseSync(path);
    db.exec(`INSERT INTO messages (room_key, room, seq, time, origin, nick, user, text, action)
             VALUES ('dev', 'dev', 1, ${T0}, 'x', 'alice', 'alice', 'from before', 0)`);
    db.close();
    const again = SqliteStore.open(path, { historySize: 50, background: false });
    try {
      const [old] = await again.history.recent("dev", 5);
      assert.equal(old.text, "from before");
      assert.equal(old.id, undefined);
      again.history.append("dev", message(2));
      assert.deepEqual(
        await texts(again.history, { kind: "after", mark: { time: T0 }, limit: 5 }),
        [
          "message 2",
        ],
      );
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
