"""HttpProtocol, bytes in and bytes out, on a MockTransport and a manual clock."""
from __future__ import annotations

import json

import pytest

from fastmock import wire
from fastmock._engine import SEND_TIMEOUT
from fastmock.ids import IDS
from fastmock.protocol import static_answers
from fastmock.routes import TABLE
from support.fakes import FRAMES, Client, make_app, stats
from support.http import parse_head, parse_response, parse_responses
from support.streams import chat_deltas, sse_events

STATIC = static_answers(FRAMES)
TEXT = FRAMES.corpus.text
COUNT = len(FRAMES.corpus)
GET_ROUTES = sorted(r.path.decode() for r in TABLE if b"GET" in r.methods and not r.prefix)


def req(target: str = "/health", method: str = "GET", version: str = "1.1",
        headers: str = "", body: bytes = b"") -> bytes:
    return (f"{method} {target} HTTP/{version}\r\nHost: localhost\r\n{headers}\r\n").encode() + body


def finish(client: Client, seconds: float = 10.0) -> None:
    """Let every stream in progress run to its end."""
    client.loop.advance(seconds)


def assert_open(client: Client) -> None:
    assert not client.transport.closed and not client.transport.aborted
    assert client.protocol.transport is client.transport


def assert_closed(client: Client) -> None:
    client.loop.run_ready()
    assert client.transport.closed and not client.transport.aborted
    assert client.transport.lost
    assert stats(client.app).connections == 0
    assert client.protocol not in client.app.connections


def assert_full_sse(response, text: str = TEXT) -> list[dict]:
    assert response.status == 200
    assert response.header("content-type") == "text/event-stream"
    chunks = chat_deltas(sse_events(response.body))
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == text
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert len({c["id"] for c in chunks}) == 1
    return chunks


# -- the basics ----------------------------------------------------------------------

def test_get_health(client):
    client.send(req("/health"))
    assert client.data() == STATIC[b"/health"][0][0]
    [r] = client.responses()
    assert r.status == 200 and r.json() == {"status": "ok"}
    assert r.header("connection") is None and r.header("content-length") == "15"
    assert_open(client)
    assert stats(client.app).requests == {("/health", 200): 1}


def test_get_api_data(client):
    client.send(req("/api/data"))
    [r] = client.responses()
    assert r.status == 200 and r.header("content-type") == "application/json"
    assert r.json()["choices"][0]["message"]["content"] == TEXT
    assert int(r.header("content-length")) == len(r.body)
    client.take()
    client.send(req("/api/data"))
    assert client.data() == STATIC[b"/api/data"][0][0], "the same bytes every time"


def test_get_stream_sse(client):
    client.send(req("/stream-sse"))
    first = client.data()
    status_line, headers, rest = parse_head(first)
    assert status_line == b"HTTP/1.1 200 OK"
    assert ("Transfer-Encoding", "chunked") in headers
    assert rest, "with no TTFT the first frame goes out with the head"
    finish(client)
    [r] = client.responses()
    assert r.chunked
    assert_full_sse(r)
    assert len(r.chunks) == COUNT + 1
    assert stats(client.app).streams == 0 and stats(client.app).tokens_sent == COUNT
    assert_open(client)


def test_seed_stream_ids_come_from_the_process_ids(client):
    client.send(req("/stream-sse?max_tokens=1") + req("/stream-sse?max_tokens=1"))
    finish(client)
    ids = [chat_deltas(sse_events(r.body))[0]["id"].encode() for r in client.responses()]
    head = IDS.head(b"chatcmpl-")
    assert ids[0].startswith(head) and ids[1].startswith(head) and ids[0] != ids[1]
    assert {len(i) for i in ids} == {len(b"chatcmpl-") + 24}


def test_get_stream_ndjson(client):
    client.send(req("/stream-ndjson"))
    finish(client)
    [r] = client.responses()
    assert r.status == 200 and r.header("content-type") == "application/x-ndjson"
    lines = r.body.split(b"\n")
    assert lines[-1] == b""
    objects = [json.loads(line) for line in lines[:-1]]
    assert "".join(o["response"] for o in objects[:-1]) == TEXT
    assert all(o["done"] is False for o in objects[:-1])
    assert objects[-1]["done"] is True and objects[-1]["eval_count"] == COUNT
    assert_open(client)


