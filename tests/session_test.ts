/** One line session against a scripted connection, for orderings a real socket cannot pin down. */

import { LineSession } from "../src/front/line/session.ts";
import { lineRenderer } from "../src/front/line/render.ts";
import { LOBBY } from "../src/protocol/names.ts";
import assert from "node:assert/strict";
import { Chat, type Renderer } from "../src/core/chat.ts";
import { Logger, MemorySink } from "../src/log.ts";
import { Connection } from "../src/net/connection.ts";
import { WriteScheduler } from "../src/net/outbox.ts";

/** A connection whose reads the test answers one at a time. */
class ScriptedConn {
  readonly remoteAddr = { transport: "tcp", hostname: "127.0.0.1", port: 40000 } as Deno.NetAddr;
  readonly localAddr = { transport: "tcp", hostname: "127.0.0.1", port: 12000 } as Deno.NetAddr;
  #pending:
    | { buffer: Uint8Array; resolve: (n: number | null) => void; reject: (e: Error) => void }
    | null = null;
  closed = false;

  read(buffer: Uint8Array): Promise<number | null> {
    return new Promise((resolve, reject) => this.#pending = { buffer, resolve, reject });
  }
  /** Answers the read in progress with `text`. */
  deliver(text: string): void {
    const bytes = new TextEncoder().encode(text);
    const pending = this.#pending!;
    this.#pending = null;
    pending.buffer.set(bytes);
    pending.resolve(bytes.length);
  }
  get reading(): boolean {
    return this.#pending !== null;
  }
  write(bytes: Uint8Array): Promise<number> {
    return Promise.resolve(bytes.length);
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
    this.#pending?.reject(new Deno.errors.Interrupted("operation canceled"));
    this.#pending = null;
  }
}

/** Someone else in the lobby, recording what reaches them. */
class Listener {
  readonly renderer: Renderer = lineRenderer;
  readonly heard: string[] = [];
  readonly address = "192.0.2.1";
  remove(): void {}
  send(bytes: Uint8Array): void {
    this.heard.push(new TextDecoder().decode(bytes));
  }
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(check(), "timed out");
}

Deno.test("a line that arrives after the session was ended from outside is not carried out", async () => {
  const chat = new Chat();
  const listener = new Listener();
  const other = await chat.enterAsGuest(listener);
  await chat.apply(other, { kind: "join", room: LOBBY, move: false });
  const log = new MemorySink();
  const conn = new ScriptedConn();
  const limits = { maxLine: 4096, rate: 0, burst: 1, sendQueue: 1 << 20, closeGrace: 100 };
  const connection = new Connection(
    conn as unknown as Deno.Conn,
    { hostname: "127.0.0.1", port: 40000 },
    { limits, scheduler: new WriteScheduler() },
  );
  const ended = Promise.withResolvers<void>();
  const session = new LineSession(connection, {
    chat,
    log: new Logger(log),
    maxLine: 4096,
    idleTimeout: 1,
    onEnd: () => ended.resolve(),
  });
  await session.start();
  const running = ended.promise;
  await until(() => conn.reading);
  conn.deliver("before the end\n");
  await until(() => conn.reading);
  session.stop("idle");
  conn.deliver("after the end\n"); // already in flight when the session ended
  await running;
  const heard = listener.heard.join("");
  assert.match(heard, /before the end/);
  assert.doesNotMatch(heard, /after the end/);
  assert.ok(!log.lines.some((line) => line.includes("after the end")));
  assert.ok(log.lines.some((line) => line.includes('reason="idle"')));
});
