import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { HttpHeadReader, type HttpRequestHead } from "../src/net/http.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../src/net/websocket.ts";
import { sha1 } from "../src/net/sha1.ts";
import { validateUtf8 } from "../src/net/utf8_validation.ts";
import { unmask, WebSocketDecoder, type WebSocketEvent } from "../src/net/websocket_decoder.ts";
import {
  binaryFrame,
  closeFrame,
  frameIrcLines,
  pingFrame,
  pongFrame,
  textFrame,
} from "../src/net/websocket_frames.ts";
import {
  acceptWebSocket,
  isWebSocketRequest,
  webSocketAccept,
} from "../src/net/websocket_handshake.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DATE = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));

// ---------------------------------------------------------------------------
// Helpers: a client-side frame encoder written from RFC 6455 §5.2, independent
// of the module, and a decoder run that copies what it gets.

interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string | number[];
  fin?: boolean;
  /** RSV1-3 as bits 0x40, 0x20, 0x10. */
  rsv?: number;
  /** null: an unmasked frame. */
  mask?: number[] | null;
  /** Use the 16- or 64-bit length form even when shorter would do. */
  form?: 16 | 64;
  /** Declare this length instead of the payload's (the payload is not sent then). */
  declared?: number;
}

const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };
const MASK = [0x37, 0xfa, 0x21, 0x3d];

function payloadBytes(payload: FrameSpec["payload"]): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  if (typeof payload === "string") return encoder.encode(payload);
  return Uint8Array.from(payload);
}

