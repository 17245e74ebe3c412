/**
 * History in the `--data` file (schema v3, `schema.ts`): room messages with
 * their ids, private messages kept per account, full-text search, and the
 * retention that keeps the file from growing for good.
 *
 * **On the message path** an append is one prepared INSERT into the open
 * transaction (committed by the chat before it delivers the batch). A room
 * (or an account's private copies) over `--history-max` loses its oldest few
 * rows in the same transaction, at most {@linkcode TRIM_PER_APPEND} a time: in
 * steady state one delete per append, never a long one.
 *
 * **In the background** one small step at a time, each in its own short
 * transaction and sized to take about {@linkcode STEP_TARGET_MS}, with the
 * event loop free between steps:
 *
 * 1. *census*: counting the rows of each room and account (a file opened with
 *    many rows is counted in steps; a small one at once), which the caps need;
 * 2. *dropped accounts*: their copies deleted (a read of a dropped account's
 *    copies sees none at once, whatever is left to delete);
 * 3. *caps*: rooms and accounts over `--history-max` trimmed to it;
 * 4. *age*: messages older than `--history-days` deleted, oldest first
 *    (a pass every minute);
 * 5. *search index*: new messages put into `messages_fts` (FTS5, built into
 *    `node:sqlite`), so search sees a message about a second after it was said
 *    (and the newest ones not indexed yet are scanned).
 *
 * **Reads** (CHATHISTORY, `/history`, search) are single indexed queries:
 * positions are row ids (`messages.id`, `private_messages.id`), a message is
 * found by its id through `messages_by_msgid`, a time through
 * `messages_by_time`. A failed read rejects (the chat answers "unavailable")
 * rather than pretend there is no history.
 *
 * One class, one file: the counts, the census, the dropped accounts' floors
 * and the search index's mark are shared by the message path, the reads and
 * the background steps. Its SQL is in `history_statements.ts`, its rows read
 * back as events in `history_rows.ts`.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import type { Clock, MessageEvent, PrivateEvent } from "../../core/events.ts";
import {
  type Conversation,
  conversationOf,
  DAY_MS,
  type History,
  type HistoryTarget,
  type KeptEvent,
  type Located,
  matchesWords,
  newestOf,
  type Range,
  type SearchScope,
} from "../../core/history.ts";
import type { Database } from "./database.ts";
import { privateEvent, roomEvent } from "./history_rows.ts";
import { DELETEMERGE_OFF, historyStatements } from "./history_statements.ts";
import type { Row } from "./schema.ts";

/** Oldest rows deleted by one append that finds its room (or account) over the cap. */
const TRIM_PER_APPEND = 4;
/** What one background step aims to take, in ms (the chunk sizes follow it). */
const STEP_TARGET_MS = 3;
/** Between two background steps while there is work, in ms. */
const BUSY_GAP_MS = 10;
/** A pass of age pruning starts this often, in ms. */
const PRUNE_EVERY_MS = 60_000;
/** New messages wait at most this long for the search index, in ms. */
const INDEX_DELAY_MS = 500;
/** The fewest and the most rows a step of each kind may take. */
const MIN_CHUNK = 16;
const MAX_CHUNK: Record<Task, number> = {
  census: 20_000,
  dropped: 1000,
  caps: 1000,
  age: 1000,
  index: 2000,
};
/** A file with at most this many rows is counted at once when opened. */
const COUNT_AT_ONCE = 50_000;
/** How far back a search looks: matches of the index, and rows scanned otherwise. */
const SEARCH_MATCHES = 20_000;
const SEARCH_SCAN = 5_000;

/** How a {@linkcode SqliteHistory} keeps things. */
export interface SqliteHistoryOptions {
  /** Most messages per room, and per account for private ones (`--history-max`); 0 keeps none. */
  max: number;
  /** Messages older than this many days are pruned (`--history-days`); 0: no age limit. */
  days: number;
  clock: Clock;
  /** Run the background steps on timers (default true); tests may call {@linkcode SqliteHistory.maintain}. */
  background?: boolean;
}

