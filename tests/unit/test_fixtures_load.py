"""Fixture files: aimock's own load unchanged, responses compile once, every bad file gets one clear line."""
import json
from pathlib import Path

import pytest

from fastmock._chunks import split_tokens
from fastmock.fixtures.errors import FixtureError, Unimplemented
from fastmock.fixtures.load import _decode, _decode_each, load_paths, parse_body, parse_document
from fastmock.fixtures.response import TEXT, ToolCall
from fastmock.fixtures.text import Text

AIMOCK = Path(__file__).resolve().parent.parent / "data" / "aimock-fixtures"


def one(fixture: dict):
    """The compiled form of a single fixture."""
    return parse_document({"fixtures": [fixture]}, "t.json")[0]


def write(tmp_path, doc, name="f.json") -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


# -- aimock's example files ---------------------------------------------------------------

def test_aimocks_example_directory_loads_unchanged():
    loaded = load_paths([AIMOCK])
    labels = [f.label.replace(str(AIMOCK) + "/", "") for f in loaded.fixtures]
    # aimock's order: a directory's files by name, then its subdirectories by name
    assert labels[:5] == ["example-greeting.json#0", "example-greeting.json#1",
                          "example-multi-turn.json#0", "example-multi-turn.json#1",
                          "example-tool-call.json#0"]
    assert labels[5:7] == ["openai-live-client.json#0", "openai-live-managed.json#0"]
    assert labels[7] == "examples/adk/gemini-agent.json#0"
    assert len(loaded.fixtures) == 32
    kinds = {}
    for f in loaded.fixtures:
        kinds[f.response.listing_kind] = kinds.get(f.response.listing_kind, 0) + 1
    assert kinds == {"text": 15, "toolCalls": 9, "contentWithToolCalls": 1, "embedding": 4,
                     "error": 1, "live": 2}


def test_aimocks_config_files_and_live_fixtures_are_reported_not_silently_dropped():
    loaded = load_paths([AIMOCK])
    assert sorted(Path(p).name for p in loaded.skipped) == [
        "a2a-config.json", "agui-text-response.json", "aimock-config.json", "chaos-config.json",
        "full-suite.json", "mcp-config.json", "record-config.json", "vector-config.json"]
    assert loaded.unimplemented.names() == ["response.live", 'match.endpoint "openai-live"']
    notices = loaded.notices()
    assert notices[0].startswith("fixtures: response.live is not implemented by fastmock "
                                 "(these fixtures never match): 2 fixtures, first in ")
    assert notices[0].endswith("openai-live-client.json fixture 0")
    assert any(line.endswith('full-suite.json: skipped, it has no "fixtures" array') for line in notices)
    assert all(f.match.never for f in loaded.fixtures if f.response.listing_kind == "live")


@pytest.mark.parametrize("name", sorted(str(p.relative_to(AIMOCK)) for p in AIMOCK.rglob("*.json")
                                        if "fixtures" in json.loads(p.read_text())))
def test_each_aimock_fixture_file_loads_on_its_own(name):
    loaded = load_paths([AIMOCK / name])
    assert loaded.fixtures and not loaded.skipped


def test_aimocks_tool_call_example_compiles_to_json_arguments():
    [f] = load_paths([AIMOCK / "example-tool-call.json"]).fixtures
    [call] = f.response.tool_calls
    assert call.name == "get_weather" and call.id is None
    assert call.arguments == '{"location":"San Francisco","unit":"fahrenheit"}'   # JSON.stringify
    assert call.arguments_text.json == b'{\\"location\\":\\"San Francisco\\",\\"unit\\":\\"fahrenheit\\"}'
    assert call.arguments_raw == call.arguments.encode()


def test_aimocks_blocks_example_keeps_the_tool_call_first():
    [f] = load_paths([AIMOCK / "examples/llm/blocks-tool-first.json"]).fixtures
    first, second = f.response.ordered()
    assert isinstance(first, ToolCall) and first.arguments == '{"city": "NYC"}'   # a string stays as written
    assert isinstance(second, Text) and second.text == "Let me check the weather in NYC for you."
    assert f.response.content.text == second.text and f.response.tool_calls == (first,)