function clientFrame(spec: FrameSpec): Uint8Array {
  const payload = payloadBytes(spec.payload);
  const length = spec.declared ?? payload.length;
  const mask = spec.mask === undefined ? MASK : spec.mask;
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode];
  const maskBit = mask === null ? 0 : 0x80;
  if (length < 126 && spec.form === undefined) {
    head.push(maskBit | length);
  } else if (length < 0x10000 && spec.form !== 64) {
    head.push(maskBit | 126, length >>> 8, length & 0xff);
  } else {
    head.push(maskBit | 127);
    const big = BigInt(length);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((big >> shift) & 0xffn));
  }
  if (mask !== null) head.push(...mask);
  const body = spec.declared === undefined ? payload : new Uint8Array(0);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  for (let i = 0; i < body.length; i++) {
    out[head.length + i] = mask === null ? body[i] : body[i] ^ mask[i % 4];
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** An event with its data copied (and text decoded), so that events from different runs compare. */
type Plain =
  | { type: "text"; text: string }
  | { type: "binary" | "ping" | "pong"; bytes: number[] }
  | { type: "close"; code: number | null; reason: string }
  | { type: "error"; code: number; reason: string };

function plain(event: WebSocketEvent): Plain {
  switch (event.type) {
    case "text":
      return { type: "text", text: decoder.decode(event.data) };
    case "binary":
    case "ping":
    case "pong":
      return { type: event.type, bytes: [...event.data] };
    default:
      return event;
  }
}

/**
 * Feeds a copy of `bytes` (the decoder unmasks in place) in chunks of the
 * given sizes (cycled; 0 means all at once) and returns the events, checking
 * the memory bound after every push.
 */
function run(bytes: Uint8Array, sizes: number[], maxMessage?: number): Plain[] {
  const decoder = new WebSocketDecoder({ maxMessage });
  const copy = bytes.slice();
  const events: Plain[] = [];
  let at = 0;
  let step = 0;
  while (at < copy.length || step === 0) {
    const size = sizes[step++ % sizes.length] || copy.length;
    decoder.push(copy.subarray(at, at + size));
    at += size;
    for (let event = decoder.next(); event !== null; event = decoder.next()) {
      events.push(plain(event));
    }
    assert.ok(decoder.bufferedBytes <= decoder.maxMessage + 125 + 14, "held bytes are bounded");
    assert.ok(decoder.retainedBytes <= decoder.maxMessage + 125 + 14, "buffers are bounded");
    if (copy.length === 0) break;
  }
  return events;
}

/**
 * Decodes `bytes` all at once, one byte at a time and in a few other
 * splits, checks that all agree, and returns the events.
 */
function decode(bytes: Uint8Array, maxMessage?: number): Plain[] {
  const whole = run(bytes, [0], maxMessage);
  for (const sizes of [[1], [2], [3], [5, 1, 7], [64], [1000, 1]]) {
    assert.deepEqual(run(bytes, sizes, maxMessage), whole, `fed in chunks of ${sizes}`);
  }
  return whole;
}

function decodeFrames(specs: FrameSpec[], maxMessage?: number): Plain[] {
  return decode(concat(...specs.map(clientFrame)), maxMessage);
}

function lastEvent(specs: FrameSpec[], maxMessage?: number): Plain {
  const events = decodeFrames(specs, maxMessage);
  return events[events.length - 1];
}

function assertError(specs: FrameSpec[], code: number, maxMessage?: number): void {
  const event = lastEvent(specs, maxMessage);
  assert.equal(event.type, "error", JSON.stringify(event));
  assert.equal((event as { code: number }).code, code, JSON.stringify(event));
}

/** Server frames, parsed back: unmasked, as the module writes them. */
function serverFrames(bytes: Uint8Array): { fin: boolean; opcode: number; payload: Uint8Array }[] {
  const frames = [];
  let at = 0;
  while (at < bytes.length) {
    const fin = (bytes[at] & 0x80) !== 0;
    assert.equal(bytes[at] & 0x70, 0, "no RSV bits");
    const opcode = bytes[at] & 0x0f;
    assert.equal(bytes[at + 1] & 0x80, 0, "server frames are not masked");
    let length = bytes[at + 1] & 0x7f;
    at += 2;
    if (length === 126) {
      length = (bytes[at] << 8) | bytes[at + 1];
      assert.ok(length >= 126, "minimal length encoding");
      at += 2;
    } else if (length === 127) {
      length = 0;
      for (let i = 0; i < 8; i++) length = length * 256 + bytes[at + i];
      assert.ok(length >= 0x10000, "minimal length encoding");
      at += 8;
    }
    frames.push({ fin, opcode, payload: bytes.slice(at, at + length) });
    at += length;
    assert.ok(at <= bytes.length, "frame complete");
  }
  return frames;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------
// SHA-1 and the accept key

Deno.test("SHA-1 gives the FIPS 180 test vectors", () => {
  const vectors: [string, string][] = [
    ["", "da39a3ee5e6b4b0d3255bfef95601890afd80709"],
    ["abc", "a9993e364706816aba3e25717850c26c9cd0d89d"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    ],
    [
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      "a49b2446a02c645bf419f995b67091253a04a259",
    ],
    ["a".repeat(1_000_000), "34aa973cd4c4daa4f61eeb2bdbad27316534016f"],
  ];
  for (const [input, digest] of vectors) assert.equal(hex(sha1(encoder.encode(input))), digest);
});

Deno.test("SHA-1 agrees with node:crypto for every length across the padding boundaries", () => {
  let seed = 7;
  for (let length = 0; length <= 300; length++) {
    const data = new Uint8Array(length).map(() =>
      (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24
    );
    assert.equal(
      hex(sha1(data)),
      createHash("sha1").update(data).digest("hex"),
      `length ${length}`,
    );
  }
});

Deno.test("the accept key is RFC 6455 §1.3's", () => {
  // RFC 6455 §1.3 (and §4.2.2): the sample nonce's accept value.
  assert.equal(webSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // RFC 6455 §4.1's example key, checked against node:crypto.
  const key = "x3JJHMbDL1EzLkh9GBhXDw==";
  const expected = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    .digest("base64");
  assert.equal(webSocketAccept(key), expected);
  assert.equal(expected, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
});

// ---------------------------------------------------------------------------
// Handshake

function head(lines: string[]): HttpRequestHead {
  const reader = new HttpHeadReader();
  const result = reader.push(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
  if (result.kind !== "complete") {
    throw new Error(`test request not read: ${JSON.stringify(result)}`);
  }
  return result.head;
}

const UPGRADE = [
  "GET /chat HTTP/1.1",
  "Host: chat.example",
  "Upgrade: websocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version: 13",
];

function upgrade(...extra: string[]): HttpRequestHead {
  return head([...UPGRADE, ...extra]);
}

/** The request with the header `name` left out (or replaced by `replacement`). */
function without(name: string, replacement?: string): HttpRequestHead {
  const lines = UPGRADE.filter((line) => !line.toLowerCase().startsWith(name.toLowerCase() + ":"));
  return head(replacement === undefined ? lines : [...lines, replacement]);
}

Deno.test("a handshake with text.ircv3.net is accepted with the RFC's accept key", () => {
  const result = acceptWebSocket(
    upgrade("Sec-WebSocket-Protocol: text.ircv3.net", "Origin: https://chat.example"),
    { date: DATE },
  );
  assert.ok(result.ok);
  assert.equal(result.protocol, "text.ircv3.net");
  assert.equal(result.mode, "text");
  assert.equal(result.origin, "https://chat.example");
  assert.equal(
    decoder.decode(result.response),
    [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "Sec-WebSocket-Protocol: text.ircv3.net",
      "Date: Thu, 02 Jan 2025 03:04:05 GMT",
      "",
      "",
    ].join("\r\n"),
  );
});

Deno.test("the subprotocol is the first one the client lists that parley speaks", () => {
  const chosen = (offer: string) => {
    const result = acceptWebSocket(upgrade(`Sec-WebSocket-Protocol: ${offer}`));
    assert.ok(result.ok);
    return [result.protocol, result.mode];
  };
  assert.deepEqual(chosen("binary.ircv3.net"), ["binary.ircv3.net", "binary"]);
  assert.deepEqual(chosen("binary.ircv3.net, text.ircv3.net"), ["binary.ircv3.net", "binary"]);
  assert.deepEqual(chosen("text.ircv3.net,binary.ircv3.net"), ["text.ircv3.net", "text"]);
  assert.deepEqual(chosen("chat, superchat ,  binary.ircv3.net"), ["binary.ircv3.net", "binary"]);
  // Two headers are joined by the reader: still the client's order.
  const twice = acceptWebSocket(
    upgrade("Sec-WebSocket-Protocol: x", "Sec-WebSocket-Protocol: text.ircv3.net"),
  );
  assert.ok(twice.ok && twice.protocol === "text.ircv3.net");
  // Names are compared exactly.
  assert.deepEqual(chosen("TEXT.IRCV3.NET"), [null, "text"]);
});

Deno.test("no subprotocol offered, or none parley speaks: accepted in text without the header", () => {
  for (const request of [upgrade(), upgrade("Sec-WebSocket-Protocol: chat, mqtt")]) {
    const result = acceptWebSocket(request);
    assert.ok(result.ok);
    assert.equal(result.protocol, null);
    assert.equal(result.mode, "text");
    assert.equal(result.origin, null);
    assert.doesNotMatch(decoder.decode(result.response), /Sec-WebSocket-Protocol/i);
  }
});

Deno.test("Upgrade and Connection are token lists, compared case-insensitively", () => {
  const request = head([
    "GET / HTTP/1.1",
    "Host: a",
    "upgrade: WebSocket",
    "connection: keep-alive, UPGRADE",
    "sec-websocket-key: AQIDBAUGBwgJCgsMDQ4PEA==",
    "sec-websocket-version: 13",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
  ]);
  assert.ok(isWebSocketRequest(request));
  const result = acceptWebSocket(request);
  assert.ok(result.ok);
  assert.doesNotMatch(decoder.decode(result.response), /Extensions/i, "no extension agreed to");
  assert.ok(!isWebSocketRequest(head(["GET / HTTP/1.1", "Host: a"])));
  assert.ok(!isWebSocketRequest(head(["GET / HTTP/1.1", "Host: a", "Upgrade: h2c"])));
  assert.ok(isWebSocketRequest(head(["GET / HTTP/1.1", "Host: a", "Upgrade: h2c, websocket"])));
});

Deno.test("handshake refusals: 405 for other methods, 400 for malformed upgrades", () => {
  const refusal = (request: HttpRequestHead) => {
    const result = acceptWebSocket(request, { date: DATE });
    assert.ok(!result.ok);
    const response = decoder.decode(result.response);
    assert.ok(response.startsWith(`HTTP/1.1 ${result.status} `), response);
    assert.match(response, /\r\nConnection: close\r\n/);
    assert.ok(response.endsWith(`\r\n\r\n${result.reason}\n`));
    return result;
  };
  const post = refusal(head(["POST / HTTP/1.1", ...UPGRADE.slice(1)]));
  assert.equal(post.status, 405);
  assert.match(decoder.decode(post.response), /\r\nAllow: GET\r\n/);
  assert.equal(refusal(head(["GET / HTTP/1.0", ...UPGRADE.slice(1)])).status, 400);
  // A head that reached the handshake without Host (an HTTP/1.0 one, or one built by hand).
  const noHost = { ...upgrade(), headers: new Map(upgrade().headers) };
  noHost.headers.delete("host");
  assert.equal(refusal(noHost).status, 400);
  assert.equal(refusal(without("Upgrade")).status, 400);
  assert.equal(refusal(without("Upgrade", "Upgrade: websocket2")).status, 400);
  assert.equal(refusal(without("Connection")).status, 400);
  assert.equal(refusal(without("Connection", "Connection: keep-alive")).status, 400);
  assert.equal(refusal(without("Connection", "Connection: upgraded")).status, 400);
  for (
    const key of [
      "",
      "dGhlIHNhbXBsZSBub25jZQ=",
      "dGhlIHNhbXBsZSBub25jZQ",
      "dGhlIHNhbXBsZSBub25jZQ===",
      "dGhlIHNhbXBsZSBub25jZUE=", // 17 bytes
      "dGhlIHNhbXBsZSBub25j", // 15 bytes
      "dGhlIHNhbXBsZSBub25jZ*==",
      "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==",
    ]
  ) {
    assert.equal(refusal(without("Sec-WebSocket-Key", `Sec-WebSocket-Key: ${key}`)).status, 400);
  }
  assert.equal(refusal(without("Sec-WebSocket-Key")).status, 400);
});

Deno.test("a WebSocket version other than 13 is a 426 that names 13", () => {
  for (const version of [undefined, "8", "12", "14", "13, 8", ""]) {
    const request = without(
      "Sec-WebSocket-Version",
      version === undefined ? undefined : `Sec-WebSocket-Version: ${version}`,
    );
    const result = acceptWebSocket(request);
    assert.ok(!result.ok);
    assert.equal(result.status, 426);
    assert.match(decoder.decode(result.response), /^HTTP\/1\.1 426 Upgrade Required\r\n/);
    assert.match(decoder.decode(result.response), /\r\nSec-WebSocket-Version: 13\r\n/);
  }
});

Deno.test("head reader, handshake and decoder in a row: frames sent with the request are kept", () => {
  const request = encoder.encode(UPGRADE.join("\r\n") + "\r\n\r\n");
  const frames = concat(
    clientFrame({ opcode: OP.text, payload: "NICK alice" }),
    clientFrame({ opcode: OP.text, payload: "USER a 0 * :Alice" }),
  );
  const reader = new HttpHeadReader();
  const result = reader.push(concat(request, frames));
  assert.ok(result.kind === "complete");
  assert.ok(acceptWebSocket(result.head).ok);
  const ws = new WebSocketDecoder();
  ws.push(result.rest);
  const texts = [];
  for (let event = ws.next(); event !== null; event = ws.next()) texts.push(plain(event));
  assert.deepEqual(texts, [
    { type: "text", text: "NICK alice" },
    { type: "text", text: "USER a 0 * :Alice" },
  ]);
});

// ---------------------------------------------------------------------------
// Decoder: messages

Deno.test("RFC 6455 §5.7: a masked 'Hello' and a masked ping", () => {
  const hello = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
  assert.deepEqual(decode(Uint8Array.from(hello)), [{ type: "text", text: "Hello" }]);
  assert.deepEqual(clientFrame({ opcode: OP.text, payload: "Hello" }), Uint8Array.from(hello));
  assert.deepEqual(decodeFrames([{ opcode: OP.ping, payload: "Hello" }]), [
    { type: "ping", bytes: [...encoder.encode("Hello")] },
  ]);
});

Deno.test("text, binary, empty, ping and pong come out in order, many per chunk", () => {
  const events = decodeFrames([
    { opcode: OP.text, payload: "PRIVMSG #a :héllo 👍" },
    { opcode: OP.binary, payload: [0, 1, 2, 255] },
    { opcode: OP.text, payload: "" },
    { opcode: OP.binary, payload: [] },
    { opcode: OP.ping, payload: [] },
    { opcode: OP.pong, payload: "p" },
    { opcode: OP.text, payload: "x", mask: [0, 0, 0, 0] },
  ]);
  assert.deepEqual(events, [
    { type: "text", text: "PRIVMSG #a :héllo 👍" },
    { type: "binary", bytes: [0, 1, 2, 255] },
    { type: "text", text: "" },
    { type: "binary", bytes: [] },
    { type: "ping", bytes: [] },
    { type: "pong", bytes: [0x70] },
    { type: "text", text: "x" },
  ]);
});

Deno.test("200 messages in one chunk come out as 200 messages", () => {
  const lines = Array.from({ length: 200 }, (_, i) => `PRIVMSG #lobby :message ${i}`);
  const events = decodeFrames(lines.map((payload) => ({ opcode: OP.text, payload })));
  assert.deepEqual(events, lines.map((text) => ({ type: "text", text })));
});

Deno.test("lengths across the 7-, 16- and 64-bit forms, and the non-minimal forms", () => {
  for (const length of [0, 1, 124, 125, 126, 127, 1000, 65535, 65536, 70000]) {
    const payload = new Uint8Array(length).map((_, i) => i * 7);
    const events = run(clientFrame({ opcode: OP.binary, payload }), [0], 100_000);
    assert.deepEqual(events, [{ type: "binary", bytes: [...payload] }], `length ${length}`);
    const split = run(clientFrame({ opcode: OP.binary, payload }), [1000, 3], 100_000);
    assert.deepEqual(split, events, `length ${length}, split`);
  }
  assert.deepEqual(decodeFrames([{ opcode: OP.text, payload: "hi", form: 16 }]), [
    { type: "text", text: "hi" },
  ]);
  assert.deepEqual(decodeFrames([{ opcode: OP.text, payload: "hi", form: 64 }]), [
    { type: "text", text: "hi" },
  ]);
});

Deno.test("a fragmented message is joined, with control frames between its fragments", () => {
  const events = decodeFrames([
    { opcode: OP.text, payload: "PRIVMSG #a :", fin: false },
    { opcode: OP.ping, payload: "1" },
    { opcode: OP.continuation, payload: "", fin: false },
    { opcode: OP.continuation, payload: "hello ", fin: false, mask: [1, 2, 3, 4] },
    { opcode: OP.pong, payload: "2" },
    { opcode: OP.continuation, payload: "world", mask: [9, 8, 7, 6] },
    { opcode: OP.binary, payload: [1], fin: false },
    { opcode: OP.continuation, payload: [2] },
  ]);
  assert.deepEqual(events, [
    { type: "ping", bytes: [0x31] },
    { type: "pong", bytes: [0x32] },
    { type: "text", text: "PRIVMSG #a :hello world" },
    { type: "binary", bytes: [1, 2] },
  ]);
});

Deno.test("a UTF-8 character split across fragments is valid", () => {
  const bytes = encoder.encode("a👍b€");
  const events = decodeFrames([
    { opcode: OP.text, payload: bytes.subarray(0, 2), fin: false },
    { opcode: OP.continuation, payload: bytes.subarray(2, 4), fin: false },
    { opcode: OP.continuation, payload: bytes.subarray(4, 7), fin: false },
    { opcode: OP.continuation, payload: bytes.subarray(7) },
  ]);
  assert.deepEqual(events, [{ type: "text", text: "a👍b€" }]);
});

Deno.test("a frame that arrives whole is unmasked in place, not copied", () => {
  const chunk = concat(clientFrame({ opcode: OP.text, payload: "x".repeat(300) }));
  const ws = new WebSocketDecoder();
  ws.push(chunk);
  const event = ws.next();
  assert.ok(event?.type === "text");
  assert.equal(event.data.buffer, chunk.buffer);
  assert.equal(event.data.byteOffset, 4 + 4);
  assert.equal(ws.retainedBytes, 0, "no message buffer allocated");
  assert.equal(ws.next(), null);
});

Deno.test("push before the previous chunk is drained is a mistake", () => {
  const ws = new WebSocketDecoder();
  ws.push(concat(
    clientFrame({ opcode: OP.text, payload: "a" }),
    clientFrame({ opcode: OP.text, payload: "b" }),
  ));
  assert.ok(ws.next() !== null);
  assert.throws(() => ws.push(new Uint8Array(1)), /before the previous chunk was drained/);
});

Deno.test("maxMessage must be a positive integer", () => {
  assert.equal(new WebSocketDecoder().maxMessage, DEFAULT_MAX_MESSAGE_BYTES);
  for (const maxMessage of [0, -1, 1.5, 2 ** 31]) {
    assert.throws(() => new WebSocketDecoder({ maxMessage }), RangeError);
  }
});

// ---------------------------------------------------------------------------
// Decoder: protocol errors

Deno.test("an unmasked client frame is a 1002", () => {
  assertError([{ opcode: OP.text, payload: "hi", mask: null }], 1002);
  assertError([{ opcode: OP.ping, payload: "", mask: null }], 1002);
  // Refused from its first two bytes, before anything else arrives.
  const ws = new WebSocketDecoder();
  ws.push(Uint8Array.from([0x81, 0x7e]));
  assert.deepEqual(ws.next(), { type: "error", code: 1002, reason: "unmasked client frame" });
});

Deno.test("RSV bits are a 1002 (no extension is ever negotiated)", () => {
  for (const rsv of [0x40, 0x20, 0x10, 0x70]) {
    assertError([{ opcode: OP.text, payload: "hi", rsv }], 1002);
    assertError([{ opcode: OP.ping, payload: "", rsv }], 1002);
  }
});

Deno.test("unknown opcodes are a 1002", () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    assertError([{ opcode, payload: "x" }], 1002);
  }
});

Deno.test("a control frame over 125 bytes, or fragmented, is a 1002", () => {
  for (const opcode of [OP.ping, OP.pong, OP.close]) {
    assertError([{ opcode, payload: new Uint8Array(126) }], 1002);
    assertError([{ opcode, payload: "x", form: 16 }], 1002);
    assertError([{ opcode, payload: "x", fin: false }], 1002);
  }
  assert.deepEqual(decodeFrames([{ opcode: OP.ping, payload: new Uint8Array(125) }]), [
    { type: "ping", bytes: new Array(125).fill(0) },
  ]);
});

Deno.test("a continuation without a message, or a new message inside one, is a 1002", () => {
  assertError([{ opcode: OP.continuation, payload: "x" }], 1002);
  assertError([{ opcode: OP.continuation, payload: "x", fin: false }], 1002);
  assertError([{ opcode: OP.text, payload: "a" }, { opcode: OP.continuation, payload: "b" }], 1002);
  for (const opcode of [OP.text, OP.binary]) {
    const events = decodeFrames([
      { opcode: OP.text, payload: "a", fin: false },
      { opcode, payload: "b" },
    ]);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, "error");
    assert.equal((events[0] as { code: number }).code, 1002);
  }
});

Deno.test("a 64-bit length with its top bit set is a 1002", () => {
  const frame = Uint8Array.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, ...MASK]);
  assert.deepEqual(decode(frame), [{
    type: "error",
    code: 1002,
    reason: "64-bit payload length with the top bit set",
  }]);
  // Decided before the mask arrives.
  const ws = new WebSocketDecoder();
  ws.push(frame.slice(0, 10));
  assert.equal(ws.next()?.type, "error");
});

Deno.test("a message over maxMessage is a 1009, from its header, payload never held", () => {
  assertError([{ opcode: OP.text, payload: "x".repeat(101) }], 1009, 100);
  assert.deepEqual(decodeFrames([{ opcode: OP.text, payload: "x".repeat(100) }], 100), [
    { type: "text", text: "x".repeat(100) },
  ]);
  // Across fragments: the fragment that goes over is refused at its header.
  const events = decodeFrames([
    { opcode: OP.binary, payload: new Uint8Array(60), fin: false },
    { opcode: OP.continuation, payload: new Uint8Array(40), fin: false },
    { opcode: OP.continuation, payload: new Uint8Array(1) },
  ], 100);
  assert.deepEqual(events, [{ type: "error", code: 1009, reason: "message over 100 bytes" }]);
  // A huge declared length: the header alone decides; nothing is allocated.
  for (const declared of [2 ** 20, 2 ** 40, 2 ** 53]) {
    const ws = new WebSocketDecoder();
    ws.push(clientFrame({ opcode: OP.binary, declared }));
    assert.equal((ws.next() as { code: number }).code, 1009);
    assert.equal(ws.retainedBytes, 0, "buffers given back");
  }
  // Fed one byte at a time, the bytes of a 1009 frame's header are all that is held.
  const ws = new WebSocketDecoder({ maxMessage: 1000 });
  const frame = clientFrame({ opcode: OP.text, declared: 1001 });
  for (const byte of frame.subarray(0, 4)) {
    ws.push(Uint8Array.of(byte));
    const event = ws.next();
    if (event !== null) {
      assert.equal((event as { code: number }).code, 1009);
      break;
    }
    assert.ok(ws.bufferedBytes <= 4);
  }
  assert.ok(ws.finished);
});

Deno.test("the default limit takes an IRC line with full tags", () => {
  const line = "@" + "a=".padEnd(8189, "b") + " PRIVMSG #c :" + "x".repeat(490);
  assert.ok(line.length <= DEFAULT_MAX_MESSAGE_BYTES);
  assert.deepEqual(decodeFrames([{ opcode: OP.text, payload: line }]), [{
    type: "text",
    text: line,
  }]);
  assertError([{ opcode: OP.text, payload: "x".repeat(DEFAULT_MAX_MESSAGE_BYTES + 1) }], 1009);
});

Deno.test("memory stays bounded by maxMessage however a big message is fed", () => {
  const maxMessage = 4096;
  const specs: FrameSpec[] = [];
  for (let i = 0; i < 64; i++) {
    specs.push({
      opcode: i === 0 ? OP.binary : OP.continuation,
      payload: new Uint8Array(64),
      fin: i === 63,
    });
  }
  const bytes = concat(...specs.map(clientFrame));
  for (const sizes of [[1], [7], [100], [0]]) {
    const events = run(bytes, sizes, maxMessage); // asserts the bound after every push
    assert.equal(events.length, 1);
    assert.equal((events[0] as { bytes: number[] }).bytes.length, maxMessage);
  }
});

// ---------------------------------------------------------------------------
// Decoder: UTF-8

const INVALID_UTF8: number[][] = [
  [0xff],
  [0xfe],
  [0x80], // lone continuation
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf], // overlong
  [0xe0, 0x80, 0x80], // overlong 3-byte
  [0xe0, 0x9f, 0xbf],
  [0xed, 0xa0, 0x80], // surrogate U+D800
  [0xed, 0xbf, 0xbf], // surrogate U+DFFF
  [0xf0, 0x80, 0x80, 0x80], // overlong 4-byte
  [0xf0, 0x8f, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf5, 0x80, 0x80, 0x80],
  [0xe2, 0x28, 0xa1],
  [0xc3, 0x41],
  [0xe2, 0x82], // unfinished at the end
  [0xf0, 0x9f, 0x91], // unfinished at the end
  [0x41, 0xc3], // unfinished at the end
];

