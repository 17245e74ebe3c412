/**
 * Channel modes and room operators in the core, with no socket: the pure
 * rules (`channel_modes.ts`: the mode-string grammar, keys, limits, ban
 * masks) and the chat with fake members (`channel_ops.ts`, `membership.ts`):
 * who is an operator, what each mode lets in or keeps out, kicks, invites,
 * and a room's state following another server's events.
 */

import assert from "node:assert/strict";
import {
  defaultModes,
  formatChanges,
  keyProblem,
  limitProblem,
  maskMatches,
  maskProblem,
  modeListing,
  modesFromStore,
  normaliseMask,
  parseModeString,
  storedModes,
} from "../src/core/channel_modes.ts";
import { Chat, type ChatMember, type ChatRoom, type Endpoint } from "../src/core/chat.ts";
import type { ChatEvent, RoomEvent } from "../src/core/events.ts";
import type { Removal, Renderer } from "../src/core/records.ts";
import { MemoryStore } from "../src/core/store.ts";
import { LOBBY } from "../src/protocol/names.ts";

Deno.test("modes: a mode string is read as IRC and /mode write it", () => {
  assert.deepEqual(parseModeString("+o-v+l", ["ann", "bob", "10"]), {
    changes: [
      { mode: "o", on: true, param: "ann" },
      { mode: "v", on: false, param: "bob" },
      { mode: "l", on: true, param: "10" },
    ],
    unknown: [],
    listBans: false,
    missing: [],
  });
  // -l and -k take no parameter; b without a mask asks for the list; x is no mode.
  const parsed = parseModeString("-lk+bx+k", []);
  assert.deepEqual(parsed.changes, [{ mode: "l", on: false }, { mode: "k", on: false }]);
  assert.deepEqual([parsed.listBans, parsed.unknown, parsed.missing], [true, ["x"], ["k"]]);
  assert.deepEqual(parseModeString("+int", []).changes.map((c) => c.mode), ["i", "n", "t"]);
  // At most four changes with a parameter in one string (ISUPPORT MODES=4).
  assert.equal(parseModeString("+vvvvv", ["a", "b", "c", "d", "e"]).changes.length, 4);
  assert.deepEqual(
    formatChanges([
      { mode: "o", on: true, param: "ann" },
      { mode: "k", on: true, param: "sesame" },
      { mode: "l", on: false },
      { mode: "i", on: false },
    ]),
    ["+ok-li", "ann", "sesame"],
  );
  assert.deepEqual(formatChanges([{ mode: "k", on: true, param: "sesame" }], false), ["+k", "*"]);
});

Deno.test("modes: keys, limits and ban masks that can be used, and what they match", () => {
  assert.equal(keyProblem("beer"), null);
  assert.equal(keyProblem(""), "empty");
  assert.equal(keyProblem("passphrase with spaces"), "bad-characters");
  assert.equal(keyProblem("a,b"), "bad-characters");
  assert.equal(keyProblem("long".repeat(100)), "too-long");
  assert.equal(limitProblem("2"), null);
  for (const bad of ["0", "-1", "abc", "", "1.5", "99999999"]) {
    assert.notEqual(limitProblem(bad), null, bad);
  }
  assert.equal(normaliseMask("bob"), "bob!*@*");
  assert.equal(normaliseMask("bob!b"), "bob!b@*");
  assert.equal(normaliseMask("x@*"), "*!x@*");
  assert.equal(normaliseMask("~a:bob"), "~a:bob");
  assert.equal(maskProblem("ba*!*@*"), null);
  assert.equal(maskProblem("*!*@203.0.113.7"), "host-in-mask");
  assert.equal(maskProblem("~a:bob"), null);
  const bob = { nick: "Bar", user: "line", account: null };
  assert.ok(maskMatches("bar!*@*", bob), "case does not count");
  assert.ok(maskMatches("B?R!l*@*", bob));
  assert.ok(!maskMatches("bar!irc@*", bob));
  assert.ok(!maskMatches("~a:bar", bob), "an account ban matches accounts, not nicks");
  assert.ok(maskMatches("~a:BAR", { ...bob, account: "bar" }));
});

