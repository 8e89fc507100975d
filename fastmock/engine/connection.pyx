# Connection: HTTP/1.1 in, for uvloop and httptools.
#
# The asyncio.Protocol callbacks, httptools' parser callbacks with the limits llhttp
# does not enforce, pipelining (requests queue behind the answer in progress), parse
# errors, and the answers: each parsed request goes to ``handle(request)``, which the
# Python subclass (fastmock.protocol.HttpProtocol) implements with ``respond()``,
# ``start_stream()`` and ``answer_later()``. It knows HTTP/1.1 framing, not what any
# route answers: every answer it sends on its own comes from ``Shared.answers``.
#
# A read that is byte for byte a request answered before with a static document is
# answered from ``Shared.memo`` (engine/memo.pyx) without parsing; a read that holds one
# whole request the app can answer from its bytes goes to ``Shared.fast_path`` (the
# provider APIs' compiled path, handed over by the app) before the parser too.

import logging

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

log = logging.getLogger("fastmock")

# The transport's high-water mark: a connection pauses (its stream stops composing, its
# reading stops) as soon as the transport holds a byte, so the kernel's send buffer is the
# only buffer, and a client that stops reading holds at most the frame the kernel cut.
WRITE_HIGH_WATER = 0
# After a FIN during an answer, when to look for the reset of a client that has closed
# (seconds after the probe, then after each look): within 100 ms of the FIN for any
# client less than ~50 ms away; a client still there after that only half-closed.
PROBE_WAITS = (0.01, 0.03, 0.05)
# What a request's head may span beyond the URL and header budgets (request line, framing).
HEAD_SLACK = 1024
# Headers kept on Request.headers besides X-Mock-*: the body's type, the request's id and
# test id (the control API and the journal), and the context fixtures can match on.
KEPT_HEADERS = frozenset((b"content-type", b"x-request-id", b"x-test-id",
                          b"x-fastmock-context", b"x-aimock-context"))
# ... and, when the app asks (Shared.keep_api_keys, for its rate limits), the API key's.
API_KEY_HEADERS = frozenset((b"authorization", b"x-api-key"))
_HAS_LENIENCY = hasattr(HttpRequestParser, "set_dangerous_leniencies")


