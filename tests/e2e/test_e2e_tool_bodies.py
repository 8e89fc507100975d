"""The bodies the benchmarking tools sent in bench/tools.py's runs (issue 16, point 6), as
they sent them, and what each reads back: every one is answered with exactly its limit of
tokens (``ignore_eos``), one chunk per token, the usage counting them, and a text that
splits back into them. None of these needed a change to fastmock; they pin what the
tools rely on (test_e2e_fidelity.py covers each option alone)."""
from __future__ import annotations

import json

import pytest

from fastmock.frames import split_tokens
from support.apis import post, prompt_tokens
from support.streams import sse_events

PROMPT = "<unk> of <unk> never done <unk> Streaming is how fast. "
N = 37

BODIES = {
    # vllm/benchmarks/lib/endpoint_request_func.py 0.34.0, async_request_openai_chat_completions
    "vllm-chat": ("/v1/chat/completions", {
        "model": "mock-model", "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
        "max_completion_tokens": N, "stream": True, "stream_options": {"include_usage": True},
        "ignore_eos": True}),
    # ... async_request_openai_completions
    "vllm-completions": ("/v1/completions", {
        "model": "mock-model", "prompt": PROMPT, "repetition_penalty": 1.0, "max_tokens": N,
        "logprobs": None, "stream": True, "stream_options": {"include_usage": True},
        "ignore_eos": True}),
    # GuideLLM 0.8.1, openai_http backend, synthetic_text data
    "guidellm": ("/v1/chat/completions", {
        "model": "mock-model", "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "max_completion_tokens": N, "ignore_eos": True,
        "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]}),
    # AIPerf 0.13.0, --endpoint-type chat --streaming --extra-inputs ignore_eos:true
    "aiperf": ("/v1/chat/completions", {
        "messages": [{"role": "user", "content": PROMPT}], "model": "mock-model", "stream": True,
        "max_completion_tokens": N, "ignore_eos": True, "stream_options": {"include_usage": True}}),
    # LLMPerf's openai_chat_completions_client.py with --additional-sampling-params
    "llmperf": ("/v1/chat/completions", {
        "model": "mock-model", "messages": [{"role": "system", "content": ""},
                                            {"role": "user", "content": PROMPT}],
        "stream": True, "max_tokens": N, "ignore_eos": True}),
}


@pytest.mark.parametrize("tool", list(BODIES))
def test_each_tool_gets_exactly_its_tokens(api_server, tool):
    path, body = BODIES[tool]
    response = post(api_server, path, body)
    assert response.status == 200, response.body
    data = sse_events(response.body)
    assert data[-1] == b"[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    field = "text" if path == "/v1/completions" else "content"

    def piece(chunk):
        choice = chunk["choices"][0]
        return choice["text"] if field == "text" else choice["delta"].get("content")
    with_output = [c for c in chunks if c["choices"] and piece(c)]
    text = "".join(piece(c) for c in with_output)
    assert len(with_output) == N == len(split_tokens(text))   # one chunk a token (vLLM's ITL)
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "length" and set(finish[:-1]) == {None}
    usages = [c["usage"] for c in chunks if c.get("usage")]
    if "include_usage" in body.get("stream_options", {}):
        assert chunks[-1]["choices"] == []                     # the usage chunk closes it
        assert usages[-1]["completion_tokens"] == N
        assert usages[-1]["prompt_tokens"] == prompt_tokens(PROMPT)
    else:
        assert usages == []
    if body.get("stream_options", {}).get("continuous_usage_stats"):
        counted = [c["usage"]["completion_tokens"] for c in with_output]
        assert counted == list(range(1, N + 1))
