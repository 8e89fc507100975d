"""A fixture's answer in each API's own wire format, streamed or not.

An answer is a list of ``Part``s in stream order: the reasoning, then the text and
tool calls (the fixture's ``blocks`` order, else the text then the calls). A part
is sent as frames: one per chunk of its text (the reasoning, the content, a call's
arguments), and for a tool call one header frame first (its id and name; it counts
no token).

How a scripted stream stays as cheap as a seed stream: the frames of one kind of
chunk differ only in the chunk (``"content":"<c>"`` in OpenAI chat, a
``thinking_delta`` event in Anthropic's), so each chunk is joined once to its
kind's head and tail and the resulting tuple is cached per (chunk text, head):
that tuple is the StreamSpec's tokens, and the engine only joins the response's
splice and a constant suffix around each, as for the corpus. What changes per
request (ids, the block boundaries, a tool call's header) is a few frames built
per request. The Responses API is the exception: every one of its events carries
the item's id and a sequence number, so its frames are built per request, once.

Usage counts chunks sent (reasoning included, headers not); ``max_tokens`` (the
control) caps the frames, ``fail_after`` cuts them, and a fixture's pacing
(``latency``, ``streamingProfile``, ``truncateAfterChunks``) replaces the server's
defaults.
"""
import array
import binascii
import json
import sys
import time

from fastmock.fixtures.response import ERROR, FINISH_REASONS
from fastmock.fixtures.text import escape
from fastmock.frames import (OLLAMA_CHAT, OLLAMA_GENERATE, SSE_DONE, chat_chunk_end,
                             chat_chunk_splice, ollama_done, ollama_splice, openai_usage)
from fastmock.ids import CHAT_COMPLETION, IDS
from fastmock.providers.common import Streamed, Whole, now
from fastmock.streamspec import NDJSON, SSE, StreamSpec
from fastmock.wire import JSON, openai_error_body, retry_after

REASONING, CONTENT, TOOL, TOOLS = 0, 1, 2, 3


class Part:
    """One piece of an answer: its kind, the Text whose chunks stream, the call if any."""

    __slots__ = ("kind", "text", "call", "index", "frames", "tokens", "start")

    def __init__(self, kind: int, text, call=None, index: int = 0, header: bool = False) -> None:
        self.kind = kind
        self.text = text                  # a fixtures.text.Text
        self.call = call                  # the ToolCall of a TOOL part
        self.index = index                # its place among the tool calls
        self.frames = len(text) + header  # frames it takes on the wire
        self.tokens = len(text)
        self.start = 0                    # its first frame (set by Layout)


class Layout:
    """The parts of an answer and their frames; what a cut after ``sent`` frames keeps."""

    __slots__ = ("parts", "total")

    def __init__(self, parts: list) -> None:
        self.parts = parts
        frame = 0
        for part in parts:
            part.start = frame
            frame += part.frames
        self.total = frame

    def taken(self, sent: int) -> list:
        """(part, chunks sent) of every part begun in the first ``sent`` frames."""
        out = []
        for part in self.parts:
            if part.start >= sent:
                break
            done = min(sent - part.start, part.frames)
            out.append((part, part.tokens if done == part.frames
                        else max(0, done - (part.frames - part.tokens))))
        return out

    def tokens(self, sent: int) -> tuple:
        """(completion tokens, of which reasoning) in the first ``sent`` frames."""
        total = reasoning = 0
        for part, n in self.taken(sent):
            total += n
            if part.kind == REASONING:
                reasoning += n
        return total, reasoning

    def cap(self, max_tokens: int) -> tuple:
        """(frames to send, whether the max_tokens control cut the answer)."""
        if 0 < max_tokens < self.total:
            return max_tokens, True
        return self.total, False


def parts(response, tool_header: bool = True, tools: bool = True) -> list:
    """The parts of a text response in stream order."""
    out = []
    if response.reasoning is not None:
        out.append(Part(REASONING, response.reasoning))
    index = 0
    for block in response.ordered():
        if hasattr(block, "arguments_text"):
            if tools:
                out.append(Part(TOOL, block.arguments_text, block, index, tool_header))
                index += 1
        else:
            out.append(Part(CONTENT, block))
    return out


def joined(part: Part, n: int) -> bytes:
    """The escaped text of a part's first ``n`` chunks."""
    return part.text.json if n == part.tokens else b"".join(part.text.escaped[:n])


