/**
 * Moderation: the ban list, and what server operators' commands (SPEC §10)
 * do. The commands come from the server console, from line clients who are
 * operators (`/kick …`) and from IRC operators (`KICK`, `MODE +b`, `KILL`);
 * {@linkcode Moderation} carries them out. Bans are checked when a connection
 * is accepted, before anything else, and kept in the {@linkcode Store}.
 *
 * With several servers (`--cluster`) an operator's kick, mute and ban reach
 * members of every server: the operator's server does what it can itself
 * (its own members, the store) and publishes a `moderated` event, which each
 * other server carries out on its own members and lists
 * ({@linkcode Moderation.follow}).
 *
 * @module
 */

import type { AccountFlows } from "./account_flows.ts";
import type { Bus } from "./bus.ts";
import { type CidrBlock, cidrContains, formatCidr, parseAddress, parseCidr } from "./cidr.ts";
import type { Moderated, OperatorCommand, Problem, Refused } from "./commands.ts";
import type { Clock, ModeratedEvent, ServerNotice } from "./events.ts";
import type { Membership } from "./membership.ts";
import type { Mutes } from "./mutes.ts";
import type { RemoteMember } from "./presence.ts";
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

  /** A ban another server set (and stored): in force here too. */
  adopt(ban: Ban): void {
    const block = parseCidr(ban.mask);
    if (block === null) return;
    this.#bans = this.#bans.filter((entry) => entry.ban.mask !== ban.mask);
    this.#bans.push({ ban, block });
  }

  /** A ban another server lifted (in the store already): lifted here too. */
  forget(mask: string): void {
    this.#bans = this.#bans.filter((entry) => entry.ban.mask !== mask);
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
  /** The nicks and accounts muted, on every server. */
  mutes: Mutes;
  /** This server's id (`moderated` events it published are done here already). */
  node: string;
  /** Tells one member something about itself (a mute). */
  notify: (notice: ServerNotice, to: Member) => void;
}

