/**
 * Whom the chat port's web side believes: which pages may open a WebSocket
 * (`Origin`), and which proxies may say where a client really is
 * (`X-Forwarded-For`). Pure.
 *
 * - A browser sends `Origin` with every WebSocket handshake. The page's own
 *   origin (the one whose host is the request's `Host`) is allowed; any
 *   other only when listed with `--web-origin` (or `--web-origin '*'`), so
 *   a site a visitor happens to open cannot chat in the visitor's name. A
 *   client that sends no `Origin` is no browser (irssi's WebSocket cousins,
 *   Python, curl) and is not at that risk: it is allowed.
 * - Behind a reverse proxy every client seems to come from the proxy. With
 *   `--trust-proxy CIDR`, a connection from inside that block is taken to
 *   come from the address its `X-Forwarded-For` names: the rightmost
 *   address not itself a trusted proxy (the left part is what the client
 *   claims and anyone can write). Anyone else's `X-Forwarded-For` is ignored.
 *
 * @module
 */

import { type CidrBlock, cidrContains, formatAddress, parseAddress } from "../../core/cidr.ts";
import type { Peer } from "../../net/peer.ts";

/** What the web side is told by the server's flags. */
export interface WebPolicy {
  /** Origins allowed besides the page's own (`--web-origin`), as written; `*` allows any. */
  readonly origins: readonly string[];
  /** Proxies whose `X-Forwarded-For` is believed (`--trust-proxy`). */
  readonly trustedProxies: readonly CidrBlock[];
}

/** No other origin, no proxy: the default. */
export const DEFAULT_WEB_POLICY: WebPolicy = { origins: [], trustedProxies: [] };

/**
 * An origin in one form (`scheme://host[:port]`, lowercase, no default port,
 * no path), or null when `text` is none (`null`, a path, garbage).
 */
export function normalOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password || (url.pathname !== "/" && url.pathname !== "")) return null;
  return url.origin;
}

/** Whether a handshake's `Origin` (null: none sent) may open a WebSocket here. */
export function originAllowed(
  origin: string | null,
  host: string | undefined,
  policy: WebPolicy,
): boolean {
  if (origin === null) return true;
  if (policy.origins.includes("*")) return true;
  const normal = normalOrigin(origin);
  if (normal === null) return false;
  if (host !== undefined && sameOrigin(normal, host)) return true;
  return policy.origins.some((allowed) => normalOrigin(allowed) === normal);
}

/** Whether `origin` is this host's own: its host is the request's Host (default ports aside). */
function sameOrigin(origin: string, host: string): boolean {
  const scheme = origin.slice(0, origin.indexOf(":") + 1);
  try {
    return new URL(`${scheme}//${host}`).origin === origin;
  } catch {
    return false;
  }
}

/**
 * Where a client is: the connection's peer, or, when that peer is a
 * trusted proxy and says so, the address it forwarded for (with the
 * connection's port: the client's own is not forwarded).
 */
export function clientPeer(
  peer: Peer,
  forwardedFor: string | undefined,
  proxies: readonly CidrBlock[],
): Peer {
  if (forwardedFor === undefined || !trusted(peer.hostname, proxies)) return peer;
  const hops = forwardedFor.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const address = parseAddress(unbracketed(hops[i].trim()));
    if (address === null) return peer;
    const text = formatAddress(address);
    if (i === 0 || !trusted(text, proxies)) return { hostname: text, port: peer.port };
  }
  return peer;
}

function trusted(address: string, proxies: readonly CidrBlock[]): boolean {
  return proxies.some((proxy) => cidrContains(proxy, address));
}

/** `[2001:db8::1]` as `2001:db8::1` (how some proxies write IPv6). */
function unbracketed(text: string): string {
  return text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
}
