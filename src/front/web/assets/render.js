/**
 * Turns one message into its list item. Every piece of text from the network
 * goes in as text (textContent or text nodes), never as HTML; links are made
 * only for http and https addresses, opening in a new tab without a referrer.
 *
 * @module
 */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  day: "numeric",
  month: "long",
  year: "numeric",
});

/** Addresses that become links (the rest of the text stays text). */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
const NICK_COLOURS = 12;

/**
 * A stable colour class for a nick (`c0` … `c11`).
 * @param {string} nick
 */
export function nickColour(nick) {
  let hash = 5381;
  for (const char of nick.toLowerCase()) hash = ((hash * 33) ^ char.codePointAt(0)) >>> 0;
  return `c${hash % NICK_COLOURS}`;
}

/**
 * The day a time falls on, as shown in day separators.
 * @param {number} time
 */
export function dayLabel(time) {
  return dayFormat.format(new Date(time));
}

/**
 * Text with its http(s) links as `<a>` elements, everything as text nodes.
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function linkify(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    // Leave closing punctuation to the sentence, and ) unless the link opened one.
    while (/[.,;:!?'"\])}>]$/.test(url)) {
      if (url.endsWith(")") && (url.match(/\(/g)?.length ?? 0) >= (url.match(/\)/g)?.length ?? 0)) {
        break;
      }
      url = url.slice(0, -1);
    }
    let href;
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") continue;
      href = parsed.href;
    } catch {
      continue;
    }
    const start = match.index ?? 0;
    if (start > last) fragment.append(text.slice(last, start));
    const link = document.createElement("a");
    link.href = href;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = url;
    fragment.append(link);
    last = start + url.length;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}

/**
 * The list item for a message.
 * @param {import("./model.js").ChatMessage} message
 * @returns {HTMLLIElement}
 */
export function messageElement(message) {
  const item = document.createElement("li");
  item.className = `msg k-${message.kind}`;
  if (message.self) item.classList.add("self");
  if (message.highlight) item.classList.add("mention");
  if (message.local) item.classList.add("local");
  const date = new Date(message.time);
  const time = document.createElement("time");
  time.dateTime = date.toISOString();
  time.title = fullFormat.format(date);
  time.textContent = timeFormat.format(date);
  const body = document.createElement("span");
  body.className = "body";
  const talk = message.kind === "privmsg" || message.kind === "action" ||
    message.kind === "notice";
  if (talk && message.nick) {
    const nick = document.createElement("span");
    nick.className = `nick ${nickColour(message.nick)}`;
    nick.dataset.nick = message.nick;
    nick.textContent = message.kind === "action"
      ? `* ${message.nick}`
      : message.kind === "notice"
      ? `-${message.nick}-`
      : message.nick;
    body.append(nick, " ");
  }
  const text = document.createElement("span");
  text.className = "text";
  text.append(linkify(message.text));
  body.append(text);
  item.append(time, body);
  return item;
}