/** Someone an operator names: a member of this server, or of another one. */
type Target = { local: Member; remote: null } | { local: null; remote: RemoteMember };

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
  readonly #mutes: Mutes;
  readonly #node: string;
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
    this.#mutes = options.mutes;
    this.#node = options.node;
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
        const target = await this.#find(command.nick);
        if (target === null) return refused({ code: "no-such-nick", nick: command.nick });
        const reason = command.reason ?? "";
        // Every device of the member goes (an account may be connected from several), here
        // and, when the event reaches them, on the other servers.
        for (const device of [...target.local?.devices ?? []]) {
          device.endpoint.remove({ how: "kicked", by: actor, reason });
        }
        const { id, nick } = target.local ?? target.remote!;
        this.#publish({ act: "kick", by: actor, target: id, nick, reason }, by);
        return { kind: "kicked", nick };
      }
      case "ban":
        return this.#ban(by, actor, command);
      case "unban": {
        const removed = await this.#bans.remove(command.block);
        const mask = formatCidr(command.block);
        if (!removed) return refused({ code: "no-such-ban", mask });
        this.#publish({ act: "unban", by: actor, mask }, by);
        return { kind: "unbanned", mask };
      }
      case "bans":
        return { kind: "bans", bans: this.#bans.list() };
      case "mute": {
        const target = await this.#find(command.nick);
        if (target === null) return refused({ code: "no-such-nick", nick: command.nick });
        const until = command.duration === undefined ? null : this.#clock() + command.duration;
        const local = target.local;
        // On the nick (and account) too: reconnecting, here or elsewhere, is no way out.
        const keys = local !== null ? this.#mutes.keysOf(local) : [nameKey(target.remote.nick)];
        this.#mutes.add(keys, until, actor);
        if (local !== null) {
          local.mutedUntil = until ?? Infinity;
          // Told now, not when it next speaks: it should know its lines go nowhere.
          this.#notify({ code: "muted", by: actor, until }, local);
        }
        const id = local?.id ?? target.remote!.id;
        this.#publish({ act: "mute", by: actor, target: id, keys, until }, by);
        return { kind: "muted", nick: local?.nick ?? target.remote!.nick, until };
      }
      case "unmute": {
        const target = await this.#find(command.nick);
        const key = nameKey(command.nick);
        const keys = this.#mutes.remove(target?.local ? this.#mutes.keysOf(target.local) : [key]);
        // Nobody by that nick online, and no mute on it: nothing to lift.
        if (target === null && keys.length === 0) {
          return refused({ code: "no-such-nick", nick: command.nick });
        }
        const local = target?.local ?? null;
        if (local !== null) {
          local.mutedUntil = 0;
          this.#notify({ code: "unmuted", by: actor }, local);
        }
        const id = local?.id ?? target?.remote?.id;
        this.#publish({ act: "unmute", by: actor, keys, ...(id ? { target: id } : {}) }, by);
        return {
          kind: "unmuted",
          nick: local?.nick ?? target?.remote?.nick ?? command.nick,
        };
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

  /**
   * Bans a block (or the address a nick is on, on any server) and removes
   * whoever is connected from it, on every server.
   */
  async #ban(
    by: Member | null,
    actor: string,
    command: Extract<OperatorCommand, { kind: "ban" }>,
  ): Promise<Moderated | Refused> {
    let block: CidrBlock | null;
    if (command.target.kind === "nick") {
      const target = await this.#find(command.target.nick);
      const address = target?.local?.endpoint.address ?? target?.remote?.address;
      block = address === undefined ? null : parseCidr(address);
      if (block === null) return refused({ code: "no-such-nick", nick: command.target.nick });
    } else {
      block = command.target.block;
    }
    const own = by === null ? null : parseAddress(by.endpoint.address);
    if (own !== null && cidrContains(block, own)) {
      return refused({ code: "ban-covers-you", mask: formatCidr(block) });
    }
    // Read before the ban goes out: once it has, their servers may have removed them already.
    const elsewhere = await this.#queries.elsewhereAll();
    const ban = this.#bans.add(block, {
      duration: command.duration,
      reason: command.reason,
      by: actor,
    });
    const kicked = new Set(this.#removeBanned(ban, block));
    this.#publish({
      act: "ban",
      by: actor,
      mask: ban.mask,
      until: ban.expires,
      ...(ban.reason ? { reason: ban.reason } : {}),
    }, by);
    // Those of the other servers it covers are removed by their servers.
    for (const member of elsewhere) {
      const address = member.address === undefined ? null : parseAddress(member.address);
      if (address !== null && cidrContains(block, address)) kicked.add(member.nick);
    }
    return { kind: "banned", ban, kicked: [...kicked] };
  }

  /** This server's members connected from a banned block leave; their nicks. */
  #removeBanned(ban: Ban, block: CidrBlock): string[] {
    const kicked: string[] = [];
    for (const member of [...this.#registry.members()]) {
      let hit = false;
      for (const device of [...member.devices]) {
        const address = parseAddress(device.endpoint.address);
        if (address === null || !cidrContains(block, address)) continue;
        hit = true;
        device.endpoint.remove({
          how: "banned",
          by: ban.by,
          reason: ban.reason,
          until: ban.expires,
        });
      }
      if (hit) kicked.push(member.nick);
    }
    return kicked;
  }

  /**
   * What an operator of another server did (a `moderated` event), carried out
   * on this server's members and lists; the operator's server did it already.
   */
  follow(event: ModeratedEvent): void {
    if (event.server === this.#node) return;
    // The member it names, or this server's member of the same person (its devices here,
    // under the same nick, named first).
    const named = event.nick === undefined ? event.keys?.[0] : nameKey(event.nick);
    const target = event.target === undefined
      ? undefined
      : this.#registry.byId(event.target) ?? this.#registry.byKey(named ?? "");
    switch (event.act) {
      case "kick":
        for (const device of [...target?.devices ?? []]) {
          device.endpoint.remove({ how: "kicked", by: event.by, reason: event.reason ?? "" });
        }
        return;
      case "mute": {
        const until = event.until ?? null;
        const keys = event.keys ?? [];
        this.#mutes.add(keys, until, event.by, false);
        if (target === undefined || !target.present) return;
        // Its account, which the operator's server did not know, is muted too, everywhere.
        const more = this.#mutes.keysOf(target).filter((key) => !keys.includes(key));
        if (more.length > 0 && keys.length > 0) {
          const all = [keys[0], ...more]; // the first key names the mute
          this.#mutes.add(all, until, event.by);
          this.#publish({ act: "mute", by: event.by, keys: all, until }, null);
        }
        target.mutedUntil = until ?? Infinity;
        this.#notify({ code: "muted", by: event.by, until }, target);
        return;
      }
      case "unmute": {
        const keys = event.keys ?? [];
        this.#mutes.remove(keys, false);
        const muted = target ?? keys.map((key) => this.#registry.byKey(key)).find((m) => m);
        if (muted === undefined || muted.mutedUntil === 0) return;
        muted.mutedUntil = 0;
        this.#mutes.remove(this.#mutes.keysOf(muted));
        this.#notify({ code: "unmuted", by: event.by }, muted);
        return;
      }
      case "ban": {
        const block = parseCidr(event.mask ?? "");
        if (block === null) return;
        const ban: Ban = {
          mask: formatCidr(block),
          expires: event.until ?? null,
          reason: event.reason ?? "",
          by: event.by,
          created: event.time,
        };
        this.#bans.adopt(ban);
        this.#removeBanned(ban, block);
        return;
      }
      case "unban":
        if (event.mask !== undefined) this.#bans.forget(event.mask);
        return;
    }
  }

  /**
   * A member of this server changed nick from `from` (a key): when it is
   * muted, its new nick is muted with it, on every server, so that
   * reconnecting under either nick is no way out.
   */
  renamed(m: Member, from: string): void {
    const mute = this.#mutes.entry(from);
    if (from === m.key || mute === null || this.#mutes.has(m.key)) return;
    const keys = [from, m.key]; // the first key names the mute
    this.#mutes.add(keys, mute.until, mute.by);
    this.#publish({ act: "mute", by: mute.by, keys, until: mute.until }, m);
  }

  /** The member called `nick`: on this server, or else on another one; null when nobody is. */
  async #find(nick: string): Promise<Target | null> {
    const key = nameKey(nick);
    const local = this.#registry.byKey(key);
    if (local !== undefined) return { local, remote: null };
    const remote = (await this.#queries.elsewhere()).find((m) => nameKey(m.nick) === key);
    return remote === undefined ? null : { local: null, remote };
  }

  /** Tells the other servers what an operator did (see {@linkcode follow}). */
  #publish(
    act: Omit<ModeratedEvent, "kind" | "server" | "time" | "origin">,
    by: Member | null,
  ): void {
    this.#bus.publish([{
      kind: "moderated",
      ...act,
      server: this.#node,
      time: this.#clock(),
      origin: by?.id ?? "",
    }]);
  }
}

function refused(problem: Problem): Refused {
  return { kind: "refused", problem };
}
