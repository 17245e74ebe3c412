/**
 * What a new user of `parley client` tripped over (issue 24), each as it
 * happens, with the client process in a real terminal (tmux) or piped:
 * `--reconnect` replaying the lobby's history and the room's again, a pasted
 * 5,000-byte line shown as said and then refused, and a plain client on a
 * TLS port told only "closed by the server". Skipped, loudly, without tmux.
 */

import assert from "node:assert/strict";
import { missingTools, runCli, startServer, TestClient, withDeadline } from "./helpers.ts";
import { TmuxSession } from "./tmux.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const noTmux = await missingTools("the terminal client under tmux", "tmux");

/** The client in a tmux window of its own; after it ends the window says `exit=N`. */
function clientWindow(...args: string[]): TmuxSession {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), "run", "-A", MAIN, "client", ...args].map(quote).join(" ");
  return new TmuxSession("parley-client", ["sh", "-c", `${command}; echo exit=$?; sleep 60`]);
}

/** A TCP proxy on loopback to `port` whose connections can all be cut at once. */
class CuttableProxy {
  readonly listener: Deno.TcpListener;
  readonly #open = new Set<Deno.Conn>();
  readonly #pumps: Promise<void>[] = [];
  readonly #accepting: Promise<void>;

  constructor(port: number) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept(port);
  }

  get port(): number {
    return this.listener.addr.port;
  }

  async #accept(port: number): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.listener.accept();
      } catch {
        return;
      }
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      this.#open.add(client).add(server);
      this.#pumps.push(pump(client, server), pump(server, client));
    }
  }

  /** Closes every connection under way (both sides): the client sees the server go. */
  cut(): void {
    for (const conn of this.#open) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    this.#open.clear();
  }

  async close(): Promise<void> {
    this.listener.close();
    this.cut();
    await this.#accepting;
    await Promise.all(this.#pumps);
  }
}

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
      await to.write(buffer.subarray(0, n));
    }
  } catch { /* cut */ }
  try {
    to.close();
  } catch { /* closed already */ }
}

/** Rows of the screen and its scrollback (wrapped rows joined) that end with `text`. */
function count(rows: string[], text: string): number {
  return rows.filter((row) => row.endsWith(text)).length;
}

