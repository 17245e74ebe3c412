/**
 * Channel modes, as state and pure rules: what a room lets in and keeps out
 * (IRC's `+i +k +l +b`), who may speak in it (`+m`, `+n`), who may set its
 * topic (`+t`), whether outsiders see it (`+s`), and the two statuses a
 * member may have in it (`+o` operator, `+v` voice). Both front ends speak
 * these: IRC as `MODE` strings, line clients as `/op`, `/mode +i` and so on;
 * the grammar of a mode string is here, so both read it alike.
 *
 * A room's operators and voiced members are kept by member id (unique on
 * every server), so a status given on one server is the same on all of them
 * and survives a rename. No English here: problems are codes.
 *
 * @module
 */

import { nameKey } from "../protocol/names.ts";

/** A mode that is on or off and takes no parameter. */
export type FlagMode = "i" | "m" | "n" | "s" | "t";

/** Every channel mode parley has. */
export type ModeLetter = FlagMode | "k" | "l" | "b" | "o" | "v";

/** The flag modes, in the order they are listed (`+imnst`). */
export const FLAG_MODES: readonly FlagMode[] = ["i", "m", "n", "s", "t"];

/** A channel ban: a `nick!user@host` mask (or `~a:account`), who set it and when. */
export interface RoomBan {
  mask: string;
  /** The nick of whoever set it (`server` for the console). */
  by: string;
  /** When (ms since the epoch). */
  time: number;
}

/** What a room lets in and keeps out, and who may speak. */
export interface RoomModes {
  /** `+i`: only the invited (and operators) may enter. */
  inviteOnly: boolean;
  /** `+m`: only operators and voiced members speak. */
  moderated: boolean;
  /** `+n`: only members may send to it. */
  noExternal: boolean;
  /** `+s`: outsiders do not see it in lists and WHOIS. */
  secret: boolean;
  /** `+t`: only operators set the topic. */
  topicLocked: boolean;
  /** `+k`: the key needed to enter, or null. */
  key: string | null;
  /** `+l`: most members at once, or null. */
  limit: number | null;
  /** `+b`: who may not enter. */
  bans: RoomBan[];
}

/** A room's modes as the store keeps them, with when the room was made. */
export interface StoredModes {
  /** The flag modes that are on (`"nt"`). */
  flags: string;
  key: string | null;
  limit: number | null;
  bans: RoomBan[];
  /** When the room was made (ms since the epoch). */
  created: number;
}

/** One change of a room's modes, as asked for and as carried out. */
export interface ModeChange {
  mode: ModeLetter;
  /** `+` (true) or `-`. */
  on: boolean;
  /** `k`: the key; `l`: the limit; `b`: the mask; `o`, `v`: the member's nick. */
  param?: string;
  /** `o`, `v`: the member's id (set by the chat once it found the member). */
  id?: string;
}

/** Longest key, in characters (RFC 2812's 23). */
export const MAX_KEY = 23;
/** Largest `+l`. */
export const MAX_LIMIT = 1_000_000;
/** Longest ban mask, in characters. */
export const MAX_MASK = 100;
/** Most bans one room keeps. */
export const MAX_BANS = 100;
/** Most changes with a parameter in one mode string (ISUPPORT `MODES`). */
export const MAX_PARAM_MODES = 4;

/** A room's modes when it is made: `+nt` (SPEC §8). */
export function defaultModes(): RoomModes {
  return {
    inviteOnly: false,
    moderated: false,
    noExternal: true,
    secret: false,
    topicLocked: true,
    key: null,
    limit: null,
    bans: [],
  };
}

/** Whether flag mode `mode` is on. */
export function flagOn(modes: RoomModes, mode: FlagMode): boolean {
  switch (mode) {
    case "i":
      return modes.inviteOnly;
    case "m":
      return modes.moderated;
    case "n":
      return modes.noExternal;
    case "s":
      return modes.secret;
    case "t":
      return modes.topicLocked;
  }
}

function setFlag(modes: RoomModes, mode: FlagMode, on: boolean): void {
  switch (mode) {
    case "i":
      modes.inviteOnly = on;
      return;
    case "m":
      modes.moderated = on;
      return;
    case "n":
      modes.noExternal = on;
      return;
    case "s":
      modes.secret = on;
      return;
    case "t":
      modes.topicLocked = on;
      return;
  }
}

/**
 * The modes as listed (IRC's 324): `+` and the letters that are on, then the
 * parameters (the key only when `showKey`: members see it, outsiders `*`).
 */
export function modeListing(modes: RoomModes, showKey: boolean): string[] {
  let letters = "+" + FLAG_MODES.filter((mode) => flagOn(modes, mode)).join("");
  const params: string[] = [];
  if (modes.key !== null) {
    letters += "k";
    params.push(showKey ? modes.key : "*");
  }
  if (modes.limit !== null) {
    letters += "l";
    params.push(String(modes.limit));
  }
  return [letters, ...params];
}

