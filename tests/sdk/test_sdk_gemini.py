"""The official ``google-genai`` client against fastmock's Gemini API: generate_content
whole and streamed (SSE), count_tokens, embed_content, the model list, errors as
ClientError in Google's shape; and the JSON-array stream Gemini sends without alt=sse."""
from __future__ import annotations

import json

import pytest
from google import genai
from google.genai import errors, types

from support.http import http_request, parse_response


@pytest.fixture
def gemini(start_server):
    server = start_server("--delay-ms", "1")
    client = genai.Client(api_key="g-key", http_options=types.HttpOptions(base_url=server.base))
    yield server, client


def test_generate_content_whole_and_streamed(gemini):
    _, client = gemini
    config = types.GenerateContentConfig(max_output_tokens=6, system_instruction="Be brief.")
    whole = client.models.generate_content(model="gemini-2.0-flash", contents="Tell me about streams",
                                           config=config)
    assert whole.text == "Streaming is how large language models "
    assert whole.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert whole.usage_metadata.prompt_token_count == 4 + 2
    assert whole.usage_metadata.candidates_token_count == 6
    assert whole.model_version == "gemini-2.0-flash"
    chunks = list(client.models.generate_content_stream(model="gemini-2.0-flash",
                                                        contents="Tell me about streams",
                                                        config=config))
    assert len(chunks) == 6
    assert "".join(c.text for c in chunks) == whole.text
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert chunks[-1].usage_metadata.total_token_count == 12
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])


def test_a_whole_answer_ends_with_stop_and_a_conversation_counts_every_turn(gemini):
    _, client = gemini
    contents = [types.Content(role="user", parts=[types.Part(text="one two")]),
                types.Content(role="model", parts=[types.Part(text="three")]),
                types.Content(role="user", parts=[types.Part(text="echo: four five")])]
    done = client.models.generate_content(model="gemini-2.5-pro", contents=contents)
    assert done.text == "four five"
    assert done.candidates[0].finish_reason == types.FinishReason.STOP
    assert done.usage_metadata.prompt_token_count == 6
    counted = client.models.count_tokens(model="gemini-2.5-pro", contents=contents)
    assert counted.total_tokens == 6


def test_embed_content_is_deterministic_unit_vectors(gemini):
    _, client = gemini
    first = client.models.embed_content(model="text-embedding-004", contents=["alpha", "beta"],
                                        config=types.EmbedContentConfig(output_dimensionality=16))
    again = client.models.embed_content(model="text-embedding-004", contents="alpha",
                                        config=types.EmbedContentConfig(output_dimensionality=16))
    vectors = [e.values for e in first.embeddings]
    assert [len(v) for v in vectors] == [16, 16] and vectors[0] != vectors[1]
    assert again.embeddings[0].values == vectors[0]
    assert abs(sum(v * v for v in vectors[0]) - 1) < 1e-5


def test_the_model_list_under_v1beta(gemini):
    """(/v1/models is OpenAI's list: the v1beta one is Gemini's.)"""
    server, _ = gemini
    client = genai.Client(api_key="g-key", http_options=types.HttpOptions(
        base_url=server.base, api_version="v1beta"))
    assert [m.name for m in client.models.list()] == ["models/mock-gpt-4o"]
    assert client.models.get(model="gemini-2.0-flash").name == "models/gemini-2.0-flash"
    done = client.models.generate_content(model="gemini-2.0-flash", contents="echo: same")
    assert done.text == "same"


def test_errors_come_as_client_errors_in_googles_shape(gemini):
    server, client = gemini
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.0-flash", contents="hi",
                                       config=types.GenerateContentConfig(max_output_tokens=0))
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert "maxOutputTokens" in caught.value.message
    for body, status, kind in ((b'{"contents": 5}', 400, "INVALID_ARGUMENT"),
                               (b"{nope", 400, "INVALID_ARGUMENT")):
        raw = (b"POST /v1beta/models/g:generateContent HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        response, _ = parse_response(http_request(server, raw))
        assert response.status == status and response.json()["error"]["status"] == kind
    raw = b"POST /v1beta/models/g:unknownMethod HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    response, _ = parse_response(http_request(server, raw))
    assert response.status == 404 and response.json()["error"]["status"] == "NOT_FOUND"


def test_without_alt_sse_the_stream_is_one_json_array_sent_element_by_element(gemini):
    server, _ = gemini
    body = json.dumps({"contents": [{"parts": [{"text": "hi"}]}],
                       "generationConfig": {"maxOutputTokens": 4}}).encode()
    raw = (b"POST /v1beta/models/gemini-2.0-flash:streamGenerateContent HTTP/1.1\r\nHost: t\r\n"
           + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    response, _ = parse_response(http_request(server, raw))
    assert response.status == 200 and response.header("content-type").startswith("application/json")
    assert response.chunked and response.chunks[0] == b"["
    items = json.loads(response.body)
    assert [i["candidates"][0]["content"]["parts"][0]["text"] for i in items] == \
        ["Streaming ", "is ", "how ", "large "]
    assert items[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert items[-1]["usageMetadata"]["candidatesTokenCount"] == 4


def test_wire_chaos_on_the_sse_stream_and_a_400_on_the_json_array(gemini):
    server, client = gemini
    config = types.GenerateContentConfig(max_output_tokens=5, http_options=types.HttpOptions(
        headers={"X-Mock-Fragment": "3", "X-Mock-Crlf": "1", "X-Mock-Seed": "7"}))
    chunks = list(client.models.generate_content_stream(model="gemini-2.0-flash",
                                                        contents="hi", config=config))
    assert "".join(c.text for c in chunks) == "Streaming is how large language "
    chaos = chunks[0].sdk_http_response.headers.get("x-mock-chaos")
    assert chaos and "fragment=3" in chaos and "crlf=1" in chaos, chunks[0].sdk_http_response
    body = b'{"contents":[{"parts":[{"text":"hi"}]}]}'
    raw = (b"POST /v1beta/models/g:streamGenerateContent?fragment=3 HTTP/1.1\r\nHost: t\r\n"
           + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    response, _ = parse_response(http_request(server, raw))
    assert response.status == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "alt=sse" in error["message"]


def test_vertex_ai_paths_answer_as_gemini(gemini):
    """google-genai with vertexai=True: express mode (/v1beta1/publishers/google/models/...)
    and a project's path (/v1beta1/projects/{p}/locations/{l}/publishers/google/models/...)."""
    from google.oauth2.credentials import Credentials
    server, _ = gemini
    options = types.HttpOptions(base_url=server.base)
    express = genai.Client(vertexai=True, api_key="k", http_options=options)
    assert express.models.generate_content(model="gemini-2.0-flash",
                                           contents="echo: express").text == "express"
    project = genai.Client(vertexai=True, project="proj", location="us-central1",
                           credentials=Credentials(token="t"), http_options=options)
    assert project.models.generate_content(model="gemini-2.0-flash",
                                           contents="echo: in a project").text == "in a project"
    streamed = project.models.generate_content_stream(model="gemini-2.0-flash", contents="echo: a b c")
    assert "".join(c.text for c in streamed) == "a b c"
    assert project.models.count_tokens(model="gemini-2.0-flash", contents="one two").total_tokens == 2


def test_an_openai_fine_tuned_model_id_with_colons_is_still_openais(gemini):
    server, _ = gemini
    raw = b"GET /v1/models/ft:gpt-4o:org:abc HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    response, _ = parse_response(http_request(server, raw))
    assert response.status == 200 and response.json()["id"] == "ft:gpt-4o:org:abc"
