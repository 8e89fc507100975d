"""The official ``ollama`` client against a running fastmock: generate and chat (NDJSON stream
and one object), list (``/api/tags``), sync and async; done_reason, counts and durations,
num_predict, echo, every control and every error status as the client surfaces it."""
from __future__ import annotations

import httpx
import ollama
import pytest

from fastmock.frames import split_tokens
from support.apis import HOSTILE, STATUSES, TEXT, TOKENS, Timer, assert_health, prompt_tokens, run

USER = "Tell me about streams."
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": USER}]


def client(server, **headers) -> ollama.Client:
    return ollama.Client(host=server.base, headers=headers or None, timeout=30)


def aclient(server, **headers) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=server.base, headers=headers or None, timeout=30)


def assert_done(final, prompt: int, count: int, reason: str) -> None:
    assert final.done is True and final.done_reason == reason
    assert final.prompt_eval_count == prompt and final.eval_count == count
    for name in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert getattr(final, name) > 0, name
    assert final.total_duration >= final.eval_duration
    assert final.created_at.endswith("Z") and len(final.created_at) == len("2024-01-01T00:00:00.000000Z")


def test_generate_non_stream(api_server):
    with client(api_server) as c:
        r = c.generate(model="llama3.2", prompt=USER, system="Be brief.")
    assert r.model == "llama3.2" and r.response == TEXT
    assert_done(r, prompt_tokens("Be brief.", USER), len(TOKENS), "stop")


def test_generate_stream(api_server):
    with client(api_server) as c:
        parts = list(c.generate(model="llama3.2", prompt=USER, stream=True))
    *tokens, final = parts
    assert [p.response for p in tokens] == TOKENS and not any(p.done for p in tokens)
    assert final.response == "" and {p.model for p in parts} == {"llama3.2"}
    assert_done(final, prompt_tokens(USER), len(TOKENS), "stop")


def test_chat_stream_and_not(api_server):
    with client(api_server) as c:
        whole = c.chat(model="llama3.2", messages=MESSAGES)
        parts = list(c.chat(model="llama3.2", messages=MESSAGES, stream=True))
    assert whole.message.role == "assistant" and whole.message.content == TEXT
    assert_done(whole, prompt_tokens("Be brief.", USER), len(TOKENS), "stop")
    *tokens, final = parts
    assert "".join(p.message.content for p in tokens) == TEXT and len(tokens) == len(TOKENS)
    assert all(p.message.role == "assistant" for p in parts) and final.message.content == ""
    assert_done(final, prompt_tokens("Be brief.", USER), len(TOKENS), "stop")


def test_async_generate_and_chat(api_server):
    async def main():
        async with aclient(api_server) as c:
            gen = await c.generate(model="m", prompt="echo: a b c")
            stream = await c.chat(model="m", messages=MESSAGES, stream=True,
                                  options={"num_predict": 3})
            parts = [p async for p in stream]
            return gen, parts
    gen, parts = run(main())
    assert gen.response == "a b c" and gen.eval_count == 3
    assert [p.message.content for p in parts[:-1]] == TOKENS[:3]
    assert_done(parts[-1], prompt_tokens("Be brief.", USER), 3, "length")


def test_num_predict_and_the_max_tokens_control(api_server):
    with client(api_server) as c:
        capped = c.generate(model="m", prompt=USER, options={"num_predict": 4})
        unlimited = c.generate(model="m", prompt=USER, options={"num_predict": -1})
    assert capped.response == "".join(TOKENS[:4]) and capped.done_reason == "length"
    assert unlimited.response == TEXT and unlimited.done_reason == "stop"
    with client(api_server, **{"X-Mock-Max-Tokens": "3"}) as c:
        control = c.generate(model="m", prompt=USER, options={"num_predict": 1})
    assert control.response == "".join(TOKENS[:3]) and control.done_reason == "stop"


def test_echo_by_prefix_and_by_header(api_server):
    said = 'tab\there "quoted" back\\slash ✓'
    with client(api_server) as c:
        g = c.generate(model="m", prompt="echo: " + said)
        parts = list(c.chat(model="m", stream=True, messages=[
            {"role": "user", "content": "echo: old"}, {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "echo: " + said}]))
    assert g.response == said and g.eval_count == len(split_tokens(said))
    assert "".join(p.message.content for p in parts) == said
    with client(api_server, **{"X-Mock-Echo": "1"}) as c:
        assert c.chat(model="m", messages=[{"role": "user", "content": said}]).message.content == said


def test_a_request_without_a_prompt_loads_the_model(api_server):
    with client(api_server) as c:
        g = c.generate(model="llama3.2")
        ch = c.chat(model="llama3.2")
    assert (g.done, g.done_reason, g.response) == (True, "load", "")
    assert (ch.done, ch.done_reason, ch.message.content) == (True, "load", "")


