/**
 * The chat core with fake members: no socket, no protocol, no English. Each
 * fake member records the events delivered to it (its renderer passes them
 * through as JSON), so the tests see exactly who is told what.
 */

import { LOBBY } from "../src/protocol/names.ts";
import assert from "node:assert/strict";
import { Chat, type ChatMember, type Endpoint, type Renderer } from "../src/core/chat.ts";
import type { ChatEvent } from "../src/core/events.ts";
import { MemoryHistory } from "../src/core/history.ts";
import type { Removal } from "../src/core/chat.ts";
import { MemoryStore } from "../src/core/store.ts";

/** A renderer that hands events through as JSON, counting how often it is asked. */
class RecordingRenderer implements Renderer {
  renders = 0;
  audiences: number[] = [];
  render(events: readonly ChatEvent[], audience: number): Uint8Array {
    this.renders++;
    this.audiences.push(audience);
    return new TextEncoder().encode(JSON.stringify(events));
  }
}

/** A member's far end: what reached it. */
class Fake implements Endpoint {
  readonly heard: ChatEvent[] = [];
  readonly address = "192.0.2.1";
  batches = 0;
  removedFor: Removal | null = null;
  constructor(readonly renderer: Renderer) {}
  remove(removal: Removal): void {
    this.removedFor = removal;
  }
  send(bytes: Uint8Array): void {
    this.batches++;
    this.heard.push(...JSON.parse(new TextDecoder().decode(bytes)));
  }
  /** What reached it, emptied. */
  take(): ChatEvent[] {
    return this.heard.splice(0);
  }
}

function setup(options: ConstructorParameters<typeof Chat>[0] = {}) {
  let now = Date.UTC(2026, 11, 1, 8, 0, 0);
  const chat = new Chat({ clock: () => now, ...options });
  const renderer = new RecordingRenderer();
  const join = async (nick: string, room = LOBBY) => {
    const far = new Fake(renderer);
    const entered = await chat.enter(far, nick, `u-${nick}`);
    assert.ok(!("kind" in entered), `${nick} entered`);
    const member = entered as ChatMember;
    await chat.apply(member, { kind: "join", room, move: false });
    return { member, far };
  };
  return { chat, renderer, join, tick: (ms: number) => now += ms };
}

Deno.test("chat: guests get guest-1, guest-2, …; nicks are unique regardless of case", async () => {
  const { chat } = setup();
  const renderer = new RecordingRenderer();
  const first = await chat.enterAsGuest(new Fake(renderer));
  const second = await chat.enterAsGuest(new Fake(renderer));
  assert.deepEqual([first.nick, second.nick], ["guest-1", "guest-2"]);
  assert.notEqual(first.id, second.id);
  const taken = await chat.apply(second, { kind: "nick", nick: "GUEST-1" });
  assert.deepEqual(taken, { kind: "refused", problem: { code: "nick-taken", nick: "guest-1" } });
  const alice = await chat.enter(new Fake(renderer), "Alice", "alice");
  assert.ok(!("kind" in alice));
  assert.deepEqual(await chat.enter(new Fake(renderer), "ALICE", "x"), {
    kind: "refused",
    problem: { code: "nick-taken", nick: "Alice" },
  });
  assert.equal(chat.online, 3);
  assert.equal(chat.find("alice")?.nick, "Alice");
});

Deno.test("chat: every nick problem is a code", async () => {
  const { chat } = setup();
  const member = await chat.enterAsGuest(new Fake(new RecordingRenderer()));
  const problem = async (nick: string) => {
    const reply = await chat.apply(member, { kind: "nick", nick });
    return reply.kind === "refused" ? reply.problem : reply;
  };
  assert.deepEqual(await problem(""), { code: "nick-invalid", nick: "", why: "empty" });
  assert.deepEqual(await problem("x".repeat(25)), {
    code: "nick-invalid",
    nick: "x".repeat(25),
    why: "too-long",
  });
  assert.deepEqual(await problem("no way"), {
    code: "nick-invalid",
    nick: "no way",
    why: "bad-characters",
  });
  assert.deepEqual(await problem(member.nick), { kind: "unchanged", nick: member.nick });
  // Decomposed input is normalised before it is checked and stored.
  assert.deepEqual(await problem("Jose\u0301"), { kind: "renamed", from: "guest-1", to: "José" });
});

