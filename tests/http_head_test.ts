import assert from "node:assert/strict";
import {
  HttpHeadReader,
  type HttpHeadResult,
  httpResponse,
  MAX_HEAD_BYTES,
  reasonPhrase,
} from "../src/net/http.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DATE = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
const DATE_LINE = "Date: Thu, 02 Jan 2025 03:04:05 GMT";

interface PlainHead {
  method: string;
  target: string;
  version: string;
  headers: Record<string, string>;
  length: number;
}

/** A result with `rest` as a string, so that results from different feeds compare. */
type Plain =
  | { kind: "more" }
  | { kind: "complete"; head: PlainHead; rest: string }
  | { kind: "error"; status: number; reason: string };

function plain(result: HttpHeadResult): Plain {
  if (result.kind !== "complete") return result;
  return {
    kind: "complete",
    head: { ...result.head, headers: Object.fromEntries(result.head.headers) },
    rest: String.fromCharCode(...result.rest),
  };
}

/**
 * Pushes `chunks` until the reader answers something other than "more" (or
 * the chunks run out). `rest` is the rest of that chunk and the chunks after it.
 */
function feed(reader: HttpHeadReader, chunks: Uint8Array[]): Plain {
  let result: HttpHeadResult = { kind: "more" };
  for (const [i, chunk] of chunks.entries()) {
    result = reader.push(chunk);
    assert.ok(reader.bufferedBytes <= reader.maxBytes, "the reader holds at most maxBytes");
    if (result.kind === "complete") {
      const answer = plain(result) as Plain & { kind: "complete" };
      for (const later of chunks.slice(i + 1)) answer.rest += String.fromCharCode(...later);
      return answer;
    }
    if (result.kind === "error") break;
  }
  return plain(result);
}

function bytesOf(input: string | Uint8Array): Uint8Array {
  return typeof input === "string" ? Uint8Array.from(input, (c) => c.charCodeAt(0)) : input;
}

/**
 * Reads `input` all at once, one byte at a time and in chunks of 7 and 100
 * bytes, checks that every way gives the same answer, and returns it.
 */
function read(input: string | Uint8Array, options: { maxBytes?: number } = {}): Plain {
  const bytes = bytesOf(input);
  const whole = feed(new HttpHeadReader(options), [bytes]);
  for (const size of [1, 7, 100]) {
    const chunks = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    assert.deepEqual(feed(new HttpHeadReader(options), chunks), whole, `in chunks of ${size}`);
  }
  return whole;
}

function complete(input: string | Uint8Array, options: { maxBytes?: number } = {}) {
  const result = read(input, options);
  if (result.kind !== "complete") {
    assert.fail(`expected a complete head, got ${JSON.stringify(result)}`);
  }
  return result;
}

function refused(input: string | Uint8Array, status: number, options: { maxBytes?: number } = {}) {
  const result = read(input, options);
  if (result.kind !== "error") assert.fail(`expected an error, got ${JSON.stringify(result)}`);
  assert.equal(result.status, status, result.reason);
  return result;
}

Deno.test("a browser's WebSocket request head is read whole, with CR LF lines", () => {
  const request = [
    "GET /chat?room=lobby HTTP/1.1",
    "Host: chat.example:7000",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Connection: keep-alive, Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Protocol: text.ircv3.net, binary.ircv3.net",
    "",
    "",
  ].join("\r\n");
  const result = complete(request);
  assert.deepEqual(result.head, {
    method: "GET",
    target: "/chat?room=lobby",
    version: "HTTP/1.1",
    headers: {
      "host": "chat.example:7000",
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
      "connection": "keep-alive, Upgrade",
      "upgrade": "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-protocol": "text.ircv3.net, binary.ircv3.net",
    },
    length: request.length,
  });
  assert.equal(result.rest, "");
});

Deno.test("bare LF line ends work, mixed with CR LF", () => {
  const lf = complete("GET / HTTP/1.1\nHost: a\n\n");
  assert.deepEqual(lf.head.headers, { host: "a" });
  assert.equal(lf.head.length, 24);
  const mixed = complete("GET / HTTP/1.0\r\nA: 1\nB: 2\r\n\n");
  assert.deepEqual(mixed.head.headers, { a: "1", b: "2" });
  assert.equal(mixed.head.version, "HTTP/1.0");
});

