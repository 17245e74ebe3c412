/**
 * One account on several devices, in the chat core (issue 23): no socket, no
 * protocol. Fake devices record the events delivered to them and what they are
 * told of their member's other devices (`Endpoint.sibling`), so the tests see
 * exactly which device is told what.
 */

import assert from "node:assert/strict";
import { Chat, type ChatMember, type DeviceNotice, type Endpoint } from "../src/core/chat.ts";
import type { ChatEvent } from "../src/core/events.ts";
import type { Renderer } from "../src/core/records.ts";
import { DAY_MS } from "../src/core/history.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { LOBBY } from "../src/protocol/names.ts";

const PASSWORD = "correct-horse-battery";

/** Hands events through as JSON. */
const passThrough: Renderer = {
  render: (events: readonly ChatEvent[]) => new TextEncoder().encode(JSON.stringify(events)),
};

/** A device's far end: the events that reached it, and what it was told of its siblings. */
class Fake implements Endpoint {
  readonly renderer = passThrough;
  readonly heard: ChatEvent[] = [];
  readonly told: DeviceNotice[] = [];
  readonly address: string;
  readonly oneRoom: boolean;
  removed = false;
  constructor(options: { oneRoom?: boolean; address?: string } = {}) {
    this.oneRoom = options.oneRoom ?? false;
    this.address = options.address ?? "192.0.2.1";
  }
  send(bytes: Uint8Array): void {
    this.heard.push(...JSON.parse(new TextDecoder().decode(bytes)));
  }
  remove(): void {
    this.removed = true;
  }
  sibling(notice: DeviceNotice): void {
    this.told.push(notice);
  }
  /** The kinds of what it was told, emptied. */
  toldKinds(): string[] {
    return this.told.splice(0).map((notice) => notice.kind);
  }
  /** What reached it (kinds and texts), emptied. */
  take(): ChatEvent[] {
    return this.heard.splice(0);
  }
  /** The texts of the messages that reached it, emptied. */
  texts(): string[] {
    return this.take().flatMap((event) =>
      event.kind === "message" || event.kind === "private" ? [event.text] : []
    );
  }
}

function setup(options: ConstructorParameters<typeof Chat>[0] = {}) {
  let now = Date.UTC(2026, 11, 1, 8, 0, 0);
  const chat = new Chat({ clock: () => now, ...options });
  /** A new device: `nick` proved with its password (registered first when asked). */
  const device = async (
    nick: string,
    far = new Fake(),
    password?: string,
  ): Promise<{ member: ChatMember; far: Fake }> => {
    const entered = await chat.enter(far, nick, `u-${nick}`, password);
    if ("kind" in entered) assert.fail(`${nick} did not enter: ${JSON.stringify(entered)}`);
    return { member: entered as ChatMember, far };
  };
  const register = async (nick: string) => {
    const { member } = await device(nick);
    const reply = await chat.apply(member, { kind: "register", password: PASSWORD });
    assert.equal(reply.kind, "registered");
    chat.leave(member, { reason: "quit" });
  };
  return { chat, device, register, tick: (ms: number) => now += ms, now: () => now };
}

