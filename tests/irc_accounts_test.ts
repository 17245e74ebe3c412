/**
 * Accounts over IRC (issue 20), over real sockets: SASL PLAIN (before and
 * after registration, chunks, aborts, the shared password budget),
 * `draft/account-registration` (REGISTER before and after connecting, its
 * FAIL codes, the registration budget), what others see of an account
 * (account-tag, extended-join, account-notify), MONITOR on one server and
 * across a cluster, and a real client library: `npm:irc-framework`, what The
 * Lounge and Kiwi IRC are built on, run under Deno.
 */

import assert from "node:assert/strict";
import IrcFramework from "npm:irc-framework@4.14.0";
import {
  delay,
  missingTools,
  type ServerProcess,
  startServer,
  startServerProcess,
  TestClient,
  waitUntil,
} from "./helpers.ts";
import { startRedisServer } from "./redis_server.ts";

const S = "test.parley";

/** PLAIN's response for `account` and `password`, in base64. */
function plain(account: string, password: string, authzid = ""): string {
  const bytes = new TextEncoder().encode(`${authzid}\0${account}\0${password}`);
  return btoa(String.fromCharCode(...bytes));
}

/** An IRC connection that asked for `caps` and has not registered yet. */
async function negotiating(port: number, caps: string[]): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.sendIrc("CAP LS 302");
  await client.expect(/ CAP \* LS :/);
  client.sendIrc(`CAP REQ :${caps.join(" ")}`);
  await client.expect(/ CAP \S+ ACK :/);
  return client;
}

/** Registers `nick` with `password` as an IRC client would (REGISTER once connected), then quits. */
async function registerAccount(port: number, nick: string, password: string): Promise<void> {
  const client = await TestClient.registerIrc(port, nick);
  try {
    client.sendIrc(`REGISTER * * :${password}`);
    await client.expect(`:${S} REGISTER SUCCESS ${nick} :Account created: you are logged in`);
    client.sendIrc("QUIT");
    await client.expectClosed();
  } finally {
    client.close();
  }
}

/** `AUTHENTICATE PLAIN` and the response (one chunk). */
async function authenticate(client: TestClient, account: string, password: string): Promise<void> {
  client.sendIrc("AUTHENTICATE PLAIN");
  await client.expect("AUTHENTICATE +");
  client.sendIrc(`AUTHENTICATE ${plain(account, password)}`);
}

