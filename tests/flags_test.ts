/** The flag and value parsers of src/flags.ts, without a process: what each accepts and how it refuses. */

import {
  type FlagSpec,
  invalidValue,
  MAX_COUNT,
  MAX_NUMBER,
  MAX_SIZE,
  parseConnectPort,
  parseFlags,
  parseHost,
  parseHostPort,
  parseInteger,
  parseNumber,
  parsePort,
  parseSize,
  quote,
} from "../src/cli/flags.ts";
import { UsageError } from "../src/errors.ts";
import assert from "node:assert/strict";

/** Asserts that `run` throws a UsageError whose message is exactly `message` (and one line). */
function refuses(run: () => unknown, message: string): void {
  assert.throws(run, (error) => {
    assert.ok(error instanceof UsageError, `a UsageError, got ${error}`);
    assert.equal(error.message, message);
    assert.ok(!/[\n\r]/.test(error.message), "one line");
    return true;
  });
}

const SPEC = {
  port: { type: "string" },
  name: { type: "string" },
  "max-line": { type: "string" },
  tls: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean", short: "v" },
  output: { type: "string", short: "o" },
} satisfies FlagSpec;

Deno.test("parseFlags: values given either way, negative numbers as values, `--` ends options", () => {
  const cases: [string[], Record<string, unknown>, string[]][] = [
    [["--port", "80"], { port: "80" }, []],
    [["--port=80"], { port: "80" }, []],
    [["--port", "-1"], { port: "-1" }, []],
    [["--port=-1"], { port: "-1" }, []],
    [["--port", "-0.5"], { port: "-0.5" }, []],
    [["--port", "-.5"], { port: "-.5" }, []],
    [["--max-line", "-5k"], { "max-line": "-5k" }, []],
    [["--name", "-"], { name: "-" }, []],
    [["--port="], { port: "" }, []],
    [["--port", "1", "--port", "1"], { port: "1" }, []], // the same value twice is no conflict
    [["--tls", "--tls"], { tls: true }, []],
    [["-hv"], { help: true, verbose: true }, []],
    [["-o", "file"], { output: "file" }, []],
    [["-ofile"], { output: "file" }, []],
    [["-o", "-3"], { output: "-3" }, []],
    [["-vo", "-3"], { verbose: true, output: "-3" }, []],
    [["host"], {}, ["host"]],
    [["--", "--port"], {}, ["--port"]],
    [["--", "-1"], {}, ["-1"]],
    [["--tls", "host"], { tls: true }, ["host"]],
  ];
  for (const [args, values, positionals] of cases) {
    const parsed = parseFlags(args, SPEC, 1);
    assert.deepEqual({ ...parsed.values }, values, args.join(" "));
    assert.deepEqual(parsed.positionals, positionals, args.join(" "));
  }
});

