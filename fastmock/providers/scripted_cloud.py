"""A fixture's answer in Gemini's, Cohere v2's and Bedrock Converse's wire formats.

The same parts as every other API (``scripted_wire``: the reasoning, then the text
and tool calls in the fixture's order), in each API's own shapes:

- Gemini: a reasoning chunk is a ``{"text": ..., "thought": true}`` part, a text chunk
  a ``{"text": ...}`` part, a tool call one whole ``functionCall`` part (Gemini sends
  a call in one piece, never its arguments in chunks), each a ``GenerateContentResponse``
  of its own when streamed; the last carries ``finishReason`` (``STOP``, tool calls
  too; ``MAX_TOKENS``) and ``usageMetadata`` (``thoughtsTokenCount`` for the reasoning).
- Cohere v2: ``thinking`` and ``text`` content items, ``message.tool_calls``
  (arguments as a JSON string), ``finish_reason`` ``TOOL_CALL``; streamed as
  ``content-start``/``content-delta``/``content-end`` per content item and
  ``tool-call-start``/``tool-call-delta``/``tool-call-end`` per call.
- Bedrock Converse: ``reasoningContent``, ``text`` and ``toolUse`` content blocks,
  ``stopReason`` ``tool_use``; streamed as ``contentBlockDelta`` events (a tool call
  opens with ``contentBlockStart``, the reasoning ends with its signature's delta),
  each block closed by ``contentBlockStop``.

As for the other APIs, a chunk's frame is made once per (chunk text, its head) and
shared by every stream that sends it; ids, block boundaries and a call's header are
the few frames made per request.
"""
import json

from fastmock.fixtures.response import ERROR
from fastmock.fixtures.text import escape
from fastmock.ids import IDS
from fastmock.providers.scripted_wire import (CONTENT, REASONING, TOOL, Layout, _SIGNATURE,
                                              error_whole, finish_reason, joined, parts,
                                              streamed, usage_counts, whole, wrapped)
from fastmock.streamspec import SSE, StreamSpec
from fastmock.wire import JSON


def _layout(response, tool_frames: int | None = None) -> Layout:
    """The response's parts that send something; ``tool_frames``: a call's frames when the
    API sends it whole (Gemini: 1), else its header and one per chunk of its arguments."""
    answer = [p for p in parts(response) if p.frames]
    if tool_frames is not None:
        for part in answer:
            if part.kind == TOOL:
                part.frames = tool_frames
    return Layout(answer)


def _call_ids(response, prefix: bytes) -> list:
    return [c.id_json or IDS.new(prefix) for c in response.tool_calls]


def _signature(response) -> bytes:
    return escape(response.reasoning_signature) if response.reasoning_signature else _SIGNATURE


# -- Gemini -----------------------------------------------------------------------------------

_GEMINI_HEAD = b'{"candidates":[{"content":{"parts":['
_GEMINI_TAIL = b'],"role":"model"},'


def gemini_error(reply) -> object:
    from fastmock.providers.gemini import STATUSES
    kind = STATUSES.get(reply.status, b"INTERNAL" if reply.status >= 500
                        else b"FAILED_PRECONDITION").decode()
    if reply.type and reply.type.isupper():     # a google.rpc.Code name; not OpenAI's types
        kind = reply.type
    body = {"error": {"code": reply.status, "message": reply.message, "status": kind}}
    return error_whole(reply, json.dumps(body).encode())


