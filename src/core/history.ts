/**
 * History: what rooms and private conversations keep, as events with the time
 * they were said and their ids (never as rendered lines), so every front end
 * replays them in its own form. This is a seam: the in-memory version here is
 * what a single server without `--data` uses (a smaller cap, gone at a
 * restart); SQLite (`--data`) and Redis (`--cluster`) keep months of it.
 *
 * - **Rooms** keep their messages (not notices, not TAGMSGs), in the order the
 *   room delivered them. Appending is synchronous (it sits on the message path).
 * - **Private messages** are kept per account: a copy for each party that has
 *   proved an account (its *owner*), filed under the other party's nick key
 *   (the *peer*). Only the owner ever reads its copy back; a guest has none.
 *   See `private_history.ts` for who keeps which copy.
 * - **Reading** is asynchronous (a remote store needs a round trip) and goes
 *   through three primitives every store implements ({@linkcode History.locate},
 *   {@linkcode History.firstFrom}, {@linkcode History.range}); IRCv3
 *   CHATHISTORY's five ways of asking are made of them here
 *   ({@linkcode readHistory}), once for every store.
 * - **Retention** (`--history-days`, `--history-max`) is the stores' own
 *   business: they prune in the background, in small steps.
 *
 * @module
 */

import type { MessageEvent, PrivateEvent } from "./events.ts";
import { nameKey } from "../protocol/names.ts";

/** What a history keeps: room messages and private messages. */
export type KeptEvent = MessageEvent | PrivateEvent;

/** Whose history: a room (by key), or one account's conversation with a nick (both keys). */
export type HistoryTarget =
  | { kind: "room"; key: string }
  | { kind: "private"; owner: string; peer: string };

/** Where a search looks: a room, or every conversation kept for an account. */
export type SearchScope = { kind: "room"; key: string } | { kind: "owner"; owner: string };

/** A point in a history: a message (by its id) or a time (ms since the epoch). */
export type HistoryMark = { msgid: string } | { time: number };

/**
 * What a client asks for (IRCv3 CHATHISTORY's subcommands). Every answer is
 * oldest first and holds at most `limit` messages; marks are excluded
 * (`around` includes a message it names).
 */
export type HistoryRequest =
  /** The newest messages; only those after `after` when given. */
  | { kind: "latest"; after: HistoryMark | null; limit: number }
  | { kind: "before"; mark: HistoryMark; limit: number }
  | { kind: "after"; mark: HistoryMark; limit: number }
  /** Some before the mark and the rest from it on. */
  | { kind: "around"; mark: HistoryMark; limit: number }
  /** Between two marks, either way round: the `limit` nearest to `from`. */
  | { kind: "between"; from: HistoryMark; to: HistoryMark; limit: number };

/**
 * A place in one target's history, as its store orders it. Positions of one
 * store compare with `<` (numbers, or strings of equal shape).
 */
export type Position = number | string;

/** A message found in a history: where it is, and when it was said. */
export interface Located {
  position: Position;
  time: number;
}

/** A stretch of one target's history, for {@linkcode History.range}. */
export interface Range {
  /** Only messages after this position (or from it, `inclusive`). */
  after?: { position: Position; inclusive: boolean };
  /** Only messages strictly before this position. */
  before?: Position;
  /** At most this many (more than 0). */
  limit: number;
  /** The end the `limit` messages are taken from; they are returned oldest first either way. */
  from: "oldest" | "newest";
}

/** An account's private conversation, as CHATHISTORY TARGETS lists it. */
export interface Conversation {
  /** The other party's nick key. */
  peer: string;
  /** Its nick as written in the newest message. */
  nick: string;
  /** When the newest message was said. */
  time: number;
}

/** Most messages one request may ask for (IRC's `CHATHISTORY=` in 005). */
export const MAX_HISTORY_REQUEST = 100;

/** What a member names when it asks for history: a room, or the nick of its conversation. */
export type HistoryTargetName = { room: string } | { nick: string };

/** A room or conversation with its newest message's time (IRC's CHATHISTORY TARGETS). */
export interface TargetTime {
  kind: "room" | "nick";
  /** The room's display name, or the other party's nick. */
  name: string;
  time: number;
}

/** How long and how much a persistent history keeps (`--history-days`, `--history-max`). */
export interface Retention {
  /** Messages older than this many days are pruned (0: kept whatever their age). */
  days: number;
  /** Most messages kept per room, and per account for private ones (0 keeps none). */
  max: number;
}

/** The defaults of {@linkcode Retention}. */
export const DEFAULT_RETENTION: Readonly<Retention> = { days: 30, max: 100_000 };