def test_list_and_version(api_server):
    with client(api_server) as c:
        listed = c.list()
    [model] = listed.models
    assert model.model == "mock-llama3" and model.size > 0 and len(model.digest) == 64
    assert model.details.format == "gguf" and model.modified_at.year == 2023
    version = httpx.get(api_server.base + "/api/version", timeout=10)
    assert version.status_code == 200 and version.json()["version"].count(".") == 2

    async def main():
        async with aclient(api_server) as c:
            return await c.list()
    assert run(main()).models[0].model == "mock-llama3"


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("stream", [False, True])
def test_status_control_raises_response_error(api_server, status, stream):
    with client(api_server, **{"X-Mock-Status": str(status)}) as c:
        with pytest.raises(ollama.ResponseError) as info:
            result = c.chat(model="m", messages=MESSAGES, stream=stream)
            if stream:
                list(result)
    assert info.value.status_code == status and "status control" in info.value.error


def test_status_control_on_generate_tags_and_async(api_server):
    with client(api_server, **{"X-Mock-Status": "429"}) as c:
        for call in (lambda: c.generate(model="m", prompt="x"), c.list):
            with pytest.raises(ollama.ResponseError) as info:
                call()
            assert info.value.status_code == 429
    response = httpx.get(api_server.base + "/api/version?status=429", timeout=10)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert set(response.json()) == {"error"}

    async def main():
        async with aclient(api_server, **{"X-Mock-Status": "503"}) as c:
            await c.generate(model="m", prompt="x")
    with pytest.raises(ollama.ResponseError) as info:
        run(main())
    assert info.value.status_code == 503


def test_fail_after_truncates_the_stream(api_server):
    got = []
    with client(api_server, **{"X-Mock-Fail-After": "6"}) as c:
        # The client passes httpx's transport errors through unwrapped.
        with pytest.raises(httpx.RemoteProtocolError):
            for part in c.generate(model="m", prompt=USER, stream=True):
                got.append(part)
        with pytest.raises(httpx.RemoteProtocolError):
            c.chat(model="m", messages=MESSAGES)
    assert [p.response for p in got] == TOKENS[:6] and not any(p.done for p in got)
    assert_health(api_server)


def test_delay_and_ttft_are_observable(api_server):
    with client(api_server, **{"X-Mock-Delay-Ms": "150", "X-Mock-Max-Tokens": "5"}) as c:
        with Timer() as paced:
            for _ in c.chat(model="m", messages=MESSAGES, stream=True):
                paced.mark()
    with client(api_server, **{"X-Mock-TTFT-Ms": "600"}) as c:
        with Timer() as late:
            for _ in c.generate(model="m", prompt=USER, stream=True, options={"num_predict": 1}):
                late.mark()
        with Timer() as whole:
            answer = c.generate(model="m", prompt=USER, options={"num_predict": 1})
    assert 0.55 < paced.elapsed < 10 and paced.elapsed - paced.first > 0.4
    assert 0.55 < late.first < 10 and 0.55 < whole.elapsed < 10
    assert answer.total_duration >= 600_000_000   # a non-streamed answer's TTFT counts in


def test_bad_bodies_are_response_errors_naming_the_field(api_server):
    with client(api_server) as c:
        for call, field in (
            (lambda: c.chat(model="m", messages=[{"role": "user", "content": "x"}],
                            options={"num_predict": "many"}), "options.num_predict"),
            (lambda: c.chat(model="m", messages=[{"role": "user", "content": "x"}],
                            options={"num_predict": 1.5}), "options.num_predict"),
        ):
            with pytest.raises(ollama.ResponseError) as info:
                call()
            assert info.value.status_code == 400 and field in info.value.error
    for path, body, field in (
        ("/api/chat", {"model": "m", "messages": "hi"}, "messages"),
        ("/api/chat", {"model": "m", "messages": [{"content": "x"}]}, "messages[0].role"),
        ("/api/generate", {"prompt": "x"}, "model"),
        ("/api/generate", {"model": "", "prompt": "x"}, "model"),
        ("/api/generate", {"model": "m", "prompt": 1}, "prompt"),
        ("/api/generate", {"model": "m", "prompt": "x", "stream": "no"}, "stream"),
    ):
        response = httpx.post(api_server.base + path, json=body, timeout=10)
        assert response.status_code == 400 and field in response.json()["error"], (path, body)
        assert field in ollama.ResponseError(response.text, 400).error   # what the client shows
    assert_health(api_server)


def test_hostile_model_names_come_back_intact(api_server):
    with client(api_server) as c:
        assert c.generate(model=HOSTILE, prompt="x", options={"num_predict": 1}).model == HOSTILE
        parts = list(c.chat(model=HOSTILE, messages=MESSAGES, stream=True,
                            options={"num_predict": 2}))
        assert {p.model for p in parts} == {HOSTILE}
        assert c.generate(model="m", prompt="echo: " + HOSTILE).response == HOSTILE


