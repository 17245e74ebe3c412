/**
 * What outlives a connection, and with `--data` (SQLite) or `--cluster`
 * (Redis) a restart: room history, topics, rooms themselves, registered
 * accounts and bans. This module is the seam: the interfaces, and the
 * in-memory implementation a single server without `--data` uses (and unit
 * tests). Names are keys (see `nameKey`) unless said otherwise.
 *
 * Reads that a remote store needs a round trip for are asynchronous; writes
 * are fire-and-forget (a store reports its own failures, see
 * {@linkcode Store.onError}), except where the caller must know the outcome
 * (an account being registered).
 *
 * @module
 */

import type { StoredModes } from "./channel_modes.ts";
import { type History, MemoryHistory } from "./history.ts";

/** A room's topic: what, by whom, when (ms since the epoch). */
export interface Topic {
  text: string;
  nick: string;
  time: number;
}

/** A registered nick: who owns it, proven by a password only its owner knows. */
export interface Account {
  /** The nick's key (`nameKey`). */
  key: string;
  /** The nick as registered (display form). */
  nick: string;
  /** scrypt(password, salt) with `params`. */
  hash: Uint8Array;
  salt: Uint8Array;
  /** scrypt cost parameters, kept per account so they can be raised later. */
  params: { N: number; r: number; p: number };
  /** When it was registered (ms since the epoch). */
  created: number;
}

/** A ban: an address or a CIDR block, until a time or for good. */
export interface Ban {
  /** `203.0.113.7`, `2001:db8::1`, `203.0.113.0/24` or `2001:db8::/32`. */
  mask: string;
  /** When it ends (ms since the epoch), or null for good. */
  expires: number | null;
  reason: string;
  /** Who set it (an operator's nick, or `console`). */
  by: string;
  created: number;
}

/** A nick or account muted (see `Mutes`), as a store shared by several servers keeps it. */
export interface StoredMute {
  /** The nick's or account's key. */
  key: string;
  /** When it ends (ms since the epoch), or null: until unmuted. */
  until: number | null;
  /** Who muted it (an operator's nick, or `console`). */
  by: string;
  /** The key the mute was first given to: the keys of one mute are lifted together. */
  group: string;
}

/** A room the store remembers, with or without members. */
export interface StoredRoom {
  key: string;
  /** Its display name. */
  name: string;
  topic: Topic | null;
  /** When someone last entered or left it (ms since the epoch). */
  lastUsed: number;
  /** The sequence number of its newest stored message (0 for none): where its numbering goes on. */
  seq: number;
  /** Its modes, key, limit and bans, and when it was made; absent: the defaults. */
  modes?: StoredModes;
  /**
   * Its members' statuses by member id (`o`, `v`, `ov`), where members of
   * several servers share rooms (`--cluster`); absent elsewhere.
   */
  statuses?: Record<string, string>;
}

/**
 * What an account keeps between its sessions (issue 23): the rooms it was in
 * when its last device left, the one its line client showed, when it left,
 * and whether it takes several devices at once.
 */
export interface AccountState {
  /** Display names, in the order it entered them. */
  rooms: string[];
  /** The room its line client showed last (display name), or null. */
  current: string | null;
  /** When its last device left (ms since the epoch); 0: not known. */
  left: number;
  /** False: one device at a time (NickServ `SET MULTICLIENT OFF`); absent: several. */
  multiclient?: boolean;
}

/** Everything that outlives a connection. */
export interface Store {
  /** Room messages (see {@linkcode History}). */
  readonly history: History;
  /** True when what is kept survives a restart (rooms then outlive their members). */
  readonly persistent: boolean;

  /** Every room remembered, for the start-up load. */
  rooms(): Promise<StoredRoom[]>;
  /** Records a room's name and that it was just used. */
  touchRoom(key: string, name: string, now: number): void;
  /** Sets or clears a room's topic. */
  setTopic(key: string, topic: Topic | null): void;
  /** Sets a room's modes, key, limit and bans (and when it was made). */
  setModes(key: string, modes: StoredModes): void;
  /**
   * Sets a member's status in a room (`o`, `v`, `ov`; empty: none), for the
   * other servers that share the room to read when they start. Only a store
   * shared by several servers keeps statuses (a member id means nothing
   * after a restart).
   */
  setStatus?(key: string, member: string, status: string): void;
  /** Forgets a room: its topic and its history. */
  forgetRoom(key: string): void;