def test_aimocks_streaming_profile_example():
    [f] = load_paths([AIMOCK / "examples/llm/streaming-physics.json"]).fixtures
    p = f.profile
    assert (p.ttft_ms, p.tps, p.jitter) == (200, 40, 0.1)

    class Fixed:
        def random(self):
            return 1.0                           # the top of the jitter range
    assert p.delay_ms(0, 50, Fixed()) == pytest.approx(220)
    assert p.delay_ms(1, 50, Fixed()) == pytest.approx(27.5)


# -- what a response compiles to ----------------------------------------------------------

def test_text_is_cut_like_the_corpus_and_escaped_once():
    f = one({"match": {}, "response": {"content": 'Say "hi"\nto everyone '}})
    text = f.response.content
    assert [t.decode() for t in text.escaped] == [json.dumps(t)[1:-1] for t in split_tokens('Say "hi"\nto everyone ')]
    assert text.json == b'Say \\"hi\\"\\nto everyone '
    assert len(text) == 3 and f.chunk_size is None


def test_chunk_size_cuts_every_n_characters_content_reasoning_and_arguments():
    f = one({"match": {}, "chunkSize": 4,
             "response": {"content": "héllo wörld", "reasoning": "think hard",
                          "toolCalls": [{"name": "f", "arguments": {"a": 1}}]}})
    assert [c.decode() for c in f.response.content.escaped] == ["héll", "o wö", "rld"]
    assert [c.decode() for c in f.response.reasoning.escaped] == ["thin", "k ha", "rd"]
    assert b"".join(f.response.tool_calls[0].arguments_text.escaped) == b'{\\"a\\":1}'
    assert len(f.response.tool_calls[0].arguments_text) == 2


def test_content_given_as_an_object_becomes_its_json_text():
    f = one({"match": {}, "response": {"content": {"city": "Paris", "temp": [1, 2]}}})
    assert f.response.content.text == '{"city":"Paris","temp":[1,2]}'


def test_a_lone_surrogate_is_escaped_not_an_error():
    f = one({"match": {}, "response": {"content": "a\ud800b"}})
    assert json.loads(b'"' + f.response.content.json + b'"') == "a\ud800b"


def test_arguments_with_a_lone_surrogate_are_still_valid_utf8_json():
    [call] = one({"match": {}, "response": {"toolCalls": [{"name": "f", "arguments": {"s": "\ud800"}}]}}
                 ).response.tool_calls
    assert json.loads(call.arguments_raw) == {"s": "\ud800"}
    assert json.loads(b'"' + call.arguments_text.json + b'"') == call.arguments


def test_tool_calls_keep_their_ids_and_order():
    f = one({"match": {}, "response": {"toolCalls": [
        {"name": "a", "arguments": "{}", "id": "call_1"}, {"name": "b", "arguments": {}}]}})
    a, b = f.response.tool_calls
    assert (a.name, a.id, a.id_json, b.name, b.id) == ("a", "call_1", b"call_1", "b", None)
    assert f.response.listing_kind == "toolCalls" and f.response.content is None


def test_content_with_tool_calls_orders_text_first():
    f = one({"match": {}, "response": {"content": "Checking.", "toolCalls": [{"name": "a", "arguments": {}}]}})
    text, call = f.response.ordered()
    assert text.text == "Checking." and call.name == "a"
    assert f.response.listing_kind == "contentWithToolCalls"


def test_blocks_that_repeat_content_and_tool_calls_are_accepted():
    f = one({"match": {}, "response": {
        "content": "ab", "toolCalls": [{"name": "t", "arguments": {}}],
        "blocks": [{"type": "text", "text": "a"}, {"type": "toolCall", "name": "t", "arguments": {}},
                   {"type": "text", "text": "b"}]}})
    assert [type(b).__name__ for b in f.response.ordered()] == ["Text", "ToolCall", "Text"]
    assert f.response.content.text == "ab"


def test_empty_blocks_mean_no_blocks():
    f = one({"match": {}, "response": {"content": "hi", "blocks": []}})
    assert f.response.blocks is None and f.response.content.text == "hi"