Deno.test("devices: a second device of an account is the same member; nobody sees it arrive or go", async () => {
  const { chat, device, register } = setup();
  await register("alice");
  const bob = await device("bob");
  await chat.apply(bob.member, { kind: "join", room: "dev", move: false });
  const laptop = await device("alice", new Fake(), PASSWORD);
  await chat.apply(laptop.member, { kind: "join", room: "dev", move: false });
  bob.far.take();

  const phone = await device("alice", new Fake(), PASSWORD);
  assert.equal(phone.member.id, laptop.member.id, "one member");
  assert.equal(phone.member.nick, "alice");
  assert.deepEqual(phone.member.rooms.map((room) => room.name), ["dev"]);
  assert.equal(chat.devices(phone.member), 2);
  assert.equal(chat.online, 2, "alice counts once");
  const resumed = await chat.resume(phone.member);
  assert.equal(resumed.how, "attached");
  assert.deepEqual(resumed.rooms.map(({ room }) => room.name), ["dev"]);
  assert.deepEqual(bob.far.take(), [], "bob sees nobody arrive");

  // What one device says reaches the other and bob, once each; not its own sender.
  const dev = chat.findRoom("dev")!;
  const said = chat.say(phone.member, dev, "from the phone");
  assert.ok(!("code" in said));
  chat.flush();
  assert.deepEqual(bob.far.texts(), ["from the phone"]);
  assert.deepEqual(laptop.far.texts(), ["from the phone"]);
  assert.deepEqual(phone.far.texts(), []);
  chat.say(laptop.member, dev, "from the laptop");
  chat.flush();
  assert.deepEqual(phone.far.texts(), ["from the laptop"]);
  assert.deepEqual(bob.far.texts(), ["from the laptop"]);

  // One device leaves: quietly. The last one: the others see alice quit.
  chat.leave(phone.member, { reason: "quit", detail: "phone off" });
  assert.deepEqual(bob.far.take(), []);
  assert.equal(chat.find("alice")?.present, true);
  chat.say(bob.member, dev, "still there?");
  chat.flush();
  assert.deepEqual(laptop.far.texts(), ["still there?"]);
  chat.leave(laptop.member, { reason: "quit", detail: "bye" });
  const quits = bob.far.take().filter((event) => event.kind === "quit");
  assert.equal(quits.length, 1);
  assert.equal(chat.find("alice"), undefined);
});

Deno.test("devices: private messages reach every device, the sender's other devices as sent", async () => {
  const { chat, device, register } = setup();
  await register("alice");
  const bob = await device("bob");
  const one = await device("alice", new Fake(), PASSWORD);
  const two = await device("alice", new Fake(), PASSWORD);
  // To the account: every device.
  await chat.apply(bob.member, { kind: "private", nick: "alice", text: "psst", action: false });
  assert.deepEqual(one.far.texts(), ["psst"]);
  assert.deepEqual(two.far.texts(), ["psst"]);
  // From one device: the receiver, and the other device as the sender's copy (same id).
  const reply = await chat.apply(two.member, {
    kind: "private",
    nick: "bob",
    text: "hi bob",
    action: false,
  });
  assert.equal(reply.kind, "sent");
  const toBob = bob.far.take();
  const copy = one.far.take();
  assert.deepEqual(two.far.take(), []);
  assert.equal(toBob.length, 1);
  assert.equal(copy.length, 1);
  assert.equal(copy[0].kind === "private" && copy[0].sent, true);
  assert.equal(copy[0].id, toBob[0].id);
});

Deno.test("devices: joining, leaving and renaming on one device is told to the others", async () => {
  const { chat, device, register } = setup();
  await register("alice");
  const irc = await device("alice", new Fake(), PASSWORD);
  const line = await device("alice", new Fake({ oneRoom: true }), PASSWORD);
  await chat.apply(line.member, { kind: "join", room: LOBBY, move: false });
  assert.deepEqual(irc.far.toldKinds(), ["joined"], "the lobby, joined from the line device");

  // The IRC device joins #dev: the line device is told, and does not show #dev's lines.
  await chat.apply(irc.member, { kind: "join", room: "dev", move: false });
  assert.deepEqual(line.far.toldKinds(), ["joined"]);
  const bob = await device("bob");
  await chat.apply(bob.member, { kind: "join", room: "dev", move: false });
  chat.say(bob.member, chat.findRoom("dev")!, "in dev");
  chat.flush();
  assert.deepEqual(irc.far.texts(), ["in dev"]);
  assert.deepEqual(line.far.texts(), [], "the line device shows the lobby");

  // The line device shows #dev: no event for anyone, its lines from now on; the lobby stays
  // (the IRC device is in it too).
  bob.far.take();
  const shown = await chat.apply(line.member, { kind: "join", room: "dev", move: true });
  assert.equal(shown.kind, "joined");
  assert.deepEqual(shown.kind === "joined" && shown.left, []);
  assert.deepEqual(bob.far.take(), []);
  assert.deepEqual(irc.far.toldKinds(), []);
  chat.say(bob.member, chat.findRoom("dev")!, "seen on both");
  chat.flush();
  assert.deepEqual(line.far.texts(), ["seen on both"]);
  assert.deepEqual(irc.far.texts(), ["seen on both"]);

  // A new room from the line device: the member joins it (bob would see it), the IRC device
  // is told; the line device's old room stays (the IRC device shows it).
  await chat.apply(line.member, { kind: "join", room: "ops", move: true });
  assert.deepEqual(irc.far.toldKinds(), ["joined"]);
  assert.deepEqual(irc.member.rooms.map((room) => room.name), [LOBBY, "dev", "ops"]);

  // Parting on the IRC device parts the member; renaming renames it on every device.
  line.far.toldKinds();
  await chat.apply(irc.member, { kind: "part", room: "dev", text: "" });
  assert.deepEqual(line.far.told, [{ kind: "parted", room: "dev", text: "" }]);
  await chat.apply(irc.member, { kind: "nick", nick: "alice" });
  await chat.apply(line.member, { kind: "away", text: "lunch" });
  assert.deepEqual(irc.far.told, [{ kind: "away", away: "lunch" }]);
});