Deno.test("the bytes after the head are given back, and its length says where it ended", () => {
  const head = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
  const result = complete(head + "hello\x81\x85more");
  assert.equal(result.head.length, head.length);
  assert.equal(result.rest, "hello\x81\x85more");
  // rest is a view of the chunk that completed the head.
  const bytes = bytesOf(head + "tail");
  const reader = new HttpHeadReader();
  assert.equal(reader.push(bytes.subarray(0, 10)).kind, "more");
  const last = bytes.subarray(10);
  const answer = reader.push(last);
  assert.ok(answer.kind === "complete");
  assert.equal(answer.rest.buffer, last.buffer);
  assert.equal(decoder.decode(answer.rest), "tail");
});

Deno.test("header names are lowercased, values lose surrounding whitespace, repeats are joined", () => {
  const result = complete(
    "GET / HTTP/1.1\r\nHost: a\r\nX-Thing:  one \t\r\nx-thing:two\r\nACCEPT:\r\n" +
      "Cache-Control: no-cache\r\ncache-control: max-age=0\r\nX-Tab: a\tb\r\n\r\n",
  );
  assert.deepEqual(result.head.headers, {
    "host": "a",
    "x-thing": "one, two",
    "accept": "",
    "cache-control": "no-cache, max-age=0",
    "x-tab": "a\tb",
  });
});

Deno.test("bytes 0x80-0xFF in a value are kept one character per byte", () => {
  const bytes = new Uint8Array([
    ...bytesOf("GET / HTTP/1.1\r\nHost: a\r\nX-Name: "),
    0xc3,
    0xa9,
    0xff,
  ])
    .slice();
  const full = new Uint8Array([...bytes, ...bytesOf("\r\n\r\n")]);
  assert.equal(complete(full).head.headers["x-name"], "\u00c3\u00a9\u00ff");
});

Deno.test("the answer is 'more' until the blank line arrives", () => {
  const reader = new HttpHeadReader();
  for (const part of ["GET / HT", "TP/1.1\r\n", "Host: a\r", "\n", "\r"]) {
    assert.equal(reader.push(encoder.encode(part)).kind, "more");
  }
  assert.equal(reader.push(encoder.encode("\n")).kind, "complete");
  assert.throws(() => reader.push(encoder.encode("x")), /after the head was read/);
});

Deno.test("a head of exactly 8 KiB is accepted; one byte more is 431", () => {
  const start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  const pad = (total: number) => start + "p".repeat(total - start.length - 4) + "\r\n\r\n";
  assert.equal(pad(MAX_HEAD_BYTES).length, MAX_HEAD_BYTES);
  assert.equal(complete(pad(MAX_HEAD_BYTES)).head.length, MAX_HEAD_BYTES);
  refused(pad(MAX_HEAD_BYTES + 1), 431);
  // With bare LF too.
  const lfHead = (total: number) =>
    "GET / HTTP/1.1\nHost: a\nX: " + "p".repeat(total - 28) + "\n\n";
  assert.equal(lfHead(MAX_HEAD_BYTES).length, MAX_HEAD_BYTES);
  assert.equal(complete(lfHead(MAX_HEAD_BYTES)).kind, "complete");
  refused(lfHead(MAX_HEAD_BYTES + 1), 431);
});

Deno.test("431 is decided as soon as 8 KiB arrived without the head's end, never holding more", () => {
  const reader = new HttpHeadReader();
  assert.equal(reader.push(encoder.encode("GET / HTTP/1.1\r\nX: ")).kind, "more");
  let result: HttpHeadResult = { kind: "more" };
  let pushed = 19;
  while (result.kind === "more") {
    result = reader.push(encoder.encode("x".repeat(100)));
    pushed += 100;
    assert.ok(reader.bufferedBytes <= MAX_HEAD_BYTES);
  }
  assert.ok(result.kind === "error" && result.status === 431);
  assert.ok(pushed < MAX_HEAD_BYTES + 100, `decided after ${pushed} bytes`);
  // Many short header lines count as much as one long one.
  refused("GET / HTTP/1.1\r\n" + "A: b\r\n".repeat(2000), 431);
  // And a long request line.
  refused("GET /" + "a".repeat(MAX_HEAD_BYTES) + " HTTP/1.1\r\n\r\n", 431);
});

Deno.test("a bad line inside the limit is a 400 even when the head is also too long", () => {
  refused("GET / HTTP/1.1\r\nbad line\r\n" + "X: y\r\n".repeat(2000), 400);
  refused("GET / HTTP/2.0\r\n" + "X: y\r\n".repeat(2000), 505);
});

