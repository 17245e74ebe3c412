/**
 * The Lua scripts parley runs in Redis, and how they are called. A script runs
 * atomically: nothing else happens in Redis between its first and last
 * command, which is what makes a room's order one order everywhere (the
 * sequence number, the log entry and the publish happen together) and a nick
 * claim's check-and-set safe.
 *
 * Scripts are called by their SHA1 (`EVALSHA`); {@linkcode RedisLink} loads
 * them after every connect, and {@linkcode runScript} falls back to `EVAL`
 * when Redis has forgotten one (`SCRIPT FLUSH`, a restart).
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  AbortError,
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  type RedisClientType,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from "npm:@redis/client@5.12.1";
import { errorText } from "../../errors.ts";

/** A script with its SHA1. */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, source: string): Script {
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * Lua shared by the scripts that keep history (prepended to their source).
 *
 * - `addAt(stream, ms, fields)`: an entry at `<ms>-*`, or right after the
 *   newest when that is later (a stream's ids only grow), so an entry's id is
 *   its message's time near enough to find it by time; returns the id.
 * - `makeRoom(stream, ids, keep)`: deletes the oldest entries beyond `keep - 1`
 *   (room for one more) and their msgids (`m` field) from hash `ids`.
 */
const HISTORY_LUA = `
local function addAt(key, ms, fields)
  local id = redis.pcall('XADD', key, ms .. '-*', unpack(fields))
  if type(id) == 'table' and id.err then
    local info = redis.call('XINFO', 'STREAM', key)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then ms = string.match(info[i + 1], '^(%d+)') end
    end
    id = redis.call('XADD', key, ms .. '-*', unpack(fields))
  end
  return id
end
local function forgetEntries(key, ids, entries)
  for _, entry in ipairs(entries) do
    local f = entry[2]
    for j = 1, #f, 2 do
      if f[j] == 'm' then redis.call('HDEL', ids, f[j + 1]) end
    end
    redis.call('XDEL', key, entry[1])
  end
end
local function makeRoom(key, ids, keep)
  local n = redis.call('XLEN', key) - keep + 1
  if n > 0 then forgetEntries(key, ids, redis.call('XRANGE', key, '-', '+', 'COUNT', n)) end
end
`;

/**
 * Publishes a batch of one feed's events: consecutive sequence numbers, one
 * log entry each, room messages also into the room's history, one PUBLISH of
 * the whole batch. Remembers the batch id for a while, so that re-sending a
 * batch whose reply was lost publishes nothing twice.
 *
 * KEYS: meta, log, history, sent, history ids.
 * ARGV: channel, log cap (≈), history cap (exact; 0 keeps none), epoch
 * candidate, batch id, sent TTL (ms), then per event: keep-in-history (`0`, or
 * `<time> <msgid>` to keep it), JSON.
 * Returns { first seq, feed epoch, 1 when the batch had been published already }.
 *
 * A feed whose meta hash is new (first use, or Redis lost its memory) takes
 * the candidate as its epoch and starts a fresh log at seq 1; receivers see
 * the new epoch in the payload and start over instead of taking seq 1 for a
 * duplicate.
 */
export const FEED_PUBLISH: Script = script(
  "feed-publish",
  HISTORY_LUA + `
local prev = redis.call('GET', KEYS[4])
if prev then
  local s, e = string.match(prev, '^(%d+) (.+)$')
  return { tonumber(s), e, 1 }
end
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[4]) == 1 then
  redis.call('DEL', KEYS[2])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local n = math.floor((#ARGV - 6) / 2)
local first = redis.call('HINCRBY', KEYS[1], 'seq', n) - n + 1
local hmax = tonumber(ARGV[3])
local bodies = {}
for i = 1, n do
  local keep, body = ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  local seq = first + i - 1
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'b', ARGV[5], 'd', body)
  if keep ~= '0' and hmax > 0 then
    local t, mid = string.match(keep, '^(%d+) (%S*)$')
    makeRoom(KEYS[3], KEYS[5], hmax)
    local id = addAt(KEYS[3], t or '0', {'s', seq, 'm', mid or '', 'd', body})
    if mid and mid ~= '' then redis.call('HSET', KEYS[5], mid, id .. ' ' .. t) end
  end
  bodies[i] = body
end
redis.call('PUBLISH', ARGV[1],
  first .. ' ' .. epoch .. ' ' .. ARGV[5] .. ' [' .. table.concat(bodies, ',') .. ']')
redis.call('SET', KEYS[4], first .. ' ' .. epoch, 'PX', ARGV[6])
return { first, epoch, 0 }
`,
);

/**
 * Claims a nick: takes it when free, renews it when `owner` has it already.
 * KEYS: nick. ARGV: owner, since (ms), lease (ms). Returns 1 (ours) or 0 (someone else's).
 */
export const NICK_CLAIM: Script = script(
  "nick-claim",
  `
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.match(cur, '^%d+ (.+)$') ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. ARGV[1], 'PX', ARGV[3])
return 1
`,
);

/**
 * Renews (and re-asserts) many claims at once. KEYS: nicks. ARGV: lease (ms),
 * then per nick: owner, since. Per nick: 1 renewed, 2 re-asserted (it was
 * gone: lease lapsed, reaped, Redis restarted), 3 taken over (the holder's
 * claim is younger: the older claim wins, ties go to the smaller owner id),
 * 0 lost (the holder's claim is older).
 */
export const NICK_RENEW: Script = script(
  "nick-renew",
  `
local out = {}
for i, key in ipairs(KEYS) do
  local owner, since = ARGV[2 * i], ARGV[2 * i + 1]
  local cur = redis.call('GET', key)
  local code = 0
  if not cur then
    code = 2
  else
    local s, o = string.match(cur, '^(%d+) (.+)$')
    if o == owner then
      code = 1
    elseif s == nil or tonumber(since) < tonumber(s)
        or (tonumber(since) == tonumber(s) and owner < o) then
      code = 3
    end
  end
  if code == 1 then
    redis.call('PEXPIRE', key, ARGV[1])
  elseif code > 1 then
    redis.call('SET', key, since .. ' ' .. owner, 'PX', ARGV[1])
  end
  out[i] = code
end
return out
`,
);

/** Gives a nick up if `owner` holds it. KEYS: nick. ARGV: owner. Returns 1 released, 0 not ours. */
export const NICK_RELEASE: Script = script(
  "nick-release",
  `
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^%d+ (.+)$') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`,
);

/** Creates a hash unless it exists. KEYS: hash. ARGV: field, value, … Returns 1 created, 0 existed. */
export const HASH_CREATE: Script = script(
  "hash-create",
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`,
);

/**
 * Moves a read marker forward only (IRCv3 read-marker: it never goes back, whichever
 * server writes first). KEYS: the account's markers hash. ARGV: target, time (ms).
 */
export const MARKER_SET: Script = script(
  "marker-set",
  `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and tonumber(cur) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`,
);

/**
 * Keeps a private message in an account's copy of a conversation, once per
 * msgid, the oldest beyond the cap going.
 *
 * KEYS: conversation, ids, peers. ARGV: msgid, time, peer, JSON, cap.
 * Returns 1 kept, 0 kept already (or a cap of 0).
 */
export const KEEP_PRIVATE: Script = script(
  "keep-private",
  HISTORY_LUA + `
if tonumber(ARGV[5]) <= 0 or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
makeRoom(KEYS[1], KEYS[2], tonumber(ARGV[5]))
local id = addAt(KEYS[1], ARGV[2], {'m', ARGV[1], 'd', ARGV[4]})
redis.call('HSET', KEYS[2], ARGV[1], id .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return 1
`,
);

/**
 * Deletes up to `count` entries said before `cutoff` (ms) from a history
 * stream, with their msgids. KEYS: stream, ids. ARGV: cutoff, count.
 * Returns { deleted, entries left }.
 */
export const PRUNE_HISTORY: Script = script(
  "prune-history",
  HISTORY_LUA + `
local old = redis.call('XRANGE', KEYS[1], '-', '(' .. ARGV[1] .. '-0', 'COUNT', ARGV[2])
forgetEntries(KEYS[1], KEYS[2], old)
return { #old, redis.call('XLEN', KEYS[1]) }
`,
);

/** Every script, for loading after a connect. */
export const SCRIPTS: readonly Script[] = [
  FEED_PUBLISH,
  KEEP_PRIVATE,
  PRUNE_HISTORY,
  NICK_CLAIM,
  NICK_RENEW,
  NICK_RELEASE,
  HASH_CREATE,
  MARKER_SET,
];

/** Runs `script` by its SHA1, or by its source when Redis does not have it. */
export async function runScript(
  client: RedisClientType,
  script: Script,
  call: { keys: readonly string[]; args: readonly string[] },
): Promise<unknown> {
  const tail = [String(call.keys.length), ...call.keys, ...call.args];
  try {
    return await client.sendCommand(["EVALSHA", script.sha, ...tail]);
  } catch (error) {
    if (!(error instanceof ErrorReply) || !error.message.startsWith("NOSCRIPT")) throw error;
    return await client.sendCommand(["EVAL", script.source, ...tail]);
  }
}

/**
 * True when `error` says nothing about the command itself: the link failed
 * (offline, closed, timed out) or Redis is briefly unable (loading, busy), so
 * the same command may work once the link is back. Redis rejecting the
 * command (a wrong type, a script error) is not transient.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ErrorReply) {
    return /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|CLUSTERDOWN)/.test(error.message);
  }
  return error instanceof LinkTimeout || error instanceof ClientOfflineError ||
    error instanceof ClientClosedError || error instanceof SocketClosedUnexpectedlyError ||
    error instanceof DisconnectsClientError || error instanceof ConnectionTimeoutError ||
    error instanceof SocketTimeoutError || error instanceof TimeoutError ||
    error instanceof AbortError || typeof (error as { code?: unknown })?.code === "string";
}

/** A command whose reply did not come in time (the link may be half-open). */
export class LinkTimeout extends Error {
  override name = "LinkTimeout";
}

/**
 * `promise`, or a {@linkcode LinkTimeout} rejection after `ms`. The command
 * itself cannot be taken back: it may still run in Redis.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LinkTimeout(`${what}: no reply from Redis in ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lets `promise` run on its own (a timer's renewal, a beat): a rejection is
 * passed to `report`, never left unhandled (Deno ends the process on one).
 */
export function detach(promise: Promise<unknown>, report?: (message: string) => void): void {
  promise.catch((error) => {
    try {
      report?.(`Unexpected: ${errorText(error)}`);
    } catch { /* nowhere left to report */ }
  });
}
