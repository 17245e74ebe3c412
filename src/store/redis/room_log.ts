/**
 * A feed's log in Redis: how a batch of events is published (one script: the
 * sequence numbers, the log entries, the room's history and the PUBLISH
 * together), how a published batch looks on the channel, and how the log and
 * the history are read back. A feed is a room (its key) or the
 * {@linkcode DIRECT_FEED} of member and private events.
 *
 * - The **log** (`parley:feed:{F}:log`) keeps every event with its sequence
 *   number as the stream id (`<seq>-0`), capped at about `logSize` entries:
 *   it is what a receiver fills a gap from, never what a user sees.
 * - The **history** (`parley:room:{R}:history`) keeps a room's messages only
 *   (no notices, no joins), capped exactly at `--history-max` and pruned by age
 *   (`history.ts`): what a member entering the room is shown and what
 *   CHATHISTORY reads. Each entry's id is its message's time (`<ms>-n`, never
 *   going back), and `parley:room:{R}:ids` finds an entry by its msgid.
 *
 * Events travel as their JSON; a published batch is
 * `<first seq> <epoch> <batch id> [<event JSON>,…]`.
 *
 * @module
 */

import { checkEvent } from "./event_check.ts";
import type { ChatEvent, MessageEvent, RoomEvent } from "../../core/events.ts";
import { feedKeys, historyIdsKey, historyKey, sentKey } from "./keys.ts";
import type { RedisClient } from "./link.ts";
import { FEED_PUBLISH, runScript } from "./scripts.ts";

/** Events of one feed, published together (one chat flush). */
export interface Batch {
  /** Unique in the cluster and without spaces (`node:run:n`): a re-send is recognised by it. */
  readonly id: string;
  /** The room's key, or `DIRECT_FEED`. */
  readonly feed: string;
  readonly events: readonly ChatEvent[];
}

/** What Redis made of a published batch. */
export interface Published {
  /** The sequence number of the batch's first event; the others follow on. */
  first: number;
  /** The feed's epoch. */
  epoch: string;
  /** True when the batch had been published already (a re-send after a lost reply). */
  again: boolean;
}

/** How much a feed keeps. */
export interface LogLimits {
  /** Entries kept per feed log for filling gaps (approximately: Redis trims in blocks). */
  logSize: number;
  /** Messages kept per room history, exactly (0 keeps none). */
  historySize: number;
  /** How long a published batch id is remembered, in ms (default 120 000). */
  sentTtlMs?: number;
}

/** A batch as it arrives on a feed's channel. */
export interface LiveBatch {
  first: number;
  epoch: string;
  batch: string;
  events: ChatEvent[];
}

/** One event read back from a feed's log. */
export interface LogEntry {
  seq: number;
  batch: string;
  event: ChatEvent;
}

/** True for the events that belong to one room (and are sequenced in its feed). */
export function isRoomEvent(event: ChatEvent): event is RoomEvent {
  return event.kind === "message" || event.kind === "joined" || event.kind === "left" ||
    event.kind === "topic" || event.kind === "mode" || event.kind === "kicked" ||
    event.kind === "invited";
}

/** True for what a room's history keeps: messages, not notices. */
export function keepsInHistory(event: ChatEvent): boolean {
  return event.kind === "message" && event.notice !== true && event.tagmsg !== true;
}

