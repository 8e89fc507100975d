"""HttpProtocol: what each request is answered with.

The connection machinery (parsing, pipelining, flow control, pacing, direct
writes) is the compiled ``Connection`` base class; this module decides the
answer to each parsed request: a pre-encoded document, an error in the
route's API shape, or a stream described by a StreamSpec.
"""
import asyncio

from fastmock import wire
from fastmock._engine import Connection
from fastmock.request_ids import client_id, line, lines, request_id, spliced, test_id
from fastmock.routes import (API, CONTROL, LABELS, METRICS, OTHER, PAGE, STATIC, STREAM, TABLE,
                             find)

HEAD = b"HEAD"
OPTIONS = b"OPTIONS"


def static_answers(frames) -> dict:
    """path -> (GET variants, HEAD variants) of every static route, built once per server."""
    return {route.path: route.handler(frames) for route in TABLE if route.kind == STATIC}


def origin_form(url: bytes) -> bytes:
    """An absolute-form target's path and query (RFC 9112 3.2.2: a server MUST accept it):
    ``http://host/v1/models?x`` -> ``/v1/models?x``; other targets as they are."""
    scheme = url[:8].lower()
    if scheme.startswith(b"http://"):
        start = 7
    elif scheme == b"https://":
        start = 8
    else:
        return url
    for end in range(start, len(url)):
        if url[end] in b"/?":
            return url[end:] if url[end] == 47 else b"/" + url[end:]    # 47: "/"
    return b"/"


