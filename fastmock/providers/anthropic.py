"""Anthropic-compatible ``POST /v1/messages``, streamed (the full event sequence) or not.

A stream is ``message_start``, ``content_block_start`` and ``ping`` (the opening),
one ``content_block_delta`` per token (constant pieces around the pre-escaped
token), then ``content_block_stop``, ``message_delta`` (stop_reason, usage) and
``message_stop`` (the closing). Every event has its ``event:`` line: the SDK
skips data without one.
"""
from fastmock.frames import json_string
from fastmock.providers import request, structured
from fastmock.ids import IDS
from fastmock.providers.common import Call, Whole, error_answer, plan
from fastmock.providers.common import count_tokens as count_tokens_of
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


def usage(prompt: int, output: int) -> bytes:
    """A message's ``usage``: the cache fields are there, 0 (no prompt cache here), in whole
    answers and in ``message_start`` / ``message_delta`` alike, as Anthropic sends them."""
    return (b'{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
            b'"output_tokens":%d}' % (prompt, output))


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
    prompt = call.prompt_tokens = count_tokens_of(system_text, *(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.messages(call, doc, model, prompt, stream)
        if answer is not None:
            return answer
    forced = structured.forced_tool(doc)                  # issue 15: a forced tool call
    if forced is not None:
        return _forced_tool_use(call, forced, model, prompt, limit, stream)
    p = plan(call, request.last_text(items), limit, whole=not stream)
    stop = b"max_tokens" if p.length else b"end_turn"
    head = _head(model)
    if not stream:
        return call.whole(head + b'[{"type":"text","text":"' + p.text() + b'"}],"stop_reason":"'
                          + stop + b'","stop_sequence":null,"usage":' + usage(prompt, p.total)
                          + b"}")
    return call.streamed(_stream(head, prompt, p, stop, b'{"type":"text","text":""}',
                                 b'"delta":{"type":"text_delta","text":"'))


def count_tokens(call: Call):
    """POST /v1/messages/count_tokens: ``{"input_tokens": N}``, N counted as messages counts
    its prompt (system and messages; tools and thinking add nothing here)."""
    doc = request.parse(call.body)
    request.model(doc)
    items = request.messages(doc, roles=("user", "assistant"))
    system = doc.get("system")
    system_text = request.content_text(system, "system") if system is not None else ""
    prompt = call.prompt_tokens = count_tokens_of(system_text, *(text for _, text in items))
    return call.whole(b'{"input_tokens":%d}' % prompt)


def _forced_tool_use(call: Call, forced, model: bytes, prompt: int, limit, stream: bool):
    """A forced tool call no fixture answers (issue 15): one ``tool_use`` block whose input,
    valid against the tool's ``input_schema``, streams as ``input_json_delta`` fragments."""
    p = plan(call, "", limit, whole=not stream, content=forced.arguments)
    stop = b"max_tokens" if p.length else b"tool_use"
    head = _head(model)
    block = (b'{"type":"tool_use","id":"' + IDS.new(b"toolu_") + b'","name":"'
             + request.escape(forced.name) + b'","input":')
    if not stream:
        # a call cut short by max_tokens is no call: its input would not be an object
        content = b"[]" if p.length else b"[" + block + forced.raw() + b"}]"
        return call.whole(head + content + b',"stop_reason":"' + stop + b'","stop_sequence":'
                          b'null,"usage":' + usage(prompt, p.total) + b"}")
    return call.streamed(_stream(head, prompt, p, stop, block + b"{}}",
                                 b'"delta":{"type":"input_json_delta","partial_json":"'))


def _head(model: bytes) -> bytes:
    """A message object up to its ``content``."""
    return (b'{"id":"' + IDS.new(b"msg_") + b'","type":"message","role":"assistant","model":"'
            + model + b'","content":')


def _stream(head: bytes, prompt: int, p, stop: bytes, block: bytes, delta: bytes) -> StreamSpec:
    """One content block (``block`` at its start) streamed as ``delta`` events of the plan."""
    opening = (_event(b"message_start", b',"message":' + head + b'[],"stop_reason":null,'
                      b'"stop_sequence":null,"usage":' + usage(prompt, 0) + b"}")
               + _event(b"content_block_start", b',"index":0,"content_block":' + block)
               + _event(b"ping", b""))

    def closing(sent: int, finish: str) -> bytes:
        return (_event(b"content_block_stop", b',"index":0')
                + _event(b"message_delta", b',"delta":{"stop_reason":"' + finish.encode()
                         + b'","stop_sequence":null},"usage":' + usage(prompt, sent))
                + _event(b"message_stop", b""))

    return StreamSpec(
        content_type=SSE, tokens=p.tokens, total=p.total, opening=opening,
        prefix=b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
               + delta, suffix=b'"}}\n\n', finish=stop.decode(), closing=closing)
