"""Latency models (fastmock.latency, engine/latency.pyx): the specs, the distributions'
percentiles over thousands of draws, seeded repeatability, profiles and what a request gets."""
from __future__ import annotations

import json
import math
import statistics

import pytest

from fastmock import latency
from fastmock._engine import Slots, mix
from fastmock.config import Config
from fastmock.controls import InvalidControl
from fastmock.controls import parse as parse_controls
from fastmock.latency import SpecError, load_profiles, parse

N = 20_000


def percentile(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def draws(spec: str, seed: int = 7, n: int = N) -> list:
    return parse(spec).sample(seed, n)


def test_constant_is_always_its_value():
    assert set(draws("constant:25ms", n=100)) == {25.0}
    assert set(draws("constant:0.5s", n=10)) == {500.0}


def test_uniform_spans_its_bounds_evenly():
    values = draws("uniform:min=10ms,max=40ms")
    assert 10 <= min(values) < 10.1 and 39.9 < max(values) < 40
    assert statistics.fmean(values) == pytest.approx(25, abs=0.3)
    assert percentile(values, 0.9) == pytest.approx(37, abs=0.4)


def test_normal_has_its_mean_and_spread_and_is_never_negative():
    values = draws("normal:mean=25ms,stddev=5ms")
    assert statistics.fmean(values) == pytest.approx(25, abs=0.15)
    assert statistics.stdev(values) == pytest.approx(5, abs=0.15)
    assert percentile(values, 0.975) == pytest.approx(25 + 1.96 * 5, abs=0.4)
    assert min(draws("normal:mean=1ms,stddev=5ms")) == 0.0


def test_lognormal_has_its_median_and_99th_percentile():
    values = draws("lognormal:median=25ms,p99=80ms", n=50_000)
    assert percentile(values, 0.5) == pytest.approx(25, rel=0.03)
    assert percentile(values, 0.99) == pytest.approx(80, rel=0.06)
    assert min(values) > 0


def test_empirical_has_the_percentiles_it_was_given():
    values = draws("empirical:p50=20ms,p90=40ms,p99=80ms", n=50_000)
    assert percentile(values, 0.5) == pytest.approx(20, rel=0.02)
    assert percentile(values, 0.9) == pytest.approx(40, rel=0.02)
    assert percentile(values, 0.99) == pytest.approx(80, rel=0.03)
    assert percentile(values, 0.95) == pytest.approx(40 + 40 * 5 / 9, rel=0.03)   # a straight line
    assert min(values) == 20.0 and max(values) == 80.0          # flat beyond the points
    with_ends = draws("empirical:p0=5ms,p50=20ms,p100=30ms")
    assert 5 <= min(with_ends) < 5.1 and 29.9 < max(with_ends) <= 30


def test_draws_repeat_for_a_seed_and_differ_for_another():
    assert draws("uniform:min=0ms,max=1s", 42, 50) == draws("uniform:min=0ms,max=1s", 42, 50)
    assert draws("uniform:min=0ms,max=1s", 42, 50) != draws("uniform:min=0ms,max=1s", 43, 50)
    assert mix(1, 2) == mix(1, 2) != mix(1, 3) != mix(2, 2)


@pytest.mark.parametrize("spec, says", [
    ("25ms", "expected constant:"), ("gamma:k=1", "expected constant:"),
    ("constant:25", "not a duration"), ("constant:-5ms", "not a duration"),
    ("constant:nanms", "not a duration"), ("uniform:min=10ms", "takes min and max"),
    ("uniform:min=40ms,max=10ms", "max is below min"), ("normal:mean=5ms,sd=1ms", "takes mean and stddev"),
    ("lognormal:median=50ms,p99=10ms", "0 < median <= p99"), ("lognormal:median=0ms,p99=10ms", "0 < median"),
    ("empirical:p50=20ms,p90=10ms", "must not fall"), ("empirical:q50=20ms", "not a percentile"),
    ("empirical:p150=20ms", "not a percentile"), ("uniform:min=1ms,min=2ms", "given twice"),
    ("uniform:min", "name=value"),
])
def test_a_bad_spec_says_what_is_wrong(spec, says):
    with pytest.raises(SpecError, match=says):
        parse(spec)


def profiles_file(tmp_path, doc) -> str:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_profiles_load_in_file_order_with_tokens_per_second_as_a_constant_gap(tmp_path):
    path = profiles_file(tmp_path, {"models": {
        "gpt-4o-mini*": {"ttft": "constant:100ms", "tokens_per_second": 50},
        "gpt-4o*": {"itl": "uniform:min=10ms,max=20ms", "prefill_ms_per_1k_tokens": 40},
    }})
    first, second = load_profiles(path)
    assert first.glob == "gpt-4o-mini*" and first.itl.sample(1, 3) == [20.0, 20.0, 20.0]
    assert second.ttft is None and second.prefill_ms_per_token == pytest.approx(0.04)


@pytest.mark.parametrize("doc, says", [
    ([], "expected {\"models\""), ({"models": {}}, "expected {\"models\""),
    ({"models": {"m": {"ttft": "fast"}}}, "models['m']: 'fast'"),
    ({"models": {"m": {"delay": 5}}}, "unknown key 'delay'"),
    ({"models": {"m": {"tokens_per_second": 0}}}, "above 0"),
    ({"models": {"m": {"tokens_per_second": 5, "itl": "constant:1ms"}}}, "not both"),
    ({"models": {"m": {"prefill_ms_per_1k_tokens": -1}}}, "0 or more"),
    ({"models": {"m": 5}}, "expected an object"),
])
def test_a_bad_profile_file_names_the_model_and_the_key(tmp_path, doc, says):
    with pytest.raises(SpecError, match=says.replace("[", r"\[").replace("{", r"\{")):
        load_profiles(profiles_file(tmp_path, doc))


def test_a_missing_or_broken_profile_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="No such file"):
        load_profiles(str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SpecError, match="broken.json"):
        load_profiles(str(broken))