Deno.test("chat: a room message reaches the room but not its sender, in one batch per flush", async () => {
  const { chat, renderer, join } = setup();
  const alice = await join("alice");
  const bob = await join("bob");
  const carol = await join("carol");
  for (const { far } of [alice, bob, carol]) far.take();
  renderer.renders = 0;
  const lobby = chat.findRoom(LOBBY)!;
  assert.ok(!("code" in chat.say(alice.member, lobby, "one")));
  assert.ok(!("code" in chat.say(alice.member, lobby, "two", true)));
  assert.equal(bob.far.heard.length, 0, "nothing is delivered before the flush");
  chat.flush();
  const heard = bob.far.take();
  assert.deepEqual(
    heard.map((event) => event.kind === "message" && [event.nick, event.text, event.action]),
    [["alice", "one", false], ["alice", "two", true]],
  );
  assert.equal(bob.far.batches, 2, "carol's join earlier, then one batch for both messages");
  assert.deepEqual(carol.far.take().length, 2);
  assert.deepEqual(alice.far.take(), [], "the sender does not get its own messages");
  assert.equal(renderer.renders, 1, "rendered once for both receivers");
  const [one, two] = heard;
  assert.ok(one.kind === "message" && two.kind === "message");
  assert.equal(two.seq, one.seq + 1, "a room's events are numbered in order");
  assert.equal(one.origin, alice.member.id);
});

Deno.test("chat: a message from someone else, or to another room, flushes the batch first", async () => {
  const { chat, join } = setup();
  const alice = await join("alice");
  const bob = await join("bob");
  const lobby = chat.findRoom(LOBBY)!;
  bob.far.take();
  alice.far.take();
  chat.say(alice.member, lobby, "from alice");
  chat.say(bob.member, lobby, "from bob");
  assert.equal(bob.far.take().length, 1, "alice's batch went out when bob spoke");
  chat.flush();
  assert.equal(alice.far.take().length, 1);
});

Deno.test("chat: members may be in several rooms; joins, leaves and moves reach the right rooms", async () => {
  const { chat, join } = setup();
  const alice = await join("alice");
  const bob = await join("bob");
  const carol = await join("carol", "dev");
  const joined = await chat.apply(alice.member, { kind: "join", room: "Dev", move: false });
  assert.equal(joined.kind, "joined");
  assert.equal(
    joined.kind === "joined" && joined.room.name,
    "dev",
    "an existing room keeps its name",
  );
  assert.deepEqual([...alice.member.rooms].map((room) => room.name).sort(), ["dev", LOBBY]);
  const carolHeard = carol.far.take();
  assert.ok(carolHeard.some((event) => event.kind === "joined" && event.nick === "alice"));
  assert.ok(!bob.far.take().some((event) => event.kind === "joined" && event.room === "dev"));

  // A message to one of alice's rooms reaches only that room.
  chat.say(alice.member, chat.findRoom("dev")!, "dev only");
  chat.flush();
  assert.equal(carol.far.take().length, 1);
  assert.equal(bob.far.take().length, 0);

  // A rename reaches everyone who shares a room with alice, once, even sharing two.
  await chat.apply(bob.member, { kind: "join", room: "dev", move: false });
  for (const { far } of [alice, bob, carol]) far.take();
  await chat.apply(alice.member, { kind: "nick", nick: "alicia" });
  assert.deepEqual(bob.far.take().map((event) => event.kind), ["renamed"]);
  assert.deepEqual(carol.far.take().map((event) => event.kind), ["renamed"]);
  assert.deepEqual(alice.far.take(), [], "the renamer gets a reply, not an event");

  // Moving (the line protocol's /join) leaves every other room.
  const moved = await chat.apply(bob.member, { kind: "join", room: "ops", move: true });
  assert.ok(moved.kind === "joined");
  assert.deepEqual(moved.left.sort(), ["dev", LOBBY]);
  const left = carol.far.take().find((event) => event.kind === "left");
  assert.ok(left?.kind === "left" && left.how === "moved" && left.to === "ops");
  assert.deepEqual([...bob.member.rooms].map((room) => room.name), ["ops"]);
});

Deno.test("chat: leaving the chat tells each neighbour once, unless not announced; empty rooms go", async () => {
  const { chat, join } = setup();
  const alice = await join("alice");
  const bob = await join("bob");
  await chat.apply(alice.member, { kind: "join", room: "dev", move: false });
  await chat.apply(bob.member, { kind: "join", room: "dev", move: false });
  await chat.apply(alice.member, { kind: "join", room: "solo", move: false });
  bob.far.take();
  chat.leave(alice.member, { reason: "quit", detail: "gone fishing" });
  const heard = bob.far.take();
  assert.equal(heard.length, 1);
  assert.ok(heard[0].kind === "quit" && heard[0].detail === "gone fishing");
  assert.equal(chat.findRoom("solo"), undefined, "an empty room is forgotten");
  assert.ok(chat.findRoom(LOBBY), "the lobby always stays");
  assert.equal(alice.member.present, false);
  assert.equal(chat.find("alice"), undefined, "the nick is free again");

  const carol = await join("carol");
  bob.far.take();
  chat.leave(carol.member, { reason: "shutdown", announce: false });
  assert.deepEqual(bob.far.take(), []);
});

