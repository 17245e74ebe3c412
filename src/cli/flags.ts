/**
 * Command-line flags: `node:util` parseArgs with errors a person can act on,
 * and parsers for the values parley takes (ports, counts, numbers, byte sizes,
 * hosts, addresses).
 *
 * Every complaint is one line (control characters in what the user typed are
 * escaped) that names the flag, the value and what would be accepted; a bad
 * value always reads `invalid value 'V' for --FLAG: expected WHAT`, built in
 * one place ({@linkcode invalidValue}). main.ts adds `parley COMMAND: ` and the
 * usage hint.
 *
 * The rules, as a user meets them:
 * - `--flag value` and `--flag=value` are the same. For a flag that takes a
 *   value, a next word that is a negative number (`--port -1`) is its value, so
 *   the range check answers rather than "needs a value". Any other next word
 *   starting with `-` is taken for an option; `--name=-x` passes such a value.
 * - Switches (boolean flags) take no value: `--tls=yes` and `--tls yes` are errors.
 * - A flag given twice with different values is an error (naming both); the same
 *   value twice, or a switch twice, is fine.
 * - Numbers are decimal: digits with an optional fraction and exponent (`10`,
 *   `0.5`, `1e6`); no sign, no hex; spaces around the value are ignored. An
 *   integer flag takes such a number when it is whole (`1e3`, not `1.5`).
 * - Sizes are a number with an optional binary unit: `k`, `M`, `G`, `T`
 *   (1024, 1024², …; `kb` and `KiB` mean the same); the result must be whole bytes.
 * - Without a stated maximum, counts go up to {@linkcode MAX_COUNT}, rates and
 *   seconds up to {@linkcode MAX_NUMBER} and sizes up to {@linkcode MAX_SIZE}.
 * - `--` ends the options: every later word is an argument.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";

/** A flag's type, as parseArgs takes it. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** The largest count an integer flag takes unless it states its own maximum. */
export const MAX_COUNT = 1_000_000_000;
/**
 * The largest rate or number of seconds a number flag takes unless it states its
 * own: a million lines a second is no limit at all, and a million seconds (11.5
 * days) in milliseconds still fits a timer (at most 2³¹ − 1 ms).
 */
export const MAX_NUMBER = 1_000_000;
/** The largest byte size a size flag takes unless it states its own (1 TiB). */
export const MAX_SIZE = 1024 ** 4;

/** The values a number flag accepts. `note` says what a special value means ("0 = off"). */
export interface Range {
  min?: number;
  max?: number;
  note?: string;
}

/**
 * Parses `args` strictly against `options`; at most `maxPositionals` arguments.
 * Any unknown, malformed, valueless or conflicting flag becomes a
 * {@linkcode UsageError} (see the module doc for the rules).
 */
export function parseFlags<T extends FlagSpec>(args: string[], options: T, maxPositionals = 0) {
  const normalized = normalizeArgs(args, options);
  let parsed;
  try {
    parsed = parseArgs({
      args: normalized,
      options,
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
  } catch (error) {
    // normalizeArgs has already refused what parseArgs would; this is a safety net.
    throw new UsageError(describeParseError(error));
  }
  rejectConflictingRepeats(parsed.tokens);
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals];
    const hint = /^\d+$/.test(extra) && Object.hasOwn(options, "port")
      ? `: for a port, write --port ${extra}`
      : "";
    throw new UsageError(`unexpected argument ${quote(extra)}${hint}`);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** Words that mean a switch's state: after a switch, they are a mistaken value. */
const SWITCH_WORDS = new Set(["true", "false", "yes", "no", "on", "off"]);

/**
 * Checks every option word before parseArgs sees it and rewrites `--flag VALUE`
 * as `--flag=VALUE`, so that a value starting with `-` (a negative number)
 * reaches the value's own check. Words after `--` are left alone.
 */
function normalizeArgs(args: string[], options: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
      const spec = Object.hasOwn(options, name) ? options[name] : undefined;
      if (!spec) {
        throw new UsageError(`unknown option ${quote(`--${name}`)}${suggest(name, options)}`);
      }
      const flag = `--${name}`;
      if (spec.type === "boolean") {
        if (equals >= 0) throw takesNoValue(flag, arg.slice(equals + 1));
        rejectSwitchWord(flag, args[i + 1]);
        out.push(arg);
      } else if (equals >= 0) {
        out.push(arg);
      } else {
        out.push(`${flag}=${valueAfter(flag, args[++i], options)}`);
      }
      continue;
    }
    if (arg.length > 1 && arg.startsWith("-")) {
      i = checkShortOptions(args, i, options, out);
      continue;
    }
    out.push(arg);
  }
  return out;
}

