/**
 * The chat port's web side over real sockets (issue 22): the page over
 * HTTP (headers, keep-alive, refusals), IRC over WebSocket with Deno's own
 * WebSocket client and raw frames (close codes, ping, fragments, limits),
 * Origin and X-Forwarded-For, the console and the metrics; and a fuzz of
 * random frames the server survives.
 */

import assert from "node:assert/strict";
import { webAssetsModule } from "../src/front/http/asset_module.ts";
import { ServerMetrics } from "../src/metrics.ts";
import { parseCidr } from "../src/core/cidr.ts";
import { delay, startServer, TestClient, waitUntil, withDeadline } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An HTTP response as read off the wire. */
interface Response {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Reads the whole stream until the server closes it. */
async function readToEnd(conn: Deno.Conn, limitMs = 5000): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const n = await withDeadline(conn.read(buffer), deadline - Date.now(), "the server's answer");
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** Splits a byte stream into the HTTP responses in it (bodies by Content-Length). */
function responses(bytes: Uint8Array, headOnly = false): Response[] {
  const text = new TextDecoder("latin1").decode(bytes);
  const out: Response[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    assert.ok(end !== -1, `an unfinished response head: ${text.slice(at, at + 200)}`);
    const [statusLine, ...lines] = text.slice(at, end).split("\r\n");
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const status = Number(statusLine.split(" ")[1]);
    const length = headOnly || status === 304 ? 0 : Number(headers.get("content-length") ?? 0);
    const bodyBytes = bytes.subarray(end + 4, end + 4 + length);
    out.push({ status, headers, body: decoder.decode(bodyBytes) });
    at = end + 4 + length;
  }
  return out;
}

/** Sends `request` on a new connection and reads until the server closes it. */
async function exchange(port: number, request: string | Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(typeof request === "string" ? encoder.encode(request) : request);
    return await readToEnd(conn);
  } finally {
    conn.close();
  }
}

