"""Structured outputs over raw HTTP: the schema a request names (OpenAI chat's response_format,
the Responses API's text.format, Ollama's format, a forced tool call) gets a JSON value valid
against it, streamed token by token or whole; a schema no value satisfies is a 400."""
from __future__ import annotations

import json

import jsonschema
import pytest

from support.apis import assert_health, post
from support.streams import ndjson, sse

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "temperature": {"type": "number", "minimum": -40, "maximum": 60},
        "conditions": {"enum": ["sunny", "rain", "snow"]},
        "hourly": {"type": "array", "items": {"$ref": "#/$defs/hour"}, "minItems": 2},
        "note": {"anyOf": [{"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"}, {"type": "null"}]},
    },
    "required": ["city", "temperature", "conditions", "hourly", "note"],
    "additionalProperties": False,
    "$defs": {"hour": {"type": "object", "properties": {"h": {"type": "integer", "minimum": 0,
                                                             "maximum": 23}},
                       "required": ["h"], "additionalProperties": False}},
}
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]
CHAT_FORMAT = {"type": "json_schema", "json_schema": {"name": "weather", "strict": True,
                                                      "schema": SCHEMA}}


def chat_stream_text(body: bytes) -> str:
    events = sse(body)
    assert events[-1] == (None, "[DONE]")
    deltas = [e["choices"][0]["delta"].get("content") for _, e in events[:-1] if e["choices"]]
    return "".join(d for d in deltas if d)


@pytest.mark.parametrize("stream", [False, True])
def test_chat_json_schema_validates(api_server, stream):
    r = post(api_server, "/v1/chat/completions",
             {"model": "m", "messages": MESSAGES, "response_format": CHAT_FORMAT, "stream": stream})
    assert r.status == 200
    if stream:
        text = chat_stream_text(r.body)
        assert len(sse(r.body)) > 5          # token by token, not one frame
    else:
        doc = r.json()
        text = doc["choices"][0]["message"]["content"]
        assert doc["choices"][0]["finish_reason"] == "stop"
    jsonschema.validate(json.loads(text), SCHEMA)


def test_the_same_schema_always_gets_the_same_value(api_server):
    body = {"model": "m", "messages": MESSAGES, "response_format": CHAT_FORMAT}
    first = post(api_server, "/v1/chat/completions", body).json()["choices"][0]["message"]
    second = post(api_server, "/v1/chat/completions", body).json()["choices"][0]["message"]
    assert first["content"] == second["content"]


@pytest.mark.parametrize("stream", [False, True])
def test_chat_json_object(api_server, stream):
    r = post(api_server, "/v1/chat/completions", {"model": "m", "messages": MESSAGES,
             "response_format": {"type": "json_object"}, "stream": stream})
    text = chat_stream_text(r.body) if stream else r.json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(text), dict)


def test_response_format_text_is_the_corpus(api_server):
    plain = post(api_server, "/v1/chat/completions", {"model": "m", "messages": MESSAGES})
    text = post(api_server, "/v1/chat/completions", {"model": "m", "messages": MESSAGES,
                "response_format": {"type": "text"}})
    assert plain.json()["choices"][0]["message"] == text.json()["choices"][0]["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_text_format_validates(api_server, stream):
    fmt = {"type": "json_schema", "name": "weather", "schema": SCHEMA, "strict": True}
    r = post(api_server, "/v1/responses", {"model": "m", "input": "Weather?", "text": {"format": fmt},
                                           "stream": stream})
    assert r.status == 200
    if stream:
        events = sse(r.body)
        deltas = [d["delta"] for name, d in events if name == "response.output_text.delta"]
        assert len(deltas) > 5
        text = "".join(deltas)
        done = [d for name, d in events if name == "response.output_text.done"][0]
        assert done["text"] == text
    else:
        text = r.json()["output"][0]["content"][0]["text"]
    jsonschema.validate(json.loads(text), SCHEMA)


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
@pytest.mark.parametrize("stream", [False, True])
def test_ollama_format_schema_validates(api_server, path, stream):
    body = {"model": "m", "format": SCHEMA, "stream": stream}
    body.update({"messages": MESSAGES} if path == "/api/chat" else {"prompt": "Weather?"})
    r = post(api_server, path, body)
    assert r.status == 200
    field = (lambda d: d["message"]["content"]) if path == "/api/chat" else (lambda d: d["response"])
    text = "".join(field(d) for d in ndjson(r.body)) if stream else field(r.json())
    jsonschema.validate(json.loads(text), SCHEMA)


def test_ollama_format_json(api_server):
    r = post(api_server, "/api/chat", {"model": "m", "messages": MESSAGES, "format": "json",
                                       "stream": False})
    assert isinstance(json.loads(r.json()["message"]["content"]), dict)


@pytest.mark.parametrize("path, body, param", [
    ("/v1/chat/completions", {"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "properties": {"a": False}, "required": ["a"]}}}},
     "response_format.json_schema.schema"),
    ("/v1/chat/completions", {"response_format": {"type": "json_schema", "json_schema": "x"}},
     "response_format.json_schema"),
    ("/v1/chat/completions", {"response_format": {"type": "yaml"}}, "response_format.type"),
    ("/v1/chat/completions", {"response_format": "json"}, "response_format"),
    ("/v1/responses", {"text": {"format": {"type": "json_schema", "schema": False}}},
     "text.format.schema"),
    ("/api/chat", {"format": 42}, "format"),
    ("/api/chat", {"format": {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}},
                              "required": ["a"]}}, "format"),
])
def test_a_schema_without_a_value_is_a_400(api_server, path, body, param):
    base = {"model": "m", "messages": MESSAGES} if path != "/v1/responses" else {"model": "m",
                                                                                  "input": "x"}
    r = post(api_server, path, {**base, **body})
    assert r.status == 400, r.body
    doc = r.json()
    if path.startswith("/v1/"):
        assert doc["error"]["param"] == param and doc["error"]["type"] == "invalid_request_error"
    else:
        assert param in doc["error"]
    assert_health(api_server)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}]


