/**
 * The chat page in a real browser (Debian's Chromium driven by
 * playwright-core), against a real parley process that serves the page and
 * IRC over WebSocket on its chat port (issue 22), with `nc` as a line client
 * in the same rooms.
 *
 * What it checks, in order, on one server:
 * 1. two pages (a desktop one and a phone one) and nc meet in #lobby
 * 2. history on entering: the page shows the room's latest lines, not all
 * 3. scrolling up loads older lines (CHATHISTORY BEFORE), each once, in order,
 *    up to the beginning
 * 4. talk both ways: nc → pages, page → nc and the other page
 * 5. `/me` from a page reaches nc and the other page as an action
 * 6. `<script>` and `<img onerror>` in a message show as text (no element, no dialog)
 * 7. a private conversation: a member click opens it, the other page gets an
 *    entry with a mention mark, replies reach back
 * 8. a nick change shows on the other page and in its member list
 * 9. topic: the room's creator sets it, a newcomer sees it and the `@`
 * 10. a mention notification while the tab is hidden (permission granted,
 *     turned on with the page's button)
 * 11. a restart with `--data`: the pages say they lost the connection,
 *     reconnect by themselves and show exactly the lines they missed (each
 *     once, nothing said before shown twice)
 * 12. the phone layout at 390×800: the room list is a drawer, nothing wider
 *     than the screen
 * and that no page logs an error (a Content-Security-Policy refusal included).
 * Screenshots go to a temporary folder, named in the output.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Browser, type BrowserContext, chromium, type Page } from "npm:playwright-core@1.65.2";
import { delay, NetcatClient, OutputCollector, spawnCli, waitUntil } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * Records notifications and lets the test hide the tab: Chromium headless
 * never hides a page by itself.
 */
const PAGE_HOOKS = `
window.__notes = [];
window.__asked = 0;
window.__hidden = false;
const RealNotification = window.Notification;
if (RealNotification) {
  function RecordingNotification(title, options) {
    window.__notes.push({ title, body: options && options.body });
    return new RealNotification(title, options);
  }
  Object.defineProperty(RecordingNotification, "permission", { get: () => RealNotification.permission });
  RecordingNotification.requestPermission = (...args) => {
    window.__asked++;
    return RealNotification.requestPermission(...args);
  };
  window.Notification = RecordingNotification;
}
Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
Object.defineProperty(document, "visibilityState", {
  configurable: true,
  get: () => (window.__hidden ? "hidden" : "visible"),
});
`;

/** A parley server process on a fixed port (so a restart keeps the address). */
interface Parley {
  /** The chat port: line clients, and the page and its WebSocket. */
  port: number;
  pageUrl: string;
  stop(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function startParley(port: number, dataFile: string): Promise<Parley> {
  const child = spawnCli([
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--data",
    dataFile,
    "--no-console",
    "--rate",
    "0",
    "--max-per-ip",
    "0",
  ]);
  await child.stdin.close();
  const stdout = new OutputCollector(child.stdout);
  const stderr = new OutputCollector(child.stderr);
  try {
    await stdout.waitFor(new RegExp(`listening +127\\.0\\.0\\.1:${port}\\b`), 15_000);
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`parley did not start: ${stderr.text}`, { cause: error });
  }
  return {
    port,
    pageUrl: `http://127.0.0.1:${port}/`,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone already */ }
      await child.status;
      await Promise.all([stdout.done, stderr.done]);
    },
  };
}

/** One browser page of the chat, with what it logged. */
interface ChatPage {
  context: BrowserContext;
  page: Page;
  nick: string;
  problems: string[];
}

