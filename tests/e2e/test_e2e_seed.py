"""The five seed endpoints against the real server: curl -N and raw sockets."""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from fastmock.frames import DEFAULT_TEXT, Corpus, split_tokens
from support.http import FRESH_ID_LINE, get, read_response, sans_fresh_ids
from support.streams import chat_deltas, chat_text

TOKENS = len(Corpus(DEFAULT_TEXT))

pytestmark = pytest.mark.e2e


def curl(server, path: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    assert shutil.which("curl"), "curl is needed (scripts/test installs it)"
    return subprocess.run(["curl", "-sS", "-N", "--max-time", str(timeout), *args,
                           server.base + path], capture_output=True, timeout=timeout + 5)


def sse_data(body: bytes) -> list[str]:
    text = body.decode()
    assert text.endswith("\n\n")
    events = text[:-2].split("\n\n")
    assert all(e.startswith("data: ") for e in events)
    return [e[6:] for e in events]


def test_stream_sse_with_curl(server):
    result = curl(server, "/stream-sse", "-i")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert b"HTTP/1.1 200 OK" in head
    assert b"Content-Type: text/event-stream" in head
    assert b"Access-Control-Allow-Origin: *" in head
    chunks = chat_deltas(sse_data(body))
    text = chat_text(chunks)
    assert text == DEFAULT_TEXT
    assert len(chunks) == TOKENS
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (TOKENS - 1) + ["stop"]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"mock-gpt-4o"}
    assert abs(chunks[0]["created"] - time.time()) < 60


def test_each_response_gets_its_own_id(server):
    ids = {json.loads(sse_data(curl(server, "/stream-sse?max_tokens=1").stdout)[0])["id"]
           for _ in range(3)}
    assert len(ids) == 3


