"""Limits and request framing against the real server (issue #4, item 2).

What llhttp (through httptools) rejects by itself is asserted here end to end, so a
parser upgrade or a leniency switched on by mistake shows up as a failing test: every
request-smuggling shape gets exactly one 400 and a closed connection, and the request
hidden behind it is never answered.
"""
from __future__ import annotations

import re
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

from support.http import get, http_request, read_response
from support.server import wait_for

pytestmark = pytest.mark.e2e

SMUGGLED = b"GET /metrics HTTP/1.1\r\nHost: smuggled\r\n\r\n"
STATUS_LINE = re.compile(rb"HTTP/1\.[01] \d{3} ")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def health_ok(server) -> bool:
    return http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')


def post(head: str, body: bytes = b"", version: str = "1.1") -> bytes:
    return f"POST /nope HTTP/{version}\r\nHost: t\r\n{head}\r\n".encode() + body


# -- request smuggling: llhttp's own strictness, checked end to end ------------------------

SMUGGLING = {
    # two ways to say how long the body is
    "CL then TE": post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    "TE then CL": post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", b"0\r\n\r\n"),
    "duplicate CL, same value": post("Content-Length: 4\r\nContent-Length: 4\r\n", b"abcd"),
    "duplicate CL, other value": post("Content-Length: 4\r\nContent-Length: 40\r\n", b"abcd"),
    "CL as a list": post("Content-Length: 4, 4\r\n", b"abcd"),
    "CL with a sign": post("Content-Length: +4\r\n", b"abcd"),
    "CL negative": post("Content-Length: -1\r\n"),
    "CL overflow": post("Content-Length: 184467440737095516160\r\n"),
    "CL with inner space": post("Content-Length: 1 0\r\n", b"a"),
    # Transfer-Encoding that is not plainly chunked
    "TE in HTTP/1.0": post("Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", version="1.0"),
    "TE chunked twice": post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                             b"0\r\n\r\n"),
    "TE chunked not last": post("Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"),
    "TE unknown only": post("Transfer-Encoding: gzip\r\n", b"abcd"),
    "TE xchunked": post("Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"),
    "TE space before colon": post("Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"),
    "TE vertical tab": post("Transfer-Encoding: \x0bchunked\r\n", b"0\r\n\r\n"),
    # header syntax that proxies disagree about
    "obs-fold": post("X-A: 1\r\n  folded\r\nContent-Length: 0\r\n"),
    "obs-fold into TE": post("Transfer-Encoding: gzip\r\n chunked\r\n", b"0\r\n\r\n"),
    "bare LF line ends": b"POST /nope HTTP/1.1\nHost: t\nContent-Length: 0\n\n",
    "bare LF after a header": post("X-A: 1\nContent-Length: 0\r\n"),
    "bare CR": b"POST /nope HTTP/1.1\rHost: t\r\n\r\n",
    "CR inside a value": post("X-A: a\rb\r\nContent-Length: 0\r\n"),
    "NUL inside a value": post("X-A: a\x00b\r\nContent-Length: 0\r\n"),
    "space in a header name": post("Content Length: 0\r\n"),
    "header line with no colon": post("Content-Length\r\n"),
    "whitespace before the first header": b"POST /nope HTTP/1.1\r\n Host: t\r\nContent-Length: 0\r\n\r\n",
    # chunk framing
    "chunk size not hex": post("Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"),
    "chunk size 0x": post("Transfer-Encoding: chunked\r\n", b"0x3\r\nabc\r\n0\r\n\r\n"),
    "chunk size negative": post("Transfer-Encoding: chunked\r\n", b"-3\r\nabc\r\n0\r\n\r\n"),
    "chunk size with a space": post("Transfer-Encoding: chunked\r\n", b"3 \r\nabc\r\n0\r\n\r\n"),
    "chunk size overflow": post("Transfer-Encoding: chunked\r\n",
                                b"fffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
    "chunk longer than its size": post("Transfer-Encoding: chunked\r\n", b"3\r\nabcd\r\n0\r\n\r\n"),
    "chunk size line ends in LF": post("Transfer-Encoding: chunked\r\n", b"3\nabc\r\n0\r\n\r\n"),
    "chunk data ends in LF": post("Transfer-Encoding: chunked\r\n", b"3\r\nabc\n0\r\n\r\n"),
    "last chunk without its CRLF": post("Transfer-Encoding: chunked\r\n", b"0\r\n"),
}


@pytest.mark.parametrize("raw", list(SMUGGLING.values()), ids=list(SMUGGLING))
def test_ambiguous_framing_is_one_400_and_the_hidden_request_is_never_answered(server, raw):
    reply = http_request(server, raw + SMUGGLED)
    assert len(STATUS_LINE.findall(reply)) == 1, reply
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), reply
    assert b"\r\nConnection: close\r\n" in reply
    assert b"fastmock_requests_total" not in reply
    assert health_ok(server)


