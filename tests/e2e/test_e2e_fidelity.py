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


def text_of(chunks: list, field: str = "content") -> str:
    if field == "text":
        return "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# -- the cycled content keeps its separator (2) -----------------------------------------------

@pytest.mark.parametrize("path", ["/stream-sse", "/stream-loop"])
def test_a_seed_stream_longer_than_the_corpus_splits_back_into_its_tokens(api_server, path):
    response = post(api_server, f"{path}?max_tokens=500&delay_ms=0", None, method="GET", raw=b"")
    chunks = events(response)
    assert len(chunks) == 500
    assert len(split_tokens(text_of(chunks))) == 500
    assert "milliseconds. Streaming " in text_of(chunks)


def test_the_ndjson_seed_stream_too(api_server):
    response = post(api_server, "/stream-ndjson?max_tokens=500&delay_ms=0", None, method="GET",
                    raw=b"")
    lines = [json.loads(line) for line in response.body.splitlines()]
    text = "".join(line["response"] for line in lines)
    assert len(lines) == 501 and len(split_tokens(text)) == 500


@PATHS
@pytest.mark.parametrize("stream", [False, True])
def test_a_control_longer_than_the_corpus_splits_back_into_its_tokens(api_server, headers, stream):
    body = {"model": "m", "messages": USER, "stream": stream}
    response = post(api_server, CHAT + "?max_tokens=450", body, *headers)
    text = (text_of(events(response)) if stream
            else response.json()["choices"][0]["message"]["content"])
    assert len(split_tokens(text)) == 450


# -- ignore_eos and min_tokens (1) -------------------------------------------------------------

@PATHS
@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_ignore_eos_fills_the_limit_streamed(api_server, headers, limit):
    body = {"model": "m", "messages": USER, "stream": True, limit: 500, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    chunks = events(post(api_server, CHAT, body, *headers))
    content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content) == 500 and len(split_tokens(text_of(chunks))) == 500
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 500


@PATHS
@pytest.mark.parametrize("path,body,read", [
    (CHAT, {"model": "m", "messages": USER}, lambda d: d["choices"][0]["message"]["content"]),
    (COMPLETIONS, {"model": "m", "prompt": "Hi"}, lambda d: d["choices"][0]["text"]),
])
def test_ignore_eos_fills_the_limit_whole(api_server, headers, path, body, read):
    for limit in (500, 20, 209):           # longer than the corpus, shorter, the same
        doc = post(api_server, path, {**body, "max_tokens": limit, "ignore_eos": True},
                   *headers).json()
        assert len(split_tokens(read(doc))) == limit == doc["usage"]["completion_tokens"]
        assert doc["choices"][0]["finish_reason"] == "length"


@PATHS
def test_completions_ignore_eos_streamed(api_server, headers):
    body = {"model": "m", "prompt": "Hi", "stream": True, "max_tokens": 300, "ignore_eos": True}
    chunks = events(post(api_server, COMPLETIONS, body, *headers))
    assert len(split_tokens(text_of(chunks, "text"))) == 300
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


@PATHS
@pytest.mark.parametrize("path,body,read", [
    (CHAT, {"model": "m", "messages": USER}, lambda d: d["choices"][0]["message"]["content"]),
    (COMPLETIONS, {"model": "m", "prompt": "Hi"}, lambda d: d["choices"][0]["text"]),
])
def test_min_tokens_lengthens_up_to_the_limit(api_server, headers, path, body, read):
    cases = [({"min_tokens": 300, "max_tokens": 500}, 300, "stop"),
             ({"min_tokens": 300}, 300, "stop"),
             ({"min_tokens": 300, "max_tokens": 300}, 300, "stop"),
             ({"min_tokens": 5, "max_tokens": 500}, len(TOKENS), "stop"),
             ({"min_tokens": 5, "max_tokens": 10}, 10, "length"),
             ({"min_tokens": 0, "max_tokens": 10, "ignore_eos": False}, 10, "length")]
    for extra, count, finish in cases:
        doc = post(api_server, path, {**body, **extra}, *headers).json()
        assert len(split_tokens(read(doc))) == count == doc["usage"]["completion_tokens"], extra
        assert doc["choices"][0]["finish_reason"] == finish, extra


@pytest.mark.parametrize("path,body", [
    (CHAT, {"model": "m", "messages": USER}),
    (COMPLETIONS, {"model": "m", "prompt": "Hi"}),
])
@pytest.mark.parametrize("extra,param", [
    ({"min_tokens": -1}, "min_tokens"),
    ({"min_tokens": 11, "max_tokens": 10}, "min_tokens"),
    ({"min_tokens": "5"}, "min_tokens"),
    ({"min_tokens": 1.5}, "min_tokens"),
    ({"min_tokens": True}, "min_tokens"),
    ({"ignore_eos": "yes"}, "ignore_eos"),
    ({"ignore_eos": 1}, "ignore_eos"),
    ({"ignore_eos": True, "max_tokens": 70_000}, "ignore_eos"),     # whole: at most 65,536
])
def test_bad_eos_options_are_400s_naming_the_parameter(api_server, path, body, extra, param):
    response = post(api_server, path, {**body, **extra})
    assert response.status == 400
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert param in error["message"]
    assert_health(api_server)


