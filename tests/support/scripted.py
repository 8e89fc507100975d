"""The fixture files of the scripted-answer tests: what each test reads back was prescribed here.

- ``WIRE``: every API x every response kind over raw HTTP (tests/e2e/test_e2e_fixtures.py);
- ``AGENT``: the official clients' agent loops, tools and thinking (tests/sdk/test_sdk_fixtures.py).
"""

WIRE = {"fixtures": [
    # first: the turn after a tool result still has "weather" as its last user message
    {"match": {"toolCallId": "call_t"}, "response": {"content": "It is sunny in Paris."}},
    {"match": {"userMessage": "weather"},
     "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}},
                                {"name": "get_time", "arguments": '{"tz": "CET"}', "id": "call_t"}]}},
    {"match": {"userMessage": "think"},
     "response": {"reasoning": "Let me think hard.", "content": "Done thinking."}},
    {"match": {"userMessage": "boom"},
     "response": {"error": {"message": "slow down", "type": "rate_limit_error"}, "status": 429}},
    {"match": {"inputText": "vec"}, "response": {"embedding": [0.5, -0.25, 1]}},
    {"match": {"userMessage": "hello"},
     "response": {"content": "Hi there, friend!", "id": "fixed-id", "model": "scripted-model",
                  "created": 1234, "usage": {"prompt_tokens": 7, "completion_tokens": 3}}},
    {"match": {"userMessage": "paced"}, "streamingProfile": {"ttft": 300, "tps": 20},
     "response": {"content": "one two three"}},
    {"match": {"userMessage": "chunky"}, "chunkSize": 4, "truncateAfterChunks": 2,
     "response": {"content": "abcdefghijkl"}},
]}
AGENT = {"fixtures": [
    # the agent loop's second turn: a tool result came back
    {"match": {"toolCallId": "call_w"}, "response": {"content": "It is sunny in Paris."}},
    {"match": {"hasToolResult": True}, "response": {"content": "It is sunny in Paris."}},
    {"match": {"userMessage": "weather"},
     "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"},
                                 "id": "call_w"}]}},
    {"match": {"userMessage": "both"},
     "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}},
                                {"name": "get_weather", "arguments": {"city": "Rome"}}]}},
    {"match": {"userMessage": "think"},
     "response": {"reasoning": "Let me think hard.", "content": "Done thinking."}},
]}
# The Gemini, Cohere and Bedrock clients (tests/sdk/test_sdk_cloud_fixtures.py)
CLOUD = {"fixtures": [
    # the agent loop's second turn: the tool result of call_w came back
    {"match": {"toolCallId": "call_w"}, "response": {"content": "It is sunny in Paris."}},
    {"match": {"userMessage": "weather"},
     "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"},
                                 "id": "call_w"}]}},
    {"match": {"userMessage": "both"},
     "response": {"content": "Checking both.",
                  "toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}},
                                {"name": "get_weather", "arguments": {"city": "Rome"}}]}},
    {"match": {"userMessage": "think"},
     "response": {"reasoning": "Let me think hard.", "content": "Done thinking."}},
    {"match": {"userMessage": "hello"}, "response": {"content": "Hi there, friend!"}},
    {"match": {"userMessage": "boom"},
     "response": {"error": {"message": "slow down"}, "status": 429}},
]}
