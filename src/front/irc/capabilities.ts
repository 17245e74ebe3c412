/**
 * The IRCv3 capabilities parley offers, with their values (`CAP LS 302`), and
 * which of them change how the chat's events are rendered. Clients with the
 * same rendering capabilities share one {@linkcode IrcRenderer}: an event is
 * rendered once per distinct set in use, never once per receiver.
 *
 * Adding a capability: an entry in {@linkcode CAPABILITIES}, a flag in
 * {@linkcode RenderCaps} when it changes how events look (the renderer reads
 * it), and the behaviour where it belongs.
 *
 * @module
 */

/** A capability: its name and its value in `CAP LS 302`. */
interface Capability {
  name: string;
  /** `sasl=PLAIN`: the value after `=` (shown to 302 clients only). */
  value?: (offer: CapabilityOffer) => string | undefined;
}

/** What a capability's value depends on: the server's settings. */
export interface CapabilityOffer {
  /** draft/account-registration's `before-connect`: REGISTER before CAP END (`Chat.registersBeforeEntering`). */
  registerBeforeConnect?: boolean;
}

/** What a renderer renders differently, one flag per rendering capability. */
export interface RenderCaps {
  serverTime: boolean;
  messageTags: boolean;
  accountTag: boolean;
  extendedJoin: boolean;
  awayNotify: boolean;
  accountNotify: boolean;
  setname: boolean;
  inviteNotify: boolean;
}

/** Every capability parley offers. */
const CAPABILITIES: readonly Capability[] = [
  { name: "server-time" },
  { name: "message-tags" },
  { name: "batch" },
  { name: "labeled-response" },
  { name: "echo-message" },
  { name: "cap-notify" },
  // History (chathistory.ts): CHATHISTORY; no draft/event-playback (messages only).
  { name: "draft/chathistory" },
  // Read markers (devices.ts): MARKREAD, kept per account, told to all its devices.
  { name: "draft/read-marker" },
  // Channels (channels.ts, modes.ts): every prefix in NAMES and WHO, nick!user@host in NAMES,
  // INVITE shown to a room's operators.
  { name: "multi-prefix" },
  { name: "userhost-in-names" },
  { name: "invite-notify" },
  // Queries (queries.ts): AWAY and SETNAME told to neighbours who asked.
  { name: "away-notify" },
  { name: "setname" },
  // Accounts (sasl.ts, account_registration.ts): PLAIN only; no client certificates (EXTERNAL),
  // as Deno's TLS listener cannot ask for them.
  { name: "sasl", value: () => "PLAIN" },
  { name: "account-notify" },
  { name: "account-tag" },
  { name: "extended-join" },
  {
    name: "draft/account-registration",
    value: (offer) => offer.registerBeforeConnect ? "before-connect" : undefined,
  },
];

const BY_NAME = new Map(CAPABILITIES.map((cap) => [cap.name, cap]));

/** Whether parley offers capability `name`. */
export function isOffered(name: string): boolean {
  return BY_NAME.has(name);
}

/** The capabilities as `CAP LS` lists them (with values for `CAP LS 302` clients). */
export function capabilityList(withValues: boolean, offer: CapabilityOffer = {}): string[] {
  return CAPABILITIES.map((cap) => {
    const value = withValues ? cap.value?.(offer) : undefined;
    return value ? `${cap.name}=${value}` : cap.name;
  });
}

/** The rendering flags of a set of capabilities. */
export function renderCaps(caps: ReadonlySet<string>): RenderCaps {
  return {
    serverTime: caps.has("server-time"),
    messageTags: caps.has("message-tags"),
    accountTag: caps.has("account-tag"),
    extendedJoin: caps.has("extended-join"),
    awayNotify: caps.has("away-notify"),
    accountNotify: caps.has("account-notify"),
    setname: caps.has("setname"),
    inviteNotify: caps.has("invite-notify"),
  };
}

/** A key naming the rendering of a set of capabilities: equal keys render alike. */
export function renderKey(caps: ReadonlySet<string>): string {
  return Object.values(renderCaps(caps)).map((on) => on ? "1" : "0").join("");
}
