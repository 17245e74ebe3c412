/** The line client over real sockets, with its input and output scripted. */

import assert from "node:assert/strict";
import { runClient } from "../client.ts";
import { startServer, TestClient, withDeadline } from "./helpers.ts";

const encoder = new TextEncoder();

/** Input that arrives in the given pieces, then ends. */
function scriptedInput(pieces: string[]) {
  const queue = pieces.map((piece) => encoder.encode(piece));
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (!next) return Promise.resolve(null);
      buffer.set(next);
      return Promise.resolve(next.length);
    },
  };
}

function collector() {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    write(bytes: Uint8Array): Promise<number> {
      chunks.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk]))),
  };
}

Deno.test("piped input split anywhere is sent line for line, unchanged", async () => {
  const server = startServer();
  const watcher = await TestClient.join(server.port, "watcher");
  try {
    // Lines split across reads, and reads that end inside a line, as pipes deliver them.
    const input = scriptedInput(["hel", "lo\nwor", "ld\n你", "好\nlast without newline"]);
    const output = collector();
    const code = await withDeadline(
      runClient({ host: "127.0.0.1", port: server.port, name: "piper" }, {
        input,
        output,
        status: collector(),
      }),
      5000,
      "the client",
    );
    assert.equal(code, 0);
    for (const line of ["hello", "world", "你好", "last without newline"]) {
      await watcher.expect(`<piper> ${line}`);
    }
    assert.match(output.text(), /^\*\*\* bye$/m);
  } finally {
    watcher.close();
    await server.close();
  }
});
