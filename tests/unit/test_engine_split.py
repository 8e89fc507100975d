"""The engine on its own (issue 12, point 1 and bugs 4, 5, 6), on the fake loop.

- It imports nothing of the app: every answer it sends on its own comes from the
  CannedAnswers object the app hands it.
- A close that is still flushing is cut only when the server shuts down, or when the
  peer has read nothing for SEND_TIMEOUT (bug 4).
- close() takes a running stream off the pacer at once (bug 5).
- The repeat-request memo evicts, and keeps a hot key (bug 6).
"""
from __future__ import annotations

import pathlib
import re

import pytest

from fastmock import _engine
from fastmock.protocol import HttpProtocol
from support.fakes import Client, stats
from support.http import parse_responses

ENGINE_SOURCES = sorted(
    p for p in (pathlib.Path(_engine.__file__).parent).glob("**/*")
    if p.suffix in (".pyx", ".pxd") and (p.parent.name == "engine" or p.stem == "_engine"))


def get(target: str, headers: str = "", version: str = "1.1") -> bytes:
    return f"GET {target} HTTP/{version}\r\nHost: localhost\r\n{headers}\r\n".encode()


# -- no app import ------------------------------------------------------------------------------

def test_the_engine_sources_are_found():
    names = {p.name for p in ENGINE_SOURCES}
    assert {"_engine.pyx", "connection.pyx", "pacer.pyx", "counters.pyx"} <= names, names


@pytest.mark.parametrize("source", ENGINE_SOURCES, ids=lambda p: p.name)
def test_the_engine_imports_no_app_module(source):
    """The engine knows HTTP/1.1 and StreamSpec: no import of fastmock.* anywhere in it."""
    text = source.read_text()
    imports = re.findall(r"^\s*(?:from|c?import)\s+(fastmock[\w.]*)", text, re.M)
    assert imports == [], f"{source.name} imports {imports}"
    assert "importlib" not in text


def _answer(status: int, tag: bytes) -> bytes:
    return (b"HTTP/1.1 %d Canned\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (status, len(tag), tag))


class Canned:
    """A CannedAnswers stand-in whose bytes say where they came from."""

    def __init__(self) -> None:
        self.bad_request = _answer(400, b"bad_request")
        self.internal_error = _answer(500, b"internal_error")
        self.busy = _answer(503, b"busy")
        self.continue_ = b"HTTP/1.1 100 Canned\r\n\r\n"
        self.asked: list[tuple[int, str, bytes]] = []

    def error(self, status: int, message: str, url: bytes = b"") -> bytes:
        self.asked.append((status, message, url))
        return _answer(status, b"error")

    def identified(self, response: bytes, headers: dict | None = None) -> bytes:
        from fastmock.canned import CannedAnswers
        return CannedAnswers.identified(self, response, headers)


def canned_client(loop, **settings) -> tuple[Client, Canned]:
    client = Client(loop, **settings)
    canned = client.app.answers = Canned()
    return client, canned


def test_the_app_hands_the_engine_its_canned_answers(loop):
    from fastmock.canned import CannedAnswers
    client = Client(loop)
    assert isinstance(client.app.answers, CannedAnswers)
    assert client.app.answers.busy.startswith(b"HTTP/1.1 503 ")   # fastmock.admission sends it


def test_a_malformed_request_gets_the_canned_400(loop):
    client, canned = canned_client(loop)
    client.send(b"GET / HTTP/1.1\r\nHost x\r\n\r\n")
    assert client.data() == canned.bad_request and client.transport.closed


def test_limits_ask_the_canned_answers_for_an_error_with_the_url(loop):
    client, canned = canned_client(loop, max_body_bytes=10)
    client.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
    [(status, message, url)] = canned.asked
    assert (status, url) == (413, b"/v1/chat/completions") and "10 bytes" in message
    [r] = parse_responses(client.data())
    assert r.status == 413 and r.body == b"error"


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431),
])
def test_url_and_header_limits_come_from_the_canned_answers(loop, request_bytes, status):
    client, canned = canned_client(loop)
    client.send(request_bytes)
    assert [s for s, _, _ in canned.asked] == [status]
    assert parse_responses(client.data())[0].status == status


