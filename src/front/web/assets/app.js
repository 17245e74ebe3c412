/**
 * The page's entry point: the connect screen (nick remembered, password,
 * "register this nick"), then the chat screen once the server has let us in;
 * it wires the session, the chat, the view, the input line and the
 * notifications together, and follows the browser (tab shown again, back
 * online). The WebSocket goes to the page's own address (`ws://` or `wss://`,
 * same host and path), so a reverse proxy that serves the page serves the
 * chat too.
 *
 * @module
 */

import { IrcClient } from "./client.js";
import { Chat } from "./chat.js";
import { View } from "./view.js";
import { InputLine } from "./input.js";
import { Notifier } from "./notify.js";
import * as storage from "./storage.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const form = /** @type {HTMLFormElement} */ ($("connect-form"));
const nickInput = /** @type {HTMLInputElement} */ ($("nick"));
const passwordInput = /** @type {HTMLInputElement} */ ($("password"));
const registerInput = /** @type {HTMLInputElement} */ ($("register"));
const connectButton = /** @type {HTMLButtonElement} */ ($("connect-button"));
const NICK_PATTERN = /^[\p{L}\p{N}_.\-[\]\\`^{}|]{1,24}$/u;

/** The WebSocket address: this page's own, with ws: or wss:. */
export function socketUrl() {
  const url = new URL(location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  url.search = "";
  return url.href;
}

const view = new View();
const notifier = new Notifier();
/** @type {Chat | null} */
let chat = null;

new InputLine(
  /** @type {HTMLInputElement} */ ($("input")),
  /** @type {HTMLFormElement} */ ($("input-form")),
  {
    submit: (text) => chat?.input(text) ?? false,
    nicks: () => {
      if (!chat) return [];
      const buffer = chat.active;
      if (buffer.kind === "query") return [buffer.name, chat.client.nick];
      return [...buffer.members.values()].map((m) => m.nick).filter((n) => n !== chat?.client.nick);
    },
  },
);

const savedNick = storage.get("nick");
if (typeof savedNick === "string") nickInput.value = savedNick;
nickInput.focus();

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const nick = nickInput.value.trim();
  const password = passwordInput.value;
  const register = registerInput.checked;
  if (!NICK_PATTERN.test(nick)) {
    return showError("Choose a nick: letters, digits, _ - . (up to 24).", nickInput);
  }
  if (register && !password) {
    return showError("To register the nick, choose a password.", passwordInput);
  }
  storage.set("nick", nick);
  start({ nick, password: password || undefined, register });
});

/** Connects with these credentials; the chat screen shows once the server lets us in. */
function start(login) {
  showError("");
  connectButton.disabled = true;
  connectButton.textContent = "Connecting…";
  const client = new IrcClient(socketUrl(), login);
  chat = new Chat(client, view, notifier);
  view.chat = chat;
  client.addEventListener("registered", () => {
    $("connect").hidden = true;
    $("app").hidden = false;
    passwordInput.value = "";
    if (!matchMedia("(hover: none)").matches) $("input").focus();
    if (chat) view.activate(chat.active);
  }, { once: true });
  client.addEventListener("fatal", (event) => stop(event.detail.text));
  client.addEventListener("state", (event) => {
    if (event.detail.state === "closed" && !event.detail.reason) stop("You left the chat.");
  });
  client.connect();
}

/** Back to the connect screen, with why. */
function stop(text) {
  chat = null;
  view.reset();
  $("app").hidden = true;
  $("connect").hidden = false;
  connectButton.disabled = false;
  connectButton.textContent = "Connect";
  showError(text, nickInput);
}

function showError(text, field) {
  const error = $("connect-error");
  error.textContent = text;
  error.hidden = !text;
  if (text && field) field.focus();
}

// The sidebar's controls.
$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("join-input"));
  const name = input.value.trim().replace(/\s+/g, "");
  if (!name || !chat) return;
  chat.join(name.startsWith("#") ? name : `#${name}`);
  input.value = "";
  view.drawer(null);
});
$("quit-button").addEventListener("click", () => chat?.input("/quit"));
$("reconnect-now").addEventListener("click", () => chat?.client.reconnectNow());

const notifyButton = /** @type {HTMLButtonElement} */ ($("notify-button"));
notifier.onchange = () => {
  notifyButton.hidden = !notifier.supported;
  notifyButton.textContent = notifier.label;
  notifyButton.setAttribute("aria-pressed", String(notifier.enabled));
  notifyButton.disabled = typeof Notification !== "undefined" &&
    Notification.permission === "denied";
};
notifier.onchange();
notifyButton.addEventListener("click", () => notifier.toggle());

// The browser: coming back to the tab reads the shown conversation; back online reconnects.
document.addEventListener("visibilitychange", () => {
  if (document.hidden || !chat) return;
  view.placeMarker(chat.active);
  chat.markRead(chat.active);
});
addEventListener("online", () => chat?.client.reconnectNow());
