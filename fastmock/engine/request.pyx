# A parsed request as handle() gets it, and the error a parser callback raises.


class Reject(Exception):
    """Raised in a parser callback: answer ``status`` with ``message`` and close.

    ``url``: the request's target, when known, so that the app's canned error
    (``Shared.answers.error``) takes the shape of the API that owns its path.
    """

    def __init__(self, int status, str message, bytes url=b""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.url = url


cdef class Request:
    """One parsed request, as ``handle()`` gets it."""

    def __repr__(self):
        return f"<Request {self.method!r} {self.url!r}>"


cdef Request _error_request(object response, int status):
    """A request that could not be parsed, queued behind the answers already due."""
    cdef Request r = Request.__new__(Request)
    r.error = response
    r.error_status = status
    return r


cdef Py_ssize_t _bodies(list requests):
    """What the bodies of queued requests hold: together they get one body's budget."""
    cdef Py_ssize_t total = 0
    cdef Request r
    for r in requests:
        if r.body is not None:
            total += len(r.body)
    return total


cdef class AccessContext:
    """What the access log needs of a connection (only made when logging is on): the peer,
    and the request line of the request being answered, which Connection._dispatch sets
    for respond(), start_stream() and answer_later() to log."""

    def __init__(self, peer):
        self.peer = peer
        self.line = ""
