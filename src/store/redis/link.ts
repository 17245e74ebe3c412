/**
 * The link to Redis: two connections (commands, and one for subscriptions,
 * which Redis reserves once it subscribes), reconnecting with back-off for as
 * long as the server runs, and one state the rest of the cluster code and the
 * chat go by: `up` or `down`.
 *
 * Lifecycle. {@linkcode RedisLink.open} checks the URL, starts both
 * connections and waits a little for the first `up`; an unreachable Redis is
 * no reason not to start (the server serves its own clients until the link is
 * up), a refused password is (it will not get better). {@linkcode close} lets
 * go of both connections whatever their state.
 *
 * - **State.** `up` when both connections are ready. A link lost for less
 *   than `graceMs` is not reported (a subscriber killed and back in 50 ms is
 *   nobody's news); every transition is reported once.
 * - **Epoch.** After every connect, and every `checkMs` while connected, the
 *   link reads `parley:epoch` (setting it if absent). A different value means
 *   Redis lost its memory (restarted empty, flushed): the `onNewEpoch`
 *   callbacks run then (claims and presence are re-asserted) before the link
 *   reports itself ready again.
 * - **Liveness.** The same check is the watchdog: no reply within `checkMs`
 *   marks the command connection not ready (a half-open link), until a check
 *   answers again.
 * - **Errors** never throw out of here: node-redis reports them as events
 *   (without an `error` listener it would kill the process); they are logged
 *   once per kind until the link is back, with the password taken out.
 *
 * @module
 */

import { createClient, type RedisClientType } from "npm:@redis/client@5.12.1";
import { errorText } from "../../errors.ts";
import { EPOCH_KEY } from "./keys.ts";
import { detach, SCRIPTS, within } from "./scripts.ts";

/** A node-redis client as the cluster code uses it (RESP2, no modules). */
export type RedisClient = RedisClientType;

/** Whether the link to Redis works. */
export type LinkState = "up" | "down";

/** Which connection became ready. */
export type Connection = "commands" | "subscriber";

/** A `--cluster` URL, taken apart. */
export interface RedisUrl {
  /** As given (with the password), for the client only. */
  readonly url: string;
  /** For logs: the password replaced by `***`. */
  readonly redacted: string;
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  /** The password (decoded), or "" without one: taken out of every logged line. */
  readonly password: string;
}

const URL_FORM = "redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://…";

/**
 * Takes a `--cluster` URL apart; throws a `RangeError` saying what is wrong
 * (the message shows the URL with its password replaced).
 */
export function parseRedisUrl(raw: string): RedisUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RangeError(`Bad --cluster URL ${redactUrl(raw)}: expected ${URL_FORM}`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    // Not shown: whatever else it is, it may hold a password in a form we do not know.
    throw new RangeError(`Bad --cluster URL (${url.protocol}…): expected ${URL_FORM}`);
  }
  const redacted = redactUrl(raw);
  if (url.hostname === "") throw new RangeError(`Bad --cluster URL ${redacted}: no host`);
  const port = url.port === "" ? 6379 : Number(url.port);
  const path = url.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isSafeInteger(db)) {
    throw new RangeError(`Bad --cluster URL ${redacted}: the database must be a number (/0)`);
  }
  if (url.search !== "" || url.hash !== "") {
    throw new RangeError(`Bad --cluster URL ${redacted}: no ?query or #fragment expected`);
  }
  let password = "";
  try {
    password = decodeURIComponent(url.password);
  } catch {
    password = url.password;
  }
  return {
    url: raw,
    redacted,
    tls: url.protocol === "rediss:",
    host: url.hostname,
    port,
    db,
    password,
  };
}

/** `redis://:secret@host:6379/0` → `redis://:***@host:6379/0` (a user name is kept). */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    // Not a URL at all: still never show what may be a password.
    return raw.replace(/\/\/[^@/]*@/, "//***@");
  }
}

/**
 * Back-off before reconnect attempt `retries` (0, 1, …): 50, 100, 200, 400,
 * then 500 ms, plus up to 100 ms jitter, forever. The cap bounds the time
 * from "Redis is back" to "link up" to about 0.6 s.
 */
