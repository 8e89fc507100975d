"""Resource behaviour: slow readers, abrupt disconnects, many open streams."""
from __future__ import annotations

import re
import socket
import struct
import time

import pytest

from support.http import get, http_request
from support.server import wait_for

pytestmark = pytest.mark.e2e


def metric(server, name: str) -> int:
    text = http_request(server, get("/metrics", "Connection: close")).decode()
    match = re.search(rf"^fastmock_{name} (\d+)$", text, re.M)
    assert match, text
    return int(match.group(1))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def abort(sock: socket.socket) -> None:
    """Close with a RST, the way a killed client goes away."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_the_server_maps_no_openssl_it_never_uses(server):
    """fastmock.nossl: asyncio and uvloop load without the ssl module (1.2 MiB anonymous)."""
    with open(f"/proc/{server.proc.pid}/maps") as maps:
        mapped = maps.read()
    assert "libssl" not in mapped and "libcrypto" not in mapped and "/_ssl." not in mapped


def test_a_client_that_stops_reading_never_grows_server_memory(server):
    sock = server.connect()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(get("/stream-loop?delay_ms=0"))
    # Unpaced: the server writes as fast as it can until the transport pauses it.
    assert wait_for(lambda: metric(server, "tokens_sent_total") > 100)
    time.sleep(0.5)
    paused_at = metric(server, "tokens_sent_total")
    rss_before = rss_kb(server.proc.pid)
    time.sleep(1.5)
    assert metric(server, "tokens_sent_total") == paused_at  # nothing more is produced
    assert rss_kb(server.proc.pid) - rss_before < 512
    # Reading again resumes the stream from where it stood.
    sock.settimeout(5)
    received = b""
    while len(received) < 2_000_000:
        received += sock.recv(1 << 16)
    assert metric(server, "tokens_sent_total") > paused_at
    abort(sock)
    assert wait_for(lambda: metric(server, "active_streams") == 0)


def test_a_slow_paced_reader_is_not_flooded(server):
    """Pacing continues at its rate; frames for a reader that keeps up are not batched."""
    with server.connect() as sock:
        sock.sendall(get("/stream-loop?delay_ms=20"))
        time.sleep(0.5)
        data = b""
        sock.settimeout(1)
        try:
            while True:
                chunk = sock.recv(65536)
                data += chunk
                if len(chunk) < 65536:
                    break
        except socket.timeout:
            pass
    frames = data.count(b"data: ")
    assert 20 <= frames <= 30, frames  # 0.5 s at 20 ms


def test_abrupt_disconnects_free_every_stream(server):
    socks = []
    for n in range(200):
        sock = server.connect()
        sock.sendall(get("/stream-loop?delay_ms=10" if n % 2 else "/stream-sse?delay_ms=50"))
        socks.append(sock)
    assert wait_for(lambda: metric(server, "active_streams") == 200)
    for sock in socks:
        abort(sock)
    assert wait_for(lambda: metric(server, "active_streams") == 0)
    assert wait_for(lambda: metric(server, "open_connections") == 1)  # the /metrics request
    tokens = metric(server, "tokens_sent_total")
    time.sleep(0.3)
    assert metric(server, "tokens_sent_total") == tokens  # no timer fires for the dead streams


def test_clients_that_vanish_mid_stream_with_fin(server):
    for _ in range(50):
        sock = server.connect()
        sock.sendall(get("/stream-sse?delay_ms=1"))
        sock.recv(100)
        sock.close()
    assert wait_for(lambda: metric(server, "active_streams") == 0)
    assert http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')


def test_thousands_of_open_streams(server):
    """2,000 concurrent /stream-loop streams are held and all keep flowing."""
    socks = []
    try:
        for _ in range(2000):
            sock = server.connect()
            sock.sendall(get("/stream-loop?delay_ms=200"))
            socks.append(sock)
        assert wait_for(lambda: metric(server, "active_streams") == 2000, timeout=20)
        for sock in socks[::97]:
            sock.settimeout(5)
            assert b"data: " in sock.recv(4096)
    finally:
        for sock in socks:
            abort(sock)
    assert wait_for(lambda: metric(server, "active_streams") == 0, timeout=20)