def gemini(call, fixture, scripts, model: bytes, prompt: int, stream: bool, sse: bool):
    r = fixture.response
    if r.kind == ERROR:
        return gemini_error(r.error)
    layout = _layout(r, tool_frames=1)
    total, length = layout.cap(call.ctl.max_tokens)
    model = r.model or model
    response_id = r.id or IDS.new(b"")
    ids = _call_ids(r, b"call_")
    finish = finish_reason(r, "gemini", bool(r.tool_calls), length, "STOP").encode()
    ends = b'"modelVersion":"' + model + b'","responseId":"' + response_id + b'"}'

    def usage(sent: int) -> bytes:
        done, reasoning = layout.tokens(sent)
        p, c = usage_counts(r, prompt, done)
        answer = max(c - reasoning, 0)
        return (b'"usageMetadata":{"promptTokenCount":%d,"candidatesTokenCount":%d,'
                b'"totalTokenCount":%d,' % (p, answer, p + c)
                + (b'"thoughtsTokenCount":%d,' % reasoning if reasoning else b"")
                + b'"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}]},' % p)

    def function_call(part) -> bytes:
        return (b'{"functionCall":{"id":"' + ids[part.index] + b'","name":"'
                + part.call.name_json + b'","args":' + part.call.arguments_raw + b"}}")

    def last(reason: bytes, sent: int) -> bytes:
        return b'"finishReason":"' + reason + b'","index":0}],' + usage(sent) + ends

    if not stream:
        call.tokens = layout.tokens(total)[0]       # the journal's count
        body = []
        for part, n in layout.taken(total):
            if part.kind == REASONING:
                body.append(b'{"text":"' + joined(part, n) + b'","thought":true}')
            elif part.kind == CONTENT:
                body.append(b'{"text":"' + joined(part, n) + b'"}')
            else:
                body.append(function_call(part))
        return whole(call, fixture, _GEMINI_HEAD + b",".join(body) + _GEMINI_TAIL
                     + last(finish, total))

    tokens = []
    for part in layout.parts:
        if part.kind == REASONING:
            tokens += wrapped(part.text, _GEMINI_HEAD + b'{"text":"',
                              b'","thought":true}' + _GEMINI_TAIL)
        elif part.kind == CONTENT:
            tokens += wrapped(part.text, _GEMINI_HEAD + b'{"text":"', b'"}' + _GEMINI_TAIL)
        else:
            tokens.append(_GEMINI_HEAD + function_call(part) + _GEMINI_TAIL)
    end = b"\n\n" if sse else b""

    def closing(sent: int, reason: str) -> bytes:
        if sent:                    # the last frame carried the finish reason and the usage
            return b"" if sse else b"]"
        empty = _GEMINI_HEAD + _GEMINI_TAIL + last(reason.encode(), 0)
        return b"data: " + empty + end if sse else empty + b"]"

    return streamed(call, fixture, scripts, StreamSpec(
        content_type=SSE if sse else JSON, tokens=tuple(tokens) or (b"",), total=total,
        opening=b"" if sse else b"[", first_prefix=b"data: " if sse else b"",
        prefix=b"data: " if sse else b",\r\n", suffix=b'"index":0}],' + ends + end,
        last_suffix=last(finish, total) + end, finish=finish.decode(), closing=closing))


# -- Cohere v2 --------------------------------------------------------------------------------

def _cohere_event(kind: bytes, fields: bytes) -> bytes:
    return b"event: " + kind + b'\ndata: {"type":"' + kind + b'"' + fields + b"}\n\n"


def cohere_error(reply) -> object:
    from fastmock.providers.cohere import _uuid
    return error_whole(reply, b'{"id":"' + _uuid() + b'","message":"' + escape(reply.message)
                       + b'"}')