def test_a_forced_tool_call_stream_has_openais_shape(api_server):
    r = post(api_server, "/v1/chat/completions", {
        "model": "m", "messages": MESSAGES, "tools": TOOLS, "stream": True,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    events = [e for _, e in sse(r.body)]
    assert events[-1] == "[DONE]"
    first = events[0]["choices"][0]["delta"]["tool_calls"][0]
    assert first["index"] == 0 and first["id"].startswith("call_") and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": ""}
    fragments = [e["choices"][0]["delta"]["tool_calls"][0] for e in events[1:-2]]
    assert all(f == {"index": 0, "function": {"arguments": f["function"]["arguments"]}}
               for f in fragments)
    jsonschema.validate(json.loads("".join(f["function"]["arguments"] for f in fragments)), SCHEMA)
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_choice_naming_an_unknown_tool_is_a_400(api_server):
    r = post(api_server, "/v1/chat/completions", {
        "model": "m", "messages": MESSAGES, "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    assert r.status == 400 and r.json()["error"]["param"] == "tool_choice"


# -- forced tool calls in the Responses API and Anthropic's messages ------------------------

RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": SCHEMA}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "w", "input_schema": SCHEMA}]


@pytest.mark.parametrize("choice", [{"type": "function", "name": "get_weather"}, "required"])
def test_a_forced_responses_call_is_a_function_call_item(api_server, choice):
    r = post(api_server, "/v1/responses", {"model": "m", "input": "Weather?",
                                           "tools": RESPONSES_TOOLS, "tool_choice": choice})
    assert r.status == 200
    doc = r.json()
    [item] = doc["output"]
    assert doc["status"] == "completed" and item["type"] == "function_call"
    assert item["name"] == "get_weather" and item["call_id"].startswith("call_")
    assert item["id"].startswith("fc_") and item["status"] == "completed"
    jsonschema.validate(json.loads(item["arguments"]), SCHEMA)
    assert doc["usage"]["output_tokens"] > 5


def test_a_forced_responses_call_streams_its_arguments(api_server):
    r = post(api_server, "/v1/responses", {
        "model": "m", "input": "Weather?", "tools": RESPONSES_TOOLS, "stream": True,
        "tool_choice": {"type": "function", "name": "get_weather"}})
    events = sse(r.body)
    names = [name for name, _ in events]
    assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert names[-3:] == ["response.function_call_arguments.done", "response.output_item.done",
                          "response.completed"]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    added = events[2][1]["item"]
    assert added["type"] == "function_call" and added["arguments"] == ""
    deltas = [d for name, d in events if name == "response.function_call_arguments.delta"]
    assert len(deltas) > 5 and all(d["item_id"] == added["id"] for d in deltas)
    arguments = "".join(d["delta"] for d in deltas)
    jsonschema.validate(json.loads(arguments), SCHEMA)
    assert events[-3][1]["arguments"] == arguments
    final = events[-1][1]["response"]
    assert final["output"] == [{**added, "status": "completed", "arguments": arguments}]
    assert final["usage"]["output_tokens"] == len(deltas)


def test_max_output_tokens_cuts_a_forced_responses_call(api_server):
    r = post(api_server, "/v1/responses", {
        "model": "m", "input": "Weather?", "tools": RESPONSES_TOOLS, "stream": True,
        "max_output_tokens": 3, "tool_choice": "required"})
    events = sse(r.body)
    assert len([n for n, _ in events if n == "response.function_call_arguments.delta"]) == 3
    final = events[-1]
    assert final[0] == "response.incomplete"
    assert final[1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize("choice", [{"type": "tool", "name": "get_weather"}, {"type": "any"}])
def test_a_forced_anthropic_call_is_a_tool_use_block(api_server, choice):
    r = post(api_server, "/v1/messages", {"model": "claude", "max_tokens": 1000,
                                          "messages": MESSAGES, "tools": ANTHROPIC_TOOLS,
                                          "tool_choice": choice})
    assert r.status == 200
    doc = r.json()
    [block] = doc["content"]
    assert doc["stop_reason"] == "tool_use" and block["type"] == "tool_use"
    assert block["name"] == "get_weather" and block["id"].startswith("toolu_")
    jsonschema.validate(block["input"], SCHEMA)


def test_a_forced_anthropic_call_streams_input_json_deltas(api_server):
    r = post(api_server, "/v1/messages", {
        "model": "claude", "max_tokens": 1000, "messages": MESSAGES, "tools": ANTHROPIC_TOOLS,
        "stream": True, "tool_choice": {"type": "tool", "name": "get_weather"}})
    events = sse(r.body)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    block = events[1][1]["content_block"]
    assert block["type"] == "tool_use" and block["input"] == {} and block["name"] == "get_weather"
    deltas = [d["delta"] for name, d in events if name == "content_block_delta"]
    assert len(deltas) > 5 and all(d["type"] == "input_json_delta" for d in deltas)
    jsonschema.validate(json.loads("".join(d["partial_json"] for d in deltas)), SCHEMA)
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["output_tokens"] == len(deltas)


def test_max_tokens_cuts_a_forced_anthropic_call(api_server):
    body = {"model": "claude", "max_tokens": 3, "messages": MESSAGES, "tools": ANTHROPIC_TOOLS,
            "tool_choice": {"type": "any"}}
    doc = post(api_server, "/v1/messages", body).json()
    assert doc["stop_reason"] == "max_tokens" and doc["content"] == []
    events = sse(post(api_server, "/v1/messages", {**body, "stream": True}).body)
    assert len([n for n, _ in events if n == "content_block_delta"]) == 3
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


@pytest.mark.parametrize("path, body", [
    ("/v1/responses", {"tools": RESPONSES_TOOLS, "tool_choice": {"type": "function",
                                                                  "name": "nope"}}),
    ("/v1/responses", {"tool_choice": "required"}),
    ("/v1/responses", {"tools": RESPONSES_TOOLS, "tool_choice": "sometimes"}),
    ("/v1/responses", {"tools": RESPONSES_TOOLS, "tool_choice": 7}),
    ("/v1/messages", {"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "tool", "name": "nope"}}),
    ("/v1/messages", {"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "tool"}}),
    ("/v1/messages", {"tool_choice": {"type": "any"}}),
    ("/v1/chat/completions", {"tool_choice": "required"}),
])
def test_a_forced_call_without_its_tool_is_a_400(api_server, path, body):
    base = ({"model": "m", "input": "x"} if path == "/v1/responses" else
            {"model": "m", "messages": MESSAGES, "max_tokens": 100})
    r = post(api_server, path, {**base, **body})
    assert r.status == 400, r.body
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and "tool_choice" in error["message"]
    if path != "/v1/messages":
        assert error["param"] == "tool_choice"
    assert_health(api_server)


@pytest.mark.parametrize("choice", ["auto", "none", {"type": "auto"}, {"type": "web_search"}])
def test_a_tool_choice_that_forces_nothing_answers_text(api_server, choice):
    r = post(api_server, "/v1/responses", {"model": "m", "input": "x", "tools": RESPONSES_TOOLS,
                                           "tool_choice": choice})
    assert r.status == 200 and r.json()["output"][0]["type"] == "message"


IMPOSSIBLE = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 9,
                                                     "maximum": 0}}, "required": ["n"]}


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", {"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": IMPOSSIBLE}}}),
    ("/v1/chat/completions", {"tools": [{"type": "function", "function": {
        "name": "f", "parameters": IMPOSSIBLE}}], "tool_choice": "required"}),
    ("/v1/responses", {"text": {"format": {"type": "json_schema", "name": "x",
                                           "schema": IMPOSSIBLE}}}),
    ("/v1/responses", {"tools": [{"type": "function", "name": "f", "parameters": IMPOSSIBLE}],
                       "tool_choice": "required"}),
    ("/v1/messages", {"tools": [{"name": "f", "input_schema": IMPOSSIBLE}],
                      "tool_choice": {"type": "any"}}),
    ("/api/chat", {"format": IMPOSSIBLE, "stream": True}),
    ("/api/generate", {"format": {"type": "string", "minLength": 5, "maxLength": 2}}),
])
def test_impossible_bounds_are_a_400_in_the_apis_shape(api_server, path, body):
    base = {"/v1/responses": {"model": "m", "input": "x"},
            "/api/generate": {"model": "m", "prompt": "x"}}.get(
        path, {"model": "m", "messages": MESSAGES, "max_tokens": 100})
    r = post(api_server, path, {**base, **body})
    assert r.status == 400, r.body
    error = r.json()["error"]
    message = error if isinstance(error, str) else error["message"]
    assert "no integer is at least 9 and at most 0" in message or "minLength 5" in message
    if path.startswith("/v1/"):
        assert error["type"] == "invalid_request_error"
    assert_health(api_server)
