"""The compiled request path (fastmock._fastpath) answers exactly what the Python path answers.

Every body below is sent three ways to the real engine on the fake loop: whole in one read
(the engine hands it to FastPath), head and body in two reads (httptools parses it and the
protocol hands it to FastPath.answer), and with a control that changes nothing
(``X-Mock-Echo: 0``: the Python path, fastmock.providers). The journal's entries of the
three must be the same too. The three answers must be the same
bytes once ids, times and durations are masked; and the fast path must have answered the
first two whenever the body is an ordinary one, and declined whatever it does not
understand, so that error answers stay those of the Python path.
"""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastmock._fastpath import FastPath
from fastmock.ids import IDS
from support.fakes import FRAMES, Client, make_app
from support.http import parse_responses

ID = re.compile(rb"(chatcmpl-|cmpl-|resp_|msg_|req_|call_|toolu_)[0-9a-f]{24}")
CREATED = re.compile(rb'"(created|created_at)":\d+')
STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
DURATIONS = re.compile(rb'"(total_duration|eval_duration)":\d+')
LENGTH = re.compile(rb"Content-Length: \d+")
NEUTRAL = "X-Mock-Echo: 0"       # a control that changes nothing: the Python path

HOSTILE = 'mo"del\\x\x00\x01\x1f\n\r\t\u2028\u2029é漢🙂</script>{"a":1}'
USER = [{"role": "user", "content": "Say something about this"}]


class Spy:
    """The server's FastPath, counting the requests it answered from their bytes (``direct``,
    the engine's hook) and after httptools parsed them (``parsed``, the protocol's)."""

    def __init__(self, fast: FastPath) -> None:
        self.fast = fast
        self.direct = self.parsed = 0

    @property
    def answered(self) -> int:
        return self.direct + self.parsed

    def __call__(self, conn, data):
        done = self.fast(conn, data)
        self.direct += done
        return done

    def answer(self, conn, request, path, query, rid):
        done = self.fast.answer(conn, request, path, query, rid)
        self.parsed += done
        return done


def masked(data: bytes) -> bytes:
    for pattern, mask in ((ID, rb"\1ID"), (CREATED, rb'"\1":T'), (STAMP, b"STAMP"),
                          (DURATIONS, rb'"\1":D'), (LENGTH, b"Content-Length: N")):
        data = pattern.sub(mask, data)
    return data


