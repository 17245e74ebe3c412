/**
 * IRCv3 `draft/chathistory` (https://ircv3.net/specs/extensions/chathistory):
 * `CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN <target> …` and
 * `CHATHISTORY TARGETS <timestamp> <timestamp> <limit>`.
 *
 * - Targets: a channel the client is in, or a nick (its own private
 *   conversation with that nick, kept when it had proved an account; see
 *   `core/scrollback.ts`). Any other channel, existing or not, gets
 *   `FAIL CHATHISTORY INVALID_TARGET`.
 * - Marks: `msgid=…` or `timestamp=YYYY-MM-DDThh:mm:ss.sssZ` (`*` for LATEST),
 *   as `MSGREFTYPES=msgid,timestamp` in 005 says; at most
 *   {@linkcode MAX_HISTORY_REQUEST} messages a request (`CHATHISTORY=` in 005),
 *   a larger limit is cut to it.
 * - The reply is one `chathistory` batch (`draft/chathistory-targets` for
 *   TARGETS), empty when there is nothing, each message rendered by the
 *   client's own renderer (so `time`, `msgid` and `account` tags follow its
 *   capabilities) with the batch's reference added. A client without `batch`
 *   gets the same lines without the batch around them.
 * - Only PRIVMSGs and NOTICEs are replayed: parley does not offer
 *   `draft/event-playback`.
 * - Errors are standard replies: `FAIL CHATHISTORY UNKNOWN_COMMAND`,
 *   `NEED_MORE_PARAMS`, `INVALID_PARAMS`, `INVALID_TARGET`, and `MESSAGE_ERROR`
 *   when the store cannot answer.
 *
 * The read is asynchronous (the store may be Redis); the message path never
 * waits for it.
 *
 * @module
 */

import type { HistoryMark, HistoryRequest, HistoryTargetName } from "../../core/history.ts";
import { MAX_HISTORY_REQUEST } from "../../core/history.ts";
import { echoParam, formatMessage, type IrcMessage } from "../../protocol/irc/message.ts";
import { formatServerTime } from "../../protocol/irc/text.ts";
import { cleanString as clean } from "../../text.ts";
import type { IrcContext } from "./context.ts";

export { MAX_HISTORY_REQUEST } from "../../core/history.ts";

/** The subcommands that read one target, with how many parameters each needs. */
const READS: Readonly<Record<string, number>> = {
  LATEST: 3,
  BEFORE: 3,
  AFTER: 3,
  AROUND: 3,
  BETWEEN: 4,
};

/** 005 tokens: the limit per request and the kinds of marks. */
export function chathistoryTokens(): string[] {
  return [`CHATHISTORY=${MAX_HISTORY_REQUEST}`, "MSGREFTYPES=msgid,timestamp"];
}

/** Batch references of this module: prefixed, so they never meet the session's own. */
let batches = 0;

/** `CHATHISTORY <subcommand> …`. */
export async function chathistory(context: IrcContext, message: IrcMessage): Promise<void> {
  const [given = "", ...rest] = message.params;
  const sub = given.toUpperCase();
  if (sub === "TARGETS") return await targets(context, rest);
  const needed = READS[sub];
  if (needed === undefined) {
    return fail(context, ["UNKNOWN_COMMAND", echoParam(clean(given))], "Unknown command");
  }
  if (rest.length < needed || rest.slice(0, needed).includes("")) {
    return fail(context, ["NEED_MORE_PARAMS", sub], "Missing parameters");
  }
  const shownTarget = echoParam(clean(rest[0]));
  const target: HistoryTargetName = rest[0].startsWith("#")
    ? { room: rest[0].slice(1) }
    : { nick: rest[0] };
  const limit = parseLimit(rest[needed - 1]);
  if (limit === null) {
    return fail(context, ["INVALID_PARAMS", sub, echoParam(clean(rest[needed - 1]))], "Bad limit");
  }
  const request = parseRequest(sub, rest.slice(1, needed - 1), limit);
  if (request === null) {
    return fail(context, ["INVALID_PARAMS", sub, shownTarget], "Bad msgid or timestamp");
  }
  const reply = await context.chat.apply(context.member, { kind: "history", target, request });
  if (reply.kind === "refused") {
    return fail(
      context,
      ["INVALID_TARGET", sub, shownTarget],
      "Messages could not be retrieved",
    );
  }
  if (reply.kind === "history-unavailable") {
    return fail(
      context,
      ["MESSAGE_ERROR", sub, shownTarget],
      "Messages could not be retrieved now; try again later",
    );
  }
  const renderer = context.renderer;
  sendBatch(context, ["chathistory", shownTarget], (tags) => {
    let text = "";
    for (const event of reply.events) text += renderer.lines(event, tags);
    return text;
  });
}