/** The modes as the store keeps them (`created`: when the room was made). */
export function storedModes(modes: RoomModes, created: number): StoredModes {
  return {
    flags: FLAG_MODES.filter((mode) => flagOn(modes, mode)).join(""),
    key: modes.key,
    limit: modes.limit,
    bans: modes.bans.map((ban) => ({ ...ban })),
    created,
  };
}

/** Modes read back from the store (anything odd in it left at its default). */
export function modesFromStore(stored: StoredModes): RoomModes {
  const modes = defaultModes();
  const flags = typeof stored.flags === "string" ? stored.flags : "nt";
  for (const mode of FLAG_MODES) setFlag(modes, mode, flags.includes(mode));
  if (typeof stored.key === "string" && keyProblem(stored.key) === null) modes.key = stored.key;
  if (typeof stored.limit === "number" && limitProblem(String(stored.limit)) === null) {
    modes.limit = stored.limit;
  }
  if (Array.isArray(stored.bans)) {
    modes.bans = stored.bans.filter((ban) =>
      typeof ban?.mask === "string" && maskProblem(ban.mask) === null
    ).slice(0, MAX_BANS).map((ban) => ({
      mask: ban.mask,
      by: String(ban.by ?? ""),
      time: Number(ban.time) || 0,
    }));
  }
  return modes;
}

/** Why a parameter of a mode change cannot be used. */
export type ModeParamProblem =
  | "empty"
  | "too-long"
  | "bad-characters"
  | "not-a-number"
  | "out-of-range"
  /** A ban mask naming a host: parley shows no one's address, so it could match nobody (or all). */
  | "host-in-mask";

/** Why `key` cannot be a room's key (1–23 characters, no spaces, commas or controls), or null. */
export function keyProblem(key: string): ModeParamProblem | null {
  if (key === "") return "empty";
  if ([...key].length > MAX_KEY) return "too-long";
  if (/[\s,\p{C}]/u.test(key)) return "bad-characters";
  return null;
}

/** Why `text` cannot be a limit (a whole number from 1), or null. */
export function limitProblem(text: string): ModeParamProblem | null {
  if (text === "") return "empty";
  if (!/^\d+$/.test(text)) return "not-a-number";
  const limit = Number(text);
  if (limit < 1 || limit > MAX_LIMIT) return "out-of-range";
  return null;
}

/**
 * A ban mask in its full form: `bob` is `bob!*@*`, `bob!x` is `bob!x@*`,
 * `x@h` is `*!x@h`; an account ban (`~a:name`) stays as it is.
 */
export function normaliseMask(mask: string): string {
  if (mask.startsWith("~")) return mask;
  const bang = mask.indexOf("!");
  const at = mask.indexOf("@");
  if (bang === -1 && at === -1) return `${mask}!*@*`;
  if (bang === -1) return `*!${mask}`;
  if (at === -1 || at < bang) return `${mask}@*`;
  return mask;
}

/**
 * Why a (normalised) ban mask cannot be used, or null. The host part must
 * be `*`: parley never shows anyone's address, so a mask naming a host would
 * match nobody; addresses are banned by server operators (`/ban`).
 */
export function maskProblem(mask: string): ModeParamProblem | null {
  if (mask === "" || mask === "!*@*") return "empty";
  if ([...mask].length > MAX_MASK) return "too-long";
  if (/[\s,\p{C}]/u.test(mask)) return "bad-characters";
  if (mask.startsWith("~")) {
    return /^~a:[^:!@*?]+$/.test(mask) ? null : "bad-characters";
  }
  const at = mask.lastIndexOf("@");
  if (!/^\*+$/.test(mask.slice(at + 1))) return "host-in-mask";
  return null;
}

/** Who a ban is matched against: the member's nick, user name and account. */
export interface BanSubject {
  nick: string;
  user: string;
  /** The account (a nick key) it proved, or null. */
  account: string | null;
}

/** Whether `mask` (normalised) covers `who`; case does not count. */
export function maskMatches(mask: string, who: BanSubject): boolean {
  if (mask.startsWith("~a:")) {
    return who.account !== null && nameKey(mask.slice(3)) === who.account;
  }
  const bang = mask.indexOf("!");
  const at = mask.lastIndexOf("@");
  return globMatches(mask.slice(0, bang), who.nick) &&
    globMatches(mask.slice(bang + 1, at), who.user);
}

/** The ban on `who` in `modes`, or null. */
export function banOn(modes: RoomModes, who: BanSubject): RoomBan | null {
  for (const ban of modes.bans) if (maskMatches(ban.mask, who)) return ban;
  return null;
}