Deno.test("irc accounts: SASL PLAIN before registering: 900 and 903, the nick asked for with the account; others see it", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    await registerAccount(server.ircPort, "carol", "correct horse");
    const dave = await TestClient.registerIrc(server.ircPort, "dave", {
      caps: ["account-tag", "extended-join", "account-notify", "message-tags"],
    });
    clients.push(dave);
    dave.sendIrc("JOIN #den");
    await dave.expect(/ 366 dave #den /);

    const ls = await TestClient.connect(server.ircPort);
    clients.push(ls);
    ls.sendIrc("CAP LS 302");
    const offered = await ls.expect(/ CAP \* LS :/);
    assert.match(offered, / sasl=PLAIN /);
    assert.match(offered, / draft\/account-registration=before-connect/);

    const cc = await negotiating(server.ircPort, ["sasl"]);
    clients.push(cc);
    cc.sendIrc("NICK cc");
    cc.sendIrc("USER cc 0 * :Carol Carroll");
    await authenticate(cc, "carol", "correct horse");
    await cc.expect(`:${S} 900 cc cc!*@${S} carol :You are now logged in as carol`);
    await cc.expect(`:${S} 903 cc :SASL authentication successful`);
    cc.sendIrc("CAP END");
    await cc.expect(`:${S} 001 cc :Welcome to the parley network, cc!cc@${S}`);
    cc.sendIrc("JOIN #den");
    await dave.expect(
      /^@(?=\S*\baccount=carol\b)\S+ :cc!cc@test\.parley JOIN #den carol :Carol Carroll$/,
    );
    cc.sendIrc("PRIVMSG #den :hello");
    await dave.expect(/^@(?=\S*\baccount=carol\b)\S+ :cc!cc@test\.parley PRIVMSG #den :hello$/);
    // The account's own nick needs no other password: the account is proved.
    cc.sendIrc("NICK carol");
    await dave.expect(/^@(?=\S*\baccount=carol\b)\S+ :cc!cc@test\.parley NICK :?carol$/);

    // The same account from another client: one more device of carol (issue 23), whatever
    // nick it asked for, told the channels carol is in; dave sees nobody arrive.
    const other = await negotiating(server.ircPort, ["sasl"]);
    clients.push(other);
    other.sendIrc("NICK Carol2");
    other.sendIrc("USER x 0 * :x");
    await authenticate(other, "CAROL", "correct horse");
    await other.expect(`:${S} 900 Carol2 Carol2!*@${S} carol :You are now logged in as carol`);
    other.sendIrc("CAP END");
    await other.expect(/ 001 carol /);
    await other.expect(/^:carol!cc@test\.parley JOIN #den$/);
    await other.expect(/ 366 carol #den /);
    dave.sendIrc("PING :after");
    await dave.expect(/PONG \S+ :?after$/);
    assert.ok(!dave.lines.some((line) => / JOIN #den .*Carol2|Carol2.* JOIN /.test(line)));
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.match(log, /account .*carol .*identified by SASL/);
  assert.doesNotMatch(log, /correct horse/);
});

Deno.test("irc accounts: SASL chunks of 400 bytes (a closing +), 905, 906 for * and for CAP END, 904 and 908", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    // A password that makes the response exactly 800 base64 bytes: too long for one IRC
    // line, so it is registered on the line port.
    const password = "p".repeat(600 - "\0erin\0".length);
    const line = await TestClient.join(server.port, "erin");
    clients.push(line);
    line.send(`/register ${password}`);
    await line.expect(/^\*\*\* the nick erin is yours now/);
    line.send("/quit");

    const erin = await negotiating(server.ircPort, ["sasl"]);
    clients.push(erin);
    const response = plain("erin", password);
    assert.equal(response.length, 800);
    erin.sendIrc("AUTHENTICATE PLAIN");
    await erin.expect("AUTHENTICATE +");
    erin.sendIrc(`AUTHENTICATE ${response.slice(0, 400)}`);
    erin.sendIrc(`AUTHENTICATE ${response.slice(400)}`);
    await delay(100);
    assert.deepEqual(erin.take(), [], "two full chunks: the server waits for more");
    erin.sendIrc("AUTHENTICATE +");
    await erin.expect(`:${S} 900 * *!*@${S} erin :You are now logged in as erin`);
    await erin.expect(`:${S} 903 * :SASL authentication successful`);

    const other = await negotiating(server.ircPort, ["sasl"]);
    clients.push(other);
    other.sendIrc("AUTHENTICATE PLAIN");
    await other.expect("AUTHENTICATE +");
    other.sendIrc(`AUTHENTICATE ${"A".repeat(401)}`);
    await other.expect(`:${S} 905 * :SASL message too long`);
    other.sendIrc("AUTHENTICATE PLAIN");
    await other.expect("AUTHENTICATE +");
    other.sendIrc("AUTHENTICATE *");
    await other.expect(`:${S} 906 * :SASL authentication aborted`);
    other.sendIrc("AUTHENTICATE SCRAM-SHA-256");
    await other.expect(`:${S} 908 * PLAIN :are available SASL mechanisms`);
    await other.expect(`:${S} 904 * :SASL authentication failed`);
    other.sendIrc("AUTHENTICATE PLAIN");
    await other.expect("AUTHENTICATE +");
    other.sendIrc("AUTHENTICATE !!!!");
    await other.expect(/^:test\.parley 904 \* :SASL authentication failed: not a PLAIN response$/);
    // Acting as someone else is refused; so is a NUL in the password.
    other.sendIrc("AUTHENTICATE PLAIN");
    other.sendIrc(`AUTHENTICATE ${plain("erin", "secret", "dave")}`);
    await other.expect(/ 904 \* :SASL authentication failed: you may act only as yourself$/);
    // Registering while the exchange is open ends it: 906, then 001 without an account.
    other.sendIrc("AUTHENTICATE PLAIN");
    await other.expect("AUTHENTICATE +");
    other.sendIrc("NICK frank");
    other.sendIrc("USER frank 0 * :Frank");
    other.sendIrc("CAP END");
    await other.expect(`:${S} 906 frank :SASL authentication aborted`);
    await other.expect(/ 001 frank /);

    // Without the sasl capability: 904, and registration goes on.
    const noCap = await TestClient.connect(server.ircPort);
    clients.push(noCap);
    noCap.sendIrc("AUTHENTICATE PLAIN");
    await noCap.expect(/ 904 \* :SASL authentication failed: ask for the sasl capability first$/);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("irc accounts: wrong SASL passwords count with NickServ's: after 3, both are told to wait", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    await registerAccount(server.ircPort, "gina", "gina's password");
    const guesser = await negotiating(server.ircPort, ["sasl"]);
    clients.push(guesser);
    for (const guess of ["one", "two"]) {
      await authenticate(guesser, "gina", guess);
      await guesser.expect(/ 904 \* :SASL authentication failed: wrong password for gina$/);
    }
    guesser.sendIrc("NICK guesser");
    guesser.sendIrc("USER g 0 * :g");
    guesser.sendIrc("CAP END");
    await guesser.expect(/ 001 guesser /);
    guesser.sendIrc("PRIVMSG NickServ :IDENTIFY gina three");
    await guesser.expect(/NOTICE guesser :wrong password for gina$/);
    // The budget is the address's: the right password waits too, and no hash is spent.
    await authenticate(guesser, "gina", "gina's password");
    await guesser.expect(
      /^:test\.parley 904 guesser :SASL authentication failed: too many wrong passwords from your address; try again in \d+ s$/,
    );
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
  const log = server.log.lines.join("\n");
  assert.match(log, /gina .*sasl failed: wrong-password/);
  assert.doesNotMatch(log, /\bone\b|\btwo\b|three/);
});

Deno.test("irc accounts: SASL once registered changes the account, not the nick; account-notify tells the channel (NickServ too)", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    await registerAccount(server.ircPort, "hana", "hana-password");
    await registerAccount(server.ircPort, "ivo", "ivo password");
    const watcher = await TestClient.registerIrc(server.ircPort, "watcher", {
      caps: ["account-notify"],
    });
    const plainWatcher = await TestClient.registerIrc(server.ircPort, "plainwatcher");
    const user = await TestClient.registerIrc(server.ircPort, "someone", { caps: ["sasl"] });
    clients.push(watcher, plainWatcher, user);
    for (const client of [watcher, plainWatcher, user]) {
      client.sendIrc("JOIN #room");
      await client.expect(/ 366 \S+ #room /);
    }
    await authenticate(user, "hana", "hana-password");
    await user.expect(`:${S} 900 someone someone!someone@${S} hana :You are now logged in as hana`);
    await user.expect(`:${S} 903 someone :SASL authentication successful`);
    await watcher.expect(`:someone!someone@${S} ACCOUNT hana`);
    // Again, as another account (SASL 3.2: reauthentication is allowed, no 907).
    await authenticate(user, "ivo", "ivo password");
    await user.expect(/ 900 someone someone!someone@test\.parley ivo /);
    await watcher.expect(`:someone!someone@${S} ACCOUNT ivo`);
    // NickServ and DROP: the account goes, and the channel is told `ACCOUNT *`.
    user.sendIrc("NICK ivo");
    await user.expect(/:someone!someone@test\.parley NICK :?ivo$/);
    user.sendIrc("PRIVMSG NickServ :DROP");
    await user.expect(/NOTICE ivo :The nick ivo is not registered any more\.$/);
    await watcher.expect(`:ivo!someone@${S} ACCOUNT *`);
    user.sendIrc("PRIVMSG NickServ :IDENTIFY hana hana-password");
    await watcher.expect(`:ivo!someone@${S} ACCOUNT hana`);
    await watcher.expect(/^:ivo!someone@test\.parley NICK :?hana$/);
    await delay(100);
    assert.ok(
      !plainWatcher.take().some((line) => / ACCOUNT /.test(line)),
      "no ACCOUNT without account-notify",
    );
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("irc accounts: REGISTER before and after connecting, its FAIL codes, VERIFY", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    const holder = await TestClient.registerIrc(server.ircPort, "held");
    clients.push(holder);

    const early = await negotiating(server.ircPort, ["draft/account-registration"]);
    clients.push(early);
    early.sendIrc("REGISTER * * :long enough");
    await early.expect(/^:test\.parley FAIL REGISTER NEED_NICK \* :/);
    early.sendIrc("NICK held");
    early.sendIrc("REGISTER * * :long enough");
    await early.expect(/^:test\.parley FAIL REGISTER ACCOUNT_EXISTS held :nickname held is taken$/);
    early.sendIrc("NICK jo");
    early.sendIrc("REGISTER other * :long enough");
    await early.expect(/^:test\.parley FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK other :/);
    early.sendIrc("REGISTER jo * short");
    await early.expect(
      `:${S} FAIL REGISTER WEAK_PASSWORD jo :a password needs at least 8 characters`,
    );
    early.sendIrc("REGISTER jo jo@example.org :long enough");
    await early.expect(`:${S} 900 jo jo!*@${S} jo :You are now logged in as jo`);
    await early.expect(`:${S} REGISTER SUCCESS jo :Account created: you are logged in`);
    early.sendIrc("REGISTER * * :long enough");
    await early.expect(/^:test\.parley FAIL REGISTER ALREADY_AUTHENTICATED jo :/);
    early.sendIrc("USER jo 0 * :Jo");
    early.sendIrc("CAP END");
    await early.expect(/ 001 jo /);
    early.sendIrc("VERIFY jo 12345");
    await early.expect(/^:test\.parley FAIL VERIFY INVALID_CODE jo :/);

    // Registered under jo: someone else cannot take the nick without its password.
    early.sendIrc("QUIT");
    const thief = await TestClient.connect(server.ircPort);
    clients.push(thief);
    thief.sendIrc("NICK jo");
    thief.sendIrc("USER t 0 * :t");
    await thief.expect(/ 433 \* jo :the nick jo is registered/);

    // Once connected, REGISTER registers the nick in use and logs in.
    const late = await TestClient.registerIrc(server.ircPort, "kai");
    clients.push(late);
    late.sendIrc("REGISTER kai * :kai's password");
    await late.expect(`:${S} 900 kai kai!kai@${S} kai :You are now logged in as kai`);
    await late.expect(`:${S} REGISTER SUCCESS kai :Account created: you are logged in`);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("irc accounts: REGISTER within the registration budget (TEMPORARILY_UNAVAILABLE), and off before connecting", async () => {
  const server = startServer({
    withIrcPort: true,
    chat: { registerBeforeEntering: false, minPasswordLength: 4 },
  });
  const clients: TestClient[] = [];
  try {
    const early = await TestClient.connect(server.ircPort);
    clients.push(early);
    early.sendIrc("CAP LS 302");
    const offered = await early.expect(/ CAP \* LS :/);
    assert.match(offered, / draft\/account-registration( |$)/, "no before-connect value");
    early.sendIrc("NICK early");
    early.sendIrc("REGISTER * * password");
    await early.expect(/^:test\.parley FAIL REGISTER COMPLETE_CONNECTION_REQUIRED \* :/);

    // 5 at once per address (then 3 a minute): the sixth waits, and is told how long.
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const client = await TestClient.registerIrc(server.ircPort, `reg${i}`);
      clients.push(client);
      client.sendIrc("REGISTER * * pass");
      outcomes.push(await client.expect(/ (REGISTER SUCCESS|FAIL REGISTER) /));
    }
    assert.equal(outcomes.filter((line) => / REGISTER SUCCESS /.test(line)).length, 5);
    assert.match(
      outcomes[5],
      /^:test\.parley FAIL REGISTER TEMPORARILY_UNAVAILABLE reg5 :too many registrations and password changes from your address; try again in \d+ s$/,
    );
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

Deno.test("irc accounts: MONITOR + - C L S on one server: IRC and line clients arrive, rename and leave", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: TestClient[] = [];
  try {
    const watcher = await TestClient.registerIrc(server.ircPort, "watcher");
    clients.push(watcher);
    assert.ok(watcher.lines.some((line) => / 005 watcher .*\bMONITOR=100\b/.test(line)));
    const here = await TestClient.registerIrc(server.ircPort, "Here");
    clients.push(here);
    watcher.sendIrc("MONITOR + here,away1,*!u@h");
    await watcher.expect(`:${S} 432 watcher *!u@h :Erroneous nickname`);
    await watcher.expect(`:${S} 730 watcher :Here`);
    await watcher.expect(`:${S} 731 watcher :away1`);

    // An IRC client arriving and leaving.
    const away1 = await TestClient.registerIrc(server.ircPort, "away1");
    await watcher.expect(`:${S} 730 watcher :away1`);
    away1.sendIrc("QUIT :bye");
    await watcher.expect(`:${S} 731 watcher :away1`);
    away1.close();

    // A line client (it arrives as a guest, then takes the nick), a rename, a change of case.
    watcher.sendIrc("MONITOR + lina,lena");
    await watcher.expect(`:${S} 731 watcher :lina,lena`);
    const lina = await TestClient.join(server.port, "lina");
    clients.push(lina);
    await watcher.expect(`:${S} 730 watcher :lina`);
    lina.send("/nick LINA");
    await lina.expect("*** you are now LINA");
    lina.send("/nick lena");
    await watcher.expect(`:${S} 731 watcher :LINA`);
    await watcher.expect(`:${S} 730 watcher :lena`);

    watcher.sendIrc("MONITOR L");
    const list = await watcher.expect(/ 732 watcher :/);
    assert.deepEqual(list.split(" :")[1].split(",").sort(), ["away1", "here", "lena", "lina"]);
    await watcher.expect(`:${S} 733 watcher :End of MONITOR list`);
    watcher.sendIrc("MONITOR - lina,here");
    watcher.sendIrc("MONITOR S");
    await watcher.expect(`:${S} 730 watcher :lena`);
    await watcher.expect(`:${S} 731 watcher :away1`);
    here.sendIrc("QUIT");
    watcher.sendIrc("MONITOR C");
    watcher.sendIrc("MONITOR L");
    await watcher.expect(`:${S} 733 watcher :End of MONITOR list`);
    assert.ok(!watcher.take().some((line) => / 73[01] /.test(line)), "no news once taken off");

    // At most 100 nicks: the ones past the limit get 734 and are not added.
    const many = Array.from({ length: 101 }, (_, i) => `n${i}`);
    watcher.sendIrc(`MONITOR + ${many.slice(0, 60).join(",")}`);
    watcher.sendIrc(`MONITOR + ${many.slice(60).join(",")}`);
    await watcher.expect(`:${S} 734 watcher 100 n100 :Monitor list is full.`);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});

const NO_REDIS = await missingTools("MONITOR across a cluster", "redis-server");

Deno.test({
  name:
    "irc accounts: MONITOR across a cluster: asked of every server; another server's renames and quits are heard, its arrivals are not",
  ignore: NO_REDIS,
}, async () => {
  await using redis = await startRedisServer();
  const processes: ServerProcess[] = [];
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      processes.push(
        await startServerProcess([
          "--cluster",
          redis.url,
          "--no-console",
          "--irc-port",
          "0",
          "--irc-name",
          S,
          "--rate",
          "0",
        ]),
      );
    }
    const [a, b] = processes;
    const watcher = await TestClient.registerIrc(b.ircPort, "watcher");
    clients.push(watcher);
    watcher.sendIrc("MONITOR + amy,ann");
    await watcher.expect(`:${S} 731 watcher :amy,ann`);

    // amy arrives on A: nothing publishes an arrival, so B's watcher is not told...
    const amy = await TestClient.registerIrc(a.ircPort, "amy");
    clients.push(amy);
    await delay(300);
    assert.ok(!watcher.take().some((line) => / 730 /.test(line)), "no 730 for an arrival on A");
    // ... but asking again asks every server.
    await waitUntil(async () => {
      watcher.sendIrc("MONITOR S");
      const answer = await watcher.expect(/ 73[01] watcher :amy/);
      return / 730 /.test(answer);
    }, "B to see amy online on A");

    // amy joins a room and renames: B's watcher hears the rename (a member event every server gets).
    amy.sendIrc("JOIN #hall");
    await amy.expect(/ 366 amy #hall /);
    amy.sendIrc("NICK ann");
    await watcher.expect(`:${S} 731 watcher :amy`, 10_000);
    await watcher.expect(`:${S} 730 watcher :ann`);
    // ... and its quit.
    amy.sendIrc("QUIT :bye");
    await watcher.expect(`:${S} 731 watcher :ann`, 10_000);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
  }
});

Deno.test("irc accounts: irc-framework (The Lounge, Kiwi IRC) with the modern capabilities: SASL, echo-message, labeled-response", async () => {
  const server = startServer({ withIrcPort: true });
  const clients: IrcFramework.Client[] = [];
  const raw: string[] = [];
  try {
    await registerAccount(server.ircPort, "lounge", "lounge password");
    const other = await TestClient.registerIrc(server.ircPort, "kiwi", {
      caps: ["account-tag", "message-tags"],
    });
    other.sendIrc("JOIN #web");
    await other.expect(/ 366 kiwi #web /);

    const client = new IrcFramework.Client();
    clients.push(client);
    client.requestCap("labeled-response");
    const events: Record<string, unknown[]> = { loggedin: [], privmsg: [], join: [] };
    for (const name of Object.keys(events)) {
      client.on(name, (event: unknown) => events[name].push(event));
    }
    client.on("raw", (event: { line: string; from_server: boolean }) => {
      if (event.from_server) raw.push(event.line.trimEnd());
    });
    const registered = new Promise<void>((resolve) => client.once("registered", () => resolve()));
    client.connect({
      host: "127.0.0.1",
      port: server.ircPort,
      nick: "lounge",
      username: "lounge",
      gecos: "The Lounge",
      account: { account: "lounge", password: "lounge password" },
      auto_reconnect: false,
      enable_echomessage: true,
    });
    await waitUntil(
      async () => {
        await Promise.race([registered, delay(10)]);
        return client.connected;
      },
      "irc-framework to register",
      10_000,
    );
    await waitUntil(() => events.loggedin.length > 0, "irc-framework's loggedin event");
    assert.equal((events.loggedin[0] as { account: string }).account, "lounge");
    const enabled: string[] = client.network.cap.enabled;
    for (
      const cap of [
        "sasl",
        "echo-message",
        "labeled-response",
        "batch",
        "message-tags",
        "server-time",
        "account-tag",
        "account-notify",
        "extended-join",
        "cap-notify",
      ]
    ) assert.ok(enabled.includes(cap), `${cap} enabled (${enabled.join(" ")})`);

    client.join("#web");
    await waitUntil(() => events.join.length > 0, "irc-framework to join #web");
    assert.equal((events.join[0] as { account: string | false }).account, "lounge");
    client.say("#web", "hello from a library");
    // echo-message: the client's own line comes back, with its msgid and time.
    await waitUntil(() => events.privmsg.length > 0, "the echoed PRIVMSG");
    const echoed = events.privmsg[0] as {
      nick: string;
      message: string;
      tags: Record<string, string>;
    };
    assert.equal(echoed.nick, "lounge");
    assert.equal(echoed.message, "hello from a library");
    assert.ok(echoed.tags.msgid && echoed.tags.time && echoed.tags.account === "lounge");
    await other.expect(
      /^@(?=\S*\baccount=lounge\b)\S+ :lounge!lounge@test\.parley PRIVMSG #web :hello from a library$/,
    );

    // labeled-response: a labelled command's one answer carries the label; none is an ACK.
    client.raw("@label=ping1 PING :marker");
    client.raw("@label=pong1 PONG :nothing");
    await waitUntil(
      () => raw.some((line) => /^@label=pong1 :test\.parley ACK$/.test(line)),
      () => `the labelled answers (got ${raw.slice(-5).join(" | ")})`,
    );
    assert.ok(
      raw.some((line) => /^@label=ping1 :test\.parley PONG test\.parley :marker$/.test(line)),
    );
    other.close();
  } finally {
    for (const client of clients) client.quit("done");
    await delay(50);
    await server.close();
  }
});