Deno.test("invalid UTF-8 in a text message is a 1007, an unfinished character at its end too", () => {
  for (const bytes of INVALID_UTF8) {
    assertError([{ opcode: OP.text, payload: [0x61, ...bytes] }], 1007);
    // The same bytes in a fragmented message.
    assertError([
      { opcode: OP.text, payload: [0x61, ...bytes.slice(0, 1)], fin: false },
      { opcode: OP.continuation, payload: bytes.slice(1) },
    ], 1007);
    // Binary messages are not checked.
    assert.equal(lastEvent([{ opcode: OP.binary, payload: bytes }]).type, "binary");
  }
  // Valid edges.
  for (
    const text of [
      "\u0000",
      "\u007f\u0080",
      "\u07ff\u0800",
      "\uffff",
      "\u{10000}\u{10ffff}",
      "\ud7ff\ue000",
    ]
  ) {
    assert.deepEqual(lastEvent([{ opcode: OP.text, payload: text }]), { type: "text", text });
  }
});

Deno.test("invalid UTF-8 is refused as soon as it arrives, not at the message's end", () => {
  const ws = new WebSocketDecoder();
  ws.push(clientFrame({ opcode: OP.text, payload: [0x61, 0xff], fin: false }));
  assert.equal((ws.next() as { code: number }).code, 1007);
  // Within a frame split across reads too.
  const frame = clientFrame({ opcode: OP.text, payload: [0x61, 0xff, ...new Uint8Array(100)] });
  const split = new WebSocketDecoder();
  split.push(frame.subarray(0, 8));
  assert.equal((split.next() as { code: number }).code, 1007);
});

