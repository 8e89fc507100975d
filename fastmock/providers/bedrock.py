"""AWS Bedrock Runtime, as ``boto3.client("bedrock-runtime")`` calls it.

    POST /model/{modelId}/converse                      Converse: one JSON answer
    POST /model/{modelId}/converse-stream               ConverseStream: AWS event-stream frames
    POST /model/{modelId}/invoke                        InvokeModel, an Anthropic Claude body
    POST /model/{modelId}/invoke-with-response-stream   its stream: ``chunk`` events, each the
                                                        base64 of one Anthropic event

The streams are the binary ``application/vnd.amazon.eventstream`` framing: each message
is a prelude (total and header lengths, their CRC-32), headers (``:event-type``,
``:content-type``, ``:message-type``), the JSON payload and the CRC-32 of all of it.
A token's message does not depend on the response, so a corpus's messages are made once
and every stream sends them as pre-encoded frames. Errors carry Bedrock's
``x-amzn-ErrorType`` header and ``{"message": ...}``, which boto3 raises as
``ValidationException`` and the like. A fixture answers Converse in its own blocks
(``providers.scripted_cloud``: text, ``toolUse``, ``reasoningContent``) and InvokeModel
as Anthropic's Messages API does; ``toolConfig`` is checked, and ``toolUse`` /
``toolResult`` blocks in the history are taken as they come.
"""
import base64
import json
import struct
from binascii import crc32

from fastmock.controls import unquote
from fastmock.frames import json_string
from fastmock.ids import IDS
from fastmock.providers import anthropic, request
from fastmock.providers.common import Call, Streamed, Whole, count_tokens, plan
from fastmock.providers.request import ApiError
from fastmock.streamspec import StreamSpec
from fastmock.wire import JSON, retry_after

PREFIX = b"/model/"
EVENT_STREAM = b"application/vnd.amazon.eventstream"
ERROR_TYPES = {
    400: b"ValidationException", 403: b"AccessDeniedException", 404: b"ResourceNotFoundException",
    408: b"ModelTimeoutException", 424: b"ModelErrorException", 429: b"ThrottlingException",
    500: b"InternalServerException", 503: b"ServiceUnavailableException",
}
_ROLES = ("user", "assistant")
_BLOCK = "content block"            # what a 400 calls one of a message's content items
_TOOLS = ("toolSpec", "systemTool", "cachePoint")      # a Tool is one of these
_CHOICES = ("auto", "any", "tool")                      # a ToolChoice is one of these
_CACHED = 4                 # token tuples whose messages are kept (the corpus and its cycle)


def error(status: int, message: str, param: str | None = None) -> Whole:
    if param and param not in message:
        message = f"{param}: {message}"
    kind = ERROR_TYPES.get(status, b"InternalServerException" if status >= 500
                           else b"ValidationException")
    return Whole(status, JSON, b'{"message":"' + json_string(message) + b'"}',
                 b"x-amzn-ErrorType: " + kind + b"\r\n" + retry_after(status))


def model(call: Call):
    """Every request under /model/: ``{modelId}/{operation}``."""
    model_id, _, operation = call.path[len(PREFIX):].rpartition(b"/")
    handler = _OPERATIONS.get(operation)
    if not model_id or handler is None:
        raise ApiError(404, "unknown operation: " + call.path.decode("utf-8", "replace")[:100])
    return handler(call, request.escape(unquote(model_id, plus=False).decode("utf-8", "replace")))


# -- the event-stream framing ---------------------------------------------------------------

def _header(name: bytes, value: bytes) -> bytes:
    """One header of type 7 (a string): name length, name, type, value length, value."""
    return bytes((len(name),)) + name + b"\x07" + struct.pack(">H", len(value)) + value


def _message(headers: bytes, payload: bytes) -> bytes:
    prelude = struct.pack(">II", 12 + len(headers) + len(payload) + 4, len(headers))
    message = prelude + struct.pack(">I", crc32(prelude)) + headers + payload
    return message + struct.pack(">I", crc32(message))


def event_message(event_type: bytes, payload: bytes) -> bytes:
    """One event-stream message of ``event_type`` carrying the JSON ``payload``."""
    return _message(_header(b":event-type", event_type) + _header(b":content-type", JSON)
                    + _header(b":message-type", b"event"), payload)