def test_request_fed_one_byte_at_a_time(client):
    raw = req("/stream-sse?delay_ms=1&max_tokens=3", headers="X-Mock-TTFT-Ms: 0\r\n") + req("/health")
    for i in range(len(raw)):
        client.send(raw[i:i + 1])
    finish(client)
    r1, r2 = client.responses()
    assert_full_sse(r1, "".join(FRAMES.corpus.tokens[:3]))
    assert r2.json() == {"status": "ok"}


def test_keep_alive_serves_many_requests(client):
    for _ in range(5):
        client.send(req("/health"))
    assert client.data() == STATIC[b"/health"][0][0] * 5
    assert_open(client)


# -- pipelining ------------------------------------------------------------------------

def test_three_pipelined_static_requests(client):
    client.send(req("/health") + req("/api/data") + req("/nope"))
    r1, r2, r3 = client.responses()
    assert (r1.status, r2.status, r3.status) == (200, 200, 404)
    assert r2.json()["object"] == "chat.completion"


def test_pipelined_requests_wait_for_the_stream(client):
    client.send(req("/stream-sse") + req("/health") + req("/api/data"))
    so_far = client.data()
    assert b'{"status":"ok"}' not in so_far, "answered while the stream runs"
    assert client.protocol.pending == 2
    client.loop.advance(0.5)
    assert b'{"status":"ok"}' not in client.data()
    finish(client)
    data = client.data()
    assert data.index(b"0\r\n\r\n") < data.index(b"HTTP/1.1 200 OK", 10)
    r1, r2, r3 = client.responses()
    assert_full_sse(r1)
    assert r2.json() == {"status": "ok"}
    assert r3.json()["object"] == "chat.completion"
    assert not client.protocol.pending
    assert_open(client)


def test_pipelined_streams_run_one_after_the_other(client):
    client.send(req("/stream-sse?max_tokens=2") + req("/stream-ndjson?max_tokens=3") + req("/health"))
    finish(client)
    r1, r2, r3 = client.responses()
    assert len(chat_deltas(sse_events(r1.body))) == 2
    assert len(r2.body.strip().split(b"\n")) == 4
    assert r3.status == 200


def test_pipeline_beyond_the_limit_pauses_reading(loop):
    c = Client(loop, delay_ms=10, max_pipelined=2)
    c.send(req("/stream-sse?max_tokens=5") + req("/health"))
    assert c.transport.reading_calls == []
    c.send(req("/health"))
    assert c.transport.reading_calls == ["pause"] and not c.transport.reading
    loop.advance(0.1)
    assert c.transport.reading_calls == ["pause", "resume"] and c.transport.reading
    assert len(c.responses()) == 3


def test_parse_error_behind_a_stream_is_answered_after_it(client):
    client.send(req("/stream-sse?max_tokens=3") + b"GARBAGE\x01\r\n\r\n")
    finish(client)
    r1, r2 = client.responses()
    assert len(chat_deltas(sse_events(r1.body))) == 3
    assert r2.status == 400 and r2.header("connection") == "close"
    assert_closed(client)
    assert not client.transport.aborted


def test_parse_error_behind_a_pipeline_comes_last(client):
    client.send(req("/stream-sse?max_tokens=2") + req("/health") + b"GARBAGE\x01\r\n\r\n")
    finish(client)
    r1, r2, r3 = client.responses()
    assert len(chat_deltas(sse_events(r1.body))) == 2
    assert r2.status == 200 and r2.header("connection") is None
    assert r3.status == 400 and r3.header("connection") == "close"
    assert_closed(client)


# -- HTTP/1.0 ---------------------------------------------------------------------------

def test_http10_closes(client):
    client.send(req("/health", version="1.0"))
    [r] = client.responses()
    assert r.status == 200 and r.header("connection") == "close"
    assert client.data() == STATIC[b"/health"][0][2]
    assert_closed(client)


