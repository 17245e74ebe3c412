/**
 * The parley client: connects, sends what the person types (or what is piped
 * in), and shows what arrives. Two pumps run together, keyboard → socket and
 * socket → screen; when either ends, the other is stopped and awaited.
 *
 * On a terminal (stdin and stdout both terminals) the client is interactive:
 * raw mode, an input line at the bottom that received lines never clobber,
 * line editing and history, times and coloured nicks, scrolling back through
 * what it has shown (older lines asked of the server), and `--reconnect`. The
 * pure parts live in `src/terminal/` (keys, line editor, width, screen, chat
 * view); this module only wires them to the terminal and the socket.
 *
 * Piped stdin sends every line and, at end of input, leaves with `/quit` once
 * everything is sent, then prints the rest of what the server says until it
 * closes. Received text is cleaned again, so a hostile server cannot drive the
 * terminal either.
 *
 * @module
 */

import { parseServerLine } from "./src/protocol/line.ts";
import { CommandError } from "./src/errors.ts";
import { sleep, valueWithin } from "./src/async.ts";
import { colorWanted } from "./src/colors.ts";
import { connectionFailure, describeNetworkError as describe } from "./src/errors.ts";
import { type ByteWriter, closeQuietly, writeAll } from "./src/net/io.ts";
import { LINE_TOO_LONG, LineReader } from "./src/net/line_reader.ts";
import { formatPeer } from "./src/net/peer.ts";
import { ChatView } from "./src/terminal/chat_view.ts";
import { type Key, KeyDecoder } from "./src/terminal/keys.ts";
import { RawTerminal } from "./src/terminal/raw_terminal.ts";
import { cleanText } from "./src/text.ts";

/** How to reach the server and who to be. */
export interface ClientOptions {
  /** Server host name or address. */
  host: string;
  /** Server port. */
  port: number;
  /** Sent as `/nick NAME` right after connecting. */
  name?: string;
  /** The password of `name` (`--password-file`): `/identify NAME PASSWORD` is sent instead. */
  password?: string;
  /** Speak TLS. */
  tls?: boolean;
  /** Extra trusted CA certificates (PEM), for a self-signed server. */
  caCerts?: string[];
  /** On a terminal: when the server goes away, connect again with back-off and rejoin. */
  reconnect?: boolean;
}

/** Where the client reads and writes; the process's stdio by default. */
export interface ClientIO {
  /** What to send, line by line (stdin). */
  input: { read(buffer: Uint8Array): Promise<number | null> };
  /** Where received lines go (stdout). */
  output: ByteWriter;
  /** Status lines (connected, lost connection): stderr, so piped stdout stays chat only. */
  status: ByteWriter;
}

/** A failure that ends the client with exit code 1 and one line of explanation. */
export class ClientError extends CommandError {
  override name = "ClientError";
}

/** `/quit` or its alias `/exit`, with or without a reason: the explicit way to leave. */
const QUIT_COMMAND = /^\/(quit|exit)(\s|$)/i;
/** Longest line shown from the server; a parley server sends much shorter ones. */
const MAX_INCOMING_LINE = 64 * 1024;
const encoder = new TextEncoder();

/**
 * Runs a client session to its end and returns the exit code (0: left on
 * purpose). Interactive when `io` is not given and stdin and stdout are both
 * terminals; otherwise the plain line client over `io` (stdio by default).
 */
export async function runClient(options: ClientOptions, io?: ClientIO): Promise<number> {
  if (io === undefined && Deno.stdin.isTerminal() && Deno.stdout.isTerminal()) {
    return await runTerminalClient(options);
  }
  return await runLineClient(options, io ?? stdio());
}

