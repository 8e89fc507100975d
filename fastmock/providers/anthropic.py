"""Anthropic-compatible ``POST /v1/messages``, streamed (the full event sequence) or not.

A stream is ``message_start``, ``content_block_start`` and ``ping`` (the opening),
one ``content_block_delta`` per token (constant pieces around the pre-escaped
token), then ``content_block_stop``, ``message_delta`` (stop_reason, usage) and
``message_stop`` (the closing). Every event has its ``event:`` line: the SDK
skips data without one.
"""
from fastmock.frames import json_string
from fastmock.providers import request
from fastmock.ids import IDS
from fastmock.providers.common import Call, Whole, count_tokens, error_answer, plan
from fastmock.streamspec import SSE, StreamSpec

# Anthropic's error "type" per status (its ErrorType); 4xx default to invalid_request_error.
ERROR_TYPES = {
    400: b"invalid_request_error", 401: b"authentication_error", 402: b"billing_error",
    403: b"permission_error", 404: b"not_found_error", 408: b"timeout_error",
    409: b"conflict_error", 413: b"request_too_large", 429: b"rate_limit_error",
    500: b"api_error", 504: b"timeout_error", 529: b"overloaded_error",
}


def error_body(status: int, message: str) -> bytes:
    kind = ERROR_TYPES.get(status, b"api_error" if status >= 500 else b"invalid_request_error")
    return (b'{"type":"error","error":{"type":"' + kind + b'","message":"' + json_string(message)
            + b'"},"request_id":"' + IDS.new(b"req_") + b'"}')


def error(status: int, message: str, param: str | None = None) -> Whole:
    if param and not message.startswith(param) and f"'{param}'" not in message:
        message = f"{param}: {message}"
    return error_answer(status, error_body(status, message))


def _event(kind: bytes, fields: bytes) -> bytes:
    return b"event: " + kind + b'\ndata: {"type":"' + kind + b'"' + fields + b"}\n\n"


def messages(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    limit = request.token_limit(doc, "max_tokens", required=True)
    items = request.messages(doc, roles=("user", "assistant"))
    system = doc.get("system")
    system_text = request.content_text(system, "system") if system is not None else ""
    stream = request.boolean(doc, "stream")
    prompt = count_tokens(system_text, *(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.messages(call, doc, model, prompt, stream)
        if answer is not None:
            return answer
    p = plan(call, request.last_text(items), limit, whole=not stream)
    stop = b"max_tokens" if p.length else b"end_turn"
    mid = IDS.new(b"msg_")
    head = (b'{"id":"' + mid + b'","type":"message","role":"assistant","model":"' + model
            + b'","content":')
    if not stream:
        return call.whole(head + b'[{"type":"text","text":"' + p.text() + b'"}],"stop_reason":"'
                          + stop + b'","stop_sequence":null,"usage":{"input_tokens":%d,'
                          b'"output_tokens":%d}}' % (prompt, p.total))
    opening = (_event(b"message_start", b',"message":' + head + b'[],"stop_reason":null,'
                      b'"stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":0}}'
                      % prompt)
               + _event(b"content_block_start",
                        b',"index":0,"content_block":{"type":"text","text":""}')
               + _event(b"ping", b""))

    def closing(sent: int, finish: str) -> bytes:
        return (_event(b"content_block_stop", b',"index":0')
                + _event(b"message_delta", b',"delta":{"stop_reason":"' + finish.encode()
                         + b'","stop_sequence":null},"usage":{"input_tokens":%d,'
                         b'"output_tokens":%d}' % (prompt, sent))
                + _event(b"message_stop", b""))

    return call.streamed(StreamSpec(
        content_type=SSE, tokens=p.tokens, total=p.total, opening=opening,
        prefix=b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
               b'"delta":{"type":"text_delta","text":"',
        suffix=b'"}}\n\n', finish=stop.decode(), closing=closing))
