/**
 * What a failure means, in one place: the error classes that end a command
 * (with exit code 2 or 1), the text of any thrown value, and the one
 * classifier of Deno's network errors that the server, the client and the
 * bench all use.
 *
 * @module
 */

/** A mistake in how the command was called: reported in one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The command could not do its job (port taken, server gone, …): one line, exit code 1. */
export class CommandError extends Error {
  override name = "CommandError";
}

/** The message of an error, or the value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How a connection's read or write failed. */
export type ConnectionFailure =
  /** The peer reset it, or it broke (RST, EPIPE, aborted). */
  | "reset"
  /** TCP gave up on the peer (keep-alive or retransmission timeout). */
  | "timed out"
  /** It was closed: by us (a pending read is interrupted) or cleanly by a TLS peer. */
  | "closed"
  /** Anything else: a bug or a rare system error, worth its message. */
  | "error";

/**
 * Sorts a connection error. TLS peers (openssl s_client, ncat --ssl, …) often
 * close without close_notify: that is an ordinary close.
 */
export function connectionFailure(error: unknown): ConnectionFailure {
  if (
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.NotConnected
  ) return "reset";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (
    error instanceof Deno.errors.Interrupted || error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.UnexpectedEof || /close_notify/.test(String(error))
  ) return "closed";
  return "error";
}

/** A connect or connection error as a person reads it ("connection refused (is the server running?)"). */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "connection refused (is the server running?)";
  }
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof Deno.errors.NotFound) return "unknown host";
  return errorText(error);
}
