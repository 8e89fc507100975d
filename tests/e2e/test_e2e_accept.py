"""Accepting connections: out of file descriptors, clients wait in the backlog and are
served once descriptors are free; the server neither spins nor drops them."""
from __future__ import annotations

import os
import resource
import select

from support.http import get, read_response
from support.server import LiveServer, wait_for


def test_out_of_file_descriptors_clients_wait_and_are_served_when_fds_free_up():
    server = LiveServer("--log-level", "warning")
    try:
        pid = server.proc.pid
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (fds + 3, hard))
        clients = [server.connect() for _ in range(8)]
        for sock in clients:
            sock.sendall(get("/health"))
        assert wait_for(lambda: "cannot accept connections: Too many open files" in server.log)
        readable, _, _ = select.select(clients, [], [], 1.0)
        served = [sock for sock in clients if sock in readable]
        waiting = [sock for sock in clients if sock not in readable]
        assert served and waiting
        for sock in served:
            assert _answer(sock) == 200
        cpu = _cpu_seconds(pid)
        for sock in served:          # keep-alive connections: closing them frees their fds
            sock.close()
        for sock in waiting:
            assert _answer(sock) == 200
            sock.close()
        assert _cpu_seconds(pid) - cpu < 1.0   # it waited, it did not spin on accept
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        with server.connect() as sock:
            sock.sendall(get("/health"))
            assert _answer(sock) == 200
        # said once the backlog is empty (accept() says EMFILE before it looks at the backlog)
        assert wait_for(lambda: "accepting connections again" in server.log)
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log
    assert server.log.count("cannot accept connections") == 1, server.log


def _answer(sock) -> int:
    sock.settimeout(10)
    with sock.makefile("rb") as reader:
        return read_response(reader).status


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
