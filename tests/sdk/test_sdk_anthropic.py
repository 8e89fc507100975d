"""The official ``anthropic`` client against a running fastmock: ``messages.create`` and
``messages.stream``, sync and async; the full event sequence, stop reasons, usage,
max_tokens, echo, every control and every error status as the client surfaces it."""
from __future__ import annotations

import anthropic
import pytest

from fastmock.frames import split_tokens
from support.apis import HOSTILE, STATUSES, TEXT, TOKENS, Timer, assert_health, prompt_tokens, run

USER = "Tell me about streams."
MESSAGES = [{"role": "user", "content": USER}]
SYSTEM = "Be brief."
PROMPT = prompt_tokens(SYSTEM, USER)
SEQUENCE = ["message_start", "content_block_start", "content_block_delta",
            "content_block_stop", "message_delta", "message_stop"]

STATUS_ERRORS = {
    400: anthropic.BadRequestError, 401: anthropic.AuthenticationError,
    403: anthropic.PermissionDeniedError, 404: anthropic.NotFoundError,
    409: anthropic.ConflictError, 422: anthropic.UnprocessableEntityError,
    429: anthropic.RateLimitError, 500: anthropic.InternalServerError,
    503: anthropic.InternalServerError, 529: anthropic.OverloadedError,
}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 409: "conflict_error",
               422: "invalid_request_error", 429: "rate_limit_error", 500: "api_error",
               503: "api_error", 529: "overloaded_error"}


def client(server, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base, api_key="sk-ant-test", max_retries=0,
                               timeout=30, **kwargs)


def aclient(server, **kwargs) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base, api_key="sk-ant-test", max_retries=0,
                                    timeout=30, **kwargs)


def collapse(types: list[str]) -> list[str]:
    """Event types with each run of deltas folded into one."""
    out: list[str] = []
    for t in types:
        if not (out and t == out[-1] == "content_block_delta"):
            out.append(t)
    return out


def test_messages_non_stream(api_server):
    with client(api_server) as c:
        m = c.messages.create(model="mock-claude", max_tokens=1024, system=SYSTEM,
                              messages=MESSAGES)
    assert m.type == "message" and m.role == "assistant" and m.model == "mock-claude"
    assert m.id.startswith("msg_") and len(m.id) == len("msg_") + 24
    assert [b.type for b in m.content] == ["text"] and m.content[0].text == TEXT
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    assert (m.usage.input_tokens, m.usage.output_tokens) == (PROMPT, len(TOKENS))


def test_messages_raw_stream_has_the_full_event_sequence(api_server):
    with client(api_server) as c:
        events = list(c.messages.create(model="claude", max_tokens=1024, system=SYSTEM,
                                        messages=MESSAGES, stream=True))
    assert collapse([e.type for e in events]) == SEQUENCE   # ping is skipped by the client
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert len(deltas) == len(TOKENS) and all(e.delta.type == "text_delta" for e in deltas)
    assert "".join(e.delta.text for e in deltas) == TEXT
    start = events[0].message
    assert start.content == [] and start.stop_reason is None and start.usage.input_tokens == PROMPT
    delta = events[-2]
    assert delta.delta.stop_reason == "end_turn" and delta.usage.output_tokens == len(TOKENS)


def test_the_wire_has_event_lines_and_a_ping(api_server):
    with client(api_server) as c:
        with c.messages.with_streaming_response.create(
                model="claude", max_tokens=2, messages=MESSAGES, stream=True) as raw:
            body = b"".join(raw.iter_bytes())
            content_type = raw.headers["content-type"]
    blocks = body.decode().strip("\n").split("\n\n")
    names = [b.split("\n")[0] for b in blocks]
    assert names == ["event: message_start", "event: content_block_start", "event: ping",
                     "event: content_block_delta", "event: content_block_delta",
                     "event: content_block_stop", "event: message_delta", "event: message_stop"]
    assert all(b.split("\n")[1].startswith("data: {") for b in blocks)
    assert content_type == "text/event-stream"


