/**
 * One IRC connection over WebSocket (IRCv3 WebSocket transport,
 * `text.ircv3.net`: one line per message, no CRLF), and everything a session
 * needs below the chat itself: capability negotiation (`CAP LS 302`, asking
 * only for what the server offers), logging in (SASL PLAIN, else `PASS` and
 * NickServ), registration, PING/PONG and a liveness check, batches (collected
 * and handed over whole), labeled responses, and reconnecting with backoff.
 *
 * It knows nothing of rooms or the page: it reports through events.
 * - `state`      {state, reason?, retryIn?}: "connecting", "registered", "waiting", "closed"
 * - `registered` {}: welcome done (ISUPPORT known); the app joins its rooms
 * - `message`    {message, batch}: every line after registration (batch: the
 *                enclosing batch's {type, params}, or null)
 * - `history`    {type, params, messages}: a whole `chathistory` (or
 *                `draft/chathistory-targets`) batch
 * - `fatal`      {text}: the server refused us (nick in use, wrong password);
 *                no reconnect follows
 *
 * @module
 */

import { base64, caseFolder, formatLine, parseIsupport, parseLine, parsePrefix } from "./irc.js";

/** Capabilities the page understands; it asks for those the server offers. */
const WANTED_CAPS = [
  "message-tags",
  "server-time",
  "echo-message",
  "batch",
  "labeled-response",
  "sasl",
  "multi-prefix",
  "userhost-in-names",
  "away-notify",
  "account-notify",
  "extended-join",
  "setname",
  "chghost",
  "invite-notify",
  "cap-notify",
  "draft/chathistory",
  "chathistory",
  "draft/event-playback",
  "draft/read-marker",
  "read-marker",
  "draft/account-registration",
];

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** Silence after which the page PINGs the server, and how long it then waits. */
const QUIET_MS = 90_000;
const PING_WAIT_MS = 30_000;
/** How long a labeled request may take. */
const LABEL_TIMEOUT_MS = 20_000;

/**
 * @typedef {object} Login
 * @property {string} nick
 * @property {string} [password] for a registered nick (or the one to register with)
 * @property {boolean} [register] register the nick with `password` once connected
 */

/** An IRC session over WebSocket that reconnects by itself once it has been in. */
export class IrcClient extends EventTarget {
  /**
   * @param {string} url `ws://` or `wss://` address
   * @param {Login} login
   */
  constructor(url, login) {
    super();
    this.url = url;
    this.login = { ...login };
    /** The nick the user wants; `nick` is the one the server gave us. */
    this.wantedNick = login.nick;
    this.nick = login.nick;
    /** @type {Set<string>} acknowledged capabilities */
    this.caps = new Set();
    /** @type {Map<string, string>} offered capabilities and their values */
    this.offered = new Map();
    /** @type {Map<string, string>} ISUPPORT tokens */
    this.isupport = new Map();
    this.state = "closed";
    /** Whether this session has been in at least once (reconnects only then). */
    this.wasRegistered = false;
    this.fold = caseFolder(undefined, undefined);
    this.prefix = parsePrefix(undefined);
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempt = 0;
    this.loggedIn = false;
    /** Why the server refused us, when it did. @type {string | null} */
    this.fatalText = null;
    this.#reset();
  }

  #timer = 0;
  #lastHeard = 0;
  #pinged = 0;
  #nextLabel = 1;
  /** @type {Map<string, {resolve: (m: object[] | null) => void, timer: number}>} */
  #labels = new Map();
  /** @type {Map<string, {type: string, params: string[], items: object[], parent: string | null, label: string | null}>} */
  #batches = new Map();
  #capsPending = 0;
  #lsDone = false;
  #registeredSent = false;
  #stopped = false;
  #altTries = 0;
  #lsTimer = 0;