# Chunks joined to their kind's head and tail: (Text, head) -> tuple of frames' bodies.
_WRAPPED: dict = {}
_WRAPPED_MAX = 4096


def wrapped(text, head: bytes, tail: bytes) -> tuple:
    """``head + chunk + tail`` for every chunk of ``text``, made once per (text, head)."""
    key = (text, head)
    found = _WRAPPED.get(key)
    if found is None:
        found = tuple([head + c + tail for c in text.escaped])
        if len(_WRAPPED) >= _WRAPPED_MAX:
            _WRAPPED.clear()
        _WRAPPED[key] = found
    return found


# -- what every API shares: pacing, errors, overrides --------------------------------------

def streamed(call, fixture, scripts, spec: StreamSpec) -> Streamed:
    """The stream under the request's controls, paced as the fixture says if it says so."""
    ctl = call.ctl
    delay, ttft, fail_after = ctl.delay_ms, ctl.ttft_ms, ctl.fail_after
    if fixture.latency_ms is not None:
        delay = round(fixture.latency_ms)
    profile = fixture.profile
    if profile is not None:
        # the engine paces one stream at one rate: the jitter is drawn once per stream (seeded)
        if profile.tps is not None:
            delay = round(profile.delay_ms(1, delay, scripts.rng))
        if profile.ttft_ms is not None:
            ttft = round(profile.delay_ms(0, ttft, scripts.rng))
    if fixture.truncate_after is not None and fail_after < 0:
        fail_after = fixture.truncate_after
    return Streamed(spec, delay, ttft, fail_after, chaos=fixture.wire_chaos)


def whole(call, fixture, body: bytes) -> Whole:
    """A non-streamed answer: sent after the TTFT (the fixture's if it sets one)."""
    ttft = call.ctl.ttft_ms
    profile = fixture.profile
    if profile is not None and profile.ttft_ms is not None:
        ttft = round(profile.ttft_ms)
    return Whole(200, JSON, body, wait_ms=ttft, cut=call.ctl.fail_after >= 0)


def error_whole(reply, body: bytes) -> Whole:
    """A scripted error: its status, the API's shape, Retry-After as the fixture or the rule says."""
    header = (b"Retry-After: %d\r\n" % reply.retry_after if reply.retry_after is not None
              else retry_after(reply.status))
    return Whole(reply.status, JSON, body, header)


def openai_error(reply) -> Whole:
    if reply.type is None and reply.code is None:
        return error_whole(reply, openai_error_body(reply.status, reply.message, reply.param))
    error = {"message": reply.message,
             "type": reply.type or json.loads(openai_error_body(reply.status, ""))["error"]["type"],
             "param": reply.param, "code": reply.code}
    return error_whole(reply, json.dumps({"error": error}).encode())


def usage_counts(response, prompt: int, completion: int) -> tuple:
    """(prompt, completion) tokens, as the fixture's ``usage`` overrides them."""
    usage = response.usage
    if usage:
        prompt = int(usage.get("prompt_tokens", usage.get("input_tokens", prompt)))
        completion = int(usage.get("completion_tokens", usage.get("output_tokens", completion)))
    return prompt, completion


def finish_reason(response, api: str | None, tools: bool, length: bool, default: str) -> str:
    """The API's word for why the answer ended: the fixture's override, else what happened."""
    word = response.finish_reason
    if word is None:
        word = "length" if length else "tool_calls" if tools else "stop"
    if api is None:
        return word if word != "stop" else default
    return FINISH_REASONS[api].get(word, word)


def _quoted(value: bytes | None) -> bytes:
    return b"null" if value is None else b'"' + value + b'"'


# -- OpenAI chat completions ------------------------------------------------------------------

