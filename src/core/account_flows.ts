/**
 * What members do with accounts (SPEC §10): register their nick, prove one
 * (and take it from whoever holds it), change a password, give an account up,
 * and become a server operator. The rules of accounts themselves (hashes,
 * budgets, reserved names) are {@linkcode Accounts}' and the operator
 * password's {@linkcode OperPassword}'s; this module decides what they do to
 * members. Each request is budgeted by the member's address; an operator
 * acting on someone else's account (or the console) is not.
 *
 * @module
 */

import type { Accounts } from "./accounts.ts";
import type { Budgets } from "./budgets.ts";
import type { Command, Problem, ProvedAccount, Refused, Replies } from "./commands.ts";
import type { Clock, ServerNotice } from "./events.ts";
import type { Membership } from "./membership.ts";
import { OperPassword } from "./oper.ts";
import type { Member } from "./records.ts";
import type { Registry } from "./registry.ts";
import { isReservedName } from "./nick_claims.ts";
import { nameKey, nickProblem } from "../protocol/names.ts";

/** Account commands, carried out for a member. */
export class AccountFlows {
  readonly #registry: Registry;
  readonly #accounts: Accounts;
  readonly #membership: Membership;
  readonly #operPassword: OperPassword;
  readonly #notify: (notice: ServerNotice, to: Member) => void;
  readonly #join:
    | ((m: Member, account: ProvedAccount) => Promise<Member | Refused | null>)
    | undefined;

