/**
 * The chat screen: the sidebar of conversations (unread counts, mention
 * mark), the header (name, topic), the message log of the shown
 * conversation (one list per conversation, kept while it is open; scroll
 * position kept when older messages arrive; day separators; the "new
 * messages" line), the member list, the connection banner, and the phone
 * drawers. It draws what the chat tells it and passes clicks back.
 *
 * @module
 */

import { dayLabel, messageElement, nickColour } from "./render.js";
import { TALK } from "./model.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Pixels from the end that still count as "at the end". */
const END_SLACK = 24;
/** Pixels from the top where older history is fetched. */
const TOP_SLACK = 80;

/** The chat screen. */
export class View {
  constructor() {
    /** @type {import("./chat.js").Chat | null} */
    this.chat = null;
    /** The banner's countdown timer. */
    this.countdown = 0;
    this.scroller = $("scroller");
    this.historyState = $("history-state");
    /** @type {Map<string, {list: HTMLOListElement, entry: HTMLLIElement, button: HTMLButtonElement, count: HTMLSpanElement, scrollTop: number | null}>} */
    this.parts = new Map();
    /** @type {import("./model.js").Buffer | null} */
    this.shown = null;
    this.scroller.addEventListener("scroll", () => this.#scrolled(), { passive: true });
    this.scroller.addEventListener("click", (event) => {
      const nick = /** @type {HTMLElement} */ (event.target).closest?.(".nick")?.dataset.nick;
      if (nick && this.chat) this.#openQuery(nick);
    });
    $("jump").addEventListener("click", () => {
      this.#toEnd();
      $("input").focus();
    });
    $("rooms-toggle").addEventListener("click", () => this.drawer("sidebar"));
    // A long topic is cut to one line; a click shows all of it.
    $("topic").addEventListener("click", () => $("topic").classList.toggle("expanded"));
    $("members-toggle").addEventListener("click", () => this.drawer("members"));
    $("scrim").addEventListener("click", () => this.drawer(null));
    for (const id of ["sidebar-close", "members-close"]) {
      $(id).addEventListener("click", () => {
        this.drawer(null);
        $("input").focus();
      });
    }
    document.addEventListener("keydown", (event) => this.#key(event));
    new ResizeObserver(() => {
      if (this.shown && this.#stuck) this.#toEnd();
    }).observe(this.scroller);
  }

  /** Whether the log was at its end at the last scroll (it follows new messages then). */
  #stuck = true;

  /** Opens a drawer (phone layout), or closes both with null. */
  drawer(which) {
    const body = document.body;
    const open = which !== null && !body.classList.contains(`${which}-open`);
    body.classList.remove("sidebar-open", "members-open");
    if (open) body.classList.add(`${which}-open`);
    $("rooms-toggle").setAttribute("aria-expanded", String(open && which === "sidebar"));
    $("members-toggle").setAttribute("aria-expanded", String(open && which === "members"));
    $("scrim").hidden = !open;
    if (open) {
      const drawer = $(which);
      const first = drawer.querySelector("[aria-current='true']") ??
        drawer.querySelector(".buffer, .member");
      /** @type {HTMLElement | null} */ (first)?.focus();
    }
  }

  #key(event) {
    if (event.key === "Escape" && document.body.matches(".sidebar-open, .members-open")) {
      this.drawer(null);
      $("input").focus();
      return;
    }
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown") && this.chat) {
      event.preventDefault();
      const order = this.#order();
      const at = order.indexOf(this.chat.active);
      const next = order[(at + (event.key === "ArrowUp" ? -1 : 1) + order.length) % order.length];
      if (next) this.chat.activate(next);
    }
  }

  /** Conversations in sidebar order. */
  #order() {
    const chat = /** @type {import("./chat.js").Chat} */ (this.chat);
    const all = [...chat.buffers.values()];
    return [
      ...all.filter((b) => b.kind === "server"),
      ...this.#sorted(all.filter((b) => b.kind === "channel")),
      ...this.#sorted(all.filter((b) => b.kind === "query")),
    ];
  }