def model(tmp_path=None, **settings) -> latency.LatencyModel:
    return latency.LatencyModel(Config(seed=3, **settings))


def test_a_request_gets_its_own_spec_then_its_controls_then_the_profile_then_the_flags(tmp_path):
    profiles = load_profiles(profiles_file(tmp_path, {"models": {
        "gpt-4o*": {"ttft": "constant:200ms", "itl": "constant:20ms", "prefill_ms_per_1k_tokens": 100}}}))
    m = model(ttft=parse("constant:500ms"), itl=parse("constant:50ms"), latency_profile=profiles)
    plain = parse_controls(None, None, 50, 0)
    ttft, gaps = m.plan(plain, None, "llama3", 0, 50, 0)
    assert ttft == 500 and gaps.total(2) == 100                          # the flags
    ttft, gaps = m.plan(plain, None, "gpt-4o-mini", 1000, 50, 0)
    assert ttft == 200 + 100 and gaps.total(2) == 40                     # the profile, + prefill
    set_by_query = parse_controls(b"ttft_ms=7&delay_ms=3", None, 50, 0)
    ttft, gaps = m.plan(set_by_query, None, "gpt-4o", 0, 50, 0)
    assert ttft == 7 and gaps.total(2) == 6                              # the request's controls
    headers = {b"x-mock-ttft": b"constant:1s", b"x-mock-itl": b"constant:1ms"}
    ttft, gaps = m.plan(set_by_query, headers, "gpt-4o", 0, 50, 0)
    assert ttft == 1000 and gaps.total(3) == 3                           # its own specs
    with pytest.raises(InvalidControl, match="X-Mock-ITL: 'slow'") as caught:   # a control's 400
        m.plan(plain, {b"x-mock-itl": b"slow"}, None, 0, 50, 0)
    assert caught.value.param == "X-Mock-ITL"


def test_without_a_model_flag_the_server_defaults_are_constants():
    m = model()
    ttft, gaps = m.plan(parse_controls(None, None, 40, 15), None, None, 0, 40, 15)
    assert ttft == 15 and gaps.total(5) == 200


def test_a_seeded_model_draws_the_same_run_twice():
    def run():
        m = model(ttft=parse("uniform:min=0ms,max=1s"), itl=parse("normal:mean=30ms,stddev=10ms"))
        ctl = parse_controls(None, None, 50, 0)
        return [(t, g.total(10)) for t, g in (m.plan(ctl, None, None, 0, 50, 0) for _ in range(20))]
    first = run()
    assert first == run()
    assert len(set(first)) == 20


def test_the_load_factor_stretches_each_gap_by_the_streams_running():
    slots = Slots(10, 2.0)
    m = model(itl=parse("constant:10ms"))
    m.slots = slots
    ctl = parse_controls(None, None, 50, 0)
    _, gaps = m.plan(ctl, None, None, 0, 50, 0)
    assert gaps.total(1) == 10.0                                          # nothing running
    streams = [object() for _ in range(5)]
    for stream in streams:                                                # Slots.take, as a
        _, g = m.plan(ctl, None, None, 0, 50, 0)                          # stream's start does
        slots_take(slots, stream, g)
    assert slots.running == 5
    assert gaps.total(1) == pytest.approx(10 * (1 + 2.0 * 5 / 10))


def slots_take(slots, stream, gaps):
    """What a stream's start does (Streamer.start_stream)."""
    slots.admit(stream, gaps, 0, 0)


def test_slots_queue_the_streams_past_max_num_seqs_first_come_first_served():
    slots = Slots(2, 0.0)
    m = model(itl=parse("constant:10ms"))
    ctl = parse_controls(None, None, 50, 0)
    streams = [object() for _ in range(4)]
    took = [slots.admit(s, m.plan(ctl, None, None, 0, 50, 0)[1], 0, 5) for s in streams]
    assert took == [True, True, False, False]
    assert (slots.running, slots.waiting) == (2, 2)
    assert slots.leave(streams[3]) is None                   # a waiting one left
    assert (slots.running, slots.waiting) == (2, 1)
    assert slots.leave(streams[0]) is streams[2]             # its slot goes on
    assert (slots.running, slots.waiting) == (2, 0)
    assert slots.leave(streams[0]) is None                   # released once
    assert math.isclose(slots.load_factor, 0.0)
