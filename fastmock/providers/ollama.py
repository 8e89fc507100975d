"""Ollama-compatible ``/api/generate``, ``/api/chat`` (NDJSON by default), ``/api/tags``,
``/api/version``.

A stream line is ``{"model":"M","created_at":"<stamp>`` (splice and stamp), then
constant pieces around the pre-escaped token; the closing ``done: true`` line
carries ``done_reason`` and the count/duration fields, computed when it is sent.
The line shapes (and the durations' rule) are _chunks', through frames.
"""
import binascii
import time

from fastmock.frames import (OLLAMA_CHAT, OLLAMA_GENERATE, STATIC_CREATED_AT, json_string,
                             ollama_done, ollama_line_pieces, ollama_splice)
from fastmock.providers import request, structured
from fastmock.providers.common import Call, Whole, count_tokens, error_answer, plan
from fastmock.streamspec import NDJSON, StreamSpec

VERSION = b"0.9.0"                 # the Ollama API version /api/version reports


def error(status: int, message: str, param: str | None = None) -> Whole:
    return error_answer(status, b'{"error":"' + json_string(message) + b'"}')


# The text field of each endpoint's lines, and the pieces around a token of its stream.
_GENERATE = (OLLAMA_GENERATE,) + ollama_line_pieces(OLLAMA_GENERATE)
_CHAT = (OLLAMA_CHAT,) + ollama_line_pieces(OLLAMA_CHAT)


def _limit(doc: dict):
    """``options.num_predict``: a positive cap; -1, -2 (and 0) mean no cap."""
    options = request.obj(doc, "options")
    if options is None:
        return None
    value = request.token_limit(options, "num_predict", -2, param="options.num_predict")
    return value if value is not None and value > 0 else None


def generate(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    prompt_text = request.string(doc, "prompt")
    system = request.string(doc, "system") or ""
    stream = request.boolean(doc, "stream", default=True)
    limit = _limit(doc)
    if prompt_text is None:       # Ollama's "load the model" request: one done object
        return _loaded(call, model, OLLAMA_GENERATE)
    prompt = call.prompt_tokens = count_tokens(system, prompt_text)
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.ollama_generate(call, doc, model, prompt, stream)
        if answer is not None:
            return answer
    return _answer(call, model, prompt, prompt_text, limit, stream, _GENERATE,
                   structured.ollama_content(doc))               # issue 15: structured outputs


def chat(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    items = request.messages(doc, required=False)
    stream = request.boolean(doc, "stream", default=True)
    limit = _limit(doc)
    if not items:
        return _loaded(call, model, OLLAMA_CHAT)
    prompt = call.prompt_tokens = count_tokens(*(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.ollama_chat(call, doc, model, prompt, stream)
        if answer is not None:
            return answer
    return _answer(call, model, prompt, request.last_text(items), limit, stream, _CHAT,
                   structured.ollama_content(doc))               # issue 15: structured outputs


def _loaded(call: Call, model: bytes, field: tuple):
    """The answer to a request that only loads the model: one done line, no text."""
    line = ollama_done(ollama_splice(model), call.stamp(), field, b"", "load")
    return call.whole(line[:-1])


def _answer(call: Call, model: bytes, prompt: int, prompt_text: str, limit, stream: bool,
            pieces: tuple, content: str | None = None):
    p = plan(call, prompt_text, limit, whole=not stream, content=content)
    reason = "length" if p.length else "stop"
    splice = ollama_splice(model)
    field, prefix, suffix = pieces
    started = time.monotonic_ns()
    if not stream:
        # made now and sent after the TTFT wait, which counts in its total
        took = time.monotonic_ns() - started + call.ctl.ttft_ms * 1_000_000
        line = ollama_done(splice, call.stamp(), field, p.text(), reason, prompt, p.total, took)
        return call.whole(line[:-1])

    def closing(sent: int, finish: str) -> bytes:
        # made when the stream ends: the TTFT wait is already in the time it took
        return ollama_done(splice, call.stamp(), field, b"", finish, prompt, sent,
                           time.monotonic_ns() - started)

    return call.streamed(StreamSpec(
        content_type=NDJSON, tokens=p.tokens, total=p.total, splice=splice, stamp=True,
        prefix=prefix, suffix=suffix, finish=reason, closing=closing))


def _digest(name: bytes) -> bytes:
    """A stable 64-hex-digit digest for a model name (eight CRC-32s; no hashlib)."""
    return b"".join(b"%08x" % binascii.crc32(name, seed) for seed in range(8))


def _tag(name: bytes) -> bytes:
    return (b'{"name":"' + name + b'","model":"' + name + b'","modified_at":"'
            + STATIC_CREATED_AT + b'","size":4661224676,"digest":"' + _digest(name) + b'","details":'
            b'{"parent_model":"","format":"gguf","family":"llama","families":["llama"],'
            b'"parameter_size":"8.0B","quantization_level":"Q4_0"}}')


def tags(call: Call):
    return call.whole(b'{"models":[' + b",".join(map(_tag, call.frames.ollama_served)) + b"]}")


def version(call: Call):
    return call.whole(b'{"version":"' + VERSION + b'"}')
