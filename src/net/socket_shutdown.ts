/**
 * Ending a TLS handshake that never finishes, which Deno 2.9 cannot do.
 *
 * What was measured (Deno 2.9.6, Linux; a `Deno.listenTls` server, a client
 * that connects and sends nothing, another that sends half a ClientHello):
 * after `conn.close()` the pending `handshake()` rejects at once with
 * "Interrupted: operation canceled", but `ss -tnp` still shows the server's
 * socket ESTABLISHED and owned by the deno process, and it stays so until the
 * peer closes; `closeWrite()` waits for the handshake. The same with no
 * `handshake()` call at all, or with a read pending instead. The reason is in
 * Deno's TLS stream (denoland/rustls-tokio-stream, `stream.rs`): the handshake
 * runs in a task of its own that holds the TCP socket, and dropping the
 * stream while it handshakes spawns a task that waits for that one, with no
 * deadline. Nothing in Deno's API reaches the socket underneath (there is
 * no server-side `startTls` either, so the handshake cannot be run on a
 * plain connection the server controls).
 *
 * What works: `shutdown(fd, SHUT_RDWR)` on the socket, through FFI (libc).
 * The handshake task's next read sees end-of-file, the handshake fails, the
 * task ends and the descriptor is closed (`ss` then shows the server's side
 * in FIN-WAIT-2 with no process, the peer reads EOF). The descriptor is
 * found by address: the process's descriptors (`/proc/self/fd`) are asked
 * `getpeername` and `getsockname` until both ends match the connection's.
 * That costs about 3 µs a descriptor (10 ms at 3,000 connections), so the
 * connections given up on together are looked for in one pass.
 *
 * Where FFI is not allowed (`--allow-ffi`, part of `-A`) or this is not
 * Linux, {@linkcode SocketShutdown.available} is false and a stalled
 * handshake holds its descriptor until its peer leaves, as before.
 *
 * @module
 */

const AF_INET = 2;
const AF_INET6 = 10;
const SHUT_RDWR = 2;
const SOCKADDR_BYTES = 128;

