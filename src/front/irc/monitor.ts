/**
 * IRCv3 MONITOR: a client names nicks it wants to hear about (`MONITOR +
 * a,b`) and is told when each comes online (730) or goes offline (731), at
 * most {@linkcode MONITOR_LIMIT} nicks per client (ISUPPORT `MONITOR=100`).
 * `MONITOR -` takes nicks off, `C` clears the list, `L` lists it (732, 733),
 * `S` says again which are online. Only nicks: masks are refused (432), so
 * nobody can follow a person across nick changes.
 *
 * One {@linkcode MonitorIndex} per chat, made on first use, knows who watches
 * which nick; the chat tells it when a nick comes or goes (`Chat.watchNicks`):
 * on this server as it happens (entering, leaving, renaming; a change of case
 * only is no change), on the other servers of a cluster as their renames and
 * quits arrive. `MONITOR +` and `S` ask every server (`Chat.findOnline`), so
 * their answers are right wherever the nick is; a member of another server who
 * connects is not announced to this one (entering publishes nothing), so a
 * watcher here hears of it only when it asks again, or when the nick renames.
 *
 * @module
 */

import type { Chat } from "../../core/chat.ts";
import { formatNumeric, type IrcMessage } from "../../protocol/irc/message.ts";
import { utf8ByteLength } from "../../protocol/irc/text.ts";
import { nameKey, nickProblem } from "../../protocol/names.ts";
import { cleanString as clean } from "../../text.ts";
import type { IrcContext } from "./context.ts";
import * as N from "./numerics.ts";

/** Most nicks one client may monitor (announced as ISUPPORT `MONITOR=100`). */
export const MONITOR_LIMIT = 100;
/** Bytes of targets per 730–732 line: well inside 512 with the server name and nick around them. */
const TARGET_BYTES = 300;
const encoder = new TextEncoder();

/** Who monitors which nick, for one chat. */
export class MonitorIndex {
  /** By nick key: the clients monitoring it. */
  readonly #watchers = new Map<string, Set<IrcContext>>();
  /** By client: the nicks it monitors, by key, as it wrote them. */
  readonly #lists = new Map<IrcContext, Map<string, string>>();

  constructor(chat: Chat) {
    chat.watchNicks((nick, online) => this.#changed(nick, online));
  }

  /** The nicks `client` monitors, by key (empty when none). */
  list(client: IrcContext): ReadonlyMap<string, string> {
    return this.#lists.get(client) ?? new Map();
  }

  /** Adds `nicks` (valid, by key) to `client`'s list; answers those that did not fit. */
  add(client: IrcContext, nicks: ReadonlyMap<string, string>): string[] {
    let list = this.#lists.get(client);
    if (list === undefined) this.#lists.set(client, list = new Map());
    const full: string[] = [];
    for (const [key, nick] of nicks) {
      if (list.has(key)) continue;
      if (list.size >= MONITOR_LIMIT) {
        full.push(nick);
        continue;
      }
      list.set(key, nick);
      let watchers = this.#watchers.get(key);
      if (watchers === undefined) this.#watchers.set(key, watchers = new Set());
      watchers.add(client);
    }
    return full;
  }

  /** Takes `keys` off `client`'s list (all of it when none are given). */
  remove(client: IrcContext, keys?: Iterable<string>): void {
    const list = this.#lists.get(client);
    if (list === undefined) return;
    for (const key of keys ?? [...list.keys()]) {
      if (!list.delete(key)) continue;
      const watchers = this.#watchers.get(key);
      watchers?.delete(client);
      if (watchers?.size === 0) this.#watchers.delete(key);
    }
    if (list.size === 0) this.#lists.delete(client);
  }

  /** How many clients monitor something (for tests and metrics). */
  get watching(): number {
    return this.#lists.size;
  }

  #changed(nick: string, online: boolean): void {
    const watchers = this.#watchers.get(nameKey(nick));
    if (watchers === undefined) return;
    const code = online ? N.RPL_MONONLINE : N.RPL_MONOFFLINE;
    for (const client of watchers) {
      if (!client.registered || !client.member.present) continue;
      // Past any labelled reply the watcher may be waiting for: straight to its connection.
      const line = formatNumeric(code, [nick], {
        server: client.irc.name,
        target: client.nick,
        trailing: true,
      });
      client.transport.send(encoder.encode(line));
    }
  }
}