/** `args[i]` is `-x` or a cluster `-xyz`; pushes what parseArgs should see, returns the last index used. */
function checkShortOptions(args: string[], i: number, options: FlagSpec, out: string[]): number {
  const arg = args[i];
  for (let j = 1; j < arg.length; j++) {
    const letter = arg[j];
    const name = Object.keys(options).find((key) => options[key].short === letter);
    const flag = `-${letter}`;
    if (name === undefined) {
      const long = arg.slice(1).split("=")[0];
      if (arg.length > 2 && Object.hasOwn(options, long)) {
        throw new UsageError(`unknown option ${quote(arg)} (did you mean '--${long}'?)`);
      }
      const within = arg.length > 2 ? ` in ${quote(arg)}` : "";
      throw new UsageError(`unknown option ${quote(flag)}${within}`);
    }
    if (options[name].type === "boolean") {
      if (arg[j + 1] === "=") throw takesNoValue(flag, arg.slice(j + 2));
      if (j === arg.length - 1) rejectSwitchWord(flag, args[i + 1]);
      continue;
    }
    // A short flag with a value: the rest of the word is the value (`-p80`), or the next word.
    if (j < arg.length - 1) {
      out.push(arg);
      return i;
    }
    out.push(arg + valueAfter(flag, args[i + 1], options));
    return i + 1;
  }
  out.push(arg);
  return i;
}

/** The word after `flag` (which takes a value), when it can be that value. */
function valueAfter(flag: string, next: string | undefined, options: FlagSpec): string {
  if (next === undefined) throw new UsageError(`option '${flag}' needs a value`);
  if (!next.startsWith("-") || next === "-") return next;
  // A negative number is a value, not an option: its own check says what is allowed.
  if (/^-\.?\d/.test(next) && !isKnownOption(next, options)) return next;
  if (next === "--" || isKnownOption(next, options)) {
    throw new UsageError(`option '${flag}' needs a value`);
  }
  const inline = flag.startsWith("--") ? `${flag}=${next}` : `${flag}${next}`;
  throw new UsageError(
    `option '${flag}' needs a value; to pass ${quote(next)} as its value, write ${quote(inline)}`,
  );
}

function isKnownOption(word: string, options: FlagSpec): boolean {
  if (word.startsWith("--")) return Object.hasOwn(options, word.slice(2).split("=")[0]);
  return Object.values(options).some((spec) => spec.short === word[1]);
}

function takesNoValue(flag: string, value: string): UsageError {
  return new UsageError(
    `option '${flag}' takes no value, got ${quote(value)}: write ${flag} alone, or leave it out`,
  );
}

/** `--tls yes`: the `yes` would otherwise become an argument (the client's HOST) or a puzzle. */
function rejectSwitchWord(flag: string, next: string | undefined): void {
  if (next !== undefined && SWITCH_WORDS.has(next.toLowerCase())) throw takesNoValue(flag, next);
}

/** parseArgs keeps the last of repeated flags; two different values are more likely a mistake. */
function rejectConflictingRepeats(
  tokens: ReadonlyArray<{ kind: string; name?: string; value?: string | undefined }>,
): void {
  const seen = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind !== "option" || token.name === undefined || token.value === undefined) continue;
    const first = seen.get(token.name);
    if (first !== undefined && first !== token.value) {
      throw new UsageError(
        `option '--${token.name}' given twice, as ${quote(first)} and ${
          quote(token.value)
        }: give it once`,
      );
    }
    seen.set(token.name, token.value);
  }
}

/** ` (did you mean '--port'?)` for a near miss (case, `_` for `-`, a typo, a prefix), else "". */
function suggest(name: string, options: FlagSpec): string {
  const names = Object.keys(options);
  const wanted = name.toLowerCase().replaceAll("_", "-");
  const limit = wanted.length > 4 ? 2 : 1;
  const near = names.filter((candidate) => editDistance(wanted, candidate) <= limit);
  const prefixed = wanted.length >= 3
    ? names.filter((candidate) => candidate.startsWith(wanted))
    : [];
  const best = near.length === 1 ? near[0] : prefixed.length === 1 ? prefixed[0] : undefined;
  return best === undefined ? "" : ` (did you mean '--${best}'?)`;
}

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
    return `unknown option ${quote(flag)}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const flag = /'(--?[\w-]+)/.exec(message)?.[1];
    if (flag && /does not take an argument/.test(message)) return `option '${flag}' takes no value`;
    return flag ? `option '${flag}' needs a value` : message.split("\n")[0];
  }
  return message.split("\n")[0];
}

/**
 * What the user typed, in single quotes, safe on one line: control and
 * bidirectional characters escaped, very long values cut.
 */
export function quote(value: string): string {
  const chars = [...value];
  const shown = chars.length > 80 ? chars.slice(0, 77).join("") + "…" : value;
  const escaped = shown.replace(
    /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu,
    (c) =>
      c === "\n"
        ? "\\n"
        : c === "\r"
        ? "\\r"
        : c === "\t"
        ? "\\t"
        : `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
  return `'${escaped}'`;
}

