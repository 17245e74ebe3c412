/**
 * The chat page over plain HTTP: which request gets which file, and the
 * headers every answer carries. Pure: a request head in, response bytes out.
 *
 * - `GET /` (or `/index.html`) is the page; `GET /NAME` one of its files
 *   (they sit flat beside it); a query string is ignored. `HEAD` is the
 *   same without the body; a matching `If-None-Match` is a 304.
 * - A browser that accepts gzip gets the files gzipped (compressed once,
 *   on the first request: {@linkcode preparePage}); about 36 KB in all
 *   instead of 130 KB.
 * - Anything else is 404 (an unknown path) or 405 (another method).
 * - Every answer says `X-Content-Type-Options: nosniff` and
 *   `Referrer-Policy: no-referrer`; the page and its files are served under
 *   a Content-Security-Policy that lets them load only their own scripts and
 *   styles and connect only back to this host (`'self'` covers `ws:` and
 *   `wss:` to it), and no site may frame them.
 *
 * @module
 */

import { type HttpRequestHead, httpResponse } from "../../net/http.ts";
import type { WebAsset } from "./asset_module.ts";
import { WEB_ASSETS } from "./web_assets.ts";

/** What the page may load and where it may connect: only its own origin. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers on every HTTP answer of the chat port. */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "no-referrer"],
];

const ASSETS_BY_PATH = new Map<string, WebAsset>();
for (const asset of WEB_ASSETS) ASSETS_BY_PATH.set("/" + asset.name, asset);
const INDEX = ASSETS_BY_PATH.get("/index.html");
if (INDEX !== undefined) ASSETS_BY_PATH.set("/", INDEX);
// Browsers that do not read the page's icon link ask for /favicon.ico by themselves.
const ICON = ASSETS_BY_PATH.get("/favicon.svg");
if (ICON !== undefined) ASSETS_BY_PATH.set("/favicon.ico", ICON);

/** Bytes of a file, encoded once; and gzipped, once {@linkcode preparePage} has run. */
const bodies = new Map<WebAsset, Uint8Array>();
const gzipped = new Map<WebAsset, Uint8Array>();
const encoder = new TextEncoder();
let prepared: Promise<void> | null = null;

/** Compresses the page's files (once; every later call is the same promise). */
export function preparePage(): Promise<void> {
  return prepared ??= Promise.all(WEB_ASSETS.map(async (asset) => {
    const stream = new Blob([asset.text]).stream().pipeThrough(new CompressionStream("gzip"));
    gzipped.set(asset, new Uint8Array(await new Response(stream).arrayBuffer()));
  })).then(() => {});
}

function bodyOf(asset: WebAsset): Uint8Array {
  let body = bodies.get(asset);
  if (body === undefined) bodies.set(asset, body = encoder.encode(asset.text));
  return body;
}

/** An answer to one request. */
export interface PageAnswer {
  status: number;
  response: Uint8Array;
}

/**
 * The answer to a plain (not WebSocket) request for the page or one of its
 * files; with `close`, it says the connection closes after it.
 */
export function pageAnswer(
  head: HttpRequestHead,
  options: { date?: Date; close?: boolean } = {},
): PageAnswer {
  const { date, close } = options;
  if (head.method !== "GET" && head.method !== "HEAD") {
    return plain(405, "Only GET and HEAD are served here.\n", {
      date,
      close,
      extra: [["Allow", "GET, HEAD"]],
    });
  }
  const asset = ASSETS_BY_PATH.get(pathOf(head.target));
  if (asset === undefined) {
    return plain(404, "Not found.\n", { date, close, head: head.method === "HEAD" });
  }
  const compressed = acceptsGzip(head.headers.get("accept-encoding"))
    ? gzipped.get(asset)
    : undefined;
  // Each encoding is its own representation, with its own strong validator.
  const etag = compressed ? asset.etag.slice(0, -1) + '-gz"' : asset.etag;
  const headers: (readonly [string, string])[] = [
    ["Content-Type", asset.type],
    ["Cache-Control", "no-cache"],
    ["ETag", etag],
    ["Vary", "Accept-Encoding"],
    ["Content-Security-Policy", CONTENT_SECURITY_POLICY],
    ...SECURITY_HEADERS,
  ];
  if (compressed) headers.push(["Content-Encoding", "gzip"]);
  if (close) headers.push(["Connection", "close"]);
  if (matchesEtag(head.headers.get("if-none-match"), etag)) {
    return { status: 304, response: httpResponse(304, { headers, date }) };
  }
  const body = compressed ?? bodyOf(asset);
  return {
    status: 200,
    response: httpResponse(200, { headers, body, date, head: head.method === "HEAD" }),
  };
}

/** A plain-text answer with the security headers (errors, refusals). */
export function plain(
  status: number,
  text: string,
  options: { date?: Date; extra?: [string, string][]; head?: boolean; close?: boolean } = {},
): PageAnswer {
  const body = encoder.encode(text);
  const headers: (readonly [string, string])[] = [
    ["Content-Type", "text/plain; charset=utf-8"],
    ...SECURITY_HEADERS,
    ...(options.extra ?? []),
  ];
  if (options.close) headers.push(["Connection", "close"]);
  return {
    status,
    response: httpResponse(status, { headers, body, date: options.date, head: options.head }),
  };
}

/** The path of a request target: origin-form as is, absolute-form's path; no query. */
export function pathOf(target: string): string {
  let path = target;
  if (!path.startsWith("/")) {
    const scheme = /^https?:\/\/[^/?#]*/i.exec(path);
    if (scheme === null) return "";
    path = path.slice(scheme[0].length) || "/";
  }
  const query = path.search(/[?#]/);
  return query === -1 ? path : path.slice(0, query);
}

/** Whether an Accept-Encoding value takes gzip (listed, or `*`, with a q above 0). */
function acceptsGzip(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value.toLowerCase().split(",").some((item) => {
    const [coding, ...parameters] = item.split(";").map((part) => part.trim());
    if (coding !== "gzip" && coding !== "*") return false;
    const q = parameters.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Whether an If-None-Match value names `etag` (or is `*`); weak comparison, as RFC 9110 §13.1.2. */
function matchesEtag(value: string | undefined, etag: string): boolean {
  if (value === undefined) return false;
  return value.split(",").some((item) => {
    const tag = item.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}
