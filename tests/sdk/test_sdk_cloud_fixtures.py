"""Scripted answers (fixtures) through the Gemini, Cohere and Bedrock clients: a fixture's
text, tool calls and reasoning come back as each SDK's own typed objects, streamed and not
(google-genai sync and async, cohere ClientV2, boto3 converse / converse_stream); a tool
result in the history answers the next turn; --strict, a scripted error and malformed tool
definitions are each API's own error; the journal names the fixture that answered."""
from __future__ import annotations

import asyncio
import json

import pytest

genai = pytest.importorskip("google.genai")
cohere = pytest.importorskip("cohere")
boto3 = pytest.importorskip("boto3")
httpx = pytest.importorskip("httpx")

from botocore.config import Config  # noqa: E402
from botocore.exceptions import EventStreamError  # noqa: E402
from google.genai import errors as genai_errors  # noqa: E402
from google.genai import types  # noqa: E402

from support.scripted import CLOUD  # noqa: E402
from support.server import LiveServer  # noqa: E402

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    path = tmp_path_factory.mktemp("cloud-fixtures") / "cloud.json"
    path.write_text(json.dumps(CLOUD))
    live = LiveServer("--delay-ms", "0", "--fixtures", str(path))
    live.fixtures_path = path
    yield live
    live.stop_cleanly()


_OPENED: list = []


@pytest.fixture(autouse=True)
def close_clients():
    yield
    while _OPENED:
        _OPENED.pop().close()


def journal(server, **filters) -> list:
    return httpx.get(server.base + "/__fastmock/journal", params=filters).json()


# -- Gemini -----------------------------------------------------------------------------------

def gemini(server):
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.base))
    _OPENED.append(client)
    return client


GEMINI_TOOLS = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="The weather in a city", parameters=WEATHER_SCHEMA)])],
    tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")))


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_fixture_text_and_the_journal(scripted, stream):
    client = gemini(scripted)
    if stream:
        chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash",
                                                            contents="hello"))
        text = "".join(c.text for c in chunks)
        last = chunks[-1]
    else:
        last = client.models.generate_content(model="gemini-2.5-flash", contents="hello")
        text = last.text
    assert text == "Hi there, friend!"
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata.candidates_token_count == 3
    entry = journal(scripted, path=":")[0]
    assert entry["fixture"] and entry["status"] == 200 and entry["tokens"] == 3
    assert entry["model"] == "gemini-2.5-flash"         # from the path: the body names none


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_tool_call_then_its_function_response(scripted, stream):
    client = gemini(scripted)
    if stream:
        calls = [call for chunk in client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="weather in Paris?", config=GEMINI_TOOLS)
            for call in chunk.function_calls or ()]
    else:
        answer = client.models.generate_content(model="gemini-2.5-flash",
                                                contents="weather in Paris?", config=GEMINI_TOOLS)
        assert answer.candidates[0].finish_reason == types.FinishReason.STOP
        calls = answer.function_calls
    assert [(c.id, c.name, c.args) for c in calls] == [("call_w", "get_weather", {"city": "Paris"})]
    history = [types.Content(role="user", parts=[types.Part(text="weather in Paris?")]),
               types.Content(role="model", parts=[types.Part(function_call=calls[0])]),
               types.Content(role="user", parts=[types.Part.from_function_response(
                   name="get_weather", response={"temp": 21})])]
    history[2].parts[0].function_response.id = "call_w"
    done = client.models.generate_content(model="gemini-2.5-flash", contents=history,
                                          config=GEMINI_TOOLS)
    assert done.text == "It is sunny in Paris."


