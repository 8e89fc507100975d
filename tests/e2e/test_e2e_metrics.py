"""GET /metrics against the real server (issue #4, item 4), read with prometheus_client's
own text parser: requests by route and status, open connections, active streams, tokens
and bytes sent, the time-to-first-token and request-duration histograms, and, with
``--workers 2``, one consistent set of totals whichever worker answers the scrape.

Assumptions about the engine's side, so the lead can check them against the new engine:
- route labels are the current ones (``/health``, ``/stream-sse``, ... for known routes,
  ``other`` for unknown paths, ``error`` for requests that could not be parsed);
- a histogram may carry labels (e.g. ``route``); when it has a ``route`` label the tests
  check the route's own series, otherwise the totals;
- time to first token is observed once per stream that sent a first token, and only for
  streams; request duration once per answered request, a stream's when its last byte
  went out (a scrape's own request is observed after it is rendered, so scrape N+1 may
  include scrape N).
"""
from __future__ import annotations

import math
import os
import signal
import socket
import struct

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.http import get, http_request, read_response
from support.server import children, replaced, streams_on_every_worker, wait_for

pytestmark = pytest.mark.e2e


TTFT = "fastmock_time_to_first_token_seconds"
DURATION = "fastmock_request_duration_seconds"
FAMILIES = {
    "fastmock_requests": "counter",
    "fastmock_open_connections": "gauge",
    "fastmock_active_streams": "gauge",
    "fastmock_tokens_sent": "counter",
    "fastmock_bytes_sent": "counter",
    TTFT: "histogram",
    DURATION: "histogram",
}


class Scrape:
    """One /metrics answer, parsed."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert b"\r\nContent-Type: text/plain; version=0.0.4" in head, head
        self.text = body.decode("utf-8")
        self.families = {f.name: f for f in text_string_to_metric_families(self.text)}

    def samples(self, name: str) -> list:
        return [s for f in self.families.values() for s in f.samples if s.name == name]

    def value(self, name: str, **labels) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels``."""
        return sum(s.value for s in self.samples(name)
                   if all(s.labels.get(k) == v for k, v in labels.items()))

    def requests(self, route: str, status: int) -> float:
        return self.value("fastmock_requests_total", route=route, status=str(status))

    def histogram(self, name: str, route: str | None = None) -> tuple[dict[float, float], float, float]:
        """(cumulative buckets by upper bound, sum, count), for ``route`` if it is a label."""
        family = self.families.get(name)
        assert family is not None and family.type == "histogram", sorted(self.families)
        labelled = route is not None and any("route" in s.labels for s in family.samples)
        want = {"route": route} if labelled else {}
        buckets: dict[float, float] = {}
        for s in family.samples:
            if s.name == name + "_bucket" and all(s.labels.get(k) == v for k, v in want.items()):
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0) + s.value
        return buckets, self.value(name + "_sum", **want), self.value(name + "_count", **want)


def scrape(server) -> Scrape:
    return Scrape(http_request(server, get("/metrics", "Connection: close")))


def fetch(server, target: str) -> bytes:
    return http_request(server, get(target, "Connection: close"))


def bucket_delta(after, before, le: float) -> float:
    return after[0].get(le, 0) - before[0].get(le, 0)


