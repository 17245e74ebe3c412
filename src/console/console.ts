/**
 * The server console: the operator types commands into the server's stdin
 * and reads the replies among the log lines (SPEC §10).
 *
 * It runs in one of three ways, chosen by {@linkcode ServerConsole.start}:
 *
 * - **Terminal** (stdin and stdout are terminals, the server in the
 *   foreground): raw mode and an input line at the bottom with the terminal
 *   client's editing (←/→, Home/End, ↑/↓ history, Ctrl-W, Ctrl-U, paste).
 *   Every log line is printed above it through {@linkcode ServerConsole.sink},
 *   so typing is never clobbered. Ctrl-C is a key here, not a signal: it
 *   calls `onInterrupt` (the server starts its graceful shutdown, and exits at
 *   once on the second). Ctrl-D on an empty line closes the console: the
 *   terminal goes back to normal, the server keeps running and logging, and
 *   Ctrl-C is a signal again. The terminal is restored on every way out:
 *   {@linkcode ServerConsole.close} (call it in `finally`), a `Deno.exit`
 *   anywhere (the `unload` event), and an uncaught error (which skips `unload`).
 * - **Lines** (stdin is a pipe or a file, or a terminal while stdout is
 *   not): each line is a command, run in order, replies written to the log
 *   sink (stdout). End of input ends the console, not the server.
 * - **Off while in the background**: a server started with `&` must not
 *   read its terminal, or the kernel stops it (see `job_control.ts`). The
 *   console says so once and waits; when the server is brought to the
 *   foreground (`fg`) it turns on. When it cannot tell (no permission to
 *   look), it stays off and says why.
 *
 * Replies and the console's own lines (`-- …`, problems as `!!! …`) go where
 * log lines go, in order with them: above the input line, or to the sink.
 *
 * `--no-console` is the caller's business: it does not construct a console
 * and gives the Logger its usual sink.
 *
 * @module
 */

import {
  describeProblem,
  helpLines,
  type OperatorCommand,
  parseOperatorLine,
} from "../front/operator_commands.ts";
import { palette } from "../colors.ts";
import type { LogSink } from "../log.ts";
import { BufferedSink } from "../log.ts";
import { LINE_TOO_LONG, LineReader } from "../net/line_reader.ts";
import type { Key } from "../terminal/keys.ts";
import { KeyDecoder } from "../terminal/keys.ts";
import { RawTerminal } from "../terminal/raw_terminal.ts";
import { clearInput } from "../terminal/screen.ts";
import { cleanString } from "../text.ts";
import { ConsoleScreen } from "./console_screen.ts";
import { type Standing, terminalStanding } from "./job_control.ts";

/** A command the server carries out (`/help` the console answers itself). */
export type ServerCommand = Exclude<OperatorCommand, { kind: "help" }>;

/**
 * Carries out one operator command and returns the reply, one string per line
 * (plain text: control characters are removed before they are shown). A
 * throw is shown as the command's failure; the console goes on.
 */
export type CommandHandler = (command: ServerCommand) => Promise<string[]> | string[];

/** Where command lines come from in line mode, when not stdin (tests). */
export interface LineInput {
  read(buffer: Uint8Array): Promise<number | null>;
}

/** What the console needs from the server. */
export interface ServerConsoleOptions {
  /** Runs each command, one at a time, in the order typed. */
  onCommand: CommandHandler;
  /**
   * Ctrl-C on the terminal console, called on every press (in raw mode it is a
   * key, not a SIGINT). The server's answer: the first starts the graceful
   * shutdown, a second exits at once (`Deno.exit`, which restores the
   * terminal). Lines it returns are printed above the input line.
   */
  onInterrupt: () => string[] | void;
  /**
   * Where log lines and replies go when they are not drawn above the input
   * line (line mode, in the background, after Ctrl-D): a `BufferedSink` on
   * stdout unless given.
   */
  sink?: LogSink;
  /** The log is JSON lines (`--log json`): replies written to the sink are JSON lines too. */
  json?: boolean;
  /** Colour the prompt (a terminal, `NO_COLOR` unset). */
  color?: boolean;
  /** The input line's prompt; `parley> ` by default. */
  prompt?: string;
  /** Read command lines from here instead of stdin (line mode; for tests). */
  input?: LineInput;
}

/** What the console is doing. */
export type ConsoleState =
  /** Constructed, not started. */
  | "idle"
  /** Raw mode, input line at the bottom. */
  | "terminal"
  /** Reading command lines (a pipe, a file, or a terminal whose stdout is not one). */
  | "lines"
  /** Waiting to be in the foreground of its terminal. */
  | "background"
  /** Its input ended (Ctrl-D, end of the pipe) or it cannot run; the server goes on. */
  | "ended"
  | "closed";

