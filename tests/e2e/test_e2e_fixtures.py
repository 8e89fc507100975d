"""Scripted answers over raw HTTP: every API x every response kind x streamed or not.

One server per module loads support.scripted.WIRE (the ``scripted`` fixture); each test reads
back, from the wire, what the fixture prescribed (text, tool calls, reasoning, errors, vectors,
overrides).
"""
from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys

import pytest

from support.apis import TEXT, post
from support.streams import ndjson, sse

CHAT, TOOLS, THINK = "hello", "weather", "think"
TOOL_ARGS = [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]


# -- reading each API's answer back -----------------------------------------------------------

def chat(server, text, stream, **extra):
    body = {"model": "m", "messages": [{"role": "user", "content": text}], "stream": stream,
            **extra}
    r = post(server, "/v1/chat/completions", body)
    assert r.status == 200, r.body
    if not stream:
        doc = r.json()
        message = doc["choices"][0]["message"]
        calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]), c["id"])
                 for c in message.get("tool_calls") or ()]
        return (message["content"], message.get("reasoning_content"), calls,
                doc["choices"][0]["finish_reason"], doc)
    events = [data for _, data in sse(r.body)]
    assert events[-1] == "[DONE]"
    content, reasoning, calls, finish = "", "", {}, None
    for chunk in events[:-1]:
        if not chunk["choices"]:
            continue
        delta = chunk["choices"][0]["delta"]
        content += delta.get("content") or ""
        reasoning += delta.get("reasoning_content") or ""
        for call in delta.get("tool_calls") or ():
            if "id" in call:     # the first delta of a call: index, id, type, name, no arguments
                assert call["type"] == "function" and call["function"]["arguments"] == ""
                calls[call["index"]] = [call["function"]["name"], "", call["id"]]
            else:
                calls[call["index"]][1] += call["function"]["arguments"]
        finish = chunk["choices"][0]["finish_reason"] or finish
    calls = [(n, json.loads(a), i) for n, a, i in (calls[k] for k in sorted(calls))]
    return content or None, reasoning or None, calls, finish, events


def anthropic(server, text, stream):
    body = {"model": "c", "max_tokens": 100, "stream": stream,
            "messages": [{"role": "user", "content": text}]}
    r = post(server, "/v1/messages", body)
    assert r.status == 200, r.body
    if not stream:
        doc = r.json()
        return doc["content"], doc["stop_reason"]
    blocks, stop = {}, None
    for name, data in sse(r.body):
        assert name == data["type"]
        if name == "content_block_start":
            blocks[data["index"]] = dict(data["content_block"], _json="")
        elif name == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            kind = delta["type"]
            if kind == "text_delta":
                block["text"] += delta["text"]
            elif kind == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif kind == "signature_delta":
                block["signature"] = delta["signature"]
            else:
                block["_json"] += delta["partial_json"]
        elif name == "message_delta":
            stop = data["delta"]["stop_reason"]
    out = []
    for index in sorted(blocks):
        block = blocks[index]
        if block["type"] == "tool_use":
            block["input"] = json.loads(block["_json"])
        del block["_json"]
        out.append(block)
    return out, stop


def ollama_chat(server, text, stream):
    r = post(server, "/api/chat", {"model": "o", "stream": stream,
                                   "messages": [{"role": "user", "content": text}]})
    assert r.status == 200, r.body
    lines = ndjson(r.body + (b"" if stream else b"\n"))
    content = "".join(line["message"].get("content", "") for line in lines)
    thinking = "".join(line["message"].get("thinking", "") for line in lines)
    calls = [(c["function"]["name"], c["function"]["arguments"])
             for line in lines for c in line["message"].get("tool_calls") or ()]
    assert lines[-1]["done"] is True
    return content, thinking, calls, lines[-1]


def responses(server, text, stream):
    r = post(server, "/v1/responses", {"model": "r", "input": text, "stream": stream})
    assert r.status == 200, r.body
    if not stream:
        return r.json()
    events = sse(r.body)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    return events


# -- OpenAI chat --------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_chat_text_with_overrides(scripted, stream):
    content, reasoning, calls, finish, raw = chat(scripted, CHAT, stream,
                                                  stream_options={"include_usage": True}
                                                  if stream else None)
    assert (content, reasoning, calls, finish) == ("Hi there, friend!", None, [], "stop")
    first = raw if not stream else raw[0]
    assert (first["id"], first["model"], first["created"]) == ("fixed-id", "scripted-model", 1234)
    usage = raw["usage"] if not stream else raw[-2]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (7, 3, 10)


