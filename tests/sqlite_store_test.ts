/**
 * The SQLite store on real files in a temporary folder: what survives a
 * restart, every start-up failure as its one line, a full disk while running,
 * and `kill -9` durability with real child processes.
 *
 * Some cases need root (tests usually run as root here): `chattr +i` for a
 * read-only file (root ignores file modes), `mount` for a real full disk and a
 * read-only file system, `setpriv` to try modes as user nobody. They are
 * ignored where those do not work.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { MessageEvent } from "../src/core/events.ts";
import type { Account, Ban } from "../src/core/store.ts";
import { SqliteStore, StoreError } from "../src/store/sqlite.ts";

const STORE_MODULE = new URL("../src/store/sqlite.ts", import.meta.url).href;
const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);

function message(room: string, seq: number, text: string, time = T0 + seq * 1000): MessageEvent {
  return {
    kind: "message",
    room,
    seq,
    time,
    origin: "m1",
    nick: "alice",
    user: "line",
    text,
    action: false,
  };
}

/** A temporary folder, removed (after `chattr -i` and unmounts by the test itself) when done. */
async function inTempDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "parley-sqlite-" });
  try {
    await body(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** The StoreError `open` throws: one line, naming the file. */
function openError(path: string, options = { historySize: 50 }): string {
  let caught: unknown;
  try {
    SqliteStore.open(path, options).close();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof StoreError, `expected a StoreError for ${path}, got ${caught}`);
  const line = caught.message;
  assert.ok(!line.includes("\n"), `one line: ${JSON.stringify(line)}`);
  assert.ok(line.includes(path), `names the file: ${line}`);
  return line;
}

function run(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

const isRoot = Deno.uid() === 0;

function errorCode(error: unknown): string {
  return String((error as { code?: unknown }).code);
}

/** Whether this machine lets the test mount a tmpfs (root with CAP_SYS_ADMIN). */
const canMount = (() => {
  if (!isRoot) return false;
  const dir = Deno.makeTempDirSync({ prefix: "parley-mount-probe-" });
  try {
    if (!run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir])) return false;
    run("umount", [dir]);
    return true;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
})();

/** A child process running `code` (JavaScript, with `STORE` bound to the store module). */
class Child {
  readonly process: Deno.ChildProcess;
  readonly #lines: string[] = [];
  #buffer = "";
  readonly #reading: Promise<void>;
  #wake: () => void = () => {};

  constructor(code: string, options: { user?: string; env?: Record<string, string> } = {}) {
    const script = `const STORE = await import(${JSON.stringify(STORE_MODULE)});\n${code}`;
    const [command, args] = options.user
      ? [
        "setpriv",
        [
          `--reuid=${options.user}`,
          `--regid=${options.user}`,
          "--clear-groups",
          Deno.execPath(),
          "eval",
          script,
        ],
      ]
      : [Deno.execPath(), ["eval", script]];
    this.process = new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      env: options.env,
    }).spawn();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.process.stdout) {
      this.#buffer += decoder.decode(chunk, { stream: true });
      const parts = this.#buffer.split("\n");
      this.#buffer = parts.pop()!;
      this.#lines.push(...parts);
      this.#wake();
    }
    this.#wake();
  }

  /** Waits (at most `ms`) until a line matches, and returns it. */
  async waitFor(pattern: RegExp, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const line = this.#lines.find((l) => pattern.test(l));
      if (line !== undefined) return line;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`child: no line matching ${pattern}; got ${this.#lines}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((wake) => {
        this.#wake = wake;
        timer = setTimeout(wake, Math.min(left, 200));
      });
      clearTimeout(timer);
    }
  }

  /** Every line so far. */
  get lines(): string[] {
    return this.#lines;
  }

  /** SIGKILLs it (if still running) and waits for it and its output to end. */
  async kill(): Promise<Deno.CommandStatus> {
    try {
      this.process.kill("SIGKILL");
    } catch { /* ended already */ }
    const status = await this.process.status;
    await this.#reading;
    return status;
  }

  /** Waits for it to end on its own and its output to be read. */
  async finished(): Promise<Deno.CommandStatus> {
    const status = await this.process.status;
    await this.#reading;
    return status;
  }
}

Deno.test("sqlite store: everything survives close and reopen", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/parley.db`;
    const alice: Account = {
      key: "alice",
      nick: "Alice",
      hash: new Uint8Array(32).fill(7),
      salt: new Uint8Array(16).fill(9),
      params: { N: 32768, r: 8, p: 1 },
      created: T0,
    };
    const bans: Ban[] = [
      { mask: "203.0.113.7", expires: null, reason: "spam", by: "console", created: T0 },
      { mask: "2001:db8::/32", expires: T0 + 3_600_000, reason: "", by: "Op", created: T0 + 1 },
    ];
    const lobby = [1, 2, 3, 4, 5].map((seq) => message("#lobby", seq, `hello ${seq}`));
    const rust = { ...message("#Rust", 1, "waves"), action: true, nick: "bob", user: "bob" };

    const store = SqliteStore.open(path, { historySize: 50 });
    assert.equal(store.persistent, true);
    store.touchRoom("#lobby", "#lobby", T0);
    store.touchRoom("#rust", "#Rust", T0 + 10);
    store.touchRoom("#rust", "#RUST", T0 + 20); // the name stays as first used
    store.setTopic("#rust", { text: "all about rust", nick: "bob", time: T0 + 15 });
    store.setTopic("#nowhere", { text: "no such room", nick: "bob", time: T0 });
    for (const event of lobby) store.history.append("#lobby", event);
    store.history.append("#rust", rust);
    store.history.append("#lobby", { ...message("#lobby", 6, "a notice"), notice: true });
    store.history.commit();
    assert.equal(await store.addAccount(alice), true);
    assert.equal(await store.addAccount({ ...alice, nick: "ALICE" }), false);
    assert.equal(await store.addAccount({ ...alice, key: "carol", nick: "carol" }), true);
    await store.dropAccount("carol");
    for (const ban of bans) store.addBan(ban);
    store.addBan({ mask: "198.51.100.0/24", expires: null, reason: "", by: "x", created: T0 });
    assert.equal(await store.removeBan("198.51.100.0/24"), true);
    assert.equal(await store.removeBan("198.51.100.0/24"), false);
    const late = message("#Rust", 2, "said just before the stop");
    store.history.append("#rust", late); // not committed: close commits it
    await store.close();
    await store.close(); // idempotent
    store.history.append("#rust", message("#Rust", 3, "after close: ignored"));
    assert.deepEqual(await store.history.recent("#rust", 5), []);
    await assert.rejects(store.account("alice"), StoreError);

    const again = SqliteStore.open(path, { historySize: 50 });
    try {
      assert.deepEqual(await again.history.recent("#lobby", 50), lobby);
      assert.deepEqual(await again.history.recent("#lobby", 2), lobby.slice(3));
      assert.deepEqual(await again.history.recent("#rust", 50), [rust, late]);
      assert.deepEqual(await again.history.recent("#none", 50), []);
      assert.deepEqual(await again.rooms(), [
        {
          key: "#rust",
          name: "#Rust",
          topic: { text: "all about rust", nick: "bob", time: T0 + 15 },
          lastUsed: T0 + 20,
          seq: 2,
        },
        { key: "#lobby", name: "#lobby", topic: null, lastUsed: T0, seq: 5 },
      ]);
      assert.deepEqual(await again.account("alice"), alice);
      assert.equal(await again.account("carol"), null);
      assert.deepEqual(await again.bans(), bans);

      const renewed = { ...alice, hash: new Uint8Array(32).fill(1) };
      await again.updateAccount(renewed);
      assert.deepEqual(await again.account("alice"), renewed);
      again.setTopic("#rust", null);
      again.forgetRoom("#lobby");
      assert.deepEqual(await again.history.recent("#lobby", 50), []);
    } finally {
      await again.close();
    }
    const third = SqliteStore.open(path, { historySize: 50 });
    try {
      assert.deepEqual((await third.rooms()).map((r) => [r.key, r.topic]), [["#rust", null]]);
      assert.deepEqual(await third.history.recent("#lobby", 50), []);
      assert.equal((await third.account("alice"))?.hash[0], 1);
    } finally {
      await third.close();
    }
  });
});

