"""Ollama-compatible ``/api/generate``, ``/api/chat`` (NDJSON by default), ``/api/tags``,
``/api/version``.

A stream line is ``{"model":"M","created_at":"<stamp>`` (splice and stamp), then
constant pieces around the pre-escaped token; the closing ``done: true`` line
carries ``done_reason`` and the count/duration fields, computed when it is sent.
"""
import binascii
import time

from fastmock.frames import json_string
from fastmock.providers import request
from fastmock.providers.common import Call, Whole, count_tokens, error_answer, plan
from fastmock.streamspec import NDJSON, StreamSpec

VERSION = b"0.9.0"                 # the Ollama API version /api/version reports
MODIFIED_AT = b"2023-11-14T22:13:20Z"


def error(status: int, message: str, param: str | None = None) -> Whole:
    return error_answer(status, b'{"error":"' + json_string(message) + b'"}')


def _durations(total_ns: int, prompt: int, sent: int) -> bytes:
    total_ns = max(total_ns, 3)
    return (b'"total_duration":%d,"load_duration":1,"prompt_eval_count":%d,'
            b'"prompt_eval_duration":1,"eval_count":%d,"eval_duration":%d}\n'
            % (total_ns, prompt, sent, total_ns - 2))


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
        return _loaded(call, model, b'"response":"",')
    prompt = count_tokens(system, prompt_text)
    return _answer(call, model, prompt, prompt_text, limit, stream,
                   b'","response":"', b'","done":false}\n', b'"response":"', b'",')


def chat(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    items = request.messages(doc, required=False)
    stream = request.boolean(doc, "stream", default=True)
    limit = _limit(doc)
    if not items:
        return _loaded(call, model, b'"message":{"role":"assistant","content":""},')
    prompt = count_tokens(*(text for _, text in items))
    return _answer(call, model, prompt, request.last_text(items), limit, stream,
                   b'","message":{"role":"assistant","content":"', b'"},"done":false}\n',
                   b'"message":{"role":"assistant","content":"', b'"},')


def _loaded(call: Call, model: bytes, empty: bytes):
    return call.whole(b'{"model":"' + model + b'","created_at":"' + call.stamp() + b'",' + empty
                      + b'"done":true,"done_reason":"load"}')


def _answer(call: Call, model: bytes, prompt: int, prompt_text: str, limit, stream: bool,
            prefix: bytes, suffix: bytes, content_open: bytes, content_close: bytes):
    p = plan(call, prompt_text, limit, whole=not stream)
    reason = b"length" if p.length else b"stop"
    head = b'{"model":"' + model + b'","created_at":"'
    started = time.monotonic_ns()

    def done(text: bytes, sent: int, finish: bytes) -> bytes:
        return (head + call.stamp() + b'",' + content_open + text + content_close
                + b'"done":true,"done_reason":"' + finish + b'",'
                + _durations(time.monotonic_ns() - started + call.ctl.ttft_ms * 1_000_000,
                             prompt, sent))

    if not stream:
        return call.whole(done(p.text(), p.total, reason).rstrip(b"\n"))
    return call.streamed(StreamSpec(
        content_type=NDJSON, tokens=p.tokens, total=p.total, splice=head, stamp=True,
        prefix=prefix, suffix=suffix, finish=reason.decode(),
        closing=lambda sent, finish: done(b"", sent, finish.encode())))


def _digest(name: bytes) -> bytes:
    """A stable 64-hex-digit digest for a model name (eight CRC-32s; no hashlib)."""
    return b"".join(b"%08x" % binascii.crc32(name, seed) for seed in range(8))


def tags(call: Call):
    name = call.frames.ollama_model
    return call.whole(
        b'{"models":[{"name":"' + name + b'","model":"' + name + b'","modified_at":"'
        + MODIFIED_AT + b'","size":4661224676,"digest":"' + _digest(name) + b'","details":'
        b'{"parent_model":"","format":"gguf","family":"llama","families":["llama"],'
        b'"parameter_size":"8.0B","quantization_level":"Q4_0"}}]}')


def version(call: Call):
    return call.whole(b'{"version":"' + VERSION + b'"}')
