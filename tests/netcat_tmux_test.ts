/**
 * OpenBSD nc (Debian's netcat-openbsd, `nc -N`) in a real terminal, leaving
 * by `/quit`, by an operator's kick and by a server shutdown (issue 24: "nc
 * stays open until Enter is pressed"). What was measured, and what these
 * tests hold: the server sends its last line and then its FIN at once (nc's
 * socket is in CLOSE-WAIT, the server's in FIN-WAIT-2); nc reads the end of
 * the stream, shuts its reading side and goes on polling its own input,
 * because it ends only when both its input and the connection have ended, or
 * when the socket fails. No server can end that: only a reset would (Deno
 * offers no SO_LINGER to send one, and a reset may destroy the last line in
 * flight). Ctrl-D ends nc's input, and nc exits at once; Enter makes nc write
 * to the closed connection, which the server's kernel answers with a reset,
 * and nc exits too. The README's Troubleshooting says so. Skipped, loudly,
 * without tmux, nc or ss.
 */

import assert from "node:assert/strict";
import { missingTools, startServerProcess, TestClient } from "./helpers.ts";
import { TmuxSession } from "./tmux.ts";

const skip = await missingTools("nc -N under tmux", "tmux", "nc", "ss");

/** `nc -N` in a tmux window of its own; once it exits the window says `exit=N`. */
function netcatWindow(port: number): TmuxSession {
  return new TmuxSession("parley-nc", [
    "sh",
    "-c",
    `nc -N 127.0.0.1 ${port}; echo exit=$?; sleep 60`,
  ]);
}

/** Sockets in CLOSE-WAIT towards `port`: connections whose peer (the server) has sent its FIN. */
async function closeWaitTo(port: number): Promise<number> {
  const { stdout } = await new Deno.Command("ss", {
    args: ["-Htn", "state", "close-wait", `( dport = :${port} )`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((row) => row.trim() !== "").length;
}

/** The ways the server ends an nc user's connection, and the last line nc shows. */
const ENDINGS = [
  { name: "/quit", last: "*** bye" },
  { name: "an operator's kick", last: "!!! you were kicked by console (enough)" },
  { name: "the server's shutdown", last: "*** server shutting down" },
];

for (const ending of ENDINGS) {
  for (const key of ["C-d", "Enter"]) {
    Deno.test({
      name: `nc -N, ended by ${ending.name}: the server closes at once; nc waits for its own ` +
        `input to end, and ${key === "C-d" ? "Ctrl-D" : "Enter"} ends it`,
      ignore: skip,
      async fn() {
        const server = await startServerProcess([], { console: true });
        const tmux = netcatWindow(server.port);
        const bob = await TestClient.join(server.port, "bob");
        let stopped = false;
        try {
          await tmux.start();
          await tmux.waitFor("the welcome", (rows) => rows.some((row) => row.includes("welcome")));
          await tmux.type("/nick nina");
          await tmux.press("Enter");
          await tmux.waitFor("the nick", (rows) => rows.includes("*** you are now nina"));
          if (ending.name === "/quit") {
            await tmux.type("/quit");
            await tmux.press("Enter");
          } else if (ending.name === "an operator's kick") {
            await server.type("/kick nina enough");
          } else {
            bob.close();
            assert.equal(await server.stop(), 0);
            stopped = true;
          }
          await tmux.waitFor(ending.last, (rows) => rows.includes(ending.last));
          // The server has sent its FIN: nc's end of the connection waits in CLOSE-WAIT...
          const deadline = Date.now() + 5000;
          while ((await closeWaitTo(server.port)) === 0) {
            assert.ok(Date.now() < deadline, "nc's socket never reached CLOSE-WAIT");
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          // ...and nc is still running, reading its input.
          await new Promise((resolve) => setTimeout(resolve, 500));
          assert.ok(!(await tmux.screen()).some((row) => row.startsWith("exit=")), "nc waits");
          await tmux.press(key);
          await tmux.waitFor("nc to exit 0", (rows) => rows.includes("exit=0"), { timeout: 3000 });
        } finally {
          await tmux.kill();
          bob.close();
          if (!stopped) await server.stop();
        }
      },
    });
  }
}
