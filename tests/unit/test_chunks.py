"""Golden bytes of every pre-encoded frame and whole response (fastmock._chunks)."""
from __future__ import annotations

import importlib.machinery
import json

import pytest

from fastmock import _chunks, frames, wire
from fastmock.wire import CLOSE, KEEP_ALIVE, KEEP_ALIVE_10
from fastmock.frames import Frames
from fastmock.protocol import static_answers

SPLICE = _chunks.chat_chunk_splice(b"chatcmpl-abc0000000000000001", 1700000123, b"mock-gpt-4o")
HELLO = Frames("Hello world")
STAMP = b"2026-01-02T03:04:05.000006Z"


def chat_spec(f: Frames, total: int):
    """A stream whose id is chatcmpl-abc0000000000000001."""
    return f.chat_stream(b"chatcmpl-abc", 1, 1700000123, total)


def chat_events(f: Frames, total: int) -> list[bytes]:
    spec = chat_spec(f, total)
    return [spec.frame(n) for n in range(total)]


# -- the extension itself ---------------------------------------------------------

def test_extension_is_the_compiled_module():
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    assert _chunks.__file__.endswith(suffixes), _chunks.__file__
    assert frames.EXTENSION_FILE == _chunks.__file__
    assert not _chunks.__file__.endswith((".py", ".pyc"))


# -- chat.completion.chunk SSE frames -------------------------------------------------

def test_chat_splice_golden():
    assert SPLICE == (b'data: {"id":"chatcmpl-abc0000000000000001","object":"chat.completion.chunk",'
                      b'"created":1700000123,"model":"mock-gpt-4o","choices":[{"index":0,"delta":{')


@pytest.mark.parametrize(("total", "n", "payload"), [
    (2, 1, b'"content":"world"},"finish_reason":"stop"}]}'),
    (3, 1, b'"content":"world "},"finish_reason":null}]}'),    # cycled: parted by a space
    (2, 0, b'"role":"assistant","content":"Hello "},"finish_reason":null}]}'),
    (1, 0, b'"role":"assistant","content":"Hello "},"finish_reason":"stop"}]}'),
    (-1, 5, b'"content":"world "},"finish_reason":null}]}'),
])
def test_chat_frame_golden_bytes(total, n, payload):
    spec = chat_spec(HELLO, total)
    assert spec.frame(n) == SPLICE + payload + b"\n\n"


@pytest.mark.parametrize("total", [1, 2, 7])
def test_chat_frames_are_valid_json_with_the_right_fields(total):
    tokens = HELLO.corpus.tokens
    for n, event in enumerate(chat_events(HELLO, total)):
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        chunk = json.loads(event[6:-2])
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["id"] == "chatcmpl-abc0000000000000001" and chunk["created"] == 1700000123
        choice = chunk["choices"][0]
        cycled = total > len(tokens) and n % len(tokens) == len(tokens) - 1
        assert choice["delta"]["content"] == tokens[n % len(tokens)] + (" " if cycled else "")
        assert ("role" in choice["delta"]) == (n == 0)
        assert choice["finish_reason"] == ("stop" if n == total - 1 else None)


def test_chat_stream_ends_with_done():
    spec = chat_spec(HELLO, 2)
    assert spec.closing_bytes(2) == b"data: [DONE]\n\n"
    assert spec.content_type == b"text/event-stream" and spec.opening == b""


# -- Ollama NDJSON lines ----------------------------------------------------------------

def test_ndjson_line_golden():
    spec = HELLO.ollama_stream(2, lambda: STAMP)
    line = spec.frame(0, STAMP)
    assert line == (b'{"model":"mock-llama3","created_at":"2026-01-02T03:04:05.000006Z",'
                    b'"response":"Hello ","done":false}\n')
    assert json.loads(line) == {"model": "mock-llama3", "created_at": "2026-01-02T03:04:05.000006Z",
                                "response": "Hello ", "done": False}
    # every NDJSON line has the same shape: there is no role or finish marker
    assert spec.frame(1, STAMP) == line.replace(b"Hello ", b"world")
    done = json.loads(spec.closing_bytes(2))
    assert done["done"] is True and done["eval_count"] == 2 and done["created_at"] == STAMP.decode()


def assert_durations_add_up(done: dict) -> None:
    """Ollama's durations: each at least 1 ns, and the total holds its parts."""
    parts = ("load_duration", "prompt_eval_duration", "eval_duration")
    assert all(done[name] >= 1 for name in parts + ("total_duration",)), done
    assert done["total_duration"] >= sum(done[name] for name in parts), done


def test_the_seed_ndjson_done_line_durations_add_up():
    spec = HELLO.ollama_stream(2, lambda: STAMP)
    assert_durations_add_up(json.loads(spec.closing_bytes(2)))


def test_ndjson_done_line():
    splice = _chunks.ollama_splice(b"mock-llama3")
    line = _chunks.ollama_done(splice, STAMP, _chunks.OLLAMA_GENERATE, b"", "stop", 12, 7, 1234)
    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "model": "mock-llama3", "created_at": "2026-01-02T03:04:05.000006Z", "response": "",
        "done": True, "done_reason": "stop", "total_duration": 1234, "load_duration": 1,
        "prompt_eval_count": 12, "prompt_eval_duration": 1, "eval_count": 7, "eval_duration": 1232}
    # never less than 1 ns each, even when no time was measured
    assert_durations_add_up(json.loads(
        _chunks.ollama_done(splice, STAMP, _chunks.OLLAMA_CHAT, b"hi", "length", 1, 1, 0)))
    load = json.loads(_chunks.ollama_done(splice, STAMP, _chunks.OLLAMA_CHAT, b"", "load"))
    assert load == {"model": "mock-llama3", "created_at": STAMP.decode(),
                    "message": {"role": "assistant", "content": ""}, "done": True,
                    "done_reason": "load"}


