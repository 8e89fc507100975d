"""Token fidelity for benchmarks (issue 16, point 2): what vLLM's benchmark client, GuideLLM,
AIPerf and LLMPerf send and read, over real HTTP. Each request goes both ways where both
exist: a plain one (the compiled path answers it, or declines it) and one with a control that
changes nothing (``X-Mock-Echo: 0``: the Python path)."""
from __future__ import annotations

import json

import pytest

from fastmock.frames import split_tokens
from support.apis import TOKENS, assert_health, post, prompt_tokens
from support.streams import sse_events

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
USER = [{"role": "user", "content": "Tell me about streams."}]
PROMPT = prompt_tokens("Tell me about streams.")
PATHS = pytest.mark.parametrize("headers", [(), ("X-Mock-Echo: 0",)], ids=["plain", "python"])
DETAILS = {"prompt_tokens_details": {"cached_tokens": 0},
           "completion_tokens_details": {"reasoning_tokens": 0}}


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion, **DETAILS}


def events(response) -> list:
    assert response.status == 200, response.body
    data = sse_events(response.body)
    assert data[-1] == b"[DONE]"
    return [json.loads(e) for e in data[:-1]]


# -- usage details (6) -------------------------------------------------------------------------

@PATHS
@pytest.mark.parametrize("path,body", [
    (CHAT, {"model": "m", "messages": USER, "max_tokens": 5}),
    (COMPLETIONS, {"model": "m", "prompt": "Tell me about streams.", "max_tokens": 5}),
])
def test_usage_carries_its_details_whole(api_server, headers, path, body):
    response = post(api_server, path, body, *headers)
    assert response.status == 200
    assert response.json()["usage"] == usage(PROMPT, 5)


@PATHS
@pytest.mark.parametrize("path,body", [
    (CHAT, {"model": "m", "messages": USER}),
    (COMPLETIONS, {"model": "m", "prompt": "Tell me about streams."}),
])
def test_usage_carries_its_details_in_the_usage_chunk(api_server, headers, path, body):
    body = {**body, "max_tokens": 4, "stream": True, "stream_options": {"include_usage": True}}
    chunks = events(post(api_server, path, body, *headers))
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage(PROMPT, 4)
    assert all(c.get("usage") is None for c in chunks[:-1])