export function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 100);
}

/** A refused password or user: retrying will not help. */
function refusedCredentials(error: unknown): boolean {
  return /^(WRONGPASS|NOAUTH|NOPERM)/.test(errorText(error));
}

/** How a {@linkcode RedisLink} behaves. */
export interface RedisLinkOptions {
  /** This server's id in the cluster (names its connections in `CLIENT LIST`). */
  node: string;
  /** How long the link may be lost before `down` is reported, in ms (default 1000). */
  graceMs?: number;
  /** The epoch and liveness check period, in ms (default 2000). */
  checkMs?: number;
  /** How long one connect attempt may take, in ms (default 2000). */
  connectTimeoutMs?: number;
  /** Where the link says what went wrong (one line each, never the password). */
  log?: (message: string) => void;
}

/** The two connections to Redis and the state of the link. */
export class RedisLink {
  /** The URL with its password replaced, for logs. */
  readonly where: string;
  readonly node: string;
  readonly #url: RedisUrl;
  readonly #commands: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #graceMs: number;
  readonly #checkMs: number;
  readonly #log: (message: string) => void;
  #state: LinkState = "down";
  /** The command connection is ready and its epoch checked. */
  #commandsUp = false;
  #subscriberUp = false;
  #epoch: string | null = null;
  #closed = false;
  /** Why connecting can never work (a refused password), once known. */
  #fatal: Error | null = null;
  /** Counts connects of the command connection, so a stale ready step gives up. */
  #generation = 0;
  #checking = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #checkTimer: ReturnType<typeof setInterval> | undefined;
  /** The last error logged per connection, so a retry loop logs it once. */
  readonly #lastError = new Map<Connection, string>();
  readonly #stateListeners = new Set<(state: LinkState) => void>();
  readonly #readyListeners = new Set<(which: Connection) => void>();
  readonly #epochListeners = new Set<(epoch: string, previous: string) => void | Promise<void>>();
  readonly #waiters = new Set<() => void>();

  private constructor(url: RedisUrl, options: RedisLinkOptions) {
    if (!/^[A-Za-z0-9._:-]+$/.test(options.node)) {
      throw new RangeError(`Bad node id "${options.node}": letters, digits and . _ : - only`);
    }
    this.#url = url;
    this.where = url.redacted;
    this.node = options.node;
    this.#graceMs = options.graceMs ?? 1000;
    this.#checkMs = options.checkMs ?? 2000;
    this.#log = options.log ?? (() => {});
    const connectTimeout = options.connectTimeoutMs ?? 2000;
    // The command connection has no offline queue: a command while Redis is
    // away fails at once, so the caller knows it did not go out (and queues it
    // itself, bounded). The subscriber keeps node-redis' queue: a SUBSCRIBE
    // given while connecting must wait for the connection, not fail.
    this.#commands = this.#client("commands", connectTimeout, false);
    this.#subscriber = this.#client("subscriber", connectTimeout, true);
  }

  /**
   * Checks `url`, starts connecting and waits up to `waitMs` (default 2000)
   * for the link to be up. Returns the link either way (`state` tells);
   * throws when the URL is bad or Redis refuses the password.
   */
  static async open(
    url: string,
    options: RedisLinkOptions & { waitMs?: number },
  ): Promise<RedisLink> {
    const link = new RedisLink(parseRedisUrl(url), options);
    link.#connect();
    await link.#until(() => link.#state === "up" || link.#fatal !== null, options.waitMs ?? 2000);
    if (link.#fatal !== null) {
      const fatal = link.#fatal;
      await link.close();
      throw fatal;
    }
    return link;
  }

  /** The command connection (no offline queue: commands fail at once while it is down). */
  get commands(): RedisClient {
    return this.#commands;
  }

  /** The subscriber connection (re-subscribes by itself after a reconnect). */
  get subscriber(): RedisClient {
    return this.#subscriber;
  }

  get state(): LinkState {
    return this.#state;
  }

  /** True when commands can be sent now (connected, epoch checked, answering). */
  get ready(): boolean {
    return this.#commandsUp && this.#commands.isReady && !this.#closed;
  }