  constructor(options: {
    registry: Registry;
    accounts: Accounts;
    membership: Membership;
    /** The password of `/oper`; null: nobody can become an operator. */
    operPassword: string | null;
    /** Tells one member something about itself. */
    notify: (notice: ServerNotice, to: Member) => void;
    clock: Clock;
    /** The budgets of `/oper` attempts (the defaults: `DEFAULT_BUDGETS`). */
    budgets?: Partial<Budgets>;
    /**
     * `m` proved `account`, whose member is in the chat on other devices: `m`'s devices
     * become that member's (`devices.ts`); returns it, a refusal, or null (nobody to join).
     */
    join?: (m: Member, account: ProvedAccount) => Promise<Member | Refused | null>;
  }) {
    this.#registry = options.registry;
    this.#accounts = options.accounts;
    this.#membership = options.membership;
    this.#operPassword = new OperPassword(options.operPassword, {
      clock: options.clock,
      budgets: options.budgets,
    });
    this.#notify = options.notify;
    this.#join = options.join;
  }

  async register(m: Member, password: string): Promise<Replies["register"]> {
    if (m.account === m.key) return refused({ code: "nick-registered", nick: m.nick });
    const problem = await this.#accounts.register(m.endpoint.address, m.key, m.nick, password);
    if (problem) return refused(problem);
    this.#membership.setAccount(m, { key: m.key, name: m.nick });
    return { kind: "registered", nick: m.nick };
  }

  /**
   * Registers nick `wanted` for someone not in the chat yet (IRC's REGISTER before
   * connecting), from `address`: refused when anyone holds it. The account is then proved.
   */
  async registerNick(
    address: string,
    wanted: string,
    password: string,
  ): Promise<ProvedAccount | Refused> {
    const nick = wanted.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    if (isReservedName(nick, key)) return refused({ code: "nick-reserved", nick });
    if (await this.#membership.isHeld(key)) return refused({ code: "nick-taken", nick });
    const problem = await this.#accounts.register(address, key, nick, password);
    return problem ? refused(problem) : { key, name: nick };
  }

  /** Proves an account for someone not in the chat yet (SASL before registering). */
  async authenticate(
    address: string,
    wanted: string,
    password: string,
  ): Promise<ProvedAccount | Refused> {
    const nick = wanted.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const proved = await this.#accounts.authenticate(address, nameKey(nick), nick, password);
    return "code" in proved ? refused(proved) : proved;
  }

  /** The member has proved `account` (SASL once registered): it is the member's, its nick unchanged. */
  async login(m: Member, account: ProvedAccount): Promise<Replies["login"]> {
    const from = m.nick;
    const joined = await this.#join?.(m, account);
    if (joined) {
      if ("kind" in joined) return joined;
      const reply: Replies["login"] = {
        kind: "logged-in",
        account: account.name,
        attached: joined.devices.length,
      };
      if (joined.nick !== from) reply.renamedFrom = from;
      return reply;
    }
    this.#membership.setAccount(m, account);
    return { kind: "logged-in", account: account.name };
  }

  /** Proves nick `wanted`: the member then has it, and whoever held it here is renamed and told. */
  async identify(m: Member, wanted: string, password: string): Promise<Replies["identify"]> {
    const nick = wanted.normalize("NFC");
    const why = nickProblem(nick);
    if (why) return refused({ code: "nick-invalid", nick, why });
    const key = nameKey(nick);
    const proved = await this.#accounts.authenticate(m.endpoint.address, key, nick, password);
    if ("code" in proved) return refused(proved);
    // The account's member is here on other devices: this client becomes one of them.
    const from = m.nick;
    const joined = await this.#join?.(m, proved);
    if (joined) {
      if ("kind" in joined) return joined;
      return {
        kind: "identified",
        nick: joined.nick,
        renamedFrom: joined.nick === from ? null : from,
        displaced: null,
        attached: joined.devices.length,
      };
    }
    this.#membership.setAccount(m, proved);
    if (m.key === key) {
      return { kind: "identified", nick: m.nick, renamedFrom: null, displaced: null };
    }
    let displaced: string | null = null;
    const holder = this.#registry.byKey(key);
    if (holder && holder !== m) {
      displaced = holder.nick;
      await this.#membership.renameToGuest(holder);
      this.#notify({ code: "nick-displaced", from: displaced, to: holder.nick }, holder);
    }
    const before = m.nick;
    const renamed = await this.#membership.changeNick(m, nick, key);
    if (renamed.kind === "refused") return renamed;
    return { kind: "identified", nick, renamedFrom: before, displaced };
  }

  /** Gives up the member's own account, or (operators; `by` null is the console) `nick`'s. */
  async drop(m: Member | null, nick: string | undefined): Promise<Replies["drop"]> {
    if (nick !== undefined && (m === null || nameKey(nick) !== m.key)) {
      if (m !== null && !m.operator) return refused({ code: "not-server-operator" });
      const problem = await this.#accounts.drop(nameKey(nick), nick);
      if (problem) return refused(problem);
      this.#loggedOut(nameKey(nick));
      return { kind: "dropped", nick };
    }
    if (m === null) return refused({ code: "not-registered", nick: nick ?? "" });
    if (m.account !== m.key) return refused({ code: "not-identified", nick: m.nick });
    const problem = await this.#accounts.drop(m.key, m.nick);
    if (problem) return refused(problem);
    this.#loggedOut(m.key);
    return { kind: "dropped", nick: m.nick };
  }

  /** The account of `key` is gone: whoever here had proved it has no account now. */
  #loggedOut(key: string): void {
    for (const member of this.#registry.members()) {
      if (member.account === key) this.#membership.setAccount(member, null);
    }
  }

  /** A new password: the member's own (with the old one), or (operators; null: the console) `nick`'s. */
  async password(
    m: Member | null,
    command: Extract<Command, { kind: "password" }>,
  ): Promise<Replies["password"]> {
    if (command.nick !== undefined && (m === null || nameKey(command.nick) !== m.key)) {
      if (m !== null && !m.operator) return refused({ code: "not-server-operator" });
      const problem = await this.#accounts.setPassword(
        null,
        nameKey(command.nick),
        command.nick,
        command.password,
      );
      return problem ? refused(problem) : { kind: "password-changed", nick: command.nick };
    }
    if (m === null) return refused({ code: "not-registered", nick: command.nick ?? "" });
    if (m.account !== m.key) return refused({ code: "not-identified", nick: m.nick });
    const checked = await this.#accounts.check(
      m.endpoint.address,
      m.key,
      m.nick,
      command.old ?? "",
    );
    if (checked) return refused(checked);
    const problem = await this.#accounts.setPassword(
      m.endpoint.address,
      m.key,
      m.nick,
      command.password,
    );
    return problem ? refused(problem) : { kind: "password-changed", nick: m.nick };
  }

  async oper(m: Member, password: string): Promise<Replies["oper"]> {
    const problem = await this.#operPassword.check(m.endpoint.address, password);
    if (problem) return refused(problem);
    m.operator = true;
    return { kind: "oper" };
  }
}

function refused(problem: Problem): Refused {
  return { kind: "refused", problem };
}
