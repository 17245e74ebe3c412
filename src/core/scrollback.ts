/**
 * Reading history back (SPEC §13): who may read what, and the three ways of
 * asking (a stretch of one target, the targets with recent messages, a
 * search). The rules:
 *
 * - a **room's** history is readable by its members only (the rooms the
 *   member is in now; any other room, existing or not, is refused alike, so
 *   asking tells nothing about rooms one is not in);
 * - a **private** conversation is readable only by an account that kept a
 *   copy of it (`private_history.ts`): the member's proved account is the
 *   owner, the nick asked for the peer. A guest has no copies: it gets an
 *   empty answer, as for a conversation that was never kept. Server
 *   operators read nothing more than anyone else.
 *
 * Reads are asynchronous and never touch the message path; a store that
 * cannot answer gives `history-unavailable` (reported once per read).
 *
 * @module
 */

import type { Problem, Replies } from "./commands.ts";
import {
  type History,
  type HistoryRequest,
  type HistoryTarget,
  type HistoryTargetName,
  type KeptEvent,
  MAX_HISTORY_REQUEST,
  newestOf,
  readHistory,
  searchWords,
  type TargetTime,
} from "./history.ts";
import type { Member } from "./records.ts";
import type { Registry } from "./registry.ts";
import { errorText } from "../errors.ts";
import { nameKey, nickProblem, roomProblem } from "../protocol/names.ts";

/** Reads history for members, by the rules above. */
export class Scrollback {
  readonly #history: History;
  readonly #registry: Registry;
  readonly #onError: (message: string) => void;

  constructor(options: {
    history: History;
    registry: Registry;
    onError: (message: string) => void;
  }) {
    this.#history = options.history;
    this.#registry = options.registry;
    this.#onError = options.onError;
  }

  /** A stretch of a room's history or of the member's own conversation with a nick. */
  async read(
    m: Member,
    target: HistoryTargetName,
    request: HistoryRequest,
  ): Promise<Replies["history"]> {
    const where = this.#target(m, target);
    if (where === null) return { kind: "history", events: [] };
    if (where.kind === "refused") return where;
    const limited = { ...request, limit: Math.min(request.limit, MAX_HISTORY_REQUEST) };
    try {
      return { kind: "history", events: await readHistory(this.#history, where, limited) };
    } catch (error) {
      this.#onError(`Cannot read history: ${errorText(error)}`);
      return { kind: "history-unavailable" };
    }
  }

  /**
   * The rooms the member is in and its own conversations whose newest message
   * was said strictly between `from` and `to` (either way round), the
   * earliest first, at most `limit`.
   */
  async targets(
    m: Member,
    from: number,
    to: number,
    limit: number,
  ): Promise<Replies["history-targets"]> {
    const [low, high] = from <= to ? [from, to] : [to, from];
    const within = (time: number | null) => time !== null && time > low && time < high;
    try {
      const rooms = [...m.rooms];
      const [times, conversations] = await Promise.all([
        Promise.all(rooms.map((room) => this.#history.lastTime(room.key))),
        m.account === null ? [] : this.#history.conversations(m.account),
      ]);
      const found: TargetTime[] = [];
      rooms.forEach((room, i) => {
        if (within(times[i])) found.push({ kind: "room", name: room.name, time: times[i]! });
      });
      for (const conversation of conversations) {
        if (within(conversation.time)) {
          found.push({ kind: "nick", name: conversation.nick, time: conversation.time });
        }
      }
      found.sort((a, b) => a.time - b.time);
      return { kind: "history-targets", targets: found.slice(0, Math.max(0, limit)) };
    } catch (error) {
      this.#onError(`Cannot read history: ${errorText(error)}`);
      return { kind: "history-unavailable" };
    }
  }

  /**
   * The newest kept messages holding every word of `text`: in `room` (one the
   * member is in; none: no room) and in the member's own conversations.
   */
  async search(
    m: Member,
    room: string | null,
    text: string,
    limit: number,
  ): Promise<Replies["search"]> {
    const words = searchWords(text);
    let key: string | null = null;
    if (room !== null) {
      const where = this.#target(m, { room });
      if (where?.kind === "refused") return where;
      if (where?.kind === "room") key = where.key;
    }
    const wanted = Math.max(0, Math.min(limit, MAX_HISTORY_REQUEST));
    if (words.length === 0 || wanted === 0) return { kind: "found", events: [], words };
    try {
      const [inRoom, mine] = await Promise.all([
        key === null ? [] : this.#history.search({ kind: "room", key }, words, wanted),
        m.account === null
          ? []
          : this.#history.search({ kind: "owner", owner: m.account }, words, wanted),
      ]);
      return {
        kind: "found",
        events: newestOf([...inRoom, ...mine] as KeptEvent[], wanted),
        words,
      };
    } catch (error) {
      this.#onError(`Cannot search history: ${errorText(error)}`);
      return { kind: "history-unavailable" };
    }
  }

  /** Where a member may read: the target, refused, or null for "nothing kept for you". */
  #target(
    m: Member,
    target: HistoryTargetName,
  ): HistoryTarget | { kind: "refused"; problem: Problem } | null {
    if ("room" in target) {
      const name = target.room.normalize("NFC");
      const why = roomProblem(name);
      if (why !== null) {
        return { kind: "refused", problem: { code: "room-invalid", room: name, why } };
      }
      const room = this.#registry.room(nameKey(name));
      if (room === undefined || !m.rooms.includes(room)) {
        return { kind: "refused", problem: { code: "not-in-room", room: name } };
      }
      return { kind: "room", key: room.key };
    }
    const nick = target.nick.normalize("NFC");
    const why = nickProblem(nick);
    if (why !== null) return { kind: "refused", problem: { code: "nick-invalid", nick, why } };
    if (m.account === null) return null;
    return { kind: "private", owner: m.account, peer: nameKey(nick) };
  }
}