Deno.test("devices: --max-sessions: one more is refused; multiclient off: one device only", async () => {
  const { chat, device, register } = setup({ maxSessions: 3 });
  await register("alice");
  const first = await device("alice", new Fake(), PASSWORD);
  await device("alice", new Fake(), PASSWORD);
  await device("alice", new Fake(), PASSWORD);
  assert.deepEqual(await chat.enter(new Fake(), "alice", "x", PASSWORD), {
    kind: "refused",
    problem: { code: "too-many-sessions", nick: "alice", max: 3 },
  });
  // A guest proving the account later is refused too, and stays itself.
  const guest = await chat.enterAsGuest(new Fake());
  const identify = await chat.apply(guest, { kind: "identify", nick: "alice", password: PASSWORD });
  assert.equal(identify.kind === "refused" && identify.problem.code, "too-many-sessions");
  assert.equal(guest.present, true);

  assert.equal(await chat.setMulticlient(first.member, false), true);
  assert.equal(await chat.multiclient("alice"), false);
  for (const member of [...chat.members()]) {
    if (member.nick === "alice") {
      for (let i = 0; i < 3; i++) chat.leave(member, { reason: "quit" });
    }
  }
});

Deno.test("devices: a guest that proves the account joins its member; its own nick leaves", async () => {
  const { chat, device, register } = setup();
  await register("alice");
  const bob = await device("bob");
  const laptop = await device("alice", new Fake(), PASSWORD);
  await chat.apply(laptop.member, { kind: "join", room: "dev", move: false });
  await chat.apply(bob.member, { kind: "join", room: "dev", move: false });
  const guest = await chat.enterAsGuest(new Fake({ oneRoom: true }));
  await chat.apply(guest, { kind: "join", room: "dev", move: false });
  const guestNick = guest.nick;
  bob.far.take();
  const reply = await chat.apply(guest, { kind: "identify", nick: "alice", password: PASSWORD });
  assert.deepEqual(reply, {
    kind: "identified",
    nick: "alice",
    renamedFrom: guestNick,
    displaced: null,
    attached: 2,
  });
  assert.equal(guest.nick, "alice");
  assert.equal(guest.id, laptop.member.id);
  const seen = bob.far.take();
  assert.deepEqual(seen.map((event) => event.kind), ["quit"]);
  assert.equal(seen[0].kind === "quit" && seen[0].nick, guestNick);
  assert.equal(chat.devices(guest), 2);
});

