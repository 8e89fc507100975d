"""--workers N (issue #4, item 8): signals to the parent shut every worker down gracefully,
and a worker that dies, however it dies, is replaced, logged, and serves again.

(tests/e2e/test_e2e_process.py already checks that two workers share the port, that a
SIGKILLed worker is replaced and logged, and --workers 0.)
"""
from __future__ import annotations

import os
import re
import signal
import socket
import time

import pytest

from support.http import get, http_request, read_response
from support.server import children, replaced, socket_count, wait_for

pytestmark = pytest.mark.e2e




def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False




def health_ok(server) -> bool:
    return http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')


def open_streams(server, target: str, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        sock = server.connect(timeout=15)
        sock.sendall(get(target))
        socks.append(sock)
    for sock in socks:
        assert sock.recv(12) == b"HTTP/1.1 200"
    return socks


def finish(sock: socket.socket) -> list[str]:
    """The rest of a stream whose first 12 bytes were read: its events, strictly."""
    reader = sock.makefile("rb")
    rest = reader.readline()
    assert rest.startswith(b" OK"), rest
    while reader.readline() != b"\r\n":
        pass
    body = b""
    while True:
        size = int(reader.readline(), 16)
        if size == 0:
            assert reader.readline() == b"\r\n"
            break
        body += reader.read(size)
        assert reader.read(2) == b"\r\n"
    assert reader.read() == b"", "closed after the stream"
    text = body.decode()
    assert text.endswith("\n\n")
    return [e[len("data: "):] for e in text[:-2].split("\n\n")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_parent_shuts_every_worker_down_gracefully(start_server, sig):
    server = start_server("--workers", "2", "--shutdown-timeout", "2")
    assert wait_for(lambda: len(children(server.proc.pid)) == 2)
    workers = children(server.proc.pid)
    base = {pid: socket_count(pid) for pid in workers}
    finite = open_streams(server, "/stream-sse?delay_ms=100&max_tokens=8", 8)   # end within the grace
    endless = open_streams(server, "/stream-loop?delay_ms=50", 8)               # ended for us
    assert all(socket_count(pid) > base[pid] for pid in workers), "streams on both workers"
    start = time.monotonic()
    server.proc.send_signal(sig)
    for sock in finite:
        events = finish(sock)
        assert len(events) == 9 and events[-1] == "[DONE]"
    for sock in endless:
        assert finish(sock)[-1] == "[DONE]"
    assert server.proc.wait(10) == 0
    assert 1.5 < time.monotonic() - start < 8
    assert not any(alive(pid) for pid in workers), "a worker outlived the parent"
    for sock in finite + endless:
        sock.close()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGUSR1"])  # SIGUSR1: unhandled, no core
# file, and (unlike SIGHUP) not ignored when the tests run under nohup
def test_a_worker_that_dies_is_replaced_logged_and_serves(start_server, how):
    server = start_server("--workers", "2")
    assert wait_for(lambda: len(children(server.proc.pid)) == 2)
    before = children(server.proc.pid)
    victim = before[0]
    os.kill(victim, getattr(signal, how))
    assert wait_for(lambda: replaced(server.proc.pid, {victim}, 2), timeout=10)
    assert wait_for(lambda: re.search(rf"worker \d \(pid {victim}\) exited with -?\d+; "
                                      r"starting a new one", server.log), timeout=5), server.log
    fresh = children(server.proc.pid)
    assert len(set(fresh) - set(before)) == 1
    # the replacement listens and gets its share of the connections
    base = {pid: socket_count(pid) for pid in fresh}
    assert wait_for(lambda: health_ok(server))
    held = [server.connect(timeout=10) for _ in range(24)]
    try:
        readers = [s.makefile("rb") for s in held]
        for sock, reader in zip(held, readers):
            sock.sendall(get("/health"))
            assert read_response(reader).status == 200
        assert all(socket_count(pid) > base[pid] for pid in fresh), (base, fresh)
        for reader in readers:
            reader.close()
    finally:
        for sock in held:
            sock.close()


def test_workers_keep_being_replaced(start_server):
    server = start_server("--workers", "2")
    assert wait_for(lambda: len(children(server.proc.pid)) == 2)
    killed = set()
    for _ in range(4):
        victim = children(server.proc.pid)[-1]
        killed.add(victim)
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: replaced(server.proc.pid, killed, 2), timeout=10)
        assert health_ok(server)
    assert server.log.count("starting a new one") == 4


def test_streams_on_the_other_worker_survive_a_worker_death(start_server):
    server = start_server("--workers", "2", "--delay-ms", "50")
    assert wait_for(lambda: len(children(server.proc.pid)) == 2)
    victim, survivor = children(server.proc.pid)
    base = socket_count(survivor)
    socks = open_streams(server, "/stream-sse?max_tokens=40", 16)       # 2 s each
    on_survivor = socket_count(survivor) - base
    assert 0 < on_survivor < 16, "streams on both workers"
    os.kill(victim, signal.SIGKILL)
    completed = cut = 0
    for sock in socks:
        try:
            events = finish(sock)
            assert len(events) == 41 and events[-1] == "[DONE]"
            completed += 1
        except (AssertionError, ValueError, ConnectionError):
            cut += 1                                   # it was on the killed worker
        finally:
            sock.close()
    assert completed == on_survivor and cut == 16 - on_survivor
    assert health_ok(server)