Deno.test("validateUtf8 agrees with a fatal TextDecoder on random and tricky bytes", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const valid = (bytes: Uint8Array) => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  let seed = 99;
  const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const interesting = [
    0x00,
    0x41,
    0x7f,
    0x80,
    0x8f,
    0x90,
    0x9f,
    0xa0,
    0xbf,
    0xc0,
    0xc2,
    0xdf,
    0xe0,
  ];
  interesting.push(0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff);
  for (let round = 0; round < 20000; round++) {
    const bytes = new Uint8Array(1 + Math.floor(random() * 8));
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = random() < 0.8
        ? interesting[Math.floor(random() * interesting.length)]
        : random() * 256;
    }
    const whole = validateUtf8(bytes, 0, bytes.length, 0);
    assert.equal(whole === 0, valid(bytes), hex(bytes));
    // Validating in two pieces gives the same answer.
    const cut = Math.floor(random() * (bytes.length + 1));
    const first = validateUtf8(bytes, 0, cut, 0);
    const second = first < 0 ? first : validateUtf8(bytes, cut, bytes.length, first);
    assert.equal(second === 0, whole === 0, hex(bytes));
  }
});

// ---------------------------------------------------------------------------
// Decoder: close frames

Deno.test("close frames: no code, a code with a reason", () => {
  assert.deepEqual(decodeFrames([{ opcode: OP.close }]), [{
    type: "close",
    code: null,
    reason: "",
  }]);
  assert.deepEqual(
    decodeFrames([{ opcode: OP.close, payload: [0x03, 0xe8, ...encoder.encode("bye ✓")] }]),
    [
      { type: "close", code: 1000, reason: "bye ✓" },
    ],
  );
});

