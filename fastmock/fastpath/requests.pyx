# FastPath: a provider request answered in C, from the bytes of one read or from a
# request httptools parsed, when nothing about it is unusual; False otherwise, and
# the caller goes on as before (httptools, protocol.provider_api, providers.dispatch).
# It is not taken while scripted answers (fixtures) are loaded, and it journals what it
# answers as providers.dispatch.record does.

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcmp

from fastmock import routes, wire
from fastmock._engine import FRESH_ID_KIND, ID_HEADER_HEAD
from fastmock.request_ids import ANTHROPIC_ID_HEAD

# The requests it answers, in the order of the Api enum (fields.pyx); their paths are the
# route table's.
cdef tuple PATHS = tuple(routes.COMPILED[name].path for name in (
    "chat", "completions", "responses", "messages", "generate", "ollama_chat", "embeddings"))
cdef dict _API_OF = {path: i for i, path in enumerate(PATHS)}
cdef const char *_PATH_TEXT[7]
cdef Py_ssize_t _PATH_SIZE[7]
for _i, _path in enumerate(PATHS):
    _PATH_TEXT[_i] = PyBytes_AS_STRING(_path)
    _PATH_SIZE[_i] = len(_path)

cdef bytes SSE = b"text/event-stream"
cdef bytes NDJSON = b"application/x-ndjson"
cdef bytes CHAT_FIRST_PREFIX = b'"role":"assistant","content":"'
cdef bytes CHAT_PREFIX = b'"content":"'
cdef bytes CHAT_SUFFIX = b'"},"logprobs":null,"finish_reason":null}]}\n\n'
cdef bytes CHOICES_OPEN = b'[{"index":0,"delta":{'
cdef bytes USAGE_OPEN = b'[],"usage":'
# a completions stream's last frame, framed as vLLM frames it (providers.openai)
cdef bytes COMPLETION_STOP = COMPLETION_TAIL + b'"stop"}]}\n\n'
cdef bytes COMPLETION_LENGTH = COMPLETION_TAIL + b'"length"}]}\n\n'
cdef bytes RESPONSE_DELTA = (b'event: response.output_text.delta\ndata: {"type":'
                             b'"response.output_text.delta",')
cdef bytes MESSAGE_PREFIX = (b'event: content_block_delta\ndata: {"type":"content_block_delta",'
                             b'"index":0,"delta":{"type":"text_delta","text":"')


# The last embeddings answers kept, and the largest (1,536 floats are ~20 KB): at most
# 128 KB, to answer a load test that repeats its input without computing it again.
cdef enum:
    EMBEDDINGS_KEPT = 4
    EMBEDDINGS_KEPT_SIZE = 32768
    HEAD_ROOM = 768                 # in front of a document in _out: for its HTTP head


# -- the request, from the bytes of one read ---------------------------------------------------

cdef struct Head:
    int api
    bint keep_alive
    const unsigned char *body
    Py_ssize_t body_size


cdef inline bint _tchar(unsigned char ch) noexcept nogil:
    """A header name character (RFC 9110 tchar)."""
    return ((97 <= ch <= 122) or (65 <= ch <= 90) or (48 <= ch <= 57) or ch == 33
            or 35 <= ch <= 39 or ch == 42 or ch == 43 or ch == 45 or ch == 46 or ch == 94
            or ch == 95 or ch == 96 or ch == 124 or ch == 126)


cdef inline bint _name_is(const unsigned char *name, Py_ssize_t n, const char *lower,
                          Py_ssize_t size) noexcept nogil:
    """A header name equal to ``lower``, ignoring case (``n`` > ``size``: its prefix)."""
    cdef Py_ssize_t i
    if n < size:
        return False
    for i in range(size):
        if (name[i] | 0x20) != <unsigned char>lower[i]:
            return False
    return True


