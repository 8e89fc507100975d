# Connection: one client connection, from bytes in to bytes out, for uvloop and httptools.
#
# It knows HTTP/1.1 framing (keep-alive, pipelining, HTTP/1.0, limits, parse
# errors, timeouts) and how to stream a StreamSpec, not what any route answers:
# each parsed request goes to ``handle(request)``, which the Python subclass
# (fastmock.protocol.HttpProtocol) implements with ``respond()`` and
# ``start_stream()``.
#
# Two things make it cheap:
#
# - Writes go straight to the socket with send(2) while the transport's buffer
#   is empty, and through ``transport.write`` otherwise, so order is kept and a
#   slow reader still pauses us. uvloop queues every write until the end of the
#   loop iteration; skipping that queue halves the user CPU of a small answer.
#   The fd is valid for as long as ``transport`` is set: uvloop closes it only
#   after ``connection_lost``, where we drop the transport.
# - A read that is byte for byte a request answered before with a static
#   document (wrk, health checkers, load generators) is answered from ``memo``
#   without parsing; nothing about such an answer depends on anything but
#   those bytes. A read that holds one whole request the app can answer from its
#   bytes alone goes to ``Shared.fast_path`` (the provider APIs' compiled path)
#   before the parser too.
#
# A stream's frames are composed at send time from the spec's pre-encoded
# pieces into one buffer (chunk size lines included) and sent with one call,
# however many frames are due.

import logging

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from fastmock import responses

cdef extern from "<sys/socket.h>" nogil:
    ssize_t c_send "send" (int fd, const void *buf, size_t n, int flags)
    enum: MSG_NOSIGNAL

log = logging.getLogger("fastmock")

# Frames joined into one write when a stream is behind, or per burst of an
# unpaced stream; bounds what one callback puts on the wire.
MAX_BATCH = 64
# Repeated requests remembered per process, and the longest one remembered.
MEMO_SIZE = 64
MEMO_KEY_MAX = 2048
# How long a connection closed after its answer keeps reading (and discarding) what the
# client still sends, before it is closed anyway.
LINGER_SECONDS = 2.0
# How long a connection over --max-connections has to read its 503.
REJECT_LINGER_SECONDS = 1.0
# What a request's head may span beyond the URL and header budgets (request line, framing).
HEAD_SLACK = 1024
cdef enum:
    OUT_SIZE = 65536

cdef char _out[OUT_SIZE]            # where frames are composed; one process, one thread
# The read being parsed, while it may become a memo key (one process, one thread: only
# one data_received runs at a time).
cdef Connection _memo_conn = None
cdef Memo _memo_answer = None
cdef int _memo_messages = 0
# The access-log request line of the request being answered (set by _dispatch, read by
# respond() and start_stream() in the same call).
cdef object _log_line = ""
# Interned stream pieces: streams of one kind share one Pieces object.
cdef dict _pieces = {}
PIECES_MAX = 256
cdef bytes _END_CHUNKED = b"0\r\n\r\n"
_HAS_LENIENCY = hasattr(HttpRequestParser, "set_dangerous_leniencies")


cdef inline double _now() noexcept:
    """Monotonic seconds (the clock uvloop's loop.time() reads, at full resolution)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline double _clock(Shared app) except? -1.0:
    """The engine's clock: monotonic seconds, or the test's clock when one is set."""
    return _now() if app.clock is None else app.clock()


cdef inline Py_ssize_t _put(char *out, Py_ssize_t pos, bytes piece) noexcept:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(piece)
    memcpy(out + pos, PyBytes_AS_STRING(piece), n)
    return pos + n


cdef inline Py_ssize_t _put_hex(char *out, Py_ssize_t pos, Py_ssize_t value) noexcept:
    """``value`` in lower-case hex, then CRLF: a chunk size line."""
    cdef char digits[16]
    cdef int n = 0
    while True:
        digits[n] = b"0123456789abcdef"[value & 15]
        n += 1
        value >>= 4
        if value == 0:
            break
    while n:
        n -= 1
        out[pos] = digits[n]
        pos += 1
    out[pos] = 13
    out[pos + 1] = 10
    return pos + 2


cdef inline Py_ssize_t _put_hex16(char *out, Py_ssize_t pos, unsigned long long value) noexcept:
    """``value`` as exactly 16 lower-case hex digits (a spliced id)."""
    cdef int i = 16
    while i:
        i -= 1
        out[pos + i] = b"0123456789abcdef"[value & 15]
        value >>= 4
    return pos + 16


cdef inline int _decimal_len(long long value) noexcept:
    cdef int n = 1
    while value >= 10:
        value //= 10
        n += 1
    return n


cdef inline Py_ssize_t _put_decimal(char *out, Py_ssize_t pos, long long value, int width) noexcept:
    cdef int i = width
    while i:
        i -= 1
        out[pos + i] = 48 + value % 10
        value //= 10
    return pos + width


cdef bytes _chunked_after(bytes before, bytes data, bint last):
    """``before``, then ``data`` as one chunk (and the terminator when ``last``), in one
    allocation: a stream's opening and closing, without bytes formatting and joins."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data), digits = 1, pos
    cdef bytes out
    cdef char *p
    while size >> (4 * digits):
        digits += 1
    out = PyBytes_FromStringAndSize(NULL, PyBytes_GET_SIZE(before) + digits + size + 4
                                    + (5 if last else 0))
    p = PyBytes_AS_STRING(out)
    pos = _put(p, 0, before)
    pos = _put_hex(p, pos, size)
    pos = _put(p, pos, data)
    p[pos] = 13
    p[pos + 1] = 10
    if last:
        _put(p, pos + 2, _END_CHUNKED)
    return out


