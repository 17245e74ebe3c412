/**
 * Test helper: real irssi and weechat, each in its own tmux server with a
 * throwaway home directory (the user's configs and tmux sessions are never
 * touched), driven by keys and read by capture-pane, as a person would.
 * `close()` always kills the client and removes its directory.
 *
 * ```ts
 * await using c = await IrcClient.start({ kind: "irssi", nick: "alice", port });
 * await c.waitFor(screen.irssi.registered, 10_000);
 * await c.type("/join #lobby");
 * await c.waitFor(screen.irssi.joined("alice", "#lobby"));
 * ```
 *
 * Both clients' own flood queues are turned off (irssi sends one command per
 * 2.2 s after a burst of 5, weechat one message per 2 s), and so is their
 * reconnecting, so that a test takes seconds and ends when it ends.
 *
 * @module
 */

export type Kind = "irssi" | "weechat";

export interface StartOptions {
  kind: Kind;
  nick: string;
  port: number;
  host?: string; // default 127.0.0.1
  cols?: number; // default 120
  rows?: number; // default 40
  /** keep the clients' own anti-flood queues (irssi ~2.2 s/cmd after a burst of 5, weechat 2 s/msg) */
  realisticFlood?: boolean;
  /** irssi: raw text appended to the generated config file (servers, chatnets, ...) */
  irssiExtraConfig?: string;
  /** weechat: extra commands run after the defaults and before /connect */
  weechatCommands?: string[];
  /** keep the clients' auto-reconnect (irssi: 5 min after connect time; weechat: 10 s, growing) */
  reconnect?: boolean;
  /** irssi: show the IRCv3 server-time of a message instead of the arrival time (default off in irssi) */
  showServerTime?: boolean;
  /** weechat plugins to load (-P); default "irc,buflist,fifo,alias" (no perl/python/ruby/...) */
  weechatPlugins?: string;
  /** do not connect on start (irssi -!, weechat without /connect) */
  noConnect?: boolean;
}

const decoder = new TextDecoder();

/**
 * Which of tmux/irssi/weechat are installed, with versions, or null. Tests should skip loudly
 * (console.warn + Deno.test ignore) when one is missing, as tests/tmux_test.ts does for tmux.
 */
export async function findTools(): Promise<Record<"tmux" | Kind, string | null>> {
  const probe = async (cmd: string, arg: string) => {
    try {
      const o = await new Deno.Command(cmd, {
        args: [arg],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      })
        .output();
      return o.success ? decoder.decode(o.stdout).trim().split("\n")[0] : null;
    } catch {
      return null;
    }
  };
  const [tmux, irssi, weechat] = await Promise.all([
    probe("tmux", "-V"),
    probe("irssi", "--version"),
    probe("weechat", "--version"),
  ]);
  return { tmux, irssi, weechat };
}

