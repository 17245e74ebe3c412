/**
 * SASL for IRC clients (IRCv3 SASL 3.1 and 3.2): `AUTHENTICATE PLAIN`, the
 * server's `AUTHENTICATE +`, then the client's response in base64, in chunks
 * of 400 bytes (a final `AUTHENTICATE +` when it is a multiple of 400),
 * proved against parley's accounts with the same per-address budgets as
 * NickServ IDENTIFY (`Chat.authenticate`).
 *
 * ```
 * idle ──AUTHENTICATE PLAIN──► AUTHENTICATE + ──chunks…──► check ──► 900 + 903
 *   ▲                                │  * → 906                 └──► 904
 *   └───────── any end ──────────────┘  >400 in one chunk → 905
 * ```
 *
 * Before registration the proved account is kept for entering: the client
 * enters with the nick it asked for (a registered nick of that account needs
 * no other password) and has the account whatever its nick. Once registered,
 * SASL may be used again at any time (SASL 3.2's reauthentication): the
 * account changes, the nick does not, and the member's channels are told
 * (account-notify). parley never answers 907: authenticating again is allowed.
 *
 * Only PLAIN is offered. EXTERNAL needs the client's TLS certificate, which
 * Deno's TLS listener can neither ask for nor show (`Deno.listenTls` has no
 * client-authentication option, and a `TlsConn`'s handshake tells only the
 * ALPN protocol).
 *
 * @module
 */

import type { IrcMessage } from "../../protocol/irc/message.ts";
import { accountNamed, problemText } from "../words.ts";
import type { IrcContext } from "./context.ts";
import { joinedAccount } from "./devices.ts";
import * as N from "./numerics.ts";

/** The mechanisms offered, as RPL_SASLMECHS (908) and `CAP LS 302`'s `sasl=` list them. */
export const MECHANISMS = ["PLAIN"] as const;

/** The longest chunk of a response (SASL 3.1): a longer one gets 905. */
const CHUNK_BYTES = 400;
/**
 * The longest whole response, in base64 characters (6 chunks: a nick, and a password of
 * up to about 1,700 bytes). Longer: 904, and whatever the client keeps sending is not kept.
 */
const MAX_RESPONSE = 6 * CHUNK_BYTES;

/** An exchange in progress: the mechanism was accepted, the response is coming. */
interface Exchange {
  /** The base64 response so far. */
  response: string;
}

/** Each session's exchange in progress (none: not in the map). */
const exchanges = new WeakMap<IrcContext, Exchange>();

/** `AUTHENTICATE <mechanism>`, `AUTHENTICATE <chunk>`, `AUTHENTICATE +`, `AUTHENTICATE *`. */
export function authenticate(context: IrcContext, message: IrcMessage): void | Promise<void> {
  const [param] = message.params;
  const exchange = exchanges.get(context);
  if (exchange === undefined) return start(context, param);
  if (param === "*") {
    exchanges.delete(context);
    return context.numeric(N.ERR_SASLABORTED, "SASL authentication aborted");
  }
  if (param.length > CHUNK_BYTES) {
    exchanges.delete(context);
    return context.numeric(N.ERR_SASLTOOLONG, "SASL message too long");
  }
  if (param !== "+") exchange.response += param;
  if (exchange.response.length > MAX_RESPONSE) {
    exchanges.delete(context);
    return failed(context, "SASL authentication failed: the response is too long");
  }
  // A full chunk: more may follow (a response of exactly 400·n ends with `+`).
  if (param.length === CHUNK_BYTES) return;
  exchanges.delete(context);
  return plain(context, exchange.response);
}

/**
 * Registration is ending (CAP END) while an exchange is open: it is given up
 * with 906 and the client registers without an account (SASL 3.1).
 */
export function abortSasl(context: IrcContext): void {
  if (!exchanges.delete(context)) return;
  context.numeric(N.ERR_SASLABORTED, "SASL authentication aborted");
}

function start(context: IrcContext, mechanism: string): void {
  // A client that negotiated capabilities may authenticate without asking for sasl (as ergo
  // lets it: irctest's bouncer.py does so); one that never spoke CAP is told to ask.
  if (!context.caps.has("sasl") && !context.negotiated) {
    return failed(context, "SASL authentication failed: ask for the sasl capability first");
  }
  if (mechanism.toUpperCase() !== "PLAIN") {
    context.numericData(N.RPL_SASLMECHS, MECHANISMS.join(","), "are available SASL mechanisms");
    return failed(context, "SASL authentication failed");
  }
  exchanges.set(context, { response: "" });
  context.sendLine(`AUTHENTICATE +\r\n`);
}

/** A PLAIN response (RFC 4616: `[authzid] NUL authcid NUL password`), checked and proved. */
async function plain(context: IrcContext, response: string): Promise<void> {
  const parts = decodePlain(response);
  if (parts === null) return failed(context, "SASL authentication failed: not a PLAIN response");
  const [authzid, authcid, password] = parts;
  // Acting as someone else (an authzid that is not the authcid) is not offered.
  if (authzid !== "" && authzid.toLowerCase() !== authcid.toLowerCase()) {
    return failed(context, "SASL authentication failed: you may act only as yourself");
  }
  const proved = await context.chat.authenticate(
    context.transport.peer.hostname,
    authcid,
    password,
  );
  if ("kind" in proved) {
    context.account(`sasl failed: ${proved.problem.code}`, accountNamed(proved.problem, authcid));
    return failed(context, `SASL authentication failed: ${problemText(proved.problem)}`);
  }
  if (context.registered) {
    const member = context.member;
    const from = {
      nick: member.nick,
      user: member.user,
      rooms: member.rooms.map((room) => room.name),
    };
    const reply = await context.chat.apply(member, { kind: "login", account: proved });
    if (reply.kind === "refused") {
      context.account(`sasl failed: ${reply.problem.code}`, proved.name);
      return failed(context, `SASL authentication failed: ${problemText(reply.problem)}`);
    }
    // The account was connected on other devices: this client is one of them now.
    if (reply.attached !== undefined) await joinedAccount(context, from);
  } else {
    context.provedAccount = proved;
  }
  context.account("identified by SASL", proved.name);
  loggedIn(context, proved.name);
  context.numeric(N.RPL_SASLSUCCESS, "SASL authentication successful");
}

/** RPL_LOGGEDIN (900): the client has account `account` now (SASL, REGISTER). */
export function loggedIn(context: IrcContext, account: string): void {
  const user = context.registered ? context.member.user : "*";
  context.numeric(
    N.RPL_LOGGEDIN,
    `${context.nick}!${user}@${context.irc.name}`,
    account,
    `You are now logged in as ${account}`,
  );
}

function failed(context: IrcContext, text: string): void {
  context.numeric(N.ERR_SASLFAIL, text);
}

/**
 * The three parts of a PLAIN response in base64, or null when it is not one:
 * not base64, not UTF-8, not exactly three parts (a NUL in the password makes
 * four), or an empty authcid or password.
 */
export function decodePlain(base64: string): [string, string, string] | null {
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return null;
  let text: string;
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const parts = text.split("\0");
  if (parts.length !== 3 || parts[1] === "" || parts[2] === "") return null;
  return [parts[0], parts[1], parts[2]];
}
