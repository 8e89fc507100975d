"""The control API over raw HTTP: run-time fixtures, the journal, reset, X-Test-Id scoping,
and the X-Request-Id every answer carries (the seed's static answers and the engine's own
answers too: see test_e2e_request_ids.py)."""
from __future__ import annotations

import json
import re

import pytest

from support.apis import assert_health, post

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}
FIXTURE = {"match": {"userMessage": "weather"}, "response": {"content": "It is sunny."}}
FRESH = re.compile(r"^req_[0-9a-f]{24}$")


def call(server, method: str, path: str, body=None, *headers: str):
    return post(server, path, b"" if body is None else body, *headers, method=method)


def get(server, path: str, *headers: str):
    return post(server, path, b"", *headers, method="GET")


# -- fixtures -----------------------------------------------------------------------------

def test_post_get_delete_fixtures(control):
    r = call(control, "POST", "/__fastmock/fixtures", {"fixtures": [FIXTURE]})
    assert r.status == 200 and r.json() == {"added": 1, "total": 1, "unimplemented": []}
    first = {"match": {"userMessage": "first"}, "response": {"content": "1"}}
    r = call(control, "POST", "/__fastmock/fixtures?prepend=1", [first])   # a bare array too
    assert r.json()["added"] == 1
    listing = get(control, "/__fastmock/fixtures").json()["fixtures"]
    assert [f["match"] for f in listing] == [first["match"], FIXTURE["match"]]
    assert all(f["source"] == "runtime" for f in listing)
    assert call(control, "DELETE", "/__fastmock/fixtures").json() == {"removed": 2}
    assert get(control, "/__fastmock/fixtures").json() == {"fixtures": []}


@pytest.mark.parametrize("body, problem", [
    (b"{not json", "request body: is not valid JSON"),
    (b'{"fixtures": [{"match": {"userMessage": 3}, "response": {"content": "x"}}]}',
     "request body: fixture 0: match.userMessage"),
    (b'{"fixtures": {}}', "request body: fixtures: must be an array"),
    (b"", "request body"),
])
def test_a_bad_fixture_body_is_a_400_naming_the_problem(control, body, problem):
    r = call(control, "POST", "/__fastmock/fixtures", body)
    assert r.status == 400
    error = r.json()["error"]
    assert error["message"].startswith(problem) and error["type"] == "invalid_request_error"
    assert "\n" not in error["message"]
    assert get(control, "/__fastmock/fixtures").json() == {"fixtures": []}
    assert_health(control)


def test_unimplemented_fields_are_reported(control):
    fixture = {**FIXTURE, "chaos": {"dropRate": 0.5}}
    r = call(control, "POST", "/__fastmock/fixtures", {"fixtures": [fixture]})
    assert r.status == 200 and r.json()["unimplemented"], r.json()


def test_test_ids_scope_fixtures(control):
    call(control, "POST", "/__fastmock/fixtures", [FIXTURE], "X-Test-Id: a")
    assert len(get(control, "/__fastmock/fixtures", "X-Test-Id: a").json()["fixtures"]) == 1
    assert get(control, "/__fastmock/fixtures", "X-Test-Id: b").json()["fixtures"] == []
    assert get(control, "/__fastmock/fixtures").json()["fixtures"] == []
    assert call(control, "DELETE", "/__fastmock/fixtures", None, "X-Test-Id: b").json() == \
        {"removed": 0}
    assert call(control, "DELETE", "/__fastmock/fixtures?testId=a").json() == {"removed": 1}


def test_control_paths_and_methods(control):
    r = call(control, "PUT", "/__fastmock/fixtures", b"{}")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, POST, DELETE, OPTIONS"
    assert get(control, "/__fastmock/nothing").status == 404
    assert call(control, "GET", "/__fastmock/reset").status == 405
    r = get(control, "/__fastmock/journal?limit=x")
    assert r.status == 400 and r.json()["error"]["param"] == "limit"
    assert call(control, "POST", "/__fastmock/reset?fixtures=maybe").status == 400


# -- the journal --------------------------------------------------------------------------

