"""The provider APIs over raw sockets: bad input in each API's own error shape, body limits,
CORS, HEAD, HTTP/1.0, pipelining, hostile strings, and a server that keeps serving."""
from __future__ import annotations

import json

import pytest

from support.apis import HOSTILE, TEXT, TOKENS, assert_health, post
from support.http import read_response
from support.streams import ndjson, sse

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
# path, a valid body, the API's error shape
APIS = {
    "/v1/chat/completions": (CHAT, "openai"),
    "/v1/completions": ({"model": "m", "prompt": "hi"}, "openai"),
    "/v1/responses": ({"model": "m", "input": "hi"}, "openai"),
    "/v1/embeddings": ({"model": "m", "input": "hi"}, "openai"),
    "/v1/messages": ({**CHAT, "max_tokens": 10}, "anthropic"),
    "/api/generate": ({"model": "m", "prompt": "hi"}, "ollama"),
    "/api/chat": (CHAT, "ollama"),
}
STREAMING = [p for p in APIS if p != "/v1/embeddings"]
GETS = ["/v1/models", "/v1/models/some-id", "/api/tags", "/api/version"]


def error_message(response, shape: str) -> str:
    """The message of an error answer, after checking that it has exactly the API's shape."""
    doc = response.json()
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    if shape == "openai":
        assert set(doc) == {"error"} and set(doc["error"]) == {"message", "type", "param", "code"}
        return doc["error"]["message"]
    if shape == "anthropic":
        assert doc["type"] == "error" and set(doc["error"]) == {"type", "message"}
        assert doc["request_id"].startswith("req_")
        return doc["error"]["message"]
    assert set(doc) == {"error"} and isinstance(doc["error"], str)
    return doc["error"]


@pytest.mark.parametrize("path", APIS)
@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b'{"model": "m",}', b"\xff\xfe\x00"])
def test_invalid_json_is_a_400_in_the_api_shape(api_server, path, raw):
    response = post(api_server, path, None, raw=raw)
    assert response.status == 400
    assert "JSON" in error_message(response, APIS[path][1])


@pytest.mark.parametrize("path, drop", [
    ("/v1/chat/completions", "messages"), ("/v1/chat/completions", "model"),
    ("/v1/completions", "prompt"), ("/v1/responses", "model"), ("/v1/embeddings", "input"),
    ("/v1/messages", "max_tokens"), ("/v1/messages", "messages"), ("/v1/messages", "model"),
    ("/api/generate", "model"), ("/api/chat", "model"),
])
def test_a_missing_required_field_is_named(api_server, path, drop):
    body, shape = APIS[path]
    response = post(api_server, path, {k: v for k, v in body.items() if k != drop})
    assert response.status == 400
    assert drop in error_message(response, shape)
    if shape == "openai":
        assert response.json()["error"]["param"] == drop


@pytest.mark.parametrize("path, field, value", [
    ("/v1/chat/completions", "max_tokens", "5"), ("/v1/chat/completions", "messages", {}),
    ("/v1/chat/completions", "stream_options", []), ("/v1/completions", "prompt", 5),
    ("/v1/responses", "max_output_tokens", 1.5), ("/v1/embeddings", "input", {"a": 1}),
    ("/v1/messages", "max_tokens", None), ("/v1/messages", "stream", 1),
    ("/api/generate", "options", "fast"), ("/api/chat", "messages", "hi"),
    ("/api/chat", "model", 7),
])
def test_a_wrong_type_is_named(api_server, path, field, value):
    body, shape = APIS[path]
    response = post(api_server, path, {**body, field: value})
    assert response.status == 400
    assert field in error_message(response, shape)


@pytest.mark.parametrize("path", APIS)
def test_an_invalid_echo_header_or_control_is_a_400_in_the_api_shape(api_server, path):
    body, shape = APIS[path]
    response = post(api_server, path, body, "X-Mock-Echo: sometimes")
    assert response.status == 400 and "X-Mock-Echo" in error_message(response, shape)
    response = post(api_server, path + "?max_tokens=-3", body)
    assert response.status == 400 and "max_tokens" in error_message(response, shape)