Deno.test("GET / is the page with its security headers; its files, HEAD, 304, 404, 405", async () => {
  const t = startServer();
  try {
    const [page] = responses(
      await exchange(t.port, "GET / HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n"),
    );
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(page.body, /<script type="module" src="app\.js"><\/script>/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("connection"), "close");

    // The page's files, a 304 for a file the browser has, HEAD, 404 and 405, on one connection.
    const etag = page.headers.get("etag")!;
    const kept = responses(
      await exchange(
        t.port,
        "GET /app.js HTTP/1.1\r\nHost: chat\r\n\r\n" +
          `GET /?x=1 HTTP/1.1\r\nHost: chat\r\nIf-None-Match: ${etag}\r\n\r\n` +
          "GET /style.css HTTP/1.1\r\nHost: chat\r\n\r\n" +
          "GET /missing.js HTTP/1.1\r\nHost: chat\r\n\r\n" +
          "DELETE / HTTP/1.1\r\nHost: chat\r\n\r\n" +
          "GET / HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n",
      ),
    );
    assert.deepEqual(kept.map((r) => r.status), [200, 304, 200, 404, 405, 200]);
    assert.equal(kept[0].headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(kept[0].body, /import \{ IrcClient \} from "\.\/client\.js"/);
    assert.equal(kept[1].body, "");
    assert.equal(kept[2].headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal(kept[4].headers.get("allow"), "GET, HEAD");
    for (const r of kept) assert.equal(r.headers.get("x-content-type-options"), "nosniff");

    const head = await exchange(
      t.port,
      "HEAD / HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n",
    );
    const [headAnswer] = responses(head, true);
    assert.equal(headAnswer.status, 200);
    assert.equal(
      Number(headAnswer.headers.get("content-length")),
      encoder.encode(page.body).length,
    );
    assert.ok(decoder.decode(head).endsWith("\r\n\r\n"), "no body after HEAD's head");

    // gzip when the browser takes it (its own ETag), never when it says q=0.
    const zipped = await exchange(
      t.port,
      "GET /chat.js HTTP/1.1\r\nHost: chat\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n" +
        "GET /chat.js HTTP/1.1\r\nHost: chat\r\nAccept-Encoding: gzip;q=0\r\nConnection: close\r\n\r\n",
    );
    const text = new TextDecoder("latin1").decode(zipped);
    const split = text.indexOf("\r\n\r\n");
    const zippedLength = Number(/Content-Length: (\d+)/.exec(text)![1]);
    assert.match(text.slice(0, split), /Content-Encoding: gzip/);
    assert.match(text.slice(0, split), /ETag: "[^"]+-gz"/);
    const gz = zipped.subarray(split + 4, split + 4 + zippedLength);
    const unzipped = await new Response(
      new Blob([new Uint8Array(gz)]).stream().pipeThrough(new DecompressionStream("gzip")),
    ).text();
    const [second, ...more] = responses(zipped.subarray(split + 4 + zippedLength));
    assert.equal(more.length, 0);
    assert.equal(second.headers.get("content-encoding"), undefined);
    assert.equal(unzipped, second.body);
    assert.ok(zippedLength < second.body.length / 2, `${zippedLength} of ${second.body.length}`);

    // The console: the page and the refusals, not every file.
    const http = t.log.lines.filter((line) => / http +/.test(line));
    assert.ok(http.some((l) => /127\.0\.0\.1:\d+ +GET \/  200$/.test(l)), http.join("\n"));
    assert.ok(http.some((l) => /GET \/missing\.js  404$/.test(l)), http.join("\n"));
    assert.ok(http.some((l) => /DELETE \/  405$/.test(l)), http.join("\n"));
    assert.ok(!http.some((l) => /app\.js|style\.css/.test(l)), http.join("\n"));
  } finally {
    await t.close();
  }
});

Deno.test("a bad or oversized request head is refused with its status and the connection closed", async () => {
  const t = startServer();
  try {
    const oversized = "GET / HTTP/1.1\r\nHost: chat\r\n" + "X-Pad: aaaaaaaaaa\r\n".repeat(600);
    assert.equal(responses(await exchange(t.port, oversized))[0].status, 431);
    const folded = "GET / HTTP/1.1\r\nHost: chat\r\nX: a\r\n b\r\n\r\n";
    assert.equal(responses(await exchange(t.port, folded))[0].status, 400);
    const noHost = "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n";
    assert.equal(responses(await exchange(t.port, noHost))[0].status, 400);
    // A body is never read: the request is answered and the connection closed.
    const post = "POST / HTTP/1.1\r\nHost: chat\r\nContent-Length: 5\r\n\r\nhello" +
      "GET / HTTP/1.1\r\nHost: chat\r\n\r\n";
    const posted = responses(await exchange(t.port, post));
    assert.deepEqual(posted.map((r) => r.status), [405]);
    // Someone in the chat is untouched by all of it.
    const alice = await TestClient.join(t.port, "alice");
    alice.send("still here");
    alice.close();
  } finally {
    await t.close();
  }
});

Deno.test("the embedded page is src/front/web/assets as it is (deno task assets)", async () => {
  const dir = new URL("../src/front/web/assets/", import.meta.url);
  const files: { name: string; text: string }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) {
      files.push({ name: entry.name, text: await Deno.readTextFile(new URL(entry.name, dir)) });
    }
  }
  const embedded = await Deno.readTextFile(
    new URL("../src/front/http/web_assets.ts", import.meta.url),
  );
  assert.ok(
    embedded === webAssetsModule(files),
    "src/front/http/web_assets.ts is out of date: run `deno task assets`",
  );
});

// ---------------------------------------------------------------------------
// WebSocket

/** Waits for a WebSocket message matching `pattern`; returns it. */
function nextMessage(
  pattern: RegExp,
  seen: string[],
  timeout = 5000,
): Promise<string> {
  return waitUntil(
    () => seen.some((m) => pattern.test(m)),
    () => `a message matching ${pattern}; got:\n${seen.join("\n")}`,
    timeout,
  ).then(() => seen.find((m) => pattern.test(m))!);
}

