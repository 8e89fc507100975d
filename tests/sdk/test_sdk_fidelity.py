"""The official ``openai`` client sending what benchmark tools send (issue 16, point 2):
vLLM's ``ignore_eos`` and ``min_tokens``, prompt batches and token ids, continuous usage,
the usage details and the model list they read."""
from __future__ import annotations

import openai
import pytest

from fastmock.frames import split_tokens
from support.apis import TOKENS, prompt_tokens

USER = [{"role": "user", "content": "Tell me about streams."}]
PROMPT = prompt_tokens("Tell me about streams.")


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-test", max_retries=0,
                         timeout=30)


def test_chat_ignore_eos_streams_exactly_max_tokens(api_server):
    with client(api_server) as c:
        stream = c.chat.completions.create(
            model="m", messages=USER, max_tokens=500, stream=True,
            stream_options={"include_usage": True}, extra_body={"ignore_eos": True})
        chunks = list(stream)
    deltas = [ch.choices[0].delta.content for ch in chunks if ch.choices and ch.choices[0].delta.content]
    assert len(deltas) == 500 and len(split_tokens("".join(deltas))) == 500
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "length"
    usage = chunks[-1].usage
    assert usage.completion_tokens == 500 and usage.prompt_tokens == PROMPT
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_chat_min_tokens_whole(api_server):
    with client(api_server) as c:
        r = c.chat.completions.create(model="m", messages=USER, max_completion_tokens=1000,
                                      extra_body={"min_tokens": 400})
    assert len(split_tokens(r.choices[0].message.content)) == 400 == r.usage.completion_tokens
    assert r.choices[0].finish_reason == "stop"


def test_completions_ignore_eos(api_server):
    with client(api_server) as c:
        r = c.completions.create(model="m", prompt="Hi", max_tokens=250,
                                 extra_body={"ignore_eos": True})
    assert len(split_tokens(r.choices[0].text)) == 250 == r.usage.completion_tokens
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens_details.cached_tokens == 0


def test_a_bad_min_tokens_is_the_clients_bad_request(api_server):
    with client(api_server) as c:
        with pytest.raises(openai.BadRequestError) as caught:
            c.chat.completions.create(model="m", messages=USER, max_tokens=3,
                                      extra_body={"min_tokens": 4})
        assert caught.value.param == "min_tokens"
        # and the server goes on serving
        r = c.chat.completions.create(model="m", messages=USER)
    assert len(split_tokens(r.choices[0].message.content)) == len(TOKENS)


def test_the_model_list_reads_as_vllms(api_server):
    with client(api_server) as c:
        [model] = c.models.list().data
        one = c.models.retrieve("org/other")
    assert model.id == model.root == "mock-gpt-4o" and model.parent is None
    assert model.max_model_len > 0 and model.permission[0]["object"] == "model_permission"
    assert one.id == one.root == "org/other"


def test_completions_batch_of_prompts(api_server):
    with client(api_server) as c:
        r = c.completions.create(model="m", prompt=["one two", "three"], max_tokens=3)
        chunks = list(c.completions.create(model="m", prompt=[[1, 2, 3], [4]], max_tokens=2,
                                           stream=True, stream_options={"include_usage": True}))
    assert [ch.index for ch in r.choices] == [0, 1]
    assert all(len(split_tokens(ch.text)) == 3 for ch in r.choices)
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (3, 6)
    texts = {0: "", 1: ""}
    for chunk in chunks[:-1]:
        [choice] = chunk.choices
        texts[choice.index] += choice.text
    assert all(len(split_tokens(t)) == 2 for t in texts.values())
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (4, 4)


def test_completions_token_ids_count_as_prompt_tokens(api_server):
    with client(api_server) as c:
        r = c.completions.create(model="m", prompt=list(range(17)), max_tokens=1)
    assert r.usage.prompt_tokens == 17 and len(r.choices) == 1


def test_chat_continuous_usage(api_server):
    with client(api_server) as c:
        chunks = list(c.chat.completions.create(
            model="m", messages=USER, max_tokens=3, stream=True,
            stream_options={"include_usage": True, "continuous_usage_stats": True}))
    assert [ch.usage.completion_tokens for ch in chunks] == [1, 2, 3, 3, 3]
    assert all(ch.usage.total_tokens == PROMPT + ch.usage.completion_tokens for ch in chunks)