@pytest.mark.parametrize("stream", [False, True])
def test_chat_parallel_tool_calls(scripted, stream):
    content, _, calls, finish, _ = chat(scripted, TOOLS, stream)
    assert content is None and finish == "tool_calls"
    assert [(n, a) for n, a, _ in calls] == TOOL_ARGS
    assert calls[1][2] == "call_t" and calls[0][2].startswith("call_")


@pytest.mark.parametrize("stream", [False, True])
def test_chat_reasoning_is_counted(scripted, stream):
    extra = {"stream_options": {"include_usage": True}} if stream else {}
    content, reasoning, _, _, raw = chat(scripted, THINK, stream, **extra)
    assert (content, reasoning) == ("Done thinking.", "Let me think hard.")
    usage = raw[-2]["usage"] if stream else raw["usage"]
    assert usage["completion_tokens"] == 6
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 4


def test_chat_tool_result_turn_gets_the_final_answer(scripted):
    body = {"model": "m", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "call_t", "type": "function",
                                              "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_t", "content": "12:00"}]}
    r = post(scripted, "/v1/chat/completions", body)
    assert r.json()["choices"][0]["message"]["content"] == "It is sunny in Paris."


def test_no_match_answers_from_the_corpus(scripted):
    content, *_ = chat(scripted, "something else", False)
    assert content == TEXT


@pytest.mark.parametrize("path, body, shape", [
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "boom"}]},
     lambda d: d["error"]["message"] == "slow down" and d["error"]["type"] == "rate_limit_error"),
    ("/v1/messages", {"model": "c", "max_tokens": 5, "messages": [{"role": "user",
                                                                   "content": "boom"}]},
     lambda d: d["type"] == "error" and d["error"] == {"type": "rate_limit_error",
                                                       "message": "slow down"}),
    ("/api/chat", {"model": "o", "messages": [{"role": "user", "content": "boom"}]},
     lambda d: d == {"error": "slow down"}),
    ("/v1/responses", {"model": "r", "input": "boom", "stream": True},
     lambda d: d["error"]["message"] == "slow down"),
])
def test_scripted_errors_in_each_apis_shape(scripted, path, body, shape):
    r = post(scripted, path, body)
    assert r.status == 429 and r.header("retry-after") == "1"
    assert shape(r.json())


# -- completions, Responses ---------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_completions_say_the_content(scripted, stream):
    r = post(scripted, "/v1/completions", {"model": "m", "prompt": "hello", "stream": stream})
    if stream:
        text = "".join(d["choices"][0]["text"] for _, d in sse(r.body)[:-1])
    else:
        text = r.json()["choices"][0]["text"]
    assert text == "Hi there, friend!"


@pytest.mark.parametrize("stream", [False, True])
def test_responses_function_calls(scripted, stream):
    got = responses(scripted, TOOLS, stream)
    if stream:
        names = [name for name, _ in got]
        assert names.count("response.function_call_arguments.done") == 2
        deltas: dict = {}
        for n, d in got:
            if n == "response.function_call_arguments.delta":
                deltas[d["item_id"]] = deltas.get(d["item_id"], "") + d["delta"]
        assert [json.loads(d) for d in deltas.values()] == [a for _, a in TOOL_ARGS]
        got = got[-1][1]["response"]
        assert names[-1] == "response.completed"
    output = got["output"]
    assert [(o["type"], o["name"], json.loads(o["arguments"])) for o in output] == [
        ("function_call", n, a) for n, a in TOOL_ARGS]
    assert output[1]["call_id"] == "call_t"


@pytest.mark.parametrize("stream", [False, True])
def test_responses_reasoning_then_message(scripted, stream):
    got = responses(scripted, THINK, stream)
    if stream:
        summary = "".join(d["delta"] for n, d in got
                          if n == "response.reasoning_summary_text.delta")
        text = "".join(d["delta"] for n, d in got if n == "response.output_text.delta")
        assert (summary, text) == ("Let me think hard.", "Done thinking.")
        got = got[-1][1]["response"]
    kinds = [o["type"] for o in got["output"]]
    assert kinds == ["reasoning", "message"]
    assert got["output"][0]["summary"][0]["text"] == "Let me think hard."
    assert got["output"][1]["content"][0]["text"] == "Done thinking."
    assert got["usage"]["output_tokens_details"]["reasoning_tokens"] == 4