const LIBC_SYMBOLS = {
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

/** A connection's two ends, as bytes to compare with what the kernel says. */
interface Ends {
  conn: Deno.Conn;
  remote: { address: Uint8Array; port: number } | null;
  local: { address: Uint8Array; port: number } | null;
  done: (found: boolean) => void;
}

/** Shuts down the sockets of connections by their addresses (Linux, with FFI). */
export class SocketShutdown {
  static #shared: SocketShutdown | null = null;

  /** The process's one instance (libc is opened on first use). */
  static shared(): SocketShutdown {
    return SocketShutdown.#shared ??= new SocketShutdown();
  }

  #libc: Libc | null | undefined = undefined;
  #why = "";
  #pending: Ends[] = [];
  #scheduled = false;

  /** Whether sockets can be shut down here; when not, {@linkcode unavailableBecause} says why. */
  get available(): boolean {
    return this.#open() !== null;
  }

  /** Why sockets cannot be shut down here ("" when they can). */
  get unavailableBecause(): string {
    this.#open();
    return this.#why;
  }

  /**
   * Shuts down `conn`'s socket for reading and writing: whatever holds it
   * (a TLS handshake) sees end-of-file and lets go. Resolves true once done,
   * false when its socket is not found (closed meanwhile) or this cannot be
   * done here. Calls in the same turn share one look through the descriptors.
   */
  shutDown(conn: Deno.Conn): Promise<boolean> {
    if (this.#open() === null) return Promise.resolve(false);
    return new Promise((done) => {
      this.#pending.push({
        conn,
        remote: endOf(conn.remoteAddr),
        local: endOf(conn.localAddr),
        done,
      });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setTimeout(() => this.#flush(), 0);
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const wanted = this.#pending;
    this.#pending = [];
    const libc = this.#libc!;
    const byPort = new Map<number, Ends[]>();
    for (const ends of wanted) {
      if (ends.remote === null || ends.local === null) {
        ends.done(false);
        continue;
      }
      const list = byPort.get(ends.remote.port);
      if (list) list.push(ends);
      else byPort.set(ends.remote.port, [ends]);
    }
    const address = new Uint8Array(SOCKADDR_BYTES);
    const length = new Uint32Array(1);
    const lengthBytes = new Uint8Array(length.buffer);
    let left = wanted.length;
    try {
      for (const entry of Deno.readDirSync("/proc/self/fd")) {
        if (byPort.size === 0) break;
        const fd = Number(entry.name);
        length[0] = SOCKADDR_BYTES;
        if (libc.getpeername(fd, address, lengthBytes) !== 0) continue;
        const peer = sockaddrEnd(address);
        const list = peer && byPort.get(peer.port);
        if (!list) continue;
        length[0] = SOCKADDR_BYTES;
        if (libc.getsockname(fd, address, lengthBytes) !== 0) continue;
        const own = sockaddrEnd(address);
        if (!own) continue;
        const at = list.findIndex((ends) =>
          sameEnd(ends.remote!, peer) && sameEnd(ends.local!, own)
        );
        if (at === -1) continue;
        const [ends] = list.splice(at, 1);
        if (list.length === 0) byPort.delete(peer.port);
        ends.done(libc.shutdown(fd, SHUT_RDWR) === 0);
        left--;
      }
    } catch {
      // /proc not readable: what was not found is reported as such below
    }
    if (left === 0) return;
    for (const list of byPort.values()) for (const ends of list) ends.done(false);
  }

  #open(): Libc | null {
    if (this.#libc !== undefined) return this.#libc;
    this.#libc = null;
    if (Deno.build.os !== "linux") {
      this.#why = `not on ${Deno.build.os} (Linux only)`;
      return null;
    }
    for (const name of ["libc.so.6", "libc.so", `libc.musl-${Deno.build.arch}.so.1`]) {
      try {
        this.#libc = Deno.dlopen(name, LIBC_SYMBOLS).symbols;
        this.#why = "";
        return this.#libc;
      } catch (error) {
        if (
          error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ) {
          this.#why = "FFI is not allowed (run with --allow-ffi, or -A)";
          return null;
        }
        this.#why = `cannot load libc: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    return null;
  }
}

/** A Deno address as bytes and port, or null when it is not an IP address. */
function endOf(addr: Deno.Addr): { address: Uint8Array; port: number } | null {
  if (addr.transport !== "tcp") return null;
  const address = ipBytes(addr.hostname);
  return address === null ? null : { address, port: addr.port };
}

/** What the kernel wrote into a sockaddr buffer, or null for a family other than IP. */
function sockaddrEnd(sockaddr: Uint8Array): { address: Uint8Array; port: number } | null {
  const family = sockaddr[0] | (sockaddr[1] << 8);
  const port = (sockaddr[2] << 8) | sockaddr[3];
  if (family === AF_INET) return { address: sockaddr.slice(4, 8), port };
  if (family === AF_INET6) return { address: sockaddr.slice(8, 24), port };
  return null;
}

/** Whether two ends are the same; an IPv4 address equals its IPv4-mapped IPv6 form. */
function sameEnd(
  a: { address: Uint8Array; port: number },
  b: { address: Uint8Array; port: number },
): boolean {
  if (a.port !== b.port) return false;
  const x = asIpv6(a.address);
  const y = asIpv6(b.address);
  for (let i = 0; i < 16; i++) if (x[i] !== y[i]) return false;
  return true;
}

function asIpv6(address: Uint8Array): Uint8Array {
  if (address.length === 16) return address;
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(address, 12);
  return mapped;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address in text, or null when it is neither. */
export function ipBytes(text: string): Uint8Array | null {
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (!text.includes(":")) return ipv4Bytes(text);
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail = ipv4Bytes(text.slice(lastColon + 1));
    if (tail === null) return null;
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const bytes = new Uint8Array(16);
  for (const [i, group] of all.entries()) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  }
  if (tail !== null) bytes.set(tail, 12);
  return bytes;
}

function ipv4Bytes(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    bytes[i] = Number(part);
  }
  return bytes;
}