# -- issue 17, point 6: embeddings, the model management API, the root, context -----------------

def test_embed_and_embeddings(api_server):
    from fastmock.providers.embeddings import embedding
    with client(api_server) as c:
        one = c.embed(model="nomic-embed-text", input="hello")
        two = c.embed(model="nomic-embed-text", input=["hello", "world"], dimensions=8)
        old = c.embeddings(model="nomic-embed-text", prompt="hello")
    assert one.model == "nomic-embed-text" and len(one.embeddings) == 1
    assert len(one.embeddings[0]) == 768 and one.prompt_eval_count == prompt_tokens("hello")
    assert one.total_duration > 0 and one.load_duration > 0
    assert [len(v) for v in two.embeddings] == [8, 8] and two.embeddings[0] != two.embeddings[1]
    # deterministic: embeddings.embedding() of the text, as /v1/embeddings gives it
    assert two.embeddings[1] == pytest.approx(list(embedding(b"world", 8)), abs=1e-7)
    assert list(old.embedding) == pytest.approx(one.embeddings[0], abs=1e-7)
    assert abs(sum(x * x for x in old.embedding) - 1.0) < 1e-4

    async def main():
        async with aclient(api_server) as c:
            return await c.embed(model="m", input="hello")
    assert run(main()).embeddings == one.embeddings


def test_show_and_ps(api_server):
    with client(api_server) as c:
        shown = c.show("llama3.2")
        running = c.ps()
    assert "FROM llama3.2" in shown.modelfile and shown.template and shown.parameters
    assert shown.details.family == "llama" and shown.details.format == "gguf"
    assert shown.modelinfo["general.architecture"] == "llama"
    assert "completion" in shown.capabilities
    [model] = running.models
    assert model.model == "mock-llama3" and model.size_vram > 0 and model.expires_at is not None
    assert model.details.parameter_size == "8.0B"


def test_pull_streams_progress_and_lists_the_model(start_server):
    server = start_server("--delay-ms", "1", "--model", "house", "--served-model-name", "a,b")
    with client(server) as c:
        assert [m.model for m in c.list().models] == ["house", "a", "b"]
        progress = list(c.pull("qwen3", stream=True))
        assert progress[0].status == "pulling manifest" and progress[-1].status == "success"
        layers = [p for p in progress if p.digest]
        assert layers and layers[-1].completed == layers[-1].total > 0
        assert c.pull("phi4:mini").status == "success"        # stream: false, one object
        assert c.pull("qwen3").status == "success"             # pulled again: listed once
        assert [m.model for m in c.list().models] == ["house", "a", "b", "qwen3:latest",
                                                      "phi4:mini"]
    assert_health(server)


def test_generate_context(api_server):
    with client(api_server) as c:
        whole = c.generate(model="llama3.2", prompt=USER)
        *_, final = c.generate(model="llama3.2", prompt=USER, stream=True)
        chat = c.chat(model="llama3.2", messages=MESSAGES)
    size = prompt_tokens(USER) + len(TOKENS)
    assert whole.context == final.context == list(range(1, size + 1))
    assert "context" not in chat.model_dump(exclude_none=True)


def test_unknown_api_path_is_an_ollama_error(api_server):
    with client(api_server) as c:
        with pytest.raises(ollama.ResponseError) as info:
            c._request_raw("POST", "/api/nothing-here", json={})
    assert info.value.status_code == 404 and "no route for /api/nothing-here" in info.value.error
    raw = httpx.get(api_server.base + "/api/nothing", timeout=10)
    assert raw.status_code == 404 and raw.json() == {"error": "no route for /api/nothing"}


@pytest.mark.parametrize("path, body, word", [
    ("/api/embed", {"model": "m"}, "input"),
    ("/api/embed", {"model": "m", "input": [1, 2]}, "input"),
    ("/api/embed", {"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
    ("/api/embed", {"model": "m", "input": ["x"] * 100, "dimensions": 3072}, "at most"),
    ("/api/embeddings", {"model": "m"}, "prompt"),
    ("/api/embeddings", {"prompt": "x"}, "model"),
    ("/api/show", {}, "model"),
    ("/api/show", {"model": 3}, "model"),
    ("/api/pull", {"model": ""}, "model"),
    ("/api/pull", {"model": "x", "stream": "yes"}, "stream"),
])
def test_bad_input_is_a_400_in_ollama_shape(api_server, path, body, word):
    response = httpx.post(api_server.base + path, json=body, timeout=10)
    assert response.status_code == 400
    doc = response.json()
    assert set(doc) == {"error"} and word in doc["error"]
    assert_health(api_server)