def test_embedding_and_error_responses():
    e = one({"match": {"inputText": "x"}, "response": {"embedding": [0.5, -1, 2]}})
    assert e.response.embedding.vector == (0.5, -1.0, 2.0) and e.response.embedding.json == b"[0.5,-1,2]"
    assert e.match.endpoints == {"embedding"}
    r = one({"match": {}, "response": {"error": {"message": "slow down", "type": "rate_limit_error",
                                                 "code": "rate_limited"}, "status": 429, "retryAfter": 3}})
    err = r.response.error
    assert (err.status, err.message, err.type, err.code, err.param, err.retry_after) == (
        429, "slow down", "rate_limit_error", "rate_limited", None, 3)
    assert r.match.endpoints == {"chat", "embedding"}
    assert one({"match": {}, "response": {"error": {"message": "boom"}}}).response.error.status == 500


def test_overrides_are_escaped_once():
    f = one({"match": {}, "response": {"content": "hi", "id": 'chatcmpl-"x"', "model": "gpt-4-turbo",
                                       "created": 1700000000, "finishReason": "length",
                                       "systemFingerprint": "fp_1",
                                       "usage": {"prompt_tokens": 3, "completion_tokens": 1,
                                                 "completion_tokens_details": {"reasoning_tokens": 0}}}})
    r = f.response
    assert (r.id, r.model, r.created, r.finish_reason, r.system_fingerprint) == (
        b'chatcmpl-\\"x\\"', b"gpt-4-turbo", 1700000000, "length", b"fp_1")
    assert r.usage["completion_tokens_details"] == {"reasoning_tokens": 0}


def test_pacing_fields():
    f = one({"match": {}, "response": {"content": "hi"}, "latency": 5, "truncateAfterChunks": 2,
             "streamingProfile": {"tps": 10}})
    assert (f.latency_ms, f.truncate_after, f.profile.ttft_ms, f.profile.jitter) == (5, 2, None, 0.0)
    assert f.profile.delay_ms(0, 50, None) == 100.0      # no ttft: the first chunk waits 1/tps too


def test_a_profile_without_tps_falls_back_to_the_default_delay():
    f = one({"match": {}, "response": {"content": "hi"}, "streamingProfile": {"ttft": 30}})
    assert f.profile.delay_ms(0, 50, None) == 30 and f.profile.delay_ms(1, 50, None) == 50


def test_aimocks_chaos_fields_are_validated_kept_and_reported():
    docs, unimplemented = parse_body(json.dumps({"fixtures": [
        {"match": {}, "response": {"content": "hi"}, "chaos": {"dropRate": 0.5, "latencyMs": 10}}]}).encode())
    assert docs[0].chaos == {"dropRate": 0.5, "latencyMs": 10}
    assert docs[0].wire_chaos is None
    assert unimplemented.names() == ["chaos"]


def test_wire_chaos_fields_are_compiled_and_not_reported():
    docs, unimplemented = parse_body(json.dumps({"fixtures": [
        {"match": {}, "response": {"content": "hi"},
         "chaos": {"fragment": "bytes:4", "crlf": True, "keepalive_ms": 100, "fail_after": 2,
                   "fail_mode": "reset"}}]}).encode())
    wire = docs[0].wire_chaos
    assert (wire.fragment_bytes, wire.crlf, wire.keepalive_ms) == (4, True, 100)
    assert (wire.fail_after, wire.fail_mode) == (2, "reset")
    assert unimplemented.names() == []


def test_unimplemented_fields_are_reported_once_by_name_with_a_count():
    loaded_doc = {"$comment": "notes are fine", "fixtures": [
        {"match": {}, "response": {"content": "a", "webSearches": ["q"]}, "disconnectAfterMs": 5},
        {"match": {}, "response": {"content": "b", "webSearches": ["r"], "role": "assistant"}},
        {"match": {"endpoint": "image"}, "response": {"image": {"url": "https://x"}}},
        {"match": {}, "response": {"error": {"message": "x", "metadata": {}}, "fallthrough": False}},
    ]}
    fixtures, unimplemented = parse_body(json.dumps(loaded_doc).encode(), "body")
    assert len(fixtures) == 4
    assert unimplemented.seen == {
        "disconnectAfterMs": [1, "body fixture 0", False],
        "response.webSearches": [2, "body fixture 0", False],
        "response.role": [1, "body fixture 1", False],
        "response.image": [1, "body fixture 2", True],
        'match.endpoint "image"': [1, "body fixture 2", True],
        "response.error.metadata": [1, "body fixture 3", False],
        "response.fallthrough": [1, "body fixture 3", False],
    }
    assert fixtures[2].match.never and fixtures[2].response.listing_kind == "image"