def cohere(call, fixture, scripts, model: bytes, prompt: int, stream: bool):
    from fastmock.providers.cohere import _usage, _uuid
    r = fixture.response
    if r.kind == ERROR:
        return cohere_error(r.error)
    layout = _layout(r)
    total, length = layout.cap(call.ctl.max_tokens)
    reply_id = r.id or _uuid()
    ids = [c.id_json or IDS.new(c.name_json + b"_") for c in r.tool_calls]
    finish = finish_reason(r, "cohere", bool(r.tool_calls), length, "COMPLETE")
    # Cohere numbers content items and tool calls each from 0
    places, counts = [], [0, 0]
    for part in layout.parts:
        which = part.kind == TOOL
        places.append(counts[which])
        counts[which] += 1

    def usage(sent: int) -> bytes:
        return _usage(*usage_counts(r, prompt, layout.tokens(sent)[0]))

    def tool_call(part, arguments: bytes) -> bytes:
        return (b'{"id":"' + ids[part.index] + b'","type":"function","function":{"name":"'
                + part.call.name_json + b'","arguments":"' + arguments + b'"}}')

    if not stream:
        call.tokens = layout.tokens(total)[0]       # the journal's count
        content, calls = [], []
        for part, n in layout.taken(total):
            if part.kind == REASONING:
                content.append(b'{"type":"thinking","thinking":"' + joined(part, n) + b'"}')
            elif part.kind == CONTENT:
                content.append(b'{"type":"text","text":"' + joined(part, n) + b'"}')
            elif n == part.tokens:              # a call cut short is not a call
                calls.append(tool_call(part, part.text.json))
        message = (b'{"role":"assistant"'
                   + (b',"content":[' + b",".join(content) + b"]" if content else b"")
                   + (b',"tool_calls":[' + b",".join(calls) + b"]" if calls else b"") + b"}")
        return whole(call, fixture, b'{"id":"' + reply_id + b'","finish_reason":"'
                     + finish.encode() + b'","message":' + message + b',"usage":'
                     + usage(total) + b"}")

    def start(b: int, part) -> bytes:
        if part.kind == TOOL:
            return _cohere_event(b"tool-call-start", b',"index":%d,"delta":{"message":'
                                 b'{"tool_calls":' % places[b] + tool_call(part, b"") + b"}}")
        kind = b"thinking" if part.kind == REASONING else b"text"
        return _cohere_event(b"content-start", b',"index":%d,"delta":{"message":{"content":'
                             b'{"type":"%s","%s":""}}}' % (places[b], kind, kind))

    def stop(b: int, part) -> bytes:
        kind = b"tool-call-end" if part.kind == TOOL else b"content-end"
        return _cohere_event(kind, b',"index":%d' % places[b])

    tokens = []
    for b, part in enumerate(layout.parts):
        lead = (stop(b - 1, layout.parts[b - 1]) if b else b"") + start(b, part)
        if part.kind == TOOL:
            tokens.append(lead)
            lead = b""
            chunks = wrapped(part.text, b'event: tool-call-delta\ndata: {"type":"tool-call-delta",'
                             b'"index":%d,"delta":{"message":{"tool_calls":{"function":'
                             b'{"arguments":"' % places[b], b'"}}}}}\n\n')
        else:
            field = b"thinking" if part.kind == REASONING else b"text"
            chunks = wrapped(part.text, b'event: content-delta\ndata: {"type":"content-delta",'
                             b'"index":%d,"delta":{"message":{"content":{"%s":"'
                             % (places[b], field), b'"}}}}\n\n')
        if lead:
            tokens.append(lead + chunks[0])
            tokens += chunks[1:]
        else:
            tokens += chunks
    opening = _cohere_event(b"message-start", b',"id":"' + reply_id + b'","delta":{"message":'
                            b'{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],'
                            b'"citations":[]}}')

    def closing(sent: int, reason: str) -> bytes:
        taken = layout.taken(sent)
        out = stop(len(taken) - 1, taken[-1][0]) if taken else b""
        return (out + _cohere_event(b"message-end", b',"delta":{"finish_reason":"'
                                    + reason.encode() + b'","usage":' + usage(sent) + b"}")
                + b"data: [DONE]\n\n")

    return streamed(call, fixture, scripts, StreamSpec(
        content_type=SSE, tokens=tuple(tokens) or (b"",), total=total, opening=opening,
        finish=finish, closing=closing))


# -- Bedrock Converse -------------------------------------------------------------------------

# A chunk's event message, made once per (chunk text, head): (Text, head) -> messages.
_MESSAGES: dict = {}
_MESSAGES_MAX = 4096


def _deltas(text, head: bytes, tail: bytes) -> tuple:
    """The ``contentBlockDelta`` message of every chunk of ``text``, made once."""
    from fastmock.providers.bedrock import event_message
    key = (text, head)
    found = _MESSAGES.get(key)
    if found is None:
        found = tuple([event_message(b"contentBlockDelta", head + c + tail)
                       for c in text.escaped])
        if len(_MESSAGES) >= _MESSAGES_MAX:
            _MESSAGES.clear()
        _MESSAGES[key] = found
    return found


