"""--metrics-format: which families fastmock.metrics.render writes, and fastmock's own
unchanged by vLLM's next to them."""
from __future__ import annotations

import pytest

from fastmock._engine import SLOTS, Counters
from fastmock.cli import parse_config
from fastmock.config import Config
from fastmock.metrics import render
from fastmock.routes import LABELS


def counted() -> Counters:
    counters = Counters()
    counters.add_py(SLOTS["tokens_sent"], 7)
    counters.add_py(SLOTS["active_streams"], 2)
    counters.count_request_py(0, 200)
    counters.observe_py("ttft", 0, 0.02)
    counters.observe_py("duration", 0, 0.3)
    return counters


def test_fastmocks_families_are_the_same_bytes_with_vllms_after_them():
    counters = counted()
    own = render(counters, LABELS, None, Config(metrics_format="fastmock"))
    both = render(counters, LABELS, None, Config(metrics_format="both"))
    vllm = render(counters, LABELS, None, Config(metrics_format="vllm"))
    assert own == render(counters, LABELS)       # (no config: fastmock's alone, as before)
    assert b"vllm:" not in own and b"fastmock_" not in vllm
    assert both == own + vllm                     # fastmock's, then vLLM's
    assert b'vllm:generation_tokens_total{model_name="mock-gpt-4o",engine="0"} 7.0\n' in vllm
    assert b'vllm:num_requests_running{model_name="mock-gpt-4o",engine="0"} 2.0\n' in vllm


def test_the_flag_and_the_variable_and_a_bad_value(capsys):
    assert Config().metrics_format == "both"
    assert parse_config(["--metrics-format", "vllm"], environ={}).metrics_format == "vllm"
    assert parse_config([], environ={"FASTMOCK_METRICS_FORMAT": "fastmock"}).metrics_format \
        == "fastmock"
    with pytest.raises(SystemExit) as exit_:
        parse_config(["--metrics-format", "prometheus"], environ={})
    assert exit_.value.code == 2
    assert "--metrics-format: 'prometheus' is not one of fastmock, vllm, both" in \
        capsys.readouterr().err
