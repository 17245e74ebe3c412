/**
 * What the commands share to start: the default port, reading a PEM file
 * with a clear error, and the error that ends a command with exit code 1.
 *
 * @module
 */

/** The port parley listens on and connects to unless told otherwise. */
import { CommandError } from "../errors.ts";
export const DEFAULT_PORT = 12000;

/** The program could not start or went wrong in a way the user must fix: exit code 1. */
export class StartError extends CommandError {
  override name = "StartError";
}

/** The text of a PEM file named by `flag`, or a {@linkcode StartError} saying why not. */
export function readPem(flag: string, path: string): string {
  return readTextFile(flag, path);
}

/** The text of a file named by `flag`, or a {@linkcode StartError} saying why not. */
export function readTextFile(flag: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new StartError(`cannot read ${flag} ${path}: ${why}`);
  }
}
