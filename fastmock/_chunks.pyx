# cython: language_level=3
"""Every byte fastmock streams, encoded once.

A corpus is split into tokens once and each token is JSON-escaped once; the
constant pieces of every stream kind's frames around a token are bytes here
too, so a frame on the wire is only these pieces joined (see StreamSpec): no
JSON is encoded per token, and one token table serves every API. The bodies of
/api/data and /health are here too; HTTP heads are wire.py's.

No I/O and no asyncio here: bytes in, bytes out.
"""

DEFAULT_TEXT = (
    "Streaming is how large language models feel fast… Instead of waiting "
    "for the whole answer, the server sends each token as soon as it is ready, and the "
    "client paints it on the screen right away. A naïve mock reproduces that rhythm "
    "without a model: it splits a fixed text into tokens once at start-up, then writes "
    "them one by one with a short pause in between, flushing after every write so that "
    "nothing waits in a buffer. Server-sent events frame each token as a data line "
    "followed by a blank line, and the stream ends with a 🏁 marker. Newline-delimited "
    "JSON does the same with one object per line, the way Ollama answers. Because the "
    "text never changes, the output is deterministic, which makes the mock useful for "
    "testing chat front ends, client libraries and gateways under load. The interesting "
    "costs are not in the text at all: they are the number of open connections, the "
    "timers that pace every stream, the small writes that each become a system call, and "
    "the memory that every waiting client holds. A good mock keeps all of them small, so "
    "that a single modest machine can hold thousands of streams at once and still answer "
    "every request in a few milliseconds."
)
CHAT_MODEL = "mock-gpt-4o"
OLLAMA_MODEL = "mock-llama3"
PROMPT_TOKENS = 12
# The time of every document that never changes (/api/data, the model lists), so that it
# stays byte-identical across requests, runs and servers: a Unix time and the same instant.
STATIC_CREATED = 1700000000
STATIC_CREATED_AT = b"2023-11-14T22:13:20Z"

cdef str _ESCAPES = '"\\'


cpdef bytes json_string(str text):
    """The JSON string literal body of ``text`` (no quotes), as UTF-8."""
    cdef list out = []
    cdef Py_UCS4 ch
    cdef Py_ssize_t start = 0, i = 0, n = len(text)
    for i in range(n):
        ch = text[i]
        if ch < 0x20 or ch == 0x22 or ch == 0x5C or ch == 0x2028 or ch == 0x2029:
            out.append(text[start:i])
            if ch == 0x22:
                out.append('\\"')
            elif ch == 0x5C:
                out.append('\\\\')
            elif ch == 0x0A:
                out.append('\\n')
            elif ch == 0x0D:
                out.append('\\r')
            elif ch == 0x09:
                out.append('\\t')
            else:
                out.append('\\u%04x' % <long>ch)
            start = i + 1
    out.append(text[start:n])
    return ''.join(out).encode('utf-8')


cpdef list split_tokens(str text):
    """Tokens that keep their trailing space, so the deltas concatenate back to ``text``."""
    cdef list tokens = []
    cdef Py_ssize_t start = 0, i, n = len(text)
    for i in range(n):
        if text[i] == ' ':
            tokens.append(text[start:i + 1])
            start = i + 1
    if start < n:
        tokens.append(text[start:n])
    return tokens


cpdef tuple cycled(tuple escaped):
    """``escaped`` (tokens) to send cycled: the last token gets the space that parts it from
    the first, so an answer that wraps around splits back into the tokens it sent."""
    cdef Py_ssize_t n = len(escaped)
    cdef bytes last
    if n == 0:
        return escaped
    last = escaped[n - 1]
    if last.endswith(b" "):
        return escaped
    return escaped[:n - 1] + (last + b" ",)