def openai_chat(call, fixture, scripts, model: bytes, prompt: int, stream: bool,
                include_usage: bool):
    r = fixture.response
    if r.kind == ERROR:
        return openai_error(r.error)
    layout = Layout(parts(r))
    total, length = layout.cap(call.ctl.max_tokens)
    cid = r.id or IDS.new(CHAT_COMPLETION)
    created = r.created if r.created is not None else now()
    model = r.model or model
    ids = [c.id_json or IDS.new(b"call_") for c in r.tool_calls]
    finish = finish_reason(r, None, bool(r.tool_calls), length, "stop")
    field = scripts.reasoning_field

    def usage(sent: int) -> bytes:
        done, reasoning = layout.tokens(sent)
        p, c = usage_counts(r, prompt, done)
        return openai_usage(p, c, reasoning)

    if not stream:
        text, reasoning, calls = [], [], []
        for part, n in layout.taken(total):
            if part.kind == CONTENT:
                text.append(joined(part, n))
            elif part.kind == REASONING:
                reasoning.append(joined(part, n))
            elif n == part.tokens:              # a call cut short is not a call
                calls.append(b'{"id":"' + ids[part.index] + b'","type":"function","function":'
                             b'{"name":"' + part.call.name_json + b'","arguments":"'
                             + part.text.json + b'"}}')
        message = (b'{"role":"assistant","content":'
                   + (b'"' + b"".join(text) + b'"' if text else b"null")
                   + (b',"' + field + b'":"' + b"".join(reasoning) + b'"' if reasoning else b"")
                   + (b',"tool_calls":[' + b",".join(calls) + b"]" if calls else b"")
                   + b',"refusal":null,"annotations":[]}')
        return whole(call, fixture, (
            b'{"id":"' + cid + b'","object":"chat.completion","created":%d,"model":"' % created
            + model + b'","choices":[{"index":0,"message":' + message
            + b',"logprobs":null,"finish_reason":"' + finish.encode() + b'"}],"usage":'
            + usage(total) + b',"system_fingerprint":"' + (r.system_fingerprint or b"fp_fastmock")
            + b'"}'))

    tokens = []
    for part in layout.parts:
        if part.kind == REASONING:
            tokens += wrapped(part.text, b'"' + field + b'":"', b'"')
        elif part.kind == CONTENT:
            tokens += wrapped(part.text, b'"content":"', b'"')
        else:
            i = part.index
            tokens.append(b'"tool_calls":[{"index":%d,"id":"%s","type":"function","function":'
                          b'{"name":"%s","arguments":""}}]' % (i, ids[i], part.call.name_json))
            tokens += wrapped(part.text, b'"tool_calls":[{"index":%d,"function":{"arguments":"'
                              % i, b'"}}]')
    splice = chat_chunk_splice(cid, created, model)
    usage_head = chat_chunk_splice(cid, created, model, usage=True) if include_usage else b""

    def closing(sent: int, finish: str) -> bytes:
        end = splice + chat_chunk_end(finish, True)
        if usage_head:
            end += usage_head + usage(sent) + b"}\n\n"
        return end + SSE_DONE

    return streamed(call, fixture, scripts, StreamSpec(
        content_type=SSE, tokens=tuple(tokens), total=total, splice=splice,
        first_prefix=b'"role":"assistant",', suffix=chat_chunk_end(None, True),
        finish=finish, closing=closing))


# -- OpenAI legacy completions (text only) ----------------------------------------------------

def openai_completions(call, fixture, scripts, model: bytes, prompt: int, stream: bool,
                       include_usage: bool):
    r = fixture.response
    if r.kind == ERROR:
        return openai_error(r.error)
    layout = Layout([part for part in parts(r, tools=False) if part.kind == CONTENT])
    total, length = layout.cap(call.ctl.max_tokens)
    cid = r.id or IDS.new(b"cmpl-")
    created = r.created if r.created is not None else now()
    model = r.model or model
    finish = finish_reason(r, None, False, length, "stop")
    head = (b'{"id":"' + cid + b'","object":"text_completion","created":%d,"model":"' % created
            + model + b'","choices":')
    tail = b'","index":0,"logprobs":null,"finish_reason":'

    def usage(sent: int) -> bytes:
        p, c = usage_counts(r, prompt, layout.tokens(sent)[0])
        return openai_usage(p, c)

    if not stream:
        text = b"".join(joined(part, n) for part, n in layout.taken(total))
        return whole(call, fixture, head + b'[{"text":"' + text + tail + b'"' + finish.encode()
                     + b'"}],"usage":' + usage(total) + b"}")
    splice = b"data: " + head + b'[{"text":"'

    def closing(sent: int, finish: str) -> bytes:
        end = splice + tail + b'"' + finish.encode() + b'"}]}\n\n'
        if include_usage:
            end += b"data: " + head + b'[],"usage":' + usage(sent) + b"}\n\n"
        return end + SSE_DONE

    tokens = tuple(c for part in layout.parts for c in part.text.escaped) or (b"",)
    return streamed(call, fixture, scripts, StreamSpec(
        content_type=SSE, tokens=tokens, total=total, splice=splice,
        suffix=tail + b"null}]}\n\n", finish=finish, closing=closing))


