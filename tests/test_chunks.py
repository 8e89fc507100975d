"""Golden bytes of every pre-encoded frame and whole response (fastmock._chunks)."""
from __future__ import annotations

import importlib.machinery
import json

import pytest

from fastmock import _chunks, frames, responses
from fastmock.frames import CLOSE, FIRST, KEEP_ALIVE, KEEP_ALIVE_10, LAST, ONLY, PLAIN, Frames

SPLICE = _chunks.chat_chunk_splice(b"chatcmpl-abc", 1700000123, b"mock-gpt-4o")
HELLO = Frames("Hello world")


def frame(table, variant: int, i: int, splice: bytes, chunked: bool = True) -> bytes:
    """A frame exactly as FrameStream puts it on the wire."""
    if chunked:
        return table.size_lines(len(splice))[variant][i] + splice + table.chunked[variant][i]
    return table.no_size_lines[variant][i] + splice + table.raw[variant][i]


# -- the extension itself ---------------------------------------------------------

def test_extension_is_the_compiled_module():
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    assert _chunks.__file__.endswith(suffixes), _chunks.__file__
    assert frames.EXTENSION_FILE == _chunks.__file__
    assert not _chunks.__file__.endswith((".py", ".pyc"))


# -- chat.completion.chunk SSE frames -------------------------------------------------

def test_chat_splice_golden():
    assert SPLICE == (b'data: {"id":"chatcmpl-abc","object":"chat.completion.chunk",'
                      b'"created":1700000123,"model":"mock-gpt-4o","choices":[{"index":0,"delta":{')


@pytest.mark.parametrize(("variant", "i", "payload"), [
    (PLAIN, 1, b'"content":"world"},"finish_reason":null}]}'),
    (FIRST, 0, b'"role":"assistant","content":"Hello "},"finish_reason":null}]}'),
    (LAST, 1, b'"content":"world"},"finish_reason":"stop"}]}'),
    (ONLY, 0, b'"role":"assistant","content":"Hello "},"finish_reason":"stop"}]}'),
])
def test_chat_frame_golden_bytes(variant, i, payload):
    event = SPLICE + payload + b"\n\n"
    raw = frame(HELLO.chat, variant, i, SPLICE, chunked=False)
    assert raw == event
    chunked = frame(HELLO.chat, variant, i, SPLICE)
    assert chunked == b"%x\r\n" % len(event) + event + b"\r\n"


def test_chat_frames_are_valid_json_with_the_right_fields():
    table = HELLO.chat
    for variant in (PLAIN, FIRST, LAST, ONLY):
        for i, token in enumerate(HELLO.corpus.tokens):
            event = frame(table, variant, i, SPLICE, chunked=False)
            assert event.startswith(b"data: ") and event.endswith(b"\n\n")
            chunk = json.loads(event[6:-2])
            assert chunk["object"] == "chat.completion.chunk"
            assert chunk["id"] == "chatcmpl-abc" and chunk["created"] == 1700000123
            choice = chunk["choices"][0]
            assert choice["delta"]["content"] == token
            assert ("role" in choice["delta"]) == (variant in (FIRST, ONLY))
            assert choice["finish_reason"] == ("stop" if variant in (LAST, ONLY) else None)


@pytest.mark.parametrize("splice_len", [0, 1, 15, 16, 200, 4095, 4096])
def test_chunk_size_line_is_splice_plus_tail(splice_len):
    table = Frames().chat
    lines = table.size_lines(splice_len)
    assert len(lines) == 4
    for variant in range(4):
        assert len(lines[variant]) == table.count
        for i in range(table.count):
            tail = table.raw[variant][i]
            assert lines[variant][i] == b"%x\r\n" % (splice_len + len(tail))
            assert table.chunked[variant][i] == tail + b"\r\n"


def test_chunked_frame_decodes_to_the_raw_frame():
    table = Frames().chat
    for i in range(table.count):
        wire = frame(table, PLAIN, i, SPLICE)
        size_line, _, rest = wire.partition(b"\r\n")
        size = int(size_line, 16)
        assert rest[size:] == b"\r\n"
        assert rest[:size] == frame(table, PLAIN, i, SPLICE, chunked=False)


def test_raw_variant_has_no_framing():
    table = HELLO.chat
    assert table.no_size_lines == ((b"", b""),) * 4
    for variant in range(4):
        for tail in table.raw[variant]:
            assert tail.endswith(b"}\n\n") and not tail.endswith(b"\r\n")


