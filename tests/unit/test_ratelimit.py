"""fastmock.ratelimit: the --rate-limit spec, the token buckets on a fake clock, and the
header values each provider's format asks for."""
from __future__ import annotations

import pytest

from fastmock import ratelimit
from fastmock.ratelimit import ANTHROPIC, OPENAI, Limit, RateLimits, api_key, parse


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limits(spec: str, **kwargs) -> tuple[RateLimits, Clock]:
    clock = Clock()
    return RateLimits(parse(spec), clock=clock, wall=lambda: 1_800_000_000.0, **kwargs), clock


def headers(lines: bytes) -> dict:
    return dict(line.split(": ", 1) for line in lines.decode().split("\r\n") if line)


@pytest.mark.parametrize("spec, expected", [
    ("requests=600/min,tokens=90000/min", (Limit("requests", 600, 60), Limit("tokens", 90000, 60))),
    (" tokens = 5/s , requests=1/1h", (Limit("requests", 1, 3600), Limit("tokens", 5, 1))),
    ("input-tokens=10/day,output_tokens=20/sec", (Limit("input_tokens", 10, 86400),
                                                  Limit("output_tokens", 20, 1))),
    ("requests=3/minute,", (Limit("requests", 3, 60),)),
])
def test_a_spec_is_read_into_limits_in_a_fixed_order(spec, expected):
    assert parse(spec) == expected


@pytest.mark.parametrize("spec, says", [
    ("", "no limit given"), ("requests", "expected requests="), ("rpm=5/min", "expected requests="),
    ("requests=5", "N/period"), ("requests=0/min", "N/period"), ("requests=-1/min", "N/period"),
    ("requests=1.5/min", "N/period"), ("requests=5/fortnight", "N/period"),
    ("requests=1/s,requests=2/s", "given twice"),
])
def test_a_bad_spec_says_what_is_wrong(spec, says):
    with pytest.raises(ValueError, match=says):
        parse(spec)


def test_the_key_is_the_bearer_token_then_x_api_key_then_shared():
    assert api_key({b"authorization": b"Bearer  sk-1 "}) == b"sk-1"
    assert api_key({b"authorization": b"bearer sk-2", b"x-api-key": b"ak"}) == b"sk-2"
    assert api_key({b"authorization": b"Basic Zm9v", b"x-api-key": b" ak "}) == b"ak"
    assert api_key({b"authorization": b"Bearer "}) == ratelimit.SHARED_KEY
    assert api_key(None) == api_key({}) == ratelimit.SHARED_KEY


def test_requests_are_refused_once_spent_and_let_through_as_the_bucket_refills():
    rl, clock = limits("requests=2/s")
    assert rl.admit(b"k").allowed and rl.admit(b"k").allowed
    refused = rl.admit(b"k")
    assert not refused.allowed and refused.refused_by.kind == "requests"
    assert refused.retry_after == pytest.approx(0.5)
    clock.now += 0.4
    assert not rl.admit(b"k").allowed
    clock.now += 0.1
    assert rl.admit(b"k").allowed
    assert rl.admit(b"other").allowed           # every key has buckets of its own


def test_tokens_come_out_after_the_answer_and_may_go_below_zero():
    rl, clock = limits("tokens=100/min")
    first = rl.admit(b"k")
    assert first.allowed
    rl.spend(first, 30, 90)                      # the request that crosses the line finishes
    assert first.buckets.levels == [-20.0]
    refused = rl.admit(b"k")
    assert not refused.allowed and refused.refused_by.kind == "tokens"
    assert refused.retry_after == pytest.approx(12.0)       # 20 tokens at 100 a minute
    clock.now += 12.01
    assert rl.admit(b"k").allowed


def test_input_and_output_tokens_take_the_prompt_and_the_completion():
    rl, _ = limits("tokens=1000/min,input_tokens=500/min,output_tokens=300/min")
    verdict = rl.admit(b"k")
    rl.spend(verdict, 40, 200)
    assert verdict.buckets.levels == [760.0, 460.0, 100.0]