# -- OpenAI Responses -----------------------------------------------------------------------

def openai_responses(call, fixture, scripts, model: bytes, prompt: int, stream: bool, limit):
    r = fixture.response
    if r.kind == ERROR:
        return openai_error(r.error)
    layout = Layout(parts(r))
    total, length = layout.cap(call.ctl.max_tokens)
    rid = r.id or IDS.new(b"resp_")
    created = r.created if r.created is not None else now()
    model = r.model or model
    word = finish_reason(r, "responses", bool(r.tool_calls), length, "completed")
    final = word.encode() if word in ("completed", "incomplete", "failed") else b"completed"
    limit_json = b"null" if limit is None else b"%d" % limit
    item_ids, call_ids = [], []
    for part in layout.parts:
        prefix = {REASONING: b"rs_", CONTENT: b"msg_"}.get(part.kind, b"fc_")
        item_ids.append(IDS.new(prefix))
        call_ids.append(part.call.id_json or IDS.new(b"call_") if part.kind == TOOL else None)

    def usage(sent: int) -> bytes:
        done, reasoning = layout.tokens(sent)
        p, c = usage_counts(r, prompt, done)
        return (b'{"input_tokens":%d,"input_tokens_details":{"cached_tokens":0},'
                b'"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":%d},'
                b'"total_tokens":%d}' % (p, c, reasoning, p + c))

    def response(status: bytes, output: bytes, usage_json: bytes) -> bytes:
        incomplete = b'{"reason":"max_output_tokens"}' if status == b"incomplete" else b"null"
        return (b'{"id":"' + rid + b'","object":"response","created_at":%d,"status":"' % created
                + status + b'","background":false,"error":null,"incomplete_details":' + incomplete
                + b',"instructions":null,"max_output_tokens":' + limit_json + b',"model":"'
                + model + b'","output":' + output + b',"parallel_tool_calls":true,'
                b'"previous_response_id":null,"reasoning":{"effort":null,"summary":null},'
                b'"store":false,"temperature":1.0,"text":{"format":{"type":"text"}},'
                b'"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled"'
                + (b',"usage":' + usage_json if usage_json else b"") + b',"metadata":{}}')

    def item(o: int, part: Part, n: int, done: bool) -> bytes:
        """Output item ``o``, with the first ``n`` chunks of its text."""
        status = b"completed" if done else b"in_progress"
        text = joined(part, n)
        if part.kind == REASONING:
            summary = b'[{"type":"summary_text","text":"' + text + b'"}]' if done else b"[]"
            return b'{"id":"' + item_ids[o] + b'","type":"reasoning","summary":' + summary + b"}"
        if part.kind == CONTENT:
            content = b"[" + _output_text(text) + b"]" if done else b"[]"
            return (b'{"id":"' + item_ids[o] + b'","type":"message","status":"' + status
                    + b'","role":"assistant","content":' + content + b"}")
        return (b'{"id":"' + item_ids[o] + b'","type":"function_call","status":"' + status
                + b'","arguments":"' + (text if done else b"") + b'","call_id":"' + call_ids[o]
                + b'","name":"' + part.call.name_json + b'"}')

    if not stream:
        output = b",".join(item(o, part, n, True) for o, (part, n) in enumerate(layout.taken(total))
                           if part.kind != TOOL or n == part.tokens)
        return whole(call, fixture, response(final, b"[" + output + b"]", usage(total)))

    seq = [0]

    def event(kind: bytes, fields: bytes) -> bytes:
        n = seq[0]
        seq[0] = n + 1
        return (b"event: " + kind + b'\ndata: {"type":"' + kind + b'","sequence_number":%d,' % n
                + fields + b"}\n\n")

    def where(o: int) -> bytes:
        return b'"item_id":"' + item_ids[o] + b'","output_index":%d,' % o

    def begin(o: int, part: Part) -> bytes:
        out = event(b"response.output_item.added",
                    b'"output_index":%d,"item":' % o + item(o, part, 0, False))
        if part.kind == REASONING:
            out += event(b"response.reasoning_summary_part.added", where(o)
                         + b'"summary_index":0,"part":{"type":"summary_text","text":""}')
        elif part.kind == CONTENT:
            out += event(b"response.content_part.added",
                         where(o) + b'"content_index":0,"part":' + _output_text(b""))
        return out

    def chunk(o: int, part: Part, c: bytes) -> bytes:
        if part.kind == REASONING:
            return event(b"response.reasoning_summary_text.delta",
                         where(o) + b'"summary_index":0,"delta":"' + c + b'"')
        if part.kind == CONTENT:
            return event(b"response.output_text.delta",
                         where(o) + b'"content_index":0,"delta":"' + c + b'","logprobs":[]')
        return event(b"response.function_call_arguments.delta", where(o) + b'"delta":"' + c + b'"')

    def end(o: int, part: Part, n: int) -> bytes:
        text = joined(part, n)
        if part.kind == REASONING:
            summary = b'"summary_index":0,'
            out = (event(b"response.reasoning_summary_text.done",
                         where(o) + summary + b'"text":"' + text + b'"')
                   + event(b"response.reasoning_summary_part.done", where(o) + summary
                           + b'"part":{"type":"summary_text","text":"' + text + b'"}'))
        elif part.kind == CONTENT:
            out = (event(b"response.output_text.done",
                         where(o) + b'"content_index":0,"text":"' + text + b'","logprobs":[]')
                   + event(b"response.content_part.done",
                           where(o) + b'"content_index":0,"part":' + _output_text(text)))
        else:
            out = event(b"response.function_call_arguments.done", where(o) + b'"name":"'
                        + part.call.name_json + b'","arguments":"' + text + b'"')
        return out + event(b"response.output_item.done",
                           b'"output_index":%d,"item":' % o + item(o, part, n, True))

    pending = response(b"in_progress", b"[]", b"")     # no usage yet: left out
    opening = (event(b"response.created", b'"response":' + pending)
               + event(b"response.in_progress", b'"response":' + pending))
    frames, seq_after = [], []
    for o, part in enumerate(layout.parts):
        lead = (end(o - 1, layout.parts[o - 1], layout.parts[o - 1].tokens) if o else b"")
        lead += begin(o, part)
        if part.kind == TOOL:
            frames.append(lead)
            seq_after.append(seq[0])
            lead = b""
        for c in part.text.escaped:
            frames.append(lead + chunk(o, part, c))
            seq_after.append(seq[0])
            lead = b""

    def closing(sent: int, finish: str) -> bytes:
        seq[0] = seq_after[sent - 1] if sent else 2
        taken = layout.taken(sent)
        out = end(len(taken) - 1, *taken[-1]) if taken else b""
        status = b"incomplete" if finish == "length" else final
        items = b",".join(item(o, part, n, True) for o, (part, n) in enumerate(taken))
        return out + event(b"response." + status,
                           b'"response":' + response(status, b"[" + items + b"]", usage(sent)))

    return streamed(call, fixture, scripts, StreamSpec(
        content_type=SSE, tokens=tuple(frames), total=total, opening=opening,
        finish="length" if length else "stop", closing=closing))