class Reject(Exception):
    """Raised in a parser callback: answer with ``response`` and close.

    ``url``: the request's target, when known, so that a provider API route answers
    in that API's own error shape.
    """

    def __init__(self, status, message, bytes url=b""):
        super().__init__(message)
        self.status = status
        path = url.partition(b"?")[0]
        if path:
            from fastmock.routes import API, find
            route = find(path)
            if route is not None and route.kind == API:
                from fastmock import api
                answer = api.error_for(path, status, message)
                self.response = responses.complete(status, answer.content_type, answer.body,
                                                   keep_alive=False, extra=answer.headers)
                return
        self.response = responses.openai_error(status, message, keep_alive=False)


cdef class Shared:
    """What every connection of one process shares (server.App builds it)."""

    def __init__(self, loop, config, Pacer pacer, Counters counters, access_log=None):
        self.loop = loop
        self.config = config
        self.pacer = pacer
        self.counters = counters
        self.access_log = access_log
        self._first = None
        self.open_count = 0
        self.memo = {}
        self.shutting_down = False
        self.clock = None
        self.max_url_bytes = config.max_url_bytes
        self.max_header_bytes = config.max_header_bytes
        self.max_headers = config.max_headers
        self.max_body_bytes = config.max_body_bytes
        self.max_pipelined = config.max_pipelined
        self.max_connections = config.max_connections
        self.keepalive_timeout = config.keepalive_timeout
        self.header_timeout = config.header_timeout
        self.shutdown_timeout = config.shutdown_timeout
        self.busy = responses.TOO_MANY_CONNECTIONS
        self.fast_path = None

    @property
    def connections(self):
        """The open connections, as a list (a snapshot)."""
        cdef Connection conn = self._first
        found = []
        while conn is not None:
            found.append(conn)
            conn = conn._conn_next
        return found

    def sweep(self):
        """Once a second: cut stalled heads and idle keep-alive connections."""
        cdef double now = _clock(self)
        cdef Connection conn = self._first, nxt
        while conn is not None:
            nxt = conn._conn_next      # a check may close it; it leaves the list later
            conn._check_timeouts(now)
            conn = nxt

    cdef void _attach(self, Connection conn):
        conn._conn_next = self._first
        if self._first is not None:
            self._first._conn_prev = conn
        self._first = conn
        self.open_count += 1

    cdef void _detach(self, Connection conn):
        if conn._conn_prev is not None:
            conn._conn_prev._conn_next = conn._conn_next
        else:
            self._first = conn._conn_next
        if conn._conn_next is not None:
            conn._conn_next._conn_prev = conn._conn_prev
        conn._conn_prev = conn._conn_next = None
        self.open_count -= 1


cdef class Request:
    """One parsed request, as ``handle()`` gets it."""

    def __repr__(self):
        return f"<Request {self.method!r} {self.url!r}>"


cdef class Memo:
    """A repeated request's whole answer."""

    def __init__(self, bytes data, int route, int status, log_line):
        self.data = data
        self.route = route
        self.status = status
        self.log_line = log_line


cdef inline void _forget_memo(Connection conn):
    """This read's answer is more than one remembered response: it must not be memoised."""
    global _memo_conn, _memo_answer
    if _memo_conn is conn:
        _memo_conn, _memo_answer = None, None


cdef Pieces _intern_pieces(spec):
    """The spec's constant pieces, shared by every stream that has the same ones."""
    key = (spec.first_prefix, spec.prefix, spec.suffix, spec.last_suffix, spec.seq_base,
           spec.seq_tail, spec.stamp, spec.finish)
    cdef Pieces pieces = _pieces.get(key)
    if pieces is None:
        pieces = Pieces.__new__(Pieces)
        pieces.first_prefix, pieces.prefix, pieces.suffix = key[0], key[1], key[2]
        pieces.last_suffix, pieces.seq_base, pieces.seq_tail = key[3], key[4], key[5]
        pieces.stamp, pieces.finish = key[6], key[7]
        if len(_pieces) < PIECES_MAX:
            _pieces[key] = pieces
    return pieces


