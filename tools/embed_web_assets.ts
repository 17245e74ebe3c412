/**
 * Writes src/front/http/web_assets.ts from the files of src/front/web/assets/:
 * the chat page is embedded in the program (nothing read from disk at run
 * time, so `deno compile` carries it). Run it after changing the page:
 *
 *     deno run -A tools/embed_web_assets.ts
 *
 * tests/web_assets_test.ts fails while the module is out of date.
 *
 * @module
 */

import { webAssetsModule } from "../src/front/http/asset_module.ts";

const ASSETS_DIR = new URL("../src/front/web/assets/", import.meta.url);
const OUTPUT = new URL("../src/front/http/web_assets.ts", import.meta.url);

const files: { name: string; text: string }[] = [];
for await (const entry of Deno.readDir(ASSETS_DIR)) {
  if (!entry.isFile) continue;
  files.push({ name: entry.name, text: await Deno.readTextFile(new URL(entry.name, ASSETS_DIR)) });
}
await Deno.writeTextFile(OUTPUT, webAssetsModule(files));
console.log(`wrote ${OUTPUT.pathname}: ${files.length} files`);