def test_valid_chunked_bodies_are_framed_exactly(server):
    """Extensions, trailers, upper-case CHUNKED and many chunks: each request ends where it
    should, so the next one on the connection is read from the right byte."""
    bodies = [
        b"3;name=value\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n",
        b"".join(b"1\r\n%c\r\n" % c for c in b"abcdefghij") + b"0\r\n\r\n",
    ]
    with server.connect() as sock:
        reader = sock.makefile("rb")
        for body in bodies:
            sock.sendall(post("Transfer-Encoding: chunked\r\n", body))
            assert read_response(reader).status == 404
        sock.sendall(post("Transfer-Encoding: CHUNKED\r\n", b"0\r\n\r\n") + get("/health"))
        assert read_response(reader).status == 404
        assert read_response(reader).json() == {"status": "ok"}


def test_expect_100_continue_with_a_chunked_body(server):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(post("Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n"))
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(b"4\r\nbody\r\n0\r\n\r\n")
        assert read_response(reader).status == 404


def test_no_100_continue_inside_a_running_stream(server):
    """Behind a stream a 100 would land inside its body; the request waits its turn instead."""
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(get("/stream-sse?max_tokens=5&delay_ms=50")
                     + post("Content-Length: 4\r\nExpect: 100-continue\r\n", b"body") + get("/health"))
        stream = read_response(reader)
        assert b"HTTP/1.1" not in stream.body and len(stream.sse_events()) == 6
        assert read_response(reader).status == 404
        assert read_response(reader).json() == {"status": "ok"}


# -- header, URL and body budgets ------------------------------------------------------------

def test_header_count_boundary(server):
    at_limit = [f"X-{n}: 1" for n in range(99)]          # with Host: 100 lines
    with server.connect() as sock:
        sock.sendall(get("/health", *at_limit))
        assert read_response(sock.makefile("rb")).status == 200
    over = http_request(server, get("/health", *at_limit, "X-One-More: 1"))
    assert over.startswith(b"HTTP/1.1 431 ") and b"\r\nConnection: close\r\n" in over


def test_header_bytes_boundary(server):
    # each line counts name + value + 4 (": " and CRLF); "Host: test" is 4 + 4 + 4 = 12
    filler = 16384 - 12 - len("X-Fill") - 4
    with server.connect() as sock:
        sock.sendall(get("/health", "X-Fill: " + "a" * filler))
        assert read_response(sock.makefile("rb")).status == 200
    assert http_request(server, get("/health", "X-Fill: " + "a" * (filler + 1))).startswith(
        b"HTTP/1.1 431 ")


def test_url_length_boundary(server):
    target = "/health?" + "a" * (8190 - len("/health?"))
    with server.connect() as sock:
        sock.sendall(get(target))
        assert read_response(sock.makefile("rb")).status == 200
    assert http_request(server, get(target + "a")).startswith(b"HTTP/1.1 414 ")


def test_body_size_boundary(start_server):
    server = start_server("--max-body-bytes", "1000")
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(post("Content-Length: 1000\r\n", b"a" * 1000))
        assert read_response(reader).status == 404
        sock.sendall(post("Transfer-Encoding: chunked\r\n", b"3e8\r\n" + b"a" * 1000 + b"\r\n0\r\n\r\n"))
        assert read_response(reader).status == 404
    reply = http_request(server, post("Content-Length: 1001\r\n", b"a" * 1001))
    assert reply.startswith(b"HTTP/1.1 413 ") and b"\r\nConnection: close\r\n" in reply
    assert health_ok(server)


def push_until_answered(sock: socket.socket, head: bytes, piece: bytes, limit: int) -> tuple[int, bytes]:
    """Send ``head`` then ``piece`` again and again (up to ``limit`` bytes) until the server
    answers; returns (bytes sent, what it answered: b"" if it answered with a reset)."""
    sock.sendall(head)
    sent = 0
    while sent < limit:
        readable, writable, _ = select.select([sock], [sock], [], 2.0)
        if readable:
            break
        if writable:
            try:
                sent += sock.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
    else:
        readable, _, _ = select.select([sock], [], [], 1.0)
        if not readable:
            return sent, b"<no answer>"
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return sent, data