def test_http10_keep_alive(client):
    client.send(req("/health", version="1.0", headers="Connection: keep-alive\r\n"))
    assert client.data() == STATIC[b"/health"][0][1]
    [r] = client.responses()
    assert r.header("connection") == "keep-alive"
    assert_open(client)
    client.send(req("/api/data", version="1.0", headers="Connection: keep-alive\r\n"))
    assert len(client.responses()) == 2
    assert_open(client)


def test_http10_stream_is_raw_and_close_delimited(client):
    client.send(req("/stream-sse?max_tokens=4", version="1.0", headers="Connection: keep-alive\r\n"))
    finish(client)
    data = client.data()
    status_line, headers, body = parse_head(data)
    names = [k.lower() for k, _ in headers]
    assert "transfer-encoding" not in names and "content-length" not in names
    assert ("Connection", "close") in headers
    assert b"\r\n" not in body, "chunked framing in an HTTP/1.0 body"
    chunks = chat_deltas(sse_events(body))
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "".join(FRAMES.corpus.tokens[:4])
    assert_closed(client)


def test_http10_ndjson_stream_is_raw(client):
    client.send(req("/stream-ndjson?max_tokens=2", version="1.0"))
    finish(client)
    _, headers, body = parse_head(client.data())
    assert "transfer-encoding" not in [k.lower() for k, _ in headers]
    objects = [json.loads(line) for line in body.split(b"\n")[:-1]]
    assert [o["done"] for o in objects] == [False, False, True]
    assert_closed(client)


# -- HEAD, OPTIONS and wrong routes ----------------------------------------------------------

@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_on_every_get_route(loop, path):
    get, head = Client(loop, delay_ms=10), Client(loop, delay_ms=10)
    same_id = "X-Request-Id: head-test\r\n"     # else each answer has its own fresh id
    get.send(req(path, headers=same_id))
    head.send(req(path, method="HEAD", headers=same_id))
    get_head = get.data()[:get.data().index(b"\r\n\r\n") + 4]
    assert head.data() == get_head, "HEAD must answer the same head without a body"
    assert stats(head.app).streams == 0 and len(head.app.pacer) == 0
    loop.advance(10)
    assert head.data() == get_head
    assert_open(head)
    head.send(req("/health"))
    assert head.data() == get_head + STATIC[b"/health"][0][0]


def test_head_of_an_unknown_route_has_no_body(client):
    client.send(req("/nope", method="HEAD") + req("/health"))
    data = client.data()
    r1, rest = parse_response(data, head_only=True)
    assert r1.status == 404 and int(r1.header("content-length")) > 0
    assert rest == STATIC[b"/health"][0][0]


def test_not_found(client):
    client.send(req("/v2/nothing?x=1"))
    [r] = client.responses()
    assert r.status == 404
    error = r.json()["error"]
    assert "/v2/nothing" in error["message"] and error["type"] == "not_found_error"
    assert r.header("access-control-allow-origin") == "*"
    assert_open(client)


def test_method_not_allowed(client):
    client.send(req("/health", method="POST", headers="Content-Length: 2\r\n", body=b"{}"))
    [r] = client.responses()
    assert r.status == 405
    assert r.header("allow") == "GET, HEAD, OPTIONS"
    assert "POST" in r.json()["error"]["message"]
    assert_open(client)
    client.send(req("/health"))
    assert client.responses()[1].status == 200


def test_options_preflight(client):
    client.send(req("/stream-sse", method="OPTIONS",
                    headers="Origin: http://app.test\r\nAccess-Control-Request-Method: GET\r\n"
                            "Access-Control-Request-Headers: x-mock-delay-ms\r\n"))
    [r] = client.responses()
    assert r.status == 204 and r.body == b""
    assert r.header("access-control-allow-origin") == "*"
    assert "GET" in r.header("access-control-allow-methods")
    assert r.header("access-control-allow-headers") == "*, Authorization"
    assert r.header("content-length") is None and r.header("transfer-encoding") is None
    assert stats(client.app).streams == 0
    assert_open(client)


# -- bad input ----------------------------------------------------------------------------------

