/**
 * The chat: what the IRC session's lines mean for the conversations, and
 * what the person's actions mean for the session. It owns the buffers (rooms,
 * private conversations, the server), keeps members, topics, unread counts
 * and read markers, fetches history (CHATHISTORY LATEST on entering, BEFORE
 * when scrolling up, AFTER the last msgid after a reconnect), rejoins rooms
 * after a reconnect and remembers them for the next visit. It tells the view
 * what changed and never touches the DOM itself.
 *
 * @module
 */

import { isOtherCtcp, nickOf, parseAction, parseTime, splitText, stripFormatting } from "./irc.js";
import { Buffer, makeMessage, mentions, TALK } from "./model.js";
import { HELP, interpret } from "./commands.js";
import * as storage from "./storage.js";

/** Messages fetched per history request (or less, when the server says so). */
const HISTORY_PAGE = 50;
/** AFTER requests in a row to fill one gap (at most this many pages). */
const MAX_GAP_PAGES = 20;
/** Messages a conversation keeps while live ones arrive (older ones are fetched again). */
const MAX_KEPT = 2000;
/** A line's text is cut into pieces of at most this many bytes. */
const TEXT_BYTES = 400;
/** The room a first visit starts in: parley's lobby, where line clients are. */
const FIRST_ROOM = "#lobby";

/**
 * @typedef {object} View
 * @property {(buffer: Buffer) => void} addBuffer
 * @property {(buffer: Buffer) => void} removeBuffer
 * @property {(buffer: Buffer) => void} updateBuffer sidebar entry and header
 * @property {(buffer: Buffer, message: import("./model.js").ChatMessage, index: number) => void} insert
 * @property {(buffer: Buffer, added: import("./model.js").ChatMessage[]) => void} insertMany
 * @property {(buffer: Buffer) => void} members
 * @property {(buffer: Buffer) => void} activate
 * @property {(state: string, detail: object) => void} connection
 * @property {(nick: string, away: boolean) => void} me
 * @property {(buffer: Buffer) => boolean} isReading active, visible and scrolled to the end
 */