def test_gemini_text_and_parallel_calls_async(scripted):
    client = gemini(scripted)

    async def run():
        try:
            whole = await client.aio.models.generate_content(
                model="gemini-2.5-flash", contents="both cities", config=GEMINI_TOOLS)
            stream = await client.aio.models.generate_content_stream(
                model="gemini-2.5-flash", contents="both cities", config=GEMINI_TOOLS)
            chunks = [c async for c in stream]
            return whole, chunks
        finally:
            await client.aio.aclose()

    whole, chunks = asyncio.run(run())
    assert whole.text == "Checking both."
    assert [c.args for c in whole.function_calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert len({c.id for c in whole.function_calls}) == 2
    streamed = [c.args for chunk in chunks for c in chunk.function_calls or ()]
    assert streamed == [{"city": "Paris"}, {"city": "Rome"}]
    assert "".join(c.text or "" for c in chunks if not c.function_calls) == "Checking both."


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_reasoning_is_thought_parts(scripted, stream):
    client = gemini(scripted)
    if stream:
        chunks = list(client.models.generate_content_stream(model="gemini-2.5-pro",
                                                            contents="think"))
        parts = [p for c in chunks for p in c.candidates[0].content.parts]
        usage = chunks[-1].usage_metadata
    else:
        answer = client.models.generate_content(model="gemini-2.5-pro", contents="think")
        parts, usage = answer.candidates[0].content.parts, answer.usage_metadata
        assert answer.text == "Done thinking."          # the SDK leaves the thoughts out
    assert "".join(p.text for p in parts if p.thought) == "Let me think hard."
    assert "".join(p.text for p in parts if not p.thought) == "Done thinking."
    assert (usage.thoughts_token_count, usage.candidates_token_count) == (4, 2)
    assert usage.total_token_count == usage.prompt_token_count + 6


def test_gemini_errors_strict_and_malformed_tools(scripted, start_server):
    client = gemini(scripted)
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model="g", contents="boom", config=types.GenerateContentConfig(
            http_options=types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))))
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    url = scripted.base + "/v1beta/models/g:generateContent"
    for tools, field in ((["x"], "tools[0]"),
                         ([{"functionDeclarations": [{"description": "no name"}]}],
                          "tools[0].functionDeclarations[0].name"),
                         ({"functionDeclarations": []}, "tools")):
        bad = httpx.post(url, json={"contents": [{"parts": [{"text": "hi"}]}], "tools": tools})
        assert bad.status_code == 400, bad.text
        error = bad.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT" and field in error["message"]
    bad = httpx.post(url, json={"contents": [{"parts": [{"text": "hi"}]}],
                                "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}})
    assert bad.status_code == 400 and "toolConfig.functionCallingConfig.mode" in bad.text
    assert client.models.generate_content(model="g", contents="hello").text == "Hi there, friend!"
    strict = start_server("--strict", "--fixtures", str(scripted.fixtures_path))
    with pytest.raises(genai_errors.ClientError) as caught:
        gemini(strict).models.generate_content(model="g", contents="nothing scripted")
    assert caught.value.code == 404 and caught.value.status == "NOT_FOUND"
    assert "no fixture matches" in caught.value.message


# -- Cohere v2 --------------------------------------------------------------------------------

COHERE_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city", "parameters": WEATHER_SCHEMA}}]


@pytest.fixture
def co(scripted):
    with httpx.Client(timeout=30) as http:
        yield cohere.ClientV2(api_key="k", base_url=scripted.base, httpx_client=http)


def test_cohere_fixture_text_whole_and_streamed(co, scripted):
    messages = [{"role": "user", "content": "hello"}]
    done = co.chat(model="command-a", messages=messages)
    assert done.finish_reason == "COMPLETE" and done.message.content[0].text == "Hi there, friend!"
    assert done.usage.tokens.output_tokens == 3
    events = list(co.chat_stream(model="command-a", messages=messages))
    assert [e.type for e in events] == (["message-start", "content-start"] + ["content-delta"] * 3
                                        + ["content-end", "message-end"])
    assert "".join(e.delta.message.content.text for e in events
                   if e.type == "content-delta") == "Hi there, friend!"
    assert journal(scripted, path="/v2/chat")[0]["fixture"]


def test_cohere_tool_calls_whole_and_streamed_then_the_tool_message(co):
    messages = [{"role": "user", "content": "both cities"}]
    done = co.chat(model="command-a", messages=messages, tools=COHERE_TOOLS)
    assert done.finish_reason == "TOOL_CALL"
    assert done.message.content[0].text == "Checking both."
    calls = done.message.tool_calls
    assert [(c.type, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("function", "get_weather", {"city": "Paris"}), ("function", "get_weather", {"city": "Rome"})]
    assert len({c.id for c in calls}) == 2
    events = list(co.chat_stream(model="command-a", messages=messages, tools=COHERE_TOOLS))
    kinds = [e.type for e in events]
    assert kinds == (["message-start", "content-start", "content-delta", "content-delta",
                      "content-end"] + ["tool-call-start", "tool-call-delta", "tool-call-end"] * 2
                     + ["message-end"])
    starts = [e for e in events if e.type == "tool-call-start"]
    assert [(e.index, e.delta.message.tool_calls.function.name) for e in starts] == [
        (0, "get_weather"), (1, "get_weather")]
    arguments = [e.delta.message.tool_calls.function.arguments for e in events
                 if e.type == "tool-call-delta"]
    assert [json.loads(a) for a in arguments] == [{"city": "Paris"}, {"city": "Rome"}]
    assert events[-1].delta.finish_reason == "TOOL_CALL"

    first = co.chat(model="command-a", messages=[{"role": "user", "content": "weather?"}],
                    tools=COHERE_TOOLS)
    call = first.message.tool_calls[0]
    assert call.id == "call_w"
    history = [{"role": "user", "content": "weather?"},
               {"role": "assistant", "tool_calls": [call.dict()], "tool_plan": "I will look."},
               {"role": "tool", "tool_call_id": call.id,
                "content": [{"type": "document", "document": {"data": '{"temp": 21}'}}]}]
    assert co.chat(model="command-a", messages=history, tools=COHERE_TOOLS) \
        .message.content[0].text == "It is sunny in Paris."


def test_cohere_reasoning_is_thinking_content(co):
    messages = [{"role": "user", "content": "think"}]
    done = co.chat(model="command-a-reasoning", messages=messages)
    assert [(c.type, getattr(c, "thinking", None) or c.text) for c in done.message.content] == [
        ("thinking", "Let me think hard."), ("text", "Done thinking.")]
    events = list(co.chat_stream(model="command-a-reasoning", messages=messages))
    starts = [e for e in events if e.type == "content-start"]
    assert [(e.index, e.delta.message.content.type) for e in starts] == [(0, "thinking"),
                                                                          (1, "text")]
    deltas = [e for e in events if e.type == "content-delta"]
    assert "".join(e.delta.message.content.thinking or "" for e in deltas) == "Let me think hard."
    assert "".join(e.delta.message.content.text or "" for e in deltas) == "Done thinking."


def test_cohere_errors_strict_and_malformed_tools(co, scripted, start_server):
    with pytest.raises(cohere.TooManyRequestsError) as caught:
        co.chat(model="c", messages=[{"role": "user", "content": "boom"}],
                request_options={"max_retries": 0})
    assert caught.value.body["message"] == "slow down"
    for tools, field in (("x", "tools"), ([{"type": "function"}], "tools[0].function"),
                         ([{"type": "function", "function": {"description": "d"}}],
                          "tools[0].function.name")):
        with pytest.raises(cohere.BadRequestError) as caught:
            co.chat(model="c", messages=[{"role": "user", "content": "hi"}], tools=tools)
        assert field in caught.value.body["message"]
    with pytest.raises(cohere.BadRequestError) as caught:
        co.chat(model="c", messages=[{"role": "user", "content": "x"},
                                     {"role": "tool", "content": "{}"}])
    assert "messages[1].tool_call_id" in caught.value.body["message"]
    assert co.chat(model="c", messages=[{"role": "user", "content": "hello"}]) \
        .message.content[0].text == "Hi there, friend!"
    strict = start_server("--strict", "--fixtures", str(scripted.fixtures_path))
    with httpx.Client(timeout=30) as http:
        client = cohere.ClientV2(api_key="k", base_url=strict.base, httpx_client=http)
        with pytest.raises(cohere.NotFoundError) as caught:
            client.chat(model="c", messages=[{"role": "user", "content": "nothing scripted"}])
    assert "no fixture matches" in caught.value.body["message"] and caught.value.body["id"]


# -- Bedrock Converse -------------------------------------------------------------------------

BEDROCK_TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": "The weather",
                                         "inputSchema": {"json": WEATHER_SCHEMA}}}],
                 "toolChoice": {"auto": {}}}