cdef int read_head(const unsigned char *p, Py_ssize_t n, Head *h, Py_ssize_t max_header_bytes,
                   Py_ssize_t max_headers, Py_ssize_t max_body_bytes) noexcept nogil:
    """One whole request, alone in the read: ``POST <API path> HTTP/1.1``, plain header
    lines, a Content-Length body. Anything httptools might read differently (or that the
    connection answers itself: Expect, Upgrade, chunked bodies, no or two Host headers,
    limits; controls; a request or test id to echo) declines."""
    cdef const unsigned char *end = p + n
    cdef const unsigned char *name
    cdef const unsigned char *value
    cdef const unsigned char *value_end
    cdef Py_ssize_t name_size, value_size, path_size, header_bytes = 0, headers = 0
    cdef long long length = -1
    cdef int api = -1, i, hosts = 0
    if n < 24 or p[0] != 80 or p[1] != 79 or p[2] != 83 or p[3] != 84 or p[4] != 32:
        return DECLINE                                  # "POST "
    p += 5
    for i in range(7):
        path_size = _PATH_SIZE[i]
        if (end - p > path_size + 11 and p[path_size] == 32
                and memcmp(p, _PATH_TEXT[i], path_size) == 0):
            api = i
            break
    if api < 0:
        return DECLINE
    p += path_size + 1
    if memcmp(p, b"HTTP/1.1\r\n", 10) != 0:
        return DECLINE
    p += 10
    h.keep_alive = True
    while True:
        if end - p < 2:
            return DECLINE
        if p[0] == 13 and p[1] == 10:                   # the blank line
            p += 2
            break
        name = p
        while p < end and _tchar(p[0]):
            p += 1
        name_size = p - name
        if name_size == 0 or p >= end or p[0] != 58:    # name, then ":" at once
            return DECLINE
        p += 1
        while p < end and (p[0] == 32 or p[0] == 9):
            p += 1
        value = p
        while p < end and (32 <= p[0] <= 126 or p[0] == 9):
            p += 1
        value_end = p
        if end - p < 2 or p[0] != 13 or p[1] != 10:
            return DECLINE
        p += 2
        while value_end > value and ((value_end - 1)[0] == 32 or (value_end - 1)[0] == 9):
            value_end -= 1
        value_size = value_end - value
        headers += 1
        header_bytes += name_size + value_size + 4
        if headers > max_headers or header_bytes > max_header_bytes:
            return DECLINE
        if name_size == 14 and _name_is(name, 14, "content-length", 14):
            if length >= 0 or value_size == 0 or value_size > 12:
                return DECLINE
            length = 0
            while value < value_end:
                if not (48 <= value[0] <= 57):
                    return DECLINE
                length = length * 10 + value[0] - 48
                value += 1
        elif name_size == 10 and _name_is(name, 10, "connection", 10):
            if value_size == 5 and _name_is(value, 5, "close", 5):
                h.keep_alive = False
            elif not (value_size == 10 and _name_is(value, 10, "keep-alive", 10)):
                return DECLINE
        elif name_size == 4 and _name_is(name, 4, "host", 4):
            hosts += 1
        elif ((name_size == 17 and _name_is(name, 17, "transfer-encoding", 17))
                or (name_size == 6 and _name_is(name, 6, "expect", 6))
                or (name_size == 7 and _name_is(name, 7, "upgrade", 7))
                or (name_size == 12 and _name_is(name, 12, "x-request-id", 12))
                or (name_size == 9 and _name_is(name, 9, "x-test-id", 9))
                or _name_is(name, name_size, "x-mock-", 7)):
            return DECLINE          # the connection's own checks, controls, ids to echo
    if hosts != 1:                  # RFC 9112 3.2: the connection answers 400
        return DECLINE
    if length < 0 or length > max_body_bytes or end - p != length:
        return DECLINE
    h.api = api
    h.body = p
    h.body_size = length
    return 0


# -- the entry points ------------------------------------------------------------------------

