"""The live dashboard against the real server: the feed (GET /__fastmock/stats) after known
traffic, both routes' HEAD, CORS, 404 and 405, and the page (GET /__fastmock/ui) opened in
headless Chromium under load, its rendered numbers checked against the counters."""
from __future__ import annotations

import contextlib
import json

import pytest

from fastmock import _engine
from fastmock._engine import BOUNDS, LAYOUT, SLOTS
from fastmock.ui import PAGE
from fastmock.wire import KEEP_ALIVE
from support import chromium
from support.apis import post
from support.http import read_head
from support.server import wait_for

pytestmark = pytest.mark.e2e

STATS, UI = "/__fastmock/stats", "/__fastmock/ui"


def get(server, path: str, *headers: str, method: str = "GET"):
    return post(server, path, b"", *headers, method=method)


def feed(server) -> dict:
    r = get(server, STATS)
    assert r.status == 200 and r.header("content-type") == "application/json", r
    return r.json()


def known_traffic(server) -> None:
    """3 /health, 3 /stream-sse of 5 tokens, 2 of them answered 429, one unknown path, one
    POST to /health (405)."""
    for _ in range(3):
        assert get(server, "/health").status == 200
    for _ in range(3):
        assert get(server, "/stream-sse?max_tokens=5").status == 200
    for _ in range(2):
        assert get(server, "/stream-sse?status=429").status == 429
    assert get(server, "/v1/nothing").status == 404
    assert post(server, "/health", b"").status == 405


@contextlib.contextmanager
def held_streams(server, count: int, path: str):
    """``count`` streams of ``path`` open (their heads read) until the block ends."""
    socks = []
    try:
        for _ in range(count):
            sock = server.connect(10)
            socks.append(sock)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        for sock in socks:
            status, _, _ = read_head(sock.makefile("rb"))
            assert status.startswith(b"HTTP/1.1 200"), status
        yield socks
    finally:
        for sock in socks:
            sock.close()


# -- the feed ------------------------------------------------------------------------------

def test_the_feed_after_known_traffic(server):
    known_traffic(server)
    doc = feed(server)
    assert set(doc) == {"time_ms", "workers", "gauges", "counters", "requests", "histograms"}
    assert doc["workers"] == 1 and doc["gauges"] == [
        "open_connections", "active_streams", "waiting_streams"]
    assert set(doc["counters"]) == set(SLOTS)
    assert doc["counters"]["tokens_sent"] == 15
    assert doc["counters"]["active_streams"] == doc["counters"]["waiting_streams"] == 0
    assert doc["counters"]["open_connections"] == 1          # the feed's own request
    assert doc["counters"]["connections"] == 11
    assert doc["requests"] == {"/health": {"200": 3, "405": 1},
                               "/stream-sse": {"200": 3, "429": 2}, "other": {"404": 1}}
    names = {key[:-len("_base")] for key in LAYOUT if key.endswith("_base")} - {"requests"}
    assert set(doc["histograms"]) == names | {"itl"} >= {"ttft", "duration"}   # itl: vLLM's
    itl = doc["histograms"]["itl"]["routes"]["all streams"]
    assert itl["count"] == 15 - 3      # every token after each stream's first (5 ms apart)
    own = {"itl": _engine.VLLM_ITL_BOUNDS, **getattr(_engine, "HISTOGRAM_BOUNDS", {})}
    for name, histogram in doc["histograms"].items():
        assert histogram["bounds"] == list(own.get(name, BOUNDS))
        for h in histogram["routes"].values():
            assert len(h["buckets"]) == len(histogram["bounds"]) + 1
            assert sum(h["buckets"]) == h["count"] > 0 and h["sum"] >= 0
    ttft = doc["histograms"]["ttft"]["routes"]
    assert set(ttft) == {"/stream-sse"} and ttft["/stream-sse"]["count"] == 3
    duration = doc["histograms"]["duration"]["routes"]
    assert {route: h["count"] for route, h in duration.items()} == {
        "/health": 4, "/stream-sse": 5, "other": 1}
    later = feed(server)                     # the first feed request is counted now
    assert later["requests"][STATS] == {"200": 1} and later["time_ms"] >= doc["time_ms"]


def test_the_feed_sees_active_and_waiting_streams(start_server):
    server = start_server("--delay-ms", "5", "--max-num-seqs", "2")
    with held_streams(server, 4, "/stream-sse?ttft_ms=60000"):
        assert wait_for(lambda: feed(server)["counters"]["active_streams"] == 4)
        counters = feed(server)["counters"]
        assert counters["waiting_streams"] == 2 and counters["tokens_sent"] == 0
        assert counters["open_connections"] == 5
    assert wait_for(lambda: feed(server)["counters"]["active_streams"] == 0)


# -- both routes: HEAD, CORS, 404, 405 -------------------------------------------------------