Deno.test("a WebSocket client (Deno's own) chats with a line client; logged and counted as web", async () => {
  const metrics = new ServerMetrics({ version: "test" });
  const t = startServer({ metrics });
  const seen: string[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${t.port}/chat`, ["text.ircv3.net"]);
  socket.onmessage = (event) => seen.push(String(event.data));
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  try {
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    assert.equal(socket.protocol, "text.ircv3.net");
    const bob = await TestClient.join(t.port, "bob");
    socket.send("NICK webber");
    socket.send("USER web 0 * :Web Person");
    await nextMessage(/ 001 webber /, seen);
    socket.send("JOIN #lobby");
    await nextMessage(/JOIN #lobby/, seen);
    socket.send("PRIVMSG #lobby :hello from a browser ✓");
    await bob.expect(/<webber> hello from a browser ✓/);
    bob.send("hi web");
    await nextMessage(/^:bob!\S+ PRIVMSG #lobby :hi web$/, seen);
    assert.ok(seen.every((m) => !m.includes("\r") && !m.includes("\n")), "one line per message");
    assert.match(metrics.render(), /^parley_clients_online\{frontend="web"\} 1$/m);

    socket.send("QUIT :bye now");
    const close = await withDeadline(closed, 5000, "the close");
    assert.equal(close.code, 1000);
    await bob.expect(/webber left|webber.*quit/i);
    bob.close();
    const log = t.log.lines.join("\n");
    assert.match(log, /connect +127\.0\.0\.1:\d+ +webber +online=\d+  web/);
    assert.match(log, /message +127\.0\.0\.1:\d+ +webber +#lobby +hello from a browser ✓/);
    assert.match(log, /disconnect +127\.0\.0\.1:\d+ +webber +reason="quit: bye now".*  web/);
  } finally {
    socket.close();
    await t.close();
  }
});

/** A masked client frame (RFC 6455 §5.2); `mask: false` sends it unmasked, which is refused. */
function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  options: { fin?: boolean; mask?: boolean } = {},
): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const masked = options.mask ?? true;
  const length = data.length;
  const header: number[] = [(options.fin ?? true ? 0x80 : 0) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 65536) header.push(maskBit | 126, length >> 8, length & 0xff);
  else {header.push(
      maskBit | 127,
      0,
      0,
      0,
      0,
      (length >>> 24) & 0xff,
      (length >> 16) & 0xff,
      (length >> 8) & 0xff,
      length & 0xff,
    );}
  const key = masked ? crypto.getRandomValues(new Uint8Array(4)) : new Uint8Array(0);
  const out = new Uint8Array(header.length + key.length + length);
  out.set(header);
  out.set(key, header.length);
  for (let i = 0; i < length; i++) {
    out[header.length + key.length + i] = masked ? data[i] ^ key[i % 4] : data[i];
  }
  return out;
}

/** Server frames read off a raw socket. */
interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
}

/** A raw WebSocket connection: the handshake's answer, then frames. */
class RawSocket {
  readonly frames: ServerFrame[] = [];
  readonly closed: Promise<void>;
  #buffer: Uint8Array = new Uint8Array(0);
  #head: string | null = null;
  #headReady: Promise<void>;

  private constructor(readonly conn: Deno.Conn) {
    let ready!: () => void;
    this.#headReady = new Promise((resolve) => ready = resolve);
    this.closed = this.#pump(ready);
  }

  static async open(port: number, headers: Record<string, string> = {}): Promise<RawSocket> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const all: Record<string, string> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Protocol": "text.ircv3.net",
      ...headers,
    };
    const lines = Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    await conn.write(encoder.encode(`GET / HTTP/1.1\r\n${lines}\r\n`));
    const socket = new RawSocket(conn);
    await withDeadline(socket.#headReady, 5000, "the handshake's answer");
    return socket;
  }

  /** The status of the handshake's answer. */
  get status(): number {
    return Number(this.#head?.split(" ")[1]);
  }

  get head(): string {
    return this.#head ?? "";
  }

  async send(...frames: Uint8Array[]): Promise<void> {
    for (const frame of frames) await this.conn.write(frame);
  }

  /** Sends IRC lines as text messages. */
  async lines(...lines: string[]): Promise<void> {
    await this.send(...lines.map((line) => clientFrame(0x1, line)));
  }

  texts(): string[] {
    return this.frames.filter((f) => f.opcode === 0x1).map((f) => decoder.decode(f.payload));
  }

  async waitForText(pattern: RegExp): Promise<string> {
    await waitUntil(
      () => this.texts().some((t) => pattern.test(t)),
      () => `a message matching ${pattern}; got:\n${this.texts().join("\n")}`,
    );
    return this.texts().find((t) => pattern.test(t))!;
  }

  /** The close frame's code (waits for it). */
  async closeCode(): Promise<number> {
    await waitUntil(() => this.frames.some((f) => f.opcode === 0x8), "a close frame");
    const payload = this.frames.find((f) => f.opcode === 0x8)!.payload;
    return payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
  }

  async #pump(headReady: () => void): Promise<void> {
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        this.#buffer = concat(this.#buffer, chunk.subarray(0, n));
        this.#parse(headReady);
      }
    } catch {
      // reset: the frames so far are what there is
    }
    headReady();
  }

  #parse(headReady: () => void): void {
    if (this.#head === null) {
      const text = new TextDecoder("latin1").decode(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return;
      this.#head = text.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 4);
      headReady();
      if (this.status !== 101) return;
    }
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let length = b[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = (b[2] << 8) | b[3];
        at = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
        at = 10;
      }
      assert.equal(b[1] & 0x80, 0, "server frames are not masked");
      if (b.length < at + length) return;
      this.frames.push({ opcode: b[0] & 0x0f, payload: b.slice(at, at + length) });
      this.#buffer = b.slice(at + length);
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Registers a raw socket as `nick` in #lobby. */
async function register(socket: RawSocket, nick: string): Promise<void> {
  await socket.lines(`NICK ${nick}`, `USER ${nick} 0 * :${nick}`);
  await socket.waitForText(new RegExp(` 001 ${nick} `));
  await socket.lines("JOIN #lobby");
  await socket.waitForText(/ 366 /);
}

Deno.test("WebSocket framing on the server: fragments, ping, binary, close codes, limits", async () => {
  const t = startServer();
  try {
    const bob = await TestClient.join(t.port, "bob");
    const web = await RawSocket.open(t.port);
    assert.equal(web.status, 101);
    assert.match(web.head, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
    assert.match(web.head, /Sec-WebSocket-Protocol: text\.ircv3\.net/);
    await register(web, "raw");

    // A message in three fragments with a ping between them: one line; the ping answered.
    await web.send(
      clientFrame(0x1, "PRIVMSG #lobby :frag", { fin: false }),
      clientFrame(0x0, "men", { fin: false }),
      clientFrame(0x9, "are you there"),
      clientFrame(0x0, "ted"),
    );
    await bob.expect(/<raw> fragmented/);
    await waitUntil(() => web.frames.some((f) => f.opcode === 0xa), "a pong");
    assert.equal(
      decoder.decode(web.frames.find((f) => f.opcode === 0xa)!.payload),
      "are you there",
    );

    // A binary message is a line too; a trailing CR LF is dropped; two lines in one message are two.
    await web.send(clientFrame(0x2, "PRIVMSG #lobby :in binary\r\n"));
    await bob.expect(/<raw> in binary$/);
    await web.lines("PRIVMSG #lobby :first\r\nPRIVMSG #lobby :second");
    await bob.expect(/<raw> second/);
    assert.ok(bob.lines.some((l) => /<raw> first$/.test(l)));

    // An IRC line too long for IRC is answered as IRC answers it (417), the connection kept.
    await web.lines(`PRIVMSG #lobby :${"x".repeat(600)}`);
    await web.waitForText(/ 417 raw /);

    // The client closes: the code is echoed, the console says so (an unusual code is named).
    await web.send(clientFrame(0x8, new Uint8Array([0x0f, 0xa0, 0x62, 0x79, 0x65]))); // 4000 "bye"
    assert.equal(await web.closeCode(), 4000);
    await withDeadline(web.closed, 5000, "the server's close");
    await waitUntil(
      () =>
        t.log.lines.some((l) =>
          /disconnect .* raw .*reason="closed: WebSocket close code 4000 \\"bye\\""/.test(l)
        ),
      () => `the disconnect line:\n${t.log.lines.join("\n")}`,
    );

    // Protocol errors: each closed with its code, and logged.
    const cases: [string, Uint8Array, number][] = [
      ["unmasked", clientFrame(0x1, "NICK x", { mask: false }), 1002],
      ["bad UTF-8", clientFrame(0x1, new Uint8Array([0x4e, 0xc3, 0x28])), 1007],
      ["too big", clientFrame(0x1, "x".repeat(9000)), 1009],
      ["unknown opcode", clientFrame(0x3, "?"), 1002],
    ];
    for (const [what, frame, code] of cases) {
      const bad = await RawSocket.open(t.port);
      await bad.send(frame);
      assert.equal(await bad.closeCode(), code, what);
      await withDeadline(bad.closed, 5000, `the close after ${what}`);
    }
    const carol = await TestClient.join(t.port, "carol");
    bob.send("all fine");
    await carol.expect(/<bob> all fine/);
    bob.close();
    carol.close();
  } finally {
    await t.close();
  }
});

