/**
 * Test helpers: a server on a free loopback port, line-oriented test clients
 * whose every wait has a deadline, and a runner for the real CLI.
 *
 * @module
 */

import { serve, type ServeOptions, type Server } from "../server.ts";
import { Logger, MemorySink } from "../src/log.ts";

/** The test-only certificate and key (tests/fixtures/README.md): never use them for anything else. */
export const TEST_TLS = {
  certFile: new URL("./fixtures/localhost-cert.pem", import.meta.url).pathname,
  keyFile: new URL("./fixtures/localhost-key.pem", import.meta.url).pathname,
  get cert(): string {
    return Deno.readTextFileSync(this.certFile);
  },
  get key(): string {
    return Deno.readTextFileSync(this.keyFile);
  },
};

/** A server started for one test. */
export interface TestServer {
  port: number;
  /** The IRC listener's port, when the test asked for one (`withIrcPort`). */
  ircPort: number;
  server: Server;
  /** The console lines the server has written so far (text format, no colour). */
  log: MemorySink;
  /** Shuts the server down and waits until every connection is closed. */
  close(): Promise<void>;
}

/**
 * Starts a server on a free port of `hostname` (127.0.0.1), speaking TLS with the
 * test certificate when `tls` is set. Flood control, the connect rate and the per-address limit
 * are off unless given.
 */
export function startServer(
  options: Partial<Omit<ServeOptions, "log" | "signal">> & {
    hostname?: string;
    /** Open an IRC listener too (`--irc-port`). */
    withIrcPort?: boolean;
  } = {},
): TestServer {
  const { hostname = "127.0.0.1", withIrcPort, ...serveOptions } = options;
  const bind = () =>
    serveOptions.tls
      ? Deno.listenTls({ hostname, port: 0, cert: TEST_TLS.cert, key: TEST_TLS.key })
      : Deno.listen({ hostname, port: 0 });
  const listener = bind();
  const ircListener = withIrcPort ? bind() : undefined;
  const log = new MemorySink();
  const controller = new AbortController();
  const server = serve(listener, {
    rate: 0,
    maxPerIp: 0,
    connectRate: 0,
    ...serveOptions,
    irc: { name: "test.parley", ...serveOptions.irc, listener: ircListener },
    log: new Logger(log),
    signal: controller.signal,
  });
  return {
    port: server.addr.port,
    ircPort: (ircListener?.addr as Deno.NetAddr | undefined)?.port ?? 0,
    server,
    log,
    async close() {
      controller.abort("test over");
      await server.finished;
    },
  };
}

/** Waits until `check` holds, polling; fails with `what` after `timeout` ms. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeout = 5000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    }
    await delay(10);
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const encoder = new TextEncoder();

/** A raw TCP client that collects the server's lines. */
export class TestClient {
  readonly conn: Deno.TcpConn | Deno.TlsConn;
  /** Every line received so far, decoded, line endings removed. */
  readonly lines: string[] = [];
  /** Resolves when the server closes the connection (or it fails). */
  readonly closed: Promise<void>;
  /**
   * Telnet commands the server sent (it answers a telnet client's negotiation),
   * taken out of the stream before lines are split: each as its bytes.
   */
  readonly telnetCommands: number[][] = [];
  #cursor = 0;
  #isClosed = false;

  private constructor(conn: Deno.TcpConn | Deno.TlsConn) {
    this.conn = conn;
    this.closed = this.#pump();
  }

  /** Connects to a test server on loopback. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<TestClient> {
    return new TestClient(await Deno.connect({ hostname, port }));
  }

  /** Connects with TLS, trusting the test certificate. */
  static async connectTls(port: number, hostname = "localhost"): Promise<TestClient> {
    const conn = await Deno.connectTls({ hostname, port, caCerts: [TEST_TLS.cert] });
    await conn.handshake();
    return new TestClient(conn);
  }

  /** Connects (with TLS if asked), waits for the welcome, and takes `nick` if given. */
  static async join(
    port: number,
    nick?: string,
    options: { tls?: boolean } = {},
  ): Promise<TestClient> {
    const client = options.tls ? await TestClient.connectTls(port) : await TestClient.connect(port);
    // An empty line says "line client" at once, as `parley client` does: no wait for the
    // server's first-bytes deadline (SPEC §2). The server ignores it as a message.
    client.send("");
    await client.expect(/^\*\*\* welcome to parley, you are /);
    await client.expect(/online/); // the second welcome line
    if (nick) {
      client.send(`/nick ${nick}`);
      await client.expect(`*** you are now ${nick}`);
    }
    return client;
  }

  /**
   * Connects as an IRC client and registers as `nick` (CAP LS 302, NICK, USER,
   * CAP END, as irssi and weechat do); waits for 001 and the end of the MOTD.
   */
  static async registerIrc(
    port: number,
    nick: string,
    options: { caps?: string[] } = {},
  ): Promise<TestClient> {
    const client = await TestClient.connect(port);
    client.send("CAP LS 302");
    client.send(`NICK ${nick}`);
    client.send(`USER ${nick} 0 * :${nick} the tester`);
    await client.expect(/^:\S+ CAP \* LS :/);
    if (options.caps?.length) {
      client.send(`CAP REQ :${options.caps.join(" ")}`);
      await client.expect(/ CAP \S+ ACK :/);
    }
    client.send("CAP END");
    await client.expect(new RegExp(`^:\\S+ 001 ${nick} :`));
    await client.expect(/^:\S+ (376|422) /);
    return client;
  }