cdef class Corpus:
    """A text split into tokens, each JSON-escaped once."""

    cdef readonly str text
    cdef readonly tuple tokens       # str
    cdef readonly tuple escaped      # bytes, JSON string bodies
    cdef readonly tuple cycled       # escaped, for an answer longer than the text (cycled())

    def __init__(self, str text):
        cdef list tokens = split_tokens(text)
        if not tokens:
            raise ValueError("the corpus has no tokens")
        self.text = text
        self.tokens = tuple(tokens)
        self.escaped = tuple([json_string(t) for t in tokens])
        self.cycled = cycled(self.escaped)

    cpdef tuple sent(self, long long total):
        """The tokens an answer of ``total`` tokens sends (-1: endless): cycled past the end."""
        return self.escaped if 0 <= total <= len(self.escaped) else self.cycled

    def __len__(self):
        return len(self.tokens)


# An OpenAI chat.completion.chunk SSE event, the one owner of its shape (the seed
# /stream-sse and /v1/chat/completions both build theirs from here):
#   CHAT_ID_OPEN + id + chat_chunk_after_id(created, model)   up to the delta's "{"
#   + (CHAT_FIRST_PREFIX | CHAT_PREFIX) + token + '"'       the delta's fields
#   + chat_chunk_end(finish_reason, logprobs)               "}", finish_reason, "}]}\n\n"
# The seed stream's chunks carry no "logprobs" key: CHAT_SUFFIX and CHAT_LAST_SUFFIX.
CHAT_FIRST_PREFIX = b'"role":"assistant","content":"'
CHAT_PREFIX = b'"content":"'
SSE_DONE = b"data: [DONE]\n\n"
CHAT_ID_OPEN = b'data: {"id":"'
CHUNK_END = b"}\n\n"                 # what closes an OpenAI chunk (chat or completions) and its event


cpdef bytes chat_choice_end(str finish_reason, bint logprobs):
    """What closes a chunk's choice after its delta's fields, up to the choices' "]";
    ``finish_reason`` None is JSON null."""
    return (b'},' + (b'"logprobs":null,' if logprobs else b'') + b'"finish_reason":'
            + (b'null' if finish_reason is None else b'"' + finish_reason.encode() + b'"')
            + b'}]')


cpdef bytes chat_chunk_end(str finish_reason, bint logprobs):
    """What closes a chunk after its delta's fields; ``finish_reason`` None is JSON null."""
    return chat_choice_end(finish_reason, logprobs) + CHUNK_END


CHAT_SUFFIX = b'"' + chat_chunk_end(None, False)
CHAT_LAST_SUFFIX = b'"' + chat_chunk_end("stop", False)


cpdef bytes chat_chunk_after_id(long created, bytes model, bint usage=False):
    """What follows the id in every chunk of a response: up to the delta's "{", or (``usage``)
    the usage chunk's, up to its usage object (stream_options.include_usage)."""
    cdef bytes choices = (b'","choices":[],"usage":' if usage
                          else b'","choices":[{"index":0,"delta":{')
    return (b'","object":"chat.completion.chunk","created":' + b"%d" % created + b',"model":"'
            + model + choices)


cpdef bytes chat_chunk_splice(bytes completion_id, long created, bytes model, bint usage=False):
    """The per-response part in front of every chat chunk's delta (or the usage object)."""
    return CHAT_ID_OPEN + completion_id + chat_chunk_after_id(created, model, usage)


# An OpenAI usage object (chat and completions, whole or streamed), the one owner of its
# shape; the compiled path writes the same pieces:
#   USAGE_PROMPT + prompt + USAGE_COMPLETION + completion + USAGE_TOTAL + total
#   + USAGE_DETAILS + reasoning tokens + USAGE_END
# (a stream with continuous usage puts its two running numbers between the pieces).
USAGE_PROMPT = b'{"prompt_tokens":'
USAGE_COMPLETION = b',"completion_tokens":'
USAGE_TOTAL = b',"total_tokens":'
USAGE_DETAILS = (b',"prompt_tokens_details":{"cached_tokens":0},'
                 b'"completion_tokens_details":{"reasoning_tokens":')
USAGE_END = b"}}"


cpdef bytes openai_usage(long long prompt, long long completion, long long reasoning=0):
    """The usage object of ``prompt`` and ``completion`` tokens (``reasoning`` of them)."""
    return (USAGE_PROMPT + b"%d" % prompt + USAGE_COMPLETION + b"%d" % completion + USAGE_TOTAL
            + b"%d" % (prompt + completion) + USAGE_DETAILS + b"%d" % reasoning + USAGE_END)