Deno.test("modes: listed as 324 shows them, kept as the store keeps them", () => {
  const modes = defaultModes();
  assert.deepEqual(modeListing(modes, true), ["+nt"]);
  modes.inviteOnly = true;
  modes.key = "beer";
  modes.limit = 5;
  modes.bans.push({ mask: "bob!*@*", by: "ann", time: 1 });
  assert.deepEqual(modeListing(modes, true), ["+intkl", "beer", "5"]);
  assert.deepEqual(modeListing(modes, false), ["+intkl", "*", "5"], "outsiders see no key");
  const stored = storedModes(modes, 1234);
  assert.deepEqual(stored, {
    flags: "int",
    key: "beer",
    limit: 5,
    bans: [{ mask: "bob!*@*", by: "ann", time: 1 }],
    created: 1234,
  });
  assert.deepEqual(modesFromStore(JSON.parse(JSON.stringify(stored))), modes);
  // What a damaged store holds is left at its default.
  const odd = modesFromStore({ flags: "s", key: "a b", limit: -3, bans: [{}] } as never);
  assert.deepEqual([odd.secret, odd.topicLocked, odd.key, odd.limit, odd.bans], [
    true,
    false,
    null,
    null,
    [],
  ]);
});

/** A renderer that hands events through as JSON. */
const passThrough: Renderer = {
  render: (events) => new TextEncoder().encode(JSON.stringify(events)),
};

/** A member's far end: the events that reached it, and the rooms it was kicked out of. */
class Far implements Endpoint {
  readonly renderer = passThrough;
  readonly address = "192.0.2.1";
  readonly heard: ChatEvent[] = [];
  readonly kickedFrom: string[] = [];
  removed: Removal | null = null;
  send(bytes: Uint8Array): void {
    this.heard.push(...JSON.parse(new TextDecoder().decode(bytes)));
  }
  remove(removal: Removal): void {
    this.removed = removal;
  }
  removedFromRoom(room: ChatRoom): void {
    this.kickedFrom.push(room.name);
  }
  take(): ChatEvent[] {
    return this.heard.splice(0);
  }
}

function setup(options: ConstructorParameters<typeof Chat>[0] = {}) {
  let now = Date.UTC(2026, 11, 1, 8, 0, 0);
  const chat = new Chat({ clock: () => now, operPassword: "oper-pass-1234", ...options });
  const enter = async (nick: string, ...rooms: string[]) => {
    const far = new Far();
    const entered = await chat.enter(far, nick, `u-${nick}`);
    assert.ok(!("kind" in entered), `${nick} entered`);
    const member = entered as ChatMember;
    for (const room of rooms) {
      const joined = await chat.apply(member, { kind: "join", room, move: false });
      assert.equal(joined.kind, "joined", `${nick} joined ${room}`);
    }
    return { member, far };
  };
  const join = (member: ChatMember, room: string, key?: string) =>
    chat.apply(member, { kind: "join", room, move: false, key });
  const mode = (member: ChatMember, room: string, modes: string, ...params: string[]) =>
    chat.apply(member, { kind: "mode", room, changes: parseModeString(modes, params).changes });
  const refusal = (reply: { kind: string; problem?: { code: string } }) =>
    reply.kind === "refused" ? reply.problem?.code : reply.kind;
  return { chat, enter, join, mode, refusal, tick: (ms: number) => now += ms };
}

Deno.test("chat: the creator is an operator; operators give and take +o and +v; others cannot", async () => {
  const { chat, enter, join, mode, refusal } = setup();
  const ann = await enter("ann", "dev");
  const bob = await enter("bob", "dev");
  const cy = await enter("cy", "lobby");
  const who = async () => {
    const reply = await chat.apply(ann.member, { kind: "who", room: "dev" });
    assert.ok(reply.kind === "who");
    return reply.members.map((m) => (m.operator ? "@" : "") + (m.voiced ? "+" : "") + m.nick);
  };
  assert.deepEqual(await who(), ["@ann", "bob"]);
  assert.equal(refusal(await mode(bob.member, "dev", "+o", "bob")), "not-operator");
  assert.equal(refusal(await mode(cy.member, "dev", "+o", "cy")), "not-in-room");
  assert.equal(refusal(await mode(ann.member, "nowhere", "+o", "bob")), "no-such-room");

  bob.far.take();
  const opped = await mode(ann.member, "dev", "+ov", "bob", "bob");
  assert.ok(opped.kind === "mode" && opped.event !== null);
  assert.deepEqual(opped.event.changes, [
    { mode: "o", on: true, param: "bob", id: bob.member.id },
    { mode: "v", on: true, param: "bob", id: bob.member.id },
  ]);
  assert.deepEqual(bob.far.take().map((e) => e.kind), ["mode"], "the room is told");
  assert.deepEqual(await who(), ["@ann", "@+bob"]);
  // Each change is checked on its own: a stranger and someone elsewhere are refused by name.
  const mixed = await mode(bob.member, "dev", "-o+o+o", "ann", "nobody", "cy");
  assert.ok(mixed.kind === "mode");
  assert.deepEqual(mixed.refused, [
    { code: "no-such-nick", nick: "nobody" },
    { code: "user-not-in-room", nick: "cy", room: "dev" },
  ]);
  assert.deepEqual(await who(), ["ann", "@+bob"]);
  // Nothing to change: no event.
  const again = await mode(bob.member, "dev", "+o", "bob");
  assert.ok(again.kind === "mode" && again.event === null && again.refused.length === 0);

  // A status is kept by member id: a rename keeps it, leaving the room drops it.
  await chat.apply(bob.member, { kind: "nick", nick: "robert" });
  assert.deepEqual(await who(), ["ann", "@+robert"]);
  await chat.apply(bob.member, { kind: "part", room: "dev", text: "" });
  await join(bob.member, "dev", undefined);
  assert.deepEqual(await who(), ["ann", "robert"], "back in a room others are in: no status");
});

