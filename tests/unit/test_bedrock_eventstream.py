"""The AWS event-stream encoder of the Bedrock streams, read back by botocore's own parser
(which checks the prelude's and the message's CRC-32)."""
from __future__ import annotations

import json

import pytest

botocore_eventstream = pytest.importorskip("botocore.eventstream")

from fastmock.providers.bedrock import _chunk, _delta, event_message  # noqa: E402


def parse(data: bytes) -> list:
    buffer = botocore_eventstream.EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_botocore_reads_what_the_encoder_writes():
    payloads = [(b"messageStart", b'{"role":"assistant"}'),
                (b"contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"na\\u00efve \xf0\x9f\x8f\x81"}}'),
                (b"metadata", b'{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3}}')]
    messages = parse(b"".join(event_message(kind, payload) for kind, payload in payloads))
    assert [m.headers for m in messages] == [
        {":event-type": kind.decode(), ":content-type": "application/json", ":message-type": "event"}
        for kind, _ in payloads]
    assert [m.payload for m in messages] == [payload for _, payload in payloads]
    for message, (kind, payload) in zip(messages, payloads):
        assert message.prelude.total_length == len(event_message(kind, payload))


def test_a_token_frame_and_a_claude_chunk():
    [delta] = parse(_delta(b"Hello "))
    assert json.loads(delta.payload) == {"contentBlockIndex": 0, "delta": {"text": "Hello "}}
    [chunk] = parse(_chunk(b'{"type":"message_stop"}'))
    assert chunk.headers[":event-type"] == "chunk"
    assert json.loads(chunk.payload)["bytes"] == "eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0="


@pytest.mark.parametrize("where", ["prelude", "message"])
def test_a_wrong_crc_is_caught_by_botocore(where):
    frame = bytearray(event_message(b"messageStop", b'{"stopReason":"end_turn"}'))
    frame[11 if where == "prelude" else -1] ^= 0xFF
    with pytest.raises(botocore_eventstream.ChecksumMismatch):
        parse(bytes(frame))


def test_an_exception_message_is_botocores_event_stream_error():
    from fastmock.providers.bedrock import exception_message
    [message] = parse(exception_message(b"modelStreamErrorException", b'{"message":"cut"}'))
    assert message.headers == {":exception-type": "modelStreamErrorException",
                               ":content-type": "application/json",
                               ":message-type": "exception"}
    assert message.to_response_dict()["status_code"] == 400     # botocore: raise, not yield
    assert json.loads(message.payload) == {"message": "cut"}
