"""vLLM's families on ``GET /metrics``: its names, types, bucket bounds and labels.

So a dashboard or an autoscaler made for vLLM reads fastmock as it reads a vLLM
server (vllm/v1/metrics/loggers.py, vLLM 0.10): every series has vLLM's
``model_name`` label (the served model name) and ``engine="0"``. The values are
the shared counters (engine/counters.pyx), so they are the sums of every worker.
Imported by the first scrape, with fastmock.metrics.
"""
from fastmock._engine import (DEFAULT_MAX_NUM_SEQS, SLOTS, VLLM_E2E_BOUNDS,
                              VLLM_ITL_BOUNDS, VLLM_LAYOUT, VLLM_TOKEN_BOUNDS,
                              VLLM_TTFT_BOUNDS)

REASONS = ("stop", "length", "abort")   # vLLM's finished_reason values fastmock has
# name, the counters' slot, bounds, scale of the sum (µs or tokens), HELP (vLLM's own)
_HISTOGRAMS = (
    ("vllm:time_to_first_token_seconds", "ttft", VLLM_TTFT_BOUNDS, 1e6,
     "Histogram of time to first token in seconds."),
    ("vllm:inter_token_latency_seconds", "itl", VLLM_ITL_BOUNDS, 1e6,
     "Histogram of inter-token latency in seconds."),
    # (vLLM 0.10 serves the same observations under this older name too)
    ("vllm:time_per_output_token_seconds", "itl", VLLM_ITL_BOUNDS, 1e6,
     "Histogram of time per output token in seconds."),
    ("vllm:e2e_request_latency_seconds", "e2e", VLLM_E2E_BOUNDS, 1e6,
     "Histogram of e2e request latency in seconds."),
    ("vllm:request_queue_time_seconds", "queue", VLLM_E2E_BOUNDS, 1e6,
     "Histogram of time spent in WAITING phase for request."),
    ("vllm:request_prompt_tokens", "prompt", VLLM_TOKEN_BOUNDS, 1.0,
     "Number of prefill tokens processed."),
    ("vllm:request_generation_tokens", "generation", VLLM_TOKEN_BOUNDS, 1.0,
     "Number of generation tokens processed."),
)


def number(value) -> str:
    """A sample value or bound as prometheus_client writes it (Go's float format)."""
    value = float(value)
    if value == float("inf"):
        return "+Inf"
    return repr(value)


def label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def served_model(config) -> str:
    """The model name vLLM would label with: --model, else the first --served-model-name,
    else the seed endpoints' default."""
    if config is not None and config.model:
        return config.model
    if config is not None and config.served_model_name:
        return config.served_model_name[0]
    from fastmock._chunks import CHAT_MODEL
    return CHAT_MODEL


def render(counters, config=None) -> list:
    """vLLM's families, as lines of the Prometheus text format."""
    labels = f'model_name="{label_value(served_model(config))}",engine="0"'
    active = counters.value(SLOTS["active_streams"])
    waiting = counters.value(SLOTS["waiting_streams"])
    running = max(active - waiting, 0)
    # The KV cache a real server would fill: one share per running stream, out of
    # --max-num-seqs (or vLLM's default of 256) slots in each worker.
    seqs = (config.max_num_seqs if config is not None else None) or DEFAULT_MAX_NUM_SEQS
    usage = min(running / (seqs * counters.rows), 1.0)
    generated = counters.value(SLOTS["tokens_sent"]) + counters.value(VLLM_LAYOUT["whole_tokens"])
    lines = []

    def family(name, kind, text):
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")

    for name, value, text in (
            ("vllm:num_requests_running", running,
             "Number of requests in model execution batches."),
            ("vllm:num_requests_waiting", waiting, "Number of requests waiting to be processed."),
            ("vllm:kv_cache_usage_perc", usage, "KV-cache usage. 1 means 100 percent usage.")):
        family(name, "gauge", text)
        lines.append(f"{name}{{{labels}}} {number(value)}")
    for name, value, text in (
            ("vllm:prompt_tokens_total", counters.value(VLLM_LAYOUT["prompt_tokens"]),
             "Number of prefill tokens processed."),
            ("vllm:generation_tokens_total", generated, "Number of generation tokens processed.")):
        family(name, "counter", text)
        lines.append(f"{name}{{{labels}}} {number(value)}")
    family("vllm:request_success_total", "counter", "Count of successfully processed requests.")
    finished = counters.values(VLLM_LAYOUT["finished"], len(REASONS))
    for reason, value in zip(REASONS, finished):
        lines.append(f'vllm:request_success_total{{{labels},finished_reason="{reason}"}} '
                     f'{number(value)}')
    for name, slot, bounds, scale, text in _HISTOGRAMS:
        family(name, "histogram", text)
        values = counters.values(VLLM_LAYOUT[slot], len(bounds) + 3)
        cumulative = 0
        for bound, n in zip((*bounds, float("inf")), values):
            cumulative += n
            lines.append(f'{name}_bucket{{{labels},le="{number(bound)}"}} {number(cumulative)}')
        lines.append(f"{name}_sum{{{labels}}} {number(values[-2] / scale)}")
        lines.append(f"{name}_count{{{labels}}} {number(values[-1])}")
    return lines