def test_the_page_is_html_from_the_packaged_bytes(server):
    r = get(server, UI)
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("access-control-allow-origin") == "*" and r.header("x-request-id")
    assert PAGE[0][KEEP_ALIVE].endswith(r.body) and r.body.startswith(b"<!doctype html>")
    assert int(r.header("content-length")) == len(r.body) < 40_000


@pytest.mark.parametrize("path", [UI, STATS])
def test_head_and_cors(server, path):
    whole = get(server, path)
    head = get(server, path, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.header("content-type") == whole.header("content-type")
    if path == UI:                 # the feed's counts change from one answer to the next
        assert head.header("content-length") == whole.header("content-length")
    assert head.header("access-control-allow-origin") == "*"
    pre = get(server, path, "Origin: http://app.test", "Access-Control-Request-Method: GET",
              method="OPTIONS")
    assert pre.status == 204 and pre.header("access-control-allow-methods") == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("path", [UI, STATS])
def test_methods_and_unknown_paths(server, path):
    r = post(server, path, b"{}")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert get(server, path + "x").status == 404
    assert get(server, path + "/").status == 404
    assert get(server, path + "?anything=1").status == 200      # the query is ignored


# -- the page in Chromium --------------------------------------------------------------------

def rendered(node) -> int:
    return int(node.text.strip().replace(",", ""))


@pytest.mark.skipif(chromium.find() is None,
                    reason="no chromium on PATH (Debian's chromium; ./scripts/test installs it)")
def test_the_page_shows_the_counters_under_load(start_server, tmp_path):
    server = start_server("--delay-ms", "5", "--max-num-seqs", "2")
    known_traffic(server)
    with held_streams(server, 4, "/stream-sse?ttft_ms=60000"):     # 2 generating, 2 waiting
        assert wait_for(lambda: feed(server)["counters"]["waiting_streams"] == 2)
        html = chromium.dump_dom(server.base + UI, str(tmp_path / "profile"))
        doc = feed(server)
    dom = chromium.Dom(html)
    assert dom.one(id="state").attrs["class"] == "live", dom.one(id="state")
    body = next(node for node in dom.nodes if node.tag == "body")
    assert int(body.attrs["data-snapshots"]) >= 2          # rates need two snapshots

    # the cards: gauges and totals as the counters have them (and as they read)
    for name, value in (("active_streams", 4), ("waiting_streams", 2), ("generating", 2),
                        ("tokens_sent", 15)):
        node = dom.one(id="v-" + name)
        assert int(node.attrs["data-value"]) == value == rendered(node), name
    assert doc["counters"]["active_streams"] == 4 and doc["counters"]["tokens_sent"] == 15
    assert rendered(dom.one(id="v-open_connections")) >= 4
    assert float(dom.one(id="v-tps").attrs["data-value"]) == 0      # nothing is generating tokens

    # requests by route and status: every row the counters have, with its total
    rows = {(node.attrs["data-route"], node.attrs["data-status"]): node
            for node in dom.find(data_route=None, data_status=None)}
    wanted = {(route, status): count for route, by in doc["requests"].items()
              for status, count in by.items()}
    assert set(rows) == set(wanted)
    for key, row in rows.items():
        total = next(node for node in _after(dom, row, "tr") if node.attrs.get("class") == "total")
        shown = rendered(total)
        if key[0] == STATS:      # the page's own polls, and the test's feed after the dump
            assert 1 <= shown < wanted[key]
        else:
            assert shown == wanted[key], key
        assert row.text.strip().startswith(key[0])
    # the page names its icon inline, so a browser asks for no /favicon.ico (a 404 in "other")
    assert wanted[("/stream-sse", "429")] == 2 and wanted[("other", "404")] == 1
    assert wanted[(UI, "200")] == 1

    # the histograms: TTFT bar by bar (nothing changes it while the streams wait), the
    # request durations at most what the counters hold now, ITL shown when it exists
    for name, histogram in doc["histograms"].items():
        section = dom.one(data_histogram=name, data_count=None)
        bars = [node for node in _after(dom, section, "section") if "data-le" in node.attrs]
        assert [bar.attrs["data-le"] for bar in bars] == \
            [f"{bound:g}" for bound in histogram["bounds"]] + ["+Inf"]
        summed = [sum(column) for column in zip(*(h["buckets"] for h in histogram["routes"].values()))]
        counts = [int(bar.attrs["data-count"]) for bar in bars]
        if name == "ttft":
            assert counts == summed and int(section.attrs["data-count"]) == 3
        else:
            assert all(shown <= now for shown, now in zip(counts, summed))
    itl = dom.find(data_histogram="itl")
    assert len(itl) == 1 and ("data-missing" in itl[0].attrs) == ("itl" not in doc["histograms"])
    assert "Time to first token" in html and "Request duration" in html


def _after(dom, node, tag: str) -> list:
    """The elements after ``node`` up to the next ``tag`` (a row's cells, a section's bars)."""
    out = []
    for later in dom.nodes[dom.nodes.index(node) + 1:]:
        if later.tag == tag:
            break
        out.append(later)
    return out