def test_min_tokens_above_max_completion_tokens_names_both(api_server):
    body = {"model": "m", "messages": USER, "min_tokens": 9, "max_completion_tokens": 8}
    error = post(api_server, CHAT, body).json()["error"]
    assert error["param"] == "min_tokens" and "max_completion_tokens" in error["message"]


# -- the model list as vLLM serves it (5) ------------------------------------------------------

def models_of(server) -> dict:
    response = post(server, "/v1/models", None, method="GET", raw=b"")
    assert response.status == 200
    return response.json()


def assert_vllm_model(entry: dict, name: str) -> None:
    assert entry["id"] == entry["root"] == name and entry["object"] == "model"
    assert entry["parent"] is None and entry["owned_by"] == "fastmock"
    assert isinstance(entry["max_model_len"], int) and entry["max_model_len"] > 0
    [permission] = entry["permission"]
    assert permission["object"] == "model_permission" and permission["id"].startswith("modelperm-")
    assert permission["allow_sampling"] is True and permission["group"] is None
    assert entry["type"] == "model" and entry["display_name"] == name   # Anthropic's fields too


def test_the_model_list_has_vllms_fields(api_server):
    doc = models_of(api_server)
    [entry] = doc["data"]
    assert_vllm_model(entry, "mock-gpt-4o")
    one = post(api_server, "/v1/models/some%2Fmodel", None, method="GET", raw=b"").json()
    assert_vllm_model(one, "some/model")


def test_served_model_names_are_listed_in_order(start_server):
    server = start_server("--delay-ms", "1", "--served-model-name", "org/a,b",
                          "--served-model-name", " c ")
    doc = models_of(server)
    assert [m["id"] for m in doc["data"]] == ["org/a", "b", "c"]
    for entry, name in zip(doc["data"], ["org/a", "b", "c"]):
        assert_vllm_model(entry, name)
    assert (doc["first_id"], doc["last_id"]) == ("org/a", "c")
    tags = post(server, "/api/tags", None, method="GET", raw=b"").json()["models"]
    assert [t["name"] for t in tags] == ["org/a", "b", "c"]
    # the first is the model of the seed streams when --model is not given
    assert events(post(server, "/stream-sse?max_tokens=1", None, method="GET",
                       raw=b""))[0]["model"] == "org/a"


def test_served_model_names_from_the_environment_and_model_kept(start_server):
    server = start_server("--delay-ms", "1", "--model", "house",
                          env={"FASTMOCK_SERVED_MODEL_NAME": "x, y"})
    assert [m["id"] for m in models_of(server)["data"]] == ["x", "y"]
    assert events(post(server, "/stream-sse?max_tokens=1", None, method="GET",
                       raw=b""))[0]["model"] == "house"


def test_an_empty_served_model_name_stops_the_start(tmp_path):
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "fastmock", "--served-model-name", " , "],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--served-model-name" in result.stderr


# -- completions prompts: strings, token ids, batches (3) ---------------------------------------

@PATHS
@pytest.mark.parametrize("prompt,count", [
    ("one two three", 3), (["one two three"], 3), ([5, 6, 7, 8], 4), ([[5, 6, 7, 8]], 4)])