Deno.test("parseFlags: every mistake is one line naming the option and what it got", () => {
  const cases: [string[], string][] = [
    [["--bogus"], "unknown option '--bogus'"],
    [["--bogus=1"], "unknown option '--bogus'"],
    [["--prot", "1"], "unknown option '--prot' (did you mean '--port'?)"],
    [["--Port", "1"], "unknown option '--Port' (did you mean '--port'?)"],
    [["--max_line", "1"], "unknown option '--max_line' (did you mean '--max-line'?)"],
    [["--max", "1"], "unknown option '--max' (did you mean '--max-line'?)"],
    [["--constructor"], "unknown option '--constructor'"],
    [["-x"], "unknown option '-x'"],
    [["-hx"], "unknown option '-x' in '-hx'"],
    [["-port", "1"], "unknown option '-port' (did you mean '--port'?)"],
    [["-1"], "unknown option '-1'"],
    [["--port"], "option '--port' needs a value"],
    [["--port", "--tls"], "option '--port' needs a value"],
    [["--port", "-h"], "option '--port' needs a value"],
    [["--port", "--"], "option '--port' needs a value"],
    [["-o"], "option '-o' needs a value"],
    [
      ["--name", "-bob"],
      "option '--name' needs a value; to pass '-bob' as its value, write '--name=-bob'",
    ],
    [["-o", "-x"], "option '-o' needs a value; to pass '-x' as its value, write '-o-x'"],
    [["--tls=yes"], "option '--tls' takes no value, got 'yes': write --tls alone, or leave it out"],
    [["--tls="], "option '--tls' takes no value, got '': write --tls alone, or leave it out"],
    [
      ["--tls", "false"],
      "option '--tls' takes no value, got 'false': write --tls alone, or leave it out",
    ],
    [["-h=1"], "option '-h' takes no value, got '1': write -h alone, or leave it out"],
    [["-v", "on"], "option '-v' takes no value, got 'on': write -v alone, or leave it out"],
    [["--port", "1", "--port", "2"], "option '--port' given twice, as '1' and '2': give it once"],
    [["--port=1", "--port", "-1"], "option '--port' given twice, as '1' and '-1': give it once"],
    [["a", "b"], "unexpected argument 'b'"],
    [["a", "8080"], "unexpected argument '8080': for a port, write --port 8080"],
    [["a", "--", "-x"], "unexpected argument '-x'"],
    [["--bo\ngus"], "unknown option '--bo\\ngus'"],
  ];
  for (const [args, message] of cases) refuses(() => parseFlags(args, SPEC, 1), message);
  refuses(() => parseFlags(["x"], SPEC), "unexpected argument 'x'");
});

Deno.test("parseInteger: decimal integers in range; the message states the range", () => {
  assert.equal(parseInteger("n", "42", 0), 42);
  assert.equal(parseInteger("n", " 42 ", 0), 42);
  assert.equal(parseInteger("n", "007", 0), 7);
  assert.equal(parseInteger("n", "1e3", 0), 1000);
  assert.equal(parseInteger("n", "2.0", 0), 2);
  assert.equal(parseInteger("n", String(MAX_COUNT), 1), MAX_COUNT);
  assert.equal(parseInteger("n", "5", 1, 5), 5);
  assert.equal(parseInteger("n", "0", { note: "0 = off" }), 0);
  for (
    const bad of ["-1", "1.5", "abc", "", " ", "0x10", "+1", "1_000", "1,000", "8 0", "Infinity"]
  ) {
    refuses(
      () => parseInteger("history", bad, 0),
      `invalid value ${quote(bad)} for --history: expected an integer from 0 to 1000000000`,
    );
  }
  for (const huge of ["1e99", "99999999999999999999", "1000000001"]) {
    refuses(
      () => parseInteger("max-clients", huge, 1),
      `invalid value '${huge}' for --max-clients: expected an integer from 1 to 1000000000`,
    );
  }
  refuses(
    () => parseInteger("clients", "0", 1, 16),
    "invalid value '0' for --clients: expected an integer from 1 to 16",
  );
  refuses(
    () => parseInteger("max-per-ip", "-5", { min: 0, note: "0 = no limit" }),
    "invalid value '-5' for --max-per-ip: expected an integer from 0 to 1000000000, where 0 = no limit",
  );
});