def head_of(path: str, body: bytes, *headers: str, version: str = "1.1") -> bytes:
    lines = [f"POST {path} HTTP/{version}", "Host: t", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(lines).encode()


def exchange(loop, path: str, body: bytes, how: str, version: str = "1.1",
             **settings) -> tuple[bytes, int]:
    """The masked response (head and de-chunked body) and how many the fast path answered."""
    app = make_app(loop, delay_ms=0, **settings)
    spy = app.fast_path = Spy(FastPath(app))
    client = Client(loop, app)
    if how == "one read":
        client.send(head_of(path, body, version=version) + body)
    elif how == "two reads":
        client.send(head_of(path, body, version=version))
        client.send(body)
    else:
        client.send(head_of(path, body, NEUTRAL, version=version) + body)
    loop.advance(1)             # a TTFT, an unpaced stream's bursts
    [response] = parse_responses(client.data())
    return masked(response.raw_head) + masked(response.body), spy.answered, journal_of(app)


def journal_of(app) -> list:
    """The journal's entries as GET /__fastmock/journal shows them, less id and time."""
    if app.journal is None:
        return []
    return [{k: v for k, v in e.items() if k not in ("id", "time")}
            for e in app.journal.query()[1]]


def same_three_ways(loop, path: str, body: bytes, **settings) -> int:
    python, answered, entries = exchange(loop, path, body, "python", **settings)
    assert answered == 0
    one, fast, one_entries = exchange(loop, path, body, "one read", **settings)
    assert one == python, (body, one, python)
    assert one_entries == entries
    two, parsed, two_entries = exchange(loop, path, body, "two reads", **settings)
    assert two == python
    assert two_entries == entries
    assert fast == parsed
    return fast


def dumps(doc) -> bytes:
    return json.dumps(doc).encode()


# -- ordinary bodies: answered by the fast path, the same bytes ----------------------------------

ORDINARY = {
    "/v1/chat/completions": [
        {"model": "gpt-4o", "messages": USER},
        {"model": "gpt-4o", "messages": USER, "stream": True},
        {"model": "gpt-4o", "messages": USER, "stream": True,
         "stream_options": {"include_usage": True}},
        {"model": "gpt-4o", "messages": USER, "stream": False, "max_tokens": 7},
        {"model": "gpt-4o", "messages": USER, "stream": True, "max_completion_tokens": 3,
         "max_tokens": 100},
        {"model": "m", "messages": [{"role": "system", "content": "Be brief. "},
                                    {"role": "user", "content": [{"type": "text", "text": "a b "},
                                                                 {"type": "image_url"},
                                                                 {"type": "text", "text": " c"}]},
                                    {"role": "assistant", "content": None},
                                    {"role": "tool", "content": "x", "tool_call_id": "1"}],
         "temperature": 0.7, "top_p": 1, "n": 1, "user": "u", "tools": [{"a": [1, 2.5e-3, None]}]},
        {"model": "m", "messages": [{"role": "user", "content": "tab\there, newline\n, \"quoted\" "
                                     "\\u0020 é漢🙂 \u2028 spaces  at end  "}]},
        {"messages": USER, "model": "m", "stream": None, "stream_options": None},
        {"model": "m", "messages": [{"role": "user", "content": "echo"},
                                    {"role": "assistant", "content": "echo: not the last user"}]},
        {"model": "m", "messages": USER, "stream": True, "max_tokens": 1},
        {"model": "m", "messages": USER, "max_tokens": 100_000_000},
        {"model": "m", "messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}]},
        # vLLM's options, at the values that change nothing (issue 16)
        {"model": "m", "messages": USER, "ignore_eos": False, "min_tokens": 0, "max_tokens": 9},
        {"model": "m", "messages": USER, "ignore_eos": None, "min_tokens": None},
    ],
    "/v1/completions": [
        {"model": "m", "prompt": "Once upon a time"},
        {"model": "m", "prompt": "", "max_tokens": 5},
        {"model": "m", "prompt": ["one two three"], "stream": True,
         "stream_options": {"include_usage": True, "continuous_usage_stats": False}},
        {"model": "m", "prompt": [1, 2, 3, -4, 0], "stream": True},
        {"model": "m", "prompt": [[1, 2, 3]], "max_tokens": 2},
        {"model": "m", "prompt": ["a"], "logprobs": None},
        {"model": "m", "prompt": []},
        {"model": "m", "prompt": "x", "ignore_eos": False, "min_tokens": 0, "stream": True},
    ],
    "/v1/responses": [
        {"model": "m", "input": "Tell me a story"},
        {"model": "m", "input": "Tell me", "instructions": "Be nice to me", "stream": True},
        {"model": "m", "input": "x", "max_output_tokens": 4},
        {"model": "m", "input": "x", "max_output_tokens": 4, "stream": True},
        {"model": "m"},
        {"model": "m", "input": None, "instructions": None},
        {"model": "m", "input": [{"role": "user", "content": "hi there"},
                                 {"type": "function_call_output", "call_id": "c", "output": "42"},
                                 {"role": "assistant", "content": [{"type": "output_text",
                                                                    "text": "ok "}]},
                                 {"role": "user", "content": [{"type": "input_text", "text": "a"},
                                                              {"type": "input_image"}]}]},
    ],
    "/v1/messages": [
        {"model": "claude", "max_tokens": 1024, "messages": USER},
        {"model": "claude", "max_tokens": 5, "messages": USER, "stream": True},
        {"model": "claude", "max_tokens": 1024, "messages": USER, "system": "You are kind. "},
        {"model": "claude", "max_tokens": 1024, "messages": USER, "stream": True,
         "system": [{"type": "text", "text": "sys tem"}, {"type": "x"}]},
        {"model": "claude", "max_tokens": 1024, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                                         {"type": "image", "source": {}}]},
            {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}]},
    ],
    "/api/generate": [
        {"model": "llama3", "prompt": "Why is the sky blue?"},
        {"model": "llama3", "prompt": "Why", "stream": False},
        {"model": "llama3", "prompt": "Why", "stream": False, "system": "Be short",
         "options": {"num_predict": 3, "temperature": 0}},
        {"model": "llama3", "prompt": "Why", "options": {"num_predict": -1}},
        {"model": "llama3", "prompt": "Why", "options": {"num_predict": 0}, "stream": None},
        {"model": "llama3", "prompt": "", "options": None, "raw": True},
    ],
    "/api/chat": [
        {"model": "llama3", "messages": USER},
        {"model": "llama3", "messages": USER, "stream": False},
        {"model": "llama3", "messages": USER, "stream": False, "options": {"num_predict": 2}},
        {"model": "llama3", "messages": [{"role": "user", "content": "a", "images": ["x"]}],
         "options": {"num_predict": 500}},
    ],
    "/v1/embeddings": [
        {"model": "text-embedding-3-small", "input": "The food was delicious"},
        {"model": "m", "input": "The food", "encoding_format": "base64"},
        {"model": "m", "input": ["a", "b c", ""], "dimensions": 8},
        {"model": "m", "input": [1, 2, 3, 40000], "dimensions": 3, "encoding_format": "float"},
        {"model": "m", "input": [[1, 2], [3]], "dimensions": 5, "encoding_format": "base64"},
        {"model": "m", "input": "tab\t\"q\" \\ é漢🙂", "dimensions": 16},
        {"model": "m", "input": "x", "dimensions": 3072, "encoding_format": None},
        {"model": "m", "input": ["x"] * 42},
    ],
}
ORDINARY_CASES = [(path, body) for path, bodies in ORDINARY.items() for body in bodies]


