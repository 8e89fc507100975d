"""Escaping (issue #4, item 3): whatever a client sends, what fastmock reflects of it (the
path of a 404, a control's bad value, the access log line) is escaped, the answer stays
valid JSON and valid HTTP, and no client text ever reaches a response header.

The provider APIs (model names, echoed prompts) are covered with those APIs.
"""
from __future__ import annotations

import json
import re

import pytest

from support.http import get, http_request, read_response
from support.server import wait_for

pytestmark = pytest.mark.e2e

MARK = "INJECTED"
# header names fastmock may send; anything else would be client text in the head
KNOWN_HEADERS = {"server", "access-control-allow-origin", "content-type", "content-length",
                 "connection", "retry-after", "allow", "cache-control", "x-accel-buffering",
                 "transfer-encoding", "access-control-allow-methods",
                 "access-control-allow-headers", "access-control-max-age",
                 "access-control-expose-headers",   # a constant list of names (wire.py)
                 "x-request-id", "request-id"}     # ours: a client id only when it is a safe token, else fresh


def exchange(server, raw: bytes):
    with server.connect() as sock:
        sock.sendall(raw)
        reader = sock.makefile("rb")
        response = read_response(reader)
        sock.sendall(get("/health"))
        follow = read_response(reader)
    assert follow.json() == {"status": "ok"}, "the connection is still usable"
    return response


def assert_clean(response) -> dict:
    """The head is ours alone; the body is strict JSON in UTF-8 with a valid length."""
    assert set(response.headers) <= KNOWN_HEADERS, response.headers
    for name, value in response.headers.items():
        assert MARK not in value and MARK.lower() not in value.lower(), (name, value)
    assert int(response.headers["content-length"]) == len(response.body)
    doc = json.loads(response.body.decode("utf-8"))          # strict: no raw control characters
    return doc


@pytest.mark.parametrize("path", [
    '/"quoted"/' + MARK,
    "/back\\slash\\" + MARK,
    "/</script><script>alert(1)</script>" + MARK,
    '/{"json":"' + MARK + '"}',
    "/%22%0D%0A" + MARK + ":%201",          # percent-escapes are not decoded into the message
    "/" + "x" * 5000 + MARK,                # the message is cut; the JSON stays whole
])
def test_unknown_path_is_reflected_escaped(server, path):
    response = exchange(server, get(path))
    assert response.status == 404
    message = assert_clean(response)["error"]["message"]
    assert message.startswith("no route for /")
    assert path.startswith(message[len("no route for "):])


def test_head_of_an_unknown_path_has_the_same_head(server):
    path = '/"x\\' + MARK
    same_id = "X-Request-Id: head-test"           # else each answer has its own fresh id
    full = exchange(server, get(path, same_id))
    with server.connect() as sock:
        sock.sendall(get(path, same_id, method="HEAD"))
        head = read_response(sock.makefile("rb"), head_only=True)
    assert head.status == 404 and head.headers == full.headers


@pytest.mark.parametrize("query", [
    "delay_ms=%22%5C%0D%0A%00%1F%7F" + MARK,
    "ttft_ms=%FF%FE%C3%28" + MARK,                    # bytes that are not UTF-8
    "status=429%0D%0AX-" + MARK + ":%201",           # a header injection attempt
    "max_tokens=%E2%80%A8%E2%80%A9" + MARK,          # U+2028/U+2029
    "fail_after=" + "9" * 300 + MARK,
])
def test_a_bad_control_value_is_reflected_escaped(server, query):
    response = exchange(server, get("/stream-sse?" + query))
    assert response.status == 400
    error = assert_clean(response)["error"]
    assert error["param"] == query.split("=")[0] and error["param"] in error["message"]


@pytest.mark.parametrize("value", [
    '"><script>' + MARK,
    "\\u0000\\" + MARK,
    "\xff\xfe obs-text " + MARK,
    "429 " + MARK,
])
def test_a_bad_control_header_is_reflected_escaped(server, value):
    raw = (b"GET /stream-sse HTTP/1.1\r\nHost: t\r\nX-Mock-Status: " + value.encode("latin-1")
           + b"\r\n\r\n")
    response = exchange(server, raw)
    assert response.status == 400
    assert assert_clean(response)["error"]["param"] == "status"


def test_no_request_header_is_ever_echoed(server):
    """Origin, CORS request headers and the rest stay out of every answer's head."""
    headers = [f"Origin: http://{MARK}.example", f"Access-Control-Request-Headers: x-{MARK}",
               f"Access-Control-Request-Method: {MARK}", f"X-{MARK}: {MARK}", f"Cookie: {MARK}=1"]
    for method, path in (("GET", "/health"), ("OPTIONS", "/stream-sse"), ("GET", "/nope"),
                         ("DELETE", "/health"), ("GET", "/stream-sse?status=503")):
        with server.connect() as sock:
            sock.sendall(get(path, *headers, "Connection: close", method=method))
            raw = sock.makefile("rb").read()
        head = raw.partition(b"\r\n\r\n")[0]
        assert MARK.encode() not in head and MARK.lower().encode() not in head.lower(), head


def test_access_log_line_escapes_what_the_client_sent(start_server):
    server = start_server("--access-log")
    http_request(server, get('/a"b\\c?d="' + MARK + '"', "Connection: close"))
    line = wait_for(lambda: next((x for x in server.log.splitlines() if MARK in x), None), timeout=5)
    assert line, server.log
    match = re.fullmatch(r'127\.0\.0\.1 - - \[[^\]]+\] "([^"]*)" 404 \d+', line)
    assert match, line
    assert match.group(1) == f"GET /a\\x22b\\x5cc?d=\\x22{MARK}\\x22 HTTP/1.1"
