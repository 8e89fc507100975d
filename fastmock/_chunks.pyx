# cython: language_level=3
"""Every byte fastmock streams, encoded once.

A corpus is split into tokens once; each token is JSON-escaped once and baked
into the tail of its frame for every stream kind, in two framings: HTTP/1.1
chunked (size line and CRLF included) and raw (HTTP/1.0, close-delimited).
A frame on the wire is ``size_line + splice + tail``: the splice is the part
that differs per response (ids, timestamps, model) and always has one length
within a response, so its size lines are computed once per length and cached.
Whole responses for /api/data and /health are complete HTTP messages.

No I/O and no asyncio here: bytes in, bytes out.
"""

DEFAULT_TEXT = (
    "Streaming is how large language models feel fast. Instead of waiting "
    "for the whole answer, the server sends each token as soon as it is ready, and the "
    "client paints it on the screen right away. A mock server reproduces that rhythm "
    "without a model: it splits a fixed text into tokens once at start-up, then writes "
    "them one by one with a short pause in between, flushing after every write so that "
    "nothing waits in a buffer. Server-sent events frame each token as a data line "
    "followed by a blank line, and the stream ends with a done marker. Newline-delimited "
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
# Keeps /api/data byte-identical across requests, runs and servers.
STATIC_CREATED = 1700000000

# Variant indexes of FrameTable.tails: a frame is plain, the first of its
# response, the last, or both at once (a one-token response).
PLAIN = 0
FIRST = 1
LAST = 2
ONLY = 3

CRLF = b"\r\n"
# The zero-size chunk that ends a chunked body.
END_CHUNKED = b"0\r\n\r\n"

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


cdef bytes _size_line(Py_ssize_t size):
    return b"%x\r\n" % size


cdef class FrameTable:
    """The tails of one stream kind's frames, per token and variant, in both framings."""

    cdef readonly Py_ssize_t count          # tokens in the corpus
    cdef readonly tuple chunked             # 4 variants x count tails, CRLF included
    cdef readonly tuple raw                 # the same without chunked framing
    cdef readonly tuple no_size_lines       # empty heads for raw frames, shaped like size_lines()
    cdef readonly bytes done_chunked        # what ends the stream (terminator included)
    cdef readonly bytes done_raw
    cdef dict _size_lines

    def __init__(self, tuple variants, bytes done):
        cdef tuple tails
        self.count = len(variants[PLAIN])
        self.raw = variants
        self.chunked = tuple([tuple([tail + CRLF for tail in tails]) for tails in variants])
        self.no_size_lines = tuple([tuple([b"" for tail in tails]) for tails in variants])
        self.done_raw = done
        self.done_chunked = (_size_line(len(done)) + done + CRLF if done else b"") + END_CHUNKED
        self._size_lines = {}

    cpdef tuple size_lines(self, Py_ssize_t splice_len):
        """Chunk size lines for every tail when each frame carries ``splice_len`` spliced bytes."""
        cdef tuple lines = self._size_lines.get(splice_len)
        cdef tuple tails
        if lines is None:
            lines = tuple([
                tuple([_size_line(splice_len + len(tail)) for tail in tails])
                for tails in self.raw
            ])
            if len(self._size_lines) < 64:   # one entry per model-name length in practice
                self._size_lines[splice_len] = lines
        return lines


cdef tuple _variants(list plain, list first, list last, list only):
    return (tuple(plain), tuple(first), tuple(last), tuple(only))


cdef class Corpus:
    """A text split into tokens, each JSON-escaped once."""

    cdef readonly str text
    cdef readonly tuple tokens       # str
    cdef readonly tuple escaped      # bytes, JSON string bodies

    def __init__(self, str text):
        cdef list tokens = split_tokens(text)
        if not tokens:
            raise ValueError("the corpus has no tokens")
        self.text = text
        self.tokens = tuple(tokens)
        self.escaped = tuple([json_string(t) for t in tokens])

    def __len__(self):
        return len(self.tokens)


cpdef FrameTable chat_chunk_table(Corpus corpus):
    """OpenAI chat.completion.chunk SSE events; splice = ``data: {"id":...,"delta":{``."""
    cdef list plain = [], first = [], last = [], only = []
    cdef bytes tok
    for tok in corpus.escaped:
        plain.append(b'"content":"' + tok + b'"},"finish_reason":null}]}\n\n')
        first.append(b'"role":"assistant","content":"' + tok + b'"},"finish_reason":null}]}\n\n')
        last.append(b'"content":"' + tok + b'"},"finish_reason":"stop"}]}\n\n')
        only.append(b'"role":"assistant","content":"' + tok + b'"},"finish_reason":"stop"}]}\n\n')
    return FrameTable(_variants(plain, first, last, only), b"data: [DONE]\n\n")


cpdef bytes chat_chunk_splice(bytes completion_id, long created, bytes model):
    """The per-response part in front of every chat chunk's delta."""
    return (b'data: {"id":"' + completion_id + b'","object":"chat.completion.chunk","created":'
            + b"%d" % created + b',"model":"' + model + b'","choices":[{"index":0,"delta":{')


cpdef FrameTable ollama_generate_table(Corpus corpus):
    """Ollama /api/generate lines; splice = ``{"model":"...","created_at":"<stamp>``.

    The final ``done: true`` line carries per-response durations, so it is not
    in the table: see ollama_generate_done.
    """
    cdef list plain = []
    cdef bytes tok
    for tok in corpus.escaped:
        plain.append(b'","response":"' + tok + b'","done":false}\n')
    return FrameTable(_variants(plain, plain, plain, plain), b"")


cpdef bytes ollama_generate_done(bytes model, bytes stamp, long eval_count,
                                 long long total_ns, str done_reason):
    """The closing ``done: true`` line of an /api/generate stream."""
    return (b'{"model":"' + model + b'","created_at":"' + stamp
            + b'","response":"","done":true,"done_reason":"' + done_reason.encode()
            + b'","total_duration":%d,"load_duration":1,"prompt_eval_count":%d,'
              b'"prompt_eval_duration":1,"eval_count":%d,"eval_duration":%d}\n'
            % (total_ns, PROMPT_TOKENS, eval_count, max(total_ns, 1)))


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

# Connection handling variants of a whole response, in this order.
KEEP_ALIVE = 0      # HTTP/1.1 default: no Connection header needed
KEEP_ALIVE_10 = 1   # HTTP/1.0 client that asked for keep-alive
CLOSE = 2

cdef tuple _CONNECTION_LINES = (b"", b"Connection: keep-alive\r\n", b"Connection: close\r\n")


cpdef tuple whole_responses(bytes status_line, bytes headers, bytes body):
    """A complete response per connection variant, and the same heads for HEAD.

    ``headers`` are the CRLF-terminated header lines without Content-Length
    and Connection. Returns (get_variants, head_variants), each indexed by
    KEEP_ALIVE / KEEP_ALIVE_10 / CLOSE.
    """
    cdef bytes line
    cdef list heads = []
    for line in _CONNECTION_LINES:
        heads.append(status_line + headers + b"Content-Length: %d\r\n" % len(body) + line + CRLF)
    return tuple([h + body for h in heads]), tuple(heads)