@pytest.mark.parametrize("path,body", ORDINARY_CASES)
def test_an_ordinary_body_is_answered_in_c_with_the_python_paths_bytes(loop, path, body):
    assert same_three_ways(loop, path, dumps(body)) == 1


@pytest.mark.parametrize("body", [
    {"model": "m", "prompt": "x", "stream": True},
    {"model": "m", "prompt": "x", "stream": True, "max_tokens": 3,
     "stream_options": {"include_usage": True}},
    {"model": "m", "prompt": ["x"], "stream": False},
])
def test_completions_finished_on_the_last_token_in_c_too(loop, body):
    """--completions-finish-on-last-token (issue 16): vLLM's framing, the same bytes."""
    assert same_three_ways(loop, "/v1/completions", dumps(body),
                           completions_finish_on_last_token=True) == 1


@pytest.mark.parametrize("path,body", ORDINARY_CASES[::3])
def test_the_same_bytes_after_a_ttft_and_in_other_layouts(loop, path, body):
    compact = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    spaced = json.dumps(body, indent=2).encode()
    for data in (compact, b" \r\n\t" + spaced + b"\n"):
        assert same_three_ways(loop, path, data) == 1
    assert same_three_ways(loop, path, dumps(body), ttft_ms=20) == 1


@pytest.mark.parametrize("path,body", ORDINARY_CASES[::4])
@pytest.mark.parametrize("extra", [(), ("Connection: keep-alive",)])
def test_http10_gets_the_python_paths_bytes(loop, path, body, extra):
    """HTTP/1.0 is left to httptools, then answered by FastPath.answer: close-delimited
    streams, keep-alive whole answers when asked."""
    raw = dumps(body)
    answers = []
    for how, headers in (("python", (NEUTRAL, *extra)), ("parsed", extra)):
        app = make_app(loop, delay_ms=0)
        spy = app.fast_path = Spy(FastPath(app))
        client = Client(loop, app)
        client.send(head_of(path, raw, *headers, version="1.0") + raw)
        loop.advance(1)
        answers.append((masked(client.data()), spy.answered, client.transport.closed))
    (python, none, closed), (parsed, answered, closed_too) = answers
    assert parsed == python and closed == closed_too
    assert (none, answered) == (0, 1)


