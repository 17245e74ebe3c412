/**
 * The chat: the one object front ends talk to. It owns the parts of the core
 * and hands each call to the part that owns it; nothing here knows a
 * protocol, a socket or a sentence.
 *
 * - {@linkcode Registry}: who is in the chat and which rooms exist;
 * - {@linkcode Membership}: entering, leaving, nicks, rooms, topics;
 * - {@linkcode MessagePath}: {@linkcode Chat.say} → {@linkcode Chat.flush} →
 *   the bus, synchronous, batched per read; private messages; back-pressure;
 * - {@linkcode Delivery}: events from the bus to this server's members,
 *   rendered once per renderer;
 * - {@linkcode AccountFlows}, {@linkcode Moderation}, {@linkcode Queries};
 * - {@linkcode Devices}: an account's member on several devices at once, its
 *   rooms between sessions, its read markers.
 *
 * What a front end holds as its member is its own device of the member
 * (`Device`): it reads as the member, and the chat knows which device acted.
 *
 * {@linkcode Chat.apply} carries out every command but room messages and
 * answers with a typed {@linkcode Reply}; problems are codes with data, and
 * what the server tells members on its own is a typed {@linkcode ServerNotice}.
 *
 * Nick claims go through the {@linkcode Directory}, room messages, topics,
 * accounts and bans into the {@linkcode Store}, and what members of other
 * servers there are comes from the {@linkcode Presence}; all may be remote, so
 * those calls are asynchronous.
 *
 * @module
 */

import { AccountFlows } from "./account_flows.ts";
import { BigRooms } from "./big_rooms.ts";
import { Accounts } from "./accounts.ts";
import type { Budgets } from "./budgets.ts";
import { type Bus, LocalBus } from "./bus.ts";
import type {
  Command,
  Moderated,
  OperatorCommand,
  Problem,
  ProvedAccount,
  Refused,
  Reply,
  SayExtra,
} from "./commands.ts";
import { ChannelOps } from "./channel_ops.ts";
import { modesFromStore } from "./channel_modes.ts";
import { Delivery } from "./delivery.ts";
import { DEFAULT_MAX_SESSIONS, Devices, type Resumed } from "./devices.ts";
import { type Directory, MemoryDirectory } from "./directory.ts";
import type { ChatEvent, Clock, MessageEvent, QuitReason, ServerNotice } from "./events.ts";
import { EventIds } from "./ids.ts";
import { systemClock } from "./events.ts";
import { Membership, type NickListener } from "./membership.ts";
import { MessagePath } from "./message_path.ts";
import { Bans, Moderation } from "./moderation.ts";
import { Mutes } from "./mutes.ts";
import { LocalPresence, type Presence, type RemoteMember } from "./presence.ts";
import { Queries } from "./queries.ts";
import {
  type ChatMember,
  type ChatRoom,
  type Device,
  type Endpoint,
  Member,
  type Renderer,
} from "./records.ts";
import { Registry } from "./registry.ts";
import { MemoryStore, type Store } from "./store.ts";
import { MEMORY_HISTORY } from "./history.ts";
import { PrivateKeeper } from "./private_history.ts";
import { Scrollback } from "./scrollback.ts";
import { Whowas } from "./whowas.ts";
import { errorText } from "../errors.ts";
import { nameKey } from "../protocol/names.ts";

export type { ChatMember, ChatRoom, DeviceNotice, Endpoint, Removal, Renderer } from "./records.ts";
export type { Resumed } from "./devices.ts";
export type { NickListener } from "./membership.ts";
export type { ProvedAccount } from "./commands.ts";

