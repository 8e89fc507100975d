"""The answers the engine sends on its own, handed to it by the app.

The engine knows HTTP/1.1, not routes or APIs, so it never builds an error
body itself: a request it cannot serve (malformed, too large, too slow) is
answered with bytes from this object, given their X-Request-Id as they are sent
(``identified``): these answers are rare, so the id is spliced then.
"""
from fastmock import request_ids, wire
from fastmock.routes import API, find


class CannedAnswers:
    """Ready-made answers (each says ``Connection: close``), and errors in a route's API shape."""

    __slots__ = ("bad_request", "internal_error", "busy", "short_of_memory", "continue_")

    def __init__(self) -> None:
        self.bad_request = wire.BAD_REQUEST          # 400: the request could not be parsed
        self.internal_error = wire.INTERNAL_ERROR    # 500: a parser callback raised
        self.busy = wire.TOO_MANY_CONNECTIONS        # 503: over --max-connections (fastmock.admission)
        self.short_of_memory = wire.SHORT_OF_MEMORY  # 503: memory over --memory-high (fastmock.admission)
        self.continue_ = wire.CONTINUE               # the interim 100 of Expect: 100-continue

    def identified(self, response: bytes, headers: dict | None = None) -> bytes:
        """Connection: ``response`` with its X-Request-Id, the client's own when its
        ``headers`` (a request's, parsed whole) hold a safe one, else a fresh one."""
        return request_ids.spliced(response, request_ids.request_id(headers))

    def error(self, status: int, message: str, url: bytes = b"") -> bytes:
        """A whole error answer that closes the connection, in the shape of the API that
        owns ``url``'s path (OpenAI's for the seed endpoints and unknown paths)."""
        path = url.partition(b"?")[0]
        if path:
            route = find(path)
            if route is not None and route.kind == API:
                from fastmock.providers import dispatch
                answer = dispatch.error_for(route, status, message)
                return wire.complete(status, answer.content_type, answer.body,
                                     keep_alive=False, extra=answer.headers)
        return wire.openai_error(status, message, keep_alive=False)