Deno.test("sqlite store: keeps at most historySize messages per room", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/cap.db`;
    const store = SqliteStore.open(path, { historySize: 10 });
    for (let seq = 1; seq <= 100; seq++) store.history.append("#a", message("#a", seq, `a${seq}`));
    for (let seq = 1; seq <= 3; seq++) store.history.append("#b", message("#b", seq, `b${seq}`));
    // Appends not committed yet are read back too (one connection).
    const seqs = (events: MessageEvent[]) => events.map((e) => e.seq);
    assert.deepEqual(seqs(await store.history.recent("#a", 50)), [
      91,
      92,
      93,
      94,
      95,
      96,
      97,
      98,
      99,
      100,
    ]);
    assert.deepEqual(seqs(await store.history.recent("#a", 3)), [98, 99, 100]);
    assert.deepEqual(seqs(await store.history.recent("#b", 50)), [1, 2, 3]);
    store.history.commit();
    await store.close();

    const rows = () => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return db.prepare("SELECT room_key, count(*) AS n FROM messages GROUP BY room_key")
          .all().map((r) => [r.room_key, r.n]);
      } finally {
        db.close();
      }
    };
    // Trimmed every few appends: a handful beyond the cap at most.
    const [[, kept]] = rows();
    assert.ok((kept as number) >= 10 && (kept as number) <= 13, `rows kept: ${kept}`);

    // A smaller cap at the next start trims at once; 0 keeps none.
    const smaller = SqliteStore.open(path, { historySize: 4 });
    assert.deepEqual(seqs(await smaller.history.recent("#a", 50)), [97, 98, 99, 100]);
    await smaller.close();
    assert.deepEqual(rows(), [["#a", 4], ["#b", 3]]);
    const none = SqliteStore.open(path, { historySize: 0 });
    none.history.append("#a", message("#a", 101, "dropped"));
    none.history.commit();
    assert.deepEqual(await none.history.recent("#a", 50), []);
    await none.close();
    assert.deepEqual(rows(), []);
  });
});

Deno.test("sqlite store: appends nobody commits are committed at the end of the turn", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/turn.db`;
    const child = new Child(`
      const store = STORE.SqliteStore.open(${JSON.stringify(path)}, { historySize: 50 });
      store.history.append("#a", { kind: "message", room: "#a", seq: 1, time: 1, origin: "m1",
        nick: "a", user: "line", text: "nobody commits me", action: false });
      await new Promise((done) => setTimeout(done, 0));
      console.log("next turn");
      setInterval(() => {}, 1000);
    `);
    try {
      await child.waitFor(/^next turn$/);
    } finally {
      await child.kill();
    }
    const store = SqliteStore.open(path, { historySize: 50 });
    try {
      assert.deepEqual((await store.history.recent("#a", 5)).map((e) => e.text), [
        "nobody commits me",
      ]);
    } finally {
      await store.close();
    }
  });
});

