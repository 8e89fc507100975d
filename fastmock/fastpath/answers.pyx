# The answers, byte for byte what the Python API modules build (fastmock/providers:
# openai, anthropic, ollama, embeddings), from constant pieces and a few spliced
# fields: the id, the model, the time, the usage. tests/unit/test_fastpath.py holds the
# two paths to the same bytes over many bodies; a change to one of those modules'
# documents must be made here too.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, strlen
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct tm:
        int tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year
    tm *gmtime_r(const time_t *timep, tm *result)

cdef Buf _out                      # the document being built (one process, one thread)
cdef Buf _piece                    # a piece of it made apart (a splice, a head)


cdef inline int put_b(Buf *b, bytes data) noexcept:
    return put(b, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


cdef int put_int(Buf *b, long long value) noexcept nogil:
    """b"%d" % value"""
    cdef char digits[24]
    cdef int n = 24
    cdef bint negative = value < 0
    cdef unsigned long long v = -value if negative else value
    while True:
        n -= 1
        digits[n] = 48 + v % 10
        v //= 10
        if v == 0:
            break
    if negative:
        n -= 1
        digits[n] = 45
    return put(b, digits + n, 24 - n)


cdef inline int put_text(Buf *b, Text *t) noexcept nogil:
    return put(b, t.start, t.size)


# -- ids: fastmock.ids owns them (its prefix, redrawn in a forked worker, and its counter) ------

from fastmock.ids import IDS


cdef int _id_digits(char *out) except -1:
    """The 24 hex digits of a new id: IDS's prefix, then its next count (ids.Ids.new())."""
    cdef bytes prefix = IDS.prefix
    cdef unsigned long long v = IDS.next()
    cdef int i
    memcpy(out, PyBytes_AS_STRING(prefix), 8)
    for i in range(23, 7, -1):
        out[i] = b"0123456789abcdef"[v & 15]
        v >>= 4
    return 0


cdef int put_id(Buf *b, const char *kind) except -1:
    """``kind`` + 24 hex digits, unique per response across the workers of a server."""
    cdef char digits[24]
    _id_digits(digits)
    put(b, kind, strlen(kind))
    put(b, digits, 24)
    return 0


cdef bytes fresh_id(const char *kind):
    """IDS.new(kind), without its formatting."""
    cdef Py_ssize_t n = strlen(kind)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n + 24)
    memcpy(PyBytes_AS_STRING(out), kind, n)
    _id_digits(PyBytes_AS_STRING(out) + n)
    return out


# -- time -------------------------------------------------------------------------------------

cdef inline long long _now() noexcept nogil:
    """answers.now(): whole seconds since the epoch."""
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec


cdef inline long long monotonic_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000000000LL + ts.tv_nsec


cdef inline void _two(char *out, int v) noexcept nogil:
    out[0] = 48 + v // 10
    out[1] = 48 + v % 10