/**
 * The error for a bad flag value, the one wording every parser uses:
 * `invalid value 'V' for --FLAG: expected EXPECTED`, or, when the expectation
 * alone would not say why this value fails, `…: REASON; expected EXPECTED`.
 */
export function invalidValue(
  flag: string,
  value: string,
  expected: string,
  reason?: string,
): UsageError {
  return new UsageError(
    `invalid value ${quote(value)} for --${flag}: ${explain(expected, reason)}`,
  );
}

function explain(expected: string, reason: string | undefined): string {
  return reason ? `${reason}; expected ${expected}` : `expected ${expected}`;
}

const DECIMAL = String.raw`(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?`;
const NUMBER = new RegExp(`^${DECIMAL}$`, "i");

/** A decimal number (digits, fraction, exponent; no sign), or NaN. */
function decimal(value: string): number {
  const trimmed = value.trim();
  return NUMBER.test(trimmed) ? Number(trimmed) : NaN;
}

function range(
  min: number | Range | undefined,
  max: number | undefined,
  defaults: Required<Omit<Range, "note">>,
) {
  const given = typeof min === "object" ? min : { min, max };
  return {
    min: given.min ?? defaults.min,
    max: given.max ?? defaults.max,
    note: typeof min === "object" ? min.note : undefined,
  };
}

function withNote(text: string, note: string | undefined): string {
  return note ? `${text}, where ${note}` : text;
}

/**
 * An integer flag value within `[min, max]`; `max` defaults to {@linkcode MAX_COUNT}.
 * `min` may instead be a {@linkcode Range} (with a note such as "0 = no limit").
 */
export function parseInteger(
  flag: string,
  value: string,
  min: number | Range = 0,
  max?: number,
): number {
  const limits = range(min, max, { min: 0, max: MAX_COUNT });
  const number = decimal(value);
  if (!Number.isInteger(number) || number < limits.min || number > limits.max) {
    throw invalidValue(
      flag,
      value,
      withNote(`an integer from ${limits.min} to ${limits.max}`, limits.note),
    );
  }
  return number;
}

/**
 * A number flag (rates, seconds), decimals allowed, within `[min, max]`;
 * `max` defaults to {@linkcode MAX_NUMBER}. `min` may instead be a {@linkcode Range}.
 */
export function parseNumber(
  flag: string,
  value: string,
  min: number | Range = 0,
  max?: number,
): number {
  const limits = range(min, max, { min: 0, max: MAX_NUMBER });
  const number = decimal(value);
  if (!Number.isFinite(number) || number < limits.min || number > limits.max) {
    throw invalidValue(
      flag,
      value,
      withNote(`a number from ${limits.min} to ${limits.max}`, limits.note),
    );
  }
  return number;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};
const SIZE = new RegExp(`^(${DECIMAL})\\s*([a-z]*)$`, "i");

/**
 * A byte count such as `4096`, `64k`, `1.5M` or `1MiB` (binary units) within
 * `[min, max]`; `max` defaults to {@linkcode MAX_SIZE}. `min` may instead be a {@linkcode Range}.
 */
export function parseSize(
  flag: string,
  value: string,
  min: number | Range = 1,
  max?: number,
): number {
  const limits = range(min, max, { min: 1, max: MAX_SIZE });
  const expected = withNote(
    `a size from ${formatBytes(limits.min, true)} to ${formatBytes(limits.max)}, such as 64k or 1M`,
    limits.note,
  );
  const match = SIZE.exec(value.trim());
  if (!match) throw invalidValue(flag, value, expected);
  const unit = SIZE_UNITS[match[2].toLowerCase()];
  if (unit === undefined) {
    throw invalidValue(flag, value, expected, `unknown unit ${quote(match[2])} (use k, M, G or T)`);
  }
  const bytes = Number(match[1]) * unit;
  if (Number.isFinite(bytes) && !Number.isInteger(bytes)) {
    throw invalidValue(flag, value, expected, `that is ${bytes} bytes, not whole bytes`);
  }
  if (!Number.isSafeInteger(bytes) || bytes < limits.min || bytes > limits.max) {
    throw invalidValue(flag, value, expected);
  }
  return bytes;
}

