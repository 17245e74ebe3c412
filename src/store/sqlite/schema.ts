/**
 * The `--data` file's schema and start-up: the migrations, the prepared
 * statements, and the sequence that opens a file (locking, WAL, identity and
 * version checks, migrations in one transaction).
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Clock } from "../../core/events.ts";
import { errorText } from "../../errors.ts";
import { oneLine, StoreError } from "./errors.ts";

/** How a {@linkcode SqliteStore} is opened. */
export interface SqliteStoreOptions {
  /**
   * Messages kept per room, and private ones per account (`--history-max`); 0 keeps none
   * (and forgets what the file held).
   */
  historySize: number;
  /** Messages older than this many days are pruned (`--history-days`; default 30, 0: never). */
  historyDays?: number;
  /** Prune and index history on timers (default true); tests may run it by hand. */
  background?: boolean;
  /** Test only: caps the file at this many pages (`PRAGMA max_page_count`), a full disk on demand. */
  maxPages?: number;
  /** The time, for telling bursts of failures apart (tests set it). */
  clock?: Clock;
}

/** A row as `node:sqlite` returns it. */
export type Row = Record<string, unknown>;

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
  /* v2 */ `
  -- A room's modes, key, limit and channel bans, and when it was made, as JSON
  -- ({"flags":"nt","key":null,"limit":null,"bans":[…],"created":ms}); NULL: +nt.
  ALTER TABLE rooms ADD COLUMN modes TEXT;
  `,
  /* v3 */ `
  -- History that keeps months (history.ts): each message's id (IRCv3 msgid), its sender's
  -- account and client-only tags, found by id and by time; private messages kept per account.
  ALTER TABLE messages ADD COLUMN msgid TEXT;     -- NULL for messages kept before v3
  ALTER TABLE messages ADD COLUMN account TEXT;   -- the sender's account, when it had proved one
  ALTER TABLE messages ADD COLUMN tags TEXT;      -- client-only tags as JSON; NULL: none
  CREATE INDEX messages_by_msgid ON messages (msgid) WHERE msgid IS NOT NULL;
  CREATE INDEX messages_by_time ON messages (room_key, time);
  CREATE TABLE private_messages (
    id      INTEGER PRIMARY KEY,  -- insertion order: the order of a conversation
    owner   TEXT NOT NULL,        -- the account that keeps this copy (only it reads it)
    peer    TEXT NOT NULL,        -- the other party's nick key
    msgid   TEXT NOT NULL,
    time    INTEGER NOT NULL,     -- ms since the epoch
    origin  TEXT NOT NULL,
    nick    TEXT NOT NULL,        -- who sent it
    user    TEXT NOT NULL,
    target  TEXT NOT NULL,        -- to whom (a nick)
    text    TEXT NOT NULL,
    action  INTEGER NOT NULL,
    account TEXT,                 -- the sender's account
    tags    TEXT
  ) STRICT;
  CREATE UNIQUE INDEX private_by_msgid ON private_messages (owner, msgid);
  CREATE INDEX private_by_owner ON private_messages (owner, id);
  CREATE INDEX private_by_peer ON private_messages (owner, peer, id);
  CREATE INDEX private_by_time ON private_messages (owner, peer, time);
  -- An account's conversations and the id of each one's newest message (CHATHISTORY TARGETS).
  CREATE TABLE private_conversations (
    owner   TEXT NOT NULL,
    peer    TEXT NOT NULL,
    last_id INTEGER NOT NULL,
    PRIMARY KEY (owner, peer)
  ) STRICT, WITHOUT ROWID;
  -- Dropped accounts whose copies (id <= up_to) are still being deleted, a few at a time.
  CREATE TABLE private_dropped (
    owner TEXT PRIMARY KEY,
    up_to INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  -- Full-text search of room messages; filled in the background (rowid = messages.id).
  CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
  );
  -- 'indexed': the newest messages.id in messages_fts.
  CREATE TABLE history_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT, WITHOUT ROWID;
  `,
  /* v4 */ `
  -- One account on several devices (devices.ts): what an account leaves for its next
  -- session (its rooms, the one its line client showed, when it left, multiclient) as JSON,
  -- and its read markers (IRCv3 read-marker), one per target ('#' and a room key, or a nick key).
  CREATE TABLE account_state (
    key   TEXT PRIMARY KEY,
    state TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE read_markers (
    account TEXT NOT NULL,
    target  TEXT NOT NULL,
    time    INTEGER NOT NULL,       -- ms since the epoch; only ever moves forward
    PRIMARY KEY (account, target)
  ) STRICT, WITHOUT ROWID;
  `,
];

/** A start-up failure (or a failed account call); the message is one line naming the file. */

export type Statements = ReturnType<typeof prepare>;

/** The prepared statements of a running store. */
export function prepare(db: DatabaseSync) {
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
      `SELECT key, name, topic_text, topic_nick, topic_time, last_used, modes,
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
    setModes: sql("UPDATE rooms SET modes = ? WHERE key = ?"),
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
    accountState: sql("SELECT state FROM account_state WHERE key = ?"),
    putAccountState: sql("INSERT OR REPLACE INTO account_state (key, state) VALUES (?, ?)"),
    dropAccountState: sql("DELETE FROM account_state WHERE key = ?"),
    readMarkers: sql("SELECT target, time FROM read_markers WHERE account = ?"),
    putReadMarker: sql(
      `INSERT INTO read_markers (account, target, time) VALUES (?, ?, ?)
       ON CONFLICT (account, target) DO UPDATE SET time = max(time, excluded.time)`,
    ),
    dropReadMarkers: sql("DELETE FROM read_markers WHERE account = ?"),
  };
}

/** A file up to this size is checked whole at start-up; a bigger one in {@linkcode SMALL_TABLES}. */
const WHOLE_CHECK_BYTES = 64 * 1024 * 1024;
/** What a big file's start-up check reads: the schema and the tables of every version (v1). */
const SMALL_TABLES = ["sqlite_schema", "rooms", "accounts", "bans"];

/** The start-up sequence after the file opened (see the module doc). Throws. */
export function start(db: DatabaseSync, path: string, options: SqliteStoreOptions): void {
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
    // A whole check reads the whole file (about 4 s a GiB): a file of months of history is
    // checked in its small tables only, and damage in the history shows when it is read.
    const whole = Deno.statSync(path).size <= WHOLE_CHECK_BYTES;
    const checks = whole
      ? ["quick_check(1)"]
      : SMALL_TABLES.map((table) => `quick_check(${table})`);
    const result = checks.map((check) => String(Object.values(one(`PRAGMA ${check}`))[0]))
      .find((found) => found !== "ok") ?? "ok";
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
export function trimAll(db: DatabaseSync, size: number): void {
  if (size === 0) {
    db.prepare("DELETE FROM messages").run();
    // The search index and private copies go with them (history.ts).
    db.prepare("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')").run();
    db.prepare("DELETE FROM history_state").run();
    db.prepare("DELETE FROM private_messages").run();
    db.prepare("DELETE FROM private_conversations").run();
    return;
  }
  const cutoff = db.prepare(
    "SELECT id FROM messages WHERE room_key = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
  );
  const unindex = db.prepare(
    "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE room_key = ? AND id <= ?)",
  );
  const trim = db.prepare("DELETE FROM messages WHERE room_key = ? AND id <= ?");
  for (const row of db.prepare("SELECT DISTINCT room_key FROM messages").all()) {
    const key = row.room_key as string;
    const last = cutoff.get(key, size)?.id as number | undefined;
    if (last === undefined) continue;
    unindex.run(key, last);
    trim.run(key, last);
  }
}