def test_stream_helper_sync(api_server):
    with client(api_server) as c:
        with c.messages.stream(model="claude", max_tokens=5, messages=MESSAGES) as stream:
            texts = list(stream.text_stream)
            final = stream.get_final_message()
    assert texts == TOKENS[:5]
    assert final.content[0].text == "".join(TOKENS[:5]) and final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 5 and final.usage.input_tokens == prompt_tokens(USER)


def test_async_create_and_stream(api_server):
    async def main():
        async with aclient(api_server) as c:
            whole = await c.messages.create(model="claude", max_tokens=3, messages=MESSAGES)
            async with c.messages.stream(model="claude", max_tokens=100, messages=[
                    {"role": "user", "content": [{"type": "text", "text": "echo: x y z"}]}]) as s:
                texts = [t async for t in s.text_stream]
                final = await s.get_final_message()
            raw = await c.messages.create(model="claude", max_tokens=100, messages=MESSAGES,
                                          stream=True)
            types = [e.type async for e in raw]
            return whole, texts, final, types
    whole, texts, final, types = run(main())
    assert whole.content[0].text == "".join(TOKENS[:3]) and whole.stop_reason == "max_tokens"
    assert texts == ["x ", "y ", "z"] and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3
    assert collapse(types) == SEQUENCE and types.count("content_block_delta") == 100


def test_max_tokens_stop_reason_and_the_control(api_server):
    with client(api_server) as c:
        capped = c.messages.create(model="c", max_tokens=len(TOKENS) - 1, messages=MESSAGES)
        exact = c.messages.create(model="c", max_tokens=len(TOKENS), messages=MESSAGES)
        control = c.messages.create(model="c", max_tokens=2, messages=MESSAGES,
                                    extra_headers={"X-Mock-Max-Tokens": "6"})
    assert capped.stop_reason == "max_tokens" and capped.usage.output_tokens == len(TOKENS) - 1
    assert exact.stop_reason == "end_turn" and exact.content[0].text == TEXT
    assert control.stop_reason == "end_turn" and control.content[0].text == "".join(TOKENS[:6])


def test_echo_by_prefix_and_by_header(api_server):
    said = 'quote " back\\slash\nnew line ü'
    with client(api_server) as c:
        m = c.messages.create(model="c", max_tokens=100, messages=[
            {"role": "user", "content": "echo: first"}, {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "echo: " + said}])
    assert m.content[0].text == said and m.usage.output_tokens == len(split_tokens(said))
    with client(api_server, default_headers={"X-Mock-Echo": "1"}) as c:
        with c.messages.stream(model="c", max_tokens=100,
                               messages=[{"role": "user", "content": said}]) as stream:
            assert "".join(stream.text_stream) == said


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("stream", [False, True])
def test_status_control_raises_the_sdk_error(api_server, status, stream):
    with client(api_server, default_headers={"X-Mock-Status": str(status)}) as c:
        with pytest.raises(STATUS_ERRORS[status]) as info:
            c.messages.create(model="c", max_tokens=10, messages=MESSAGES, stream=stream)
    err = info.value
    assert err.status_code == status
    assert err.body["type"] == "error" and err.body["error"]["type"] == ERROR_TYPES[status]
    assert "status control" in err.body["error"]["message"]
    assert (err.response.headers.get("retry-after") == "1") == (status in (429, 503, 529))


def test_status_control_async(api_server):
    async def main():
        async with aclient(api_server) as c:
            await c.messages.create(model="c", max_tokens=10, messages=MESSAGES,
                                    extra_query={"status": 529})
    with pytest.raises(anthropic.OverloadedError):
        run(main())