# -- Anthropic ------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_use(scripted, stream):
    blocks, stop = anthropic(scripted, TOOLS, stream)
    assert stop == "tool_use"
    assert [(b["type"], b["name"], b["input"]) for b in blocks] == [
        ("tool_use", n, a) for n, a in TOOL_ARGS]
    assert blocks[1]["id"] == "call_t" and blocks[0]["id"].startswith("toolu_")


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_thinking_before_text(scripted, stream):
    blocks, stop = anthropic(scripted, THINK, stream)
    assert stop == "end_turn"
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert blocks[0]["thinking"] == "Let me think hard." and blocks[0]["signature"]
    assert blocks[1]["text"] == "Done thinking."


def test_anthropic_tool_result_turn(scripted):
    body = {"model": "c", "max_tokens": 50, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_t", "name": "get_time",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_t",
                                      "content": "12:00"}]}]}
    doc = post(scripted, "/v1/messages", body).json()
    assert doc["content"] == [{"type": "text", "text": "It is sunny in Paris."}]


# -- Ollama -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_ollama_chat_tools_and_thinking(scripted, stream):
    content, thinking, calls, done = ollama_chat(scripted, TOOLS, stream)
    assert (content, calls) == ("", TOOL_ARGS)
    content, thinking, calls, done = ollama_chat(scripted, THINK, stream)
    assert (content, thinking, calls) == ("Done thinking.", "Let me think hard.", [])
    assert done["eval_count"] == 6


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_generate_thinking(scripted, stream):
    r = post(scripted, "/api/generate", {"model": "o", "prompt": "think", "stream": stream})
    lines = ndjson(r.body + (b"" if stream else b"\n"))
    assert "".join(line["response"] for line in lines) == "Done thinking."
    assert "".join(line.get("thinking", "") for line in lines) == "Let me think hard."


# -- embeddings, pacing, controls --------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embedding_vector_as_given(scripted, encoding):
    r = post(scripted, "/v1/embeddings", {"model": "e", "input": "vec", "encoding_format": encoding})
    vector = r.json()["data"][0]["embedding"]
    if encoding == "base64":
        vector = list(struct.unpack("<3f", base64.b64decode(vector)))
    assert vector == [0.5, -0.25, 1]


def test_chunk_size_cuts_and_truncate_after_chunks_stops(scripted):
    body = json.dumps({"model": "m", "stream": True,
                       "messages": [{"role": "user", "content": "chunky"}]})
    result = subprocess.run(["curl", "-sN", "--max-time", "10", scripted.base + "/v1/chat/completions",
                             "-d", body], capture_output=True, timeout=20)
    assert result.returncode != 0               # the chunked body ends abruptly
    events = [json.loads(e[len(b"data: "):]) for e in result.stdout.strip().split(b"\n\n")]
    # two chunks of 4 characters, then the cut: no finish reason, no [DONE]
    assert [e["choices"][0]["delta"]["content"] for e in events] == ["abcd", "efgh"]


def test_max_tokens_control_caps_a_scripted_answer(scripted):
    r = post(scripted, "/v1/chat/completions?max_tokens=2",
             {"model": "m", "messages": [{"role": "user", "content": "hello"}]})
    choice = r.json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("Hi there, ", "length")


# -- start-up: flags, bad files, strict ---------------------------------------------------------------

def test_strict_answers_404_naming_what_it_saw(start_server, fixture_file):
    server = start_server("--fixtures", str(fixture_file), "--strict")
    r = post(server, "/v1/chat/completions", {
        "model": "gpt-x", "messages": [{"role": "user", "content": "nothing like it"}],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]})
    assert r.status == 404
    message = r.json()["error"]["message"]
    assert "no fixture matches" in message and "nothing like it" in message
    assert "gpt-x" in message and "lookup" in message
    r = post(server, "/v1/messages", {"model": "c", "max_tokens": 5,
                                      "messages": [{"role": "user", "content": "nope"}]})
    assert r.status == 404 and r.json()["error"]["type"] == "not_found_error"