Deno.test("chat: whoever enters a room nobody is in runs it; a server operator runs every room", async () => {
  const { chat, enter, mode, refusal } = setup({ store: new KeptStore() });
  const ann = await enter("ann", "dev");
  const bob = await enter("bob", "dev");
  await chat.apply(ann.member, { kind: "part", room: "dev", text: "" });
  await chat.apply(bob.member, { kind: "part", room: "dev", text: "" });
  // Kept (a store that keeps rooms), empty: whoever comes back first runs it, if it proved
  // a registered nick; a guest never takes over a room that was there before it.
  await chat.apply(ann.member, { kind: "join", room: "dev", move: false });
  let who = await chat.apply(ann.member, { kind: "who", room: "dev" });
  assert.ok(who.kind === "who");
  assert.deepEqual(who.members.map((m) => [m.nick, m.operator]), [["ann", false]]);
  await chat.apply(ann.member, { kind: "part", room: "dev", text: "" });
  assert.equal(
    (await chat.apply(bob.member, { kind: "register", password: "bob-pass-1" })).kind,
    "registered",
  );
  await chat.apply(bob.member, { kind: "join", room: "dev", move: false });
  await chat.apply(ann.member, { kind: "join", room: "dev", move: false });
  who = await chat.apply(ann.member, { kind: "who", room: "dev" });
  assert.ok(who.kind === "who");
  assert.deepEqual(who.members.map((m) => [m.nick, m.operator]), [["ann", false], ["bob", true]]);
  // The lobby has no operator; a server operator is one everywhere, from anywhere.
  const oper = await enter("oper");
  assert.equal(refusal(await mode(oper.member, "dev", "+m")), "not-in-room");
  assert.equal(
    (await chat.apply(oper.member, { kind: "oper", password: "oper-pass-1234" })).kind,
    "oper",
  );
  assert.equal(refusal(await mode(oper.member, "dev", "+m")), "mode");
  // The lobby stays open to everyone: no key, limit, invite list or bans there.
  const lobby = await mode(oper.member, LOBBY, "+iklbms", "k", "5", "x");
  assert.ok(lobby.kind === "mode");
  assert.deepEqual(lobby.refused.map((p) => p.code), Array(4).fill("lobby-open"));
  assert.deepEqual(lobby.event?.changes.map((c) => c.mode), ["m", "s"]);
});

/** A memory store that says it keeps rooms (as `--data` and `--cluster` do). */
class KeptStore extends MemoryStore {
  constructor() {
    super(50);
    Object.defineProperty(this, "persistent", { value: true });
  }
}

