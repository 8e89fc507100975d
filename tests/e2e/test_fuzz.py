"""Fuzzing the live server (issue #4, item 6).

Thousands of requests, built from real ones and mutated (hypothesis): GETs on every
route, POST bodies by Content-Length and chunked, pipelined pairs and triples, HTTP/1.0,
odd methods, huge and odd headers, control values, Expect and Upgrade, byte flips,
insertions, deletions, truncations, bare LFs, NULs, and the bytes split across several
writes. Every answer is checked strictly: status line, header syntax, Content-Length or
chunked framing consistent with the body, JSON and SSE bodies well formed, nothing after
``Connection: close``. The server must never log an unhandled exception, and /health
answers at the end.

CI runs a fixed, derandomized set (FASTMOCK_FUZZ_EXAMPLES, default 3000, about 25 s here).
Run longer and with fresh randomness locally:

    FASTMOCK_FUZZ_EXAMPLES=50000 FASTMOCK_FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/e2e/test_fuzz.py -q
"""
from __future__ import annotations

import json
import os
import re
import select
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.server import LiveServer

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FASTMOCK_FUZZ_EXAMPLES", "3000"))
RANDOM = os.environ.get("FASTMOCK_FUZZ_RANDOM", "") not in ("", "0")
READ_SECONDS = 3.0          # per connection: an endless stream is read this long, then dropped
READ_BYTES = 4 << 20

STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5]\d\d) ([\x20-\x7e]+)\r\n")
HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+): ([\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)\r\n")
PLAIN_STATUSES = {100, 200, 204, 400, 404, 405, 408, 413, 414, 431, 500, 501, 505}
CONTENT_TYPES = {"application/json", "text/event-stream", "application/x-ndjson",
                 "text/plain; version=0.0.4; charset=utf-8",
                 "text/plain; charset=utf-8"}         # GET /: "Ollama is running"


# -- what gets sent ------------------------------------------------------------------------------

TARGETS = ["/health", "/api/data", "/metrics", "/nope", "/", "*", "/stream-sse?max_tokens=3",
           "/stream-ndjson?max_tokens=2", "/stream-loop?max_tokens=4", "/stream-sse?status=429",
           "/stream-sse?fail_after=2", "/stream-sse?delay_ms=1&max_tokens=2&ttft_ms=1",
           "/stream-sse?delay_ms=x", "/health?" + "q" * 300, "/v1/chat/completions",
           "/stream-ndjson?max_tokens=2&fail_after=1", "/a%20b?c=%zz", "/stream-loop?max_tokens=1"]
# valid values come several times: most requests should get past the parser
METHODS = ["GET"] * 8 + ["HEAD"] * 3 + ["POST"] * 3 + [
    "OPTIONS", "PUT", "DELETE", "PATCH", "CONNECT", "TRACE", "PRI", "get", "G\x00T", "BREW",
    "M-SEARCH"]
VERSIONS = ["1.1"] * 8 + ["1.0"] * 3 + ["0.9", "2.0", "1.2", "9.9", "1.01"]
HEADERS = [
    "Connection: close", "Connection: keep-alive", "Connection: Upgrade\r\nUpgrade: websocket",
    "Upgrade: h2c", "Expect: 100-continue", "Expect: something-else", "X-Mock-Delay-Ms: 1",
    "X-Mock-Max-Tokens: 2", "X-Mock-Status: 503", "X-Mock-Status: 299", "X-Mock-Fail-After: 1",
    "X-Mock-TTFT-Ms: -4", "Origin: http://x.test", "Accept: */*", "Content-Type: application/json",
    "X-Big: " + "b" * 9000, "X-Empty:", "X-Tab:\tvalue", "X-Obs: \xe9\xff", "Host: a\r\nHost: b",
]
# framing headers that disagree with the body that follows (added now and then)
FRAMING = ["Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked", "Content-Length: 5",
           "Content-Length: 99999999", "Content-Length: 0"]


@st.composite
def request(draw) -> bytes:
    method = draw(st.sampled_from(METHODS))
    target = draw(st.sampled_from(TARGETS))
    version = draw(st.sampled_from(VERSIONS))
    lines = [f"{method} {target} HTTP/{version}", "Host: fuzz"]
    lines += draw(st.lists(st.sampled_from(HEADERS), max_size=4))
    if draw(st.integers(0, 5)) == 0:
        lines.append(draw(st.sampled_from(FRAMING)))
    if draw(st.integers(0, 30)) == 0:
        lines += [f"X-Many-{n}: {n}" for n in range(draw(st.integers(90, 130)))]
    body = b""
    kind = draw(st.sampled_from(["none", "none", "length", "chunked", "bad-length"]))
    payload = draw(st.binary(max_size=64)) if kind != "none" else b""
    if kind == "length":
        lines.append(f"Content-Length: {len(payload)}")
        body = payload
    elif kind == "bad-length":
        lines.append(f"Content-Length: {len(payload) + draw(st.integers(-3, 3))}")
        body = payload
    elif kind == "chunked":
        lines.append("Transfer-Encoding: chunked")
        pieces = draw(st.lists(st.binary(min_size=1, max_size=20), max_size=4))
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body


@st.composite
def mutated(draw, data: bytes) -> bytes:
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup", "truncate", "lf", "nul",
                                   "space", "case"]))
        if op == "flip":
            data = data[:where] + bytes([data[where] ^ (1 << draw(st.integers(0, 7)))]) + data[where + 1:]
        elif op == "insert":
            data = data[:where] + draw(st.binary(min_size=1, max_size=8)) + data[where:]
        elif op == "delete":
            data = data[:where] + data[where + draw(st.integers(1, 8)):]
        elif op == "dup":
            data = data[:where] + data[where:where + draw(st.integers(1, 40))] + data[where:]
        elif op == "truncate":
            data = data[:where]
        elif op == "lf":
            data = data.replace(b"\r\n", b"\n", draw(st.integers(1, 3)))
        elif op == "nul":
            data = data[:where] + b"\x00" + data[where:]
        elif op == "space":
            data = data[:where] + draw(st.sampled_from([b" ", b"\t", b"  ", b"\r\n "])) + data[where:]
        else:
            data = data[:where] + data[where:where + 10].swapcase() + data[where + 10:]
    return data


