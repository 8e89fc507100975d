"""The official ``cohere`` client (ClientV2) against fastmock's Cohere v2 API: chat whole
and streamed (the event sequence, finish reasons, usage), embed in every embedding type,
and errors as the SDK raises them."""
from __future__ import annotations

import base64
import struct

import cohere
import httpx
import pytest


@pytest.fixture
def client(start_server):
    server = start_server("--delay-ms", "1")
    with httpx.Client(timeout=30) as http:      # closed with the test (the SDK keeps it open)
        yield cohere.ClientV2(api_key="co-key", base_url=server.base, httpx_client=http)


MESSAGES = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Tell me about streams"}]}]


def test_chat_whole_and_streamed(client):
    whole = client.chat(model="command-a-03-2025", messages=MESSAGES, max_tokens=5)
    assert whole.finish_reason == "MAX_TOKENS"
    assert whole.message.role == "assistant"
    assert whole.message.content[0].text == "Streaming is how large language "
    assert whole.usage.tokens.input_tokens == 2 + 4 and whole.usage.tokens.output_tokens == 5
    events = list(client.chat_stream(model="command-a-03-2025", messages=MESSAGES, max_tokens=5))
    assert [e.type for e in events] == (["message-start", "content-start"] + ["content-delta"] * 5
                                        + ["content-end", "message-end"])
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == whole.message.content[0].text
    assert events[-1].delta.finish_reason == "MAX_TOKENS"
    assert events[-1].delta.usage.billed_units.output_tokens == 5
    assert events[0].id


def test_a_whole_answer_completes_and_echo_works(client):
    done = client.chat(model="command-r", messages=[{"role": "user", "content": "echo: hi there"}])
    assert done.finish_reason == "COMPLETE" and done.message.content[0].text == "hi there"


def test_embed_in_every_type(client):
    kinds = ["float", "int8", "uint8", "binary", "ubinary", "base64"]
    done = client.embed(model="embed-v4.0", texts=["alpha", "beta"], input_type="search_query",
                        embedding_types=kinds, output_dimension=256)
    floats = done.embeddings.float_
    assert [len(v) for v in floats] == [256, 256] and floats[0] != floats[1]
    assert abs(sum(v * v for v in floats[0]) - 1) < 1e-5
    assert done.embeddings.int8[0] == [max(-127, min(127, round(v * 127))) for v in floats[0]]
    assert done.embeddings.uint8[0] == [v + 128 for v in done.embeddings.int8[0]]
    assert len(done.embeddings.binary[0]) == len(done.embeddings.ubinary[0]) == 32
    assert done.embeddings.ubinary[0][0] >> 7 == (floats[0][0] > 0)
    raw = base64.b64decode(done.embeddings.base64[0])
    assert list(struct.unpack("<256f", raw)) == pytest.approx(floats[0], rel=1e-6)
    assert done.meta.billed_units.input_tokens == 2
    again = client.embed(model="embed-v4.0", texts=["alpha"], input_type="search_document",
                         output_dimension=256)
    assert again.embeddings.float_[0] == floats[0]


def test_errors_are_the_sdks_exceptions_and_the_server_keeps_serving(client):
    with pytest.raises(cohere.BadRequestError) as caught:
        client.chat(model="command-a", messages=5)
    assert "'messages'" in caught.value.body["message"] and caught.value.body["id"]
    with pytest.raises(cohere.BadRequestError):
        client.embed(model="embed-v4.0", texts=["a"], input_type="nonsense")
    with pytest.raises(cohere.BadRequestError):
        client.embed(model="embed-v4.0", texts=["a"], input_type="search_query",
                     output_dimension=300)
    assert client.chat(model="command-a", messages=[{"role": "user", "content": "hi"}],
                       max_tokens=1).finish_reason == "MAX_TOKENS"