cdef int put_stamp(Buf *b) noexcept nogil:
    """providers.ollama.stamp(): RFC 3339 UTC with microseconds, 2026-11-24T06:03:27.123456Z."""
    cdef timespec ts
    cdef tm t
    cdef char out[27]
    cdef double now
    cdef time_t seconds
    cdef long long micros
    cdef int i
    clock_gettime(CLOCK_REALTIME, &ts)
    now = ts.tv_sec + ts.tv_nsec * 1e-9
    seconds = <time_t>now
    micros = <long long>(now * 1000000) % 1000000
    gmtime_r(&seconds, &t)
    i = t.tm_year + 1900
    _two(out, i // 100)
    _two(out + 2, i % 100)
    out[4] = 45
    _two(out + 5, t.tm_mon + 1)
    out[7] = 45
    _two(out + 8, t.tm_mday)
    out[10] = 84
    _two(out + 11, t.tm_hour)
    out[13] = 58
    _two(out + 14, t.tm_min)
    out[16] = 58
    _two(out + 17, t.tm_sec)
    out[19] = 46
    for i in range(25, 19, -1):
        out[i] = 48 + micros % 10
        micros //= 10
    out[26] = 90
    return put(b, out, 27)


# -- the answer's text: the corpus, cut or cycled ---------------------------------------------

cdef class Corpus:
    """The server's tokens (JSON-escaped) joined once, and where each one ends."""

    cdef readonly tuple tokens      # frames.Corpus.escaped: what streams send
    cdef bytes joined
    cdef Py_ssize_t *ends           # ends[i]: bytes of the first i tokens
    cdef Py_ssize_t count

    def __cinit__(self, tuple tokens):
        cdef Py_ssize_t i, total = 0
        self.tokens = tokens
        self.joined = b"".join(tokens)
        self.count = len(tokens)
        self.ends = <Py_ssize_t *>malloc((self.count + 1) * sizeof(Py_ssize_t))
        if self.ends == NULL:
            raise MemoryError()
        self.ends[0] = 0
        for i in range(self.count):
            total += len(<bytes>tokens[i])
            self.ends[i + 1] = total

    def __dealloc__(self):
        free(self.ends)

    cdef int put_text(self, Buf *b, long long n) except -1:
        """answers.joined(): the first ``n`` tokens, cycled."""
        cdef const char *text = PyBytes_AS_STRING(self.joined)
        cdef long long whole = n // self.count
        while whole:
            put(b, text, self.ends[self.count])
            whole -= 1
        put(b, text, self.ends[n % self.count])
        return 0


cdef struct Plan:
    long long total                 # tokens sent
    bint length                     # the body's own limit cut the answer short


cdef inline void plan(Plan *p, long long natural, long long limit) noexcept nogil:
    """answers.plan() without controls or echo: the corpus, up to the body's limit."""
    if limit != ABSENT and limit < natural:
        p.total, p.length = limit, True
    else:
        p.total, p.length = natural, False


# -- OpenAI chat completions ---------------------------------------------------------------------

# the usage object's pieces: frames (_chunks) owns its shape
from fastmock import frames
cdef bytes USAGE_PROMPT = frames.USAGE_PROMPT, USAGE_COMPLETION = frames.USAGE_COMPLETION
cdef bytes USAGE_TOTAL = frames.USAGE_TOTAL, USAGE_DETAILS = frames.USAGE_DETAILS
cdef bytes USAGE_END = frames.USAGE_END


cdef int put_usage(Buf *b, long long prompt, long long completion) noexcept:
    """frames.openai_usage(prompt, completion)"""
    put_b(b, USAGE_PROMPT)
    put_int(b, prompt)
    put_b(b, USAGE_COMPLETION)
    put_int(b, completion)
    put_b(b, USAGE_TOTAL)
    put_int(b, prompt + completion)
    put_b(b, USAGE_DETAILS)
    put_int(b, 0)
    return put_b(b, USAGE_END)


cdef int chat_document(Buf *b, Corpus corpus, Body *body, Plan *p, const char *kind) except -1:
    """providers.openai.chat(), not streamed; ``kind`` "chatcmpl-"."""
    put_b(b, b'{"id":"')
    put_id(b, kind)
    put_b(b, b'","object":"chat.completion","created":')
    put_int(b, _now())
    put_b(b, b',"model":"')
    put_text(b, &body.model)
    put_b(b, b'","choices":[{"index":0,"message":{"role":"assistant","content":"')
    corpus.put_text(b, p.total)
    put_b(b, b'","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"')
    put_b(b, b'length"}],"usage":' if p.length else b'stop"}],"usage":')
    put_usage(b, body.tokens, p.total)
    put_b(b, b',"system_fingerprint":"fp_fastmock"}')
    return 0


cdef int chat_splice_tail(Buf *b, long long created, Body *body) except -1:
    """frames.chat_chunk_splice(cid, created, model) after its id, up to its choices."""
    put_b(b, b'","object":"chat.completion.chunk","created":')
    put_int(b, created)
    put_b(b, b',"model":"')
    put_text(b, &body.model)
    put_b(b, b'","choices":')
    return 0


# -- OpenAI completions --------------------------------------------------------------------------

cdef int completion_head(Buf *b, bytes cid, long long created, Body *body) except -1:
    """The document's head up to its choices; ``cid`` None: a new id."""
    put_b(b, b'{"id":"')
    if cid is None:
        put_id(b, "cmpl-")
    else:
        put_b(b, cid)
    put_b(b, b'","object":"text_completion","created":')
    put_int(b, created)
    put_b(b, b',"model":"')
    put_text(b, &body.model)
    put_b(b, b'","choices":')
    return 0


cdef bytes COMPLETION_TAIL = b'","index":0,"logprobs":null,"finish_reason":'


cdef int completion_document(Buf *b, Corpus corpus, Body *body, Plan *p) except -1:
    """providers.openai.completions(), not streamed."""
    completion_head(b, None, _now(), body)
    put_b(b, b'[{"text":"')
    corpus.put_text(b, p.total)
    put_b(b, COMPLETION_TAIL)
    put_b(b, b'"length"}],"usage":' if p.length else b'"stop"}],"usage":')
    put_usage(b, body.tokens, p.total)
    put_b(b, b"}")
    return 0


# -- OpenAI Responses ------------------------------------------------------------------------------

# response(status, output, usage) of providers.openai.responses_api, around its fields
cdef bytes RESPONSE_1 = b'","background":false,"error":null,"incomplete_details":'
cdef bytes RESPONSE_2 = b',"instructions":null,"max_output_tokens":'
cdef bytes RESPONSE_3 = (b',"parallel_tool_calls":true,"previous_response_id":null,"reasoning":'
                         b'{"effort":null,"summary":null},"store":false,"temperature":1.0,"text":'
                         b'{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,'
                         b'"truncation":"disabled"')
cdef bytes PART_1 = b'{"type":"output_text","text":"'
cdef bytes PART_2 = b'","annotations":[],"logprobs":[]}'


cdef struct ResponseIds:
    char rid[29]                    # "resp_" + 24 hex digits
    char mid[28]                    # "msg_" + 24 hex digits
    long long created


cdef int response_head(Buf *b, ResponseIds *ids, const char *status, bint incomplete,
                       Body *body) except -1:
    """response() up to its "output": value."""
    put_b(b, b'{"id":"')
    put(b, ids.rid, 29)
    put_b(b, b'","object":"response","created_at":')
    put_int(b, ids.created)
    put_b(b, b',"status":"')
    put(b, status, strlen(status))
    put_b(b, RESPONSE_1)
    put_b(b, b'{"reason":"max_output_tokens"}' if incomplete else b"null")
    put_b(b, RESPONSE_2)
    if body.limit == ABSENT:
        put_b(b, b"null")
    else:
        put_int(b, body.limit)
    put_b(b, b',"model":"')
    put_text(b, &body.model)
    put_b(b, b'","output":')
    return 0


cdef int response_usage(Buf *b, long long prompt, long long sent) noexcept:
    put_b(b, b'{"input_tokens":')
    put_int(b, prompt)
    put_b(b, b',"input_tokens_details":{"cached_tokens":0,"cache_write_tokens":0},"output_tokens":')
    put_int(b, sent)
    put_b(b, b',"output_tokens_details":{"reasoning_tokens":0},"total_tokens":')
    put_int(b, prompt + sent)
    return put_b(b, b"}")


cdef int response_tail(Buf *b, Body *body, long long sent, bint with_usage) except -1:
    """response() after its "output": value."""
    put_b(b, RESPONSE_3)
    if with_usage:                  # a response in progress has none: the key is left out
        put_b(b, b',"usage":')
        response_usage(b, body.tokens + body.tokens2, sent)
    put_b(b, b',"metadata":{}}')
    return 0


cdef int response_item(Buf *b, ResponseIds *ids, const char *status, Corpus corpus,
                       long long sent) except -1:
    """item(status, [part(text)]); sent < 0: item(status, [])."""
    put_b(b, b'{"id":"')
    put(b, ids.mid, 28)
    put_b(b, b'","type":"message","status":"')
    put(b, status, strlen(status))
    put_b(b, b'","role":"assistant","content":')
    if sent < 0:
        put_b(b, b"[]}")
        return 0
    put_b(b, b"[")
    put_b(b, PART_1)
    corpus.put_text(b, sent)
    put_b(b, PART_2)
    put_b(b, b"]}")
    return 0


cdef int response_ids(ResponseIds *ids) except -1:
    memcpy(ids.rid, b"resp_", 5)
    _id_digits(ids.rid + 5)
    memcpy(ids.mid, b"msg_", 4)
    _id_digits(ids.mid + 4)
    ids.created = _now()
    return 0


cdef int response_document(Buf *b, Corpus corpus, Body *body, Plan *p) except -1:
    """providers.openai.responses_api(), not streamed."""
    cdef ResponseIds ids
    cdef const char *status = "incomplete" if p.length else "completed"
    response_ids(&ids)
    response_head(b, &ids, status, p.length, body)
    put_b(b, b"[")
    response_item(b, &ids, status, corpus, p.total)
    put_b(b, b"]")
    return response_tail(b, body, p.total, True)


cdef int response_event(Buf *b, const char *kind, long long seq) except -1:
    """event(kind, seq, ...) up to its fields."""
    cdef Py_ssize_t n = strlen(kind)
    put_b(b, b"event: ")
    put(b, kind, n)
    put_b(b, b'\ndata: {"type":"')
    put(b, kind, n)
    put_b(b, b'","sequence_number":')
    put_int(b, seq)
    put_b(b, b",")
    return 0


cdef int response_where(Buf *b, ResponseIds *ids) noexcept:
    put_b(b, b'"item_id":"')
    put(b, ids.mid, 28)
    return put_b(b, b'","output_index":0,"content_index":0,')


cdef int response_opening(Buf *b, ResponseIds *ids, Body *body) except -1:
    """The four events before the first delta of a Responses stream."""
    cdef int i
    for i in range(2):
        response_event(b, "response.created" if i == 0 else "response.in_progress", i)
        put_b(b, b'"response":')
        response_head(b, ids, "in_progress", False, body)
        put_b(b, b"[]")
        response_tail(b, body, 0, False)
        put_b(b, b"}\n\n")
    response_event(b, "response.output_item.added", 2)
    put_b(b, b'"output_index":0,"item":')
    response_item(b, ids, "in_progress", None, -1)
    put_b(b, b"}\n\n")
    response_event(b, "response.content_part.added", 3)
    response_where(b, ids)
    put_b(b, b'"part":')
    put_b(b, PART_1)
    put_b(b, PART_2)
    put_b(b, b"}\n\n")
    return 0


cdef int response_closing(Buf *b, ResponseIds *ids, Body *body, Corpus corpus, long long sent,
                          bint length) except -1:
    """The four events after the last delta of a Responses stream."""
    cdef long long seq = 4 + sent
    cdef const char *status = "incomplete" if length else "completed"
    response_event(b, "response.output_text.done", seq)
    response_where(b, ids)
    put_b(b, b'"text":"')
    corpus.put_text(b, sent)
    put_b(b, b'","logprobs":[]}\n\n')
    response_event(b, "response.content_part.done", seq + 1)
    response_where(b, ids)
    put_b(b, b'"part":')
    put_b(b, PART_1)
    corpus.put_text(b, sent)
    put_b(b, PART_2)
    put_b(b, b"}\n\n")
    response_event(b, "response.output_item.done", seq + 2)
    put_b(b, b'"output_index":0,"item":')
    response_item(b, ids, status, corpus, sent)
    put_b(b, b"}\n\n")
    response_event(b, "response.incomplete" if length else "response.completed", seq + 3)
    put_b(b, b'"response":')
    response_head(b, ids, status, length, body)
    put_b(b, b"[")
    response_item(b, ids, status, corpus, sent)
    put_b(b, b"]")
    response_tail(b, body, sent, True)
    put_b(b, b"}\n\n")
    return 0


# -- Anthropic messages ----------------------------------------------------------------------------

# anthropic.usage(): between input_tokens and output_tokens
cdef bytes MESSAGE_CACHE = b',"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":'

cdef int message_head(Buf *b, Body *body) except -1:
    """A message's head, with a new id, up to its content."""
    put_b(b, b'{"id":"')
    put_id(b, "msg_")
    put_b(b, b'","type":"message","role":"assistant","model":"')
    put_text(b, &body.model)
    put_b(b, b'","content":')
    return 0


cdef int message_document(Buf *b, Corpus corpus, Body *body, Plan *p) except -1:
    """providers.anthropic.messages(), not streamed."""
    message_head(b, body)
    put_b(b, b'[{"type":"text","text":"')
    corpus.put_text(b, p.total)
    put_b(b, b'"}],"stop_reason":"max_tokens' if p.length else b'"}],"stop_reason":"end_turn')
    put_b(b, b'","stop_sequence":null,"usage":{"input_tokens":')
    put_int(b, body.tokens + body.tokens2)
    put_b(b, MESSAGE_CACHE)
    put_int(b, p.total)
    put_b(b, b"}}")
    return 0


cdef int message_event(Buf *b, const char *kind) noexcept:
    """providers.anthropic._event(kind, ...) up to its fields."""
    cdef Py_ssize_t n = strlen(kind)
    put_b(b, b"event: ")
    put(b, kind, n)
    put_b(b, b'\ndata: {"type":"')
    put(b, kind, n)
    return put_b(b, b'"')


cdef int message_opening(Buf *b, Body *body) except -1:
    message_event(b, "message_start")
    put_b(b, b',"message":')
    message_head(b, body)
    put_b(b, b'[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":')
    put_int(b, body.tokens + body.tokens2)
    put_b(b, MESSAGE_CACHE)
    put_b(b, b'0}}}\n\n')
    message_event(b, "content_block_start")
    put_b(b, b',"index":0,"content_block":{"type":"text","text":""}}\n\n')
    message_event(b, "ping")
    put_b(b, b"}\n\n")
    return 0


cdef int message_closing(Buf *b, long long prompt, long long sent, const char *finish) except -1:
    message_event(b, "content_block_stop")
    put_b(b, b',"index":0}\n\n')
    message_event(b, "message_delta")
    put_b(b, b',"delta":{"stop_reason":"')
    put(b, finish, strlen(finish))
    put_b(b, b'","stop_sequence":null},"usage":{"input_tokens":')
    put_int(b, prompt)
    put_b(b, MESSAGE_CACHE)
    put_int(b, sent)
    put_b(b, b"}}\n\n")
    message_event(b, "message_stop")
    put_b(b, b"}\n\n")
    return 0


# -- Ollama -------------------------------------------------------------------------------------

# (stream prefix, stream suffix, content open, content close) of /api/generate and /api/chat
cdef bytes GENERATE_PREFIX = b'","response":"'
cdef bytes GENERATE_SUFFIX = b'","done":false}\n'
cdef bytes GENERATE_OPEN = b'"response":"'
cdef bytes GENERATE_CLOSE = b'",'
cdef bytes OLLAMA_CHAT_PREFIX = b'","message":{"role":"assistant","content":"'
cdef bytes OLLAMA_CHAT_SUFFIX = b'"},"done":false}\n'
cdef bytes OLLAMA_CHAT_OPEN = b'"message":{"role":"assistant","content":"'
cdef bytes OLLAMA_CHAT_CLOSE = b'"},'


cdef int ollama_done(Buf *b, bytes model_head, bint chat, Corpus corpus, long long sent,
                     const char *finish, long long prompt, long long total_ns) except -1:
    """providers.ollama._answer()'s done(): the final object, with its newline; /api/generate's
    with its context (frames.ollama_context)."""
    cdef long long i
    put_b(b, model_head)
    put_stamp(b)
    put_b(b, b'",')
    put_b(b, OLLAMA_CHAT_OPEN if chat else GENERATE_OPEN)
    if corpus is not None:
        corpus.put_text(b, sent)
    put_b(b, OLLAMA_CHAT_CLOSE if chat else GENERATE_CLOSE)
    put_b(b, b'"done":true,"done_reason":"')
    put(b, finish, strlen(finish))
    put_b(b, b'",')
    if not chat:
        put_b(b, b'"context":[')
        for i in range(1, prompt + sent + 1):
            if i > 1:
                put(b, ",", 1)
            put_int(b, i)
        put_b(b, b"],")
    if total_ns < 3:
        total_ns = 3
    put_b(b, b'"total_duration":')
    put_int(b, total_ns)
    put_b(b, b',"load_duration":1,"prompt_eval_count":')
    put_int(b, prompt)
    put_b(b, b',"prompt_eval_duration":1,"eval_count":')
    put_int(b, sent)
    put_b(b, b',"eval_duration":')
    put_int(b, total_ns - 2)
    put_b(b, b"}\n")
    return 0


cdef bytes ollama_head(Body *body):
    """b'{"model":"' + model + b'","created_at":"'"""
    cdef Buf *b = &_piece
    buf_start(b)
    put_b(b, b'{"model":"')
    put_text(b, &body.model)
    put_b(b, b'","created_at":"')
    return PyBytes_FromStringAndSize(b.data, b.size)


# -- the closing of a stream ------------------------------------------------------------------------

cdef dict _REASONS = {"stop": b"stop", "length": b"length", "end_turn": b"end_turn",
                      "max_tokens": b"max_tokens"}

cdef class Closing:
    """StreamSpec.closing of a provider stream: the terminal events, made when they are due."""

    cdef Api api
    cdef bytes splice               # chat, completions: the frame head; Ollama: {"model":..
    cdef bytes usage_head           # chat, completions: the usage chunk's head (b"": none)
    cdef long long finished_at      # completions: the finish reason went with this many
                                    # frames (--completions-finish-on-last-token); -1: never
    cdef long long prompt
    cdef long long started_ns       # Ollama: when the answer began (minus its TTFT)
    cdef Corpus corpus              # Responses: its closing repeats the text
    cdef ResponseIds ids
    cdef Body body                  # Responses: the limit, the prompt and the model...
    cdef bytes model                # ... whose bytes are these
    cdef object entry               # its journal record (None: the journal is off)

    def __call__(self, long long sent, str finish):
        cdef Buf *b = &_out
        cdef bytes reason = _REASONS.get(finish) or finish.encode()
        cdef list record = self.entry
        if record is not None:      # (fixtures.journal.PENDING_FIELDS: tokens, entry)
            record[9] = sent
            if record[12] is not None:
                record[12].tokens = sent
        buf_start(b)
        if self.api == CHAT or self.api == COMPLETIONS:
            if self.finished_at < 0 or sent < self.finished_at:
                put_b(b, self.splice)
                if self.api == CHAT:
                    put_b(b, b'},"logprobs":null,"finish_reason":"')
                else:
                    put_b(b, COMPLETION_TAIL)
                    put_b(b, b'"')
                put_b(b, reason)
                put_b(b, b'"}]}\n\n')
            if self.usage_head:
                put_b(b, self.usage_head)
                put_usage(b, self.prompt, sent)
                put_b(b, b"}\n\n")
            put_b(b, b"data: [DONE]\n\n")
        elif self.api == MESSAGES:
            message_closing(b, self.prompt, sent, PyBytes_AS_STRING(reason))
        elif self.api == RESPONSES:
            response_closing(b, &self.ids, &self.body, self.corpus, sent, finish == "length")
        else:
            ollama_done(b, self.splice, self.api == OLLAMA_CHAT, None, sent,
                        PyBytes_AS_STRING(reason), self.prompt, monotonic_ns() - self.started_ns)
        if b.failed:
            raise MemoryError()
        data = PyBytes_FromStringAndSize(b.data, b.size)
        buf_trim(b)
        return data


# -- embeddings -------------------------------------------------------------------------------------

cdef extern from "vectors.h" nogil:
    ctypedef struct fm_mt:
        pass
    void fm_vectors_init()
    void fm_embedding(const unsigned char *key, Py_ssize_t size, Py_ssize_t dims, float *out,
                      double *work, unsigned int *words, fm_mt *mt)
    Py_ssize_t fm_base64(const unsigned char *data, Py_ssize_t n, char *out)
    void fm_float32_le(const float *values, Py_ssize_t n, unsigned char *out)

cdef extern from "vectors.h":
    # these may call PyOS_double_to_string (|x| < 1e-8): they hold the GIL
    int fm_g9(float value, char *out)
    Py_ssize_t fm_float_array(const float *values, Py_ssize_t n, char *out, unsigned int *q,
                              signed char *k)

cdef enum:
    DIMENSIONS = 1536               # embeddings.DIMENSIONS
    MAX_DIMENSIONS = 3072
    MAX_NUMBERS = 65536             # embeddings.MAX_NUMBERS

cdef fm_mt _mt
cdef float _vector[MAX_DIMENSIONS]
cdef double _work[MAX_DIMENSIONS]
cdef unsigned int _words[2 * MAX_DIMENSIONS]
cdef unsigned char _le[4 * MAX_DIMENSIONS]
cdef signed char _exponents[MAX_DIMENSIONS]
fm_vectors_init()


cdef int put_vector(Buf *b, const unsigned char *key, Py_ssize_t size, Py_ssize_t dims,
                    bint base64) noexcept:
    """One embedding, as the float array or the base64 string."""
    fm_embedding(key, size, dims, _vector, _work, _words, &_mt)
    if base64:
        if buf_reserve(b, 4 * ((4 * dims + 2) // 3) + 2) < 0:
            return DECLINE
        fm_float32_le(_vector, dims, _le)
        b.data[b.size] = 34
        b.size += 1 + fm_base64(_le, 4 * dims, b.data + b.size + 1)
        b.data[b.size] = 34
        b.size += 1
        return 0
    if buf_reserve(b, 25 * dims + 16) < 0:
        return DECLINE
    b.size += fm_float_array(_vector, dims, b.data + b.size, _words, _exponents)
    return 0


cdef int embedding_document(Buf *b, Body *body) noexcept:
    """embeddings.embeddings(): one vector per input."""
    cdef Py_ssize_t i, dims = DIMENSIONS if body.dims == ABSENT else body.dims
    cdef const unsigned char *key
    if body.items * dims > MAX_NUMBERS:
        return DECLINE
    put_b(b, b'{"object":"list","data":[')
    for i in range(body.items):
        if i:
            put_b(b, b",")
        put_b(b, b'{"object":"embedding","index":')
        put_int(b, i)
        put_b(b, b',"embedding":')
        key = _keys[i].start
        if key == NULL:
            key = <const unsigned char *>_key_bytes.data + _keys[i].offset
        if put_vector(b, key, _keys[i].size, dims, body.base64 == 1) < 0:
            return DECLINE
        put_b(b, b"}")
    put_b(b, b'],"model":"')
    put_text(b, &body.model)
    put_b(b, b'","usage":{"prompt_tokens":')
    put_int(b, body.tokens)
    put_b(b, b',"total_tokens":')
    put_int(b, body.tokens)
    put_b(b, b"}}")
    return 0


def embedding_text(bytes key, Py_ssize_t dims, bint base64=False):
    """One embedding as the answer writes it (for tests against embeddings.embedding())."""
    cdef Buf b
    if not 1 <= dims <= MAX_DIMENSIONS:
        raise ValueError("dims")
    b.data, b.size, b.capacity, b.failed = NULL, 0, 0, False
    try:
        if put_vector(&b, <const unsigned char *>PyBytes_AS_STRING(key), len(key), dims,
                      base64) < 0:
            raise MemoryError()
        return PyBytes_FromStringAndSize(b.data, b.size)
    finally:
        free(b.data)


def format_float32(float value):
    """b"%.9g" % value, the way the answers write it (for tests)."""
    cdef char out[40]
    return PyBytes_FromStringAndSize(out, fm_g9(value, out))