/** The plain line client: for pipes and scripts, and whenever there is no terminal. */
async function runLineClient(options: ClientOptions, io: ClientIO): Promise<number> {
  const target = formatPeer({ hostname: options.host, port: options.port });
  const conn = await connect(options);
  await say(
    io.status,
    `connected to ${target}${options.tls ? " (TLS, certificate verified)" : ""}\n`,
  );
  if (options.reconnect) {
    await say(
      io.status,
      "--reconnect works on a terminal only; without one, a lost server ends the client\n",
    );
  }
  let quitting = false;
  const leave = async (line = "/quit") => {
    if (quitting) return;
    quitting = true;
    await writeAll(conn, encoder.encode(line + "\n")).catch(() => {});
    // Half-close: a parley server answers /quit and closes; other servers see end of input.
    await conn.closeWrite().catch(() => {});
  };
  const onSignal = () => (quitting ? Deno.exit(130) : void leave());
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    await writeAll(conn, encoder.encode(firstLine(options)));
    const nickAnswer = Promise.withResolvers<string | null>();
    const screen = pumpToScreen(conn, io.output, (line) => {
      const answer = answerToNick(line, options.name);
      if (answer !== undefined) nickAnswer.resolve(answer);
    });
    if (options.name) {
      // A script that asked for a name must not post under another: wait for the answer.
      const answer = await Promise.race([
        valueWithin(nickAnswer.promise, NICK_ANSWER_MS, undefined),
        screen.then(() => undefined),
      ]);
      if (typeof answer === "string") {
        throw new ClientError(`cannot join as ${options.name}: ${answer}`);
      }
      if (answer === undefined && !quitting) {
        await say(io.status, `no answer to /nick ${options.name} from ${target}; going on\n`);
      }
    }
    // A failed send means the server is gone, which the screen pump reports.
    // The keyboard pump may still be waiting on stdin: the caller exits the process.
    pumpToServer(io.input, conn, leave).catch(() => {});
    const heard = await screen;
    if (heard === "tls") throw new ClientError(`connection to ${target} closed: ${SPEAKS_TLS}`);
    if (quitting) return 0;
    const silent = heard === "nothing" && !options.tls ? SILENT_CLOSE : "";
    await say(io.status, `connection to ${target} closed by the server${silent}\n`);
    return 1;
  } catch (error) {
    if (error instanceof ClientError) throw error;
    if (quitting && connectionFailure(error) !== "error") return 0;
    throw new ClientError(`connection to ${target} lost: ${describe(error)}`);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    closeQuietly(conn);
  }
}

/** How often the terminal client sets the read marker of what it has shown (`/read`), at most. */
const READ_MARK_MS = 2000;
/** How long `/quit` waits for the server to close before the client closes itself. */
const QUIT_GRACE_MS = 2000;
/** A lone ESC is the Escape key (unbound) if nothing follows it this quickly; Alt+key is ESC and the key. */
const ESCAPE_WAIT_MS = 100;
/** Reconnect back-off: the first wait, and the longest. */
const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 10_000;

/** How long to wait before reconnect attempt `attempt` (0, 1, …): 0.5 s doubling to 10 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.min(attempt, 30), LONGEST_RETRY_MS);
}

/**
 * The interactive client. Connects first (a failure is reported before the
 * terminal is touched), then runs the keyboard in raw mode against the
 * current connection, which `--reconnect` replaces when the server goes away.
 * Raw mode is restored on every way out.
 */
async function runTerminalClient(options: ClientOptions): Promise<number> {
  const target = formatPeer({ hostname: options.host, port: options.port });
  let conn: Deno.Conn | null = await connect(options);
  const terminal = new RawTerminal();
  const view = new ChatView({
    columns: terminal.columns,
    rows: terminal.rows,
    color: colorWanted(Deno.stdout),
    name: options.name,
  });
  const leaving = new AbortController();
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let writes = Promise.resolve();

  /** Sends lines on the current connection, in order; a failure shows up in the reading pump. */
  const send = (lines: readonly string[]) => {
    const current = conn;
    if (!current || lines.length === 0) return;
    const bytes = encoder.encode(lines.join("\n") + "\n");
    writes = writes.then(() => writeAll(current, bytes)).catch(() => {});
  };
  const leave = (line = "/quit") => {
    if (leaving.signal.aborted) {
      // Asked twice (Ctrl-C again while the server takes its time): leave at once.
      terminal.restore(view.clear());
      Deno.exit(130);
    }
    leaving.abort();
    const current = conn;
    if (!current) return; // offline: the reconnect wait ends on the abort
    send([line]);
    writes = writes.then(() => current.closeWrite()).catch(() => {});
    graceTimer = setTimeout(() => closeQuietly(current), QUIT_GRACE_MS);
  };
  const onKeys = (keys: Key[]) => {
    for (const key of keys) {
      if (leaving.signal.aborted) {
        if (key.type === "key" && key.name === "interrupt") leave();
        continue;
      }
      const outcome = view.key(key);
      terminal.write(outcome.output);
      send(outcome.send);
      if (outcome.leave !== null) leave(outcome.leave);
    }
  };
  const onResize = () => terminal.write(view.resize(terminal.columns, terminal.rows));
  // What was shown is read: the account's other devices count unread from there.
  const marking = setInterval(() => send(view.markRead()), READ_MARK_MS);
  const onSignal = () => leave();
  const signals: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal],
    ["SIGTERM", onSignal],
    ["SIGHUP", onSignal],
    ["SIGWINCH", onResize],
  ];
  for (const [signal, handler] of signals) {
    try {
      Deno.addSignalListener(signal, handler);
    } catch {
      // not a signal on this platform (Windows has no SIGWINCH or SIGHUP)
    }
  }

  try {
    terminal.write(
      view.status(
        `connected to ${target}${
          options.tls ? " (TLS, certificate verified)" : ""
        }; /help for commands, Ctrl-D leaves`,
      ),
    );
    send([firstLine(options).slice(0, -1)]);
    // Ends with stdin; the process exits without awaiting it (a pending stdin read cannot be cancelled).
    readKeys(onKeys).catch(() => {}).then(() => leaving.signal.aborted || leave());
    for (;;) {
      let failure: unknown = null;
      let heard: Heard = "nothing";
      try {
        heard = await pumpToView(conn, (lines) => terminal.write(view.received(lines)));
      } catch (error) {
        failure = error;
      }
      closeQuietly(conn);
      conn = null;
      view.online = false;
      if (leaving.signal.aborted) return 0;
      if (heard === "tls") {
        // Trying again cannot help: the port speaks TLS.
        terminal.write(view.status(`connection to ${target} closed: ${SPEAKS_TLS}`));
        return 1;
      }
      const why = failure === null
        ? `closed by the server${heard === "nothing" && !options.tls ? SILENT_CLOSE : ""}`
        : `lost: ${describe(failure)}`;
      if (!options.reconnect) {
        // Said like every status line (time, `--`), above the input line, which then goes.
        terminal.write(view.status(`connection to ${target} ${why}`));
        return 1;
      }
      terminal.write(view.status(`connection to ${target} ${why}`));
      conn = await reconnect(options, {
        signal: leaving.signal,
        report: (text) => terminal.write(view.status(text)),
      });
      if (conn === null) return 0; // left while offline
      view.online = true;
      terminal.write(view.status(`connected to ${target} again`));
      // The nick it proved at the start is proved again (a registered nick refuses a bare /nick).
      // The history replayed on the way back is read against what was shown before.
      send(
        view.rejoin().map((command) =>
          command === `/nick ${options.name}` && options.password
            ? firstLine(options).trimEnd()
            : command
        ),
      );
    }
  } finally {
    clearTimeout(graceTimer);
    clearInterval(marking);
    for (const [signal, handler] of signals) {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch {
        // never added
      }
    }
    closeQuietly(conn);
    terminal.restore(view.clear());
  }
}