def test_bodies_over_the_limit_are_413_in_each_api_shape(start_server):
    server = start_server("--max-body-bytes", "1000", "--delay-ms", "1")
    for path, (_, shape) in APIS.items():
        response = post(server, path, {"model": "m", "pad": "x" * 2000})
        assert response.status == 413 and "1000" in error_message(response, shape)
        with server.connect() as sock:    # chunked: the limit holds while the body arrives
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                         .encode() + (b"200\r\n" + b"a" * 0x200 + b"\r\n") * 3 + b"0\r\n\r\n")
            chunked = read_response(sock.makefile("rb"))
        assert chunked.status == 413 and "1000" in error_message(chunked, shape)
        assert post(server, path, APIS[path][0], "X-Mock-Max-Tokens: 1").status == 200
    assert_health(server)


def test_a_chunked_body_split_across_writes_is_read_whole(api_server):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "echo: a b"}]})
    with api_server.connect() as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        reader = sock.makefile("rb")
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n" and reader.readline() == b"\r\n"
        for i in range(0, len(body), 7):
            piece = body[i:i + 7].encode()
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        response = read_response(reader)
    assert response.status == 200 and response.json()["choices"][0]["message"]["content"] == "a b"


@pytest.mark.parametrize("path", list(APIS) + GETS)
def test_cors_preflight_and_allow_origin_on_api_routes(api_server, path):
    with api_server.connect() as sock:
        sock.sendall(f"OPTIONS {path} HTTP/1.1\r\nHost: t\r\nOrigin: http://app.test\r\n"
                     "Access-Control-Request-Method: POST\r\n"
                     "Access-Control-Request-Headers: authorization, content-type\r\n\r\n".encode())
        response = read_response(sock.makefile("rb"))
    assert response.status == 204 and response.headers["access-control-allow-origin"] == "*"
    allowed = response.headers["access-control-allow-methods"]
    assert ("POST" if path in APIS else "GET") in allowed
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    if path in APIS:
        answer = post(api_server, path, APIS[path][0], "Origin: http://app.test")
    else:
        answer = post(api_server, path, b"", method="GET")
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", GETS)
def test_head_on_the_get_api_routes(api_server, path):
    get = post(api_server, path, b"", method="GET")
    head = post(api_server, path, b"", method="HEAD")
    assert head.status == get.status == 200 and head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.body))


def test_wrong_methods_get_405_with_allow(api_server):
    response = post(api_server, "/v1/chat/completions", b"", method="GET")
    assert response.status == 405 and response.headers["allow"] == "POST, OPTIONS"
    response = post(api_server, "/api/tags", CHAT)
    assert response.status == 405 and response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert_health(api_server)


@pytest.mark.parametrize("path", STREAMING)
def test_http10_streams_are_close_delimited(api_server, path):
    body = {**APIS[path][0], "stream": True}
    response = post(api_server, path + "?max_tokens=3", body, version="1.0")
    assert response.status == 200 and "transfer-encoding" not in response.headers
    assert response.headers["connection"] == "close"
    if path.startswith("/api/"):
        lines = ndjson(response.body)
        assert len(lines) == 4 and lines[-1]["done"] is True
    else:
        events = sse(response.body)
        assert len(events) > 3 and b"\r\n" not in response.body


def test_http10_keep_alive_for_whole_answers(api_server):
    with api_server.connect() as sock:
        reader = sock.makefile("rb")
        for _ in range(2):
            data = json.dumps(CHAT).encode()
            sock.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nConnection: keep-alive\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
            response = read_response(reader)
            assert response.status == 200 and response.json()["choices"][0]["message"]["content"] == TEXT