Deno.test("maxBytes can be set", () => {
  refused("GET / HTTP/1.1\r\nHost: abcdefgh\r\n\r\n", 431, { maxBytes: 32 });
  assert.equal(
    complete("GET / HTTP/1.1\r\nHost: abcdefg\r\n\r\n", { maxBytes: 34 }).kind,
    "complete",
  );
  assert.throws(() => new HttpHeadReader({ maxBytes: 0 }), RangeError);
});

Deno.test("an HTTP version other than 1.0 and 1.1 is a 505; a malformed one a 400", () => {
  for (const version of ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3", "HTTP/2"]) {
    refused(`GET / ${version}\r\nHost: a\r\n\r\n`, 505);
  }
  for (const version of ["http/1.1", "HTTP/11", "HTTP/1.1x", "HTTP/1.", "HTTP/", "HTTPS/1.1", ""]) {
    refused(`GET / ${version}\r\nHost: a\r\n\r\n`, 400);
  }
  refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
});

Deno.test("a malformed request line is a 400", () => {
  for (
    const line of [
      "",
      "GET",
      "GET /",
      "GET  / HTTP/1.1",
      "GET /  HTTP/1.1",
      " GET / HTTP/1.1",
      "GET / HTTP/1.1 ",
      "GET / x HTTP/1.1",
      "GET\t/ HTTP/1.1",
      "G(T / HTTP/1.1",
      "GET /caf\xe9 HTTP/1.1",
      "GET /a\x00b HTTP/1.1",
      "GET /a\x7fb HTTP/1.1",
      "GET /a\rb HTTP/1.1",
    ]
  ) {
    refused(`${line}\r\nHost: a\r\n\r\n`, 400);
  }
  // Methods are tokens, case-sensitive, any of them.
  assert.equal(complete("get / HTTP/1.1\r\nHost: a\r\n\r\n").head.method, "get");
  assert.equal(complete("M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n").head.target, "*");
});

