"""Azure OpenAI deployments through the official ``openai.AzureOpenAI`` client: chat
(whole and streamed), completions and embeddings under /openai/deployments/{name}/, and
Azure's 404 for a request without api-version or for an operation it does not have."""
from __future__ import annotations

import json

import openai
import pytest

from support.http import http_request, parse_response


@pytest.fixture
def azure(start_server):
    server = start_server("--delay-ms", "1")
    client = openai.AzureOpenAI(azure_endpoint=server.base, api_key="azure-key",
                                api_version="2024-10-21", max_retries=0, timeout=30)
    with client:
        yield server, client


def test_chat_whole_and_streamed_under_a_deployment(azure):
    server, client = azure
    whole = client.chat.completions.create(model="gpt4o-prod", max_tokens=5,
                                           messages=[{"role": "user", "content": "hi"}])
    assert whole.model == "gpt4o-prod"
    assert whole.choices[0].message.content == "Streaming is how large language "
    assert whole.choices[0].finish_reason == "length"
    chunks = list(client.chat.completions.create(
        model="gpt4o-prod", max_tokens=5, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hi"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == 5


def test_completions_and_embeddings_under_a_deployment(azure):
    _, client = azure
    done = client.completions.create(model="davinci-dep", prompt="hi", max_tokens=3)
    assert done.choices[0].text == "Streaming is how "
    vectors = client.embeddings.create(model="embed-dep", input=["a", "b"], dimensions=8)
    assert [len(v.embedding) for v in vectors.data] == [8, 8]
    assert vectors.model == "embed-dep"


def test_without_api_version_or_for_an_unknown_operation_azure_says_resource_not_found(azure):
    server, client = azure
    plain = openai.OpenAI(base_url=server.base + "/openai/deployments/dep", api_key="k",
                          max_retries=0, timeout=30)
    with plain, pytest.raises(openai.NotFoundError) as caught:
        plain.chat.completions.create(model="dep", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body == {"code": "404", "message": "Resource not found"}
    body = json.dumps({"input": "x"}).encode()
    raw = (b"POST /openai/deployments/dep/images/generations?api-version=2024-10-21 HTTP/1.1\r\n"
           b"Host: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    response, _ = parse_response(http_request(server, raw))
    assert response.status == 404 and response.json()["error"]["message"] == "Resource not found"


def test_a_body_without_model_takes_the_deployment_and_a_bad_body_is_openais_400(azure):
    server, _ = azure
    for body, status in ((b'{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}', 200),
                         (b'{"messages": 5}', 400), (b"{not json", 400)):
        raw = (b"POST /openai/deployments/my%20dep/chat/completions?api-version=x HTTP/1.1\r\n"
               + b"Host: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        response, _ = parse_response(http_request(server, raw))
        assert response.status == status, response
        if status == 200:
            assert response.json()["model"] == "my dep"
        else:
            assert response.json()["error"]["type"] == "invalid_request_error"


def test_the_v1_api_under_openai_v1_with_the_openai_client(azure):
    server, _ = azure
    client = openai.OpenAI(base_url=server.base + "/openai/v1/", api_key="azure-key",
                           default_query={"api-version": "preview"}, max_retries=0, timeout=30)
    with client:
        chat = client.chat.completions.create(model="gpt4o-prod", max_tokens=3,
                                              messages=[{"role": "user", "content": "hi"}])
        assert chat.choices[0].message.content == "Streaming is how "
        answer = client.responses.create(model="gpt4o-prod", input="hi", max_output_tokens=3)
        assert answer.output_text == "Streaming is how "
        vectors = client.embeddings.create(model="embed", input="a", dimensions=4)
        assert len(vectors.data[0].embedding) == 4
        with pytest.raises(openai.NotFoundError):
            client.post("/images/generations", body={}, cast_to=object)


def test_the_async_client(azure):
    server, _ = azure

    async def run():
        client = openai.AsyncAzureOpenAI(azure_endpoint=server.base, api_key="k",
                                         api_version="2024-10-21", max_retries=0, timeout=30)
        async with client:
            stream = await client.chat.completions.create(
                model="dep", max_tokens=4, stream=True, messages=[{"role": "user", "content": "hi"}])
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    import asyncio
    assert asyncio.run(run()) == "Streaming is how large "