def test_paths_are_read_in_the_order_given(tmp_path):
    a = write(tmp_path, {"fixtures": [{"match": {}, "response": {"content": "a"}}]}, "b.json")
    b = write(tmp_path, {"fixtures": [{"match": {}, "response": {"content": "b"}}]}, "a.json")
    loaded = load_paths([a, b])
    assert [f.response.content.text for f in loaded.fixtures] == ["a", "b"]
    assert [f.index for f in loaded.fixtures] == [0, 0]


def test_a_directory_ignores_other_files(tmp_path):
    write(tmp_path, {"fixtures": [{"match": {}, "response": {"content": "a"}}]}, "x.json")
    write(tmp_path, "not json at all", "notes.txt")
    assert len(load_paths([tmp_path]).fixtures) == 1


# -- bad files: one line naming the file, the fixture, the field, the problem ------------

BAD_FIXTURES = [
    ({"match": {}}, "response: is missing"),
    ({"response": {"content": "x"}}, "match: is missing"),
    ({"match": {}, "response": {"content": "x"}, "respone": 1}, "respone: unknown field"),
    ([1], "must be an object, got an array"),
    ({"match": [], "response": {"content": "x"}}, "match: must be an object, got an array"),
    ({"match": {"usrMessage": "x"}, "response": {"content": "x"}}, "match.usrMessage: unknown field"),
    ({"match": {"predicate": "x"}, "response": {"content": "x"}},
     "match.predicate: unknown field (a JavaScript function in aimock; JSON cannot hold one)"),
    ({"match": {"userMessage": 3}, "response": {"content": "x"}},
     'match.userMessage: must be a string or {"regex": "..."}, got a number'),
    ({"match": {"userMessage": {"regex": "("}}, "response": {"content": "x"}},
     "match.userMessage.regex: is not a valid regular expression (missing ), unterminated subpattern at position 0)"),
    ({"match": {"userMessage": {"regex": 1}}, "response": {"content": "x"}},
     "match.userMessage.regex: must be a string, got a number"),
    ({"match": {"userMessage": {"regex": "a", "flags": "g"}}, "response": {"content": "x"}},
     'match.userMessage.flags: must be letters among "imsu", got "g"'),
    ({"match": {"userMessage": {"pattern": "a"}}, "response": {"content": "x"}},
     'match.userMessage.pattern: unknown field (a regex is {"regex": "...", "flags": "i"})'),
    ({"match": {"systemMessage": []}, "response": {"content": "x"}},
     "match.systemMessage: must list at least one substring"),
    ({"match": {"systemMessage": ["a", 2]}, "response": {"content": "x"}},
     'match.systemMessage[1]: must be a string or {"regex": "..."}, got a number'),
    ({"match": {"turnIndex": -1}, "response": {"content": "x"}},
     "match.turnIndex: must be a non-negative integer, got -1"),
    ({"match": {"sequenceIndex": 1.5}, "response": {"content": "x"}},
     "match.sequenceIndex: must be a non-negative integer, got 1.5"),
    ({"match": {"turnIndex": True}, "response": {"content": "x"}},
     "match.turnIndex: must be a non-negative integer, got true"),
    ({"match": {"hasToolResult": "yes"}, "response": {"content": "x"}},
     "match.hasToolResult: must be a boolean, got a string"),
    ({"match": {"toolResultContains": ""}, "response": {"content": "x"}},
     "match.toolResultContains: must not be empty"),
    ({"match": {"endpoint": "chats"}, "response": {"content": "x"}},
     'match.endpoint: must be "chat" or "embedding" (or another of aimock\'s endpoints, which never match here), got "chats"'),
    ({"match": {"endpoint": "embedding"}, "response": {"content": "x"}},
     'match.endpoint: is "embedding", which this response cannot answer'),
    ({"match": {}, "response": "hi"}, "response: must be an object, got a string"),
    ({"match": {}, "response": {}}, "response: says nothing: give content, toolCalls, blocks, embedding or error"),
    ({"match": {}, "response": {"text": "hi"}}, "response.text: unknown field"),
    ({"match": {}, "response": {"content": ""}}, "response.content: is empty"),
    ({"match": {}, "response": {"content": 5}}, "response.content: must be a string or an object, got a number"),
    ({"match": {}, "response": {"toolCalls": []}}, "response: says nothing: no content, and toolCalls is empty"),
    ({"match": {}, "response": {"toolCalls": {}}}, "response.toolCalls: must be an array, got an object"),
    ({"match": {}, "response": {"toolCalls": ["f"]}}, "response.toolCalls[0]: must be an object, got a string"),
    ({"match": {}, "response": {"toolCalls": [{"arguments": {}}]}},
     "response.toolCalls[0].name: must be a non-empty string"),
    ({"match": {}, "response": {"toolCalls": [{"name": "f"}]}},
     "response.toolCalls[0].arguments: is missing (give {} for a call without arguments)"),
    ({"match": {}, "response": {"toolCalls": [{"name": "f", "arguments": "{city"}]}},
     "response.toolCalls[0].arguments: is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ({"match": {}, "response": {"toolCalls": [{"name": "f", "arguments": "[1]"}]}},
     "response.toolCalls[0].arguments: must be a JSON object, got an array"),
    ({"match": {}, "response": {"toolCalls": [{"name": "f", "arguments": 3}]}},
     "response.toolCalls[0].arguments: must be an object or a JSON string, got a number"),
    ({"match": {}, "response": {"toolCalls": [{"name": "f", "arguments": {}, "id": 7}]}},
     "response.toolCalls[0].id: must be a non-empty string"),
    ({"match": {}, "response": {"toolCalls": [{"name": "f", "arguments": {}, "type": "function"}]}},
     "response.toolCalls[0].type: unknown field"),
    ({"match": {}, "response": {"blocks": {}}}, "response.blocks: must be an array, got an object"),
    ({"match": {}, "response": {"blocks": [{"type": "image"}]}},
     'response.blocks[0].type: must be "text" or "toolCall", got "image"'),
    ({"match": {}, "response": {"blocks": [{"type": "text", "text": ""}]}},
     "response.blocks[0].text: must be a non-empty string"),
    ({"match": {}, "response": {"blocks": [{"type": "toolCall", "name": "f"}]}},
     "response.blocks[0].arguments: is missing (give {} for a call without arguments)"),
    ({"match": {}, "response": {"content": "x", "blocks": [{"type": "text", "text": "y"}]}},
     "response.content: differs from the text of blocks (blocks are what is sent; drop content or make it their text)"),
    ({"match": {}, "response": {"toolCalls": [{"name": "a", "arguments": {}}],
                                "blocks": [{"type": "toolCall", "name": "b", "arguments": {}}]}},
     "response.toolCalls: differ from the tool calls of blocks (blocks are what is sent; drop toolCalls or make them agree)"),
    ({"match": {}, "response": {"content": "x", "reasoning": 1}}, "response.reasoning: must be a string, got a number"),
    ({"match": {}, "response": {"content": "x", "embedding": [1]}},
     "response.content: cannot be combined with embedding: a response is text and tool calls, an embedding, or an error"),
    ({"match": {}, "response": {"error": {"message": "x"}, "embedding": [1]}},
     "response.embedding: cannot be combined with error: a response is text and tool calls, an embedding, or an error"),
    ({"match": {}, "response": {"embedding": []}}, "response.embedding: must be a non-empty array of numbers"),
    ({"match": {}, "response": {"embedding": [1, "2"]}}, "response.embedding[1]: must be a number, got a string"),
    ({"match": {}, "response": {"embedding": [True]}}, "response.embedding[0]: must be a number, got a boolean"),
    ({"match": {}, "response": {"error": "boom"}}, "response.error: must be an object, got a string"),
    ({"match": {}, "response": {"error": {"message": ""}}}, "response.error.message: must be a non-empty string"),
    ({"match": {}, "response": {"error": {"message": "x", "kind": 1}}}, "response.error.kind: unknown field"),
    ({"match": {}, "response": {"error": {"message": "x", "code": 1.5}}},
     "response.error.code: must be a string or an integer, got a number"),
    ({"match": {}, "response": {"error": {"message": "x"}, "status": 99}},
     "response.status: must be an integer from 200 to 999, got 99"),
    ({"match": {}, "response": {"error": {"message": "x"}, "status": "429"}},
     'response.status: must be an integer from 200 to 999, got "429"'),
    ({"match": {}, "response": {"error": {"message": "x"}, "retryAfter": -1}},
     "response.retryAfter: must be a whole number of seconds >= 0"),
    ({"match": {}, "response": {"content": "x", "status": 200}}, "response.status: applies only to an error response"),
    ({"match": {}, "response": {"error": {"message": "x"}, "model": "m"}},
     "response.model: does not apply to an error response"),
    ({"match": {}, "response": {"content": "x", "created": -5}},
     "response.created: must be a non-negative number (Unix seconds)"),
    ({"match": {}, "response": {"content": "x", "id": 5}}, "response.id: must be a string, got a number"),
    ({"match": {}, "response": {"content": "x", "usage": []}}, "response.usage: must be an object, got an array"),
    ({"match": {}, "response": {"content": "x", "usage": {"prompt_tokens": "3"}}},
     "response.usage.prompt_tokens: must be a number, got a string"),
    ({"match": {}, "response": {"content": "x", "usage": {"prompt_tokens_details": {"cached_tokens": None}}}},
     "response.usage.prompt_tokens_details.cached_tokens: must be a number, got null"),
    ({"match": {}, "response": {"content": "x"}, "chunkSize": 0}, "chunkSize: must be an integer >= 1, got 0"),
    ({"match": {}, "response": {"content": "x"}, "truncateAfterChunks": 0},
     "truncateAfterChunks: must be an integer >= 1, got 0"),
    ({"match": {}, "response": {"content": "x"}, "latency": -1}, "latency: must be >= 0, got -1"),
    ({"match": {}, "response": {"content": "x"}, "streamingProfile": {"tps": 0}},
     "streamingProfile.tps: must be > 0, got 0"),
    ({"match": {}, "response": {"content": "x"}, "streamingProfile": {"jitter": 2}},
     "streamingProfile.jitter: must be from 0 to 1, got 2"),
    ({"match": {}, "response": {"content": "x"}, "streamingProfile": {"ttft": "1"}},
     "streamingProfile.ttft: must be a number, got a string"),
    ({"match": {}, "response": {"content": "x"}, "streamingProfile": {"speed": 1}},
     "streamingProfile.speed: unknown field"),
    ({"match": {}, "response": {"content": "x"}, "streamingProfile": 5},
     "streamingProfile: must be an object, got a number"),
    ({"match": {}, "response": {"content": "x"}, "chaos": {"dropRate": 2}},
     "chaos.dropRate: must be from 0 to 1, got 2"),
    ({"match": {}, "response": {"content": "x"}, "chaos": {"latencyMs": 40000}},
     "chaos.latencyMs: must be at most 30000, got 40000"),
    ({"match": {}, "response": {"content": "x"}, "chaos": {"explode": 1}}, "chaos.explode: unknown field"),
    ({"match": {}, "response": {"content": "x"}, "chaos": {"fragment": 1}},
     "chaos.fragment: fragment must be a number of pieces from 2 to 64, or bytes:K, got '1'"),
    ({"match": {}, "response": {"content": "x"}, "chaos": {"fail_mode": "boom"}},
     "chaos.fail_mode: fail_mode must be close, reset or truncate, got 'boom'"),
]


