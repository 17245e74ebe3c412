/**
 * Defaults for a public server (issue 18, item 8): a connect rate is on
 * without any flag, so one address churning connections is turned away
 * after 120 in a minute, told why, and logged once; others are untouched.
 * Fails on 6c5772e, where the default was no limit.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { startServerProcess, withDeadline } from "./helpers.ts";

/**
 * Connects from `from` (a loopback address) and resolves with the server's
 * first answer.
 */
function knock(port: number, from = "127.0.0.1"): Promise<string> {
  const answer = new Promise<string>((resolve, reject) => {
    // A refusal comes at once; an admitted client is told apart by a line 50 ms later (an empty
    // line: a line client, greeted without the first-bytes wait). Writing at once could reach a
    // refused socket already closed, whose reset would lose the refusal.
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from }, () => {
      setTimeout(() => socket.writable && socket.write("\n"), 50);
    });
    socket.once("data", (data) => {
      resolve(String(data));
      socket.destroy();
    });
    socket.once("error", reject);
    socket.once("close", () => resolve(""));
  });
  return withDeadline(answer, 5000, "the server's first answer");
}

Deno.test("a connect rate is on by default: the 121st connection in a minute from one address is refused", async () => {
  const server = await startServerProcess();
  try {
    // 120 at once, then 2 a second: the knocks (about 60 ms each) earn a few more meanwhile.
    const started = performance.now();
    let admitted = 0;
    let refusal = "";
    while (refusal === "" && admitted < 200) {
      const answer = await knock(server.port);
      if (/welcome to parley/.test(answer)) admitted++;
      else refusal = answer;
    }
    const earned = Math.ceil(((performance.now() - started) / 1000) * 2);
    assert.ok(
      admitted >= 120 && admitted <= 120 + earned,
      `${admitted} admitted, ${earned} earned`,
    );
    assert.match(
      refusal,
      /^!!! too many new connections from 127\.0\.0\.1 \(at most 120 a minute\); try again later/,
    );
    assert.match(await knock(server.port, "127.0.0.2"), /welcome to parley/);
    await server.stdout.waitFor(/refused +127\.0\.0\.1:\d+ +reason="too many new connections/);
  } finally {
    await server.stop("SIGTERM");
  }
  const refusals = server.stdout.text.split("\n").filter((line) => / refused /.test(line));
  assert.equal(refusals.length, 1, `one log line per burst:\n${refusals.join("\n")}`);
});
