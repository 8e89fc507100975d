"""HTTP behaviour of the real server over raw sockets: what DESIGN.md's "HTTP behaviour" promises."""
from __future__ import annotations

import json
import socket
import time

import pytest

from support.http import get, http_request, read_response

pytestmark = pytest.mark.e2e


def test_pipelined_requests_are_answered_in_order(server):
    with server.connect() as sock:
        sock.sendall(get("/stream-sse?max_tokens=3") + get("/health") + get("/api/data")
                     + get("/stream-ndjson?max_tokens=2") + get("/nope") + get("/health"))
        reader = sock.makefile("rb")
        stream = read_response(reader)
        assert len(stream.sse_events()) == 4
        assert read_response(reader).json() == {"status": "ok"}
        assert read_response(reader).json()["object"] == "chat.completion"
        assert len(read_response(reader).body.splitlines()) == 3
        assert read_response(reader).status == 404
        assert read_response(reader).json() == {"status": "ok"}


def test_many_pipelined_streams_behind_each_other(server):
    """More than the pipeline bound: reading pauses and resumes, nothing is lost or reordered."""
    count = 40
    with server.connect() as sock:
        sock.sendall(b"".join(get(f"/stream-sse?max_tokens={1 + n % 3}&delay_ms=1")
                              for n in range(count)))
        reader = sock.makefile("rb")
        for n in range(count):
            assert len(read_response(reader).sse_events()) == 2 + n % 3


def test_http10_stream_is_close_delimited(server):
    raw = http_request(server, get("/stream-sse?max_tokens=3", version="1.0"))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body.endswith(b"data: [DONE]\n\n") and b"\r\n" not in body
    assert body.count(b"data: ") == 4


def test_http10_keep_alive_for_static_answers(server):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        for _ in range(2):
            sock.sendall(get("/health", "Connection: keep-alive", version="1.0"))
            response = read_response(reader)
            assert response.headers["connection"] == "keep-alive"
        sock.sendall(get("/health", version="1.0"))
        assert read_response(reader).headers["connection"] == "close"
        assert reader.read() == b""


@pytest.mark.parametrize("path", ["/health", "/api/data", "/stream-sse", "/stream-ndjson",
                                  "/stream-loop", "/metrics"])
def test_head_on_every_get_route(server, path):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        full = None
        if path != "/stream-loop":  # endless: its GET never ends
            sock.sendall(get(path))
            full = read_response(reader)
        sock.sendall(get(path, method="HEAD") if full else get(path, "Connection: close",
                                                                  method="HEAD"))
        head = read_response(reader, head_only=True)
        assert head.status == 200
        if full is not None:
            assert head.headers["content-type"] == full.headers["content-type"]
        sock.sendall(get("/health"))
        if path == "/stream-loop":
            assert reader.read() == b""  # closed as asked: nothing after the head
        else:
            assert read_response(reader).status == 200  # no stray body bytes in between


def test_unknown_path_and_wrong_method(server):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(get("/v1/nothing-here"))
        missing = read_response(reader)
        assert missing.status == 404 and "/v1/nothing-here" in missing.json()["error"]["message"]
        sock.sendall(b"POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
        wrong = read_response(reader)
        assert wrong.status == 405 and wrong.headers["allow"] == "GET, HEAD, OPTIONS"
        sock.sendall(get("/stream-sse", method="DELETE"))
        assert read_response(reader).status == 405
        sock.sendall(get("/health"))
        assert read_response(reader).status == 200


def test_cors_preflight(server):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(get("/stream-sse", "Origin: http://app.example",
                         "Access-Control-Request-Method: GET",
                         "Access-Control-Request-Headers: x-mock-delay-ms", method="OPTIONS"))
        response = read_response(reader)
        assert response.status == 204
        assert response.headers["access-control-allow-origin"] == "*"
        assert "GET" in response.headers["access-control-allow-methods"]
        assert response.headers["access-control-allow-headers"] == "*, Authorization"


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
])
def test_malformed_request_gets_400_then_close(server, raw):
    response = http_request(server, raw)
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in response
    assert http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')


def test_headers_too_large_get_431(server):
    big = [f"X-Filler-{n}: {'a' * 200}" for n in range(100)]
    response = http_request(server, get("/health", *big))
    assert response.startswith(b"HTTP/1.1 431 ")
    many = [f"X-{n}: 1" for n in range(150)]
    assert http_request(server, get("/health", *many)).startswith(b"HTTP/1.1 431 ")