def test_fail_after_truncates_the_stream(api_server):
    got = []
    with client(api_server, default_headers={"X-Mock-Fail-After": "4"}) as c:
        # The client lets the transport's RemoteProtocolError through mid-stream (its
        # non-stream calls wrap it in APIConnectionError).
        with pytest.raises(Exception) as info:
            with c.messages.stream(model="c", max_tokens=100, messages=MESSAGES) as stream:
                for text in stream.text_stream:
                    got.append(text)
        assert isinstance(info.value, anthropic.APIConnectionError) or \
            type(info.value).__name__ == "RemoteProtocolError", repr(info.value)
        assert got == TOKENS[:4]
        with pytest.raises(anthropic.APIConnectionError):
            c.messages.create(model="c", max_tokens=100, messages=MESSAGES)
    assert_health(api_server)


def test_delay_and_ttft_are_observable(api_server):
    with client(api_server) as c:
        with Timer() as paced:
            with c.messages.stream(model="c", max_tokens=5, messages=MESSAGES,
                                   extra_query={"delay_ms": 150}) as stream:
                for _ in stream.text_stream:
                    paced.mark()
        with Timer() as late:
            with c.messages.stream(model="c", max_tokens=1, messages=MESSAGES,
                                   extra_headers={"X-Mock-TTFT-Ms": "600"}) as stream:
                for _ in stream.text_stream:
                    late.mark()
        with Timer() as whole:
            c.messages.create(model="c", max_tokens=2, messages=MESSAGES,
                              extra_query={"ttft_ms": 600})
    assert 0.55 < paced.elapsed < 10 and paced.elapsed - paced.first > 0.4
    assert 0.55 < late.first < 10 and 0.55 < whole.elapsed < 10