def test_escapes_are_decoded_as_json_decodes_them(loop):
    # a surrogate pair, a lone surrogate, every short escape
    for text in (rb"\ud83d\ude42 x", rb"\ud83d x", rb"a\udc00", rb"\\\/\"\b\f\n\r\t\u0041\u00e9"):
        body = b'{"model":"m","input":"' + text + b'","dimensions":4}'
        assert same_three_ways(loop, "/v1/embeddings", body) == 1
        body = b'{"model":"m","messages":[{"role":"user","content":"' + text + b'"}]}'
        assert same_three_ways(loop, "/v1/chat/completions", body) == 1


def test_a_model_named_by_the_server_or_the_body_is_echoed(loop):
    for model in ("gpt-4o-mini", "a/b:c", "é漢🙂"):
        body = json.dumps({"model": model, "messages": USER}, ensure_ascii=False).encode()
        assert same_three_ways(loop, "/v1/chat/completions", body) == 1


# -- what the fast path leaves to Python ---------------------------------------------------------

DECLINED = {
    "/v1/chat/completions": [
        b"", b"null", b"[]", b'"x"', b"{", b'{"model":"m",}', b'{"model":"m"} x',
        b'\xef\xbb\xbf{"model":"m","messages":[{"role":"user","content":"hi"}]}',
        b'{"model":"m","messages":[{"role":"user","content":"\xff"}]}',
        b'{"model":"m","messages":[{"role":"user","content":"a\x01"}]}',
        b'{"model":"m","messages":[{"role":"user","content":"\\x"}]}',
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":NaN}',
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],"n":01}',
        b'{"mo\\u0064el":"m","messages":[{"role":"user","content":"hi"}]}',
        b'{"model":"m\\u0021","messages":[{"role":"user","content":"hi"}]}',
        dumps({"model": HOSTILE, "messages": USER}),
        dumps({"model": "", "messages": USER}),
        dumps({"model": None, "messages": USER}),
        dumps({"messages": USER}),
        dumps({"model": "m", "messages": []}),
        dumps({"model": "m", "messages": {}}),
        dumps({"model": "m", "messages": ["hi"]}),
        dumps({"model": "m", "messages": [{"content": "hi"}]}),
        dumps({"model": "m", "messages": [{"role": 1, "content": "hi"}]}),
        dumps({"model": "m", "messages": [{"role": "user", "content": 5}]}),
        dumps({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
        dumps({"model": "m", "messages": [{"role": "user", "content": ["text"]}]}),
        dumps({"model": "m", "messages": USER, "stream": "yes"}),
        dumps({"model": "m", "messages": USER, "stream_options": {"include_usage": 1}}),
        dumps({"model": "m", "messages": USER, "stream_options": []}),
        dumps({"model": "m", "messages": USER, "max_tokens": 0}),
        dumps({"model": "m", "messages": USER, "max_tokens": 2.0}),
        dumps({"model": "m", "messages": USER, "max_tokens": True}),
        dumps({"model": "m", "messages": USER, "max_tokens": 100_000_001}),
        # structured outputs and forced tool calls (providers.structured)
        dumps({"model": "m", "messages": USER, "response_format": {"type": "json_object"}}),
        dumps({"model": "m", "messages": USER, "response_format": {"type": "text"}}),
        dumps({"model": "m", "messages": USER, "tool_choice": "required",
               "tools": [{"type": "function", "function": {"name": "f"}}]}),
        dumps({"model": "m", "messages": USER, "tool_choice": "auto"}),
        # vLLM's options that lengthen the answer, or are wrong (issue 16)
        dumps({"model": "m", "messages": USER, "ignore_eos": True, "max_tokens": 300}),
        dumps({"model": "m", "messages": USER, "ignore_eos": True, "stream": True}),
        dumps({"model": "m", "messages": USER, "min_tokens": 5}),
        dumps({"model": "m", "messages": USER, "min_tokens": -1}),
        dumps({"model": "m", "messages": USER, "ignore_eos": "yes"}),
        dumps({"model": "m", "messages": USER, "stream": True,
               "stream_options": {"include_usage": True, "continuous_usage_stats": True}}),
        dumps({"model": "m", "messages": USER, "stream": True,
               "stream_options": {"continuous_usage_stats": 1}}),
        dumps({"model": "m", "messages": [{"role": "user", "content": "echo: me"}]}),
        dumps({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "ec"}, {"type": "text", "text": "ho: me"}]}]}),
        b'{"model":"m","messages":[{"role":"user","content":"\\u0065cho: x"}]}',
        b'{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"e"},'
        b'{"type":"text","text":"\\u0063"},{"type":"text","text":"ho:"}]}]}',
        b"[" * 100 + b"]" * 100,
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],"x":' + b"[" * 70
        + b"]" * 70 + b"}",
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],"x":1' + b"0" * 5000 + b"}",
    ],
    "/v1/completions": [
        dumps({"model": "m"}), dumps({"model": "m", "prompt": None}),
        dumps({"model": "m", "prompt": 5}), dumps({"model": "m", "prompt": [1, "a"]}),
        dumps({"model": "m", "prompt": [True]}), dumps({"model": "m", "prompt": [1.5]}),
        dumps({"model": "m", "prompt": [[1, "a"]]}), dumps({"model": "m", "prompt": ["a"] * 2049}),
        dumps({"model": "m", "prompt": "echo: x"}),
        # a batch of prompts: a choice per prompt (issue 16), made in Python
        dumps({"model": "m", "prompt": ["one two", "three"], "stream": True,
               "stream_options": {"include_usage": True}}),
        dumps({"model": "m", "prompt": [[1, 2], [3], []], "max_tokens": 2}),
        dumps({"model": "m", "prompt": ["a", [1, 2]], "logprobs": None}),
        dumps({"model": "m", "prompt": "x", "stream": True,
               "stream_options": {"continuous_usage_stats": True}}),
        dumps({"model": "m", "prompt": "x", "ignore_eos": True, "max_tokens": 300}),
        dumps({"model": "m", "prompt": "x", "min_tokens": 250, "stream": True}),
        dumps({"model": "m", "prompt": "x", "min_tokens": 3, "max_tokens": 2}),
    ],
    "/v1/responses": [
        dumps({"model": "m", "input": 5}), dumps({"model": "m", "input": [5]}),
        dumps({"model": "m", "input": [{"role": 5}]}), dumps({"model": "m", "instructions": 5}),
        dumps({"model": "m", "input": "echo: x"}), dumps({"model": "m", "max_output_tokens": 0}),
        dumps({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}}),
    ],
    "/v1/messages": [
        dumps({"model": "c", "messages": USER}),
        dumps({"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
        dumps({"model": "c", "max_tokens": 5, "messages": USER, "system": 5}),
        dumps({"model": "c", "max_tokens": 5, "messages": USER, "tool_choice": {"type": "any"},
               "tools": [{"name": "t", "input_schema": {"type": "object"}}]}),
    ],
    "/api/generate": [
        dumps({"model": "l"}), dumps({"model": "l", "prompt": 5}),
        dumps({"model": "l", "prompt": "x", "options": {"num_predict": -3}}),
        dumps({"model": "l", "prompt": "x", "options": []}),
        dumps({"model": "l", "prompt": "x", "format": "json"}),
        dumps({"model": "l", "prompt": "x", "format": {"type": "object"}}),
    ],
    "/api/chat": [dumps({"model": "l"}), dumps({"model": "l", "messages": []})],
    "/v1/embeddings": [
        dumps({"model": "m"}), dumps({"model": "m", "input": []}),
        dumps({"model": "m", "input": "x", "dimensions": 0}),
        dumps({"model": "m", "input": "x", "dimensions": 3073}),
        dumps({"model": "m", "input": "x", "encoding_format": "hex"}),
        dumps({"model": "m", "input": "x", "encoding_format": ""}),
        dumps({"model": "m", "input": ["x"] * 43}),
        dumps({"model": "m", "input": [-0]}).replace(b"0", b"-0"),
    ],
}
DECLINED_CASES = [(path, body) for path, bodies in DECLINED.items() for body in bodies]


@pytest.mark.parametrize("path,body", DECLINED_CASES)
def test_an_unusual_body_is_left_to_python(loop, path, body):
    assert same_three_ways(loop, path, body) == 0


@pytest.mark.parametrize("head,direct,parsed", [
    ("Connection: close", 1, 0), ("connection: KEEP-ALIVE", 1, 0), ("X-Other:\t value \t", 1, 0),
    ("Expect: 100-continue", 0, 1), ("Upgrade: h2c", 0, 1), ("Connection: upgrade", 0, 1),
    ("X-Mock-Delay-Ms: 0", 0, 0), ("x-mock-echo: 0", 0, 0),
    ("X-Request-Id: mine", 0, 1), ("X-Test-Id: t1", 0, 1),
])
def test_request_heads_it_reads_and_the_ones_it_leaves_to_httptools(loop, head, direct, parsed):
    body = dumps({"model": "m", "messages": USER})
    app = make_app(loop, delay_ms=0)
    spy = app.fast_path = Spy(FastPath(app))
    client = Client(loop, app)
    client.send(head_of("/v1/chat/completions", body).replace(b"Host: t", b"Host: t\r\n"
                                                              + head.encode()) + body)
    loop.run_ready()
    assert (spy.direct, spy.parsed) == (direct, parsed)
    assert parse_responses(client.data().replace(b"HTTP/1.1 100 Continue\r\n\r\n", b""))[0].status == 200


@pytest.mark.parametrize("head", ["Bad Header: x", "Content-Length: 5", "Host : t", "X-A: no host",
                                  "Host: t\r\nHost: u"])
def test_a_malformed_head_is_httptools_400_as_before(loop, head):
    """(Without its Host line, too: an HTTP/1.1 request needs exactly one.)"""
    body = dumps({"model": "m", "messages": USER})
    app = make_app(loop, delay_ms=0)
    spy = app.fast_path = Spy(FastPath(app))
    client = Client(loop, app)
    client.send(head_of("/v1/chat/completions", body).replace(b"Host: t", head.encode()) + body)
    loop.run_ready()
    assert client.data().startswith(b"HTTP/1.1 400 ") and spy.answered == 0


def test_pipelined_requests_and_other_paths_go_through_httptools(loop):
    body = dumps({"model": "m", "messages": USER})
    one = head_of("/v1/chat/completions", body) + body
    app = make_app(loop, delay_ms=0)
    spy = app.fast_path = Spy(FastPath(app))
    client = Client(loop, app)
    client.send(one + one)
    client.send(one.replace(b"completions ", b"completions?x=1 "))
    client.send(one.replace(b"HTTP/1.1", b"HTTP/1.0"))
    loop.run_ready()
    assert [r.status for r in parse_responses(client.data())] == [200] * 4
    # the protocol hands over the pipelined ones and HTTP/1.0; a query may hold controls
    assert (spy.direct, spy.parsed) == (0, 3)


# -- any body: when the fast path answers, it is the Python path's answer --------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)
FIELDS = ["model", "messages", "stream", "max_tokens", "max_completion_tokens", "stream_options",
          "prompt", "input", "instructions", "max_output_tokens", "system", "options",
          "dimensions", "encoding_format", "role", "content", "type", "text", "include_usage",
          "num_predict"]


def mutate(doc, data):
    """Somewhere in ``doc``, a field replaced by any JSON value (or dropped)."""
    if isinstance(doc, dict) and doc and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(doc)))
        if data.draw(st.booleans()):
            doc[key] = mutate(doc[key], data)
        elif data.draw(st.booleans()):
            doc[key] = data.draw(JSON)
        else:
            del doc[key]
    elif isinstance(doc, list) and doc and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(doc) - 1))
        doc[i] = mutate(doc[i], data)
    elif isinstance(doc, dict) and data.draw(st.booleans()):
        doc[data.draw(st.sampled_from(FIELDS))] = data.draw(JSON)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_body_gets_the_python_paths_answer(loop, data):
    path, body = data.draw(st.sampled_from(ORDINARY_CASES))
    doc = mutate(json.loads(json.dumps(body)), data)
    raw = json.dumps(doc, ensure_ascii=data.draw(st.booleans())).encode()
    if data.draw(st.integers(0, 9)) == 0:       # and now and then a broken byte
        i = data.draw(st.integers(0, len(raw)))
        raw = raw[:i] + data.draw(st.binary(min_size=1, max_size=2)) + raw[i + 1:]
    same_three_ways(loop, path, raw)