def test_stream_ndjson_with_curl(server):
    result = curl(server, "/stream-ndjson", "-i")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert b"Content-Type: application/x-ndjson" in head
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) == TOKENS + 1
    assert "".join(line["response"] for line in lines[:-1]) == DEFAULT_TEXT
    assert all(line["done"] is False and line["model"] == "mock-llama3" for line in lines[:-1])
    assert all(line["created_at"].endswith("Z") for line in lines)
    final = lines[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["eval_count"] == TOKENS and final["prompt_eval_count"] == 12
    # 5 ms between tokens, measured against the loop clock (which may lag real time by < 1 ms)
    assert final["total_duration"] >= (TOKENS - 1) * 5_000_000 - 2_000_000
    assert final["total_duration"] >= (final["load_duration"] + final["prompt_eval_duration"]
                                       + final["eval_duration"])


def test_stream_loop_cycles_until_the_client_leaves(server):
    count = 3 * TOKENS + 7
    with server.connect() as sock:
        sock.sendall(get("/stream-loop?delay_ms=0"))
        reader = sock.makefile("rb")
        assert reader.readline() == b"HTTP/1.1 200 OK\r\n"
        while reader.readline() != b"\r\n":
            pass
        text = []
        for _ in range(count):
            int(reader.readline(), 16)
            event = reader.readline()
            assert reader.readline() == b"\n" and reader.readline() == b"\r\n"
            text.append(json.loads(event[6:])["choices"][0]["delta"]["content"])
    # cycled, each round parted from the next by a space (issue 16)
    assert "".join(text) == ((DEFAULT_TEXT + " ") * 4)[:len("".join(text))]
    assert "".join(text).startswith((DEFAULT_TEXT + " ") * 3)
    assert len(split_tokens("".join(text))) == count


def test_stream_loop_with_max_tokens_ends(server):
    chunks = chat_deltas(sse_data(curl(server, "/stream-loop?max_tokens=5&delay_ms=0").stdout))
    assert len(chunks) == 5 and chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_api_data_is_static_and_complete(server):
    first = curl(server, "/api/data", "-i").stdout
    second = curl(server, "/api/data", "-i").stdout
    ids = [FRESH_ID_LINE.findall(answer) for answer in (first, second)]
    assert [len(found) for found in ids] == [1, 1] and ids[0] != ids[1]  # each its own id
    assert sans_fresh_ids(first) == sans_fresh_ids(second)               # else the same bytes
    head, _, body = first.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head
    assert b"Content-Length: %d" % len(body) in head
    doc = json.loads(body)
    assert doc["object"] == "chat.completion"
    assert doc["choices"][0]["message"] == {"role": "assistant", "content": DEFAULT_TEXT}
    assert doc["usage"] == {"prompt_tokens": 12, "completion_tokens": TOKENS,
                            "total_tokens": 12 + TOKENS}


def test_health(server):
    result = curl(server, "/health", "-i")
    assert result.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert result.stdout.endswith(b'\r\n\r\n{"status":"ok"}')


def test_raw_socket_keep_alive_serves_every_endpoint_in_turn(server):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        for path in ("/health", "/stream-sse?max_tokens=3", "/api/data",
                     "/stream-ndjson?max_tokens=2", "/stream-loop?max_tokens=2", "/health"):
            sock.sendall(get(path))
            response = read_response(reader)
            assert response.status == 200, path
            assert "connection" not in response.headers
        assert json.loads(response.body) == {"status": "ok"}


@pytest.mark.parametrize("query,header,expected", [
    ("?delay_ms=1", "X-Mock-Delay-Ms: 300", 0.3 * 3),
    ("?delay_ms=300", "X-Mock-Delay-Ms: 1", 0.0),
])
def test_header_wins_over_query(server, query, header, expected):
    start = time.monotonic()
    result = curl(server, f"/stream-sse{query}&max_tokens=4", "-H", header)
    elapsed = time.monotonic() - start
    assert len(sse_data(result.stdout)) == 5
    assert expected <= elapsed < expected + 0.25


def test_pacing_and_time_to_first_token(server):
    """Frame N arrives at ttft + N * delay after the request, measured on the client."""
    with server.connect() as sock:
        start = time.monotonic()
        sock.sendall(get("/stream-sse?delay_ms=40&ttft_ms=200&max_tokens=6"))
        reader = sock.makefile("rb")
        while reader.readline() != b"\r\n":
            pass
        arrivals = []
        for _ in range(6):
            reader.readline()
            reader.readline()
            arrivals.append(time.monotonic() - start)
            reader.readline()
            reader.readline()
    assert 0.19 <= arrivals[0] < 0.3
    for n, at in enumerate(arrivals):
        assert 0.2 + n * 0.04 - 0.01 <= at < 0.2 + n * 0.04 + 0.1, arrivals


def test_status_control_answers_in_openai_error_shape(server):
    result = curl(server, "/stream-sse?status=429", "-i")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429 Too Many Requests")
    assert b"Retry-After: 1" in head
    error = json.loads(body)["error"]
    assert error["type"] == "rate_limit_error" and "429" in error["message"]
    result = curl(server, "/stream-ndjson", "-i", "-H", "X-Mock-Status: 503")
    assert result.stdout.startswith(b"HTTP/1.1 503 Service Unavailable")


def test_fail_after_cuts_the_stream_like_a_crashed_upstream(server):
    result = curl(server, "/stream-sse?fail_after=3")
    assert result.returncode != 0  # curl sees the chunked body end abruptly
    events = result.stdout.decode().strip().split("\n\n")
    assert len(events) == 3 and "[DONE]" not in result.stdout.decode()


@pytest.mark.parametrize("query,param", [
    ("delay_ms=abc", "delay_ms"), ("delay_ms=-5", "delay_ms"), ("ttft_ms=1.5", "ttft_ms"),
    ("max_tokens=0", "max_tokens"), ("status=302", "status"), ("status=600", "status"),
    ("fail_after=x", "fail_after"), ("delay_ms=99999999999", "delay_ms"),
])
def test_invalid_controls_are_400s_naming_the_parameter(server, query, param):
    with server.connect() as sock:
        reader = sock.makefile("rb")
        for path in ("/stream-sse", "/stream-ndjson", "/stream-loop"):
            sock.sendall(get(f"{path}?{query}"))
            response = read_response(reader)
            assert response.status == 400
            error = response.json()["error"]
            assert error["param"] == param and param in error["message"]
        sock.sendall(get("/health"))  # the connection is still usable
        assert read_response(reader).status == 200


def test_invalid_control_header_is_a_400(server):
    result = curl(server, "/stream-sse", "-i", "-H", "X-Mock-Max-Tokens: lots")
    assert result.stdout.startswith(b"HTTP/1.1 400")
    assert json.loads(result.stdout.partition(b"\r\n\r\n")[2])["error"]["param"] == "max_tokens"