Deno.test("parseNumber: decimals and exponents up to a stated maximum", () => {
  assert.equal(parseNumber("rate", "10"), 10);
  assert.equal(parseNumber("rate", "0.5"), 0.5);
  assert.equal(parseNumber("rate", ".5"), 0.5);
  assert.equal(parseNumber("rate", "5."), 5);
  assert.equal(parseNumber("rate", "1e3"), 1000);
  assert.equal(parseNumber("rate", "2.5E-1"), 0.25);
  assert.equal(parseNumber("rate", String(MAX_NUMBER)), MAX_NUMBER);
  for (const bad of ["-1", "1e9", "1e400", "fast", "", "NaN", "Infinity", "1e", "0x1"]) {
    refuses(
      () => parseNumber("rate", bad),
      `invalid value '${bad}' for --rate: expected a number from 0 to 1000000`,
    );
  }
  refuses(
    () => parseNumber("time-limit", "0", 1),
    "invalid value '0' for --time-limit: expected a number from 1 to 1000000",
  );
  refuses(
    () => parseNumber("idle-timeout", "-1", { note: "0 = never" }),
    "invalid value '-1' for --idle-timeout: expected a number from 0 to 1000000, where 0 = never",
  );
  // a million seconds still fits a timer in milliseconds
  assert.ok(MAX_NUMBER * 1000 <= 2 ** 31 - 1);
});

Deno.test("parseSize: binary units, whole bytes, the minimum and maximum in words", () => {
  const cases: [string, number][] = [
    ["4096", 4096],
    ["64k", 65536],
    ["64K", 65536],
    ["64 kb", 65536],
    ["1MiB", 1024 ** 2],
    ["1.5M", 1.5 * 1024 ** 2],
    ["1.5k", 1536],
    ["1G", 1024 ** 3],
    ["1T", MAX_SIZE],
    ["1e3", 1000],
    ["10b", 10],
  ];
  for (const [value, bytes] of cases) assert.equal(parseSize("max-line", value), bytes, value);
  const maxLine = "a size from 1 byte to 1T, such as 64k or 1M";
  const cases2: [string, string][] = [
    ["0", `expected ${maxLine}`],
    ["lots", `expected ${maxLine}`],
    ["-5k", `expected ${maxLine}`],
    ["2T", `expected ${maxLine}`],
    ["99999999999999999999", `expected ${maxLine}`],
    ["4x", `unknown unit 'x' (use k, M, G or T); expected ${maxLine}`],
    ["1E", `unknown unit 'E' (use k, M, G or T); expected ${maxLine}`],
    ["0.1k", `that is 102.4 bytes, not whole bytes; expected ${maxLine}`],
    ["1.5", `that is 1.5 bytes, not whole bytes; expected ${maxLine}`],
  ];
  for (const [value, why] of cases2) {
    refuses(() => parseSize("max-line", value), `invalid value '${value}' for --max-line: ${why}`);
  }
  refuses(
    () => parseSize("send-queue", "1000", 1024),
    "invalid value '1000' for --send-queue: expected a size from 1k (1024 bytes) to 1T, such as 64k or 1M",
  );
  refuses(
    () => parseSize("size", "10", 39),
    "invalid value '10' for --size: expected a size from 39 bytes to 1T, such as 64k or 1M",
  );
  refuses(
    () => parseSize("size", "2M", { min: 1, max: 1024 ** 2 }),
    "invalid value '2M' for --size: expected a size from 1 byte to 1M, such as 64k or 1M",
  );
});

Deno.test("ports: one wording, 0 only where a server picks a free port", () => {
  assert.equal(parsePort("port", "0"), 0);
  assert.equal(parsePort("port", "65535"), 65535);
  assert.equal(parsePort("port", " 80"), 80);
  assert.equal(parseConnectPort("port", "1"), 1);
  for (const bad of ["-1", "65536", "99999", "http", "80.5", ""]) {
    refuses(
      () => parsePort("port", bad),
      `invalid value '${bad}' for --port: expected an integer from 0 to 65535, where 0 = any free port`,
    );
  }
  for (const bad of ["0", "-1", "70000"]) {
    refuses(
      () => parseConnectPort("port", bad),
      `invalid value '${bad}' for --port: expected an integer from 1 to 65535`,
    );
  }
});