def exception_message(exception_type: bytes, payload: bytes) -> bytes:
    """One event-stream exception message (``:message-type: exception``): botocore raises
    it as ``EventStreamError`` with ``exception_type`` as its error code."""
    return _message(_header(b":exception-type", exception_type) + _header(b":content-type", JSON)
                    + _header(b":message-type", b"exception"), payload)


def failing(call: Call, answer):
    """A stream under ``fail_after`` (the control): Bedrock does not drop the connection
    when a model's stream fails, it ends the stream with a ``modelStreamErrorException``
    message. So the stream sends its first ``fail_after`` events, then that message in
    place of its closing events, and ends cleanly (the connection stays open)."""
    cut = call.ctl.fail_after
    if cut < 0 or not isinstance(answer, Streamed):
        return answer
    spec = answer.spec
    if 0 <= spec.total <= cut:          # it ends before the cut: a whole stream
        answer.fail_after = -1
        return answer
    spec.total = cut
    spec.last_suffix = None
    spec.closing = exception_message(
        b"modelStreamErrorException",
        b'{"message":"The model stream failed after %d events (fail_after)",'
        b'"originalStatusCode":500}' % cut)
    answer.fail_after = -1
    return answer


class _Messages:
    """Token tuples -> their messages, for the few tuples every stream shares."""

    def __init__(self) -> None:
        self._made = []     # (tokens, kind, messages), most recent last

    def of(self, tokens: tuple, kind: str, make) -> tuple:
        for known, known_kind, messages in self._made:
            if known is tokens and known_kind == kind:
                return messages
        messages = tuple(make(token) for token in tokens)
        self._made.append((tokens, kind, messages))
        del self._made[:-_CACHED]
        return messages


_MESSAGES = _Messages()


def _messages(p, kind: str, make) -> tuple:
    """The messages of a plan's tokens: cached for a shared tuple (the corpus), made for an
    answer's own (an echo)."""
    return _MESSAGES.of(p.tokens, kind, make)


# -- Converse -------------------------------------------------------------------------------

def _conversation(doc: dict) -> tuple[str, list]:
    messages = request.array(doc, "messages", required=True)
    items = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise request.wrong_type(f"messages[{i}]", "a Message object", message)
        role = message.get("role")
        if role not in _ROLES:
            raise ApiError(400, f"messages[{i}].role must be user or assistant", f"messages[{i}].role")
        items.append((role, request.blocks_text(message.get("content"), f"messages[{i}].content",
                                                _BLOCK)))
    system = doc.get("system")
    system_text = request.blocks_text(system, "system", _BLOCK) if system is not None else ""
    return system_text, items


def _tool_config(doc: dict) -> None:
    """``toolConfig``: its ``tools`` (``toolSpec`` with a name and an ``inputSchema``,
    ``systemTool`` or ``cachePoint``) and ``toolChoice``; a 400 naming the field at fault."""
    config = request.obj(doc, "toolConfig")
    if config is None:
        return
    tools = request.array(config, "tools", required=True, param="toolConfig.tools")
    if not tools:
        raise ApiError(400, "toolConfig.tools must hold at least one tool", "toolConfig.tools")
    for i, tool in enumerate(tools):
        where = f"toolConfig.tools[{i}]"
        if not isinstance(tool, dict) or len(tool) != 1 or next(iter(tool)) not in _TOOLS:
            raise ApiError(400, f"{where} must be an object with exactly one of "
                                f"{', '.join(_TOOLS)}", where)
        spec = tool.get("toolSpec")
        if spec is None:
            continue
        where += ".toolSpec"
        if not isinstance(spec, dict):
            raise request.wrong_type(where, "a ToolSpecification", spec)
        name = request.string(spec, "name", required=True, param=where + ".name")
        if not name:
            raise ApiError(400, f"{where}.name must not be empty", where + ".name")
        schema = request.obj(spec, "inputSchema", param=where + ".inputSchema")
        if schema is None:
            raise request.missing(where + ".inputSchema")
        if not isinstance(schema.get("json"), dict):
            raise request.wrong_type(where + ".inputSchema.json", "a JSON schema object",
                                     schema.get("json"))
    choice = request.obj(config, "toolChoice", param="toolConfig.toolChoice")
    if choice is not None:
        if len(choice) != 1 or next(iter(choice)) not in _CHOICES:
            raise ApiError(400, "toolConfig.toolChoice must have exactly one of auto, any, tool",
                           "toolConfig.toolChoice")
        if "tool" in choice:
            named = choice["tool"]
            request.string(named if isinstance(named, dict) else {}, "name", required=True,
                           param="toolConfig.toolChoice.tool.name")


