/**
 * Issue 24, what an operator and new users trip over: each behaviour here
 * was wrong on 6c5772e.
 */

import assert from "node:assert/strict";
import { runCli, startServerProcess, TestClient } from "./helpers.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test(
  "--cluster with no Redis there: one line, exit 1; --cluster-wait starts and serves alone",
  async () => {
    const port = freePort();
    const url = `redis://127.0.0.1:${port}`;
    const refused = await runCli(["server", "--port", "0", "--no-console", "--cluster", url]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `^parley server: cannot join the cluster: Redis at ${
          url.replaceAll(".", "\\.")
        }/? ?is not reachable`,
      ),
    );
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);

    const waiting = await startServerProcess(["--no-console", "--cluster", url, "--cluster-wait"]);
    try {
      await waiting.stdout.waitFor(/is not reachable yet: serving this server's clients alone/);
      const ann = await TestClient.join(waiting.port);
      const bob = await TestClient.join(waiting.port);
      ann.send("alone for now");
      await bob.expect(/^<guest-\d+> alone for now$/);
      ann.close();
      bob.close();
    } finally {
      await waiting.stop();
    }
    const wrong = await runCli(["server", "--cluster-wait"]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--cluster-wait goes with --cluster URL/);
  },
);

Deno.test("--irc-port equal to --port says what to do instead of 'address already in use'", async () => {
  const result = await runCli(["server", "--port", "14021", "--irc-port", "14021"]);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /--irc-port 14021 is --port as well: IRC clients are served on --port too/,
  );
});

Deno.test("the console logs topics, IRC PARTs and what /say said; /stats and /bans are not operator acts; a muted user is told at once", async () => {
  const server = await startServerProcess(["--irc-port", "0"], { console: true });
  try {
    const ann = await TestClient.join(server.port, "ann");
    ann.send("/join ops");
    await ann.expect(/you are now in #ops/);
    ann.send("/topic deploy at noon");
    await ann.expect("*** topic of #ops is now: deploy at noon");
    await server.stdout.waitFor(/topic +127\.0\.0\.1:\d+ +ann +#ops +deploy at noon$/m);
    const irc = await TestClient.registerIrc(server.ircPort, "ivy");
    irc.sendIrc("JOIN #ops");
    await irc.expect(/ 366 ivy #ops /);
    irc.sendIrc("PART #ops :lunch");
    await irc.expect(/ PART #ops :?lunch$/);
    await server.stdout.waitFor(/part +127\.0\.0\.1:\d+ +ivy +#ops +lunch$/m);
    await server.type("/say maintenance at noon");
    await server.stdout.waitFor(/operator +console +told \d+ online: maintenance at noon$/m);
    await server.type("/stats");
    await server.stdout.waitFor(/^\d+ online, /m);
    await server.type("/bans");
    await server.stdout.waitFor(/^no bans$/m);
    await server.type("/mute ann 5m");
    await ann.expect(
      /^\*\*\* console muted you until \d\d:\d\d: your lines reach nobody until then$/,
    );
    await server.type("/unmute ann");
    await ann.expect("*** console unmuted you: you are heard again");
    ann.close();
    irc.close();
  } finally {
    await server.stop();
  }
  const log = server.stdout.text;
  assert.doesNotMatch(log, /operator +console +\d+ online, /, "/stats is no operator act");
  assert.doesNotMatch(log, /operator +console +no bans/, "/bans is no operator act");
});

Deno.test("a client whose first line is /nick NAME arrives as NAME: nobody sees a guest rename itself", async () => {
  const server = await startServerProcess([]);
  try {
    const ann = await TestClient.join(server.port, "ann");
    const bob = await TestClient.connect(server.port);
    bob.send("/nick bob"); // at once, as `parley client --name bob` does
    await bob.expect("*** welcome to parley, you are bob");
    await ann.expect("*** bob joined #lobby");
    // A nick that cannot be had: a guest, told why.
    const other = await TestClient.connect(server.port);
    other.send("/nick ann");
    await other.expect(/^\*\*\* welcome to parley, you are guest-\d+$/);
    await other.expect("!!! nickname ann is taken");
    bob.send("hi");
    await ann.expect("<bob> hi");
    for (const client of [ann, bob, other]) client.close();
    assert.ok(!ann.lines.some((line) => /is now known as bob/.test(line)), ann.lines.join("\n"));
  } finally {
    await server.stop();
  }
});
