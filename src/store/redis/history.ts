/**
 * History in Redis (`--cluster`): the {@linkcode History} seam shared by every
 * server, so a query from any of them sees the same messages in the same
 * order with the same msgids.
 *
 * - **Rooms.** The bus's publish script keeps a room's messages in its
 *   history stream as it publishes them (`room_log.ts`, `scripts.ts`): one
 *   order, the room's. {@linkcode RedisHistory.append} and `commit` have
 *   nothing to do. An entry's id is its message's time (`<ms>-n`, never going
 *   back), so a time is found with XRANGE; a msgid through the room's ids hash.
 * - **Private messages.** Each server keeps the copies of its own members
 *   (`core/private_history.ts`), one stream per account and conversation
 *   (`parley:pm:{A}:with:{P}`), with a msgid hash and the conversations by
 *   time. Written fire-and-forget (waiting for the link when it is down, like
 *   the store's other writes); kept once per account and msgid.
 * - **Retention.** Streams are capped exactly at `--history-max` (per room and
 *   per conversation) as they are written; messages older than
 *   `--history-days` are pruned every minute by one server at a time (a lock
 *   in Redis), in scripts of at most {@linkcode PRUNE_CHUNK} entries, so
 *   neither Redis nor any server is held for long.
 * - **Reads** reject when Redis cannot answer (the chat says "unavailable"),
 *   except `recent`, which answers nothing (reported) rather than keep a
 *   member from entering a room. A dropped account's copies are deleted with
 *   it ({@linkcode RedisHistory.dropOwner}).
 *
 * @module
 */

import {
  type Clock,
  type MessageEvent,
  type PrivateEvent,
  systemClock,
} from "../../core/events.ts";
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
  type Position,
  type Range,
  type SearchScope,
} from "../../core/history.ts";
import { errorText } from "../../errors.ts";
import { checkEvent } from "./event_check.ts";
import {
  historyIdsKey,
  historyKey,
  PRIVATE_OWNERS_KEY,
  privateIdsKey,
  privateKey,
  privatePeersKey,
  PRUNE_LOCK_KEY,
  ROOMS_KEY,
} from "./keys.ts";
import type { RedisClient, RedisLink } from "./link.ts";
import { recentMessages } from "./room_log.ts";
import { detach, KEEP_PRIVATE, PRUNE_HISTORY, runScript, within } from "./scripts.ts";

/** Longest wait for a read, in ms. */
const READ_TIMEOUT_MS = 3000;
/** Entries one prune script deletes at most. */
const PRUNE_CHUNK = 100;
/** How often a round of pruning is tried, in ms. */
const PRUNE_EVERY_MS = 60_000;
/** How far back a search looks: entries per room, and per conversation. */
const SEARCH_ROOM = 10_000;
const SEARCH_CONVERSATION = 1_000;
/** Conversations a search looks through, the most recent first. */
const SEARCH_CONVERSATIONS = 50;

/** How a {@linkcode RedisHistory} keeps things. */
export interface RedisHistoryOptions {
  /** Most messages per room and per conversation (`--history-max`); 0 keeps none. */
  max: number;
  /** Messages older than this many days are pruned (`--history-days`); 0: no age limit. */
  days: number;
  clock?: Clock;
  /** Where failures are said. */
  report: (message: string) => void;
  /** A write that waits for the link when it is down (the store's). */
  write: (what: string, write: (client: RedisClient) => Promise<unknown>) => void;
}

/** History in Redis; see the module notes. */
export class RedisHistory implements History {
  readonly #link: RedisLink;
  readonly #max: number;
  readonly #days: number;
  readonly #clock: Clock;
  readonly #report: (message: string) => void;
  readonly #write: RedisHistoryOptions["write"];
  #timer: ReturnType<typeof setInterval> | undefined;
  #pruning: Promise<number> | null = null;

  constructor(link: RedisLink, options: RedisHistoryOptions) {
    this.#link = link;
    this.#max = Math.max(0, Math.floor(options.max));
    this.#days = Math.max(0, options.days);
    this.#clock = options.clock ?? systemClock;
    this.#report = options.report;
    this.#write = options.write;
  }

  /** Nothing: the bus's publish script keeps the message in the room's history. */
  append(_key: string, _event: MessageEvent): void {}