def bedrock(server, **headers):
    client = boto3.client("bedrock-runtime", endpoint_url=server.base, region_name="us-east-1",
                          aws_access_key_id="AKID", aws_secret_access_key="s",
                          config=Config(retries={"max_attempts": 1}))
    if headers:
        client.meta.events.register("before-send.bedrock-runtime.*",
                                    lambda request, **_: request.headers.update(headers))
    _OPENED.append(client)
    return client


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def converse_stream(client, **kwargs) -> list:
    return list(client.converse_stream(modelId="m", **kwargs)["stream"])


def test_bedrock_fixture_text_whole_and_streamed(scripted):
    client = bedrock(scripted)
    done = client.converse(modelId="m", messages=[user("hello")])
    assert done["output"]["message"]["content"] == [{"text": "Hi there, friend!"}]
    assert done["stopReason"] == "end_turn" and done["usage"]["outputTokens"] == 3
    events = converse_stream(client, messages=[user("hello")])
    assert [next(iter(e)) for e in events] == (["messageStart"] + ["contentBlockDelta"] * 3
                                               + ["contentBlockStop", "messageStop", "metadata"])
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events[1:4]) == \
        "Hi there, friend!"
    entry = journal(scripted, path="/converse-stream")[0]
    assert entry["fixture"] and entry["model"] == "m" and entry["tokens"] == 3


