"""``GET /metrics``: the shared counters in the Prometheus text format.

The counters live in memory every worker shares (fastmock._engine), so any
worker renders the totals of all of them. ``--metrics-format`` chooses the
families: fastmock's own (here), vLLM's (fastmock.vllm_metrics), or both.
"""
from fastmock._engine import BOUNDS, LAYOUT, SLOTS

_SCALARS = (
    ("open_connections", "gauge", "TCP connections open now."),
    ("active_streams", "gauge", "Streaming responses in progress."),
    ("waiting_streams", "gauge",
     "Of the active streams, those waiting for a generation slot (--max-num-seqs)."),
    ("connections", "counter", "TCP connections accepted."),
    ("rejected_connections", "counter",
     "Connections answered 503 and closed because --max-connections were open."),
    ("shed_connections", "counter",
     "Connections answered 503 and closed because memory was above --memory-high."),
    ("tokens_sent", "counter", "Stream frames (tokens) sent."),
    ("bytes_sent", "counter", "Response bytes written to sockets."),
)
_HISTOGRAMS = (
    ("time_to_first_token_seconds", "ttft_base",
     "From a streaming request's first byte to its first token frame."),
    ("request_duration_seconds", "duration_base",
     "From a request's first byte to the last byte of its answer."),
)
_LE = [f"{bound:g}" for bound in BOUNDS] + ["+Inf"]
_MEMORY = (
    ("memory_charge_bytes", "The container's memory charge: cgroup usage less file pages."),
    ("memory_limit_bytes", "The container's memory limit."),
    ("memory_high_bytes", "The charge above which new connections get 503 (--memory-high)."),
    ("memory_shedding", "1 while this process refuses new connections for memory, else 0."),
)


def render(counters, labels, admission=None, config=None) -> bytes:
    """The /metrics text; ``labels``: the route labels, in the order of the counters' slots;
    ``admission`` (fastmock.admission, or None): the memory gauges when it watches memory;
    ``config``: --metrics-format and what vLLM's families read (None: fastmock's alone)."""
    fmt = config.metrics_format if config is not None else "fastmock"
    lines = own(counters, labels, admission) if fmt != "vllm" else []
    if fmt != "fastmock":
        from fastmock import vllm_metrics
        lines += vllm_metrics.render(counters, config)
    lines.append("")
    return "\n".join(lines).encode()


def own(counters, labels, admission) -> list:
    """fastmock's families, as lines."""
    lines = ["# HELP fastmock_requests_total HTTP requests answered, by route and status.",
             "# TYPE fastmock_requests_total counter"]
    statuses, low = LAYOUT["statuses"], LAYOUT["status_low"]
    for index, route in enumerate(labels):
        values = counters.values(LAYOUT["requests_base"] + index * statuses, statuses)
        for offset, n in enumerate(values):
            if n:
                lines.append(f'fastmock_requests_total{{route="{route}",status="{low + offset}"}} {n}')
    for name, kind, text in _SCALARS:
        suffix = "_total" if kind == "counter" else ""
        lines.append(f"# HELP fastmock_{name}{suffix} {text}")
        lines.append(f"# TYPE fastmock_{name}{suffix} {kind}")
        lines.append(f"fastmock_{name}{suffix} {counters.value(SLOTS[name])}")
    memory = admission.memory if admission is not None else None
    if memory is not None:
        values = (memory.charge(), memory.limit, admission.high, int(admission.shedding))
        for (name, text), value in zip(_MEMORY, values):
            lines += [f"# HELP fastmock_{name} {text}", f"# TYPE fastmock_{name} gauge",
                      f"fastmock_{name} {value}"]
    width = LAYOUT["histogram"]
    for name, base, text in _HISTOGRAMS:
        lines.append(f"# HELP fastmock_{name} {text}")
        lines.append(f"# TYPE fastmock_{name} histogram")
        for index, route in enumerate(labels):
            values = counters.values(LAYOUT[base] + index * width, width)
            count = values[-1]
            if not count:
                continue
            cumulative = 0
            for le, n in zip(_LE, values):
                cumulative += n
                lines.append(f'fastmock_{name}_bucket{{route="{route}",le="{le}"}} {cumulative}')
            lines.append(f'fastmock_{name}_sum{{route="{route}"}} {values[-2] / 1e6:.6f}')
            lines.append(f'fastmock_{name}_count{{route="{route}"}} {count}')
    return lines
