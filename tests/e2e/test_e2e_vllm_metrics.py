"""vLLM's families on GET /metrics (issue 16, point 3), read from a live server with
prometheus_client's own parser after real traffic: names, types, HELP, vLLM's bucket
bounds and its model_name / engine labels; the values against what the traffic was
(streams, whole answers, a client that leaves mid-stream, a --max-num-seqs queue);
--metrics-format; and --workers 2 summing.
"""
from __future__ import annotations

import json
import socket
import struct

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.apis import post
from support.http import get, http_request
from support.server import streams_on_every_worker, wait_for

pytestmark = pytest.mark.e2e

# vLLM's bounds (vllm/v1/metrics/loggers.py)
TTFT_BOUNDS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
               5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
ITL_BOUNDS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
              7.5, 10.0, 20.0, 40.0, 80.0]
E2E_BOUNDS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
              60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
TOKEN_BOUNDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]  # to 32768

FAMILIES = {    # the name prometheus_client's parser gives the family: its type, its bounds
    "vllm:num_requests_running": ("gauge", None),
    "vllm:num_requests_waiting": ("gauge", None),
    "vllm:kv_cache_usage_perc": ("gauge", None),
    "vllm:prompt_tokens": ("counter", None),
    "vllm:generation_tokens": ("counter", None),
    "vllm:request_success": ("counter", None),
    "vllm:time_to_first_token_seconds": ("histogram", TTFT_BOUNDS),
    "vllm:inter_token_latency_seconds": ("histogram", ITL_BOUNDS),
    "vllm:time_per_output_token_seconds": ("histogram", ITL_BOUNDS),
    "vllm:e2e_request_latency_seconds": ("histogram", E2E_BOUNDS),
    "vllm:request_queue_time_seconds": ("histogram", E2E_BOUNDS),
    "vllm:request_prompt_tokens": ("histogram", TOKEN_BOUNDS),
    "vllm:request_generation_tokens": ("histogram", TOKEN_BOUNDS),
}
LABELS = {"model_name": "mock-gpt-4o", "engine": "0"}
CHAT = "/v1/chat/completions"


