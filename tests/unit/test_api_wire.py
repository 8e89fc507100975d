"""The provider streams on the engine, in-process on a manual clock: what the wire carries is
exactly the StreamSpec's opening, frame(0..n-1) and closing; pacing, TTFT, fail_after, flow
control and teardown hold for spec streams and for late or cut whole answers."""
from __future__ import annotations

import json
import re

import pytest

from fastmock.protocol import static_answers
from support.fakes import FRAMES, Client, stats
from support.http import parse_head, parse_response

CHAT = [{"role": "user", "content": "hi"}]
STREAMS = {
    "/v1/chat/completions": {"model": "m", "messages": CHAT, "stream": True,
                             "stream_options": {"include_usage": True}},
    "/v1/completions": {"model": "m", "prompt": "hi", "stream": True},
    "/v1/responses": {"model": "m", "input": "hi", "stream": True},
    "/v1/messages": {"model": "m", "messages": CHAT, "max_tokens": 100, "stream": True},
    "/api/generate": {"model": "m", "prompt": "hi"},
    "/api/chat": {"model": "m", "messages": CHAT},
}
STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
DURATIONS = re.compile(rb'"(total_duration|eval_duration)":\d+')


def request(path: str, body: dict, version: str = "1.1", headers: str = "") -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/{version}\r\nHost: t\r\nContent-Length: {len(data)}\r\n{headers}\r\n"
            .encode() + data)


def frames_of(spec, chunks: list[bytes]) -> list[bytes]:
    """spec.frame(n) for every frame chunk, with the stamp the wire carried (Ollama)."""
    out = []
    for n, chunk in enumerate(chunks):
        stamp = b""
        if spec.stamp:
            stamp = STAMP.match(chunk, len(spec.splice)).group()
        out.append(spec.frame(n, stamp))
    return out


def masked(data: bytes) -> bytes:
    return DURATIONS.sub(rb'"\1":N', STAMP.sub(b"STAMP", data))


@pytest.mark.parametrize("path", STREAMS)
@pytest.mark.parametrize("tokens", [1, 5])
def test_the_wire_is_the_specs_frames(loop, answers, path, tokens):
    client = Client(loop, delay_ms=10)
    client.send(request(path + f"?max_tokens={tokens}", STREAMS[path]))
    loop.advance(1)
    [response] = client.responses()
    [answer] = answers
    spec = answer.spec
    assert response.status == 200 and response.chunked
    assert response.header("content-type") == spec.content_type.decode()
    chunks = response.chunks
    if spec.opening:
        assert chunks[0] == spec.opening
        chunks = chunks[1:]
    *frames, closing = chunks
    assert len(frames) == spec.total == tokens
    assert frames == frames_of(spec, frames)
    assert masked(closing) == masked(spec.closing_bytes(tokens))
    wire = response.body
    assert masked(wire) == masked(spec.opening + b"".join(frames_of(spec, frames))
                                  + spec.closing_bytes(tokens))
    assert stats(client.app).tokens_sent == tokens and stats(client.app).streams == 0


@pytest.mark.parametrize("path", STREAMS)
def test_http10_carries_the_same_bytes_without_chunking(loop, answers, path):
    client = Client(loop, delay_ms=10)
    client.send(request(path + "?max_tokens=3", STREAMS[path], version="1.0"))
    loop.advance(1)
    _, headers, body = parse_head(client.data())
    assert "transfer-encoding" not in [k.lower() for k, _ in headers]
    spec = answers[0].spec
    assert masked(body) == masked(spec.opening + b"".join(spec.frame(n, b"STAMP") for n in range(3))
                                  + spec.closing_bytes(3))
    loop.run_ready()
    assert client.transport.closed and not client.transport.aborted


def test_frames_are_paced_from_the_ttft(loop):
    client = Client(loop, delay_ms=10)
    start = loop.time()
    client.send(request("/v1/messages?max_tokens=4&ttft_ms=30",
                        STREAMS["/v1/messages"], headers="X-Mock-Delay-Ms: 20\r\n"))
    loop.advance(1)
    times = [round((t - start) * 1000) for t, _ in client.transport.log]
    # the head and opening at once; tokens at ttft + n * delay; the closing with the last token
    assert times == [0, 30, 50, 70, 90]
    assert b"message_start" in client.transport.log[0][1]
    assert b"message_stop" in client.transport.log[-1][1]


