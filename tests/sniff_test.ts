import assert from "node:assert/strict";
import { type Classification, classifyFirstBytes } from "../src/front/sniff.ts";
import { SNIFF_LIMIT } from "../src/net/sniff.ts";

const encoder = new TextEncoder();

/** Bytes from hex like "16 03 01". */
function hex(text: string): Uint8Array {
  return new Uint8Array(text.trim().split(/\s+/).map((pair) => parseInt(pair, 16)));
}

function bytes(input: string | Uint8Array): Uint8Array {
  return typeof input === "string" ? encoder.encode(input) : input;
}

// Captured from real clients against a server that logged what arrived.
/** `openssl s_client -connect` (OpenSSL 3.0): the first 64 of its 297 bytes. */
const OPENSSL_CLIENT_HELLO = hex(`
  16 03 01 01 24 01 00 01 20 03 03 f4 31 08 01 ac 98 5e 17 c1 83 1c 3f 50 8c c1 26 a7 0e fd 27 7c
  c4 d0 42 66 52 13 c3 b4 15 5d 77 20 13 e8 b6 50 83 81 a2 27 ab 73 44 ed ef 33 18 5e 4e 76 20 e4
`);
/** `curl http://127.0.0.1:PORT/` (curl 7.88.1), its whole request. */
const CURL_REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1:23251\r\nUser-Agent: curl/7.88.1\r\n" +
  "Accept: */*\r\n\r\n";
/** irssi 1.4.3 `-c 127.0.0.1 -p PORT`: one read. */
const IRSSI_FIRST_READ = "CAP LS 302\r\nJOIN :\r\n";
/** weechat 3.8 `/server add t 127.0.0.1/PORT -notls`: three reads. */
const WEECHAT_READS = ["CAP LS 302\r\n", "NICK sniffer\r\n", "USER root 0 * :root\r\n"];
/** GNU inetutils telnet 2.4 asked to negotiate (`telnet -- HOST -PORT`): its first read. */
const TELNET_NEGOTIATION = hex("ff fd 26 ff fb 26 ff fd 03 ff fb 18 ff fb 1f ff fb 20");
/** inetutils telnet in its default mode, `x发👍🏽y` + Enter. */
const TELNET_TYPED = hex("78 e5 ff f5 ff fd 06 91 f0 9f 91 8d f0 9f ff f5 ff fd 06 bd 79 0d 0a");