  /** Sends an IRC line (CR LF added). */
  sendIrc(line: string): void {
    void this.write(encoder.encode(line + "\r\n"));
  }

  /** This end's port, as the server logs it. */
  get localPort(): number {
    return (this.conn.localAddr as Deno.NetAddr).port;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Sends text followed by LF. */
  send(text: string): void {
    void this.write(encoder.encode(text + "\n"));
  }

  /** Sends raw bytes, all of them. */
  async write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.conn.write(bytes.subarray(written));
  }

  /**
   * Waits for the next line (after those already taken) that equals `match`
   * (a string) or matches it (a RegExp); returns it. Lines before it are skipped.
   */
  async expect(match: string | RegExp, timeout = 5000): Promise<string> {
    const deadline = Date.now() + timeout;
    for (;;) {
      while (this.#cursor < this.lines.length) {
        const line = this.lines[this.#cursor++];
        if (typeof match === "string" ? line === match : match.test(line)) return line;
      }
      if (this.#isClosed) {
        throw new Error(`connection closed before a line matching ${match}; got:\n${this.#tail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`no line matching ${match} within ${timeout} ms; got:\n${this.#tail()}`);
      }
      await delay(5);
    }
  }

  /** Lines not yet taken by `expect`, taking them. */
  take(): string[] {
    const rest = this.lines.slice(this.#cursor);
    this.#cursor = this.lines.length;
    return rest;
  }

  /** Waits for the server to close the connection. */
  async expectClosed(timeout = 5000): Promise<void> {
    await waitUntil(() => this.#isClosed, "the server to close the connection", timeout);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  async #pump(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    const telnet = new TelnetCommands();
    let partial = "";
    try {
      for (let n = await this.conn.read(buffer); n !== null; n = await this.conn.read(buffer)) {
        const text = telnet.strip(buffer.subarray(0, n), this.telnetCommands);
        // IRC lines end in CR LF; the CR is not part of the line (line clients never get one).
        const parts = (partial + decoder.decode(text, { stream: true })).split(/\r?\n/);
        partial = parts.pop()!;
        this.lines.push(...parts);
      }
    } catch {
      // reset or closed by us: either way, no more lines
    } finally {
      this.#isClosed = true;
    }
  }

  #tail(): string {
    return this.lines.slice(-15).map((line) => `  | ${line}`).join("\n");
  }
}

/**
 * Takes telnet commands (`IAC x` or `IAC WILL|WONT|DO|DONT opt`) out of a byte
 * stream, across reads. A parley server's text never holds 0xFF (it is valid
 * UTF-8), so every 0xFF from it starts a telnet command.
 */
class TelnetCommands {
  #command: number[] | null = null;

  strip(bytes: Uint8Array, into: number[][]): Uint8Array {
    if (this.#command === null && !bytes.includes(0xff)) return bytes;
    const data: number[] = [];
    for (const byte of bytes) {
      const command = this.#command;
      if (command === null) {
        if (byte === 0xff) this.#command = [byte];
        else data.push(byte);
        continue;
      }
      command.push(byte);
      const needs = command[1] >= 0xfb && command[1] <= 0xfe ? 3 : 2;
      if (command.length === needs) {
        into.push(command);
        this.#command = null;
      }
    }
    return Uint8Array.from(data);
  }
}

/**
 * A connection that never reads. It sends one empty line first (the server
 * ignores it as a message) so that it is greeted and in the lobby at once,
 * like a client that has said something, instead of after the server's
 * first-bytes wait (SPEC §2).
 */
export async function connectStalled(port: number, hostname = "127.0.0.1"): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname, port });
  await conn.write(new Uint8Array([0x0a]));
  return conn;
}

/** The output of a finished CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `main.ts` with `args` to completion (killed after `timeout` ms). */
export async function runCli(
  args: string[],
  options: { stdin?: string; timeout?: number } = {},
): Promise<CliResult> {
  const child = spawnCli(args);
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(options.stdin ?? "")).catch(() => {});
  await writer.close().catch(() => {});
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 20_000);
  try {
    const output = await child.output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** How to start a CLI process. */
export interface SpawnOptions {
  env?: Record<string, string>;
  /** Shell commands run first, in the same process (e.g. `ulimit -n 64`). */
  shellPrefix?: string;
}

/** Spawns `main.ts` with every stdio piped. The caller must kill and await it. */
export function spawnCli(args: string[], options: SpawnOptions = {}): Deno.ChildProcess {
  const deno = ["run", "-A", MAIN, ...args];
  const [command, commandArgs] = options.shellPrefix
    ? ["bash", ["-c", `${options.shellPrefix}; exec "$0" "$@"`, Deno.execPath(), ...deno]]
    : [Deno.execPath(), deno];
  return new Deno.Command(command, {
    args: commandArgs,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
}

/** Collects a child's piped output as text while it runs. */
export class OutputCollector {
  text = "";
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this.text += decoder.decode(chunk, { stream: true });
    })();
  }

  /** Waits until the text matches `pattern`; returns the match. */
  async waitFor(pattern: RegExp, timeout = 10_000): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null;
    await waitUntil(
      () => (match = this.text.match(pattern)) !== null,
      () => `output matching ${pattern}; got:\n${this.text}`,
      timeout,
    );
    return match!;
  }
}

