"""The controls and error statuses through the Gemini, Cohere and Bedrock clients (sync and
async where the client has both): each status in the API's own error shape as the client
raises it, max_tokens, the time to first token and fail_after."""
from __future__ import annotations

import asyncio
import json
import time

import boto3
import cohere
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import EventStreamError
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

STATUSES = (400, 401, 403, 404, 429, 500, 503)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from support.server import LiveServer
    live = LiveServer("--delay-ms", "1")
    yield live
    live.stop_cleanly()


_OPENED: list = []


def gemini(server, **headers):
    client = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=server.base, headers=headers or None))
    _OPENED.append(client)              # closed after the test: its connections with it
    return client


@pytest.fixture(autouse=True)
def close_clients():
    yield
    while _OPENED:
        _OPENED.pop().close()


@pytest.mark.parametrize("status", STATUSES)
def test_gemini_statuses(server, status):
    kind = genai_errors.ClientError if status < 500 else genai_errors.ServerError
    client = gemini(server, **{"X-Mock-Status": str(status)})   # (kept: it closes when dropped)
    with pytest.raises(kind) as caught:
        client.models.generate_content(
            model="g", contents="hi", config=types.GenerateContentConfig(
                http_options=types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))))
    assert caught.value.code == status and caught.value.status


def test_gemini_controls_sync_and_async(server):
    client = gemini(server, **{"X-Mock-Max-Tokens": "3", "X-Mock-TTFT-Ms": "300"})
    started = time.monotonic()
    chunks = list(client.models.generate_content_stream(model="g", contents="hi"))
    assert time.monotonic() - started >= 0.29
    assert "".join(c.text for c in chunks) == "Streaming is how "

    plain = gemini(server)

    async def run():
        try:
            done = await plain.aio.models.generate_content(
                model="g", contents="hi", config=types.GenerateContentConfig(max_output_tokens=2))
            stream = await plain.aio.models.generate_content_stream(model="g",
                                                                    contents="echo: x y")
            return done.text, "".join([c.text async for c in stream])
        finally:
            await plain.aio.aclose()        # on this loop: its connections belong to it

    assert asyncio.run(run()) == ("Streaming is ", "x y")
    cut = gemini(server, **{"X-Mock-Fail-After": "2"})
    texts = []
    with pytest.raises(Exception):      # the stream is cut after two tokens, as a crash would
        for chunk in cut.models.generate_content_stream(model="g", contents="hi"):
            texts.append(chunk.text)
    assert texts == ["Streaming ", "is "]


COHERE_ERRORS = {400: "BadRequestError", 401: "UnauthorizedError", 403: "ForbiddenError",
                 404: "NotFoundError", 429: "TooManyRequestsError",
                 500: "InternalServerError", 503: "ServiceUnavailableError"}


@pytest.fixture
def co(server):
    with httpx.Client(timeout=30) as http:
        yield cohere.ClientV2(api_key="k", base_url=server.base, httpx_client=http)


@pytest.mark.parametrize("status", STATUSES)
def test_cohere_statuses(co, status):
    with pytest.raises(getattr(cohere, COHERE_ERRORS[status])) as caught:
        co.chat(model="c", messages=[{"role": "user", "content": "hi"}],
                request_options={"additional_headers": {"X-Mock-Status": str(status)},
                                 "max_retries": 0})
    assert caught.value.status_code == status and caught.value.body["message"]


def test_cohere_controls_sync_and_async(co, server):
    options = {"additional_headers": {"X-Mock-Max-Tokens": "2", "X-Mock-TTFT-Ms": "300"}}
    started = time.monotonic()
    events = list(co.chat_stream(model="c", messages=[{"role": "user", "content": "hi"}],
                                 request_options=options))
    assert time.monotonic() - started >= 0.29
    assert "".join(e.delta.message.content.text for e in events if e.type == "content-delta") == \
        "Streaming is "

    async def run():
        async with httpx.AsyncClient(timeout=30) as http:
            client = cohere.AsyncClientV2(api_key="k", base_url=server.base, httpx_client=http)
            done = await client.chat(model="c", max_tokens=3,
                                     messages=[{"role": "user", "content": "hi"}])
            streamed = [e async for e in client.chat_stream(
                model="c", messages=[{"role": "user", "content": "echo: a b"}])]
            return done.message.content[0].text, "".join(
                e.delta.message.content.text for e in streamed if e.type == "content-delta")

    assert asyncio.run(run()) == ("Streaming is how ", "a b")


BEDROCK_ERRORS = {400: "ValidationException", 401: "ValidationException",
                  403: "AccessDeniedException", 404: "ResourceNotFoundException",
                  429: "ThrottlingException", 500: "InternalServerException",
                  503: "ServiceUnavailableException"}


def bedrock(server, **headers):
    client = boto3.client("bedrock-runtime", endpoint_url=server.base, region_name="us-east-1",
                          aws_access_key_id="AKID", aws_secret_access_key="s",
                          config=Config(retries={"max_attempts": 1}))

    def add(request, **_):
        request.headers.update(headers)

    client.meta.events.register("before-send.bedrock-runtime.*", add)
    return client


MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]


@pytest.mark.parametrize("status", STATUSES)
def test_bedrock_statuses(server, status):
    client = bedrock(server, **{"X-Mock-Status": str(status)})
    with pytest.raises(getattr(client.exceptions, BEDROCK_ERRORS[status])) as caught:
        client.converse(modelId="m", messages=MESSAGES)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    client.close()


def test_bedrock_controls(server):
    client = bedrock(server, **{"X-Mock-Max-Tokens": "2", "X-Mock-TTFT-Ms": "300"})
    started = time.monotonic()
    events = list(client.converse_stream(modelId="m", messages=MESSAGES)["stream"])
    assert time.monotonic() - started >= 0.29
    assert [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e] == \
        ["Streaming ", "is "]
    cut = bedrock(server, **{"X-Mock-Fail-After": "1"})
    got = []
    # as Bedrock ends a failed model stream: a modelStreamErrorException message
    stream = cut.converse_stream(modelId="m", messages=MESSAGES)["stream"]
    with pytest.raises(EventStreamError) as caught:
        for event in stream:
            got.append(event)
    stream.close()
    assert [next(iter(e)) for e in got] == ["messageStart", "contentBlockDelta"]
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert "after 1 events" in caught.value.response["Error"]["Message"]
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                       "messages": [{"role": "user", "content": "echo: p q"}]})
    answer = json.loads(client.invoke_model(modelId="m", body=body)["body"].read())
    assert answer["content"][0]["text"] == "p q"
    client.close()
    cut.close()