def test_bedrock_tool_use_whole_and_streamed_then_the_tool_result(scripted):
    client = bedrock(scripted)
    done = client.converse(modelId="m", messages=[user("both cities")], toolConfig=BEDROCK_TOOLS)
    assert done["stopReason"] == "tool_use"
    content = done["output"]["message"]["content"]
    assert content[0] == {"text": "Checking both."}
    uses = [block["toolUse"] for block in content[1:]]
    assert [(u["name"], u["input"]) for u in uses] == [("get_weather", {"city": "Paris"}),
                                                        ("get_weather", {"city": "Rome"})]
    assert all(u["toolUseId"].startswith("tooluse_") for u in uses)
    events = converse_stream(client, messages=[user("both cities")], toolConfig=BEDROCK_TOOLS)
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert [(s["contentBlockIndex"], s["start"]["toolUse"]["name"]) for s in starts] == [
        (1, "get_weather"), (2, "get_weather")]
    pieces: dict = {}
    for e in events:
        delta = e.get("contentBlockDelta")
        if delta and "toolUse" in delta["delta"]:
            pieces[delta["contentBlockIndex"]] = (pieces.get(delta["contentBlockIndex"], "")
                                                  + delta["delta"]["toolUse"]["input"])
    assert {i: json.loads(p) for i, p in pieces.items()} == {1: {"city": "Paris"},
                                                             2: {"city": "Rome"}}
    assert [e["contentBlockStop"]["contentBlockIndex"] for e in events if "contentBlockStop" in e] \
        == [0, 1, 2]
    assert [e["messageStop"]["stopReason"] for e in events if "messageStop" in e] == ["tool_use"]

    first = client.converse(modelId="m", messages=[user("weather?")], toolConfig=BEDROCK_TOOLS)
    use = first["output"]["message"]["content"][0]["toolUse"]
    assert use["toolUseId"] == "call_w"
    history = [user("weather?"), first["output"]["message"],
               {"role": "user", "content": [{"toolResult": {
                   "toolUseId": use["toolUseId"], "content": [{"json": {"temp": 21}}]}}]}]
    again = client.converse(modelId="m", messages=history, toolConfig=BEDROCK_TOOLS)
    assert again["output"]["message"]["content"] == [{"text": "It is sunny in Paris."}]


def test_bedrock_reasoning_content_whole_and_streamed(scripted):
    client = bedrock(scripted)
    done = client.converse(modelId="m", messages=[user("think")])
    reasoning, text = done["output"]["message"]["content"]
    assert reasoning["reasoningContent"]["reasoningText"]["text"] == "Let me think hard."
    assert reasoning["reasoningContent"]["reasoningText"]["signature"]
    assert text == {"text": "Done thinking."}
    events = converse_stream(client, messages=[user("think")])
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert "".join(d["delta"]["reasoningContent"].get("text", "") for d in deltas
                   if d["contentBlockIndex"] == 0) == "Let me think hard."
    assert any(d["delta"]["reasoningContent"].get("signature") for d in deltas
               if d["contentBlockIndex"] == 0)
    assert "".join(d["delta"]["text"] for d in deltas if d["contentBlockIndex"] == 1) == \
        "Done thinking."
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 6


def test_bedrock_errors_strict_and_malformed_tool_config(scripted, start_server):
    client = bedrock(scripted)
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.converse(modelId="m", messages=[user("boom")])
    assert caught.value.response["Error"]["Message"] == "slow down"
    url = scripted.base + "/model/m/converse"
    messages = [user("hi")]
    for config, field in (({"tools": []}, "toolConfig.tools"),
                          ({"tools": [{"toolSpec": {"inputSchema": {"json": {}}}}]},
                           "toolConfig.tools[0].toolSpec.name"),
                          ({"tools": [{"toolSpec": {"name": "f", "inputSchema": {}}}]},
                           "toolConfig.tools[0].toolSpec.inputSchema.json"),
                          ({"tools": [{"hammer": {}}]}, "toolConfig.tools[0]"),
                          ({"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}],
                            "toolChoice": {"sometimes": {}}}, "toolConfig.toolChoice")):
        bad = httpx.post(url, json={"messages": messages, "toolConfig": config})
        assert bad.status_code == 400, bad.text
        assert bad.headers["x-amzn-ErrorType"] == "ValidationException"
        assert field in bad.json()["message"]
    assert client.converse(modelId="m", messages=[user("hello")])["stopReason"] == "end_turn"
    strict = bedrock(start_server("--strict", "--fixtures", str(scripted.fixtures_path)))
    with pytest.raises(strict.exceptions.ResourceNotFoundException) as caught:
        strict.converse(modelId="m", messages=[user("nothing scripted")])
    assert "no fixture matches" in caught.value.response["Error"]["Message"]