cdef class FastPath:
    """The compiled answers of one server (its corpus, defaults and limits)."""

    cdef object app
    cdef Corpus corpus
    cdef list templates             # Spec per API
    cdef bytes status_line          # a 200's first line: the X-Request-Id line follows it
    cdef bytes whole_head           # a 200 application/json head up to its X-Request-Id
    cdef tuple whole_ends           # after the length digits: keep-alive, 1.0 keep-alive, close
    cdef tuple sse_heads, ndjson_heads     # stream heads after the status line, per variant
    cdef int delay_ms, ttft_ms
    cdef bint finish_on_last_token  # --completions-finish-on-last-token
    cdef int route_index[7]
    cdef tuple paths                # the API paths as the journal shows them (str)
    cdef Py_ssize_t max_header_bytes, max_headers, max_body_bytes
    cdef dict embeddings            # request body -> answer body, the last few (see _answer)
    # the request being answered: its id (None until drawn), test id, and bytes (the journal's)
    cdef bytes rid, raw
    cdef object test_id
    cdef Py_ssize_t body_at, body_size

    def __init__(self, app):
        config = app.config
        self.app = app
        self.embeddings = {}
        self.corpus = Corpus(app.frames.corpus.escaped)
        self.templates = [template(<Api>i, self.corpus.tokens) for i in range(7)]
        # wire.complete(200, JSON, body, extra=request_ids.line(rid)), cut around its
        # X-Request-Id value and its Content-Length digits
        ends = []
        for keep_alive, http10 in ((True, False), (True, True), (False, False)):
            whole = wire.complete(200, wire.JSON, b"", keep_alive=keep_alive, http10=http10,
                                  extra=ID_HEADER_HEAD + b"\0\r\n")
            head, _, end = whole.partition(b"\0")
            ends.append(end.replace(b"Content-Length: 0\r\n", b""))
        self.whole_head = head
        self.whole_ends = tuple(ends)
        if len(head) + 2 * 128 + 14 + 40 + max(len(end) for end in ends) > HEAD_ROOM:
            raise ValueError("the 200 head does not fit in front of a document")
        self.status_line = wire.status_line(200)
        cut = len(self.status_line)
        self.sse_heads = tuple(h[cut:] for h in wire.stream_heads(SSE))
        self.ndjson_heads = tuple(h[cut:] for h in wire.stream_heads(NDJSON))
        self.delay_ms = config.delay_ms
        self.ttft_ms = config.ttft_ms
        self.finish_on_last_token = config.completions_finish_on_last_token
        for i, path in enumerate(PATHS):
            self.route_index[i] = routes.find(path).index
        self.paths = tuple(path.decode() for path in PATHS)
        self.max_header_bytes = config.max_header_bytes
        self.max_headers = config.max_headers
        self.max_body_bytes = config.max_body_bytes

    def __call__(self, conn, bytes data):
        """Connection.data_received (Shared.fast_path): answer the one request ``data``
        holds, if it can; a fresh request id."""
        cdef Head h
        app = self.app
        if app.access_log is not None or app.scripts is not None:
            return False                # each request needs its log line; fixtures answer first
        if read_head(<const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), &h,
                     self.max_header_bytes, self.max_headers, self.max_body_bytes) < 0:
            return False
        return self._answer(conn, <Api>h.api, data, h.body, h.body_size, h.keep_alive, False,
                            None, None)

    def answer(self, conn, request, bytes path, query, bytes rid):
        """protocol.provider_api: answer a parsed request that sets no control, if it can;
        ``rid``: its X-Request-Id (the client's own, or fresh)."""
        api = _API_OF.get(path)
        if api is None or query is not None or request.method != b"POST" \
                or self.app.scripts is not None:
            return False
        headers = request.headers
        test_id = None
        if headers:
            for name in headers:
                if (<bytes>name).startswith(b"x-mock-"):
                    return False
            if b"x-test-id" in headers:
                from fastmock.request_ids import test_id as read_test_id
                test_id = read_test_id(headers)
        body = request.body
        return self._answer(conn, <Api>(<int>api), body,
                            <const unsigned char *>PyBytes_AS_STRING(body),
                            PyBytes_GET_SIZE(body), request.keep_alive, request.http10, rid,
                            test_id)

    cdef bint _answer(self, conn, Api api, bytes raw, const unsigned char *data, Py_ssize_t size,
                      bint keep_alive, bint http10, bytes rid, test_id) except -1:
        """``raw``: the read (its body at ``data``) or the body; ``rid`` None: a fresh id."""
        self.rid = rid
        self.test_id = test_id
        self.raw = raw
        self.body_at = data - <const unsigned char *>PyBytes_AS_STRING(raw)
        self.body_size = size
        try:
            return self._answer_body(conn, api, data, size, keep_alive, http10)
        finally:
            self.raw = self.rid = self.test_id = None
            # a large body's pieces (a long model name, decoded inputs) are not kept
            buf_trim(&_piece)
            buf_trim(&_key_bytes)

    cdef bint _answer_body(self, conn, Api api, const unsigned char *data, Py_ssize_t size,
                           bint keep_alive, bint http10) except -1:
        cdef Body body
        cdef Plan p
        cdef bytes key, known
        if api == EMBEDDINGS:
            # its answer depends on nothing but the body: a repeated one is answered again
            key = PyBytes_FromStringAndSize(<const char *>data, size)
            known = self.embeddings.get(key)
            if known is not None:
                if self.app.journal is not None or self.app.config.journal_size > 0:
                    if read_body(data, size, api, &body) < 0:    # its model, for the journal
                        return False
                self._draw_rid()
                self._journal(api, &body, 0)
                return self._send(conn, api, PyBytes_AS_STRING(known), PyBytes_GET_SIZE(known),
                                  keep_alive, http10)
            if read_body(data, size, api, &body) < 0:
                return False
            return self._whole(conn, api, &body, NULL, keep_alive, http10, key)
        if read_body(data, size, api, &body) < 0:
            return False
        plan(&p, self.corpus.count, body.limit)
        if body.echo or p.total == 0:
            return False                # the prompt echoed back: left to Python
        if body.stream == 1 or (body.stream == ABSENT
                                and (api == OLLAMA_GENERATE or api == OLLAMA_CHAT)):
            return self._stream(conn, api, &body, &p, keep_alive, http10)
        return self._whole(conn, api, &body, &p, keep_alive, http10, None)

    cdef bint _whole(self, conn, Api api, Body *body, Plan *p, bint keep_alive,
                     bint http10, bytes key) except -1:
        """A whole document, sent now or after the TTFT (Call.whole())."""
        cdef Buf *b = &_out
        cdef long long started
        self._draw_rid()            # before the document's ids, as the Python path draws them
        buf_start(b)
        b.size = HEAD_ROOM          # the head is written in front of the document, after it
        if api == CHAT:
            chat_document(b, self.corpus, body, p, "chatcmpl-")
        elif api == COMPLETIONS:
            completion_document(b, self.corpus, body, p)
        elif api == RESPONSES:
            response_document(b, self.corpus, body, p)
        elif api == MESSAGES:
            message_document(b, self.corpus, body, p)
        elif api == EMBEDDINGS:
            if embedding_document(b, body) < 0:
                buf_trim(b)
                return False
        else:
            started = monotonic_ns()
            ollama_done(b, ollama_head(body), api == OLLAMA_CHAT, self.corpus, p.total,
                        "length" if p.length else "stop", body.tokens + body.tokens2,
                        monotonic_ns() - started + self.ttft_ms * 1000000LL)
            b.size -= 1             # .rstrip(b"\n")
        if b.failed or _piece.failed:
            buf_trim(b)
            return False
        if key is not None and b.size - HEAD_ROOM <= EMBEDDINGS_KEPT_SIZE:
            if len(self.embeddings) >= EMBEDDINGS_KEPT:
                del self.embeddings[next(iter(self.embeddings))]    # the oldest
            self.embeddings[key] = PyBytes_FromStringAndSize(b.data + HEAD_ROOM,
                                                             b.size - HEAD_ROOM)
        self._journal(api, body, 0 if p == NULL else p.total)
        if p != NULL and api != EMBEDDINGS:     # vLLM's metrics: a generated answer
            conn.count_whole(body.tokens + body.tokens2, p.total, p.length, False, self.ttft_ms)
        self._send(conn, api, b.data + HEAD_ROOM, b.size - HEAD_ROOM, keep_alive, http10)
        buf_trim(b)
        return True

    cdef bint _send(self, conn, Api api, char *body, Py_ssize_t size, bint keep_alive,
                    bint http10) except -1:
        """The whole HTTP response (head, X-Request-Id, Content-Length, connection line,
        ``body``), now or after the TTFT. A body in _out has HEAD_ROOM bytes in front of it
        for the head: the response is then copied once, into its bytes object."""
        cdef char digits[24]
        cdef bytes end = <bytes>self.whole_ends[(1 if http10 else 0) if keep_alive else 2]
        cdef bytes rid = self.rid
        cdef Py_ssize_t rid_size = PyBytes_GET_SIZE(rid)
        cdef Py_ssize_t fixed = PyBytes_GET_SIZE(self.whole_head)
        cdef Py_ssize_t end_size = PyBytes_GET_SIZE(end)
        cdef bint anthropic = api == MESSAGES   # its request-id line follows X-Request-Id
        cdef Py_ssize_t head_size, at
        cdef int n = 24
        cdef Py_ssize_t v = size
        cdef char *out
        cdef bint in_place = body == _out.data + HEAD_ROOM
        while True:
            n -= 1
            digits[n] = 48 + v % 10
            v //= 10
            if v == 0:
                break
        head_size = (fixed + rid_size + (14 + rid_size if anthropic else 0) + 18 + 24 - n
                     + end_size)
        if in_place:
            out = body - head_size
        else:
            data = PyBytes_FromStringAndSize(NULL, head_size + size)
            out = PyBytes_AS_STRING(data)
        memcpy(out, PyBytes_AS_STRING(self.whole_head), fixed)
        memcpy(out + fixed, PyBytes_AS_STRING(rid), rid_size)
        at = fixed + rid_size
        if anthropic:
            memcpy(out + at, b"\r\nrequest-id: ", 14)
            memcpy(out + at + 14, PyBytes_AS_STRING(rid), rid_size)
            at += 14 + rid_size
        memcpy(out + at, b"\r\nContent-Length: ", 18)
        memcpy(out + at + 18, digits + n, 24 - n)
        memcpy(out + at + 18 + 24 - n, PyBytes_AS_STRING(end), end_size)
        if in_place:
            data = PyBytes_FromStringAndSize(out, body + size - out)
        else:
            memcpy(out + head_size, body, size)
        if self.ttft_ms > 0:
            conn.answer_later(data, self.route_index[<int>api], 200, keep_alive, self.ttft_ms, -1)
        else:
            conn.respond(data, self.route_index[<int>api], 200, keep_alive)
        return True

    cdef bint _stream(self, conn, Api api, Body *body, Plan *p, bint keep_alive,
                      bint http10) except -1:
        """A stream for the engine (Call.streamed()): its constant pieces from the API's
        template, its splice, opening and closing made for this request."""
        cdef Closing closing = Closing.__new__(Closing)
        cdef Spec spec = (<Spec>self.templates[<int>api]).copy()
        cdef Buf *b = &_out
        cdef Py_ssize_t size
        self._draw_rid()            # before the stream's ids, as the Python path draws them
        spec.total = p.total
        spec.closing = closing
        closing.api = api
        closing.finished_at = -1
        closing.prompt = body.tokens + body.tokens2
        if api == CHAT:
            buf_start(&_piece)
            put_b(&_piece, b'data: {"id":"')
            put_id(&_piece, "chatcmpl-")
            chat_splice_tail(&_piece, _now(), body)
            size = _piece.size                      # the usage chunk's head ends here
            put_b(&_piece, CHOICES_OPEN)
            spec.splice = closing.splice = PyBytes_FromStringAndSize(_piece.data, _piece.size)
            if body.include_usage == 1:
                closing.usage_head = PyBytes_FromStringAndSize(_piece.data, size) + USAGE_OPEN
        elif api == COMPLETIONS:
            buf_start(&_piece)
            put_b(&_piece, b"data: ")
            completion_head(&_piece, None, _now(), body)
            size = _piece.size
            put_b(&_piece, b'[{"text":"')
            spec.splice = closing.splice = PyBytes_FromStringAndSize(_piece.data, _piece.size)
            if body.include_usage == 1:
                closing.usage_head = PyBytes_FromStringAndSize(_piece.data, size) + USAGE_OPEN
            if self.finish_on_last_token:   # vLLM's framing: no empty closing chunk
                spec.last_suffix = COMPLETION_LENGTH if p.length else COMPLETION_STOP
                closing.finished_at = p.total
        elif api == RESPONSES:
            response_ids(&closing.ids)
            closing.corpus = self.corpus
            closing.model = PyBytes_FromStringAndSize(<const char *>body.model.start,
                                                      body.model.size)
            closing.body = body[0]
            closing.body.model.start = <const unsigned char *>PyBytes_AS_STRING(closing.model)
            buf_start(b)
            response_opening(b, &closing.ids, body)
            spec.opening = PyBytes_FromStringAndSize(b.data, b.size)
            buf_start(b)
            put_b(b, RESPONSE_DELTA)
            response_where(b, &closing.ids)
            put_b(b, b'"delta":"')
            spec.splice = PyBytes_FromStringAndSize(b.data, b.size)
        elif api == MESSAGES:
            buf_start(b)
            message_opening(b, body)
            spec.opening = PyBytes_FromStringAndSize(b.data, b.size)
        else:
            spec.splice = closing.splice = ollama_head(body)
            closing.started_ns = monotonic_ns() - self.ttft_ms * 1000000LL
        if p.length:
            spec.finish = "max_tokens" if api == MESSAGES else "length"
        if b.failed or _piece.failed:
            buf_trim(b)
            return False
        buf_trim(b)
        closing.entry = self._journal(api, body, 0)
        heads = self.ndjson_heads if spec.stamp else self.sse_heads
        if http10:
            keep_alive = False      # the body is delimited by closing the connection
            head = heads[wire.RAW_CLOSE]
        else:
            head = heads[wire.CHUNKED_KEEP_ALIVE if keep_alive else wire.CHUNKED_CLOSE]
        if api == MESSAGES:
            head = b"".join((self.status_line, ID_HEADER_HEAD, self.rid, b"\r\n",
                             ANTHROPIC_ID_HEAD, self.rid, b"\r\n", head))
        else:
            head = b"".join((self.status_line, ID_HEADER_HEAD, self.rid, b"\r\n", head))
        conn.start_stream(head, spec, self.route_index[<int>api], keep_alive, not http10,
                          self.delay_ms, self.ttft_ms, -1, None, body.tokens + body.tokens2)
        return True


    cdef int _draw_rid(self) except -1:
        if self.rid is None:
            self.rid = fresh_id(FRESH_ID_KIND)
        return 0

    cdef object _journal(self, Api api, Body *body, long long tokens):
        """providers.dispatch.record(), made cheap: a pending record of the journal
        (fixtures.journal.PENDING_FIELDS), None when the journal is off. The body is kept as
        received (cut at the journal's cap) and parsed only when the journal is read."""
        cdef timespec ts
        cdef Py_ssize_t size, cap, count
        app = self.app
        journal = app.journal
        if journal is None:
            if app.config.journal_size <= 0:
                return None
            journal = app.request_journal()
        raw = self.raw
        cap = journal.body_cap
        size = self.body_size if self.body_size <= cap else cap
        if self.body_at == 0 and size == PyBytes_GET_SIZE(raw):
            data = raw
        else:
            data = PyBytes_FromStringAndSize(PyBytes_AS_STRING(raw) + self.body_at, size)
        model = None
        if self.body_size and (<const char *>PyBytes_AS_STRING(raw))[self.body_at] == 123:
            model = PyUnicode_DecodeUTF8(<const char *>body.model.start, body.model.size,
                                         "surrogatepass")    # "{": dispatch._model reads it
        rid = self.rid.decode("ascii")
        path = self.paths[<int>api]
        size = (480 + size + len(path) + len(rid) + (len(model) if model is not None else 0)
                + (len(self.test_id) if self.test_id is not None else 0))   # Entry.size
        clock_gettime(CLOCK_REALTIME, &ts)
        record = [rid, "POST", path, data, self.body_size, model, self.test_id,
                  ts.tv_sec + ts.tv_nsec * 1e-9, 200, tokens, self.ttft_ms, size, None]
        pending = journal.pending
        pending.append(record)
        total = journal.pending_bytes + size
        count = len(pending)
        while count and (count > journal.max_entries or total > journal.max_bytes):
            total -= <Py_ssize_t>pending.popleft()[11]    # they would be dropped anyway
            count -= 1
        journal.pending_bytes = total
        return record


