/**
 * Budgets for expensive work (SPEC §4 "expensive work", §10): how much
 * password hashing, registering and operator guessing one address, and the
 * whole server, may ask for. Everything here refuses with a time to wait,
 * never with an exception, and never makes anyone else wait on the refused
 * party.
 *
 * The defaults ({@linkcode DEFAULT_BUDGETS}) and why:
 *
 * - **Addresses are counted by {@linkcode addressKey}**: IPv4 per address,
 *   IPv6 per /64 (`v6Prefix`). A subscriber usually gets a whole /64; counting
 *   single IPv6 addresses would give one attacker 2^64 budgets (ergo counts
 *   per /64 too).
 * - **Password hashing ({@linkcode FairQueue}): 2 at once, 32 waiting, at
 *   most 8 of them from one address, and one address's hashes one at a
 *   time; logins before registrations.** scrypt takes ~100 ms and 32 MiB on
 *   one core: two at once keep a core free for the chat on a small machine.
 *   Waiting addresses are served in turn (one hash each per round), so a
 *   newcomer waits at most one round (32 × 100 ms / 2 ≈ 1.6 s) however many
 *   requests others have queued, and a login never waits behind a
 *   registration. When the 32 places are full, a login takes the place of a
 *   waiting registration, and a request from an address holding fewer places
 *   than the greediest one takes that one's newest place (whose sender is
 *   told to try again): an address with nothing waiting is therefore never
 *   refused because others flood. The old bound (256 waiting, first come
 *   first served) let a flood of 300 connections fill it, and every login
 *   after it was dropped.
 * - **Wrong passwords ({@linkcode AttemptThrottle}): 3 a minute per
 *   address**, counted *before* the hash starts (a reservation, released when
 *   the password was right) and one hash at a time per address, so 32
 *   connections guessing at once get 3 guesses, not 34. A right password
 *   releases only its own reservation: proving one's own nick does not wipe
 *   the failures of the same address (that would let a guesser reset its
 *   budget with an account of its own).
 * - **Registrations and password changes ({@linkcode RateLimit}): 3 a minute
 *   per address, 5 at once; on the whole server 60 a minute, 30 at once.** A
 *   person registers once; a household or a classroom behind one address a
 *   few times. The server-wide bucket bounds the hashing (≤ 1 a second
 *   sustained, an eighth of two cores) and how fast the account table can be
 *   filled from many addresses (≤ 86,400 a day); a flood from many addresses
 *   then delays registrations, never logins.
 * - **Wrong operator passwords: 3 per 10 minutes per address, 30 per 10
 *   minutes on the whole server**, reserved before the compare like logins.
 *   The compare is cheap, so the bound is about guessing: 4,320 guesses a day
 *   from everywhere together instead of 405 a second from one address. An
 *   attacker can use up the server-wide budget and keep remote operators out
 *   for 10 minutes at a time; the server console is never throttled, and an
 *   operator password that cannot be guessed matters more than that.
 *
 * Memory is bounded: every table forgets the stalest addresses past
 * `maxAddresses` (10,000), and the queue holds at most 32 waiting requests.
 * Time is passed in (`now`, ms), except the queue's own measure of how long a
 * hash takes.
 *
 * @module
 */

import { addressKey, DEFAULT_V6_PREFIX } from "./cidr.ts";

export { addressKey };

/** How an {@linkcode AttemptThrottle} counts. */
export interface AttemptThrottleOptions {
  /** Failures allowed per window (3). */
  limit?: number;
  /** The window, in ms (60 s). */
  windowMs?: number;
  /** Addresses remembered at most (10 000); beyond that the stalest is forgotten. */
  maxAddresses?: number;
}

/** An attempt counted as failed until it is {@linkcode AttemptThrottle.release}d. */
export interface Reservation {
  readonly key: string;
  readonly time: number;
}

/**
 * Failed attempts per address (or any key): after `limit` failures within
 * `windowMs`, the address must wait until the oldest of them is older than the
 * window. An attempt is counted when it starts ({@linkcode reserve}) and
 * forgiven when it succeeds ({@linkcode release}), so attempts running at the
 * same time cannot overtake the count. Remembers at most `limit` times per
 * address and at most `maxAddresses` addresses; addresses whose failures are
 * all stale are forgotten as new ones come in.
 */