@st.composite
def exchange(draw) -> tuple[bytes, list[int], int]:
    """The bytes of one connection (1-3 requests, maybe mutated), where to split them, and
    after how many bytes of the answer the client resets the connection (-1: never)."""
    if draw(st.integers(0, 15)) == 0:
        data = draw(st.binary(min_size=1, max_size=300))               # plain garbage
    else:
        data = b"".join(draw(st.lists(request(), min_size=1, max_size=3)))
        if draw(st.integers(0, 2)) == 0:
            data = draw(mutated(data))
    cuts = sorted(set(draw(st.lists(st.integers(0, max(len(data) - 1, 0)), max_size=4))))
    reset_after = draw(st.integers(0, 3000)) if draw(st.integers(0, 7)) == 0 else -1
    return data, cuts, reset_after


# -- talking to the server ------------------------------------------------------------------------------

def talk(server: LiveServer, data: bytes, cuts: list[int], reset_after: int = -1) -> tuple[bytes, bool]:
    """Send ``data`` in pieces, half-close, read until the server closes (or the time or size
    bound for an endless stream, or ``reset_after`` bytes, when the client resets the
    connection like a killed process); returns (what came back, whether the server closed)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=READ_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    received = bytearray()
    closed = False
    try:
        start = 0
        for cut in [*cuts, len(data)]:
            if cut > start:
                try:
                    sock.sendall(data[start:cut])
                except OSError:              # the server already answered and closed
                    break
                start = cut
                time.sleep(0.001)
        try:
            sock.shutdown(socket.SHUT_WR)    # nothing more comes: answer what you have
        except OSError:
            pass
        deadline = time.monotonic() + READ_SECONDS
        while len(received) < READ_BYTES:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                break
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:     # e.g. fail_after, or a close with unread input
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
            if 0 <= reset_after <= len(received):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                break
    finally:
        sock.close()
    return bytes(received), closed


# -- checking what came back ------------------------------------------------------------------------------

class Malformed(AssertionError):
    pass


def check_body(content_type: str, body: bytes, complete: bool) -> None:
    if content_type == "application/json":
        if complete:
            json.loads(body)
    elif content_type == "text/event-stream":
        events = body.split(b"\n\n")
        for event in events[:-1]:
            if not event.startswith(b"data: "):
                raise Malformed(f"not an SSE data event: {event[:80]!r}")
            payload = event[6:]
            if payload != b"[DONE]":
                json.loads(payload)
        if complete and events[-1]:
            raise Malformed(f"SSE body ends inside an event: {events[-1][:80]!r}")
    elif content_type == "application/x-ndjson":
        lines = body.split(b"\n")
        for line in lines[:-1]:
            json.loads(line)
        if complete and lines[-1]:
            raise Malformed(f"NDJSON body ends inside a line: {lines[-1][:80]!r}")


def read_chunked(data: bytes, pos: int, may_cut: bool) -> tuple[bytes, int, bool]:
    """(body, position after it, complete?) of a chunked body starting at ``pos``."""
    body = bytearray()
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            if may_cut and not data[pos:].strip(b"0123456789abcdef"):
                return bytes(body), len(data), False
            raise Malformed(f"chunk size line cut: {data[pos:pos + 40]!r}")
        size_text = data[pos:end]
        if not re.fullmatch(rb"[0-9a-f]+", size_text):
            raise Malformed(f"bad chunk size line {size_text[:40]!r}")
        size = int(size_text, 16)
        pos = end + 2
        if size == 0:
            if data[pos:pos + 2] != b"\r\n":
                if may_cut and len(data) - pos < 2:
                    return bytes(body), len(data), False
                raise Malformed("no CRLF after the last chunk")
            return bytes(body), pos + 2, True
        if len(data) < pos + size + 2:
            if may_cut:
                body += data[pos:pos + size]
                return bytes(body), len(data), False
            raise Malformed("chunk cut short")
        body += data[pos:pos + size]
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise Malformed("no CRLF after chunk data")
        pos += size + 2


def check_responses(sent: bytes, data: bytes, closed: bool) -> list[int]:
    """Every byte of ``data`` belongs to a well-formed response; returns the statuses."""
    lowered = sent.lower()
    head_sent = b"head" in lowered
    status_control = b"status" in lowered
    # a stream may be cut abruptly (fail_after), or by our read bound for an endless one
    may_cut = (b"fail" in lowered) or not closed
    statuses = []
    pos = 0
    while pos < len(data):
        match = STATUS_LINE.match(data, pos)
        if not match:
            raise Malformed(f"bad status line at {pos}: {data[pos:pos + 80]!r}")
        status = int(match.group(1))
        if status not in PLAIN_STATUSES and not (status_control and status >= 400):
            raise Malformed(f"unexpected status {status}")
        pos = match.end()
        headers: dict[str, str] = {}
        while not data.startswith(b"\r\n", pos):
            line = HEADER_LINE.match(data, pos)
            if not line:
                raise Malformed(f"bad header line: {data[pos:pos + 80]!r}")
            name = line.group(1).decode().lower()
            if name in headers:
                raise Malformed(f"duplicate header {name}")
            headers[name] = line.group(2).decode()
            pos = line.end()
        pos += 2
        statuses.append(status)
        if status == 100:
            if headers:
                raise Malformed(f"100 Continue with headers {headers}")
            continue
        length = headers.get("content-length")
        chunked = headers.get("transfer-encoding")
        content_type = headers.get("content-type", "")
        if content_type and content_type not in CONTENT_TYPES:
            raise Malformed(f"unexpected content type {content_type!r}")
        if length is not None and chunked is not None:
            raise Malformed("both Content-Length and Transfer-Encoding")
        head_only = head_sent and (pos == len(data) or data.startswith(b"HTTP/1.", pos))
        if status in (204, 304) or head_only:
            body, complete = b"", False                   # no body: nothing to check
        elif length is not None:
            if not length.isdigit():
                raise Malformed(f"bad Content-Length {length!r}")
            n = int(length)
            body = data[pos:pos + n]
            if len(body) < n:
                raise Malformed(f"body shorter than Content-Length: {len(body)} < {n}")
            pos += n
            complete = True
        elif chunked is not None:
            if chunked != "chunked":
                raise Malformed(f"Transfer-Encoding {chunked!r}")
            body, pos, complete = read_chunked(data, pos, may_cut)
        else:
            if headers.get("connection") != "close":
                raise Malformed(f"no framing and no Connection: close: {headers}")
            body, pos, complete = data[pos:], len(data), closed
        check_body(content_type, body, complete)
        if headers.get("connection") == "close" and pos < len(data):
            raise Malformed(f"bytes after a Connection: close response: {data[pos:pos + 80]!r}")
    return statuses


@settings(max_examples=EXAMPLES, derandomize=not RANDOM, database=None, deadline=None,
          suppress_health_check=list(HealthCheck), print_blob=True)
@given(exchange())
def test_every_answer_is_well_formed_http(fuzz_server, case):
    data, cuts, reset_after = case
    received, closed = talk(fuzz_server, data, cuts, reset_after)
    if reset_after < 0:         # after a reset only the server's health matters
        try:
            check_responses(data, received, closed)
        except (Malformed, ValueError) as exc:
            raise AssertionError(f"{exc}\nsent {data!r} in pieces at {cuts}\n"
                                 f"got {received[:2000]!r}") from None
    assert fuzz_server.proc.poll() is None, fuzz_server.log
    assert "Traceback" not in fuzz_server.log, fuzz_server.log


def test_the_checker_catches_malformed_answers():
    """The strict reader must be able to fail: each of these is one kind of broken answer."""
    good = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    assert check_responses(b"GET /", good, True) == [200]
    for broken in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}",                      # short body
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk",                   # trailing junk
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",  # duplicate
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",                                # header syntax
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}0\r\n\r\n",  # framing
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{]",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\nnope\n\n",
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",                      # a status we never send
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    ):
        with pytest.raises((Malformed, ValueError)):
            check_responses(b"GET /", broken, True)
