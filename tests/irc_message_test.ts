import {
  decodeLine,
  escapeTagValue,
  formatMessage,
  formatNumeric,
  type IrcMessage,
  lineLengthProblem,
  MAX_BODY_BYTES,
  MAX_CLIENT_TAGS_BYTES,
  MAX_INCOMING_LINE_BYTES,
  MAX_LINE_BYTES,
  parseLine,
  parseMessage,
  unescapeTagValue,
} from "../src/protocol/irc/message.ts";
import {
  formatCtcp,
  formatCtcpAction,
  formatListLines,
  formatServerTime,
  formatTextLines,
  parseCtcp,
  parseCtcpAction,
  splitText,
  stripFormatting,
  textBytesPerLine,
  utf8ByteLength,
} from "../src/protocol/irc/text.ts";
import assert from "node:assert/strict";
import * as numerics from "../src/front/irc/numerics.ts";

const encoder = new TextEncoder();
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Parses a line that must be a message. */
function parse(line: string): IrcMessage {
  const result = parseMessage(line);
  assert.ok(result.ok, `expected ${JSON.stringify(line)} to parse, got ${JSON.stringify(result)}`);
  return result.message;
}

function bytes(text: string): number {
  return encoder.encode(text).length;
}

/** A line's length in bytes without its tags section, CR LF included. */
function untaggedBytes(line: string): number {
  return bytes(line.startsWith("@") ? line.slice(line.indexOf(" ") + 1) : line);
}

// --- parsing --------------------------------------------------------------------------------

Deno.test("parse: the modern document's parameter examples", () => {
  assert.deepEqual(parse(":irc.example.com CAP * LIST :").params, ["*", "LIST", ""]);
  assert.deepEqual(parse("CAP * LS :multi-prefix sasl").params, ["*", "LS", "multi-prefix sasl"]);
  assert.deepEqual(parse("CAP REQ :sasl message-tags foo").params, [
    "REQ",
    "sasl message-tags foo",
  ]);
  assert.deepEqual(parse(":dan!d@localhost PRIVMSG #chan :Hey!").params, ["#chan", "Hey!"]);
  assert.deepEqual(parse(":dan!d@localhost PRIVMSG #chan Hey!").params, ["#chan", "Hey!"]);
  assert.deepEqual(parse(":dan!d@localhost PRIVMSG #chan ::-)").params, ["#chan", ":-)"]);
});

Deno.test("parse: tags, source, command and parameters", () => {
  const message = parse("@id=234AB;rose :dan!d@localhost PRIVMSG #chan :Hey what's up!");
  assert.deepEqual(message, {
    tags: new Map([["id", "234AB"], ["rose", ""]]),
    source: "dan!d@localhost",
    command: "PRIVMSG",
    params: ["#chan", "Hey what's up!"],
  });
  assert.deepEqual(
    parse("@url=;netsplit=tur,ty CMD").tags,
    new Map([["url", ""], ["netsplit", "tur,ty"]]),
  );
});

Deno.test("parse: no source and no tags give an empty map and no source key", () => {
  const message = parse("NICK alice");
  assert.deepEqual(message, { tags: new Map(), command: "NICK", params: ["alice"] });
  assert.equal("source" in message, false);
});

Deno.test("parse: the command is upper-cased; a numeric is three digits", () => {
  assert.equal(parse("privmsg #a :x").command, "PRIVMSG");
  assert.equal(parse("Nick alice").command, "NICK");
  assert.equal(parse(":srv 001 alice :Welcome").command, "001");
});

Deno.test("parse: a command that is neither letters nor three digits is a bad command, with its token", () => {
  for (const command of ["FOO1", "12", "1234", "PRIV-MSG", "é", "0x1"]) {
    assert.deepEqual(parseMessage(`${command} x`), { ok: false, error: "bad-command", command });
  }
});