Deno.test("Origin: the page's own and --web-origin ones are let in, others get 403", async () => {
  const t = startServer({ web: { origins: ["https://friend.example"], trustedProxies: [] } });
  try {
    const own = await RawSocket.open(t.port, { Origin: `http://127.0.0.1:${t.port}` });
    assert.equal(own.status, 101);
    own.conn.close();
    const friend = await RawSocket.open(t.port, { Origin: "https://friend.example" });
    assert.equal(friend.status, 101);
    friend.conn.close();
    const none = await RawSocket.open(t.port);
    assert.equal(none.status, 101, "no Origin: not a browser, let in");
    none.conn.close();
    const stranger = await RawSocket.open(t.port, { Origin: "https://evil.example" });
    assert.equal(stranger.status, 403);
    await withDeadline(stranger.closed, 5000, "the close after 403");
    assert.ok(t.log.lines.some((l) => /http .*GET \/  403$/.test(l)), t.log.lines.join("\n"));
  } finally {
    await t.close();
  }
});

Deno.test("X-Forwarded-For is believed only from a --trust-proxy address", async () => {
  const trusting = startServer({
    web: { origins: [], trustedProxies: [parseCidr("127.0.0.1")!] },
  });
  const other = startServer({ web: { origins: [], trustedProxies: [parseCidr("10.0.0.0/8")!] } });
  try {
    for (
      const [t, nick, shown] of [[trusting, "proxied", "203.0.113.9"], [
        other,
        "claimer",
        "127.0.0.1",
      ]] as const
    ) {
      const socket = await RawSocket.open(t.port, {
        "X-Forwarded-For": "198.51.100.1, 203.0.113.9",
      });
      await register(socket, nick);
      await waitUntil(
        () =>
          t.log.lines.some((l) =>
            new RegExp(`connect +${shown.replaceAll(".", "\\.")}:\\d+ +${nick} `).test(l)
          ),
        () => `${nick} connected from ${shown}:\n${t.log.lines.join("\n")}`,
      );
      socket.conn.close();
    }
  } finally {
    await trusting.close();
    await other.close();
  }
});

