/**
 * Who is on which server: each server's heartbeat and members in Redis, so
 * that `/who`, NAMES, LIST and the online counts see the whole cluster, and a
 * server that dies without a goodbye is noticed by the others.
 *
 * - **Heartbeat.** Every `beatMs` a server sets `parley:node:{id}` with a
 *   lease of `leaseMs`, adds itself to `parley:nodes`, and keeps its members
 *   hash (`parley:node:{id}:members`: member id → {nick, user, rooms, away, address})
 *   alive for `keepMs`. The hash is written on every change, and rewritten
 *   whole after every reconnect (Redis may have lost it).
 * - **Dead servers.** Every `pollMs` each server checks the others'
 *   heartbeats. One whose lease ran out is dead: `SREM` picks exactly one
 *   reaper, which releases the dead server's nick claims at once. Every
 *   server reports every death once, through `onNodeGone`, with the dead
 *   server's members (the hash outlives the heartbeat by `keepMs`), so each
 *   chat can tell its own members. Noticed at most `leaseMs + pollMs` after
 *   the last heartbeat (10 s + 2 s by default).
 * - **Goodbye.** A server that stops cleanly leaves the set, drops its
 *   heartbeat and leaves a `bye` mark: the others report it as `left`.
 * - **Reaped alive.** A server cut off longer than its lease finds itself
 *   gone from the set when it is back: `onReaped` (its claims were released:
 *   re-assert them; the others announced its members as gone).
 *
 * @module
 */

import { nameKey } from "../../protocol/names.ts";
import { errorText } from "../../errors.ts";
import { EPOCH_KEY, nickKey, nodeByeKey, nodeKey, nodeMembersKey, NODES_KEY } from "./keys.ts";
import type { RedisClient, RedisLink } from "./link.ts";
import { detach, NICK_RELEASE, runScript, within } from "./scripts.ts";

type Multi = ReturnType<RedisClient["multi"]>;

/** A member as the other servers see it. */
export interface PresenceInfo {
  nick: string;
  user: string;
  /** The rooms it is in (display names). */
  rooms: string[];
  away: string | null;
  /** The key of the account it proved (another device of that account attaches to it). */
  account?: string;
  /** Who its nick claims are made for, when not its id. */
  owner?: string;
  /** Its devices there, when more than one. */
  devices?: number;
  /** The address it is connected from (server operators' bans by nick). */
  address?: string;
}

/** A member of some server in the cluster. */
export interface ClusterMember extends PresenceInfo {
  /** Its member id (`node/n`). */
  id: string;
  /** The server it is on. */
  node: string;
}

/** How a server left: `lost` (its lease ran out) or `left` (it said goodbye). */
export type GoneHow = "lost" | "left";

/** How a {@linkcode Presence} behaves. */
export interface PresenceOptions {
  /** How long a heartbeat lasts, in ms (default 10 000). */
  leaseMs?: number;
  /** How often this server beats, in ms (default 3000). */
  beatMs?: number;
  /** How often the others' heartbeats are checked, in ms (default 2000). */
  pollMs?: number;
  /** How long a members hash outlives its server's last beat, in ms (default 60 000). */
  keepMs?: number;
  /** Server `node` is gone, with the members it had; reported once per server and death. */
  onNodeGone?(node: string, members: ClusterMember[], how: GoneHow): void;
  /** This server was taken for dead while cut off, and is back. */
  onReaped?(): void;
  log?(message: string): void;
}

/** This server's presence, and what it sees of the others'. */
export class Presence {
  readonly node: string;
  readonly #link: RedisLink;
  readonly #leaseMs: number;
  readonly #beatMs: number;
  readonly #pollMs: number;
  readonly #keepMs: number;
  readonly #options: PresenceOptions;
  /** This server's members, as written to Redis (the truth is here). */
  readonly #members = new Map<string, string>();
  /** The members hash must be written whole at the next beat. */
  #rewrite = true;
  /** Joining the node set is expected (first beat, new epoch), not a sign of being reaped. */
  #joining = true;
  /** The other servers alive at the last poll. */
  #known = new Set<string>();
  #timers: ReturnType<typeof setInterval>[] = [];
  #beating = false;
  #polling = false;
  #stopped = false;
  readonly #stops: (() => void)[] = [];

  constructor(link: RedisLink, options: PresenceOptions = {}) {
    this.#link = link;
    this.node = link.node;
    this.#options = options;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#beatMs = options.beatMs ?? 3000;
    this.#pollMs = options.pollMs ?? 2000;
    this.#keepMs = options.keepMs ?? 60_000;
  }