Deno.test("close codes: the valid ones come through, the others are a 1002", () => {
  const close = (code: number) =>
    lastEvent([{ opcode: OP.close, payload: [code >> 8, code & 0xff] }]);
  for (
    const code of [
      1000,
      1001,
      1002,
      1003,
      1007,
      1008,
      1009,
      1010,
      1011,
      1012,
      1013,
      1014,
      3000,
      4000,
      4999,
    ]
  ) {
    assert.deepEqual(close(code), { type: "close", code, reason: "" }, `${code}`);
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
    const event = close(code);
    assert.equal(event.type, "error", `${code}`);
    assert.equal((event as { code: number }).code, 1002, `${code}`);
  }
});

Deno.test("a close frame with a 1-byte payload is a 1002; an invalid UTF-8 reason a 1007", () => {
  assertError([{ opcode: OP.close, payload: [0x03] }], 1002);
  assertError([{ opcode: OP.close, payload: [0x03, 0xe8, 0x61, 0xff] }], 1007);
  assertError([{ opcode: OP.close, payload: [0x03, 0xe8, 0xe2, 0x82] }], 1007);
});

Deno.test("after a close or an error the decoder gives nothing more and holds nothing", () => {
  for (const first of [{ opcode: OP.close }, { opcode: OP.text, payload: "x", mask: null }]) {
    const ws = new WebSocketDecoder();
    ws.push(concat(clientFrame(first), clientFrame({ opcode: OP.text, payload: "after" })));
    assert.ok(ws.next() !== null);
    assert.equal(ws.next(), null);
    assert.ok(ws.finished);
    ws.push(clientFrame({ opcode: OP.text, payload: "more" }));
    assert.equal(ws.next(), null);
    assert.equal(ws.bufferedBytes, 0);
  }
  // A close ends a fragmented message half-way: what came of it is dropped.
  const ws = new WebSocketDecoder();
  ws.push(concat(
    clientFrame({ opcode: OP.text, payload: "half", fin: false }),
    clientFrame({ opcode: OP.close, payload: [0x03, 0xe9] }),
  ));
  assert.deepEqual(ws.next(), { type: "close", code: 1001, reason: "" });
  assert.equal(ws.retainedBytes, 0);
});

