/**
 * The chat page over plain HTTP: which request gets which file, and the
 * headers every answer carries. Pure: a request head in, response bytes out.
 *
 * - `GET /` (or `/index.html`) is the page; `GET /NAME` one of its files
 *   (they sit flat beside it); a query string is ignored. `HEAD` is the
 *   same without the body; a matching `If-None-Match` is a 304.
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

/** Bytes of a file, encoded once. */
const bodies = new Map<WebAsset, Uint8Array>();
const encoder = new TextEncoder();

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
  const headers: (readonly [string, string])[] = [
    ["Content-Type", asset.type],
    ["Cache-Control", "no-cache"],
    ["ETag", asset.etag],
    ["Content-Security-Policy", CONTENT_SECURITY_POLICY],
    ...SECURITY_HEADERS,
  ];
  if (close) headers.push(["Connection", "close"]);
  if (matchesEtag(head.headers.get("if-none-match"), asset.etag)) {
    return { status: 304, response: httpResponse(304, { headers, date }) };
  }
  let body = bodies.get(asset);
  if (body === undefined) bodies.set(asset, body = encoder.encode(asset.text));
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

/** Whether an If-None-Match value names `etag` (or is `*`); weak comparison, as RFC 9110 §13.1.2. */
function matchesEtag(value: string | undefined, etag: string): boolean {
  if (value === undefined) return false;
  return value.split(",").some((item) => {
    const tag = item.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}