  async recent(key: string, limit: number): Promise<MessageEvent[]> {
    if (limit <= 0 || !this.#link.ready) return [];
    try {
      return await within(
        recentMessages(this.#link.commands, key, Math.min(limit, this.#max)),
        READ_TIMEOUT_MS,
        "history",
      );
    } catch (error) {
      this.#report(`Cannot read the history of ${key} from Redis: ${errorText(error)}`);
      return [];
    }
  }

  /**
   * Nothing. A room emptied on this server may be full on another: one
   * server cannot know that a room no longer exists. Its history goes with
   * `RedisStore.forgetRoom`, a decision for the whole cluster.
   */
  forget(_key: string): void {}

  /** Nothing: the publish script is atomic. */
  commit(): void {}

  appendPrivate(owner: string, peer: string, event: PrivateEvent): void {
    if (this.#max === 0 || event.notice || event.tagmsg || event.id === undefined) return;
    const args = [event.id, String(Math.floor(event.time)), peer, JSON.stringify(event)];
    this.#write("a private message", async (client) => {
      await runScript(client, KEEP_PRIVATE, {
        keys: [privateKey(owner, peer), privateIdsKey(owner), privatePeersKey(owner)],
        args: [...args, String(this.#max)],
      });
      await client.sAdd(PRIVATE_OWNERS_KEY, owner);
    });
  }

  forgetOwner(owner: string): void {
    detach(this.dropOwner(owner), this.#report);
  }

  /** Deletes every private message kept for `owner` (its account was dropped). */
  async dropOwner(owner: string): Promise<void> {
    await this.#read(async (client) => {
      const peers = await client.zRange(privatePeersKey(owner), 0, -1);
      await client.unlink([
        ...peers.map((peer) => privateKey(owner, peer)),
        privateIdsKey(owner),
        privatePeersKey(owner),
      ]);
      await client.sRem(PRIVATE_OWNERS_KEY, owner);
    }, "drop private messages");
  }

  locate(target: HistoryTarget, msgid: string): Promise<Located | null> {
    return this.#read(async (client) => {
      const ids = target.kind === "room" ? historyIdsKey(target.key) : privateIdsKey(target.owner);
      const found = await client.hGet(ids, msgid);
      if (found === null || found === undefined) return null;
      const [id, time, peer] = found.split(" ");
      if (target.kind === "private" && peer !== target.peer) return null;
      return { position: position(id), time: Number(time) };
    }, "find a message");
  }

