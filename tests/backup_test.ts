/**
 * Online backup (issue 24): `/backup` on the console (and SIGUSR1 for a
 * server without one) writes a consistent copy of the `--data` file while a
 * client is talking; a server started on the copy has every message that
 * client saw acknowledged before the backup. The files are the owner's only.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startServerProcess, TestClient } from "./helpers.ts";

Deno.test("--data: /backup while a client talks; the copy restores with every message it saw", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-backup-" });
  const data = join(dir, "chat.db");
  const copy = join(dir, "copy.db");
  const keep = ["--history", "1000"];
  let server = await startServerProcess(["--data", data, "--rate", "0", ...keep], {
    console: true,
  });
  try {
    assert.equal(Deno.statSync(data).mode! & 0o777, 0o600, "the database is its owner's only");
    const talker = await TestClient.join(server.port, "talker");
    const listener = await TestClient.join(server.port, "listener");
    talker.send("/join keep");
    listener.send("/join keep");
    await listener.expect(/you are now in #keep/);
    // 100 lines everyone has seen, then more while the backup runs.
    for (let i = 0; i < 100; i++) talker.send(`line ${i}`);
    await listener.expect("<talker> line 99");
    let said = 100;
    const talking = (async () => {
      for (; said < 400; said++) {
        talker.send(`line ${said}`);
        if (said % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await server.type(`/backup ${copy}`);
    await server.stdout.waitFor(/^backed up the database to .*copy\.db$/m);
    await talking;
    await listener.expect("<talker> line 399");
    assert.equal(Deno.statSync(copy).mode! & 0o777, 0o600, "the copy is its owner's only");
    // A service without a console: SIGUSR1 does the same, beside the file.
    server.child.kill("SIGUSR1");
    await server.stdout.waitFor(
      /operator +SIGUSR1 +backed up the database to .*chat\.db\.backup-\d{8}-\d{6}$/m,
    );
    talker.close();
    listener.close();
    assert.equal(await server.stop("SIGTERM"), 0);

    // Restore: start a server on the copy.
    server = await startServerProcess(["--data", copy, ...keep]);
    const reader = await TestClient.join(server.port, "reader");
    reader.send("/join keep");
    await reader.expect(/^\*\*\* last (\d+ messages|message) in #keep:$/);
    await reader.expect("*** end of history; new messages follow");
    const restored = reader.lines.filter((line) => /\] <talker> line \d+$/.test(line))
      .map((line) => Number(/line (\d+)$/.exec(line)![1]));
    assert.ok(
      restored.length >= 100,
      `the copy holds the 100 lines seen before it (${restored.length})`,
    );
    assert.deepEqual(restored, restored.map((_, i) => i), "from the first, in order, none missing");
    reader.close();
  } finally {
    await server.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/backup without --data, and a chat operator cannot choose the file", async () => {
  const server = await startServerProcess([], { console: true });
  try {
    await server.type("/backup");
    await server.stdout.waitFor(/^!!! nothing to back up: without --data/m);
  } finally {
    await server.stop("SIGTERM");
  }
});
