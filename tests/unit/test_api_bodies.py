"""The provider APIs' building blocks, in-process: body parsing, field checks, the token
plan, ids, escaping, embeddings, and dispatch() for every API (no sockets)."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from fastmock import controls
from fastmock.frames import DEFAULT_TEXT, Frames, split_tokens
from fastmock.ids import IDS
from fastmock.providers import common as answers
from fastmock.providers import dispatch as api
from fastmock.providers import embeddings, openai
from fastmock.providers import request as bodies
from fastmock.providers.request import ApiError
from fastmock.routes import API, LABELS, TABLE, find
from support.fakes import ManualClockLoop, make_app

FRAMES = Frames()
APP = make_app(ManualClockLoop(), FRAMES, delay_ms=7, ttft_ms=3)
TOKENS = split_tokens(DEFAULT_TEXT)
HOSTILE = 'q"uo\\te\x00\x01\x1f\n\r\t\u2028\u2029é漢🙂\ud800</script>'


def dispatch(path: str, body=None, method: bytes = b"POST", query: bytes | None = None,
             headers: dict | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    request = SimpleNamespace(method=method, headers=headers, body=raw)
    return api.answer(find(path.encode()), request, path.encode(), query, APP)


def error_of(answer) -> tuple[int, dict]:
    assert isinstance(answer, answers.Whole), answer
    return answer.status, json.loads(answer.body)


# -- bodies ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, words", [
    (b"", "empty"), (b"{", "not valid JSON"), (b"[1, 2]", "an array"), (b"null", "null"),
    (b"\xff\xfe{", "JSON"), (b'{"a": tru}', "not valid JSON"),
])
def test_parse_refuses_what_is_not_a_json_object(raw, words):
    with pytest.raises(ApiError) as info:
        bodies.parse(raw)
    assert info.value.status == 400 and words in info.value.message


def test_typed_fields_name_the_field():
    doc = {"n": "5", "b": 1, "s": 3, "a": {}, "o": [], "f": 2.0, "big": 10**9, "t": True}
    for call, param, expected in (
        (lambda: bodies.integer(doc, "n", 1, 10), "n", "an integer"),
        (lambda: bodies.integer(doc, "t", 0, 10), "t", "an integer"),   # a bool is no integer
        (lambda: bodies.boolean(doc, "b"), "b", "a boolean"),
        (lambda: bodies.string(doc, "s"), "s", "a string"),
        (lambda: bodies.array(doc, "a"), "a", "an array"),
        (lambda: bodies.obj(doc, "o"), "o", "an object"),
    ):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.param == param and f"'{param}' must be {expected}" in info.value.message
    assert bodies.integer(doc, "f", 1, 10) == 2
    with pytest.raises(ApiError, match="'big' must be from 1 to 100"):
        bodies.integer(doc, "big", 1, 100)
    with pytest.raises(ApiError, match="missing required parameter: 'x'"):
        bodies.integer(doc, "x", 1, 2, required=True)
    assert bodies.integer(doc, "x", 1, 2) is None and bodies.boolean(doc, "x", True) is True


def test_messages_are_checked_item_by_item():
    doc = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                       {"type": "image_url"},
                                                       {"type": "text", "text": "b"}]},
                        {"role": "assistant", "content": None}, {"role": "user", "content": "c"}]}
    assert bodies.messages(doc) == [("user", "ab"), ("assistant", ""), ("user", "c")]
    assert bodies.last_text(bodies.messages(doc)) == "c"
    for bad, param in (
        ({}, "messages"), ({"messages": []}, "messages"), ({"messages": "hi"}, "messages"),
        ({"messages": ["hi"]}, "messages[0]"), ({"messages": [{"content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
         "messages[0].content[0].text"),
    ):
        with pytest.raises(ApiError) as info:
            bodies.messages(bad)
        assert info.value.param == param and param in info.value.message
    with pytest.raises(ApiError, match="messages\\[0\\].role"):
        bodies.messages({"messages": [{"role": "system", "content": "x"}]}, roles=("user",))


@pytest.mark.parametrize("text", [HOSTILE, "", "plain", "\ud83d", "a\udfffb"])
def test_escape_always_gives_valid_json(text):
    literal = b'"' + bodies.escape(text) + b'"'
    literal.decode("utf-8")                     # valid UTF-8 on the wire
    assert json.loads(literal) == text           # and the client reads back what it sent
    assert b"\n" not in literal and b"\r" not in literal and b"\x00" not in literal


# -- the token plan (finish reasons) ----------------------------------------------------

def call_with(query: bytes | None = None, headers: dict | None = None) -> answers.Call:
    ctl = controls.parse(query, headers, 5, 0)
    return answers.Call(b"POST", b"/v1/chat/completions", query, headers, b"", ctl, FRAMES,
                        APP.pacer.stamp_now)


def test_plan_natural_length_body_limit_and_control():
    natural = answers.plan(call_with(), "hello", None)
    assert (natural.total, natural.length) == (len(TOKENS), False)
    assert json.loads(b'"' + natural.text() + b'"') == DEFAULT_TEXT
    capped = answers.plan(call_with(), "hello", 5)
    assert (capped.total, capped.length) == (5, True)
    assert answers.plan(call_with(), "hello", len(TOKENS)).length is False  # not cut short
    control = answers.plan(call_with(b"max_tokens=300"), "hello", 5)  # the control overrides
    assert (control.total, control.length) == (300, False)
    cycled = json.loads(b'"' + control.text() + b'"')
    # cycled, the last token parted from the first by a space (issue 16)
    assert cycled.startswith(DEFAULT_TEXT + " ") and cycled[len(DEFAULT_TEXT) + 1:] == "".join(TOKENS[:91])
    assert len(split_tokens(cycled)) == 300
    assert answers.plan(call_with(), "hello", len(TOKENS)).text() == natural.text()  # no space


def test_plan_ignore_eos_and_min_tokens():
    eos = answers.plan(call_with(), "hello", 500, ignore_eos=True)
    assert (eos.total, eos.length) == (500, True)
    assert len(split_tokens(json.loads(b'"' + eos.text() + b'"'))) == 500
    assert answers.plan(call_with(), "hello", 5, ignore_eos=True).total == 5
    assert (answers.plan(call_with(), "hello", None, ignore_eos=True).total) == len(TOKENS)
    longer = answers.plan(call_with(), "hello", 500, min_tokens=300)
    assert (longer.total, longer.length) == (300, False)
    assert (answers.plan(call_with(), "hello", 250, min_tokens=250).length) is False
    assert answers.plan(call_with(), "hello", 5, min_tokens=3).total == 5
    assert answers.plan(call_with(), "hello", None, min_tokens=3).total == len(TOKENS)
    with pytest.raises(ApiError) as caught:     # a whole answer holds at most 65,536 tokens
        answers.plan(call_with(), "hello", 70_000, whole=True, ignore_eos=True)
    assert caught.value.param == "ignore_eos"


def test_plan_echo_by_prefix_and_by_header():
    assert answers.plan(call_with(), "echo: one two", None).tokens == (b"one ", b"two")
    assert answers.plan(call_with(), "echo:one", None).tokens == (b"one",)
    header = call_with(headers={b"x-mock-echo": b"1"})
    assert header.echo and answers.plan(header, "say \"hi\"", None).tokens == (b"say ", b'\\"hi\\"')
    assert answers.plan(call_with(b"echo=true"), "a b", 1).total == 1
    assert not call_with(headers={b"x-mock-echo": b"0"}).echo
    empty = answers.plan(call_with(), "echo:", None)
    assert empty.total == 0 and empty.text() == b""
    with pytest.raises(controls.InvalidControl) as info:   # dispatch answers it with a 400
        call_with(headers={b"x-mock-echo": b"maybe"})
    assert info.value.param == "X-Mock-Echo"


def test_prompt_tokens_use_the_corpus_tokenisation():
    assert answers.count_tokens("a b  c", "", "d") == len(split_tokens("a b  c")) + 1
    assert answers.count_tokens(DEFAULT_TEXT) == len(TOKENS)


def test_ids_are_unique_and_fixed_width():
    ids = {IDS.new(b"chatcmpl-") for _ in range(1000)}
    assert len(ids) == 1000 and {len(i) for i in ids} == {len("chatcmpl-") + 24}
    assert all(i[9:].decode().isalnum() for i in ids)


def test_the_engines_fresh_id_lines_come_from_the_same_ids():
    """One owner: the engine's id line (the memo's answers) has request_ids' format, and
    counts with the counter of every other id of the process."""
    from fastmock import _engine, request_ids
    n = IDS.next()
    answer = _engine.with_fresh_id(b"HTTP/1.1 200 OK\r\n\r\n")
    rid = IDS.head(request_ids.FRESH_ID_KIND) + b"%016x" % (n + 1)
    assert answer == b"HTTP/1.1 200 OK\r\n" + request_ids.line(rid) + b"\r\n"
    assert IDS.next() == n + 2


def test_an_id_changes_its_prefix_in_a_forked_worker():
    code = ("import os; from fastmock.ids import IDS; a = IDS.new(b'x'); r, w = os.pipe()\n"
            "if os.fork() == 0:\n os.write(w, IDS.new(b'x')); os._exit(0)\n"
            "os.wait(); b = os.read(r, 100); print(a[:9] != b[:9], a != b)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


# -- embeddings ----------------------------------------------------------------------------

def test_embeddings_are_deterministic_unit_vectors():
    a1, a2, b = (embeddings.embedding(k, 64) for k in (b"alpha", b"alpha", b"beta"))
    assert list(a1) == list(a2) and list(a1) != list(b)
    assert math.isclose(math.fsum(x * x for x in a1), 1.0, rel_tol=1e-5)
    assert len(embeddings.embedding(b"", 3072)) == 3072


# -- dispatch: every API, its error shape and its controls ----------------------------------

def test_status_control_answers_in_each_api_shape():
    oa = error_of(dispatch("/v1/chat/completions", {}, query=b"status=429"))
    assert oa[0] == 429 and oa[1]["error"]["type"] == "rate_limit_error"
    an = error_of(dispatch("/v1/messages", {}, headers={b"x-mock-status": b"529"}))
    assert an[0] == 529 and an[1]["type"] == "error" and an[1]["error"]["type"] == "overloaded_error"
    ol = error_of(dispatch("/api/chat", {}, query=b"status=503"))
    assert ol[0] == 503 and set(ol[1]) == {"error"} and "503" in ol[1]["error"]
    assert dispatch("/v1/chat/completions", {}, query=b"status=429").headers == b"Retry-After: 1\r\n"
    assert dispatch("/v1/chat/completions", {}, query=b"status=500").headers == b""


def test_an_invalid_control_is_a_400_naming_it_in_each_shape():
    status, doc = error_of(dispatch("/v1/completions", {}, query=b"delay_ms=-1"))
    assert status == 400 and doc["error"]["param"] == "delay_ms"
    status, doc = error_of(dispatch("/v1/messages", {}, headers={b"x-mock-ttft-ms": b"x"}))
    assert status == 400 and "ttft_ms" in doc["error"]["message"]
    status, doc = error_of(dispatch("/api/generate", {}, query=b"fail_after=abc"))
    assert status == 400 and "fail_after" in doc["error"]


def test_a_bug_in_a_handler_is_a_500_in_the_api_shape(monkeypatch, caplog):
    def broken(call):
        raise RuntimeError("boom")
    monkeypatch.setattr(openai, "chat", broken)
    status, doc = error_of(dispatch("/v1/chat/completions", {"model": "m", "messages": []}))
    assert status == 500 and doc["error"]["type"] == "server_error"
    assert "boom" in caplog.text


def test_non_stream_answers_wait_the_ttft_and_are_cut_by_fail_after():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    answer = dispatch("/v1/chat/completions", body)
    assert isinstance(answer, answers.Whole) and answer.wait_ms == 3 and not answer.cut
    assert dispatch("/v1/chat/completions", body, query=b"fail_after=2").cut
    streamed = dispatch("/v1/chat/completions", {**body, "stream": True}, query=b"fail_after=2")
    assert isinstance(streamed, answers.Streamed)
    assert (streamed.delay_ms, streamed.ttft_ms, streamed.fail_after) == (7, 3, 2)


def test_every_api_route_resolves_its_handler_and_its_error_shape():
    for route in TABLE:
        if route.kind == API:
            assert callable(route.handler()) and callable(route.api().error), route.label
    assert find(b"/v1/models/some-model").label == "/v1/models/{id}"
    assert find(b"/v1/models/x").handler() is openai.get_model
    assert find(b"/v1/embeddings").api() is openai      # OpenAI's error shape


def test_metrics_labels_follow_the_table():
    assert LABELS[:2] == ("other", "error")
    assert [route.index for route in TABLE] == list(range(2, 2 + len(TABLE)))
    assert all(LABELS[route.index] == route.label for route in TABLE)
    assert len(set(LABELS)) == len(LABELS)
    from fastmock._engine import LAYOUT
    assert len(LABELS) <= LAYOUT["max_routes"]      # each label has its counter slots


def test_a_model_id_in_the_path_is_percent_decoded_but_keeps_its_plus():
    doc = json.loads(dispatch("/v1/models/a+b%2Fc%20d", method=b"GET").body)
    assert doc["id"] == "a+b/c d"


def test_ollama_done_lines_add_up_and_count_the_ttft_once():
    ttft = {b"x-mock-ttft-ms": b"60000"}
    parts = ("load_duration", "prompt_eval_duration", "eval_duration")
    for path, body in (("/api/generate", {"model": "m", "prompt": "hi"}),
                       ("/api/chat", {"model": "m", "messages": [{"role": "user", "content": "x"}]})):
        # a stream's done line is made when it is sent: the TTFT wait is in the time taken
        done = json.loads(dispatch(path, body, headers=ttft).spec.closing_bytes(1))
        assert done["total_duration"] >= sum(done[name] for name in parts) >= 3
        assert done["total_duration"] < 60_000_000_000, "the TTFT counted although not waited"
        # a whole answer is made at once and sent after the TTFT: it counts in
        whole = json.loads(dispatch(path, {**body, "stream": False}, headers=ttft).body)
        assert whole["total_duration"] >= 60_000_000_000
        assert whole["total_duration"] >= sum(whole[name] for name in parts)


def test_ollama_whole_answers_carry_the_pacer_stamp():
    doc = json.loads(dispatch("/api/generate", {"model": "m", "prompt": "hi", "stream": False}).body)
    shape = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    assert shape.fullmatch(APP.pacer.stamp_now().decode())
    assert shape.fullmatch(doc["created_at"])


def test_whole_answers_are_bounded_but_streams_are_not():
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    status, doc = error_of(dispatch("/v1/chat/completions", chat, query=b"max_tokens=65537"))
    assert status == 400 and doc["error"]["param"] == "max_tokens"
    assert dispatch("/v1/chat/completions", chat, query=b"max_tokens=65536").status == 200
    streamed = dispatch("/v1/chat/completions", {**chat, "stream": True}, query=b"max_tokens=10000000")
    assert isinstance(streamed, answers.Streamed) and streamed.spec.total == 10_000_000
    # a Responses stream repeats its text in the closing events, so it is bounded too
    status, _ = error_of(dispatch("/v1/responses", {"model": "m", "stream": True},
                                  query=b"max_tokens=100000"))
    assert status == 400
    for path, body in (("/v1/messages", {**chat, "max_tokens": 5}),
                       ("/api/chat", {**chat, "stream": False})):
        assert error_of(dispatch(path, body, query=b"max_tokens=70000"))[0] == 400
    # the echo of a long prompt is its own length, whatever the bound
    long = "echo: " + "w " * 70_000
    answer = dispatch("/v1/chat/completions", {"model": "m", "messages": [
        {"role": "user", "content": long}]}, query=b"max_tokens=70000")
    assert json.loads(answer.body)["usage"]["completion_tokens"] == 70_000


def test_embeddings_are_bounded_in_numbers_per_request():
    status, doc = error_of(dispatch("/v1/embeddings", {"model": "m", "input": ["a"] * 43}))
    assert status == 400 and doc["error"]["param"] == "dimensions" and "43 x 1536" in doc["error"]["message"]
    ok = dispatch("/v1/embeddings", {"model": "m", "input": ["a"] * 64, "dimensions": 1024})
    assert ok.status == 200 and len(json.loads(ok.body)["data"]) == 64