def test_fixtures_from_the_environment(start_server, fixture_file, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"fixtures": [{"match": {"userMessage": "env"},
                                               "response": {"content": "from env"}}]}))
    import os
    server = start_server(env={"FASTMOCK_FIXTURES": os.pathsep.join([str(fixture_file),
                                                                     str(other)])})
    assert chat(server, "env", False)[0] == "from env"
    assert chat(server, "hello", False)[0] == "Hi there, friend!"


def test_a_bad_fixture_file_stops_start_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fixtures": [{"match": {}, "response": {"content": 3}}]}))
    out = subprocess.run([sys.executable, "-m", "fastmock", "--port", "0", "--fixtures", str(bad)],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.json" in lines[0] and "fixture 0" in lines[0]
    assert "response.content" in lines[0]


def test_aimock_examples_load_and_answer(start_server):
    import pathlib
    examples = pathlib.Path(__file__).parents[1] / "data" / "aimock-fixtures"
    server = start_server("--fixtures", str(examples / "example-greeting.json"),
                          "--fixtures", str(examples / "example-tool-call.json"))
    body = {"model": "m", "messages": [{"role": "user", "content": "what's the weather?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]}
    message = post(server, "/v1/chat/completions", body).json()["choices"][0]["message"]
    call = message["tool_calls"][0]["function"]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"location": "San Francisco", "unit": "fahrenheit"}


def test_streaming_profile_paces_the_stream(scripted):
    import time
    started = time.monotonic()
    r = post(scripted, "/v1/chat/completions",
             {"model": "m", "stream": True, "messages": [{"role": "user", "content": "paced"}]})
    took = time.monotonic() - started
    assert "".join(d["choices"][0]["delta"].get("content") or ""
                   for _, d in sse(r.body)[:-1]) == "one two three"
    assert took >= 0.3 + 2 * 0.05 * 0.9      # ttft, then 20 chunks a second (timer tick slack)


def test_unimplemented_fields_are_named_once_at_start(start_server, tmp_path):
    path = tmp_path / "noisy.json"
    path.write_text(json.dumps({"fixtures": [
        {"match": {}, "chaos": {"dropRate": 0.1}, "response": {"content": "x"}},
        {"match": {}, "chaos": {"dropRate": 0.2}, "response": {"content": "y"}}]}))
    server = start_server("--fixtures", str(path))
    lines = [line for line in server.log.splitlines() if "not implemented" in line]
    assert len(lines) == 1 and "chaos" in lines[0], server.log


# -- Gemini, Cohere v2, Bedrock Converse (their SDKs: tests/sdk/test_sdk_cloud_fixtures.py) ---

GEMINI = "/v1beta/models/g:generateContent"


def gemini_body(text):
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


@pytest.mark.parametrize("stream", ["", "sse", "array"])
def test_gemini_overrides_and_calls_in_every_framing(scripted, stream):
    path = {"": GEMINI, "sse": GEMINI.replace(":generate", ":streamGenerate") + "?alt=sse",
            "array": GEMINI.replace(":generate", ":streamGenerate")}[stream]
    answers = []
    for text in (CHAT, TOOLS):
        r = post(scripted, path, gemini_body(text))
        assert r.status == 200, r.body
        answers.append([r.json()] if not stream else r.json() if stream == "array"
                       else [data for _, data in sse(r.body)])
    hello, weather = answers
    assert "".join(p["text"] for a in hello for p in a["candidates"][0]["content"]["parts"]) == \
        "Hi there, friend!"
    assert {(a["responseId"], a["modelVersion"]) for a in hello} == {("fixed-id", "scripted-model")}
    assert hello[-1]["usageMetadata"]["promptTokenCount"] == 7
    assert hello[-1]["usageMetadata"]["candidatesTokenCount"] == 3
    calls = [p["functionCall"] for a in weather for p in a["candidates"][0]["content"]["parts"]]
    assert [(c["name"], c["args"]) for c in calls] == TOOL_ARGS and calls[1]["id"] == "call_t"
    assert weather[-1]["candidates"][0]["finishReason"] == "STOP"
    assert all("finishReason" not in a["candidates"][0] for a in weather[:-1])


@pytest.mark.parametrize("stream", [False, True])
def test_cohere_overrides_and_calls(scripted, stream):
    def ask(text):
        r = post(scripted, "/v2/chat", {"model": "c", "stream": stream,
                                        "messages": [{"role": "user", "content": text}]})
        assert r.status == 200, r.body
        return r.json() if not stream else sse(r.body)

    hello, weather = ask(CHAT), ask(TOOLS)
    if not stream:
        assert hello["id"] == "fixed-id" and hello["usage"]["billed_units"] == {
            "input_tokens": 7, "output_tokens": 3}
        calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]), c["id"])
                 for c in weather["message"]["tool_calls"]]
        assert "content" not in weather["message"] and weather["finish_reason"] == "TOOL_CALL"
    else:
        assert hello[0][1]["id"] == "fixed-id" and hello[-1] == (None, "[DONE]")
        assert hello[-2][1]["delta"]["usage"]["tokens"] == {"input_tokens": 7, "output_tokens": 3}
        calls, parts = [], {}
        for name, data in weather[:-1]:
            assert name == data["type"]
            if name == "tool-call-start":
                call = data["delta"]["message"]["tool_calls"]
                calls.append([call["function"]["name"], "", call["id"]])
            elif name == "tool-call-delta":
                calls[data["index"]][1] += \
                    data["delta"]["message"]["tool_calls"]["function"]["arguments"]
        calls = [(n, json.loads(a), i) for n, a, i in calls]
        assert weather[-2][1]["delta"]["finish_reason"] == "TOOL_CALL"
    assert [c[:2] for c in calls] == TOOL_ARGS and calls[1][2] == "call_t"


