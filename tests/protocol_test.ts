import { parseLine as parseCommand } from "../src/front/line/commands.ts";
import { nameKey, nickProblem, roomProblem } from "../src/protocol/names.ts";
import assert from "node:assert/strict";

Deno.test("plain text and // are messages", () => {
  assert.deepEqual(parseCommand("hello"), { kind: "say", text: "hello" });
  assert.deepEqual(parseCommand("//etc/passwd"), { kind: "say", text: "/etc/passwd" });
});

Deno.test("commands parse with their arguments, case-insensitively", () => {
  assert.deepEqual(parseCommand("/nick alice"), { kind: "nick", nick: "alice" });
  assert.deepEqual(parseCommand("/NICK  alice "), { kind: "nick", nick: "alice" });
  assert.deepEqual(parseCommand("/me waves hello"), { kind: "me", text: "waves hello" });
  assert.deepEqual(parseCommand("/msg bob  see you  soon"), {
    kind: "msg",
    nick: "bob",
    text: "see you  soon",
  });
  assert.deepEqual(parseCommand("/who"), { kind: "who" });
  assert.deepEqual(parseCommand("/join #dev"), {
    kind: "join",
    room: "dev",
    key: undefined,
    whole: "#dev",
  });
  assert.deepEqual(parseCommand("/rooms"), { kind: "rooms" });
  assert.deepEqual(parseCommand("/quit"), { kind: "quit", reason: "" });
  assert.deepEqual(parseCommand("/quit gone fishing"), { kind: "quit", reason: "gone fishing" });
  assert.deepEqual(parseCommand("/help"), { kind: "help" });
});

Deno.test("missing arguments give a usage error, unknown commands an error", () => {
  assert.deepEqual(parseCommand("/nick"), { kind: "usage", form: "/nick NAME" });
  assert.deepEqual(parseCommand("/msg bob"), { kind: "usage", form: "/msg NICK TEXT" });
  assert.deepEqual(parseCommand("/me   "), { kind: "usage", form: "/me ACTION" });
  assert.deepEqual(parseCommand("/dance"), { kind: "unknown", name: "dance" });
  assert.equal(parseCommand("/").kind, "unknown");
});

Deno.test("a quit reason is cut to 100 characters", () => {
  const command = parseCommand("/quit " + "x".repeat(500));
  assert.equal(command.kind === "quit" && command.reason.length, 100);
});

Deno.test("nick validation: letters, digits, _ - . ; 1 to 24 characters", () => {
  for (const good of ["alice", "Bob_2", "x", "a.b-c", "张伟", "a".repeat(24)]) {
    assert.equal(nickProblem(good), null, good);
  }
  assert.equal(nickProblem(""), "empty");
  assert.equal(nickProblem("a".repeat(25)), "too-long");
  for (const bad of ["has space", "semi;colon", "<tag>", "emoji👍", "*star"]) {
    assert.equal(nickProblem(bad), "bad-characters", bad);
  }
  assert.equal(roomProblem("dev-ops"), null);
  assert.equal(roomProblem("no way"), "bad-characters");
});

Deno.test("names compare case-folded, beyond ASCII", () => {
  assert.equal(nameKey("Straße"), nameKey("STRASSE"));
  assert.equal(nameKey("ΟΔΟΣ"), nameKey("οδοσ"));
  assert.equal(nameKey("Alice"), nameKey("aLICE"));
  assert.notEqual(nameKey("alice"), nameKey("alicia"));
});
