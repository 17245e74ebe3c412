#!/usr/bin/env python3
"""A connect burst of IRC clients (issue 18, item 11): N clients connect at
once from several loopback addresses, each sending NICK, USER and JOIN #lobby
in its first segment, and wait for 001. Prints one JSON object:
{"clients", "served" (got 001), "line" (greeted as line clients),
 "closed", "timedOut", "seconds"}.

usage: irc_burst.py PORT [--clients N] [--sources K] [--timeout S] [--host H]

One process, one selectors loop (epoll on Linux): it needs N descriptors
(raise `ulimit -n`). It is bounded by --timeout (default 30 s).
"""

import argparse
import json
import selectors
import socket
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--prefix", default="b")
    args = parser.parse_args()

    sel = selectors.DefaultSelector()
    state = {}
    start = time.monotonic()
    for i in range(args.clients):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        nick = "%s%d" % (args.prefix, i)
        try:
            s.bind(("127.0.0.%d" % (2 + i % args.sources), 0))
            # A blocking connect, then the registration at once: its bytes are in the server's
            # socket from the moment the connection is there, as with a client that writes
            # right after connect() returns.
            s.settimeout(5)
            s.connect((args.host, args.port))
            s.sendall(("NICK %s\r\nUSER %s 0 * :burst\r\nJOIN #lobby\r\n" % (nick, nick)).encode())
            s.setblocking(False)
        except OSError:
            s.close()
            state[i] = {"result": "closed"}
            continue
        state[i] = {"sock": s, "in": b"", "result": None}
        sel.register(s, selectors.EVENT_READ, i)
    connected = time.monotonic() - start

    pending = sum(1 for st in state.values() if st["result"] is None)
    deadline = start + args.timeout
    while pending > 0 and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=0.2):
            i = key.data
            st = state[i]
            s = st["sock"]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                st["result"] = "closed"
            else:
                st["in"] += data
                if b" 001 " in st["in"]:
                    st["result"] = "served"
                elif b"*** welcome" in st["in"]:
                    st["result"] = "line"
                else:
                    st["in"] = st["in"][-512:]
            if st["result"] is not None:
                sel.unregister(s)
                pending -= 1
    seconds = time.monotonic() - start
    counts = {"served": 0, "line": 0, "closed": 0, "timedOut": 0}
    for st in state.values():
        counts[st["result"] or "timedOut"] += 1
        if "sock" in st:
            try:
                st["sock"].close()
            except OSError:
                pass
    print(json.dumps({"clients": args.clients, **counts, "connectSeconds": round(connected, 2),
                      "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