def test_the_408_comes_from_the_canned_answers(loop):
    client, canned = canned_client(loop)
    client.send(b"GET /health HTTP/1.1\r\nHost: slow")
    client.loop.advance(client.app.config.header_timeout + 0.1)
    client.protocol.check_timeouts(client.loop.time())
    assert canned.asked == [(408, "request not received in time", b"")]
    assert parse_responses(client.data())[0].status == 408


def test_expect_100_continue_sends_the_canned_interim_answer(loop):
    client, canned = canned_client(loop)
    client.send(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                b"Expect: 100-continue\r\n\r\n")
    assert client.data() == canned.continue_


class Raising(HttpProtocol):
    __slots__ = ()

    def handle(self, request) -> None:
        raise RuntimeError("boom")


def test_a_callback_that_raises_gets_the_canned_500(loop):
    loop.expected_errors = 1
    client, canned = canned_client(loop)
    client.protocol = Raising(client.app)
    client.transport.protocol = client.protocol
    client.protocol.connection_made(client.transport)
    client.send(get("/health"))
    assert client.data() == canned.internal_error


def test_reject_carries_status_message_and_url_only():
    reject = _engine.Reject(413, "too big", b"/v1/messages?x=1")
    assert (reject.status, reject.message, reject.url) == (413, "too big", b"/v1/messages?x=1")
    assert not hasattr(reject, "response")


# -- bug 4: a flushing close is not cut while the server runs ---------------------------------

def flushing_close(loop, **settings) -> Client:
    """A Connection: close answer that the peer does not read yet: close() waits on the flush."""
    client = Client(loop, high_water=1 << 30, **settings)   # count what is buffered, never pause
    client.transport.linger = True                          # no connection_lost until it drains
    client.send(get("/api/data", "Connection: close\r\n"))
    assert client.transport.closed and client.transport.buffered > 0
    return client


def test_a_slow_reader_of_a_closing_answer_is_not_cut_by_the_shutdown_timeout(loop):
    """Bug 4: with --shutdown-timeout 0, a client that paused 3 s lost the end of its answer."""
    client = flushing_close(loop, shutdown_timeout=0.0)
    client.loop.advance(3)
    client.protocol.check_timeouts(client.loop.time())
    assert not client.transport.aborted


def test_a_closing_answer_is_cut_after_send_timeout_without_progress(loop):
    client = flushing_close(loop)
    timeout = _engine.SEND_TIMEOUT
    assert timeout >= 60
    client.loop.advance(timeout - 1)
    client.protocol.check_timeouts(client.loop.time())
    assert not client.transport.aborted
    client.loop.advance(2)
    client.protocol.check_timeouts(client.loop.time())
    assert client.transport.aborted
    client.loop.run_ready()
    assert client.transport.lost and stats(client.app).connections == 0


def test_a_closing_answer_that_drains_slowly_is_never_cut(loop):
    client = flushing_close(loop)
    timeout = _engine.SEND_TIMEOUT
    for _ in range(4):       # the peer reads a little every timeout - 1 s
        client.loop.advance(timeout - 1)
        client.transport.buffered -= 1
        client.protocol.check_timeouts(client.loop.time())
    assert not client.transport.aborted


def test_a_closing_answer_is_cut_after_the_shutdown_timeout_when_shutting_down(loop):
    client = flushing_close(loop)
    client.app.shutting_down = True
    client.loop.advance(client.app.config.shutdown_timeout - 0.1)
    client.protocol.check_timeouts(client.loop.time())
    assert not client.transport.aborted
    client.loop.advance(0.2)
    client.protocol.check_timeouts(client.loop.time())
    assert client.transport.aborted


