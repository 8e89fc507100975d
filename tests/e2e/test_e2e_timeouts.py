"""Timeouts against the real server (issue #4, item 1): slowloris heads, stalled bodies,
idle keep-alive connections, and streams that no timer may cut.

The server sweeps its connections once a second, so a cut lands between the timeout and
about a second after it; the bounds below leave room for a loaded 2-core machine.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from support.http import get, http_request, read_response
from support.server import wait_for

pytestmark = pytest.mark.e2e


def health_ok(server) -> bool:
    return http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')


def read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data


def assert_408_then_closed(sock: socket.socket) -> None:
    reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), reply[:200]
    assert b"\r\nConnection: close\r\n" in reply


def trickle(sock: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Send one byte every ``every`` seconds until done, stopped, or the server closes."""
    for i in range(len(data)):
        if stop.wait(every):
            return
        try:
            sock.send(data[i:i + 1])
        except OSError:
            return


def test_slowloris_head_is_cut_although_bytes_keep_coming(start_server):
    """A head trickled a byte at a time never finishes: the timer runs from its first byte,
    it is not reset by each read."""
    server = start_server("--header-timeout", "1.5", "--keepalive-timeout", "30")
    with server.connect(timeout=15) as sock:
        stop = threading.Event()
        start = time.monotonic()
        sock.send(b"G")
        sender = threading.Thread(target=trickle, args=(
            sock, b"ET /health HTTP/1.1\r\nHost: slow\r\n" + b"X-Slow: " + b"s" * 500, 0.2, stop))
        sender.start()
        try:
            assert_408_then_closed(sock)
            elapsed = time.monotonic() - start
        finally:
            stop.set()
            sender.join()
    assert 1.4 < elapsed < 5, elapsed
    assert health_ok(server)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_that_stalls_is_cut_after_the_header_timeout(start_server, framing):
    server = start_server("--header-timeout", "1.5", "--keepalive-timeout", "30")
    if framing == "content-length":
        raw = b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 10
    else:
        raw = b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    with server.connect(timeout=15) as sock:
        start = time.monotonic()
        sock.sendall(raw)
        assert_408_then_closed(sock)
        assert 1.4 < time.monotonic() - start < 5
    assert health_ok(server)


def test_a_connection_that_sends_nothing_is_closed(start_server):
    """Connected, never a byte: closed after the keep-alive timeout (there is no request to answer)."""
    server = start_server("--keepalive-timeout", "1", "--header-timeout", "30")
    with server.connect(timeout=15) as sock:
        start = time.monotonic()
        reply = read_all(sock)
        elapsed = time.monotonic() - start
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408 "), reply
    assert 0.9 < elapsed < 4, elapsed


def test_many_slowloris_clients_do_not_delay_anyone_else(start_server):
    server = start_server("--header-timeout", "2", "--keepalive-timeout", "30")
    slow = []
    for n in range(100):
        sock = server.connect(timeout=15)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: slow-%d\r\n" % n)
        slow.append(sock)
    try:
        start = time.monotonic()
        for _ in range(20):
            assert health_ok(server)
        assert time.monotonic() - start < 2
        for sock in slow:
            assert_408_then_closed(sock)
    finally:
        for sock in slow:
            sock.close()


def test_a_stream_that_outlives_both_timeouts_and_stalls_its_reader_is_never_cut(start_server):
    """A client that stops reading for longer than both timeouts keeps its stream: pacing
    pauses (flow control) and resumes where it stood when the client reads again."""
    server = start_server("--keepalive-timeout", "1", "--header-timeout", "1")
    with server.connect(timeout=15) as sock:
        # ~12 MB unpaced: far more than the socket buffers hold while nobody reads
        sock.sendall(get("/stream-sse?delay_ms=0&max_tokens=60000"))
        time.sleep(3.5)                                 # the server is paused on a full socket
        response = read_response(sock.makefile("rb"))
    events = response.sse_events()
    assert len(events) == 60001 and events[-1] == "[DONE]"


def test_keep_alive_timeout_never_cuts_requests_queued_behind_a_stream(start_server):
    server = start_server("--keepalive-timeout", "1", "--header-timeout", "1")
    with server.connect(timeout=15) as sock:
        sock.sendall(get("/stream-sse?delay_ms=500&max_tokens=5") + get("/health") + get("/api/data"))
        reader = sock.makefile("rb")
        assert len(read_response(reader).sse_events()) == 6   # 2 s: longer than both timeouts
        assert read_response(reader).json() == {"status": "ok"}
        assert read_response(reader).status == 200
        idle_from = time.monotonic()
        assert reader.read() == b""                          # then idle: closed after 1 s
        assert 0.9 < time.monotonic() - idle_from < 4


def test_the_header_timeout_counts_per_request_on_a_kept_alive_connection(start_server):
    """Quick requests on one connection for longer than the header timeout are never cut."""
    server = start_server("--header-timeout", "1", "--keepalive-timeout", "1")
    with server.connect(timeout=15) as sock:
        reader = sock.makefile("rb")
        end = time.monotonic() + 3
        while time.monotonic() < end:
            sock.sendall(get("/health"))
            assert read_response(reader).status == 200
            time.sleep(0.3)
    assert wait_for(lambda: health_ok(server))
