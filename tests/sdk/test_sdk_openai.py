"""The official ``openai`` client against a running fastmock: chat completions, completions,
responses, embeddings and models; stream and not, sync and async; usage, finish reasons,
limits, echo, every control and every error status as the client surfaces it."""
from __future__ import annotations

import base64
import math
import struct
import time

import openai
import pytest

from fastmock.frames import split_tokens
from support.apis import HOSTILE, STATUSES, TEXT, TOKENS, Timer, assert_health, prompt_tokens, run

USER = "Tell me about streams."
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": USER}]
PROMPT = prompt_tokens("Be brief.", USER)

STATUS_ERRORS = {
    400: openai.BadRequestError, 401: openai.AuthenticationError,
    403: openai.PermissionDeniedError, 404: openai.NotFoundError, 409: openai.ConflictError,
    422: openai.UnprocessableEntityError, 429: openai.RateLimitError,
    500: openai.InternalServerError, 503: openai.InternalServerError,
    529: openai.InternalServerError,
}


def client(server, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-test", max_retries=0,
                         timeout=30, **kwargs)


def aclient(server, **kwargs) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base + "/v1", api_key="sk-test", max_retries=0,
                              timeout=30, **kwargs)


def chunks_of(stream) -> tuple[list, str]:
    """The chunks of a chat stream and the text of their deltas."""
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text


def assert_chat_stream(chunks, text: str, count: int, finish: str, usage: bool) -> None:
    content = [c for c in chunks if c.choices and c.choices[0].delta.content is not None]
    assert len(content) == count
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in content[1:])
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason is not None]
    assert [c.choices[0].finish_reason for c in finals] == [finish]
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    if usage:
        assert chunks[-1].choices == [] and chunks[-2] is finals[0]
        u = chunks[-1].usage
        assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (PROMPT, count,
                                                                          PROMPT + count)
    else:
        assert chunks[-1] is finals[0] and all(c.usage is None for c in chunks)


# -- chat completions -----------------------------------------------------------------------

def test_chat_non_stream(api_server):
    with client(api_server) as c:
        r = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert r.object == "chat.completion" and r.model == "gpt-4o-mini"
    assert r.id.startswith("chatcmpl-") and len(r.id) == len("chatcmpl-") + 24
    assert abs(r.created - time.time()) < 300
    [choice] = r.choices
    assert choice.message.role == "assistant" and choice.message.content == TEXT
    assert choice.finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (
        PROMPT, len(TOKENS), PROMPT + len(TOKENS))


@pytest.mark.parametrize("usage", [False, True])
def test_chat_stream(api_server, usage):
    extra = {"stream_options": {"include_usage": True}} if usage else {}
    with client(api_server) as c:
        chunks, text = chunks_of(c.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, **extra))
    assert text == TEXT
    assert_chat_stream(chunks, text, len(TOKENS), "stop", usage)
    assert {c.model for c in chunks} == {"gpt-4o"}


def test_chat_async(api_server):
    async def main():
        async with aclient(api_server) as c:
            whole = await c.chat.completions.create(model="m", messages=MESSAGES, max_tokens=4)
            stream = await c.chat.completions.create(
                model="m", messages=MESSAGES, stream=True, max_tokens=4,
                stream_options={"include_usage": True})
            return whole, [chunk async for chunk in stream]
    whole, chunks = run(main())
    assert whole.choices[0].message.content == "".join(TOKENS[:4])
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 4
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(TOKENS[:4])
    assert_chat_stream(chunks, text, 4, "length", True)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_chat_body_limit_stops_with_length(api_server, field):
    with client(api_server) as c:
        whole = c.chat.completions.create(model="m", messages=MESSAGES, **{field: 7})
        chunks, text = chunks_of(c.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True},
            **{field: 7}))
    assert whole.choices[0].message.content == text == "".join(TOKENS[:7])
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 7
    assert_chat_stream(chunks, text, 7, "length", True)


def test_chat_body_limit_above_the_text_is_a_natural_stop(api_server):
    with client(api_server) as c:
        r = c.chat.completions.create(model="m", messages=MESSAGES, max_tokens=len(TOKENS))
    assert r.choices[0].finish_reason == "stop" and r.usage.completion_tokens == len(TOKENS)