def test_done_and_zero_chunk_terminator():
    table = HELLO.chat
    assert table.done_raw == b"data: [DONE]\n\n"
    assert table.done_chunked == b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
    assert len(b"data: [DONE]\n\n") == 0xE


# -- Ollama NDJSON lines ----------------------------------------------------------------

def test_ndjson_line_golden():
    table = HELLO.ollama
    splice = b'{"model":"mock-llama3","created_at":"2026-01-02T03:04:05.000006Z'
    line = frame(table, PLAIN, 0, splice, chunked=False)
    assert line == (b'{"model":"mock-llama3","created_at":"2026-01-02T03:04:05.000006Z",'
                    b'"response":"Hello ","done":false}\n')
    assert json.loads(line) == {"model": "mock-llama3", "created_at": "2026-01-02T03:04:05.000006Z",
                                "response": "Hello ", "done": False}
    chunked = frame(table, PLAIN, 0, splice)
    assert chunked == b"%x\r\n" % len(line) + line + b"\r\n"
    # every variant of an NDJSON line is the same line: there is no role or finish marker
    assert table.raw[PLAIN] == table.raw[FIRST] == table.raw[LAST] == table.raw[ONLY]
    assert table.done_raw == b"" and table.done_chunked == b"0\r\n\r\n"


def test_ndjson_done_line():
    line = _chunks.ollama_generate_done(b"mock-llama3", b"2026-01-02T03:04:05.000006Z", 7, 1234, "stop")
    assert line.endswith(b"}\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "model": "mock-llama3", "created_at": "2026-01-02T03:04:05.000006Z", "response": "",
        "done": True, "done_reason": "stop", "total_duration": 1234, "load_duration": 1,
        "prompt_eval_count": 12, "prompt_eval_duration": 1, "eval_count": 7, "eval_duration": 1234}


# -- whole responses --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["api_data", "health"])
def test_whole_responses(name):
    gets, heads = getattr(Frames(), name)
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
    gets, _ = Frames().health
    assert gets[KEEP_ALIVE].endswith(b"\r\n\r\n" + b'{"status":"ok"}')


def test_api_data_body_is_the_whole_text():
    f = Frames()
    body = f.api_data[0][KEEP_ALIVE].partition(b"\r\n\r\n")[2]
    doc = json.loads(body)
    assert doc["object"] == "chat.completion" and doc["model"] == "mock-gpt-4o"
    assert doc["choices"][0]["message"] == {"role": "assistant", "content": _chunks.DEFAULT_TEXT}
    assert doc["usage"]["completion_tokens"] == len(f.corpus) == f.chat.count
    assert doc["usage"]["total_tokens"] == doc["usage"]["prompt_tokens"] + len(f.corpus)
    assert body == Frames().api_data[0][KEEP_ALIVE].partition(b"\r\n\r\n")[2], "not deterministic"


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
    splice = _chunks.chat_chunk_splice(b"chatcmpl-1", 1, f.chat_model)
    n = f.chat.count
    deltas = []
    for i in range(n):
        variant = ONLY if n == 1 else FIRST if i == 0 else LAST if i == n - 1 else PLAIN
        chunk = json.loads(frame(f.chat, variant, i, splice, chunked=False)[6:-2])
        assert chunk["model"] == model
        deltas.append(chunk["choices"][0]["delta"]["content"])
    assert "".join(deltas) == text
    stamp = b"2026-01-02T03:04:05.000006Z"
    lines = [frame(f.ollama, PLAIN, i, b'{"model":"' + f.ollama_model + b'","created_at":"' + stamp,
                   chunked=False) for i in range(f.ollama.count)]
    objects = [json.loads(line) for line in lines]
    assert {o["model"] for o in objects} == {model}
    assert "".join(o["response"] for o in objects) == text
    body = f.api_data[0][KEEP_ALIVE].partition(b"\r\n\r\n")[2]
    doc = json.loads(body)
    assert doc["model"] == model and doc["choices"][0]["message"]["content"] == text


def test_error_body_escapes_the_message():
    body = responses.openai_error_body(400, 'bad "value" \\ \n', "delay_ms")
    assert json.loads(body) == {"error": {"message": 'bad "value" \\ \n',
                                          "type": "invalid_request_error",
                                          "param": "delay_ms", "code": None}}
