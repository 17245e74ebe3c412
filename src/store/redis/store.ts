/**
 * The {@linkcode Store} in Redis (`--cluster`): rooms, topics, accounts, bans,
 * mutes and room history shared by every server of the cluster, and kept as long
 * as Redis keeps them (run it with persistence for a restart of Redis too).
 *
 * - **History** is {@linkcode RedisHistory} (`history.ts`): rooms' messages
 *   written by the bus's publish script, private messages kept per account,
 *   pruned by age. {@linkcode RedisStore.forgetRoom} deletes a room's history
 *   with the room; {@linkcode RedisStore.dropAccount} an account's private
 *   messages with the account.
 * - **Writes** (rooms, topics, bans, mutes) are fire-and-forget: while the link is
 *   down they wait (at most 1000, in order) and go out when it is back; a
 *   write Redis refuses, or one beyond the bound, is reported through
 *   `onError`.
 * - **Accounts and bans are read or fail**: their promises reject while
 *   Redis cannot answer, because "no such account" or "no bans" by mistake
 *   would hand a registered nick, or the server, to anyone.
 *
 * @module
 */

import type { Topic } from "../../core/commands.ts";
import { DEFAULT_RETENTION, type Retention } from "../../core/history.ts";
import type { StoredModes } from "../../core/channel_modes.ts";
import type {
  Account,
  AccountState,
  Ban,
  Store,
  StoredMute,
  StoredRoom,
} from "../../core/store.ts";
import { errorText } from "../../errors.ts";
import { RedisHistory } from "./history.ts";
import {
  accountKey,
  accountMarkersKey,
  accountStateKey,
  BANS_KEY,
  historyIdsKey,
  historyKey,
  MUTES_KEY,
  roomInfoKey,
  ROOMS_KEY,
} from "./keys.ts";
import type { RedisClient, RedisLink } from "./link.ts";
import { detach, HASH_CREATE, isTransient, MARKER_SET, runScript, within } from "./scripts.ts";

/** Most writes waiting for the link. */
const MAX_WAITING_WRITES = 1000;
/** Longest wait for a read, in ms. */
const READ_TIMEOUT_MS = 3000;

/** Everything that outlives a connection, in Redis. */
export class RedisStore implements Store {
  readonly history: RedisHistory;
  readonly persistent = true;
  onError?: (message: string) => void;
  readonly #link: RedisLink;
  /** Writes waiting for the link, in order. */
  readonly #waiting: { what: string; write: (client: RedisClient) => Promise<unknown> }[] = [];
  #flushing: Promise<void> | null = null;
  readonly #stopListening: () => void;

