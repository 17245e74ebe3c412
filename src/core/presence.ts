/**
 * Presence: who is in the chat on the *other* servers that share it, for
 * lists and counts (`/who`, `/rooms`, WHO, NAMES, LIST, online counts). The
 * chat keeps it told of this server's members. This is a seam: a single
 * server has no others ({@linkcode LocalPresence}); Redis (`--cluster`)
 * keeps every server's members.
 *
 * @module
 */

/** What others see of a member. */
export interface PresenceInfo {
  nick: string;
  user: string;
  /** The rooms it is in (display names). */
  rooms: string[];
  away: string | null;
  /** The key of the account it proved, if any (a device of the same account attaches to it). */
  account?: string;
  /** Who its nick claims are made for, when not its id (`Member.owner`). */
  owner?: string;
  /** How many devices it has connected there (when more than one). */
  devices?: number;
  /**
   * The address it is connected from: for a server operator's ban by nick of a
   * member of another server (never shown to members).
   */
  address?: string;
}

/** A member of another server. */
export interface RemoteMember extends PresenceInfo {
  /** Its member id. */
  id: string;
}

/** This server's members, told to the others; the others' members, asked for. */
export interface Presence {
  /** A member of this server entered, renamed, joined, parted or went away. */
  set(id: string, info: PresenceInfo): void;
  /** A member of this server left the chat. */
  remove(id: string): void;
  /** Every member of every other server. */
  elsewhere(): Promise<RemoteMember[]>;
}

/** One server on its own: nobody elsewhere. */
export class LocalPresence implements Presence {
  set(): void {}
  remove(): void {}
  elsewhere(): Promise<RemoteMember[]> {
    return Promise.resolve([]);
  }
}