  /** The Redis epoch last seen, or null before the first connect. */
  get epoch(): string | null {
    return this.#epoch;
  }

  /** Calls `listener` on every `up`/`down` transition (the first `up` included). Returns an unsubscribe. */
  onState(listener: (state: LinkState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /**
   * Calls `listener` each time a connection has become ready: the command
   * connection after its epoch check, the subscriber after node-redis
   * re-subscribed (what was published in between reached nobody: fill it in).
   */
  onReady(listener: (which: Connection) => void): () => void {
    this.#readyListeners.add(listener);
    return () => this.#readyListeners.delete(listener);
  }

  /**
   * Calls `listener` when Redis has a new epoch (it lost its memory). The link
   * waits for the promise (at most 5 s) before it says it is ready again.
   */
  onNewEpoch(listener: (epoch: string, previous: string) => void | Promise<void>): () => void {
    this.#epochListeners.add(listener);
    return () => this.#epochListeners.delete(listener);
  }

  /** True once commands can be sent, false after `ms` or at close. */
  whenReady(ms: number): Promise<boolean> {
    return this.#until(() => this.ready || this.#closed, ms).then(() => this.ready);
  }

  /** Lets go of both connections, whatever their state; pending commands fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    clearInterval(this.#checkTimer);
    this.#commandsUp = this.#subscriberUp = false;
    this.#changed();
    await Promise.all([shutdown(this.#commands), shutdown(this.#subscriber)]);
  }

  #client(which: Connection, connectTimeout: number, offlineQueue: boolean): RedisClient {
    const client: RedisClient = createClient({
      url: this.#url.url,
      name: `parley:${this.node}:${which}`,
      disableOfflineQueue: !offlineQueue,
      socket: {
        connectTimeout,
        reconnectStrategy: (retries: number, cause: Error) =>
          refusedCredentials(cause) ? false : reconnectDelay(retries),
      },
    });
    // Required: node-redis throws on an error event nobody listens to.
    client.on("error", (error: unknown) => this.#onError(which, error));
    client.on("ready", () => this.#onConnected(which));
    client.on("reconnecting", () => this.#onLost(which));
    client.on("end", () => this.#onLost(which));
    return client;
  }

  #connect(): void {
    for (
      const [which, client] of [["commands", this.#commands], [
        "subscriber",
        this.#subscriber,
      ]] as const
    ) {
      client.connect().catch((error: unknown) => {
        if (this.#closed) return;
        // Only a refused password ends the retry loop (reconnectStrategy).
        this.#fatal = new Error(
          `Redis at ${this.where} refused the ${which} connection: ${
            this.#scrub(errorText(error))
          }`,
        );
        this.#log(this.#fatal.message);
        this.#onLost(which);
        this.#changed();
      });
    }
    this.#checkTimer = setInterval(() => detach(this.#check(), this.#log), this.#checkMs);
  }

  #onError(which: Connection, error: unknown): void {
    if (this.#closed) return;
    const text = this.#scrub(errorText(error) || (error as Error)?.name || "error");
    if (this.#lastError.get(which) !== text) {
      this.#lastError.set(which, text);
      this.#log(`Redis ${which} connection to ${this.where}: ${text}`);
    }
    this.#onLost(which);
  }

  #onLost(which: Connection): void {
    if (which === "commands") {
      if (!this.#commands.isReady) this.#commandsUp = false;
    } else {
      this.#subscriberUp = this.#subscriber.isReady;
    }
    this.#refresh();
  }

  #onConnected(which: Connection): void {
    if (this.#closed) return;
    this.#lastError.delete(which);
    if (which === "subscriber") {
      this.#subscriberUp = true;
      this.#emitReady("subscriber");
      this.#refresh();
    } else {
      detach(this.#readyStep(), this.#log);
    }
  }

  /** After a connect: load the scripts, check the epoch, then say the command connection is ready. */
  async #readyStep(): Promise<void> {
    const generation = ++this.#generation;
    try {
      await within(
        Promise.all(SCRIPTS.map((s) => this.#commands.sendCommand(["SCRIPT", "LOAD", s.source]))),
        this.#checkMs,
        "SCRIPT LOAD",
      );
      if (generation !== this.#generation || this.#closed) return;
      this.#commandsUp = true;
      await this.#checkEpoch();
    } catch (error) {
      if (generation !== this.#generation || this.#closed) return;
      this.#commandsUp = false;
      this.#onError("commands", error);
      return; // the next check tries again
    }
    if (generation !== this.#generation || this.#closed || !this.#commandsUp) return;
    this.#lastError.delete("commands");
    this.#emitReady("commands");
    this.#refresh();
  }

  /** The periodic check: epoch, liveness, and a retry of a failed ready step. */
  async #check(): Promise<void> {
    if (this.#closed || this.#checking || !this.#commands.isReady) return;
    this.#checking = true;
    try {
      if (!this.#commandsUp) {
        await this.#readyStep();
      } else {
        const generation = this.#generation;
        try {
          await this.#checkEpoch();
        } catch (error) {
          if (generation === this.#generation && !this.#closed) {
            this.#commandsUp = false;
            this.#onError("commands", error);
          }
        }
      }
    } finally {
      this.#checking = false;
    }
  }

  /** Reads (or sets) `parley:epoch`; runs the epoch listeners when it changed. */
  async #checkEpoch(): Promise<void> {
    const candidate = crypto.randomUUID();
    const replies = await within(
      this.#commands.multi().set(EPOCH_KEY, candidate, { condition: "NX" }).get(EPOCH_KEY).exec(),
      this.#checkMs,
      "epoch check",
    );
    const epoch = String(replies[1]);
    const previous = this.#epoch;
    this.#epoch = epoch;
    if (previous === null || previous === epoch) return;
    for (const listener of [...this.#epochListeners]) {
      try {
        await within(
          Promise.resolve(listener(epoch, previous)),
          5000,
          "re-asserting after a new epoch",
        );
      } catch (error) {
        this.#log(`Redis new epoch: ${this.#scrub(errorText(error))}`);
      }
    }
  }

  #emitReady(which: Connection): void {
    for (const listener of [...this.#readyListeners]) {
      try {
        listener(which);
      } catch (error) {
        this.#log(`Redis link listener failed: ${errorText(error)}`);
      }
    }
    this.#changed();
  }

  /** Works out the state from the two connections; reports a lost link after the grace. */
  #refresh(): void {
    if (this.#closed) return;
    const up = this.#commandsUp && this.#subscriberUp;
    if (up) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
      if (this.#state === "down") this.#setState("up");
    } else if (this.#state === "up" && this.#graceTimer === undefined) {
      const lapse = () => {
        this.#graceTimer = undefined;
        if (!(this.#commandsUp && this.#subscriberUp)) this.#setState("down");
      };
      if (this.#graceMs <= 0) lapse();
      else this.#graceTimer = setTimeout(lapse, this.#graceMs);
    }
  }

  #setState(state: LinkState): void {
    if (this.#state === state || this.#closed) return;
    this.#state = state;
    this.#changed();
    for (const listener of [...this.#stateListeners]) {
      try {
        listener(state);
      } catch (error) {
        this.#log(`Redis link listener failed: ${errorText(error)}`);
      }
    }
  }

  /** Resolves once `condition()` holds (checked at every change), or after `ms`. */
  #until(condition: () => boolean, ms: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve();
      };
      const waiter = () => {
        if (condition()) done();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(waiter);
    });
  }

  /** Lets the waiters look again. */
  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** `text` without the password (as given or URL-encoded). */
  #scrub(text: string): string {
    const secret = this.#url.password;
    if (secret === "") return text;
    return text.replaceAll(secret, "***").replaceAll(encodeURIComponent(secret), "***");
  }
}

/**
 * Closes `client` whatever its state: gracefully (pending replies first, at
 * most 1 s) when it is ready, at once otherwise (`close()` would wait forever
 * for a Redis that is not there).
 */
async function shutdown(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  if (client.isReady) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, 1000));
    await Promise.race([client.close().catch(() => {}), late]);
    clearTimeout(timer);
    if (!client.isOpen) return;
  }
  try {
    client.destroy();
  } catch { /* closed meanwhile */ }
}