/** Publishes `batch` (one script call); rejects when Redis could not be asked or refused. */
export async function publishBatch(
  client: RedisClient,
  batch: Batch,
  limits: LogLimits,
): Promise<Published> {
  const keys = feedKeys(batch.feed);
  const args = [
    keys.channel,
    String(Math.max(1, limits.logSize)),
    String(Math.max(0, limits.historySize)),
    epochCandidate(),
    batch.id,
    String(limits.sentTtlMs ?? 120_000),
  ];
  for (const event of batch.events) {
    // Kept: its time (the history entry's id) and its msgid (found by it).
    const keep = keepsInHistory(event) ? `${Math.floor(event.time)} ${event.id ?? ""}` : "0";
    args.push(keep, JSON.stringify(event));
  }
  const reply = await runScript(client, FEED_PUBLISH, {
    keys: [
      keys.meta,
      keys.log,
      historyKey(batch.feed),
      sentKey(batch.feed, batch.id),
      historyIdsKey(batch.feed),
    ],
    args,
  }) as [number, string, number];
  return { first: Number(reply[0]), epoch: String(reply[1]), again: Number(reply[2]) === 1 };
}

/**
 * Takes a channel message apart, each event checked like client input
 * (`event_check.ts`); a string says why it is not a batch of parley's.
 */
export function parseLive(message: string): LiveBatch | string {
  const a = message.indexOf(" ");
  const b = message.indexOf(" ", a + 1);
  const c = message.indexOf(" ", b + 1);
  if (a < 0 || b < 0 || c < 0) return "not a batch";
  const first = Number(message.slice(0, a));
  if (!Number.isSafeInteger(first) || first < 1) return "no sequence number";
  let raw: unknown;
  try {
    raw = JSON.parse(message.slice(c + 1));
  } catch {
    return "not JSON";
  }
  if (!Array.isArray(raw) || raw.length === 0) return "no events";
  const events: ChatEvent[] = [];
  for (const item of raw) {
    const checked = checkEvent(item);
    if ("why" in checked) return `a damaged event (${checked.why})`;
    events.push(checked.event);
  }
  return { first, epoch: message.slice(a + 1, b), batch: message.slice(b + 1, c), events };
}

/**
 * The feed's epoch and its log entries from seq `from` to `to` (inclusive;
 * open-ended without), at most `count`, read together (MULTI) so that an
 * epoch change between the two reads cannot mix two epochs. A null epoch: the
 * feed does not exist (yet) in this Redis.
 */
export async function readLog(
  client: RedisClient,
  feed: string,
  range: { from: number; to?: number; count: number },
): Promise<{ epoch: string | null; entries: LogEntry[] }> {
  const keys = feedKeys(feed);
  const end = range.to === undefined || !Number.isFinite(range.to) ? "+" : `${range.to}-0`;
  const [epoch, rows] = await client.multi()
    .hGet(keys.meta, "epoch")
    .xRange(keys.log, `${range.from}-0`, end, { COUNT: range.count })
    .exec() as unknown as [string | null, StreamRow[]];
  const entries: LogEntry[] = [];
  for (const row of rows ?? []) {
    const event = parseEvent(row.message.d);
    if (event === null) continue;
    entries.push({ seq: streamSeq(row.id), batch: row.message.b ?? "", event });
  }
  return { epoch: epoch ?? null, entries };
}

/** The room's newest messages, at most `limit`, oldest first, each with its seq. */
export async function recentMessages(
  client: RedisClient,
  room: string,
  limit: number,
): Promise<MessageEvent[]> {
  if (limit <= 0) return [];
  const rows = await client.xRevRange(historyKey(room), "+", "-", { COUNT: limit }) as StreamRow[];
  const messages: MessageEvent[] = [];
  for (const row of rows.reverse()) {
    const event = parseEvent(row.message.d);
    if (event === null || event.kind !== "message") continue;
    event.seq = Number(row.message.s) || event.seq;
    messages.push(event);
  }
  return messages;
}

interface StreamRow {
  id: string;
  message: Record<string, string>;
}

/** An event as the log or the history keeps it, checked like client input; null when damaged. */
function parseEvent(json: string | undefined): ChatEvent | null {
  if (json === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return null;
  }
  const checked = checkEvent(raw);
  return "event" in checked ? checked.event : null;
}

function streamSeq(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}

/** A fresh epoch for a feed that turns out to be new: random, so a re-created feed never reuses one. */
function epochCandidate(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