def test_malformed_request_is_400_and_close(client):
    client.send(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
    assert client.data() == wire.BAD_REQUEST
    [r] = client.responses()
    assert r.status == 400 and r.header("connection") == "close"
    assert_closed(client)
    client.protocol.data_received(req("/health"))   # nothing more is HTTP on this connection
    assert client.data() == wire.BAD_REQUEST


def test_too_many_headers_is_431(client):
    headers = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(client.app.config.max_headers + 1))
    client.send(req("/health", headers=headers))
    [r] = client.responses()
    assert r.status == 431 and r.header("connection") == "close"
    assert_closed(client)


def test_headers_too_large_is_431(client):
    client.send(req("/health", headers="X-Big: " + "a" * client.app.config.max_header_bytes + "\r\n"))
    [r] = client.responses()
    assert r.status == 431
    assert_closed(client)


def test_headers_at_the_budget_pass(loop):
    c = Client(loop, max_header_bytes=100, max_headers=3)
    c.send(req("/health", headers="X-A: 1\r\nX-B: 2\r\n"))   # Host + 2 = 3 lines
    assert c.responses()[0].status == 200


def test_url_too_long_is_414(client):
    client.send(req("/health?" + "a" * client.app.config.max_url_bytes))
    [r] = client.responses()
    assert r.status == 414 and r.header("connection") == "close"
    assert_closed(client)


def test_content_length_too_big_is_413(client):
    big = client.app.config.max_body_bytes + 1
    client.send(req("/health", method="POST", headers=f"Content-Length: {big}\r\n"))
    [r] = client.responses()
    assert r.status == 413
    assert_closed(client)


def test_chunked_body_over_the_limit_is_413(loop):
    c = Client(loop, max_body_bytes=100)
    chunk = b"40\r\n" + b"x" * 64 + b"\r\n"
    c.send(req("/health", headers="Transfer-Encoding: chunked\r\n") + chunk)
    assert c.data() == b"", "64 bytes are within the limit"
    c.send(chunk)
    [r] = c.responses()
    assert r.status == 413
    assert_closed(c)


def test_chunked_body_within_the_limit_is_read(loop):
    c = Client(loop, max_body_bytes=100)
    c.send(req("/health", headers="Transfer-Encoding: chunked\r\n") + b"3\r\nabc\r\n0\r\n\r\n")
    assert c.data() == STATIC[b"/health"][0][0]


def test_expect_100_continue(client):
    client.send(req("/health", headers="Expect: 100-continue\r\nContent-Length: 5\r\n"))
    assert client.data() == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.send(b"hello")
    assert client.data() == b"HTTP/1.1 100 Continue\r\n\r\n" + STATIC[b"/health"][0][0]
    assert_open(client)


def test_no_100_continue_without_expect(client):
    client.send(req("/health", headers="Content-Length: 5\r\n"))
    assert client.data() == b""
    client.send(b"hello")
    assert client.data() == STATIC[b"/health"][0][0]


def test_upgrade_is_answered_then_closed(client):
    client.send(req("/health", headers="Connection: Upgrade\r\nUpgrade: websocket\r\n")
                + b"\x81\x85binary-websocket-frame" + req("/api/data"))
    assert client.data() == STATIC[b"/health"][0][2]
    [r] = client.responses()
    assert r.header("connection") == "close"
    assert_closed(client)


def test_connection_close_then_more_bytes(client):
    client.send(req("/health", headers="Connection: close\r\n") + req("/api/data") + b"junk\r\n")
    assert client.data() == STATIC[b"/health"][0][2]
    assert_closed(client)


def test_empty_header_name_is_a_400_not_a_crash(client, caplog):
    client.send(b"GET /health HTTP/1.1\r\n: value\r\n\r\n")
    [r] = client.responses()
    assert r.status == 400
    assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]


