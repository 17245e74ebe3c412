/**
 * `--data FILE`: the {@linkcode Store} in an embedded SQLite database (Deno's
 * built-in `node:sqlite`), so room history, rooms and their topics, accounts
 * and bans survive a restart.
 *
 * Lifecycle. {@linkcode SqliteStore.open} runs the whole start-up sequence and
 * either returns a store that holds the file for as long as the server runs, or
 * throws a {@linkcode StoreError} whose message is one line a person can act on
 * (SQLite itself says "unable to open database file" for every path problem,
 * so the path is checked first). The sequence:
 *
 * 1. path checks: folder exists, file (or folder, for a new file) writable;
 * 2. `locking_mode=EXCLUSIVE` before the first read, then `journal_mode=WAL`:
 *    the file stays locked until {@linkcode SqliteStore.close}, so a second
 *    parley on it fails at start ("in use") instead of both writing;
 * 3. `application_id` (parley's file, or a new one) and `user_version` (not
 *    written by a newer parley), `quick_check(1)` (damage found now, not in
 *    the middle of the night);
 * 4. `synchronous=NORMAL`: in WAL mode a commit is safe against a process crash
 *    (`kill -9`), not against a power cut, and costs no fsync;
 * 5. migrations in one `BEGIN IMMEDIATE` transaction: all or nothing.
 *
 * History on the message path. `append` is one prepared INSERT into the
 * open transaction (the first append after a commit opens it); the chat's
 * `commit()` before it delivers a batch makes the batch durable (a `kill -9`
 * right after loses none of it, tested); a transaction nobody commits is
 * committed at the end of the turn. `recent` reads through the same
 * connection, so it sees appends not yet committed. Each room is trimmed to
 * `historySize` every few appends. While the server runs nothing else may
 * open the file (the lock), `sqlite3` included: copy it when parley is stopped.
 *
 * Writes while running never throw into the chat: a failure (full disk, I/O
 * error) is reported once through {@linkcode Store.onError} and the chat goes
 * on without storing; a write that works a moment after the last failure ends
 * the burst and says how many messages were lost. Reads that fail give nothing
 * (reported). Account calls are the exception: their promises reject with a
 * {@linkcode StoreError}, because answering "no such account" while the disk
 * is failing would hand a registered nick to anyone.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { resolve } from "node:path";
import type { Topic } from "../core/commands.ts";
import { systemClock } from "../core/events.ts";
import { DEFAULT_RETENTION } from "../core/history.ts";
import type { StoredModes } from "../core/channel_modes.ts";
import type { Account, AccountState, Ban, Store, StoredRoom } from "../core/store.ts";
import { Database } from "./sqlite/database.ts";
import type { Row } from "./sqlite/schema.ts";
import { checkPath, startupLine, StoreError } from "./sqlite/errors.ts";
import { SqliteHistory } from "./sqlite/history.ts";
import { type SqliteStoreOptions, start } from "./sqlite/schema.ts";

export { StoreError } from "./sqlite/errors.ts";
export { APPLICATION_ID, MIGRATIONS, type SqliteStoreOptions } from "./sqlite/schema.ts";

/** A room as {@linkcode SqliteStore.rooms} returns it: with the seq of its newest stored message. */
export type LoadedRoom = StoredRoom & {
  /** The `seq` of the newest message kept (0 for none): where the room's numbering goes on. */
  seq: number;
};

/** What node:sqlite throws: `errcode` is set on prepared statements' errors only. */

export class SqliteStore implements Store {
  readonly history: SqliteHistory;
  readonly persistent = true;
  /** The file, as given to {@linkcode open}. */
  readonly path: string;
  /** Where failures while running are reported (the server logs them); nothing by default. */
  onError?: (message: string) => void;
  readonly #db: Database;

