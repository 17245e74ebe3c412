/**
 * The real telnet (GNU inetutils, Debian's `telnet`) under tmux, through a
 * proxy that records every byte it sends (issue 24): `Привет Нина` typed as
 * the first line takes telnet to its `telnet>` prompt at the 0x9D inside `Н`;
 * however the user leaves that prompt, the start telnet sent of the line is
 * dropped, the user is told to type it again, and the line typed again
 * reaches the room whole and alone. Skipped, loudly, without tmux or telnet.
 */

import assert from "node:assert/strict";
import { missingTools, startServer, TestClient, withDeadline } from "./helpers.ts";
import { TmuxSession } from "./tmux.ts";

const skip = await missingTools("telnet under tmux", "tmux", "telnet");

/** What telnet sent of `Привет Нина` before its prompt (measured): `Привет ` and the D0 of `Н`. */
const CUT_START = "d0 9f d1 80 d0 b8 d0 b2 d0 b5 d1 82 20 d0";
const IAC_IP = "ff f4";
const IAC_DO_TIMING_MARK = "ff fd 06";
const IAC_WILL_BINARY = "ff fb 00";
const TOLD = "!!! telnet sent only the start of your line (byte 0x9D, in Н, is its escape key)";

/** A TCP proxy on a free port of loopback to `port`, recording what its client sends. */
class RecordingProxy {
  readonly listener: Deno.TcpListener;
  /** The client's bytes, one hex string per read. */
  readonly sent: string[] = [];
  readonly #done: Promise<void>;
  readonly #conns: Deno.Conn[] = [];

  constructor(port: number) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#done = this.#serve(port);
  }

  get port(): number {
    return this.listener.addr.port;
  }

  async #serve(port: number): Promise<void> {
    const client = await this.listener.accept();
    const server = await Deno.connect({ hostname: "127.0.0.1", port });
    this.#conns.push(client, server);
    await Promise.all([
      pump(client, server, (bytes) => this.sent.push(hex(bytes))),
      pump(server, client, () => {}),
    ]);
  }

  async close(): Promise<void> {
    this.listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    await this.#done.catch(() => {});
  }
}

async function pump(from: Deno.Conn, to: Deno.Conn, seen: (bytes: Uint8Array) => void) {
  const buffer = new Uint8Array(4096);
  try {
    for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
      seen(buffer.slice(0, n));
      await to.write(buffer.subarray(0, n));
    }
    await to.closeWrite();
  } catch { /* the other side went away */ }
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
}

/** The ways out of telnet's prompt, and what telnet sends of the cut line with each (measured). */
const WAYS: { name: string; keys: string[][]; sends: string }[] = [
  { name: "Enter", keys: [["Enter"]], sends: CUT_START },
  {
    // At the prompt Ctrl-C sends nothing yet; the Enter that leaves the prompt sends it all.
    name: "Ctrl-C and Enter",
    keys: [["C-c"], ["Enter"]],
    sends: `${CUT_START} ${IAC_IP} ${IAC_DO_TIMING_MARK}`,
  },
  { name: "send ip", keys: [["-l", "send ip"], ["Enter"]], sends: `${CUT_START} ${IAC_IP}` },
];

for (const way of WAYS) {
  Deno.test({
    name: `telnet: \`Привет Нина\` typed first, the prompt left with ${way.name}: the cut ` +
      "start is dropped, the user told, the line typed again reaches the room alone",
    ignore: skip,
    async fn() {
      const server = startServer();
      const proxy = new RecordingProxy(server.port);
      const observer = await TestClient.join(server.port, "obs");
      const tmux = new TmuxSession("parley-telnet", ["telnet", "127.0.0.1", String(proxy.port)]);
      try {
        await tmux.start();
        await tmux.waitFor("the welcome", (rows) => rows.some((row) => row.includes("welcome")));
        await tmux.type("Привет Нина");
        await tmux.press("Enter");
        await tmux.waitFor("telnet's prompt", (rows) => rows.some((row) => row === "telnet>"));
        for (const keys of way.keys) await tmux.press(...keys);
        // With the scrollback: wrapped rows joined (the notice is wider than the window).
        await tmux.waitFor(
          "the user to be told",
          (rows) => rows.some((row) => row.startsWith(`${TOLD}: type it again`)),
          { history: true },
        );
        assert.equal(proxy.sent[0], way.sends, "what telnet sent of the line (measured)");
        assert.ok(
          proxy.sent.includes(IAC_WILL_BINARY) || proxy.sent[1]?.startsWith(IAC_WILL_BINARY),
          `telnet agreed to BINARY: ${proxy.sent.join(" | ")}`,
        );

        await tmux.type("Привет Нина again");
        await tmux.press("Enter");
        const said = await observer.expect(/^<guest-\d+> /);
        assert.equal(said.replace(/^<guest-\d+> /, ""), "Привет Нина again");
        // Sent 8-bit clean: the 0x9D went as it is.
        assert.ok(
          proxy.sent.some((chunk) => chunk.startsWith(`${CUT_START} 9d d0 b8 d0 bd d0 b0 20 61`)),
          proxy.sent.join(" | "),
        );
        const messages = observer.lines.filter((line) => line.startsWith("<"));
        assert.deepEqual(messages, [said], "nothing else reached the room");
      } finally {
        await tmux.kill();
        observer.close();
        await withDeadline(proxy.close(), 5000, "the proxy to close");
        await server.close();
      }
    },
  });
}
