/**
 * Big rooms in the chat core (`src/core/big_rooms.ts`), with fake members and
 * no socket: what entering, speaking and leaving a room of thousands costs in
 * deliveries, NAMES bounded at `LISTED_MOST`, and how the marks travel to
 * another server (the quits a server makes for a server that is gone carry
 * none: the receiving server marks them from what it followed).
 */

import assert from "node:assert/strict";
import { Chat, type ChatMember, type Endpoint, type Renderer } from "../src/core/chat.ts";
import type { ChatEvent, QuitEvent } from "../src/core/events.ts";
import type { Bus, Deliver } from "../src/core/bus.ts";
import { LISTED_MOST, QUIET_FROM } from "../src/core/big_rooms.ts";
import { checkEvent } from "../src/store/redis/event_check.ts";

/** Shows nothing (a room where only the counts matter). */
const blind: Renderer = { render: () => null };

/** Hands events through as JSON. */
const recording: Renderer = {
  render: (events) => new TextEncoder().encode(JSON.stringify(events)),
};

/** A member's far end: the events that reached it. */
class Fake implements Endpoint {
  readonly heard: ChatEvent[] = [];
  readonly address = "192.0.2.1";
  constructor(readonly renderer: Renderer = recording) {}
  remove(): void {}
  send(bytes: Uint8Array): void {
    this.heard.push(...JSON.parse(new TextDecoder().decode(bytes)));
  }
}

type Entered = { m: ChatMember; far: Fake };

/** The nick an event is from ("" for the server's). */
function nickOf(event: ChatEvent): string {
  return "nick" in event ? event.nick ?? "" : "";
}

async function member(chat: Chat, nick: string, room?: string, renderer?: Renderer) {
  const far = new Fake(renderer);
  const entered = await chat.enter(far, nick, nick);
  assert.ok(!("kind" in entered), `${nick} entered`);
  const m = entered as ChatMember;
  if (room !== undefined) {
    const reply = await chat.apply(m, { kind: "join", room, move: false });
    assert.equal(reply.kind, "joined");
  }
  return { m, far };
}

/** Joined events every member got, all together. */
function joinsHeard(fars: readonly Fake[]): number {
  return fars.reduce((sum, far) => sum + far.heard.filter((e) => e.kind === "joined").length, 0);
}

Deno.test("big rooms: entering a room of thousands costs its members nothing past QUIET_FROM; the first word shows the member, once", async () => {
  const chat = new Chat();
  const members: Entered[] = [];
  for (let i = 0; i < 1_500; i++) members.push(await member(chat, `m${i}`, "big"));
  const fars = members.map((entry) => entry.far);
  // Everyone entering a room of fewer than QUIET_FROM was announced to those there: the square
  // of QUIET_FROM, not of 1,500 (1,124,250 joined events).
  assert.equal(joinsHeard(fars), (QUIET_FROM * (QUIET_FROM - 1)) / 2);
  const room = chat.findRoom("big")!;
  const late = members[1_400];
  for (const far of fars) far.heard.length = 0;
  chat.say(late.m, room, "hello");
  chat.say(late.m, room, "again");
  chat.flush();
  const first = members[0].far.heard.map((e) => [e.kind, nickOf(e)]);
  assert.deepEqual(first, [["joined", "m1400"], ["message", "m1400"], ["message", "m1400"]]);
  assert.equal(joinsHeard(fars), 1_499);
  chat.say(late.m, room, "third");
  chat.flush();
  assert.equal(joinsHeard(fars), 1_499, "shown once");

  // Leaving: a quiet member's part and quit reach nobody; a shown one's reach everyone.
  for (const far of fars) far.heard.length = 0;
  await chat.apply(members[1_000].m, { kind: "part", room: "big", text: "" });
  chat.leave(members[1_001].m, { reason: "quit" });
  chat.leave(late.m, { reason: "quit" });
  const heard = fars.flatMap((far) => far.heard);
  assert.equal(
    heard.filter((e) => e.kind === "left" || e.origin === members[1_001].m.id).length,
    0,
  );
  assert.equal(heard.filter((e) => e.kind === "quit" && e.nick === "m1400").length, 1_497);
});