  private constructor(path: string, db: DatabaseSync, options: Required<SqliteStoreOptions>) {
    this.path = path;
    const report = (message: string) => {
      try {
        this.onError?.(message);
      } catch { /* a reporter's failure is not the chat's */ }
    };
    this.#db = new Database(path, db, { report, clock: options.clock });
    this.history = new SqliteHistory(this.#db, {
      max: options.historySize,
      days: options.historyDays ?? DEFAULT_RETENTION.days,
      clock: options.clock,
      background: options.background,
    });
  }

  /**
   * Opens (or creates) the database at `path`, checks that it is parley's and
   * intact, upgrades its schema and keeps it locked until {@linkcode close}.
   * Throws a {@linkcode StoreError} with one line naming the file.
   */
  static open(path: string, options: SqliteStoreOptions): SqliteStore {
    if (path === "") throw new StoreError("no database file given");
    checkPath(path);
    let db: DatabaseSync;
    try {
      // The absolute path: never ":memory:" nor a "file:" URI, whatever was typed.
      // timeout 0: a file someone else holds is reported now, not after a wait.
      db = new DatabaseSync(resolve(path), { timeout: 0 });
    } catch (error) {
      throw new StoreError(startupLine(path, error));
    }
    const historySize = Math.max(0, Math.floor(options.historySize));
    try {
      start(db, path, { ...options, historySize });
      return new SqliteStore(path, db, {
        historySize,
        historyDays: options.historyDays ?? DEFAULT_RETENTION.days,
        background: options.background ?? true,
        maxPages: options.maxPages ?? 0,
        clock: options.clock ?? systemClock,
      });
    } catch (error) {
      try {
        db.close();
      } catch { /* closing what failed to open */ }
      if (error instanceof StoreError) throw error;
      throw new StoreError(startupLine(path, error));
    }
  }

  /**
   * A consistent copy of the database, made while the server runs: at `path`,
   * or beside the file as `FILE.backup-YYYYMMDD-HHMMSS`. Resolves with where.
   */
  async backup(path?: string): Promise<string> {
    const to = path ?? `${this.path}.backup-${stamp(new Date())}`;
    await this.#db.backup(to);
    return to;
  }

  /** Every room remembered, most recently used first, each with the seq of its newest message. */
  rooms(): Promise<LoadedRoom[]> {
    const rows = this.#db.read("rooms", () => this.#db.statements.rooms.all() as Row[], []);
    return Promise.resolve(rows.map((row) => ({
      key: row.key as string,
      name: row.name as string,
      topic: row.topic_text === null ? null : {
        text: row.topic_text as string,
        nick: row.topic_nick as string,
        time: row.topic_time as number,
      },
      lastUsed: row.last_used as number,
      seq: (row.seq as number | null) ?? 0,
      ...storedModes(row.modes),
    })));
  }

  touchRoom(key: string, name: string, now: number): void {
    this.#db.write("rooms", () => this.#db.statements.touchRoom.run(key, name, now));
  }

  setTopic(key: string, topic: Topic | null): void {
    this.#db.write("topics", () => {
      this.#db.statements.setTopic.run(
        topic?.text ?? null,
        topic?.nick ?? null,
        topic?.time ?? null,
        key,
      );
    });
  }

  setModes(key: string, modes: StoredModes): void {
    this.#db.write(
      "room modes",
      () => this.#db.statements.setModes.run(JSON.stringify(modes), key),
    );
  }

  forgetRoom(key: string): void {
    this.#db.write("rooms", () => this.#db.statements.deleteRoom.run(key));
    this.history.forget(key);
  }

  /** The account, or null; rejects (StoreError) when it cannot be read: never "no account" by mistake. */
  account(key: string): Promise<Account | null> {
    return settle(() =>
      this.#db.readOrThrow("read the account", () => {
        const row = this.#db.statements.account.get(key) as Row | undefined;
        if (row === undefined) return null;
        return {
          key: row.key as string,
          nick: row.nick as string,
          hash: row.hash as Uint8Array,
          salt: row.salt as Uint8Array,
          params: { N: row.n as number, r: row.r as number, p: row.p as number },
          created: row.created as number,
        };
      })
    );
  }

  /** Stores and commits a new account; false when the nick is registered; rejects (StoreError) when it cannot be stored. */
  addAccount(account: Account): Promise<boolean> {
    const { key, nick, hash, salt, params: { N, r, p }, created } = account;
    return settle(() =>
      this.#db.writeOrThrow("store the account", () => {
        const result = this.#db.statements.addAccount.run(key, nick, hash, salt, N, r, p, created);
        return Number(result.changes) === 1;
      })
    );
  }

  /** Replaces the account and commits; rejects (StoreError) when it cannot be stored. */
  updateAccount(account: Account): Promise<void> {
    const { key, nick, hash, salt, params: { N, r, p }, created } = account;
    return settle(() =>
      this.#db.writeOrThrow("store the account", () => {
        this.#db.statements.putAccount.run(key, nick, hash, salt, N, r, p, created);
      })
    );
  }

  /** Drops the account (and its private messages) and commits; rejects (StoreError) when that cannot be stored. */
  dropAccount(key: string): Promise<void> {
    return settle(() => {
      this.#db.writeOrThrow("drop the account", () => {
        this.#db.statements.dropAccount.run(key);
        this.#db.statements.dropAccountState.run(key);
        this.#db.statements.dropReadMarkers.run(key);
      });
      this.history.forgetOwner(key);
    });
  }

  /** What account `key` left for its next session, or null; rejects (StoreError) when it cannot be read. */
  accountState(key: string): Promise<AccountState | null> {
    return settle(() =>
      this.#db.readOrThrow("read what the account left", () => {
        const row = this.#db.statements.accountState.get(key) as Row | undefined;
        return row === undefined ? null : JSON.parse(row.state as string) as AccountState;
      })
    );
  }

  setAccountState(key: string, state: AccountState): void {
    this.#db.write(
      "account state",
      () => this.#db.statements.putAccountState.run(key, JSON.stringify(state)),
    );
  }

  /** Account `key`'s read markers; rejects (StoreError) when they cannot be read. */
  readMarkers(key: string): Promise<Record<string, number>> {
    return settle(() =>
      this.#db.readOrThrow("read the read markers", () => {
        const rows = this.#db.statements.readMarkers.all(key) as Row[];
        return Object.fromEntries(rows.map((row) => [row.target as string, row.time as number]));
      })
    );
  }

  setReadMarker(key: string, target: string, time: number): void {
    this.#db.write("read markers", () => this.#db.statements.putReadMarker.run(key, target, time));
  }

  bans(): Promise<Ban[]> {
    const rows = this.#db.read("bans", () => this.#db.statements.bans.all() as Row[], []);
    return Promise.resolve(rows.map((row) => ({
      mask: row.mask as string,
      expires: row.expires as number | null,
      reason: row.reason as string,
      by: row.by as string,
      created: row.created as number,
    })));
  }

  addBan(ban: Ban): void {
    this.#db.write("bans", () => {
      this.#db.statements.putBan.run(ban.mask, ban.expires, ban.reason, ban.by, ban.created);
    });
  }

  removeBan(mask: string): Promise<boolean> {
    let removed = false;
    this.#db.write("bans", () => {
      removed = Number(this.#db.statements.deleteBan.run(mask).changes) > 0;
    });
    return Promise.resolve(removed);
  }

  /** Commits what is pending and lets go of the file (the lock with it). Idempotent. */
  close(): Promise<void> {
    this.history.close();
    this.#db.close();
    return Promise.resolve();
  }
}

/** A room's modes as the `modes` column holds them (JSON), when it holds any. */
function storedModes(column: unknown): { modes?: StoredModes } {
  if (typeof column !== "string") return {};
  try {
    const modes = JSON.parse(column) as StoredModes;
    return typeof modes === "object" && modes !== null ? { modes } : {};
  } catch {
    return {};
  }
}

/** `work`'s result as a promise, its exception as a rejection. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `YYYYMMDD-HHMMSS` in UTC. */
function stamp(date: Date): string {
  return date.toISOString().slice(0, 19).replaceAll("-", "").replaceAll(":", "").replace("T", "-");
}
