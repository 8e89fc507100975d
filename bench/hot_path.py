#!/usr/bin/env python3
"""The seed's hot path alone: CPU per repeated GET /api/data answered from the memo.

    taskset -c 0 TREE/.venv/bin/python bench/hot_path.py TREE [ROUNDS]

TREE is a checkout of fastmock whose build the interpreter runs (its tests/support
builds the App on a fake loop). The request goes straight to ``data_received`` and the
answer out with send(2) to a socketpair, so what is measured is the engine's path and
the syscall, without the loop or the load generator: the figure to compare between two
builds, in interleaved runs (README, "Request ids"). Prints the median of ROUNDS rounds,
in CPU nanoseconds per request.
"""
import os
import socket
import sys
import time

TREE = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 9
sys.path.insert(0, os.path.join(TREE, "tests"))

from fastmock.protocol import HttpProtocol  # noqa: E402
from support.fakes import ManualClockLoop, MockTransport, make_app  # noqa: E402

REQUEST = b"GET /api/data HTTP/1.1\r\nHost: localhost:3000\r\n\r\n"
BATCH, BATCHES = 200, 50


def main() -> None:
    loop = ManualClockLoop()
    app = make_app(loop)
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    peer.setblocking(False)
    protocol = HttpProtocol(app, ours.fileno())
    transport = MockTransport(loop, protocol)
    protocol.connection_made(transport)
    protocol.data_received(REQUEST)
    assert REQUEST in app.memo, "the request was not memoised"
    rounds = []
    for _ in range(ROUNDS):
        total = 0
        for _ in range(BATCHES):
            start = time.process_time_ns()
            for _ in range(BATCH):
                protocol.data_received(REQUEST)
            total += time.process_time_ns() - start
            drain(peer)
        rounds.append(total / (BATCHES * BATCH))
    assert not transport.writes, "every answer went out with send(2)"
    rounds.sort()
    print(f"{rounds[len(rounds) // 2]:.0f}")


def drain(sock: socket.socket) -> None:
    try:
        while sock.recv(1 << 20):
            pass
    except BlockingIOError:
        pass


if __name__ == "__main__":
    main()