/** Longest command line read. */
const MAX_COMMAND_LINE = 64 * 1024;
/** A lone ESC is the Escape key if nothing follows it this quickly (as in the client). */
const ESCAPE_WAIT_MS = 100;
/** How often a console in the background looks whether it has been brought to the foreground. */
const FOREGROUND_POLL_MS = 500;

/** The console's own words. */
export const CONSOLE_NOTES = {
  terminal: "console: type /help for commands; Ctrl-C stops the server, Ctrl-D closes the console",
  closed: "console closed (Ctrl-D): the server keeps running; Ctrl-C stops it",
  ended: "console input ended: the server keeps running; SIGINT or SIGTERM stops it",
  failed: (why: string) => `console input failed (${why}): the server keeps running`,
  background: "console off: this server runs in the background of its terminal, and reading " +
    "the terminal would stop it (SIGTTIN); it turns on when you bring the server to the " +
    "foreground (fg)",
  foreground: "console on: the server is in the foreground now",
  unknown: (why: string) =>
    `console off: cannot tell whether this server is in the background of its terminal (${why}), ` +
    "and reading it from the background would stop the server; run with -A, or --no-console",
} as const;

/**
 * The log sink to give the Logger when there is a console: on the terminal
 * console it prints above the input line, otherwise it hands lines to the
 * sink it wraps. Its flush covers both.
 */
export class ConsoleSink implements LogSink {
  readonly #fallback: LogSink;
  #screen: ConsoleScreen | null = null;

  constructor(fallback: LogSink) {
    this.#fallback = fallback;
  }

  /** The sink lines go to when there is no input line. */
  get fallback(): LogSink {
    return this.#fallback;
  }