  /**
   * The account, or null when there is none. Account calls reject when the
   * store cannot answer (a full disk, a lost link): never "no account" by mistake.
   */
  account(key: string): Promise<Account | null>;
  /** Stores a new account; false when the nick is registered already. */
  addAccount(account: Account): Promise<boolean>;
  /** Replaces an account's hash (a new password). */
  updateAccount(account: Account): Promise<void>;
  /** Drops an account, and the private messages kept for it (`History.forgetOwner`). */
  dropAccount(key: string): Promise<void>;
  /** What account `key` left for its next session (see {@linkcode AccountState}), or null. */
  accountState?(key: string): Promise<AccountState | null>;
  /** Keeps what account `key` leaves for its next session. */
  setAccountState?(key: string, state: AccountState): void;
  /** Account `key`'s read markers: target (`#` and a room key, or a nick key) → time (ms). */
  readMarkers?(key: string): Promise<Record<string, number>>;
  /** Keeps one read marker of account `key` (the caller keeps them moving forward only). */
  setReadMarker?(key: string, target: string, time: number): void;

  bans(): Promise<Ban[]>;
  addBan(ban: Ban): void;
  /** Lifts the ban on exactly `mask`; false when there was none. */
  removeBan(mask: string): Promise<boolean>;

  /**
   * The mutes in force, and keeping one (null: lifted). Only a store shared
   * by several servers keeps mutes (`--cluster`), so that a muted member who
   * reconnects to another server is still muted; elsewhere they live in the
   * server's memory.
   */
  mutes?(): Promise<StoredMute[]>;
  setMute?(key: string, mute: StoredMute | null): void;

  /** Where the store says that a write failed (a full disk, a lost link); the chat goes on. */
  onError?: (message: string) => void;
  /**
   * A consistent copy of what is kept, made while the server runs (`--data`:
   * SQLite's online backup), at `path` or a default place beside it; resolves
   * with where. Absent when the store cannot make one (in memory; Redis keeps
   * its own persistence).
   */
  backup?(path?: string): Promise<string>;
  /** Writes what is pending and lets go of the file or link. */
  close(): Promise<void>;
}

/** Everything in memory: gone when the server stops (no `--data`, no `--cluster`). */
export class MemoryStore implements Store {
  readonly history: History;
  readonly persistent = false;
  readonly #rooms = new Map<string, StoredRoom>();
  readonly #accounts = new Map<string, Account>();
  readonly #bans = new Map<string, Ban>();
  readonly #states = new Map<string, AccountState>();
  readonly #markers = new Map<string, Record<string, number>>();

  /** Keeps `historySize` messages per room and per private conversation. */
  constructor(historySize: number) {
    this.history = new MemoryHistory(historySize);
  }

  rooms(): Promise<StoredRoom[]> {
    return Promise.resolve([...this.#rooms.values()]);
  }

  touchRoom(key: string, name: string, now: number): void {
    const room = this.#rooms.get(key);
    if (room) room.lastUsed = now;
    else this.#rooms.set(key, { key, name, topic: null, lastUsed: now, seq: 0 });
  }

  setTopic(key: string, topic: Topic | null): void {
    const room = this.#rooms.get(key);
    if (room) room.topic = topic;
  }

  setModes(key: string, modes: StoredModes): void {
    const room = this.#rooms.get(key);
    if (room) room.modes = modes;
  }

  forgetRoom(key: string): void {
    this.#rooms.delete(key);
    this.history.forget(key);
  }

  account(key: string): Promise<Account | null> {
    return Promise.resolve(this.#accounts.get(key) ?? null);
  }

  addAccount(account: Account): Promise<boolean> {
    if (this.#accounts.has(account.key)) return Promise.resolve(false);
    this.#accounts.set(account.key, account);
    return Promise.resolve(true);
  }

  updateAccount(account: Account): Promise<void> {
    this.#accounts.set(account.key, account);
    return Promise.resolve();
  }

  dropAccount(key: string): Promise<void> {
    this.#accounts.delete(key);
    this.#states.delete(key);
    this.#markers.delete(key);
    this.history.forgetOwner(key); // a new owner of the nick never reads the old one's messages
    return Promise.resolve();
  }

  accountState(key: string): Promise<AccountState | null> {
    const state = this.#states.get(key);
    return Promise.resolve(state === undefined ? null : structuredClone(state));
  }

  setAccountState(key: string, state: AccountState): void {
    this.#states.set(key, structuredClone(state));
  }

  readMarkers(key: string): Promise<Record<string, number>> {
    return Promise.resolve({ ...this.#markers.get(key) });
  }

  setReadMarker(key: string, target: string, time: number): void {
    let markers = this.#markers.get(key);
    if (markers === undefined) this.#markers.set(key, markers = {});
    markers[target] = time;
  }

  bans(): Promise<Ban[]> {
    return Promise.resolve([...this.#bans.values()]);
  }

  addBan(ban: Ban): void {
    this.#bans.set(ban.mask, ban);
  }

  removeBan(mask: string): Promise<boolean> {
    return Promise.resolve(this.#bans.delete(mask));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