/** Two masks are the same ban when they are equal but for case. */
export function sameMask(a: string, b: string): boolean {
  return nameKey(a) === nameKey(b);
}

/** `*` is any run of characters, `?` one; case does not count. */
export function globMatches(glob: string, text: string): boolean {
  const pattern = nameKey(glob).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${pattern}$`, "su").test(nameKey(text));
}

/**
 * Carries out a change of a flag, the key or the limit on `modes` (not `b`,
 * `o`, `v`: those need more than the modes). Returns false when nothing
 * changed (a mode already so).
 */
export function applySetting(modes: RoomModes, change: ModeChange): boolean {
  switch (change.mode) {
    case "k": {
      const key = change.on ? change.param ?? null : null;
      if (modes.key === key) return false;
      modes.key = key;
      return true;
    }
    case "l": {
      const limit = change.on ? Number(change.param) : null;
      if (modes.limit === limit) return false;
      modes.limit = limit;
      return true;
    }
    case "b":
    case "o":
    case "v":
      return false;
    default:
      if (flagOn(modes, change.mode) === change.on) return false;
      setFlag(modes, change.mode, change.on);
      return true;
  }
}

/** Adds (`on`) or lifts a ban; false when there was nothing to do. */
export function applyBan(modes: RoomModes, change: ModeChange, by: string, time: number): boolean {
  const mask = change.param ?? "";
  const at = modes.bans.findIndex((ban) => sameMask(ban.mask, mask));
  if (change.on) {
    if (at !== -1 || modes.bans.length >= MAX_BANS) return false;
    modes.bans.push({ mask, by, time });
    return true;
  }
  if (at === -1) return false;
  change.param = modes.bans[at].mask; // as it was set
  modes.bans.splice(at, 1);
  return true;
}

/** A mode string read into changes (IRC's `MODE #room +o-v+l a b 10`, or `/mode +i`). */
export interface ParsedModes {
  /** The changes, in order, each with its parameter (not yet checked). */
  changes: ModeChange[];
  /** Letters that are no mode of parley's, each once. */
  unknown: string[];
  /** `b` without a mask: the ban list is asked for. */
  listBans: boolean;
  /** Changes left out for want of a parameter (`+k` alone). */
  missing: ModeLetter[];
}

/**
 * Reads a mode string and its parameters as both front ends write it:
 * `+` and `-` switch direction, letters follow; `b`, `k`, `o`, `v` take a
 * parameter both ways (`-k` without one is fine; with `unsetKeyTakesParam`
 * false, as line clients write it, `-k` takes none), `l` only when set. At
 * most {@linkcode MAX_PARAM_MODES} changes with a parameter are read.
 */
export function parseModeString(
  modeString: string,
  params: readonly string[],
  unsetKeyTakesParam = true,
): ParsedModes {
  const parsed: ParsedModes = { changes: [], unknown: [], listBans: false, missing: [] };
  let on = true;
  let next = 0;
  let withParam = 0;
  for (const letter of modeString) {
    if (letter === "+" || letter === "-") {
      on = letter === "+";
      continue;
    }
    switch (letter) {
      case "i":
      case "m":
      case "n":
      case "s":
      case "t":
        parsed.changes.push({ mode: letter, on });
        continue;
      case "b":
      case "k":
      case "l":
      case "o":
      case "v": {
        const takes = on || (letter !== "l" && (letter !== "k" || unsetKeyTakesParam));
        if (!takes) {
          parsed.changes.push({ mode: letter, on });
          continue;
        }
        const param = params[next];
        if (param === undefined) {
          if (letter === "b") parsed.listBans = true;
          else if (letter === "k" && !on) parsed.changes.push({ mode: letter, on });
          else parsed.missing.push(letter);
          continue;
        }
        next++;
        if (++withParam > MAX_PARAM_MODES) continue;
        parsed.changes.push({ mode: letter, on, param });
        continue;
      }
      default:
        if (!parsed.unknown.includes(letter)) parsed.unknown.push(letter);
    }
  }
  return parsed;
}

/**
 * Changes as one mode string and its parameters: `["+o-v", "ann", "bob"]`
 * (the key shown as `*` unless `showKey`).
 */
export function formatChanges(changes: readonly ModeChange[], showKey = true): string[] {
  let text = "";
  let on: boolean | null = null;
  const params: string[] = [];
  for (const change of changes) {
    if (change.on !== on) {
      on = change.on;
      text += on ? "+" : "-";
    }
    text += change.mode;
    if (change.param !== undefined && (change.on || change.mode !== "l")) {
      if (change.mode === "k") {
        if (change.on) params.push(showKey ? change.param : "*");
      } else {
        params.push(change.param);
      }
    }
  }
  return [text, ...params];
}
