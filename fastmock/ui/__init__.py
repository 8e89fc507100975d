"""The live dashboard: ``GET /__fastmock/ui`` and the feed it reads, ``GET /__fastmock/stats``.

The page (fastmock.ui.page: HTML, CSS and plain JS, no external resource) is encoded
once, when the first request to either route imports this module, and answered from
those bytes ever after. It asks for the feed once a second and
computes every rate from two successive snapshots, so the server keeps no history.

The feed is the shared counters summed over the workers, as ``/metrics`` reads them:

    {"time_ms": 1234567,           server's monotonic clock, whole ms (rates divide by it;
                                   whole, so a HEAD's Content-Length is its GET's)
     "workers": 1,
     "gauges": ["open_connections", ...],        which counters are gauges, not totals
     "counters": {"open_connections": 2, "tokens_sent": 9120, ...},   every SLOTS name
     "requests": {"/stream-sse": {"200": 40, "429": 3}, ...},         by route and status
     "histograms": {"ttft": {"bounds": [0.001, ...],                  seconds, +Inf implied
                             "routes": {"/stream-sse": {"buckets": [...], "sum": 0.8,
                                                         "count": 40}}}, ...},
     "memory": {"charge": ..., "limit": ..., "high": ..., "shedding": false}}  (under a limit)

Every histogram the counters have is listed: each ``<name>_base`` key of LAYOUT but
``requests_base`` (``ttft``, ``duration``), a row per route of len(bounds) + 1 buckets
(not cumulative), the sum in seconds and the count; its bounds are the engine's
``HISTOGRAM_BOUNDS[name]`` when it has one, else ``BOUNDS``. A route's histogram appears
once it has counted something. ``itl`` is vLLM's inter-token latency histogram
(VLLM_LAYOUT, its own bounds), kept for every stream together: one row, "all streams".
"""
import json
import time

from fastmock import _engine
from fastmock.ui import page
from fastmock.wire import HTML, whole_responses

ALL_STREAMS = "all streams"     # the row of a histogram that is not kept per route


PAGE = whole_responses(HTML, page.HTML.encode())     # (GET variants, HEAD variants)


def histograms() -> list[tuple[str, int, tuple[float, ...]]]:
    """(name, first slot, bounds) of every histogram in the counters, in slot order."""
    layout = _engine.LAYOUT
    own = getattr(_engine, "HISTOGRAM_BOUNDS", {})
    found = [(key[:-len("_base")], base) for key, base in layout.items()
             if key.endswith("_base") and key != "requests_base"]
    return [(name, base, tuple(own.get(name, _engine.BOUNDS))) for name, base in sorted(
        found, key=lambda item: item[1])]


def snapshot(counters, labels, admission=None) -> dict:
    """The feed as a dict (see the module's docstring)."""
    layout, slots = _engine.LAYOUT, _engine.SLOTS
    statuses, low = layout["statuses"], layout["status_low"]
    requests = {}
    for index, route in enumerate(labels):
        values = counters.values(layout["requests_base"] + index * statuses, statuses)
        counts = {str(low + offset): n for offset, n in enumerate(values) if n}
        if counts:
            requests[route] = counts
    found = {}
    for name, base, bounds in histograms():
        width = len(bounds) + 3                      # buckets with +Inf, sum (µs), count
        routes = {}
        for index, route in enumerate(labels):
            values = counters.values(base + index * width, width)
            if values[-1]:
                routes[route] = {"buckets": values[:-2], "sum": values[-2] / 1e6,
                                 "count": values[-1]}
        found[name] = {"bounds": list(bounds), "routes": routes}
    itl = _engine.VLLM_LAYOUT.get("itl")
    if itl is not None and "itl" not in found:  # vLLM's inter-token latency, every stream's
        bounds = _engine.VLLM_ITL_BOUNDS
        values = counters.values(itl, len(bounds) + 3)
        found["itl"] = {"bounds": list(bounds), "routes": {ALL_STREAMS: {
            "buckets": values[:-2], "sum": values[-2] / 1e6, "count": values[-1]}}
            if values[-1] else {}}
    doc = {"time_ms": int(time.monotonic() * 1000), "workers": counters.rows,
           "gauges": [name for name, slot in slots.items() if slot < layout["gauges"]],
           "counters": {name: counters.value(slot) for name, slot in slots.items()},
           "requests": requests, "histograms": found}
    memory = admission.memory if admission is not None else None
    if memory is not None:
        doc["memory"] = {"charge": memory.charge(), "limit": memory.limit,
                         "high": admission.high, "shedding": bool(admission.shedding)}
    return doc


def stats(counters, labels, admission=None, config=None) -> bytes:
    """GET /__fastmock/stats: the feed as JSON."""
    return json.dumps(snapshot(counters, labels, admission), separators=(",", ":")).encode()