def test_one_prompt_in_every_shape_gets_one_choice(api_server, headers, prompt, count):
    doc = post(api_server, COMPLETIONS, {"model": "m", "prompt": prompt, "max_tokens": 3},
               *headers).json()
    [choice] = doc["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "length"
    assert doc["usage"] == usage(count, 3)


@PATHS
def test_a_batch_gets_a_choice_per_prompt(api_server, headers):
    body = {"model": "m", "prompt": ["one two", [1, 2, 3], "echo: a b c"], "max_tokens": 4}
    doc = post(api_server, COMPLETIONS, body, *headers).json()
    assert [c["index"] for c in doc["choices"]] == [0, 1, 2]
    assert [c["text"] for c in doc["choices"]] == ["".join(TOKENS[:4])] * 2 + ["a b c"]
    assert [c["finish_reason"] for c in doc["choices"]] == ["length", "length", "stop"]
    assert doc["usage"] == usage(2 + 3 + 4, 4 + 4 + 3)


@PATHS
@pytest.mark.parametrize("on_last", [False, True])
def test_a_batch_streams_its_choices_in_turn(start_server, headers, on_last):
    flags = ("--completions-finish-on-last-token",) if on_last else ()
    server = start_server("--delay-ms", "0", *flags)
    body = {"model": "m", "prompt": [[1, 2], [3], "echo: x y"], "max_tokens": 3, "stream": True,
            "stream_options": {"include_usage": True}}
    chunks = events(post(server, COMPLETIONS, body, *headers))
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage(2 + 1 + 3, 8)
    chosen = [c["choices"][0] for c in chunks[:-1]]
    assert all(len(c["choices"]) == 1 for c in chunks[:-1])
    for i, (count, finish) in enumerate([(3, "length"), (3, "length"), (2, "stop")]):
        mine = [c for c in chosen if c["index"] == i]
        text = [c["text"] for c in mine if c["text"]]
        assert len(text) == count
        finishes = [c["finish_reason"] for c in mine if c["finish_reason"]]
        assert finishes == [finish]
        if on_last:             # the finish reason rides on the last token: no empty chunk
            assert mine[-1]["text"] and mine[-1]["finish_reason"] == finish
        else:
            assert mine[-1]["text"] == "" and mine[-1]["finish_reason"] == finish
    assert [c["index"] for c in chosen[:3]] == [0, 1, 2]         # they take turns


@pytest.mark.parametrize("prompt,param", [
    ([1, "a"], "prompt[0]"), ([[1, "a"]], "prompt[0]"), ({"a": 1}, "prompt"),
    ([True], "prompt[0]"), (["a"] * 2049, "prompt")])
def test_a_bad_prompt_is_a_400_naming_it(api_server, prompt, param):
    response = post(api_server, COMPLETIONS, {"model": "m", "prompt": prompt})
    assert response.status == 400 and response.json()["error"]["param"] == param
    assert_health(api_server)


def test_a_batch_too_long_to_hold_is_a_400(api_server):
    body = {"model": "m", "prompt": ["a", "b"], "max_tokens": 40_000, "ignore_eos": True,
            "stream": True}
    response = post(api_server, COMPLETIONS, body)
    assert response.status == 400 and response.json()["error"]["param"] == "prompt"


# -- continuous usage (4) ----------------------------------------------------------------------

@PATHS
@pytest.mark.parametrize("path,body,field", [
    (CHAT, {"model": "m", "messages": USER}, "content"),
    (COMPLETIONS, {"model": "m", "prompt": "Tell me about streams."}, "text"),
])
@pytest.mark.parametrize("include_usage", [False, True])
def test_continuous_usage_counts_in_every_chunk(api_server, headers, path, body, field,
                                                include_usage):
    options = {"continuous_usage_stats": True, "include_usage": include_usage}
    body = {**body, "max_tokens": 5, "stream": True, "stream_options": options}
    chunks = events(post(api_server, path, body, *headers))
    if include_usage:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage(PROMPT, 5)
        chunks = chunks[:-1]
    assert len(chunks) == 6         # five tokens, then the finish reason
    for n, chunk in enumerate(chunks):
        assert chunk["usage"] == usage(PROMPT, min(n + 1, 5)), n
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_continuous_usage_with_finish_on_last_token(start_server):
    server = start_server("--delay-ms", "0", "--completions-finish-on-last-token")
    body = {"model": "m", "prompt": "Hi", "max_tokens": 3, "stream": True,
            "stream_options": {"continuous_usage_stats": True}}
    for headers in ((), ("X-Mock-Echo: 0",)):
        chunks = events(post(server, COMPLETIONS, body, *headers))
        assert [c["usage"]["completion_tokens"] for c in chunks] == [1, 2, 3]
        assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "length"]


def test_a_bad_continuous_usage_stats_is_a_400(api_server):
    body = {"model": "m", "messages": USER, "stream": True,
            "stream_options": {"continuous_usage_stats": "yes"}}
    response = post(api_server, CHAT, body)
    assert response.status == 400
    assert response.json()["error"]["param"] == "stream_options.continuous_usage_stats"


# -- completions framed as vLLM frames them (7) ------------------------------------------------

@PATHS
@pytest.mark.parametrize("extra,count,finish", [
    ({}, len(TOKENS), "stop"), ({"max_tokens": 4}, 4, "length"),
    ({"max_tokens": 4, "stream_options": {"include_usage": True}}, 4, "length")])
def test_completions_finish_on_the_last_token(start_server, headers, extra, count, finish):
    server = start_server("--delay-ms", "0", "--completions-finish-on-last-token")
    body = {"model": "m", "prompt": "Hi", "stream": True, **extra}
    chunks = events(post(server, COMPLETIONS, body, *headers))
    if "stream_options" in extra:
        assert chunks.pop()["usage"]["completion_tokens"] == count
    assert len(chunks) == count and all(c["choices"][0]["text"] for c in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (count - 1) + [finish]
    # chat keeps OpenAI's framing
    chat = events(post(server, CHAT, {"model": "m", "messages": USER, "stream": True,
                                      "max_tokens": 2}, *headers))
    assert chat[-1]["choices"][0]["delta"] == {} and chat[-1]["choices"][0]["finish_reason"]


def test_without_the_flag_completions_close_with_an_empty_chunk(api_server):
    chunks = events(post(api_server, COMPLETIONS, {"model": "m", "prompt": "Hi", "stream": True,
                                                   "max_tokens": 2}))
    assert [c["choices"][0]["text"] == "" for c in chunks] == [False, False, True]