/** Keyboard → key events, until stdin ends. A lone ESC is completed by a short pause. */
async function readKeys(onKeys: (keys: Key[]) => void): Promise<void> {
  const decoder = new KeyDecoder();
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (let count = await Deno.stdin.read(buffer); count !== null;) {
      clearTimeout(timer);
      onKeys(decoder.push(buffer.subarray(0, count)));
      if (decoder.waitingForEscape) {
        timer = setTimeout(() => onKeys(decoder.flush()), ESCAPE_WAIT_MS);
      }
      count = await Deno.stdin.read(buffer);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What the server said before it closed: nothing at all, lines, or a TLS
 * record (a plain client on a TLS port gets a TLS alert, 0x15 0x03…, and is
 * closed: it is told to use `--tls`).
 */
type Heard = "nothing" | "lines" | "tls";

/** Said when the server answered with TLS. */
const SPEAKS_TLS = "the server speaks TLS on this port; connect with --tls";
/** Said when a server closed at once without a word (a parley server always greets first). */
const SILENT_CLOSE = " before it said anything (if it speaks TLS on this port, connect with --tls)";

/** Whether the first bytes from the server are a TLS record (alert or handshake, version 3.x). */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03;
}

/** Server → view, cleaned lines batched per read; resolves when the server closes. */
async function pumpToView(conn: Deno.Conn, show: (lines: string[]) => void): Promise<Heard> {
  const reader = new LineReader(MAX_INCOMING_LINE);
  const buffer = new Uint8Array(16 * 1024);
  let heard: Heard = "nothing";
  for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
    if (heard === "nothing") {
      if (looksLikeTls(buffer.subarray(0, count))) return "tls";
      heard = "lines";
    }
    reader.push(buffer.subarray(0, count));
    const lines: string[] = [];
    for (let line = reader.next(); line !== null; line = reader.next()) {
      if (line !== LINE_TOO_LONG) lines.push(cleanText(line));
    }
    if (lines.length) show(lines);
  }
  return heard;
}

/**
 * Connects again and again, waiting {@linkcode reconnectDelay} before each
 * try and saying so through `report`; null when `signal` ends the wait.
 */