# -- bug 5: close() unschedules the stream --------------------------------------------------------

def test_close_takes_a_stream_off_the_pacer_and_counts_no_more_tokens(loop):
    client = Client(loop, delay_ms=10)
    client.transport.linger = True          # connection_lost comes late (a peer that never reads)
    client.send(get("/stream-loop"))
    client.loop.advance(0.05)
    tokens = stats(client.app).tokens_sent
    assert tokens > 0 and len(client.app.pacer) == 1
    client.protocol.close()
    assert len(client.app.pacer) == 0
    client.loop.advance(1)
    assert stats(client.app).tokens_sent == tokens
    assert client.transport.writes_after_close == []


def test_close_of_an_unpaced_stream_cancels_its_burst(loop):
    client = Client(loop, delay_ms=0)
    client.transport.linger = True
    client.send(get("/stream-loop"), run=False)
    tokens = stats(client.app).tokens_sent
    client.protocol.close()
    client.loop.run_ready()
    assert stats(client.app).tokens_sent == tokens
    assert stats(client.app).streams == 0


# -- bug 6: the memo evicts, and keeps what is hot --------------------------------------------------

def test_a_full_memo_still_learns_a_new_repeated_request(loop):
    client = Client(loop)
    for i in range(200):
        client.send(get("/health", f"X-N: {i}\r\n"))
    assert len(client.app.memo) == _engine.MEMO_SIZE
    late = get("/api/data", "X-Late: 1\r\n")
    for _ in range(3):
        client.send(late)
    assert late in client.app.memo
    assert len(client.app.memo) == _engine.MEMO_SIZE


def test_the_hot_key_stays_while_one_off_requests_churn_the_memo(loop):
    client = Client(loop)
    hot = get("/api/data")
    client.send(hot)
    first = client.take()
    for i in range(1000):
        client.send(get("/health", f"X-N: {i}\r\n"))
        assert hot in client.app.memo, i      # never evicted, so never parsed again
        client.send(hot)
    assert client.take().count(first) == 1000
    assert stats(client.app).requests[("/api/data", 200)] == 1001


def test_a_memo_of_hot_keys_only_still_makes_room(loop):
    """Every key answered since the hand last passed: one turn clears them, one goes."""
    client = Client(loop)
    keys = [get("/health", f"X-N: {i}\r\n") for i in range(_engine.MEMO_SIZE)]
    for key in keys + keys:
        client.send(key)
    assert all(key in client.app.memo for key in keys)
    client.send(get("/api/data"))
    assert get("/api/data") in client.app.memo
    assert sum(key in client.app.memo for key in keys) == _engine.MEMO_SIZE - 1


def test_memo_entries_are_bounded_in_number_and_size(loop):
    client = Client(loop)
    for i in range(3 * _engine.MEMO_SIZE):
        client.send(get("/health", f"X-N: {i}\r\n"))
    assert len(client.app.memo) == _engine.MEMO_SIZE
    client.send(get("/health", "X-Big: " + "y" * 3000 + "\r\n"))
    assert get("/health", "X-Big: " + "y" * 3000 + "\r\n") not in client.app.memo


# -- the state flags: only the combinations link.pxd lists ------------------------------------------

def assert_legal(conn) -> None:
    state = conn.state
    if "lingering" in state:
        assert "closing" in state and "read_paused" not in state and conn.pending == 0, state
    if "closing" in state:
        assert "streaming" not in state, state
    if state & {"whole", "burst_pending"}:
        assert "streaming" in state, state
    if "burst_pending" in state:
        assert not state & {"whole", "write_paused"}, state
    if conn.pending:                    # answering, or waiting for the client to read
        assert state & {"streaming", "write_paused"} and "closing" not in state, state


