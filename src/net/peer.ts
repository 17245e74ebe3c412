/**
 * Peer addresses: what a connection's far end is, and how it is written
 * (`IP:PORT`, `[IPv6]:PORT`). Shared by the server's console and the client.
 *
 * @module
 */

/** Where a connection comes from (or goes to). */
export interface Peer {
  readonly hostname: string;
  readonly port: number;
}

/**
 * The peer of a connection. An IPv4 client of a dual-stack (`::`) listener
 * appears as `::ffff:a.b.c.d`; it is shown and counted as plain `a.b.c.d`.
 */
export function peerOf(address: Deno.Addr): Peer {
  const { hostname, port } = address as Deno.NetAddr;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return { hostname: mapped ? mapped[1] : hostname, port };
}

/** `IP:PORT`, or `[IPv6]:PORT`. */
export function formatPeer(peer: Peer): string {
  return peer.hostname.includes(":")
    ? `[${peer.hostname}]:${peer.port}`
    : `${peer.hostname}:${peer.port}`;
}