/**
 * Messages kept per room, and per conversation, in memory (no `--data`, no
 * `--cluster`): enough to page back a while, small enough for a thousand rooms.
 */
export const MEMORY_HISTORY = 1000;

/** One day in ms. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/** Where rooms' and accounts' messages are kept. */
export interface History {
  /** Keeps `event` as the newest message of room `key` (a store drops what it does not keep). */
  append(key: string, event: MessageEvent): void;
  /**
   * The room's newest messages, at most `limit`, oldest first (what a member
   * entering it is shown). What is returned is what was kept at the moment of the call.
   */
  recent(key: string, limit: number): Promise<MessageEvent[]>;
  /** Forgets a room's messages (the room no longer exists). */
  forget(key: string): void;
  /**
   * Makes what was appended since the last commit durable. The chat commits
   * each batch before delivering it, so a message anyone has seen is stored.
   */
  commit(): void;
  /**
   * Keeps private message `event` for account `owner`, in its conversation
   * with `peer` (the other party's nick key). Kept once per owner and id,
   * however often it is given.
   */
  appendPrivate(owner: string, peer: string, event: PrivateEvent): void;
  /** Forgets everything kept for account `owner` (the account was dropped). */
  forgetOwner(owner: string): void;

  /** Where message `msgid` is in the target's history, or null when it is not kept there. */
  locate(target: HistoryTarget, msgid: string): Promise<Located | null>;
  /** The first message of the target said at or after `time`, or null when none was. */
  firstFrom(target: HistoryTarget, time: number): Promise<Located | null>;
  /** Messages of one stretch of the target's history, oldest first. */
  range(target: HistoryTarget, range: Range): Promise<KeptEvent[]>;
  /** When the room's newest kept message was said, or null when it keeps none. */
  lastTime(key: string): Promise<number | null>;
  /** The conversations kept for account `owner`. */
  conversations(owner: string): Promise<Conversation[]>;
  /**
   * The newest messages in `scope` whose text holds every one of `words`
   * ({@linkcode searchWords}), at most `limit`, oldest first. A store bounds
   * how far back it looks.
   */
  search(scope: SearchScope, words: string[], limit: number): Promise<KeptEvent[]>;
}

/** The messages `request` asks for in `target`'s history, oldest first. */
export async function readHistory(
  history: History,
  target: HistoryTarget,
  request: HistoryRequest,
): Promise<KeptEvent[]> {
  const limit = Math.floor(request.limit);
  if (!(limit > 0)) return [];
  const bounds = new Bounds(history, target);
  switch (request.kind) {
    case "latest": {
      if (request.after === null) return await history.range(target, { limit, from: "newest" });
      const after = await bounds.after(request.after, false);
      if (after === null) return [];
      return await history.range(target, { after, limit, from: "newest" });
    }
    case "before": {
      const before = await bounds.before(request.mark);
      if (before === null) return [];
      return await history.range(target, { ...before, limit, from: "newest" });
    }
    case "after": {
      const after = await bounds.after(request.mark, false);
      if (after === null) return [];
      return await history.range(target, { after, limit, from: "oldest" });
    }
    case "around": {
      const before = await bounds.before(request.mark);
      const after = await bounds.after(request.mark, true);
      const older = before === null || limit < 2
        ? []
        : await history.range(target, { ...before, limit: Math.floor(limit / 2), from: "newest" });
      const rest = limit - older.length;
      const newer = after === null ? [] : await history.range(target, {
        after,
        limit: rest,
        from: "oldest",
      });
      return [...older, ...newer];
    }
    case "between": {
      const [from, to] = [await bounds.when(request.from), await bounds.when(request.to)];
      if (from === null || to === null) return [];
      const forward = compareWhen(from, to) < 0;
      const [low, high] = forward ? [request.from, request.to] : [request.to, request.from];
      const after = await bounds.after(low, false);
      const before = await bounds.before(high);
      if (after === null || before === null) return [];
      return await history.range(target, {
        after,
        ...before,
        limit,
        from: forward ? "oldest" : "newest",
      });
    }
  }
}

/** A mark, placed: its time, and its position when it names a message. */
interface When {
  time: number;
  position?: Position;
}

/** Earlier first: by time, then a time before a message said at that time, then by position. */
function compareWhen(a: When, b: When): number {
  if (a.time !== b.time) return a.time - b.time;
  if (a.position === undefined || b.position === undefined) {
    return (a.position === undefined ? 0 : 1) - (b.position === undefined ? 0 : 1);
  }
  return a.position < b.position ? -1 : a.position > b.position ? 1 : 0;
}

