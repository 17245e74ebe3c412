/**
 * IRCv3 `draft/account-registration`: `REGISTER <account> <email> <password>`
 * and `VERIFY <account> <code>`, on parley's accounts, where an account is a
 * registered nick.
 *
 * - The account is the client's nick: `*` names it, another name gets
 *   `FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK` (`custom-account-name` is not
 *   offered).
 * - No email: `*` or an address are both accepted, and an address is not kept
 *   (`email-required` is not offered), so nothing is ever waiting for VERIFY.
 * - Before connecting (`before-connect`, unless the server was started with
 *   `--no-register-before-connect`): a client that sent NICK registers that
 *   nick if nobody holds it; it is then logged in, and enters with it.
 * - The same budgets as NickServ REGISTER (registrations per address and per
 *   server); over budget is `TEMPORARILY_UNAVAILABLE` with the seconds to wait.
 *
 * A registration logs the client in: 900 (RPL_LOGGEDIN), then `REGISTER
 * SUCCESS`. Refusals are standard replies: `FAIL REGISTER <code> <account> :why`.
 *
 * @module
 */

import { nameKey } from "../../protocol/names.ts";
import type { Problem } from "../../core/commands.ts";
import { echoParam, formatMessage, type IrcMessage } from "../../protocol/irc/message.ts";
import { cleanString as clean } from "../../text.ts";
import { problemText } from "../words.ts";
import type { IrcContext } from "./context.ts";
import { loggedIn } from "./sasl.ts";

/** The capability, and its value for `CAP LS 302` (see capabilities.ts). */
export const ACCOUNT_REGISTRATION = "draft/account-registration";

/** `REGISTER <account> <email> <password>`, before and after registration. */
export async function register(context: IrcContext, message: IrcMessage): Promise<void> {
  const [given, , password] = message.params;
  const account = echoParam(clean(given));
  if (!context.registered && !context.chat.registersBeforeEntering) {
    return fail(
      context,
      "COMPLETE_CONNECTION_REQUIRED",
      account,
      "Finish connecting (NICK, USER, CAP END) before registering",
    );
  }
  const proved = context.registered ? context.member.accountName : context.provedAccount?.name;
  if (proved) {
    return fail(context, "ALREADY_AUTHENTICATED", proved, `You are logged in as ${proved} already`);
  }
  const nick = context.registered ? context.member.nick : context.nick;
  if (nick === "*") {
    return fail(context, "NEED_NICK", account, "Send NICK first: the account is your nick");
  }
  if (account !== "*" && nameKey(account) !== nameKey(nick)) {
    return fail(
      context,
      "ACCOUNT_NAME_MUST_BE_NICK",
      account,
      `An account is a nick: change your nick to ${account} first, or register ${nick}`,
    );
  }
  if (context.registered) {
    const reply = await context.chat.apply(context.member, { kind: "register", password });
    if (reply.kind === "refused") return refused(context, nick, reply.problem);
    context.account("registered");
    loggedIn(context, reply.nick);
    return success(context, reply.nick);
  }
  const registered = await context.chat.registerNick(
    context.transport.peer.hostname,
    nick,
    password,
  );
  if ("kind" in registered) return refused(context, nick, registered.problem);
  context.provedAccount = registered;
  context.account("registered before connecting", registered.name);
  loggedIn(context, registered.name);
  return success(context, registered.name);
}

/** `VERIFY <account> <code>`: parley sends no codes, so there is never one to check. */
export function verify(context: IrcContext, message: IrcMessage): void {
  fail(
    context,
    "INVALID_CODE",
    echoParam(clean(message.params[0])),
    "parley verifies no email: a registered account needs no code",
    "VERIFY",
  );
}

function success(context: IrcContext, account: string): void {
  context.sendLine(formatMessage({
    source: context.irc.name,
    command: "REGISTER",
    params: ["SUCCESS", account, "Account created: you are logged in"],
  }, { trailing: true }));
}

/** A refused registration, as a standard reply. */
function refused(context: IrcContext, account: string, problem: Problem): void {
  fail(context, failCode(problem), account, problemText(problem));
}

/** The account-registration code of a problem. */
function failCode(problem: Problem): string {
  switch (problem.code) {
    case "nick-registered":
    case "nick-taken":
    case "nick-lookalike":
      return "ACCOUNT_EXISTS";
    case "nick-invalid":
    case "nick-reserved":
      return "BAD_ACCOUNT_NAME";
    case "password-too-short":
      return "WEAK_PASSWORD";
    default:
      // busy, too many attempts, accounts unavailable: the text says when to try again.
      return "TEMPORARILY_UNAVAILABLE";
  }
}

/** `FAIL <command> <code> <account> :<description>`. */
function fail(
  context: IrcContext,
  code: string,
  account: string,
  description: string,
  command = "REGISTER",
): void {
  context.sendLine(formatMessage({
    source: context.irc.name,
    command: "FAIL",
    params: [command, code, account || "*", description],
  }, { trailing: true }));
}