Deno.test("parse: empty lines and lines without a command", () => {
  assert.deepEqual(parseMessage(""), { ok: false, error: "empty" });
  assert.deepEqual(parseMessage("    "), { ok: false, error: "empty" });
  assert.deepEqual(parseMessage("@a=b"), { ok: false, error: "no-command" });
  assert.deepEqual(parseMessage("@a=b :source"), { ok: false, error: "no-command" });
  assert.deepEqual(parseMessage(":source"), { ok: false, error: "no-command" });
  assert.deepEqual(parseMessage(":source   "), { ok: false, error: "no-command" });
});

Deno.test("parse: several spaces anywhere are one separator; trailing spaces add no parameter", () => {
  const message = parse("  @a=1   :src   PRIVMSG    #chan     :  hello  there ");
  assert.deepEqual(message.tags, new Map([["a", "1"]]));
  assert.equal(message.source, "src");
  assert.deepEqual(message.params, ["#chan", "  hello  there "]);
  assert.deepEqual(parse("USER  guest   0  *   :Ronnie Reagan").params, [
    "guest",
    "0",
    "*",
    "Ronnie Reagan",
  ]);
  assert.deepEqual(parse("NICK alice   ").params, ["alice"]);
  assert.deepEqual(parse("QUIT").params, []);
  assert.deepEqual(parse("QUIT :").params, [""]);
});

Deno.test("parse: a colon inside a middle parameter does not start the trailing one", () => {
  assert.deepEqual(parse("CMD a:b c:d :e f").params, ["a:b", "c:d", "e f"]);
  assert.deepEqual(parse("CMD a ::").params, ["a", ":"]);
});

Deno.test("parse: more than 15 parameters are all kept", () => {
  const many = Array.from({ length: 20 }, (_, i) => `p${i}`);
  assert.deepEqual(parse(`CMD ${many.join(" ")}`).params, many);
});

Deno.test("parse: tag values are unescaped (message-tags example and edge cases)", () => {
  assert.equal(
    parse("@+example=raw+:=,escaped\\:\\s\\\\ :irc.example.com NOTICE #c :M").tags.get("+example"),
    "raw+:=,escaped; \\",
  );
  assert.equal(unescapeTagValue("test\\"), "test"); // lone backslash at the end is dropped
  assert.equal(unescapeTagValue("a\\bc"), "abc"); // unknown escape: the character itself
  assert.equal(unescapeTagValue("line\\rone\\ntwo"), "line\rone\ntwo");
  assert.equal(unescapeTagValue("\\\\s"), "\\s");
  assert.equal(unescapeTagValue("plain"), "plain");
});

Deno.test("parse: repeated tag keys keep the last value; empty segments and keys are skipped", () => {
  assert.deepEqual(parse("@a=1;a=2;;=x;b CMD").tags, new Map([["a", "2"], ["b", ""]]));
  assert.deepEqual(parse("@ CMD").tags, new Map());
  assert.deepEqual(
    parse("@example.com/vendor=x;+client CMD").tags,
    new Map([["example.com/vendor", "x"], ["+client", ""]]),
  );
});

Deno.test("parse: CTCP, control characters and invalid text come out uncleaned", () => {
  const message = parse("PRIVMSG #a :\x01ACTION waves\x01");
  assert.deepEqual(message.params, ["#a", "\x01ACTION waves\x01"]);
  assert.deepEqual(parse("PRIVMSG #a :\x1b[31mred\x00").params[1], "\x1b[31mred\x00");
});