# -- ids --------------------------------------------------------------------------------------------

def test_ids_of_both_paths_come_from_one_counter(loop):
    new_id = IDS.new
    a = new_id(b"chatcmpl-")
    app = make_app(loop, delay_ms=0)
    app.fast_path = FastPath(app)
    client = Client(loop, app)
    body = dumps({"model": "m", "messages": USER})
    client.send(head_of("/v1/chat/completions", body) + body)
    b = parse_responses(client.data())[0].json()["id"].encode()
    c = new_id(b"chatcmpl-")
    rid = parse_responses(client.transport.raw())[0].header("x-request-id").encode()
    assert a[:17] == b[:17] == c[:17] and rid[:12] == b"req_" + a[9:17]
    # the request id is drawn first, as the Python path draws it
    assert int(a[17:], 16) + 2 == int(b[17:], 16) == int(c[17:], 16) - 1 == int(rid[12:], 16) + 1


# -- embeddings: a repeated body is answered again without computing it ------------------------------

def test_a_repeated_embeddings_body_gets_the_same_answer(loop):
    bodies = [dumps({"model": "m", "input": f"text {i}", "dimensions": 64}) for i in range(6)]
    bodies.append(dumps({"model": "m", "input": "large", "dimensions": 3072}))  # not kept: > 32 KB
    app = make_app(loop, delay_ms=0)
    spy = app.fast_path = Spy(FastPath(app))
    first = {}
    for rounds in range(3):
        for body in bodies + bodies[:2]:
            client = Client(loop, app)
            closing = rounds == 2
            client.send(head_of("/v1/embeddings", body, *(["Connection: close"] if closing else []))
                        + body)
            [response] = parse_responses(client.data())
            assert response.header("connection") == ("close" if closing else None)
            assert first.setdefault(body, response.body) == response.body
    assert spy.direct == 3 * 9
    for body in bodies:
        python, _, _ = exchange(loop, "/v1/embeddings", body, "python")
        assert masked(first[body]) == python[python.index(b"\r\n\r\n") + 4:]


