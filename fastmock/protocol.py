"""HttpProtocol: one asyncio.Protocol per connection, on httptools and uvloop.

It knows HTTP (keep-alive, pipelining, HTTP/1.0, HEAD, limits, errors) and
hands streams to FrameStream. Requests parsed while a response is still
streaming wait in ``pending`` and are answered in order; reading pauses when
that queue is full or when the client stops reading what we write.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from fastmock import controls, responses
from fastmock.frames import CLOSE, KEEP_ALIVE, KEEP_ALIVE_10, chat_chunk_splice
from fastmock.routes import API, METRICS, STATIC, STREAM, find
from fastmock.stream import FrameStream, OllamaStream, SpecStream, WholeAnswer

log = logging.getLogger("fastmock")

HEAD = b"HEAD"
OPTIONS = b"OPTIONS"
_HAS_LENIENCY = hasattr(HttpRequestParser, "set_dangerous_leniencies")


def _request_line(method: bytes, url: bytes, http10: bool) -> str:
    """The request as the access log shows it; quotes and control bytes escaped."""
    target = url.decode("ascii", "backslashreplace").replace('"', "\\x22")
    return f"{method.decode('latin-1')} {target} HTTP/{'1.0' if http10 else '1.1'}"


class Reject(Exception):
    """Raised in a parser callback: answer with ``response`` and close."""

    def __init__(self, status: int, message: str, url: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        route = find(url.partition(b"?")[0]) if url else None
        if route is not None and route.kind == API:  # in the provider API's own error shape
            from fastmock import api
            answer = api.error_for(url.partition(b"?")[0], status, message)
            self.response = responses.complete(status, answer.content_type, answer.body,
                                               keep_alive=False, extra=answer.headers)
        else:
            self.response = responses.openai_error(status, message, keep_alive=False)


class HttpProtocol(asyncio.Protocol):
    __slots__ = (
        # server-wide
        "app", "config",
        # connection
        "transport", "parser", "stream", "pending", "keep_alive", "closing", "closing_since",
        "write_paused", "read_paused", "eof", "idle_since", "peer", "request_line",
        # the request being parsed
        "in_message", "message_started", "url", "header_bytes", "header_count", "mock_headers",
        "expect_continue", "body_bytes", "body",
    )

    def __init__(self, app) -> None:
        self.app = app
        self.config = app.config
        self.transport = None
        self.parser = None
        self.stream = None            # the FrameStream being sent, if any
        self.pending = deque()        # parsed requests waiting for the stream to end
        self.keep_alive = True        # of the response in progress
        self.closing = False
        self.closing_since = 0.0
        self.write_paused = False
        self.read_paused = False
        self.eof = False              # the client half-closed: answer what it sent, then close
        self.idle_since = 0.0
        self.peer = None
        self.request_line = ""        # for the access log, when it is on
        self.in_message = False
        self.message_started = 0.0
        self.url = b""
        self.header_bytes = 0
        self.header_count = 0
        self.mock_headers = None
        self.expect_continue = False
        self.body_bytes = 0
        self.body = None              # chunks of a POST body (the provider APIs read it)

    # -- asyncio.Protocol interface ------------------------------------------

    def connection_made(self, transport) -> None:
        """Loop: a client connected."""
        self.transport = transport
        self.app.connections.add(self)
        self.app.metrics.connections += 1
        self.idle_since = self.app.loop.time()
        if self.app.access_log is not None:
            self.peer = transport.get_extra_info("peername")

    def connection_lost(self, exc) -> None:
        """Loop: the connection is gone. The one teardown point: drop every timer and buffer."""
        app = self.app
        app.connections.discard(self)
        app.metrics.connections -= 1
        if self.stream is not None:
            self.stream.cancel()
            self.stream = None
            app.metrics.streams -= 1
        self.pending.clear()
        self.parser = None
        self.transport = None
        self.closing = True

    def data_received(self, data: bytes) -> None:
        """Loop: bytes arrived; the parser calls back on_* for each request in them."""
        if self.closing or self.eof:  # after an upgrade or a parse error nothing more is HTTP
            return
        parser = self.parser
        if parser is None:
            parser = self.parser = HttpRequestParser(self)
            if _HAS_LENIENCY:  # "Connection: close" then more bytes must not turn the request into a 400
                parser.set_dangerous_leniencies(lenient_data_after_close=True)
        try:
            parser.feed_data(data)
        except HttpParserUpgrade:
            self.on_upgrade()
        except HttpParserError as exc:
            self.on_parse_error(exc)
        # A streaming connection holds no parser (~0.7 KB): it is rebuilt on the next bytes.
        if self.stream is not None and not self.in_message and not self.pending:
            self.parser = None

    def eof_received(self):
        """Loop: the client will send no more; keep the transport open while answers are due."""
        self.eof = True
        if self.stream is not None or self.pending:
            if not self.pending:   # else the last pending answer closes (see handle)
                self.keep_alive = False
            return True
        return None

    # -- flow control ----------------------------------------------------------

    def pause_writing(self) -> None:
        """Transport: its buffer passed the high-water mark."""
        self.write_paused = True
        if self.stream is not None:
            self.stream.pause()
        self._update_reading()

    def resume_writing(self) -> None:
        """Transport: its buffer drained below the low-water mark."""
        self.write_paused = False
        if self.stream is not None:
            self.stream.resume()
        self._update_reading()

    def _update_reading(self) -> None:
        """Read only while the client reads our answers and the pipeline has room."""
        transport = self.transport
        if transport is None or self.closing:
            return
        pending, config = self.pending, self.config
        # Queued provider requests hold their bodies: together they get one body's budget.
        pause = (self.write_paused or len(pending) >= config.max_pipelined
                 or (len(pending) > 0 and sum([len(r[5]) for r in pending]) > config.max_body_bytes))
        if pause != self.read_paused:
            self.read_paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # -- parser callbacks ------------------------------------------------------

    def on_message_begin(self) -> None:
        """Parser: a request starts."""
        self.in_message = True
        self.message_started = self.app.loop.time()
        self.url = b""
        self.header_bytes = 0
        self.header_count = 0
        self.mock_headers = None
        self.expect_continue = False
        self.body_bytes = 0
        self.body = None

    def on_url(self, url: bytes) -> None:
        """Parser: (a fragment of) the request target."""
        self.url += url
        if len(self.url) > self.config.max_url_bytes:
            raise Reject(414, f"request target longer than {self.config.max_url_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        """Parser: one header line, joined across reads by httptools."""
        self.header_count += 1
        self.header_bytes += len(name) + len(value) + 4
        config = self.config
        if self.header_bytes > config.max_header_bytes or self.header_count > config.max_headers:
            raise Reject(431, f"request headers exceed {config.max_header_bytes} bytes "
                              f"or {config.max_headers} lines")
        first = name[0]
        if first in b"xXeEcC":  # only a few headers matter; skip lower() for the rest
            name = name.lower()
            if name in controls.HEADER_NAMES:
                if self.mock_headers is None:
                    self.mock_headers = {}
                self.mock_headers[name] = value
            elif name == b"expect":
                self.expect_continue = value.lower() == b"100-continue"
            elif name == b"content-length":
                if value.isdigit() and int(value) > config.max_body_bytes:
                    raise Reject(413, f"request body larger than {config.max_body_bytes} bytes",
                                 self.url)

    def on_headers_complete(self) -> None:
        """Parser: the head is complete; a client waiting on 100-continue may send its body."""
        if self.parser.get_method() == b"POST":
            self.body = []
        # HTTP/1.0 has no interim responses; behind a running stream a 100 would corrupt it.
        if (self.expect_continue and self.stream is None and not self.pending
                and self.parser.get_http_version() != "1.0"):
            self.transport.write(responses.CONTINUE)

    def on_body(self, body: bytes) -> None:
        """Parser: a piece of the request body (kept for POST: the provider APIs read it)."""
        self.body_bytes += len(body)
        if self.body_bytes > self.config.max_body_bytes:
            raise Reject(413, f"request body larger than {self.config.max_body_bytes} bytes",
                         self.url)
        if self.body is not None:
            self.body.append(body)

    def on_message_complete(self) -> None:
        """Parser: a whole request arrived; answer it now or queue it behind the stream."""
        self.in_message = False
        if self.closing:
            return
        parser = self.parser
        keep_alive = parser.should_keep_alive() and not parser.should_upgrade()
        request = (parser.get_method(), self.url, self.mock_headers, keep_alive,
                   parser.get_http_version() == "1.0", b"".join(self.body) if self.body else b"")
        self.body = None
        if self.stream is not None or self.pending:
            self.pending.append(request)
            self._update_reading()
        else:
            self.handle(*request)

    # -- parse failures ----------------------------------------------------------

    def on_upgrade(self) -> None:
        """An Upgrade request (websocket, h2c) was answered as plain HTTP; what follows is not HTTP."""
        self.eof = True
        if self.stream is None and not self.pending:
            self.close()

    def on_parse_error(self, exc: HttpParserError) -> None:
        cause = exc.__context__
        if isinstance(cause, Reject):
            status, response = cause.status, cause.response
        elif cause is not None:
            log.error("error while handling a request", exc_info=cause)
            status, response = 500, responses.INTERNAL_ERROR
        else:
            status, response = 400, responses.BAD_REQUEST
        self.in_message = False
        if self.stream is not None or self.pending:
            self.pending.append((None, response, status, False, False, b""))  # after the answers due
            self.eof = True
            self._update_reading()
        else:
            self.respond(response, "error", status, False)

    # -- answering -----------------------------------------------------------------

    def handle(self, method, url, mock_headers, keep_alive: bool, http10: bool,
               body: bytes = b"") -> None:
        """Answer one request (a pending parse error comes as (None, response, status))."""
        if method is None:
            self.respond(url, "error", mock_headers, False)
            return
        if (self.eof and not self.pending) or self.app.shutting_down:
            keep_alive = False
        if self.app.access_log is not None:
            self.request_line = _request_line(method, url, http10)
        q = url.find(b"?")
        path = url if q < 0 else url[:q]
        route = find(path)
        if route is None:
            message = "no route for " + path.decode("utf-8", "replace")[:200]
            self.respond(responses.openai_error(404, message, keep_alive=keep_alive, http10=http10,
                                                head_only=method == HEAD),
                         "other", 404, keep_alive)
        elif method not in route.methods:
            self.respond(responses.method_not_allowed(route.allow, method.decode("latin-1"),
                                                      keep_alive=keep_alive, http10=http10),
                         route.name, 405, keep_alive)
        elif method == OPTIONS:
            self.respond(responses.preflight(route.allow, keep_alive=keep_alive, http10=http10),
                         route.name, 204, keep_alive)
        elif route.kind == STATIC:
            gets, heads = self.app.static[path]
            variant = (KEEP_ALIVE_10 if http10 else KEEP_ALIVE) if keep_alive else CLOSE
            self.respond((heads if method == HEAD else gets)[variant], route.name, 200, keep_alive)
        elif route.kind == STREAM:
            self.start_stream(route, method, None if q < 0 else url[q + 1:], mock_headers,
                              keep_alive, http10)
        elif route.kind == API:
            self.answer_api(route, method, path, None if q < 0 else url[q + 1:], mock_headers,
                            body, keep_alive, http10)
        elif route.kind == METRICS:
            self.respond(responses.complete(200, b"text/plain; version=0.0.4; charset=utf-8",
                                            self.app.metrics.render(), keep_alive=keep_alive,
                                            http10=http10, head_only=method == HEAD),
                         route.name, 200, keep_alive)

    def respond(self, data: bytes, route: str, status: int, keep_alive: bool) -> None:
        """Write a whole response; then close, or wait for the next request."""
        self.transport.write(data)
        app = self.app
        app.metrics.count(route, status)
        app.metrics.bytes_sent += len(data)
        if app.access_log is not None:
            app.access_log.write(self.peer, self.request_line, status, len(data))
        if not keep_alive:
            self.close()
        elif not self.pending:
            self.idle_since = app.loop.time()

    def start_stream(self, route, method, query, mock_headers, keep_alive, http10) -> None:
        app, config = self.app, self.config
        head_only = method == HEAD
        try:
            ctl = controls.parse(query, mock_headers, config.delay_ms, config.ttft_ms)
        except controls.InvalidControl as exc:
            self.respond(responses.openai_error(400, str(exc), exc.param, keep_alive=keep_alive,
                                                http10=http10, head_only=head_only),
                         route.name, 400, keep_alive)
            return
        if ctl.status >= 400:
            message = f"mock error: status {ctl.status} requested by the status control"
            self.respond(responses.openai_error(ctl.status, message, keep_alive=keep_alive,
                                                http10=http10, head_only=head_only),
                         route.name, ctl.status, keep_alive)
            return
        heads = responses.NDJSON_HEADS if route.ollama else responses.SSE_HEADS
        if http10:
            keep_alive = False  # the body is delimited by closing the connection
            head = heads[responses.RAW_CLOSE]
        else:
            head = heads[responses.CHUNKED_KEEP_ALIVE if keep_alive else responses.CHUNKED_CLOSE]
        if head_only:
            self.respond(head, route.name, 200, keep_alive)
            return
        frames = app.frames
        table = getattr(frames, route.table)
        total = ctl.max_tokens if ctl.max_tokens > 0 else (-1 if route.endless else table.count)
        if route.ollama:
            stream = OllamaStream(self, self.transport, app.pacer, app.metrics, table,
                                  chunked=not http10, model=frames.ollama_model, total=total,
                                  delay_ms=ctl.delay_ms, fail_after=ctl.fail_after)
        else:
            splice = chat_chunk_splice(app.next_id(), int(time.time()), frames.chat_model)
            stream = FrameStream(self, self.transport, app.pacer, app.metrics, table,
                                 chunked=not http10, splice=splice, total=total,
                                 delay_ms=ctl.delay_ms, fail_after=ctl.fail_after)
        self.stream = stream
        self.keep_alive = keep_alive
        app.metrics.streams += 1
        app.metrics.count(route.name, 200)
        if app.access_log is not None:
            app.access_log.write(self.peer, self.request_line, 200, len(head))
        stream.paused = self.write_paused
        stream.start(head, app.pacer.now_ms(), ctl.ttft_ms)

    # -- provider APIs (issue #3): the engine's whole part of them ---------------------

    def answer_api(self, route, method, path, query, mock_headers, body, keep_alive,
                   http10) -> None:
        """Answer a provider request: a whole response (maybe late or cut) or a StreamSpec stream."""
        from fastmock import api  # the first provider request loads the API modules
        app = self.app
        answer = api.dispatch(method, path, query, mock_headers, body, self.config, app.frames)
        if isinstance(answer, api.Streamed):
            if http10:
                keep_alive = False  # the body is delimited by closing the connection
            heads = responses.stream_heads_for(answer.spec.content_type)
            head = heads[responses.RAW_CLOSE if http10 else
                         responses.CHUNKED_KEEP_ALIVE if keep_alive else responses.CHUNKED_CLOSE]
            stream = SpecStream(self, self.transport, app.pacer, app.metrics, answer.spec,
                                chunked=not http10, delay_ms=answer.delay_ms,
                                fail_after=answer.fail_after)
            self._begin(stream, route, 200, len(head), keep_alive)
            stream.start_spec(head, app.pacer.now_ms(), answer.ttft_ms)
            return
        data = responses.complete(answer.status, answer.content_type, answer.body,
                                  keep_alive=keep_alive, http10=http10, head_only=method == HEAD,
                                  extra=answer.headers)
        if answer.wait_ms <= 0 and not answer.cut:
            self.respond(data, route.name, answer.status, keep_alive)
            return
        # Late (TTFT) or cut (fail_after): the connection is busy with it, like a stream.
        body_len = 0 if method == HEAD else len(answer.body)
        cut_at = len(data) - body_len + body_len // 2 if answer.cut else -1
        stream = WholeAnswer(self, self.transport, app.pacer, app.metrics, data, cut_at)
        self._begin(stream, route, answer.status, len(data), keep_alive)
        stream.start(app.pacer.now_ms(), answer.wait_ms)

    def _begin(self, stream, route, status: int, size: int, keep_alive: bool) -> None:
        app = self.app
        self.stream = stream
        self.keep_alive = keep_alive
        app.metrics.streams += 1
        app.metrics.count(route.name, status)
        if app.access_log is not None:
            app.access_log.write(self.peer, self.request_line, status, size)
        stream.paused = self.write_paused

    def on_stream_end(self) -> None:
        """FrameStream: the last frame is written; go on with the next request or close."""
        self.stream = None
        self.app.metrics.streams -= 1
        if not self.keep_alive:
            self.close()
            return
        self.idle_since = self.app.loop.time()
        pending = self.pending
        while pending and self.stream is None and not self.closing:
            self.handle(*pending.popleft())
        self._update_reading()

    # -- closing, timeouts and shutdown --------------------------------------------

    def close(self) -> None:
        """Close after what is buffered has been sent."""
        if self.closing:
            return
        self.closing = True
        self.closing_since = self.app.loop.time()
        self.pending.clear()
        if self.transport is not None:
            self.transport.close()

    def check_timeouts(self, now: float) -> None:
        """Server sweep, once a second: cut stalled heads and idle keep-alive connections."""
        config = self.config
        if self.closing:
            if self.transport is not None and now - self.closing_since > config.shutdown_timeout:
                self.transport.abort()   # the peer never read what close() waits to flush
        elif self.stream is not None or self.pending:
            return                       # a response is in progress: streams are never cut
        elif self.in_message:
            if now - self.message_started > config.header_timeout:
                self.respond(responses.openai_error(408, "request not received in time",
                                                    keep_alive=False), "error", 408, False)
        elif now - self.idle_since > config.keepalive_timeout:
            self.close()

    def shutdown(self) -> None:
        """Server: stop after the response in progress, if any."""
        if self.stream is None and not self.pending:
            self.close()
        else:
            self.keep_alive = False
            self.pending.clear()

    def end_stream_now(self) -> None:
        """Server, when the shutdown grace is over: end the stream cleanly and close."""
        stream = self.stream
        if stream is not None and self.transport is not None:
            self.transport.write(stream.closing())
            stream.cancel()
            self.stream = None
            self.app.metrics.streams -= 1
        self.close()
