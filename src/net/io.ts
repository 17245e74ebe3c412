/**
 * The two socket chores everyone needs: writing all of a buffer (a Deno write
 * may take only part of it) and closing without caring whether it was closed.
 *
 * @module
 */

/** Where bytes can be written: a `Deno.Conn`, stdout, or anything with the same `write`. */
export interface ByteWriter {
  write(bytes: Uint8Array): Promise<number>;
}

/** Writes all of `bytes`: `Deno.Conn.write` may write only part of them. */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(written === 0 ? bytes : bytes.subarray(written));
  }
}

/** Closes a connection, listener or file, ignoring that it may be closed already. */
export function closeQuietly(resource: { close(): void } | null | undefined): void {
  try {
    resource?.close();
  } catch {
    // already closed
  }
}
