#!/usr/bin/env python3
"""The latency floor of one chat fan-out on this machine, measured without Deno.

Connects one talker and N readers to a line-based chat server (parley, ncat -l
--chat, anything that relays a line to everyone else), then sends one short
line at a time, 10 ms apart, and times how long it takes to reach each reader.
The readers are served by one epoll loop, which costs less per read than the
Deno bench, so this is a second, independent view of what a single fan-out
costs: the server's N writes, the kernel, and N reads. Nothing queues. (Not
rarer than every 10 ms: after longer pauses the idle VM's wake-up shows too.)
tools/fanout_floor.c measures the same with a C reader, leaner still.

    ncat -l --chat --max-conns 300 127.0.0.1 4000 &
    python3 tools/fanout_floor.py 4000 99

Prints p50, p99 and max over all deliveries, in milliseconds. Exit code 1 when
a line does not reach every reader within 5 s.
"""

import select
import socket
import sys
import time

MESSAGES = 400
GIVE_UP = 5.0


def connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: fanout_floor.py PORT READERS [MESSAGES]")
    port, count = int(sys.argv[1]), int(sys.argv[2])
    messages = int(sys.argv[3]) if len(sys.argv) == 4 else MESSAGES
    talker = connect(port)
    readers = {conn.fileno(): conn for conn in (connect(port) for _ in range(count))}
    time.sleep(0.5)  # let greetings and join notices arrive, then drop them
    poller = select.epoll()
    for fd, conn in readers.items():
        conn.setblocking(False)
        poller.register(fd, select.EPOLLIN)
        try:
            while conn.recv(65536):
                pass
        except BlockingIOError:
            pass

    latencies = []
    for seq in range(messages):
        marker = b"floor-%d\n" % seq
        started = time.perf_counter()
        talker.sendall(marker)
        arrived = 0
        while arrived < count:
            for fd, _ in poller.poll(1):
                if marker.strip() in readers[fd].recv(65536):
                    arrived += 1
                    latencies.append(time.perf_counter() - started)
            if arrived < count and time.perf_counter() - started > GIVE_UP:
                sys.exit(f"fanout_floor.py: line {seq} reached {arrived} of {count} readers "
                         f"within {GIVE_UP:.0f} s")
        time.sleep(0.01)

    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    peak = latencies[-1] * 1000
    print(f"{count} readers, {messages} messages: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"max {peak:.2f} ms")


if __name__ == "__main__":
    main()