/** The conversations of one person's session. */
export class Chat {
  /**
   * @param {import("./client.js").IrcClient} client
   * @param {View} view
   * @param {import("./notify.js").Notifier} notifier
   */
  constructor(client, view, notifier) {
    this.client = client;
    this.view = view;
    this.notifier = notifier;
    /** @type {Map<string, Buffer>} */
    this.buffers = new Map();
    this.server = new Buffer("server", "server", "\u0000server");
    this.buffers.set(this.server.key, this.server);
    /** @type {Buffer} */
    this.active = this.server;
    this.away = false;
    /** NAMES replies being collected, by channel key. */
    this.names = new Map();
    this.origin = 1;
    /** Buffers whose read marker should go to the server, and when. */
    this.markTimer = 0;
    this.markPending = new Set();
    view.addBuffer(this.server);
    this.#restore();
    client.addEventListener("message", (e) => this.#live(e.detail.message));
    client.addEventListener("history", (e) => this.#history(e.detail));
    client.addEventListener("registered", () => this.#registered());
    client.addEventListener("state", (e) => this.#state(e.detail));
  }

  /** The folded form of a name, as the server compares them. */
  fold(name) {
    return this.client.fold(name);
  }

  /** Whether the server gives history (CHATHISTORY). */
  get hasHistory() {
    const c = this.client;
    return (c.isupport.has("CHATHISTORY") || c.has("draft/chathistory") || c.has("chathistory")) &&
      c.has("batch");
  }

  get hasReadMarker() {
    return this.client.has("draft/read-marker") || this.client.has("read-marker");
  }

  /** The buffer for a name, if the page has one. */
  find(name) {
    return this.buffers.get(this.fold(name));
  }

  /** The buffer for a name, made when missing. */
  open(name) {
    const existing = this.find(name);
    if (existing) return existing;
    const kind = this.#isChannel(name) ? "channel" : "query";
    const buffer = new Buffer(name, kind, this.fold(name));
    this.buffers.set(buffer.key, buffer);
    this.view.addBuffer(buffer);
    this.#save();
    return buffer;
  }

  /** Shows a buffer and marks it read. */
  activate(buffer) {
    if (!this.buffers.has(buffer.key)) return;
    this.active = buffer;
    storage.set("active", buffer.name);
    this.view.activate(buffer);
    this.markRead(buffer);
    this.notifier.title(this);
  }

  /**
   * Marks what the person has seen of a buffer as read (when they can see it)
   * and tells the server's read marker a moment later.
   * @param {Buffer} buffer
   */
  markRead(buffer) {
    if (!this.view.isReading(buffer)) return;
    const newest = buffer.newestTime();
    if (newest > buffer.readUpTo) buffer.readUpTo = newest;
    buffer.readHere = true;
    if (buffer.unread || buffer.mentioned) {
      buffer.unread = 0;
      buffer.mentioned = false;
      this.view.updateBuffer(buffer);
      this.notifier.title(this);
    }
    if (buffer.kind === "server") return;
    this.markPending.add(buffer);
    clearTimeout(this.markTimer);
    this.markTimer = setTimeout(() => this.#sendMarks(), 1000);
  }

  #sendMarks() {
    for (const buffer of this.markPending) {
      if (this.hasReadMarker && this.client.connected && buffer.readUpTo > (buffer.markSent ?? 0)) {
        buffer.markSent = buffer.readUpTo;
        this.client.send("MARKREAD", [
          buffer.name,
          `timestamp=${new Date(buffer.readUpTo).toISOString()}`,
        ]);
      }
    }
    this.markPending.clear();
    this.#save();
  }

  /**
   * Carries out a line typed in the input.
   * @param {string} text
   * @returns {boolean} whether the line was taken (false: keep it in the input)
   */
  input(text) {
    const action = interpret(text, this.active);
    if (action === null) return true;
    if (action.type === "help") {
      for (const line of HELP) this.#info(this.active, line);
      return true;
    }
    if (action.type === "error") {
      this.#info(this.active, action.text, "error");
      return true;
    }
    if (action.type === "who") {
      const buffer = this.active;
      const members = buffer.sortedMembers(this.client.prefix.symbols);
      const names = members.map((m) => m.prefixes.slice(0, 1) + m.nick + (m.away ? " (away)" : ""));
      this.#info(buffer, `In ${buffer.name} (${members.length}): ${names.join(", ")}`);
      return true;
    }
    if (action.type === "close") {
      this.close(this.active);
      return true;
    }
    if (action.type === "quit") {
      this.client.quit(action.reason);
      return true;
    }
    if (action.type === "open") {
      const buffer = this.open(action.target);
      this.activate(buffer);
      if (buffer.kind === "query") this.#fetchLatest(buffer);
      if (!action.text) return true;
      return this.#say(buffer.name, action.text, false);
    }
    if (!this.client.connected) {
      this.#info(
        this.active,
        "Not connected: nothing was sent (it is still in the input line).",
        "error",
      );
      return false;
    }
    switch (action.type) {
      case "say":
        return this.#say(action.target, action.text, false);
      case "action":
        return this.#say(action.target, action.text, true);
      case "join":
        for (const channel of action.channels) this.open(channel).wanted = true;
        this.client.send("JOIN", [action.channels.join(",")]);
        this.activate(this.find(action.channels[0]));
        return true;
      case "part": {
        const buffer = this.find(action.channel);
        if (buffer) buffer.wanted = false;
        this.client.send(
          "PART",
          action.reason ? [action.channel, action.reason] : [action.channel],
          {
            trailing: Boolean(action.reason),
          },
        );
        return true;
      }
      case "topic":
        this.client.send(
          "TOPIC",
          action.text === null ? [action.channel] : [action.channel, action.text],
          {
            trailing: action.text !== null,
          },
        );
        return true;
      case "raw":
        this.client.raw(action.line);
        return true;
    }
    return true;
  }

  /** Joins a channel (the sidebar's form). */
  join(name) {
    return this.input(`/join ${name}`);
  }

  /** Leaves a channel, or closes a private conversation. */
  close(buffer) {
    if (buffer.kind === "server") return;
    if (buffer.kind === "channel" && buffer.joined && this.client.connected) {
      buffer.wanted = false;
      this.client.send("PART", [buffer.name]);
      return;
    }
    this.#remove(buffer);
  }

  /** Fetches older history for a buffer (scrolled to the top). */
  loadOlder(buffer) {
    if (!this.hasHistory || buffer.loading || buffer.historyDone || !this.client.connected) return;
    if (buffer.kind === "server") return;
    const oldest = buffer.oldest();
    const at = oldest
      ? oldest.msgid ? `msgid=${oldest.msgid}` : `timestamp=${new Date(oldest.time).toISOString()}`
      : "*";
    this.#request(
      buffer,
      oldest ? "before" : "latest",
      oldest ? ["BEFORE", buffer.name, at] : ["LATEST", buffer.name, "*"],
    );
  }

  // ——— session events ———

  #state({ state, reason, retryIn }) {
    if (state === "waiting" || state === "closed") {
      this.lastSeen = Date.now();
      this.#save();
      for (const buffer of this.buffers.values()) {
        buffer.joined = false;
        buffer.loading = false;
        buffer.pending = null;
      }
      this.names.clear();
    }
    if (state === "waiting") {
      this.#info(this.server, `Disconnected (${reason}). Reconnecting…`, "error");
    }
    this.view.connection(state, { reason, retryIn });
  }

  /** In (again): rejoin the rooms, catch up private conversations. */
  #registered() {
    // The server's CASEMAPPING is known now: look-up keys follow it.
    const buffers = [...this.buffers.values()];
    this.buffers.clear();
    for (const buffer of buffers) {
      if (buffer.kind !== "server") buffer.key = this.fold(buffer.name);
      this.buffers.set(buffer.key, buffer);
    }
    this.server.name = this.client.isupport.get("NETWORK") || "server";
    this.view.updateBuffer(this.server);
    this.view.me(this.client.nick, this.away);
    storage.set("nick", this.client.wantedNick);
    const channels = [...this.buffers.values()].filter((b) => b.kind === "channel" && b.wanted);
    // JOIN lines of a few rooms each, so no line is too long.
    for (let i = 0; i < channels.length; i += 10) {
      this.client.send("JOIN", [channels.slice(i, i + 10).map((b) => b.name).join(",")]);
    }
    for (const buffer of this.buffers.values()) {
      if (buffer.kind !== "query") continue;
      this.#catchUp(buffer);
      if (this.hasReadMarker) this.client.send("MARKREAD", [buffer.name]);
    }
    if (this.hasHistory && this.lastSeen) {
      const from = new Date(this.lastSeen).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      this.client.send("CHATHISTORY", [
        "TARGETS",
        `timestamp=${from}`,
        `timestamp=${to}`,
        String(HISTORY_PAGE),
      ]);
    }
    if (this.active === this.server && channels.length > 0) this.activate(channels[0]);
  }

