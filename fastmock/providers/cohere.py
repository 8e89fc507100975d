"""Cohere's v2 API: ``POST /v2/chat`` (streamed or not) and ``POST /v2/embed``, as the
``cohere`` SDK's ``ClientV2`` calls them.

A chat stream is ``message-start``, ``content-start``, one ``content-delta`` per token,
``content-end`` and ``message-end`` (the finish reason, ``COMPLETE`` or ``MAX_TOKENS``,
and the usage), each with its ``event:`` line, then ``data: [DONE]``. Errors are
``{"id": ..., "message": ...}``. The text is the corpus (or the prompt, echoed) under
every control, latency model and rate limit, or a fixture's answer
(``providers.scripted_cloud``: text, ``thinking`` content, ``tool_calls``);
``tools`` and tool messages are checked and taken.
"""
import base64
import struct

from fastmock.frames import json_string
from fastmock.ids import IDS
from fastmock.providers import request
from fastmock.providers.common import Call, Whole, count_tokens, error_answer, plan
from fastmock.providers.request import ApiError
from fastmock.streamspec import SSE, StreamSpec

_ROLES = ("system", "user", "assistant", "tool")
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
MAX_TEXTS = 96                      # Cohere's per-call limit
DIMENSIONS = 1536                   # embed-v4.0's default output_dimension
_DIMENSIONS = (256, 512, 1024, 1536)


def error(status: int, message: str, param: str | None = None) -> Whole:
    if param and param not in message:
        message = f"{param}: {message}"
    return error_answer(status, b'{"id":"' + _uuid() + b'","message":"' + json_string(message)
                        + b'"}')


def _uuid() -> bytes:
    """A fresh id in the UUID shape Cohere uses (from the process's id counter)."""
    hex32 = IDS.new(b"").rjust(32, b"0")[-32:]
    return b"-".join((hex32[:8], hex32[8:12], hex32[12:16], hex32[16:20], hex32[20:]))


def _event(kind: bytes, fields: bytes) -> bytes:
    return b"event: " + kind + b'\ndata: {"type":"' + kind + b'"' + fields + b"}\n\n"


def _usage(prompt: int, completion: int) -> bytes:
    return (b'{"billed_units":{"input_tokens":%d,"output_tokens":%d},"tokens":{"input_tokens":%d,'
            b'"output_tokens":%d}}' % (prompt, completion, prompt, completion))


_TOOL_CHOICES = ("REQUIRED", "NONE")


def _tools(doc: dict) -> None:
    """``tools`` (``{"type": "function", "function": {"name", ...}}``), ``tool_choice``
    and each tool message's ``tool_call_id``: checked, a 400 naming the field at fault."""
    tools = request.array(doc, "tools")
    for i, tool in enumerate(tools or ()):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise request.wrong_type(where, "a tool object", tool)
        if tool.get("type", "function") != "function":
            raise ApiError(400, f"'{where}.type' must be 'function'", where + ".type")
        function = request.obj(tool, "function", param=where + ".function")
        if function is None:
            raise request.missing(where + ".function")
        name = request.string(function, "name", required=True, param=where + ".function.name")
        if not name:
            raise ApiError(400, f"'{where}.function.name' must not be empty",
                           where + ".function.name")
    choice = doc.get("tool_choice")
    if choice is not None and choice not in _TOOL_CHOICES:
        raise ApiError(400, "'tool_choice' must be REQUIRED or NONE", "tool_choice")
    for i, message in enumerate(doc["messages"]):
        if message.get("role") == "tool":
            request.string(message, "tool_call_id", required=True,
                           param=f"messages[{i}].tool_call_id")


# -- POST /v2/chat ---------------------------------------------------------------------------

