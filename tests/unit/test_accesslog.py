"""The access log: Common Log Format and JSON lines, escaping, buffering (the live flags: e2e/test_e2e_accesslog.py)."""
from __future__ import annotations

import io
import json
import re
import time

import pytest

from fastmock.accesslog import FLUSH_LINES, AccessLog
from fastmock.accesslog import request_line as _request_line

PEER = ("127.0.0.1", 40000)
CLF = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([^"]*)" (\d{3}) (\d+)$')


def lines_of(log: AccessLog, out: io.StringIO) -> list[str]:
    log.flush()
    return out.getvalue().splitlines()


# -- the writer, on its own ------------------------------------------------------------

def test_clf_line():
    out = io.StringIO()
    log = AccessLog(out)
    log.write(PEER, "GET /health HTTP/1.1", 200, 150)
    [line] = lines_of(log, out)
    match = CLF.match(line)
    assert match, line
    assert match.group(1) == "127.0.0.1" and match.group(3) == "GET /health HTTP/1.1"
    assert (match.group(4), match.group(5)) == ("200", "150")
    stamp = time.strptime(match.group(2), "%d/%b/%Y:%H:%M:%S +0000")
    assert abs(time.mktime(stamp) - time.mktime(time.gmtime())) < 5


def test_clf_without_a_request_line_or_peer():
    out = io.StringIO()
    log = AccessLog(out)
    log.write(None, "", 400, 120)
    [line] = lines_of(log, out)
    assert line.startswith("- - - [") and line.endswith('] "-" 400 120')


def test_json_line_has_every_field():
    out = io.StringIO()
    log = AccessLog(out, "json")
    before = time.time()
    log.write(PEER, "POST /v1/chat/completions HTTP/1.1", 200, 1234, duration=0.0125)
    log.write(("::1", 1, 0, 0), "GET /health HTTP/1.0", 404, 99)
    first, second = (json.loads(x) for x in lines_of(log, out))
    assert first == {"time": first["time"], "remote": "127.0.0.1", "method": "POST",
                     "path": "/v1/chat/completions", "protocol": "HTTP/1.1", "status": 200,
                     "bytes": 1234, "duration_ms": 12.5}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    stamp = time.strptime(first["time"][:19], "%Y-%m-%dT%H:%M:%S")
    assert abs(time.mktime(stamp) - time.mktime(time.gmtime(before))) < 5
    assert second["remote"] == "::1" and second["protocol"] == "HTTP/1.0"
    assert "duration_ms" not in second


def test_json_line_without_a_request_line():
    out = io.StringIO()
    log = AccessLog(out, "json")
    log.write(None, "", 408, 100)
    [line] = lines_of(log, out)
    doc = json.loads(line)
    assert doc["remote"] is None and doc["method"] is None and doc["path"] is None
    assert doc["status"] == 408


@pytest.mark.parametrize("url", [
    b'/nope?q="quoted"',
    b"/back\\slash?x=\\x22",           # a literal backslash, and a literal "\x22" in the URL
    b"/%22%5C?a=1&b=<script>",
    b"/caf\xc3\xa9/\xe2\x80\xa8",      # UTF-8 (U+2028 breaks naive JSON-in-JS)
    b"/ctl\x01\x1f\x7f",
    b"/bad-utf8-\xff\xfe",
])
def test_json_and_clf_escape_every_target(url):
    """Whatever the target, a JSON line parses and gives it back; a CLF line keeps its shape."""
    line = _request_line(b"GET", url, False)
    assert line.count('"') == 0 and line.isascii() and line.isprintable()
    out, jout = io.StringIO(), io.StringIO()
    clf, js = AccessLog(out), AccessLog(jout, "json")
    clf.write(PEER, line, 404, 10)
    js.write(PEER, line, 404, 10)
    [clf_line] = lines_of(clf, out)
    assert CLF.match(clf_line), clf_line
    [json_line] = lines_of(js, jout)
    assert "\n" not in json_line and "\u2028" not in json_line
    doc = json.loads(json_line)
    assert doc["path"] == url.decode("utf-8", "backslashreplace")
    assert doc["method"] == "GET" and doc["status"] == 404


def test_lines_are_buffered_then_flushed():
    out = io.StringIO()
    log = AccessLog(out)
    for _ in range(FLUSH_LINES - 1):
        log.write(PEER, "GET / HTTP/1.1", 200, 1)
    assert out.getvalue() == "", "written before the buffer filled"
    log.write(PEER, "GET / HTTP/1.1", 200, 1)
    assert len(out.getvalue().splitlines()) == FLUSH_LINES


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        AccessLog(io.StringIO(), "xml")