class HttpProtocol(Connection, asyncio.Protocol):
    __slots__ = ()

    def handle(self, request) -> None:
        """Connection: answer one parsed request."""
        url = request.url
        if url[:1] != b"/":
            url = origin_form(url)
        q = url.find(b"?")
        path = url if q < 0 else url[:q]
        method, keep_alive, http10 = request.method, request.keep_alive, request.http10
        route = find(path)
        if route is not None and route.kind == STATIC and method in route.methods \
                and method != OPTIONS:
            # The seed path: a whole answer made once, remembered by the engine. With the
            # client's own X-Request-Id spliced in, it still depends only on the request's
            # bytes; else the engine writes a fresh id into each answer, memo hits included.
            gets, heads = self.app.static[path]
            answer = (heads if method == HEAD else gets)[wire.variant(keep_alive, http10)]
            own = client_id(request.headers)
            if own is not None:
                self.respond(spliced(answer, own), route.index, 200, keep_alive, True)
            else:
                self.respond(answer, route.index, 200, keep_alive, True, True)
            return
        rid = request_id(request.headers)
        if route is None:
            message = "no route for " + path.decode("utf-8", "replace")[:200]
            # under /api/: Ollama's error shape, which its clients can read
            error = wire.ollama_error if path.startswith(b"/api/") else wire.openai_error
            self.respond(error(404, message, keep_alive=keep_alive, http10=http10,
                               head_only=method == HEAD, extra=line(rid)),
                         OTHER, 404, keep_alive)
        elif method not in route.methods:
            self.respond(wire.method_not_allowed(route.allow, method.decode("latin-1"),
                                                 keep_alive=keep_alive, http10=http10,
                                                 extra=lines(rid, route.anthropic)),
                         route.index, 405, keep_alive)
        elif method == OPTIONS:
            self.respond(wire.preflight(route.allow, keep_alive=keep_alive, http10=http10,
                                        extra=lines(rid, route.anthropic)),
                         route.index, 204, keep_alive)
        elif route.kind == STREAM:
            self.seed_stream(route, request, None if q < 0 else url[q + 1:], rid)
        elif route.kind == API:
            self.provider_api(route, request, path, None if q < 0 else url[q + 1:], rid)
        elif route.kind == CONTROL:
            self.control(route, request, None if q < 0 else url[q + 1:], rid)
        elif route.kind == METRICS:
            render = route.handler()  # loaded by the first scrape, not at start
            text = render(self.app.counters, LABELS, self.app.admission, self.app.config)
            self.respond(wire.complete(200, route.content_type, text,
                                       keep_alive=keep_alive, http10=http10,
                                       head_only=method == HEAD, extra=line(rid)),
                         route.index, 200, keep_alive)
        elif route.kind == PAGE:
            gets, heads = route.handler()  # built by the first request, not at start
            answer = (heads if method == HEAD else gets)[wire.variant(keep_alive, http10)]
            self.respond(spliced(answer, rid), route.index, 200, keep_alive)

    def seed_stream(self, route, request, query: bytes | None, rid: bytes) -> None:
        """/stream-sse, /stream-loop and /stream-ndjson, with their per-request controls."""
        from fastmock import controls  # the first stream loads the control parser
        app = self.app
        config = app.config
        keep_alive, http10 = request.keep_alive, request.http10
        head_only = request.method == HEAD
        try:
            ctl = controls.parse(query, request.headers, config.delay_ms, config.ttft_ms)
            if ctl.status < 400:
                spec = route.handler(app, ctl.max_tokens)
                chaos = None
                if query or request.headers or app.chaos_odds is not None:
                    from fastmock.chaos.settings import for_stream   # loaded when it may be asked
                    chaos = for_stream(app.chaos_odds, query, request.headers, None, spec,
                                       ctl.fail_after)
                ttft_ms, gaps = ctl.ttft_ms, None
                latency = app.latency_for(request.headers)
                if latency is not None:     # a latency model: the TTFT and the gaps are drawn
                    from fastmock._chunks import CHAT_MODEL
                    ttft_ms, gaps = latency.plan(ctl, request.headers,
                                                 config.model or CHAT_MODEL, 0,
                                                 config.delay_ms, config.ttft_ms)
        except controls.InvalidControl as exc:
            self.respond(wire.openai_error(400, str(exc), exc.param, keep_alive=keep_alive,
                                           http10=http10, head_only=head_only, extra=line(rid)),
                         route.index, 400, keep_alive)
            return
        if ctl.status >= 400:
            message = controls.status_message(ctl.status)
            self.respond(wire.openai_error(ctl.status, message, keep_alive=keep_alive,
                                           http10=http10, head_only=head_only, extra=line(rid)),
                         route.index, ctl.status, keep_alive)
            return
        self.stream(route, request, spec, ctl.delay_ms, ttft_ms, ctl.fail_after, rid,
                    chaos=chaos, gaps=gaps)

    def provider_api(self, route, request, path: bytes, query: bytes | None, rid: bytes) -> None:
        """OpenAI, Anthropic and Ollama: a whole answer (maybe late or cut) or a StreamSpec."""
        app = self.app
        fast = app.fast_path
        if fast is None and app.rate_limits is None and app.latency is None \
                and app.chaos_odds is None:
            # the first provider request loads the compiled path (never with rate limits,
            # a latency model or --chaos: it answers without their buckets and draws)
            from fastmock._fastpath import FastPath
            fast = app.fast_path = FastPath(app)
        if fast is not None and fast.answer(self, request, path, query, rid):
            return          # a common request without controls, answered in C
        from fastmock.providers import dispatch  # the rest loads the API modules
        answer = dispatch.answer(route, request, path, query, self.app, rid)
        if isinstance(answer, dispatch.Streamed):
            self.stream(route, request, answer.spec, answer.delay_ms, answer.ttft_ms,
                        answer.fail_after, rid, answer.headers, answer.chaos, answer.gaps,
                        answer.prompt_tokens, answer.expose)
            return
        if answer.generated is not None:
            prompt_tokens, tokens, length = answer.generated
            self.count_whole(prompt_tokens, tokens, length, answer.cut, answer.wait_ms)
        keep_alive, head_only = request.keep_alive, request.method == HEAD
        data = wire.complete(answer.status, answer.content_type, answer.body,
                             keep_alive=keep_alive, http10=request.http10, head_only=head_only,
                             extra=answer.headers + lines(rid, route.anthropic),
                             expose=answer.expose)
        if answer.wait_ms <= 0 and not answer.cut:
            self.respond(data, route.index, answer.status, keep_alive)
            return
        # Late (the TTFT of a non-streamed answer) or cut (fail_after): the head and half the body.
        body_size = 0 if head_only else len(answer.body)
        cut_at = len(data) - body_size + body_size // 2 if answer.cut else -1
        self.answer_later(data, route.index, answer.status, keep_alive, answer.wait_ms, cut_at)

    def control(self, route, request, query: bytes | None, rid: bytes) -> None:
        """/__fastmock/*: the control API for tests (JSON in and out)."""
        from fastmock import control_api  # the first control request loads it
        status, body, extra = control_api.answer(route, self.app, request, query,
                                                 test_id(request.headers))
        keep_alive = request.keep_alive
        self.respond(wire.complete(status, wire.JSON, body, keep_alive=keep_alive,
                                   http10=request.http10, head_only=request.method == HEAD,
                                   extra=extra + line(rid)),
                     route.index, status, keep_alive)

    def stream(self, route, request, spec, delay_ms: int, ttft_ms: int, fail_after: int,
               rid: bytes, extra: bytes = b"", chaos=None, gaps=None,
               prompt_tokens: int = 0, expose: bytes = b"") -> None:
        """A 200 stream of ``spec``: chunked on HTTP/1.1, delimited by the close on HTTP/1.0;
        the head alone for HEAD. ``rid``: its X-Request-Id; ``extra``: more header lines;
        ``chaos``: its wire chaos (fastmock.chaos.settings.Chaos), sent by a schedule;
        ``gaps``: a latency model's draws (fastmock.latency), else every ``delay_ms`` (a
        chaos schedule keeps ``delay_ms``: the model gives it its time to first token);
        ``prompt_tokens``: the request's (vLLM's metrics); ``expose``: the names in ``extra``
        page code may read (wire.exposing)."""
        http10 = request.http10
        keep_alive = request.keep_alive and not http10
        head = wire.stream_head(spec.content_type, keep_alive, http10)
        at = head.index(b"\r\n") + 2
        if chaos is not None:   # the settings that replay it, seed included
            extra += b"X-Mock-Chaos: " + chaos.describe().encode() + b"\r\n"
        head = head[:at] + lines(rid, route.anthropic) + extra + head[at:]
        if expose:
            head = wire.exposing(head, expose)
        if request.method == HEAD:
            self.respond(head, route.index, 200, keep_alive)
            return
        if chaos is not None:
            from fastmock.chaos.driver import Schedule
            pacer = self.app.pacer
            schedule = Schedule(spec, chaos, delay_ms, ttft_ms, not http10, pacer.stamp_now,
                                pacer.now_ms())
            self.start_scheduled(head, schedule, route.index, keep_alive, not http10)
            return
        self.start_stream(head, spec, route.index, keep_alive, not http10, delay_ms, ttft_ms,
                          fail_after, gaps, prompt_tokens)