Deno.test("chat: +i and invitations, +k, +l, +b: who gets in and with which problem", async () => {
  const { chat, enter, join, mode, refusal } = setup();
  const ann = await enter("ann", "dev");
  const bob = await enter("bob");
  const cy = await enter("cy");

  await mode(ann.member, "dev", "+i");
  assert.equal(refusal(await join(bob.member, "dev")), "invite-only");
  assert.equal(
    refusal(await chat.apply(bob.member, { kind: "invite", room: "dev", nick: "cy" })),
    "not-in-room",
  );
  assert.equal(
    refusal(await chat.apply(ann.member, { kind: "invite", room: "dev", nick: "zed" })),
    "no-such-nick",
  );
  assert.equal(
    refusal(await chat.apply(ann.member, { kind: "invite", room: "dev", nick: "ann" })),
    "user-in-room",
  );
  const invited = await chat.apply(ann.member, { kind: "invite", room: "dev", nick: "bob" });
  assert.ok(invited.kind === "invited" && invited.nick === "bob");
  const [told] = bob.far.take();
  assert.ok(told.kind === "invited" && told.to === "bob" && told.nick === "ann");
  assert.deepEqual(await chat.apply(bob.member, { kind: "invites" }), {
    kind: "invites",
    rooms: ["dev"],
  });
  assert.equal(refusal(await join(bob.member, "dev")), "joined");
  assert.deepEqual(await chat.apply(bob.member, { kind: "invites" }), {
    kind: "invites",
    rooms: [],
  });
  // Only operators invite into a +i room.
  assert.equal(
    refusal(await chat.apply(bob.member, { kind: "invite", room: "dev", nick: "cy" })),
    "not-operator",
  );
  await mode(ann.member, "dev", "-i+k", "beer");
  assert.equal(refusal(await join(cy.member, "dev")), "bad-key");
  assert.equal(refusal(await join(cy.member, "dev", "wine")), "bad-key");
  assert.equal(refusal(await join(cy.member, "dev", "beer")), "joined");
  await chat.apply(cy.member, { kind: "part", room: "dev", text: "" });

  await mode(ann.member, "dev", "-k+l", "*", "2"); // -k takes a parameter, as IRC's does
  assert.equal(refusal(await join(cy.member, "dev")), "room-full");
  await chat.apply(ann.member, { kind: "invite", room: "dev", nick: "cy" });
  assert.equal(refusal(await join(cy.member, "dev")), "joined", "an invitation passes the limit");
  await chat.apply(cy.member, { kind: "part", room: "dev", text: "" });

  await mode(ann.member, "dev", "-l+b", "C?!*@*");
  const modes = await chat.apply(cy.member, { kind: "modes", room: "dev" });
  assert.ok(modes.kind === "modes" && !modes.member);
  assert.deepEqual(modes.modes.bans.map((ban) => [ban.mask, ban.by]), [["C?!*@*", "ann"]]);
  assert.equal(refusal(await join(cy.member, "dev")), "banned-from-room");
  assert.equal(refusal(await mode(ann.member, "dev", "+b", "*!*@203.0.113.7")), "mode");
  const hosted = await mode(ann.member, "dev", "+b", "*!*@203.0.113.7");
  assert.ok(hosted.kind === "mode" && hosted.refused[0].code === "invalid-mode-param");
  await mode(ann.member, "dev", "-b", "c?!*@*");
  assert.equal(refusal(await join(cy.member, "dev")), "joined");
});

Deno.test("chat: +m lets only the voiced and operators speak; -n lets outsiders send; +t and -t", async () => {
  const { chat, enter, mode } = setup();
  const ann = await enter("ann", "dev");
  const bob = await enter("bob", "dev");
  const cy = await enter("cy");
  const dev = chat.findRoom("dev")!;
  assert.deepEqual(chat.say(cy.member, dev, "from outside"), { code: "not-in-room", room: "dev" });
  await mode(ann.member, "dev", "-n");
  assert.equal((chat.say(cy.member, dev, "from outside") as RoomEvent).kind, "message");
  await mode(ann.member, "dev", "+m");
  assert.deepEqual(chat.say(bob.member, dev, "hello?"), { code: "moderated", room: "dev" });
  assert.deepEqual(chat.say(cy.member, dev, "from outside"), { code: "not-in-room", room: "dev" });
  assert.equal((chat.say(ann.member, dev, "operators speak") as RoomEvent).kind, "message");
  await mode(ann.member, "dev", "+v", "bob");
  assert.equal((chat.say(bob.member, dev, "now I may") as RoomEvent).kind, "message");

  const topic = (text: string) => chat.apply(bob.member, { kind: "topic", room: "dev", text });
  assert.deepEqual(await topic("mine"), {
    kind: "refused",
    problem: { code: "not-operator", room: "dev", what: "topic" },
  });
  await mode(ann.member, "dev", "-t");
  assert.equal((await topic("mine")).kind, "topic");
});