@pytest.mark.parametrize("where", ["head", "trailer"])
def test_one_endless_header_line_is_cut_early_and_costs_no_memory(server, where):
    """httptools buffers a header line until it ends; without a byte budget a client could
    grow the server by gigabytes before the header timeout. Cut at the budget, with 431."""
    head = (b"GET /health HTTP/1.1\r\nHost: t\r\nX-Endless: " if where == "head" else
            b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"1\r\na\r\n0\r\nX-Endless-Trailer: ")
    before = rss_kb(server.proc.pid)
    start = time.monotonic()
    with server.connect(timeout=5) as sock:
        sent, reply = push_until_answered(sock, head, b"a" * 65536, 64 << 20)
    assert reply != b"<no answer>", f"no answer after {sent} bytes of one header line"
    assert sent < 8 << 20, sent
    assert time.monotonic() - start < 5          # well before the 10 s header timeout
    if reply:                                     # a reset may overtake the answer
        assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert rss_kb(server.proc.pid) - before < 8 * 1024
    assert health_ok(server)


def test_reading_pauses_when_the_pipeline_is_full(server):
    """Requests queued behind a stream are bounded: past a few, the server stops reading, so
    a client cannot make it buffer without limit; once the stream ends all are answered."""
    pad = "X-Pad: " + "p" * 4000
    request = get("/health", pad)
    count = 3000                                    # ~12 MB of pipelined requests
    with server.connect(timeout=20) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sock.sendall(get("/stream-sse?max_tokens=4&delay_ms=1000"))   # runs ~3 s
        blob = request * count
        sock.setblocking(False)
        sent, deadline = 0, time.monotonic() + 1.5
        while sent < len(blob) and time.monotonic() < deadline:
            try:
                sent += sock.send(blob[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
        # kernel buffers (a few MB at most on loopback) plus 16 queued requests, not 12 MB
        assert sent < len(blob) / 2, f"the server read {sent} bytes while the stream ran"
        sock.setblocking(True)
        sender = threading.Thread(target=sock.sendall, args=(blob[sent:],), daemon=True)
        sender.start()
        reader = sock.makefile("rb")
        assert len(read_response(reader).sse_events()) == 5
        for _ in range(count):
            assert read_response(reader).status == 200
        sender.join(10)
    assert health_ok(server)


# -- --max-connections ----------------------------------------------------------------------

def test_connections_over_the_limit_get_503_and_the_others_keep_working(start_server):
    server = start_server("--max-connections", "4", "--delay-ms", "20")
    kept = [server.connect(timeout=10) for _ in range(3)]
    readers = [s.makefile("rb") for s in kept]
    streaming = server.connect(timeout=10)           # the 4th: a stream holds its slot too
    stream_reader = streaming.makefile("rb")
    try:
        over_the_limit(server, kept, readers, streaming, stream_reader)
    finally:
        for f in [*readers, stream_reader, *kept, streaming]:
            f.close()


def over_the_limit(server, kept, readers, streaming, stream_reader) -> None:
    for sock, reader in zip(kept, readers):
        sock.sendall(get("/health"))
        assert read_response(reader).status == 200
    streaming.sendall(get("/stream-loop"))
    assert stream_reader.readline().startswith(b"HTTP/1.1 200 ")
    for _ in range(20):
        with server.connect(timeout=10) as extra:
            extra.sendall(get("/api/data"))             # sent before the 503 is read: no RST
            reply = read_response(extra.makefile("rb"))
            assert reply.status == 503 and reply.headers["connection"] == "close"
            assert reply.headers["retry-after"] == "1"
            assert "connections" in reply.json()["error"]["message"]
            assert extra.recv(1) == b""
    for _ in range(3):                                   # a liveness probe is never refused
        assert health_ok(server)
    for sock, reader in zip(kept, readers):             # the clients inside were never disturbed
        sock.sendall(get("/api/data"))
        assert read_response(reader).status == 200
    kept[0].sendall(get("/metrics"))
    text = read_response(readers[0]).body.decode()
    assert re.search(r"^fastmock_rejected_connections_total 20$", text, re.M), text
    assert re.search(r"^fastmock_open_connections 4$", text, re.M), text
    readers[-1].close()
    kept[-1].close()                                     # a slot frees up
    assert wait_for(lambda: health_ok(server), timeout=5)


def test_max_connections_zero_means_no_limit(start_server):
    server = start_server("--max-connections", "0")
    socks = [server.connect() for _ in range(50)]
    try:
        for sock in socks:
            sock.sendall(get("/health"))
            with sock.makefile("rb") as reader:
                assert read_response(reader).status == 200
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("args", [["--max-connections", "-1"], ["--max-connections", "many"],
                                  ["--log-format", "xml"]])
def test_bad_limit_flags_exit_with_one_line(args):
    result = subprocess.run([sys.executable, "-m", "fastmock", *args], capture_output=True,
                            text=True, timeout=15)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and args[0] in lines[0], lines