Deno.test("parse: never throws, whatever the line", () => {
  const alphabet = [
    "@",
    ":",
    " ",
    " ",
    ";",
    "=",
    "\\",
    "a",
    "Z",
    "1",
    "0",
    "#",
    "\x01",
    "\x00",
    "\r",
    "é",
    "😀",
    "\ud800",
    "s",
    "PRIVMSG",
  ];
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let n = 0; n < 20000; n++) {
    let line = "";
    const length = Math.floor(random() * 30);
    for (let i = 0; i < length; i++) line += alphabet[Math.floor(random() * alphabet.length)];
    const result = parseMessage(line);
    if (result.ok) {
      assert.match(result.message.command, /^(?:[A-Z]+|[0-9]{3})$/);
      for (const param of result.message.params.slice(0, -1)) {
        assert.ok(param !== "" && !param.includes(" ") && param[0] !== ":", JSON.stringify(line));
      }
    } else {
      assert.ok(["empty", "no-command", "bad-command"].includes(result.error));
    }
  }
});

Deno.test("parse → format → parse gives the same message", () => {
  const lines = [
    "@time=2026-12-01T08:51:26.123Z;+x=a\\sb\\:c\\\\ :nick!user@host PRIVMSG #room :hello there",
    ":srv 353 bob = #dev :@alice bob carol",
    "PING :",
    "MODE #dev +nt",
    "PRIVMSG #a ::-)",
    "QUIT",
  ];
  for (const line of lines) {
    const message = parse(line);
    assert.deepEqual(parse(formatMessage(message).slice(0, -2)), message, line);
  }
});

// --- byte limits ----------------------------------------------------------------------------

Deno.test("limits: the constants", () => {
  assert.equal(MAX_LINE_BYTES, 512);
  assert.equal(MAX_BODY_BYTES, 510);
  assert.equal(MAX_CLIENT_TAGS_BYTES, 4096);
  assert.equal(MAX_INCOMING_LINE_BYTES, 4606);
});

Deno.test("limits: 510 bytes without tags fit, 511 do not", () => {
  const fits = "PRIVMSG #a :" + "x".repeat(510 - 12);
  assert.equal(bytes(fits), 510);
  assert.equal(lineLengthProblem(encoder.encode(fits)), null);
  assert.equal(lineLengthProblem(encoder.encode(fits + "x")), "body");
});

Deno.test("limits: the tags section may take 4096 bytes on top, '@' and space included", () => {
  const body = "PRIVMSG #a :" + "x".repeat(510 - 12);
  const tags = "@" + "+k=" + "v".repeat(4094 - 3) + " ";
  assert.equal(bytes(tags), 4096);
  assert.equal(lineLengthProblem(encoder.encode(tags + body)), null);
  assert.equal(bytes(tags + body), MAX_INCOMING_LINE_BYTES);
  assert.equal(lineLengthProblem(encoder.encode("@+k=" + "v".repeat(4092) + " " + body)), "tags");
  assert.equal(lineLengthProblem(encoder.encode("@" + "v".repeat(5000))), "tags");
  assert.equal(lineLengthProblem(encoder.encode(tags + body + "x")), "body");
});

Deno.test("limits: bytes are counted as received, multi-byte and invalid alike", () => {
  const euro = "€".repeat(170); // 510 bytes
  assert.equal(lineLengthProblem(encoder.encode(euro)), null);
  assert.equal(lineLengthProblem(encoder.encode(euro + "x")), "body");
  assert.equal(lineLengthProblem(new Uint8Array(510).fill(0xff)), null);
  assert.equal(lineLengthProblem(new Uint8Array(511).fill(0xff)), "body");
});

Deno.test("parseLine: limits, decoding and parsing in one call", () => {
  assert.deepEqual(parseLine(encoder.encode("x".repeat(600))), { ok: false, error: "too-long" });
  const result = parseLine(new Uint8Array([...encoder.encode("PRIVMSG #a :caf"), 0xe9]));
  assert.ok(result.ok);
  assert.deepEqual(result.message.params, ["#a", "caf\ufffd"]);
  assert.equal(decodeLine(new Uint8Array([0x61, 0x80, 0x62])), "a\ufffdb");
});

// --- formatting -----------------------------------------------------------------------------