Deno.test("chat: room problems are codes with data", async () => {
  const { chat, join } = setup({ maxRooms: 2 });
  const alice = await join("alice");
  const apply = (room: string) => chat.apply(alice.member, { kind: "join", room, move: true });
  assert.deepEqual(await apply("lobby"), {
    kind: "refused",
    problem: { code: "already-in-room", room: "lobby" },
  });
  assert.deepEqual(await apply("no way"), {
    kind: "refused",
    problem: { code: "room-invalid", room: "no way", why: "bad-characters" },
  });
  assert.equal((await apply("one")).kind, "joined");
  const bob = await join("bob");
  assert.deepEqual(await chat.apply(bob.member, { kind: "join", room: "two", move: true }), {
    kind: "refused",
    problem: { code: "too-many-rooms", max: 2 },
  });
  assert.deepEqual(
    await chat.apply(alice.member, { kind: "private", nick: "nobody", text: "hi", action: false }),
    { kind: "refused", problem: { code: "no-such-nick", nick: "nobody" } },
  );
  assert.deepEqual(await chat.apply(alice.member, { kind: "who", room: "nowhere" }), {
    kind: "refused",
    problem: { code: "no-such-room", room: "nowhere" },
  });
  assert.deepEqual(chat.say(bob.member, chat.findRoom("one")!, "not a member"), {
    code: "not-in-room",
    room: "one",
  });
});

Deno.test("chat: private messages reach their target wherever it is; who and rooms count", async () => {
  const { chat, join } = setup();
  const alice = await join("alice");
  const bob = await join("bob", "dev");
  const sent = await chat.apply(alice.member, {
    kind: "private",
    nick: "BOB",
    text: "psst",
    action: false,
  });
  assert.ok(sent.kind === "sent");
  const { event: sentEvent, ...reply } = sent;
  assert.deepEqual(reply, { kind: "sent", to: "bob", text: "psst", action: false, away: null });
  const [event] = bob.far.take().filter((event) => event.kind === "private");
  assert.deepEqual(event, sentEvent, "the sender is told what the receiver got, id and all");
  assert.ok(event.kind === "private" && event.nick === "alice" && event.to === "bob");
  // What lists also say of a member who gave no real name, is no server operator and has no account.
  const plain = { realname: "", serverOperator: false, account: null, idleSeconds: 0 };
  assert.deepEqual(await chat.apply(alice.member, { kind: "who", room: "lobby" }), {
    kind: "who",
    room: "lobby",
    members: [{ nick: "alice", user: "u-alice", operator: false, away: null, ...plain }],
    online: 2,
  });
  assert.deepEqual(await chat.apply(alice.member, { kind: "who", room: "dev" }), {
    kind: "who",
    room: "dev",
    members: [{ nick: "bob", user: "u-bob", operator: true, away: null, ...plain }],
    online: 2,
  });
  assert.deepEqual(await chat.apply(alice.member, { kind: "rooms" }), {
    kind: "rooms",
    rooms: [{ name: "dev", members: 1, topic: null }, { name: "lobby", members: 1, topic: null }],
  });
});

Deno.test("chat: a room's creator is its operator and alone sets the topic; part, away, whois", async () => {
  const { chat, join, tick } = setup();
  const carol = await join("carol", "dev");
  const dave = await join("dave", "dev");
  assert.deepEqual(
    await chat.apply(dave.member, { kind: "topic", room: "dev", text: "ops only" }),
    { kind: "refused", problem: { code: "not-operator", room: "dev", what: "topic" } },
  );
  const frank = await join("frank");
  assert.deepEqual(
    await chat.apply(frank.member, { kind: "topic", room: "lobby", text: "nobody's" }),
    { kind: "refused", problem: { code: "not-operator", room: "lobby", what: "topic" } },
    "the lobby has no creator",
  );
  dave.far.take();
  const set = await chat.apply(carol.member, { kind: "topic", room: "dev", text: "release day" });
  assert.ok(set.kind === "topic" && set.changed && set.topic?.text === "release day");
  const [event] = dave.far.take();
  assert.ok(event.kind === "topic" && event.text === "release day" && event.nick === "carol");
  const shown = await chat.apply(dave.member, { kind: "topic", room: "dev" });
  assert.ok(shown.kind === "topic" && !shown.changed && shown.topic?.nick === "carol");

  assert.deepEqual(await chat.apply(dave.member, { kind: "away", text: "lunch" }), {
    kind: "away",
    away: true,
  });
  const sent = await chat.apply(carol.member, {
    kind: "private",
    nick: "dave",
    text: "hi",
    action: false,
  });
  assert.equal(sent.kind === "sent" && sent.away, "lunch");
  tick(5000);
  const whois = await chat.apply(carol.member, { kind: "whois", nick: "DAVE" });
  assert.ok(whois.kind === "whois");
  assert.deepEqual(whois.rooms, [{ name: "dev", operator: false }]);
  assert.equal(whois.away, "lunch");
  assert.equal(whois.idleSeconds, 5);

  carol.far.take();
  assert.deepEqual(await chat.apply(dave.member, { kind: "part", room: "dev", text: "bye" }), {
    kind: "parted",
    room: "dev",
  });
  const [left] = carol.far.take();
  assert.ok(left.kind === "left" && left.how === "part" && left.text === "bye");
  assert.deepEqual(await chat.apply(dave.member, { kind: "part", room: "dev", text: "" }), {
    kind: "refused",
    problem: { code: "not-in-room", room: "dev" },
  });
  // The operator leaving leaves the room without one.
  await chat.apply(frank.member, { kind: "join", room: "dev", move: false });
  await chat.apply(carol.member, { kind: "part", room: "dev", text: "" });
  const who = await chat.apply(frank.member, { kind: "who", room: "dev" });
  assert.equal(who.kind === "who" && who.members.length, 1);
  assert.ok(who.kind === "who" && who.members.every((member) => !member.operator));
});

