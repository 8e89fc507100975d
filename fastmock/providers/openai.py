"""OpenAI-compatible endpoints: chat completions, completions, responses, models
(embeddings are in fastmock.providers.embeddings).

Every document is joined from constant byte pieces and the per-response fields
(id, created, model); streams are StreamSpecs whose frames splice the response's
id/created/model in front of pre-escaped tokens, so nothing is JSON-encoded per token.
"""
from fastmock.controls import MAX_TOKENS, unquote
from fastmock.frames import (CHAT_FIRST_PREFIX, CHAT_PREFIX, CHUNK_END, SSE_DONE,
                             STATIC_CREATED, STATIC_CREATED_AT, chat_choice_end, chat_chunk_end,
                             chat_chunk_splice, openai_usage, running_usage)
from fastmock.providers import request, structured
from fastmock.ids import CHAT_COMPLETION, IDS
from fastmock.providers.common import (MAX_WHOLE_TOKENS, Call, Whole, count_tokens,
                                       error_answer, now, plan)
from fastmock.providers.request import ApiError
from fastmock.streamspec import SSE, StreamSpec
from fastmock.wire import openai_error_body

MAX_INPUTS = 2048


def error(status: int, message: str, param: str | None = None) -> Whole:
    return error_answer(status, openai_error_body(status, message, param))


def _limit(doc: dict, *names: str):
    """The first of ``names`` the body sets, as a token limit, and its name."""
    for name in names:
        value = request.token_limit(doc, name)
        if value is not None:
            return value, name
    return None, names[0]


def _eos_options(doc: dict, limit, limit_name: str) -> tuple[bool, int]:
    """vLLM's ``ignore_eos`` and ``min_tokens`` (GuideLLM sends ``ignore_eos`` by default):
    the answer fills the limit, or is at least ``min_tokens`` long."""
    ignore_eos = request.boolean(doc, "ignore_eos")
    min_tokens = request.integer(doc, "min_tokens", 0, MAX_TOKENS) or 0
    if limit is not None and min_tokens > limit:
        raise ApiError(400, f"'min_tokens' must be at most '{limit_name}' ({limit}), "
                            f"got {min_tokens}", "min_tokens")
    return ignore_eos, min_tokens


def _usage_options(doc: dict) -> tuple[bool, bool]:
    """``stream_options``: include_usage (a usage chunk at the end), and vLLM's
    continuous_usage_stats (the usage so far in every chunk)."""
    options = request.obj(doc, "stream_options")
    if options is None:
        return False, False
    return (request.boolean(options, "include_usage", param="stream_options.include_usage"),
            request.boolean(options, "continuous_usage_stats",
                            param="stream_options.continuous_usage_stats"))


def _frame_usage(prompt: int, continuous: bool) -> tuple[bytes, dict]:
    """What follows a chunk's choices in every frame, and the StreamSpec's running numbers
    that go with it: the usage so far with continuous usage, else only the chunk's end."""
    if not continuous:
        return CHUNK_END, {}
    head, between, end = running_usage(prompt)
    return head, {"seq_base": 1, "seq_tail": between, "seq2_base": prompt + 1, "seq2_tail": end}


def _closing_usage(prompt: int, sent: int, continuous: bool) -> bytes:
    """What follows a closing chunk's choices: the usage so far with continuous usage."""
    return (b',"usage":' + openai_usage(prompt, sent) if continuous else b"") + CHUNK_END


# -- POST /v1/chat/completions ------------------------------------------------------------