Deno.test("format: lines end in CRLF; the last parameter gets ':' only when it must", () => {
  assert.equal(formatMessage({ command: "NICK", params: ["alice"] }), "NICK alice\r\n");
  assert.equal(
    formatMessage({ command: "PRIVMSG", params: ["#a", "hi there"] }),
    "PRIVMSG #a :hi there\r\n",
  );
  assert.equal(formatMessage({ command: "PRIVMSG", params: ["#a", ":-)"] }), "PRIVMSG #a ::-)\r\n");
  assert.equal(formatMessage({ command: "CAP", params: ["*", "LS", ""] }), "CAP * LS :\r\n");
  assert.equal(formatMessage({ command: "QUIT" }), "QUIT\r\n");
  assert.equal(
    formatMessage({ command: "PRIVMSG", params: ["#a", "hi"] }, { trailing: true }),
    "PRIVMSG #a :hi\r\n",
  );
});

Deno.test("format: source and tags; tag values escaped, empty values bare", () => {
  assert.equal(
    formatMessage({
      tags: { time: "2026-12-01T08:51:26.123Z", "+x": "a b;c\\d\r\n", flag: "" },
      source: "alice!alice@parley",
      command: "PRIVMSG",
      params: ["#dev", "hello"],
    }),
    "@time=2026-12-01T08:51:26.123Z;+x=a\\sb\\:c\\\\d\\r\\n;flag :alice!alice@parley PRIVMSG #dev hello\r\n",
  );
  assert.equal(formatMessage({ tags: new Map(), command: "PING", params: ["x"] }), "PING x\r\n");
  assert.equal(escapeTagValue("plain"), "plain");
});

Deno.test("format: tag values survive escaping and unescaping", () => {
  for (
    const value of ["", "a", "a b", ";;", "\\", "\\s", "x\r\ny", "end\\", "é😀", " ; \\ \r \n "]
  ) {
    assert.equal(unescapeTagValue(escapeTagValue(value)), value);
    const line = formatMessage({ tags: { k: value }, command: "TAGMSG", params: ["#a"] });
    assert.equal(parse(line.slice(0, -2)).tags.get("k"), value);
  }
});

Deno.test("format: what cannot be one faithful line is a RangeError, never an injected line", () => {
  const bad: Parameters<typeof formatMessage>[0][] = [
    { command: "PRIVMSG", params: ["#a", "hi\r\nQUIT :x"] },
    { command: "PRIVMSG", params: ["#a", "nul\x00"] },
    { command: "PRIVMSG", params: ["two words", "x"] },
    { command: "PRIVMSG", params: ["", "x"] },
    { command: "PRIVMSG", params: [":x", "y"] },
    { command: "PRIV MSG" },
    { command: "12" },
    { command: "" },
    { source: "a b", command: "PING" },
    { source: "", command: "PING" },
    { source: "a\nb", command: "PING" },
    { tags: { "a b": "x" }, command: "PING" },
    { tags: { "": "x" }, command: "PING" },
    { tags: { k: "nul\x00" }, command: "PING" },
  ];
  for (const message of bad) {
    assert.throws(() => formatMessage(message), RangeError, JSON.stringify(message));
  }
});

Deno.test("formatNumeric: source is the server, first parameter the target or '*'", () => {
  assert.equal(
    formatNumeric(numerics.RPL_WELCOME, ["Welcome to the parley Network, alice"], {
      server: "irc.local",
      target: "alice",
    }),
    ":irc.local 001 alice :Welcome to the parley Network, alice\r\n",
  );
  assert.equal(
    formatNumeric(numerics.ERR_NICKNAMEINUSE, ["bob", "Nickname is already in use"], {
      server: "irc.local",
    }),
    ":irc.local 433 * bob :Nickname is already in use\r\n",
  );
  assert.equal(
    formatNumeric(numerics.RPL_TOPICWHOTIME, ["#dev", "alice", "1764579086"], {
      server: "s",
      target: "bob",
    }),
    ":s 333 bob #dev alice 1764579086\r\n",
  );
  assert.equal(
    formatNumeric(numerics.RPL_UMODEIS, ["+"], { server: "s", target: "bob", trailing: true }),
    ":s 221 bob :+\r\n",
  );
  assert.throws(() => formatNumeric("1", [], { server: "s" }), RangeError);
  assert.throws(() => formatNumeric("PRIVMSG", [], { server: "s" }), RangeError);
});