export class AttemptThrottle {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  /** Failure times per address, oldest first; the map is in order of each address's last failure. */
  readonly #failures = new Map<string, number[]>();

  constructor(options: AttemptThrottleOptions = {}) {
    this.#limit = Math.max(1, options.limit ?? 3);
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
  }

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  blocked(address: string, now: number): number {
    const times = this.#recent(address, now);
    if (times === undefined || times.length < this.#limit) return 0;
    return times[0] + this.#windowMs - now;
  }

  /**
   * Counts an attempt from `address` as failed from now on, whatever the
   * budget says (check {@linkcode blocked} first); {@linkcode release} it if
   * it succeeds.
   */
  reserve(address: string, now: number): Reservation {
    this.failed(address, now);
    return { key: address, time: now };
  }

  /** The reserved attempt succeeded: it no longer counts. Other failures of its address still do. */
  release(reservation: Reservation): void {
    const times = this.#failures.get(reservation.key);
    if (times === undefined) return;
    const at = times.indexOf(reservation.time);
    if (at !== -1) times.splice(at, 1);
    if (times.length === 0) this.#failures.delete(reservation.key);
  }

  /** Counts a failed attempt from `address`. */
  failed(address: string, now: number): void {
    this.#forgetStale(now);
    const times = this.#recent(address, now) ?? [];
    times.push(now);
    if (times.length > this.#limit) times.shift();
    this.#failures.delete(address); // to the end: the most recent failure
    this.#failures.set(address, times);
    for (const stalest of this.#failures.keys()) {
      if (this.#failures.size <= this.#maxAddresses) break;
      this.#failures.delete(stalest);
    }
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#failures.size;
  }

  /** `address`'s failures still inside the window (forgetting it when none are). */
  #recent(address: string, now: number): number[] | undefined {
    const times = this.#failures.get(address);
    if (times === undefined) return undefined;
    while (times.length > 0 && times[0] <= now - this.#windowMs) times.shift();
    if (times.length === 0) {
      this.#failures.delete(address);
      return undefined;
    }
    return times;
  }

  /** Drops addresses whose last failure is outside the window: they are first in the map. */
  #forgetStale(now: number): void {
    for (const [address, times] of this.#failures) {
      if (times.length > 0 && times[times.length - 1] > now - this.#windowMs) break;
      this.#failures.delete(address);
    }
  }
}

/** How a {@linkcode RateLimit} refills. */
export interface RateLimitOptions {
  /** Tokens a key gets back per minute (0: no limit). */
  perMinute: number;
  /** Tokens a key may hold (what it may spend at once). */
  burst: number;
  /** Keys remembered at most (10 000); beyond that the stalest is forgotten (and starts full). */
  maxAddresses?: number;
}

/**
 * A token bucket per key: each request takes a token, `perMinute` come back a
 * minute, at most `burst` are held. A key that has not been seen since its
 * bucket refilled is forgotten (a full bucket is what an unknown key gets).
 */
export class RateLimit {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxAddresses: number;
  /** Tokens left and when they were counted, per key; in order of last use. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimitOptions) {
    this.#perMs = Math.max(0, options.perMinute) / 60_000;
    this.#burst = Math.max(1, options.burst);
    this.#maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
  }

  /** Takes a token for `key`: 0 when there was one, else the ms until there is one (nothing taken). */
  take(key: string, now: number): number {
    if (this.#perMs === 0) return 0;
    this.#forgetFull(now);
    const tokens = this.#tokens(key, now);
    if (tokens < 1) return Math.ceil((1 - tokens) / this.#perMs);
    this.#buckets.delete(key); // to the end: the most recently used
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    for (const stalest of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxAddresses) break;
      this.#buckets.delete(stalest);
    }
    return 0;
  }

  /** Gives back a token taken for work that was then not done. */
  refund(key: string, now: number): void {
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return;
    bucket.tokens = Math.min(this.#burst, this.#tokens(key, now) + 1);
    bucket.at = now;
  }

  /** Keys remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  #tokens(key: string, now: number): number {
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return this.#burst;
    return Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
  }

  /** Forgets keys whose bucket is full again: the stalest come first. */
  #forgetFull(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs < this.#burst) break;
      this.#buckets.delete(key);
    }
  }
}

/** How a {@linkcode FairQueue} shares its places. */
export interface FairQueueOptions {
  /** Jobs running at once (2). */
  running?: number;
  /** Jobs waiting at most, from everyone (32). */
  waiting?: number;
  /** Jobs one key may have waiting (8); each key's jobs run one at a time. */
  perAddress?: number;
}

/** What {@linkcode FairQueue.run} gives: the job's value, or when to try again. */
export type Queued<T> =
  | { done: true; value: T }
  /** Not run: `scope` "address" when the key has its share waiting, "server" when all places are taken. */
  | { done: false; seconds: number; scope: "address" | "server" };

interface Job {
  key: string;
  /** 0: urgent (a login), 1: the others (a new password's hash). */
  lane: 0 | 1;
  /** Order of arrival, to find the newest. */
  seq: number;
  start(): void;
  refuse(seconds: number, scope: "address" | "server"): void;
}

/**
 * Expensive jobs (password hashes), a few at a time, shared fairly between
 * keys (addresses): each key's jobs run one at a time, and keys with jobs
 * waiting take turns, one job each per round. Urgent jobs (logins) go before
 * the others (registrations, password changes), so that a flood of
 * registrations never delays a login by more than the jobs already running.
 *
 * At most `waiting` jobs wait, at most `perAddress` of one key. When all
 * places are taken, an urgent job takes the place of the newest other job of
 * the key holding most places; otherwise a job from a key holding fewer places
 * than the greediest key takes that key's newest place in its own lane. The
 * job that loses its place is refused: one key's flood can delay others by
 * one round at most and never shut them out. Refusals are values with a time
 * to wait, never exceptions; a job that throws rejects its own promise only.
 */
export class FairQueue {
  readonly #maxRunning: number;
  readonly #maxWaiting: number;
  readonly #perAddress: number;
  readonly #now: () => number;
  #running = 0;
  /** Keys with a job running. */
  readonly #busy = new Set<string>();
  /** Waiting jobs per key, urgent and the others; each map's order is the order of turns. */
  readonly #lanes: [Map<string, Job[]>, Map<string, Job[]>] = [new Map(), new Map()];
  #waitingCount = 0;
  #seq = 0;
  /** How long a job takes, on average (ms), for the "try again in" estimate. */
  #averageMs = 150;

  constructor(options: FairQueueOptions = {}, now: () => number = () => performance.now()) {
    this.#maxRunning = Math.max(1, options.running ?? 2);
    this.#maxWaiting = Math.max(0, options.waiting ?? 32);
    this.#perAddress = Math.max(0, options.perAddress ?? 8);
    this.#now = now;
  }

  /** Runs `work` for `key` in its turn (`urgent`: before the others), or says when to try again. */
  run<T>(
    key: string,
    work: () => Promise<T>,
    options: { urgent?: boolean } = {},
  ): Promise<Queued<T>> {
    return new Promise<Queued<T>>((resolve, reject) => {
      const job: Job = {
        key,
        lane: options.urgent ? 0 : 1,
        seq: ++this.#seq,
        start: () => {
          const started = this.#now();
          Promise.resolve().then(work).then(
            (value) => resolve({ done: true, value }),
            reject,
          ).finally(() => this.#finished(key, started));
        },
        refuse: (seconds, scope) => resolve({ done: false, seconds, scope }),
      };
      const held = this.#held(key);
      if (held === 0 && !this.#busy.has(key) && this.#running < this.#maxRunning) {
        return this.#start(job);
      }
      if (held >= this.#perAddress) return job.refuse(this.#secondsFor(held + 1), "address");
      if (this.#waitingCount >= this.#maxWaiting) {
        const victim = this.#victim(job.lane, held);
        if (victim === null) return job.refuse(this.#secondsFor(1), "server");
        this.#remove(victim);
        victim.refuse(this.#secondsFor(1), "server");
      }
      const lane = this.#lanes[job.lane];
      const queue = lane.get(key);
      if (queue) queue.push(job);
      else lane.set(key, [job]);
      this.#waitingCount++;
    });
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }

  /** Jobs waiting now. */
  get waiting(): number {
    return this.#waitingCount;
  }

  #held(key: string): number {
    return (this.#lanes[0].get(key)?.length ?? 0) + (this.#lanes[1].get(key)?.length ?? 0);
  }

  #start(job: Job): void {
    this.#running++;
    this.#busy.add(job.key);
    job.start();
  }

  #finished(key: string, started: number): void {
    this.#running--;
    this.#busy.delete(key);
    this.#averageMs = 0.8 * this.#averageMs + 0.2 * Math.max(1, this.#now() - started);
    this.#next();
  }

  /** Starts waiting jobs while there is room: urgent first, the first key in turn that is not running. */
  #next(): void {
    while (this.#running < this.#maxRunning) {
      const job = this.#take(this.#lanes[0]) ?? this.#take(this.#lanes[1]);
      if (job === undefined) return;
      this.#start(job);
    }
  }

  /** The first job of the first key in `lane` whose last job is done; that key goes to the back. */
  #take(lane: Map<string, Job[]>): Job | undefined {
    for (const [key, jobs] of lane) {
      if (this.#busy.has(key)) continue;
      const job = jobs.shift()!;
      this.#waitingCount--;
      lane.delete(key);
      if (jobs.length > 0) lane.set(key, jobs);
      return job;
    }
    return undefined;
  }

  /**
   * Whose place a job in `lane` from a key holding `held` places takes, when
   * all are taken: the newest non-urgent job of the greediest key if the job is
   * urgent and there is one; else the newest job in the same lane of the key
   * holding most places (ties: the one whose newest job came last), if it holds
   * more than `held`. Null: nobody's.
   */
  #victim(lane: 0 | 1, held: number): Job | null {
    if (lane === 0 && this.#lanes[1].size > 0) return this.#greediest(this.#lanes[1], -1);
    return this.#greediest(this.#lanes[lane], held);
  }

  #greediest(lane: Map<string, Job[]>, held: number): Job | null {
    let best: Job | null = null;
    let most = held;
    for (const [key, jobs] of lane) {
      const count = this.#held(key);
      const newest = jobs[jobs.length - 1];
      if (count > most || (count === most && best !== null && newest.seq > best.seq)) {
        best = newest;
        most = count;
      }
    }
    return best;
  }

  #remove(job: Job): void {
    const lane = this.#lanes[job.lane];
    const jobs = lane.get(job.key)!;
    jobs.splice(jobs.indexOf(job), 1);
    if (jobs.length === 0) lane.delete(job.key);
    this.#waitingCount--;
  }

  /** Seconds until a job `rounds` turns back would start, at least 1. */
  #secondsFor(rounds: number): number {
    const keys = new Set([...this.#lanes[0].keys(), ...this.#lanes[1].keys(), ...this.#busy]).size;
    const roundMs = this.#averageMs * Math.max(1, keys / this.#maxRunning);
    return Math.max(1, Math.ceil((rounds * roundMs) / 1000));
  }
}

/** Every budget of expensive work; each one can be changed on its own. */
export interface Budgets {
  /** IPv6 clients are counted per network of this many bits (64); IPv4 per address. */
  v6Prefix: number;
  /** Wrong passwords per address (identify, IRC PASS, the old one of /password). */
  loginFailures: AttemptThrottleOptions;
  /** Registrations and password changes per address. */
  registrations: RateLimitOptions;
  /** Registrations and password changes on the whole server. */
  serverRegistrations: RateLimitOptions;
  /** Wrong operator passwords per address. */
  operFailures: AttemptThrottleOptions;
  /** Wrong operator passwords on the whole server. */
  serverOperFailures: AttemptThrottleOptions;
  /** Password hashing. */
  passwordQueue: FairQueueOptions;
}

/** The defaults, chosen for a public server on a small machine (see the module header). */
export const DEFAULT_BUDGETS: Readonly<Budgets> = Object.freeze({
  v6Prefix: DEFAULT_V6_PREFIX,
  loginFailures: { limit: 3, windowMs: 60_000 },
  registrations: { perMinute: 3, burst: 5 },
  serverRegistrations: { perMinute: 60, burst: 30 },
  operFailures: { limit: 3, windowMs: 10 * 60_000 },
  serverOperFailures: { limit: 30, windowMs: 10 * 60_000 },
  passwordQueue: { running: 2, waiting: 32, perAddress: 8 },
});

/** The defaults with some budgets changed (each given one replaces its default entirely). */
export function budgets(changed: Partial<Budgets> = {}): Budgets {
  return { ...DEFAULT_BUDGETS, ...changed };
}

/** Milliseconds to wait, as the whole seconds a person is told (at least 1). */
export function waitSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