  /** `retention`: `--history-max` and `--history-days` (their defaults when not given). */
  constructor(link: RedisLink, retention: Retention = DEFAULT_RETENTION) {
    this.#link = link;
    this.history = new RedisHistory(link, {
      ...retention,
      report: (message) => this.#report(message),
      write: (what, write) => this.#write(what, write),
    });
    this.#stopListening = link.onReady((which) => {
      if (which === "commands") detach(this.#flush(), (m) => this.#report(m));
    });
  }

  /** Every room remembered (none while Redis cannot be read: reported). */
  async rooms(): Promise<StoredRoom[]> {
    try {
      const keys = await this.#read((c) => c.sMembers(ROOMS_KEY), "the rooms");
      if (keys.length === 0) return [];
      const multi = this.#link.commands.multi();
      for (const key of keys) multi.hGetAll(roomInfoKey(key));
      const rows = await this.#read(() => multi.exec(), "the rooms") as unknown as Record<
        string,
        string
      >[];
      const rooms: StoredRoom[] = [];
      for (let i = 0; i < keys.length; i++) {
        const row = rows[i];
        if (row?.name === undefined) continue;
        rooms.push({
          key: keys[i],
          name: row.name,
          topic: parseTopic(row.topic),
          lastUsed: Number(row.lastUsed ?? 0),
          seq: 0, // a room's feed in Redis numbers its events itself
          ...roomSettings(row),
        });
      }
      return rooms;
    } catch (error) {
      this.#report(errorText(error));
      return [];
    }
  }

  touchRoom(key: string, name: string, now: number): void {
    this.#write("a room", (c) =>
      c.multi()
        .sAdd(ROOMS_KEY, key)
        .hSetNX(roomInfoKey(key), "name", name)
        .hSet(roomInfoKey(key), "lastUsed", String(now))
        .exec());
  }

  setTopic(key: string, topic: Topic | null): void {
    this.#write(
      "a topic",
      (c) =>
        topic === null
          ? c.hDel(roomInfoKey(key), "topic")
          : c.hSet(roomInfoKey(key), "topic", JSON.stringify(topic)),
    );
  }

  setModes(key: string, modes: StoredModes): void {
    this.#write("room modes", (c) => c.hSet(roomInfoKey(key), "modes", JSON.stringify(modes)));
  }

  /** A member's status in a room: field `s:<member id>` of the room's info hash. */
  setStatus(key: string, member: string, status: string): void {
    const field = `${STATUS_FIELD}${member}`;
    this.#write(
      "a room status",
      (c) =>
        status === "" ? c.hDel(roomInfoKey(key), field) : c.hSet(roomInfoKey(key), field, status),
    );
  }

  forgetRoom(key: string): void {
    this.#write(
      "a room",
      (c) =>
        c.multi().sRem(ROOMS_KEY, key)
          .del([roomInfoKey(key), historyKey(key), historyIdsKey(key)]).exec(),
    );
  }

  async account(key: string): Promise<Account | null> {
    const row = await this.#read((c) => c.hGetAll(accountKey(key)), "the account");
    if (row.hash === undefined) return null;
    return {
      key,
      nick: row.nick,
      hash: fromBase64(row.hash),
      salt: fromBase64(row.salt),
      params: { N: Number(row.N), r: Number(row.r), p: Number(row.p) },
      created: Number(row.created),
    };
  }

  async addAccount(account: Account): Promise<boolean> {
    const created = await this.#read(
      (c) => runScript(c, HASH_CREATE, { keys: [accountKey(account.key)], args: fields(account) }),
      "store the account",
    );
    return Number(created) === 1;
  }

  async updateAccount(account: Account): Promise<void> {
    const args = fields(account);
    const values: Record<string, string> = {};
    for (let i = 0; i < args.length; i += 2) values[args[i]] = args[i + 1];
    await this.#read((c) => c.hSet(accountKey(account.key), values), "update the account");
  }

  async dropAccount(key: string): Promise<void> {
    await this.#read(
      (c) => c.del([accountKey(key), accountStateKey(key), accountMarkersKey(key)]),
      "drop the account",
    );
    await this.history.dropOwner(key); // a new owner of the nick never reads the old one's
  }

  async accountState(key: string): Promise<AccountState | null> {
    const json = await this.#read((c) => c.get(accountStateKey(key)), "what the account left");
    if (json === null) return null;
    try {
      return JSON.parse(json) as AccountState;
    } catch {
      this.#report(`A damaged account state of ${key} in Redis was skipped`);
      return null;
    }
  }

  setAccountState(key: string, state: AccountState): void {
    this.#write("an account's rooms", (c) => c.set(accountStateKey(key), JSON.stringify(state)));
  }

  async readMarkers(key: string): Promise<Record<string, number>> {
    const rows = await this.#read((c) => c.hGetAll(accountMarkersKey(key)), "the read markers");
    const markers: Record<string, number> = {};
    for (const [target, time] of Object.entries(rows)) {
      if (Number.isFinite(Number(time))) markers[target] = Number(time);
    }
    return markers;
  }

  setReadMarker(key: string, target: string, time: number): void {
    this.#write(
      "a read marker",
      (c) =>
        runScript(c, MARKER_SET, { keys: [accountMarkersKey(key)], args: [target, String(time)] }),
    );
  }

  async bans(): Promise<Ban[]> {
    const rows = await this.#read((c) => c.hGetAll(BANS_KEY), "the bans");
    const bans: Ban[] = [];
    for (const json of Object.values(rows)) {
      try {
        bans.push(JSON.parse(json) as Ban);
      } catch {
        this.#report("A damaged ban in Redis was skipped");
      }
    }
    return bans;
  }

  addBan(ban: Ban): void {
    this.#write("a ban", (c) => c.hSet(BANS_KEY, ban.mask, JSON.stringify(ban)));
  }

  async removeBan(mask: string): Promise<boolean> {
    return (await this.#read((c) => c.hDel(BANS_KEY, mask), "lift the ban")) > 0;
  }

  /** The mutes in force on every server (read or fail, as the bans). */
  async mutes(): Promise<StoredMute[]> {
    const rows = await this.#read((c) => c.hGetAll(MUTES_KEY), "the mutes");
    const mutes: StoredMute[] = [];
    for (const [key, json] of Object.entries(rows)) {
      try {
        const value = JSON.parse(json) as Partial<StoredMute>;
        const until = value.until ?? null;
        if (until !== null && typeof until !== "number") throw new Error("until");
        mutes.push({
          key,
          until,
          by: String(value.by ?? ""),
          group: typeof value.group === "string" ? value.group : key,
        });
      } catch {
        this.#report("A damaged mute in Redis was skipped");
      }
    }
    return mutes;
  }

  setMute(key: string, mute: StoredMute | null): void {
    this.#write(
      "a mute",
      (c) =>
        mute === null ? c.hDel(MUTES_KEY, key) : c.hSet(
          MUTES_KEY,
          key,
          JSON.stringify({
            until: mute.until,
            by: mute.by,
            group: mute.group,
          }),
        ),
    );
  }

  /** Sends what waits (at most 1 s); the link itself is closed by its owner. */
  async close(): Promise<void> {
    this.#stopListening();
    this.history.stop();
    await within(this.#flush(), 1000, "store writes").catch(() => {});
    if (this.#waiting.length > 0) {
      this.#report(`${this.#waiting.length} writes were not stored in Redis (shutting down)`);
      this.#waiting.length = 0;
    }
  }

  /**
   * A read (or a write whose outcome the caller needs), after the writes
   * waiting; rejects with a sentence when Redis cannot answer.
   */
  async #read<T>(read: (client: RedisClient) => Promise<T>, what: string): Promise<T> {
    if (!this.#link.ready) throw new Error(`Cannot read ${what}: the link to Redis is down`);
    try {
      // Writes that waited for the link go first: a read sees what was written before it.
      if (this.#waiting.length > 0) await within(this.#flush(), READ_TIMEOUT_MS, what);
      return await within(read(this.#link.commands), READ_TIMEOUT_MS, what);
    } catch (error) {
      throw new Error(`Cannot read ${what} from Redis: ${errorText(error)}`);
    }
  }

  #write(what: string, write: (client: RedisClient) => Promise<unknown>): void {
    if (this.#waiting.length > 0 || !this.#link.ready) {
      this.#wait(what, write);
      return;
    }
    write(this.#link.commands).catch((error) => {
      if (isTransient(error)) this.#wait(what, write);
      else this.#report(`Redis refused ${what}: ${errorText(error)}`);
    });
  }

  #wait(what: string, write: (client: RedisClient) => Promise<unknown>): void {
    if (this.#waiting.length >= MAX_WAITING_WRITES) {
      this.#report(`Not stored: ${what} (${MAX_WAITING_WRITES} writes wait for Redis)`);
      return;
    }
    this.#waiting.push({ what, write });
    if (this.#link.ready) detach(this.#flush(), (m) => this.#report(m));
  }

  /** Sends the waiting writes in order, one at a time, while the link holds. */
  #flush(): Promise<void> {
    if (this.#flushing !== null) return this.#flushing;
    this.#flushing = (async () => {
      while (this.#waiting.length > 0 && this.#link.ready) {
        const { what, write } = this.#waiting[0];
        try {
          await write(this.#link.commands);
        } catch (error) {
          if (isTransient(error)) return; // the next ready tries again
          this.#report(`Redis refused ${what}: ${errorText(error)}`);
        }
        this.#waiting.shift();
      }
    })().finally(() => this.#flushing = null);
    return this.#flushing;
  }

  #report(message: string): void {
    try {
      this.onError?.(message);
    } catch { /* a reporter's failure is not the chat's */ }
  }
}

