/**
 * The conversations the page holds (a buffer per room, per private
 * conversation, and one for the server): their messages in time order,
 * de-duplicated by `msgid` (or, from a server without msgids, by time, author
 * and text), their members with prefixes, topic, unread count, mention mark
 * and read marker. No DOM and no I/O here.
 *
 * @module
 */

/** Message kinds that count as conversation (unread, "new messages" line). */
export const TALK = new Set(["privmsg", "action", "notice"]);

/**
 * @typedef {object} ChatMessage
 * @property {number} time ms since the epoch (server-time when given)
 * @property {string | null} msgid
 * @property {string} kind privmsg, action, notice, join, part, quit, nick, topic, mode, kick, info, error
 * @property {string} nick who did it ("" for the server)
 * @property {string} text
 * @property {boolean} self said by this page's user
 * @property {boolean} mention mentions this page's user (or a private message to them)
 * @property {boolean} [highlight] a mention in a room (drawn highlighted)
 * @property {boolean} local shown before the server confirmed it (no echo-message, no server time)
 * @property {number} [origin] the replay (history batch, join replay) it came in; live messages have none
 * @property {HTMLElement} [el] its element, once the view has drawn it
 */

/**
 * @typedef {object} Member
 * @property {string} nick
 * @property {string} prefixes membership symbols, highest first (`@`, `+`)
 * @property {boolean} away
 */

let nextId = 1;

/** One conversation: a room, a private conversation or the server's messages. */
export class Buffer {
  /**
   * @param {string} name as shown (`#dev`, `alice`, or the network's name)
   * @param {"channel" | "query" | "server"} kind
   * @param {string} key the folded name, for look-ups
   */
  constructor(name, kind, key) {
    this.id = `b${nextId++}`;
    this.name = name;
    this.kind = kind;
    this.key = key;
    /** @type {ChatMessage[]} */
    this.messages = [];
    /** @type {Set<string>} */
    this.msgids = new Set();
    /** @type {Map<string, Member>} by folded nick */
    this.members = new Map();
    this.topic = "";
    /** In the channel right now (channels only). */
    this.joined = false;
    this.unread = 0;
    this.mentioned = false;
    /** Everything up to this time has been read (ms). */
    this.readUpTo = Date.now();
    /** Read on this page (else the server's read marker decides). */
    this.readHere = false;
    /** The read marker last sent to (or heard from) the server (ms). */
    this.markSent = 0;
    /** No older history to fetch. */
    this.historyDone = false;
    /** A history request is out. */
    this.loading = false;
    /** That request: {kind, pages, limit}, or null. */
    this.pending = null;
    /** Rooms: to be (re)joined; false once the person left it. */
    this.wanted = kind === "channel";
    /** Rooms: when we joined (local clock) and the origin of what the server replays then. */
    this.joinedAt = undefined;
    this.replay = undefined;
  }