def test_max_tokens_control_overrides_the_body(api_server):
    with client(api_server, default_headers={"X-Mock-Max-Tokens": "250"}) as c:
        chunks, text = chunks_of(c.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, max_tokens=3,
            stream_options={"include_usage": True}))
    # the text cycles, parted from its start by a space (issue 16)
    assert text == TEXT + " " + "".join(TOKENS[:250 - len(TOKENS)])
    assert len(split_tokens(text)) == 250
    assert_chat_stream(chunks, text, 250, "stop", True)
    with client(api_server) as c:
        r = c.chat.completions.create(model="m", messages=MESSAGES, extra_query={"max_tokens": 2})
    assert r.choices[0].message.content == "".join(TOKENS[:2]) and r.usage.completion_tokens == 2


def test_echo_by_prefix_and_by_header(api_server):
    said = 'say "hi"\tthen\nstop é'
    with client(api_server) as c:
        r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "echo: " + said}])
        _, streamed = chunks_of(c.chat.completions.create(
            model="m", stream=True, messages=[
                {"role": "user", "content": "echo: not this one"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": "echo: " + said}]}]))
    assert r.choices[0].message.content == streamed == said
    assert r.usage.completion_tokens == prompt_tokens(said)
    with client(api_server, default_headers={"X-Mock-Echo": "1"}) as c:
        r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": said}])
        cut = c.chat.completions.create(model="m", max_tokens=2,
                                        messages=[{"role": "user", "content": said}])
    assert r.choices[0].message.content == said
    assert cut.choices[0].message.content == "".join(split_tokens(said)[:2])
    assert cut.choices[0].finish_reason == "length"


# -- legacy completions -------------------------------------------------------------------

def test_completions_stream_and_not(api_server):
    with client(api_server) as c:
        whole = c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time")
        chunks = list(c.completions.create(model="gpt-3.5-turbo-instruct", prompt="echo: a b c",
                                           stream=True, stream_options={"include_usage": True}))
        capped = c.completions.create(model="x", prompt=["one", "echo: p q r"], max_tokens=2)
    assert whole.object == "text_completion" and whole.id.startswith("cmpl-")
    assert whole.choices[0].text == TEXT and whole.choices[0].finish_reason == "stop"
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens) == (4, len(TOKENS))
    texts = [ch.choices[0].text for ch in chunks if ch.choices and ch.choices[0].text]
    assert texts == ["a ", "b ", "c"]
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == 3
    assert chunks[-1].usage.prompt_tokens == prompt_tokens("echo: a b c")
    # a batch: one choice per prompt (issue 16)
    assert [ch.text for ch in capped.choices] == ["".join(TOKENS[:2]), "p q "]
    assert [ch.index for ch in capped.choices] == [0, 1]
    assert all(ch.finish_reason == "length" for ch in capped.choices)
    assert (capped.usage.prompt_tokens, capped.usage.completion_tokens) == (1 + 4, 4)


def test_completions_async(api_server):
    async def main():
        async with aclient(api_server) as c:
            stream = await c.completions.create(model="m", prompt="hi", stream=True, max_tokens=5)
            return [ch async for ch in stream]
    chunks = run(main())
    assert "".join(ch.choices[0].text for ch in chunks) == "".join(TOKENS[:5])
    assert chunks[-1].choices[0].finish_reason == "length"


# -- the Responses API --------------------------------------------------------------------

def test_responses_non_stream(api_server):
    with client(api_server) as c:
        r = c.responses.create(model="gpt-4.1", input=USER, instructions="Be brief.")
        short = c.responses.create(model="gpt-4.1", input=[
            {"role": "user", "content": [{"type": "input_text", "text": "echo: x y z"}]}],
            max_output_tokens=2)
    assert r.object == "response" and r.id.startswith("resp_") and r.model == "gpt-4.1"
    assert r.status == "completed" and r.output_text == TEXT and r.incomplete_details is None
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (
        PROMPT, len(TOKENS), PROMPT + len(TOKENS))
    assert short.status == "incomplete" and short.incomplete_details.reason == "max_output_tokens"
    assert short.output_text == "x y " and short.usage.output_tokens == 2


EVENTS = ["response.created", "response.in_progress", "response.output_item.added",
          "response.content_part.added"]
CLOSING = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]


@pytest.mark.parametrize("limit", [None, 3])
def test_responses_stream_events(api_server, limit):
    extra = {} if limit is None else {"max_output_tokens": limit}
    with client(api_server) as c:
        events = list(c.responses.create(model="m", input=USER, stream=True, **extra))
    count = len(TOKENS) if limit is None else limit
    terminal = "response.completed" if limit is None else "response.incomplete"
    assert [e.type for e in events] == (EVENTS + ["response.output_text.delta"] * count
                                        + CLOSING + [terminal])
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    text = "".join(e.delta for e in deltas)
    assert text == ("".join(TOKENS[:count]))
    item_id = events[2].item.id
    assert {e.item_id for e in deltas} == {item_id} and events[-4].text == text
    final = events[-1].response
    assert final.id == events[0].response.id and final.output_text == text
    assert final.usage.output_tokens == count and final.usage.input_tokens == prompt_tokens(USER)
    assert final.status == ("completed" if limit is None else "incomplete")


def test_responses_stream_helper_sync_and_async(api_server):
    with client(api_server) as c:
        with c.responses.stream(model="m", input="echo: one two three") as stream:
            seen = [e.delta for e in stream if e.type == "response.output_text.delta"]
            final = stream.get_final_response()
    assert seen == ["one ", "two ", "three"] and final.output_text == "one two three"

    async def main():
        async with aclient(api_server) as c:
            async with c.responses.stream(model="m", input="echo: a b") as stream:
                async for _ in stream:
                    pass
                return await stream.get_final_response()
    assert run(main()).output_text == "a b"


# -- embeddings ---------------------------------------------------------------------------

def test_embeddings_float_and_base64_agree(api_server):
    with client(api_server) as c:
        floats = c.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
        again = c.embeddings.create(model="text-embedding-3-small", input="alpha", dimensions=256,
                                    encoding_format="base64")
        small = c.embeddings.create(model="e", input="alpha", dimensions=256)
    assert floats.model == "text-embedding-3-small" and floats.object == "list"
    [a, b] = floats.data
    assert (a.index, b.index) == (0, 1) and len(a.embedding) == 1536
    assert a.embedding != b.embedding
    assert math.isclose(math.fsum(x * x for x in a.embedding), 1.0, rel_tol=1e-4)
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 2
    decoded = struct.unpack("<256f", base64.b64decode(again.data[0].embedding))
    as_f32 = struct.unpack("<256f", struct.pack("<256f", *small.data[0].embedding))
    assert decoded == as_f32                  # the same float32 vector in both encodings


def test_embeddings_are_deterministic_across_requests_and_async(api_server):
    async def main():
        async with aclient(api_server) as c:
            return await c.embeddings.create(model="e", input=[[1, 2, 3], "x"], dimensions=8)
    first, second = run(main()), run(main())
    assert [d.embedding for d in first.data] == [d.embedding for d in second.data]
    assert first.usage.prompt_tokens == 3 + 1


# -- models -------------------------------------------------------------------------------

def test_models_list_and_retrieve(api_server):
    with client(api_server) as c:
        ids = [m.id for m in c.models.list()]
        model = c.models.retrieve("gpt-4o")
        hostile = c.models.retrieve('we"ird é\\x')
    assert ids == ["mock-gpt-4o"]
    assert (model.id, model.object, model.owned_by) == ("gpt-4o", "model", "fastmock")
    assert hostile.id == 'we"ird é\\x'

    async def main():
        async with aclient(api_server) as c:
            return [m.id async for m in c.models.list()]
    assert run(main()) == ids


# -- controls -----------------------------------------------------------------------------

@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("stream", [False, True])
def test_status_control_raises_the_sdk_error(api_server, status, stream):
    with client(api_server, default_headers={"X-Mock-Status": str(status)}) as c:
        with pytest.raises(STATUS_ERRORS[status]) as info:
            c.chat.completions.create(model="m", messages=MESSAGES, stream=stream)
    err = info.value
    assert err.status_code == status and "status control" in err.message
    assert err.response.headers["access-control-allow-origin"] == "*"
    assert (err.response.headers.get("retry-after") == "1") == (status in (429, 503, 529))


def test_status_control_on_every_openai_endpoint_and_async(api_server):
    with client(api_server) as c:
        calls = [
            lambda q: c.completions.create(model="m", prompt="x", extra_query=q),
            lambda q: c.responses.create(model="m", input="x", extra_query=q),
            lambda q: c.embeddings.create(model="m", input="x", extra_query=q),
            lambda q: c.models.list(extra_query=q),
            lambda q: c.models.retrieve("m", extra_query=q),
        ]
        for call in calls:
            with pytest.raises(openai.RateLimitError):
                call({"status": 429})
            with pytest.raises(openai.AuthenticationError):
                call({"status": 401})

    async def main():
        async with aclient(api_server) as c:
            await c.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                            extra_query={"status": "429"})
    with pytest.raises(openai.RateLimitError):
        run(main())
    assert_health(api_server)


def test_fail_after_truncates_the_stream(api_server):
    with client(api_server, default_headers={"X-Mock-Fail-After": "5"}) as c:
        got = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in c.chat.completions.create(model="m", messages=MESSAGES, stream=True):
                got.append(chunk)
        assert "".join(ch.choices[0].delta.content for ch in got) == "".join(TOKENS[:5])
        assert all(ch.choices[0].finish_reason is None for ch in got)
        with pytest.raises(openai.APIConnectionError):
            c.chat.completions.create(model="m", messages=MESSAGES)
    with client(api_server) as c:
        events = []
        with pytest.raises(openai.APIConnectionError):
            for event in c.responses.create(model="m", input="x", stream=True,
                                            extra_query={"fail_after": 0}):
                events.append(event.type)
        assert events == EVENTS   # the opening, then the cut
    assert_health(api_server)


def test_delay_and_ttft_are_observable(api_server):
    with client(api_server) as c:
        with Timer() as paced:
            for chunk in c.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                   extra_query={"delay_ms": 150, "max_tokens": 5}):
                paced.mark()
        with Timer() as late:
            for chunk in c.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                   extra_headers={"X-Mock-TTFT-Ms": "600"},
                                                   max_tokens=2):
                late.mark()
        with Timer() as whole:
            c.chat.completions.create(model="m", messages=MESSAGES, extra_query={"ttft_ms": 600})
        with Timer() as unpaced:   # delay_ms paces streams only: 5 tokens, not 5 x 3 s
            c.chat.completions.create(model="m", messages=MESSAGES, max_tokens=5,
                                      extra_query={"delay_ms": 3000})
    assert 0.55 < paced.elapsed < 10 and paced.elapsed - paced.first > 0.4     # 4 gaps of 150 ms
    assert 0.55 < late.first < 10
    assert 0.55 < whole.elapsed < 10
    assert unpaced.elapsed < 6


