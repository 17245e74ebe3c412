/**
 * Whether this process may read its terminal. A job started in the
 * background (`parley server &`) shares the shell's terminal but not its
 * foreground process group; the kernel stops such a process (SIGTTIN, "Stopped
 * (tty input)") the moment it reads the terminal, and (SIGTTOU, "Stopped (tty
 * output)") the moment it changes the terminal's modes, as raw mode does. A
 * stopped server serves nobody, so the console must not touch the terminal
 * then. Listening for SIGTTIN does not help: the read is retried and signals
 * again, in a busy loop.
 *
 * The test is the one shells use: the process's group against the
 * terminal's foreground group (`tcgetpgrp`). On Linux both are in
 * `/proc/self/stat` (`pgrp`, field 5, and `tpgid`, field 8, for the
 * controlling terminal `tty_nr`, field 7); elsewhere `ps -o pgid=,tpgid=`
 * gives them. Windows has no job control.
 *
 * @module
 */

/** How this process stands with the terminal on its stdin. */
export type Standing =
  /** Reading the terminal is safe: the process is in its foreground group (or has no job control). */
  | { place: "foreground" }
  /** Reading (or setting raw mode on) the terminal would stop the process. */
  | { place: "background" }
  /** Could not tell (no permission to look): treated as the background, to be safe. */
  | { place: "unknown"; why: string };

/** The fields of `/proc/PID/stat` the test needs. */
export interface StatFields {
  pgrp: number;
  /** Controlling terminal's device number; 0 for none. */
  ttyNr: number;
  /** Foreground process group of the controlling terminal; -1 for none. */
  tpgid: number;
}

/**
 * Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and
 * may hold spaces or parentheses itself, so fields are counted from the last `)`.
 */
export function parseStat(text: string): StatFields | null {
  const end = text.lastIndexOf(")");
  if (end === -1) return null;
  // After ")": state ppid pgrp session tty_nr tpgid …
  const fields = text.slice(end + 1).trim().split(/\s+/);
  const pgrp = Number(fields[2]);
  const ttyNr = Number(fields[4]);
  const tpgid = Number(fields[5]);
  if (![pgrp, ttyNr, tpgid].every(Number.isInteger)) return null;
  return { pgrp, ttyNr, tpgid };
}

/**
 * The standing from the stat fields, and (when known) the device number of
 * the terminal on stdin: a terminal that is not the controlling one never
 * stops its reader.
 */
export function standingFromStat(stat: StatFields, stdinDevice?: number | null): Standing {
  if (stat.ttyNr === 0 || stat.tpgid <= 0) return { place: "foreground" };
  if (stdinDevice != null && stdinDevice !== stat.ttyNr) return { place: "foreground" };
  return stat.pgrp === stat.tpgid ? { place: "foreground" } : { place: "background" };
}

/**
 * Where this process stands with its terminal, now. Cheap (one small file read
 * on Linux): the console asks again while it waits in the background.
 */
export function terminalStanding(): Standing {
  if (Deno.build.os === "windows") return { place: "foreground" };
  if (Deno.build.os === "linux") return linuxStanding();
  return psStanding();
}

function linuxStanding(): Standing {
  if (!granted({ name: "read", path: "/proc/self/stat" })) {
    return { place: "unknown", why: "no read permission for /proc/self/stat" };
  }
  let stat: StatFields | null;
  try {
    stat = parseStat(Deno.readTextFileSync("/proc/self/stat"));
  } catch (error) {
    return { place: "unknown", why: `cannot read /proc/self/stat: ${message(error)}` };
  }
  if (stat === null) return { place: "unknown", why: "cannot parse /proc/self/stat" };
  let device: number | null = null;
  if (granted({ name: "read", path: "/proc/self/fd/0" })) {
    try {
      device = Deno.statSync("/proc/self/fd/0").rdev;
    } catch {
      // no stdin to look at: take it for the controlling terminal
    }
  }
  return standingFromStat(stat, device);
}

/** macOS and the BSDs: `ps` knows the same two numbers. */
function psStanding(): Standing {
  if (!granted({ name: "run", command: "ps" })) {
    return { place: "unknown", why: "no permission to run ps" };
  }
  try {
    const { success, stdout } = new Deno.Command("ps", {
      args: ["-o", "pgid=,tpgid=", "-p", String(Deno.pid)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const [pgrp, tpgid] = new TextDecoder().decode(stdout).trim().split(/\s+/).map(Number);
    if (!success || !Number.isInteger(pgrp) || !Number.isInteger(tpgid)) {
      return { place: "unknown", why: "ps did not say" };
    }
    return standingFromStat({ pgrp, tpgid, ttyNr: tpgid > 0 ? 1 : 0 });
  } catch (error) {
    return { place: "unknown", why: `cannot run ps: ${message(error)}` };
  }
}

/** Asks without prompting: a permission prompt would read the terminal itself. */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