  /** The newest message with a msgid (for CHATHISTORY AFTER). */
  lastMsgid() {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i];
      if (m.msgid && !m.local) return m;
    }
    return null;
  }

  /** The oldest message from the server (for CHATHISTORY BEFORE). */
  oldest() {
    return this.messages.find((m) => !m.local) ?? null;
  }

  /**
   * Adds a message in time order. Returns its index, or -1 when the buffer
   * already has it: the same msgid; or, for a replayed message (history, or
   * a server without msgids replaying on join), the same kind, author and
   * text at the same time (a line the page showed itself before the server
   * had it may differ from the server's time by up to two minutes, and takes
   * the server's msgid).
   *
   * Messages of the same millisecond keep the server's order: a live one
   * goes after those it has; an older page (CHATHISTORY BEFORE), added
   * oldest first, goes before them, each after the one added before it
   * (`olderThan`: that one's index, or -1 for the page's first).
   * @param {ChatMessage} message
   * @param {(nick: string) => string} fold
   * @param {number} [olderThan]
   * @returns {number}
   */
  add(message, fold, olderThan) {
    if (message.msgid && this.msgids.has(message.msgid)) return -1;
    if (message.origin !== undefined && this.#duplicate(message, fold)) return -1;
    if (message.msgid) this.msgids.add(message.msgid);
    const index = olderThan === undefined
      ? this.#after(message.time)
      : Math.max(this.#before(message.time), olderThan + 1);
    this.messages.splice(index, 0, message);
    return index;
  }

  /**
   * Forgets the oldest messages beyond `keep` (a long session in a busy room
   * stays light; scrolling up fetches them again). Returns those forgotten.
   * @param {number} keep
   * @returns {ChatMessage[]}
   */
  trim(keep) {
    if (this.messages.length <= keep) return [];
    const gone = this.messages.splice(0, this.messages.length - keep);
    for (const m of gone) if (m.msgid) this.msgids.delete(m.msgid);
    this.historyDone = false;
    return gone;
  }

  /** Whether a message counts as unread (said by someone else after the read marker). */
  isUnread(message) {
    return TALK.has(message.kind) && !message.self && message.time > this.readUpTo;
  }

  /** Recounts unread messages and the mention mark from the read marker. */
  recount() {
    let unread = 0;
    let mentioned = false;
    for (const m of this.messages) {
      if (this.isUnread(m)) {
        unread++;
        if (m.mention) mentioned = true;
      }
    }
    this.unread = unread;
    this.mentioned = mentioned;
  }

  /** The time of the newest message from the server (or 0). */
  newestTime() {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      if (!this.messages[i].local) return this.messages[i].time;
    }
    return 0;
  }

  /** Index where a message at `time` goes: after every message at the same time. */
  /** The index of the first message at `time` or later. */
  #before(time) {
    let low = 0;
    let high = this.messages.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.messages[mid].time < time) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #after(time) {
    let low = 0;
    let high = this.messages.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.messages[mid].time <= time) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The same kind, nick and text near the same time, from another source than this replay. */
  #duplicate(message, fold) {
    const window = message.self ? 120_000 : 1000;
    const nick = fold(message.nick);
    for (let i = this.#after(message.time - window - 1); i < this.messages.length; i++) {
      const m = this.messages[i];
      if (m.time > message.time + window) break;
      if (m.origin === message.origin && !m.local) continue;
      if (m.kind !== message.kind || m.text !== message.text || fold(m.nick) !== nick) continue;
      if (m.msgid && message.msgid) continue;
      if (Math.abs(m.time - message.time) > (m.local ? window : 1000)) continue;
      if (m.local) {
        m.local = false;
        if (message.msgid) {
          m.msgid = message.msgid;
          this.msgids.add(message.msgid);
        }
      }
      return true;
    }
    return false;
  }

  /**
   * Members sorted for the list: by highest prefix, then by nick.
   * @param {string} symbols the server's prefix symbols, highest first
   * @returns {Member[]}
   */
  sortedMembers(symbols) {
    const rank = (m) => (m.prefixes ? symbols.indexOf(m.prefixes[0]) : symbols.length);
    return [...this.members.values()].sort((a, b) =>
      rank(a) - rank(b) || a.nick.localeCompare(b.nick, undefined, { sensitivity: "base" })
    );
  }
}

/**
 * Makes a message record.
 * @param {Partial<ChatMessage> & {kind: string}} fields
 * @returns {ChatMessage}
 */
export function makeMessage(fields) {
  return {
    time: Date.now(),
    msgid: null,
    nick: "",
    text: "",
    self: false,
    mention: false,
    local: false,
    ...fields,
  };
}

/**
 * Whether `text` mentions `nick` as a word (case-insensitive).
 * @param {string} text
 * @param {string} nick
 */
export function mentions(text, nick) {
  if (!nick) return false;
  const escaped = nick.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\p{L}\\p{N}_-])${escaped}($|[^\\p{L}\\p{N}_-])`, "iu").test(text);
}
