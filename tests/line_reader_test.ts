import assert from "node:assert/strict";
import { LINE_TOO_LONG, LineReader } from "../src/net/line_reader.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Feeds chunks through a reader and returns what came out, decoded. */
function frame(reader: LineReader, chunks: (string | Uint8Array)[]): (string | symbol)[] {
  const out: (string | symbol)[] = [];
  for (const chunk of chunks) {
    reader.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    for (let line = reader.next(); line !== null; line = reader.next()) {
      out.push(line === LINE_TOO_LONG ? line : decoder.decode(line));
    }
  }
  return out;
}

Deno.test("a line split across reads comes out as one line", () => {
  const reader = new LineReader(100);
  assert.deepEqual(frame(reader, ["hel", "lo wo", "rld\n"]), ["hello world"]);
});

Deno.test("a line split byte by byte comes out whole", () => {
  const reader = new LineReader(100);
  const bytes = encoder.encode("one line\n");
  assert.deepEqual(frame(reader, [...bytes].map((b) => new Uint8Array([b]))), ["one line"]);
});

Deno.test("200 lines in one read come out as 200 lines in order", () => {
  const reader = new LineReader(100);
  const lines = Array.from({ length: 200 }, (_, i) => `message ${i}`);
  assert.deepEqual(frame(reader, [lines.join("\n") + "\n"]), lines);
});

Deno.test("CRLF and LF both end a line; only the CR before LF is dropped", () => {
  const reader = new LineReader(100);
  assert.deepEqual(frame(reader, ["a\r\nb\nc\r", "\nd\re\n", "\r\n"]), ["a", "b", "c", "d\re", ""]);
});

Deno.test("a UTF-8 character split across reads survives", () => {
  const reader = new LineReader(100);
  const bytes = encoder.encode("你好 👍🏽\n");
  // Split inside the 3-byte 你, inside 好, and inside the 4-byte emoji.
  const chunks = [
    bytes.subarray(0, 1),
    bytes.subarray(1, 4),
    bytes.subarray(4, 9),
    bytes.subarray(9),
  ];
  assert.deepEqual(frame(reader, chunks), ["你好 👍🏽"]);
});

Deno.test("a line of exactly maxLine bytes is accepted, with LF or CRLF", () => {
  const reader = new LineReader(10);
  const ten = "x".repeat(10);
  assert.deepEqual(frame(reader, [ten + "\n", ten.slice(0, 4), ten.slice(4) + "\r\n"]), [ten, ten]);
});

Deno.test("an over-long line is refused once and the next line is fine", () => {
  const reader = new LineReader(10);
  assert.deepEqual(frame(reader, ["x".repeat(11) + "\nok\n"]), [LINE_TOO_LONG, "ok"]);
  assert.deepEqual(frame(reader, ["y".repeat(6), "y".repeat(6), "\nfine\n"]), [
    LINE_TOO_LONG,
    "fine",
  ]);
});

Deno.test("a 10 MB line without newline keeps memory bounded by maxLine", () => {
  const maxLine = 4096;
  const reader = new LineReader(maxLine);
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  let tooLong = 0;
  let largestPending = 0;
  for (let sent = 0; sent < 10 * 1024 * 1024; sent += chunk.length) {
    reader.push(chunk);
    for (let line = reader.next(); line !== null; line = reader.next()) {
      assert.equal(line, LINE_TOO_LONG);
      tooLong++;
    }
    largestPending = Math.max(largestPending, reader.pendingBytes);
  }
  assert.equal(tooLong, 1, "reported once, however long");
  assert.ok(largestPending <= maxLine + 1, `held ${largestPending} bytes`);
  assert.deepEqual(frame(reader, ["tail of the long line\nnext\n"]), ["next"]);
});

Deno.test("a partial line is held until its end arrives, and no longer", () => {
  const reader = new LineReader(100);
  assert.deepEqual(frame(reader, ["partial"]), []);
  assert.equal(reader.pendingBytes, 7);
  assert.deepEqual(frame(reader, [" done\n"]), ["partial done"]);
  assert.equal(reader.pendingBytes, 0);
});

Deno.test("pushing before the previous chunk is drained is a bug and says so", () => {
  const reader = new LineReader(100);
  reader.push(encoder.encode("a\nb\n"));
  reader.next();
  assert.throws(() => reader.push(encoder.encode("c\n")), /drained/);
});

Deno.test("finish gives the unterminated last line at end of stream", () => {
  const reader = new LineReader(10);
  assert.deepEqual(frame(reader, ["a\nlast"]), ["a"]);
  assert.equal(decoder.decode(reader.finish() as Uint8Array), "last");
  assert.equal(reader.finish(), null, "only once");
  frame(reader, ["x".repeat(20)]);
  assert.equal(reader.finish(), null, "an over-long line was already reported");
});
