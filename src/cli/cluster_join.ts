/**
 * `--cluster redis://…`: this server joins every other parley server using
 * the same Redis (SPEC §9). This module is loaded only with the flag: it
 * brings in the Redis client.
 *
 * It opens the cluster's parts (see `store/redis/cluster.ts`), hands the chat
 * its seams (bus, directory, presence, store) and, once the chat exists,
 * turns what the cluster reports into what members and the console are told:
 * the link lost and restored, lines that did not go out, a nick lost in a
 * clash, another server gone with its members.
 *
 * @module
 */

import type { Chat, ChatOptions } from "../core/chat.ts";
import type { ChatEvent, QuitEvent } from "../core/events.ts";
import { errorText } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ServerMetrics } from "../metrics.ts";
import {
  type Cluster,
  type ClusterMember,
  type GoneHow,
  openCluster,
  parseRedisUrl,
  type UnsentReason,
} from "../store/redis/cluster.ts";
import { StartError } from "./start.ts";

/** How often the bans are read again from Redis (ms). */
const BAN_REFRESH_MS = 10_000;

/** This server's part in the cluster, as the server command uses it. */
export interface ClusterJoin {
  /** This server's id among the others. */
  readonly node: string;
  /** The URL, password hidden, for the console. */
  readonly redacted: string;
  /** The chat's seams. */
  readonly chatOptions: Required<
    Pick<ChatOptions, "node" | "bus" | "directory" | "presence" | "store">
  >;
  /** Once the chat exists: what the cluster reports reaches its members. */
  attach(chat: Chat): void;
  /** Leaves the cluster cleanly (queued lines out, goodbye, claims released). */
  close(): Promise<void>;
}

/**
 * Opens the link to Redis at `url` (it need not be up: the link comes up when
 * it can). Throws a {@linkcode StartError} for a bad URL or a refused password.
 */
export async function joinCluster(
  url: string,
  options: {
    /** Messages kept per room (`--history-max`), and for how many days (`--history-days`). */
    historySize: number;
    historyDays?: number;
    log: Logger;
    metrics?: ServerMetrics;
    /** Start even when Redis is not reachable, and join when it is (`--cluster-wait`). */
    waitForRedis?: boolean;
  },
): Promise<ClusterJoin> {
  let redacted: string;
  try {
    const parsed = parseRedisUrl(url);
    redacted = parsed.redacted;
    // A password kept out of the command line (and so out of `ps`): REDIS_PASSWORD.
    const password = Deno.env.get("REDIS_PASSWORD");
    if (parsed.password === "" && password) url = withPassword(url, password);
  } catch (error) {
    throw new StartError((error as Error).message);
  }
  const { log } = options;
  const node = nodeId();
  let chat: Chat | null = null;
  const say = (what: string) => log.event({ event: "cluster", what });
  let cluster: Cluster | undefined;
  try {
    cluster = await openCluster(url, {
      node,
      historySize: options.historySize,
      historyDays: options.historyDays,
      log: (message) => say(message),
      bus: {
        onUnsent: (events, reason, detail) => chat && tellUnsent(chat, events, reason, detail),
      },
      directory: {
        onLost: (_key, owner, holder) => void chat?.lostNick(owner, holder),
      },
      presence: {
        onNodeGone: (gone, members, how) => {
          say(
            `server ${gone} ${
              how === "lost" ? "stopped answering" : "left"
            }: ${members.length} of its users leave the lists`,
          );
          if (members.length > 0) void goneQuits(cluster, members, how);
        },
      },
    });
  } catch (error) {
    throw new StartError(
      `cannot join the cluster at ${redacted}: ${(error as Error).message ?? error}`,
    );
  }
  const joined = cluster;
  const link = joined.link;
  if (link.state !== "up" && !options.waitForRedis) {
    // A mistyped URL or a Redis that is not running: one line, exit 1. Once running, an
    // outage is handled (each server serves its own until the link is back).
    await joined.close();
    throw new StartError(
      `cannot join the cluster: Redis at ${redacted} is not reachable ` +
        "(is it running? --cluster-wait starts anyway and joins when it is)",
    );
  }
  say(
    link.state === "up"
      ? `joined the cluster at ${redacted} as server ${node}`
      : `Redis at ${redacted} is not reachable yet: serving this server's clients alone until it is (server ${node})`,
  );
  const linkUp = options.metrics?.clusterLinkUp;
  if (linkUp) linkUp.sample = () => link.state === "up" ? 1 : 0;
  let wasUp = link.state === "up";
  link.onState((state) => {
    const up = state === "up";
    if (up === wasUp) return;
    wasUp = up;
    say(up ? `link to Redis at ${redacted} restored` : `link to Redis at ${redacted} lost`);
    chat?.notify({ code: up ? "link-up" : "link-down" });
  });
  let stopRefresh = () => {};
  const store = joined.store;
  store.onError = (message) => log.event({ event: "error", message: `cluster store: ${message}` });
  return {
    node,
    redacted,
    chatOptions: {
      node,
      bus: joined.bus,
      directory: joined.directory,
      presence: joined.presence,
      store,
    },
    attach(attached) {
      chat = attached;
      // Bans set on another server reach this one's list within BAN_REFRESH_MS.
      let failing = false;
      const refresh = setInterval(() => {
        if (!link.ready) return;
        attached.bans.load().then(() => {
          if (failing) say("the bans can be read again");
          failing = false;
        }, (error) => {
          if (!failing) {
            log.event({ event: "error", message: `cannot read the bans: ${errorText(error)}` });
          }
          failing = true;
        });
      }, BAN_REFRESH_MS);
      stopRefresh = () => clearInterval(refresh);
    },
    close: () => {
      stopRefresh();
      return joined.close();
    },
  };
}