// ---------------------------------------------------------------------------
// Unmasking

Deno.test("unmask matches a byte-by-byte XOR at every alignment, length and phase", () => {
  const mask = Uint8Array.from([0xa1, 0x02, 0xf3, 0x44]);
  const backing = new Uint8Array(1200).map((_, i) => (i * 31) & 0xff);
  for (const start of [0, 1, 2, 3, 5]) {
    for (const length of [0, 1, 2, 3, 4, 5, 127, 128, 129, 130, 131, 1000]) {
      for (let phase = 0; phase < 6; phase++) {
        // A view starting at an odd byteOffset, as a subarray of a read buffer would.
        const view = backing.slice().subarray(3, 1200);
        const expected = view.slice();
        for (let i = 0; i < length; i++) expected[start + i] ^= mask[(phase + i) & 3];
        unmask(view, start, start + length, mask, phase);
        assert.deepEqual(view, expected, `start ${start}, length ${length}, phase ${phase}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------
// Encoder

Deno.test("server frames: unmasked, final, minimal length form", () => {
  assert.deepEqual(textFrame("Hello"), Uint8Array.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
  for (const length of [0, 125, 126, 65535, 65536, 100000]) {
    const payload = new Uint8Array(length).fill(7);
    const [frame] = serverFrames(binaryFrame(payload));
    assert.deepEqual(frame, { fin: true, opcode: 2, payload }, `length ${length}`);
  }
  assert.deepEqual(serverFrames(textFrame(encoder.encode("é"))), [
    { fin: true, opcode: 1, payload: encoder.encode("é") },
  ]);
  assert.deepEqual(pingFrame(), Uint8Array.from([0x89, 0x00]));
  assert.deepEqual(
    pongFrame(encoder.encode("Hello")),
    Uint8Array.from([0x8a, 5, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
  );
  assert.throws(() => pingFrame(new Uint8Array(126)), RangeError);
  assert.throws(() => pongFrame(new Uint8Array(126)), RangeError);
});

Deno.test("close frames: code and reason, cut at a character boundary to fit", () => {
  assert.deepEqual(closeFrame(), Uint8Array.from([0x88, 0x00]));
  assert.deepEqual(closeFrame(1000), Uint8Array.from([0x88, 0x02, 0x03, 0xe8]));
  const [frame] = serverFrames(closeFrame(1009, "message over 8704 bytes"));
  assert.equal(frame.opcode, 8);
  assert.equal((frame.payload[0] << 8) | frame.payload[1], 1009);
  assert.equal(decoder.decode(frame.payload.subarray(2)), "message over 8704 bytes");
  const long = serverFrames(closeFrame(4000, "é".repeat(100)))[0];
  assert.equal(long.payload.length, 2 + 122, "cut before a split character");
  assert.equal(decoder.decode(long.payload.subarray(2)), "é".repeat(61));
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
    assert.throws(() => closeFrame(code), RangeError, `${code}`);
  }
  assert.throws(() => closeFrame(undefined, "reason"), TypeError);
});

Deno.test("IRC output: one message per line, CR LF removed, all in one buffer", () => {
  const output =
    ":srv 001 alice :Welcome\r\n:srv 002 alice :Your host\r\nPING :x\n\r\n:a PRIVMSG #c :é\r\n";
  for (const input of [output, encoder.encode(output)]) {
    const bytes = frameIrcLines(input, "text");
    const frames = serverFrames(bytes);
    assert.deepEqual(frames.map((f) => [f.fin, f.opcode, decoder.decode(f.payload)]), [
      [true, 1, ":srv 001 alice :Welcome"],
      [true, 1, ":srv 002 alice :Your host"],
      [true, 1, "PING :x"],
      [true, 1, ":a PRIVMSG #c :é"],
    ]);
  }
  const binary = serverFrames(frameIrcLines(output, "binary"));
  assert.deepEqual(binary.map((f) => f.opcode), [2, 2, 2, 2]);
  assert.deepEqual(frameIrcLines("", "text"), new Uint8Array(0));
  assert.deepEqual(frameIrcLines("\r\n\r\n", "text"), new Uint8Array(0));
  // An unterminated last line is a line too.
  assert.deepEqual(
    serverFrames(frameIrcLines("A\r\nB", "text")).map((f) => decoder.decode(f.payload)),
    ["A", "B"],
  );
});

Deno.test("IRC output: long lines take the 16- and 64-bit length forms", () => {
  const lines = ["x".repeat(125), "y".repeat(126), "z".repeat(70000), "w"];
  const frames = serverFrames(frameIrcLines(lines.join("\r\n") + "\r\n", "binary"));
  assert.deepEqual(frames.map((f) => decoder.decode(f.payload)), lines);
});

Deno.test("IRC output in text mode: bytes that are not UTF-8 become U+FFFD; binary keeps them", () => {
  const latin1 = Uint8Array.from([
    ...encoder.encode("PRIVMSG #c :caf"),
    0xe9,
    0x0d,
    0x0a,
    0x41,
    0x0a,
  ]);
  const text = serverFrames(frameIrcLines(latin1, "text"));
  assert.deepEqual(text.map((f) => decoder.decode(f.payload)), ["PRIVMSG #c :caf\ufffd", "A"]);
  for (const frame of text) {
    assert.equal(validateUtf8(frame.payload, 0, frame.payload.length, 0), 0);
  }
  const binary = serverFrames(frameIrcLines(latin1, "binary"));
  assert.deepEqual(binary[0].payload, latin1.subarray(0, 16));
  // Lone surrogates in a string cannot make invalid UTF-8 either.
  const [frame] = serverFrames(frameIrcLines("a\ud800b\r\n", "text"));
  assert.equal(decoder.decode(frame.payload), "a\ufffdb");
});

// ---------------------------------------------------------------------------
// Fuzz

/** mulberry32: a small seeded generator, so that a failure can be replayed from its seed. */
function generator(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stream of mostly valid client frames, with the messages a correct decoder must give. */
function randomStream(
  random: () => number,
  maxMessage: number,
): { bytes: Uint8Array; expected: Plain[] } {
  const int = (n: number) => Math.floor(random() * n);
  const frames: Uint8Array[] = [];
  const expected: Plain[] = [];
  const count = 1 + int(12);
  for (let i = 0; i < count; i++) {
    const roll = random();
    const mask = [int(256), int(256), int(256), int(256)];
    if (roll < 0.2) {
      const opcode = random() < 0.5 ? OP.ping : OP.pong;
      const payload = new Uint8Array(int(126)).map(() => int(256));
      frames.push(clientFrame({ opcode, payload, mask }));
      expected.push({ type: opcode === OP.ping ? "ping" : "pong", bytes: [...payload] });
      continue;
    }
    const binary = random() < 0.4;
    const size = random() < 0.1
      ? maxMessage
      : int(Math.min(maxMessage, random() < 0.8 ? 200 : 5000) + 1);
    const text = "aé👍€ \u0001".repeat(size).slice(0, size);
    const payload = binary ? new Uint8Array(size).map(() => int(256)) : encoder.encode(text);
    // Keep text valid: cut at a character boundary.
    let length = Math.min(size, payload.length);
    if (!binary) { while (length > 0 && (payload[length] & 0xc0) === 0x80) length--; }
    const body = payload.subarray(0, length);
    const pieces = 1 + (random() < 0.3 ? int(5) : 0);
    for (let p = 0; p < pieces; p++) {
      const from = Math.floor((body.length * p) / pieces);
      const to = Math.floor((body.length * (p + 1)) / pieces);
      frames.push(clientFrame({
        opcode: p === 0 ? (binary ? OP.binary : OP.text) : OP.continuation,
        payload: body.subarray(from, to),
        fin: p === pieces - 1,
        mask: [int(256), int(256), int(256), int(256)],
        form: random() < 0.05 ? 64 : undefined,
      }));
      if (p < pieces - 1 && random() < 0.3) {
        // A ping between fragments comes out before the message.
        frames.push(clientFrame({ opcode: OP.ping, payload: "p" }));
        expected.push({ type: "ping", bytes: [0x70] });
      }
    }
    expected.push(
      binary ? { type: "binary", bytes: [...body] } : { type: "text", text: decoder.decode(body) },
    );
  }
  if (random() < 0.3) {
    frames.push(clientFrame({ opcode: OP.close, payload: [0x03, 0xe8, 0x6f, 0x6b] }));
    expected.push({ type: "close", code: 1000, reason: "ok" });
  }
  return { bytes: concat(...frames), expected };
}

function randomSizes(random: () => number): number[] {
  const sizes = [];
  const kind = random();
  for (let i = 0; i < 16; i++) {
    sizes.push(
      kind < 0.3
        ? 1 + Math.floor(random() * 3)
        : kind < 0.7
        ? 1 + Math.floor(random() * 64)
        : 1 + Math.floor(random() * 4096),
    );
  }
  return sizes;
}

Deno.test("fuzz: random and mutated frames never throw, agree however fed, stay bounded", () => {
  const seed = Number(Deno.env.get("WEBSOCKET_FUZZ_SEED") ?? 20250102);
  const random = generator(seed);
  const int = (n: number) => Math.floor(random() * n);
  const deadline = performance.now() + 3000;
  let rounds = 0;
  for (; rounds < 50_000 && performance.now() < deadline; rounds++) {
    const maxMessage = [1, 16, 125, 126, 1000, 8704][int(6)];
    const { bytes, expected } = randomStream(random, maxMessage);
    const context = `seed ${seed}, round ${rounds}`;
    const whole = run(bytes, [0], maxMessage);
    assert.deepEqual(whole, expected, context);
    assert.deepEqual(run(bytes, randomSizes(random), maxMessage), whole, context);
    // Mutated: flipped bits, cut, inserted garbage, or pure noise.
    const mutated = bytes.slice();
    let noisy: Uint8Array = mutated;
    const kind = random();
    if (kind < 0.4) {
      for (let i = 0, n = 1 + int(4); i < n && mutated.length > 0; i++) {
        mutated[int(mutated.length)] ^= 1 << int(8);
      }
    } else if (kind < 0.6) {
      noisy = mutated.subarray(0, int(mutated.length + 1));
    } else if (kind < 0.8) {
      const at = int(mutated.length + 1);
      const garbage = new Uint8Array(1 + int(20)).map(() => int(256));
      noisy = concat(mutated.subarray(0, at), garbage, mutated.subarray(at));
    } else {
      noisy = new Uint8Array(int(300)).map(() => int(256));
      // Often masked, so that noise gets past the first check.
      for (let i = 1; i < noisy.length; i += 1 + int(40)) noisy[i] |= 0x80;
    }
    const noisyWhole = run(noisy, [0], maxMessage);
    assert.deepEqual(
      run(noisy, randomSizes(random), maxMessage),
      noisyWhole,
      `${context} (mutated)`,
    );
    // Nothing after the first close or error.
    const end = noisyWhole.findIndex((e) => e.type === "close" || e.type === "error");
    assert.ok(end === -1 || end === noisyWhole.length - 1, context);
  }
  assert.ok(rounds > 100, `only ${rounds} rounds ran`);
});
