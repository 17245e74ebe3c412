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

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { basename, dirname, resolve } from "node:path";
import type { Topic } from "../core/commands.ts";
import { type Clock, type MessageEvent, systemClock } from "../core/events.ts";
import type { History } from "../core/history.ts";
import type { Account, Ban, Store, StoredRoom } from "../core/store.ts";
import { errorText } from "../errors.ts";

/** `PRAGMA application_id` of a parley file: "PRLY". */
export const APPLICATION_ID = 0x50524c59;

/**
 * The schema, as steps: step `i` takes a file from `user_version` i to i+1.
 * Append only; a released step is never edited.
 */
export const MIGRATIONS: readonly string[] = [
  /* v1 */ `
  CREATE TABLE rooms (
    key        TEXT PRIMARY KEY,  -- nameKey(name)
    name       TEXT NOT NULL,     -- display name, as first used
    topic_text TEXT,              -- all three NULL: no topic
    topic_nick TEXT,
    topic_time INTEGER,           -- ms since the epoch
    last_used  INTEGER NOT NULL   -- ms; the least recently used empty room is forgotten first
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE messages (
    id       INTEGER PRIMARY KEY, -- insertion order: the order of a room's history
    room_key TEXT NOT NULL,
    room     TEXT NOT NULL,       -- display name at the time
    seq      INTEGER NOT NULL,    -- the room's sequence number (restarts may repeat it)
    time     INTEGER NOT NULL,    -- ms since the epoch
    origin   TEXT NOT NULL,
    nick     TEXT NOT NULL,
    user     TEXT NOT NULL,
    text     TEXT NOT NULL,
    action   INTEGER NOT NULL     -- 1 for /me
  ) STRICT;
  CREATE INDEX messages_by_room ON messages (room_key, id);
  CREATE TABLE accounts (
    key     TEXT PRIMARY KEY,     -- nameKey(nick)
    nick    TEXT NOT NULL,
    hash    BLOB NOT NULL,
    salt    BLOB NOT NULL,
    n       INTEGER NOT NULL,     -- scrypt cost, per account: can be raised later
    r       INTEGER NOT NULL,
    p       INTEGER NOT NULL,
    created INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE bans (
    mask    TEXT PRIMARY KEY,     -- address or CIDR block
    expires INTEGER,              -- ms since the epoch; NULL: for good
    reason  TEXT NOT NULL,
    by      TEXT NOT NULL,
    created INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
];

/** A start-up failure (or a failed account call); the message is one line naming the file. */
export class StoreError extends Error {
  override name = "StoreError";
}

/** How {@linkcode SqliteStore.open} is set up. */
export interface SqliteStoreOptions {
  /** Messages kept per room (`--history`); 0 keeps none (and forgets what the file held). */
  historySize: number;
  /** Test only: caps the file at this many pages (`PRAGMA max_page_count`), a full disk on demand. */
  maxPages?: number;
  /** The time, for telling bursts of failures apart (tests set it). */
  clock?: Clock;
}

/** A room as {@linkcode SqliteStore.rooms} returns it: with the seq of its newest stored message. */
export type LoadedRoom = StoredRoom & {
  /** The `seq` of the newest message kept (0 for none): where the room's numbering goes on. */
  seq: number;
};

/** What node:sqlite throws: `errcode` is set on prepared statements' errors only. */
type SqliteError = Error & { code?: string; errcode?: number };

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_NOTADB = 26;
/** SQLITE_READONLY_DIRECTORY: the file is writable, its folder (for the -wal file) is not. */
const SQLITE_READONLY_DIRECTORY = 1544;

/** A burst of write failures ends with a write that works this long after the last failure. */
const QUIET_MS = 1_000;
/** Read failures are reported at most this often. */
const READ_REPORT_EVERY_MS = 30_000;

function primaryCode(error: unknown): number {
  return ((error as SqliteError).errcode ?? -1) & 0xff;
}

/** Why a write or read failed while running, for the operator ("the disk is full"). */
function runtimeReason(error: unknown): string {
  const code = primaryCode(error);
  const message = errorText(error);
  if (code === SQLITE_FULL || /disk is full/.test(message)) return "the disk is full";
  if (code === SQLITE_IOERR || /disk I\/O error/.test(message)) return "I/O error (disk I/O error)";
  if (code === SQLITE_READONLY || /readonly database/.test(message)) {
    return "the file has become read-only";
  }
  if (code === SQLITE_CORRUPT || /malformed/.test(message)) return "the file is damaged";
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) return "the file is locked";
  return message;
}

/** The one line for an SQLite error at start-up. */
function startupLine(path: string, error: unknown): string {
  const code = primaryCode(error);
  const message = errorText(error);
  if (
    code === SQLITE_BUSY || code === SQLITE_LOCKED || /database (table )?is locked/.test(message)
  ) {
    return `${path} is in use by another process (is another parley running on it?)`;
  }
  if (code === SQLITE_NOTADB || /file is not a database/.test(message)) {
    return `${path} is not a database (or its header is damaged); move it away or choose another file`;
  }
  if (code === SQLITE_CORRUPT || /malformed/.test(message)) {
    return `${path} is damaged (${message}); restore a backup or move it away`;
  }
  if (code === SQLITE_FULL || /disk is full/.test(message)) {
    return `cannot write ${path}: the disk is full`;
  }
  if ((error as SqliteError).errcode === SQLITE_READONLY_DIRECTORY) {
    const folder = dirname(resolve(path));
    return `cannot write ${path}: its folder ${folder} is read-only (SQLite creates ${
      basename(path)
    }-wal there)`;
  }
  if (code === SQLITE_READONLY || /readonly database/.test(message)) {
    return `cannot write ${path}: it is read-only`;
  }
  if (code === SQLITE_IOERR || /disk I\/O error/.test(message)) {
    return `cannot use ${path}: I/O error (${message})`;
  }
  return `cannot use ${path}: ${oneLine(message)}`;
}

function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s*\n\s*/g, "; ").trim();
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

/** The errno name of a Deno file-system error (`EACCES`, `EPERM`, `EROFS`, …). */
function errno(error: unknown): string {
  return String((error as { code?: unknown }).code ?? "");
}

/**
 * What SQLite cannot explain: it reports every path problem as "unable to open
 * database file". Checks, and for a new file creates it, so the OS gives the reason.
 */
function checkPath(path: string): void {
  const file = resolve(path);
  const folder = dirname(file);
  let info: Deno.FileInfo | null = null;
  try {
    info = Deno.statSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) info = null;
    else if (error instanceof Deno.errors.PermissionDenied) {
      throw new StoreError(`cannot open ${path}: permission denied (folder ${folder})`);
    } else if (error instanceof Deno.errors.NotADirectory) {
      throw new StoreError(`cannot open ${path}: part of its path is a file, not a folder`);
    } else throw new StoreError(`cannot open ${path}: ${errorText(error)}`);
  }
  if (info === null) {
    let folderInfo: Deno.FileInfo;
    try {
      folderInfo = Deno.statSync(folder);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new StoreError(`cannot create ${path}: folder ${folder} does not exist`);
      }
      throw new StoreError(`cannot create ${path}: ${errorText(error)}`);
    }
    if (!folderInfo.isDirectory) {
      throw new StoreError(`cannot create ${path}: ${folder} is not a folder`);
    }
    try {
      // An empty file is an empty database; creating it here gives the OS's reason.
      Deno.openSync(file, { read: true, write: true, createNew: true }).close();
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return; // created meanwhile: SQLite decides
      if (errno(error) === "EROFS") {
        throw new StoreError(`cannot create ${path}: the file system is read-only`);
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        throw new StoreError(`cannot create ${path}: no permission to write in folder ${folder}`);
      }
      throw new StoreError(`cannot create ${path}: ${errorText(error)}`);
    }
    return;
  }
  if (info.isDirectory) throw new StoreError(`${path} is a folder, not a database file`);
  if (!info.isFile) throw new StoreError(`${path} is not a regular file`);
  try {
    Deno.openSync(file, { read: true, write: true }).close();
  } catch (error) {
    const code = errno(error);
    if (code === "EROFS") {
      throw new StoreError(`cannot write ${path}: the file system is read-only`);
    }
    if (code === "EPERM") {
      throw new StoreError(
        `cannot write ${path}: the system does not permit it (immutable? see lsattr ${path})`,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      try {
        Deno.openSync(file, { read: true }).close();
      } catch {
        throw new StoreError(`cannot open ${path}: permission denied (this user may not read it)`);
      }
      throw new StoreError(`cannot write ${path}: it is read-only for this user`);
    }
    throw new StoreError(`cannot open ${path}: ${errorText(error)}`);
  }
}

type Row = Record<string, unknown>;

/**
 * The open file: the prepared statements, the one open transaction and the
 * failure reports, shared by the store and its history.
 */
class Database {
  readonly path: string;
  readonly statements: Statements;
  closed = false;
  readonly #db: DatabaseSync;
  readonly #report: (message: string) => void;
  /** Messages appended in the open transaction: lost if it fails. */
  #pendingMessages = 0;
  /** Statements that worked in the open transaction: its commit proves writes work again. */
  #pendingWrites = 0;
  /**
   * Writes are failing: one report per burst. A commit that stores something
   * {@linkcode QUIET_MS} after the last failure ends it (a nearly full disk
   * lets small writes through between failures: that is still one burst).
   */
  #failing = false;
  #lostMessages = 0;
  #lastFailure = -Infinity;
  #lastReadReport = -Infinity;
  readonly #clock: Clock;

  constructor(
    path: string,
    db: DatabaseSync,
    options: { report: (message: string) => void; clock: Clock },
  ) {
    this.path = path;
    this.#db = db;
    this.#report = options.report;
    this.#clock = options.clock;
    this.statements = prepare(db);
  }

  /** Runs `work` in the open transaction, opening one if needed; the caller commits. */
  inTransaction(what: string, work: () => void, messages = 0): boolean {
    if (this.closed) return false;
    try {
      this.#begin();
      work();
    } catch (error) {
      this.#failed(what, error, messages);
      return false;
    }
    this.#pendingMessages += messages;
    this.#pendingWrites++;
    return true;
  }

  /** A fire-and-forget write (rooms, topics, bans): stored and committed now; failures reported. */
  write(what: string, work: () => void): void {
    if (this.inTransaction(what, work)) this.commit(what);
  }

  /** A write whose outcome the caller needs: committed now, or a StoreError thrown. */
  writeOrThrow<T>(doing: string, work: () => T): T {
    this.#checkOpen(doing);
    let result!: T;
    let failure: unknown = null;
    try {
      this.#begin();
      result = work();
      this.#pendingWrites++;
    } catch (error) {
      failure = error;
      this.#failed("accounts", error, 0);
    }
    failure ??= this.commit("accounts");
    if (failure !== null) {
      throw new StoreError(`cannot ${doing} in ${this.path}: ${runtimeReason(failure)}`);
    }
    return result;
  }

  /** A read whose outcome the caller needs: a StoreError thrown when it fails. */
  readOrThrow<T>(doing: string, work: () => T): T {
    this.#checkOpen(doing);
    try {
      return work();
    } catch (error) {
      this.#readFailed(doing, error, "");
      throw new StoreError(`cannot ${doing} from ${this.path}: ${runtimeReason(error)}`);
    }
  }

  /** A read: its result, or `fallback` (reported) when it fails. */
  read<T>(what: string, work: () => T, fallback: T): T {
    if (this.closed) return fallback;
    try {
      return work();
    } catch (error) {
      this.#readFailed(`read ${what}`, error, "; showing none");
      return fallback;
    }
  }

  /** Commits the open transaction, if any; returns the error when that failed (reported). */
  commit(what = "history"): unknown {
    if (this.closed || !this.#db.isTransaction) {
      this.#pendingMessages = this.#pendingWrites = 0;
      return null;
    }
    const wrote = this.#pendingWrites > 0;
    try {
      this.statements.commit.run();
    } catch (error) {
      this.#rollback();
      const lost = this.#pendingMessages;
      this.#pendingMessages = this.#pendingWrites = 0;
      this.#failed(what, error, lost);
      return error;
    }
    this.#pendingMessages = this.#pendingWrites = 0;
    if (wrote && this.#failing && this.#clock() - this.#lastFailure >= QUIET_MS) {
      this.#failing = false;
      const lost = this.#lostMessages;
      this.#lostMessages = 0;
      const detail = lost === 0
        ? ""
        : ` (${lost} message${lost === 1 ? " was" : "s were"} not stored)`;
      this.#report(`storing in ${this.path} works again${detail}`);
    }
    return null;
  }

  /** Commits what is pending and lets go of the file (its lock with it). */
  close(): void {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    try {
      this.#db.exec("PRAGMA optimize");
    } catch { /* best effort */ }
    try {
      this.#db.close(); // checkpoints the WAL into the file and removes it
    } catch (error) {
      this.#report(`cannot close ${this.path} cleanly: ${runtimeReason(error)}`);
    }
  }

  #checkOpen(doing: string): void {
    if (this.closed) throw new StoreError(`cannot ${doing}: ${this.path} is closed`);
  }

  /** Opens the transaction writes go into; a commit (the chat's, or at the end of this turn) ends it. */
  #begin(): void {
    if (this.#db.isTransaction) return;
    // SQLite may have rolled the last one back by itself (a full disk): what it held is lost.
    this.#lostMessages += this.#pendingMessages;
    this.#pendingMessages = this.#pendingWrites = 0;
    this.statements.begin.run();
    // A transaction never outlives the current turn, even if nobody commits it.
    queueMicrotask(() => this.commit());
  }

  #rollback(): void {
    try {
      if (this.#db.isTransaction) this.statements.rollback.run();
    } catch { /* nothing left to roll back */ }
  }

  #failed(what: string, error: unknown, lostMessages: number): void {
    // A statement that fails inside a transaction SQLite keeps undoes only itself; when
    // SQLite rolled the whole transaction back by itself, everything appended in it is lost.
    if (!this.#db.isTransaction) {
      lostMessages += this.#pendingMessages;
      this.#pendingMessages = this.#pendingWrites = 0;
    }
    this.#lostMessages += lostMessages;
    this.#lastFailure = this.#clock();
    if (this.#failing) return;
    this.#failing = true;
    this.#report(
      `cannot store ${what} in ${this.path}: ${runtimeReason(error)}; chat goes on without storing`,
    );
  }

  #readFailed(doing: string, error: unknown, outcome: string): void {
    const now = this.#clock();
    if (now - this.#lastReadReport < READ_REPORT_EVERY_MS) return;
    this.#lastReadReport = now;
    this.#report(`cannot ${doing} from ${this.path}: ${runtimeReason(error)}${outcome}`);
  }
}

interface MessageRow {
  room: string;
  seq: number;
  time: number;
  origin: string;
  nick: string;
  user: string;
  text: string;
  action: number;
}

/**
 * Room messages in the file. `append` goes into the open transaction (opened
 * by the first append after a commit) and costs one prepared INSERT; a room's
 * extra rows are deleted every few appends, so a room holds at most
 * `historySize` plus that few (never shown). `recent` reads through the same
 * connection, so it sees appends not committed yet.
 */
class SqliteHistory implements History {
  readonly #db: Database;
  readonly #size: number;
  /** A room's rows beyond the cap are deleted every this many appends to it. */
  readonly #trimEvery: number;
  readonly #appendsSinceTrim = new Map<string, number>();

  constructor(db: Database, size: number) {
    this.#db = db;
    this.#size = size;
    this.#trimEvery = Math.max(1, Math.min(64, Math.ceil(size / 4)));
  }

  /** Keeps `event`; notices are never kept. */
  append(key: string, event: MessageEvent): void {
    if (this.#size === 0 || event.notice) return;
    const s = this.#db.statements;
    const stored = this.#db.inTransaction("history", () => {
      s.append.run(
        key,
        event.room,
        event.seq,
        event.time,
        event.origin,
        event.nick,
        event.user,
        event.text,
        event.action ? 1 : 0,
      );
    }, 1);
    if (!stored) return;
    const count = (this.#appendsSinceTrim.get(key) ?? 0) + 1;
    if (count < this.#trimEvery) {
      this.#appendsSinceTrim.set(key, count);
      return;
    }
    this.#appendsSinceTrim.set(key, 0);
    this.#db.inTransaction("history", () => s.trim.run({ key, keep: this.#size }));
  }

  recent(key: string, limit: number): Promise<MessageEvent[]> {
    const count = Math.min(limit, this.#size);
    if (count <= 0) return Promise.resolve([]);
    const rows = this.#db.read("history", () => this.#db.statements.recent.all(key, count), []);
    const events: MessageEvent[] = [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i] as unknown as MessageRow;
      events.push({
        kind: "message",
        room: row.room,
        seq: row.seq,
        time: row.time,
        origin: row.origin,
        nick: row.nick,
        user: row.user,
        text: row.text,
        action: row.action === 1,
      });
    }
    return Promise.resolve(events);
  }

  forget(key: string): void {
    this.#appendsSinceTrim.delete(key);
    this.#db.write("history", () => this.#db.statements.forget.run(key));
  }

  commit(): void {
    this.#db.commit();
  }
}

/**
 * The store in one SQLite file, held exclusively from {@linkcode open} to
 * {@linkcode close}. Everything runs synchronously underneath (microseconds a
 * call); the promises are the {@linkcode Store} interface's.
 */
export class SqliteStore implements Store {
  readonly history: History;
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
    this.history = new SqliteHistory(this.#db, options.historySize);
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

  /** Drops the account and commits; rejects (StoreError) when that cannot be stored. */
  dropAccount(key: string): Promise<void> {
    return settle(() =>
      this.#db.writeOrThrow("drop the account", () => {
        this.#db.statements.dropAccount.run(key);
      })
    );
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
    this.#db.close();
    return Promise.resolve();
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

type Statements = ReturnType<typeof prepare>;

/** The prepared statements of a running store. */
function prepare(db: DatabaseSync) {
  const sql = (text: string): StatementSync => db.prepare(text);
  return {
    // Prepared, not exec(): only prepared statements' errors carry `errcode`.
    begin: sql("BEGIN"),
    commit: sql("COMMIT"),
    rollback: sql("ROLLBACK"),
    append: sql(
      `INSERT INTO messages (room_key, room, seq, time, origin, nick, user, text, action)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Everything older than the room's newest `keep`: one index range.
    trim: sql(
      `DELETE FROM messages WHERE room_key = $key AND id <= (
         SELECT id FROM messages WHERE room_key = $key ORDER BY id DESC LIMIT 1 OFFSET $keep)`,
    ),
    recent: sql(
      `SELECT room, seq, time, origin, nick, user, text, action FROM messages
       WHERE room_key = ? ORDER BY id DESC LIMIT ?`,
    ),
    forget: sql("DELETE FROM messages WHERE room_key = ?"),
    rooms: sql(
      `SELECT key, name, topic_text, topic_nick, topic_time, last_used,
         (SELECT seq FROM messages WHERE room_key = rooms.key ORDER BY id DESC LIMIT 1) AS seq
       FROM rooms ORDER BY last_used DESC`,
    ),
    touchRoom: sql(
      `INSERT INTO rooms (key, name, last_used) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET last_used = excluded.last_used`,
    ),
    setTopic: sql(
      "UPDATE rooms SET topic_text = ?, topic_nick = ?, topic_time = ? WHERE key = ?",
    ),
    deleteRoom: sql("DELETE FROM rooms WHERE key = ?"),
    account: sql("SELECT key, nick, hash, salt, n, r, p, created FROM accounts WHERE key = ?"),
    addAccount: sql(
      `INSERT INTO accounts (key, nick, hash, salt, n, r, p, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO NOTHING`,
    ),
    putAccount: sql(
      `INSERT OR REPLACE INTO accounts (key, nick, hash, salt, n, r, p, created)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    dropAccount: sql("DELETE FROM accounts WHERE key = ?"),
    bans: sql("SELECT mask, expires, reason, by, created FROM bans ORDER BY created"),
    putBan: sql(
      "INSERT OR REPLACE INTO bans (mask, expires, reason, by, created) VALUES (?, ?, ?, ?, ?)",
    ),
    deleteBan: sql("DELETE FROM bans WHERE mask = ?"),
  };
}

/** The start-up sequence after the file opened (see the module doc). Throws. */
function start(db: DatabaseSync, path: string, options: SqliteStoreOptions): void {
  const one = (text: string): Row => db.prepare(text).get() as Row;
  // Before the first read: from the first write on, the lock is held until close.
  one("PRAGMA locking_mode = EXCLUSIVE");
  // The first read of the file: not a database (26), truncated (11), in use (5) show here.
  const applicationId = one("PRAGMA application_id").application_id as number;
  const version = one("PRAGMA user_version").user_version as number;
  const objects = one("SELECT count(*) AS n FROM sqlite_schema").n as number;
  if (applicationId !== APPLICATION_ID && (applicationId !== 0 || objects > 0 || version !== 0)) {
    throw new StoreError(
      `${path} is an SQLite database, but not parley's; move it away or choose another file`,
    );
  }
  if (version > MIGRATIONS.length) {
    throw new StoreError(
      `${path} was written by a newer parley (schema version ${version}; this one knows up to ${MIGRATIONS.length}); run that parley or choose another file`,
    );
  }
  if (objects > 0) {
    const result = String(Object.values(one("PRAGMA quick_check(1)"))[0]);
    if (result !== "ok") {
      const detail = oneLine(result.replace(/^\*\*\* in database \w+ \*\*\*\s*/, ""), 120);
      throw new StoreError(`${path} is damaged (${detail}); restore a backup or move it away`);
    }
  }
  const mode = one("PRAGMA journal_mode = WAL").journal_mode;
  if (mode !== "wal") {
    throw new StoreError(`cannot use ${path}: SQLite cannot switch it to WAL (it stays ${mode})`);
  }
  one("PRAGMA synchronous = NORMAL");
  one("PRAGMA journal_size_limit = 67108864"); // the -wal file shrinks back to 64 MiB after checkpoints
  if (options.maxPages !== undefined) {
    one(`PRAGMA max_page_count = ${Math.floor(options.maxPages)}`);
  }
  // The first write: the exclusive lock is taken here, a read-only folder or full disk shows.
  db.prepare("BEGIN IMMEDIATE").run();
  try {
    for (let step = version; step < MIGRATIONS.length; step++) {
      try {
        db.exec(MIGRATIONS[step]);
      } catch (error) {
        throw new StoreError(
          `cannot upgrade ${path} to schema version ${step + 1} (left at ${version}): ${
            oneLine(errorText(error))
          }`,
        );
      }
    }
    if (version < MIGRATIONS.length) {
      db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
    }
    trimAll(db, Math.max(0, options.historySize));
    db.prepare("COMMIT").run();
  } catch (error) {
    try {
      if (db.isTransaction) db.prepare("ROLLBACK").run();
    } catch { /* rolled back already */ }
    throw error;
  }
}

/** Keeps the newest `size` messages of every room (the cap may have shrunk since the last run). */
function trimAll(db: DatabaseSync, size: number): void {
  if (size === 0) {
    db.prepare("DELETE FROM messages").run();
    return;
  }
  const trim = db.prepare(
    `DELETE FROM messages WHERE room_key = $key AND id <= (
       SELECT id FROM messages WHERE room_key = $key ORDER BY id DESC LIMIT 1 OFFSET $keep)`,
  );
  for (const row of db.prepare("SELECT DISTINCT room_key FROM messages").all()) {
    trim.run({ key: row.room_key as string, keep: size });
  }
}