async function openPage(
  browser: Browser,
  url: string,
  nick: string,
  options: Parameters<Browser["newContext"]>[0],
  problems: string[],
): Promise<ChatPage> {
  const context = await browser.newContext(options);
  await context.addInitScript(PAGE_HOOKS);
  const page = await context.newPage();
  page.on("console", (message) => {
    // While the server restarts or the browser is offline (step 11), failed connection attempts
    // are the browser's own console errors, expected; any other error is the page's.
    const expected = /ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED/;
    if (message.type() === "error" && !expected.test(message.text())) {
      problems.push(`${nick}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`${nick}: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`${nick}: a dialog opened: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(url);
  await page.fill("#nick", nick);
  await page.click("#connect-button");
  await page.waitForSelector("#app:not([hidden])", { timeout: 10_000 });
  return { context, page, nick, problems };
}

/** The text of the shown conversation's messages. */
function logText(chat: ChatPage): Promise<string> {
  return chat.page.locator("#scroller ol.log").innerText();
}

/** What people said in the shown conversation (messages and actions, no events), one per line. */
async function messageTexts(chat: ChatPage): Promise<string[]> {
  return await chat.page.locator(
    "#scroller ol.log li.k-privmsg .body, #scroller ol.log li.k-action .body",
  ).allInnerTexts();
}

async function waitForText(chat: ChatPage, pattern: RegExp, timeout = 10_000): Promise<void> {
  let text = "";
  await waitUntil(
    async () => pattern.test(text = await logText(chat)),
    () => `${chat.nick}'s page to show ${pattern}; it shows:\n${text.slice(-1500)}`,
    timeout,
  );
}

async function type(chat: ChatPage, line: string): Promise<void> {
  await chat.page.fill("#input", line);
  await chat.page.press("#input", "Enter");
}

/** Hides or shows the tab, as far as the page can tell (PAGE_HOOKS). */
async function setHidden(chat: ChatPage, hidden: boolean): Promise<void> {
  await chat.page.evaluate(
    `window.__hidden = ${hidden}; document.dispatchEvent(new Event("visibilitychange"))`,
  );
}

function count(list: string[], pattern: RegExp): number {
  return list.filter((line) => pattern.test(line)).length;
}

Deno.test({
  name: "the chat page in Chromium: two pages and nc chat, history, private messages, restart",
  // enabled when the server serves the page (issue 22)
  ignore: false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dataFile = await Deno.makeTempFile({ prefix: "parley-web-", suffix: ".db" });
    const shots = await Deno.makeTempDir({ prefix: "parley-web-shots-" });
    const port = freePort();
    let parley = await startParley(port, dataFile);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const problems: string[] = [];
    const ncs: NetcatClient[] = [];
    try {
      const carol = new NetcatClient(port, "127.0.0.1");
      ncs.push(carol);
      await carol.send("/nick carol");
      await carol.output.waitFor(/carol/);
      for (let i = 1; i <= 120; i++) await carol.send(`old ${i}`);
      await delay(300);

      const desktop = await openPage(browser, parley.pageUrl, "alice", {
        viewport: { width: 1280, height: 800 },
        permissions: ["notifications"],
      }, problems);
      const phone = await openPage(browser, parley.pageUrl, "bob", {
        viewport: { width: 390, height: 800 },
        isMobile: true,
        hasTouch: true,
      }, problems);

      await t.step("1. two pages and nc in #lobby", async () => {
        await waitUntil(
          async () => /bob/.test(await desktop.page.locator("#member-list").innerText()),
          "bob in alice's member list",
        );
        const members = await desktop.page.locator("#member-list").innerText();
        assert.ok(/alice/.test(members) && /carol/.test(members), members);
        assert.equal(await desktop.page.textContent("#buffer-name"), "#lobby");
      });

      await t.step("2. history on entering: the latest lines", async () => {
        await waitForText(desktop, /old 120/);
        const texts = await messageTexts(desktop);
        assert.equal(
          count(texts, /^carol old 1$/),
          0,
          "the page starts with the latest lines only",
        );
        assert.equal(count(texts, /^carol old 120$/), 1);
      });

      await t.step("3. scrolling up loads older lines, each once, in order", async () => {
        await waitUntil(
          async () => {
            await desktop.page.evaluate(`document.getElementById("scroller").scrollTop = 0`);
            await delay(150);
            return (await messageTexts(desktop)).includes("carol old 1");
          },
          "old 1 after scrolling up",
          20_000,
        );
        const olds = (await messageTexts(desktop)).filter((line) => /^carol old \d+$/.test(line));
        assert.deepEqual(olds, Array.from({ length: 120 }, (_, i) => `carol old ${i + 1}`));
        await waitUntil(
          async () => /beginning/.test(await desktop.page.textContent("#history-state") ?? ""),
          "the beginning of the conversation",
        );
        await desktop.page.screenshot({ path: `${shots}/desktop_history.png` });
      });

      await t.step("4. talk both ways", async () => {
        await carol.send("hello pages");
        await waitForText(desktop, /carol hello pages/);
        await waitForText(phone, /carol hello pages/);
        await type(desktop, "hello carol");
        await carol.output.waitFor(/<alice> hello carol/);
        await waitForText(phone, /alice hello carol/);
        await delay(300);
        assert.equal(count(await messageTexts(desktop), /^alice hello carol$/), 1);
        // /who lists the room's members in the page's words, not raw WHO replies.
        await type(desktop, "/who");
        await waitForText(desktop, /In #lobby \(3\): alice, bob, carol/);
        assert.doesNotMatch(await logText(desktop), /End of WHO list/);
      });

      await t.step("5. /me", async () => {
        await type(phone, "/me waves");
        await carol.output.waitFor(/\* bob waves/);
        await waitForText(desktop, /\* bob waves/);
      });

      await t.step("6. <script> and <img onerror> show as text", async () => {
        await carol.send("<script>alert(1)</script>");
        await carol.send(`<img src=x onerror="alert(2)">`);
        await waitForText(desktop, /<img src=x onerror="alert\(2\)">/);
        await waitForText(phone, /<script>alert\(1\)<\/script>/);
        assert.equal(await desktop.page.locator("#scroller img, #scroller script").count(), 0);
        await delay(300);
      });

      await t.step("7. a private conversation", async () => {
        await phone.page.click("#members-toggle");
        await phone.page.click("#member-list button:has-text('alice')");
        assert.equal(await phone.page.textContent("#buffer-name"), "alice");
        await type(phone, "psst, alice");
        const entry = desktop.page.locator("#people-list button.buffer", { hasText: "bob" });
        await entry.waitFor({ timeout: 5000 });
        await waitUntil(
          async () => (await entry.getAttribute("class"))?.includes("mentioned") ?? false,
          "bob's entry marked",
        );
        await desktop.page.screenshot({ path: `${shots}/desktop_private_unread.png` });
        await entry.click();
        await waitForText(desktop, /psst, alice/);
        await type(desktop, "psst back");
        await waitForText(phone, /alice psst back/);
        await phone.page.screenshot({ path: `${shots}/phone_private.png` });
        await desktop.page.click("#room-list button.buffer:has-text('#lobby')");
        await phone.page.click("#rooms-toggle");
        await phone.page.click("#room-list button.buffer:has-text('#lobby')");
      });

      await t.step("8. a nick change", async () => {
        await type(desktop, "/nick alice2");
        await waitForText(phone, /alice is now alice2/);
        await carol.output.waitFor(/alice2/);
        await phone.page.click("#members-toggle");
        assert.ok(/alice2/.test(await phone.page.locator("#member-list").innerText()));
        await phone.page.keyboard.press("Escape");
      });

      await t.step("9. topic", async () => {
        await type(desktop, "/join #dev");
        await waitUntil(
          async () => (await desktop.page.textContent("#buffer-name")) === "#dev",
          "#dev shown",
        );
        await type(desktop, "/topic Dev talk: https://example.org/dev");
        await waitUntil(
          async () => /Dev talk/.test(await desktop.page.textContent("#topic") ?? ""),
          "the topic on alice's page",
        );
        await type(phone, "/join #dev");
        await waitUntil(
          async () => /Dev talk/.test(await phone.page.textContent("#topic") ?? ""),
          "the topic on bob's page",
        );
        await phone.page.click("#members-toggle");
        assert.ok(/@\s*alice2/.test(await phone.page.locator("#member-list").innerText()));
        await phone.page.keyboard.press("Escape");
      });

      await t.step("10. a mention notification while the tab is hidden", async () => {
        // Never asked on load; permission granted (by the context) and on, or turned on here.
        assert.equal(await desktop.page.evaluate<number>("window.__asked"), 0);
        if ((await desktop.page.textContent("#notify-button")) !== "Notifications on") {
          await desktop.page.click("#notify-button");
        }
        assert.equal(await desktop.page.textContent("#notify-button"), "Notifications on");
        await setHidden(desktop, true);
        await carol.send("/join dev");
        await delay(300);
        await carol.send("alice2: are you there?");
        await waitUntil(async () => {
          const notes = await desktop.page.evaluate<{ body: string }[]>("window.__notes");
          return notes.some((note) => note.body === "alice2: are you there?");
        }, "a notification for the mention");
        assert.ok(/^\(1\)/.test(await desktop.page.title()), await desktop.page.title());
        await setHidden(desktop, false);
      });

      await t.step("11. restart with --data: reconnect, exactly the missed lines", async () => {
        await carol.send("before the restart");
        await waitForText(desktop, /before the restart/);
        await waitForText(phone, /before the restart/);
        const before = await messageTexts(desktop);
        await parley.stop();
        await carol.closedByServer().catch(() => {});
        await waitUntil(async () => await desktop.page.isVisible("#status"), "the banner");
        assert.ok(/Connection lost/.test(await desktop.page.textContent("#status") ?? ""));
        await desktop.page.screenshot({ path: `${shots}/desktop_disconnected.png` });
        // Offline until the missed lines are said, so they are missed for sure.
        await desktop.context.setOffline(true);
        await phone.context.setOffline(true);
        parley = await startParley(port, dataFile);
        const carol2 = new NetcatClient(port, "127.0.0.1");
        ncs.push(carol2);
        await carol2.send("/nick carol");
        await carol2.send("/join dev");
        await carol2.send("missed 1");
        await carol2.send("missed 2");
        await carol2.send("missed 3");
        await carol2.send("/who");
        await carol2.output.waitFor(/carol/);
        await delay(300);
        assert.ok(await desktop.page.isVisible("#status"), "still disconnected");
        await desktop.context.setOffline(false);
        await phone.context.setOffline(false);
        await waitForText(desktop, /missed 3/, 40_000);
        await waitForText(phone, /missed 3/, 40_000);
        await delay(1000);
        const after = await messageTexts(desktop);
        const talk = (lines: string[]) => lines.filter((line) => /^carol |^alice2 /.test(line));
        assert.deepEqual(talk(after), [
          ...talk(before),
          "carol missed 1",
          "carol missed 2",
          "carol missed 3",
        ]);
        assert.equal(count(await messageTexts(phone), /^carol before the restart$/), 1);
        assert.ok(await desktop.page.isHidden("#status"));
        await desktop.page.screenshot({ path: `${shots}/desktop_after_restart.png` });
      });

      await t.step("12. the phone layout (390×800)", async () => {
        const page = phone.page;
        assert.ok(!(await page.isVisible("#sidebar button.buffer")), "the room list is closed");
        assert.ok(await page.isVisible("#rooms-toggle"));
        const width = await page.evaluate<number>("document.documentElement.scrollWidth");
        assert.ok(width <= 390, `the page is ${width} px wide`);
        await page.screenshot({ path: `${shots}/phone.png` });
        await page.click("#rooms-toggle");
        await page.locator("#room-list button.buffer", { hasText: "#dev" }).waitFor();
        let box: { x: number; width: number } | null = null;
        await waitUntil(async () => {
          box = await page.locator("#sidebar").boundingBox();
          return box !== null && box.x >= 0 && box.x + box.width <= 390;
        }, () => `the drawer on the screen: ${JSON.stringify(box)}`);
        await page.screenshot({ path: `${shots}/phone_drawer.png` });
        await page.keyboard.press("Escape");
      });

      const dark = await openPage(browser, parley.pageUrl, "dora", {
        viewport: { width: 1280, height: 800 },
        colorScheme: "dark",
      }, problems);
      await dark.page.screenshot({ path: `${shots}/desktop_dark.png` });
      assert.deepEqual(problems, []);
      console.log(`screenshots: ${shots}`);
    } finally {
      for (const nc of ncs) await nc.close().catch(() => {});
      await browser.close();
      await parley.stop();
      await Deno.remove(dataFile).catch(() => {});
    }
  },
});
