"""HttpProtocol: what each request is answered with.

The connection machinery (parsing, pipelining, flow control, pacing, direct
writes) is the compiled ``Connection`` base class; this module decides the
answer to each parsed request: a pre-encoded document, an error in the
route's API shape, or a stream described by a StreamSpec.
"""
import asyncio
import time

from fastmock import responses
from fastmock._engine import Connection
from fastmock.frames import CLOSE, KEEP_ALIVE, KEEP_ALIVE_10
from fastmock.routes import API, METRICS, OTHER, STATIC, STREAM, find

HEAD = b"HEAD"
OPTIONS = b"OPTIONS"
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class HttpProtocol(Connection, asyncio.Protocol):
    __slots__ = ()

    def handle(self, request) -> None:
        """Connection: answer one parsed request."""
        url = request.url
        q = url.find(b"?")
        path = url if q < 0 else url[:q]
        method, keep_alive, http10 = request.method, request.keep_alive, request.http10
        route = find(path)
        if route is None:
            message = "no route for " + path.decode("utf-8", "replace")[:200]
            self.respond(responses.openai_error(404, message, keep_alive=keep_alive, http10=http10,
                                                head_only=method == HEAD),
                         OTHER, 404, keep_alive)
        elif method not in route.methods:
            self.respond(responses.method_not_allowed(route.allow, method.decode("latin-1"),
                                                      keep_alive=keep_alive, http10=http10),
                         route.index, 405, keep_alive)
        elif method == OPTIONS:
            self.respond(responses.preflight(route.allow, keep_alive=keep_alive, http10=http10),
                         route.index, 204, keep_alive)
        elif route.kind == STATIC:
            gets, heads = self.app.static[path]
            variant = (KEEP_ALIVE_10 if http10 else KEEP_ALIVE) if keep_alive else CLOSE
            self.respond((heads if method == HEAD else gets)[variant], route.index, 200, keep_alive,
                         True)
        elif route.kind == STREAM:
            self.seed_stream(route, request, None if q < 0 else url[q + 1:])
        elif route.kind == API:
            self.provider_api(route, request, path, None if q < 0 else url[q + 1:])
        elif route.kind == METRICS:
            from fastmock.metrics import render  # loaded by the first scrape, not at start
            self.respond(responses.complete(200, METRICS_TYPE, render(self.app.counters),
                                            keep_alive=keep_alive, http10=http10,
                                            head_only=method == HEAD),
                         route.index, 200, keep_alive)

    def seed_stream(self, route, request, query: bytes | None) -> None:
        """/stream-sse, /stream-loop and /stream-ndjson, with their per-request controls."""
        from fastmock import controls  # the first stream loads the control parser
        app, config = self.app, self.app.config
        keep_alive, http10 = request.keep_alive, request.http10
        head_only = request.method == HEAD
        try:
            ctl = controls.parse(query, request.headers, config.delay_ms, config.ttft_ms)
        except controls.InvalidControl as exc:
            self.respond(responses.openai_error(400, str(exc), exc.param, keep_alive=keep_alive,
                                                http10=http10, head_only=head_only),
                         route.index, 400, keep_alive)
            return
        if ctl.status >= 400:
            message = f"mock error: status {ctl.status} requested by the status control"
            self.respond(responses.openai_error(ctl.status, message, keep_alive=keep_alive,
                                                http10=http10, head_only=head_only),
                         route.index, ctl.status, keep_alive)
            return
        heads = responses.NDJSON_HEADS if route.ollama else responses.SSE_HEADS
        if http10:
            keep_alive = False  # the body is delimited by closing the connection
            head = heads[responses.RAW_CLOSE]
        else:
            head = heads[responses.CHUNKED_KEEP_ALIVE if keep_alive else responses.CHUNKED_CLOSE]
        if head_only:
            self.respond(head, route.index, 200, keep_alive)
            return
        frames = app.frames
        count = len(frames.corpus)
        total = ctl.max_tokens if ctl.max_tokens > 0 else (-1 if route.endless else count)
        if route.ollama:
            spec = frames.ollama_stream(total, app.pacer.stamp_now)
        else:
            spec = frames.chat_stream(app.id_head, app.next_id(), int(time.time()), total)
        self.start_stream(head, spec, route.index, keep_alive, not http10, ctl.delay_ms,
                          ctl.ttft_ms, ctl.fail_after)

    def provider_api(self, route, request, path: bytes, query: bytes | None) -> None:
        """OpenAI, Anthropic and Ollama: a whole answer (maybe late or cut) or a StreamSpec."""
        fast = self.app.fast_path
        if fast is None:  # the first provider request loads the compiled path
            from fastmock._fastpath import FastPath
            fast = self.app.fast_path = FastPath(self.app)
        if fast.answer(self, request, path, query):
            return        # a common request, answered in C (no control, nothing unusual)
        from fastmock import api  # the rest loads the API modules
        keep_alive, http10 = request.keep_alive, request.http10
        head_only = request.method == HEAD
        answer = api.dispatch(request.method, path, query, request.headers, request.body,
                              self.app.config, self.app.frames)
        if isinstance(answer, api.Streamed):
            heads = responses.stream_heads_for(answer.spec.content_type)
            if http10:
                keep_alive = False  # the body is delimited by closing the connection
                head = heads[responses.RAW_CLOSE]
            else:
                head = heads[responses.CHUNKED_KEEP_ALIVE if keep_alive else responses.CHUNKED_CLOSE]
            self.start_stream(head, answer.spec, route.index, keep_alive, not http10,
                              answer.delay_ms, answer.ttft_ms, answer.fail_after)
            return
        data = responses.complete(answer.status, answer.content_type, answer.body,
                                  keep_alive=keep_alive, http10=http10, head_only=head_only,
                                  extra=answer.headers)
        if answer.wait_ms <= 0 and not answer.cut:
            self.respond(data, route.index, answer.status, keep_alive)
            return
        # Late (the TTFT of a non-streamed answer) or cut (fail_after): the head and half the body.
        body_size = 0 if head_only else len(answer.body)
        cut_at = len(data) - body_size + body_size // 2 if answer.cut else -1
        self.answer_later(data, route.index, answer.status, keep_alive, answer.wait_ms, cut_at)