# -- any head: read from its bytes exactly as httptools reads it ------------------------------------

NAMES = ["Host", "Content-Type", "content-length", "Content-Length", "Connection", "X-Mock-Echo",
         "Expect", "Upgrade", "Transfer-Encoding", "Accept", "X-A", "X A", "X:A", "", "Ä"]
VALUES = ["t", "", " ", "\t", "close", "keep-alive", "Keep-Alive, x", "0", "5", "100-continue",
          "chunked", "a\tb", "é", "\x7f", "a\rb", "x\n"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_head_is_read_as_httptools_reads_it(loop, data):
    body = dumps({"model": "m", "messages": USER})
    lines = data.draw(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES),
                                         st.sampled_from([":", ": ", ":\t", " :"])), max_size=5))
    head = [f"POST {data.draw(st.sampled_from(['/v1/chat/completions', '/v1/chat/completions/']))} "
            f"HTTP/{data.draw(st.sampled_from(['1.1', '1.0']))}"]
    head += [name + colon + value for name, value, colon in lines]
    if data.draw(st.booleans()):
        head.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body
    answers = []
    for reads in ((raw,), (raw[:-len(body)], raw[-len(body):])):
        app = make_app(loop, delay_ms=0)
        app.fast_path = FastPath(app)
        client = Client(loop, app)
        for chunk in reads:
            client.send(chunk)
        loop.advance(1)
        answers.append(masked(client.data()))
    assert answers[0] == answers[1]


