"""The compiled connection on a fake loop: StreamSpec on the wire, the repeat-request memo."""
from __future__ import annotations

import json

import pytest

from fastmock.protocol import HttpProtocol
from fastmock.streamspec import StreamSpec
from support.fakes import Client, make_app, stats
from support.http import FRESH_ID_LINE, parse_responses

STAMP_WIDTH = len(b"2026-01-02T03:04:05.000006Z")


def get(target: str, headers: str = "", version: str = "1.1") -> bytes:
    return f"GET {target} HTTP/{version}\r\nHost: localhost\r\n{headers}\r\n".encode()


class SpecProtocol(HttpProtocol):
    """Streams whatever spec the test puts in ``SPEC`` on any GET /spec."""

    __slots__ = ()
    SPEC: StreamSpec | None = None
    PACING = (1, 0, -1)   # delay_ms, ttft_ms, fail_after

    def handle(self, request) -> None:
        if request.url != b"/spec":
            return super().handle(request)
        delay, ttft, fail_after = self.PACING
        chunked = not request.http10
        head = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" if chunked
                else b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        self.start_stream(head, self.SPEC, 2, request.keep_alive and chunked, chunked,
                          delay, ttft, fail_after)


def spec_client(loop, spec: StreamSpec, pacing=(1, 0, -1)) -> Client:
    SpecProtocol.SPEC = spec
    SpecProtocol.PACING = pacing
    client = Client(loop)
    client.protocol = SpecProtocol(client.app)
    client.transport.protocol = client.protocol
    client.protocol.connection_made(client.transport)
    return client


def run_out(client: Client, request: bytes) -> bytes:
    client.send(request)
    for _ in range(10_000):
        if not client.protocol.streaming:
            break
        client.loop.advance(0.001)
    assert not client.protocol.streaming
    return client.data()


def every_feature_spec(total: int, *, tokens=(b"alpha ", b"b\\\"eta ", b"gamma"),
                       splice=b"event: delta\ndata: {\"t\":\"") -> StreamSpec:
    return StreamSpec(
        content_type=b"text/event-stream", tokens=tokens, total=total,
        opening=b"event: start\ndata: {}\n\n", splice=splice,
        first_prefix=b"FIRST|", prefix=b"|", suffix=b"\",\"seq\":", last_suffix=b"\",\"last\":1,\"seq\":",
        seq_base=3, seq_tail=b"}\n\n",
        closing=lambda sent, finish: b"event: end\ndata: {\"sent\":%d,\"why\":\"%s\"}\n\n"
        % (sent, finish.encode()), finish="length")


TEMPLATE = (b'event: delta\ndata: {"id":"x-', 0xABC0DEF, b'","t":"')


@pytest.mark.parametrize("total", [0, 1, 2, 5, 130])
@pytest.mark.parametrize("version", ["1.1", "1.0"])
@pytest.mark.parametrize("splice", [b'event: delta\ndata: {"t":"', TEMPLATE])
def test_the_wire_carries_exactly_the_spec(loop, total, version, splice):
    spec = every_feature_spec(total, splice=splice)
    client = spec_client(loop, spec)
    [response] = parse_responses(run_out(client, get("/spec", version=version)))
    expected = spec.opening + b"".join(spec.frame(n) for n in range(total)) + spec.closing_bytes(total)
    assert response.body == expected
    if version == "1.1":
        # one chunk for the opening, one per frame, one for the closing
        assert response.chunks == [spec.opening] + [spec.frame(n) for n in range(total)] + [
            spec.closing_bytes(total)]
    assert stats(client.app).tokens_sent == total and stats(client.app).streams == 0


def test_a_splice_template_puts_16_hex_digits_between_head_and_tail(loop):
    spec = every_feature_spec(2, splice=TEMPLATE)
    assert spec.frame(0).startswith(b'event: delta\ndata: {"id":"x-000000000abc0def","t":"FIRST|')
    client = spec_client(loop, spec)
    body = parse_responses(run_out(client, get("/spec")))[0].body
    assert body.count(b'"id":"x-000000000abc0def"') == 2


def test_sequence_numbers_and_last_suffix(loop):
    spec = every_feature_spec(3)
    assert spec.frame(0) == b'event: delta\ndata: {"t":"FIRST|alpha ","seq":3}\n\n'
    assert spec.frame(2) == b'event: delta\ndata: {"t":"|gamma","last":1,"seq":5}\n\n'
    client = spec_client(loop, spec)
    body = parse_responses(run_out(client, get("/spec")))[0].body
    assert b'"seq":3}' in body and b'"last":1,"seq":5}' in body
    assert body.endswith(b'{"sent":3,"why":"length"}\n\n')


@pytest.mark.parametrize("total", [1, 9, 130])
def test_a_second_running_number_follows_the_first(loop, total):
    """Continuous usage (issue 16): completion and total tokens counted in every frame."""
    spec = StreamSpec(content_type=b"text/event-stream", tokens=(b"a ", b"b "), total=total,
                      splice=b'data: {"t":"', suffix=b'","c":', seq_base=1, seq_tail=b',"all":',
                      seq2_base=1001, seq2_tail=b"}\n\n", closing=b"data: [DONE]\n\n")
    assert spec.frame(8) == b'data: {"t":"a ","c":9,"all":1009}\n\n'
    client = spec_client(loop, spec)
    [response] = parse_responses(run_out(client, get("/spec")))
    assert response.body == b"".join(spec.frame(n) for n in range(total)) + b"data: [DONE]\n\n"
    assert response.body.count(b'"all":') == total and b'"c":%d,"all":%d}' % (total, 1000 + total) in response.body


