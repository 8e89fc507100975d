"""Wire chaos against the official clients and httpx-sse (issue 18): a correct client reads
the same text from a fragmented, coalesced, CRLF, keep-alive or trickled stream; and what
each does with a missing terminal event, a malformed frame and a reset, pinned down."""
from __future__ import annotations

import json

import anthropic
import httpx
import httpx_sse
import openai
import pytest

from support.apis import TEXT, opened

MESSAGES = [{"role": "user", "content": "hi"}]
# what every client must read through: the same text as without chaos
WIRE = {
    "fragment": {"X-Mock-Fragment": "3"},
    "fragment-bytes": {"X-Mock-Fragment": "bytes:5"},
    "coalesce": {"X-Mock-Coalesce": "7"},
    "crlf": {"X-Mock-Crlf": "1"},
    "keepalive": {"X-Mock-Keepalive-Ms": "2", "X-Mock-Delay-Ms": "1", "X-Mock-TTFT-Ms": "20"},
    "trickle": {"X-Mock-Trickle-Bytes": "97", "X-Mock-Trickle-Ms": "0"},
    "everything": {"X-Mock-Fragment": "4", "X-Mock-Crlf": "1", "X-Mock-Keepalive-Ms": "3",
                   "X-Mock-Stall-Ms": "30", "X-Mock-Seed": "9"},
}


def openai_text(server, headers: dict) -> str:
    client = opened(openai.OpenAI(base_url=server.base + "/v1", api_key="sk-test", max_retries=0))
    stream = client.chat.completions.create(model="m", stream=True, messages=MESSAGES,
                                            extra_headers=headers)
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def anthropic_stream(server, headers: dict):
    client = opened(anthropic.Anthropic(base_url=server.base, api_key="sk-ant", max_retries=0))
    with client.messages.stream(model="m", max_tokens=500, messages=MESSAGES,
                                extra_headers=headers) as stream:
        text = "".join(stream.text_stream)
        return text, stream.get_final_message()


def sse_datas(server, query: str) -> list[str]:
    with httpx.Client(timeout=20) as client, \
            httpx_sse.connect_sse(client, "GET", f"{server.base}/stream-sse?{query}") as source:
        return [event.data for event in source.iter_sse()]


@pytest.mark.parametrize("case", WIRE)
def test_openai_reads_the_same_text(api_server, case):
    assert openai_text(api_server, WIRE[case]) == TEXT


@pytest.mark.parametrize("case", WIRE)
def test_anthropic_reads_the_same_text(api_server, case):
    text, message = anthropic_stream(api_server, WIRE[case])
    assert text == TEXT and message.stop_reason == "end_turn"


@pytest.mark.parametrize("case", WIRE)
def test_httpx_sse_reads_the_same_events(api_server, case):
    query = "&".join(f"{k[7:].lower().replace('-', '_')}={v}" for k, v in WIRE[case].items())
    datas = sse_datas(api_server, query)
    assert datas[-1] == "[DONE]"
    assert "".join(json.loads(d)["choices"][0]["delta"]["content"] for d in datas[:-1]) == TEXT


# -- what the clients do with a broken stream ------------------------------------------------------

def test_drop_done_goes_unnoticed_by_every_client(api_server):
    assert openai_text(api_server, {"X-Mock-Drop-Done": "1"}) == TEXT
    text, message = anthropic_stream(api_server, {"X-Mock-Drop-Done": "1"})  # no message_stop
    assert text == TEXT and message.stop_reason == "end_turn"
    datas = sse_datas(api_server, "drop_done=1")
    assert "[DONE]" not in datas and len(datas) == 209


def test_a_malformed_frame_raises_a_json_error_in_every_client(api_server):
    with pytest.raises(json.JSONDecodeError):
        openai_text(api_server, {"X-Mock-Malformed-At": "3"})
    with pytest.raises(json.JSONDecodeError):
        anthropic_stream(api_server, {"X-Mock-Malformed-At": "3"})
    datas = sse_datas(api_server, "malformed_at=3")     # httpx-sse hands the data on as it is
    with pytest.raises(json.JSONDecodeError):
        json.loads(datas[2])


RESET = {"X-Mock-Fail-After": "5", "X-Mock-Fail-Mode": "reset", "X-Mock-Delay-Ms": "5"}
TRUNCATE = {"X-Mock-Fail-After": "5", "X-Mock-Fail-Mode": "truncate"}


@pytest.mark.parametrize("cut", [RESET, TRUNCATE], ids=["reset", "truncate"])
def test_a_cut_is_a_connection_error_in_the_sdks(api_server, cut):
    with pytest.raises(openai.APIConnectionError):
        openai_text(api_server, cut)
    with pytest.raises(anthropic.APIConnectionError) as caught:
        anthropic_stream(api_server, cut)
    assert ("reset by peer" in str(caught.value)) == (cut is RESET)


def test_httpx_sse_sees_a_reset_as_a_read_error_and_a_truncation_as_a_protocol_error(api_server):
    with pytest.raises(httpx.ReadError, match="reset by peer"):
        sse_datas(api_server, "fail_after=5&fail_mode=reset&delay_ms=5")
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        sse_datas(api_server, "fail_after=5&fail_mode=truncate")
