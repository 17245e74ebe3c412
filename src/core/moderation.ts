/**
 * Moderation: the ban list, and what server operators' commands (SPEC §10)
 * do. The commands come from the server console, from line clients who are
 * operators (`/kick …`) and from IRC operators (`KICK`, `MODE +b`, `KILL`);
 * {@linkcode Moderation} carries them out. Bans are checked when a connection
 * is accepted, before anything else, and kept in the {@linkcode Store}.
 *
 * @module
 */

import type { AccountFlows } from "./account_flows.ts";
import type { Bus } from "./bus.ts";
import { type CidrBlock, cidrContains, formatCidr, parseAddress, parseCidr } from "./cidr.ts";
import type { Moderated, OperatorCommand, Problem, Refused } from "./commands.ts";
import type { Clock, ServerNotice } from "./events.ts";
import type { Membership } from "./membership.ts";
import type { Queries } from "./queries.ts";
import type { Member } from "./records.ts";
import type { Registry } from "./registry.ts";
import type { Ban, Store } from "./store.ts";
import { errorText } from "../errors.ts";
import { nameKey } from "../protocol/names.ts";

/** The ban list: in memory for the accept path, kept in the store. */
export class Bans {
  readonly #store: Store;
  readonly #clock: Clock;
  #bans: { ban: Ban; block: CidrBlock }[] = [];

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Reads the bans the store keeps (at start). */
  async load(): Promise<void> {
    const now = this.#clock();
    this.#bans = [];
    for (const ban of await this.#store.bans()) {
      const block = parseCidr(ban.mask);
      if (block !== null && (ban.expires === null || ban.expires > now)) {
        this.#bans.push({ ban, block });
      }
    }
  }

  /** Bans in force, soonest to end first (lasting ones last). */
  list(): Ban[] {
    this.#expire();
    return this.#bans.map((entry) => entry.ban)
      .sort((a, b) => (a.expires ?? Infinity) - (b.expires ?? Infinity));
  }

  /** The ban an address is under, if any. Called for every accepted connection. */
  match(address: string): Ban | null {
    if (this.#bans.length === 0) return null;
    const parsed = parseAddress(address);
    if (parsed === null) return null;
    const now = this.#clock();
    for (const { ban, block } of this.#bans) {
      if ((ban.expires === null || ban.expires > now) && cidrContains(block, parsed)) return ban;
    }
    return null;
  }

  /** Adds (or replaces) the ban on a block. */
  add(block: CidrBlock, options: { duration?: number; reason?: string; by: string }): Ban {
    const now = this.#clock();
    const ban: Ban = {
      mask: formatCidr(block),
      expires: options.duration === undefined ? null : now + options.duration,
      reason: options.reason ?? "",
      by: options.by,
      created: now,
    };
    this.#bans = this.#bans.filter((entry) => entry.ban.mask !== ban.mask);
    this.#bans.push({ ban, block });
    this.#store.addBan(ban);
    return ban;
  }

  /** Lifts the ban on exactly this block; false when there was none. */
  async remove(block: CidrBlock): Promise<boolean> {
    const mask = formatCidr(block);
    const before = this.#bans.length;
    this.#bans = this.#bans.filter((entry) => entry.ban.mask !== mask);
    const stored = await this.#store.removeBan(mask);
    return stored || this.#bans.length < before;
  }

  #expire(): void {
    const now = this.#clock();
    this.#bans = this.#bans.filter(({ ban }) => ban.expires === null || ban.expires > now);
  }
}

/** What operator commands need around them. */
export interface ModerationOptions {
  registry: Registry;
  bans: Bans;
  queries: Queries;
  membership: Membership;
  accounts: AccountFlows;
  store: Store;
  bus: Bus;
  clock: Clock;
  /** Tells one member something about itself (a mute). */
  notify: (notice: ServerNotice, to: Member) => void;
}

/** Carries out operator commands. */
export class Moderation {
  readonly #registry: Registry;
  readonly #bans: Bans;
  readonly #queries: Queries;
  readonly #membership: Membership;
  readonly #accounts: AccountFlows;
  readonly #store: Store;
  readonly #notify: (notice: ServerNotice, to: Member) => void;
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #startedAt: number;

  constructor(options: ModerationOptions) {
    this.#registry = options.registry;
    this.#bans = options.bans;
    this.#queries = options.queries;
    this.#membership = options.membership;
    this.#accounts = options.accounts;
    this.#store = options.store;
    this.#notify = options.notify;
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#startedAt = options.clock();
  }