Deno.test({
  name: "client --reconnect: the lines already seen are not shown again, the missed ones once",
  ignore: noTmux,
  async fn() {
    const server = startServer();
    const proxy = new CuttableProxy(server.port);
    const bob = await TestClient.join(server.port, "bob");
    const tmux = clientWindow("--port", String(proxy.port), "--name", "ann", "--reconnect");
    try {
      bob.send("lobby one");
      await tmux.start();
      await tmux.waitFor(
        "ann in the lobby",
        (rows) => rows.some((row) => row.endsWith("lobby one")),
      );
      await tmux.type("/join dev");
      await tmux.press("Enter");
      await tmux.waitFor(
        "ann in #dev",
        (rows) => rows.some((row) => row.includes("in #dev (1 here)")),
      );
      bob.send("/join dev");
      await bob.expect(/you are now in #dev/);
      bob.send("dev one");
      await tmux.waitFor("dev one", (rows) => rows.some((row) => row.endsWith("<bob> dev one")));
      await tmux.type("ann's line");
      await tmux.press("Enter");
      await bob.expect("<ann> ann's line");

      proxy.cut();
      await tmux.waitFor("ann offline", (rows) => rows.some((row) => row.includes("closed by")));
      bob.send("said while ann was away");
      await tmux.waitFor(
        "ann back in #dev",
        (rows) =>
          rows.some((row) => row.includes("connected to 127.0.0.1:") && row.endsWith("again")) &&
          rows.some((row) => row.endsWith("<bob> said while ann was away")),
        { history: true, timeout: 15_000 },
      );
      // Let the rest of the replay arrive, then read the whole screen and its scrollback.
      bob.send("live after");
      const after = await tmux.waitFor(
        "the live line",
        (rows) => rows.some((row) => row.endsWith("<bob> live after")),
        { history: true },
      );
      const screen = after.join("\n");
      assert.equal(count(after, "<bob> lobby one"), 1, screen);
      assert.equal(count(after, "<bob> dev one"), 1, screen);
      assert.equal(count(after, "<ann> ann's line"), 1, screen);
      assert.equal(count(after, "<bob> said while ann was away"), 1, screen);
      assert.ok(after.some((row) => row.endsWith("-- missed in #dev while away:")), screen);
    } finally {
      await tmux.kill();
      bob.close();
      await withDeadline(proxy.close(), 5000, "the proxy to close");
      await server.close();
    }
  },
});

Deno.test({
  name: "client: a pasted 5,000-byte line is refused before it is sent or shown as said",
  ignore: noTmux,
  async fn() {
    const server = startServer();
    const bob = await TestClient.join(server.port, "bob");
    const tmux = clientWindow("--port", String(server.port), "--name", "ann");
    try {
      await tmux.start();
      await tmux.waitFor("ann", (rows) => rows.some((row) => row.endsWith("you are ann")));
      await tmux.type("Q".repeat(5000));
      await tmux.press("Enter");
      const rows = await tmux.waitFor(
        "the refusal",
        (rows) => rows.some((row) => row.includes("!!! line too long (5000 bytes;")),
        { history: true },
      );
      const screen = rows.join("\n");
      assert.ok(
        rows.some((row) =>
          row.endsWith(
            "!!! line too long (5000 bytes; the server takes at most 4096): not sent " +
              "(↑ brings it back)",
          )
        ),
        screen,
      );
      assert.ok(!rows.some((row) => row.includes("<ann> QQQ")), `not shown as said:\n${screen}`);
      // Nothing went out: the next line is the first bob gets, and the server refused nothing.
      await tmux.type("short");
      await tmux.press("Enter");
      assert.equal(await bob.expect(/^<ann> /), "<ann> short");
      const log = server.log.lines.join("\n");
      assert.ok(!log.includes("line too long"), log);
    } finally {
      await tmux.kill();
      bob.close();
      await server.close();
    }
  },
});

Deno.test("a server with another --max-line says so on joining; one with the default does not", async () => {
  const small = startServer({ maxLine: 100 });
  const usual = startServer();
  try {
    const client = await TestClient.join(small.port);
    await client.expect("*** this server takes lines of up to 100 bytes");
    client.close();
    const other = await TestClient.join(usual.port, "bob");
    other.send("/who");
    await other.expect(/^\*\*\* in #lobby/);
    assert.ok(!other.lines.some((line) => line.includes("takes lines")), other.lines.join("\n"));
    other.close();
  } finally {
    await small.close();
    await usual.close();
  }
});

Deno.test("client: piped, on a TLS port, says the server speaks TLS there and exits 1", async () => {
  const server = startServer({ tls: true });
  try {
    const result = await runCli(["client", "--port", String(server.port)], { stdin: "hi\n" });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /connection to 127\.0\.0\.1:\d+ closed: the server speaks TLS on this port; connect with --tls/,
    );
  } finally {
    await server.close();
  }
});

Deno.test({
  name: "client: on a terminal, on a TLS port, says the server speaks TLS there and exits 1",
  ignore: noTmux,
  async fn() {
    const server = startServer({ tls: true });
    const tmux = clientWindow("--port", String(server.port), "--reconnect");
    try {
      await tmux.start();
      const rows = await tmux.waitFor(
        "the exit",
        (rows) => rows.some((row) => row.startsWith("exit=")),
        { history: true }, // wrapped rows joined
      );
      const screen = rows.join("\n");
      assert.ok(rows.includes("exit=1"), screen);
      assert.match(
        screen,
        /-- connection to 127\.0\.0\.1:\d+ closed: the server speaks TLS on this port; connect with --tls/,
      );
      assert.doesNotMatch(screen, /reconnecting/, "trying again cannot help");
    } finally {
      await tmux.kill();
      await server.close();
    }
  },
});