/** `CHATHISTORY TARGETS <timestamp> <timestamp> <limit>`. */
async function targets(context: IrcContext, params: string[]): Promise<void> {
  if (params.length < 3 || params.slice(0, 3).includes("")) {
    return fail(context, ["NEED_MORE_PARAMS", "TARGETS"], "Missing parameters");
  }
  const from = parseMark(params[0]);
  const to = parseMark(params[1]);
  const limit = parseLimit(params[2]);
  if (from === null || to === null || !("time" in from) || !("time" in to) || limit === null) {
    return fail(context, ["INVALID_PARAMS", "TARGETS"], "Bad timestamp or limit");
  }
  const reply = await context.chat.apply(context.member, {
    kind: "history-targets",
    from: from.time,
    to: to.time,
    limit,
  });
  if (reply.kind === "history-unavailable") {
    return fail(context, ["MESSAGE_ERROR", "TARGETS", "*"], "Targets could not be retrieved now");
  }
  const server = context.irc.name;
  sendBatch(context, ["draft/chathistory-targets"], (tags) => {
    let text = "";
    for (const found of reply.targets) {
      text += formatMessage({
        tags,
        source: server,
        command: "CHATHISTORY",
        params: [
          "TARGETS",
          found.kind === "room" ? `#${found.name}` : found.name,
          formatServerTime(found.time),
        ],
      });
    }
    return text;
  });
}

/**
 * One batch of `type` (and its parameters) around what `lines` renders with
 * the batch's tag; without the `batch` capability, the lines alone.
 */
function sendBatch(
  context: IrcContext,
  type: string[],
  lines: (tags: Record<string, string> | undefined) => string,
): void {
  if (!context.caps.has("batch")) {
    const text = lines(undefined);
    if (text !== "") context.sendLine(text);
    return;
  }
  const ref = `h${(++batches).toString(36)}`;
  const server = context.irc.name;
  context.sendLine(
    formatMessage({ source: server, command: "BATCH", params: [`+${ref}`, ...type] }) +
      lines({ batch: ref }) +
      formatMessage({ source: server, command: "BATCH", params: [`-${ref}`] }),
  );
}

/** `FAIL CHATHISTORY <code> <context…> :<description>`. */
function fail(context: IrcContext, params: string[], description: string): void {
  context.sendLine(formatMessage({
    source: context.irc.name,
    command: "FAIL",
    params: ["CHATHISTORY", ...params, description],
  }, { trailing: true }));
}

/** The request of a read subcommand from its marks (`*` only for LATEST); null when one is bad. */
function parseRequest(sub: string, marks: string[], limit: number): HistoryRequest | null {
  if (sub === "LATEST") {
    if (marks[0] === "*") return { kind: "latest", after: null, limit };
    const after = parseMark(marks[0]);
    return after === null ? null : { kind: "latest", after, limit };
  }
  const mark = parseMark(marks[0]);
  if (mark === null) return null;
  switch (sub) {
    case "BEFORE":
      return { kind: "before", mark, limit };
    case "AFTER":
      return { kind: "after", mark, limit };
    case "AROUND":
      return { kind: "around", mark, limit };
    case "BETWEEN": {
      const to = parseMark(marks[1]);
      return to === null ? null : { kind: "between", from: mark, to, limit };
    }
  }
  return null;
}

/** `msgid=ID` or `timestamp=YYYY-MM-DDThh:mm:ss.sssZ`; null when it is neither. */
export function parseMark(text: string | undefined): HistoryMark | null {
  if (text === undefined) return null;
  const equals = text.indexOf("=");
  if (equals < 0) return null;
  const kind = text.slice(0, equals).toLowerCase();
  const value = text.slice(equals + 1);
  if (kind === "msgid") return /^[0-9A-Za-z_-]{1,64}$/.test(value) ? { msgid: value } : null;
  if (kind !== "timestamp") return null;
  // The spec's form, with or without the milliseconds and Z.
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z?$/.test(value)) return null;
  const time = Date.parse(value.endsWith("Z") ? value : value + "Z");
  return Number.isFinite(time) ? { time } : null;
}

/** A limit: a whole number from 1 (more than the most a request gets is cut to it); null when not one. */
function parseLimit(text: string): number | null {
  if (!/^\d{1,9}$/.test(text)) return null;
  const limit = Number(text);
  return limit >= 1 ? Math.min(limit, MAX_HISTORY_REQUEST) : null;
}
