"""boto3's ``bedrock-runtime`` client against fastmock: Converse and ConverseStream (the AWS
event-stream framing, which botocore checks CRC by CRC), InvokeModel and
InvokeModelWithResponseStream with Anthropic Claude bodies, and errors as boto3 raises them."""
from __future__ import annotations

import json
import struct
from binascii import crc32

import boto3
import pytest
from botocore.config import Config

from support.http import http_request, parse_response

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Tell me about streams"}]}]


@pytest.fixture
def bedrock(start_server):
    server = start_server("--delay-ms", "1")
    client = boto3.client("bedrock-runtime", endpoint_url=server.base, region_name="us-east-1",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                          config=Config(retries={"max_attempts": 1}))
    yield server, client
    client.close()


def test_converse_whole_and_streamed(bedrock):
    _, client = bedrock
    whole = client.converse(modelId=MODEL, messages=MESSAGES, system=[{"text": "Be brief."}],
                            inferenceConfig={"maxTokens": 5})
    text = whole["output"]["message"]["content"][0]["text"]
    assert text == "Streaming is how large language "
    assert whole["stopReason"] == "max_tokens"
    assert whole["usage"] == {"inputTokens": 6, "outputTokens": 5, "totalTokens": 11}
    events = list(client.converse_stream(modelId=MODEL, messages=MESSAGES,
                                         inferenceConfig={"maxTokens": 5})["stream"])
    assert [next(iter(e)) for e in events] == (["messageStart"] + ["contentBlockDelta"] * 5
                                               + ["contentBlockStop", "messageStop", "metadata"])
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events
                   if "contentBlockDelta" in e) == text
    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 5
    done = client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "echo: ok"}]}])
    assert done["stopReason"] == "end_turn" and done["output"]["message"]["content"][0]["text"] == "ok"


def test_invoke_model_with_a_claude_body_whole_and_streamed(bedrock):
    _, client = bedrock
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 4,
            "messages": [{"role": "user", "content": "hi"}]}
    answer = json.loads(client.invoke_model(modelId=MODEL, body=json.dumps(body))["body"].read())
    assert answer["type"] == "message" and answer["model"] == MODEL
    assert answer["content"] == [{"type": "text", "text": "Streaming is how large "}]
    assert answer["stop_reason"] == "max_tokens"
    stream = client.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(body))
    events = [json.loads(e["chunk"]["bytes"]) for e in stream["body"]]
    assert [e["type"] for e in events] == (["message_start", "content_block_start"]
                                           + ["content_block_delta"] * 4
                                           + ["content_block_stop", "message_delta", "message_stop"])
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == \
        answer["content"][0]["text"]
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 4


def test_errors_are_boto3s_exceptions(bedrock):
    server, client = bedrock
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.converse(modelId=MODEL, messages=[{"role": "robot", "content": [{"text": "x"}]}])
    assert "role" in caught.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ValidationException):
        client.invoke_model(modelId=MODEL, body=json.dumps({"inputText": "titan body"}))

    def throttled(request, **_):        # the status control, as a header boto3 sends
        request.headers["X-Mock-Status"] = "429"

    client.meta.events.register("before-send.bedrock-runtime.Converse", throttled)
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.converse(modelId=MODEL, messages=MESSAGES)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    client.meta.events.unregister("before-send.bedrock-runtime.Converse", throttled)
    assert client.converse(modelId=MODEL, messages=MESSAGES,
                           inferenceConfig={"maxTokens": 1})["stopReason"] == "max_tokens"


def test_each_event_stream_message_is_framed_and_checksummed(bedrock):
    server, _ = bedrock
    body = json.dumps({"messages": MESSAGES, "inferenceConfig": {"maxTokens": 2}}).encode()
    raw = (b"POST /model/m/converse-stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
           + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    response, _ = parse_response(http_request(server, raw))
    assert response.header("content-type") == "application/vnd.amazon.eventstream"
    data, kinds = response.body, []
    while data:
        total, headers = struct.unpack(">II", data[:8])
        assert struct.unpack(">I", data[8:12])[0] == crc32(data[:8])
        assert struct.unpack(">I", data[total - 4:total])[0] == crc32(data[:total - 4])
        head = data[12:12 + headers]
        assert head.startswith(b"\x0b:event-type\x07")
        kinds.append(head[15:15 + struct.unpack(">H", head[13:15])[0]].decode())
        json.loads(data[12 + headers:total - 4])
        data = data[total:]
    assert kinds == ["messageStart", "contentBlockDelta", "contentBlockDelta",
                     "contentBlockStop", "messageStop", "metadata"]