/** `1 byte`, `42 bytes`, `64k`, `1T`; with `exact`, a unit is followed by ` (N bytes)`. */
function formatBytes(bytes: number, exact = false): string {
  for (
    const [unit, size] of [["T", 1024 ** 4], ["G", 1024 ** 3], ["M", 1024 ** 2], [
      "k",
      1024,
    ]] as const
  ) {
    if (bytes >= size && bytes % size === 0) {
      return `${bytes / size}${unit}` + (exact ? ` (${bytes} bytes)` : "");
    }
  }
  return bytes === 1 ? "1 byte" : `${bytes} bytes`;
}

/** A port to listen on: 0–65535, where 0 picks any free port. */
export function parsePort(flag: string, value: string): number {
  return parseInteger(flag, value, { min: 0, max: 65535, note: "0 = any free port" });
}

/** A port to connect to: 1–65535 (nothing listens on port 0). */
export function parseConnectPort(flag: string, value: string): number {
  return parseInteger(flag, value, { min: 1, max: 65535 });
}

const HOST_EXPECTED = "a host name or IP address, such as localhost, 192.168.1.10 or ::1";
const IPV6 = /^[0-9a-f:.]*:[0-9a-f:.]*:[0-9a-f:.]*(?:%[\w.-]+)?$/i;
const NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_.-]*$/u;

/** Whether `host` can be a host name, IPv4 or (unbracketed) IPv6 address; the resolver has the last word. */
function isHost(host: string): boolean {
  return host.includes(":") ? IPV6.test(host) : NAME.test(host) && host.length <= 253;
}

/** A host name or IP address to listen on or connect to; `[::1]` gives `::1`. */
export function parseHost(flag: string, value: string): string {
  const trimmed = value.trim();
  const bracketed = /^\[(.*)\]$/.exec(trimmed);
  const host = bracketed ? bracketed[1] : trimmed;
  if (bracketed ? IPV6.test(host) : isHost(host)) return host;
  const reason = trimmed.includes("://")
    ? "a URL is not a host"
    : /^[^:]*:\d*$/.test(trimmed)
    ? "the port goes in --port"
    : undefined;
  throw invalidValue(flag, value, HOST_EXPECTED, reason);
}

/** How {@linkcode parseHostPort} reads and reports an address. */
export interface HostPortOptions {
  /** The flag the address came with (`target`); without it, the address is an argument. */
  flag?: string;
  /** The port must be given (`HOST:PORT`), not only allowed (`HOST[:PORT]`). */
  requirePort?: boolean;
  /** An address to listen on: port 0 (pick a free one) is allowed too. */
  listen?: boolean;
}

/**
 * Splits an address to connect to: `HOST`, `HOST:PORT`, `[IPv6]:PORT`, `[IPv6]`
 * or a bare IPv6 address. The port, when given, is 1–65535.
 */
export function parseHostPort(
  value: string,
  options: HostPortOptions = {},
): { host: string; port?: number } {
  const fail = (reason?: string) => {
    const form = options.requirePort ? "HOST:PORT" : "HOST[:PORT]";
    const ports = options.listen ? "0 (a free one) to 65535" : "1 to 65535";
    const expected = `${form} with a port from ${ports}, such as localhost:12000 or [::1]:12000`;
    if (options.flag) return invalidValue(options.flag, value, expected, reason);
    return new UsageError(`invalid address ${quote(value)}: ${explain(expected, reason)}`);
  };
  const trimmed = value.trim();
  if (trimmed.includes("://")) throw fail("a URL is not an address");
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(trimmed);
  const parts = trimmed.split(":");
  const [host, port] = bracketed
    ? [bracketed[1], bracketed[2]]
    : parts.length === 2
    ? parts
    : [trimmed, undefined];
  if (host === "" && port !== undefined) throw fail("the host is missing");
  if (port === undefined && /^\d+$/.test(host)) throw fail("a port alone is not an address");
  if (bracketed ? !IPV6.test(host) : !isHost(host)) throw fail();
  if (port === undefined) {
    if (options.requirePort) throw fail("the port is missing");
    return { host };
  }
  const number = /^\d+$/.test(port) ? Number(port) : NaN;
  if (!(number >= (options.listen ? 0 : 1) && number <= 65535)) throw fail();
  return { host, port: number };
}