def test_fail_after_cuts_a_spec_stream(loop):
    client = Client(loop, delay_ms=10)
    client.send(request("/v1/chat/completions?fail_after=3", STREAMS["/v1/chat/completions"]))
    loop.advance(1)
    loop.run_ready()
    data = client.data()
    assert client.transport.aborted and data.count(b"chat.completion.chunk") == 3
    assert b"[DONE]" not in data and b"finish_reason\":\"stop" not in data
    assert stats(client.app).streams == 0 and len(client.app.pacer) == 0


def test_a_late_whole_answer_waits_its_ttft_and_keeps_the_order(loop):
    client = Client(loop, delay_ms=10)
    client.send(request("/v1/chat/completions?ttft_ms=50", {"model": "m", "messages": CHAT})
                + b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    loop.advance(0.049)
    assert client.data() == b"" and stats(client.app).streams == 1
    loop.advance(0.002)
    response, rest = parse_response(client.data())
    assert response.status == 200 and response.json()["object"] == "chat.completion"
    assert rest == static_answers(FRAMES)[b"/health"][0][0]
    assert stats(client.app).streams == 0


def test_fail_after_on_a_whole_answer_sends_the_head_and_half_the_body(loop):
    client = Client(loop, delay_ms=10)
    client.send(request("/api/chat?fail_after=0", {"model": "m", "messages": CHAT, "stream": False}))
    loop.run_ready()
    _, headers, body = parse_head(client.data())
    length = int(dict((k.lower(), v) for k, v in headers)["content-length"])
    assert 0 < len(body) == length // 2 and client.transport.aborted
    assert stats(client.app).streams == 0


def test_a_paused_spec_stream_resumes_where_it_stopped(loop):
    client = Client(loop, delay_ms=10)
    client.send(request("/api/generate?max_tokens=6", STREAMS["/api/generate"]))
    loop.advance(0.025)
    client.transport.pause()
    sent = client.data().count(b'"done":false')
    loop.advance(0.1)
    assert client.data().count(b'"done":false') == sent and len(client.app.pacer) == 0
    client.transport.drain()
    loop.advance(0.1)
    [response] = client.responses()
    lines = [json.loads(line) for line in response.body.splitlines()]
    assert [line["done"] for line in lines] == [False] * 6 + [True]
    assert lines[-1]["eval_count"] == 6


def test_a_client_that_leaves_frees_its_stream(loop):
    client = Client(loop, delay_ms=10)
    client.send(request("/v1/responses", STREAMS["/v1/responses"]))
    loop.advance(0.02)
    assert stats(client.app).streams == 1 and len(client.app.pacer) == 1
    client.transport.peer_reset()
    assert stats(client.app).streams == 0 and len(client.app.pacer) == 0
    loop.advance(1)
    assert client.transport.writes_after_close == []


def test_shutdown_ends_a_spec_stream_with_its_closing(loop):
    client = Client(loop, delay_ms=10)
    client.send(request("/v1/messages", STREAMS["/v1/messages"]))
    loop.advance(0.03)
    client.protocol.end_stream_now()
    loop.run_ready()
    data = client.data()
    assert data.endswith(b"0\r\n\r\n") and b"event: message_stop" in data
    assert client.transport.closed and not client.transport.aborted


def test_queued_bodies_share_one_body_budget_before_reading_pauses(loop):
    client = Client(loop, delay_ms=10, max_body_bytes=10_000)
    body = {"model": "m", "messages": [{"role": "user", "content": "echo: " + "x" * 6_000}]}
    client.send(request("/v1/chat/completions?max_tokens=5", STREAMS["/v1/chat/completions"])
                + request("/v1/chat/completions", body))
    assert client.transport.reading            # one queued body: within the budget
    client.send(request("/v1/chat/completions", body))
    assert not client.transport.reading         # two: over it, so reading pauses
    assert client.protocol.pending == 2
    loop.advance(1)
    assert client.transport.reading and not client.protocol.pending
    responses = client.responses()
    assert [r.status for r in responses] == [200, 200, 200]
    assert responses[2].json()["choices"][0]["message"]["content"] == "x" * 6_000