# -- stream controls ------------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "headers", "param"), [
    ("/stream-sse?delay_ms=abc", "", "delay_ms"),
    ("/stream-sse?delay_ms=-1", "", "delay_ms"),
    ("/stream-sse?ttft_ms=1.5", "", "ttft_ms"),
    ("/stream-sse?max_tokens=0", "", "max_tokens"),
    ("/stream-ndjson?status=302", "", "status"),
    ("/stream-sse?status=99", "", "status"),
    ("/stream-loop?fail_after=x", "", "fail_after"),
    ("/stream-sse?delay_ms=5", "X-Mock-Delay-Ms: nope\r\n", "delay_ms"),
    ("/stream-sse", "X-Mock-Max-Tokens: 0\r\n", "max_tokens"),
    ("/stream-sse", "x-mock-status: 700\r\n", "status"),
])
def test_invalid_control_is_400_naming_it(client, target, headers, param):
    client.send(req(target, headers=headers))
    [r] = client.responses()
    assert r.status == 400
    error = r.json()["error"]
    assert error["param"] == param and param in error["message"]
    assert error["type"] == "invalid_request_error"
    assert r.header("connection") is None
    assert stats(client.app).streams == 0 and len(client.app.pacer) == 0
    client.send(req("/health"))
    assert client.responses()[1].status == 200, "the connection stays usable"
    assert_open(client)


def frames_at(client: Client, times_ms: list[int]) -> list[int]:
    """How many frames have been written at each of these times after now."""
    start = client.loop.time()
    counts = []
    for t in times_ms:
        client.loop.advance_to(start + t / 1000)
        counts.append(client.data().count(b"data: {"))
    return counts


def test_query_controls_pacing(client):
    client.send(req("/stream-sse?delay_ms=30&max_tokens=3"))
    assert frames_at(client, [0, 29, 30, 59, 60, 100]) == [1, 1, 2, 2, 3, 3]


def test_header_wins_over_query(client):
    client.send(req("/stream-sse?delay_ms=10&max_tokens=3", headers="X-Mock-Delay-Ms: 30\r\n"))
    assert frames_at(client, [0, 29, 30, 59, 60]) == [1, 1, 2, 2, 3]


def test_ttft_header(client):
    client.send(req("/stream-sse?max_tokens=2", headers="X-Mock-TTFT-Ms: 100\r\n"))
    assert client.data().endswith(b"\r\n\r\n"), "the head goes out at once"
    assert frames_at(client, [99, 100, 109, 110]) == [0, 1, 1, 2]


def test_status_429(client):
    client.send(req("/stream-sse?status=429"))
    [r] = client.responses()
    assert r.status == 429 and r.status_line == b"HTTP/1.1 429 Too Many Requests"
    assert r.header("retry-after") == "1"
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "rate_limit_error"
    assert stats(client.app).streams == 0
    assert_open(client)


def test_status_500_via_header(client):
    client.send(req("/stream-ndjson", headers="X-Mock-Status: 503\r\n"))
    [r] = client.responses()
    assert r.status == 503 and r.header("retry-after") == "1"
    assert r.json()["error"]["type"] == "server_error"


def test_status_200_streams_normally(client):
    client.send(req("/stream-sse?status=200&max_tokens=2"))
    finish(client)
    assert len(chat_deltas(sse_events(client.responses()[0].body))) == 2


@pytest.mark.parametrize("n", [1, 3, 10])
def test_fail_after_cuts_after_n_frames(client, n):
    client.send(req(f"/stream-sse?fail_after={n}"))
    finish(client)
    data = client.data()
    assert client.transport.aborted and not client.transport.closed
    assert data.count(b"data: {") == n
    assert b"[DONE]" not in data and not data.endswith(b"0\r\n\r\n")
    _, _, body = parse_head(data)
    chunks = []
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        chunks.append(body[:size])
        assert body[size:size + 2] == b"\r\n"
        body = body[size + 2:]
    assert len(chunks) == n
    assert client.transport.lost and stats(client.app).streams == 0
    assert len(client.app.pacer) == 0 and stats(client.app).tokens_sent == n


def test_fail_after_zero_sends_only_the_head(client):
    client.send(req("/stream-sse?fail_after=0"))
    finish(client)
    assert client.data().endswith(b"\r\n\r\n") and b"data:" not in client.data()
    assert client.transport.aborted and stats(client.app).streams == 0


