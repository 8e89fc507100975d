"""The limits that got flags in issue 12 (point 6) reach the running server, as a flag
or as a FASTMOCK_* variable: what the kernel and a client see."""
from __future__ import annotations

import subprocess
import time

import pytest

from support.http import get, http_request, read_response
from support.server import wait_for

pytestmark = pytest.mark.e2e


def ss(*filters: str) -> list[list[str]]:
    """Rows of `ss -tnH` for the given state and filter: [state?, Recv-Q, Send-Q, local, peer]."""
    out = subprocess.run(["ss", "-tnH", *filters], capture_output=True, text=True, check=True)
    return [line.split() for line in out.stdout.splitlines()]


def status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


@pytest.mark.parametrize("how", ["flag", "env"])
def test_backlog_is_the_listen_queue(start_server, how):
    server = (start_server("--backlog", "7") if how == "flag"
              else start_server(env={"FASTMOCK_BACKLOG": "7"}))
    [row] = ss("state", "listening", f"( sport = :{server.port} )")
    assert row[1] == "7", row       # Send-Q of a listening socket is its backlog


@pytest.mark.parametrize("how", ["flag", "env"])
def test_max_url_bytes(start_server, how):
    server = (start_server("--max-url-bytes", "64") if how == "flag"
              else start_server(env={"FASTMOCK_MAX_URL_BYTES": "64"}))
    fits = "/health?" + "a" * (64 - len("/health?"))
    assert status(http_request(server, get(fits, "Connection: close"))) == 200
    assert status(http_request(server, get(fits + "a", "Connection: close"))) == 414


@pytest.mark.parametrize("how", ["flag", "env"])
def test_max_header_bytes(start_server, how):
    server = (start_server("--max-header-bytes", "300") if how == "flag"
              else start_server(env={"FASTMOCK_MAX_HEADER_BYTES": "300"}))
    assert status(http_request(server, get("/health", "Connection: close", "X-Pad: " + "a" * 100))) == 200
    assert status(http_request(server, get("/health", "Connection: close", "X-Pad: " + "a" * 300))) == 431


@pytest.mark.parametrize("how", ["flag", "env"])
def test_max_headers(start_server, how):
    server = (start_server("--max-headers", "4") if how == "flag"
              else start_server(env={"FASTMOCK_MAX_HEADERS": "4"}))
    # get() adds Host: that and Connection make two
    assert status(http_request(server, get("/health", "Connection: close", "X-A: 1", "X-B: 2"))) == 200
    assert status(http_request(server, get("/health", "Connection: close", "X-A: 1", "X-B: 2",
                                           "X-C: 3"))) == 431


@pytest.mark.parametrize("how", ["flag", "env"])
def test_max_pipelined_pauses_reading_behind_a_stream(start_server, how):
    """Behind a running stream, the server reads ahead this many requests and then leaves the
    rest in the kernel's receive queue until the stream ends."""
    server = (start_server("--max-pipelined", "1") if how == "flag"
              else start_server(env={"FASTMOCK_MAX_PIPELINED": "1"}))
    with server.connect(timeout=10) as sock:
        sock.sendall(get("/stream-sse?delay_ms=50&max_tokens=40"))      # 2 s
        assert sock.recv(12) == b"HTTP/1.1 200"
        client_port = sock.getsockname()[1]

        def unread() -> int:
            rows = ss("state", "established", f"( sport = :{server.port} and dport = :{client_port} )")
            return int(rows[0][0]) if rows else 0

        for _ in range(4):                 # one request a write: the first is read, then it pauses
            sock.sendall(get("/health"))
            time.sleep(0.05)
        queued = wait_for(unread, timeout=1)
        assert queued >= 3 * len(get("/health")), queued
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b" OK")
        while reader.readline() != b"\r\n":
            pass
        while (size := int(reader.readline(), 16)):
            reader.read(size + 2)
        reader.readline()
        for _ in range(4):                 # all answered once the stream is over
            assert read_response(reader).status == 200
        assert unread() == 0


def test_max_pipelined_default_reads_them_all(start_server):
    """The same client with the default (16): nothing is left unread."""
    server = start_server()
    with server.connect(timeout=10) as sock:
        sock.sendall(get("/stream-sse?delay_ms=50&max_tokens=20"))
        assert sock.recv(12) == b"HTTP/1.1 200"
        client_port = sock.getsockname()[1]
        for _ in range(4):
            sock.sendall(get("/health"))
            time.sleep(0.05)
        time.sleep(0.2)
        rows = ss("state", "established", f"( sport = :{server.port} and dport = :{client_port} )")
        assert rows and rows[0][0] == "0", rows