function fields(account: Account): string[] {
  return [
    "nick",
    account.nick,
    "hash",
    toBase64(account.hash),
    "salt",
    toBase64(account.salt),
    "N",
    String(account.params.N),
    "r",
    String(account.params.r),
    "p",
    String(account.params.p),
    "created",
    String(account.created),
  ];
}

/** A room info hash field holding a member's status (`s:<member id>` → `o`, `v`, `ov`). */
const STATUS_FIELD = "s:";

/** A room's modes and its members' statuses, from its info hash. */
function roomSettings(
  row: Record<string, string>,
): { modes?: StoredModes; statuses?: Record<string, string> } {
  const settings: { modes?: StoredModes; statuses?: Record<string, string> } = {};
  for (const [field, value] of Object.entries(row)) {
    if (field.startsWith(STATUS_FIELD) && /^o?v?$/.test(value)) {
      (settings.statuses ??= {})[field.slice(STATUS_FIELD.length)] = value;
    }
  }
  if (row.modes === undefined) return settings;
  try {
    const modes = JSON.parse(row.modes) as StoredModes;
    if (typeof modes === "object" && modes !== null) settings.modes = modes;
  } catch { /* a damaged value: the defaults */ }
  return settings;
}

function parseTopic(json: string | undefined): Topic | null {
  if (json === undefined) return null;
  try {
    const topic = JSON.parse(json) as Topic;
    return typeof topic.text === "string" ? topic : null;
  } catch {
    return null;
  }
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function fromBase64(base64: string | undefined): Uint8Array {
  const text = atob(base64 ?? "");
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
