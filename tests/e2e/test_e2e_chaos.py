"""Wire chaos on the raw socket (issue 18): every condition happens exactly as asked, on
every streaming endpoint, and a bad value is a 400 in the API's own shape.

On a chunked stream each chaos write is one HTTP chunk, so the chunks a test reads are the
writes the server made, however the kernel delivered them."""
from __future__ import annotations

import json
import socket
import time

import pytest

from support.apis import TEXT, assert_health, post
from support.http import get, read_response
from support.server import LiveServer

CHAT = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "m", "max_tokens": 500, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
OLLAMA_CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
# every streaming endpoint: (method, path, body, text of each event's content)
ENDPOINTS = {
    "stream-sse": ("GET", "/stream-sse", None),
    "stream-loop": ("GET", "/stream-loop?max_tokens=209", None),
    "stream-ndjson": ("GET", "/stream-ndjson", None),
    "chat": ("POST", "/v1/chat/completions", CHAT),
    "completions": ("POST", "/v1/completions", {"model": "m", "stream": True, "prompt": "hi"}),
    "responses": ("POST", "/v1/responses", {"model": "m", "stream": True, "input": "hi"}),
    "messages": ("POST", "/v1/messages", MESSAGES),
    "ollama-chat": ("POST", "/api/chat", OLLAMA_CHAT),
    "ollama-generate": ("POST", "/api/generate", {"model": "m", "prompt": "hi"}),
}


@pytest.fixture(scope="module")
def chaos_server():
    server = LiveServer("--delay-ms", "0")
    yield server
    server.stop_cleanly()


def fetch(server, name: str, *headers: str, query: str = ""):
    method, path, body = ENDPOINTS[name]
    if query:
        path += ("&" if "?" in path else "?") + query
    if method == "GET":
        with server.connect(20) as sock:
            sock.sendall(get(path, *headers))
            return read_response(sock.makefile("rb"))
    return post(server, path, body, *headers)


def text_of(name: str, body: bytes) -> str:
    """The text a stream's content events carry, in order (CRLF read as LF)."""
    body = body.replace(b"\r\n", b"\n")
    if name in ("stream-ndjson", "ollama-chat", "ollama-generate"):
        lines = [json.loads(line) for line in body.split(b"\n") if line]
        return "".join(d.get("response") or d.get("message", {}).get("content", "") for d in lines)
    out = []
    for block in body.decode().split("\n\n"):
        for line in block.split("\n"):
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            d = json.loads(line[6:])
            if "choices" in d and d["choices"]:
                c = d["choices"][0]
                out.append((c.get("delta") or {}).get("content") or c.get("text") or "")
            elif d.get("type") == "response.output_text.delta":
                out.append(d["delta"])
            elif d.get("type") == "content_block_delta":
                out.append(d["delta"]["text"])
    return "".join(out)


def events(body: bytes, sep: bytes = b"\n\n") -> list[bytes]:
    parts = body.split(sep)
    return [p + sep for p in parts[:-1]]


# -- every condition on every streaming endpoint: a correct parser reads the same text -----------

@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("query", ["fragment=3", "fragment=bytes:7", "coalesce=4", "crlf=1",
                                   "trickle_bytes=300&trickle_ms=0"])