const indexes = new WeakMap<Chat, MonitorIndex>();

/** The chat's monitor index, made (and told of nicks) on first use. */
export function monitorIndex(chat: Chat): MonitorIndex {
  let index = indexes.get(chat);
  if (index === undefined) indexes.set(chat, index = new MonitorIndex(chat));
  return index;
}

/** The client is gone: it monitors nothing any more. */
export function forgetMonitor(context: IrcContext): void {
  indexes.get(context.chat)?.remove(context);
}

/** `MONITOR + targets`, `- targets`, `C`, `L`, `S`. */
export async function monitor(context: IrcContext, message: IrcMessage): Promise<void> {
  const [sub, targets = ""] = message.params;
  const index = monitorIndex(context.chat);
  switch (sub.toUpperCase()) {
    case "+": {
      const wanted = new Map<string, string>();
      for (const target of targetsOf(targets)) {
        if (nickProblem(target) !== null) {
          context.numeric(N.ERR_ERRONEUSNICKNAME, target, "Erroneous nickname");
        } else {
          wanted.set(nameKey(target), target);
        }
      }
      const full = index.add(context, wanted);
      if (full.length > 0) {
        context.numeric(
          N.ERR_MONLISTFULL,
          String(MONITOR_LIMIT),
          full.join(","),
          "Monitor list is full.",
        );
      }
      const added = [...wanted].filter(([key]) => index.list(context).has(key));
      return await status(context, added.map(([, nick]) => nick));
    }
    case "-": {
      const keys = targetsOf(targets).map((target) => nameKey(target));
      return index.remove(context, keys);
    }
    case "C":
      return index.remove(context);
    case "L":
      for (const group of groups([...index.list(context).values()])) {
        context.numeric(N.RPL_MONLIST, group);
      }
      return context.numeric(N.RPL_ENDOFMONLIST, "End of MONITOR list");
    case "S":
      return await status(context, [...index.list(context).values()]);
    default:
      return context.numeric(
        N.ERR_UNKNOWNCOMMAND,
        "MONITOR",
        `Unknown MONITOR command ${clean(sub)}`,
      );
  }
}

/** 730 for those of `nicks` who are online (as they write their nick now), 731 for the others. */
async function status(context: IrcContext, nicks: readonly string[]): Promise<void> {
  if (nicks.length === 0) return;
  const online = await context.chat.findOnline(nicks);
  const on: string[] = [];
  const off: string[] = [];
  for (const nick of nicks) {
    const found = online.get(nameKey(nick));
    if (found === undefined) off.push(nick);
    else on.push(found);
  }
  for (const group of groups(on)) context.numeric(N.RPL_MONONLINE, group);
  for (const group of groups(off)) context.numeric(N.RPL_MONOFFLINE, group);
}

/** The targets of a `MONITOR +/-`: comma-separated, cleaned, no empty ones. */
function targetsOf(targets: string): string[] {
  return clean(targets).split(",").filter((target) => target !== "").slice(0, MONITOR_LIMIT * 2);
}

/** Nicks joined with commas, as many lines as it takes. */
function groups(nicks: readonly string[]): string[] {
  const lines: string[] = [];
  let current = "";
  for (const nick of nicks) {
    if (current !== "" && utf8ByteLength(current) + 1 + utf8ByteLength(nick) > TARGET_BYTES) {
      lines.push(current);
      current = "";
    }
    current = current === "" ? nick : `${current},${nick}`;
  }
  if (current !== "") lines.push(current);
  return lines;
}
