"""--rate-limit over raw HTTP: each API's headers, its 429, one bucket per key, tokens
counted from the answers, streams too; a bad flag is one line and exit 2."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from support.http import get, http_request, parse_response

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello there friend"}]}
MESSAGES = {"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "hi you"}]}


def post(server, path: str, body: dict, *headers: str):
    data = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", "Host: t", "Content-Type: application/json",
            f"Content-Length: {len(data)}", "Connection: close", *headers, "", ""]
    response, _ = parse_response(http_request(server, "\r\n".join(head).encode() + data))
    return response


def bearer(key: str) -> str:
    return f"Authorization: Bearer {key}"


def test_openai_routes_carry_openai_headers_and_refuse_with_its_429(start_server):
    server = start_server("--rate-limit", "requests=2/min,tokens=100000/min")
    first = post(server, "/v1/chat/completions", CHAT, bearer("sk-a"))
    assert first.status == 200
    usage = first.json()["usage"]
    assert first.header("x-ratelimit-limit-requests") == "2"
    assert first.header("x-ratelimit-remaining-requests") == "1"
    assert first.header("x-ratelimit-reset-requests") == "30s"
    assert first.header("x-ratelimit-limit-tokens") == "100000"
    assert int(first.header("x-ratelimit-remaining-tokens")) == 100000 - usage["total_tokens"]
    assert first.header("x-ratelimit-reset-tokens").endswith("ms")
    second = post(server, "/v1/completions", {"model": "m", "prompt": "hi", "max_tokens": 3},
                  bearer("sk-a"))
    assert second.status == 200 and second.header("x-ratelimit-remaining-requests") == "0"
    refused = post(server, "/v1/embeddings", {"model": "e", "input": "x"}, bearer("sk-a"))
    assert refused.status == 429
    assert 1 <= int(refused.header("retry-after")) <= 30
    error = refused.json()["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    assert error["message"].startswith("Rate limit reached for requests per minute: Limit 2, Used 2")
    assert refused.header("x-ratelimit-remaining-requests") == "0"
    # another key has buckets of its own; GET listings are not limited
    assert post(server, "/v1/chat/completions", CHAT, bearer("sk-b")).status == 200
    models = parse_response(http_request(server, get("/v1/models", bearer("sk-a"),
                                                     "Connection: close")))[0]
    assert models.status == 200 and models.header("x-ratelimit-limit-requests") is None


def test_anthropic_routes_carry_anthropic_headers_and_its_429(start_server):
    server = start_server("--rate-limit",
                          "requests=1/h,tokens=1000/min,input_tokens=500/min,output_tokens=300/min")
    first = post(server, "/v1/messages", MESSAGES, "x-api-key: ak-1")
    assert first.status == 200
    usage = first.json()["usage"]
    assert first.header("anthropic-ratelimit-requests-limit") == "1"
    assert first.header("anthropic-ratelimit-requests-remaining") == "0"
    reset = first.header("anthropic-ratelimit-requests-reset")
    assert time.strptime(reset, "%Y-%m-%dT%H:%M:%SZ")
    assert int(first.header("anthropic-ratelimit-tokens-remaining")) == \
        1000 - usage["input_tokens"] - usage["output_tokens"]
    assert int(first.header("anthropic-ratelimit-input-tokens-remaining")) == 500 - usage["input_tokens"]
    assert int(first.header("anthropic-ratelimit-output-tokens-remaining")) == 300 - usage["output_tokens"]
    assert first.header("x-ratelimit-limit-requests") is None
    refused = post(server, "/v1/messages", MESSAGES, "x-api-key: ak-1")
    assert refused.status == 429
    body = refused.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "per-hour rate limit" in body["error"]["message"]
    assert int(refused.header("retry-after")) > 3000
    assert refused.header("anthropic-ratelimit-requests-remaining") == "0"


def test_a_stream_carries_the_headers_and_its_tokens_are_taken(start_server):
    server = start_server("--delay-ms", "0", "--rate-limit", "tokens=60/min")
    body = {**CHAT, "stream": True, "max_tokens": 50}
    streamed = post(server, "/v1/chat/completions", body, bearer("sk-s"))
    assert streamed.status == 200 and streamed.chunked
    assert b"data: [DONE]" in streamed.body
    prompt = 3   # "hello there friend"
    assert int(streamed.header("x-ratelimit-remaining-tokens")) == 60 - prompt - 50
    post(server, "/v1/chat/completions", body, bearer("sk-s"))     # crosses the line: served
    refused = post(server, "/v1/chat/completions", body, bearer("sk-s"))
    assert refused.status == 429 and refused.json()["error"]["type"] == "tokens"
    assert refused.header("x-ratelimit-remaining-tokens") == "0"
    # minus 46 tokens at one a second: the wait covers them
    assert 46 <= int(refused.header("retry-after")) <= 48


def test_requests_without_a_key_share_one_bucket_and_ollama_is_limited_too(start_server):
    server = start_server("--rate-limit", "requests=2/min")
    ollama = {"model": "l", "stream": False, "messages": [{"role": "user", "content": "hi"}]}
    assert post(server, "/api/chat", ollama).status == 200
    assert post(server, "/v1/chat/completions", CHAT).status == 200
    refused = post(server, "/api/chat", ollama)
    assert refused.status == 429 and "Rate limit reached" in refused.json()["error"]
    assert refused.header("retry-after") is not None
    assert post(server, "/api/chat", ollama, bearer("own")).status == 200


def test_the_bucket_refills_and_the_server_keeps_serving(start_server):
    server = start_server("--rate-limit", "requests=2/s")
    statuses = [post(server, "/v1/chat/completions", CHAT, bearer("k")).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    time.sleep(0.6)
    assert post(server, "/v1/chat/completions", CHAT, bearer("k")).status == 200
    health = parse_response(http_request(server, get("/health", "Connection: close")))[0]
    assert health.status == 200


@pytest.mark.parametrize("spec, says", [
    ("requests=5", "N/period"), ("rpm=5/min", "expected requests="), ("", "no limit given"),
])
def test_a_bad_rate_limit_flag_is_one_line_and_exit_2(spec, says):
    done = subprocess.run([sys.executable, "-m", "fastmock", "--rate-limit", spec],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--rate-limit" in lines[0] and says in lines[0], done.stderr