/** What the background work has done, for the bench and the tests. */
export interface MaintenanceStats {
  steps: number;
  /** The longest step, in ms: how long the event loop was held at most. */
  longestStepMs: number;
  /** The longest step of each kind of work, in ms. */
  longestMs: Partial<Record<Task, number>>;
  /** Steps by how long they took: under 1, 2, 5, 10, 20, 50 ms, and longer. */
  stepsUnderMs: Record<"1" | "2" | "5" | "10" | "20" | "50" | "more", number>;
  pruned: number;
  indexed: number;
}

/** The kinds of background work. */
export type Task = "census" | "dropped" | "caps" | "age" | "index";

/** History in the file; see the module notes. */
export class SqliteHistory implements History {
  readonly #db: Database;
  readonly #max: number;
  readonly #days: number;
  readonly #clock: Clock;
  readonly #s: ReturnType<typeof historyStatements>;
  /** Rows per room key and per owner, once counted (see {@linkcode #census}). */
  readonly #rooms = new Map<string, number>();
  readonly #owners = new Map<string, number>();
  /** Counting rows with ids up to `until` (those at open); null once done. */
  #census: { room: number; private: number; until: number; untilPrivate: number } | null;
  /** Dropped owners → their copies up to this id are not theirs any more. */
  readonly #dropped = new Map<string, number>();
  /** The newest message id in the search index. */
  #indexed: number;
  /** When the next age pass is due (ms, the history's clock). */
  #ageDue = 0;
  #ageRunning = false;
  /** Rows per step of each kind of work: from a small start, following how long steps take. */
  readonly #chunks: Record<Task, number> = {
    census: 2000,
    dropped: 100,
    caps: 100,
    age: 100,
    index: 100,
  };
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  readonly #background: boolean;
  #closed = false;
  readonly stats: MaintenanceStats = {
    steps: 0,
    longestStepMs: 0,
    longestMs: {},
    stepsUnderMs: { 1: 0, 2: 0, 5: 0, 10: 0, 20: 0, 50: 0, more: 0 },
    pruned: 0,
    indexed: 0,
  };

  constructor(db: Database, options: SqliteHistoryOptions) {
    this.#db = db;
    this.#max = Math.max(0, Math.floor(options.max));
    this.#days = Math.max(0, options.days);
    this.#clock = options.clock;
    this.#background = options.background ?? true;
    this.#s = historyStatements(db);
    const s = this.#s;
    for (const row of s.dropped.all() as Row[]) {
      this.#dropped.set(row.owner as string, row.up_to as number);
    }
    // Deleting from the search index never merges a segment by itself (FTS5's `deletemerge`,
    // 10% by default: a big segment rewritten whole in one commit, 0.9 s on 1M messages);
    // segments are merged as new messages are indexed, and drop what was deleted then.
    db.write("history", () => db.prepare(DELETEMERGE_OFF).run());
    // Ids above the newest row were given back (rows deleted at the top): unindex them.
    const top = (s.maxId.get() as Row).id as number | null ?? 0;
    this.#indexed = (s.getState.get("indexed") as Row | undefined)?.value as number ?? 0;
    if (this.#indexed > top) {
      db.inTransaction("history", () => {
        s.unindexAbove.run(top);
        s.setState.run("indexed", top);
      });
      db.commit("history");
      this.#indexed = top;
    }
    const topPrivate = (s.maxPrivateId.get() as Row).id as number | null ?? 0;
    this.#census = { room: 0, private: 0, until: top, untilPrivate: topPrivate };
    if (top + topPrivate <= COUNT_AT_ONCE) {
      while (this.#census !== null) this.#step("census", Infinity);
    }
    // The first age pass a minute after opening: a start is not slowed by it.
    this.#ageDue = this.#clock() + PRUNE_EVERY_MS;
    this.#wake(0);
  }

  // The message path.

  /** Keeps a room message; notices and TAGMSGs are never kept. */
  append(key: string, event: MessageEvent): void {
    if (this.#max === 0 || event.notice || event.tagmsg) return;
    const s = this.#s;
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
        event.id ?? null,
        event.account ?? null,
        event.tags ? JSON.stringify(event.tags) : null,
      );
    }, 1);
    if (!stored) return;
    const count = (this.#rooms.get(key) ?? 0) + 1;
    this.#rooms.set(key, count);
    if (this.#census === null && count > this.#max) {
      this.#db.inTransaction("history", () => this.#trimRoom(key, TRIM_PER_APPEND));
    }
    this.#wake(INDEX_DELAY_MS);
  }

  recent(key: string, limit: number): Promise<MessageEvent[]> {
    const count = Math.min(limit, this.#max);
    if (count <= 0) return Promise.resolve([]);
    const rows = this.#db.read("history", () => this.#s.newest.all(key, count) as Row[], []);
    return Promise.resolve(rows.reverse().map(roomEvent));
  }

  forget(key: string): void {
    this.#rooms.delete(key);
    this.#db.write("history", () => {
      this.#s.unindexRoom.run(key);
      this.#s.forgetRoom.run(key);
    });
    this.#indexBelowTop();
  }

  commit(): void {
    this.#db.commit();
  }

  appendPrivate(owner: string, peer: string, event: PrivateEvent): void {
    if (this.#max === 0 || event.notice || event.tagmsg) return;
    const s = this.#s;
    let added = false;
    this.#db.inTransaction("private messages", () => {
      const result = s.appendPrivate.run(
        owner,
        peer,
        event.id ?? crypto.randomUUID(),
        event.time,
        event.origin,
        event.nick,
        event.user,
        event.to,
        event.text,
        event.action ? 1 : 0,
        event.account ?? null,
        event.tags ? JSON.stringify(event.tags) : null,
      );
      added = Number(result.changes) === 1;
      if (added) s.touchConversation.run(owner, peer, result.lastInsertRowid);
    }, 1);
    if (!added) return;
    const count = (this.#owners.get(owner) ?? 0) + 1;
    this.#owners.set(owner, count);
    if (this.#census === null && count > this.#max) {
      this.#db.inTransaction("private messages", () => this.#trimOwner(owner, TRIM_PER_APPEND));
    }
  }

  forgetOwner(owner: string): void {
    const s = this.#s;
    this.#db.write("private messages", () => {
      const upTo = (s.maxPrivateId.get() as Row).id as number | null ?? 0;
      s.dropOwner.run(owner, upTo);
      s.forgetConversations.run(owner);
      this.#dropped.set(owner, upTo);
    });
    this.#owners.delete(owner);
    this.#wake(0);
  }

  // Reads.

  locate(target: HistoryTarget, msgid: string): Promise<Located | null> {
    return this.#read(() => {
      const row = (target.kind === "room"
        ? this.#s.locate.get(msgid, target.key)
        : this.#s.locatePrivate.get(target.owner, msgid, target.peer, this.#floor(target))) as
          | Row
          | undefined;
      return row === undefined ? null : { position: row.id as number, time: row.time as number };
    });
  }

  firstFrom(target: HistoryTarget, time: number): Promise<Located | null> {
    return this.#read(() => {
      const row = (target.kind === "room"
        ? this.#s.firstFrom.get(target.key, time)
        : this.#s.firstFromPrivate.get(target.owner, target.peer, time, this.#floor(target))) as
          | Row
          | undefined;
      return row === undefined ? null : { position: row.id as number, time: row.time as number };
    });
  }

  range(target: HistoryTarget, range: Range): Promise<KeptEvent[]> {
    return this.#read(() => {
      let after = 0;
      if (range.after !== undefined) {
        const at = range.after.position as number;
        after = range.after.inclusive ? at - 1 : at;
      }
      if (target.kind === "private") after = Math.max(after, this.#floor(target));
      const before = range.before === undefined ? Number.MAX_SAFE_INTEGER : range.before as number;
      const s = this.#s;
      if (target.kind === "room") {
        const query = range.from === "newest" ? s.rangeNewest : s.rangeOldest;
        const rows = query.all(target.key, after, before, range.limit) as Row[];
        if (range.from === "newest") rows.reverse();
        return rows.map(roomEvent);
      }
      const query = range.from === "newest" ? s.privateNewest : s.privateOldest;
      const rows = query.all(target.owner, target.peer, after, before, range.limit) as Row[];
      if (range.from === "newest") rows.reverse();
      return rows.map(privateEvent);
    });
  }

  lastTime(key: string): Promise<number | null> {
    return this.#read(() => {
      const row = this.#s.lastTime.get(key) as Row | undefined;
      return row === undefined ? null : row.time as number;
    });
  }

  conversations(owner: string): Promise<Conversation[]> {
    return this.#read(() => {
      const floor = this.#dropped.get(owner) ?? 0;
      return (this.#s.conversations.all(owner, floor) as Row[]).map((row) =>
        conversationOf(row.peer as string, privateEvent(row))
      );
    });
  }

  async search(scope: SearchScope, words: string[], limit: number): Promise<KeptEvent[]> {
    if (words.length === 0 || limit <= 0) return [];
    if (scope.kind === "owner") {
      return await this.#read(() => {
        const floor = this.#dropped.get(scope.owner) ?? 0;
        const found: KeptEvent[] = [];
        for (
          const row of this.#s.scanPrivate.iterate(scope.owner, floor, SEARCH_SCAN) as Iterable<Row>
        ) {
          if (matchesWords(row.text as string, words)) found.push(privateEvent(row));
          if (found.length >= limit) break;
        }
        return newestOf(found, limit);
      });
    }
    const s = this.#s;
    // The newest messages, not indexed yet: scanned.
    const found: KeptEvent[] = await this.#read(() => {
      const tail: KeptEvent[] = [];
      for (
        const row of s.scanRoom.iterate(scope.key, this.#indexed, SEARCH_SCAN) as Iterable<Row>
      ) {
        if (matchesWords(row.text as string, words)) tail.push(roomEvent(row));
        if (tail.length >= limit) break;
      }
      return tail;
    });
    // Then the index, newest first, a page at a time with the event loop free in between.
    const query = words.map((word) => `"${word}"`).join(" "); // whole words: see searchWords
    let below = this.#indexed + 1;
    let looked = 0;
    while (found.length < limit && looked < SEARCH_MATCHES && !this.#closed) {
      const page = await this.#read(() => {
        const ids = s.match.all(query, below, 500) as Row[];
        const rows: Row[] = [];
        for (const { rowid } of ids) {
          const row = s.byId.get(rowid as number, scope.key) as Row | undefined;
          if (row !== undefined) rows.push(row);
        }
        return { ids: ids.length, last: ids.at(-1)?.rowid as number | undefined, rows };
      });
      for (const row of page.rows) {
        if (found.length < limit) found.push(roomEvent(row));
      }
      if (page.last === undefined || page.ids < 500) break;
      below = page.last;
      looked += page.ids;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return newestOf(found, limit);
  }

  // The background.

  /**
   * Runs background steps now, until there is nothing left to do or `maxSteps`
   * were run; an age pass is started first (`prune`). For tests, the bench and
   * shutdown; the steps are the same as on the timers.
   */
  maintain(options: { prune?: boolean; maxSteps?: number } = {}): number {
    if (options.prune) this.#ageDue = -Infinity;
    let steps = 0;
    while (steps < (options.maxSteps ?? Infinity)) {
      const task = this.#nextTask();
      if (task === null) break;
      this.#step(task, STEP_TARGET_MS);
      steps++;
    }
    return steps;
  }

  /** Stops the background (the store closes the file). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #wake(delay: number): void {
    if (!this.#background || this.#closed) return;
    const at = performance.now() + delay;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#tick(), delay);
    Deno.unrefTimer(this.#timer);
  }

  #tick(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed || this.#db.closed) return;
    const task = this.#nextTask();
    if (task !== null) {
      this.#step(task, STEP_TARGET_MS);
      this.#wake(BUSY_GAP_MS);
      return;
    }
    // Idle: the next age pass, or new messages to index.
    const untilAge = Math.max(0, this.#ageDue - this.#clock());
    this.#wake(Math.min(untilAge, PRUNE_EVERY_MS));
  }

  #nextTask(): Task | null {
    if (this.#db.closed) return null;
    if (this.#census !== null) return "census";
    if (this.#dropped.size > 0) return "dropped";
    if (this.#max > 0 && (this.#over(this.#rooms) !== null || this.#over(this.#owners) !== null)) {
      return "caps";
    }
    if (!this.#ageRunning && this.#days > 0 && this.#clock() >= this.#ageDue) {
      this.#ageRunning = true;
    }
    if (this.#ageRunning) return "age";
    if (this.#indexed < this.#newestId()) return "index";
    return null;
  }

  /** One step of `task`, in its own transaction, sized from how long the last one took. */
  #step(task: Task, targetMs: number): void {
    const chunk = this.#chunks[task];
    const started = performance.now();
    let done = 0;
    this.#db.inTransaction("history", () => {
      done = this.#work(task, chunk);
    });
    const worked = performance.now() - started;
    this.#db.commit("history");
    const took = performance.now() - started;
    this.stats.steps++;
    if (Number.isFinite(targetMs)) {
      this.stats.longestStepMs = Math.max(this.stats.longestStepMs, took);
      this.stats.longestMs[task] = Math.max(this.stats.longestMs[task] ?? 0, took);
      const bucket = took < 1
        ? "1"
        : took < 2
        ? "2"
        : took < 5
        ? "5"
        : took < 10
        ? "10"
        : took < 20
        ? "20"
        : took < 50
        ? "50"
        : "more";
      this.stats.stepsUnderMs[bucket]++;
      // Sized by the work itself, not the commit (a write the disk makes wait says nothing
      // about the step's size): down by half at most when it was long, up by a quarter at
      // most when it was short (its cost is not linear in its rows: page splits, merges).
      if (worked > targetMs) {
        this.#chunks[task] = Math.max(
          MIN_CHUNK,
          Math.floor(chunk * Math.max(0.5, targetMs / worked)),
        );
      } else if (done >= chunk && worked < targetMs / 2) {
        this.#chunks[task] = Math.min(MAX_CHUNK[task], Math.ceil(chunk * 1.25));
      }
    }
  }

  /** Does up to `chunk` rows of `task`; how many it did. */
  #work(task: Task, chunk: number): number {
    const s = this.#s;
    switch (task) {
      case "census": {
        const census = this.#census!;
        if (census.room < census.until) {
          const rows = s.censusRooms.all(census.room, census.until, chunk) as Row[];
          let last = census.until;
          let n = 0;
          if (rows.length > 0) {
            last = 0;
            for (const row of rows) {
              const key = row.k as string;
              this.#rooms.set(key, (this.#rooms.get(key) ?? 0) + (row.n as number));
              last = Math.max(last, row.last as number);
              n += row.n as number;
            }
          }
          census.room = n < chunk ? census.until : last;
          return n;
        }
        if (census.private < census.untilPrivate) {
          const rows = s.censusOwners.all(census.private, census.untilPrivate, chunk) as Row[];
          let last = census.untilPrivate;
          let n = 0;
          if (rows.length > 0) {
            last = 0;
            for (const row of rows) {
              const key = row.k as string;
              this.#owners.set(key, (this.#owners.get(key) ?? 0) + (row.n as number));
              last = Math.max(last, row.last as number);
              n += row.n as number;
            }
          }
          census.private = n < chunk ? census.untilPrivate : last;
          return n;
        }
        this.#census = null;
        return 0;
      }
      case "dropped": {
        const [owner, upTo] = this.#dropped.entries().next().value!;
        const gone = Number(s.deleteDropped.run(owner, upTo, chunk).changes);
        if (gone < chunk) {
          s.undrop.run(owner, upTo);
          if (this.#dropped.get(owner) === upTo) this.#dropped.delete(owner);
        }
        this.stats.pruned += gone;
        return gone;
      }
      case "caps": {
        const room = this.#over(this.#rooms);
        if (room !== null) return this.#trimRoom(room, chunk);
        const owner = this.#over(this.#owners);
        return owner === null ? 0 : this.#trimOwner(owner, chunk);
      }
      case "age": {
        const cutoff = this.#clock() - this.#days * DAY_MS;
        const headId = (first: StatementSync) =>
          (first.get(chunk - 1) as Row | undefined)?.id as number | undefined ??
            Number.MAX_SAFE_INTEGER;
        // Rooms first, then private copies: the oldest rows of the table, as far as they are old.
        const upTo = headId(s.headId);
        s.unindexOld.run(upTo, cutoff);
        const rooms = s.deleteOld.all(upTo, cutoff) as Row[];
        for (const row of rooms) this.#count(this.#rooms, row.room_key as string, -1);
        if (rooms.length > 0) {
          this.stats.pruned += rooms.length;
          return rooms.length;
        }
        const upToPrivate = headId(s.headPrivateId);
        const copies = s.deleteOldPrivate.all(upToPrivate, cutoff) as Row[];
        for (const row of copies) this.#count(this.#owners, row.owner as string, -1);
        this.stats.pruned += copies.length;
        if (copies.length === 0) {
          s.forgetEmptyConversations.run();
          this.#ageRunning = false;
          this.#ageDue = this.#clock() + PRUNE_EVERY_MS;
          this.#indexBelowTop();
        }
        return copies.length;
      }
      case "index": {
        const rows = s.unindexed.all(this.#indexed, chunk) as Row[];
        for (const row of rows) s.index.run(row.id as number, row.text as string);
        if (rows.length > 0) {
          this.#indexed = rows[rows.length - 1].id as number;
          s.setState.run("indexed", this.#indexed);
          this.stats.indexed += rows.length;
        }
        return rows.length;
      }
    }
  }

  /** Deletes up to `n` of the room's oldest rows while it is over the cap; how many. */
  #trimRoom(key: string, n: number): number {
    const extra = Math.min(n, (this.#rooms.get(key) ?? 0) - this.#max);
    if (extra <= 0) return 0;
    this.#s.unindexOldest.run(key, extra);
    const gone = Number(this.#s.trimRoom.run(key, extra).changes);
    this.#count(this.#rooms, key, -gone);
    if (gone < extra) this.#rooms.set(key, this.#max); // counted more than there was
    this.stats.pruned += gone;
    return gone;
  }

  #trimOwner(owner: string, n: number): number {
    const extra = Math.min(n, (this.#owners.get(owner) ?? 0) - this.#max);
    if (extra <= 0) return 0;
    const gone = Number(this.#s.trimOwner.run(owner, extra).changes);
    this.#count(this.#owners, owner, -gone);
    if (gone < extra) this.#owners.set(owner, this.#max);
    this.stats.pruned += gone;
    return gone;
  }

  /** A key over the cap, or null. */
  #over(counts: Map<string, number>): string | null {
    for (const [key, count] of counts) if (count > this.#max) return key;
    return null;
  }

  #count(counts: Map<string, number>, key: string, change: number): void {
    const count = (counts.get(key) ?? 0) + change;
    if (count > 0) counts.set(key, count);
    else counts.delete(key);
  }

  #newestId(): number {
    return this.#db.read("history", () => (this.#s.maxId.get() as Row).id as number | null, 0) ??
      0;
  }

  /** After rows were deleted at the top of the table, their ids may come again: index them then. */
  #indexBelowTop(): void {
    const top = this.#newestId();
    if (this.#indexed <= top) return;
    this.#db.write("history", () => {
      this.#s.unindexAbove.run(top);
      this.#s.setState.run("indexed", top);
    });
    this.#indexed = top;
  }

  /** The private rows of `target`'s owner at or below this id belong to a dropped account. */
  #floor(target: HistoryTarget & { kind: "private" }): number {
    return this.#dropped.get(target.owner) ?? 0;
  }

  /** A read: its result, or a rejection when the file cannot be read. */
  #read<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(this.#db.readOrThrow("read the history", work));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
