/**
 * One account on three devices at once (issue 23), against a real parley
 * process: a line client (first line `/identify`, as `parley client
 * --password-file` sends), an IRC client with echo-message and read markers,
 * and the chat page in Debian's Chromium (driven by playwright-core) logging in
 * with the password (SASL over WebSocket). bob (a line client) and carol (an
 * IRC client) are the others. It checks that:
 *
 * 1. the three are one member: bob sees alice join once; the IRC client and
 *    the page are told the rooms she is in;
 * 2. a message from each device reaches the other two and the room once;
 * 3. a private message to alice reaches all three;
 * 4. `/join` on the line client joins all (carol sees one JOIN);
 * 5. read markers sync: what carol says in #dev is unread on the page until the
 *    IRC client (MARKREAD) or the line client (`/read`) reads it; reading it on
 *    the page tells the IRC client (MARKREAD);
 * 6. when the three leave, bob sees one quit.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "npm:playwright-core@1.65.2";
import { OutputCollector, spawnCli, TestClient, waitUntil } from "./helpers.ts";

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
const PASSWORD = "correct-horse-battery";

/** Whether Chromium is there to drive (Debian's package). */
async function haveChromium(): Promise<boolean> {
  try {
    return (await Deno.stat(CHROMIUM)).isFile;
  } catch {
    return false;
  }
}

