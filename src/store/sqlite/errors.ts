/**
 * What can go wrong with the `--data` file, in words a person can act on:
 * the one-line {@linkcode StoreError} of a failed start, the reason of a
 * failure while running, and the path checks done before SQLite gets a
 * chance to say only "unable to open database file".
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import { errorText } from "../../errors.ts";

export class StoreError extends Error {
  override name = "StoreError";
}

/** How {@linkcode SqliteStore.open} is set up. */

type SqliteError = Error & { code?: string; errcode?: number };

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_NOTADB = 26;
/** SQLITE_READONLY_DIRECTORY: the file is writable, its folder (for the -wal file) is not. */
const SQLITE_READONLY_DIRECTORY = 1544;

export function primaryCode(error: unknown): number {
  return ((error as SqliteError).errcode ?? -1) & 0xff;
}

/** Why a write or read failed while running, for the operator ("the disk is full"). */
export function runtimeReason(error: unknown): string {
  const code = primaryCode(error);
  const message = errorText(error);
  if (code === SQLITE_FULL || /disk is full/.test(message)) return "the disk is full";
  if (code === SQLITE_IOERR || /disk I\/O error/.test(message)) return "I/O error (disk I/O error)";
  if (code === SQLITE_READONLY || /readonly database/.test(message)) {
    return "the file has become read-only";
  }
  if (code === SQLITE_CORRUPT || /malformed/.test(message)) return "the file is damaged";
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) return "the file is locked";
  return message;
}

/** The one line for an SQLite error at start-up. */
export function startupLine(path: string, error: unknown): string {
  const code = primaryCode(error);
  const message = errorText(error);
  if (
    code === SQLITE_BUSY || code === SQLITE_LOCKED || /database (table )?is locked/.test(message)
  ) {
    return `${path} is in use by another process (is another parley running on it?)`;
  }
  if (code === SQLITE_NOTADB || /file is not a database/.test(message)) {
    return `${path} is not a database (or its header is damaged); move it away or choose another file`;
  }
  if (code === SQLITE_CORRUPT || /malformed/.test(message)) {
    return `${path} is damaged (${message}); restore a backup or move it away`;
  }
  if (code === SQLITE_FULL || /disk is full/.test(message)) {
    return `cannot write ${path}: the disk is full`;
  }
  if ((error as SqliteError).errcode === SQLITE_READONLY_DIRECTORY) {
    const folder = dirname(resolve(path));
    return `cannot write ${path}: its folder ${folder} is read-only (SQLite creates ${
      basename(path)
    }-wal there)`;
  }
  if (code === SQLITE_READONLY || /readonly database/.test(message)) {
    return `cannot write ${path}: it is read-only`;
  }
  if (code === SQLITE_IOERR || /disk I\/O error/.test(message)) {
    return `cannot use ${path}: I/O error (${message})`;
  }
  return `cannot use ${path}: ${oneLine(message)}`;
}

export function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s*\n\s*/g, "; ").trim();
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

/** The errno name of a Deno file-system error (`EACCES`, `EPERM`, `EROFS`, …). */
export function errno(error: unknown): string {
  return String((error as { code?: unknown }).code ?? "");
}

/**
 * What SQLite cannot explain: it reports every path problem as "unable to open
 * database file". Checks, and for a new file creates it, so the OS gives the reason.
 */
export function checkPath(path: string): void {
  const file = resolve(path);
  const folder = dirname(file);
  let info: Deno.FileInfo | null = null;
  try {
    info = Deno.statSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) info = null;
    else if (error instanceof Deno.errors.PermissionDenied) {
      throw new StoreError(`cannot open ${path}: permission denied (folder ${folder})`);
    } else if (error instanceof Deno.errors.NotADirectory) {
      throw new StoreError(`cannot open ${path}: part of its path is a file, not a folder`);
    } else throw new StoreError(`cannot open ${path}: ${errorText(error)}`);
  }
  if (info === null) {
    let folderInfo: Deno.FileInfo;
    try {
      folderInfo = Deno.statSync(folder);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new StoreError(`cannot create ${path}: folder ${folder} does not exist`);
      }
      throw new StoreError(`cannot create ${path}: ${errorText(error)}`);
    }
    if (!folderInfo.isDirectory) {
      throw new StoreError(`cannot create ${path}: ${folder} is not a folder`);
    }
    try {
      // An empty file is an empty database; creating it here gives the OS's reason. It is its
      // owner's only (it holds password hashes); SQLite gives its journal files the same mode.
      Deno.openSync(file, { read: true, write: true, createNew: true, mode: 0o600 }).close();
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return; // created meanwhile: SQLite decides
      if (errno(error) === "EROFS") {
        throw new StoreError(`cannot create ${path}: the file system is read-only`);
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        throw new StoreError(`cannot create ${path}: no permission to write in folder ${folder}`);
      }
      throw new StoreError(`cannot create ${path}: ${errorText(error)}`);
    }
    return;
  }
  if (info.isDirectory) throw new StoreError(`${path} is a folder, not a database file`);
  if (!info.isFile) throw new StoreError(`${path} is not a regular file`);
  try {
    Deno.openSync(file, { read: true, write: true }).close();
  } catch (error) {
    const code = errno(error);
    if (code === "EROFS") {
      throw new StoreError(`cannot write ${path}: the file system is read-only`);
    }
    if (code === "EPERM") {
      throw new StoreError(
        `cannot write ${path}: the system does not permit it (immutable? see lsattr ${path})`,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      try {
        Deno.openSync(file, { read: true }).close();
      } catch {
        throw new StoreError(`cannot open ${path}: permission denied (this user may not read it)`);
      }
      throw new StoreError(`cannot write ${path}: it is read-only for this user`);
    }
    throw new StoreError(`cannot open ${path}: ${errorText(error)}`);
  }
}