Deno.test("random frames after a handshake never crash the server or leave a session behind", async () => {
  const t = startServer();
  let seed = 0x2545f491;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  try {
    const bob = await TestClient.join(t.port, "bob");
    for (let round = 0; round < 150; round++) {
      const socket = await RawSocket.open(t.port);
      if (round % 3 === 0) await register(socket, `fz${round}`);
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 8; i++) {
        const kind = random();
        if (kind < 0.4) {
          const bytes = crypto.getRandomValues(new Uint8Array(Math.floor(random() * 300)));
          frames.push(bytes);
        } else {
          const opcode = [0x0, 0x1, 0x2, 0x8, 0x9, 0xa, 0x3, 0xf][Math.floor(random() * 8)];
          const payload = crypto.getRandomValues(new Uint8Array(Math.floor(random() * 200)));
          frames.push(clientFrame(opcode, payload, { fin: random() < 0.7, mask: random() < 0.9 }));
        }
      }
      await socket.send(...frames).catch(() => {});
      if (round % 2 === 0) socket.conn.close();
      else await withDeadline(Promise.race([socket.closed, delay(300)]), 2000, "a fuzzed socket");
      try {
        socket.conn.close();
      } catch { /* closed */ }
    }
    const carol = await TestClient.join(t.port, "carol");
    bob.send("after the fuzz");
    await carol.expect(/<bob> after the fuzz/);
    await waitUntil(
      () => t.server.online === 2,
      () => `bob and carol online, not ${t.server.online}`,
    );
    bob.close();
    carol.close();
  } finally {
    await t.close();
  }
});
