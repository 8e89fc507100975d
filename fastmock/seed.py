"""The seed endpoints: two whole documents and three paced streams.

``/api/data`` and ``/health`` are complete responses built once per server (every
connection variant, for GET and for HEAD); ``/stream-sse``, ``/stream-loop`` and
``/stream-ndjson`` get a StreamSpec per request, under the stream controls.
"""
import time

from fastmock import wire
from fastmock.frames import HEALTH_BODY, Frames
from fastmock.ids import CHAT_COMPLETION, IDS
from fastmock.streamspec import StreamSpec

HEALTH_SHEDDING_BODY = b'{"status":"ok","shedding":true}'


def api_data(frames: Frames) -> tuple:
    """GET /api/data: the whole corpus as one chat.completion, the same bytes every time."""
    return _document(frames.api_data_body())


def health(frames: Frames, shedding: bool = False) -> tuple:
    """GET /health; ``shedding``: its body while memory is short (fastmock.admission)."""
    return _document(HEALTH_SHEDDING_BODY if shedding else HEALTH_BODY)


def ollama_root(frames: Frames) -> tuple:
    """GET /: what Ollama's root answers, the probe its clients and UIs send first."""
    return wire.whole_responses(wire.TEXT, b"Ollama is running")


def _document(body: bytes) -> tuple:
    """(GET variants, HEAD variants) of a 200 JSON document, indexed by KEEP_ALIVE /
    KEEP_ALIVE_10 / CLOSE."""
    return wire.whole_responses(wire.JSON, body)


def chat(app, max_tokens: int) -> StreamSpec:
    """GET /stream-sse: the corpus once (or ``max_tokens`` of it, cycled) as
    chat.completion.chunk events."""
    frames = app.frames
    total = max_tokens if max_tokens > 0 else len(frames.corpus)
    return frames.chat_stream(IDS.head(CHAT_COMPLETION), IDS.next(), int(time.time()), total)


def endless_chat(app, max_tokens: int) -> StreamSpec:
    """GET /stream-loop: /stream-sse's events, the corpus cycled until the client leaves."""
    frames = app.frames
    total = max_tokens if max_tokens > 0 else -1
    return frames.chat_stream(IDS.head(CHAT_COMPLETION), IDS.next(), int(time.time()), total)


def ollama_generate(app, max_tokens: int) -> StreamSpec:
    """GET /stream-ndjson: /api/generate lines, each stamped when written, then the done line."""
    frames = app.frames
    total = max_tokens if max_tokens > 0 else len(frames.corpus)
    return frames.ollama_stream(total, app.pacer.stamp_now)