def post(path: str, body: bytes, headers: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


CHAT = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":3}'
CHAT_STREAM = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'

SCENARIOS = {
    "pipelined behind a paced stream": [
        ("send", get("/stream-sse?max_tokens=5&delay_ms=3") + get("/health") + get("/api/data")),
        ("run", 0.05)],
    "unpaced stream paused and resumed": [
        ("send", get("/stream-sse?delay_ms=0")), ("run", 0.002), ("pause",), ("run", 0.01),
        ("drain",), ("run", 0.05)],
    "late and cut whole answers": [
        ("send", post("/v1/chat/completions?ttft_ms=20", CHAT) + get("/health")),
        ("run", 0.05), ("send", post("/v1/chat/completions?fail_after=1&ttft_ms=5", CHAT)),
        ("run", 0.05)],
    "a provider stream, then close()": [
        ("send", post("/v1/chat/completions?delay_ms=2", CHAT_STREAM)), ("run", 0.01),
        ("close",), ("run", 0.05)],
    "half-closed by the peer mid-stream": [
        ("send", get("/stream-sse?max_tokens=3&delay_ms=2") + get("/health")), ("eof",),
        ("run", 0.05)],
    "Connection: close, lingering, then the peer's FIN": [
        ("send", get("/health", "Connection: close\r\n")), ("send", get("/health")),
        ("eof",), ("run", 0.01)],
    "a parse error behind a stream": [
        ("send", get("/stream-sse?max_tokens=2&delay_ms=2") + b"BAD REQUEST\r\n\r\n"),
        ("run", 0.05)],
    "shutdown mid-stream, then end_stream_now": [
        ("send", get("/stream-loop?delay_ms=2") + get("/health")), ("run", 0.01),
        ("shutdown",), ("run", 0.01), ("end_now",), ("run", 0.01)],
    "a slow head, then the sweep": [
        ("send", b"GET /health HTTP/1.1\r\nHost: slow"), ("run", 11.0), ("sweep",),
        ("run", 3.0), ("sweep",)],
    "fail_after on a stream": [
        ("send", get("/stream-sse?fail_after=2&delay_ms=1") + get("/health")), ("run", 0.05)],
    "an upgrade request": [
        ("send", get("/health", "Connection: upgrade\r\nUpgrade: websocket\r\n") + b"\x00\x01"),
        ("run", 0.01)],
}


def run_scenario(loop, name: str) -> set[frozenset]:
    """Play one scenario, checking the state after every step; returns the states seen."""
    client = Client(loop, high_water=4096)
    client.transport.half_close = True
    conn = client.protocol
    seen = set()
    for action, *args in SCENARIOS[name]:
        if action == "send":
            client.send(args[0])
        elif action == "run":
            for _ in range(round(args[0] / 0.001)):
                client.loop.advance(0.001)
                assert_legal(conn)
                seen.add(conn.state)
                if conn.transport is not None and not client.transport.write_paused:
                    client.transport.buffered = 0      # the peer reads, unless paused
        elif action == "pause":
            client.transport.pause()
        elif action == "drain":
            client.transport.drain()
        elif action == "close":
            conn.close()
        elif action == "eof":
            if conn.eof_received() is None and conn.transport is not None:
                client.transport.close()
        elif action == "shutdown":
            client.app.shutting_down = True
            conn.shutdown()
        elif action == "end_now":
            conn.end_stream_now()
        elif action == "sweep":
            conn.check_timeouts(client.loop.time())
        assert_legal(conn)
        seen.add(conn.state)
    return seen


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_state_a_connection_goes_through_is_legal(loop, name):
    run_scenario(loop, name)


def test_the_scenarios_reach_every_flag():
    from support.fakes import ManualClockLoop
    seen = set()
    for name in SCENARIOS:
        seen |= set().union(*run_scenario(ManualClockLoop(), name))
    flags = {"closing", "lingering", "eof", "keep_alive", "write_paused", "read_paused",
             "buffered", "in_message", "streaming", "whole", "burst_pending", "chunked"}
    assert seen == flags, flags - seen
