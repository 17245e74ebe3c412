/**
 * Every Redis key and channel parley uses, in one place. Names are keys
 * (`nameKey`) unless said otherwise. A room's keys share the `{…}` part, so
 * on a Redis Cluster they would land in one hash slot (a Lua script may only
 * touch keys of one slot); on a single Redis the braces are just characters.
 *
 * | key | type | what |
 * |---|---|---|
 * | `parley:epoch` | string | a random id; it changing means Redis lost its memory |
 * | `parley:feed:{F}:meta` | hash | `seq` (last sequence number), `epoch` (the feed's own) |
 * | `parley:feed:{F}:log` | stream | one entry per event, id `<seq>-0`, fields `b` batch id, `d` JSON; capped (≈) |
 * | `parley:feed:{F}:sent:<batch>` | string | `<first seq> <epoch>` of a published batch, for a safe re-send; expires |
 * | `parley:feed:{F}` | channel | `<first seq> <epoch> <batch> <JSON array of events>` |
 * | `parley:room:{R}:history` | stream | room messages only, fields `s` seq, `m` msgid, `d` JSON; id `<time>-n`; capped exactly, pruned by age |
 * | `parley:room:{R}:ids` | hash | msgid → `<stream id> <time>` of the room's kept messages |
 * | `parley:pm:{A}:with:{P}` | stream | account A's copy of its conversation with nick key P: `m` msgid, `d` JSON |
 * | `parley:pm:{A}:ids` | hash | msgid → `<stream id> <time> <peer>` of A's kept private messages |
 * | `parley:pm:{A}:peers` | sorted set | A's conversations: peer → time of the newest message |
 * | `parley:pm:owners` | set | accounts with private messages kept (for the pruner) |
 * | `parley:history:pruning` | string | held (PX) by the server pruning history this round |
 * | `parley:room:{R}:info` | hash | `name`, `lastUsed`, `topic` (JSON) |
 * | `parley:rooms` | set | keys of every stored room |
 * | `parley:nick:{N}` | string | `<since> <owner member id>`, with a lease (PX) |
 * | `parley:guests` | string | the guest-number counter (INCR) |
 * | `parley:nodes` | set | ids of the servers believed alive |
 * | `parley:node:{id}` | string | a server's heartbeat, with a lease (PX) |
 * | `parley:node:{id}:members` | hash | member id → JSON {nick, user, rooms, away, address} |
 * | `parley:node:{id}:bye` | string | set when a server left cleanly; expires |
 * | `parley:account:{N}` | hash | `nick`, `hash`, `salt` (base64), `N`, `r`, `p`, `created` |
 * | `parley:account:{N}:state` | string | JSON: the rooms it left, the one shown, when, multiclient |
 * | `parley:account:{N}:markers` | hash | target (`#` room key, or nick key) → read marker (ms) |
 * | `parley:bans` | hash | mask → JSON ban |
 * | `parley:mutes` | hash | nick or account key → JSON {until, by, group} |
 *
 * A feed `F` is a room's key, or {@linkcode DIRECT_FEED} for the events that
 * belong to no one room (renames, quits, private messages).
 *
 * @module
 */

/** The feed of member and private events: `*` can never be a room's key. */
export const DIRECT_FEED = "*";

export const EPOCH_KEY = "parley:epoch";
export const ROOMS_KEY = "parley:rooms";
export const GUESTS_KEY = "parley:guests";
export const NODES_KEY = "parley:nodes";
export const BANS_KEY = "parley:bans";
export const MUTES_KEY = "parley:mutes";

/** PSUBSCRIBE pattern of every feed's channel. */
export const FEED_PATTERN = "parley:feed:*";

const FEED_CHANNEL_PREFIX = "parley:feed:{";

/** The keys and the channel of one feed. */
export function feedKeys(feed: string): { meta: string; log: string; channel: string } {
  return {
    meta: `parley:feed:{${feed}}:meta`,
    log: `parley:feed:{${feed}}:log`,
    channel: `parley:feed:{${feed}}`,
  };
}

/** The key that remembers a published batch for a while (a re-send then publishes nothing). */
export function sentKey(feed: string, batch: string): string {
  return `parley:feed:{${feed}}:sent:${batch}`;
}

/** The feed a channel belongs to, or null for a channel that is not a feed's. */
export function feedOfChannel(channel: string): string | null {
  if (!channel.startsWith(FEED_CHANNEL_PREFIX) || !channel.endsWith("}")) return null;
  return channel.slice(FEED_CHANNEL_PREFIX.length, -1);
}

export function historyKey(room: string): string {
  return `parley:room:{${room}}:history`;
}

/** msgid → where the message is in the room's history. */
export function historyIdsKey(room: string): string {
  return `parley:room:{${room}}:ids`;
}

/** Account `owner`'s copy of its conversation with nick key `peer`. */
export function privateKey(owner: string, peer: string): string {
  return `parley:pm:{${owner}}:with:{${peer}}`;
}

/** msgid → where the message is in `owner`'s conversations. */
export function privateIdsKey(owner: string): string {
  return `parley:pm:{${owner}}:ids`;
}

/** `owner`'s conversations, by the time of their newest message. */
export function privatePeersKey(owner: string): string {
  return `parley:pm:{${owner}}:peers`;
}

/** Accounts with private messages kept. */
export const PRIVATE_OWNERS_KEY = "parley:pm:owners";

/** Held by the server that prunes history this round. */
export const PRUNE_LOCK_KEY = "parley:history:pruning";

export function roomInfoKey(room: string): string {
  return `parley:room:{${room}}:info`;
}

export function nickKey(nick: string): string {
  return `parley:nick:{${nick}}`;
}

export function nodeKey(node: string): string {
  return `parley:node:{${node}}`;
}

export function nodeMembersKey(node: string): string {
  return `parley:node:{${node}}:members`;
}

export function nodeByeKey(node: string): string {
  return `parley:node:{${node}}:bye`;
}

export function accountKey(nick: string): string {
  return `parley:account:{${nick}}`;
}

/** What an account left for its next session (devices.ts). */
export function accountStateKey(nick: string): string {
  return `parley:account:{${nick}}:state`;
}

/** An account's read markers. */
export function accountMarkersKey(nick: string): string {
  return `parley:account:{${nick}}:markers`;
}
