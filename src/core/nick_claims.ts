/**
 * Nick claims with lookalikes: a nick is claimed in the {@linkcode Directory}
 * under its case-folded key and under each of its lookalike keys (UTS #39
 * skeletons, `protocol/confusables.ts`), so that while `admin` is online
 * nobody on any server can be `аdmin` (Cyrillic а) or `ADMlN`. A lookalike
 * key is the skeleton with a `~` in front, which no nick key can start with.
 *
 * Guests (`guest-N`, handed out by the server) claim their key only: nobody
 * can choose a name that looks like a guest's (see {@linkcode isReservedName}).
 *
 * @module
 */

import { isReserved } from "./accounts.ts";
import type { Directory } from "./directory.ts";
import { lookalikeKeys, skeleton } from "../protocol/confusables.ts";

/** Names only the server uses, and the guests' prefix, as lookalike keys. */
const RESERVED_LOOKS = new Set(
  ["NickServ", "ChanServ", "OperServ", "server"].flatMap((name) => lookalikeKeys(name)),
);
const GUEST_LOOKS = [skeleton("guest-"), skeleton("GUEST-"), skeleton("Guest-")];

/**
 * Whether nobody may choose `nick` (key `key`): a reserved name, a guest nick,
 * or one that looks like either.
 */
export function isReservedName(nick: string, key: string): boolean {
  if (isReserved(key)) return true;
  return lookalikeKeys(nick, key).some((look) =>
    RESERVED_LOOKS.has(look) || GUEST_LOOKS.some((guest) => look.startsWith(guest))
  );
}

/** The directory keys a chosen nick holds: its own and its lookalikes'. */
export function claimKeys(nick: string, key: string): string[] {
  return [key, ...lookalikeKeys(nick, key).map((look) => `~${look}`)];
}

/** Claims and releases nicks with their lookalikes. */
export class NickClaims {
  readonly #directory: Directory;

  constructor(directory: Directory) {
    this.#directory = directory;
  }

  /**
   * Claims `nick` (key `key`) for `owner`: `"taken"` when someone holds the
   * nick itself, `"lookalike"` when someone holds a nick that looks like it,
   * null when it is `owner`'s now. Nothing stays claimed on failure.
   */
  async claim(nick: string, key: string, owner: string): Promise<"taken" | "lookalike" | null> {
    if (!(await this.#directory.claim(key, owner))) return "taken";
    const taken: string[] = [key];
    for (const look of claimKeys(nick, key).slice(1)) {
      if (!(await this.#directory.claim(look, owner))) {
        for (const held of taken) this.#directory.release(held, owner);
        return "lookalike";
      }
      taken.push(look);
    }
    return null;
  }

  /** Stops holding `owner`'s claims of `nick` here; another server holds them (see `Directory.forget`). */
  forget(nick: string, key: string, owner: string): void {
    for (const held of claimKeys(nick, key)) {
      if (this.#directory.forget) this.#directory.forget(held, owner);
      else this.#directory.release(held, owner);
    }
  }

  /** Gives up `owner`'s claims of `nick`, except the keys in `keep` (held by its next nick). */
  release(nick: string, key: string, owner: string, keep: readonly string[] = []): void {
    for (const held of claimKeys(nick, key)) {
      if (!keep.includes(held)) this.#directory.release(held, owner);
    }
  }
}