cpdef tuple running_usage(long long prompt):
    """A chunk's ``"usage"`` whose counts run with the frames (vLLM's continuous_usage_stats),
    as StreamSpec pieces: (what follows the choices, up to the completion count; what
    follows that count, up to the total; what follows the total, closing the chunk).
    Frame n counts n + 1 completion tokens: seq_base 1, seq2_base prompt + 1."""
    return (b',"usage":' + USAGE_PROMPT + b"%d" % prompt + USAGE_COMPLETION, USAGE_TOTAL,
            USAGE_DETAILS + b"0" + USAGE_END + CHUNK_END)


# An Ollama NDJSON line, the one owner of its shape (the seed /stream-ndjson, /api/generate
# and /api/chat build theirs from here):
#   ollama_splice(model) + created_at stamp + prefix + token + suffix
# where (prefix, suffix) = ollama_line_pieces(field), and field is the line's text field,
# (what opens it, what closes it): /api/generate's "response" or /api/chat's message.
# The last line is ollama_done(...), with done:true and the counts and durations.
OLLAMA_GENERATE = (b'"response":"', b'",')
OLLAMA_CHAT = (b'"message":{"role":"assistant","content":"', b'"},')


cpdef bytes ollama_splice(bytes model):
    """The per-response part in front of every line's created_at stamp."""
    return b'{"model":"' + model + b'","created_at":"'


cpdef tuple ollama_line_pieces(tuple field):
    """(prefix, suffix) around the token of a line that is not the last."""
    return b'",' + field[0], field[1] + b'"done":false}\n'


OLLAMA_PREFIX, OLLAMA_SUFFIX = ollama_line_pieces(OLLAMA_GENERATE)


cpdef bytes ollama_done(bytes splice, bytes stamp, tuple field, bytes text, str done_reason,
                        long prompt_count=0, long eval_count=0, long long elapsed_ns=-1,
                        bint context=False):
    """The closing ``done: true`` line (newline included), ``text`` in its text field.

    Its durations hold together: total_duration (``elapsed_ns``, at least 3) is
    load_duration (1) + prompt_eval_duration (1) + eval_duration (the rest), as
    Ollama's own do. ``elapsed_ns`` < 0: no counts nor durations (a load request).
    ``context`` (/api/generate): Ollama's ``context`` after done_reason, the token ids of
    prompt and answer, here 1 .. prompt_count + eval_count (ollama_context).
    """
    cdef bytes line = (splice + stamp + b'",' + field[0] + text + field[1]
                       + b'"done":true,"done_reason":"' + done_reason.encode() + b'"')
    if elapsed_ns < 0:
        return line + b'}\n'
    if context:
        line += b',"context":' + ollama_context(prompt_count + eval_count)
    cdef long long total = max(elapsed_ns, 3)
    return line + (b',"total_duration":%d,"load_duration":1,"prompt_eval_count":%d,'
                   b'"prompt_eval_duration":1,"eval_count":%d,"eval_duration":%d}\n'
                   % (total, prompt_count, eval_count, total - 2))


cpdef bytes ollama_context(long long n):
    """A final /api/generate object's ``context``: ``[1,2,...,n]`` (stand-in token ids)."""
    return b"[" + b",".join([b"%d" % i for i in range(1, n + 1)]) + b"]"


cpdef bytes api_data_body(Corpus corpus, bytes model):
    """The static chat.completion document of /api/data (newline-terminated, as Go's encoder)."""
    cdef Py_ssize_t n = len(corpus.tokens)
    return (b'{"id":"chatcmpl-mock-static","object":"chat.completion","created":%d,'
            b'"model":"' % STATIC_CREATED + model
            + b'","choices":[{"index":0,"message":{"role":"assistant","content":"'
            + json_string(corpus.text)
            + b'"},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,'
              b'"completion_tokens":%d,"total_tokens":%d}}\n' % (PROMPT_TOKENS, n, PROMPT_TOKENS + n))


HEALTH_BODY = b'{"status":"ok"}'