def test_fail_after_beyond_max_tokens_ends_normally(client):
    client.send(req("/stream-sse?fail_after=5&max_tokens=3"))
    finish(client)
    assert len(chat_deltas(sse_events(client.responses()[0].body))) == 3
    assert not client.transport.aborted


# -- timeouts ---------------------------------------------------------------------------------------

def test_keep_alive_timeout_closes_an_idle_connection(client):
    timeout = client.app.config.keepalive_timeout
    client.send(req("/health"))
    client.loop.advance(timeout - 0.01)
    client.protocol.check_timeouts(client.loop.time())
    assert_open(client)
    client.loop.advance(0.02)
    client.protocol.check_timeouts(client.loop.time())
    assert client.data() == STATIC[b"/health"][0][0], "an idle close writes nothing"
    assert_closed(client)


def test_keep_alive_timeout_counts_from_the_last_answer(client):
    timeout = client.app.config.keepalive_timeout
    client.loop.advance(timeout - 1)
    client.send(req("/health"))
    client.loop.advance(timeout - 0.5)
    client.protocol.check_timeouts(client.loop.time())
    assert_open(client)


def test_keep_alive_timeout_never_cuts_a_stream(client):
    timeout = client.app.config.keepalive_timeout
    client.send(req("/stream-loop"))
    client.loop.advance(timeout * 4)
    client.protocol.check_timeouts(client.loop.time())
    assert_open(client)
    client.transport.pause()                 # a client that stops reading
    client.loop.advance(timeout * 10)
    client.protocol.check_timeouts(client.loop.time())
    assert_open(client)
    assert stats(client.app).streams == 1


def test_keep_alive_timeout_counts_from_the_end_of_the_stream(client):
    timeout = client.app.config.keepalive_timeout
    client.send(req("/stream-sse?delay_ms=100&max_tokens=60"))   # 5.9 s
    client.loop.advance(6.0)
    assert stats(client.app).streams == 0
    client.protocol.check_timeouts(client.loop.time())
    assert_open(client)
    client.loop.advance(timeout)
    client.protocol.check_timeouts(client.loop.time())
    assert client.transport.closed


def test_incomplete_head_times_out_with_408(client):
    timeout = client.app.config.header_timeout
    client.send(b"GET /health HTTP/1.1\r\nHost: slow")
    client.loop.advance(timeout - 0.01)
    client.protocol.check_timeouts(client.loop.time())
    assert client.data() == b""
    client.loop.advance(0.02)
    client.protocol.check_timeouts(client.loop.time())
    [r] = client.responses()
    assert r.status == 408 and r.header("connection") == "close"
    assert_closed(client)


def test_close_that_never_drains_is_aborted(client):
    client.transport.linger = True    # close() waits for a peer that never reads
    client.send(req("/health", version="1.0"))
    assert client.transport.closed and not client.transport.lost
    client.loop.advance(SEND_TIMEOUT - 0.1)   # not the shutdown timeout: bug 4 of issue 12
    client.protocol.check_timeouts(client.loop.time())
    assert not client.transport.aborted
    client.loop.advance(0.2)
    client.protocol.check_timeouts(client.loop.time())
    assert client.transport.aborted
    client.loop.run_ready()
    assert client.transport.lost and stats(client.app).connections == 0


# -- flow control ------------------------------------------------------------------------------------

def test_pause_writing_stops_frames_and_resume_continues(client):
    client.send(req("/stream-sse"))
    client.loop.advance(0.05)                 # frames 0..5
    assert client.data().count(b"data: {") == 6
    client.transport.pause()
    assert len(client.app.pacer) == 0
    before = client.data()
    client.loop.advance(5)
    assert client.data() == before, "written while the transport was paused"
    client.transport.drain()
    client.loop.advance(0)
    assert client.data().count(b"data: {") == 7
    finish(client)
    assert_full_sse(client.responses()[0])


