/**
 * Room history in the `--data` file.
 *
 * @module
 */

import type { MessageEvent } from "../../core/events.ts";
import type { History } from "../../core/history.ts";
import type { Database } from "./database.ts";

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
export class SqliteHistory implements History {
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