def abort(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- one process -------------------------------------------------------------------------------

def test_metrics_parse_and_every_family_is_documented_and_typed(server):
    fetch(server, "/stream-sse?max_tokens=2")
    s = scrape(server)
    for name, kind in FAMILIES.items():
        family = s.families.get(name)
        assert family is not None, f"{name} missing; got {sorted(s.families)}"
        assert family.type == kind, (name, family.type)
        assert family.documentation, f"{name} has no HELP text"
    seen = set()
    for family in s.families.values():                 # one series per name and label set
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in seen, f"duplicate series {key}"
            seen.add(key)
    assert s.text.count("# TYPE fastmock_requests_total ") == 1


def test_requests_are_counted_by_route_and_status(server):
    before = scrape(server)
    for _ in range(3):
        fetch(server, "/health")
    fetch(server, "/api/data")
    fetch(server, "/no/such/path")
    http_request(server, get("/health", "Connection: close", method="DELETE"))
    fetch(server, "/stream-sse?max_tokens=2")
    fetch(server, "/stream-ndjson?status=429")
    http_request(server, b"GARBAGE\r\n\r\n")
    after = scrape(server)
    expected = {("/health", 200): 3, ("/api/data", 200): 1, ("other", 404): 1, ("/health", 405): 1,
                ("/stream-sse", 200): 1, ("/stream-ndjson", 429): 1, ("error", 400): 1,
                ("/metrics", 200): 1}
    for (route, status), n in expected.items():
        assert after.requests(route, status) - before.requests(route, status) == n, (route, status)
    total = after.value("fastmock_requests_total") - before.value("fastmock_requests_total")
    assert total == sum(expected.values())


def test_open_connections_and_active_streams_are_live_gauges(server):
    idle = [server.connect() for _ in range(5)]
    streams = [server.connect() for _ in range(3)]
    try:
        for sock in idle:
            sock.sendall(get("/health"))
            read_response(sock.makefile("rb"))
        for sock in streams:
            sock.sendall(get("/stream-loop?delay_ms=100"))
            sock.recv(100)
        s = scrape(server)
        assert s.value("fastmock_open_connections") == 9       # 5 + 3 + this scrape
        assert s.value("fastmock_active_streams") == 3
    finally:
        for sock in idle + streams:
            abort(sock)
    assert wait_for(lambda: scrape(server).value("fastmock_active_streams") == 0)
    assert wait_for(lambda: scrape(server).value("fastmock_open_connections") == 1)


def test_tokens_and_bytes_sent_are_exact(server):
    before = scrape(server)
    received = 0
    for target in ("/stream-sse?max_tokens=4", "/stream-ndjson?max_tokens=3",
                   "/stream-loop?max_tokens=5", "/api/data", "/health", "/nope"):
        received += len(fetch(server, target))
    after = scrape(server)
    tokens = after.value("fastmock_tokens_sent_total") - before.value("fastmock_tokens_sent_total")
    assert tokens == 12
    sent = after.value("fastmock_bytes_sent_total") - before.value("fastmock_bytes_sent_total")
    assert sent == received + len(before.raw), "every byte written, the first scrape's included"


def assert_histogram_shape(s: Scrape, name: str) -> None:
    family = s.families[name]
    series: dict[tuple, dict[float, float]] = {}
    for sample in family.samples:
        if sample.name == name + "_bucket":
            key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            series.setdefault(key, {})[float(sample.labels["le"])] = sample.value
    assert series, f"{name} has no buckets"
    for key, buckets in series.items():
        bounds = sorted(buckets)
        assert math.isinf(bounds[-1]), f"{name}{key} has no +Inf bucket"
        assert len(bounds) >= 5, f"{name}{key}: too few buckets to be useful: {bounds}"
        counts = [buckets[b] for b in bounds]
        assert counts == sorted(counts), f"{name}{key} buckets are not cumulative: {counts}"
        labels = dict(key)
        assert buckets[bounds[-1]] == s.value(name + "_count", **labels)
        assert s.value(name + "_sum", **labels) >= 0


def test_histograms_have_buckets_sum_and_count(server):
    fetch(server, "/stream-sse?max_tokens=3")
    fetch(server, "/health")
    s = scrape(server)
    for name in (TTFT, DURATION):
        assert_histogram_shape(s, name)


def test_time_to_first_token_is_observed_once_per_stream(server):
    before = scrape(server)
    for _ in range(3):
        fetch(server, "/stream-sse?max_tokens=2&ttft_ms=300")
    after = scrape(server)
    b, a = before.histogram(TTFT, "/stream-sse"), after.histogram(TTFT, "/stream-sse")
    assert a[2] - b[2] == 3
    assert 0.85 < a[1] - b[1] < 6.0, a[1] - b[1]
    assert all(bucket_delta(a, b, le) == 0 for le in a[0] if le < 0.25), a[0]
    assert bucket_delta(a, b, math.inf) == 3
    fetch(server, "/stream-ndjson?max_tokens=1&ttft_ms=0")
    fast = scrape(server).histogram(TTFT, "/stream-ndjson")
    assert fast[2] - before.histogram(TTFT, "/stream-ndjson")[2] == 1
    small = [le for le in fast[0] if le <= 0.25]
    assert small and fast[0][max(small)] >= 1, fast[0]


def test_time_to_first_token_ignores_non_streaming_answers(server):
    before = scrape(server)
    fetch(server, "/api/data")
    fetch(server, "/health")
    fetch(server, "/stream-sse?status=500")
    assert scrape(server).histogram(TTFT)[2] == before.histogram(TTFT)[2]


def test_request_duration_covers_the_whole_stream(server):
    before = scrape(server)
    fetch(server, "/stream-sse?delay_ms=100&max_tokens=5")     # ~0.4 s
    for _ in range(4):
        fetch(server, "/health")
    after = scrape(server)
    labelled = any("route" in x.labels for x in after.families[DURATION].samples)
    if labelled:
        b, a = before.histogram(DURATION, "/stream-sse"), after.histogram(DURATION, "/stream-sse")
        assert a[2] - b[2] == 1 and 0.35 < a[1] - b[1] < 5
        b, a = before.histogram(DURATION, "/health"), after.histogram(DURATION, "/health")
        assert a[2] - b[2] == 4 and a[1] - b[1] < 1
    else:
        b, a = before.histogram(DURATION), after.histogram(DURATION)
        assert a[2] - b[2] in (5, 6)              # + the first scrape, if observed
        assert 0.35 < a[1] - b[1] < 6
        assert bucket_delta(a, b, math.inf) == a[2] - b[2]


# -- --workers 2: one consistent server -------------------------------------------------------------





def scrapes(server, n: int = 10) -> list[Scrape]:
    """n scrapes, each on a new connection, so the kernel spreads them over the workers."""
    return [scrape(server) for _ in range(n)]


def test_every_worker_reports_the_totals_of_all(two_workers):
    server = two_workers
    with streams_on_every_worker(server, 30, close=abort):
        for _ in range(200):
            fetch(server, "/health")
        for _ in range(20):
            fetch(server, "/stream-sse?max_tokens=3")
        results = scrapes(server)
        for s in results:
            assert s.requests("/health", 200) == 200
            assert s.requests("/stream-sse", 200) == 20
            assert s.requests("/stream-loop", 200) == 30
            assert s.value("fastmock_active_streams") == 30
            assert s.value("fastmock_open_connections") == 31
            assert s.histogram(TTFT)[2] == 50
        tokens = [s.value("fastmock_tokens_sent_total") for s in results]
        assert tokens == sorted(tokens) and tokens[0] >= 60 + 30   # /stream-loop keeps going
    assert wait_for(lambda: all(s.value("fastmock_active_streams") == 0 for s in scrapes(server, 4)))
    final = scrapes(server)
    counts = [s.requests("/metrics", 200) for s in final]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), "one shared counter"


def test_a_worker_that_dies_leaves_the_totals_consistent(two_workers):
    """Counters never go backwards when a worker is replaced, and the dead worker's
    connections and streams leave the gauges."""
    server = two_workers
    for _ in range(100):
        fetch(server, "/health")
    held = [server.connect() for _ in range(20)]
    try:
        for sock in held:
            sock.sendall(get("/stream-loop?delay_ms=200"))
            sock.recv(100)
        assert scrape(server).value("fastmock_active_streams") == 20
        victim = children(server.proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: replaced(server.proc.pid, {victim}, 2), timeout=10)
    finally:
        for sock in held:
            abort(sock)
    assert wait_for(lambda: all(s.value("fastmock_active_streams") == 0
                                and s.value("fastmock_open_connections") == 1
                                for s in scrapes(server, 4)), timeout=10)
    for s in scrapes(server):
        assert s.requests("/health", 200) == 100
