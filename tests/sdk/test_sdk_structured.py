"""Structured outputs as the official clients read them: openai's parse() helpers with a pydantic
model (chat and Responses, stream and not), and ollama's ``format`` with a model's schema."""
from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel, Field

ollama = pytest.importorskip("ollama")


class Hour(BaseModel):
    hour: int = Field(ge=0, le=23)
    rain: bool


class Forecast(BaseModel):
    city: str
    temperature: float
    conditions: str
    hourly: list[Hour]
    note: str | None


MESSAGES = [{"role": "user", "content": "The weather in Paris, please."}]


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-test", max_retries=0,
                         timeout=30)


def test_chat_completions_parse(api_server):
    with client(api_server) as c:
        completion = c.chat.completions.parse(model="gpt-4o", messages=MESSAGES,
                                              response_format=Forecast)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Forecast)
    assert parsed == Forecast.model_validate_json(completion.choices[0].message.content)


def test_chat_completions_stream_parse(api_server):
    with client(api_server) as c, c.chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, response_format=Forecast) as stream:
        deltas = sum(1 for e in stream if e.type == "content.delta")
        final = stream.get_final_completion()
    assert deltas > 5
    assert isinstance(final.choices[0].message.parsed, Forecast)


def test_responses_parse(api_server):
    with client(api_server) as c:
        response = c.responses.parse(model="gpt-4o", input="The weather in Paris?",
                                     text_format=Forecast)
    assert isinstance(response.output_parsed, Forecast)


def test_responses_stream_parse(api_server):
    with client(api_server) as c, c.responses.stream(
            model="gpt-4o", input="The weather in Paris?", text_format=Forecast) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert isinstance(final.output_parsed, Forecast)


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_format_with_a_model_schema(api_server, stream):
    with ollama.Client(host=api_server.base, timeout=30) as c:
        text = _ollama_chat(c, stream)
    assert isinstance(Forecast.model_validate_json(text), Forecast)


def _ollama_chat(c, stream: bool) -> str:
    if stream:
        return "".join(part.message.content for part in c.chat(
            model="llama3.2", messages=MESSAGES, format=Forecast.model_json_schema(), stream=True))
    return c.chat(model="llama3.2", messages=MESSAGES,
                  format=Forecast.model_json_schema()).message.content


def test_ollama_format_json(api_server):
    with ollama.Client(host=api_server.base, timeout=30) as c:
        r = c.generate(model="llama3.2", prompt="Weather?", format="json")
    assert isinstance(json.loads(r.response), dict)


# -- forced tool calls (OpenAI chat) ------------------------------------------------------

WEATHER_TOOL = openai.pydantic_function_tool(Forecast, name="report_weather")


@pytest.mark.parametrize("choice", [{"type": "function", "function": {"name": "report_weather"}},
                                    "required"])
def test_a_forced_tool_call_gets_valid_arguments(api_server, choice):
    with client(api_server) as c:
        completion = c.chat.completions.parse(model="gpt-4o", messages=MESSAGES,
                                              tools=[WEATHER_TOOL], tool_choice=choice)
    choice0 = completion.choices[0]
    assert choice0.finish_reason == "tool_calls" and choice0.message.content is None
    [tool_call] = choice0.message.tool_calls
    assert tool_call.function.name == "report_weather" and tool_call.id.startswith("call_")
    assert isinstance(tool_call.function.parsed_arguments, Forecast)


def test_a_forced_tool_call_streams_its_arguments(api_server):
    with client(api_server) as c, c.chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "report_weather"}}) as stream:
        fragments = sum(1 for e in stream if e.type == "tool_calls.function.arguments.delta")
        final = stream.get_final_completion()
    assert fragments > 5
    [tool_call] = final.choices[0].message.tool_calls
    assert final.choices[0].finish_reason == "tool_calls"
    assert isinstance(tool_call.function.parsed_arguments, Forecast)


def test_tool_choice_auto_answers_text(api_server):
    with client(api_server) as c:
        completion = c.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                               tools=[WEATHER_TOOL], tool_choice="auto")
    assert completion.choices[0].message.content and not completion.choices[0].message.tool_calls


# -- forced tool calls (the Responses API) ---------------------------------------------------

RESPONSES_TOOL = openai.pydantic_function_tool(Forecast, name="report_weather")
RESPONSES_TOOLS = [{"type": "function", "name": "report_weather", "strict": True,
                    "parameters": RESPONSES_TOOL["function"]["parameters"]}]


@pytest.mark.parametrize("choice", [{"type": "function", "name": "report_weather"}, "required"])
def test_a_forced_responses_call_parses(api_server, choice):
    with client(api_server) as c:
        response = c.responses.parse(model="gpt-4o", input="The weather in Paris?",
                                     tools=RESPONSES_TOOLS, tool_choice=choice)
    [item] = response.output
    assert item.type == "function_call" and item.name == "report_weather"
    assert item.call_id.startswith("call_")
    assert isinstance(Forecast.model_validate_json(item.arguments), Forecast)


def test_a_forced_responses_call_streams(api_server):
    with client(api_server) as c, c.responses.stream(
            model="gpt-4o", input="The weather in Paris?", tools=RESPONSES_TOOLS,
            tool_choice={"type": "function", "name": "report_weather"}) as stream:
        deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    [item] = final.output
    assert len(deltas) > 5 and item.arguments == "".join(deltas)
    assert isinstance(Forecast.model_validate_json(item.arguments), Forecast)


def test_a_forced_call_of_an_unknown_tool_is_a_bad_request(api_server):
    with client(api_server) as c, pytest.raises(openai.BadRequestError) as caught:
        c.responses.create(model="gpt-4o", input="x", tools=RESPONSES_TOOLS,
                           tool_choice={"type": "function", "name": "nope"})
    assert caught.value.body["param"] == "tool_choice"
    with client(api_server) as c:          # the server keeps serving
        assert c.responses.create(model="gpt-4o", input="x").output_text