/** Settings of a chat. */
export interface ChatOptions {
  /** Messages per room replayed to whoever enters it (0 = none). */
  history?: number;
  /** Most rooms at once, the lobby included. */
  maxRooms?: number;
  /** Most rooms one member may be in at once (IRC's CHANLIMIT); 50 by default. */
  maxRoomsPerMember?: number;
  /** This server's id, the prefix of its members' ids. */
  node?: string;
  directory?: Directory;
  /** Rooms, topics, history, accounts, bans; in memory by default. */
  store?: Store;
  bus?: Bus;
  presence?: Presence;
  clock?: Clock;
  /** Only members who proved a registered nick may speak and enter rooms. */
  requireAccount?: boolean;
  /** The password of `/oper` (`--oper-password-file`); none: nobody can become an operator. */
  operPassword?: string | null;
  /**
   * Budgets of expensive work: password checks, registrations, `/oper`
   * attempts, and how IPv6 addresses are counted (`budgets.ts`; each one not
   * given keeps its default).
   */
  budgets?: Partial<Budgets>;
  /** Where the chat reports what it could not do (a store or link that failed); the log. */
  onError?: (message: string) => void;
  /** The shortest password an account may get, in characters (8 by default). */
  minPasswordLength?: number;
  /**
   * Whether someone not in the chat yet may register a nick (IRC's REGISTER before
   * connecting; true by default). Front ends ask {@linkcode Chat.registersBeforeEntering}.
   */
  registerBeforeEntering?: boolean;
  /** Most devices one account may have connected at once (`--max-sessions`; 5 by default). */
  maxSessions?: number;
}

/** The chat core, as front ends see it. */
export class Chat {
  /** The ban list, checked for every accepted connection. */
  readonly bans: Bans;
  /** Most rooms one member may be in at once (announced to IRC clients as CHANLIMIT). */
  readonly maxRoomsPerMember: number;
  /** Someone not in the chat yet may register a nick ({@linkcode registerNick}). */
  readonly registersBeforeEntering: boolean;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #requireAccount: boolean;
  readonly #registry: Registry;
  readonly #delivery: Delivery;
  readonly #path: MessagePath;
  readonly #membership: Membership;
  readonly #accounts: AccountFlows;
  readonly #queries: Queries;
  readonly #moderation: Moderation;
  readonly #mutes: Mutes;
  readonly #channels: ChannelOps;
  readonly #devices: Devices;
  /** The other servers' members as last asked for by {@linkcode findOnline}. */
  #elsewhereView: { at: number; members: Promise<RemoteMember[]> } | null = null;
  readonly #scrollback: Scrollback;

