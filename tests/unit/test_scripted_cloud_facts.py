"""What fixtures match in a Gemini, Cohere v2 or Bedrock Converse body: the conversation as
(role, text, tool_call_id) triples, the tool names, the response format."""
from __future__ import annotations

from fastmock.fixtures.match import RequestFacts
from fastmock.providers import scripted


def facts(messages, **kwargs) -> RequestFacts:
    return RequestFacts.from_messages(messages, **kwargs)


def test_gemini_contents_roles_thoughts_and_function_responses():
    doc = {"systemInstruction": {"parts": [{"text": "Be brief."}]},
           "contents": [{"role": "user", "parts": [{"text": "weather?"}]},
                        {"role": "model", "parts": [{"text": "hmm", "thought": True},
                                                    {"functionCall": {"name": "get_weather"}}]},
                        {"role": "user", "parts": [{"functionResponse": {
                            "id": "call_w", "name": "get_weather", "response": {"temp": 21}}}]}]}
    messages = scripted._gemini_messages(doc)
    assert messages == [("system", "Be brief.", None), ("user", "weather?", None),
                        ("assistant", None, None), ("tool", '{"temp":21}', "call_w")]
    f = facts(messages)
    assert (f.user_text, f.tool_call_id, f.has_tool_result, f.turn_index) == (
        "weather?", "call_w", True, 1)
    no_id = {"contents": [{"parts": [{"functionResponse": {"name": "f", "response": "ok"}}]}]}
    assert scripted._gemini_messages(no_id) == [("tool", "ok", "f")]     # the name, without an id
    tools = [{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}, {"googleSearch": {}}]
    assert scripted._gemini_tool_names(tools) == ("a", "b")
    assert scripted._gemini_format({"responseMimeType": "application/json"}) == "json_object"
    assert scripted._gemini_format({"response_mime_type": "application/json",
                                    "response_schema": {"type": "object"}}) == "json_schema"


def test_cohere_tool_messages_with_documents():
    messages = scripted._cohere_messages([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "c1"}], "tool_plan": "look"},
        {"role": "tool", "tool_call_id": "c1",
         "content": [{"type": "document", "document": {"data": {"temp": 21}}}]}])
    assert messages == [("user", "weather?", None), ("assistant", None, None),
                        ("tool", '{"temp":21}', "c1")]


def test_converse_system_tool_results_and_tool_names():
    doc = {"system": [{"text": "Be brief."}],
           "messages": [{"role": "user", "content": [{"text": "weather?"}]},
                        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1"}}]},
                        {"role": "user", "content": [
                            {"toolResult": {"toolUseId": "t1", "content": [{"json": {"t": 1}}]}},
                            {"text": "and tomorrow?"}]}]}
    assert scripted._converse_messages(doc) == [
        ("system", "Be brief.", None), ("user", "weather?", None), ("assistant", None, None),
        ("tool", '{"t":1}', "t1"), ("user", "and tomorrow?", None)]
    assert scripted._tool_names([{"name": "get_weather"}]) == ("get_weather",)