def journal(server, query: str = "", *headers: str):
    r = get(server, "/__fastmock/journal" + query, *headers)
    assert r.status == 200, r.body
    return r.json(), int(r.header("x-total-count"))


def test_the_journal_records_provider_requests_only(control):
    post(control, "/v1/chat/completions", CHAT, "X-Request-Id: mine-1")
    post(control, "/v1/chat/completions", {**CHAT, "stream": True, "model": "gpt-x"})
    post(control, "/api/chat", {**CHAT, "model": "llama3.2", "stream": False})
    post(control, "/v1/chat/completions", {"model": "m"})                     # a 400
    for path in ("/api/data", "/health", "/stream-sse?max_tokens=2", "/metrics"):
        get(control, path)
    entries, total = journal(control)
    assert total == 4 and len(entries) == 4
    bad, ollama, streamed, whole = entries                       # newest first
    assert whole["id"] == "mine-1" and whole["method"] == "POST"
    assert whole["path"] == "/v1/chat/completions" and whole["model"] == "gpt-4o"
    assert whole["body"] == CHAT and whole["status"] == 200 and whole["tokens"] > 0
    assert whole["fixture"] is None and whole["ttftMs"] == 0 and whole["time"] > 0
    assert streamed["model"] == "gpt-x" and streamed["status"] == 200
    assert streamed["tokens"] == whole["tokens"] and FRESH.match(streamed["id"])
    assert ollama["path"] == "/api/chat" and ollama["model"] == "llama3.2"
    assert bad["status"] == 400 and bad["tokens"] == 0


def test_journal_filters_and_pages(control):
    for i in range(5):
        post(control, "/v1/chat/completions", {**CHAT, "model": f"m{i % 2}"}, f"X-Request-Id: r{i}",
             *(["X-Test-Id: t1"] if i < 2 else []))
    post(control, "/api/chat", {**CHAT, "stream": False})
    assert journal(control, "?path=/api/")[1] == 1
    entries, total = journal(control, "?model=m1")
    assert total == 2 and [e["id"] for e in entries] == ["r3", "r1"]
    assert journal(control, "?testId=t1")[1] == 2
    assert [e["id"] for e in journal(control, "", "X-Test-Id: t1")[0]] == ["r1", "r0"]
    assert [e["id"] for e in journal(control, "?requestId=r2")[0]] == ["r2"]
    entries, total = journal(control, "?limit=2&offset=1&path=chat%2Fcompletions")
    assert total == 5 and [e["id"] for e in entries] == ["r3", "r2"]


def test_a_large_body_is_capped(control):
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 20_000}]}
    post(control, "/v1/chat/completions", big)
    entry = journal(control)[0][0]
    assert entry["bodyTruncated"] is True and entry["bodySize"] > 20_000
    assert len(entry["body"]) <= 4096 and entry["model"] == "gpt-4o"


def test_journal_size_bounds_and_zero_turns_it_off(start_server):
    small = start_server("--journal-size", "2")
    for i in range(4):
        post(small, "/v1/chat/completions", CHAT, f"X-Request-Id: r{i}")
    assert [e["id"] for e in journal(small)[0]] == ["r3", "r2"]
    off = start_server("--journal-size", "0")
    post(off, "/v1/chat/completions", CHAT)
    r = get(off, "/__fastmock/journal")
    assert r.status == 404 and "--journal-size 0" in r.json()["error"]["message"]


def test_reset(control):
    call(control, "POST", "/__fastmock/fixtures", [FIXTURE])
    call(control, "POST", "/__fastmock/fixtures", [FIXTURE], "X-Test-Id: mine")
    post(control, "/v1/chat/completions", CHAT, "X-Test-Id: mine")
    post(control, "/v1/chat/completions", CHAT)
    r = call(control, "POST", "/__fastmock/reset?fixtures=1", None, "X-Test-Id: mine")
    assert r.json() == {"reset": True, "removedFixtures": 1}
    assert journal(control)[1] == 1                             # only "mine" went
    assert len(get(control, "/__fastmock/fixtures").json()["fixtures"]) == 1
    r = call(control, "POST", "/__fastmock/reset")
    assert r.json()["removedFixtures"] == 0 and journal(control)[1] == 0
    assert len(get(control, "/__fastmock/fixtures").json()["fixtures"]) == 1   # kept
    call(control, "POST", "/__fastmock/reset?fixtures=1")
    assert get(control, "/__fastmock/fixtures").json()["fixtures"] == []