def test_pause_writing_from_inside_write(loop):
    c = Client(loop, delay_ms=10, high_water=2000)
    c.send(req("/stream-sse"))
    loop.advance(1)
    assert c.transport.write_paused
    sent = c.data().count(b"data: {")
    assert 2000 < len(c.data()) < 2000 + 1000 and sent < 20
    loop.advance(1)
    assert c.data().count(b"data: {") == sent
    while c.transport.write_paused:
        c.transport.drain()
        loop.advance(1)
    finish(c)
    assert_full_sse(c.responses()[0])


def test_pause_writing_pauses_reading(client):
    client.transport.pause()
    assert client.transport.reading_calls == ["pause"]
    client.transport.drain()
    assert client.transport.reading_calls == ["pause", "resume"]


# -- teardown --------------------------------------------------------------------------------------------

def test_connection_lost_mid_stream_frees_everything(client):
    app = client.app
    client.send(req("/stream-loop"))
    client.loop.advance(0.1)
    assert stats(app).streams == 1 and len(app.pacer) == 1
    client.transport.peer_reset()
    assert stats(app).streams == 0 and stats(app).connections == 0
    assert len(app.pacer) == 0 and not app.connections
    client.loop.advance(10)                   # would raise on a write after connection_lost
    assert client.loop.timers() == [] and client.loop.ready() == []


def test_connection_lost_with_a_pipeline(client):
    client.send(req("/stream-sse") + req("/health"))
    client.transport.peer_reset()
    client.loop.advance(10)
    assert b'{"status":"ok"}' not in client.data()
    assert stats(client.app).streams == 0


def test_half_close_answers_what_was_sent(client):
    client.send(req("/stream-sse?max_tokens=2") + req("/health"))
    assert client.protocol.eof_received() is True   # keep the transport open to answer
    finish(client)
    r1, r2 = client.responses()
    assert len(chat_deltas(sse_events(r1.body))) == 2
    assert r2.status == 200 and r2.header("connection") == "close"
    assert_closed(client)


def test_metrics_route(client):
    client.send(req("/health") + req("/metrics"))
    r = client.responses()[1]
    assert r.header("content-type").startswith("text/plain")
    assert b'fastmock_requests_total{route="/health",status="200"} 1' in r.body
    assert b"fastmock_open_connections 1" in r.body


# -- shutdown --------------------------------------------------------------------------------------------

def test_shutdown_closes_an_idle_connection(client):
    client.protocol.shutdown()
    assert client.data() == b""
    assert_closed(client)


def test_shutdown_lets_a_stream_finish_then_closes(client):
    client.send(req("/stream-sse?max_tokens=5") + req("/health"))
    client.app.shutting_down = True
    client.protocol.shutdown()
    assert_open(client)
    finish(client)
    [r] = client.responses()
    assert len(chat_deltas(sse_events(r.body))) == 5
    assert_closed(client)


def test_requests_during_shutdown_get_connection_close(client):
    client.app.shutting_down = True
    client.send(req("/health"))
    assert client.data() == STATIC[b"/health"][0][2]
    assert_closed(client)


@pytest.mark.parametrize("path", ["/stream-loop", "/stream-ndjson"])
def test_end_stream_now_ends_cleanly(client, path):
    client.send(req(path))
    client.loop.advance(0.05)
    client.protocol.end_stream_now()
    assert stats(client.app).streams == 0 and len(client.app.pacer) == 0
    client.loop.advance(1)
    [r] = client.responses()            # a complete chunked body: terminator included
    if path == "/stream-loop":
        assert len(chat_deltas(sse_events(r.body))) == 6
    else:
        last = json.loads(r.body.split(b"\n")[-2])
        assert last["done"] is True and last["eval_count"] == 6
    assert_closed(client)


def test_access_log_line(loop):
    import io

    from fastmock.accesslog import AccessLog
    app = make_app(loop, delay_ms=10)
    out = io.StringIO()
    app.access_log = AccessLog(out)
    c = Client(loop, app)
    c.send(b'GET /nope?"x" HTTP/1.1\r\nHost: a\r\n\r\n')
    c.app.access_log.flush()
    line = out.getvalue()
    assert line.startswith("127.0.0.1 - - [")
    assert line.endswith('] "GET /nope?\\x22x\\x22 HTTP/1.1" 404 ' + str(len(c.transport.raw())) + "\n")
