/**
 * A real `redis-server` for the cluster tests: on a free loopback port, with
 * nothing saved to disk (so a restart is a Redis with empty memory: a new
 * epoch), killable and restartable on the same port, and always stopped: by
 * `stop()`, by `await using`, or at the latest when the test process exits.
 *
 * Redis has no "port 0": a free port is asked of the kernel first and handed
 * to redis-server; if another process takes it in between, the start is
 * retried on another one.
 */

/** A running (or killed, until restarted) redis-server. */
export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` (with `:password@` when started with one). */
  readonly url: string;
  /** True while the process runs. */
  readonly running: boolean;
  /** Kills the process (SIGKILL by default: a crash; memory is lost). */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Kills it if running, then starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, waited for); safe to call twice. */
  stop(): Promise<void>;
  /** Runs `redis-cli` against it; its trimmed output. */
  cli(...args: string[]): Promise<string>;
}

/** Children not stopped yet: killed when the test process ends, whatever happened. */
const running = new Set<Deno.ChildProcess>();
globalThis.addEventListener("unload", () => {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function opened(port: number, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return false;
}

/** Starts a redis-server; `password` sets `requirepass`. */
export async function startRedisServer(
  options: { password?: string } = {},
): Promise<RedisServer> {
  let port = freePort();
  let child: Deno.ChildProcess | undefined;
  const extra = options.password === undefined ? [] : ["--requirepass", options.password];

  async function spawn(): Promise<boolean> {
    const process = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        ...extra,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    running.add(process);
    let exited = false;
    process.status.then(() => exited = true);
    const deadline = Date.now() + 3000;
    while (!exited && Date.now() < deadline) {
      if (await opened(port, Math.min(deadline, Date.now() + 50))) {
        child = process;
        return true;
      }
    }
    try {
      process.kill("SIGKILL");
    } catch { /* exited */ }
    await process.status;
    running.delete(process);
    return false;
  }

  for (let attempt = 0; !(await spawn()); attempt++) {
    if (attempt === 3) throw new Error(`redis-server did not start (last port tried: ${port})`);
    port = freePort();
  }

  const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`;
  const server: RedisServer = {
    get port() {
      return port;
    },
    get url() {
      return `redis://${auth}127.0.0.1:${port}`;
    },
    get running() {
      return child !== undefined;
    },
    async kill(signal: Deno.Signal = "SIGKILL") {
      const process = child;
      if (process === undefined) return;
      child = undefined;
      try {
        process.kill(signal);
      } catch { /* exited */ }
      await process.status;
      running.delete(process);
    },
    async restart() {
      await server.kill();
      if (!(await spawn())) throw new Error(`redis-server did not restart on port ${port}`);
    },
    stop() {
      return server.kill("SIGTERM");
    },
    async cli(...args: string[]) {
      const password = options.password === undefined
        ? []
        : ["--no-auth-warning", "-a", options.password];
      const output = await new Deno.Command("redis-cli", {
        args: ["-p", String(port), ...password, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(output.stdout).trim();
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  return server;
}

/** Resolves once `condition()` holds; throws after `ms` (tests never hang on Redis). */
export async function until(
  condition: () => boolean,
  ms: number,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