  constructor(options: ChatOptions = {}) {
    const historySize = options.history ?? 50;
    const store = this.#store = options.store ??
      new MemoryStore(Math.max(historySize, MEMORY_HISTORY));
    const clock = this.#clock = options.clock ?? systemClock;
    const directory = options.directory ?? new MemoryDirectory();
    const ids = new EventIds(clock);
    const presence = options.presence ?? new LocalPresence();
    const onError = options.onError ?? (() => {});
    this.#requireAccount = options.requireAccount ?? false;
    this.maxRoomsPerMember = options.maxRoomsPerMember ?? 50;
    const registry = this.#registry = new Registry({ store, presence, clock });
    // Every event passes big rooms' rule on its way out (quiet entrances, `big_rooms.ts`).
    const bus = new BigRooms(registry, { clock, node: options.node ?? "local" })
      .over(stamped(options.bus ?? new LocalBus(), ids));
    const whowas = new Whowas();
    const queries = this.#queries = new Queries({ registry, presence, clock, whowas, onError });
    const path = this.#path = new MessagePath({
      registry,
      history: store.history,
      bus,
      directory,
      clock,
      requireAccount: this.#requireAccount,
      elsewhere: () => queries.elsewhere(),
      ids,
    });
    this.registersBeforeEntering = options.registerBeforeEntering ?? true;
    const accounts = new Accounts(store, {
      clock,
      onError,
      budgets: options.budgets,
      minPassword: options.minPasswordLength,
    });
    const membership = this.#membership = new Membership({
      registry,
      directory,
      accounts,
      store,
      history: store.history,
      bus,
      presence,
      clock,
      whowas,
      node: options.node ?? "local",
      historySize,
      maxRooms: options.maxRooms ?? 1000,
      maxRoomsPerMember: this.maxRoomsPerMember,
      flush: () => path.flush(),
      onError,
      elsewhereIn: (room) => queries.census(room).then((count) => count.inRoom - room.size),
      attach: (endpoint, account) => this.#devices.attach(endpoint, account),
    });
    let mirrored = 0;
    const node = options.node ?? "local";
    const devices = this.#devices = new Devices({
      registry,
      membership,
      store,
      history: store.history,
      bus,
      clock,
      historySize,
      maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS,
      elsewhere: options.presence === undefined ? undefined : () => queries.elsewhereAll(),
      newId: () => `${node}/d${++mirrored}`,
      onError,
    });
    const channels = this.#channels = new ChannelOps({
      registry,
      membership,
      store,
      bus,
      clock,
      elsewhere: () => queries.elsewhere(),
    });
    this.#delivery = new Delivery(registry, {
      follow: (event, room) => channels.follow(event, room),
      moderated: (event) => this.#moderation.follow(event),
    });
    const accountFlows = this.#accounts = new AccountFlows({
      registry,
      accounts,
      membership,
      operPassword: options.operPassword ?? null,
      notify: (notice, to) => this.#notifyMember(notice, to),
      clock,
      budgets: options.budgets,
      join: (m, account) => devices.join(m, account),
    });
    this.bans = new Bans(store, clock);
    const mutes = this.#mutes = new Mutes(store, clock);
    this.#moderation = new Moderation({
      registry,
      bans: this.bans,
      queries,
      membership,
      accounts: accountFlows,
      store,
      bus,
      clock,
      mutes,
      node: options.node ?? "local",
      notify: (notice, to) => this.#notifyMember(notice, to),
    });
    this.#scrollback = new Scrollback({ history: store.history, registry, onError });
    const keeper = new PrivateKeeper(registry, store.history);
    bus.deliverTo((events) => {
      keeper.delivered(events); // kept before anyone sees it, as room messages are
      this.#delivery.deliver(events);
      this.#membership.seen(events);
      devices.delivered(events);
    });
  }

  /**
   * Reads what the store kept from before (rooms with their topics and where
   * their numbering was, bans, mutes). Call it once, before members come. Returns
   * what could not be read (a store that is not answering: the bans are read
   * again by whoever keeps them fresh, see {@linkcode Bans.load}).
   */
  async load(): Promise<string[]> {
    const registry = this.#registry;
    for (const stored of await this.#store.rooms()) {
      const room = registry.room(stored.key) ?? registry.createRoom(stored.name, stored.key, null);
      room.topic = stored.topic;
      room.seq = Math.max(room.seq, stored.seq);
      room.kept = stored.topic !== null || stored.seq > 0;
      room.lastUsed = stored.lastUsed;
      if (stored.modes !== undefined) {
        room.modes = modesFromStore(stored.modes);
        room.created = Number(stored.modes.created) || room.created;
      }
      for (const [id, status] of Object.entries(stored.statuses ?? {})) {
        if (status.includes("o")) room.operators.add(id);
        if (status.includes("v")) room.voiced.add(id);
      }
    }
    const problems: string[] = [];
    try {
      await this.bans.load();
    } catch (error) {
      problems.push(`the bans could not be read: ${errorText(error)}`);
    }
    try {
      await this.#mutes.load();
    } catch (error) {
      problems.push(`the mutes could not be read: ${errorText(error)}`);
    }
    return problems;
  }

  /** Messages (room and private) handed to members of this server so far, one per recipient. */
  get deliveries(): number {
    return this.#delivery.deliveries;
  }

  /** Members in the chat on this server. */
  get online(): number {
    return this.#registry.online;
  }

  /** The member using `nick` (any case) on this server, if any. */
  find(nick: string): ChatMember | undefined {
    return this.#registry.byKey(nameKey(nick));
  }

  /** The room called `name` (any case), if it exists. */
  findRoom(name: string): ChatRoom | undefined {
    return this.#registry.room(nameKey(name));
  }

  /** Every member on this server. */
  members(): IterableIterator<ChatMember> {
    return this.#registry.members();
  }

  /**
   * Brings a newcomer into the chat under a free `guest-N` nick, in no room
   * yet. `user` defaults to the guest nick.
   */
  async enterAsGuest(endpoint: Endpoint, user?: string): Promise<ChatMember> {
    const member = await this.#membership.enterAsGuest(endpoint, user);
    this.#queries.entered();
    return (member as Member).devices[0];
  }

  /**
   * Brings a newcomer into the chat under `nick`, in no room yet; refused when
   * it cannot have it. A registered nick needs its `password` (IRC's PASS), or its
   * account proved already ({@linkcode authenticate}: IRC's SASL); a proved account is
   * the member's whatever nick it has.
   */
  async enter(
    endpoint: Endpoint,
    nick: string,
    user: string,
    password?: string | ProvedAccount,
  ): Promise<ChatMember | Refused> {
    const entered = await this.#membership.enter(endpoint, nick, user, password);
    if ("kind" in entered) return entered;
    this.#queries.entered();
    return entered instanceof Member ? entered.devices[0] : entered;
  }

  /**
   * What a device that just entered is told about its member's rooms: those of
   * the member it attached to (another device of its account was here), or
   * those its account was in when its last device left, which it is put back
   * in now (`--data`, `--cluster`); none otherwise. See `devices.ts`.
   */
  resume(member: ChatMember): Promise<Resumed> {
    return this.#devices.resume(member as Device);
  }

  /** How many devices the member of `member` (a device or a member) has connected here. */
  devices(member: ChatMember): number {
    return this.#devices.count(member);
  }

  /**
   * Moves the member's read marker of `target` (`#room` or a nick) to `time` (`now`: the
   * chat's clock) when it is later, telling its other devices; without `time`, only reads
   * it. Resolves with the marker now (ms since the epoch), or null when there is none.
   */
  markRead(member: ChatMember, target: string, time?: number | "now"): Promise<number | null> {
    return this.#devices.markRead(
      member as Device,
      target,
      time === "now" ? this.#clock() : time,
    );
  }

  /** Whether account `key`'s member takes several devices at once (`multiclient`). */
  multiclient(key: string): Promise<boolean> {
    return this.#devices.multiclient(key);
  }

  /** Sets whether the member's account takes several devices at once; false: not identified. */
  async setMulticlient(member: ChatMember, on: boolean): Promise<boolean> {
    if (member.account === null) return false;
    await this.#devices.setMulticlient(member.account, on);
    return true;
  }

  /**
   * Takes a member out of the chat and out of its rooms. Those who shared a
   * room with it are told why, unless `announce` is false (at shutdown).
   */
  leave(
    member: ChatMember,
    why: { reason: QuitReason; detail?: string; announce?: boolean },
  ): void {
    this.#devices.leave(member as Device, why);
  }

  /**
   * Says `text` in `room` (an action for `/me`, an IRC NOTICE with `notice`):
   * the message path. Batched until {@linkcode flush}; refused when the member
   * is not in the room, is muted, or (with `requireAccount`) has not proved a nick.
   */
  say(
    member: ChatMember,
    room: ChatRoom,
    text: string,
    action = false,
    notice = false,
    extra?: SayExtra,
  ): Problem | MessageEvent {
    // Muted under its nick or account (maybe on another server); a device speaks for its member.
    this.#mutes.sync((member as { member?: Member }).member ?? member as Member);
    return this.#path.say(member, room, text, action, notice, extra);
  }

  /** Publishes the room messages said since the last flush, as one batch. */
  flush(): void {
    this.#path.flush();
  }

  /**
   * Overload (SPEC §4): a member's output is behind (`holding`) or has caught
   * up. While any member of a room holds it, the room's talkers wait at
   * {@linkcode gate} before their next read.
   */
  hold(member: ChatMember, holding: boolean): void {
    this.#path.hold(member, holding);
  }

  /** What a member must wait for before reading more from it, or null to read at once. */
  gate(member: ChatMember): Promise<void> | null {
    return this.#path.gate(member);
  }

  /** A member's events are rendered differently from now on (an IRC client asked for tags). */
  setRenderer(member: ChatMember, renderer: Renderer): void {
    this.#path.setRenderer(member, renderer);
  }

  /**
   * Tells this server's members something (the link to other servers is lost
   * or back, a member's lines did not go out): to one member (`to`, its id) or
   * to everyone. Delivered here only, never published.
   */
  notify(notice: ServerNotice, to?: string): void {
    if (to === undefined) {
      return this.#delivery.notice({ kind: "notice", notice, time: this.#clock(), origin: "" });
    }
    const member = this.#registry.byId(to);
    if (member !== undefined) this.#notifyMember(notice, member);
  }

  /** The nick of member `id` is held by someone else now (a clash after a lost link): a guest nick. */
  async lostNick(id: string, holder: string | null): Promise<void> {
    const m = this.#registry.byId(id);
    if (m === undefined || !m.present) return;
    const from = m.nick;
    await this.#membership.renameToGuest(m);
    this.#notifyMember({ code: "nick-lost", from, to: m.nick, elsewhere: holder !== null }, m);
  }

  /** Carries out `command` for `member`. */
  apply<C extends Command>(member: ChatMember, command: C): Promise<Reply<C>>;
  async apply(member: ChatMember, command: Command): Promise<Reply> {
    const d = member as Device;
    const m = d.member;
    this.flush();
    if (m.devices.length < 2 && command.kind !== "identify" && command.kind !== "login") {
      return await this.#apply(d, m, command);
    }
    const had = command.kind === "join" &&
      m.rooms.some((room) => room.key === nameKey(command.room.normalize("NFC")));
    const reply = await this.#apply(d, m, command);
    this.#devices.echo(d, command, reply, had);
    return reply;
  }

  async #apply(d: Device, m: Member, command: Command): Promise<Reply> {
    switch (command.kind) {
      case "nick": {
        const from = m.key;
        const renamed = await this.#membership.rename(m, command.nick);
        if (renamed.kind === "renamed") this.#moderation.renamed(m, from);
        return renamed;
      }
      case "join":
        if (this.#requireAccount && m.account === null) {
          return { kind: "refused", problem: { code: "account-required" } };
        }
        return await this.#membership.join(m, command.room, command.move, command.key, d);
      case "part":
        return this.#membership.part(m, command.room, command.text);
      case "modes":
        return this.#channels.modes(m, command.room);
      case "mode":
        return await this.#channels.mode(m, command.room, command.changes);
      case "kick":
        return await this.#channels.kick(m, command.room, command.nick, command.reason);
      case "invite":
        return await this.#channels.invite(m, command.room, command.nick);
      case "invites":
        return this.#channels.invites(m);
      case "private":
        this.#mutes.sync(m);
        return await this.#path.private(m, command, d);
      case "who":
        return await this.#queries.who(command.room, m, command.listed);
      case "rooms":
        return await this.#queries.rooms(m);
      case "topic":
        return this.#membership.topic(m, command.room, command.text);
      case "whois":
        return await this.#queries.whois(command.nick, m);
      case "whowas":
        return this.#queries.whowas(command.nick, command.count);
      case "members":
        return await this.#queries.members(m);
      case "lusers":
        return await this.#queries.lusers(command.recent);
      case "realname":
        return this.#membership.realname(m, command.realname);
      case "user-mode":
        return this.#membership.userMode(m, command);
      case "away":
        return this.#membership.away(m, command.text);
      case "register":
        return await this.#accounts.register(m, command.password);
      case "login":
        return await this.#accounts.login(m, command.account);
      case "identify":
        return await this.#accounts.identify(m, command.nick ?? m.nick, command.password);
      case "drop":
        return await this.#accounts.drop(m, command.nick);
      case "password":
        return await this.#accounts.password(m, command);
      case "oper":
        return await this.#accounts.oper(m, command.password);
      case "moderate":
        if (!m.operator) return { kind: "refused", problem: { code: "not-server-operator" } };
        return await this.moderate(m, command.command);
      case "history":
        return await this.#scrollback.read(m, command.target, command.request);
      case "history-targets":
        return await this.#scrollback.targets(m, command.from, command.to, command.limit);
      case "search":
        return await this.#scrollback.search(m, command.room, command.text, command.limit);
    }
  }

  /**
   * Carries out an operator command: from the server console (`by` null) or
   * from a member who is a server operator.
   */
  moderate(by: ChatMember | null, command: OperatorCommand): Promise<Moderated | Refused> {
    this.flush();
    const member = by === null ? null : (by as Device).member ?? (by as Member);
    return this.#moderation.moderate(member, command);
  }

  /**
   * How many are online, and in `room`, on every server: what a newcomer is
   * told (the other servers counted from a view at most a second old).
   */
  census(room: { name: string; size: number }): Promise<{ online: number; inRoom: number }> {
    return this.#queries.census(room);
  }

  /**
   * Proves the account `name` with its password, for a client from `address` that may not
   * be in the chat yet (IRC's SASL), within the same per-address budgets as /identify.
   * The proof is given to {@linkcode enter} or applied with a `login` command.
   */
  authenticate(address: string, name: string, password: string): Promise<ProvedAccount | Refused> {
    return this.#accounts.authenticate(address, name, password);
  }

  /**
   * Registers nick `nick` for a client from `address` that is not in the chat yet (IRC's
   * REGISTER before connecting): refused when anyone holds the nick; the account is then
   * proved. Front ends offer it only when {@linkcode registersBeforeEntering}.
   */
  registerNick(address: string, nick: string, password: string): Promise<ProvedAccount | Refused> {
    return this.#accounts.registerNick(address, nick, password);
  }

  /** Tells `listener` whenever a nick comes online or goes offline (IRC's MONITOR). */
  watchNicks(listener: NickListener): void {
    this.#membership.watchNicks(listener);
  }

  /**
   * Which of `nicks` are online, on any server (IRC's MONITOR): by key, each nick as it
   * is written now. The other servers are asked only when some are not here, and at most
   * once a second for everyone (a view of their members at most a second old), so that
   * MONITOR sent in a loop costs the cluster nothing more.
   */
  async findOnline(nicks: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const rest = new Set<string>();
    for (const nick of nicks) {
      const key = nameKey(nick);
      const member = this.#registry.byKey(key);
      if (member !== undefined) found.set(key, member.nick);
      else rest.add(key);
    }
    if (rest.size === 0) return found;
    const now = this.#clock();
    if (this.#elsewhereView === null || now - this.#elsewhereView.at > 1000) {
      this.#elsewhereView = { at: now, members: this.#queries.elsewhere() };
    }
    for (const member of await this.#elsewhereView.members) {
      const key = nameKey(member.nick);
      if (rest.has(key)) found.set(key, member.nick);
    }
    return found;
  }

  #notifyMember(notice: ServerNotice, member: Member): void {
    this.#delivery.notice({
      kind: "notice",
      notice,
      to: member.nick,
      time: this.#clock(),
      origin: "",
    });
  }
}

/** A bus that gives every event published without an id one (the message path gives its own). */
function stamped(bus: Bus, ids: EventIds): Bus {
  return {
    publish(events: readonly ChatEvent[]): void {
      for (const event of events) event.id ??= ids.next();
      bus.publish(events);
    },
    deliverTo: (deliver) => bus.deliverTo(deliver),
  };
}