  /** Catches a buffer up: AFTER its last msgid, or LATEST when it has none. */
  #catchUp(buffer, pages = 0) {
    if (!this.hasHistory) return;
    const last = buffer.lastMsgid();
    if (last) {
      this.#request(buffer, "after", ["AFTER", buffer.name, `msgid=${last.msgid}`], pages);
    } else {
      this.#fetchLatest(buffer);
    }
  }

  #fetchLatest(buffer) {
    if (!this.hasHistory || buffer.loading) return;
    this.#request(buffer, "latest", ["LATEST", buffer.name, "*"]);
  }

  /** Sends one CHATHISTORY request; the answer comes as a batch (see #history). */
  #request(buffer, kind, params, pages = 0) {
    const limit = this.#historyLimit();
    const pending = { kind, pages, limit };
    buffer.loading = true;
    buffer.pending = pending;
    this.view.updateBuffer(buffer);
    const sent = this.client.send("CHATHISTORY", [...params, String(limit)], { label: true });
    const timeout = setTimeout(() => {
      if (buffer.pending === pending) this.#historyDone(buffer, null);
    }, 15_000);
    sent.then((answer) => {
      if (answer === null) return; // no labeled answer: the batch (or the timeout) ends it
      clearTimeout(timeout);
      // Still pending: the labeled answer had no chathistory batch (an ACK), so nothing more.
      if (buffer.pending === pending) this.#historyDone(buffer, { received: 0, added: 0 });
    });
  }

  #historyLimit() {
    const limit = Number(this.client.isupport.get("CHATHISTORY"));
    return limit > 0 ? Math.min(limit, HISTORY_PAGE) : HISTORY_PAGE;
  }

  /** A `chathistory` batch (or the targets one) is complete. */
  #history({ type, params, messages }) {
    if (type === "draft/chathistory-targets") {
      for (const m of messages) {
        const target = m.params[1];
        if (
          !target || this.#isChannel(target) || this.fold(target) === this.fold(this.client.nick)
        ) continue;
        const buffer = this.open(target);
        if (!buffer.loading) this.#catchUp(buffer);
      }
      return;
    }
    const target = params[0] ?? "";
    const buffer = this.#isChannel(target) || this.fold(target) !== this.fold(this.client.nick)
      ? this.find(target) ?? (this.#isChannel(target) ? null : this.open(target))
      : null;
    if (!buffer) return;
    const origin = this.origin++;
    const added = [];
    // An older page goes before what the buffer has, in the server's order (see Buffer.add).
    let olderThan = buffer.pending?.kind === "before" ? -1 : undefined;
    for (const irc of messages) {
      const message = this.#toMessage(irc, buffer, origin);
      if (message === null) continue;
      const index = buffer.add(message, (n) => this.fold(n), olderThan);
      if (index < 0) continue;
      if (olderThan !== undefined) olderThan = index;
      added.push(message);
    }
    const unseen = added.filter((m) => buffer.isUnread(m));
    if (unseen.length && !this.view.isReading(buffer)) {
      buffer.unread += unseen.length;
      buffer.mentioned ||= unseen.some((m) => m.mention);
    }
    if (added.length) this.view.insertMany(buffer, added);
    this.#historyDone(buffer, { received: messages.length, added: added.length });
    if (this.active === buffer) {
      this.markRead(buffer);
      // A log too short to scroll gets older messages without a scroll.
      if (this.view.nearTop()) this.loadOlder(buffer);
    }
  }

  /** A history request is over: older pages end when none come, gaps fill page by page. */
  #historyDone(buffer, result) {
    const pending = buffer.pending;
    if (!pending) return;
    buffer.pending = null;
    buffer.loading = false;
    if (result !== null) {
      if (pending.kind === "before" && (result.added === 0 || result.received < pending.limit)) {
        buffer.historyDone = true;
      }
      if (pending.kind === "latest" && result.received < pending.limit) buffer.historyDone = true;
      if (
        pending.kind === "after" && result.received >= pending.limit &&
        pending.pages < MAX_GAP_PAGES
      ) {
        this.#catchUp(buffer, pending.pages + 1);
      }
    }
    this.view.updateBuffer(buffer);
  }

  /**
   * Converts a PRIVMSG, NOTICE or event (history may carry JOIN, PART… with
   * event-playback) into a message for `buffer`; null for what is not shown.
   */
  #toMessage(irc, buffer, origin) {
    const nick = nickOf(irc.source);
    const time = parseTime(irc.tags.time);
    const self = this.fold(nick) === this.fold(this.client.nick);
    const base = {
      time: Number.isNaN(time) ? Date.now() : time,
      msgid: irc.tags.msgid ?? null,
      nick,
      self,
      origin,
    };
    const [, second = ""] = irc.params;
    switch (irc.command) {
      case "PRIVMSG":
      case "NOTICE": {
        if (isOtherCtcp(second)) return null;
        const action = parseAction(second);
        const text = stripFormatting(action ?? second);
        const kind = action !== null ? "action" : irc.command === "NOTICE" ? "notice" : "privmsg";
        const highlight = !self && buffer.kind === "channel" && mentions(text, this.client.nick);
        const mention = highlight || (!self && buffer.kind === "query");
        return makeMessage({ ...base, kind, text, mention, highlight });
      }
      case "JOIN":
        return makeMessage({ ...base, kind: "join", text: `${nick} joined` });
      case "PART":
        return makeMessage({
          ...base,
          kind: "part",
          text: `${nick} left${second ? ` (${stripFormatting(second)})` : ""}`,
        });
      case "QUIT": {
        const reason = irc.params[0] ?? "";
        return makeMessage({
          ...base,
          kind: "quit",
          text: `${nick} quit${reason ? ` (${stripFormatting(reason)})` : ""}`,
        });
      }
      case "NICK":
        return makeMessage({ ...base, kind: "nick", text: `${nick} is now ${irc.params[0]}` });
      case "TOPIC":
        return makeMessage({
          ...base,
          kind: "topic",
          text: second
            ? `${nick} set the topic: ${stripFormatting(second)}`
            : `${nick} cleared the topic`,
        });
      case "KICK":
        return makeMessage({
          ...base,
          kind: "kick",
          text: `${nick} removed ${second}${
            irc.params[2] ? ` (${stripFormatting(irc.params[2])})` : ""
          }`,
        });
      case "MODE":
        return makeMessage({
          ...base,
          kind: "mode",
          text: `${nick} sets mode ${irc.params.slice(1).join(" ")}`,
        });
    }
    return null;
  }

  /** A line of the live session: state first, then what it shows. */
  #live(irc) {
    const { command, params } = irc;
    const nick = nickOf(irc.source);
    const me = this.client.nick;
    const isMe = (name) => this.fold(name) === this.fold(me);
    switch (command) {
      case "PRIVMSG":
      case "NOTICE":
        return this.#talk(irc, nick);
      case "JOIN": {
        const channel = params[0];
        if (isMe(nick)) {
          const buffer = this.open(channel);
          buffer.joined = true;
          buffer.wanted = true;
          buffer.members.clear();
          buffer.historyDone = false;
          buffer.replay = this.origin++;
          buffer.joinedAt = Date.now();
          this.view.updateBuffer(buffer);
          this.view.members(buffer);
          this.#catchUp(buffer);
          this.#save();
          return;
        }
        const buffer = this.find(channel);
        if (!buffer) return;
        buffer.members.set(this.fold(nick), { nick, prefixes: "", away: false });
        this.view.members(buffer);
        return this.#show(buffer, this.#toMessage(irc, buffer, undefined));
      }
      case "PART":
      case "KICK": {
        const buffer = this.find(params[0]);
        if (!buffer) return;
        const gone = command === "KICK" ? params[1] : nick;
        if (isMe(gone)) {
          buffer.joined = false;
          buffer.members.clear();
          this.view.members(buffer);
          if (command === "PART" && !buffer.wanted) return this.#remove(buffer);
          if (command === "KICK") {
            this.#show(buffer, this.#toMessage(irc, buffer, undefined));
            buffer.wanted = false;
          }
          this.view.updateBuffer(buffer);
          return;
        }
        buffer.members.delete(this.fold(gone));
        this.view.members(buffer);
        return this.#show(buffer, this.#toMessage(irc, buffer, undefined));
      }
      case "QUIT":
        for (const buffer of this.buffers.values()) {
          const here = buffer.members.delete(this.fold(nick)) ||
            (buffer.kind === "query" && buffer.key === this.fold(nick));
          if (!here) continue;
          this.view.members(buffer);
          this.#show(buffer, this.#toMessage(irc, buffer, undefined));
        }
        return;
      case "NICK":
        return this.#rename(irc, nick, params[0]);
      case "TOPIC": {
        const buffer = this.find(params[0]);
        if (!buffer) return;
        buffer.topic = stripFormatting(params[1] ?? "");
        this.view.updateBuffer(buffer);
        return this.#show(buffer, this.#toMessage(irc, buffer, undefined));
      }
      case "MODE":
        return this.#mode(irc);
      case "AWAY":
        for (const buffer of this.buffers.values()) {
          const member = buffer.members.get(this.fold(nick));
          if (member) {
            member.away = params.length > 0;
            this.view.members(buffer);
          }
        }
        return;
      case "MARKREAD":
        return this.#marker(params);
      case "FAIL":
      case "WARN":
      case "NOTE": {
        const text = params[params.length - 1];
        if (params[0] === "CHATHISTORY") {
          // A history request refused: that buffer's (named in the context), else any waiting.
          const named = params.slice(2, -1).map((p) => this.find(p)).find(Boolean);
          for (const buffer of named ? [named] : this.buffers.values()) {
            if (buffer.loading) this.#historyDone(buffer, null);
          }
          return this.#info(this.server, `CHATHISTORY: ${text}`);
        }
        return this.#info(
          this.active,
          `${params[0]}: ${text}`,
          command === "FAIL" ? "error" : "info",
        );
      }
      case "REGISTER":
      case "VERIFY":
        return this.#info(this.active, params.slice(2).join(" ") || params.join(" "));
      case "ERROR":
        return this.#info(this.server, params[0] ?? "ERROR", "error");
      case "PONG":
      case "CAP":
      case "BATCH":
      case "CHATHISTORY":
        return;
    }
    if (/^\d{3}$/.test(command)) return this.#numeric(irc);
    // Anything else: shown in the server buffer, so nothing vanishes.
    this.#info(this.server, `${command} ${params.join(" ")}`);
  }

  /** PRIVMSG and NOTICE: to a channel, to us, or our own echo. */
  #talk(irc, nick) {
    const [target = "", text = ""] = irc.params;
    const channelTarget = target.replace(/^[~&@%+]+(?=#)/, "");
    const fromServer = !irc.source.includes("!") && !irc.source.includes("@");
    const toMe = this.fold(target) === this.fold(this.client.nick);
    let buffer;
    if (this.#isChannel(channelTarget)) {
      buffer = this.open(channelTarget);
    } else if (
      irc.command === "NOTICE" && (fromServer || toMe && /serv$/i.test(nick) || target === "*")
    ) {
      // Server and services notices: where the person is looking.
      buffer = this.active;
    } else if (toMe) {
      if (fromServer) buffer = this.server;
      else buffer = this.open(nick);
    } else {
      buffer = this.open(target); // our own message, echoed
    }
    if (buffer.kind === "query" && isOtherCtcp(text)) return;
    const old = this.#isReplay(irc, buffer);
    const message = this.#toMessage(irc, buffer, old ? buffer.replay ?? 0 : undefined);
    if (!message) return;
    this.#show(buffer, message);
  }

  /**
   * Whether a live line is a replay (a server without chathistory replays a
   * room's tail on JOIN): it has a time tag older than the join. Such lines
   * are checked against what the buffer has (no msgid to tell them apart).
   */
  #isReplay(irc, buffer) {
    const time = parseTime(irc.tags.time);
    return !Number.isNaN(time) && buffer.joinedAt !== undefined && time < buffer.joinedAt;
  }

  /** Adds a message to a buffer and tells the view, the unread count and the notifier. */
  #show(buffer, message) {
    if (!message) return;
    const index = buffer.add(message, (n) => this.fold(n));
    if (index < 0) return;
    this.view.insert(buffer, message, index);
    if (buffer.messages.length > MAX_KEPT + 500 && !this.view.isScrolledBack(buffer)) {
      this.view.forget(buffer.trim(MAX_KEPT));
    }
    // A live message is new when it arrives; a replayed one when it is newer than the read marker.
    const fresh = message.origin === undefined;
    const unread = fresh
      ? TALK.has(message.kind) && !message.self && !message.local
      : buffer.isUnread(message);
    if (unread) {
      if (this.view.isReading(buffer)) {
        this.markRead(buffer);
      } else {
        buffer.unread++;
        if (message.mention) buffer.mentioned = true;
        this.view.updateBuffer(buffer);
        this.notifier.title(this);
      }
      if (fresh && message.mention) {
        this.notifier.mention(buffer, message, () => this.activate(buffer));
      }
    }
    if (fresh && !message.local) this.lastSeen = message.time;
  }

  /** Our own message: sent, and shown at once when the server will not echo it. */
  #say(target, text, action) {
    const buffer = this.open(target);
    for (const piece of splitText(text, TEXT_BYTES)) {
      this.client.send("PRIVMSG", [target, action ? `\x01ACTION ${piece}\x01` : piece], {
        trailing: true,
      });
      if (!this.client.has("echo-message")) {
        this.#show(
          buffer,
          makeMessage({
            kind: action ? "action" : "privmsg",
            nick: this.client.nick,
            text: piece,
            self: true,
            local: true,
          }),
        );
      }
    }
    if (buffer !== this.active) this.activate(buffer);
    return true;
  }

  #rename(irc, from, to) {
    const wasMe = this.fold(from) === this.fold(this.client.nick) ||
      this.fold(to) === this.fold(this.client.nick);
    if (wasMe) {
      this.view.me(this.client.nick, this.away);
      storage.set("nick", this.client.nick);
    }
    for (const buffer of this.buffers.values()) {
      const member = buffer.members.get(this.fold(from));
      if (member) {
        buffer.members.delete(this.fold(from));
        member.nick = to;
        buffer.members.set(this.fold(to), member);
        this.view.members(buffer);
        this.#show(buffer, this.#toMessage(irc, buffer, undefined));
      }
    }
    const query = this.find(from);
    if (query && query.kind === "query" && !this.find(to)) {
      this.buffers.delete(query.key);
      query.name = to;
      query.key = this.fold(to);
      this.buffers.set(query.key, query);
      this.#show(query, this.#toMessage(irc, query, undefined));
      this.view.updateBuffer(query);
      this.#save();
    }
  }

  /** MODE on a channel: prefix modes (`+o nick`) change the member list. */
  #mode(irc) {
    const [target = "", modes = "", ...args] = irc.params;
    const buffer = this.find(target);
    if (!buffer || buffer.kind !== "channel") return;
    const prefix = this.client.prefix;
    const chanmodes = (this.client.isupport.get("CHANMODES") ?? "").split(",");
    let adding = true;
    let changed = false;
    for (const mode of modes) {
      if (mode === "+" || mode === "-") {
        adding = mode === "+";
        continue;
      }
      const index = prefix.modes.indexOf(mode);
      if (index >= 0) {
        const member = buffer.members.get(this.fold(args.shift() ?? ""));
        if (!member) continue;
        const symbol = prefix.symbols[index];
        const set = new Set(member.prefixes);
        if (adding) set.add(symbol);
        else set.delete(symbol);
        member.prefixes = [...prefix.symbols].filter((s) => set.has(s)).join("");
        changed = true;
      } else if (
        chanmodes[0]?.includes(mode) || chanmodes[1]?.includes(mode) ||
        (adding && chanmodes[2]?.includes(mode))
      ) {
        args.shift();
      }
    }
    if (changed) this.view.members(buffer);
    this.#show(buffer, this.#toMessage(irc, buffer, undefined));
  }

  /** MARKREAD target timestamp=…: another device (or the server on join) says what was read. */
  #marker([target = "", stamp = ""]) {
    const buffer = this.find(target);
    const time = Date.parse(stamp.replace(/^timestamp=/, ""));
    if (!buffer || Number.isNaN(time)) return;
    buffer.markSent = Math.max(buffer.markSent ?? 0, time);
    // The server's marker stands for a conversation not read here yet (another device's).
    buffer.readUpTo = buffer.readHere ? Math.max(buffer.readUpTo, time) : time;
    buffer.recount();
    this.view.updateBuffer(buffer);
    this.notifier.title(this);
  }

  /** Numerics: names, topic, away; errors where the person looks; the rest as information. */
  #numeric(irc) {
    const [, ...params] = irc.params;
    const text = params[params.length - 1] ?? "";
    switch (irc.command) {
      case "004":
      case "005":
        return; // server version and ISUPPORT: for the page, not for people
      case "001":
      case "002":
      case "003":
      case "251":
      case "252":
      case "253":
      case "254":
      case "255":
      case "265":
      case "266":
      case "375":
      case "372":
      case "376":
      case "422":
        return this.#info(
          this.server,
          params.join(" ").replace(/ :?are supported by this server$/, ""),
        );
      case "332": {
        const buffer = this.find(params[0]);
        const topic = stripFormatting(params[1] ?? "");
        if (buffer && topic !== buffer.topic) {
          buffer.topic = topic;
          this.view.updateBuffer(buffer);
          this.#info(buffer, `Topic: ${topic}`);
        }
        return;
      }
      case "331": {
        const buffer = this.find(params[0]);
        if (buffer) {
          buffer.topic = "";
          this.view.updateBuffer(buffer);
        }
        return;
      }
      case "333":
      case "329":
      case "324":
        return;
      case "353": {
        const channel = params[1];
        const key = this.fold(channel);
        if (!this.names.has(key)) this.names.set(key, []);
        for (const entry of (params[2] ?? "").split(" ").filter(Boolean)) {
          const symbols = this.client.prefix.symbols;
          let i = 0;
          while (i < entry.length && symbols.includes(entry[i])) i++;
          const nick = entry.slice(i).split("!")[0];
          this.names.get(key).push({ nick, prefixes: entry.slice(0, i), away: false });
        }
        return;
      }
      case "366": {
        const buffer = this.find(params[0]);
        const names = this.names.get(this.fold(params[0])) ?? [];
        this.names.delete(this.fold(params[0]));
        if (!buffer) {
          return this.#info(
            this.active,
            names.map((m) => m.prefixes + m.nick).join(" "),
          );
        }
        buffer.members.clear();
        for (const member of names) buffer.members.set(this.fold(member.nick), member);
        this.view.members(buffer);
        return;
      }
      case "301": {
        const buffer = this.find(params[0]);
        return this.#info(buffer ?? this.active, `${params[0]} is away: ${text}`);
      }
      case "305":
      case "306":
        this.away = irc.command === "306";
        this.view.me(this.client.nick, this.away);
        return this.#info(this.active, text);
      case "900":
        return this.#info(this.server, text);
    }
    const error = /^[45]/.test(irc.command);
    this.#info(this.active, params.join(" ").replace(/^\*? ?/, ""), error ? "error" : "info");
  }

  /** A line from the page or the server that is not conversation. */
  #info(buffer, text, kind = "info") {
    this.#show(buffer, makeMessage({ kind, text, local: true }));
  }

  #remove(buffer) {
    this.buffers.delete(buffer.key);
    this.view.removeBuffer(buffer);
    if (this.active === buffer) {
      const next = [...this.buffers.values()].find((b) => b.kind === "channel") ?? this.server;
      this.activate(next);
    }
    this.#save();
  }

  #isChannel(name) {
    const types = this.client.isupport.get("CHANTYPES") ?? "#&";
    return name.length > 0 && types.includes(name[0]);
  }

  /** Remembers the open conversations and where they were read up to. */
  #save() {
    const list = [...this.buffers.values()]
      .filter((b) => (b.kind === "channel" && b.wanted !== false) || b.kind === "query")
      .map((b) => ({ name: b.name, read: b.readUpTo }));
    storage.set("buffers", list);
    storage.set("active", this.active.name);
    if (this.lastSeen) storage.set("lastSeen", this.lastSeen);
  }

  /** The conversations of the last visit (or the lobby on a first one). */
  #restore() {
    const list = storage.get("buffers");
    const saved = Array.isArray(list) ? list : [{ name: FIRST_ROOM, read: Date.now() }];
    for (const entry of saved) {
      if (typeof entry?.name !== "string" || !entry.name) continue;
      const buffer = this.open(entry.name);
      buffer.wanted = true;
      if (typeof entry.read === "number") {
        buffer.readUpTo = entry.read;
        buffer.readHere = true;
      }
    }
    const lastSeen = storage.get("lastSeen");
    if (typeof lastSeen === "number") this.lastSeen = lastSeen;
    const active = storage.get("active");
    const buffer = typeof active === "string" ? this.find(active) : undefined;
    this.activate(
      buffer ?? [...this.buffers.values()].find((b) => b.kind === "channel") ?? this.server,
    );
  }
}
