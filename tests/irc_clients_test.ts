/**
 * Real IRC clients as people use them (SPEC §8): irssi joins through the line
 * port (its registration is recognised there), weechat through `--irc-port`,
 * and a piped `parley client` sits in the same room. Each types into its
 * client in tmux; the test reads both screens, the line client's output and
 * the server console. Skipped, saying why, when tmux, irssi or weechat is missing.
 */

import assert from "node:assert/strict";
import { findTools, IrcClient, screen } from "./irc_clients.ts";
import { OutputCollector, spawnCli, startServerProcess } from "./helpers.ts";

const tools = await findTools();
const missing = Object.entries(tools).filter(([, version]) => version === null).map(([name]) =>
  name
);
if (missing.length > 0) {
  console.warn(
    `irc_clients_test: skipped, not installed: ${missing.join(", ")} (.ci/run installs them)`,
  );
}

Deno.test({
  name:
    "irssi and weechat chat with each other and with a line client: /me, /msg, /nick, /topic, /quit",
  ignore: missing.length > 0,
  async fn() {
    const server = await startServerProcess(["--irc-port", "0", "--irc-name", "chat.test"]);
    const lena = spawnCli(["client", "--port", String(server.port), "--name", "lena"]);
    const heard = new OutputCollector(lena.stdout);
    const status = new OutputCollector(lena.stderr);
    const keyboard = lena.stdin.getWriter();
    const say = (text: string) => keyboard.write(new TextEncoder().encode(text + "\n"));
    let irssi: IrcClient | null = null;
    let weechat: IrcClient | null = null;
    try {
      await heard.waitFor(/you are (now )?lena/); // `--name` arrives as lena (854fc75)
      const started = performance.now();
      irssi = await IrcClient.start({ kind: "irssi", nick: "ivy", port: server.port });
      weechat = await IrcClient.start({ kind: "weechat", nick: "wes", port: server.ircPort });
      // Registered at once: no CAP wait (irssi), no 60 s 001 timeout (weechat).
      await irssi.waitFor(screen.irssi.registered, 5000);
      await weechat.waitFor(screen.weechat.registered, 5000);
      assert.ok(performance.now() - started < 5000, "both registered within seconds");

      await weechat.type("/join #lobby");
      await weechat.waitFor(screen.weechat.joined("wes", "#lobby"));
      await irssi.type("/join #lobby");
      await irssi.waitFor(screen.irssi.joined("ivy", "#lobby"));
      await weechat.waitFor(screen.weechat.joined("ivy", "#lobby"));
      await heard.waitFor(/^\*\*\* ivy joined #lobby$/m);

      await irssi.type("hello from irssi 你好");
      await weechat.waitFor(screen.weechat.msg("ivy", "hello from irssi 你好"));
      await heard.waitFor(/^<ivy> hello from irssi 你好$/m);
      await weechat.type("/me waves from weechat");
      await irssi.waitFor(screen.irssi.action("wes", "waves from weechat"));
      await heard.waitFor(/^\* wes waves from weechat$/m);
      await say("hello from the line client");
      await irssi.waitFor(screen.irssi.msg("lena", "hello from the line client"));
      await weechat.waitFor(screen.weechat.msg("lena", "hello from the line client"));

      // Private messages, across protocols.
      await weechat.type("/msg ivy a word in private");
      await irssi.type("/window goto wes");
      await irssi.waitFor(screen.irssi.query("wes", "a word in private"));
      await irssi.type("/window goto #lobby");
      await say("/msg wes from lena, privately");
      await weechat.focus("lena");
      await weechat.waitFor(screen.weechat.query("lena", "from lena, privately"));
      await weechat.focus("#lobby");

      // A nick change shows on both screens and to the line client.
      await weechat.type("/nick wes2");
      await weechat.waitFor(screen.weechat.ownNick("wes2"));
      await irssi.waitFor(screen.irssi.nick("wes", "wes2"));
      await heard.waitFor(/^\*\*\* wes is now known as wes2$/m);

      // The creator of a room is its operator: weechat creates #dev and sets its topic.
      await weechat.type("/join #dev");
      await weechat.waitFor(screen.weechat.joined("wes2", "#dev"));
      await irssi.type("/join #dev");
      await irssi.waitFor(screen.irssi.joined("ivy", "#dev"));
      await weechat.type("/topic release on friday");
      await irssi.waitFor(screen.irssi.topic("wes2", "#dev", "release on friday"));

      await irssi.type("/quit see you");
      await weechat.waitFor(screen.weechat.quit("ivy", "Quit: see you"));
      await heard.waitFor(/^\*\*\* ivy left \(quit: see you\)$/m);
      assert.equal(await weechat.quit("bye all"), 0, "weechat exits 0");
      await heard.waitFor(/^\*\*\* wes2 left \(quit: bye all\)$/m);
    } finally {
      await irssi?.close();
      await weechat?.close();
      await keyboard.close().catch(() => {});
      await lena.status;
      await Promise.all([heard.done, status.done]);
      await server.stop("SIGTERM");
    }
    const console = server.stdout.text;
    assert.match(console, /connect +127\.0\.0\.1:\d+ +ivy  online=\d  irc/);
    assert.match(console, /connect +127\.0\.0\.1:\d+ +wes  online=\d  irc/);
    assert.match(console, /message +127\.0\.0\.1:\d+ +ivy  #lobby  hello from irssi 你好/);
    assert.match(console, /action +127\.0\.0\.1:\d+ +wes  #lobby  waves from weechat/);
    assert.match(console, /nick +127\.0\.0\.1:\d+ +wes -> wes2/);
    assert.match(console, /disconnect +127\.0\.0\.1:\d+ +ivy  reason="quit: see you" .* irc/);
  },
});