Deno.test("formatListLines: a long NAMES list becomes several 353 lines of at most 512 bytes", () => {
  const names = Array.from({ length: 300 }, (_, i) => (i === 0 ? "@" : "") + `user-${i}-ü`);
  const lines = formatListLines({
    source: "irc.local",
    command: "353",
    params: ["bob", "=", "#dev"],
  }, names);
  assert.ok(lines.length > 1);
  const seen: string[] = [];
  for (const line of lines) {
    assert.ok(bytes(line) <= MAX_LINE_BYTES, `${bytes(line)} bytes`);
    assert.ok(line.startsWith(":irc.local 353 bob = #dev :"));
    assert.ok(line.endsWith("\r\n"));
    seen.push(...parse(line.slice(0, -2)).params[3].split(" "));
  }
  assert.deepEqual(seen, names);
  // Lines are filled: each one (but the last) could not take its successor's first name.
  for (let i = 0; i < lines.length - 1; i++) {
    const next = parse(lines[i + 1].slice(0, -2)).params[3].split(" ")[0];
    assert.ok(bytes(lines[i]) + 1 + bytes(next) > MAX_LINE_BYTES);
  }
});

Deno.test("formatListLines: CAP LS 302 continuation puts '*' on every line but the last", () => {
  const caps = Array.from({ length: 80 }, (_, i) => `example.org/capability-${i}`);
  const lines = formatListLines(
    { source: "irc.local", command: "CAP", params: ["*", "LS"] },
    caps,
    { more: "*" },
  );
  assert.ok(lines.length > 1);
  lines.forEach((line, i) => {
    const { params } = parse(line.slice(0, -2));
    assert.ok(bytes(line) <= MAX_LINE_BYTES);
    if (i < lines.length - 1) assert.deepEqual(params.slice(0, 3), ["*", "LS", "*"]);
    else assert.deepEqual(params.slice(0, 2), ["*", "LS"]), assert.equal(params.length, 3);
  });
  assert.deepEqual(
    lines.flatMap((line) => parse(line.slice(0, -2)).params.at(-1)!.split(" ")),
    caps,
  );
});

Deno.test("formatListLines: no items is one line with an empty last parameter; tags go on every line", () => {
  assert.deepEqual(formatListLines({ source: "s", command: "CAP", params: ["*", "LS"] }, []), [
    ":s CAP * LS :\r\n",
  ]);
  assert.deepEqual(
    formatListLines({ source: "s", command: "CAP", params: ["*", "LS"] }, ["server-time"], {
      more: "*",
    }),
    [":s CAP * LS :server-time\r\n"],
  );
  const tagged = formatListLines({
    tags: { time: "t" },
    source: "s",
    command: "353",
    params: ["b", "=", "#a"],
  }, ["x"]);
  assert.deepEqual(tagged, ["@time=t :s 353 b = #a :x\r\n"]);
  assert.throws(
    () => formatListLines({ source: "s", command: "353", params: ["b"] }, ["x".repeat(600)]),
    RangeError,
  );
});

// --- splitting long text --------------------------------------------------------------------

const SOURCE = "alice!alice@parley.example";