# -- X-Request-Id -------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/chat/completions", {**CHAT, "stream": True}),
    ("POST", "/v1/messages", {**CHAT, "max_tokens": 5, "stream": True}),
    ("POST", "/v1/chat/completions", {"model": "m"}),             # an error
    ("GET", "/stream-sse?max_tokens=2", None),
    ("GET", "/__fastmock/fixtures", None),
    ("GET", "/nowhere", None),
    ("GET", "/metrics", None),
    ("DELETE", "/v1/chat/completions", None),                      # a 405
])
def test_every_answer_carries_a_request_id(api_server, method, path, body):
    r = call(api_server, method, path, body)
    assert FRESH.match(r.header("x-request-id")), r
    again = call(api_server, method, path, body)
    assert again.header("x-request-id") != r.header("x-request-id")
    own = call(api_server, method, path, body, "X-Request-Id: trace-42.a_b~c:1/2+3=4@x")
    assert own.header("x-request-id") == "trace-42.a_b~c:1/2+3=4@x"


@pytest.mark.parametrize("value", ["a b", "<script>", "x" * 129, "caf\u00e9", "a,b", '"q"', ""])
def test_an_unsafe_client_id_gets_a_fresh_one(api_server, value):
    r = post(api_server, "/v1/chat/completions", CHAT, f"X-Request-Id: {value}")
    assert FRESH.match(r.header("x-request-id"))
    assert [k for k, _ in r.raw_headers if k.lower() == "x-request-id"] == ["X-Request-Id"]


@pytest.mark.parametrize("path", ["/api/data", "/health"])
def test_the_seed_static_answers_carry_the_clients_id_or_a_fresh_one(api_server, path):
    first = get(api_server, path).header("x-request-id")
    assert FRESH.match(first)
    for _ in range(3):                          # memoised after the first: still its own id
        r = get(api_server, path, "X-Request-Id: seed-1")
        assert r.status == 200 and r.header("x-request-id") == "seed-1"
    assert get(api_server, path, "X-Request-Id: seed-2").header("x-request-id") == "seed-2"
    assert FRESH.match(get(api_server, path, "X-Request-Id: a b").header("x-request-id"))
    last = get(api_server, path).header("x-request-id")
    assert FRESH.match(last) and last != first


# -- run-time fixtures answer, scoped by X-Test-Id ------------------------------------------

WEATHER = {"model": "gpt-4o", "messages": [{"role": "user", "content": "the weather?"}]}


def chat_content(server, *headers: str) -> str:
    r = call(server, "POST", "/v1/chat/completions", WEATHER, *headers)
    assert r.status == 200, r.body
    return r.json()["choices"][0]["message"]["content"]


def test_a_fixture_added_at_run_time_answers_and_is_journaled(control):
    corpus = chat_content(control)
    assert call(control, "POST", "/__fastmock/fixtures", {"fixtures": [FIXTURE]}).status == 200
    assert chat_content(control) == "It is sunny."
    newest = get(control, "/__fastmock/journal?limit=1").json()[0]
    assert newest["fixture"] == "request body#0"    # the POSTed body, its first fixture
    assert call(control, "DELETE", "/__fastmock/fixtures").status == 200
    assert chat_content(control) == corpus


def test_a_test_id_sees_only_its_own_run_time_fixtures(control):
    mine = {"match": {"userMessage": "weather"}, "response": {"content": "Mine."}}
    assert call(control, "POST", "/__fastmock/fixtures", {"fixtures": [mine]},
                "X-Test-Id: t-one").status == 200
    assert chat_content(control, "X-Test-Id: t-one") == "Mine."
    assert chat_content(control, "X-Test-Id: t-two") != "Mine."
    assert chat_content(control) != "Mine."