Deno.test("chat: a kick takes someone out of the room only; everyone there and they are told", async () => {
  const { chat, enter, refusal } = setup();
  const ann = await enter("ann", "dev");
  const bob = await enter("bob", "dev");
  const cy = await enter("cy", "dev");
  const kick = (by: ChatMember, nick: string, reason?: string) =>
    chat.apply(by, { kind: "kick", room: "dev", nick, reason });
  assert.equal(refusal(await kick(bob.member, "cy")), "not-operator");
  assert.equal(refusal(await kick(ann.member, "zed")), "no-such-nick");
  const dan = await enter("dan");
  assert.equal(refusal(await kick(ann.member, "dan")), "user-not-in-room");
  assert.equal(refusal(await kick(dan.member, "bob")), "not-in-room");
  bob.far.take();
  cy.far.take();
  const kicked = await kick(ann.member, "bob");
  assert.ok(kicked.kind === "kicked");
  assert.equal(kicked.event.text, "ann", "the reason defaults to the operator's nick");
  for (const far of [bob.far, cy.far]) {
    const [event] = far.take();
    assert.ok(
      event.kind === "kicked" && event.target === "bob" && event.targetId === bob.member.id,
    );
  }
  assert.deepEqual(bob.far.kickedFrom, ["dev"]);
  assert.equal(bob.far.removed, null, "still in the chat");
  assert.ok(bob.member.present && bob.member.rooms.length === 0);
  assert.equal(chat.findRoom("dev")?.size, 2);
});

/** Two chats that share a bus and know each other's members: two servers of one cluster. */
function twoServers() {
  const now = Date.UTC(2026, 11, 1, 8, 0, 0);
  const chats: Chat[] = [];
  const deliver: ((events: readonly ChatEvent[]) => void)[] = [];
  const members = new Map<string, { node: number; nick: string; user: string; rooms: string[] }>();
  for (let node = 0; node < 2; node++) {
    chats.push(
      new Chat({
        clock: () => now,
        node: `n${node}`,
        store: new KeptStore(),
        bus: {
          publish: (events) => deliver.forEach((to) => to(events)),
          deliverTo: (to) => deliver.push(to),
        },
        presence: {
          set: (id, info) => members.set(id, { node, ...info }),
          remove: (id) => members.delete(id),
          elsewhere: () =>
            Promise.resolve(
              [...members].filter(([, m]) => m.node !== node).map(([id, m]) => ({
                id,
                nick: m.nick,
                user: m.user,
                rooms: m.rooms,
                away: null,
              })),
            ),
        },
      }),
    );
  }
  return chats;
}

Deno.test("chat: a room is run alike on two servers: ops, +m and a kick made on one apply on the other", async () => {
  const [a, b] = twoServers();
  const enter = async (chat: Chat, nick: string) => {
    const far = new Far();
    const member = await chat.enter(far, nick, nick) as ChatMember;
    assert.equal(
      (await chat.apply(member, { kind: "join", room: "dev", move: false })).kind,
      "joined",
    );
    return { member, far };
  };
  const ann = await enter(a, "ann");
  const bob = await enter(b, "bob");
  const cy = await enter(b, "cy");
  const whoOn = async (chat: Chat, asker: ChatMember) => {
    const reply = await chat.apply(asker, { kind: "who", room: "dev" });
    assert.ok(reply.kind === "who");
    return reply.members.map((m) => (m.operator ? "@" : "") + m.nick);
  };
  assert.deepEqual(await whoOn(b, bob.member), ["@ann", "bob", "cy"], "B knows A's creator is op");
  const opped = await a.apply(ann.member, {
    kind: "mode",
    room: "dev",
    changes: [{ mode: "o", on: true, param: "bob" }],
  });
  assert.ok(opped.kind === "mode" && opped.event?.changes[0].id === bob.member.id);
  assert.deepEqual(await whoOn(b, cy.member), ["@ann", "@bob", "cy"]);
  // bob, opped on A, is an operator on B: +m there silences cy, and ann on A.
  await b.apply(bob.member, { kind: "mode", room: "dev", changes: [{ mode: "m", on: true }] });
  assert.equal((a.say(ann.member, a.findRoom("dev")!, "ops speak") as RoomEvent).kind, "message");
  assert.deepEqual(a.say(cy.member, a.findRoom("dev")!, "x"), { code: "not-in-room", room: "dev" });
  assert.deepEqual(b.say(cy.member, b.findRoom("dev")!, "hi"), { code: "moderated", room: "dev" });
  // A kick from A takes cy, on B, out of the room; cy stays on B.
  cy.far.take();
  const kicked = await a.apply(ann.member, {
    kind: "kick",
    room: "dev",
    nick: "cy",
    reason: "out",
  });
  assert.equal(kicked.kind, "kicked");
  assert.ok(cy.far.take().some((e) => e.kind === "kicked" && e.target === "cy"));
  assert.deepEqual(cy.far.kickedFrom, ["dev"]);
  assert.deepEqual(await whoOn(a, ann.member), ["@ann", "@bob"]);
  assert.ok(cy.member.present);
});
