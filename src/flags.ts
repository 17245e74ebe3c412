/**
 * Command-line flags: `node:util` parseArgs with errors a person can act on,
 * and parsers for the values parley takes (ports, counts, byte sizes, addresses).
 *
 * @module
 */

import { parseArgs } from "node:util";

/** A mistake in how the command was called: reported in one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The command could not do its job (port taken, server gone, …): one line, exit code 1. */
export class CommandError extends Error {
  override name = "CommandError";
}

/** A flag's type, as parseArgs takes it. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** Parses `args` strictly; any unknown or malformed flag becomes a {@linkcode UsageError}. */
export function parseFlags<T extends FlagSpec>(args: string[], options: T, maxPositionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return parsed;
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
    return `unknown option '${flag}'`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const flag = /'(--?[\w-]+)/.exec(message)?.[1];
    return flag ? `option '${flag}' needs a value` : message;
  }
  return message;
}

/** An integer flag value within `[min, max]`. */
export function parseInteger(
  flag: string,
  value: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const number = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? `an integer ≥ ${min}`
      : `an integer from ${min} to ${max}`;
    throw new UsageError(`invalid value '${value}' for --${flag}: expected ${range}`);
  }
  return number;
}

/** A non-negative number flag (rates, seconds), decimals allowed. */
export function parseNumber(flag: string, value: string, min = 0): number {
  const number = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(number) || number < min) {
    throw new UsageError(`invalid value '${value}' for --${flag}: expected a number ≥ ${min}`);
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
};

/** A byte count such as `4096`, `64k` or `1MiB` (binary units). */
export function parseSize(flag: string, value: string, min = 1): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  const bytes = match && unit ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < min) {
    throw new UsageError(
      `invalid value '${value}' for --${flag}: expected a size in bytes such as 4096, 64k, 1M or 1G`,
    );
  }
  return bytes;
}

/** A TCP port, 0–65535 (0 = any free port, for servers). */
export function parsePort(flag: string, value: string): number {
  return parseInteger(flag, value, 0, 65535);
}

/** Splits `HOST`, `HOST:PORT`, `[IPv6]:PORT`, `[IPv6]` or a bare IPv6 address. */
export function parseHostPort(value: string): { host: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    return {
      host: bracketed[1],
      port: bracketed[2] === undefined ? undefined : parsePort("port", bracketed[2]),
    };
  }
  const colons = value.split(":").length - 1;
  if (colons === 1) {
    const [host, port] = value.split(":");
    if (host === "") throw new UsageError(`invalid address '${value}': the host is missing`);
    return { host, port: parsePort("port", port) };
  }
  if (value === "") throw new UsageError("the address is empty");
  return { host: value };
}
