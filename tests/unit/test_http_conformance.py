"""What a strict proxy in front of fastmock expects of a request (issue 13, item 5), bytes
in and bytes out on the fake loop. The same over real sockets, under the compose limits:
tests/e2e/test_e2e_conformance.py."""
from __future__ import annotations

import pytest

from fastmock import seed
from fastmock.protocol import origin_form
from support.fakes import FRAMES, Client

HEALTH = seed.health(FRAMES)[0][0]


def answers(loop, raw: bytes):
    client = Client(loop)
    client.send(raw)
    return client, client.responses()


@pytest.mark.parametrize("raw, why", [
    (b"GET /health HTTP/1.1\r\n\r\n", "exactly one Host"),
    (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "exactly one Host"),
    (b"GET /health HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", "exactly one Host"),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     b"2\r\n{}\r\n0\r\n\r\n", "other than chunked"),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "other than chunked"),
    (b"GET  /health HTTP/1.1\r\nHost: a\r\n\r\n", "malformed"),
    (b"GET /health  HTTP/1.1\r\nHost: a\r\n\r\n", "malformed"),
    (b"GET /health \r\nHost: a\r\n\r\n", "malformed"),
    (b"GET /health\r\nHost: a\r\n\r\n", "malformed"),                 # no version (HTTP/0.9)
    (b" GET /health HTTP/1.1\r\nHost: a\r\n\r\n", "malformed"),
])
def test_a_request_a_strict_proxy_would_refuse_is_a_400_and_closes(loop, raw, why):
    client, [response] = answers(loop, raw + b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    assert response.status == 400 and why in response.json()["error"]["message"]
    assert response.header("connection") == "close"
    client.loop.run_ready()
    assert client.transport.closed


@pytest.mark.parametrize("version", ["2.0", "0.9"])
def test_an_http_version_other_than_1_is_a_505(loop, version):
    client, [response] = answers(loop, f"GET /health HTTP/{version}\r\nHost: a\r\n\r\n".encode())
    assert response.status == 505 and response.status_line.endswith(b"HTTP Version Not Supported")
    assert "HTTP/1.1" in response.json()["error"]["message"]


def test_a_request_line_split_across_reads_is_judged_by_its_head(loop):
    """The line's shape is checked when it comes whole; split, llhttp and the head checks judge."""
    client = Client(loop)
    for piece in (b"GET /health HTTP/", b"2.0\r\nHost: a\r\n\r\n"):
        client.send(piece)
    [response] = client.responses()
    assert response.status == 505


def test_http10_without_host_and_an_empty_host_are_fine(loop):
    client, responses = answers(loop, b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                                      b"GET /health HTTP/1.1\r\nHost:\r\n\r\n")
    assert [r.status for r in responses] == [200, 200]


def test_transfer_encoding_chunked_in_any_case_is_read(loop):
    client, [r1, r2] = answers(loop, b"POST /nope HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
                                     b"0\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    assert (r1.status, r2.status) == (404, 200)


@pytest.mark.parametrize("target, path", [
    ("http://example.com/health", "/health"),
    ("HTTP://Example.COM:3000/health?x=1", "/health"),
    ("https://example.com/v1/models", "/v1/models"),
    ("http://example.com", "/"),
    ("http://example.com?x=1", "/"),
])
def test_an_absolute_form_target_is_routed_by_its_path(loop, target, path):
    client, [response] = answers(loop, f"GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode())
    assert response.status == 200
    if path == "/":     # Ollama's root (issue 17)
        assert response.body == b"Ollama is running"
    assert origin_form(target.encode()).partition(b"?")[0] == path.encode()


def test_origin_form_leaves_other_targets_alone():
    assert origin_form(b"/health?x") == b"/health?x"
    assert origin_form(b"*") == b"*"
    assert origin_form(b"ftp://x/y") == b"ftp://x/y"
    assert origin_form(b"http://h/p?q=/r") == b"/p?q=/r"
    assert origin_form(b"http://h?q=/r") == b"/?q=/r"
