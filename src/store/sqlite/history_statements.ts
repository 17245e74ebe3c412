/**
 * The SQL of the history in the `--data` file (`history.ts`): every statement
 * `SqliteHistory` runs, prepared once, by what it does (room messages, the
 * search index, private copies, retention).
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import type { Database } from "./database.ts";

/** Deleting from the search index never merges a segment by itself (see `SqliteHistory`). */
export const DELETEMERGE_OFF =
  "INSERT INTO messages_fts (messages_fts, rank) VALUES ('deletemerge', 0)";

const ROOM_COLUMNS = "id, room, seq, time, origin, nick, user, text, action, msgid, account, tags";
const PRIVATE_COLUMNS =
  "id, peer, msgid, time, origin, nick, user, target, text, action, account, tags";

/** The history's statements. */
export function historyStatements(db: Database) {
  const sql = (text: string): StatementSync => db.prepare(text);
  return {
    append: sql(
      `INSERT INTO messages
         (room_key, room, seq, time, origin, nick, user, text, action, msgid, account, tags)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    newest: sql(`SELECT ${ROOM_COLUMNS} FROM messages WHERE room_key = ? ORDER BY id DESC LIMIT ?`),
    forgetRoom: sql("DELETE FROM messages WHERE room_key = ?"),
    unindexRoom: sql(
      "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE room_key = ?)",
    ),
    locate: sql("SELECT id, time FROM messages WHERE msgid = ? AND room_key = ?"),
    firstFrom: sql(
      "SELECT id, time FROM messages WHERE room_key = ? AND time >= ? ORDER BY time, id LIMIT 1",
    ),
    rangeNewest: sql(
      `SELECT ${ROOM_COLUMNS} FROM messages WHERE room_key = ? AND id > ? AND id < ?
       ORDER BY id DESC LIMIT ?`,
    ),
    rangeOldest: sql(
      `SELECT ${ROOM_COLUMNS} FROM messages WHERE room_key = ? AND id > ? AND id < ?
       ORDER BY id LIMIT ?`,
    ),
    lastTime: sql("SELECT time FROM messages WHERE room_key = ? ORDER BY id DESC LIMIT 1"),
    maxId: sql("SELECT max(id) AS id FROM messages"),
    // The oldest rows: a room over the cap loses them (and their search entries) first.
    unindexOldest: sql(
      `DELETE FROM messages_fts WHERE rowid IN
         (SELECT id FROM messages WHERE room_key = ? ORDER BY id LIMIT ?)`,
    ),
    trimRoom: sql(
      `DELETE FROM messages WHERE id IN
         (SELECT id FROM messages WHERE room_key = ? ORDER BY id LIMIT ?)`,
    ),
    headId: sql("SELECT id FROM messages ORDER BY id LIMIT 1 OFFSET ?"),
    // `+time`: a range of row ids, never a skip-scan of messages_by_time over every room (what
    // the planner picks once `PRAGMA optimize` has counted the table: 65 ms a step on 1M rows).
    unindexOld: sql(
      "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE id <= ? AND +time < ?)",
    ),
    deleteOld: sql("DELETE FROM messages WHERE id <= ? AND +time < ? RETURNING room_key"),
    censusRooms: sql(
      `SELECT room_key AS k, count(*) AS n, max(id) AS last FROM
         (SELECT id, room_key FROM messages WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)
       GROUP BY room_key`,
    ),
    // The search index.
    unindexed: sql("SELECT id, text FROM messages WHERE id > ? ORDER BY id LIMIT ?"),
    index: sql("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)"),
    unindexAbove: sql("DELETE FROM messages_fts WHERE rowid > ?"),
    match: sql(
      `SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? AND rowid < ?
       ORDER BY rowid DESC LIMIT ?`,
    ),
    byId: sql(`SELECT ${ROOM_COLUMNS} FROM messages WHERE id = ? AND room_key = ?`),
    scanRoom: sql(
      `SELECT ${ROOM_COLUMNS} FROM messages WHERE room_key = ? AND id > ? ORDER BY id DESC LIMIT ?`,
    ),
    getState: sql("SELECT value FROM history_state WHERE key = ?"),
    setState: sql(
      `INSERT INTO history_state (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    // Private copies: `? ` after owner is the floor of a dropped account's copies.
    appendPrivate: sql(
      `INSERT INTO private_messages
         (owner, peer, msgid, time, origin, nick, user, target, text, action, account, tags)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner, msgid) DO NOTHING`,
    ),
    touchConversation: sql(
      `INSERT INTO private_conversations (owner, peer, last_id) VALUES (?, ?, ?)
       ON CONFLICT (owner, peer) DO UPDATE SET last_id = excluded.last_id`,
    ),
    locatePrivate: sql(
      "SELECT id, time FROM private_messages WHERE owner = ? AND msgid = ? AND peer = ? AND id > ?",
    ),
    firstFromPrivate: sql(
      `SELECT id, time FROM private_messages WHERE owner = ? AND peer = ? AND time >= ? AND id > ?
       ORDER BY time, id LIMIT 1`,
    ),
    // One conversation's stretch: its own index, not the owner's rows of every conversation.
    privateNewest: sql(
      `SELECT ${PRIVATE_COLUMNS} FROM private_messages INDEXED BY private_by_peer
       WHERE owner = ? AND peer = ? AND id > ? AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    privateOldest: sql(
      `SELECT ${PRIVATE_COLUMNS} FROM private_messages INDEXED BY private_by_peer
       WHERE owner = ? AND peer = ? AND id > ? AND id < ? ORDER BY id LIMIT ?`,
    ),
    conversations: sql(
      `SELECT p.id, c.peer, p.msgid, p.time, p.origin, p.nick, p.user, p.target, p.text, p.action,
         p.account, p.tags
       FROM private_conversations c JOIN private_messages p ON p.id = c.last_id
       WHERE c.owner = ? AND p.id > ?`,
    ),
    scanPrivate: sql(
      `SELECT ${PRIVATE_COLUMNS} FROM private_messages WHERE owner = ? AND id > ?
       ORDER BY id DESC LIMIT ?`,
    ),
    maxPrivateId: sql("SELECT max(id) AS id FROM private_messages"),
    trimOwner: sql(
      `DELETE FROM private_messages WHERE id IN
         (SELECT id FROM private_messages WHERE owner = ? ORDER BY id LIMIT ?)`,
    ),
    headPrivateId: sql("SELECT id FROM private_messages ORDER BY id LIMIT 1 OFFSET ?"),
    deleteOldPrivate: sql(
      "DELETE FROM private_messages WHERE id <= ? AND +time < ? RETURNING owner",
    ),
    forgetEmptyConversations: sql(
      `DELETE FROM private_conversations
       WHERE NOT EXISTS (SELECT 1 FROM private_messages WHERE id = last_id)`,
    ),
    censusOwners: sql(
      `SELECT owner AS k, count(*) AS n, max(id) AS last FROM
         (SELECT id, owner FROM private_messages WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)
       GROUP BY owner`,
    ),
    dropped: sql("SELECT owner, up_to FROM private_dropped"),
    dropOwner: sql(
      `INSERT INTO private_dropped (owner, up_to) VALUES (?, ?)
       ON CONFLICT (owner) DO UPDATE SET up_to = excluded.up_to`,
    ),
    forgetConversations: sql("DELETE FROM private_conversations WHERE owner = ?"),
    deleteDropped: sql(
      `DELETE FROM private_messages WHERE id IN
         (SELECT id FROM private_messages WHERE owner = ? AND id <= ? ORDER BY id LIMIT ?)`,
    ),
    undrop: sql("DELETE FROM private_dropped WHERE owner = ? AND up_to = ?"),
  };
}