def test_every_endpoint_says_the_same_text_through_the_chaos(chaos_server, name, query):
    response = fetch(chaos_server, name, query=query)
    assert response.status == 200 and response.header("X-Mock-Chaos").startswith(query.split("&")[0])
    assert text_of(name, response.body) == TEXT
    plain = fetch(chaos_server, name)
    if query.startswith("fragment"):
        assert len(response.chunks) > 2 * len(plain.chunks)
    elif query.startswith("crlf"):
        assert response.body.count(b"\n") == response.body.count(b"\r\n") > 200
    elif query.startswith("coalesce"):              # 4 events a write
        sep = b"\n" if name in ("stream-ndjson", "ollama-chat", "ollama-generate") else b"\n\n"
        assert len(response.chunks) == -(-len(events(plain.body, sep)) // 4)
    else:                                           # 300 bytes a write, whatever the events
        assert {len(c) for c in response.chunks[:-1]} == {300}


# -- fragment -----------------------------------------------------------------------------------

def test_fragment_splits_each_event_in_n_writes_inside_data_json_line_ends_and_characters(chaos_server):
    response = fetch(chaos_server, "stream-sse", query="fragment=5&seed=11")
    chunks = response.chunks
    body = response.body
    assert len(chunks) == 5 * len(events(body))          # 209 tokens and [DONE], 5 pieces each
    ends, kinds = 0, set()
    for chunk in chunks[:-1]:
        ends += len(chunk)
        event_start = body.rfind(b"\n\n", 0, ends) + 2 if b"\n\n" in body[:ends] else 0
        where = ends - event_start
        if 0x80 <= body[ends] < 0xC0:
            kinds.add("inside a character")
        if 0 < where < 5:
            kinds.add("inside data:")
        if body[ends - 1:ends + 1] == b"\n\n" and body[ends - 2:ends - 1] != b"\n":
            kinds.add("between the newlines")
    assert kinds == {"inside a character", "inside data:", "between the newlines"}
    # a character's bytes in two chunks: each chunk alone is not valid UTF-8
    broken = [c for c in chunks if not _utf8(c)]
    assert len(broken) >= 6                               # ï, … and 🏁, cut, both halves


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
        return True
    except UnicodeDecodeError:
        return False


def test_fragment_pieces_are_separate_sends_on_http10(chaos_server):
    """Close-delimited, no chunk framing: the pieces 1 ms apart reach separate reads."""
    with chaos_server.connect(20) as sock:
        sock.sendall(b"GET /stream-sse?fragment=3&max_tokens=20 HTTP/1.0\r\n\r\n")
        reads = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            reads.append(data)
    body = b"".join(reads)
    body = body[body.index(b"\r\n\r\n") + 4:]
    inside = [r for r in reads[1:] if not r.endswith(b"\n\n")]
    assert text_of("stream-sse", body) == " ".join(TEXT.split(" ")[:20]) + " "
    assert inside, "every read ended at an event's end: the pieces were coalesced"


def test_coalesce_writes_n_events_at_once(chaos_server):
    response = fetch(chaos_server, "stream-sse", query="coalesce=5&max_tokens=12")
    assert [len(events(c)) for c in response.chunks] == [5, 5, 3]     # 12 tokens and [DONE]


# -- comments, line ends, gaps --------------------------------------------------------------------

def test_keepalive_comments_come_before_the_first_token_and_between_tokens(chaos_server):
    response = fetch(chaos_server, "stream-sse",
                     query="keepalive_ms=40&ttft_ms=210&delay_ms=100&max_tokens=3")
    kinds = [b"comment" if c == b": keep-alive\n\n" else b"data" for c in response.chunks]
    # at 40, 80, 120, 160, 200 ms; the tokens at 210, 310, 410 ms, comments between
    assert kinds[:6] == [b"comment"] * 5 + [b"data"]
    assert kinds.count(b"comment") == 10 and kinds.count(b"data") == 4


@pytest.mark.parametrize("name", ["stream-ndjson", "ollama-chat", "ollama-generate"])
def test_keepalive_is_refused_on_ndjson(chaos_server, name):
    response = fetch(chaos_server, name, query="keepalive_ms=100")
    assert response.status == 400 and "keepalive_ms" in response.body.decode()
    assert_health(chaos_server)


def test_crlf_ends_every_line_with_crlf(chaos_server):
    for name in ("stream-sse", "messages", "stream-ndjson"):
        body = fetch(chaos_server, name, query="crlf=1").body
        assert body.count(b"\n") == body.count(b"\r\n") > 200, name


def test_stall_is_a_silent_gap_before_token_k(chaos_server):
    with chaos_server.connect(20) as sock:
        sock.sendall(get("/stream-sse?stall_ms=600&stall_at=3&max_tokens=5"))
        reader = sock.makefile("rb")
        arrived = []
        line = reader.readline()
        while line != b"\r\n":
            line = reader.readline()
        while True:
            size = int(reader.readline()[:-2], 16)
            data = reader.read(size + 2)[:-2]
            arrived.append((time.monotonic(), data))
            if size == 0:
                break
    gaps = [b[0] - a[0] for a, b in zip(arrived, arrived[1:])]
    assert gaps[1] >= 0.55 and max(gaps[:1] + gaps[2:]) < 0.55, gaps


def test_trickle_writes_k_bytes_every_m_ms(chaos_server):
    started = time.monotonic()
    response = fetch(chaos_server, "stream-sse", query="trickle_bytes=64&trickle_ms=5&max_tokens=5")
    elapsed = time.monotonic() - started
    sizes = [len(c) for c in response.chunks]
    assert all(s == 64 for s in sizes[:-1]) and 0 < sizes[-1] <= 64
    assert elapsed >= (len(sizes) - 1) * 0.005


# -- frames twice, broken, missing ----------------------------------------------------------------

def test_duplicate_malformed_and_drop_done(chaos_server):
    plain = events(fetch(chaos_server, "stream-sse", query="max_tokens=6").body)
    body = fetch(chaos_server, "stream-sse", query="max_tokens=6&duplicate_at=2&malformed_at=4"
                                                   "&drop_done=1").body
    got = events(body)
    assert len(got) == 7 and got[1] == got[2]              # 6 tokens, one twice, no [DONE]
    json.loads(got[2][6:])
    with pytest.raises(json.JSONDecodeError):
        json.loads(got[4][6:])
    assert b"[DONE]" not in body and b"[DONE]" in plain[-1]
    msgs = fetch(chaos_server, "messages", "X-Mock-Drop-Done: 1").body
    assert b"message_delta" in msgs and b"message_stop" not in msgs


# -- how a cut ends -----------------------------------------------------------------------------

def _raw_after_cut(server, query: str):
    """What a raw reader sees: the bytes, and how the connection ended ('fin' or 'rst')."""
    with server.connect(20) as sock:
        sock.sendall(get("/stream-sse?" + query))
        data = b""
        while True:
            try:
                more = sock.recv(65536)
            except ConnectionResetError:
                return data, "rst"
            if not more:
                return data, "fin"
            data += more


@pytest.mark.parametrize("mode, ending", [("close", "fin"), ("reset", "rst"), ("truncate", "fin")])
def test_fail_mode_ends_a_cut_with_fin_rst_or_a_cut_frame(chaos_server, mode, ending):
    data, how = _raw_after_cut(chaos_server, f"fail_after=3&fail_mode={mode}&delay_ms=20")
    assert how == ending
    body = data[data.index(b"\r\n\r\n") + 4:]
    assert b"0\r\n\r\n" not in body and b"[DONE]" not in body
    if mode != "reset":                 # (an RST may discard what the client had not read)
        assert body.count(b"}]}\n\n") == 3          # three whole token events
    if mode == "truncate":
        size, _, rest = body.rsplit(b"\n\n\r\n", 1)[1].partition(b"\r\n")
        assert 0 < len(rest) < int(size, 16) and rest.startswith(b"data: {")
    elif mode == "close":
        assert body.endswith(b"\n\n\r\n")
    assert_health(chaos_server)


# -- seeds, the header that replays, bad values --------------------------------------------------

def test_a_seed_replays_the_same_cuts_and_the_header_replays_the_stream(chaos_server):
    first = fetch(chaos_server, "stream-sse", "X-Mock-Seed: 42", query="fragment=3")
    again = fetch(chaos_server, "stream-sse", "X-Mock-Seed: 42", query="fragment=3")
    other = fetch(chaos_server, "stream-sse", "X-Mock-Seed: 43", query="fragment=3")
    sizes = [len(c) for c in first.chunks]
    assert sizes == [len(c) for c in again.chunks] != [len(c) for c in other.chunks]
    drawn = fetch(chaos_server, "stream-sse", query="fragment=3&stall_ms=1")
    said = drawn.header("X-Mock-Chaos")
    assert "stall_at=" in said and "seed=" in said
    replay = fetch(chaos_server, "stream-sse", query=said)
    assert [len(c) for c in replay.chunks] == [len(c) for c in drawn.chunks]


@pytest.mark.parametrize("param, value", [
    ("fragment", "1"), ("fragment", "bytes:0"), ("coalesce", "x"), ("keepalive_ms", "-1"),
    ("stall_ms", "0"), ("crlf", "perhaps"), ("duplicate_at", "0"), ("drop_done", "2"),
    ("malformed_at", "no"), ("fail_mode", "explode"), ("trickle_bytes", "0"), ("seed", "x")])
def test_a_bad_value_is_a_400_in_the_apis_shape_naming_it(chaos_server, param, value):
    seed = fetch(chaos_server, "stream-sse", query=f"{param}={value}")
    assert seed.status == 400 and seed.json()["error"]["param"] == param
    header = "X-Mock-" + "-".join(p.capitalize() for p in param.split("_"))
    anthropic = fetch(chaos_server, "messages", f"{header}: {value}")
    assert anthropic.status == 400 and anthropic.json()["type"] == "error"
    assert param in anthropic.json()["error"]["message"]
    ollama = fetch(chaos_server, "ollama-chat", query=f"{param}={value}")
    assert ollama.status == 400 and param in ollama.json()["error"]
    assert_health(chaos_server)


def test_needs_are_400s(chaos_server):
    for query, param in (("fail_mode=reset", "fail_mode"), ("stall_at=3", "stall_at"),
                         ("trickle_ms=3", "trickle_ms")):
        response = fetch(chaos_server, "chat", query=query)
        assert response.status == 400 and response.json()["error"]["param"] == param


# -- the connection around a chaos stream ---------------------------------------------------------

def test_pipelined_requests_wait_for_a_chaos_stream_and_keep_alive_holds(chaos_server):
    with chaos_server.connect(20) as sock:
        sock.sendall(get("/stream-sse?fragment=3&max_tokens=5") + get("/health")
                     + get("/stream-sse?crlf=1&max_tokens=2"))
        reader = sock.makefile("rb")
        first, health, last = (read_response(reader) for _ in range(3))
    assert text_of("stream-sse", first.body) == " ".join(TEXT.split(" ")[:5]) + " "
    assert health.json() == {"status": "ok"} and last.body.endswith(b"[DONE]\r\n\r\n")


def test_an_endless_chaos_stream_runs_until_the_client_leaves(chaos_server):
    with chaos_server.connect(20) as sock:
        sock.sendall(get("/stream-loop?fragment=2&crlf=1&keepalive_ms=5"))
        data = b""
        while data.count(b"data: ") < 400:
            data += sock.recv(65536)
    metrics = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with chaos_server.connect() as sock:
            sock.sendall(get("/metrics", "Connection: close"))
            metrics = b"".join(iter(lambda: sock.recv(65536), b""))
        if b"fastmock_active_streams 0" in metrics:
            break
        time.sleep(0.05)
    assert b"fastmock_active_streams 0" in metrics


# -- per fixture, server-wide, journal ------------------------------------------------------------

def test_a_fixtures_chaos_and_the_journal(start_server, tmp_path):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"fixtures": [
        {"match": {"userMessage": "weather"}, "response": {"content": "Il fait beau à Paris 🌞"},
         "chaos": {"fragment": 2, "crlf": True}}]}))
    server = start_server("--delay-ms", "0", "--fixtures", str(path))
    body = {**CHAT, "messages": [{"role": "user", "content": "weather?"}]}
    response = post(server, "/v1/chat/completions", body, "X-Mock-Seed: 5")
    assert response.header("X-Mock-Chaos") == "fragment=2&crlf=1&seed=5"
    assert text_of("chat", response.body) == "Il fait beau à Paris 🌞"
    assert b"\r\n\r\n" in response.body and not all(_utf8(c) for c in response.chunks)
    over = post(server, "/v1/chat/completions", body, "X-Mock-Fragment: bytes:3")
    assert all(len(c) <= 3 for c in over.chunks) and b"\r\n" in over.body
    journal = json.loads(post(server, "/__fastmock/journal", None, method="GET").body)
    assert journal[1]["chaos"] == {"fragment": 2, "crlf": True, "seed": 5}
    assert journal[0]["chaos"]["fragment"] == "bytes:3"


def test_server_wide_odds_are_drawn_per_stream_from_the_seed(start_server):
    def run(server):
        said = []
        for _ in range(12):
            response = fetch(server, "chat", query="max_tokens=3")
            said.append(response.header("X-Mock-Chaos"))
            assert text_of("chat", response.body.replace(b"\r\n", b"\n")) == " ".join(
                TEXT.split(" ")[:3]) + " "
        return said
    first = run(start_server("--delay-ms", "0", "--chaos", "crlf=0.5,fragment=0.5", "--seed", "3"))
    again = run(start_server("--delay-ms", "0", "--seed", "3",
                             env={"FASTMOCK_CHAOS": "crlf=0.5,fragment=0.5"}))
    assert first == again and None in first and any(s and "crlf=1" in s for s in first)