  /** Beats now and from now on; polls the others. */
  async start(): Promise<void> {
    this.#stops.push(this.#link.onReady((which) => {
      if (which !== "commands") return;
      this.#rewrite = true;
      detach(this.beat(), this.#options.log);
    }));
    this.#stops.push(this.#link.onNewEpoch(async () => {
      this.#rewrite = this.#joining = true;
      await this.beat();
    }));
    this.#timers.push(setInterval(() => detach(this.beat(), this.#options.log), this.#beatMs));
    this.#timers.push(setInterval(() => detach(this.poll(), this.#options.log), this.#pollMs));
    await this.beat();
  }

  /** Records (or updates) member `id`: on entering, renaming, joining, parting, going away. */
  set(id: string, info: PresenceInfo): void {
    const json = JSON.stringify(info);
    this.#members.set(id, json);
    this.#write((commands) => commands.hSet(nodeMembersKey(this.node), id, json));
  }

  /** Forgets member `id` (it left the chat). */
  remove(id: string): void {
    if (!this.#members.delete(id)) return;
    this.#write((commands) => commands.hDel(nodeMembersKey(this.node), id));
  }

  /**
   * Every member of every live server, this one's included (this one's only,
   * while the link is down).
   */
  async members(): Promise<ClusterMember[]> {
    const here = [...this.#members].map(([id, json]) => member(this.node, id, json));
    if (!this.#link.ready) return here;
    try {
      const nodes = (await within(this.#link.commands.sMembers(NODES_KEY), 2000, "nodes"))
        .filter((node) => node !== this.node);
      if (nodes.length === 0) return here;
      const multi = this.#link.commands.multi();
      for (const node of nodes) multi.exists(nodeKey(node)).hGetAll(nodeMembersKey(node));
      const replies = await within(multi.exec(), 2000, "members") as unknown[];
      const all = here;
      for (let i = 0; i < nodes.length; i++) {
        if (Number(replies[2 * i]) !== 1) continue; // dead, not reaped yet
        const hash = replies[2 * i + 1] as Record<string, string>;
        for (const [id, json] of Object.entries(hash ?? {})) all.push(member(nodes[i], id, json));
      }
      return all;
    } catch (error) {
      this.#options.log?.(`Cluster members unavailable: ${errorText(error)}`);
      return here;
    }
  }

  /** Every member of the other live servers (none while the link is down): the chat's view. */
  async elsewhere(): Promise<ClusterMember[]> {
    return (await this.members()).filter((member) => member.node !== this.node);
  }

  /** Ids of the servers alive at the last poll, this one included. */
  get nodes(): string[] {
    return [this.node, ...this.#known];
  }

  /** One heartbeat (the timer's; also after every reconnect). */
  async beat(): Promise<void> {
    if (this.#stopped || this.#beating || !this.#link.ready) return;
    this.#beating = true;
    let rewrite = this.#rewrite;
    this.#rewrite = false;
    try {
      const multi = this.#link.commands.multi()
        .set(nodeKey(this.node), String(Date.now()), {
          expiration: { type: "PX", value: this.#leaseMs },
        })
        .sAdd(NODES_KEY, this.node)
        .del(nodeByeKey(this.node))
        .get(EPOCH_KEY);
      if (rewrite) this.#rewriteMembers(multi);
      multi.pExpire(nodeMembersKey(this.node), this.#keepMs);
      const replies = await within(multi.exec(), this.#beatMs, "heartbeat") as unknown[];
      const joined = Number(replies[1]) === 1;
      // A new epoch the link has not noticed yet also empties the set: not a reaping.
      const sameEpoch = replies[3] === this.#link.epoch;
      if (joined && !this.#joining && sameEpoch) {
        // Gone from the set while we thought ourselves alive: someone reaped us.
        this.#options.log?.(`Server ${this.node} was taken for dead while cut off; back now`);
        try {
          this.#options.onReaped?.();
        } catch { /* the listener's problem */ }
      }
      this.#joining = false;
      if (joined && !rewrite) {
        // Joined afresh: whatever hash Redis has may be stale or gone.
        rewrite = true;
        const again = this.#link.commands.multi();
        this.#rewriteMembers(again);
        await within(
          again.pExpire(nodeMembersKey(this.node), this.#keepMs).exec(),
          2000,
          "members",
        );
      }
    } catch (error) {
      if (rewrite) this.#rewrite = true;
      this.#options.log?.(`Heartbeat failed: ${errorText(error)}`);
    } finally {
      this.#beating = false;
    }
  }

  #rewriteMembers(multi: Multi): void {
    const key = nodeMembersKey(this.node);
    multi.del(key);
    if (this.#members.size > 0) multi.hSet(key, Object.fromEntries(this.#members));
  }

  /** Checks the other servers' heartbeats; reaps and reports the dead (the timer's). */
  async poll(): Promise<void> {
    if (this.#stopped || this.#polling || !this.#link.ready) return;
    this.#polling = true;
    try {
      const commands = this.#link.commands;
      const inSet = (await within(commands.sMembers(NODES_KEY), this.#pollMs, "nodes"))
        .filter((node) => node !== this.node);
      const alive = new Set<string>();
      const reaped = new Set<string>();
      if (inSet.length > 0) {
        const multi = commands.multi();
        for (const node of inSet) multi.exists(nodeKey(node));
        const replies = await within(multi.exec(), this.#pollMs, "heartbeats") as unknown[];
        for (let i = 0; i < inSet.length; i++) {
          if (Number(replies[i]) === 1) alive.add(inSet[i]);
          else if ((await commands.sRem(NODES_KEY, inSet[i])) === 1) reaped.add(inSet[i]);
        }
      }
      const gone = new Set<string>(reaped);
      for (const node of this.#known) if (!alive.has(node)) gone.add(node);
      this.#known = alive;
      for (const node of gone) await this.#gone(node, reaped.has(node));
    } catch (error) {
      this.#options.log?.(`Presence poll failed: ${errorText(error)}`);
    } finally {
      this.#polling = false;
    }
  }

  /**
   * Stops beating and polling. With `goodbye` (a clean shutdown) this server
   * leaves at once, marked as having left; without, it just goes quiet (the
   * others find it dead when its lease runs out).
   */
  async stop(goodbye = true): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    for (const stop of this.#stops) stop();
    if (!goodbye || !this.#link.ready) return;
    await within(
      this.#link.commands.multi()
        .sRem(NODES_KEY, this.node)
        .del(nodeKey(this.node))
        .set(nodeByeKey(this.node), "1", { expiration: { type: "PX", value: this.#keepMs } })
        .pExpire(nodeMembersKey(this.node), this.#keepMs)
        .exec(),
      1000,
      "goodbye",
    ).catch(() => {});
  }

  /** Reports a gone server once, with its members; the reaper also releases their nicks. */
  async #gone(node: string, reaper: boolean): Promise<void> {
    const commands = this.#link.commands;
    const [hash, bye] = await commands.multi()
      .hGetAll(nodeMembersKey(node))
      .exists(nodeByeKey(node))
      .exec() as unknown as [Record<string, string>, number];
    const members = Object.entries(hash ?? {}).map(([id, json]) => member(node, id, json));
    if (reaper) {
      // Now rather than when their leases run out; only claims still held by those members.
      await Promise.allSettled(
        members.map((m) =>
          runScript(commands, NICK_RELEASE, { keys: [nickKey(nameKey(m.nick))], args: [m.id] })
        ),
      );
    }
    try {
      this.#options.onNodeGone?.(node, members, Number(bye) === 1 ? "left" : "lost");
    } catch { /* the listener's problem */ }
  }

  /** Sends one change of the members hash; a failed one makes the next beat write it whole. */
  #write(change: (commands: RedisClient) => Promise<unknown>): void {
    if (!this.#link.ready) {
      this.#rewrite = true;
      return;
    }
    change(this.#link.commands).catch(() => this.#rewrite = true);
  }
}

function member(node: string, id: string, json: string): ClusterMember {
  try {
    const info = JSON.parse(json) as PresenceInfo;
    const found: ClusterMember = {
      id,
      node,
      nick: String(info.nick),
      user: String(info.user),
      rooms: Array.isArray(info.rooms) ? info.rooms.map(String) : [],
      away: info.away ?? null,
    };
    if (typeof info.address === "string") found.address = info.address;
    if (typeof info.account === "string") found.account = info.account;
    if (typeof info.owner === "string") found.owner = info.owner;
    if (typeof info.devices === "number") found.devices = info.devices;
    return found;
  } catch {
    return { id, node, nick: "?", user: "?", rooms: [], away: null };
  }
}