def test_pipelined_api_requests_are_answered_in_order(api_server):
    def request(path, body):
        data = json.dumps(body).encode()
        return b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (
            path.encode(), len(data), data)
    with api_server.connect() as sock:
        sock.sendall(request("/v1/chat/completions?max_tokens=3", {**CHAT, "stream": True})
                     + request("/api/generate", {"model": "m", "prompt": "echo: x", "stream": False})
                     + request("/v1/messages?ttft_ms=50", {**CHAT, "max_tokens": 2})
                     + b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = sock.makefile("rb")
        first, second, third, fourth = (read_response(reader) for _ in range(4))
    assert [e for _, e in sse(first.body)][-1] == "[DONE]"
    assert second.json()["response"] == "x"
    assert third.json()["content"][0]["text"] == "".join(TOKENS[:2])
    assert fourth.json() == {"status": "ok"}


def test_non_stream_fail_after_sends_half_the_body_then_cuts(api_server):
    with api_server.connect() as sock:
        data = json.dumps(CHAT).encode()
        sock.sendall(b"POST /v1/chat/completions?fail_after=1 HTTP/1.1\r\nHost: t\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
        received = b""
        while True:
            try:
                more = sock.recv(65536)
            except ConnectionResetError:
                break
            if not more:
                break
            received += more
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert len(body) == length // 2 and body == body[:length // 2]
    assert_health(api_server)


# -- hostile strings -----------------------------------------------------------------------

LONE = "lone \ud800 surrogate"


@pytest.mark.parametrize("path, stream", [(p, False) for p in APIS] + [(p, True) for p in STREAMING])
def test_hostile_model_names_give_valid_json_everywhere(api_server, path, stream):
    for model in (HOSTILE, LONE, "\r\nX-Injected: 1"):
        body = {**APIS[path][0], "model": model, "stream": stream}
        response = post(api_server, path + "?max_tokens=3", body)
        assert response.status == 200 and "x-injected" not in response.headers
        if not stream:
            docs = [response.json()]
        elif path.startswith("/api/"):
            docs = ndjson(response.body)
        else:
            docs = [d for _, d in sse(response.body) if d != "[DONE]"]
        models = set()
        for doc in docs:
            for holder in (doc, doc.get("message") or {}, doc.get("response") or {}):
                if isinstance(holder, dict) and "model" in holder:
                    models.add(holder["model"])
        assert models == {model}, (path, docs[:2])


def test_hostile_echo_and_model_ids_never_reach_a_header(api_server):
    with api_server.connect() as sock:
        sock.sendall(b"GET /v1/models/a%0D%0AX-Injected:%201%22%5C HTTP/1.1\r\nHost: t\r\n\r\n")
        response = read_response(sock.makefile("rb"))
    assert response.status == 200 and "x-injected" not in response.headers
    assert response.json()["id"] == 'a\r\nX-Injected: 1"\\'
    body = {"model": "m", "messages": [{"role": "user", "content": "echo: " + HOSTILE + LONE}],
            "stream": True}
    events = sse(post(api_server, "/v1/chat/completions", body).body)
    text = "".join(d["choices"][0]["delta"].get("content", "") for _, d in events[:-1] if d["choices"])
    assert text == HOSTILE + LONE
    assert_health(api_server)


def test_metrics_count_api_routes_with_one_label_for_model_ids(api_server):
    for name in ("a", "b", "c"):
        post(api_server, f"/v1/models/{name}", b"", method="GET")
    response = post(api_server, "/metrics", b"", method="GET")
    assert 'route="/v1/models/{id}",status="200"' in response.body.decode()


def test_text_file_and_model_flags_apply_to_the_provider_apis(start_server, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("alpha beta \"gamma\" délta", encoding="utf-8")
    server = start_server("--text-file", str(corpus), "--model", "house-model", "--delay-ms", "1")
    text = corpus.read_text(encoding="utf-8")
    assert post(server, "/v1/chat/completions", CHAT).json()["choices"][0]["message"]["content"] == text
    assert post(server, "/v1/messages", {**CHAT, "max_tokens": 9}).json()["content"][0]["text"] == text
    lines = ndjson(post(server, "/api/generate", {"model": "m", "prompt": "x"}).body)
    assert "".join(line["response"] for line in lines) == text and lines[-1]["eval_count"] == 4
    assert [m["id"] for m in post(server, "/v1/models", b"", method="GET").json()["data"]] == ["house-model"]
    assert post(server, "/api/tags", b"", method="GET").json()["models"][0]["model"] == "house-model"
