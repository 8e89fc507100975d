"""The hardening changes to HttpProtocol, bytes in and bytes out on the fake loop: the byte
budget on what httptools buffers (no false alarm for pipelined or fragmented requests),
--max-connections, and Transfer-Encoding in HTTP/1.0. The live versions of these are in
tests/e2e/test_e2e_limits.py; these pin the edge cases a socket cannot place exactly.
"""
from __future__ import annotations

from fastmock.protocol import static_answers
from support.fakes import FRAMES, Client

HEALTH = static_answers(FRAMES)[b"/health"][0][0]


def req(target: str = "/health", headers: str = "", version: str = "1.1", method: str = "GET") -> bytes:
    return f"{method} {target} HTTP/{version}\r\nHost: t\r\n{headers}\r\n".encode()


def feed(client: Client, data: bytes, size: int) -> None:
    for i in range(0, len(data), size):
        client.send(data[i:i + size])


# -- the byte budget for one request's head and trailers ---------------------------------------

def test_pipelined_requests_in_big_reads_ending_mid_head_are_not_cut(loop):
    """Reads hold many whole requests and end inside the next head: nothing is counted twice."""
    c = Client(loop)
    one = req(headers="X-Pad: " + "p" * 150 + "\r\n")
    data = one * 400                                      # ~74 KB
    feed(c, data, 7001)                                   # boundaries land mid-head
    assert c.data() == HEALTH * 400


def test_a_head_at_the_budget_arriving_a_byte_at_a_time_passes(loop):
    c = Client(loop)
    headers = "".join(f"X-{n:02d}: " + "v" * 150 + "\r\n" for n in range(99))   # ~15.7 KB
    feed(c, req(headers=headers), 1)
    assert c.data() == HEALTH


def test_one_endless_header_line_is_cut_at_the_budget(loop):
    c = Client(loop)
    config = c.app.config
    c.send(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Endless: ")
    sent = 0
    while not c.data() and sent < 1 << 20:
        c.send(b"a" * 1000)
        sent += 1000
    [r] = c.responses()
    assert r.status == 431 and r.header("connection") == "close"
    assert sent <= config.max_url_bytes + config.max_header_bytes + 2048
    assert c.protocol.parser is None, "the parser and what it buffered are dropped"
    assert c.transport.closed


def test_one_endless_trailer_line_is_cut(loop):
    c = Client(loop)
    c.send(req(method="POST", headers="Transfer-Encoding: chunked\r\n") + b"3\r\nabc\r\n0\r\nX-T: ")
    for _ in range(100):
        c.send(b"t" * 1000)
    [r] = c.responses()
    assert r.status == 431


def test_a_body_in_many_small_reads_is_never_counted(loop):
    c = Client(loop)
    body = b"b" * 200_000
    c.send(req(method="POST", headers=f"Content-Length: {len(body)}\r\n"))
    feed(c, body, 100)
    assert c.responses()[0].status == 405


def test_chunk_size_lines_written_apart_from_their_data_are_not_counted(loop):
    """http.client writes each size line, chunk and CRLF separately: reads with no body byte
    in between body reads must not add up to a 431."""
    c = Client(loop)
    c.send(req(method="POST", headers="Transfer-Encoding: chunked\r\n"))
    for _ in range(20_000):                               # 100 KB of framing-only reads
        c.send(b"1\r\n")
        c.send(b"x")
        c.send(b"\r\n")
    c.send(b"0\r\n\r\n")
    [r] = c.responses()
    assert r.status == 405


def test_an_endless_head_behind_a_stream_is_answered_after_it(loop):
    c = Client(loop, delay_ms=10)
    c.send(req("/stream-sse?max_tokens=3") + b"GET /health HTTP/1.1\r\nX-Endless: ")
    for _ in range(40):
        c.send(b"e" * 1000)
    loop.advance(1)
    first, second = c.responses()
    assert first.status == 200 and b"[DONE]" in first.body
    assert second.status == 431 and second.header("connection") == "close"


# -- Transfer-Encoding in HTTP/1.0 ---------------------------------------------------------------

def test_transfer_encoding_in_http10_is_400(loop):
    c = Client(loop)
    c.send(req(method="POST", version="1.0", headers="Transfer-Encoding: chunked\r\n") + b"0\r\n\r\n"
           + req())
    [r] = c.responses()
    assert r.status == 400 and "HTTP/1.0" in r.json()["error"]["message"]
    assert c.transport.closed


def test_transfer_encoding_in_http11_is_read(loop):
    c = Client(loop)
    c.send(req(method="POST", headers="transfer-encoding: chunked\r\n") + b"0\r\n\r\n" + req())
    r1, r2 = c.responses()
    assert (r1.status, r2.status) == (405, 200)


# -- --max-connections ------------------------------------------------------------------------------