Deno.test("devices: rooms wait with --data: back in them the next day, and what was missed is kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-devices-" });
  let now = Date.UTC(2026, 11, 1, 8, 0, 0);
  const clock = () => now;
  const store = SqliteStore.open(`${dir}/chat.db`, { historySize: 1000, clock });
  try {
    const chat = new Chat({ clock, store });
    await chat.load();
    const bob = await chat.enter(new Fake(), "bob", "bob") as ChatMember;
    await chat.apply(bob, { kind: "join", room: "dev", move: false });
    const reg = await chat.enter(new Fake(), "alice", "alice") as ChatMember;
    await chat.apply(reg, { kind: "register", password: PASSWORD });
    await chat.apply(reg, { kind: "join", room: "dev", move: false });
    await chat.apply(reg, { kind: "join", room: "ops", move: false });
    const line = new Fake({ oneRoom: true });
    const shown = await chat.enter(line, "alice", "alice", PASSWORD) as ChatMember;
    await chat.apply(shown, { kind: "join", room: "dev", move: false });
    chat.say(bob, chat.findRoom("dev")!, "before");
    chat.flush();
    chat.leave(shown, { reason: "quit" });
    chat.leave(reg, { reason: "quit" });
    assert.equal(chat.find("alice"), undefined);
    assert.equal(chat.findRoom("dev")!.size, 1, "nobody sees alice in #dev meanwhile");

    now += DAY_MS / 2;
    chat.say(bob, chat.findRoom("dev")!, "missed 1");
    chat.flush();
    now += DAY_MS / 2;
    chat.say(bob, chat.findRoom("dev")!, "missed 2");
    chat.flush();
    now += DAY_MS;

    const back = new Fake({ oneRoom: true });
    const member = await chat.enter(back, "alice", "alice", PASSWORD) as ChatMember;
    const resumed = await chat.resume(member);
    assert.equal(resumed.how, "restored");
    assert.deepEqual(resumed.rooms.map(({ room }) => room.name), ["dev", "ops"]);
    assert.equal(resumed.current?.name, "dev", "the room its line client showed");
    assert.equal(resumed.left, Date.UTC(2026, 11, 1, 8, 0, 0));
    const missed = await chat.apply(member, {
      kind: "history",
      target: { room: "dev" },
      request: { kind: "latest", after: { time: resumed.left! }, limit: 100 },
    });
    assert.deepEqual(
      missed.kind === "history" && missed.events.map((event) => event.text),
      ["missed 1", "missed 2"],
    );
    assert.equal(chat.findRoom("dev")!.size, 2);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("devices: read markers move forward only and reach the member's other devices", async () => {
  const { chat, device, register, now } = setup();
  await register("alice");
  const one = await device("alice", new Fake(), PASSWORD);
  const two = await device("alice", new Fake(), PASSWORD);
  assert.equal(await chat.markRead(one.member, "#dev"), null);
  const t = now() - 1000;
  assert.equal(await chat.markRead(one.member, "#dev", t), t);
  assert.deepEqual(two.far.told, [{ kind: "marker", target: "#dev", time: t }]);
  assert.deepEqual(one.far.told, []);
  assert.equal(await chat.markRead(two.member, "#DEV", t - 5000), t, "never back");
  assert.equal(await chat.markRead(two.member, "#dev"), t);
  assert.equal(await chat.markRead(two.member, "#dev", "now"), now());
  // Kept for the account: a later session reads it.
  chat.leave(one.member, { reason: "quit" });
  chat.leave(two.member, { reason: "quit" });
  const three = await device("alice", new Fake(), PASSWORD);
  assert.equal(await chat.markRead(three.member, "#dev"), now());
});

Deno.test("devices: a topic or a mode set on one device shows on the others", async () => {
  const { chat, device, register } = setup();
  await register("alice");
  const one = await device("alice", new Fake(), PASSWORD);
  const two = await device("alice", new Fake(), PASSWORD);
  await chat.apply(one.member, { kind: "join", room: "dev", move: false });
  two.far.take();
  await chat.apply(one.member, { kind: "topic", room: "dev", text: "release on Friday" });
  const topic = two.far.take();
  assert.deepEqual(topic.map((event) => event.kind), ["topic"]);
  assert.equal(topic[0].kind === "topic" && topic[0].text, "release on Friday");
  await chat.apply(one.member, { kind: "mode", room: "dev", changes: [{ mode: "m", on: true }] });
  assert.deepEqual(two.far.take().map((event) => event.kind), ["mode"]);
  assert.deepEqual(one.far.take(), []);
});