/** Turns marks into positions in one target's history (each message looked up once). */
class Bounds {
  readonly #history: History;
  readonly #target: HistoryTarget;
  readonly #located = new Map<string, Promise<Located | null>>();

  constructor(history: History, target: HistoryTarget) {
    this.#history = history;
    this.#target = target;
  }

  #locate(msgid: string): Promise<Located | null> {
    let found = this.#located.get(msgid);
    if (found === undefined) {
      this.#located.set(msgid, found = this.#history.locate(this.#target, msgid));
    }
    return found;
  }

  /** The mark placed in time; null for a message that is not kept. */
  async when(mark: HistoryMark): Promise<When | null> {
    if ("time" in mark) return { time: mark.time };
    return await this.#locate(mark.msgid);
  }

  /**
   * The lower bound of what comes after `mark` (or from it on, `inclusive`);
   * null when nothing can (a message not kept, a time after the newest).
   */
  async after(
    mark: HistoryMark,
    inclusive: boolean,
  ): Promise<{ position: Position; inclusive: boolean } | null> {
    if ("msgid" in mark) {
      const found = await this.#locate(mark.msgid);
      return found === null ? null : { position: found.position, inclusive };
    }
    // Times are whole ms: "after t" is "from t + 1 on".
    const first = await this.#history.firstFrom(
      this.#target,
      inclusive ? Math.ceil(mark.time) : Math.floor(mark.time) + 1,
    );
    return first === null ? null : { position: first.position, inclusive: true };
  }

  /**
   * The upper bound of what comes before `mark`: `{ before }`, or `{}` when
   * everything kept does (a time after the newest); null when nothing can (a
   * message not kept).
   */
  async before(mark: HistoryMark): Promise<{ before?: Position } | null> {
    if ("msgid" in mark) {
      const found = await this.#locate(mark.msgid);
      return found === null ? null : { before: found.position };
    }
    const first = await this.#history.firstFrom(this.#target, Math.ceil(mark.time));
    return first === null ? {} : { before: first.position };
  }
}

/**
 * The words of a search, as every store takes them: runs of letters and
 * digits, lower case, accents taken off (`Café` is `cafe`), at most 8. A
 * search matches whole words, as SQLite's FTS5 `unicode61` tokenizer cuts
 * them: never a part of one (a prefix query of a common beginning reads
 * most of the index).
 */
export function searchWords(text: string): string[] {
  return [...new Set(wordsOf(text))].slice(0, 8);
}

/** Whether `text` holds every one of `words` (as {@linkcode searchWords} made them), as words. */
export function matchesWords(text: string, words: readonly string[]): boolean {
  if (words.length === 0) return false;
  const found = new Set(wordsOf(text));
  return words.every((word) => found.has(word));
}

function wordsOf(text: string): string[] {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().match(/[\p{L}\p{N}]+/gu) ??
    [];
}

/** History in memory: the newest {@linkcode MEMORY_HISTORY} messages per room and conversation. */
export class MemoryHistory implements History {
  readonly #size: number;
  readonly #rooms = new Map<string, Kept>();
  /** owner → peer → its conversation. */
  readonly #private = new Map<string, Map<string, Kept>>();

  /** Keeps `size` messages per room and per conversation (0 keeps none). */
  constructor(size: number) {
    this.#size = Math.max(0, Math.floor(size));
  }