  /** Carries out `command` for `by`: a member who is a server operator, or the console (null). */
  async moderate(by: Member | null, command: OperatorCommand): Promise<Moderated | Refused> {
    const actor = by === null ? "console" : by.nick;
    const registry = this.#registry;
    switch (command.kind) {
      case "say": {
        this.#bus.publish([{
          kind: "notice",
          notice: { code: "announcement", text: command.text },
          time: this.#clock(),
          origin: "",
        }]);
        return { kind: "said", reached: registry.online, text: command.text };
      }
      case "kick": {
        const target = registry.byKey(nameKey(command.nick));
        if (!target) return refused({ code: "no-such-nick", nick: command.nick });
        // Every device of the member goes (an account may be connected from several).
        for (const device of [...target.devices]) {
          device.endpoint.remove({ how: "kicked", by: actor, reason: command.reason ?? "" });
        }
        return { kind: "kicked", nick: target.nick };
      }
      case "ban":
        return this.#ban(by, actor, command);
      case "unban": {
        const removed = await this.#bans.remove(command.block);
        const mask = formatCidr(command.block);
        return removed ? { kind: "unbanned", mask } : refused({ code: "no-such-ban", mask });
      }
      case "bans":
        return { kind: "bans", bans: this.#bans.list() };
      case "mute": {
        const target = registry.byKey(nameKey(command.nick));
        if (!target) return refused({ code: "no-such-nick", nick: command.nick });
        target.mutedUntil = command.duration === undefined
          ? Infinity
          : this.#clock() + command.duration;
        const until = target.mutedUntil === Infinity ? null : target.mutedUntil;
        // Told now, not when it next speaks: it should know its lines go nowhere.
        this.#notify({ code: "muted", by: actor, until }, target);
        return { kind: "muted", nick: target.nick, until };
      }
      case "unmute": {
        const target = registry.byKey(nameKey(command.nick));
        if (!target) return refused({ code: "no-such-nick", nick: command.nick });
        target.mutedUntil = 0;
        this.#notify({ code: "unmuted", by: actor }, target);
        return { kind: "unmuted", nick: target.nick };
      }
      case "topic":
        return this.#membership.topic(by, command.room, command.text, true);
      case "who":
        return command.room === undefined
          ? await this.#queries.everyone()
          : await this.#queries.who(command.room);
      case "rooms":
        return await this.#queries.rooms();
      case "drop":
        return await this.#accounts.drop(by, command.nick);
      case "backup": {
        // Where a file is written on the server's machine is the console's choice only.
        if (by !== null && command.path !== undefined) {
          return refused({ code: "no-backup", why: "path-from-console" });
        }
        if (this.#store.backup === undefined) {
          return refused({ code: "no-backup", why: "nothing-to-copy" });
        }
        try {
          return { kind: "backed-up", path: await this.#store.backup(command.path) };
        } catch (error) {
          return refused({ code: "no-backup", why: "failed", detail: errorText(error) });
        }
      }
      case "setpassword":
        return await this.#accounts.password(by, {
          kind: "password",
          nick: command.nick,
          password: command.password,
        });
      case "stats":
        return {
          kind: "stats",
          online: registry.online + (await this.#queries.elsewhere()).length,
          rooms: registry.roomCount,
          uptime: Math.floor((this.#clock() - this.#startedAt) / 1000),
          bans: this.#bans.list().length,
          operators: [...registry.members()].filter((member) => member.operator).length,
        };
      case "help":
        return { kind: "said", reached: 0, text: "" };
    }
  }

  /** Bans a block (or the address a nick is on) and removes whoever is connected from it. */
  #ban(
    by: Member | null,
    actor: string,
    command: Extract<OperatorCommand, { kind: "ban" }>,
  ): Moderated | Refused {
    let block: CidrBlock | null;
    if (command.target.kind === "nick") {
      const target = this.#registry.byKey(nameKey(command.target.nick));
      if (!target) return refused({ code: "no-such-nick", nick: command.target.nick });
      block = parseCidr(target.endpoint.address);
      if (block === null) return refused({ code: "no-such-nick", nick: command.target.nick });
    } else {
      block = command.target.block;
    }
    const own = by === null ? null : parseAddress(by.endpoint.address);
    if (own !== null && cidrContains(block, own)) {
      return refused({ code: "ban-covers-you", mask: formatCidr(block) });
    }
    const ban = this.#bans.add(block, {
      duration: command.duration,
      reason: command.reason,
      by: actor,
    });
    const kicked: string[] = [];
    for (const member of [...this.#registry.members()]) {
      let hit = false;
      for (const device of [...member.devices]) {
        const address = parseAddress(device.endpoint.address);
        if (address === null || !cidrContains(block, address)) continue;
        hit = true;
        device.endpoint.remove({
          how: "banned",
          by: actor,
          reason: ban.reason,
          until: ban.expires,
        });
      }
      if (hit) kicked.push(member.nick);
    }
    return { kind: "banned", ban, kicked };
  }
}

function refused(problem: Problem): Refused {
  return { kind: "refused", problem };
}