def converse_error(reply) -> object:
    from fastmock.providers.bedrock import ERROR_TYPES
    kind = ERROR_TYPES.get(reply.status, b"InternalServerException" if reply.status >= 500
                           else b"ValidationException")
    if reply.type and reply.type.endswith("Exception"):   # Bedrock's own; not OpenAI's types
        kind = escape(reply.type)
    answer = error_whole(reply, b'{"message":"' + escape(reply.message) + b'"}')
    answer.headers = b"x-amzn-ErrorType: " + kind + b"\r\n" + answer.headers
    return answer


def converse(call, fixture, scripts, model: bytes, prompt: int, stream: bool):
    from fastmock.providers.bedrock import EVENT_STREAM, _usage, event_message
    r = fixture.response
    if r.kind == ERROR:
        return converse_error(r.error)
    layout = _layout(r)
    total, length = layout.cap(call.ctl.max_tokens)
    ids = _call_ids(r, b"tooluse_")
    stop_reason = finish_reason(r, "bedrock", bool(r.tool_calls), length, "end_turn")
    signature = _signature(r)
    latency = b',"metrics":{"latencyMs":%d}}' % max(call.ctl.ttft_ms, 0)

    def usage(sent: int) -> bytes:
        return _usage(*usage_counts(r, prompt, layout.tokens(sent)[0]))

    if not stream:
        call.tokens = layout.tokens(total)[0]       # the journal's count
        blocks = []
        for part, n in layout.taken(total):
            if part.kind == REASONING:
                blocks.append(b'{"reasoningContent":{"reasoningText":{"text":"' + joined(part, n)
                              + b'","signature":"' + signature + b'"}}}')
            elif part.kind == CONTENT:
                blocks.append(b'{"text":"' + joined(part, n) + b'"}')
            elif n == part.tokens:
                blocks.append(b'{"toolUse":{"toolUseId":"' + ids[part.index] + b'","name":"'
                              + part.call.name_json + b'","input":' + part.call.arguments_raw
                              + b"}}")
        return whole(call, fixture, b'{"output":{"message":{"role":"assistant","content":['
                     + b",".join(blocks) + b']}},"stopReason":"' + stop_reason.encode()
                     + b'","usage":' + usage(total) + latency)

    def start(b: int, part) -> bytes:
        if part.kind != TOOL:       # Bedrock opens only a tool call's block
            return b""
        return event_message(b"contentBlockStart", b'{"contentBlockIndex":%d,"start":{"toolUse":'
                             b'{"toolUseId":"' % b + ids[part.index] + b'","name":"'
                             + part.call.name_json + b'"}}}')

    def stop(b: int, part) -> bytes:
        out = b""
        if part.kind == REASONING:
            out = event_message(b"contentBlockDelta", b'{"contentBlockIndex":%d,"delta":'
                                b'{"reasoningContent":{"signature":"' % b + signature + b'"}}}')
        return out + event_message(b"contentBlockStop", b'{"contentBlockIndex":%d}' % b)

    tokens = []
    for b, part in enumerate(layout.parts):
        lead = (stop(b - 1, layout.parts[b - 1]) if b else b"") + start(b, part)
        head = b'{"contentBlockIndex":%d,"delta":' % b
        if part.kind == REASONING:
            chunks = _deltas(part.text, head + b'{"reasoningContent":{"text":"', b'"}}}')
        elif part.kind == CONTENT:
            chunks = _deltas(part.text, head + b'{"text":"', b'"}}')
        else:
            tokens.append(lead)
            lead = b""
            chunks = _deltas(part.text, head + b'{"toolUse":{"input":"', b'"}}}')
        if lead:
            tokens.append(lead + chunks[0])
            tokens += chunks[1:]
        else:
            tokens += chunks

    def closing(sent: int, reason: str) -> bytes:
        taken = layout.taken(sent)
        out = stop(len(taken) - 1, taken[-1][0]) if taken else b""
        return (out + event_message(b"messageStop", b'{"stopReason":"' + reason.encode() + b'"}')
                + event_message(b"metadata", b'{"usage":' + usage(sent) + latency))

    return streamed(call, fixture, scripts, StreamSpec(
        content_type=EVENT_STREAM, tokens=tuple(tokens) or (b"",), total=total,
        opening=event_message(b"messageStart", b'{"role":"assistant"}'),
        finish=stop_reason, closing=closing))