class Scrape:
    def __init__(self, raw: bytes) -> None:
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        self.text = body.decode()
        self.families = {f.name: f for f in text_string_to_metric_families(self.text)}

    def value(self, name: str, **labels) -> float:
        return sum(s.value for f in self.families.values() for s in f.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    def buckets(self, name: str) -> dict[float, float]:
        return {float(s.labels["le"]): s.value for s in self.families[name].samples
                if s.name == name + "_bucket"}


def scrape(server) -> Scrape:
    return Scrape(http_request(server, get("/metrics", "Connection: close")))


def fetch(server, target: str) -> bytes:
    return http_request(server, get(target, "Connection: close"))


def delta(after: Scrape, before: Scrape, name: str, **labels) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def idle(server) -> bool:
    return scrape(server).value("fastmock_active_streams") == 0


def usage(response) -> dict:
    """The usage of a chat answer, whole or streamed (stream_options.include_usage)."""
    if response.body.startswith(b"{"):
        return json.loads(response.body)["usage"]
    chunks = [json.loads(e) for e in response.sse_events() if e != "[DONE]"]
    return [c for c in chunks if c.get("usage")][-1]["usage"]


def chat(server, content: str, query: str = "", **fields):
    return post(server, CHAT + query, {"model": "m", "messages": [{"role": "user",
                                                                    "content": content}],
                                         **fields})


def test_names_types_help_bounds_and_labels(server):
    fetch(server, "/stream-sse?max_tokens=3")
    s = scrape(server)
    for name, (kind, bounds) in FAMILIES.items():
        family = s.families.get(name)
        assert family is not None, f"{name} missing; got {sorted(s.families)}"
        assert family.type == kind, (name, family.type)
        assert family.documentation, name
        for sample in family.samples:
            assert {k: sample.labels[k] for k in LABELS} == LABELS, sample
        if bounds is not None:
            assert sorted(s.buckets(name)) == [*bounds, float("inf")], name
    reasons = {x.labels["finished_reason"] for x in s.families["vllm:request_success"].samples}
    assert reasons == {"stop", "length", "abort"}


def test_the_model_name_label_is_the_served_model(start_server):
    server = start_server("--model", 'my "model"')
    s = scrape(server)
    samples = s.families["vllm:num_requests_running"].samples
    assert [x.labels["model_name"] for x in samples] == ['my "model"']


def test_values_after_streams_whole_answers_and_a_client_that_leaves(start_server):
    server = start_server("--delay-ms", "30")
    before = scrape(server)
    fetch(server, "/stream-sse?max_tokens=4")                                  # stop
    stream = chat(server, "hello there", stream=True, max_tokens=5,            # length
                  stream_options={"include_usage": True})
    fast_whole = chat(server, "a prompt of six tokens here", max_tokens=3)     # length
    python_whole = chat(server, "echo: one two three", "?delay_ms=30")         # stop (Python path)
    assert json.loads(python_whole.body)["choices"][0]["finish_reason"] == "stop"
    with server.connect() as sock:                                              # abort
        sock.sendall(get("/stream-loop?delay_ms=30"))
        received = b""
        while received.count(b"\n\n") < 3:
            received += sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert wait_for(lambda: idle(server))
    after = scrape(server)

    requests, streams = 5, 3
    tokens_sent = delta(after, before, "fastmock_tokens_sent_total")
    whole_tokens = usage(fast_whole)["completion_tokens"] + usage(python_whole)["completion_tokens"]
    assert whole_tokens == 3 + 3
    generated = delta(after, before, "vllm:generation_tokens_total")
    assert generated == tokens_sent + whole_tokens
    prompts = sum(usage(r)["prompt_tokens"] for r in (stream, fast_whole, python_whole))
    assert prompts > 0
    assert delta(after, before, "vllm:prompt_tokens_total") == prompts   # the seed's have none
    for reason, n in (("stop", 2), ("length", 2), ("abort", 1)):
        assert delta(after, before, "vllm:request_success_total", finished_reason=reason) == n

    # time to first token: once per stream that sent one
    assert delta(after, before, "vllm:time_to_first_token_seconds_count") == streams
    # inter-token latency: every stream token after the first, at its scheduled 30 ms
    for name in ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"):
        gaps = delta(after, before, name + "_count")
        assert gaps == tokens_sent - streams
        assert delta(after, before, name + "_sum") == pytest.approx(gaps * 0.03)
        assert after.buckets(name)[0.025] == before.buckets(name).get(0.025, 0)
        assert after.buckets(name)[0.05] - before.buckets(name).get(0.05, 0) == gaps
    # one observation per request
    for name in ("vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds",
                 "vllm:request_prompt_tokens", "vllm:request_generation_tokens"):
        assert delta(after, before, name + "_count") == requests, name
    assert delta(after, before, "vllm:request_queue_time_seconds_sum") == 0   # no --max-num-seqs
    assert delta(after, before, "vllm:request_prompt_tokens_sum") == prompts
    assert delta(after, before, "vllm:request_generation_tokens_sum") == generated
    # the e2e latency of the stream of 4 tokens at 30 ms apart is at least 90 ms
    assert delta(after, before, "vllm:e2e_request_latency_seconds_sum") >= 0.09
    assert after.value("vllm:num_requests_running") == 0
    assert after.value("vllm:num_requests_waiting") == 0
    assert after.value("vllm:kv_cache_usage_perc") == 0


def test_a_stream_waiting_for_a_slot_is_waiting_then_queued(start_server):
    server = start_server("--max-num-seqs", "1", "--itl", "constant:20ms")
    before = scrape(server)
    first, second = server.connect(), server.connect()
    try:
        first.sendall(get("/stream-sse?max_tokens=15", "Connection: close"))
        assert first.recv(4096)
        second.sendall(get("/stream-sse?max_tokens=3", "Connection: close"))
        assert wait_for(lambda: scrape(server).value("vllm:num_requests_waiting") == 1)
        during = scrape(server)
        if during.value("vllm:num_requests_waiting") == 1:     # (the first may just have ended)
            assert during.value("vllm:num_requests_running") == 1
            assert during.value("vllm:kv_cache_usage_perc") == 1.0    # 1 of --max-num-seqs 1
        for sock in (first, second):
            while sock.recv(65536):
                pass
    finally:
        first.close()
        second.close()
    assert wait_for(lambda: idle(server))
    after = scrape(server)
    assert delta(after, before, "vllm:request_queue_time_seconds_count") == 2
    assert delta(after, before, "vllm:request_queue_time_seconds_sum") > 0   # the second waited
    # the drawn gaps (constant 20 ms): every token after each stream's first
    gaps = delta(after, before, "vllm:inter_token_latency_seconds_count")
    assert gaps == 15 + 3 - 2
    assert delta(after, before, "vllm:inter_token_latency_seconds_sum") == pytest.approx(gaps * 0.02)
    assert delta(after, before, "vllm:request_success_total", finished_reason="stop") == 2
    assert after.value("vllm:num_requests_waiting") == 0


@pytest.mark.parametrize("fmt,fastmock,vllm", [("fastmock", True, False), ("vllm", False, True),
                                               ("both", True, True), (None, True, True)])
def test_metrics_format_chooses_the_families(start_server, fmt, fastmock, vllm):
    server = start_server(*(("--metrics-format", fmt) if fmt == "vllm" else ()),
                          env={"FASTMOCK_METRICS_FORMAT": fmt} if fmt and fmt != "vllm" else None)
    fetch(server, "/stream-sse?max_tokens=2")
    names = set(scrape(server).families)
    assert any(n.startswith("fastmock_") for n in names) == fastmock, names
    assert any(n.startswith("vllm:") for n in names) == vllm, names
    if vllm:
        assert set(FAMILIES) <= names


def test_every_worker_reports_the_vllm_totals_of_all(two_workers):
    server = two_workers
    with streams_on_every_worker(server, 20):
        for _ in range(20):
            fetch(server, "/stream-sse?max_tokens=3")
        for s in [scrape(server) for _ in range(10)]:
            assert s.value("vllm:num_requests_running") == 20
            assert s.value("vllm:request_success_total", finished_reason="stop") == 20
            assert s.value("vllm:time_to_first_token_seconds_count") == 40
            assert s.value("vllm:request_generation_tokens_count") == 20
            assert s.value("vllm:request_generation_tokens_sum") == 60
            assert s.value("vllm:kv_cache_usage_perc") == 20 / (256 * 2)
    assert wait_for(lambda: all(s.value("vllm:request_success_total", finished_reason="abort") == 20
                                for s in [scrape(server) for _ in range(4)]))
