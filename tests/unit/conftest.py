"""The unit tests' fixtures: the fake loop (a manual clock that fails the test on any unexpected
error), the answers dispatch gives, a fake cgroup tree, and a listening socket."""
from __future__ import annotations

import logging
import socket

import pytest

from fastmock.providers import dispatch
from support.fake_cgroups import Tree
from support.fakes import Client, ManualClockLoop


@pytest.fixture
def loop(caplog):
    """A manual-clock loop; the test fails if anything reached its exception handler,
    or if fastmock logged more errors than the test declared in ``loop.expected_errors``."""
    loop = ManualClockLoop()
    loop.expected_errors = 0
    yield loop
    assert loop.exception_contexts == [], loop.exception_contexts
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert len(errors) == loop.expected_errors, [r.getMessage() for r in errors]


@pytest.fixture
def client(loop) -> Client:
    """A connection to a server whose streams tick every 10 ms with no TTFT."""
    c = Client(loop, delay_ms=10)
    yield c
    assert c.transport.writes_after_close == [], "written after close()/abort()"


@pytest.fixture
def answers(monkeypatch):
    """Every answer dispatch.answer gives, in order."""
    seen = []
    real = dispatch.answer

    def recording(*args):
        answer = real(*args)
        seen.append(answer)
        return answer
    monkeypatch.setattr(dispatch, "answer", recording)
    return seen


@pytest.fixture
def tree(tmp_path) -> Tree:
    """An empty fake cgroup tree under tmp_path (test_cgroup.py)."""
    return Tree(tmp_path)


@pytest.fixture
def listener():
    """A non-blocking socket listening on 127.0.0.1 (test_acceptor.py)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def blocking_listener():
    """A blocking socket listening on 127.0.0.1 (test_memory_unit.py)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()
