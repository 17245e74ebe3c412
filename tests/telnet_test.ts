import assert from "node:assert/strict";
import { TelnetFilter } from "../src/net/telnet.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const IAC = 0xff;
const DONT = 0xfe;
const DO = 0xfd;
const WONT = 0xfc;
const WILL = 0xfb;
const BINARY = 0;
const ECHO = 1;
const SGA = 3;
const TIMING_MARK = 6;

/** Bytes from hex like "78 e5 ff". */
function hex(text: string): Uint8Array {
  return new Uint8Array(text.trim().split(/\s+/).map((pair) => parseInt(pair, 16)));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Feeds chunks through a filter; returns the data and the replies, each joined. */
function run(
  filter: TelnetFilter,
  chunks: Uint8Array[],
): { data: Uint8Array; replies: Uint8Array } {
  const data: Uint8Array[] = [];
  const replies: Uint8Array[] = [];
  for (const chunk of chunks) {
    data.push(filter.filter(chunk));
    const reply = filter.takeReplies();
    if (reply) replies.push(reply);
  }
  return { data: concat(data), replies: concat(replies) };
}

/** Every way to cut `bytes` in two, plus one byte per chunk. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const ways = [[...bytes].map((byte) => new Uint8Array([byte]))];
  for (let at = 0; at <= bytes.length; at++) ways.push([bytes.slice(0, at), bytes.slice(at)]);
  return ways;
}

// What GNU inetutils telnet 2.4 (Debian's `telnet`) sends for `x发👍🏽y` + Enter, captured.
const TYPED_NVT = hex("78 e5 ff f5 ff fd 06 91 f0 9f 91 8d f0 9f ff f5 ff fd 06 bd 79 0d 0a");
// The same once it sends BINARY.
const TYPED_BINARY = hex("78 e5 8f 91 f0 9f 91 8d f0 9f 8f bd 79 0a");
// Its Ctrl-C: IAC IP IAC DO TIMING-MARK.
const CTRL_C = hex("ff f4 ff fd 06");
// What it sends at connect when told to negotiate (`telnet -- HOST -PORT`), captured.
const TELNET_PORT_HELLO = hex(
  "ff fd 26 ff fb 26 ff fd 03 ff fb 18 ff fb 1f ff fb 20 ff fb 21 ff fb 22 ff fb 27 ff fd 05",
);

Deno.test("a chunk without 0xFF comes back as the same array, with no replies", () => {
  const filter = new TelnetFilter();
  const chunk = encoder.encode("hello 发👍🏽\r\n");
  assert.equal(filter.filter(chunk), chunk);
  assert.equal(filter.takeReplies(), null);
  assert.equal(filter.active, false);
  const empty = new Uint8Array(0);
  assert.equal(filter.filter(empty), empty);
});

Deno.test("from a telnet peer too, a chunk without 0xFF or NUL comes back as the same array", () => {
  const filter = new TelnetFilter();
  run(filter, [CTRL_C]);
  assert.equal(filter.active, true);
  const chunk = encoder.encode("plain text\r\n");
  assert.equal(filter.filter(chunk), chunk);
});

Deno.test("telnet's NVT bytes for x发👍🏽y come out as the text typed; TIMING-MARK is refused", () => {
  const filter = new TelnetFilter();
  const { data, replies } = run(filter, [TYPED_NVT]);
  assert.equal(decoder.decode(data), "x发👍🏽y\r\n");
  // DO BINARY on the first command, then one WONT TIMING-MARK per DO TIMING-MARK.
  assert.deepEqual(replies, new Uint8Array([IAC, DO, BINARY, IAC, WONT, 6, IAC, WONT, 6]));
  assert.equal(filter.active, true);
  assert.equal(filter.binaryInput, false);
});

Deno.test("after BINARY is agreed telnet's bytes pass as they are", () => {
  const filter = new TelnetFilter();
  run(filter, [TYPED_NVT]);
  const { replies } = run(filter, [new Uint8Array([IAC, WILL, BINARY])]);
  assert.equal(replies.length, 0, "WILL BINARY answers our DO: no reply");
  assert.equal(filter.binaryInput, true);
  assert.equal(filter.filter(TYPED_BINARY), TYPED_BINARY);
  assert.equal(decoder.decode(TYPED_BINARY), "x发👍🏽y\n");
});

Deno.test("split at every byte, telnet's bytes give the same data and replies", () => {
  const whole = run(new TelnetFilter(), [TYPED_NVT]);
  for (const chunks of splits(TYPED_NVT)) {
    const split = run(new TelnetFilter(), chunks);
    assert.deepEqual(split.data, whole.data, `chunks ${chunks.map((c) => c.length)}`);
    assert.deepEqual(split.replies, whole.replies);
  }
});

Deno.test("a sequence of every kind, split at every byte, gives the same result", () => {
  const bytes = concat([
    TELNET_PORT_HELLO,
    encoder.encode("a"),
    hex("ff ff"), // IAC IAC: one 0xFF
    hex("ff fa 18 00 ff ff 41 ff f0"), // SB TTYPE IS "\xffA" SE
    encoder.encode("b\r"),
    hex("00"), // CR NUL
    hex("ff f1 ff f9"), // NOP, GA
    encoder.encode("c\n"),
  ]);
  const whole = run(new TelnetFilter(), [bytes]);
  assert.deepEqual(whole.data, concat([encoder.encode("a"), hex("ff"), encoder.encode("b\rc\n")]));
  for (const chunks of splits(bytes)) {
    const split = run(new TelnetFilter(), chunks);
    assert.deepEqual(split.data, whole.data, `chunks ${chunks.map((c) => c.length)}`);
    assert.deepEqual(split.replies, whole.replies);
  }
});

Deno.test("Ctrl-C is dropped and its TIMING-MARK refused every time", () => {
  const filter = new TelnetFilter();
  const first = run(filter, [encoder.encode("hi"), CTRL_C]);
  assert.equal(decoder.decode(first.data), "hi");
  assert.equal(
    filter.takeLineCancelled(),
    true,
    "the line it interrupted is for the owner to drop",
  );
  assert.deepEqual(first.replies, new Uint8Array([IAC, DO, BINARY, IAC, WONT, TIMING_MARK]));
  const second = run(filter, [CTRL_C]);
  assert.equal(second.data.length, 0);
  assert.deepEqual(second.replies, new Uint8Array([IAC, WONT, TIMING_MARK]));
});

Deno.test("IP, AO, SUSP and BRK become data only where a UTF-8 continuation byte is due", () => {
  // telnet sends them for 0x83, 0x8F, 0x9A, 0x9C inside a character (一 is E4 B8 80).
  const inside = run(new TelnetFilter(), [
    hex("e4 b8 ff f4 ff fd 06 e4 b8 ff f5 ff fd 06 e4 b8 ff ed ff fd 06 e4 b8 ff f3 ff fd 06 0a"),
  ]);
  assert.deepEqual(inside.data, hex("e4 b8 83 e4 b8 8f e4 b8 9a e4 b8 9c 0a"));
  assert.equal(decoder.decode(inside.data), "七丏业东\n");
  // Two in one character: ef 8f 8f is U+F3CF.
  const twice = run(new TelnetFilter(), [hex("ef ff f5 ff fd 06 ff f5 ff fd 06 0a")]);
  assert.deepEqual(twice.data, hex("ef 8f 8f 0a"));
  // Between characters they are what they say, and end the unfinished line before them.
  const between = run(new TelnetFilter(), [hex("61 ff f4 ff fd 06 e4 b8 80 ff f5 62 ff f3 63 0a")]);
  assert.equal(decoder.decode(between.data), "c\n");
  // A character left open at the end of one read is still open at the start of the next.
  const acrossReads = run(new TelnetFilter(), [hex("f0 9f"), hex("ff f5 ff fd 06 bd")]);
  assert.equal(decoder.decode(acrossReads.data), "🏽");
});

Deno.test("a command inside a character at the end of what came waits for what follows", () => {
  // Repaired when the line goes on, even in a later read.
  const filter = new TelnetFilter();
  assert.deepEqual(filter.filter(hex("d1 ff f5 ff fd 06")), hex("d1"));
  assert.equal(filter.midCharacter, true, "undecided: the line may stall");
  assert.deepEqual(filter.filter(hex("0d 0a")), hex("8f 0d 0a"));
  assert.equal(decoder.decode(hex("d1 8f")), "я");
  assert.equal(filter.midCharacter, false);
  assert.equal(filter.takeLineCancelled(), false);
  // What telnet sends when its prompt is left with Ctrl-C after `Привет Н`: the line then stalls.
  const cut = new TelnetFilter();
  const start = hex("d0 9f d1 80 d0 b8 d0 b2 d0 b5 d1 82 20 d0");
  assert.deepEqual(cut.filter(concat([start, CTRL_C])), start);
  assert.equal(cut.midCharacter, true);
  assert.equal(cut.stalled(), "dropped", "a telnet peer's stalled line is dropped");
  assert.equal(cut.midCharacter, false);
  assert.equal(decoder.decode(cut.filter(encoder.encode("again\r\n"))), "again\r\n");
});

Deno.test("telnet's cut first line: the server asks for BINARY; telnet's answer drops the line", () => {
  const filter = new TelnetFilter();
  // Captured: `Привет Нина` typed first; telnet sent this after its prompt, then nothing.
  const start = hex("d0 9f d1 80 d0 b8 d0 b2 d0 b5 d1 82 20 d0");
  assert.equal(filter.filter(start), start, "no telnet command yet: the bytes as they came");
  assert.equal(filter.active, false);
  assert.equal(filter.midCharacter, true);
  assert.equal(filter.stalled(), "asked");
  assert.deepEqual(filter.takeReplies(), new Uint8Array([IAC, DO, BINARY]));
  assert.equal(filter.stalled(), null, "asked once");
  // telnet answers at once (captured: ff fb 00).
  assert.deepEqual(filter.filter(new Uint8Array([IAC, WILL, BINARY])), new Uint8Array(0));
  assert.equal(filter.takeReplies(), null, "the answer to our DO is not answered");
  assert.equal(filter.takeLineCancelled(), true, "the start sent before is dropped");
  assert.equal(filter.takeLineLost(), true, "and the user is to be told");
  assert.equal(filter.takeLineLost(), false);
  assert.equal(filter.binaryInput, true);
  // The line typed again, 8-bit clean now (captured), with telnet's own DO BINARY after it.
  const again = hex("d0 9f d1 80 d0 b8 d0 b2 d0 b5 d1 82 20 d0 9d d0 b8 d0 bd d0 b0 0a ff fd 00");
  assert.equal(decoder.decode(filter.filter(again)), "Привет Нина\n");
  assert.deepEqual(filter.takeReplies(), new Uint8Array([IAC, WONT, BINARY]));
});

Deno.test("a peer that is not telnet is asked once, and its line goes on as it was", () => {
  const filter = new TelnetFilter();
  const start = encoder.encode("Привет Н").subarray(0, 14);
  filter.filter(start);
  assert.equal(filter.stalled(), "asked");
  assert.deepEqual(filter.takeReplies(), new Uint8Array([IAC, DO, BINARY]));
  // nc: the rest of the character and the line come; no answer.
  const rest = encoder.encode("Привет Нина\n").subarray(14);
  assert.equal(filter.filter(rest), rest);
  assert.equal(filter.takeLineCancelled(), false);
  assert.equal(filter.takeLineLost(), false);
  // A later stall is not asked again.
  filter.filter(start);
  assert.equal(filter.stalled(), null);
  assert.equal(filter.takeReplies(), null);
});

Deno.test("a line that is not open inside a character never stalls", () => {
  const filter = new TelnetFilter();
  filter.filter(encoder.encode("hello Нина"));
  assert.equal(filter.midCharacter, false);
  assert.equal(filter.stalled(), null);
  filter.filter(hex("d0"));
  assert.equal(filter.midCharacter, true);
  filter.filter(hex("9d 0a"));
  assert.equal(filter.midCharacter, false, "a line end ends it");
});

Deno.test("IAC IAC is one 0xFF data byte", () => {
  const filter = new TelnetFilter();
  assert.deepEqual(filter.filter(hex("41 ff ff 42")), hex("41 ff 42"));
  assert.deepEqual(run(new TelnetFilter(), [hex("ff"), hex("ff")]).data, hex("ff"));
  assert.equal(filter.active, false, "escaped data is no telnet command");
  assert.equal(filter.takeReplies(), null);
});

Deno.test("a subnegotiation is consumed whole, including escaped 0xFF and fake SEs", () => {
  const filter = new TelnetFilter();
  // SB NAWS 0 80 0 24 SE, with an IAC IAC and a lone F0 inside.
  const { data } = run(filter, [hex("61 ff fa 1f 00 50 ff ff f0 00 18 ff f0 62")]);
  assert.equal(decoder.decode(data), "ab");
});

Deno.test("a subnegotiation without IAC SE ends at the next command", () => {
  const { data, replies } = run(new TelnetFilter(), [hex("ff fa 18 01 ff fd 01 61")]);
  assert.equal(decoder.decode(data), "a");
  assert.deepEqual(replies, new Uint8Array([IAC, DO, BINARY, IAC, WONT, ECHO]));
});

Deno.test("two-byte commands are dropped; IAC before a non-command byte is dropped with it", () => {
  const filter = new TelnetFilter();
  // NOP DM BRK IP AO AYT EC EL GA EOF SUSP ABORT EOR, between letters.
  const commands = [0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xec, 0xed, 0xee, 0xef];
  const bytes = commands.flatMap((command) => [0x61, IAC, command, 0x0a]);
  assert.equal(
    decoder.decode(filter.filter(new Uint8Array(bytes))),
    // BRK, IP, AO, EL, SUSP and ABORT end the line they interrupt: its `a` goes too.
    "a\na\n\n\n\na\na\n\na\na\n\n\na\n",
  );
  const junk = new TelnetFilter();
  assert.equal(decoder.decode(junk.filter(hex("61 ff 41 62"))), "ab");
  assert.equal(junk.active, false);
  assert.equal(junk.takeReplies(), null);
});

Deno.test("requests are refused the telnet way; BINARY is accepted from the peer only", () => {
  const filter = new TelnetFilter();
  const { replies } = run(filter, [
    hex("ff fd 01 ff fb 03 ff fc 18 ff fe 1f ff fd 00"), // DO ECHO, WILL SGA, WONT TTYPE, DONT NAWS, DO BINARY
  ]);
  assert.deepEqual(
    replies,
    new Uint8Array([IAC, DO, BINARY, IAC, WONT, ECHO, IAC, DONT, SGA, IAC, WONT, BINARY]),
  );
});

Deno.test("telnet's negotiation at connect gets one round of answers and ends", () => {
  const filter = new TelnetFilter();
  const first = run(filter, [TELNET_PORT_HELLO]);
  // Captured from the real exchange: DO BINARY, then a refusal for each request.
  assert.deepEqual(
    first.replies,
    hex(
      "ff fd 00 ff fc 26 ff fe 26 ff fc 03 ff fe 18 ff fe 1f ff fe 20 ff fe 21 ff fe 22 ff fe 27 ff fc 05",
    ),
  );
  // telnet's answer to DO BINARY.
  const second = run(filter, [hex("ff fb 00 ff fd 00")]);
  assert.deepEqual(second.replies, new Uint8Array([IAC, WONT, BINARY]));
  assert.equal(filter.binaryInput, true);
});

Deno.test("the first command is a WILL BINARY: our DO is its answer, sent once", () => {
  const filter = new TelnetFilter();
  const { replies } = run(filter, [new Uint8Array([IAC, WILL, BINARY, IAC, WILL, BINARY])]);
  assert.deepEqual(replies, new Uint8Array([IAC, DO, BINARY]));
  assert.equal(filter.binaryInput, true);
});

Deno.test("BINARY turned off by the peer is acknowledged once and not asked for again", () => {
  const filter = new TelnetFilter();
  run(filter, [CTRL_C, new Uint8Array([IAC, WILL, BINARY])]);
  const off = run(filter, [new Uint8Array([IAC, WONT, BINARY, IAC, WONT, BINARY])]);
  assert.deepEqual(off.replies, new Uint8Array([IAC, DONT, BINARY]));
  assert.equal(filter.binaryInput, false);
  // A peer that refused our DO is not asked again.
  const refused = new TelnetFilter();
  run(refused, [CTRL_C]);
  const answer = run(refused, [new Uint8Array([IAC, WONT, BINARY]), CTRL_C]);
  assert.deepEqual(answer.replies, new Uint8Array([IAC, WONT, TIMING_MARK]));
});

Deno.test("answers to the server's own replies are never answered: no loops", () => {
  // A naive peer that acknowledges everything it receives (the RFC 854 loop-maker):
  // DO → WILL only for BINARY, else WONT; WILL → DO; WONT → DONT; DONT → WONT.
  function naivePeer(received: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (let i = 0; i + 2 < received.length; i += 3) {
      assert.equal(received[i], IAC, "the server sends only three-byte negotiation");
      const [verb, option] = [received[i + 1], received[i + 2]];
      if (verb === DO) out.push(IAC, option === BINARY ? WILL : WONT, option);
      if (verb === WILL) out.push(IAC, DO, option);
      if (verb === WONT) out.push(IAC, DONT, option);
      if (verb === DONT) out.push(IAC, WONT, option);
    }
    return new Uint8Array(out);
  }
  const filter = new TelnetFilter();
  // The peer opens with requests of each kind, then a TIMING-MARK.
  let toServer = hex("ff fd 01 ff fb 18 ff fb 1f ff fd 03 ff fd 06 ff fd 00");
  let rounds = 0;
  let total = 0;
  while (toServer.length > 0) {
    assert.ok(++rounds <= 4, "negotiation did not settle");
    assert.equal(filter.filter(toServer).length, 0);
    const replies = filter.takeReplies() ?? new Uint8Array(0);
    total += replies.length;
    toServer = naivePeer(replies);
  }
  assert.ok(rounds <= 3, `settled after ${rounds} rounds`);
  assert.ok(total <= 3 * 8, `${total} reply bytes`);
  assert.equal(filter.binaryInput, true);
});

Deno.test("CR NUL from a telnet peer becomes CR; from anyone else it is left alone", () => {
  const telnet = new TelnetFilter();
  run(telnet, [CTRL_C]);
  assert.deepEqual(telnet.filter(hex("61 0d 00 62 00 0a")), hex("61 0d 62 00 0a"));
  // CR at the end of one read, its NUL at the start of the next.
  assert.deepEqual(run(telnet, [hex("61 0d"), hex("00 62")]).data, hex("61 0d 62"));
  const plain = new TelnetFilter();
  const chunk = hex("61 0d 00 62");
  assert.equal(plain.filter(chunk), chunk);
});

Deno.test("filter never changes the chunk it is given", () => {
  const chunk = TYPED_NVT.slice();
  new TelnetFilter().filter(chunk);
  assert.deepEqual(chunk, TYPED_NVT);
});