def test_large_bodies_get_the_same_answers_and_leave_no_large_buffer_behind(loop):
    big = "x" * 200_000
    cases = [("/v1/chat/completions", dumps({"model": big, "messages": USER, "stream": True})),
             ("/api/chat", dumps({"model": big, "messages": USER, "stream": False})),
             ("/v1/embeddings", dumps({"model": "m", "input": "\n\t" * 150_000, "dimensions": 4})),
             ("/v1/chat/completions", dumps({"model": "m", "messages": [
                 {"role": "user", "content": "a \\n " * 50_000}]}))]
    for path, body in cases:
        assert same_three_ways(loop, path, body) == 1


# -- scripted answers, request ids, the journal ------------------------------------------------------

def test_nothing_is_answered_in_c_while_fixtures_are_loaded(loop):
    body = dumps({"model": "m", "messages": USER})
    app = make_app(loop, delay_ms=0)
    spy = app.fast_path = Spy(FastPath(app))
    app.fixture_pool()              # what the control API's first POST does
    for reads in ((head_of("/v1/chat/completions", body) + body,),
                  (head_of("/v1/chat/completions", body), body)):
        client = Client(loop, app)
        for data in reads:
            client.send(data)
        assert parse_responses(client.data())[0].status == 200
    assert spy.answered == 0