  firstFrom(target: HistoryTarget, time: number): Promise<Located | null> {
    return this.#read(async (client) => {
      const rows = await client.xRange(streamOf(target), `${Math.max(0, time)}-0`, "+", {
        COUNT: 1,
      }) as StreamRow[];
      if (rows.length === 0) return null;
      const event = parse(rows[0], target);
      return { position: position(rows[0].id), time: event?.time ?? streamTime(rows[0].id) };
    }, "find a time");
  }

  range(target: HistoryTarget, range: Range): Promise<KeptEvent[]> {
    return this.#read(async (client) => {
      const key = streamOf(target);
      const start = range.after === undefined
        ? "-"
        : (range.after.inclusive ? "" : "(") + streamId(range.after.position);
      const end = range.before === undefined ? "+" : "(" + streamId(range.before);
      const rows = range.from === "newest"
        ? (await client.xRevRange(key, end, start, { COUNT: range.limit }) as StreamRow[])
          .reverse()
        : await client.xRange(key, start, end, { COUNT: range.limit }) as StreamRow[];
      const events: KeptEvent[] = [];
      for (const row of rows) {
        const event = parse(row, target);
        if (event !== null) events.push(event);
      }
      return events;
    }, "read the history");
  }

  lastTime(key: string): Promise<number | null> {
    return this.#read(async (client) => {
      const rows = await client.xRevRange(historyKey(key), "+", "-", { COUNT: 1 }) as StreamRow[];
      if (rows.length === 0) return null;
      return parse(rows[0], { kind: "room", key })?.time ?? streamTime(rows[0].id);
    }, "read the history");
  }

  conversations(owner: string): Promise<Conversation[]> {
    return this.#read(async (client) => {
      const peers = await client.zRange(privatePeersKey(owner), 0, -1);
      if (peers.length === 0) return [];
      const multi = client.multi();
      for (const peer of peers) multi.xRevRange(privateKey(owner, peer), "+", "-", { COUNT: 1 });
      const newest = await multi.exec() as unknown as StreamRow[][];
      const found: Conversation[] = [];
      peers.forEach((peer, i) => {
        const row = newest[i]?.[0];
        const event = row && parse(row, { kind: "private", owner, peer });
        if (event && event.kind === "private") found.push(conversationOf(peer, event));
      });
      return found;
    }, "read the conversations");
  }

  search(scope: SearchScope, words: string[], limit: number): Promise<KeptEvent[]> {
    if (words.length === 0 || limit <= 0) return Promise.resolve([]);
    return this.#read(async (client) => {
      if (scope.kind === "room") {
        return await this.#scan(
          client,
          { kind: "room", key: scope.key },
          words,
          limit,
          SEARCH_ROOM,
        );
      }
      const peers = await client.zRange(privatePeersKey(scope.owner), 0, SEARCH_CONVERSATIONS - 1, {
        REV: true,
      });
      const found: KeptEvent[] = [];
      for (const peer of peers) {
        const target: HistoryTarget = { kind: "private", owner: scope.owner, peer };
        found.push(...await this.#scan(client, target, words, limit, SEARCH_CONVERSATION));
      }
      return newestOf(found, limit);
    }, "search the history");
  }

  /** The newest matches in `target`, looking at most `depth` entries back, in pages. */
  async #scan(
    client: RedisClient,
    target: HistoryTarget,
    words: string[],
    limit: number,
    depth: number,
  ): Promise<KeptEvent[]> {
    const found: KeptEvent[] = [];
    let end = "+";
    for (let looked = 0; looked < depth && found.length < limit;) {
      const rows = await client.xRevRange(streamOf(target), end, "-", {
        COUNT: 500,
      }) as StreamRow[];
      for (const row of rows) {
        const event = parse(row, target);
        if (event !== null && found.length < limit && matchesWords(event.text, words)) {
          found.push(event);
        }
      }
      if (rows.length < 500) break;
      looked += rows.length;
      end = "(" + rows[rows.length - 1].id;
    }
    return found.reverse();
  }

  // Retention.

  /** Prunes every minute (one server at a time); stops with {@linkcode stop}. */
  start(): void {
    if (this.#days === 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => detach(this.prune(), this.#report), PRUNE_EVERY_MS);
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * One round of pruning: messages older than `--history-days` go from every
   * room and conversation, unless another server holds this round (`force`
   * ignores that: tests). How many entries went.
   */
  prune(force = false): Promise<number> {
    this.#pruning ??= this.#prune(force).finally(() => this.#pruning = null);
    return this.#pruning;
  }

  async #prune(force: boolean): Promise<number> {
    if (this.#days === 0 || !this.#link.ready) return 0;
    const client = this.#link.commands;
    const round = Math.floor(PRUNE_EVERY_MS * 0.9);
    const mine = await client.set(PRUNE_LOCK_KEY, this.#link.node, {
      condition: "NX",
      expiration: { type: "PX", value: round },
    });
    if (mine === null && !force) return 0;
    const cutoff = String(Math.floor(this.#clock() - this.#days * DAY_MS));
    let pruned = 0;
    const pruneStream = async (stream: string, ids: string): Promise<number> => {
      for (;;) {
        const [gone, left] = await runScript(client, PRUNE_HISTORY, {
          keys: [stream, ids],
          args: [cutoff, String(PRUNE_CHUNK)],
        }) as [number, number];
        pruned += Number(gone);
        if (Number(gone) < PRUNE_CHUNK) return Number(left);
      }
    };
    for (const room of await client.sMembers(ROOMS_KEY)) {
      await pruneStream(historyKey(room), historyIdsKey(room));
    }
    for (const owner of await client.sMembers(PRIVATE_OWNERS_KEY)) {
      const peers = await client.zRange(privatePeersKey(owner), 0, -1);
      for (const peer of peers) {
        if (await pruneStream(privateKey(owner, peer), privateIdsKey(owner)) === 0) {
          await client.zRem(privatePeersKey(owner), peer);
        }
      }
      if (await client.zCard(privatePeersKey(owner)) === 0) {
        await client.multi().sRem(PRIVATE_OWNERS_KEY, owner).del(privateIdsKey(owner)).exec();
      }
    }
    return pruned;
  }

  /** A read through the link; rejects with a sentence when Redis cannot answer. */
  async #read<T>(read: (client: RedisClient) => Promise<T>, what: string): Promise<T> {
    if (!this.#link.ready) throw new Error(`Cannot ${what}: the link to Redis is down`);
    try {
      return await within(read(this.#link.commands), READ_TIMEOUT_MS, what);
    } catch (error) {
      throw new Error(`Cannot ${what} in Redis: ${errorText(error)}`);
    }
  }
}

interface StreamRow {
  id: string;
  message: Record<string, string>;
}

function streamOf(target: HistoryTarget): string {
  return target.kind === "room" ? historyKey(target.key) : privateKey(target.owner, target.peer);
}

/** A kept entry as an event, checked like client input; null when damaged or of another kind. */
function parse(row: StreamRow, target: HistoryTarget): KeptEvent | null {
  let raw: unknown;
  try {
    raw = JSON.parse(row.message.d ?? "");
  } catch {
    return null;
  }
  const checked = checkEvent(raw);
  if (!("event" in checked)) return null;
  const event = checked.event;
  if (target.kind === "room") {
    if (event.kind !== "message") return null;
    event.seq = Number(row.message.s) || event.seq;
    return event;
  }
  return event.kind === "private" ? event : null;
}

/**
 * A stream id (`<ms>-<n>`) as a position: both parts zero-padded, so that
 * positions compare as strings in the stream's order.
 */
function position(id: string): Position {
  const [ms, n = "0"] = id.split("-");
  return `${ms.padStart(16, "0")}-${n.padStart(20, "0")}`;
}

/** A position back as a stream id. */
function streamId(position: Position): string {
  const [ms, n] = String(position).split("-");
  return `${ms.replace(/^0+(?=\d)/, "")}-${n.replace(/^0+(?=\d)/, "")}`;
}

function streamTime(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}