def test_converse_overrides_and_calls(scripted):
    r = post(scripted, "/model/m/converse", {"messages": [{"role": "user", "content": [
        {"text": CHAT}]}]})
    doc = r.json()
    assert doc["output"]["message"]["content"] == [{"text": "Hi there, friend!"}]
    assert doc["usage"] == {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10}
    r = post(scripted, "/model/m/converse", {"messages": [{"role": "user", "content": [
        {"text": TOOLS}]}]})
    uses = [b["toolUse"] for b in r.json()["output"]["message"]["content"]]
    assert [(u["name"], u["input"]) for u in uses] == TOOL_ARGS and uses[1]["toolUseId"] == "call_t"
    # the next turn: the result of call_t
    r = post(scripted, "/model/m/converse", {"messages": [
        {"role": "user", "content": [{"text": TOOLS}]},
        {"role": "assistant", "content": [{"toolUse": u} for u in uses]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "call_t",
                                                     "content": [{"text": "12:00"}]}}]}]})
    assert r.json()["output"]["message"]["content"] == [{"text": "It is sunny in Paris."}]


@pytest.mark.parametrize("path, body, shape", [
    (GEMINI, gemini_body("boom"),
     # (an OpenAI error type is not Google's status: RESOURCE_EXHAUSTED, as for a 429)
     lambda d: d["error"] == {"code": 429, "message": "slow down",
                              "status": "RESOURCE_EXHAUSTED"}),
    ("/v2/chat", {"model": "c", "messages": [{"role": "user", "content": "boom"}]},
     lambda d: d["message"] == "slow down" and d["id"]),
    ("/model/m/converse", {"messages": [{"role": "user", "content": [{"text": "boom"}]}]},
     lambda d: d == {"message": "slow down"}),
])
def test_scripted_errors_in_gemini_cohere_and_bedrock_shapes(scripted, path, body, shape):
    r = post(scripted, path, body)
    assert r.status == 429 and r.header("retry-after") == "1"
    assert shape(r.json())
    if path.startswith("/model/"):
        assert r.header("x-amzn-errortype") == "ThrottlingException"


def test_max_tokens_control_caps_gemini_cohere_and_converse(scripted):
    r = post(scripted, GEMINI + "?max_tokens=2", gemini_body(CHAT))
    candidate = r.json()["candidates"][0]
    assert (candidate["content"]["parts"], candidate["finishReason"]) == (
        [{"text": "Hi there, "}], "MAX_TOKENS")
    r = post(scripted, "/v2/chat?max_tokens=2",
             {"model": "c", "messages": [{"role": "user", "content": CHAT}]})
    assert r.json()["finish_reason"] == "MAX_TOKENS"
    assert r.json()["message"]["content"] == [{"type": "text", "text": "Hi there, "}]
    r = post(scripted, "/model/m/converse?max_tokens=2",
             {"messages": [{"role": "user", "content": [{"text": CHAT}]}]})
    assert r.json()["stopReason"] == "max_tokens"
    assert r.json()["output"]["message"]["content"] == [{"text": "Hi there, "}]