@pytest.mark.parametrize(("fixture", "problem"), BAD_FIXTURES)
def test_a_bad_fixture_names_file_index_field_and_problem(tmp_path, fixture, problem):
    good = {"match": {}, "response": {"content": "fine"}}
    path = write(tmp_path, {"fixtures": [good, fixture]})
    with pytest.raises(FixtureError) as info:
        load_paths([path])
    assert str(info.value) == f"{path}: fixture 1: {problem}"
    assert info.value.index == 1 and "\n" not in str(info.value)


@pytest.mark.parametrize(("content", "problem"), [
    ("{", "is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ("[]", 'must be an object {"fixtures": [...]}, got an array'),
    ('{"fixture": []}', 'fixtures: is missing: a fixture file is {"fixtures": [...]}'),
    ('{"fixtures": {}}', "fixtures: must be an array, got an object"),
])
def test_a_bad_file_names_the_file_and_the_problem(tmp_path, content, problem):
    path = write(tmp_path, content)
    with pytest.raises(FixtureError) as info:
        load_paths([path])
    assert str(info.value) == f"{path}: {problem}"


# A plain {"fixtures": [...]} is decoded one fixture at a time (load._decode_each); any
# other document, or a first problem, is decoded whole: both must say the same.
SAME_EITHER_WAY = [
    '{"top": 1, "fixtures": [{"match": {}, "response": {"content": "a"}}], "$comment": "", "end": []}',
    ' \n{ "fixtures" : [ ] } \n',
    '{"fixtures": [{"match": {}, "response": {"content": "a"}}], '
    '"fixtures": [{"match": {}, "response": {"content": "b"}}]}',          # the last one counts
    '{"fixtures": [{"match": {}, "response": {"content": 1}}, {oops}]}',   # the JSON error first
    '{"fixtures": [{"match": {}, "response": {"content": 1}}], "x": 1} extra',
    '{"fixtures": [{"match": {}, "response": {"content": "a"}}],}',
    '{"x": {"y": [1, 2]}, "fixtures": [{"match": {}, "response": {"content": "a", "role": "r"}}]}',
    '\ufeff{"fixtures": [{"match": {"userMessage": "\\ud800"}, "response": {"content": "a"}}]}',
    '{"fixtures": [1]}',
]


def compiled(parse, data: bytes):
    """What ``parse`` (data -> fixtures, unimplemented) makes of ``data``, or its error."""
    try:
        fixtures, unimplemented = parse(data)
    except FixtureError as exc:
        return str(exc)
    return [(f.label, f.match.raw, f.response.listing_kind) for f in fixtures], unimplemented.seen


def decoded_whole(data: bytes):
    """parse_body as it was: the whole document decoded, then checked."""
    unimplemented = Unimplemented()
    return parse_document(_decode(data, "body"), "body", unimplemented), unimplemented


@pytest.mark.parametrize("content", SAME_EITHER_WAY)
def test_fixtures_decoded_one_at_a_time_are_those_of_the_whole_document(content):
    data = content.encode("utf-8")
    assert compiled(lambda d: parse_body(d, "body"), data) == compiled(decoded_whole, data)


def test_a_plain_document_is_decoded_one_fixture_at_a_time():
    ways = [_decode_each(c.encode("utf-8"), "body", Unimplemented(), {}) is not None
            for c in SAME_EITHER_WAY]
    assert ways == [True, True, False, False, False, False, True, True, False]


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b'{"fixtures": ["\xff"]}')
    with pytest.raises(FixtureError, match=r"f\.json: is not UTF-8 text$"):
        load_paths([path])