def chat(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    items = request.messages(doc, roles=_ROLES)
    limit = request.token_limit(doc, "max_tokens")
    stream = request.boolean(doc, "stream")
    _tools(doc)
    prompt = call.prompt_tokens = count_tokens(*(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.cohere(call, doc, model, prompt, stream)
        if answer is not None:
            return answer
    p = plan(call, request.last_text(items), limit, whole=not stream)
    finish = b"MAX_TOKENS" if p.length else b"COMPLETE"
    reply_id = _uuid()
    if not stream:
        return call.whole(b'{"id":"' + reply_id + b'","finish_reason":"' + finish
                          + b'","message":{"role":"assistant","content":[{"type":"text","text":"'
                          + p.text() + b'"}]},"usage":' + _usage(prompt, p.total) + b"}")
    opening = (_event(b"message-start", b',"id":"' + reply_id + b'","delta":{"message":'
                      b'{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],'
                      b'"citations":[]}}')
               + _event(b"content-start", b',"index":0,"delta":{"message":{"content":'
                        b'{"type":"text","text":""}}}'))

    def closing(sent: int, reason: str) -> bytes:
        return (_event(b"content-end", b',"index":0')
                + _event(b"message-end", b',"delta":{"finish_reason":"' + reason.encode()
                         + b'","usage":' + _usage(prompt, sent) + b"}")
                + b"data: [DONE]\n\n")

    return call.streamed(StreamSpec(
        content_type=SSE, tokens=p.tokens, total=p.total, opening=opening,
        prefix=b'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":'
               b'{"message":{"content":{"text":"',
        suffix=b'"}}}}\n\n', finish=finish.decode(), closing=closing))


# -- POST /v2/embed --------------------------------------------------------------------------

def embed(call: Call):
    from fastmock.providers.embeddings import embedding    # the same vectors as OpenAI's
    doc = request.parse(call.body)
    model = request.model(doc)
    texts = request.array(doc, "texts", required=True)
    if not texts or len(texts) > MAX_TEXTS:
        raise ApiError(400, f"'texts' must hold 1 to {MAX_TEXTS} strings", "texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise request.wrong_type(f"texts[{i}]", "a string", text)
    kind = request.string(doc, "input_type", required=True)
    if kind not in INPUT_TYPES:
        raise ApiError(400, f"'input_type' must be one of {', '.join(INPUT_TYPES)}", "input_type")
    types = request.array(doc, "embedding_types") or ["float"]
    for name in types:
        if name not in EMBEDDING_TYPES:
            raise ApiError(400, f"'embedding_types' may hold {', '.join(EMBEDDING_TYPES)}",
                           "embedding_types")
    dims = doc.get("output_dimension") or DIMENSIONS
    if dims not in _DIMENSIONS:
        raise ApiError(400, "'output_dimension' must be 256, 512, 1024 or 1536",
                       "output_dimension")
    call.prompt_tokens = tokens = count_tokens(*texts)
    vectors = [embedding(text.encode(), dims) for text in texts]
    groups = b",".join(b'"' + name.encode() + b'":[' + b",".join(_encoded(v, name) for v in vectors)
                       + b"]" for name in dict.fromkeys(types))
    return call.whole(b'{"id":"' + _uuid() + b'","embeddings":{' + groups + b'},"texts":['
                      + b",".join(b'"' + json_string(t) + b'"' for t in texts)
                      + b'],"meta":{"api_version":{"version":"2"},"billed_units":'
                      b'{"input_tokens":%d}},"response_type":"embeddings_by_type","model":"'
                      % tokens + model + b'"}')


def _encoded(vector, name: str) -> bytes:
    """One vector as ``embedding_types`` asks: floats, int8/uint8 (scaled to their range),
    binary/ubinary (one sign bit a dimension, packed 8 to a byte) or base64 (float32 LE)."""
    if name == "float":
        return b"[" + ",".join(f"{v:.9g}" for v in vector).encode() + b"]"
    if name == "base64":
        return b'"' + base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)) + b'"'
    if name in ("int8", "uint8"):
        offset = 0 if name == "int8" else 128
        scaled = (max(-127, min(127, round(v * 127))) + offset for v in vector)
        return b"[" + ",".join(map(str, scaled)).encode() + b"]"
    bits = [1 if v > 0 else 0 for v in vector]
    packed = [sum(bit << (7 - j) for j, bit in enumerate(bits[i:i + 8]))
              for i in range(0, len(bits), 8)]
    if name == "binary":
        packed = [b - 128 for b in packed]
    return b"[" + ",".join(map(str, packed)).encode() + b"]"
