"""Scripted answers judged by the official clients: openai (chat tools, parallel tools,
reasoning, Responses function calls), anthropic (tool use, thinking, the stream helper's
final message), ollama (tools, thinking); one whole agent loop per SDK, driven by a
fixture file (support.scripted.AGENT, served by the agent_server fixture); and aimock's own
example file answering an SDK request."""
from __future__ import annotations

import json
import pathlib

import pytest

anthropic = pytest.importorskip("anthropic")
ollama = pytest.importorskip("ollama")
openai = pytest.importorskip("openai")

from support.apis import opened  # noqa: E402

EXAMPLES = pathlib.Path(__file__).parents[1] / "data" / "aimock-fixtures"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def oai(server):
    return opened(openai.OpenAI(base_url=server.base + "/v1", api_key="sk-test", max_retries=0,
                                timeout=30))


def ant(server):
    return opened(anthropic.Anthropic(base_url=server.base, api_key="sk-ant-test", max_retries=0,
                                      timeout=30))


def oll(server):
    return opened(ollama.Client(host=server.base, timeout=30))


# -- openai --------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_openai_parallel_tool_calls(agent_server, stream):
    messages = [{"role": "user", "content": "both cities"}]
    if stream:
        with oai(agent_server).chat.completions.stream(model="gpt-4o", messages=messages,
                                                       tools=[WEATHER]) as s:
            final = s.get_final_completion()
    else:
        final = oai(agent_server).chat.completions.create(model="gpt-4o", messages=messages,
                                                          tools=[WEATHER])
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"},
                                                                  {"city": "Rome"}]
    assert len({c.id for c in calls}) == 2


@pytest.mark.parametrize("stream", [False, True])
def test_openai_reasoning(agent_server, stream):
    client = oai(agent_server)
    messages = [{"role": "user", "content": "think"}]
    if stream:
        reasoning, content = "", ""
        for chunk in client.chat.completions.create(model="o", messages=messages, stream=True):
            if chunk.choices:
                delta = chunk.choices[0].delta
                reasoning += getattr(delta, "reasoning_content", None) or ""
                content += delta.content or ""
    else:
        message = client.chat.completions.create(model="o", messages=messages).choices[0].message
        reasoning, content = message.reasoning_content, message.content
    assert (reasoning, content) == ("Let me think hard.", "Done thinking.")


def test_openai_agent_loop(agent_server):
    client = oai(agent_server)
    messages = [{"role": "user", "content": "what's the weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather",
                                                                          {"city": "Paris"})
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    final = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    assert final.choices[0].message.content == "It is sunny in Paris."


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses_function_call_loop(agent_server, stream):
    client = oai(agent_server)
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}
    if stream:
        with client.responses.stream(model="gpt-4o", input="weather?", tools=[tool]) as s:
            first = s.get_final_response()
    else:
        first = client.responses.create(model="gpt-4o", input="weather?", tools=[tool])
    call = first.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather",
                                                                  {"city": "Paris"})
    final = client.responses.create(model="gpt-4o", tools=[tool], input=[
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name,
         "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert final.output_text == "It is sunny in Paris."


def test_openai_responses_reasoning(agent_server):
    with oai(agent_server).responses.stream(model="o", input="think") as s:
        final = s.get_final_response()
    assert final.output[0].type == "reasoning"
    assert final.output[0].summary[0].text == "Let me think hard."
    assert final.output_text == "Done thinking."


def test_aimock_example_answers_an_sdk_request(start_server):
    live = start_server("--fixtures", str(EXAMPLES / "example-tool-call.json"),
                        "--fixtures", str(EXAMPLES / "example-greeting.json"))
    client = oai(live)
    reply = client.chat.completions.create(model="gpt-4o",
                                           messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == "Hello! How can I help you today?"
    call = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER]).choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"location": "San Francisco",
                                                   "unit": "fahrenheit"}


# -- anthropic -----------------------------------------------------------------------------------

ANT_TOOL = {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_use_loop(agent_server, stream):
    client = ant(agent_server)
    messages = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        with client.messages.stream(model="claude", max_tokens=100, messages=messages,
                                    tools=[ANT_TOOL]) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(model="claude", max_tokens=100, messages=messages,
                                       tools=[ANT_TOOL])
    assert first.stop_reason == "tool_use"
    use = first.content[0]
    assert (use.type, use.name, use.input) == ("tool_use", "get_weather", {"city": "Paris"})
    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": "sunny"}]}]
    final = client.messages.create(model="claude", max_tokens=100, messages=messages,
                                   tools=[ANT_TOOL])
    assert final.content[0].text == "It is sunny in Paris." and final.stop_reason == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_thinking(agent_server, stream):
    client = ant(agent_server)
    args = dict(model="claude", max_tokens=100, messages=[{"role": "user", "content": "think"}])
    if stream:
        with client.messages.stream(**args) as s:
            message = s.get_final_message()
    else:
        message = client.messages.create(**args)
    thinking, text = message.content
    assert (thinking.type, thinking.thinking) == ("thinking", "Let me think hard.")
    assert thinking.signature
    assert (text.type, text.text) == ("text", "Done thinking.")


# -- ollama ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_ollama_tools_loop(agent_server, stream):
    client = oll(agent_server)
    messages = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        calls = [c for part in client.chat(model="llama", messages=messages, tools=[WEATHER],
                                           stream=True)
                 for c in part.message.tool_calls or ()]
    else:
        calls = client.chat(model="llama", messages=messages, tools=[WEATHER]).message.tool_calls
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})]
    messages += [{"role": "assistant", "content": "", "tool_calls": calls},
                 {"role": "tool", "content": "sunny", "tool_name": "get_weather"}]
    final = client.chat(model="llama", messages=messages, tools=[WEATHER])
    assert final.message.content == "It is sunny in Paris."


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_thinking(agent_server, stream):
    client = oll(agent_server)
    messages = [{"role": "user", "content": "think"}]
    if stream:
        parts = list(client.chat(model="llama", messages=messages, stream=True))
        thinking = "".join(p.message.thinking or "" for p in parts)
        content = "".join(p.message.content or "" for p in parts)
    else:
        message = client.chat(model="llama", messages=messages).message
        thinking, content = message.thinking, message.content
    assert (thinking, content) == ("Let me think hard.", "Done thinking.")
    generated = client.generate(model="llama", prompt="think")
    assert (generated.thinking, generated.response) == ("Let me think hard.", "Done thinking.")