  #reset() {
    this.caps = new Set();
    this.offered = new Map();
    this.isupport = new Map();
    this.#batches = new Map();
    this.#capsPending = 0;
    this.#lsDone = false;
    this.#registeredSent = false;
    this.loggedIn = false;
    for (const pending of this.#labels.values()) {
      clearTimeout(pending.timer);
      pending.resolve(null);
    }
    this.#labels = new Map();
  }

  /** Whether the server offers (and we hold) a capability. */
  has(cap) {
    return this.caps.has(cap);
  }

  /** Opens the connection (again). */
  connect() {
    clearTimeout(this.#timer);
    this.#stopped = false;
    this.fatalText = null;
    this.nick = this.wantedNick;
    this.#reset();
    this.#setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url, ["text.ircv3.net"]);
    } catch (error) {
      this.#closed(String(error));
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => this.#opened();
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      const data = typeof event.data === "string"
        ? event.data
        : new TextDecoder().decode(event.data);
      this.#lastHeard = Date.now();
      this.#pinged = 0;
      for (const line of data.split(/\r?\n/)) if (line) this.#receive(line);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.#closed(
        event.reason || (event.code === 1006 ? "connection lost" : `closed, code ${event.code}`),
      );
    };
  }

  /**
   * Sends a command. With `labeled-response`, `label: true` adds a label and
   * the promise resolves with the response's messages when it is complete;
   * it resolves with null without the capability (at once), when no answer
   * came in time, or when the connection dropped.
   * @param {string} command
   * @param {string[]} [params]
   * @param {{label?: boolean, tags?: Record<string, string>, trailing?: boolean}} [options]
   * @returns {Promise<object[] | null>}
   */
  send(command, params = [], options = {}) {
    const tags = { ...options.tags };
    let result = Promise.resolve(null);
    if (options.label && this.has("labeled-response") && this.has("batch")) {
      const label = `p${this.#nextLabel++}`;
      tags.label = label;
      result = new Promise((resolve) => {
        const timer = setTimeout(() => {
          this.#labels.delete(label);
          resolve(null);
        }, LABEL_TIMEOUT_MS);
        this.#labels.set(label, { resolve, timer });
      });
    }
    this.#write(formatLine(command, params, tags, options.trailing));
    return result;
  }

  /**
   * Sends a line as typed (`/quote`): CR and LF cannot split it into two.
   * @param {string} line
   */
  raw(line) {
    this.#write(line.replace(/[\r\n\0]/g, " "));
  }

  /** Whether lines can be sent now. */
  get connected() {
    return this.state === "registered" && this.socket?.readyState === WebSocket.OPEN;
  }

  /** Leaves for good: QUIT, close, no reconnect. */
  quit(reason = "") {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.#write(formatLine("QUIT", reason ? [reason] : []));
    }
    const socket = this.socket;
    this.socket = null;
    setTimeout(() => socket?.close(1000), 500);
    this.#setState("closed");
  }

  /** Reconnects at once (the user asked, or the browser came back online). */
  reconnectNow() {
    if (this.#stopped || this.state === "registered" || this.state === "connecting") return;
    this.connect();
  }

  #write(line) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(line);
  }

  #setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...extra } }));
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #opened() {
    this.#lastHeard = Date.now();
    this.#write("CAP LS 302");
    // A server that ignores CAP still gets registered.
    this.#lsTimer = setTimeout(() => this.#capsListed(), 3000);
    this.#tick();
  }

  /** The liveness check: PING after a quiet spell, give up when nothing comes back. */
  #tick() {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (!this.socket) return;
      const now = Date.now();
      if (this.#pinged && now - this.#pinged > PING_WAIT_MS) {
        const socket = this.socket;
        this.socket = null;
        socket.close();
        this.#closed("the server stopped answering");
        return;
      }
      if (!this.#pinged && now - this.#lastHeard > QUIET_MS) {
        this.#pinged = now;
        this.#write(`PING :${now}`);
      }
      this.#tick();
    }, 5000);
  }

  #closed(reason) {
    clearTimeout(this.#timer);
    clearTimeout(this.#lsTimer);
    this.#reset();
    if (this.#stopped) return;
    if (!this.wasRegistered) {
      this.#stopped = true;
      this.#setState("closed", { reason });
      this.#emit("fatal", { text: this.fatalText ?? `Could not connect: ${reason}` });
      return;
    }
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    this.#setState("waiting", { reason, retryIn: delay });
    this.#timer = setTimeout(() => this.connect(), delay);
  }

  /** Every received line: session machinery first, then batches, then the app. */
  #receive(line) {
    const message = parseLine(line);
    if (message === null) return;
    const { command, params, tags } = message;
    if (command === "PING") {
      this.#write(formatLine("PONG", params.length ? [params[0]] : []));
      return;
    }
    if (command === "BATCH") return this.#batch(message);
    const batchRef = tags.batch;
    if (batchRef && this.#batches.has(batchRef)) {
      this.#batches.get(batchRef).items.push(message);
      return;
    }
    if (!this.#registeredSent && this.#beforeWelcome(message)) return;
    this.#handle(message, null);
    if (tags.label) this.#resolveLabel(tags.label, [message]);
  }

  /** A line handled by the session itself or passed to the app. */
  #handle(message, batch) {
    const { command, params } = message;
    switch (command) {
      case "CAP":
        this.#cap(message);
        return;
      case "ACK":
        return;
      case "NICK":
        if (this.fold(message.source.split("!")[0]) === this.fold(this.nick)) {
          this.nick = params[0];
          this.wantedNick = params[0];
        }
        break;
      case "005":
        parseIsupport(params.slice(1, -1), this.isupport);
        this.fold = caseFolder(this.isupport.get("CASEMAPPING"), this.isupport.get("UTF8MAPPING"));
        this.prefix = parsePrefix(this.isupport.get("PREFIX"));
        break;
      case "900":
        this.loggedIn = true;
        break;
      case "ERROR":
        this.fatalText = params[0];
        break;
    }
    this.#emit("message", { message, batch });
  }

  /** Registration-time lines (CAP, SASL, 001, nick problems); true when consumed. */
  #beforeWelcome(message) {
    const { command, params } = message;
    const socketAt001 = this.socket;
    switch (command) {
      case "CAP":
        this.#cap(message);
        return true;
      case "AUTHENTICATE":
        if (params[0] === "+") this.#saslPayload();
        return true;
      case "903":
        this.loggedIn = true;
        this.#write("CAP END");
        return true;
      case "900":
        this.loggedIn = true;
        return true;
      case "902":
      case "904":
      case "905":
        return this.#refuse(`Wrong password for ${this.login.nick}.`);
      case "906":
      case "907":
      case "908":
        this.#write("CAP END");
        return true;
      case "421":
      case "451":
        if (!this.#lsDone) this.#capsListed();
        return true;
      case "432":
        return this.#refuse(
          `${params[1] ?? this.nick}: ${params[2] ?? "that nick is not allowed"}`,
        );
      case "433":
      case "436":
        return this.#nickInUse(params);
      case "001":
        this.nick = params[0];
        this.wasRegistered = true;
        this.attempt = 0;
        this.#setState("registered");
        this.#emit("message", { message, batch: null });
        // The welcome ends with the MOTD (376) or 422; a server that sends neither gets 5 s.
        setTimeout(() => {
          if (this.socket === socketAt001 && !this.#registeredSent) {
            this.#registeredSent = true;
            this.#afterWelcome();
          }
        }, 5000);
        return true;
      case "376":
      case "422":
        this.#registeredSent = true;
        this.#emit("message", { message, batch: null });
        this.#afterWelcome();
        return true;
    }
    return false;
  }

  /** The nick we asked for is taken (or registered to someone else). */
  #nickInUse(params) {
    const text = params[2] ?? "Nickname is already in use";
    // A first visit: the person chooses another nick (or gives the password).
    if (!this.wasRegistered && (!this.login.password || this.login.register)) {
      return this.#refuse(`${params[1] ?? this.nick}: ${text}`);
    }
    // A reconnect while our old connection lingers, or a password to prove
    // it after registration: come in as nick_ and take the nick back later.
    if (this.#altTries++ > 4) return this.#refuse(`${params[1] ?? this.nick}: ${text}`);
    this.nick = `${this.wantedNick.slice(0, 20)}${"_".repeat(this.#altTries)}`;
    this.#write(formatLine("NICK", [this.nick]));
    return true;
  }

  #refuse(text) {
    this.fatalText = text;
    this.wasRegistered = false;
    this.#stopped = false;
    const socket = this.socket;
    this.#write("QUIT");
    this.socket = null;
    socket?.close();
    this.#closed(text);
    return true;
  }

  #cap(message) {
    const params = message.params;
    const sub = (params[1] ?? "").toUpperCase();
    const more = params[2] === "*";
    const list = (more ? params[3] : params[2]) ?? "";
    switch (sub) {
      case "LS":
      case "NEW":
        for (const item of list.split(" ").filter(Boolean)) {
          const eq = item.indexOf("=");
          this.offered.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? "" : item.slice(eq + 1));
        }
        if (sub === "LS" && !more) this.#capsListed();
        if (sub === "NEW") this.#request(list.split(" ").map((i) => i.split("=")[0]));
        break;
      case "DEL":
        for (const cap of list.split(" ")) {
          this.offered.delete(cap);
          this.caps.delete(cap);
        }
        break;
      case "ACK":
        for (const cap of list.split(" ").filter(Boolean)) {
          if (cap.startsWith("-")) this.caps.delete(cap.slice(1));
          else this.caps.add(cap);
        }
        this.#capAnswered();
        break;
      case "NAK":
        this.#capAnswered();
        break;
    }
  }

  /** CAP LS is complete (or never came): log in, register, ask for capabilities. */
  #capsListed() {
    if (this.#lsDone) return;
    this.#lsDone = true;
    clearTimeout(this.#lsTimer);
    const login = this.login;
    if (login.password && !login.register && !this.#saslPlain()) {
      this.#write(formatLine("PASS", [login.password]));
    }
    this.#write(formatLine("NICK", [this.nick]));
    this.#write(
      formatLine(
        "USER",
        [this.nick.replace(/[^\w.-]/g, "") || "web", "0", "*", "parley web"],
        {},
        true,
      ),
    );
    this.#request([...this.offered.keys()]);
    if (this.#capsPending === 0) this.#capsDone();
  }

  /** Whether SASL PLAIN is on offer. */
  #saslPlain() {
    if (!this.offered.has("sasl")) return false;
    const mechanisms = this.offered.get("sasl");
    return !mechanisms || mechanisms.split(",").includes("PLAIN");
  }

  #request(offered) {
    const wanted = offered.filter((cap) =>
      WANTED_CAPS.includes(cap) && (cap !== "sasl" || this.#saslPlain())
    );
    // Several REQs so no line is too long; each is answered by ACK or NAK.
    for (let i = 0; i < wanted.length; i += 8) {
      this.#capsPending++;
      this.#write(formatLine("CAP", ["REQ", wanted.slice(i, i + 8).join(" ")], {}, true));
    }
  }

  #capAnswered() {
    if (this.#capsPending === 0) return;
    this.#capsPending--;
    if (this.#capsPending === 0 && !this.#registeredSent && this.state === "connecting") {
      this.#capsDone();
    }
  }

  /** Every REQ answered: SASL if we have a password and the cap, then CAP END. */
  #capsDone() {
    const login = this.login;
    if (this.has("sasl") && login.password && !login.register) {
      this.#write("AUTHENTICATE PLAIN");
      return;
    }
    this.#write("CAP END");
  }

  #saslPayload() {
    // No authorization identity (RFC 4616): the account is the nick.
    const encoded = base64(`\0${this.login.nick}\0${this.login.password}`);
    for (let i = 0; i < encoded.length; i += 400) {
      this.#write(`AUTHENTICATE ${encoded.slice(i, i + 400)}`);
    }
    if (encoded.length % 400 === 0) this.#write("AUTHENTICATE +");
  }

  /** After the welcome: identify or register the nick when we still have to. */
  #afterWelcome() {
    const login = this.login;
    if (login.register && login.password) {
      if (this.offered.has("draft/account-registration")) {
        this.#write(formatLine("REGISTER", ["*", "*", login.password]));
      } else {
        this.#write(formatLine("PRIVMSG", ["NickServ", `REGISTER ${login.password}`], {}, true));
      }
      // Registered once: from now on the password logs in.
      login.register = false;
    } else if (
      login.password && !this.loggedIn && this.fold(this.nick) !== this.fold(this.wantedNick)
    ) {
      // No SASL and PASS did not get us the nick: NickServ gives it back.
      this.#write(
        formatLine(
          "PRIVMSG",
          ["NickServ", `IDENTIFY ${this.wantedNick} ${login.password}`],
          {},
          true,
        ),
      );
    } else if (this.fold(this.nick) !== this.fold(this.wantedNick)) {
      // Came in as nick_: try for the nick again once the old connection is gone.
      setTimeout(() => {
        if (this.state === "registered" && this.fold(this.nick) !== this.fold(this.wantedNick)) {
          this.#write(formatLine("NICK", [this.wantedNick]));
        }
      }, 20_000);
    }
    this.#altTries = 0;
    this.#emit("registered", {});
  }

  /** BATCH +ref type params… / BATCH -ref: nested batches end up in their parent. */
  #batch(message) {
    const [ref = "", type = "", ...params] = message.params;
    const id = ref.slice(1);
    if (ref.startsWith("+")) {
      const parent = message.tags.batch && this.#batches.has(message.tags.batch)
        ? message.tags.batch
        : null;
      this.#batches.set(id, { type, params, items: [], parent, label: message.tags.label ?? null });
      return;
    }
    const batch = this.#batches.get(id);
    if (!batch) return;
    this.#batches.delete(id);
    if (batch.parent !== null && this.#batches.has(batch.parent)) {
      this.#batches.get(batch.parent).items.push({ batch });
      return;
    }
    this.#finishBatch(batch);
    if (batch.label) this.#resolveLabel(batch.label, batch.items);
  }

  #finishBatch(batch) {
    if (batch.type === "chathistory" || batch.type === "draft/chathistory-targets") {
      const messages = batch.items.filter((item) => !item.batch);
      this.#emit("history", { type: batch.type, params: batch.params, messages });
      return;
    }
    for (const item of batch.items) {
      if (item.batch) this.#finishBatch(item.batch);
      else this.#handle(item, { type: batch.type, params: batch.params });
    }
  }

  #resolveLabel(label, messages) {
    const pending = this.#labels.get(label);
    if (!pending) return;
    this.#labels.delete(label);
    clearTimeout(pending.timer);
    pending.resolve(messages);
  }
}
