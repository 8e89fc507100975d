"""The HTTP nits of issue 13 over raw sockets, against a conformance_server under the compose limits
(0.1 CPU, 20 MiB): each request gets its answer, and the conformance_server keeps serving. The same
cases byte for byte on the fake loop: tests/unit/test_http_conformance.py."""
from __future__ import annotations

import pytest

from support.http import get, http_request

pytestmark = pytest.mark.e2e


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def still_serving(conformance_server) -> None:
    assert http_request(conformance_server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')


CASES = {
    "no Host in HTTP/1.1": (b"GET /health HTTP/1.1\r\n\r\n", 400),
    "two Host headers": (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    "Transfer-Encoding gzip, chunked": (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n", 400),
    "double space after the method": (b"GET  /health HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "double space before the version": (b"GET /health  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "no version": (b"GET /health\r\nHost: a\r\n\r\n", 400),
    "HTTP/2.0": (b"GET /health HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    "the HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
}


@pytest.mark.parametrize("raw, status", list(CASES.values()), ids=list(CASES))
def test_a_request_a_strict_proxy_would_refuse_is_refused_then_closed(conformance_server, raw, status):
    reply = http_request(conformance_server, raw + get("/metrics"))        # nothing after it is read
    assert status_of(reply) == status and b"fastmock_requests_total" not in reply, reply
    assert b"\r\nConnection: close\r\n" in reply
    still_serving(conformance_server)


def test_an_absolute_form_target_is_routed_by_its_path(conformance_server):
    reply = http_request(conformance_server, b"GET http://example.com:3000/health HTTP/1.1\r\n"
                                 b"Host: example.com:3000\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b'{"status":"ok"}')
    reply = http_request(conformance_server, b"GET http://example.com/stream-sse?max_tokens=2 HTTP/1.1\r\n"
                                 b"Host: example.com\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.count(b"data: ") == 3
    still_serving(conformance_server)


def test_http10_without_host_is_still_served(conformance_server):
    reply = http_request(conformance_server, b"GET /health HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b'{"status":"ok"}')
