"""Latency models over TCP: drawn TTFT and gaps, per flag, per request header and per model
profile; --max-num-seqs queueing (the waiting gauge, the TTFT that includes the wait); the
load factor; a seeded run repeats. Each timing is checked with room for a loaded machine."""
from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest

from support.http import get, http_request, parse_response

pytestmark = pytest.mark.e2e


def arrivals(server, raw: bytes) -> tuple[list[float], bytes]:
    """(seconds from the request to each read that brought a frame, everything read)."""
    with server.connect(timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.monotonic()
        sock.sendall(raw)
        times, data = [], b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            for _ in range(chunk.count(b"data: ") + chunk.count(b'"done":')):
                times.append(time.monotonic() - started)
    return times, data


def chat(stream: bool, max_tokens: int, *headers: str, model: str = "m", prompt: str = "hi") -> bytes:
    body = json.dumps({"model": model, "stream": stream, "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    head = ["POST /v1/chat/completions HTTP/1.1", "Host: t", "Connection: close",
            f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(head).encode() + body


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def test_flags_set_the_time_to_first_token_and_the_gaps(start_server):
    server = start_server("--ttft", "constant:300ms", "--itl", "constant:80ms")
    times, data = arrivals(server, get("/stream-sse?max_tokens=6", "Connection: close"))
    assert data.count(b"data: ") == 7                       # 6 tokens and [DONE]
    assert 0.28 <= times[0] < 0.45, times
    assert all(0.06 <= g < 0.16 for g in gaps(times[:6])), gaps(times)
    times, _ = arrivals(server, chat(True, 4))               # a provider stream too
    assert 0.28 <= times[0] < 0.45 and 0.06 <= statistics.median(gaps(times[:4])) < 0.14, times
    started = time.monotonic()                               # a whole answer: TTFT + 3 gaps
    response, _ = parse_response(http_request(server, chat(False, 4)))
    took = time.monotonic() - started
    assert response.status == 200 and 0.52 <= took < 0.8, took


def test_a_request_sets_its_own_distributions_with_headers(server):
    times, _ = arrivals(server, chat(True, 5, "X-Mock-TTFT: constant:250ms",
                                     "X-Mock-ITL: uniform:min=40ms,max=60ms"))
    assert 0.23 <= times[0] < 0.4, times
    assert all(0.025 <= g < 0.12 for g in gaps(times[:5])), gaps(times)
    times, _ = arrivals(server, get("/stream-sse?max_tokens=3", "X-Mock-TTFT: constant:200ms",
                                    "Connection: close"))
    assert 0.18 <= times[0] < 0.35, times
    plain, _ = arrivals(server, get("/stream-sse?max_tokens=3", "Connection: close"))
    assert plain[0] < 0.15                                   # the others keep --delay-ms


@pytest.mark.parametrize("raw, shape", [
    (chat(True, 3, "X-Mock-TTFT: soon"), "openai"),
    (get("/stream-sse", "X-Mock-ITL: normal:mean=5ms", "Connection: close"), "openai"),
])
def test_a_bad_header_spec_is_a_400_naming_it(server, raw, shape):
    response, _ = parse_response(http_request(server, raw))
    assert response.status == 400
    error = response.json()["error"]
    assert error["param"] in ("X-Mock-TTFT", "X-Mock-ITL")
    assert error["message"].startswith(error["param"] + ": ")
    assert parse_response(http_request(server, get("/health", "Connection: close")))[0].status == 200


def metric(server, name: str) -> int:
    text = http_request(server, get("/metrics", "Connection: close")).decode()
    return int(re.search(rf"^fastmock_{name} (\d+)$", text, re.M).group(1))


def test_past_max_num_seqs_streams_wait_and_their_ttft_includes_the_wait(start_server):
    server = start_server("--max-num-seqs", "2", "--ttft", "constant:0ms", "--itl", "constant:100ms")
    results = {}

    def one(i):
        results[i] = arrivals(server, get("/stream-sse?max_tokens=5", "Connection: close"))[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.25)
    assert metric(server, "waiting_streams") == 2
    assert metric(server, "active_streams") == 4
    for thread in threads:
        thread.join(20)
    first_tokens = sorted(times[0] for times in results.values())
    assert first_tokens[1] < 0.2                             # two start at once
    assert 0.3 <= first_tokens[2] < 0.9                      # two wait for a stream to end (~0.4 s)
    assert metric(server, "waiting_streams") == 0
    assert metric(server, "active_streams") == 0


def test_a_waiting_stream_whose_client_leaves_gives_up_its_place(start_server):
    server = start_server("--max-num-seqs", "1", "--itl", "constant:100ms")
    holder = server.connect()
    holder.sendall(get("/stream-sse?max_tokens=20"))
    time.sleep(0.2)
    leaver = server.connect()
    leaver.sendall(get("/stream-sse?max_tokens=20"))
    time.sleep(0.2)
    assert metric(server, "waiting_streams") == 1
    leaver.close()
    deadline = time.monotonic() + 3
    while metric(server, "waiting_streams") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(server, "waiting_streams") == 0
    holder.close()


def test_the_load_factor_stretches_gaps_as_streams_run(start_server):
    server = start_server("--itl", "constant:20ms", "--itl-load-factor", "3", "--max-num-seqs", "4")
    alone, _ = arrivals(server, get("/stream-sse?max_tokens=8", "Connection: close"))
    # one stream running: 20 x (1 + 3 x 1/4) = 35 ms
    assert 0.027 <= statistics.median(gaps(alone[:8])) < 0.06, gaps(alone)
    results = []

    def one():
        results.append(arrivals(server, get("/stream-sse?max_tokens=8", "Connection: close"))[0])

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    # four running: 20 x (1 + 3 x 4/4) = 80 ms
    loaded = statistics.median(g for times in results for g in gaps(times[2:7]))
    assert 0.065 <= loaded < 0.12, loaded


def first_tokens(server, n: int) -> list[float]:
    return [arrivals(server, chat(True, 1))[0][0] for _ in range(n)]


def test_a_seeded_run_repeats_and_another_seed_does_not(start_server):
    flags = ("--ttft", "uniform:min=50ms,max=950ms", "--itl", "constant:1ms")
    a = first_tokens(start_server("--seed", "9", *flags), 4)
    b = first_tokens(start_server("--seed", "9", *flags), 4)
    c = first_tokens(start_server("--seed", "10", *flags), 4)
    assert all(abs(x - y) < 0.06 for x, y in zip(a, b)), (a, b)
    assert any(abs(x - y) > 0.1 for x, y in zip(a, c)), (a, c)


def test_a_profile_picks_latencies_by_model_and_adds_prefill(start_server, tmp_path):
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"models": {
        "slow-*": {"ttft": "constant:200ms", "tokens_per_second": 20, "prefill_ms_per_1k_tokens": 100},
        "*": {"ttft": "constant:0ms", "itl": "constant:1ms"}}}))
    server = start_server("--latency-profile", str(path))
    prompt = " ".join(["word"] * 2000)                       # 2,000 prompt tokens: +200 ms
    started = time.monotonic()
    response, _ = parse_response(http_request(server, chat(False, 5, model="slow-1", prompt=prompt)))
    took = time.monotonic() - started
    assert response.status == 200 and response.json()["usage"]["prompt_tokens"] == 2000
    assert 0.58 <= took < 0.9, took                          # 200 + 200 + 4 x 50 ms
    times, _ = arrivals(server, chat(True, 5, model="fast-1"))
    assert times[0] < 0.15 and times[-1] < 0.3, times


@pytest.mark.parametrize("flags, says", [
    (("--ttft", "soon"), "argument --ttft"),
    (("--itl", "uniform:min=5ms"), "argument --itl"),
    (("--latency-profile", "/nonexistent.json"), "argument --latency-profile"),
    (("--max-num-seqs", "0"), "argument --max-num-seqs"),
    (("--itl-load-factor", "-1"), "argument --itl-load-factor"),
])
def test_a_bad_latency_flag_is_one_line_and_exit_2(flags, says):
    done = subprocess.run([sys.executable, "-m", "fastmock", *flags], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
