/**
 * The open `--data` file: its prepared statements, the one open transaction,
 * and the failure reports (one per burst of failed writes), shared by the
 * store and its history.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Clock } from "../../core/events.ts";
import { runtimeReason, StoreError } from "./errors.ts";
import { prepare, type Statements } from "./schema.ts";

/** Pages copied per step of an online backup: small steps keep the chat responsive. */
const BACKUP_PAGES_PER_STEP = 64;
/** A burst of write failures ends with a write that works this long after the last failure. */
const QUIET_MS = 1_000;
/** Read failures are reported at most this often. */
const READ_REPORT_EVERY_MS = 30_000;

/**
 * The open file: the prepared statements, the one open transaction and the
 * failure reports, shared by the store and its history.
 */
export class Database {
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

  /** A statement of its own for a part of the store (the history prepares its own). */
  prepare(sql: string): StatementSync {
    return this.#db.prepare(sql);
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

  /**
   * Writes a consistent copy of the database to `path` while the server runs
   * (SQLite's online backup, a few pages at a time, so the chat goes on
   * meanwhile; what is committed after it started may or may not be in it).
   * The copy is created readable by its owner only: it holds password hashes.
   */
  async backup(path: string): Promise<void> {
    this.#checkOpen("back up");
    this.commit();
    Deno.writeFileSync(path, new Uint8Array(0), { mode: 0o600, createNew: true });
    const { backup } = await import("node:sqlite");
    try {
      await backup(this.#db, path, { rate: BACKUP_PAGES_PER_STEP });
    } catch (error) {
      try {
        Deno.removeSync(path);
      } catch { /* nothing to clean up */ }
      throw new StoreError(`cannot back up ${this.path} to ${path}: ${runtimeReason(error)}`);
    }
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
