/**
 * A detached tmux session on its own tmux server (a private socket), for tests
 * that drive a terminal program as a person would: keys go in with send-keys,
 * the screen comes back with capture-pane, polled against a deadline.
 */

/** tmux's version (`tmux -V`), or null when tmux is not installed. */
export async function findTmux(): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command("tmux", {
      args: ["-V"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).trim() : null;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** A detached tmux session on its own server (private socket). */
export class TmuxSession {
  readonly socket: string;
  /** What the window runs: a shell, or a program. */
  readonly #command: string[];
  /** Where tmux put the socket: kill-server leaves the file behind, so `kill` removes it. */
  #socketPath: string | null = null;

  /** `name` prefixes the socket's name; `command` is what the window runs (`sh` unless given). */
  constructor(name: string, command: string[] = ["sh"]) {
    this.socket = `${name}-${crypto.randomUUID().slice(0, 8)}`;
    this.#command = command;
  }

  /** Starts the command in a 100×30 window. */
  async start(): Promise<void> {
    await this.tmux(
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      "100",
      "-y",
      "30",
      "-s",
      "t",
      ...this.#command,
    );
    this.#socketPath = await this.tmux("display-message", "-p", "#{socket_path}");
  }

  /** The pane's terminal device, to look at its modes from outside. */
  paneTty(): Promise<string> {
    return this.tmux("display-message", "-p", "-t", "t", "#{pane_tty}");
  }

  /** Types `text` literally. */
  async type(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", "t", "-l", text);
  }

  /** Presses keys by tmux name (`Enter`, `BSpace`, `Up`, `C-u`). */
  async press(...keys: string[]): Promise<void> {
    await this.tmux("send-keys", "-t", "t", ...keys);
  }

  /**
   * The visible screen, one string per row, trailing spaces removed. With `history`, the
   * scrollback too, with wrapped rows joined: what scrolled away or wrapped is still whole.
   */
  async screen(history = false): Promise<string[]> {
    const scrollback = history ? ["-S", "-", "-J"] : [];
    const text = await this.tmux("capture-pane", "-p", ...scrollback, "-t", "t");
    return text.split("\n").map((row) => row.trimEnd());
  }

  /** The cursor column. */
  async cursorX(): Promise<number> {
    return Number(await this.tmux("display-message", "-p", "-t", "t", "#{cursor_x}"));
  }

  /** Polls the screen until `check` holds; fails with the screen after `timeout` ms. */
  async waitFor(
    what: string,
    check: (rows: string[]) => boolean,
    { timeout = 10_000, history = false } = {},
  ): Promise<string[]> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const rows = await this.screen(history);
      if (check(rows)) return rows;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; the screen:\n${rows.join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  }

  /** Stops this tmux server (and everything in it). */
  async kill(): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
    if (this.#socketPath) await Deno.remove(this.#socketPath).catch(() => {});
  }

  async tmux(...args: string[]): Promise<string> {
    const { success, stdout, stderr } = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    if (!success) throw new Error(`tmux ${args.join(" ")}: ${decoder.decode(stderr).trim()}`);
    return decoder.decode(stdout).trimEnd();
  }
}