/** A parley process on a free port, serving line, IRC and the page on it; stopped by `stop`. */
async function startParley(dataFile: string) {
  const child = spawnCli([
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
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
  const port = Number((await stdout.waitFor(/listening +127\.0\.0\.1:(\d+)\n/, 15_000))[1]);
  return {
    port,
    stdout,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await Promise.all([stdout.done, stderr.done]);
    },
  };
}

/** The chat page's text of the shown conversation. */
function logText(page: Page): Promise<string> {
  return page.locator("#scroller ol.log").innerText();
}

async function pageShows(page: Page, pattern: RegExp, what: string): Promise<void> {
  let text = "";
  await waitUntil(
    async () => pattern.test(text = await logText(page)),
    () => `the page to show ${what}; it shows:\n${text.slice(-800)}`,
    10_000,
  );
}

/** The aria-label of a conversation's entry in the page's sidebar (`#dev, 1 unread`). */
function entryLabel(page: Page, name: string): Promise<string | null> {
  return page.getAttribute(`button.buffer[aria-label^="${name}"]`, "aria-label");
}

Deno.test({
  name: "devices: one account on a line client, an IRC client and the page in Chromium at once",
  ignore: !(await haveChromium()),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dataFile = await Deno.makeTempFile({ prefix: "parley-devices-", suffix: ".db" });
    const parley = await startParley(dataFile);
    const port = parley.port;
    let browser: Browser | null = null;
    const clients: TestClient[] = [];
    const problems: string[] = [];
    try {
      const owner = await TestClient.join(port, "alice");
      owner.send(`/register ${PASSWORD}`);
      await owner.expect(/is yours now/);
      owner.send("/quit");
      await owner.expectClosed();
      const bob = await TestClient.join(port, "bob");
      const carol = await TestClient.registerIrc(port, "carol");
      clients.push(bob, carol);
      carol.sendIrc("JOIN #dev");
      await carol.expect(/ 366 carol #dev /);

      // 1. Three devices, one member.
      const line = await TestClient.connect(port);
      clients.push(line);
      line.send(`/identify alice ${PASSWORD}`);
      await line.expect("*** you are identified as alice");
      await bob.expect("*** alice joined #lobby");

      const irc = await TestClient.connect(port);
      clients.push(irc);
      irc.send("CAP LS 302");
      irc.send("CAP REQ :sasl echo-message message-tags server-time draft/read-marker");
      irc.send("AUTHENTICATE PLAIN");
      await irc.expect("AUTHENTICATE +");
      irc.send(`AUTHENTICATE ${btoa(`\0alice\0${PASSWORD}`)}`);
      await irc.expect(/ 903 /);
      irc.send("NICK alice");
      irc.send("USER alice 0 * :alice");
      irc.send("CAP END");
      await irc.expect(/ 001 alice /);
      await irc.expect(/:alice!line@\S+ JOIN #lobby$/);
      await irc.expect(/ 366 alice #lobby /);

      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      page.on("pageerror", (error) => problems.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text());
      });
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.fill("#nick", "alice");
      await page.fill("#password", PASSWORD);
      await page.click("#connect-button");
      await page.waitForSelector("#app:not([hidden])", { timeout: 10_000 });
      await waitUntil(
        async () => (await page.textContent("#buffer-name")) === "#lobby",
        "the page to show #lobby",
      );
      await waitUntil(
        async () => /bob/.test(await page.locator("#member-list").innerText()),
        "bob in the page's member list",
      );

      // 2. A message from each device reaches the other two and the room once.
      line.send("from the terminal");
      await irc.expect(/PRIVMSG #lobby :from the terminal$/);
      await pageShows(page, /alice\s*from the terminal/, "the line client's message");
      irc.sendIrc("PRIVMSG #lobby :from irc");
      await irc.expect(/PRIVMSG #lobby :from irc$/); // its echo
      await line.expect("<alice> from irc");
      await pageShows(page, /alice\s*from irc/, "the IRC client's message");
      await page.fill("#input", "from the browser");
      await page.press("#input", "Enter");
      await line.expect("<alice> from the browser");
      await irc.expect(/:alice!line@\S+ PRIVMSG #lobby :from the browser$/);
      for (const text of ["from the terminal", "from irc", "from the browser"]) {
        await bob.expect(`<alice> ${text}`);
      }
      bob.send("/who");
      await bob.expect(/^\*\*\* in #lobby: /);
      for (const text of ["from the terminal", "from irc", "from the browser"]) {
        assert.equal(bob.lines.filter((l) => l === `<alice> ${text}`).length, 1, text);
      }
      assert.equal(bob.lines.filter((l) => /alice joined/.test(l)).length, 1);

      // 3. A private message to alice reaches all three.
      bob.send("/msg alice psst, alice");
      await line.expect("*bob* psst, alice");
      await irc.expect(/:bob!line@\S+ PRIVMSG alice :psst, alice$/);
      await waitUntil(
        async () => (await entryLabel(page, "bob")) !== null,
        "a conversation with bob on the page",
      );

      // 4. /join on the line client joins all; carol sees one JOIN.
      line.send("/join dev");
      await line.expect(/^\*\*\* you are now in #dev/);
      await irc.expect(/:alice!line@\S+ JOIN #dev$/);
      await irc.expect(/ 366 alice #dev /);
      await carol.expect(/:alice!line@\S+ JOIN #dev$/);
      await waitUntil(
        async () => (await entryLabel(page, "#dev")) !== null,
        "#dev on the page",
      );

      // 5. Read markers: carol's line is unread on the page until another device reads it.
      carol.sendIrc("PRIVMSG #dev :read me");
      await line.expect("<carol> read me");
      const said = await irc.expect(/PRIVMSG #dev :read me$/);
      const time = /time=([^; ]+)/.exec(said)![1];
      await waitUntil(
        async () => /1 unread/.test(await entryLabel(page, "#dev") ?? ""),
        "#dev to be unread on the page",
      );
      irc.sendIrc(`MARKREAD #dev timestamp=${time}`);
      await irc.expect(new RegExp(` MARKREAD #dev timestamp=${time.replace(/\./g, "\\.")}$`));
      await waitUntil(
        async () => (await entryLabel(page, "#dev")) === "#dev",
        "#dev read on the page after the IRC client's MARKREAD",
      );
      carol.sendIrc("PRIVMSG #dev :and me");
      await line.expect("<carol> and me");
      await waitUntil(
        async () => /1 unread/.test(await entryLabel(page, "#dev") ?? ""),
        "#dev unread on the page again",
      );
      line.send("/read");
      await line.expect(/^\*\*\* read #dev up to /);
      await irc.expect(/ MARKREAD #dev timestamp=\S+$/);
      await waitUntil(
        async () => (await entryLabel(page, "#dev")) === "#dev",
        "#dev read on the page after the line client's /read",
      );
      carol.sendIrc("PRIVMSG #dev :read on the page");
      const last = await irc.expect(/PRIVMSG #dev :read on the page$/);
      await page.click(`button.buffer[aria-label^="#dev"]`);
      const lastTime = /time=([^; ]+)/.exec(last)![1];
      await irc.expect(new RegExp(` MARKREAD #dev timestamp=${lastTime.replace(/\./g, "\\.")}$`));

      // 6. Every device leaves: bob sees alice quit once.
      line.send("/quit");
      await line.expectClosed();
      irc.sendIrc("QUIT :bye");
      await irc.expectClosed();
      await context.close();
      await bob.expect(/^\*\*\* alice left /);
      bob.send("/who");
      await bob.expect(/^\*\*\* in #lobby: /);
      assert.equal(bob.lines.filter((l) => /alice left/.test(l)).length, 1);
      assert.deepEqual(problems, []);
      assert.match(parley.stdout.text, /connect .*alice .*account=alice  devices=3/);
    } finally {
      for (const client of clients) client.close();
      await browser?.close();
      await parley.stop();
      await Deno.remove(dataFile).catch(() => {});
    }
  },
});
