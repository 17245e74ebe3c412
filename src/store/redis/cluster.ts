/**
 * `--cluster redis://…`: everything a server needs to be one of many, opened
 * and closed together. The only module the rest of parley should load, and
 * only with `--cluster` (a dynamic `import()`), so that a single server never
 * loads the Redis client:
 *
 * ```ts
 * const { openCluster } = await import("./src/store/redis/cluster.ts");
 * const cluster = await openCluster(url, { node, historySize, log });
 * // new Chat({ node, bus: cluster.bus, directory: cluster.directory,
//            presence: cluster.presence, store: cluster.store, … })
 * ```
 *
 * Shutdown in one order: what is queued goes out (at most 1 s), this server
 * says goodbye (the others report its members as left), its nick claims are
 * released, the store's writes are sent, the link closes.
 *
 * @module
 */

import { RedisBus, type RedisBusOptions } from "./bus.ts";
import { RedisDirectory, type RedisDirectoryOptions } from "./directory.ts";
import { RedisLink, type RedisLinkOptions } from "./link.ts";
import { Presence, type PresenceOptions } from "./presence.ts";
import { detach } from "./scripts.ts";
import { RedisStore } from "./store.ts";
import { DEFAULT_RETENTION } from "../../core/history.ts";

export { RedisBus } from "./bus.ts";
export type { RedisBusOptions, UnsentReason } from "./bus.ts";
export { RedisDirectory } from "./directory.ts";
export type { RedisDirectoryOptions, Renewal } from "./directory.ts";
export { parseRedisUrl, redactUrl, RedisLink } from "./link.ts";
export type { LinkState, RedisLinkOptions } from "./link.ts";
export { Presence } from "./presence.ts";
export type { ClusterMember, GoneHow, PresenceInfo, PresenceOptions } from "./presence.ts";
export { RedisHistory } from "./history.ts";
export { RedisStore } from "./store.ts";

/** How {@linkcode openCluster} sets things up. */
export interface ClusterOptions {
  /** This server's id: unique in the cluster for this run (say `host-pid-random`). */
  node: string;
  /** Messages kept per room and per private conversation (`--history-max`). */
  historySize: number;
  /** Messages older than this many days are pruned (`--history-days`; default 30, 0: never). */
  historyDays?: number;
  /** Where every part says what went wrong (one line each, never the password). */
  log?: (message: string) => void;
  /** How long to wait for the link at start, in ms (default 2000); it is not required to be up. */
  waitMs?: number;
  link?: Partial<Omit<RedisLinkOptions, "node" | "log">>;
  bus?: Partial<Omit<RedisBusOptions, "historySize" | "log">>;
  directory?: Omit<RedisDirectoryOptions, "log">;
  presence?: Omit<PresenceOptions, "log">;
}

/** A server's part in the cluster. */
export interface Cluster {
  readonly link: RedisLink;
  /** The chat's `Bus`. */
  readonly bus: RedisBus;
  /** The chat's `Directory`. */
  readonly directory: RedisDirectory;
  /** Who is on which server; the chat keeps it told of its members. */
  readonly presence: Presence;
  /** The chat's `Store` (its `history` is the chat's `History`). */
  readonly store: RedisStore;
  /** Leaves the cluster cleanly (see the module notes). */
  close(): Promise<void>;
}

/**
 * Connects to Redis at `url` and starts the bus, the directory and the
 * presence. Rejects when the URL is bad or Redis refuses the password; an
 * unreachable Redis is not an error (the link comes up when it can).
 */
export async function openCluster(url: string, options: ClusterOptions): Promise<Cluster> {
  const log = options.log;
  const link = await RedisLink.open(url, {
    ...options.link,
    node: options.node,
    log,
    waitMs: options.waitMs,
  });
  const bus = new RedisBus(link, { ...options.bus, historySize: options.historySize, log });
  const directory = new RedisDirectory(link, { ...options.directory, log });
  const presence = new Presence(link, {
    ...options.presence,
    log,
    onReaped: () => {
      // The reaper released this server's claims: take them back (the clash rule decides).
      detach(directory.renew(), log);
      options.presence?.onReaped?.();
    },
  });
  const store = new RedisStore(link, {
    max: options.historySize,
    days: options.historyDays ?? DEFAULT_RETENTION.days,
  });
  store.history.start();
  await bus.start();
  directory.start();
  await presence.start();
  let closing: Promise<void> | null = null;
  return {
    link,
    bus,
    directory,
    presence,
    store,
    close() {
      closing ??= (async () => {
        await bus.close(1000);
        await presence.stop(true);
        await directory.close();
        await store.close();
        await link.close();
      })();
      return closing;
    },
  };
}