/** A `main.ts server` process on a free loopback port, with its console collected. */
export interface ServerProcess {
  child: Deno.ChildProcess;
  port: number;
  /** The IRC listener's port, when started with `--irc-port` (0 otherwise). */
  ircPort: number;
  /** The metrics endpoint's port, when started with `--metrics` (0 otherwise). */
  metricsPort: number;
  /** Types a line into the server console (its stdin; with `console: true`). */
  type(line: string): Promise<void>;
  stdout: OutputCollector;
  stderr: OutputCollector;
  /** Sends `signal` and returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

export async function startServerProcess(
  extra: string[] = [],
  options: SpawnOptions & { /** Keep stdin open for console commands. */ console?: boolean } = {},
): Promise<ServerProcess> {
  const child = spawnCli(["server", "--host", "127.0.0.1", "--port", "0", ...extra], options);
  const keyboard = options.console ? child.stdin.getWriter() : null;
  if (!keyboard) await child.stdin.close();
  const stdout = new OutputCollector(child.stdout);
  const stderr = new OutputCollector(child.stderr);
  let port = 0;
  let ircPort = 0;
  let metricsPort = 0;
  try {
    const match = await stdout.waitFor(
      /listening +127\.0\.0\.1:(\d+)(?:  \(tls\))?\n|"event":"listening"(?!.*"protocol").*"port":(\d+)/,
    );
    port = Number(match[1] ?? match[2]);
    if (extra.includes("--metrics")) {
      metricsPort = Number((await stdout.waitFor(/listening +127\.0\.0\.1:(\d+)  \(metrics\)/))[1]);
    }
    if (extra.includes("--irc-port")) {
      ircPort = Number(
        (await stdout.waitFor(/listening +127\.0\.0\.1:(\d+)(?:  \(tls\))?  \(irc\)/))[1],
      );
    }
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`server did not start: ${stderr.text}`, { cause: error });
  }
  return {
    child,
    port,
    ircPort,
    metricsPort,
    async type(line: string) {
      if (!keyboard) throw new Error("started without console: true");
      await keyboard.write(new TextEncoder().encode(line + "\n"));
    },
    stdout,
    stderr,
    async stop(signal: Deno.Signal = "SIGTERM") {
      await keyboard?.close().catch(() => {});
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      const status = await child.status;
      await Promise.all([stdout.done, stderr.done]);
      return status.code;
    },
  };
}

/** A process's current and peak resident memory in bytes, from /proc (Linux). */
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Open file descriptors of this process (Linux). */
export function openDescriptors(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

/** `promise`, or a failure naming `what` after `ms` milliseconds: a test must fail, not hang. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `nc -s SOURCE 127.0.0.1 PORT` (netcat-openbsd): a plain client whose
 * address is `source` (any of 127.0.0.0/8), to test what the server does by
 * address (bans, throttles) while other clients come from 127.0.0.1.
 */
export class NetcatClient {
  readonly child: Deno.ChildProcess;
  readonly output: OutputCollector;
  readonly #keyboard: WritableStreamDefaultWriter<Uint8Array>;

  constructor(port: number, source: string) {
    this.child = new Deno.Command("nc", {
      args: ["-s", source, "127.0.0.1", String(port)],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.output = new OutputCollector(this.child.stdout);
    this.#keyboard = this.child.stdin.getWriter();
  }

  /** Types a line. */
  async send(line: string): Promise<void> {
    await this.#keyboard.write(encoder.encode(line + "\n"));
  }

  /**
   * Resolves with nc's exit code once the server has closed the connection
   * (nc leaves when both its input and the connection have ended: its input
   * is ended here).
   */
  async closedByServer(timeout = 5000): Promise<number> {
    await this.#keyboard.close().catch(() => {});
    return (await withDeadline(this.child.status, timeout, "the server to close nc's connection"))
      .code;
  }

  async close(): Promise<void> {
    await this.#keyboard.close().catch(() => {});
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone already */ }
    await this.child.status;
    await this.output.done;
  }
}

/** Whether a program is installed (on the PATH). */
export async function commandExists(name: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * For a test's `ignore`: true when one of `tools` is missing, after saying
 * out loud which, and that `.ci/run` installs them.
 */
export async function missingTools(test: string, ...tools: string[]): Promise<boolean> {
  const missing: string[] = [];
  for (const tool of tools) if (!(await commandExists(tool))) missing.push(tool);
  if (missing.length > 0) {
    console.warn(`${test}: skipped, not installed: ${missing.join(", ")} (.ci/run installs them)`);
  }
  return missing.length > 0;
}