/** Checks the splitting invariants and returns the text of each line. */
function checkTextLines(text: string, lines: string[], action = false): string[] {
  const texts = lines.map((line) => {
    assert.ok(line.endsWith("\r\n"));
    assert.ok(
      untaggedBytes(line) <= MAX_LINE_BYTES,
      `${untaggedBytes(line)} bytes: ${line.slice(0, 60)}…`,
    );
    const message = parse(line.slice(0, -2));
    const chunk = message.params[1];
    return action ? parseCtcpAction(chunk)! : chunk;
  });
  assert.equal(texts.join(""), text);
  for (const chunk of texts) {
    assert.equal(chunk.isWellFormed(), true, "no chunk ends inside a surrogate pair");
  }
  // No chunk boundary falls inside a grapheme cluster.
  const whole = [...graphemes.segment(text)].map((s) => s.segment);
  const pieces = texts.flatMap((chunk) => [...graphemes.segment(chunk)].map((s) => s.segment));
  assert.deepEqual(pieces, whole);
  return texts;
}

Deno.test("split: a text that fits stays one line", () => {
  assert.deepEqual(
    formatTextLines({ source: SOURCE, target: "#dev", text: "hello" }),
    [`:${SOURCE} PRIVMSG #dev :hello\r\n`],
  );
  assert.deepEqual(formatTextLines({ source: SOURCE, target: "#dev", text: "" }), [
    `:${SOURCE} PRIVMSG #dev :\r\n`,
  ]);
  assert.deepEqual(splitText("", 10), [""]);
});

Deno.test("split: a line of exactly 512 bytes is one line, 513 are two", () => {
  const budget = textBytesPerLine({ source: SOURCE, target: "#dev" });
  assert.equal(budget, 512 - bytes(`:${SOURCE} PRIVMSG #dev :\r\n`));
  const exact = formatTextLines({ source: SOURCE, target: "#dev", text: "x".repeat(budget) });
  assert.equal(exact.length, 1);
  assert.equal(bytes(exact[0]), 512);
  assert.equal(
    formatTextLines({ source: SOURCE, target: "#dev", text: "x".repeat(budget + 1) }).length,
    2,
  );
});

Deno.test("split: 4096+ bytes of words break after a space near the end of each line", () => {
  const words = Array.from({ length: 700 }, (_, i) => `word${i}`);
  const text = words.join(" ");
  assert.ok(bytes(text) > 4096);
  const texts = checkTextLines(text, formatTextLines({ source: SOURCE, target: "#dev", text }));
  assert.ok(texts.length >= 9);
  const budget = textBytesPerLine({ source: SOURCE, target: "#dev" });
  for (const chunk of texts.slice(0, -1)) {
    assert.ok(chunk.endsWith(" "), "broken after a space, which stays on the earlier line");
    assert.ok(bytes(chunk) > budget - 10, "and only near the end of the line");
  }
});

Deno.test("split: a word too long for half a line is cut at a grapheme boundary instead", () => {
  const text = "short " + "y".repeat(2000);
  const texts = checkTextLines(text, formatTextLines({ source: SOURCE, target: "#dev", text }));
  const budget = textBytesPerLine({ source: SOURCE, target: "#dev" });
  assert.equal(bytes(texts[0]), budget);
});

Deno.test("split: multi-byte text never splits inside a code point or a grapheme cluster", () => {
  const samples = [
    "é".repeat(3000), // 2-byte letters
    "漢字かな交じり文".repeat(250), // 3-byte, no spaces
    "😀".repeat(1100), // 4-byte, surrogate pairs
    "👨‍👩‍👧‍👦".repeat(200), // ZWJ family: 25 bytes per cluster
    "🇫🇷🇩🇪🇯🇵".repeat(200), // flags: regional-indicator pairs
    "e\u0301".repeat(1500), // letter + combining accent
    ("ok 👍🏽 " + "Ünïcödé ").repeat(300),
  ];
  for (const text of samples) {
    assert.ok(bytes(text) > 4096, "long enough");
    checkTextLines(text, formatTextLines({ source: SOURCE, target: "#dev", text }));
  }
});