def chat(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    messages = request.messages(doc)
    limit, limit_name = _limit(doc, "max_completion_tokens", "max_tokens")
    ignore_eos, min_tokens = _eos_options(doc, limit, limit_name)
    stream = request.boolean(doc, "stream")
    include_usage, continuous = _usage_options(doc)
    prompt = call.prompt_tokens = count_tokens(*(text for _, text in messages))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.chat(call, doc, model, prompt, stream, include_usage)
        if answer is not None:
            return answer
    forced = structured.forced_tool(doc)                  # issue 15: a forced tool call
    if forced is not None:
        return _forced_tool_call(call, forced, model, prompt, limit, stream, include_usage)
    p = plan(call, request.last_text(messages), limit, whole=not stream,
             content=structured.chat_content(doc),       # issue 15: structured outputs
             ignore_eos=ignore_eos, min_tokens=min_tokens)
    finish = b"length" if p.length else b"stop"
    cid, created = IDS.new(CHAT_COMPLETION), now()
    if not stream:
        return call.whole(
            b'{"id":"' + cid + b'","object":"chat.completion","created":%d,"model":"' % created
            + model + b'","choices":[{"index":0,"message":{"role":"assistant","content":"'
            + p.text() + b'","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"'
            + finish + b'"}],"usage":' + openai_usage(prompt, p.total)
            + b',"system_fingerprint":"fp_fastmock"}')
    splice = chat_chunk_splice(cid, created, model)
    usage_head = chat_chunk_splice(cid, created, model, usage=True) if include_usage else b""

    def closing(sent: int, finish: str) -> bytes:
        # an empty delta, the finish reason
        end = splice + chat_choice_end(finish, True) + _closing_usage(prompt, sent, continuous)
        if usage_head:
            end += usage_head + openai_usage(prompt, sent) + b"}\n\n"
        return end + SSE_DONE

    after, numbers = _frame_usage(prompt, continuous)
    suffix = b'"' + chat_choice_end(None, True)
    return call.streamed(StreamSpec(
        content_type=SSE, tokens=p.tokens, total=p.total, splice=splice,
        first_prefix=CHAT_FIRST_PREFIX, prefix=CHAT_PREFIX, suffix=suffix + after,
        opening=(splice + CHAT_FIRST_PREFIX + suffix + _closing_usage(prompt, 0, continuous)
                 if p.total == 0 else b""),
        finish=finish.decode(), closing=closing, **numbers))


def _forced_tool_call(call: Call, forced, model: bytes, prompt: int, limit, stream: bool,
                      include_usage: bool):
    """A tool call no fixture answers (issue 15): the arguments valid against the tool's
    parameters, streamed as argument fragments of one call (index 0)."""
    p = plan(call, "", limit, whole=not stream, content=forced.arguments)
    finish = b"length" if p.length else b"tool_calls"
    cid, created, call_id = IDS.new(CHAT_COMPLETION), now(), IDS.new(b"call_")
    name = request.escape(forced.name)
    if not stream:
        return call.whole(
            b'{"id":"' + cid + b'","object":"chat.completion","created":%d,"model":"' % created
            + model + b'","choices":[{"index":0,"message":{"role":"assistant","content":null,'
            b'"tool_calls":[{"id":"' + call_id + b'","type":"function","function":{"name":"'
            + name + b'","arguments":"' + p.text() + b'"}}],"refusal":null,"annotations":[]},'
            b'"logprobs":null,"finish_reason":"' + finish + b'"}],"usage":'
            + openai_usage(prompt, p.total) + b',"system_fingerprint":"fp_fastmock"}')
    splice = chat_chunk_splice(cid, created, model)
    usage_head = chat_chunk_splice(cid, created, model, usage=True) if include_usage else b""
    opening = (splice + b'"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"'
               + call_id + b'","type":"function","function":{"name":"' + name
               + b'","arguments":""}}]' + chat_chunk_end(None, True))

    def closing(sent: int, finish: str) -> bytes:
        end = splice + chat_chunk_end(finish, True)
        if usage_head:
            end += usage_head + openai_usage(prompt, sent) + b"}\n\n"
        return end + SSE_DONE

    return call.streamed(StreamSpec(
        content_type=SSE, tokens=p.tokens, total=p.total, splice=splice, opening=opening,
        prefix=b'"tool_calls":[{"index":0,"function":{"arguments":"',
        suffix=b'"}}]' + chat_chunk_end(None, True), finish=finish.decode(), closing=closing))


# -- POST /v1/completions (legacy text completions) -------------------------------------

def completions(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    batch = prompts(request.required(doc, "prompt"), "prompt")
    texts = [text for text, _ in batch if text is not None]
    prompt = call.prompt_tokens = sum(count for _, count in batch)
    limit, _ = _limit(doc, "max_tokens")
    ignore_eos, min_tokens = _eos_options(doc, limit, "max_tokens")
    stream = request.boolean(doc, "stream")
    include_usage, continuous = _usage_options(doc)
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.completions(call, texts, model, prompt, stream, include_usage)
        if answer is not None:
            return answer
    # one choice per prompt (a prompt of token ids answers with the content, as "" would)
    plans = [plan(call, text or "", limit, whole=not stream, ignore_eos=ignore_eos,
                  min_tokens=min_tokens) for text, _ in batch]
    sent = call.tokens = sum(p.total for p in plans)
    if len(plans) > 1 and sent > MAX_WHOLE_TOKENS:    # a batch's frames are made at once
        raise ApiError(400, f"a batch of {len(plans)} prompts would answer {sent} tokens; at "
                            f"most {MAX_WHOLE_TOKENS} in all", "prompt")
    cid, created = IDS.new(b"cmpl-"), now()
    head = (b'{"id":"' + cid + b'","object":"text_completion","created":%d,"model":"' % created
            + model + b'","choices":')
    if not stream:
        choices = b",".join(b'{"text":"' + p.text() + _choice_tail(i) + _finish(p) + b"}"
                            for i, p in enumerate(plans))
        return call.whole(head + b"[" + choices + b'],"usage":' + openai_usage(prompt, sent)
                          + b"}")
    on_last = call.config is not None and call.config.completions_finish_on_last_token
    return call.streamed(_completion_stream(head, plans, prompt, include_usage, continuous,
                                            on_last))


# What follows a choice's text, up to its finish reason (the compiled path's COMPLETION_TAIL
# is index 0's).
COMPLETION_TAIL = b'","index":%d,"logprobs":null,"finish_reason":'


def _choice_tail(index: int) -> bytes:
    return COMPLETION_TAIL % index


def _finish(p) -> bytes:
    return b'"length"' if p.length else b'"stop"'


def _completion_stream(head: bytes, plans: list, prompt: int, include_usage: bool,
                       continuous: bool, on_last: bool) -> StreamSpec:
    """One chunk per token; a batch's choices take turns, each chunk naming its ``index``.
    The finish reasons go in one empty chunk per choice at the end, or (``on_last``, as vLLM
    frames them) on each choice's last token's chunk."""
    splice = b"data: " + head + b'[{"text":"'
    after, numbers = _frame_usage(prompt, continuous)
    finishes = [_finish(p) for p in plans]
    if len(plans) == 1:             # the pieces around the tokens carry index and finish
        [p] = plans
        tokens, total, last = p.tokens, p.total, [p.total - 1]
        suffix = _choice_tail(0) + b"null}]" + after
        last_suffix = (_choice_tail(0) + finishes[0] + b"}]" + after
                       if on_last and total else None)
    else:                           # each frame's own token carries them
        tokens, last = _turns(plans, finishes if on_last else None)
        total, suffix, last_suffix = len(tokens), b"}]" + after, None

    def closing(sent: int, finish: str) -> bytes:
        end = b"".join(splice + _choice_tail(i) + finishes[i] + b"}]"
                       + _closing_usage(prompt, sent, continuous)
                       for i in range(len(plans)) if not (on_last and 0 <= last[i] < sent))
        if include_usage:
            end += b"data: " + head + b'[],"usage":' + openai_usage(prompt, sent) + b"}\n\n"
        return end + SSE_DONE

    return StreamSpec(content_type=SSE, tokens=tokens, total=total, splice=splice,
                      suffix=suffix, last_suffix=last_suffix,
                      finish="length" if plans[0].length else "stop", closing=closing,
                      **numbers)


def _turns(plans: list, finishes: list | None) -> tuple[tuple, list]:
    """A batch's frames, its choices taking turns token by token: each frame's token with
    its choice's index and finish reason (``finishes``' on its last token; None: null
    always). Returns them and the frame of each choice's last token (-1: it has none)."""
    frames, last = [], [-1] * len(plans)
    turn, active = 0, [i for i, p in enumerate(plans) if p.total]
    while active:
        going = []
        for i in active:
            p = plans[i]
            ending = turn == p.total - 1
            frames.append(p.tokens[turn % len(p.tokens)] + _choice_tail(i)
                          + (finishes[i] if ending and finishes is not None else b"null"))
            if ending:
                last[i] = len(frames) - 1
            else:
                going.append(i)
        active, turn = going, turn + 1
    return tuple(frames) or (b"",), last


def prompts(value, param: str) -> list[tuple[str | None, int]]:
    """A prompt or embeddings input: a string, strings, token ids, or arrays of token ids.

    Returns each prompt's text (None for token ids) and token count.
    """
    if isinstance(value, str):
        return [(value, count_tokens(value))]
    if not isinstance(value, list):
        raise request.wrong_type(param, "a string or an array", value)
    if len(value) > MAX_INPUTS:
        raise ApiError(400, f"'{param}' may hold at most {MAX_INPUTS} items", param)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [(None, len(value))]                        # one prompt as token ids
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append((item, count_tokens(item)))
        elif isinstance(item, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                            for v in item):
            out.append((None, len(item)))
        else:
            raise request.wrong_type(f"{param}[{i}]", "a string or an array of token ids", item)
    return out


def inputs(value, param: str) -> tuple[list[str], int]:
    """``prompts(value)``'s texts and its token count in all."""
    items = prompts(value, param)
    return [text for text, _ in items if text is not None], sum(count for _, count in items)


# -- POST /v1/responses -------------------------------------------------------------------

def responses_api(call: Call):
    doc = request.parse(call.body)
    model = request.model(doc)
    instructions = request.string(doc, "instructions") or ""
    items = _response_input(doc.get("input"))
    limit, _ = _limit(doc, "max_output_tokens")
    stream = request.boolean(doc, "stream")
    prompt = call.prompt_tokens = count_tokens(instructions, *(text for _, text in items))
    if call.script is not None:     # scripted answers: the fixture's, when one matches
        answer = call.script.responses(call, doc, model, prompt, stream, limit)
        if answer is not None:
            return answer
    r = _Response(model, prompt, limit)
    forced = structured.forced_tool(doc)                  # issue 15: a forced tool call
    if forced is not None:
        return _forced_function_call(call, r, forced, stream)
    p = plan(call, request.last_text(items), limit, whole=True,  # its closing repeats the text
             content=structured.responses_content(doc))  # issue 15: structured outputs
    mid = IDS.new(b"msg_")

    def part(text: bytes) -> bytes:
        return b'{"type":"output_text","text":"' + text + b'","annotations":[],"logprobs":[]}'

    def item(status: bytes, content: bytes) -> bytes:
        return (b'{"id":"' + mid + b'","type":"message","status":"' + status
                + b'","role":"assistant","content":' + content + b"}")

    final = b"incomplete" if p.length else b"completed"
    if not stream:
        text = p.text()
        return call.whole(r.document(final, b"[" + item(final, b"[" + part(text) + b"]") + b"]",
                                     r.usage(p.total)))

    where = b'"item_id":"' + mid + b'","output_index":0,"content_index":0,'
    opening = (r.opening()
               + _event(b"response.output_item.added", 2,
                        b'"output_index":0,"item":' + item(b"in_progress", b"[]"))
               + _event(b"response.content_part.added", 3, where + b'"part":' + part(b"")))

    def closing(sent: int, finish: str) -> bytes:
        text, seq = p.text(sent), 4 + sent
        status = b"incomplete" if finish == "length" else b"completed"
        done_item = item(status, b"[" + part(text) + b"]")
        return (_event(b"response.output_text.done", seq,
                       where + b'"text":"' + text + b'","logprobs":[]')
                + _event(b"response.content_part.done", seq + 1, where + b'"part":' + part(text))
                + _event(b"response.output_item.done", seq + 2,
                         b'"output_index":0,"item":' + done_item)
                + _event(b"response." + status, seq + 3, b'"response":'
                         + r.document(status, b"[" + done_item + b"]", r.usage(sent))))

    return call.streamed(StreamSpec(
        content_type=SSE, tokens=p.tokens, total=p.total, opening=opening,
        splice=b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
               + where + b'"delta":"',
        suffix=b'","logprobs":[],"sequence_number":', seq_base=4, seq_tail=b"}\n\n",
        finish="length" if p.length else "stop", closing=closing))


class _Response:
    """One Responses API answer's constant fields: the response object around its output."""

    __slots__ = ("rid", "created", "model", "prompt", "limit", "limit_json")

    def __init__(self, model: bytes, prompt: int, limit) -> None:
        self.rid, self.created = IDS.new(b"resp_"), now()
        self.model = model
        self.prompt = prompt
        self.limit = limit                # max_output_tokens, or None
        self.limit_json = b"null" if limit is None else b"%d" % limit

    def document(self, status: bytes, output: bytes, usage: bytes) -> bytes:
        """The response object with ``status``, the ``output`` array and ``usage`` (b"": none;
        the spec lets neither ``usage`` nor ``user`` be null, so they are left out)."""
        incomplete = b'{"reason":"max_output_tokens"}' if status == b"incomplete" else b"null"
        return (b'{"id":"' + self.rid + b'","object":"response","created_at":%d,"status":"'
                % self.created + status + b'","background":false,"error":null,'
                b'"incomplete_details":' + incomplete + b',"instructions":null,'
                b'"max_output_tokens":' + self.limit_json + b',"model":"' + self.model
                + b'","output":' + output + b',"parallel_tool_calls":true,"previous_response_id":'
                b'null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":1.0,'
                b'"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,'
                b'"truncation":"disabled"' + (b',"usage":' + usage if usage else b"")
                + b',"metadata":{}}')

    def usage(self, sent: int) -> bytes:
        prompt = self.prompt
        return (b'{"input_tokens":%d,"input_tokens_details":{"cached_tokens":0,'
                b'"cache_write_tokens":0},"output_tokens":%d,"output_tokens_details":'
                b'{"reasoning_tokens":0},"total_tokens":%d}' % (prompt, sent, prompt + sent))

    def opening(self) -> bytes:
        """``response.created`` and ``response.in_progress`` (sequence numbers 0 and 1)."""
        pending = b'"response":' + self.document(b"in_progress", b"[]", b"")
        return (_event(b"response.created", 0, pending)
                + _event(b"response.in_progress", 1, pending))


def _event(kind: bytes, seq: int, fields: bytes) -> bytes:
    """One Responses API event: its ``event:`` line, then its data with the sequence number."""
    return (b"event: " + kind + b'\ndata: {"type":"' + kind + b'","sequence_number":%d,' % seq
            + fields + b"}\n\n")


def _forced_function_call(call: Call, r: _Response, forced, stream: bool):
    """A forced tool call no fixture answers (issue 15): one ``function_call`` output item
    whose arguments, valid against the tool's parameters, stream as
    ``response.function_call_arguments.delta`` events."""
    p = plan(call, "", r.limit, whole=True, content=forced.arguments)
    fid, call_id = IDS.new(b"fc_"), IDS.new(b"call_")
    name = request.escape(forced.name)

    def item(status: bytes, arguments: bytes) -> bytes:
        return (b'{"id":"' + fid + b'","type":"function_call","status":"' + status
                + b'","arguments":"' + arguments + b'","call_id":"' + call_id + b'","name":"'
                + name + b'"}')

    final = b"incomplete" if p.length else b"completed"
    if not stream:
        return call.whole(r.document(final, b"[" + item(final, p.text()) + b"]",
                                     r.usage(p.total)))
    where = b'"item_id":"' + fid + b'","output_index":0,'
    opening = r.opening() + _event(b"response.output_item.added", 2,
                                   b'"output_index":0,"item":' + item(b"in_progress", b""))

    def closing(sent: int, finish: str) -> bytes:
        arguments, seq = p.text(sent), 3 + sent
        status = b"incomplete" if finish == "length" else b"completed"
        done_item = item(status, arguments)
        return (_event(b"response.function_call_arguments.done", seq,
                       where + b'"name":"' + name + b'","arguments":"' + arguments + b'"')
                + _event(b"response.output_item.done", seq + 1,
                         b'"output_index":0,"item":' + done_item)
                + _event(b"response." + status, seq + 2, b'"response":'
                         + r.document(status, b"[" + done_item + b"]", r.usage(sent))))

    return call.streamed(StreamSpec(
        content_type=SSE, tokens=p.tokens, total=p.total, opening=opening,
        splice=b'event: response.function_call_arguments.delta\ndata: {"type":'
               b'"response.function_call_arguments.delta",' + where + b'"delta":"',
        suffix=b'","sequence_number":', seq_base=3, seq_tail=b"}\n\n",
        finish="length" if p.length else "stop", closing=closing))


def _response_input(value) -> list[tuple[str, str]]:
    """The Responses API ``input``: a string (one user message) or an array of items."""
    if value is None:
        return []
    if isinstance(value, str):
        return [("user", value)]
    if not isinstance(value, list):
        raise request.wrong_type("input", "a string or an array of input items", value)
    out = []
    for i, entry in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(entry, dict):
            raise request.wrong_type(where, "an object", entry)
        role = entry.get("role")
        if role is None:              # function_call_output, reasoning, ...: no prompt text
            continue
        if not isinstance(role, str):
            raise request.wrong_type(where + ".role", "a string", role)
        out.append((role, request.content_text(entry.get("content"), where + ".content",
                                              ("input_text", "output_text", "text"))))
    return out


# -- GET /v1/models, GET /v1/models/{id} --------------------------------------------------

# what GET /v1/models says of every model's context length (vLLM's max_model_len)
MAX_MODEL_LEN = 32768


def model_object(name: bytes) -> bytes:
    """A model as OpenAI (id, object, created, owned_by), vLLM (root, parent, max_model_len,
    permission: ``vllm bench serve`` reads root) and Anthropic (type, display_name,
    created_at) clients read it: the APIs share this path."""
    return (b'{"id":"' + name + b'","object":"model","created":%d,"owned_by":"fastmock",'
            b'"root":"' % STATIC_CREATED + name + b'","parent":null,"max_model_len":%d,'
            b'"permission":[{"id":"modelperm-fastmock","object":"model_permission",'
            b'"created":%d,"allow_create_engine":false,"allow_sampling":true,'
            b'"allow_logprobs":true,"allow_search_indices":false,"allow_view":true,'
            b'"allow_fine_tuning":false,"organization":"*","group":null,"is_blocking":false}],'
            b'"type":"model","display_name":"' % (MAX_MODEL_LEN, STATIC_CREATED) + name
            + b'","created_at":"' + STATIC_CREATED_AT + b'"}')


def list_models(call: Call):
    names = call.frames.served
    return call.whole(b'{"object":"list","data":[' + b",".join(map(model_object, names))
                      + b'],"has_more":false,"first_id":"' + names[0] + b'","last_id":"'
                      + names[-1] + b'"}')


def get_model(call: Call):
    raw = call.path[len(b"/v1/models/"):]
    if not raw:
        raise ApiError(404, "no model id in the path", "model")
    name = unquote(raw, plus=False).decode("utf-8", "replace")
    return call.whole(model_object(request.escape(name)))
