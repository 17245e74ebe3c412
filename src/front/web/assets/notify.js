/**
 * Telling the person about what they should not miss: a browser
 * notification for a mention or a private message while the tab is hidden
 * (only once they allowed it with the button; the page never asks on load),
 * and the unread count in the tab's title.
 *
 * @module
 */

import * as storage from "./storage.js";

/** Notifications and the title. */
export class Notifier {
  constructor() {
    /** Whether the person wants notifications (and the browser allows them). */
    this.enabled = this.supported && Notification.permission === "granted" &&
      storage.get("notify") !== false;
    /** Called when the state changes (the button's label). */
    this.onchange = () => {};
  }

  get supported() {
    return typeof Notification !== "undefined";
  }

  /** Asks the browser for permission (from a click), or turns notifications off. */
  async toggle() {
    if (!this.supported) return;
    if (this.enabled) {
      this.enabled = false;
    } else {
      const permission = Notification.permission === "granted"
        ? "granted"
        : await Notification.requestPermission();
      this.enabled = permission === "granted";
    }
    storage.set("notify", this.enabled);
    this.onchange();
  }

  /** The button's text for the current state. */
  get label() {
    if (!this.supported) return "";
    if (Notification.permission === "denied") return "Notifications blocked";
    return this.enabled ? "Notifications on" : "Turn on notifications";
  }

  /**
   * A notification for a message, when the page is hidden.
   * @param {import("./model.js").Buffer} buffer
   * @param {import("./model.js").ChatMessage} message
   * @param {() => void} open shows the conversation
   */
  mention(buffer, message, open) {
    if (!this.enabled || !document.hidden) return;
    const where = buffer.kind === "query" ? "private message" : buffer.name;
    const body = message.kind === "action" ? `* ${message.nick} ${message.text}` : message.text;
    try {
      const note = new Notification(`${message.nick} (${where})`, {
        body: body.slice(0, 300),
        tag: `parley:${buffer.key}`,
      });
      note.onclick = () => {
        globalThis.focus();
        open();
        note.close();
      };
    } catch {
      // Some browsers only notify from a service worker: nothing to do then.
    }
  }

  /**
   * The tab's title: unread mentions and private messages first.
   * @param {{buffers: Map<string, import("./model.js").Buffer>, active: import("./model.js").Buffer}} chat
   */
  title(chat) {
    let count = 0;
    for (const buffer of chat.buffers.values()) {
      if (buffer.mentioned || (buffer.kind === "query" && buffer.unread)) {
        count += buffer.unread || 1;
      }
    }
    const name = chat.active.kind === "server" ? "parley" : `${chat.active.name} · parley`;
    document.title = count ? `(${count}) ${name}` : name;
  }
}