def _converse_plan(call: Call, model_id: bytes, stream: bool):
    """(the fixture's answer or None, the corpus's plan, prompt tokens, stop reason)."""
    doc = request.parse(call.body)
    system, items = _conversation(doc)
    config = request.obj(doc, "inferenceConfig") or {}
    limit = request.token_limit(config, "maxTokens", param="inferenceConfig.maxTokens")
    _tool_config(doc)
    prompt = call.prompt_tokens = count_tokens(system, *(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.converse(call, doc, model_id, prompt, stream)
        if answer is not None:
            return answer, None, prompt, b""
    p = plan(call, request.last_text(items), limit, whole=not stream)
    return None, p, prompt, b"max_tokens" if p.length else b"end_turn"


def _usage(prompt: int, completion: int) -> bytes:
    return (b'{"inputTokens":%d,"outputTokens":%d,"totalTokens":%d}'
            % (prompt, completion, prompt + completion))


def converse(call: Call, model_id: bytes):
    scripted, p, prompt, stop = _converse_plan(call, model_id, stream=False)
    if scripted is not None:
        return scripted
    return call.whole(b'{"output":{"message":{"role":"assistant","content":[{"text":"'
                      + p.text() + b'"}]}},"stopReason":"' + stop + b'","usage":'
                      + _usage(prompt, p.total) + b',"metrics":{"latencyMs":%d}}'
                      % max(call.ctl.ttft_ms, 0))


def _delta(token: bytes) -> bytes:
    return event_message(b"contentBlockDelta",
                         b'{"contentBlockIndex":0,"delta":{"text":"' + token + b'"}}')


def converse_stream(call: Call, model_id: bytes):
    scripted, p, prompt, stop = _converse_plan(call, model_id, stream=True)
    if scripted is not None:
        return failing(call, scripted)

    def closing(sent: int, reason: str) -> bytes:
        return (event_message(b"contentBlockStop", b'{"contentBlockIndex":0}')
                + event_message(b"messageStop", b'{"stopReason":"' + reason.encode() + b'"}')
                + event_message(b"metadata", b'{"usage":' + _usage(prompt, sent)
                                + b',"metrics":{"latencyMs":%d}}' % max(call.ctl.ttft_ms, 0)))

    return failing(call, call.streamed(StreamSpec(
        content_type=EVENT_STREAM, tokens=_messages(p, "converse", _delta), total=p.total,
        opening=event_message(b"messageStart", b'{"role":"assistant"}'),
        finish=stop.decode(), closing=closing)))


# -- InvokeModel (Anthropic Claude bodies) ----------------------------------------------------

def _claude_body(call: Call, model_id: bytes) -> dict:
    doc = request.parse(call.body)
    if "messages" not in doc:
        raise ApiError(400, "fastmock's InvokeModel takes Anthropic Claude bodies "
                            "(anthropic_version, max_tokens, messages); other models' bodies "
                            "are answered by Converse", "messages")
    doc.pop("anthropic_version", None)
    doc["model"] = json.loads(b'"' + model_id + b'"')
    return doc


def invoke(call: Call, model_id: bytes):
    """The Anthropic Messages answer, as Claude on Bedrock gives it."""
    doc = _claude_body(call, model_id)
    doc["stream"] = False
    call.body = json.dumps(doc).encode()
    return _bedrock_error(anthropic.messages(call))


def _bedrock_error(answer):
    """A Messages API error answer (a fixture's ``error``) in Bedrock's shape."""
    if not isinstance(answer, Whole) or answer.status < 400:
        return answer
    try:
        message = json.loads(answer.body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = "error"
    bedrock = error(answer.status, message)
    bedrock.headers = bedrock.headers.partition(b"\r\n")[0] + b"\r\n" + answer.headers
    return bedrock


# An Anthropic stream's frame (SSE events) -> its chunk messages: made once per frame, as a
# fixture's frames are shared by every stream that sends them.
_CHUNKS: dict = {}
_CHUNKS_MAX = 4096


def _sse_data(events: bytes):
    """The ``data`` of each SSE event in ``events`` (ping left out: Bedrock sends none)."""
    for line in events.split(b"\n"):
        if line.startswith(b"data: ") and line != b'data: {"type":"ping"}':
            yield line[6:]


def _chunks_of(frame: bytes) -> bytes:
    found = _CHUNKS.get(frame)
    if found is None:
        found = b"".join(map(_chunk, _sse_data(frame)))
        if len(_CHUNKS) >= _CHUNKS_MAX:
            _CHUNKS.clear()
        _CHUNKS[frame] = found
    return found


def _as_chunks(call: Call, answer, prompt: int):
    """A fixture's Anthropic stream (providers.scripted_wire) as InvokeModelWithResponseStream
    sends it: each event the ``bytes`` of a ``chunk``, the last with Bedrock's metrics."""
    if not isinstance(answer, Streamed):
        return _bedrock_error(answer)
    spec = answer.spec
    closing = spec.closing
    ttft = max(call.ctl.ttft_ms, 0)

    def chunks(sent: int, finish: str) -> bytes:
        out, output = [], sent
        for data in _sse_data(closing if isinstance(closing, bytes) else closing(sent, finish)):
            if data.startswith(b'{"type":"message_delta"'):   # its usage: the tokens, not frames
                output = json.loads(data)["usage"]["output_tokens"]
            elif data == b'{"type":"message_stop"}':
                data = (b'{"type":"message_stop","amazon-bedrock-invocationMetrics":'
                        b'{"inputTokenCount":%d,"outputTokenCount":%d,"invocationLatency":%d,'
                        b'"firstByteLatency":%d}}' % (prompt, output, ttft, ttft))
            out.append(_chunk(data))
        return b"".join(out)

    spec.content_type = EVENT_STREAM
    spec.opening = _chunks_of(spec.opening)
    spec.tokens = tuple(map(_chunks_of, spec.tokens))
    spec.closing = chunks
    return answer


def _chunk(event: bytes) -> bytes:
    return event_message(b"chunk", b'{"bytes":"' + base64.b64encode(event) + b'"}')


def _claude_delta(token: bytes) -> bytes:
    return _chunk(b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
                  b'"text":"' + token + b'"}}')


def invoke_stream(call: Call, model_id: bytes):
    """Anthropic's stream events, each the base64 ``bytes`` of a ``chunk`` event."""
    doc = _claude_body(call, model_id)
    limit = request.token_limit(doc, "max_tokens", required=True)
    items = request.messages(doc, roles=_ROLES)
    system = doc.get("system")
    system_text = request.content_text(system, "system") if system is not None else ""
    prompt = call.prompt_tokens = count_tokens(system_text, *(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.messages(call, doc, model_id, prompt, True)
        if answer is not None:
            return failing(call, _as_chunks(call, answer, prompt))
    p = plan(call, request.last_text(items), limit)
    stop = b"max_tokens" if p.length else b"end_turn"
    message = (b'{"id":"' + IDS.new(b"msg_bdrk_") + b'","type":"message","role":"assistant",'
               b'"model":"' + model_id + b'","content":[],"stop_reason":null,'
               b'"stop_sequence":null,"usage":' + anthropic.usage(prompt, 0) + b"}")
    opening = (_chunk(b'{"type":"message_start","message":' + message + b"}")
               + _chunk(b'{"type":"content_block_start","index":0,"content_block":'
                        b'{"type":"text","text":""}}'))

    def closing(sent: int, reason: str) -> bytes:
        return (_chunk(b'{"type":"content_block_stop","index":0}')
                + _chunk(b'{"type":"message_delta","delta":{"stop_reason":"' + reason.encode()
                         + b'","stop_sequence":null},"usage":{"output_tokens":%d}}' % sent)
                + _chunk(b'{"type":"message_stop","amazon-bedrock-invocationMetrics":'
                         b'{"inputTokenCount":%d,"outputTokenCount":%d,"invocationLatency":%d,'
                         b'"firstByteLatency":%d}}' % (prompt, sent, max(call.ctl.ttft_ms, 0),
                                                        max(call.ctl.ttft_ms, 0))))

    return failing(call, call.streamed(StreamSpec(
        content_type=EVENT_STREAM, tokens=_messages(p, "claude", _claude_delta), total=p.total,
        opening=opening, finish=stop.decode(), closing=closing)))


_OPERATIONS = {
    b"converse": converse, b"converse-stream": converse_stream,
    b"invoke": invoke, b"invoke-with-response-stream": invoke_stream,
}