def test_stamped_frames_carry_the_pacer_stamp(loop):
    spec = StreamSpec(content_type=b"application/x-ndjson", tokens=(b"x", b"y"), total=4,
                      splice=b'{"at":"', stamp=True, prefix=b'","r":"', suffix=b'"}\n')
    client = spec_client(loop, spec)
    lines = parse_responses(run_out(client, get("/spec")))[0].body.splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["r"] for o in objects] == ["x", "y", "x", "y"]
    assert all(len(o["at"]) == STAMP_WIDTH and o["at"].endswith("Z") for o in objects)


def test_a_frame_larger_than_the_compose_buffer(loop):
    big = b"x" * 200_000
    spec = every_feature_spec(3, tokens=(b"small ", big))
    client = spec_client(loop, spec, pacing=(0, 0, -1))
    [response] = parse_responses(run_out(client, get("/spec")))
    assert response.body == (spec.opening + spec.frame(0) + spec.frame(1) + spec.frame(2)
                             + spec.closing_bytes(3))


def test_unpaced_batches_fill_the_buffer_in_several_writes(loop):
    spec = every_feature_spec(64, tokens=(b"y" * 3000,))   # 64 frames of ~3 KB: > 64 KiB
    client = spec_client(loop, spec, pacing=(0, 0, -1))
    [response] = parse_responses(run_out(client, get("/spec")))
    assert response.body.count(b'"seq":') == 64
    assert max(len(w) for w in client.transport.writes) <= 65536


def test_fail_after_sends_the_opening_then_cuts(loop):
    spec = every_feature_spec(10)
    client = spec_client(loop, spec, pacing=(1, 0, 0))
    client.send(get("/spec"))
    assert client.transport.aborted
    assert client.data().endswith(b"\r\n" + spec.opening + b"\r\n")


def test_end_stream_now_closes_with_the_count_sent(loop):
    spec = every_feature_spec(-1)
    client = spec_client(loop, spec, pacing=(10, 0, -1))
    client.send(get("/spec"))
    client.loop.advance(0.025)
    client.protocol.end_stream_now()
    client.loop.run_ready()
    body = parse_responses(client.data())[0].body
    assert body.endswith(b'{"sent":3,"why":"length"}\n\n')


# -- the repeat-request memo ---------------------------------------------------------------------

def test_a_repeated_static_request_is_answered_from_the_memo(loop):
    client = Client(loop)
    request = get("/api/data")
    client.send(request)
    first = client.take()
    assert request in client.app.memo
    for _ in range(3):
        client.send(request)
        assert client.take() == first
    assert stats(client.app).requests == {("/api/data", 200): 4}


@pytest.mark.parametrize("path", ["/api/data", "/health"])
def test_memo_answers_get_a_fresh_id_line_each(loop, path):
    client = Client(loop)
    request = get(path)
    lines = []
    for _ in range(4):
        client.send(request)
        answer = client.transport.raw()
        client.transport.take()
        found = FRESH_ID_LINE.findall(answer)
        assert len(found) == 1 and answer.index(found[0]) == answer.index(b"\r\n") + 2
        lines.append(found[0])
    assert request in client.app.memo and client.app.memo.get(request).id_at == 17
    assert len(set(lines)) == 4
    assert [int(line[-18:-2], 16) for line in lines] == sorted(int(line[-18:-2], 16) for line in lines)


@pytest.mark.parametrize("request_bytes", [
    get("/api/data", "Connection: close\r\n"),          # the answer closes: not remembered
    get("/api/data") + get("/health"),                  # two requests in one read
    get("/api/data")[:-2],                              # incomplete
    get("/stream-sse?max_tokens=1"),                    # not a static document
    get("/nope"),
    b"POST /api/data HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
    get("/api/data", "Expect: 100-continue\r\n"),       # the answer includes an interim 100
])
def test_what_is_not_remembered(loop, request_bytes):
    client = Client(loop)
    client.send(request_bytes)
    assert len(client.app.memo) == 0


def test_memo_answers_keep_http10_keep_alive_and_head(loop):
    client = Client(loop)
    for request in (get("/health", "Connection: keep-alive\r\n", version="1.0"),
                    b"HEAD /api/data HTTP/1.1\r\nHost: x\r\n\r\n"):
        client.send(request)
        once = client.take()
        client.send(request)
        assert client.take() == once
        assert request in client.app.memo
    assert not client.transport.closed


def test_the_memo_is_not_used_while_shutting_down(loop):
    client = Client(loop)
    request = get("/health")
    client.send(request)
    client.take()
    client.app.shutting_down = True
    client.send(request)
    [response] = parse_responses(client.take())
    assert response.header("Connection") == "close" and client.transport.closed


def test_the_memo_is_bounded(loop):
    client = Client(loop)
    for i in range(200):
        client.send(get(f"/health", f"X-N: {i}\r\n"))
    assert len(client.app.memo) == 64
    client.send(get("/health", "X-Big: " + "y" * 3000 + "\r\n"))
    assert len(client.app.memo) == 64


def test_the_memo_is_not_used_behind_a_stream(loop):
    client = Client(loop, delay_ms=5)
    request = get("/health")
    client.send(request)
    client.take()
    client.send(get("/stream-sse?max_tokens=3") + request)
    assert client.protocol.pending == 1
    client.loop.advance(0.1)
    body = client.take()
    assert body.count(b"HTTP/1.1 200 OK") == 2 and body.endswith(b'{"status":"ok"}')


def test_nothing_follows_a_cut_stream_on_the_wire(loop):
    """fail_after cuts the stream; a parse error in the same read must not be answered after it."""
    client = Client(loop)
    client.send(b"GET /stream-sse?max_tokens=2&fail_after=1&delay_ms=1 HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 5\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.transport.aborted
    data = client.data()
    assert data.count(b"HTTP/1.1") == 1 and data.count(b"data: {") == 1