def test_url_too_long_gets_414(server):
    assert http_request(server, get("/health?" + "a" * 9000)).startswith(b"HTTP/1.1 414 ")


def test_body_too_large_gets_413(start_server):
    server = start_server("--max-body-bytes", "1000")
    declared = b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"
    assert http_request(server, declared).startswith(b"HTTP/1.1 413 ")
    chunked = (b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               + (b"200\r\n" + b"a" * 0x200 + b"\r\n") * 3 + b"0\r\n\r\n")
    assert http_request(server, chunked).startswith(b"HTTP/1.1 413 ")


def test_request_bodies_by_length_and_chunked_are_read(server):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        assert read_response(reader).status == 404
        sock.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n")
        assert read_response(reader).status == 404
        sock.sendall(get("/health"))
        assert read_response(reader).status == 200


def test_expect_100_continue(server):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        sock.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(b"body")
        assert read_response(reader).status == 404


def test_expect_100_continue_with_body_too_large_is_refused_at_once(start_server):
    server = start_server("--max-body-bytes", "10")
    with server.connect() as sock:
        sock.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert read_response(sock.makefile("rb")).status == 413


def test_upgrade_is_answered_as_plain_http_then_closed(server):
    raw = get("/health", "Connection: Upgrade", "Upgrade: websocket",
              "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
    response = http_request(server, raw + b"\x81\x85garbage-frame")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in response and response.endswith(b'{"status":"ok"}')


def test_connection_close_then_more_bytes(server):
    response = http_request(server, get("/health", "Connection: close") + b"trailing junk")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n") and response.count(b"HTTP/1.1") == 1


def test_head_that_never_finishes_is_timed_out(start_server):
    server = start_server("--header-timeout", "1")
    with server.connect(timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: slow")
        response = read_response(sock.makefile("rb"))
        assert response.status == 408
        assert 0.9 < time.monotonic() - start < 3.5


def test_idle_keep_alive_connections_close_but_streams_never_do(start_server):
    server = start_server("--keepalive-timeout", "1")
    with server.connect(timeout=10) as idle, server.connect(timeout=10) as streaming:
        streaming.sendall(get("/stream-sse?delay_ms=500&max_tokens=6"))
        idle.sendall(get("/health"))
        read_response(idle.makefile("rb"))
        start = time.monotonic()
        assert idle.recv(1) == b""
        assert 0.9 < time.monotonic() - start < 3.5
        events = read_response(streaming.makefile("rb")).sse_events()  # 2.5 s: outlives the timeout
        assert len(events) == 7


def test_metrics_counts_requests_streams_and_tokens(server):
    http_request(server, get("/stream-sse?max_tokens=4", "Connection: close"))
    http_request(server, get("/nope", "Connection: close"))
    text = http_request(server, get("/metrics", "Connection: close")).decode()
    assert 'fastmock_requests_total{route="/stream-sse",status="200"} 1' in text
    assert 'fastmock_requests_total{route="other",status="404"} 1' in text
    assert "fastmock_tokens_sent_total 4" in text
    assert "fastmock_active_streams 0" in text
    assert "fastmock_open_connections 1" in text


def test_server_keeps_serving_after_every_error(server):
    for raw in (b"\x00\xff" * 10, get("/health?" + "a" * 9000), b"GET / HTTP/1.1\r\n\r\n"):
        try:
            http_request(server, raw, timeout=3)
        except (ConnectionError, socket.timeout):
            pass
    assert json.loads(http_request(server, get("/health", "Connection: close"))
                      .partition(b"\r\n\r\n")[2]) == {"status": "ok"}


def test_expect_100_continue_is_not_sent_to_http10_clients(server):
    with server.connect() as sock:
        sock.sendall(b"POST /nope HTTP/1.0\r\nHost: t\r\nContent-Length: 4\r\n"
                     b"Expect: 100-continue\r\n\r\nbody")
        reader = sock.makefile("rb")
        assert read_response(reader).status == 404


def test_a_valid_header_wins_over_an_invalid_query_value(server):
    with server.connect() as sock:
        sock.sendall(get("/stream-sse?delay_ms=abc&max_tokens=2", "X-Mock-Delay-Ms: 1"))
        assert len(read_response(sock.makefile("rb")).sse_events()) == 3
