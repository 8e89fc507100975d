"""What real clients hit (issue 17, point 6), over raw HTTP: the CORS headers a page may read,
Ollama's root and its error shape under /api/, and Responses objects without null user/usage."""
from __future__ import annotations

import pytest

from support.apis import assert_health, post
from support.streams import sse

EXPOSED = {"retry-after", "x-request-id", "request-id"}


def exposed(response) -> set[str]:
    """The names every Access-Control-Expose-Headers line of the answer gives (a browser
    joins the lines of a list header)."""
    assert response.headers["access-control-allow-origin"] == "*"
    names = {name.strip().lower() for key, value in response.raw_headers
             if key.lower() == "access-control-expose-headers" for name in value.split(",")}
    assert "*" not in names
    return names


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/health", None), ("GET", "/api/data", None), ("HEAD", "/health", None),
    ("GET", "/", None), ("GET", "/nowhere", None), ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}]}),
    ("POST", "/v1/messages", {"model": "m", "max_tokens": 2, "stream": True,
                              "messages": [{"role": "user", "content": "x"}]}),
    ("POST", "/api/chat", {"model": "m", "messages": []}),
    ("OPTIONS", "/v1/messages", None),
])
def test_every_cors_answer_exposes_the_headers_page_code_reads(api_server, method, path, body):
    response = post(api_server, path, body or b"", "Origin: http://app.test", method=method)
    assert EXPOSED <= exposed(response)


@pytest.mark.parametrize("path, body, prefix", [
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}]},
     "x-ratelimit-"),
    ("/v1/messages", {"model": "m", "max_tokens": 3, "messages": [{"role": "user", "content": "x"}]},
     "anthropic-ratelimit-"),
])
def test_rate_limited_answers_expose_their_rate_limit_headers(start_server, path, body, prefix):
    server = start_server("--delay-ms", "1", "--rate-limit", "requests=1/m,tokens=9000/m")
    served = post(server, path, body, "Origin: http://app.test")
    assert served.status == 200
    sent = {h for h in served.headers if h.startswith(prefix)}
    assert len(sent) >= 6 and sent | EXPOSED <= exposed(served)
    refused = post(server, path, body, "Origin: http://app.test")
    assert refused.status == 429
    sent = {h for h in refused.headers if h.startswith(prefix)}
    assert len(sent) >= 6 and sent | EXPOSED <= exposed(refused)
    assert "retry-after" in refused.headers
    assert_health(server)


def test_answers_without_rate_limits_name_no_rate_limit_header(api_server):
    chat = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert exposed(post(api_server, "/v1/chat/completions", chat)) == EXPOSED


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_ollama_root(api_server, method):
    response = post(api_server, "/", b"", method=method)
    assert response.status == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(b"Ollama is running"))
    assert response.body == (b"" if method == "HEAD" else b"Ollama is running")
    assert post(api_server, "/", b"{}").status == 405


@pytest.mark.parametrize("path", ["/api/nothing", "/api/", "/api/tags/extra"])
def test_unknown_paths_under_api_answer_in_ollama_shape(api_server, path):
    response = post(api_server, path, b"{}")
    assert response.status == 404 and response.json() == {"error": "no route for " + path}
    other = post(api_server, "/v2/nothing", b"{}")
    assert other.status == 404 and other.json()["error"]["type"] == "not_found_error"
    assert_health(api_server)


def test_responses_leave_out_null_user_and_usage(api_server):
    body = {"model": "m", "input": "hi", "max_output_tokens": 3}
    whole = post(api_server, "/v1/responses", body).json()
    assert "user" not in whole and whole["usage"]["output_tokens"] == 3
    events = sse(post(api_server, "/v1/responses", {**body, "stream": True}).body)
    documents = [data["response"] for _, data in events if "response" in data]
    assert [d["status"] for d in documents] == ["in_progress", "in_progress", "incomplete"]
    assert all("user" not in d for d in documents)
    assert ["usage" in d for d in documents] == [False, False, True]
    assert documents[-1]["usage"]["output_tokens"] == 3