async function run(
  cmd: string,
  args: string[],
  opts: { allowFail?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
  const r = {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
  if (r.code !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  }
  return r;
}

/** Quote for /bin/sh. */
function sh(s: string): string {
  return "'" + s.replaceAll("'", `'\\''`) + "'";
}

let counter = 0;

export class IrcClient {
  readonly kind: Kind;
  readonly nick: string;
  readonly dir: string;
  readonly socket: string;
  readonly session = "c";
  readonly startedAt = performance.now();
  private closed = false;
  /** tmux's socket file; kill-server leaves it behind, close() removes it */
  private socketPath = "";
  /** pid of the client process (the pane runs `exec env ... client`, so pane_pid is it) */
  pid = 0;

  private constructor(kind: Kind, nick: string, dir: string, socket: string) {
    this.kind = kind;
    this.nick = nick;
    this.dir = dir;
    this.socket = socket;
  }

  private tmux(args: string[], allowFail = false) {
    return run("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], { allowFail });
  }

  static async start(o: StartOptions): Promise<IrcClient> {
    const host = o.host ?? "127.0.0.1";
    const dir = await Deno.makeTempDir({ prefix: `irc-${o.kind}-${o.nick}-` });
    const socket = `parley-irc-${Deno.pid}-${++counter}`;
    const c = new IrcClient(o.kind, o.nick, dir, socket);
    try {
      let cmdline: string;
      if (o.kind === "irssi") {
        await Deno.writeTextFile(`${dir}/config`, irssiConfig(o));
        cmdline = `irssi --home=${sh(dir)}` +
          (o.noConnect ? " -!" : ` -c ${sh(host)} -p ${o.port} -n ${sh(o.nick)}`);
      } else {
        // A partial weechat.conf is fine: missing options take defaults. Without this the
        // first start prints a logo and "Welcome to WeeChat!" (which a bare /Welcome to/ would
        // match before the server's 001).
        await Deno.writeTextFile(
          `${dir}/weechat.conf`,
          "[startup]\ndisplay_logo = off\ndisplay_version = off\n",
        );
        const cmds = weechatCommands(o, host);
        cmdline =
          `weechat --dir ${sh(dir)} -P ${sh(o.weechatPlugins ?? "irc,buflist,fifo,alias")}` +
          ` -r ${sh(cmds.join(";"))}`;
      }
      // HOME points at the temp dir too: nothing can fall back to the real ~/.irssi or
      // ~/.config/weechat. LANG=C.UTF-8 so both clients treat the terminal as UTF-8.
      // `exec` so the pane's process *is* the client (pane_dead_status = client exit code).
      const env = `env HOME=${sh(dir)} LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen-256color`;
      await c.tmux([
        "new-session",
        "-d",
        "-s",
        c.session,
        "-x",
        String(o.cols ?? 120),
        "-y",
        String(o.rows ?? 40),
        `exec ${env} ${cmdline}`,
      ]);
      // keep the pane after the client exits so we can read its exit status and last screen
      await c.tmux(["set-option", "-t", c.session, "remain-on-exit", "on"], true);
      const p = await c.tmux(
        ["display-message", "-p", "-t", c.session, "#{pane_pid} #{socket_path}"],
        true,
      );
      const [pid, path] = p.stdout.trim().split(" ");
      c.pid = Number(pid) || 0;
      c.socketPath = path ?? "";
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  /**
   * Text currently on screen (plain, no colours). Trailing blank lines trimmed.
   * join: tmux -J, joins rows the terminal auto-wrapped (irssi lets an unbroken word run over
   * the right margin, so this glues those back; its own word-wrap continuation rows, which are
   * indented, stay separate rows). Both clients are full-screen: there is no tmux scrollback,
   * so `-S -` adds nothing; what scrolled off is only reachable by scrolling the client.
   */
  async capture(opts: { join?: boolean } = {}): Promise<string> {
    const args = ["capture-pane", "-p", ...(opts.join ? ["-J"] : []), "-t", this.session];
    const r = await this.tmux(args, true);
    return r.stdout.replace(/[ \t]+$/gm, "").replace(/\s+$/, "");
  }

  /** Is the client process gone? Returns its exit status or null while it runs. */
  async exitStatus(): Promise<number | null> {
    const r = await this.tmux(
      ["display-message", "-p", "-t", this.session, "#{pane_dead} #{pane_dead_status}"],
      true,
    );
    if (r.code !== 0) return -1; // tmux server gone: process gone
    const [dead, status] = r.stdout.trim().split(" ");
    return dead === "1" ? Number(status || 0) : null;
  }

  /** Poll the screen until pattern matches; throws with the last screen on timeout. */
  async waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const re = typeof pattern === "string"
      ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      : pattern;
    const deadline = performance.now() + timeoutMs;
    let screen = "";
    while (true) {
      screen = await this.capture();
      const m = screen.match(re);
      if (m) return m;
      if (performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${this.kind}/${this.nick}: timed out after ${timeoutMs} ms waiting for ${re}\n` +
        `--- screen ---\n${screen}\n--------------`,
    );
  }

  /** Type a line literally and press Enter. */
  async type(line: string): Promise<void> {
    await this.tmux(["send-keys", "-t", this.session, "-l", "--", line]);
    await this.tmux(["send-keys", "-t", this.session, "Enter"]);
  }

  /** Send tmux key names, e.g. "M-2", "C-l", "PageUp". */
  async keys(...keys: string[]): Promise<void> {
    await this.tmux(["send-keys", "-t", this.session, ...keys]);
  }

  /** Switch to a channel/query window or buffer by name ("#lobby", "bob"). */
  async focus(name: string): Promise<void> {
    if (this.kind === "irssi") await this.type(`/window goto ${name}`);
    else await this.type(`/buffer ${name}`);
  }

  /**
   * weechat only: run a command through its fifo plugin (DIR/weechat_fifo_PID), bypassing the
   * keyboard. "*" = current buffer; target a buffer with e.g. fifo("/join #x", "irc.server.t").
   */
  async fifo(command: string, buffer = "*"): Promise<void> {
    if (this.kind !== "weechat") throw new Error("fifo is weechat-only");
    const path = `${this.dir}/weechat_fifo_${this.pid}`;
    const line = (buffer === "*" ? "*" : `${buffer} *`) + command + "\n";
    await Deno.writeTextFile(path, line, { append: true });
  }

  /** /quit and wait for the process to exit; returns exit status. */
  async quit(message = "bye", timeoutMs = 5_000): Promise<number> {
    await this.type(`/quit ${message}`);
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const s = await this.exitStatus();
      if (s !== null) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.kind}/${this.nick}: did not exit ${timeoutMs} ms after /quit`);
  }

  /** Always safe to call, idempotent: kills the tmux server (and the client) and removes the dir. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // kill-server sends SIGHUP to the client. weechat then sends "QUIT :WeeChat 3.8" and
    // rewrites its *.conf files on the way out: wait for the process to be gone before
    // removing the directory, or it is re-created behind our back.
    await run("tmux", ["-L", this.socket, "-f", "/dev/null", "kill-server"], { allowFail: true })
      .catch(() => {});
    if (this.pid > 0) {
      const alive = () => {
        try {
          return !Deno.readTextFileSync(`/proc/${this.pid}/stat`).includes(") Z ");
        } catch {
          return false;
        }
      };
      for (const [sig, waitMs] of [["SIGTERM", 2000], ["SIGKILL", 1000]] as const) {
        const end = performance.now() + waitMs;
        while (alive() && performance.now() < end) await new Promise((r) => setTimeout(r, 25));
        if (!alive()) break;
        try {
          Deno.kill(this.pid, sig);
        } catch { /* gone */ }
      }
    }
    if (this.socketPath) await Deno.remove(this.socketPath).catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose]() {
    return this.close();
  }
}

function irssiConfig(o: StartOptions): string {
  // Settings are grouped by the module that registers them. Having real_name/user_name/nick
  // here suppresses the "The following settings were initialized" banner.
  const flood = o.realisticFlood ? "" : `
  "irc/core" = {
    cmd_queue_speed = "0msec";
    cmds_max_at_once = "1000";
  };`;
  return `settings = {
  core = {
    real_name = "${o.nick}";
    user_name = "${o.nick}";
    nick = "${o.nick}";
    settings_autosave = "no";
${o.reconnect ? "" : `    server_reconnect_time = "-1";\n`}  };${flood}
  "fe-text" = {
    show_server_time = "${o.showServerTime ? "yes" : "no"}";
  };
};
${o.irssiExtraConfig ?? ""}
`;
}

function weechatCommands(o: StartOptions, host: string): string[] {
  // -r splits on ";" so no value may contain one.
  const s = "irc.server.t";
  // weechat 3.8: TLS option is "ssl" (default off); 4.x renamed it "tls" and made it default
  // on. "/server add" silently ignores unknown -options, so "-notls" is harmless on 3.8 and
  // needed on 4.x.
  const cmds = [
    `/server add t ${host}/${o.port} -notls`,
    `/set ${s}.nicks ${o.nick}`,
    `/set ${s}.username ${o.nick}`,
    `/set ${s}.realname ${o.nick}`,
    `/set ${s}.autoreconnect ${o.reconnect ? "on" : "off"}`,
    `/set irc.look.part_closes_buffer off`,
  ];
  if (!o.realisticFlood) {
    cmds.push(`/set ${s}.anti_flood_prio_high 0`, `/set ${s}.anti_flood_prio_low 0`);
  }
  cmds.push(...(o.weechatCommands ?? []));
  if (!o.noConnect) cmds.push(`/connect t`);
  return cmds;
}

/** Lines the person sees for common events, as regexes (both clients, default themes). */
export const screen = {
  irssi: {
    // status window, right after 001; the status bar then shows [nick(+i)] once MODE +i is echoed
    registered: /-!- Welcome to /,
    joined: (nick: string, chan: string) =>
      new RegExp(`-!- ${nick} \\[[^\\]]*\\] has joined ${chan}`),
    msg: (nick: string, text: string) => new RegExp(`<[ @+]${nick}> ${esc(text)}`),
    action: (nick: string, text: string) =>
      new RegExp(`^\\d\\d:\\d\\d  \\* ${nick} ${esc(text)}`, "m"),
    query: (nick: string, text: string) => new RegExp(`<${nick}> ${esc(text)}`),
    nick: (a: string, b: string) => new RegExp(`-!- ${a} is now known as ${b}`),
    ownNick: (b: string) => new RegExp(`-!- You're now known as ${b}`),
    topic: (nick: string, chan: string, t: string) =>
      new RegExp(`-!- ${nick} changed the topic of ${chan} to: ${esc(t)}`),
    quit: (nick: string, why: string) =>
      new RegExp(`-!- ${nick} \\[[^\\]]*\\] has quit \\[${esc(why)}\\]`),
    part: (nick: string, chan: string) => new RegExp(`-!- ${nick} \\[[^\\]]*\\] has left ${chan}`),
  },
  weechat: {
    // server buffer (merged with core) shows 001's text as "t -- | <text>"; NOT bare
    // /Welcome to/, which also matches weechat's first-run "Welcome to WeeChat!"
    registered: / -- \| Welcome to /,
    joined: (nick: string, chan: string) =>
      // With extended-join, weechat shows the real name too: `wes (Wes) (wes@host)`.
      new RegExp(`--> \\| ${nick} (?:\\([^)]*\\) )?\\([^)]*\\) has joined ${chan}`),
    msg: (nick: string, text: string) => new RegExp(`[ @+]${nick} \\| ${esc(text)}`),
    action: (nick: string, text: string) => new RegExp(`\\* \\| ${nick} ${esc(text)}`),
    query: (nick: string, text: string) => new RegExp(`${nick} \\| ${esc(text)}`),
    nick: (a: string, b: string) => new RegExp(`-- \\| ${a} is now known as ${b}`),
    ownNick: (b: string) => new RegExp(`-- \\| You are now known as ${b}`),
    topic: (nick: string, chan: string, t: string) =>
      new RegExp(`-- \\| ${nick} has changed topic for ${chan} (from "[^"]*" )?to "${esc(t)}"`),
    quit: (nick: string, why: string) =>
      new RegExp(`<-- \\| ${nick} \\([^)]*\\) has quit \\(${esc(why)}\\)`),
    part: (nick: string, chan: string) =>
      new RegExp(`<-- \\| ${nick} \\([^)]*\\) has left ${chan}`),
  },
};

function esc(s: string) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