Deno.test("parseHost: names and addresses pass, ports, URLs and junk do not", () => {
  const cases: [string, string][] = [
    ["localhost", "localhost"],
    ["0.0.0.0", "0.0.0.0"],
    ["::", "::"],
    ["::1", "::1"],
    ["[::1]", "::1"],
    ["fe80::1%eth0", "fe80::1%eth0"],
    ["chat.example.com", "chat.example.com"],
    ["chat.example.com.", "chat.example.com."],
    ["my_host", "my_host"],
    [" localhost ", "localhost"],
    ["bücher.example", "bücher.example"],
  ];
  for (const [value, host] of cases) assert.equal(parseHost("host", value), host, value);
  const expected = "expected a host name or IP address, such as localhost, 192.168.1.10 or ::1";
  const bad: [string, string][] = [
    ["", expected],
    [" ", expected],
    ["a b", expected],
    ["-x", expected],
    ["[localhost]", expected],
    ["[::1]:80", expected],
    ["a\tb", expected],
    ["0.0.0.0:12000", `the port goes in --port; ${expected}`],
    ["localhost:", `the port goes in --port; ${expected}`],
    ["http://example.com", `a URL is not a host; ${expected}`],
  ];
  for (const [value, message] of bad) {
    refuses(() => parseHost("host", value), `invalid value ${quote(value)} for --host: ${message}`);
  }
});

Deno.test("parseHostPort: addresses to connect to, the port 1–65535", () => {
  const cases: [string, { host: string; port?: number }][] = [
    ["localhost", { host: "localhost" }],
    ["localhost:12000", { host: "localhost", port: 12000 }],
    ["10.0.0.5:1", { host: "10.0.0.5", port: 1 }],
    ["[::1]:12000", { host: "::1", port: 12000 }],
    ["[::1]", { host: "::1" }],
    ["::1", { host: "::1" }],
    ["fe80::1%eth0", { host: "fe80::1%eth0" }],
  ];
  for (const [value, address] of cases) assert.deepEqual(parseHostPort(value), address, value);
  const expected =
    "expected HOST[:PORT] with a port from 1 to 65535, such as localhost:12000 or [::1]:12000";
  const bad: [string, string][] = [
    ["", expected],
    ["localhost:0", expected],
    ["localhost:99999", expected],
    ["localhost:", expected],
    ["localhost:8e3", expected],
    ["a b:1", expected],
    ["-x", expected],
    ["[localhost]:1", expected],
    [":12000", `the host is missing; ${expected}`],
    ["12000", `a port alone is not an address; ${expected}`],
    ["http://example.com:1", `a URL is not an address; ${expected}`],
  ];
  for (const [value, message] of bad) {
    refuses(() => parseHostPort(value), `invalid address ${quote(value)}: ${message}`);
  }
  const target =
    "expected HOST:PORT with a port from 1 to 65535, such as localhost:12000 or [::1]:12000";
  refuses(
    () => parseHostPort("localhost", { flag: "target", requirePort: true }),
    `invalid value 'localhost' for --target: the port is missing; ${target}`,
  );
  refuses(
    () => parseHostPort("localhost:0", { flag: "target", requirePort: true }),
    `invalid value 'localhost:0' for --target: ${target}`,
  );
  assert.deepEqual(parseHostPort("h:2", { flag: "target", requirePort: true }), {
    host: "h",
    port: 2,
  });
});

Deno.test("quote and invalidValue: what the user typed, on one line", () => {
  assert.equal(quote("plain"), "'plain'");
  assert.equal(quote("a\nb\r\tc"), "'a\\nb\\r\\tc'");
  assert.equal(quote("\x1b[31m"), "'\\u{1b}[31m'");
  assert.equal(quote("x\u202ey"), "'x\\u{202e}y'");
  assert.equal(quote("x".repeat(200)), `'${"x".repeat(77)}…'`);
  assert.equal(
    invalidValue("log", "xml", "text or json").message,
    "invalid value 'xml' for --log: expected text or json",
  );
  assert.equal(
    invalidValue("log", "x", "text or json", "why").message,
    "invalid value 'x' for --log: why; expected text or json",
  );
});
