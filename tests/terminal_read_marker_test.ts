/**
 * The terminal client sets the read marker for what it has shown (issue 23):
 * the chat view, with no terminal, asks to send `/read` once room lines were
 * shown live, not while scrolled back, not twice for the same lines, hides the
 * server's answer, and stops asking a server that has no `/read`.
 */

import assert from "node:assert/strict";
import { ChatView } from "../src/terminal/chat_view.ts";

const clock = () => new Date(2026, 10, 28, 12, 5);

function view(): ChatView {
  const chat = new ChatView({ columns: 80, rows: 10, color: false, clock });
  chat.received([
    "*** welcome to parley, you are ann",
    "*** 2 online, 2 in #lobby; /nick NAME to change your name, /help for commands",
  ]);
  return chat;
}

Deno.test("terminal read marker: /read goes out once what was shown live holds room lines", () => {
  const chat = view();
  assert.deepEqual(chat.markRead(), [], "notices are not conversation");
  chat.received(["<bob> hello"]);
  assert.deepEqual(chat.markRead(), ["/read"]);
  assert.deepEqual(chat.markRead(), [], "nothing new since");
  // The answer is not shown; what comes after it is.
  const output = chat.received(["*** read #lobby up to 12:05", "<bob> still there?"]);
  assert.ok(!output.includes("read #lobby"), output);
  assert.ok(output.includes("still there?"), output);
  assert.deepEqual(chat.markRead(), ["/read"]);
});

Deno.test("terminal read marker: nothing is read while scrolled back; End shows it, and it is", () => {
  const chat = view();
  chat.received(Array.from({ length: 30 }, (_, i) => `<bob> line ${i}`));
  assert.deepEqual(chat.markRead(), ["/read"]);
  chat.key({ type: "key", name: "page-up" });
  chat.received(["<bob> while you scroll"]);
  assert.deepEqual(chat.markRead(), [], "scrolled back: not seen");
  chat.key({ type: "key", name: "end" });
  assert.deepEqual(chat.markRead(), ["/read"], "back at the end: seen");
});

Deno.test("terminal read marker: a server without /read is not asked again, its error not shown", () => {
  const chat = view();
  chat.received(["<bob> hello"]);
  assert.deepEqual(chat.markRead(), ["/read"]);
  const output = chat.received(["!!! unknown command /read (try /help)"]);
  assert.equal(output.includes("unknown command"), false, output);
  chat.received(["<bob> more"]);
  assert.deepEqual(chat.markRead(), []);
});