def claude_body(text: str, **fields) -> str:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                       "messages": [{"role": "user", "content": text}], **fields})


def test_bedrock_invoke_model_answers_from_a_fixture_whole_and_streamed(scripted):
    client = bedrock(scripted)
    answer = json.loads(client.invoke_model(modelId="m", body=claude_body("hello"))["body"].read())
    assert answer["content"] == [{"type": "text", "text": "Hi there, friend!"}]
    tools = [{"name": "get_weather", "input_schema": WEATHER_SCHEMA}]
    stream = client.invoke_model_with_response_stream(
        modelId="m", body=claude_body("weather?", tools=tools))["body"]
    events = [json.loads(e["chunk"]["bytes"]) for e in stream]
    assert [e["type"] for e in events] == ["message_start", "content_block_start",
                                           "content_block_delta", "content_block_stop",
                                           "message_delta", "message_stop"]
    assert events[1]["content_block"]["name"] == "get_weather"
    assert json.loads(events[2]["delta"]["partial_json"]) == {"city": "Paris"}
    assert events[4]["delta"]["stop_reason"] == "tool_use"
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 1
    stream = client.invoke_model_with_response_stream(modelId="m", body=claude_body("think"))
    events = [json.loads(e["chunk"]["bytes"]) for e in stream["body"]]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert "".join(d.get("thinking", "") for d in deltas) == "Let me think hard."
    assert "".join(d.get("text", "") for d in deltas) == "Done thinking."
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.invoke_model(modelId="m", body=claude_body("boom"))
    assert caught.value.response["Error"]["Message"] == "slow down"
    with pytest.raises(client.exceptions.ThrottlingException):
        client.invoke_model_with_response_stream(modelId="m", body=claude_body("boom"))


# -- Bedrock: a failed stream, errors before a stream -------------------------------------------

def test_bedrock_fail_after_ends_each_stream_with_a_model_stream_error(scripted):
    cut = bedrock(scripted, **{"X-Mock-Fail-After": "2"})
    for messages, kwargs in (([user("both cities")], {"toolConfig": BEDROCK_TOOLS}),
                             ([user("not scripted")], {})):
        got = []
        stream = cut.converse_stream(modelId="m", messages=messages, **kwargs)["stream"]
        with pytest.raises(EventStreamError) as caught:
            for event in stream:
                got.append(event)
        stream.close()
        assert len(got) == 3 and next(iter(got[0])) == "messageStart"   # 2 events, then the error
        assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                       "messages": [{"role": "user", "content": "tell me"}]})
    stream = cut.invoke_model_with_response_stream(modelId="m", body=body)["body"]
    got = []
    with pytest.raises(EventStreamError) as caught:
        for event in stream:
            got.append(json.loads(event["chunk"]["bytes"])["type"])
    stream.close()
    assert got == ["message_start", "content_block_start", "content_block_delta",
                   "content_block_delta"]
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    # the stream ended as a stream does: the connection serves the next request
    assert bedrock(scripted).converse(modelId="m", messages=[user("hello")])["stopReason"] == \
        "end_turn"
    assert journal(scripted, path="/invoke-with-response-stream")[0]["tokens"] == 2


def test_bedrock_errors_before_a_stream_are_boto3s_exceptions(scripted):
    with pytest.raises(bedrock(scripted).exceptions.ThrottlingException) as caught:
        bedrock(scripted).converse_stream(modelId="m", messages=[user("boom")])
    assert caught.value.response["Error"]["Message"] == "slow down"
    failing = bedrock(scripted, **{"X-Mock-Status": "503"})
    with pytest.raises(failing.exceptions.ServiceUnavailableException):
        failing.converse_stream(modelId="m", messages=[user("hello")])
    with pytest.raises(failing.exceptions.ServiceUnavailableException):
        failing.invoke_model_with_response_stream(modelId="m", body=json.dumps(
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5,
             "messages": [{"role": "user", "content": "x"}]}))
