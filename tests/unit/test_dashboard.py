"""The dashboard's page and feed (fastmock.ui) without a server: the page is its module's
text as bytes, self-contained and small; the feed sums the shared counters and lists every
histogram they have, an inter-token latency one included once the engine names it."""
from __future__ import annotations

import json
import re

from fastmock import _engine, ui
from fastmock.ui import page
from fastmock._engine import BOUNDS, LAYOUT, SLOTS, Counters
from fastmock.routes import LABELS, PAGE, find
from fastmock.wire import CLOSE, KEEP_ALIVE, KEEP_ALIVE_10
from support.fakes import Client
from support.http import FRESH_ID_LINE, parse_responses

BODY = page.HTML.encode()


# -- the page ----------------------------------------------------------------------------

def test_the_page_is_its_module_encoded_once():
    gets, heads = ui.PAGE
    body = BODY
    for variant in (KEEP_ALIVE, KEEP_ALIVE_10, CLOSE):
        assert gets[variant] == heads[variant] + body
        assert b"\r\nContent-Type: text/html; charset=utf-8\r\n" in heads[variant]
        assert b"\r\nContent-Length: %d\r\n" % len(body) in heads[variant]
    assert find(b"/__fastmock/ui").kind == PAGE and find(b"/__fastmock/ui").handler() is ui.PAGE


def test_the_page_is_small_and_loads_nothing_from_elsewhere():
    text = page.HTML
    assert len(BODY) < 32_000
    # no script, style sheet, font or image from a URL: the one address is the SVG namespace
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"]
    assert not re.search(r"\bsrc\s*=|@import|url\(|@font-face", text)
    assert re.findall(r"<link[^>]*>", text) == ['<link rel="icon" href="data:,">']
    assert 'fetch(FEED' in text and 'const FEED = "stats"' in text    # relative: /__fastmock/stats


def test_the_page_is_answered_from_its_bytes_with_a_request_id(loop):
    get, head_only = Client(loop), Client(loop)
    get.send(b"GET /__fastmock/ui HTTP/1.1\r\nHost: t\r\nX-Request-Id: mine\r\n\r\n")
    head_only.send(b"HEAD /__fastmock/ui HTTP/1.1\r\nHost: t\r\n\r\n")
    [whole] = get.responses()
    [head] = parse_responses(head_only.data(), head_only=True)
    assert whole.status == head.status == 200
    assert whole.body == BODY and head.body == b""
    assert whole.header("x-request-id") == "mine"
    assert FRESH_ID_LINE.search(b"".join(head_only.transport.writes))    # data() drops it


# -- the feed ----------------------------------------------------------------------------

def counted() -> Counters:
    """Two workers' rows: requests, a gauge, tokens and a TTFT observation in each."""
    counters = Counters(2)
    sse, health = LABELS.index("/stream-sse"), LABELS.index("/health")
    for row in (0, 1):
        counters.select(row)
        counters.count_request_py(sse, 200)
        counters.count_request_py(health, 200)
        counters.add_py(SLOTS["active_streams"], 1)
        counters.add_py(SLOTS["tokens_sent"], 10 + row)
        counters.observe_py("ttft", sse, 0.02 * (row + 1))
    counters.count_request_py(sse, 429)
    return counters


def test_the_feed_sums_every_workers_row():
    doc = ui.snapshot(counted(), LABELS)
    assert doc["workers"] == 2 and set(doc["counters"]) == set(SLOTS)
    assert doc["counters"]["active_streams"] == 2 and doc["counters"]["tokens_sent"] == 21
    assert doc["requests"] == {"/stream-sse": {"200": 2, "429": 1}, "/health": {"200": 2}}
    ttft = doc["histograms"]["ttft"]
    assert ttft["bounds"] == list(BOUNDS)
    sse = ttft["routes"]["/stream-sse"]
    assert sse["count"] == 2 and abs(sse["sum"] - 0.06) < 1e-6
    assert sse["buckets"][BOUNDS.index(0.025)] == 1 and sse["buckets"][BOUNDS.index(0.05)] == 1
    assert doc["histograms"]["duration"] == {"bounds": list(BOUNDS), "routes": {}}
    assert "memory" not in doc
    sent = json.loads(ui.stats(counted(), LABELS))
    assert sent.pop("time_ms") >= doc.pop("time_ms") and sent == doc


def test_the_itl_histogram_is_vllms_kept_for_every_stream():
    counters = counted()
    assert ui.snapshot(counters, LABELS)["histograms"]["itl"] == {
        "bounds": list(_engine.VLLM_ITL_BOUNDS), "routes": {}}
    counters.observe_gaps_py(0.03, 5)
    itl = ui.snapshot(counters, LABELS)["histograms"]["itl"]["routes"]
    assert list(itl) == [ui.ALL_STREAMS] and itl[ui.ALL_STREAMS]["count"] == 5
    assert itl[ui.ALL_STREAMS]["buckets"][_engine.VLLM_ITL_BOUNDS.index(0.05)] == 5
    assert abs(itl[ui.ALL_STREAMS]["sum"] - 0.15) < 1e-6


def test_an_itl_histogram_kept_per_route_would_be_listed_instead(monkeypatch):
    """A LAYOUT ``itl_base`` (its own bounds in HISTOGRAM_BOUNDS["itl"] when they are not
    BOUNDS) wins over vLLM's; here it borrows the TTFT slots to show it is read."""
    monkeypatch.setitem(LAYOUT, "itl_base", LAYOUT["ttft_base"])
    doc = ui.snapshot(counted(), LABELS)
    assert doc["histograms"]["itl"] == doc["histograms"]["ttft"]
    bounds = (0.01, 0.05)               # a histogram of other bounds: len(bounds) + 3 slots a route
    monkeypatch.setattr(_engine, "HISTOGRAM_BOUNDS", {"itl": bounds}, raising=False)
    itl = ui.snapshot(counted(), LABELS)["histograms"]["itl"]
    assert itl["bounds"] == list(bounds)
    assert all(len(h["buckets"]) == 3 for h in itl["routes"].values())


def test_the_feed_names_its_histograms_in_slot_order():
    names = [name for name, _, _ in ui.histograms()]
    assert names.index("ttft") < names.index("duration")
    assert all(base == LAYOUT[name + "_base"] for name, base, _ in ui.histograms())