def test_a_missing_path(tmp_path):
    with pytest.raises(FixtureError) as info:
        load_paths([tmp_path / "nope.json"])
    assert str(info.value) == f"{tmp_path / 'nope.json'}: no such file or directory"


def test_a_broken_file_in_a_directory_stops_loading(tmp_path):
    write(tmp_path, {"fixtures": [{"match": {}, "response": {"content": "a"}}]}, "a.json")
    bad = write(tmp_path, "{oops", "b.json")
    with pytest.raises(FixtureError, match=rf"^{bad}: is not valid JSON"):
        load_paths([tmp_path])


def test_a_config_file_named_on_its_own_is_an_error():
    with pytest.raises(FixtureError, match=r'chaos-config\.json: fixtures: is missing'):
        load_paths([AIMOCK / "examples/chaos/chaos-config.json"])


def test_a_control_api_body_error_names_the_body():
    with pytest.raises(FixtureError) as info:
        parse_body(b'{"fixtures": [{"match": {}, "response": {"content": 1}}]}')
    assert str(info.value) == "request body: fixture 0: response.content: must be a string or an object, got a number"


def test_compiled_text_responses_say_what_they_are():
    f = one({"match": {"userMessage": "hi"}, "response": {"content": "hello"}})
    assert f.response.kind == TEXT and f.label == "t.json#0" and repr(f) == "<Fixture t.json#0 text>"
