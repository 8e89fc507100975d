"""The access log of a live server: off by default, JSON or CLF, the flags and the environment."""
from __future__ import annotations

import json
import re
import time

from support.http import get, http_request
from support.server import wait_for

# A Common Log Format line (its exact shape is unit/test_accesslog.py's)
CLF = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([^"]*)" (\d{3}) (\d+)$')


def access_lines(server, count: int) -> list[str]:
    """The access log lines (stdout), once ``count`` are there (the sweep flushes once a second)."""
    def found():
        lines = [x for x in server.log.splitlines() if x.startswith("{") or CLF.match(x)]
        return lines if len(lines) >= count else None
    lines = wait_for(found, timeout=5)
    assert lines and len(lines) == count, server.log
    return lines


def test_no_access_log_by_default(server):
    http_request(server, get("/health", "Connection: close"))
    time.sleep(1.3)  # past a sweep, which would flush a buffered line
    assert not [x for x in server.log.splitlines() if "/health" in x], server.log


def test_json_access_log_live(start_server):
    server = start_server("--access-log", "--log-format", "json", "--delay-ms", "1")
    health = http_request(server, get("/health", "Connection: close"))
    http_request(server, get('/nope?x="y"&z=\\', "Connection: close"))
    stream = http_request(server, get("/stream-sse?max_tokens=2", "Connection: close"))
    http_request(server, b"GARBAGE\r\n\r\n")
    docs = [json.loads(x) for x in access_lines(server, 4)]
    assert [d["status"] for d in docs] == [200, 404, 200, 400]
    assert docs[0]["path"] == "/health" and docs[0]["bytes"] == len(health)
    assert docs[0]["remote"] == "127.0.0.1" and docs[0]["protocol"] == "HTTP/1.1"
    assert docs[1]["path"] == '/nope?x="y"&z=\\'
    assert docs[2]["path"] == "/stream-sse?max_tokens=2"
    assert 0 < docs[2]["bytes"] < len(stream)          # the head: the stream is still to come
    assert docs[3]["method"] is None and docs[3]["path"] is None


def test_log_format_from_the_environment(start_server):
    server = start_server(env={"FASTMOCK_ACCESS_LOG": "1", "FASTMOCK_LOG_FORMAT": "JSON"})
    http_request(server, get("/health", "Connection: close"))
    [line] = access_lines(server, 1)
    assert json.loads(line)["path"] == "/health"


def test_an_error_after_a_request_is_not_logged_with_its_line(start_server):
    """A 400 on a kept-alive connection is logged without the request line before it."""
    server = start_server("--access-log")
    http_request(server, get("/health") + b"GARBAGE\r\n\r\n")
    first, second = access_lines(server, 2)
    assert '"GET /health HTTP/1.1" 200 ' in first
    assert re.search(r'"-" 400 [1-9][0-9]*$', second), second       # its size, whatever it is