  append(key: string, event: MessageEvent): void {
    if (this.#size === 0 || event.notice || event.tagmsg) return;
    let kept = this.#rooms.get(key);
    if (kept === undefined) this.#rooms.set(key, kept = new Kept(this.#size));
    kept.push(event);
  }

  recent(key: string, limit: number): Promise<MessageEvent[]> {
    const kept = this.#rooms.get(key);
    if (kept === undefined || limit <= 0) return Promise.resolve([]);
    return Promise.resolve(kept.range({ limit, from: "newest" }) as MessageEvent[]);
  }

  forget(key: string): void {
    this.#rooms.delete(key);
  }

  commit(): void {}

  appendPrivate(owner: string, peer: string, event: PrivateEvent): void {
    if (this.#size === 0 || event.notice || event.tagmsg) return;
    let peers = this.#private.get(owner);
    if (peers === undefined) this.#private.set(owner, peers = new Map());
    let kept = peers.get(peer);
    if (kept === undefined) peers.set(peer, kept = new Kept(this.#size));
    if (event.id !== undefined && kept.locate(event.id) !== null) return;
    kept.push(event);
  }

  forgetOwner(owner: string): void {
    this.#private.delete(owner);
  }

  locate(target: HistoryTarget, msgid: string): Promise<Located | null> {
    return Promise.resolve(this.#kept(target)?.locate(msgid) ?? null);
  }

  firstFrom(target: HistoryTarget, time: number): Promise<Located | null> {
    return Promise.resolve(this.#kept(target)?.firstFrom(time) ?? null);
  }

  range(target: HistoryTarget, range: Range): Promise<KeptEvent[]> {
    return Promise.resolve(this.#kept(target)?.range(range) ?? []);
  }

  lastTime(key: string): Promise<number | null> {
    return Promise.resolve(this.#rooms.get(key)?.newest()?.time ?? null);
  }

  conversations(owner: string): Promise<Conversation[]> {
    const found: Conversation[] = [];
    for (const [peer, kept] of this.#private.get(owner) ?? []) {
      const newest = kept.newest() as PrivateEvent | undefined;
      if (newest !== undefined) found.push(conversationOf(peer, newest));
    }
    return Promise.resolve(found);
  }

  search(scope: SearchScope, words: string[], limit: number): Promise<KeptEvent[]> {
    if (scope.kind === "room") {
      return Promise.resolve(this.#rooms.get(scope.key)?.search(words, limit) ?? []);
    }
    const found: KeptEvent[] = [];
    for (const kept of this.#private.get(scope.owner)?.values() ?? []) {
      found.push(...kept.search(words, limit));
    }
    return Promise.resolve(newestOf(found, limit));
  }

  #kept(target: HistoryTarget): Kept | undefined {
    return target.kind === "room"
      ? this.#rooms.get(target.key)
      : this.#private.get(target.owner)?.get(target.peer);
  }
}

/** The newest `limit` of `events`, oldest first (by time; a stable sort keeps ties in order). */
export function newestOf(events: KeptEvent[], limit: number): KeptEvent[] {
  events.sort((a, b) => a.time - b.time);
  return events.length > limit ? events.slice(events.length - limit) : events;
}

/** An account's conversation as its newest message shows it. */
export function conversationOf(peer: string, newest: PrivateEvent): Conversation {
  return { peer, nick: nameKey(newest.nick) === peer ? newest.nick : newest.to, time: newest.time };
}

/** The newest `size` events of one target, each with its position (1, 2, 3, … as they came). */
class Kept {
  readonly #size: number;
  #events: KeptEvent[] = [];
  /** The position of `#events[0]`. */
  #base = 1;

  constructor(size: number) {
    this.#size = size;
  }

  push(event: KeptEvent): void {
    this.#events.push(event);
    // Dropped in blocks, so pushing stays cheap.
    const extra = this.#events.length - this.#size;
    if (extra >= Math.max(1, Math.ceil(this.#size / 8))) {
      this.#events = this.#events.slice(extra);
      this.#base += extra;
    }
  }

  /** Index of the first event kept (those before it are beyond the cap). */
  get #first(): number {
    return Math.max(0, this.#events.length - this.#size);
  }

  newest(): KeptEvent | undefined {
    return this.#events.length > this.#first ? this.#events[this.#events.length - 1] : undefined;
  }

  locate(msgid: string): Located | null {
    for (let i = this.#events.length - 1; i >= this.#first; i--) {
      if (this.#events[i].id === msgid) {
        return { position: this.#base + i, time: this.#events[i].time };
      }
    }
    return null;
  }

  firstFrom(time: number): Located | null {
    for (let i = this.#first; i < this.#events.length; i++) {
      if (this.#events[i].time >= time) {
        return { position: this.#base + i, time: this.#events[i].time };
      }
    }
    return null;
  }

  range(range: Range): KeptEvent[] {
    let low = this.#first;
    let high = this.#events.length; // exclusive
    if (range.after !== undefined) {
      const at = (range.after.position as number) - this.#base;
      low = Math.max(low, range.after.inclusive ? at : at + 1);
    }
    if (range.before !== undefined) high = Math.min(high, (range.before as number) - this.#base);
    if (high <= low) return [];
    return range.from === "newest"
      ? this.#events.slice(Math.max(low, high - range.limit), high)
      : this.#events.slice(low, Math.min(high, low + range.limit));
  }

  search(words: readonly string[], limit: number): KeptEvent[] {
    const found: KeptEvent[] = [];
    for (let i = this.#events.length - 1; i >= this.#first && found.length < limit; i--) {
      if (matchesWords(this.#events[i].text, words)) found.push(this.#events[i]);
    }
    return found.reverse();
  }
}