cdef class Connection(Streamer):
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
        self.transport = transport         # and in the open-connections gauge until lost
        transport.set_write_buffer_limits(WRITE_HIGH_WATER)
        app.counters.add(OPEN_CONNECTIONS, 1)
        app.counters.add(CONNECTIONS_TOTAL, 1)
        app._attach(self)
        self._since = _clock(self.app)
        if app.access_log is not None:
            self._access = AccessContext(transport.get_extra_info("peername"))

    def connection_lost(self, exc):
        """Loop: the connection is gone. The one teardown point: drop every timer and buffer."""
        cdef Shared app = self.app
        if self.transport is not None:
            app.counters.add(OPEN_CONNECTIONS, -1)
        if app._holds(self):
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
        cdef Shared app = self.app
        cdef RequestMemo memo = app.memo
        cdef Memo answer
        cdef Request req
        if self._closing or self._eof:  # after an upgrade or a parse error nothing more is HTTP
            return
        if not (self._streaming or self._in_message or self._pending is not None
                or app.shutting_down):
            answer = memo.lookup(data)
            if answer is not None:
                self._answer_memo(answer)
                return
            # A whole request in this read that the app answers from its bytes alone (and
            # then with respond() or start_stream(), as handle() would): no parse.
            if app.fast_path is not None and not self._write_paused:
                self._started = _clock(app)
                if app.fast_path(self, data):
                    return
            memo.begin_read(self)
        else:
            memo.begin_read(None)
        if not self._in_message:            # a request line starts this read
            line_error = _request_line_error(data)
            if line_error:
                memo.forget(self)
                self._answer_error(line_error, app.answers.bad_request if line_error == 400 else
                                   app.answers.error(505, "this HTTP version is not supported; "
                                                          "use HTTP/1.1"))
                return
        parser = self.parser
        if parser is None:
            parser = self.parser = HttpRequestParser(self)
            if _HAS_LENIENCY:  # "Connection: close" then more bytes must not turn the request into a 400
                parser.set_dangerous_leniencies(lenient_data_after_close=True)
        req = self._req
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
        memo.end_read(self, data, not self._in_message)
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
            if self._streaming and not self._probed:
                self._probe()
            return True
        return None

    cdef void _probe(self):
        """FIN while an answer is due: has the client closed, or only half-closed (it still
        reads)? TCP cannot tell until we send; a stream may not send for seconds. So send
        one byte that changes nothing for a reader, and a closed client's kernel answers it
        with RST, which _check_peer looks for: a leading zero of the next chunk size line
        (chunked), or the first byte of the whole answer due (sent early, skipped later).
        A close-delimited (HTTP/1.0) stream has no such byte: it learns at its next write."""
        if self._fd < 0 or self._closing:   # no socket to look at (tests' fake transports)
            return
        if self._whole and type(self._closing_spec) is bytes:
            self._probed = PROBED_AHEAD
            self._send(PyBytes_AS_STRING(<bytes>self._closing_spec), 1)
        elif self._chunked:
            self._probed = PROBED
            self._send("0", 1)
        else:
            return
        self.app.loop.call_later(PROBE_WAITS[0], self._check_peer, 0)

    def _check_peer(self, int attempt):
        """Loop, after a probe: a reset means the client has gone; free the connection now."""
        cdef int error = 0
        cdef unsigned int size = sizeof(int)
        if self.transport is None or self._closing:
            return
        if c_getsockopt(self._fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 and error == 0:
            if attempt + 1 < len(PROBE_WAITS):    # no reset yet: the client may be far away
                self.app.loop.call_later(PROBE_WAITS[attempt + 1], self._check_peer, attempt + 1)
            return
        transport = self.transport
        if self._streaming:
            self._stop_stream()
        self._closing = True
        self._pending = None
        transport.abort()

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
                self._answer_error(431, app.answers.error(
                    431, f"request headers exceed {app.max_header_bytes} bytes"))

    cdef void _answer_memo(self, Memo memo):
        cdef Counters counters = self.app.counters
        cdef double started = _clock(self.app)
        memo.send_to(self)
        counters.count_request(memo.route, memo.status)
        counters.observe(DURATION_BASE, memo.route, _clock(self.app) - started)
        self._since = started
        if self.app.access_log is not None:
            self._log(memo.status, len(memo), memo.log_line)

    # -- parser callbacks --------------------------------------------------------------

    def on_message_begin(self):
        """Parser: a request starts."""
        cdef Request req = Request.__new__(Request)
        req.url = b""
        req.started = _clock(self.app)
        req._head_read = -1             # this read began the request: counted from the next one
        self._req = req
        self._in_message = True
        self.app.memo.message_begun(self)

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
        if len(name) == 4 and name.lower() == b"host":
            req._hosts += 1
            return
        if len(name) < 6 or (name[0] not in b"xXeEcCtT"     # only a few headers matter;
                             and not (app.keep_api_keys and name[0] in b"aA")):  # skip lower()
            return
        name = name.lower()
        if name.startswith(b"x-mock-") or name in KEPT_HEADERS \
                or (app.keep_api_keys and name in API_KEY_HEADERS):
            if req.headers is None:
                req.headers = {}
            req.headers[name] = value
        elif name == b"expect":
            req._expect_continue = value.lower() == b"100-continue"
        elif name == b"content-length":
            if value.isdigit() and int(value) > app.max_body_bytes:
                raise Reject(413, f"request body larger than {app.max_body_bytes} bytes", req.url)
        elif name == b"transfer-encoding":
            if self.parser.get_http_version() == "1.0":
                # RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing
                # (a 1.0 hop may not have decoded it): 400 and close, never a guess.
                raise Reject(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request")
            if value.strip().lower() != b"chunked":
                # llhttp decodes "gzip, chunked" as plain chunked, when the body is gzip;
                # 400 and close like every framing it rejects itself ("gzip", "xchunked").
                raise Reject(400, "a Transfer-Encoding other than chunked is not supported")

    def on_headers_complete(self):
        """Parser: the head is complete; a client waiting on 100-continue may send its body."""
        cdef Request req = self._req
        req._head_done = True
        version = self.parser.get_http_version()
        if version != "1.1" and version != "1.0":     # llhttp also takes 0.9 and 2.0
            raise Reject(505, f"HTTP/{version} is not supported; use HTTP/1.1")
        if req._hosts != 1 and (req._hosts or version == "1.1"):   # RFC 9112 3.2
            raise Reject(400, "an HTTP/1.1 request needs exactly one Host header")
        # HTTP/1.0 has no interim responses; behind a running stream a 100 would corrupt it.
        if (self._req._expect_continue and not self._streaming and self._pending is None
                and self.parser.get_http_version() != "1.0"):
            self.app.memo.forget(self)
            self._send_bytes(self.app.answers.continue_)

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
        # While the client does not read (the transport holds bytes), its next answers
        # wait as requests, not as bytes: a read of pipelined requests from a client that
        # never reads would otherwise become megabytes of answers in the transport.
        if self._streaming or self._pending is not None or self._write_paused:
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
        self.app.memo.forget(self)
        if not self._streaming and self._pending is None and not self._closing:
            self._close()

    cdef void _on_parse_error(self, exc):
        cdef Request req = self._req
        cause = exc.__context__
        answers = self.app.answers
        self.app.memo.forget(self)
        if isinstance(cause, Reject):
            status = cause.status
            response = answers.error(status, cause.message, cause.url)
        elif cause is not None:
            log.error("error while handling a request", exc_info=cause)
            status, response = 500, answers.internal_error
        else:
            status, response = 400, answers.bad_request
        self._in_message = False
        self._req = None
        self._answer_error(status, response, req)

    cdef void _answer_error(self, int status, bytes response, Request req=None):
        """Answer a request that cannot be served (after the answers already due), then
        close. ``req``: the request it answers, when its head was parsed (its id)."""
        if self._closing:
            return
        response = self._identified(response, req)
        if self._streaming or self._pending is not None:
            self._eof = True            # answered after what is already due, then closed
            self._queue(_error_request(response, status))
        else:
            self._started = _clock(self.app)
            if self._access is not None:
                self._access.line = ""
            self.respond(response, 1, status, False)

    cdef int _check_head_timeout(self, double now) except -1:
        """Link._check_timeouts: a request's head or body that is late gets a 408."""
        cdef Shared app = self.app
        if now - self._req.started > app.header_timeout:
            self._started = self._req.started
            if self._access is not None:
                self._access.line = ""
            self.respond(self._identified(app.answers.error(408, "request not received in time"),
                                          None), 1, 408, False)
        return 0

    cdef bytes _identified(self, bytes response, Request req):
        """A canned answer with its X-Request-Id (a rare path: the app splices it): the
        client's own when its head was parsed (the app checks it is safe), else fresh."""
        headers = req.headers if req is not None and req._head_done else None
        return self.app.answers.identified(response, headers)

    # -- answering -----------------------------------------------------------------------

    cdef int _dispatch(self, Request request) except -1:
        """Answer one request (or a queued parse error)."""
        cdef Shared app = self.app
        self._started = request.started
        if request.error is not None:
            if self._access is not None:
                self._access.line = ""
            self.respond(request.error, 1, request.error_status, False)
            return 0
        if (self._eof and self._pending is None) or app.shutting_down:
            request.keep_alive = False
        if app.access_log is not None:
            if self._access is None:        # the log was turned on after this connected
                self._access = AccessContext(None if self.transport is None
                                             else self.transport.get_extra_info("peername"))
            self._access.line = app.access_log.request_line(request.method, request.url,
                                                            request.http10)
        self.handle(request)
        return 0

    def handle(self, request):
        """Answer ``request`` with respond() or start_stream(); the subclass decides how."""
        raise NotImplementedError

    cpdef respond(self, bytes data, int route, int status, bint keep_alive, bint memo=False,
                  bint fresh_id=False):
        """Write a whole response; then close, or wait for the next request.

        ``memo``: the answer depends on nothing but the request's bytes, so the
        same bytes may be answered again without parsing. ``fresh_id``: ``data``
        has no X-Request-Id; send it with a fresh one (engine/ids.pyx), and let the
        memo give every later answer its own.
        """
        cdef Shared app = self.app
        cdef double now
        cdef Py_ssize_t id_at = id_line_at(data) if fresh_id else -1
        cdef bytes sent = data if id_at < 0 else with_id_line(data, id_at)
        self._send_bytes(sent)
        app.counters.count_request(route, status)
        now = _clock(self.app)
        app.counters.observe(DURATION_BASE, route, now - self._started)
        if app.access_log is not None:
            self._log_answer(status, len(sent))
        if memo and keep_alive:
            app.memo.offer(self, data, route, status,
                           self._access.line if self._access is not None else "", id_at)
        if not keep_alive:
            self._close_after_answer()
        elif self._pending is None:
            self._since = now

    cdef int _answer_pending(self) except -1:
        """Streamer._end_stream and resume_writing: answer the requests that waited, until
        one streams or the client stops reading."""
        cdef Request request
        while (self._pending is not None and not self._streaming and not self._closing
               and not self._write_paused):
            request = self._pending.pop(0)
            if not self._pending:
                self._pending = None
            self._dispatch(request)
        self._update_reading()
        return 0