Deno.test("big rooms: NAMES lists the asker and who is shown, at most LISTED_MOST, and counts the rest", async () => {
  const chat = new Chat();
  const members: Entered[] = [];
  const total = LISTED_MOST + 400;
  for (let i = 0; i < total; i++) members.push(await member(chat, `m${i}`, "big", blind));
  const asker = members[total - 1].m;
  const names = async (who: ChatMember) => {
    const reply = await chat.apply(who, { kind: "who", room: "big", listed: true });
    assert.equal(reply.kind, "who");
    return reply as Extract<typeof reply, { kind: "who" }>;
  };
  let reply = await names(asker);
  assert.equal(reply.members.length, QUIET_FROM + 1);
  assert.equal(reply.unlisted, total - QUIET_FROM - 1);
  assert.ok(reply.members.some((info) => info.nick === asker.nick), "the asker is listed");
  // Unlisted (a line client's /who): everyone.
  const all = await chat.apply(asker, { kind: "who", room: "big" });
  assert.equal(all.kind === "who" && all.members.length, total);

  // Everyone speaks: all are shown, and NAMES stops at LISTED_MOST (with quiet ones or not).
  const room = chat.findRoom("big")!;
  for (const { m } of members) {
    chat.say(m, room, "here");
    chat.flush();
  }
  reply = await names(members[5].m);
  assert.equal(reply.members.length, LISTED_MOST);
  assert.equal(reply.unlisted, total - LISTED_MOST);
  assert.ok(reply.members.some((info) => info.nick === "m5"), "the asker is listed");
  await member(chat, "newcomer", "big", blind);
  reply = await names(members[5].m);
  assert.equal(reply.members.length, LISTED_MOST);
  assert.equal(reply.unlisted, total + 1 - LISTED_MOST);
});

/** Two servers' chats over one bus that carries events as JSON, as Redis does. */
function twinBus(): [Bus, Bus] {
  const delivers: Deliver[] = [];
  const make = (): Bus => {
    const index = delivers.length;
    delivers.push(() => {});
    return {
      publish(events) {
        const wire = JSON.stringify(events);
        for (const deliver of delivers) {
          deliver(
            JSON.parse(wire).map((raw: unknown) => {
              const checked = checkEvent(raw);
              assert.ok("event" in checked, `a checked event: ${"why" in checked && checked.why}`);
              return checked.event;
            }),
          );
        }
      },
      deliverTo(deliver) {
        delivers[index] = deliver;
      },
    };
  };
  return [make(), make()];
}

Deno.test("big rooms: another server's quiet members stay quiet there, its quits of them too, even unmarked", async () => {
  const [busA, busB] = twinBus();
  const a = new Chat({ node: "a", bus: busA });
  const b = new Chat({ node: "b", bus: busB });
  const fars: Fake[] = [];
  for (let i = 0; i < QUIET_FROM; i++) fars.push((await member(b, `b${i}`, "big")).far);
  // Server a's members enter the room: the first QUIET_FROM are announced (a counts its own
  // members), the next two are not.
  for (const far of fars) far.heard.length = 0;
  const onA: Entered[] = [];
  for (let i = 0; i < QUIET_FROM + 2; i++) onA.push(await member(a, `a${i}`, "big"));
  assert.equal(fars[0].heard.filter((e) => e.kind === "joined").length, QUIET_FROM);
  const quiet = onA[QUIET_FROM].m;
  const gone = onA[QUIET_FROM + 1].m;
  for (const far of fars) far.heard.length = 0;

  // a's quiet member speaks: b's members get its JOIN first.
  a.say(quiet, a.findRoom("big")!, "hi from a");
  a.flush();
  assert.deepEqual(fars[0].heard.map((e) => [e.kind, nickOf(e)]), [
    ["joined", quiet.nick],
    ["message", quiet.nick],
  ]);
  // A quit of a quiet member that its server did not mark (made for a server that is gone):
  // b marks it from what it followed, and tells nobody.
  for (const far of fars) far.heard.length = 0;
  const event: QuitEvent = {
    kind: "quit",
    rooms: ["big"],
    nick: gone.nick,
    user: gone.user,
    reason: "server lost",
    detail: "",
    time: Date.now(),
    origin: gone.id,
  };
  busA.publish([event]);
  assert.equal(fars.flatMap((far) => far.heard).length, 0);
});

Deno.test("big rooms: the marks survive the trip between servers (event_check)", () => {
  const joined = checkEvent({
    kind: "joined",
    room: "big",
    seq: 3,
    nick: "ann",
    user: "ann",
    time: 1,
    origin: "a/1",
    quiet: true,
  });
  assert.ok("event" in joined && joined.event.kind === "joined" && joined.event.quiet === true);
  const quit = checkEvent({
    kind: "quit",
    rooms: ["big", "dev"],
    quietIn: ["big"],
    nick: "ann",
    user: "ann",
    reason: "quit",
    detail: "",
    time: 1,
    origin: "a/1",
  });
  assert.ok("event" in quit && quit.event.kind === "quit");
  assert.deepEqual(quit.event.quietIn, ["big"]);
  assert.ok(
    "why" in
      checkEvent({
        kind: "quit",
        rooms: [],
        quietIn: ["no room"],
        nick: "a",
        user: "a",
        reason: "quit",
        detail: "",
        time: 1,
        origin: "x",
      }),
  );
});