  write(line: string): void {
    if (this.#screen === null) return this.#fallback.write(line);
    this.#screen.print(splitLines(line), true);
  }

  flush(): Promise<void> {
    return Promise.all([this.#screen?.flush(), this.#fallback.flush()]).then(() => {});
  }

  /** Used by {@linkcode ServerConsole}: lines go above this input line (null: to the fallback). */
  attach(screen: ConsoleScreen | null): void {
    this.#screen = screen;
  }
}

/**
 * The operator's console on the server's stdin. Construct it before the
 * Logger (which writes to {@linkcode ServerConsole.sink}), call
 * {@linkcode ServerConsole.start} once the server is up, and
 * {@linkcode ServerConsole.close} when it has stopped.
 */
export class ServerConsole {
  /** Give this to the Logger: it keeps log lines off the input line. */
  readonly sink: ConsoleSink;
  readonly #options: ServerConsoleOptions;
  readonly #prompt: string;
  #state: ConsoleState = "idle";
  readonly #ended = Promise.withResolvers<void>();
  /** Commands run one after another, in the order typed. */
  #queue: Promise<void> = Promise.resolve();
  #poll: ReturnType<typeof setInterval> | undefined;
  #terminal: TerminalSession | null = null;

  constructor(options: ServerConsoleOptions) {
    this.#options = options;
    this.#prompt = options.prompt ?? "parley> ";
    this.sink = new ConsoleSink(options.sink ?? new BufferedSink(Deno.stdout));
  }

  /** What the console is doing now. */
  get state(): ConsoleState {
    return this.#state;
  }

  /** Resolves when the console's input has ended (or it was closed); the server goes on. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  /**
   * Starts reading: on the terminal (raw mode), line by line, or not at all
   * while the server is in the background of its terminal (said once).
   */
  start(): void {
    if (this.#state !== "idle") return;
    if (this.#options.input) return this.#readLines(this.#options.input);
    if (!Deno.stdin.isTerminal()) return this.#readLines(Deno.stdin);
    const standing = terminalStanding();
    if (standing.place === "foreground") return this.#startOnTerminal();
    this.#waitForForeground(standing);
  }

  /**
   * Stops the console: what is queued is written, the input line erased and
   * the terminal restored. Idempotent. A stdin read in progress cannot be
   * cancelled; its result is ignored (the process exits without it).
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearInterval(this.#poll);
    await this.#terminal?.close();
    this.#terminal = null;
    this.#ended.resolve();
  }

  #waitForForeground(standing: Standing): void {
    if (standing.place === "unknown") {
      this.#note(CONSOLE_NOTES.unknown(standing.why));
      return this.#end();
    }
    this.#state = "background";
    this.#note(CONSOLE_NOTES.background);
    const poll = setInterval(() => {
      if (terminalStanding().place !== "foreground") return;
      clearInterval(poll);
      this.#note(CONSOLE_NOTES.foreground);
      this.#startOnTerminal();
    }, FOREGROUND_POLL_MS);
    Deno.unrefTimer(poll); // waiting must not keep the process alive
    this.#poll = poll;
  }

  #startOnTerminal(): void {
    if (!Deno.stdout.isTerminal()) return this.#readLines(Deno.stdin);
    this.#state = "terminal";
    this.#terminal = new TerminalSession(this.sink, {
      prompt: this.#prompt,
      color: this.#options.color ?? false,
      onLine: (line) => this.#submit(line),
      onInterrupt: () => {
        const lines = this.#options.onInterrupt();
        if (lines) this.#terminal?.print(lines.map(cleanString));
      },
      onEnd: (byUser) => {
        this.#terminal = null;
        if (byUser) this.#note(CONSOLE_NOTES.closed);
        this.#end();
      },
    });
    this.#terminal.start();
  }

  /** Line mode: each line a command; end of input ends the console. */
  #readLines(input: LineInput): void {
    this.#state = "lines";
    const reader = new LineReader(MAX_COMMAND_LINE);
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    let received = false;
    const pump = async () => {
      for (;;) {
        const count = await input.read(buffer);
        if (this.#state !== "lines") return;
        if (count === null) {
          const last = reader.finish();
          if (last !== null && last !== LINE_TOO_LONG) this.#submit(decoder.decode(last));
          return;
        }
        received = true;
        reader.push(buffer.subarray(0, count));
        for (let line = reader.next(); line !== null; line = reader.next()) {
          if (line === LINE_TOO_LONG) {
            const refusal = [`!!! line longer than ${MAX_COMMAND_LINE} bytes ignored`];
            this.#queue = this.#queue.then(() => this.#reply(refusal));
          } else {
            this.#submit(decoder.decode(line));
          }
        }
      }
    };
    pump().then(
      // Nothing ever read (stdin is /dev/null, as under a service manager): nothing to say.
      () =>
        this.#queue.then(() => {
          if (received && this.#state === "lines") this.#note(CONSOLE_NOTES.ended);
        }),
      (error) => {
        // Unreadable from the start (nohup gives a write-only stdin): the console just ends.
        if (!received || this.#state !== "lines") return;
        const why = error instanceof Error ? error.message : String(error);
        return this.#queue.then(() => this.#note(CONSOLE_NOTES.failed(why)));
      },
    ).finally(() => this.#end());
  }

  #end(): void {
    if (this.#state !== "closed") this.#state = "ended";
    this.#ended.resolve();
  }

  /** Queues one typed line; its reply is printed when it is done. */
  #submit(line: string): void {
    const text = cleanString(line);
    this.#queue = this.#queue.then(async () => this.#reply(await this.#run(text)));
  }

  async #run(line: string): Promise<string[]> {
    const parsed = parseOperatorLine(line);
    switch (parsed.type) {
      case "empty":
        return [];
      case "problem":
        return [`!!! ${describeProblem(parsed.problem)}`];
      case "command": {
        const command = parsed.command;
        if (command.kind === "help") return helpLines(command.command);
        try {
          return await this.#options.onCommand(command);
        } catch (error) {
          const why = error instanceof Error ? error.message : String(error);
          return [`!!! /${command.kind} failed: ${why}`];
        }
      }
    }
  }

  /** Prints reply lines: above the input line, or to the sink. */
  #reply(lines: readonly string[]): void {
    const cleaned = lines.flatMap((line) => line.split(/\r?\n/)).map(cleanString);
    if (cleaned.length === 0) return;
    if (this.#terminal) return this.#terminal.print(cleaned);
    for (const line of cleaned) this.sink.fallback.write(this.#format(line));
  }

  /** A line from the console itself, `-- ` first. */
  #note(text: string): void {
    if (this.#terminal) return this.#terminal.print([`-- ${text}`]);
    this.sink.fallback.write(this.#format(`-- ${text}`));
  }

  #format(line: string): string {
    if (!this.#options.json) return line + "\n";
    return JSON.stringify({ ts: new Date().toISOString(), event: "console", text: line }) + "\n";
  }
}

/** What a terminal session tells its owner. */
interface SessionOptions {
  prompt: string;
  color: boolean;
  onLine: (line: string) => void;
  onInterrupt: () => void;
  /** Ctrl-D on an empty line (`byUser`), or the terminal went away. */
  onEnd: (byUser: boolean) => void;
}

/**
 * The terminal while the console owns it: raw mode, keys → the line editor,
 * the input line redrawn. Log lines reach its screen through the sink.
 */
class TerminalSession {
  readonly #sink: ConsoleSink;
  readonly #options: SessionOptions;
  readonly #screen: ConsoleScreen;
  #raw: RawTerminal | null = null;
  #done = false;
  /** Ctrl-D on an empty line ended it. */
  #eof = false;
  #closing: Promise<void> | null = null;
  readonly #onResize = () => this.#screen.resize(columns());
  /** On `Deno.exit` (a second Ctrl-C): erase the input line before raw mode ends. */
  readonly #onUnload = () => this.#raw?.restore(clearInput());
  /**
   * An uncaught error ends the process without `unload`: give the terminal back
   * first, so that the error is readable and the shell usable (unless someone
   * handles the error and the process goes on).
   */
  readonly #onCrash = (event: Event) => {
    if (!event.defaultPrevented) this.#raw?.restore(clearInput() + "\r\n");
  };

  constructor(sink: ConsoleSink, options: SessionOptions) {
    this.#sink = sink;
    this.#options = options;
    this.#screen = new ConsoleScreen(Deno.stdout, {
      prompt: options.prompt,
      columns: columns(),
      color: options.color,
    });
  }

  /** Takes the terminal: log lines queue above the input line from now on. */
  start(): void {
    this.#sink.attach(this.#screen);
    this.#screen.print([`-- ${CONSOLE_NOTES.terminal}`]);
    // Lines already handed to the plain sink go out before raw mode changes how "\n" looks.
    void this.#sink.fallback.flush().then(() => {
      if (this.#done) return;
      // Before RawTerminal's own: this one erases the input line on the way out.
      globalThis.addEventListener("unload", this.#onUnload);
      globalThis.addEventListener("error", this.#onCrash);
      globalThis.addEventListener("unhandledrejection", this.#onCrash);
      this.#raw = new RawTerminal();
      try {
        Deno.addSignalListener("SIGWINCH", this.#onResize);
      } catch {
        // no SIGWINCH (Windows)
      }
      this.#screen.enable();
      this.#readKeys().catch(() => {}).finally(() => this.#finish());
    });
  }

  /** Prints lines above the input line (replies: never dropped). */
  print(lines: readonly string[]): void {
    this.#screen.print(lines);
  }

  /** Writes what is queued, erases the input line and restores the terminal. */
  close(): Promise<void> {
    this.#done = true;
    this.#closing ??= this.#release();
    return this.#closing;
  }

  async #release(): Promise<void> {
    while (this.#screen.pending) await this.#screen.flush();
    // No await from here on: nothing can be printed between the last write and the restore.
    this.#sink.attach(null);
    // Closed before raw mode was on: what waited goes out plainly.
    for (const line of this.#screen.takeQueued()) this.#sink.fallback.write(line + "\n");
    try {
      Deno.removeSignalListener("SIGWINCH", this.#onResize);
    } catch {
      // never added
    }
    this.#raw?.restore(clearInput());
    globalThis.removeEventListener("unload", this.#onUnload);
    globalThis.removeEventListener("error", this.#onCrash);
    globalThis.removeEventListener("unhandledrejection", this.#onCrash);
  }

  /** Input ended (Ctrl-D, or the terminal is gone): give the terminal back, tell the owner. */
  async #finish(): Promise<void> {
    if (this.#done) return;
    await this.close();
    this.#options.onEnd(this.#eof);
  }

  async #readKeys(): Promise<void> {
    const decoder = new KeyDecoder();
    const buffer = new Uint8Array(4096);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      for (;;) {
        const count = await Deno.stdin.read(buffer);
        if (count === null || this.#done) return;
        clearTimeout(timer);
        if (!this.#keys(decoder.push(buffer.subarray(0, count)))) return;
        if (decoder.waitingForEscape) {
          timer = setTimeout(() => this.#keys(decoder.flush()), ESCAPE_WAIT_MS);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Applies keys; false once Ctrl-D on an empty line ends the console. */
  #keys(keys: Key[]): boolean {
    for (const key of keys) {
      if (this.#done) return false;
      const result = this.#screen.editor.handle(key);
      switch (result.type) {
        case "changed":
        case "redraw":
          this.#screen.redraw();
          break;
        case "submit":
          for (const line of result.lines) {
            // The command stays in view above its reply, as a shell shows it.
            if (line.trim() !== "") this.#screen.print([this.#echo(line)]);
            this.#options.onLine(line);
          }
          this.#screen.redraw();
          break;
        case "interrupt":
          this.#options.onInterrupt();
          break;
        case "eof":
          this.#eof = true;
          return false;
        case "none":
          break;
      }
    }
    return true;
  }

  #echo(line: string): string {
    const prompt = this.#options.prompt;
    return (this.#options.color ? palette(true).dim(prompt) : prompt) + line;
  }
}

function columns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

/** A log line or reply as separate lines, without line endings. */
function splitLines(text: string): string[] {
  const lines = text.replace(/\r?\n$/, "").split(/\r?\n/);
  return lines.length === 1 && lines[0] === "" ? [] : lines;
}