# -- bad input, as the client surfaces it ---------------------------------------------------

def test_bad_bodies_are_bad_request_errors_naming_the_field(api_server):
    with client(api_server) as c:
        for path, body, param in (
            ("/chat/completions", {"model": "m"}, "messages"),
            ("/chat/completions", {"messages": MESSAGES}, "model"),
            ("/chat/completions", {"model": "m", "messages": MESSAGES, "max_tokens": "ten"},
             "max_tokens"),
            ("/chat/completions", {"model": "m", "messages": MESSAGES, "stream": "yes"}, "stream"),
            ("/chat/completions", {"model": "m", "messages": [{"role": "user", "content": 3}]},
             "messages[0].content"),
            ("/completions", {"model": "m"}, "prompt"),
            ("/responses", {"model": "m", "input": 5}, "input"),
            ("/responses", {"model": "m", "max_output_tokens": 0}, "max_output_tokens"),
            ("/embeddings", {"model": "m"}, "input"),
            ("/embeddings", {"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
            ("/embeddings", {"model": "m", "input": "x", "encoding_format": "hex"},
             "encoding_format"),
        ):
            with pytest.raises(openai.BadRequestError) as info:
                c.post(path, body=body, cast_to=object)
            assert info.value.param == param and param in info.value.message, (path, body)
            assert info.value.type == "invalid_request_error"
    assert_health(api_server)


def test_hostile_model_names_come_back_intact(api_server):
    with client(api_server) as c:
        assert c.chat.completions.create(model=HOSTILE, messages=MESSAGES, max_tokens=1).model == HOSTILE
        chunks = list(c.chat.completions.create(model=HOSTILE, messages=MESSAGES, max_tokens=2,
                                                stream=True, stream_options={"include_usage": True}))
        assert {ch.model for ch in chunks} == {HOSTILE}
        assert {ch.model for ch in c.completions.create(model=HOSTILE, prompt="x", max_tokens=2,
                                                        stream=True)} == {HOSTILE}
        assert c.completions.create(model=HOSTILE, prompt="x", max_tokens=1).model == HOSTILE
        assert c.responses.create(model=HOSTILE, input="x", max_output_tokens=1).model == HOSTILE
        events = list(c.responses.create(model=HOSTILE, input="x", max_output_tokens=2, stream=True))
        assert events[0].response.model == events[-1].response.model == HOSTILE
        assert c.embeddings.create(model=HOSTILE, input="x", dimensions=2).model == HOSTILE
        echoed = c.chat.completions.create(model="m", messages=[{"role": "user",
                                                                 "content": "echo: " + HOSTILE}])
        assert echoed.choices[0].message.content == HOSTILE