Deno.test("sqlite store: start-up failures are one line naming the file", async (t) => {
  await inTempDir(async (dir) => {
    // A valid parley file with some history, to damage in several ways.
    const good = `${dir}/good.db`;
    const store = SqliteStore.open(good, { historySize: 100_000 });
    for (let seq = 1; seq <= 3000; seq++) {
      store.history.append("#a", message("#a", seq, `line ${seq} `.repeat(8)));
    }
    store.history.commit();
    await store.close();
    const copy = (name: string) => {
      Deno.copyFileSync(good, `${dir}/${name}`);
      return `${dir}/${name}`;
    };
    const lines: Record<string, string> = {};

    await t.step("random bytes", () => {
      const path = `${dir}/random.db`;
      Deno.writeFileSync(path, crypto.getRandomValues(new Uint8Array(4096)));
      lines.random = openError(path);
      assert.match(lines.random, /is not a database/);
    });
    await t.step("a valid database with a damaged page", () => {
      const path = copy("page.db");
      assert.ok(Deno.statSync(path).size > 60 * 4096, "big enough to damage page 50");
      const file = Deno.openSync(path, { write: true });
      file.seekSync(49 * 4096, Deno.SeekMode.Start);
      file.writeSync(crypto.getRandomValues(new Uint8Array(4096)));
      file.close();
      lines.page = openError(path);
      assert.match(lines.page, /is damaged \(.+\); restore a backup or move it away/);
    });
    await t.step("a truncated file", () => {
      const path = copy("truncated.db");
      Deno.truncateSync(path, Math.floor(Deno.statSync(path).size / 2));
      lines.truncated = openError(path);
      assert.match(lines.truncated, /is damaged/);
    });
    await t.step("a text file", () => {
      const path = `${dir}/notes.txt`;
      Deno.writeTextFileSync(path, "hello\nthis is not a database\n".repeat(20));
      lines.text = openError(path);
      assert.match(lines.text, /is not a database/);
    });
    await t.step("someone else's SQLite database", () => {
      const path = `${dir}/other.db`;
      const db = new DatabaseSync(path);
      db.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
      db.close();
      lines.other = openError(path);
      assert.match(lines.other, /an SQLite database, but not parley's/);
    });
    await t.step("written by a newer parley", () => {
      const path = copy("newer.db");
      const db = new DatabaseSync(path);
      db.exec("PRAGMA user_version = 99");
      db.close();
      lines.newer = openError(path);
      assert.match(lines.newer, /written by a newer parley \(schema version 99; this one knows up/);
    });
    await t.step("folder missing", () => {
      const path = `${dir}/no/such/folder/parley.db`;
      lines.folder = openError(path);
      assert.match(lines.folder, /^cannot create .*: folder .*\/no\/such\/folder does not exist$/);
    });
    await t.step("a folder, not a file", () => {
      Deno.mkdirSync(`${dir}/afolder`);
      lines.isFolder = openError(`${dir}/afolder`);
      assert.match(lines.isFolder, /is a folder, not a database file/);
    });
    await t.step("in use by a parley in another process", async () => {
      const path = copy("held.db");
      const child = new Child(`
        const store = STORE.SqliteStore.open(${JSON.stringify(path)}, { historySize: 50 });
        console.log("open");
        setInterval(() => {}, 1000);
      `);
      try {
        await child.waitFor(/^open$/);
        lines.inUse = openError(path);
        assert.match(
          lines.inUse,
          /is in use by another process \(is another parley running on it\?\)/,
        );
      } finally {
        await child.kill();
      }
      // kill -9 let go of the lock, and the file is fine.
      const store = SqliteStore.open(path, { historySize: 50 });
      assert.equal((await store.history.recent("#a", 5)).length, 5);
      await store.close();
    });
    await t.step("in use by another store in this process", async () => {
      const path = copy("twice.db");
      const first = SqliteStore.open(path, { historySize: 50 });
      try {
        assert.match(openError(path), /is in use by another process/);
      } finally {
        await first.close();
      }
    });
    await t.step({
      name: "read-only file (mode 444; not as root, which ignores modes)",
      ignore: isRoot,
      fn: () => {
        const path = copy("readonly.db");
        Deno.chmodSync(path, 0o444);
        assert.equal(openError(path), `cannot write ${path}: it is read-only for this user`);
      },
    });
    await t.step({
      name: "read-only file (chattr +i: root ignores file modes)",
      ignore: !isRoot || !run("chattr", ["-i", good]),
      fn: () => {
        const path = copy("immutable.db");
        assert.ok(run("chattr", ["+i", path]));
        try {
          lines.immutable = openError(path);
          assert.match(lines.immutable, /^cannot write .*: the system does not permit it/);
        } finally {
          run("chattr", ["-i", path]);
        }
      },
    });
    await t.step({
      name: "a file on a read-only file system (a read-only bind mount)",
      ignore: !canMount,
      fn: () => {
        const source = `${dir}/rosource`;
        const mounted = `${dir}/ro`;
        Deno.mkdirSync(source);
        Deno.mkdirSync(mounted);
        Deno.copyFileSync(good, `${source}/parley.db`);
        assert.ok(run("mount", ["--bind", "-o", "ro", source, mounted]));
        try {
          lines.readOnlyFs = openError(`${mounted}/parley.db`);
          assert.match(lines.readOnlyFs, /the file system is read-only/);
          lines.readOnlyFsNew = openError(`${mounted}/new.db`);
          assert.match(lines.readOnlyFsNew, /^cannot create .*: the file system is read-only$/);
        } finally {
          run("umount", [mounted]);
        }
      },
    });
    await t.step({
      name: "permissions, as user nobody (setpriv)",
      ignore: !isRoot || !run("setpriv", ["--version"]),
      fn: async () => {
        const perm = `${dir}/perm`;
        const denoDir = `${dir}/deno_dir`;
        Deno.mkdirSync(`${perm}/rodir`, { recursive: true });
        Deno.mkdirSync(`${perm}/closed`);
        Deno.mkdirSync(denoDir);
        Deno.chmodSync(dir, 0o755);
        Deno.chmodSync(denoDir, 0o777);
        for (const name of ["ro.db", "noread.db", "rodir/rw.db"]) {
          Deno.copyFileSync(good, `${perm}/${name}`);
        }
        Deno.chmodSync(`${perm}/ro.db`, 0o444);
        Deno.chmodSync(`${perm}/noread.db`, 0o000);
        Deno.chmodSync(`${perm}/rodir/rw.db`, 0o666);
        Deno.chmodSync(`${perm}/rodir`, 0o555);
        Deno.chmodSync(`${perm}/closed`, 0o700);
        const paths = ["ro.db", "noread.db", "rodir/rw.db", "rodir/new.db", "closed/x.db"]
          .map((name) => `${perm}/${name}`);
        const child = new Child(
          `
          for (const path of ${JSON.stringify(paths)}) {
            try { STORE.SqliteStore.open(path, { historySize: 50 }).close(); console.log(JSON.stringify([path, "opened"])); }
            catch (error) { console.log(JSON.stringify([path, error instanceof STORE.StoreError ? error.message : String(error)])); }
          }`,
          { user: "65534", env: { DENO_DIR: denoDir, HOME: dir } },
        );
        const status = await child.finished();
        assert.equal(status.code, 0);
        const got = Object.fromEntries(child.lines.map((line) => JSON.parse(line)));
        const [ro, noread, rwInRoDir, newInRoDir, closed] = paths;
        for (const path of paths) {
          assert.ok(!got[path].includes("\n") && got[path].includes(path), got[path]);
        }
        assert.equal(got[ro], `cannot write ${ro}: it is read-only for this user`);
        assert.equal(
          got[noread],
          `cannot open ${noread}: permission denied (this user may not read it)`,
        );
        assert.match(
          got[rwInRoDir],
          /^cannot write .*: its folder .* is read-only \(SQLite creates rw\.db-wal there\)$/,
        );
        assert.match(got[newInRoDir], /^cannot create .*: no permission to write in folder /);
        assert.match(got[closed], /^cannot open .*: permission denied \(folder /);
        Object.assign(lines, {
          ro: got[ro],
          noread: got[noread],
          rwInRoDir: got[rwInRoDir],
          newInRoDir: got[newInRoDir],
          closed: got[closed],
        });
      },
    });
    if (Deno.env.get("SHOW_LINES")) console.log(lines);
  });
});

/** Appends `count` messages of about 1 KiB to `room`, committing every 10; returns what onError said. */
function fill(store: SqliteStore, room: string, from: number, count: number): void {
  for (let seq = from; seq < from + count; seq++) {
    store.history.append(room, message(room, seq, `${seq} `.padEnd(1000, "x")));
    if (seq % 10 === 0) store.history.commit();
  }
  store.history.commit();
}

Deno.test("sqlite store: a full file while running is reported once and recovered from", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/full.db`;
    let now = T0;
    // 40 pages of 4 KiB: the test's full disk.
    const store = SqliteStore.open(path, { historySize: 100_000, maxPages: 40, clock: () => now });
    const reports: string[] = [];
    store.onError = (message) => reports.push(message);
    try {
      assert.doesNotThrow(() => fill(store, "#big", 1, 400));
      assert.deepEqual(reports, [
        `cannot store history in ${path}: the disk is full; chat goes on without storing`,
      ]);
      // Chat-level calls keep working, and say nothing more while the burst lasts.
      now += 100;
      assert.doesNotThrow(() => {
        store.touchRoom("#big", "#big", T0);
        store.setTopic("#big", { text: "full", nick: "op", time: T0 });
        store.addBan({ mask: "192.0.2.1", expires: null, reason: "", by: "op", created: T0 });
        fill(store, "#big", 401, 20);
      });
      // An account cannot be stored: the caller is told (a rejection), not misled.
      const account: Account = {
        key: "big",
        nick: "big".repeat(10_000),
        hash: new Uint8Array(32),
        salt: new Uint8Array(16),
        params: { N: 32768, r: 8, p: 1 },
        created: T0,
      };
      await assert.rejects(
        store.addAccount(account),
        (error) =>
          error instanceof StoreError &&
          error.message === `cannot store the account in ${path}: the disk is full`,
      );
      const kept = await store.history.recent("#big", 1000);
      assert.ok(kept.length > 10 && kept.length < 400, `what fitted is readable: ${kept.length}`);
      assert.equal(reports.length, 1);

      // Space comes back: the room is forgotten, its pages are free again. The burst
      // ends with a write that works a moment after the last failure.
      store.forgetRoom("#big");
      assert.equal(reports.length, 1, `${reports}`);
      now += 1_000;
      store.history.append("#after", message("#after", 1, "stored again"));
      store.history.commit();
      assert.equal(reports.length, 2, `${reports}`);
      assert.match(
        reports[1],
        /^storing in .*full\.db works again \(\d+ messages were not stored\)$/,
      );
      // Every message appended is either kept or counted as lost.
      assert.equal(kept.length + Number(reports[1].match(/\((\d+) messages/)![1]), 420);
      store.history.append("#after", message("#after", 2, "and again"));
      store.history.commit();
      assert.equal(reports.length, 2);
    } finally {
      await store.close();
    }
    const again = SqliteStore.open(path, { historySize: 100_000 });
    try {
      assert.deepEqual((await again.history.recent("#after", 5)).map((e) => e.text), [
        "stored again",
        "and again",
      ]);
      assert.deepEqual((await again.bans()).map((b) => b.mask), ["192.0.2.1"]);
    } finally {
      await again.close();
    }
  });
});

Deno.test({
  name: "sqlite store: a real full disk (a small tmpfs) while running",
  ignore: !canMount,
  fn: async () => {
    await inTempDir(async (dir) => {
      const disk = `${dir}/disk`;
      Deno.mkdirSync(disk);
      assert.ok(run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]));
      try {
        const path = `${disk}/parley.db`;
        let now = T0;
        const reports: string[] = [];
        const store = SqliteStore.open(path, { historySize: 100_000, clock: () => now });
        store.onError = (message) => reports.push(message);
        try {
          // Leave about 300 KiB free.
          const filler = `${disk}/filler`;
          Deno.writeFileSync(filler, new Uint8Array(700 * 1024));
          assert.doesNotThrow(() => fill(store, "#a", 1, 600));
          assert.equal(reports.length, 1, `${reports}`);
          assert.equal(
            reports[0],
            `cannot store history in ${path}: the disk is full; chat goes on without storing`,
          );
          Deno.removeSync(filler);
          now += 1_000;
          store.history.append("#a", message("#a", 1000, "after"));
          store.history.commit();
          assert.equal(reports.length, 2, `${reports}`);
          assert.match(reports[1], /works again \(\d+ messages were not stored\)$/);
          const lost = Number(reports[1].match(/\((\d+) messages/)![1]);
          assert.equal((await store.history.recent("#a", 1000)).length + lost, 601);
        } finally {
          await store.close();
        }
        const again = SqliteStore.open(path, { historySize: 100_000 });
        const recent = await again.history.recent("#a", 1);
        await again.close();
        assert.equal(recent[0].text, "after");

        // A new file on a disk with no room left at all: refused at start.
        const filler = Deno.openSync(`${disk}/filler`, { write: true, create: true });
        try {
          for (;;) filler.writeSync(new Uint8Array(64 * 1024));
        } catch (error) {
          if (errorCode(error) !== "ENOSPC") throw error;
        } finally {
          filler.close();
        }
        assert.equal(
          openError(`${disk}/new.db`),
          `cannot write ${disk}/new.db: the disk is full`,
        );
      } finally {
        assert.ok(run("umount", [disk]), `umount ${disk}`);
      }
    });
  },
});

Deno.test("sqlite store: kill -9 loses no committed batch", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/durable.db`;
    const perBatch = 10;
    let reported = 0;
    for (const [round, killAfter] of [[1, 5], [2, 150]]) {
      const child = new Child(`
        const store = STORE.SqliteStore.open(${JSON.stringify(path)}, { historySize: 1000000 });
        const out = new TextEncoder();
        for (let batch = 1; ; batch++) {
          for (let i = 0; i < ${perBatch}; i++) {
            store.history.append("#d", { kind: "message", room: "#d", seq: batch * 100 + i, time: Date.now(),
              origin: "m1", nick: "a", user: "line", text: "${round}:" + batch + ":" + i, action: false });
          }
          store.history.commit();
          Deno.stdout.writeSync(out.encode("committed " + batch + "\\n"));
        }
      `);
      let status: Deno.CommandStatus;
      try {
        await child.waitFor(new RegExp(`^committed ${killAfter}$`));
      } finally {
        status = await child.kill();
      }
      assert.equal(status.signal, "SIGKILL");
      const committed = child.lines.filter((l) => l.startsWith("committed ")).length;
      reported += committed;

      const store = SqliteStore.open(path, { historySize: 1_000_000 });
      const events = await store.history.recent("#d", 1_000_000);
      await store.close();
      const batches = new Map<string, number>();
      for (const event of events) {
        const [r, batch] = event.text.split(":");
        batches.set(`${r}:${batch}`, (batches.get(`${r}:${batch}`) ?? 0) + 1);
      }
      for (let batch = 1; batch <= committed; batch++) {
        assert.equal(batches.get(`${round}:${batch}`), perBatch, `round ${round} batch ${batch}`);
      }
      for (const [batch, count] of batches) assert.equal(count, perBatch, `${batch} is whole`);
      const found = [...batches.keys()].filter((k) => k.startsWith(`${round}:`)).length;
      assert.ok(found === committed || found === committed + 1, `${found} vs ${committed}`);
    }
    assert.ok(reported >= 155);
  });
});