def test_the_clients_request_id_is_echoed_and_a_test_id_journaled(loop):
    body = dumps({"model": "m", "messages": USER})
    app = make_app(loop, delay_ms=0)
    spy = app.fast_path = Spy(FastPath(app))
    client = Client(loop, app)
    client.send(head_of("/v1/chat/completions", body, "X-Request-Id: r-1", "X-Test-Id: t1") + body)
    [response] = parse_responses(client.data())
    assert response.header("x-request-id") == "r-1" and spy.parsed == 1
    [entry] = app.journal.query()[1]
    assert (entry["id"], entry["testId"], entry["model"], entry["tokens"]) == ("r-1", "t1", "m",
                                                                             response.json()["usage"]["completion_tokens"])


def test_with_the_journal_off_nothing_is_journaled(loop):
    body = dumps({"model": "m", "messages": USER, "stream": True})
    app = make_app(loop, delay_ms=0, journal_size=0)
    spy = app.fast_path = Spy(FastPath(app))
    client = Client(loop, app)
    client.send(head_of("/v1/chat/completions", body) + body)
    loop.advance(1)
    assert parse_responses(client.data())[0].status == 200
    assert spy.direct == 1 and app.journal is None


def test_the_journal_keeps_the_latest_requests_of_both_paths_in_order(loop):
    app = make_app(loop, delay_ms=10, journal_size=3)
    spy = app.fast_path = Spy(FastPath(app))
    client = Client(loop, app)
    for i, extra in enumerate(["", "", "", NEUTRAL, "", ""]):
        body = dumps({"model": f"m{i}", "messages": USER})
        client.send(head_of("/v1/chat/completions", body, *([extra] if extra else [])) + body)
    assert spy.direct == 5
    assert [e["model"] for e in app.journal.query()[1]] == ["m5", "m4", "m3"]
    # a stream journaled, read before it ends, counts its tokens when it ends
    body = dumps({"model": "s", "messages": USER, "stream": True, "max_tokens": 3})
    client.send(head_of("/v1/chat/completions", body) + body)
    assert app.journal.query()[1][0]["tokens"] == 0
    loop.advance(1)
    assert [(e["model"], e["tokens"]) for e in app.journal.query()[1]][:2] == [("s", 3), ("m5", len(FRAMES.corpus.escaped))]