def _output_text(text: bytes) -> bytes:
    return b'{"type":"output_text","text":"' + text + b'","annotations":[],"logprobs":[]}'


# -- Anthropic messages -----------------------------------------------------------------------

_SIGNATURE = b"ZmFzdG1vY2stc2NyaXB0ZWQtdGhpbmtpbmc="   # a thinking block's, when none is given


def _event(kind: bytes, fields: bytes) -> bytes:
    return b"event: " + kind + b'\ndata: {"type":"' + kind + b'"' + fields + b"}\n\n"


def anthropic_error(reply) -> Whole:
    from fastmock.providers.anthropic import ERROR_TYPES
    kind = (reply.type or ERROR_TYPES.get(reply.status, "api_error" if reply.status >= 500
                                          else "invalid_request_error"))
    kind = kind.decode() if isinstance(kind, bytes) else kind
    body = {"type": "error", "error": {"type": kind, "message": reply.message},
            "request_id": IDS.new(b"req_").decode()}
    return error_whole(reply, json.dumps(body).encode())


def anthropic_messages(call, fixture, scripts, model: bytes, prompt: int, stream: bool):
    from fastmock.providers.anthropic import usage as message_usage
    r = fixture.response
    if r.kind == ERROR:
        return anthropic_error(r.error)
    layout = Layout(parts(r))
    total, length = layout.cap(call.ctl.max_tokens)
    mid = r.id or IDS.new(b"msg_")
    model = r.model or model
    ids = [c.id_json or IDS.new(b"toolu_") for c in r.tool_calls]
    stop = finish_reason(r, "anthropic", bool(r.tool_calls), length, "end_turn")
    signature = escape(r.reasoning_signature) if r.reasoning_signature else _SIGNATURE
    head = (b'{"id":"' + mid + b'","type":"message","role":"assistant","model":"' + model
            + b'","content":')

    def usage(sent: int) -> tuple:
        return usage_counts(r, prompt, layout.tokens(sent)[0])

    if not stream:
        blocks = []
        for part, n in layout.taken(total):
            text = joined(part, n)
            if part.kind == REASONING:
                blocks.append(b'{"type":"thinking","thinking":"' + text + b'","signature":"'
                              + signature + b'"}')
            elif part.kind == CONTENT:
                blocks.append(b'{"type":"text","text":"' + text + b'"}')
            elif n == part.tokens:
                blocks.append(b'{"type":"tool_use","id":"' + ids[part.index] + b'","name":"'
                              + part.call.name_json + b'","input":' + part.call.arguments_raw
                              + b"}")
        return whole(call, fixture, head + b"[" + b",".join(blocks) + b'],"stop_reason":"'
                     + stop.encode() + b'","stop_sequence":null,"usage":'
                     + message_usage(*usage(total)) + b"}")

    def start(b: int, part: Part) -> bytes:
        if part.kind == REASONING:
            block = b'{"type":"thinking","thinking":"","signature":""}'
        elif part.kind == CONTENT:
            block = b'{"type":"text","text":""}'
        else:
            block = (b'{"type":"tool_use","id":"' + ids[part.index] + b'","name":"'
                     + part.call.name_json + b'","input":{}}')
        return _event(b"content_block_start", b',"index":%d,"content_block":' % b + block)

    def stop_block(b: int, part: Part) -> bytes:
        out = b""
        if part.kind == REASONING:
            out = _event(b"content_block_delta", b',"index":%d,"delta":{"type":"signature_delta",'
                         b'"signature":"' % b + signature + b'"}')
        return out + _event(b"content_block_stop", b',"index":%d' % b)

    tokens = []
    for b, part in enumerate(layout.parts):
        lead = (stop_block(b - 1, layout.parts[b - 1]) if b else b"") + start(b, part)
        delta = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,' % b
        if part.kind == REASONING:
            chunks = wrapped(part.text, delta + b'"delta":{"type":"thinking_delta","thinking":"',
                             b'"}}\n\n')
        elif part.kind == CONTENT:
            chunks = wrapped(part.text, delta + b'"delta":{"type":"text_delta","text":"',
                             b'"}}\n\n')
        else:
            tokens.append(lead)
            lead = b""
            chunks = wrapped(part.text, delta + b'"delta":{"type":"input_json_delta",'
                             b'"partial_json":"', b'"}}\n\n')
        if lead:
            tokens.append(lead + chunks[0])
            tokens += chunks[1:]
        else:
            tokens += chunks
    opening = (_event(b"message_start", b',"message":' + head + b'[],"stop_reason":null,'
                      b'"stop_sequence":null,"usage":' + message_usage(usage(0)[0], 0) + b"}")
               + _event(b"ping", b""))

    def closing(sent: int, finish: str) -> bytes:
        taken = layout.taken(sent)
        out = stop_block(len(taken) - 1, taken[-1][0]) if taken else b""
        return (out + _event(b"message_delta", b',"delta":{"stop_reason":"' + finish.encode()
                             + b'","stop_sequence":null},"usage":' + message_usage(*usage(sent)))
                + _event(b"message_stop", b""))

    return streamed(call, fixture, scripts, StreamSpec(
        content_type=SSE, tokens=tuple(tokens), total=total, opening=opening,
        finish=stop, closing=closing))


