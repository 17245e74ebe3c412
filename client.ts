/**
 * The parley client: connects, sends what the person types (or what is piped
 * in), and shows what arrives. Two pumps run together, keyboard → socket and
 * socket → screen; when either ends, the other is stopped and awaited.
 *
 * Piped stdin sends every line and, at end of input, leaves with `/quit` once
 * everything is sent, then prints the rest of what the server says until it
 * closes. Received text is cleaned again, so a hostile server cannot drive the
 * terminal either.
 *
 * @module
 */

import { LINE_TOO_LONG, LineReader } from "./src/line_reader.ts";
import { formatPeer } from "./src/log.ts";
import { type ByteWriter, writeAll } from "./src/outbox.ts";
import { cleanText } from "./src/text.ts";

/** How to reach the server and who to be. */
export interface ClientOptions {
  host: string;
  port: number;
  /** Sent as `/nick NAME` right after connecting. */
  name?: string;
  /** Speak TLS. */
  tls?: boolean;
  /** Extra trusted CA certificates (PEM), for a self-signed server. */
  caCerts?: string[];
}

/** Where the client reads and writes; the process's stdio by default. */
export interface ClientIO {
  input: { read(buffer: Uint8Array): Promise<number | null> };
  output: ByteWriter;
  /** Status lines (connected, lost connection): stderr, so piped stdout stays chat only. */
  status: ByteWriter;
}

/** A failure that ends the client with exit code 1 and one line of explanation. */
export class ClientError extends Error {
  override name = "ClientError";
}

/** Longest line shown from the server; a parley server sends much shorter ones. */
const MAX_INCOMING_LINE = 64 * 1024;
const encoder = new TextEncoder();

/** Runs a client session to its end and returns the exit code (0: left on purpose). */
export async function runClient(options: ClientOptions, io: ClientIO = stdio()): Promise<number> {
  const target = formatPeer({ hostname: options.host, port: options.port });
  const conn = await connect(options);
  await say(io.status, `connected to ${target}${options.tls ? " (TLS)" : ""}\n`);
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
    if (options.name) await writeAll(conn, encoder.encode(`/nick ${options.name}\n`));
    // A failed send means the server is gone, which the screen pump reports.
    // The keyboard pump may still be waiting on stdin: the caller exits the process.
    pumpToServer(io.input, conn, leave).catch(() => {});
    await pumpToScreen(conn, io.output);
    if (quitting) return 0;
    await say(io.status, `connection to ${target} closed by the server\n`);
    return 1;
  } catch (error) {
    if (quitting && isConnectionError(error)) return 0;
    throw new ClientError(`connection to ${target} lost: ${describe(error)}`);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    try {
      conn.close();
    } catch {
      // already closed
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
    throw new ClientError(`cannot connect to ${target}: ${describe(error)}`);
  }
}

/** Server → screen, line by line, cleaned; resolves when the server closes. */
async function pumpToScreen(conn: Deno.Conn, output: ByteWriter): Promise<void> {
  const reader = new LineReader(MAX_INCOMING_LINE);
  const buffer = new Uint8Array(16 * 1024);
  for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
    reader.push(buffer.subarray(0, count));
    let text = "";
    for (let line = reader.next(); line !== null; line = reader.next()) {
      if (line !== LINE_TOO_LONG) text += cleanText(line) + "\n";
    }
    if (text) await writeAll(output, encoder.encode(text));
  }
}

/**
 * Keyboard (or pipe) → server. Each read's lines go out in one write. `exit`
 * and `/quit` leave; so does the end of input, after everything before it.
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
    const lines: Uint8Array[] = [];
    if (count === null) {
      const last = reader.finish();
      if (last !== null && last !== LINE_TOO_LONG) lines.push(last);
    } else {
      reader.push(buffer.subarray(0, count));
      for (let line = reader.next(); line !== null; line = reader.next()) {
        if (line !== LINE_TOO_LONG) lines.push(line);
      }
    }
    let text = "";
    for (const line of lines) {
      const typed = decoder.decode(line);
      const command = typed.trim().toLowerCase();
      if (command === "exit" || command === "/quit" || command.startsWith("/quit ")) {
        if (text) await writeAll(conn, encoder.encode(text));
        return leave(command === "exit" ? "/quit" : typed.trim());
      }
      text += typed + "\n";
    }
    if (text) await writeAll(conn, encoder.encode(text));
    if (count === null) return leave();
  }
}

function stdio(): ClientIO {
  return { input: Deno.stdin, output: Deno.stdout, status: Deno.stderr };
}

function say(writer: ByteWriter, text: string): Promise<void> {
  return writeAll(writer, encoder.encode(text));
}

function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "connection refused (is the server running?)";
  }
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof Deno.errors.NotFound) return "unknown host";
  return error instanceof Error ? error.message : String(error);
}