cdef class Pieces:
    """A stream kind's constant pieces around each token (see StreamSpec)."""


cdef Py_ssize_t _bodies(list requests):
    """What the bodies of queued requests hold: together they get one body's budget."""
    cdef Py_ssize_t total = 0
    cdef Request r
    for r in requests:
        if r.body is not None:
            total += len(r.body)
    return total


cdef Request _error_request(object response, int status):
    cdef Request r = Request.__new__(Request)
    r.error = response
    r.error_status = status
    return r


cdef class Connection(Paced):
    def __init__(self, Shared app, int fd=-1):
        """``fd``: the accepted socket's descriptor (fastmock.acceptor). Without one every
        write goes through the transport: asking uvloop for it would make, and keep, a
        socket object per connection."""
        self.app = app
        self.transport = None
        self._fd = fd
        self.parser = None
        self._pending = None
        self._keep_alive = True
        self._route = -1

    # -- asyncio.Protocol interface ------------------------------------------------

    def connection_made(self, transport):
        """Loop: a client connected."""
        cdef Shared app = self.app
        self.transport = transport
        self._counted = True
        app.counters.add(OPEN_CONNECTIONS, 1)
        app.counters.add(CONNECTIONS_TOTAL, 1)
        if app.max_connections and app.open_count >= app.max_connections:
            # Over the limit: a ready-made 503, and the connection never joins the list,
            # so it takes no slot. Half-close rather than close: closing with the client's
            # request unread would send RST, and the client would lose the 503.
            app.counters.add(CONNECTIONS_REJECTED, 1)
            app.counters.add(BYTES_SENT, len(app.busy))
            self._closing = True            # data_received ignores what the client sends
            self._fd = -1                   # nothing is sent to it but the 503
            transport.write(app.busy)
            if transport.can_write_eof():
                transport.write_eof()
                app.loop.call_later(REJECT_LINGER_SECONDS, transport.close)
            else:
                transport.close()
            return
        self._listed = True
        app._attach(self)
        self._since = _clock(self.app)
        if app.access_log is not None:
            self._peer = transport.get_extra_info("peername")

    def connection_lost(self, exc):
        """Loop: the connection is gone. The one teardown point: drop every timer and buffer."""
        cdef Shared app = self.app
        if self._counted:
            self._counted = False
            app.counters.add(OPEN_CONNECTIONS, -1)
        if self._listed:
            self._listed = False
            app._detach(self)
        if self._streaming:
            self._stop_stream()
        self._pending = None
        self._req = None
        self.parser = None
        self.transport = None
        self._fd = -1
        self._closing = True

    def data_received(self, bytes data):
        """Loop: bytes arrived; answer a repeated request at once, else parse."""
        global _memo_conn, _memo_answer, _memo_messages
        cdef Shared app = self.app
        cdef Memo memo
        if self._closing or self._eof:  # after an upgrade or a parse error nothing more is HTTP
            return
        _memo_conn = None
        if not (self._streaming or self._in_message or self._pending is not None
                or app.shutting_down):
            memo = app.memo.get(data)
            if memo is not None:
                self._answer_memo(memo)
                return
            # A whole request in this read that the app answers without a parse (and then
            # with respond(), start_stream() or answer_later(), as handle() would).
            if app.fast_path is not None:
                self._started = _clock(app)
                if app.fast_path(self, data):
                    return
            _memo_conn, _memo_answer, _memo_messages = self, None, 0
        parser = self.parser
        if parser is None:
            parser = self.parser = HttpRequestParser(self)
            if _HAS_LENIENCY:  # "Connection: close" then more bytes must not turn the request into a 400
                parser.set_dangerous_leniencies(lenient_data_after_close=True)
        cdef Request req = self._req
        cdef bint inside = self._in_message
        cdef Py_ssize_t body_before = req._body_bytes if req is not None else 0
        try:
            parser.feed_data(data)
        except HttpParserUpgrade:
            self._on_upgrade()
        except HttpParserError as exc:
            self._on_parse_error(exc)
        if self._in_message:
            self._check_head_budget(inside, body_before, len(data))
        if _memo_answer is not None and _memo_conn is self:
            if (_memo_messages == 1 and not self._in_message
                    and len(app.memo) < MEMO_SIZE and len(data) <= MEMO_KEY_MAX):
                app.memo[data] = _memo_answer
        _memo_conn, _memo_answer = None, None
        # A streaming connection holds no parser (~0.7 KB): it is rebuilt on the next bytes.
        if self._streaming and not self._in_message and self._pending is None:
            self.parser = None

    def eof_received(self):
        """Loop: the client will send no more; keep the transport open while answers are due."""
        self._eof = True
        if self._lingering:
            return None                 # the client has seen our FIN: close now
        if self._streaming or self._pending is not None:
            if self._pending is None:   # else the last pending answer closes (see _dispatch)
                self._keep_alive = False
            return True
        return None

    cdef void _check_head_budget(self, bint inside, Py_ssize_t body_before, Py_ssize_t size):
        """Bound what httptools buffers: it joins a header line across reads before
        on_header sees it, so one endless line (in the head or in chunked trailers) would
        grow without limit. Count the reads that fall wholly inside one request and carry
        no body byte, since the last that did (a client may write chunk size lines apart
        from their data)."""
        cdef Request req = self._req
        cdef Shared app = self.app
        if req._head_read < 0:              # the request began in this read
            req._head_read = 0
        elif req._body_bytes != body_before:
            req._head_read = 0
        elif inside:
            req._head_read += size
            if req._head_read > app.max_url_bytes + app.max_header_bytes + HEAD_SLACK:
                self.parser = None            # drop what it buffered
                self._in_message = False
                self._req = None
                reject = Reject(431, f"request headers exceed {app.max_header_bytes} bytes")
                self._answer_error(reject.status, reject.response)

    cdef void _answer_memo(self, Memo memo):
        cdef Counters counters = self.app.counters
        cdef double started = _clock(self.app)
        self._send_bytes(memo.data)
        counters.count_request(memo.route, memo.status)
        counters.observe(DURATION_BASE, memo.route, _clock(self.app) - started)
        self._since = started
        if self.app.access_log is not None:
            self._log(memo.status, len(memo.data), memo.log_line)

    # -- flow control --------------------------------------------------------------

    def pause_writing(self):
        """Transport: its buffer passed the high-water mark."""
        self._write_paused = True
        if self._streaming and not self._paused:
            self._paused = True
            self._stop_timers()
        self._update_reading()

    def resume_writing(self):
        """Transport: its buffer drained below the low-water mark."""
        self._write_paused = False
        if self._streaming and self._paused:
            self._paused = False
            self._next_ms = max(self._next_ms, self.app.pacer.now_ms())
            self._continue()
        self._update_reading()

    cdef int _update_reading(self) except -1:
        """Read only while the client reads our answers and the pipeline has room."""
        transport = self.transport
        if transport is None or self._closing:
            return 0
        pending = self._pending
        pause = self._write_paused or (pending is not None and (
            len(pending) >= self.app.max_pipelined or _bodies(pending) > self.app.max_body_bytes))
        if pause != self._read_paused:
            self._read_paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()
        return 0

    # -- writing ---------------------------------------------------------------------

    cdef int _send(self, const char *data, Py_ssize_t size) except -1:
        """Put ``size`` bytes on the wire after everything written before."""
        cdef ssize_t sent = 0
        # The transport is compared, not held, on the direct path: with a thousand streams
        # open, touching the transport object costs a cache miss per frame.
        if self.transport is None or self._closing or size == 0:   # after a cut or a close
            return 0
        self.app.counters.add(BYTES_SENT, size)
        if self._buffered and self.transport.get_write_buffer_size() == 0:
            self._buffered = False
        if self._fd >= 0 and not self._buffered:
            sent = c_send(self._fd, data, size, MSG_NOSIGNAL)
            if sent == size:
                return 0
            if sent < 0:    # EAGAIN, or an error the transport will meet and report itself
                sent = 0
        self._buffered = True
        self.transport.write(PyBytes_FromStringAndSize(data + sent, size - sent))
        return 0

    cdef int _send_bytes(self, bytes data) except -1:
        return self._send(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    # -- parser callbacks --------------------------------------------------------------

    def on_message_begin(self):
        """Parser: a request starts."""
        cdef Request req = Request.__new__(Request)
        req.url = b""
        req.started = _clock(self.app)
        req._head_read = -1             # this read began the request: counted from the next one
        self._req = req
        global _memo_messages
        self._in_message = True
        if _memo_conn is self:
            _memo_messages += 1

    def on_url(self, bytes url):
        """Parser: (a fragment of) the request target."""
        cdef Request req = self._req
        req.url += url
        if len(req.url) > self.app.max_url_bytes:
            raise Reject(414, f"request target longer than {self.app.max_url_bytes} bytes")

    def on_header(self, bytes name, bytes value):
        """Parser: one header line, joined across reads by httptools."""
        cdef Request req = self._req
        cdef Shared app = self.app
        req._header_count += 1
        req._header_bytes += len(name) + len(value) + 4
        if req._header_bytes > app.max_header_bytes or req._header_count > app.max_headers:
            raise Reject(431, f"request headers exceed {app.max_header_bytes} bytes "
                              f"or {app.max_headers} lines")
        if len(name) < 6 or name[0] not in b"xXeEcCtT":  # only a few headers matter; skip lower()
            return
        name = name.lower()
        if name.startswith(b"x-mock-") or name == b"content-type":
            if req.headers is None:
                req.headers = {}
            req.headers[name] = value
        elif name == b"expect":
            req._expect_continue = value.lower() == b"100-continue"
        elif name == b"content-length":
            if value.isdigit() and int(value) > app.max_body_bytes:
                raise Reject(413, f"request body larger than {app.max_body_bytes} bytes", req.url)
        elif name == b"transfer-encoding" and self.parser.get_http_version() == "1.0":
            # RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing
            # (a 1.0 hop may not have decoded it): 400 and close, never a guess.
            raise Reject(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request")

    def on_headers_complete(self):
        """Parser: the head is complete; a client waiting on 100-continue may send its body."""
        # HTTP/1.0 has no interim responses; behind a running stream a 100 would corrupt it.
        if (self._req._expect_continue and not self._streaming and self._pending is None
                and self.parser.get_http_version() != "1.0"):
            _forget_memo(self)
            self._send_bytes(responses.CONTINUE)

    def on_body(self, bytes body):
        """Parser: a piece of the request body."""
        cdef Request req = self._req
        req._body_bytes += len(body)
        if req._body_bytes > self.app.max_body_bytes:
            raise Reject(413, f"request body larger than {self.app.max_body_bytes} bytes",
                         req.url)
        if req._body_parts is None:
            req._body_parts = [body]
        else:
            req._body_parts.append(body)

    def on_message_complete(self):
        """Parser: a whole request arrived; answer it now or queue it behind the answer in progress."""
        cdef Request req = self._req
        self._req = None
        self._in_message = False
        if self._closing:
            return
        parser = self.parser
        req.method = parser.get_method()
        req.keep_alive = parser.should_keep_alive() and not parser.should_upgrade()
        req.http10 = parser.get_http_version() == "1.0"
        parts = req._body_parts
        req.body = b"" if parts is None else parts[0] if len(parts) == 1 else b"".join(parts)
        req._body_parts = None
        if self._streaming or self._pending is not None:
            self._queue(req)
        else:
            self._dispatch(req)

    cdef void _queue(self, Request req):
        if self._pending is None:
            self._pending = [req]
        else:
            self._pending.append(req)
        self._update_reading()

    # -- parse failures ------------------------------------------------------------------

    cdef void _on_upgrade(self):
        """An Upgrade request (websocket, h2c) was answered as plain HTTP; what follows is not HTTP."""
        self._eof = True
        _forget_memo(self)
        if not self._streaming and self._pending is None and not self._closing:
            self.close()

    cdef void _on_parse_error(self, exc):
        cause = exc.__context__
        _forget_memo(self)
        if isinstance(cause, Reject):
            status, response = cause.status, cause.response
        elif cause is not None:
            log.error("error while handling a request", exc_info=cause)
            status, response = 500, responses.INTERNAL_ERROR
        else:
            status, response = 400, responses.BAD_REQUEST
        self._in_message = False
        self._req = None
        self._answer_error(status, response)

    cdef void _answer_error(self, int status, bytes response):
        """Answer a request that cannot be served (after the answers already due), then close."""
        global _log_line
        if self._closing:
            return
        if self._streaming or self._pending is not None:
            self._eof = True            # answered after what is already due, then closed
            self._queue(_error_request(response, status))
        else:
            self._started = _clock(self.app)
            _log_line = ""
            self.respond(response, 1, status, False)

    # -- answering -----------------------------------------------------------------------

    cdef int _dispatch(self, Request request) except -1:
        """Answer one request (or a queued parse error)."""
        global _log_line
        cdef Shared app = self.app
        self._started = request.started
        if request.error is not None:
            _log_line = ""
            self.respond(request.error, 1, request.error_status, False)
            return 0
        if (self._eof and self._pending is None) or app.shutting_down:
            request.keep_alive = False
        if app.access_log is not None:
            _log_line = app.access_log.request_line(request.method, request.url, request.http10)
        self.handle(request)
        return 0

    def handle(self, request):
        """Answer ``request`` with respond() or start_stream(); the subclass decides how."""
        raise NotImplementedError

    cpdef respond(self, bytes data, int route, int status, bint keep_alive, bint memo=False):
        """Write a whole response; then close, or wait for the next request.

        ``memo``: the answer depends on nothing but the request's bytes, so the
        same bytes may be answered again without parsing.
        """
        cdef Shared app = self.app
        cdef double now
        self._send_bytes(data)
        app.counters.count_request(route, status)
        now = _clock(self.app)
        app.counters.observe(DURATION_BASE, route, now - self._started)
        if app.access_log is not None:
            self._log(status, len(data), _log_line)
        if memo and keep_alive and _memo_conn is self and _memo_messages == 1:
            global _memo_answer
            _memo_answer = Memo(data, route, status, _log_line)
        if not keep_alive:
            self._close_after_answer()
        elif self._pending is None:
            self._since = now

    cdef int _log(self, int status, Py_ssize_t size, line) except -1:
        self.app.access_log.write(self._peer, line, status, size)
        return 0

    # -- streaming -----------------------------------------------------------------------

    cpdef start_stream(self, bytes head, spec, int route, bint keep_alive, bint chunked,
                       int delay_ms, int ttft_ms, long long fail_after):
        """Send ``head`` and stream ``spec`` (a StreamSpec), paced by the shared Pacer."""
        cdef Shared app = self.app
        cdef long long now_ms = app.pacer.now_ms()
        self._streaming = True
        self._stream_number += 1
        self._paused = self._write_paused
        self._keep_alive = keep_alive
        self._route = route
        self._chunked = chunked
        self._delay_ms = delay_ms
        self._fail_after = fail_after
        self._sent = 0
        self._ttft_seen = False
        self._next_ms = now_ms + ttft_ms
        self._tokens = spec.tokens
        self._total = spec.total
        splice = spec.splice
        if isinstance(splice, tuple):     # (head, number, tail): head + 16 hex digits + tail
            self._splice, self._splice_id, self._splice_tail = splice
        else:
            self._splice, self._splice_id, self._splice_tail = splice, 0, None
        self._pieces = _intern_pieces(spec)
        self._closing_spec = spec.closing
        app.counters.add(ACTIVE_STREAMS, 1)
        app.counters.count_request(route, 200)
        if app.access_log is not None:
            self._log(200, len(head), _log_line)
        if spec.opening:
            head = _chunked_after(head, spec.opening, False) if chunked else head + spec.opening
        if fail_after == 0:
            self._send_bytes(head)
            self._cut()
        elif self._total == 0:
            self._send_frames(0, head)
        elif ttft_ms == 0 and not self._paused:
            # what is due now goes with the head: the first frame, or an unpaced first batch
            self._send_frames(1 if delay_ms > 0 else MAX_BATCH, head)
        else:
            self._send_bytes(head)
        self._continue()

    cpdef answer_later(self, bytes data, int route, int status, bint keep_alive, int wait_ms,
                       Py_ssize_t cut_at):
        """Send the whole response ``data`` ``wait_ms`` from now (a non-streamed answer's
        time to first token); with ``cut_at`` >= 0 only its first ``cut_at`` bytes, then
        cut the connection (fail_after). Until then the connection is busy, like a stream."""
        cdef Shared app = self.app
        self._streaming = True
        self._whole = True
        self._stream_number += 1
        self._paused = self._write_paused
        self._keep_alive = keep_alive
        self._route = route
        self._chunked = False
        self._delay_ms = 0
        self._sent = self._total = 0
        self._fail_after = cut_at
        self._closing_spec = data
        self._next_ms = app.pacer.now_ms() + wait_ms
        app.counters.add(ACTIVE_STREAMS, 1)
        app.counters.count_request(route, status)
        if app.access_log is not None:
            self._log(status, len(data), _log_line)
        if wait_ms <= 0 and not self._paused:
            self._send_whole()
        else:
            self._continue()

    cdef int _send_whole(self) except -1:
        cdef bytes data = self._closing_spec
        if self._fail_after >= 0:
            self._send_bytes(data[:self._fail_after])
            self._cut()
        else:
            self._send_bytes(data)
            self._end_stream()
        return 0

    cdef int _due(self, long long now_ms) except -1:
        """Pacer: frames are due; send every one whose time has come."""
        cdef long long k
        if not self._streaming or self._paused:
            return 0
        if now_ms < self._next_ms:
            self._continue()
        elif self._whole:
            self._send_whole()
        elif self._delay_ms > 0:
            k = (now_ms - self._next_ms) // self._delay_ms + 1
            self._send_frames(k, None)
            self._continue()
        else:
            self._send_frames(MAX_BATCH, None)   # unpaced: the TTFT is over
            self._continue()
        return 0

    cdef void _fail(self, object exc):
        """A callback raised: log it once and drop the connection, never leave it stalled."""
        log.error("stream aborted by an internal error", exc_info=exc)
        transport = self.transport
        if self._streaming:
            self._stop_stream()
        self._closing = True
        if transport is not None:
            transport.abort()

    cdef int _continue(self) except -1:
        cdef Pacer pacer = self.app.pacer
        if not self._streaming or self._paused or self._closing:
            return 0
        if self._whole or self._delay_ms > 0 or self._next_ms > pacer.now_ms():
            # (an unpaced stream waits out its TTFT here too)
            pacer.add(self, self._next_ms)
        elif not self._burst_pending:
            self._burst_pending = True
            self.app.loop.call_soon(self._on_burst, self._stream_number)
        return 0

    def _on_burst(self, unsigned int stream_number):
        """Loop callback of an unpaced stream: write a batch, then yield to other work."""
        # No handle is kept (8 bytes a connection): a burst that is no longer wanted, or
        # was for an earlier stream of this connection, finds out here and does nothing.
        if not self._burst_pending or stream_number != self._stream_number:
            return
        self._burst_pending = False
        if not self._streaming or self._paused:
            return
        try:
            self._send_frames(MAX_BATCH, None)
            self._continue()
        except Exception as exc:
            self._fail(exc)

    cdef void _stop_timers(self):
        self.app.pacer.remove(self)
        self._burst_pending = False

    cdef int _send_frames(self, long long k, bytes head) except -1:
        """Send frames sent..sent+k-1 (clipped to the limits) in one write after ``head``."""
        cdef long long sent = self._sent, total = self._total, fail_after = self._fail_after
        cdef long long n, end
        cdef Py_ssize_t pos = 0
        cdef bytes stamp = self.app.pacer.stamp() if self._pieces.stamp else None
        cdef bint ending
        cdef Counters counters = self.app.counters
        if k > MAX_BATCH:
            k = MAX_BATCH
        if 0 <= total < sent + k:
            k = total - sent
        if 0 <= fail_after < sent + k:
            k = fail_after - sent
        if k < 0:
            k = 0
        end = sent + k
        if head is not None:
            if PyBytes_GET_SIZE(head) <= OUT_SIZE:
                pos = _put(_out, 0, head)
            else:
                self._send_bytes(head)
        n = sent
        while n < end:
            new_pos = self._put_frame(_out, pos, OUT_SIZE, n, stamp)
            if new_pos >= 0:
                pos = new_pos
                n += 1
            elif pos:                       # full: send what is composed, go on
                self._send(_out, pos)
                pos = 0
            else:                           # one frame larger than the buffer
                self._send_bytes(self._frame_bytes(n, stamp))
                n += 1
        if sent == 0 and end > 0 and not self._ttft_seen:
            self._ttft_seen = True
            counters.observe(TTFT_BASE, self._route, _clock(self.app) - self._started)
        self._sent = end
        self._next_ms += k * self._delay_ms
        counters.add(TOKENS_SENT, k)
        ending = end == total
        if ending:
            closing = self._closing_bytes()
            if pos + PyBytes_GET_SIZE(closing) > OUT_SIZE:
                if pos:
                    self._send(_out, pos)
                    pos = 0
                self._send_bytes(closing)
            else:
                pos = _put(_out, pos, closing)
        if pos:
            self._send(_out, pos)
        if end == fail_after and not ending:
            self._cut()
        elif ending:
            self._end_stream()
        return 0

    cdef bytes _closing_bytes(self):
        """What follows the last frame: the terminal events, framed, and the chunked terminator."""
        closing = self._closing_spec
        if self._whole:                     # what is still owed of a whole answer
            return closing if self._fail_after < 0 else b""
        if not isinstance(closing, bytes):
            closing = closing(self._sent, self._pieces.finish)
        if not self._chunked:
            return closing
        if closing:
            return _chunked_after(b"", closing, True)
        return _END_CHUNKED

    cdef Py_ssize_t _put_frame(self, char *out, Py_ssize_t pos, Py_ssize_t cap, long long n,
                               bytes stamp) except -2:
        """Frame ``n`` into ``out`` at ``pos``: the new end, or -1 when it does not fit."""
        cdef bytes token = <bytes>self._tokens[n % len(self._tokens)]
        cdef Pieces pieces = self._pieces
        cdef bytes prefix = pieces.first_prefix if n == 0 else pieces.prefix
        cdef bytes suffix = pieces.suffix
        cdef bytes tail = self._splice_tail
        cdef int digits = 0
        cdef Py_ssize_t size
        if pieces.last_suffix is not None and n == self._total - 1:
            suffix = pieces.last_suffix
        size = (PyBytes_GET_SIZE(self._splice) + PyBytes_GET_SIZE(prefix) + PyBytes_GET_SIZE(token)
                + PyBytes_GET_SIZE(suffix))
        if tail is not None:
            size += 16 + PyBytes_GET_SIZE(tail)
        if stamp is not None:
            size += PyBytes_GET_SIZE(stamp)
        if pieces.seq_base >= 0:
            digits = _decimal_len(pieces.seq_base + n)
            size += digits + PyBytes_GET_SIZE(pieces.seq_tail)
        if pos + size + (20 if self._chunked else 0) > cap:
            return -1
        if self._chunked:
            pos = _put_hex(out, pos, size)
        pos = _put(out, pos, self._splice)
        if tail is not None:
            pos = _put_hex16(out, pos, self._splice_id)
            pos = _put(out, pos, tail)
        if stamp is not None:
            pos = _put(out, pos, stamp)
        pos = _put(out, pos, prefix)
        pos = _put(out, pos, token)
        pos = _put(out, pos, suffix)
        if digits:
            pos = _put_decimal(out, pos, pieces.seq_base + n, digits)
            pos = _put(out, pos, pieces.seq_tail)
        if self._chunked:
            out[pos] = 13
            out[pos + 1] = 10
            pos += 2
        return pos

    cdef bytes _frame_bytes(self, long long n, bytes stamp):
        """Frame ``n`` as its own bytes object (a frame larger than the compose buffer)."""
        cdef Pieces pieces = self._pieces
        cdef Py_ssize_t size = 64 + PyBytes_GET_SIZE(<bytes>self._tokens[n % len(self._tokens)])
        size += PyBytes_GET_SIZE(self._splice) + PyBytes_GET_SIZE(pieces.first_prefix)
        size += PyBytes_GET_SIZE(pieces.prefix) + PyBytes_GET_SIZE(pieces.suffix)
        size += PyBytes_GET_SIZE(pieces.seq_tail) + (PyBytes_GET_SIZE(stamp) if stamp is not None else 0)
        if pieces.last_suffix is not None:
            size += PyBytes_GET_SIZE(pieces.last_suffix)
        if self._splice_tail is not None:
            size += 16 + PyBytes_GET_SIZE(self._splice_tail)
        buf = PyBytes_FromStringAndSize(NULL, size)
        cdef Py_ssize_t end = self._put_frame(PyBytes_AS_STRING(buf), 0, size, n, stamp)
        return buf[:end]

    cdef int _cut(self) except -1:
        """fail_after: end abruptly, the way a crashed upstream does (no terminal event)."""
        transport = self.transport
        self._stop_stream()
        self._closing = True
        self._since = _clock(self.app)
        self._pending = None
        if transport is not None:
            transport.abort()
        return 0

    cdef void _stop_stream(self):
        """Forget the stream: its timers, its pieces, its place in the gauges."""
        self._stop_timers()
        self._streaming = False
        self._whole = False
        self._paused = False
        self._tokens = None
        self._splice = self._splice_tail = None
        self._pieces = None
        self._closing_spec = None
        self.app.counters.add(ACTIVE_STREAMS, -1)
        self.app.counters.observe(DURATION_BASE, self._route, _clock(self.app) - self._started)

    cdef int _end_stream(self) except -1:
        """The last frame is written; go on with the next request or close."""
        cdef Request request
        self._stop_stream()
        if not self._keep_alive:
            self._close_after_answer()
            return 0
        self._since = _clock(self.app)
        while self._pending is not None and not self._streaming and not self._closing:
            request = self._pending.pop(0)
            if not self._pending:
                self._pending = None
            self._dispatch(request)
        self._update_reading()
        return 0

    # -- closing, timeouts and shutdown ----------------------------------------------------

    def close(self):
        """Close after what is buffered has been sent (a lingering close ends here too)."""
        if self._closing and not self._lingering:
            return
        self._closing = True
        self._lingering = False
        self._since = _clock(self.app)
        self._pending = None
        if self.transport is not None:
            self.transport.close()

    cdef void _close_after_answer(self):
        """The answer said Connection: close: send FIN after it, but keep reading for a while.

        Closing a socket that still has unread bytes makes the kernel send RST,
        and a client that already sent its next request (pipelined, or racing
        our close) would then lose the answer it had not read yet. So shut
        down our side, discard what still arrives, and close when the client
        does, or after LINGER_SECONDS (lingering close, as nginx does).
        """
        transport = self.transport
        if self._closing:
            return
        if transport is None or self._eof or not transport.can_write_eof():
            self.close()
            return
        self._closing = True
        self._lingering = True
        self._since = _clock(self.app)
        self._pending = None
        transport.write_eof()
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    cdef int _check_timeouts(self, double now) except -1:
        """Server sweep, once a second: cut stalled heads and idle keep-alive connections."""
        global _log_line
        cdef Shared app = self.app
        if self._closing:
            if self._lingering:
                if now - self._since > LINGER_SECONDS:
                    self.close()
            elif self.transport is not None and now - self._since > app.shutdown_timeout:
                self.transport.abort()   # the peer never read what close() waits to flush
        elif self._streaming or self._pending is not None:
            return 0                     # a response is in progress: streams are never cut
        elif self._in_message:
            if now - self._req.started > app.header_timeout:
                self._started = self._req.started
                _log_line = ""
                self.respond(responses.openai_error(408, "request not received in time",
                                                    keep_alive=False), 1, 408, False)
        elif now - self._since > app.keepalive_timeout:
            self.close()
        return 0

    def shutdown(self):
        """Server: stop after the response in progress, if any."""
        if self._lingering or (not self._streaming and self._pending is None):
            self.close()
        else:
            self._keep_alive = False
            self._pending = None

    def end_stream_now(self):
        """Server, when the shutdown grace is over: end the stream cleanly and close."""
        if self._streaming and self.transport is not None:
            self._send_bytes(self._closing_bytes())
            self._stop_stream()
        self.close()

    # -- for tests and /metrics ----------------------------------------------------------

    def check_timeouts(self, double now):
        self._check_timeouts(now)

    @property
    def streaming(self):
        return bool(self._streaming)

    @property
    def pending(self):
        return len(self._pending) if self._pending is not None else 0

    @property
    def closing(self):
        return bool(self._closing)