# -- Ollama chat and generate -----------------------------------------------------------------

def ollama_error(reply) -> Whole:
    return error_whole(reply, b'{"error":"' + escape(reply.message) + b'"}')


def ollama(call, fixture, scripts, model: bytes, prompt: int, stream: bool, chat: bool):
    r = fixture.response
    if r.kind == ERROR:
        return ollama_error(r.error)
    answer = parts(r, tools=False)
    calls = r.tool_calls if chat else ()
    if calls:
        # Ollama sends the calls whole, in one line after the text: one frame for them all
        tools = Part(TOOLS, _AllArguments(calls))
        tools.frames = 1
        answer.append(tools)
    layout = Layout(answer)
    total, length = layout.cap(call.ctl.max_tokens)
    word = finish_reason(r, "ollama", False, length, "stop")
    model = r.model or model
    splice = ollama_splice(model)
    started = time.monotonic_ns()
    tool_calls = b'"tool_calls":[' + b",".join(
        b'{"function":{"name":"' + c.name_json + b'","arguments":' + c.arguments_raw + b"}}"
        for c in calls) + b"]"
    if chat:
        text_open, text_close = OLLAMA_CHAT
        empty = b'"message":{"role":"assistant","content":""'
    else:
        text_open, text_close = OLLAMA_GENERATE
        empty = b'"response":""'
    line_end = (b"}," if chat else b",") + b'"done":false}\n'

    if not stream:
        text, thinking, sent_calls = [], [], False
        for part, n in layout.taken(total):
            if part.kind == CONTENT:
                text.append(joined(part, n))
            elif part.kind == REASONING:
                thinking.append(joined(part, n))
            else:
                sent_calls = True
        extra = b',"thinking":"' + b"".join(thinking) + b'"' if thinking else b""
        if sent_calls:
            extra += b"," + tool_calls
        field = (text_open, b'"' + extra + text_close[1:])
        p, c = usage_counts(r, prompt, layout.tokens(total)[0])
        took = time.monotonic_ns() - started + call.ctl.ttft_ms * 1_000_000
        line = ollama_done(splice, call.stamp(), field, b"".join(text), word, p, c, took,
                           not chat)          # /api/generate's final object has a context
        return whole(call, fixture, line[:-1])

    tokens = []
    for part in layout.parts:
        if part.kind == REASONING:
            tokens += wrapped(part.text, empty + b',"thinking":"', b'"' + line_end)
        elif part.kind == CONTENT:
            tokens += wrapped(part.text, text_open, b'"' + line_end)
        else:
            tokens.append(empty + b"," + tool_calls + line_end)
    field = OLLAMA_CHAT if chat else OLLAMA_GENERATE

    def closing(sent: int, finish: str) -> bytes:
        p, c = usage_counts(r, prompt, layout.tokens(sent)[0])
        return ollama_done(splice, call.stamp(), field, b"", finish, p, c,
                           time.monotonic_ns() - started, not chat)

    return streamed(call, fixture, scripts, StreamSpec(
        content_type=NDJSON, tokens=tuple(tokens), total=total, splice=splice, stamp=True,
        prefix=b'",', finish=word, closing=closing))


class _AllArguments:
    """The arguments of every call of an Ollama answer, as the Text of one part."""

    __slots__ = ("escaped", "json")

    def __init__(self, calls) -> None:
        self.escaped = tuple(c for call in calls for c in call.arguments_text.escaped)
        self.json = b""

    def __len__(self) -> int:
        return len(self.escaped)


# -- OpenAI embeddings --------------------------------------------------------------------------

def embeddings(call, fixture, model: bytes, encoding: str, count: int, tokens: int):
    r = fixture.response
    if r.kind == ERROR:
        return openai_error(r.error)
    if r.kind != "embedding":
        return None
    if encoding == "base64":
        vector = array.array("f", r.embedding.vector)
        if sys.byteorder == "big":
            vector.byteswap()
        body = b'"' + binascii.b2a_base64(vector.tobytes(), newline=False) + b'"'
    else:
        body = r.embedding.json
    data = b",".join(b'{"object":"embedding","index":%d,"embedding":' % i + body + b"}"
                     for i in range(count))
    return whole(call, fixture, b'{"object":"list","data":[' + data + b'],"model":"' + model
                 + b'","usage":{"prompt_tokens":%d,"total_tokens":%d}}' % (tokens, tokens))