def test_a_bucket_never_fills_past_its_amount():
    rl, clock = limits("requests=5/min")
    rl.admit(b"k")
    clock.now += 3600
    verdict = rl.admit(b"k")
    assert verdict.buckets.levels == [4.0]


def test_keys_past_the_bound_forget_the_least_recently_used():
    rl, _ = limits("requests=1/h", max_keys=2)
    assert rl.admit(b"a").allowed and rl.admit(b"b").allowed
    assert not rl.admit(b"a").allowed            # a is now the most recent
    assert rl.admit(b"c").allowed                # b is forgotten
    assert rl.admit(b"b").allowed                # ... and starts full again
    assert len(rl._keys) == 2


def test_openai_headers_give_limit_remaining_and_reset_as_a_duration():
    rl, _ = limits("requests=60/min,tokens=1000/min,input_tokens=10/s")
    verdict = rl.admit(b"k")
    rl.spend(verdict, 100, 150)
    assert headers(rl.headers(OPENAI, verdict)) == {
        "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "750",
        "x-ratelimit-reset-tokens": "15s",      # OpenAI has no input/output token headers
    }


def test_anthropic_headers_give_every_set_and_reset_as_rfc_3339():
    rl, _ = limits("requests=50/min,tokens=1000/min,input_tokens=800/min,output_tokens=200/min")
    verdict = rl.admit(b"k")
    rl.spend(verdict, 100, 100)
    got = headers(rl.headers(ANTHROPIC, verdict))
    assert got["anthropic-ratelimit-requests-limit"] == "50"
    assert got["anthropic-ratelimit-requests-remaining"] == "49"
    assert got["anthropic-ratelimit-requests-reset"] == "2027-01-15T08:00:02Z"
    assert got["anthropic-ratelimit-tokens-remaining"] == "800"
    assert got["anthropic-ratelimit-tokens-reset"] == "2027-01-15T08:00:12Z"
    assert got["anthropic-ratelimit-input-tokens-remaining"] == "700"
    assert got["anthropic-ratelimit-output-tokens-remaining"] == "100"
    assert got["anthropic-ratelimit-output-tokens-reset"] == "2027-01-15T08:00:30Z"
    assert len(got) == 12
    assert rl.headers("fastmock.providers.ollama", verdict) == b""


def test_a_refusal_names_the_bucket_and_says_when_to_come_back():
    rl, _ = limits("requests=1/min,tokens=10/min")
    rl.admit(b"k")
    refused = rl.admit(b"k")
    body, message, lines = rl.refusal(OPENAI, refused)
    assert message == ("Rate limit reached for requests per minute: Limit 1, Used 1, Requested 1. "
                       "Please try again in 1m0s.")
    assert body == (b'{"error":{"message":"' + message.encode() + b'","type":"requests",'
                    b'"param":null,"code":"rate_limit_exceeded"}}')
    assert headers(lines)["Retry-After"] == "60"
    body, message, lines = rl.refusal(ANTHROPIC, refused)
    assert body is None and message.startswith("Number of requests has exceeded your per-minute")
    assert headers(lines)["anthropic-ratelimit-requests-remaining"] == "0"


@pytest.mark.parametrize("seconds, text", [
    (0, b"0ms"), (0.0171, b"18ms"), (1, b"1s"), (8.64, b"8.64s"), (59.9986, b"59.999s"), (59.9994, b"1m0s"),
    (360, b"6m0s"), (3723, b"1h2m3s"),
])
def test_durations_are_written_the_way_openai_writes_them(seconds, text):
    assert ratelimit.duration(seconds) == text


def test_retry_after_is_whole_seconds_and_at_least_one():
    assert ratelimit.retry_after(0.01) == b"Retry-After: 1\r\n"
    assert ratelimit.retry_after(2.2) == b"Retry-After: 3\r\n"