Deno.test("obs-fold and whitespace around header names are a 400", () => {
  refused("GET / HTTP/1.1\r\nHost: a\r\nX: one\r\n two\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: a\r\nX: one\r\n\ttwo\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400);
});

Deno.test("header names must be tokens and lines must have a colon", () => {
  for (const line of [": a", "X Y: a", "X@Y: a", "X(Y): a", "NoColon", "X\x00: a", "Caf\xe9: a"]) {
    refused(`GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`, 400);
  }
  assert.deepEqual(
    complete("GET / HTTP/1.1\r\nHost: a\r\nX-Y_z.1~!#$%&'*+^`|: v\r\n\r\n").head
      .headers,
    { "host": "a", "x-y_z.1~!#$%&'*+^`|": "v" },
  );
});

Deno.test("NUL, CR and other control characters in a value are a 400; tab is fine", () => {
  for (const value of ["a\x00b", "a\rb", "a\x01b", "a\x1bb", "a\x7fb", "\r"]) {
    refused(`GET / HTTP/1.1\r\nHost: a\r\nX: ${value}\r\n\r\n`, 400);
  }
  // A bare CR that is not a line end, even at the end of a line before LF + CR.
  refused("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400);
  assert.equal(
    complete("GET / HTTP/1.1\r\nHost: a\r\nX: \ta\tb\t\r\n\r\n").head.headers["x"],
    "a\tb",
  );
});

Deno.test("Host: required once in HTTP/1.1, optional in HTTP/1.0, never twice", () => {
  refused("GET / HTTP/1.1\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
  refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  assert.deepEqual(complete("GET / HTTP/1.0\r\n\r\n").head.headers, {});
  assert.deepEqual(complete("GET / HTTP/1.1\r\nHost:\r\n\r\n").head.headers, { host: "" });
});

Deno.test("random bytes and cut heads never throw and agree however they are fed", () => {
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const base = bytesOf("GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nX: y\r\n\r\nrest");
  for (let round = 0; round < 2000; round++) {
    const bytes = base.slice(0, Math.floor(random() * (base.length + 1)));
    const changes = Math.floor(random() * 3);
    for (let i = 0; i < changes && bytes.length > 0; i++) {
      const at = Math.floor(random() * bytes.length);
      const choices = [0x0a, 0x0d, 0x20, 0x09, 0x3a, 0x00, 0x41, 0xff];
      bytes[at] = choices[Math.floor(random() * choices.length)];
    }
    read(bytes); // asserts that all feeds agree
  }
});

// ---------------------------------------------------------------------------
// Responses

function text(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

Deno.test("a response has the status line, the headers, Date, Content-Length and the body", () => {
  const response = httpResponse(200, {
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
    body: "héllo\n",
    date: DATE,
  });
  assert.equal(
    decoder.decode(response),
    [
      "HTTP/1.1 200 OK",
      "Content-Type: text/plain; charset=utf-8",
      "Cache-Control: no-store",
      DATE_LINE,
      "Content-Length: 7",
      "",
      "héllo\n",
    ].join("\r\n"),
  );
});

Deno.test("a response to HEAD tells the body's length and leaves the body out", () => {
  const body = new Uint8Array(1000).fill(0x61);
  const response = text(httpResponse(404, { body, head: true, date: DATE }));
  assert.equal(response, `HTTP/1.1 404 Not Found\r\n${DATE_LINE}\r\nContent-Length: 1000\r\n\r\n`);
});

Deno.test("1xx and 204 have no Content-Length and no body; 304 has no body", () => {
  const switching = text(httpResponse(101, { headers: [["Upgrade", "websocket"]], date: DATE }));
  assert.equal(
    switching,
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n${DATE_LINE}\r\n\r\n`,
  );
  assert.equal(
    text(httpResponse(204, { date: DATE })),
    `HTTP/1.1 204 No Content\r\n${DATE_LINE}\r\n\r\n`,
  );
  assert.throws(() => httpResponse(204, { body: "x" }), RangeError);
  assert.throws(() => httpResponse(304, { body: "x" }), RangeError);
  assert.throws(() => httpResponse(101, { body: "x" }), RangeError);
});

Deno.test("the standard reason phrases; an unknown status gets none", () => {
  const statusLine = (status: number) =>
    text(httpResponse(status, { date: DATE })).split("\r\n")[0];
  assert.equal(statusLine(400), "HTTP/1.1 400 Bad Request");
  assert.equal(statusLine(426), "HTTP/1.1 426 Upgrade Required");
  assert.equal(statusLine(431), "HTTP/1.1 431 Request Header Fields Too Large");
  assert.equal(statusLine(505), "HTTP/1.1 505 HTTP Version Not Supported");
  assert.equal(statusLine(299), "HTTP/1.1 299 ");
  assert.equal(reasonPhrase(503), "Service Unavailable");
  assert.throws(() => httpResponse(99), RangeError);
  assert.throws(() => httpResponse(600), RangeError);
  assert.throws(() => httpResponse(200.5), RangeError);
});

Deno.test("a header value can never carry CR or LF (no response splitting)", () => {
  for (
    const value of ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b", "a\x7fb", "\u2028", "😀"]
  ) {
    assert.throws(() => httpResponse(200, { headers: { "X-Reason": value } }), TypeError, value);
  }
  for (const name of ["X Reason", "X:Y", "X\r\nY", "", "Café"]) {
    assert.throws(() => httpResponse(200, { headers: [[name, "v"]] }), TypeError, name);
  }
  assert.equal(
    text(httpResponse(200, { headers: [["X", "a\tb \u00e9"]], date: DATE })).split("\r\n")[1],
    "X: a\tb \u00e9",
  );
});

Deno.test("Content-Length and Date are the builder's own", () => {
  assert.throws(() => httpResponse(200, { headers: { "content-length": "3" } }), TypeError);
  assert.throws(() => httpResponse(200, { headers: { Date: "x" } }), TypeError);
  assert.throws(
    () => httpResponse(200, { headers: { "Transfer-Encoding": "chunked" } }),
    TypeError,
  );
});

Deno.test("headers can be a Headers object, in its order; the current time is the default Date", () => {
  const headers = new Headers({ "X-B": "2", "X-A": "1" });
  const response = text(httpResponse(200, { headers }));
  assert.match(
    response,
    /^HTTP\/1\.1 200 OK\r\nx-a: 1\r\nx-b: 2\r\nDate: \w{3}, \d\d \w{3} \d{4} /,
  );
  const date = new Date(response.match(/Date: (.*)\r\n/)![1]);
  assert.ok(Math.abs(date.getTime() - Date.now()) < 5000);
});

Deno.test("a response the reader reads back: the builder's head is a valid head", () => {
  // The response's lines follow the same grammar as a request's headers.
  const response = text(httpResponse(426, {
    headers: [["Sec-WebSocket-Version", "13"], ["Connection", "close"]],
    body: "x",
    date: DATE,
  }));
  const asRequest = response.replace(/^HTTP\/1\.1 426 Upgrade Required/, "GET / HTTP/1.0");
  const result = complete(asRequest);
  assert.deepEqual(result.head.headers, {
    "sec-websocket-version": "13",
    "connection": "close",
    "date": "Thu, 02 Jan 2025 03:04:05 GMT",
    "content-length": "1",
  });
  assert.equal(result.rest, "x");
});
