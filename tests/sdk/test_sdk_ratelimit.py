"""--rate-limit through the official clients: with their retries on, a 429 makes them
wait the Retry-After and then succeed; with retries off, they raise RateLimitError and
the headers are there to read."""
from __future__ import annotations

import time

import anthropic
import openai
import pytest

MESSAGES = [{"role": "user", "content": "Tell me about streams."}]


@pytest.fixture
def limited(start_server):
    return start_server("--delay-ms", "1", "--rate-limit", "requests=1/s,tokens=100000/min")


def test_openai_waits_out_a_429_and_succeeds(limited):
    client = openai.OpenAI(base_url=limited.base + "/v1", api_key="sk-retry", max_retries=2,
                           timeout=30)
    with client:
        first = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert first.headers["x-ratelimit-remaining-requests"] == "0"
        started = time.monotonic()
        second = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in second if c.choices)
        waited = time.monotonic() - started
    assert text.startswith("Streaming is how")
    assert 0.9 <= waited < 10            # Retry-After: 1, then a fresh request a second later


def test_openai_without_retries_raises_rate_limit_error_with_the_headers(limited):
    client = openai.OpenAI(base_url=limited.base + "/v1", api_key="sk-none", max_retries=0,
                           timeout=30)
    with client:
        client.completions.create(model="m", prompt="hi", max_tokens=2)
        with pytest.raises(openai.RateLimitError) as caught:
            client.completions.create(model="m", prompt="hi", max_tokens=2)
    error = caught.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded"
    assert error.type == "requests"
    assert error.response.headers["retry-after"] == "1"
    assert error.response.headers["x-ratelimit-limit-requests"] == "1"


def test_anthropic_waits_out_a_429_and_succeeds(limited):
    client = anthropic.Anthropic(base_url=limited.base, api_key="ak-retry", max_retries=2,
                                 timeout=30)
    with client:
        first = client.messages.with_raw_response.create(model="c", max_tokens=20,
                                                         messages=MESSAGES)
        assert first.headers["anthropic-ratelimit-requests-remaining"] == "0"
        started = time.monotonic()
        with client.messages.stream(model="c", max_tokens=20, messages=MESSAGES) as stream:
            message = stream.get_final_message()
        waited = time.monotonic() - started
    assert message.content[0].text.startswith("Streaming is how")
    assert 0.9 <= waited < 10


def test_anthropic_without_retries_raises_rate_limit_error(limited):
    client = anthropic.Anthropic(base_url=limited.base, api_key="ak-none", max_retries=0,
                                 timeout=30)
    with client:
        client.messages.create(model="c", max_tokens=5, messages=MESSAGES)
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model="c", max_tokens=5, messages=MESSAGES)
    error = caught.value
    assert error.status_code == 429
    assert error.body["error"]["type"] == "rate_limit_error"
    assert error.response.headers["anthropic-ratelimit-requests-limit"] == "1"
