"""The e2e tests' own fixtures (the ones that start a plain server are in tests/conftest.py):
servers started with particular flags, the server's pieces on a real loop in this process,
supervisor scripts with stand-in workers, and cgroups with a CPU quota."""
from __future__ import annotations

import asyncio
import json
import os

import pytest
import uvloop

from fastmock.acceptor import Acceptor
from fastmock.config import Config
from fastmock.frames import Frames
from fastmock.protocol import HttpProtocol
from fastmock.server import App, bind_socket
from support.cgroups import Cgroup
from support.http import get, http_request
from support.limited import compose_limits
from support.scripted import WIRE
from support.server import LiveServer, children, wait_for
from support.supervisor_script import Script


# -- servers started with particular flags -------------------------------------------------

@pytest.fixture
def control(start_server):
    """A server paced at 1 ms for the control API's tests (test_e2e_control.py)."""
    return start_server("--delay-ms", "1")


@pytest.fixture
def two_workers(start_server):
    """A server with ``--workers 2``, both workers up (test_e2e_metrics.py)."""
    server = start_server("--workers", "2", "--delay-ms", "5")
    assert wait_for(lambda: len(children(server.proc.pid)) == 2)
    return server


@pytest.fixture(scope="module")
def fuzz_server():
    """One server for the fuzz module; at the end it is alive, healthy and its log clean."""
    server = LiveServer("--delay-ms", "0", "--header-timeout", "2", "--keepalive-timeout", "2",
                        "--max-body-bytes", "4096")
    yield server
    assert server.proc.poll() is None, "the server died:\n" + server.log
    assert http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')
    code = server.stop()
    server.assert_clean_log()
    assert code == 0, server.log


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory):
    """support.scripted.WIRE written to a file (test_e2e_fixtures.py)."""
    path = tmp_path_factory.mktemp("fixtures") / "answers.json"
    path.write_text(json.dumps(WIRE))
    return path


@pytest.fixture(scope="module")
def scripted(fixture_file):
    """One server per module answering from fixture_file."""
    server = LiveServer("--delay-ms", "0", "--fixtures", str(fixture_file))
    yield server
    server.stop_cleanly()


# -- the server's pieces in this process ---------------------------------------------------

@pytest.fixture
def served():
    """(loop, app, acceptor, port, protocols made); fails on any exception-handler call."""
    loop = uvloop.new_event_loop()
    errors = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    app = App(Config(), loop, Frames())
    sock = bind_socket("127.0.0.1", 0, 1024, reuse_port=False)
    made = []

    def protocol(fd):
        made.append(fd)
        return HttpProtocol(app, fd)

    acceptor = Acceptor(loop, sock, protocol)
    try:
        yield loop, app, acceptor, sock.getsockname()[1], made
    finally:
        acceptor.close()
        for conn in app.connections:
            conn.transport.abort()
        loop.run_until_complete(asyncio.sleep(0.01))
        app.pacer.close()
        loop.close()
    assert errors == []


# -- the supervisor with stand-in workers --------------------------------------------------

@pytest.fixture
def script(tmp_path):
    """script(body) -> Script: a supervisor script running; every one is ended with its workers."""
    scripts: list[Script] = []

    def start(body: str) -> Script:
        scripts.append(Script(tmp_path, body))
        return scripts[-1]

    yield start
    for s in scripts:
        s.kill_group()


# -- cgroups with a CPU quota --------------------------------------------------------------

@pytest.fixture
def cpu_cgroup():
    """cpu_cgroup(cpus, nested=False) -> a fresh Cgroup with that CPU quota and no memory limit
    (skips where none can be made); every one is removed afterwards."""
    made: list[Cgroup] = []

    def make(cpus: float, nested: bool = False) -> Cgroup:
        group = Cgroup(f"fastmock-cpu-{os.getpid()}-{len(made)}", cpus, nested=nested)
        why = group.create()
        if why:
            pytest.skip(f"no writable cgroup on this machine: {why}")
        made.append(group)
        return group

    yield make
    for group in made:
        group.remove()


# -- under the compose limits (test_e2e_memory.py, test_e2e_conformance.py) ----------------

@pytest.fixture
def limits():
    group = compose_limits()
    yield group
    group.remove()


def _served_under_limits(*flags: str):
    """A server under the compose limits for a module's light tests; on the way out it
    must have stopped cleanly (exit 0, no error logged) and never been OOM-killed."""
    group = compose_limits()
    server = group.start(*flags)
    yield server
    code = server.stop()
    server.assert_clean_log()
    assert code == 0 and group.oom_kills() == 0, server.log
    group.remove()


@pytest.fixture(scope="module")
def limited_server():
    """test_e2e_memory.py: paced at 20 ms."""
    yield from _served_under_limits("--delay-ms", "20")


@pytest.fixture(scope="module")
def conformance_server():
    """test_e2e_conformance.py: paced at 1 ms."""
    yield from _served_under_limits("--delay-ms", "1")