async function reconnect(
  options: ClientOptions,
  { signal, report }: { signal: AbortSignal; report: (text: string) => void },
): Promise<Deno.Conn | null> {
  for (let attempt = 0;; attempt++) {
    const wait = reconnectDelay(attempt);
    if (attempt === 0) report(`reconnecting in ${wait / 1000} s`);
    if (!await sleep(wait, signal)) return null;
    // Leaving must not wait for a connect that hangs (a dead network takes minutes to say so).
    const attemptConn = connect(options);
    let onAbort = () => {};
    const aborted = new Promise<null>((resolve) => {
      onAbort = () => resolve(null);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const conn = await Promise.race([attemptConn, aborted]);
      if (conn === null) attemptConn.then(closeQuietly, () => {});
      return conn;
    } catch (error) {
      const cause = error instanceof ClientError ? error.cause : error;
      const reason = cause instanceof Deno.errors.ConnectionRefused
        ? "connection refused"
        : describe(cause);
      report(`reconnect failed (${reason}); next try in ${reconnectDelay(attempt + 1) / 1000} s`);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

async function connect(options: ClientOptions): Promise<Deno.Conn> {
  const target = formatPeer({ hostname: options.host, port: options.port });
  try {
    const conn = options.tls
      ? await Deno.connectTls({
        hostname: options.host,
        port: options.port,
        caCerts: options.caCerts,
      })
      : await Deno.connect({ hostname: options.host, port: options.port });
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    if (options.tls) await (conn as Deno.TlsConn).handshake();
    return conn;
  } catch (error) {
    throw new ClientError(`cannot connect to ${target}: ${describe(error)}`, { cause: error });
  }
}

/** Server → screen, line by line, cleaned, each also shown to `onLine`; resolves when the server closes. */
async function pumpToScreen(
  conn: Deno.Conn,
  output: ByteWriter,
  onLine: (line: string) => void,
): Promise<Heard> {
  const reader = new LineReader(MAX_INCOMING_LINE);
  const buffer = new Uint8Array(16 * 1024);
  let heard: Heard = "nothing";
  for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
    if (heard === "nothing") {
      if (looksLikeTls(buffer.subarray(0, count))) return "tls";
      heard = "lines";
    }
    reader.push(buffer.subarray(0, count));
    let text = "";
    for (let line = reader.next(); line !== null; line = reader.next()) {
      if (line === LINE_TOO_LONG) continue;
      const cleaned = cleanText(line);
      onLine(cleaned);
      text += cleaned + "\n";
    }
    if (text) await writeAll(output, encoder.encode(text));
  }
  return heard;
}

/** How long a piped client with `--name` waits for the server to answer its `/nick`. */
const NICK_ANSWER_MS = 5000;

/**
 * What a server line says about our `/nick NAME`: null when we have the name,
 * the server's words when it refused it, undefined when the line is about
 * something else.
 */
function answerToNick(line: string, name: string | undefined): string | null | undefined {
  if (!name) return undefined;
  const parsed = parseServerLine(line);
  if (parsed.kind === "error") return parsed.text;
  if (parsed.kind === "notice" && parsed.meaning?.about === "renamed") return null;
  // A server that takes a first `/nick NAME` as the name to arrive with says so at once.
  if (
    parsed.kind === "notice" && parsed.meaning?.about === "welcome" && parsed.meaning.nick === name
  ) return null;
  return undefined;
}

/**
 * Pipe → server. Each read's lines go out in one write. Every line is a
 * message (even `exit`): only `/quit` (or `/exit`), or the end of input after
 * everything before it, leaves.
 */
async function pumpToServer(
  input: ClientIO["input"],
  conn: Deno.Conn,
  leave: (line?: string) => Promise<void>,
): Promise<void> {
  const reader = new LineReader(MAX_INCOMING_LINE);
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    const count = await input.read(buffer);
    // Decoded at once: a line the reader returns is only valid until its next call.
    const lines: string[] = [];
    if (count === null) {
      const last = reader.finish();
      if (last !== null && last !== LINE_TOO_LONG) lines.push(decoder.decode(last));
    } else {
      reader.push(buffer.subarray(0, count));
      for (let line = reader.next(); line !== null; line = reader.next()) {
        if (line !== LINE_TOO_LONG) lines.push(decoder.decode(line));
      }
    }
    let text = "";
    for (const typed of lines) {
      if (QUIT_COMMAND.test(typed.trim())) {
        if (text) await writeAll(conn, encoder.encode(text));
        return leave(typed.trim());
      }
      text += typed + "\n";
    }
    if (text) await writeAll(conn, encoder.encode(text));
    if (count === null) return leave();
  }
}

/**
 * What the client sends first: `/nick NAME`, or an empty line (which the
 * server ignores). Either tells a parley server at once that this is a line
 * client, so it greets without waiting for the first-bytes deadline (SPEC §2).
 */
function firstLine(options: ClientOptions): string {
  if (options.name && options.password) return `/identify ${options.name} ${options.password}\n`;
  return options.name ? `/nick ${options.name}\n` : "\n";
}

function stdio(): ClientIO {
  return { input: Deno.stdin, output: Deno.stdout, status: Deno.stderr };
}

function say(writer: ByteWriter, text: string): Promise<void> {
  return writeAll(writer, encoder.encode(text));
}