Deno.test("split: CTCP ACTION lines are wrapped each and still fit", () => {
  const text = ("waves at everyone " + "🌊".repeat(5)).repeat(120);
  const lines = formatTextLines({ source: SOURCE, target: "#dev", text, action: true });
  assert.ok(lines.length > 1);
  for (const line of lines) {
    assert.ok(line.startsWith(`:${SOURCE} PRIVMSG #dev :\x01ACTION `) && line.endsWith("\x01\r\n"));
  }
  checkTextLines(text, lines, true);
  assert.equal(
    textBytesPerLine({ source: SOURCE, target: "#dev", action: true }),
    textBytesPerLine({ source: SOURCE, target: "#dev" }) - 9,
  );
});

Deno.test("split: NOTICE, tags and a nick target; tags do not count against 512", () => {
  const text = "n".repeat(1200);
  const lines = formatTextLines({
    tags: { time: formatServerTime(0) },
    source: SOURCE,
    command: "NOTICE",
    target: "bob",
    text,
  });
  for (const line of lines) {
    assert.ok(line.startsWith(`@time=1970-01-01T00:00:00.000Z :${SOURCE} NOTICE bob :`));
    assert.equal(untaggedBytes(line) <= 512, true);
  }
  assert.ok(bytes(lines[0]) > 512, "the tags come on top");
  checkTextLines(text, lines);
});

Deno.test("split: one grapheme cluster longer than a line is cut between code points", () => {
  const zalgo = "Z" + "\u0336".repeat(400); // one cluster of 801 bytes
  const chunks = splitText("ab " + zalgo + " cd", 100);
  assert.equal(chunks.join(""), "ab " + zalgo + " cd");
  for (const chunk of chunks) {
    assert.ok(bytes(chunk) <= 100);
    assert.ok(chunk.isWellFormed());
  }
});

Deno.test("split: a space that would not make room is not a break", () => {
  // "aaaa bb" is 7 of 8 bytes; the next cluster (c + 3 accents) is 7 bytes. Breaking after the
  // space would leave "bb" + 7 bytes = 9 > 8, so the chunk ends before the cluster instead.
  const cluster = "c" + "\u0301".repeat(3);
  assert.deepEqual(splitText("aaaa bb" + cluster, 8), ["aaaa bb", cluster]);
  // Where breaking after the space does make room, it is taken.
  assert.deepEqual(splitText("hello world this is a test", 12), [
    "hello world ",
    "this is a ",
    "test",
  ]);
});

Deno.test("split: a budget too small for a code point is a RangeError", () => {
  assert.throws(() => splitText("abc", 3), RangeError);
  assert.throws(() => splitText("abc", 2.5), RangeError);
  assert.throws(
    () => formatTextLines({ source: "n!u@" + "h".repeat(500), target: "#a", text: "x" }),
    RangeError,
  );
});

Deno.test("utf8ByteLength agrees with TextEncoder", () => {
  for (const text of ["", "a", "é", "€", "😀", "a\ud800b", "\udc00", "👨‍👩‍👧‍👦 ok", "漢"]) {
    assert.equal(utf8ByteLength(text), bytes(text), JSON.stringify(text));
  }
});

// --- CTCP, formatting codes, server-time ----------------------------------------------------

Deno.test("ctcp: ACTION with and without the closing delimiter", () => {
  assert.equal(parseCtcpAction("\x01ACTION waves\x01"), "waves");
  assert.equal(parseCtcpAction("\x01ACTION waves"), "waves");
  assert.equal(parseCtcpAction("\x01ACTION\x01"), "");
  assert.equal(parseCtcpAction("\x01ACTION"), "");
  assert.equal(parseCtcpAction("\x01action waves\x01"), "waves");
  assert.equal(parseCtcpAction("\x01ACTION  two spaces\x01"), " two spaces");
  assert.equal(parseCtcpAction("waves"), null);
  assert.equal(parseCtcpAction("\x01VERSION\x01"), null);
  assert.equal(parseCtcpAction("\x01ACTIONS x\x01"), null);
});