# -- what the engine streams -------------------------------------------------------------------

cdef class Spec:
    """A stream as the engine reads it: streamspec.StreamSpec's fields (see there), set in C
    (a StreamSpec's fourteen attribute writes were a tenth of a stream's start)."""

    cdef readonly bytes content_type, opening, first_prefix, prefix, suffix, seq_tail, seq2_tail
    cdef readonly object splice, last_suffix, closing
    cdef readonly str finish
    cdef readonly bint stamp
    cdef readonly long long seq_base, seq2_base, total
    cdef readonly tuple tokens

    cdef Spec copy(self):
        cdef Spec spec = Spec.__new__(Spec)
        spec.content_type, spec.opening, spec.splice = self.content_type, self.opening, self.splice
        spec.first_prefix, spec.prefix, spec.suffix = self.first_prefix, self.prefix, self.suffix
        spec.last_suffix, spec.seq_base, spec.seq_tail = None, self.seq_base, self.seq_tail
        spec.seq2_base, spec.seq2_tail = self.seq2_base, self.seq2_tail
        spec.stamp, spec.tokens, spec.total = self.stamp, self.tokens, self.total
        spec.finish, spec.closing = self.finish, None
        return spec


cdef Spec template(Api api, tuple tokens):
    """The constant pieces of ``api``'s streams (what Call.streamed() specs always hold)."""
    cdef Spec spec = Spec.__new__(Spec)
    spec.content_type, spec.opening, spec.splice = SSE, b"", b""
    spec.first_prefix = spec.prefix = spec.suffix = spec.seq_tail = spec.seq2_tail = b""
    spec.seq_base, spec.seq2_base, spec.stamp, spec.tokens, spec.total = -1, -1, False, tokens, 0
    spec.finish = "end_turn" if api == MESSAGES else "stop"
    if api == CHAT:
        spec.first_prefix, spec.prefix, spec.suffix = CHAT_FIRST_PREFIX, CHAT_PREFIX, CHAT_SUFFIX
    elif api == COMPLETIONS:
        spec.suffix = COMPLETION_TAIL + b"null}]}\n\n"
    elif api == RESPONSES:
        spec.suffix, spec.seq_base = b'","logprobs":[],"sequence_number":', 4
        spec.seq_tail = b"}\n\n"
    elif api == MESSAGES:
        spec.first_prefix = spec.prefix = MESSAGE_PREFIX
        spec.suffix = b'"}}\n\n'
    elif api == OLLAMA_CHAT or api == OLLAMA_GENERATE:
        spec.content_type, spec.stamp = NDJSON, True
        chat = api == OLLAMA_CHAT
        spec.first_prefix = spec.prefix = OLLAMA_CHAT_PREFIX if chat else GENERATE_PREFIX
        spec.suffix = OLLAMA_CHAT_SUFFIX if chat else GENERATE_SUFFIX
    return spec