def test_bad_bodies_are_bad_request_errors_naming_the_field(api_server):
    base = {"model": "c", "max_tokens": 10, "messages": MESSAGES}
    with client(api_server) as c:
        for body, field in (
            ({k: v for k, v in base.items() if k != "max_tokens"}, "max_tokens"),
            ({k: v for k, v in base.items() if k != "messages"}, "messages"),
            ({k: v for k, v in base.items() if k != "model"}, "model"),
            ({**base, "max_tokens": "10"}, "max_tokens"),
            ({**base, "max_tokens": 0}, "max_tokens"),
            ({**base, "messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
            ({**base, "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
            ({**base, "system": 5}, "system"),
            ({**base, "stream": "true"}, "stream"),
        ):
            with pytest.raises(anthropic.BadRequestError) as info:
                c.post("/v1/messages", body=body, cast_to=object)
            assert info.value.body["error"]["type"] == "invalid_request_error"
            assert field in info.value.body["error"]["message"], (body, info.value.body)
    assert_health(api_server)


def test_models_list_reads_the_shared_models_route(api_server):
    with client(api_server) as c:
        models = list(c.models.list())
        one = c.models.retrieve("claude-x")
    assert [m.id for m in models] == ["mock-gpt-4o"] and models[0].type == "model"
    assert one.id == "claude-x" and one.display_name == "claude-x"


def test_hostile_model_names_come_back_intact(api_server):
    with client(api_server) as c:
        assert c.messages.create(model=HOSTILE, max_tokens=1, messages=MESSAGES).model == HOSTILE
        with c.messages.stream(model=HOSTILE, max_tokens=2, messages=MESSAGES) as stream:
            assert stream.get_final_message().model == HOSTILE
        m = c.messages.create(model="c", max_tokens=500,
                              messages=[{"role": "user", "content": "echo: " + HOSTILE}])
        assert m.content[0].text == HOSTILE


# -- forced tool calls (issue 15) -------------------------------------------------------------

WEATHER = {"name": "get_weather", "description": "The weather in a city.",
           "input_schema": {"type": "object", "properties": {
               "city": {"type": "string", "minLength": 2},
               "days": {"type": "integer", "minimum": 1, "maximum": 7},
               "units": {"enum": ["metric", "imperial"]}},
               "required": ["city", "days", "units"]}}


@pytest.mark.parametrize("choice", [{"type": "tool", "name": "get_weather"}, {"type": "any"}])
def test_a_forced_tool_call(api_server, choice):
    with client(api_server) as c:
        message = c.messages.create(model="claude-sonnet-4", max_tokens=1000, messages=MESSAGES,
                                    tools=[WEATHER], tool_choice=choice)
    [block] = message.content
    assert message.stop_reason == "tool_use" and block.type == "tool_use"
    assert block.name == "get_weather" and block.id.startswith("toolu_")
    assert set(block.input) == {"city", "days", "units"} and 1 <= block.input["days"] <= 7


def test_a_forced_tool_call_streams_to_the_helpers_final_message(api_server):
    with client(api_server) as c, c.messages.stream(
            model="claude-sonnet-4", max_tokens=1000, messages=MESSAGES, tools=[WEATHER],
            tool_choice={"type": "tool", "name": "get_weather"}) as stream:
        fragments = [e.partial_json for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    [block] = final.content
    assert len(fragments) > 3 and final.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.input["units"] in ("metric", "imperial")
    assert final.usage.output_tokens == len(fragments)


def test_a_forced_call_of_an_unknown_tool_is_a_bad_request(api_server):
    with client(api_server) as c, pytest.raises(anthropic.BadRequestError) as caught:
        c.messages.create(model="claude-sonnet-4", max_tokens=100, messages=MESSAGES,
                          tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"})
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert_health(api_server)


# -- issue 17, point 6: count_tokens, request-id, the cache fields of usage ----------------------

CACHE = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def test_count_tokens(api_server):
    with client(api_server) as c:
        counted = c.messages.count_tokens(model="claude-x", system=SYSTEM, messages=MESSAGES)
        raw = c.messages.with_raw_response.count_tokens(model="claude-x", messages=MESSAGES)
    assert counted.input_tokens == PROMPT
    assert raw.parse().input_tokens == prompt_tokens(USER)
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["request-id"] == raw.headers["x-request-id"]

    async def main():
        async with aclient(api_server) as c:
            return await c.messages.count_tokens(model="claude-x", messages=MESSAGES)
    assert run(main()).input_tokens == prompt_tokens(USER)


@pytest.mark.parametrize("body, word", [
    ({"messages": MESSAGES}, "model"),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": "hi"}, "messages"),
])
def test_count_tokens_bad_input(api_server, body, word):
    import httpx
    response = httpx.post(api_server.base + "/v1/messages/count_tokens", json=body, timeout=10)
    assert response.status_code == 400
    doc = response.json()
    assert doc["type"] == "error" and doc["error"]["type"] == "invalid_request_error"
    assert word in doc["error"]["message"]
    assert response.headers["request-id"].startswith("req_")
    assert_health(api_server)


def test_request_id_and_cache_usage_whole_and_streamed(api_server):
    with client(api_server) as c:
        message = c.messages.create(model="claude-x", max_tokens=100, messages=MESSAGES)
        with c.messages.stream(model="claude-x", max_tokens=100, messages=MESSAGES) as stream:
            events = list(stream)
            final = stream.get_final_message()
            streamed_id = stream.response.headers["request-id"]
        own = c.messages.with_raw_response.create(model="claude-x", max_tokens=5,
                                                  messages=MESSAGES,
                                                  extra_headers={"X-Request-Id": "req_mine"})
    assert message._request_id.startswith("req_") and streamed_id.startswith("req_")
    assert message._request_id != streamed_id
    assert own.headers["request-id"] == own.headers["x-request-id"] == "req_mine"
    for usage in (message.usage, final.usage):
        assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0
    start = next(e for e in events if e.type == "message_start").message.usage
    delta = next(e for e in events if e.type == "message_delta").usage
    assert start.model_dump(include=set(CACHE)) == CACHE
    assert delta.model_dump(include=set(CACHE)) == CACHE
    assert (start.input_tokens, start.output_tokens) == (prompt_tokens(USER), 0)
    assert delta.output_tokens == 100       # max_tokens: the corpus is longer