Deno.test("ctcp: other commands, and the empty ones", () => {
  assert.deepEqual(parseCtcp("\x01VERSION\x01"), { command: "VERSION", params: "" });
  assert.deepEqual(parseCtcp("\x01PING 1473523796 918320\x01"), {
    command: "PING",
    params: "1473523796 918320",
  });
  assert.deepEqual(parseCtcp("\x01"), { command: "", params: "" });
  assert.deepEqual(parseCtcp("\x01\x01"), { command: "", params: "" });
  assert.equal(parseCtcp("plain \x01text\x01"), null);
  assert.equal(parseCtcp(""), null);
});

Deno.test("ctcp: formatting", () => {
  assert.equal(formatCtcpAction("waves"), "\x01ACTION waves\x01");
  assert.equal(formatCtcp("VERSION"), "\x01VERSION\x01");
  assert.equal(formatCtcp("VERSION", "parley 0.1.0"), "\x01VERSION parley 0.1.0\x01");
  assert.equal(parseCtcpAction(formatCtcpAction("a b c")), "a b c");
});

Deno.test("stripFormatting removes codes and colour digits, keeps other text", () => {
  assert.equal(stripFormatting("plain text"), "plain text");
  assert.equal(
    stripFormatting("\x02bold\x02 \x1Ditalic\x1D \x1Funder\x1F \x1Estrike\x1E \x11mono\x11"),
    "bold italic under strike mono",
  );
  assert.equal(
    stripFormatting("I love \x033IRC! \x03It is the \x037best protocol ever!"),
    "I love IRC! It is the best protocol ever!",
  );
  assert.equal(stripFormatting("\x0304,12red on blue\x0f done"), "red on blue done");
  assert.equal(stripFormatting("\x03099 balloons"), "9 balloons"); // two digits are always read
  assert.equal(stripFormatting("\x03,text"), ",text");
  assert.equal(stripFormatting("\x034,text"), ",text");
  assert.equal(stripFormatting("\x0313,8,6"), ",6");
  assert.equal(stripFormatting("\x04FF0000red\x04 \x04ff0000,00FF00both\x04"), "red both");
  assert.equal(stripFormatting("\x16reverse\x16"), "reverse");
  assert.equal(
    stripFormatting("\x01ACTION\x01"),
    "\x01ACTION\x01",
    "CTCP delimiters are not formatting",
  );
});

Deno.test("formatServerTime: YYYY-MM-DDThh:mm:ss.sssZ in UTC", () => {
  assert.equal(formatServerTime(Date.UTC(2026, 11, 1, 8, 51, 26, 123)), "2026-12-01T08:51:26.123Z");
  assert.equal(formatServerTime(new Date(0)), "1970-01-01T00:00:00.000Z");
});

// --- numerics -------------------------------------------------------------------------------

Deno.test("numerics: every constant is three digits, named RPL_/ERR_, and no code is used twice", () => {
  const entries = Object.entries(numerics);
  assert.ok(entries.length >= 60);
  const byCode = new Map<string, string>();
  for (const [name, code] of entries) {
    assert.match(name, /^(RPL|ERR)_[A-Z]+$/);
    assert.match(code, /^[0-9]{3}$/);
    assert.equal(byCode.get(code), undefined, `${name} and ${byCode.get(code)} share ${code}`);
    byCode.set(code, name);
  }
  for (
    const [name, code] of [
      ["RPL_WELCOME", "001"],
      ["RPL_ISUPPORT", "005"],
      ["RPL_NAMREPLY", "353"],
      ["ERR_INPUTTOOLONG", "417"],
      ["ERR_NICKNAMEINUSE", "433"],
      ["ERR_NOTREGISTERED", "451"],
    ]
  ) {
    assert.equal(byCode.get(code), name);
  }
});
