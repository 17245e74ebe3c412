/**
 * The rows of the history's tables read back as the chat's events
 * (`history.ts`, `history_statements.ts`).
 *
 * @module
 */

import type { MessageEvent, PrivateEvent } from "../../core/events.ts";
import type { Row } from "./schema.ts";

/** A room message as `messages` stores it (`ROOM_COLUMNS`). */
export function roomEvent(row: Row): MessageEvent {
  const event: MessageEvent = {
    kind: "message",
    room: row.room as string,
    seq: row.seq as number,
    time: row.time as number,
    origin: row.origin as string,
    nick: row.nick as string,
    user: row.user as string,
    text: row.text as string,
    action: row.action === 1,
  };
  if (row.msgid !== null) event.id = row.msgid as string;
  if (row.account !== null) event.account = row.account as string;
  const tags = parseTags(row.tags);
  if (tags) event.tags = tags;
  return event;
}

/** A private message's copy as `private_messages` stores it (`PRIVATE_COLUMNS`). */
export function privateEvent(row: Row): PrivateEvent {
  const event: PrivateEvent = {
    kind: "private",
    id: row.msgid as string,
    to: row.target as string,
    nick: row.nick as string,
    user: row.user as string,
    text: row.text as string,
    action: row.action === 1,
    time: row.time as number,
    origin: row.origin as string,
  };
  if (row.account !== null) event.account = row.account as string;
  const tags = parseTags(row.tags);
  if (tags) event.tags = tags;
  return event;
}

function parseTags(column: unknown): Record<string, string> | undefined {
  if (typeof column !== "string") return undefined;
  try {
    const tags = JSON.parse(column);
    return typeof tags === "object" && tags !== null ? tags : undefined;
  } catch {
    return undefined;
  }
}
