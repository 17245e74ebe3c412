/**
 * The ways people get a `parley` command: `deno install` (works offline) and
 * `deno compile` (needs the denort runtime, which cannot be downloaded here).
 */

import assert from "node:assert/strict";
import denoConfig from "../deno.json" with { type: "json" };
import { SERVER_V8_FLAGS } from "../server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(command, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The words of a task in deno.json, for running it here with extra arguments. */
function taskWords(name: string): string[] {
  return (denoConfig.tasks as Record<string, string>)[name].split(" ");
}

Deno.test("the server, install and compile tasks run the server with its V8 flags", () => {
  for (const task of ["server", "install", "compile"]) {
    assert.ok(
      taskWords(task).includes(`--v8-flags=${SERVER_V8_FLAGS}`),
      `${task}: ${taskWords(task).join(" ")}`,
    );
  }
});

Deno.test("`deno task install` gives a working parley command that carries the V8 flags", async () => {
  const root = await Deno.makeTempDir({ prefix: "parley-install-" });
  try {
    const [deno, ...args] = taskWords("install");
    assert.equal(deno, "deno");
    const install = await run(Deno.execPath(), [
      ...args.slice(0, -1),
      "--root",
      root,
      args.at(-1)!,
    ]);
    assert.equal(install.code, 0, install.stderr);
    const parley = `${root}/bin/parley`;
    assert.match(await Deno.readTextFile(parley), new RegExp(SERVER_V8_FLAGS));
    // The installed shim calls `deno` by name: put this Deno first on PATH.
    const path = `${Deno.execPath().replace(/\/[^/]+$/, "")}:${Deno.env.get("PATH") ?? ""}`;
    const version = await run(parley, ["--version"], { PATH: path });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^parley \d+\.\d+\.\d+$/m);
    const usage = await run(parley, ["server", "--port", "x"], { PATH: path });
    assert.equal(usage.code, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const denort = Deno.env.get("DENORT_BIN");
const canCompile = denort !== undefined && (await Deno.stat(denort).then(() => true, () => false));
if (!canCompile) {
  console.warn(
    "SKIPPED: deno compile test — `deno compile` needs the denort runtime, which it downloads from dl.deno.land " +
      "(unreachable here). Set DENORT_BIN to a denort binary of this Deno version to run it.",
  );
}

Deno.test({
  name: "deno compile builds a standalone parley binary that runs",
  ignore: !canCompile,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "parley-compile-" });
    try {
      const output = `${dir}/parley`;
      const compile = await run(Deno.execPath(), ["compile", "-A", "--output", output, "main.ts"]);
      assert.equal(compile.code, 0, compile.stderr);
      const version = await run(output, ["--version"]);
      assert.match(version.stdout, /^parley \d+\.\d+\.\d+$/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