const TABLE: [string, string | Uint8Array, Classification][] = [
  // Nothing yet.
  ["no bytes", "", "undecided"],
  // TLS, from the first two bytes.
  ["openssl ClientHello", OPENSSL_CLIENT_HELLO, "tls"],
  ["ClientHello, first two bytes", hex("16 03"), "tls"],
  ["a TLS 1.2 record header", hex("16 03 03 00 a5"), "tls"],
  ["0x16 alone", hex("16"), "undecided"],
  ["0x16 then not 0x03", hex("16 41 42"), "line"],
  // HTTP request lines.
  ["curl", CURL_REQUEST, "http"],
  ["curl's request line alone", "GET / HTTP/1.1\n", "http"],
  ["POST, HTTP/1.0", "POST /api/v1 HTTP/1.0\r\n", "http"],
  ["an extension method", "PROPFIND /dav/ HTTP/1.1\r\nDepth: 1\r\n", "http"],
  ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\n", "http"],
  ["the HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "http"],
  ["a long target", `GET /${"a".repeat(1500)} HTTP/1.1\r\n`, "http"],
  ["a request line before its LF", "GET / HTTP/1.1", "undecided"],
  ["a request line before its LF, CR sent", "GET / HTTP/1.1\r", "undecided"],
  ["half a method", "GE", "undecided"],
  ["HTTP/0.9 (no version)", "GET /\r\n", "line"],
  ["a lowercase method", "get / HTTP/1.1\r\n", "line"],
  ["a version that is no HTTP", "GET / HTTPS\r\n", "line"],
  // IRC registrations.
  ["irssi", IRSSI_FIRST_READ, "irc"],
  ["weechat's first read", WEECHAT_READS[0], "irc"],
  ["weechat's reads together", WEECHAT_READS.join(""), "irc"],
  ["CAP LS", "CAP LS\r\n", "irc"],
  ["CAP REQ", "CAP REQ :sasl multi-prefix\r\n", "irc"],
  ["CAP END", "CAP END\n", "irc"],
  ["NICK", "NICK alice\r\nUSER alice 0 * :Alice\r\n", "irc"],
  ["NICK with a colon", "NICK :alice\r\n", "irc"],
  ["a UTF-8 nick", "NICK Jürgen\r\n", "irc"],
  ["USER first", "USER bot 8 * :Jürgen Müller\r\n", "irc"],
  ["PASS", "PASS hunter2\r\nNICK bob\r\n", "irc"],
  ["PASS, trailing", "PASS :two words\r\n", "irc"],
  ["NICK before its LF", "NICK alice", "undecided"],
  ["USER before its real name", "USER bot 0 *", "undecided"],
  // What people type.
  ["hello", "hello\n", "line"],
  ["hello before its LF", "hello", "line"],
  ["Hello", "Hello there\n", "line"],
  ["NICKel is a metal", "NICKel is a metal\n", "line"],
  ["NICKel before its LF", "NICKel", "line"],
  ["CAPS LOCK", "CAPS LOCK\n", "line"],
  ["CAPS LOCK ON before its LF", "CAPS LOCK ON", "line"],
  ["GET me a coffee", "GET me a coffee\r\n", "line"],
  ["GET me a before its LF", "GET me a", "line"],
  ["HELLO EVERYONE", "HELLO EVERYONE\n", "line"],
  ["I am here", "I am here\n", "line"],
  ["NICK with two words", "NICK is here\n", "line"],
  ["NICK alone", "NICK\n", "line"],
  ["PASS the salt", "PASS the salt\n", "line"],
  ["USER without a real name", "USER guide online\n", "line"],
  ["USER with four words", "USER manual v 2 out\n", "line"],
  ["CAP alone", "CAP\n", "line"],
  ["CAP with no subcommand", "CAP off\n", "line"],
  ["a command", "/nick bob\n", "line"],
  ["Cyrillic", "Привет\n", "line"],
  ["an empty line", "\n", "line"],
  ["CRLF alone", "\r\n", "line"],
  // Telnet, nc and odd bytes.
  ["telnet negotiation", TELNET_NEGOTIATION, "line"],
  ["telnet typing", TELNET_TYPED, "line"],
  ["a NUL", hex("00"), "line"],
  ["a control character in a first word", "GET\x01 / HTTP/1.1\r\n", "line"],
  // The limit.
  ["a first word longer than any method", "A".repeat(33), "line"],
  ["a target just under the limit", `GET /${"a".repeat(SNIFF_LIMIT - 6)}`, "undecided"],
  ["a target at the limit", `GET /${"a".repeat(SNIFF_LIMIT - 5)}`, "line"],
  ["a target past the limit", `GET /${"a".repeat(SNIFF_LIMIT)} HTTP/1.1\r\n`, "line"],
];

for (const [name, input, expected] of TABLE) {
  Deno.test(`classifyFirstBytes: ${name} → ${expected}`, () => {
    assert.equal(classifyFirstBytes(bytes(input)), expected);
  });
}

Deno.test("classifyFirstBytes: more bytes never change a decided answer", () => {
  for (const [name, input] of TABLE) {
    const all = bytes(input);
    let decided: Classification = "undecided";
    for (let end = 0; end <= all.length; end++) {
      const kind = classifyFirstBytes(all.subarray(0, end));
      if (decided !== "undecided") {
        assert.equal(kind, decided, `${name}: first ${end} bytes`);
      }
      decided = kind;
    }
  }
});

Deno.test("classifyFirstBytes looks at no more than SNIFF_LIMIT bytes", () => {
  const big = new Uint8Array(10 * 1024 * 1024).fill(0x41);
  assert.equal(classifyFirstBytes(big), "line");
});