# -- whole responses --------------------------------------------------------------------

@pytest.mark.parametrize("path", [b"/api/data", b"/health"])
def test_whole_responses(path):
    gets, heads = static_answers(Frames())[path]
    connection = {KEEP_ALIVE: None, KEEP_ALIVE_10: b"keep-alive", CLOSE: b"close"}
    bodies = set()
    for variant in (KEEP_ALIVE, KEEP_ALIVE_10, CLOSE):
        response = gets[variant]
        head, sep, body = response.partition(b"\r\n\r\n")
        assert sep and head + sep == heads[variant]
        lines = head.split(b"\r\n")
        assert lines[0] == b"HTTP/1.1 200 OK"
        fields = dict(line.split(b": ", 1) for line in lines[1:])
        assert len(fields) == len(lines) - 1, "a header is repeated"
        assert fields[b"Content-Type"] == b"application/json"
        assert fields[b"Access-Control-Allow-Origin"] == b"*"
        assert int(fields[b"Content-Length"]) == len(body)
        assert fields.get(b"Connection") == connection[variant]
        json.loads(body)
        bodies.add(body)
    assert len(bodies) == 1


def test_health_body():
    gets, _ = static_answers(Frames())[b"/health"]
    assert gets[KEEP_ALIVE].endswith(b"\r\n\r\n" + b'{"status":"ok"}')


def test_api_data_body_is_the_whole_text():
    f = Frames()
    body = static_answers(f)[b"/api/data"][0][KEEP_ALIVE].partition(b"\r\n\r\n")[2]
    doc = json.loads(body)
    assert doc["object"] == "chat.completion" and doc["model"] == "mock-gpt-4o"
    assert doc["choices"][0]["message"] == {"role": "assistant", "content": _chunks.DEFAULT_TEXT}
    assert doc["usage"]["completion_tokens"] == len(f.corpus) == 209
    assert doc["usage"]["total_tokens"] == doc["usage"]["prompt_tokens"] + len(f.corpus)
    again = static_answers(Frames())[b"/api/data"][0][KEEP_ALIVE]
    assert body == again.partition(b"\r\n\r\n")[2], "not deterministic"


# -- JSON escaping ------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    'say "hi"', "back\\slash", "a\\\"b", "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
    "café ☕ 𝄞 日本", "line\u2028sep\u2029para", "</script>", "", "\\u0041",
])
def test_json_string_round_trips(text):
    encoded = _chunks.json_string(text)
    assert isinstance(encoded, bytes)
    assert json.loads(b'"' + encoded + b'"') == text
    for byte in encoded:
        assert byte >= 0x20, f"raw control byte in {encoded!r}"


def test_json_string_escapes_exactly():
    assert _chunks.json_string('a"b\\c\n\x01') == b'a\\"b\\\\c\\n\\u0001'
    # U+2028/U+2029 are valid JSON but end a line in JavaScript: escaped
    assert _chunks.json_string("\u2028\u2029") == b"\\u2028\\u2029"
    assert _chunks.json_string("é") == "é".encode()


# -- tokens ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    _chunks.DEFAULT_TEXT, "one", "trailing space ", " leading", "a  double", "  ", "x y z",
    "new\nline and\ttab",
])
def test_split_tokens_concatenate_to_the_text(text):
    tokens = _chunks.split_tokens(text)
    assert "".join(tokens) == text
    assert all(tokens)
    assert all(" " not in t[:-1] for t in tokens), "a token spans a space"


def test_split_tokens_of_the_default_text():
    tokens = Frames().corpus.tokens
    assert len(tokens) == _chunks.DEFAULT_TEXT.count(" ") + 1
    assert tokens[0] == "Streaming "


def test_empty_corpus_is_refused():
    with pytest.raises(ValueError):
        Frames("")


# -- a custom corpus and model ---------------------------------------------------------------

def test_custom_corpus_and_quoted_model_give_valid_json():
    text = 'He said "stop" \\ then\nleft\u2028 ☕'
    model = 'my "best" \\ model\n'
    f = Frames(text, model)
    assert f.chat_model == _chunks.json_string(model)
    n = len(f.corpus)
    events = [f.chat_stream(b"chatcmpl-1", 7, 1, n).frame(i) for i in range(n)]
    chunks = [json.loads(event[6:-2]) for event in events]
    assert {c["model"] for c in chunks} == {model}
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == text
    spec = f.ollama_stream(n, lambda: STAMP)
    objects = [json.loads(spec.frame(i, STAMP)) for i in range(n)]
    assert {o["model"] for o in objects} == {model}
    assert "".join(o["response"] for o in objects) == text
    body = static_answers(f)[b"/api/data"][0][KEEP_ALIVE].partition(b"\r\n\r\n")[2]
    doc = json.loads(body)
    assert doc["model"] == model and doc["choices"][0]["message"]["content"] == text


def test_error_body_escapes_the_message():
    body = wire.openai_error_body(400, 'bad "value" \\ \n', "delay_ms")
    assert json.loads(body) == {"error": {"message": 'bad "value" \\ \n',
                                          "type": "invalid_request_error",
                                          "param": "delay_ms", "code": None}}