  #sorted(list) {
    return list.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
  }

  /** Forgets every conversation (back to the connect screen). */
  reset() {
    for (const { entry, list } of this.parts.values()) {
      entry.remove();
      list.remove();
    }
    this.parts.clear();
    this.shown = null;
    this.chat = null;
    $("member-list").replaceChildren();
    clearInterval(this.countdown);
    this.drawer(null);
  }

  // ——— the chat's calls ———

  /** A new conversation: its sidebar entry and its (empty) log. */
  addBuffer(buffer) {
    const list = document.createElement("ol");
    list.className = "log";
    list.setAttribute("role", "log");
    list.setAttribute("aria-label", `Messages in ${buffer.name}`);
    const entry = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "buffer";
    const name = document.createElement("span");
    name.className = "name";
    const count = document.createElement("span");
    count.className = "count";
    button.append(name, count);
    button.addEventListener("click", () => {
      this.chat?.activate(buffer);
      this.drawer(null);
      if (!matchMedia("(hover: none)").matches) $("input").focus();
    });
    entry.append(button);
    if (buffer.kind !== "server") {
      const close = document.createElement("button");
      close.type = "button";
      close.className = "close";
      close.textContent = "×";
      close.addEventListener("click", () => this.chat?.close(buffer));
      entry.append(close);
    }
    this.parts.set(buffer.id, { list, entry, button, count, scrollTop: null });
    this.updateBuffer(buffer);
  }

  removeBuffer(buffer) {
    const parts = this.parts.get(buffer.id);
    if (!parts) return;
    parts.entry.remove();
    parts.list.remove();
    this.parts.delete(buffer.id);
    this.#peopleHint();
  }

  /** Redraws a conversation's sidebar entry (and the header when it is shown). */
  updateBuffer(buffer) {
    const parts = this.parts.get(buffer.id);
    if (!parts) return;
    const { entry, button, count } = parts;
    const home = buffer.kind === "server"
      ? "server-list"
      : buffer.kind === "channel"
      ? "room-list"
      : "people-list";
    const list = $(home);
    if (entry.parentElement !== list || button.querySelector(".name").textContent !== buffer.name) {
      button.querySelector(".name").textContent = buffer.name;
      const after = [...list.children].find((li) =>
        li !== entry &&
        li.querySelector(".name").textContent.localeCompare(buffer.name, undefined, {
            sensitivity: "base",
          }) > 0
      );
      list.insertBefore(entry, after ?? null);
      this.#peopleHint();
    }
    parts.list.setAttribute("aria-label", `Messages in ${buffer.name}`);
    const close = entry.querySelector(".close");
    if (close) {
      close.setAttribute(
        "aria-label",
        buffer.kind === "channel" && buffer.joined
          ? `Leave ${buffer.name}`
          : `Close ${buffer.name}`,
      );
      close.title = close.getAttribute("aria-label");
    }
    button.classList.toggle("unread", buffer.unread > 0);
    button.classList.toggle("mentioned", buffer.mentioned);
    button.classList.toggle("parted", buffer.kind === "channel" && !buffer.joined);
    count.textContent = buffer.unread > 0
      ? (buffer.unread > 999 ? "999+" : String(buffer.unread))
      : buffer.mentioned
      ? "@"
      : "";
    const said = buffer.unread
      ? `, ${buffer.unread} unread${buffer.mentioned ? ", you were mentioned" : ""}`
      : "";
    button.setAttribute("aria-label", `${buffer.name}${said}`);
    button.setAttribute("aria-current", String(this.shown === buffer));
    if (this.shown === buffer) this.#header(buffer);
    this.#badge();
  }

  #peopleHint() {
    $("people-empty").hidden = $("people-list").children.length > 0;
  }

  /** The phone's drawer button shows whether anything else is unread. */
  #badge() {
    if (!this.chat) return;
    let unread = 0;
    let mentioned = false;
    for (const buffer of this.chat.buffers.values()) {
      if (buffer === this.shown) continue;
      unread += buffer.unread;
      mentioned ||= buffer.mentioned || (buffer.kind === "query" && buffer.unread > 0);
    }
    const badge = $("toggle-badge");
    badge.hidden = unread === 0;
    badge.textContent = unread > 99 ? "99+" : String(unread);
    badge.classList.toggle("mention", mentioned);
  }

  #header(buffer) {
    $("buffer-name").textContent = buffer.name;
    const topic = $("topic");
    topic.textContent = buffer.kind === "channel"
      ? buffer.topic || (buffer.joined ? "No topic" : "Not in this room")
      : buffer.kind === "query"
      ? "Private conversation"
      : "Server messages";
    topic.title = buffer.topic;
    $("input-label").textContent = buffer.kind === "server" ? "Command" : `Message ${buffer.name}`;
    /** @type {HTMLInputElement} */ ($("input")).placeholder = buffer.kind === "server"
      ? "/join #room, /help"
      : `Message ${buffer.name}`;
    this.#historyLine(buffer);
  }

  /** The line at the top of the log: loading, or the start reached. */
  #historyLine(buffer) {
    const chat = this.chat;
    const line = this.historyState;
    let text = "";
    if (buffer.kind === "server") text = "";
    else if (buffer.loading) text = "Loading messages…";
    else if (chat?.hasHistory) {
      text = buffer.historyDone
        ? "This is the beginning of the conversation."
        : "Scroll up for older messages.";
    }
    line.textContent = text;
    line.hidden = text === "";
  }

  /** Shows a conversation: its log, header, members, where it was scrolled. */
  activate(buffer) {
    const previous = this.shown;
    if (previous && previous !== buffer) {
      const parts = this.parts.get(previous.id);
      if (parts) parts.scrollTop = this.#atEnd() ? null : this.scroller.scrollTop;
      this.parts.get(previous.id)?.button.setAttribute("aria-current", "false");
    }
    const parts = this.parts.get(buffer.id);
    if (!parts) return;
    this.shown = buffer;
    for (const list of this.scroller.querySelectorAll("ol.log")) {
      if (list !== parts.list) list.remove();
    }
    if (parts.list.parentElement !== this.scroller) this.scroller.append(parts.list);
    this.updateBuffer(buffer);
    this.members(buffer);
    const marker = this.placeMarker(buffer);
    if (marker) {
      marker.scrollIntoView({ block: "center" });
      this.#stuck = this.#atEnd();
    } else if (parts.scrollTop === null) {
      this.#toEnd();
    } else {
      this.scroller.scrollTop = parts.scrollTop;
      this.#stuck = this.#atEnd();
    }
    this.#jump();
  }

  /**
   * Puts the "new messages" line before the first unread message of the
   * shown conversation (and removes an old one). Returns it, or null.
   */
  placeMarker(buffer) {
    const parts = this.parts.get(buffer.id);
    if (!parts) return null;
    parts.list.querySelector(".unread-marker")?.remove();
    if (buffer.unread === 0) return null;
    // Before the oldest of the last `unread` messages from others.
    let left = buffer.unread;
    let first = null;
    for (let i = buffer.messages.length - 1; i >= 0 && left > 0; i--) {
      const m = buffer.messages[i];
      if (TALK.has(m.kind) && !m.self && !m.local) {
        first = m;
        left--;
      }
    }
    if (!first?.el) return null;
    const marker = document.createElement("li");
    marker.className = "unread-marker";
    marker.setAttribute("role", "separator");
    marker.textContent = "New messages";
    parts.list.insertBefore(marker, first.el);
    return marker;
  }

  /** One message, at its place in time. */
  insert(buffer, message, index) {
    const parts = this.parts.get(buffer.id);
    if (!parts) return;
    const shown = this.shown === buffer;
    const stick = shown && this.#stuck;
    this.#place(buffer, parts.list, message, index);
    if (stick) this.#toEnd();
    if (shown) this.#jump();
  }

  /** Many messages (history): the reader's place in the log stays where it was. */
  insertMany(buffer, added) {
    const parts = this.parts.get(buffer.id);
    if (!parts) return;
    const shown = this.shown === buffer;
    const stick = shown && this.#stuck;
    const anchor = shown && !stick ? this.#anchor() : null;
    for (let i = added.length - 1; i >= 0; i--) {
      this.#place(buffer, parts.list, added[i], buffer.messages.indexOf(added[i]));
    }
    if (stick) this.#toEnd();
    else if (anchor) {
      this.scroller.scrollTop += anchor.element.getBoundingClientRect().top - anchor.top;
    }
    if (shown) this.#jump();
  }

  #place(buffer, list, message, index) {
    const element = messageElement(message);
    message.el = element;
    // Before the next message that is drawn already (history comes in any order).
    let next = null;
    for (let i = index + 1; i < buffer.messages.length && next === null; i++) {
      const el = buffer.messages[i].el;
      if (el && el.parentElement === list) next = el;
    }
    list.insertBefore(element, next);
    this.#day(buffer, index);
    this.#day(buffer, index + 1);
  }

  /** A day separator above a message when it starts another day than the one before. */
  #day(buffer, index) {
    const message = buffer.messages[index];
    if (!message?.el) return;
    const before = buffer.messages[index - 1];
    const day = dayLabel(message.time);
    const starts = !before || dayLabel(before.time) !== day;
    message.el.classList.toggle("newday", starts);
    if (starts) message.el.dataset.day = day;
  }

  /** The first message visible at the top, and where it is, to keep it in place. */
  #anchor() {
    const top = this.scroller.getBoundingClientRect().top;
    const items = this.shown ? this.parts.get(this.shown.id)?.list.children ?? [] : [];
    for (const element of items) {
      const box = element.getBoundingClientRect();
      if (box.bottom > top) return { element, top: box.top };
    }
    return null;
  }

  /** Redraws the member list of the shown conversation. */
  members(buffer) {
    if (buffer !== this.shown || !this.chat) return;
    const toggle = $("members-toggle");
    const channel = buffer.kind === "channel";
    toggle.hidden = !channel;
    document.body.classList.toggle("no-members", !channel);
    const list = $("member-list");
    const members = channel ? buffer.sortedMembers(this.chat.client.prefix.symbols) : [];
    $("member-count").textContent = String(members.length);
    $("members-title").textContent = channel ? `Members (${members.length})` : "Members";
    const items = members.map((member) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `member ${nickColour(member.nick)}`;
      if (member.away) button.classList.add("away");
      const prefix = document.createElement("span");
      prefix.className = "prefix";
      prefix.textContent = member.prefixes.slice(0, 1);
      if (member.prefixes.includes("@")) prefix.title = "room operator";
      const name = document.createElement("span");
      name.textContent = member.nick;
      button.append(prefix, name);
      const role = member.prefixes.includes("@") ? ", operator" : "";
      button.setAttribute(
        "aria-label",
        `${member.nick}${role}${member.away ? ", away" : ""}: talk privately`,
      );
      button.addEventListener("click", () => this.#openQuery(member.nick));
      item.append(button);
      return item;
    });
    list.replaceChildren(...items);
  }

  #openQuery(nick) {
    const chat = this.chat;
    if (!chat || chat.fold(nick) === chat.fold(chat.client.nick)) return;
    chat.input(`/query ${nick}`);
    this.drawer(null);
    $("input").focus();
  }

  /** The connection banner. */
  connection(state, { reason, retryIn }) {
    const status = $("status");
    const text = $("status-text");
    const now = $("reconnect-now");
    document.body.dataset.connection = state;
    clearInterval(this.countdown);
    if (state === "registered") {
      status.hidden = true;
      return;
    }
    status.hidden = false;
    now.hidden = state !== "waiting";
    if (state === "connecting") text.textContent = "Connecting…";
    else if (state === "closed") {
      text.textContent = reason ? `Disconnected: ${reason}` : "Disconnected.";
    } else {
      const until = Date.now() + (retryIn ?? 0);
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        text.textContent = `Connection lost${
          reason ? ` (${reason})` : ""
        }. Reconnecting in ${seconds} s…`;
      };
      tick();
      this.countdown = setInterval(tick, 1000);
    }
  }

  /** Who the person is, and whether they are away. */
  me(nick, away) {
    $("me-nick").textContent = away ? `${nick} (away)` : nick;
  }

  /** Whether the person is reading this conversation now (shown, visible, at the end). */
  isReading(buffer) {
    return this.shown === buffer && !document.hidden && this.#atEnd();
  }

  /** Whether the person has scrolled back in this conversation (it is shown and not at its end). */
  isScrolledBack(buffer) {
    return this.shown === buffer && !this.#stuck;
  }

  /** Removes the elements of forgotten messages. */
  forget(messages) {
    for (const message of messages) message.el?.remove();
  }

  /** Whether the log is scrolled near its top (or too short to scroll). */
  nearTop() {
    return this.scroller.scrollTop < TOP_SLACK;
  }

  #atEnd() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= END_SLACK;
  }

  #toEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.#stuck = true;
  }

  #scrolled() {
    this.#stuck = this.#atEnd();
    const buffer = this.shown;
    if (!buffer || !this.chat) return;
    if (this.#stuck) this.chat.markRead(buffer);
    if (this.scroller.scrollTop < TOP_SLACK) this.chat.loadOlder(buffer);
    this.#jump();
  }

  /** The "new messages ↓" button, when there are unread messages below. */
  #jump() {
    const buffer = this.shown;
    $("jump").hidden = !buffer || this.#stuck || buffer.unread === 0;
  }
}