/** Tells each sender whose lines did not reach the other servers (once per sender and batch). */
function tellUnsent(
  chat: Chat,
  events: readonly ChatEvent[],
  reason: UnsentReason,
  detail: string,
): void {
  const senders = new Set<string>();
  for (const event of events) {
    if (event.kind === "message" || event.kind === "private") senders.add(event.origin);
  }
  const why = detail ? `${reason}: ${detail}` : reason;
  // Lines said while the link was down were delivered here at once; a refused one went nowhere.
  const seenHere = reason !== "refused";
  for (const sender of senders) chat.notify({ code: "not-delivered", why, seenHere }, sender);
}

/**
 * Delivers here the quits of a gone server's members, but for the members whose account
 * is connected on a server still alive (one person's devices on several servers, issue 23):
 * they are still in the chat.
 */
async function goneQuits(
  cluster: Cluster | undefined,
  members: readonly ClusterMember[],
  how: GoneHow,
): Promise<void> {
  if (cluster === undefined) return;
  const alive = new Set<string>();
  if (members.some((member) => member.account !== undefined)) {
    for (const member of await cluster.presence.members()) {
      if (member.account !== undefined) alive.add(member.account);
    }
  }
  const gone = members.filter((member) =>
    member.account === undefined || !alive.has(member.account)
  );
  if (gone.length > 0) cluster.bus.deliverHere(quitsOf(gone, how));
}

/** The quits of another server's members, as if each had said goodbye. */
function quitsOf(members: readonly ClusterMember[], how: GoneHow): QuitEvent[] {
  const time = Date.now();
  return members.filter((member) => member.rooms.length > 0).map((member) => ({
    kind: "quit",
    rooms: member.rooms,
    nick: member.nick,
    user: member.user,
    reason: how === "lost" ? "server lost" : "shutdown",
    detail: "",
    time,
    origin: member.id,
  }));
}

/** `url` with `password` in it (the user name, if any, kept). */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** `host-pid-random`: unique among the servers for this run. */
function nodeId(): string {
  let host = "parley";
  try {
    host = Deno.hostname().split(".")[0] || host;
  } catch { /* no permission: the default */ }
  const random = crypto.getRandomValues(new Uint8Array(3));
  return `${host}-${Deno.pid}-${
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}