Deno.test("chat: history holds messages with the time they were said; whoever enters gets it", async () => {
  const { chat, join, tick } = setup({ history: 2 });
  const alice = await join("alice");
  const lobby = chat.findRoom(LOBBY)!;
  const start = Date.UTC(2026, 11, 1, 8, 0, 0);
  for (const text of ["one", "two", "three"]) {
    chat.say(alice.member, lobby, text);
    tick(60_000);
  }
  chat.flush();
  const bob = await chat.enter(new Fake(new RecordingRenderer()), "bob", "bob") as ChatMember;
  const joined = await chat.apply(bob, { kind: "join", room: LOBBY, move: false });
  assert.ok(joined.kind === "joined");
  assert.deepEqual(
    joined.history.map((event) => [event.text, event.time]),
    [["two", start + 60_000], ["three", start + 120_000]],
    "the last two, oldest first, with their times",
  );
  assert.equal(joined.room.size, 2);
});

Deno.test("chat: history is what the room had when the member entered, even from a slow store", async () => {
  /** History whose reads take a while, as a remote store's do. */
  class SlowHistory extends MemoryHistory {
    override recent(key: string, limit: number) {
      const kept = super.recent(key, limit);
      return new Promise<Awaited<typeof kept>>((resolve) => setTimeout(() => resolve(kept), 20));
    }
  }
  class SlowStore extends MemoryStore {
    override readonly history = new SlowHistory(10);
  }
  const { chat, join } = setup({ store: new SlowStore(10) });
  const alice = await join("alice");
  chat.say(alice.member, chat.findRoom(LOBBY)!, "before");
  chat.flush();
  const far = new Fake(new RecordingRenderer());
  const bob = await chat.enter(far, "bob", "bob") as ChatMember;
  const joining = chat.apply(bob, { kind: "join", room: LOBBY, move: false });
  // Said after bob entered but before the history arrived: it reaches bob live, not in the history.
  chat.say(alice.member, chat.findRoom(LOBBY)!, "after");
  chat.flush();
  const joined = await joining;
  assert.ok(joined.kind === "joined");
  assert.deepEqual(joined.history.map((event) => event.text), ["before"]);
  assert.deepEqual(
    far.take().filter((event) => event.kind === "message").map((event) =>
      event.kind === "message" && event.text
    ),
    ["after"],
  );
});

Deno.test("chat: renderers are asked once per batch; the audience leaves out the subject", async () => {
  const { chat, renderer, join } = setup();
  const members = [];
  for (let i = 0; i < 5; i++) members.push(await join(`m${i}`));
  renderer.audiences = [];
  renderer.renders = 0;
  const sixth = await join("m5");
  assert.equal(renderer.renders, 1, "one render for five receivers");
  assert.deepEqual(renderer.audiences, [5], "the joiner is not its own audience");
  renderer.audiences = [];
  chat.leave(sixth.member, { reason: "closed" });
  assert.deepEqual(renderer.audiences, [5]);
  // A second renderer (another front end) gets its own rendering, once.
  const other = new RecordingRenderer();
  const far = new Fake(other);
  const outsider = await chat.enter(far, "irc-user", "irc") as ChatMember;
  await chat.apply(outsider, { kind: "join", room: LOBBY, move: false });
  renderer.renders = other.renders = 0;
  chat.say(members[0].member, chat.findRoom(LOBBY)!, "hello both");
  chat.flush();
  assert.deepEqual([renderer.renders, other.renders], [1, 1]);
});
