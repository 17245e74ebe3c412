/**
 * The paced scenario with one person on two devices (issue 23): half the
 * talkers are second devices of the other half's accounts. Before the run the
 * accounts are registered over the line protocol, as people register them
 * (from several loopback addresses: the server lets each address register a
 * few nicks a minute, and the whole server 30 at once then one a second); in
 * the run every line client's first line proves its account
 * (`/identify NICK PASSWORD`, what `parley client --password-file` sends), so
 * talker `i` and talker `i + clients / 2` are one member, and each message
 * reaches the 99 other connections, its sender's other device among them.
 *
 * @module
 */

import { sleep } from "../async.ts";
import { BenchError } from "./servers.ts";

/** The password of every bench account. */
export const DEVICE_PASSWORD = "bench-device-password";
/** Accounts registered from one source address (the server takes 5 at once from one). */
const PER_SOURCE = 5;
/** Connections that prove an account from one source address (at most 8 wait for a check). */
export const LOGINS_PER_SOURCE = 4;
/** Longest the registrations may take (ms). */
const REGISTER_LIMIT = 120_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The account of talker `index` of `clients`: talkers `i` and `i + clients / 2` share one. */
export function deviceAccount(index: number, clients: number): string {
  return `bd${index % Math.max(1, Math.floor(clients / 2))}`;
}

/** What talker `index` sends first: the line that proves its account. */
export function deviceFirstLine(clients: number): (index: number) => Uint8Array {
  return (index) =>
    encoder.encode(`/identify ${deviceAccount(index, clients)} ${DEVICE_PASSWORD}\n`);
}

/**
 * Registers the accounts of `clients` talkers (`clients / 2` of them) on the
 * server at `host:port`; resolves once every one is registered, retrying what
 * the server asks to wait for. Throws a {@linkcode BenchError} when it cannot.
 */
export async function registerAccounts(host: string, port: number, clients: number): Promise<void> {
  const count = Math.max(1, Math.floor(clients / 2));
  const deadline = Date.now() + REGISTER_LIMIT;
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) => register(host, port, `bd${i}`, sourceOf(Math.floor(i / PER_SOURCE)), deadline),
    ),
  );
}

/** The `n`-th source address for registering: 127.0.0.10, 127.0.0.11, … */
function sourceOf(n: number): string {
  return `127.0.${Math.floor((10 + n) / 250)}.${(10 + n) % 250 + 2}`;
}

/** One account: `/nick`, then `/register` until the server takes it. */
async function register(
  host: string,
  port: number,
  nick: string,
  source: string,
  deadline: number,
): Promise<void> {
  const { connect } = await import("node:net");
  const socket = connect({ host, port, localAddress: source });
  let text = "";
  let closed = false;
  socket.on("data", (chunk: Uint8Array) => text += decoder.decode(chunk, { stream: true }));
  socket.on("error", () => closed = true);
  socket.on("close", () => closed = true);
  const until = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    for (;;) {
      const match = text.match(pattern);
      if (match !== null) return match;
      if (closed || Date.now() > deadline) {
        throw new BenchError(`cannot register ${nick} for the devices scenario: ${text.trim()}`);
      }
      await sleep(20);
    }
  };
  try {
    socket.write(encoder.encode(`/nick ${nick}\n`));
    await until(new RegExp(`you are (?:now )?${nick}\\b`));
    for (;;) {
      text = "";
      socket.write(encoder.encode(`/register ${DEVICE_PASSWORD}\n`));
      const answer = await until(/is yours now|!!! .*try again in (\d+) s|!!! .*/);
      if (answer[0] === "is yours now") break;
      if (answer[1] === undefined) {
        throw new BenchError(`cannot register ${nick} for the devices scenario: ${answer[0]}`);
      }
      await sleep(Number(answer[1]) * 1000);
    }
    socket.write(encoder.encode("/quit\n"));
  } finally {
    socket.destroy();
  }
}
