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


cdef int _request_line_error(bytes data) except -1:
    """Connection.data_received: 400 when the first line of ``data`` is not ``method SP
    target SP HTTP/1.x CRLF`` (llhttp takes runs of spaces, and a line without a version
    as HTTP/0.9), 505 for the other versions llhttp knows, HTTP/2.0 and HTTP/0.9; 0 when
    the line is fine or not whole in this read (llhttp judges it then)."""
    cdef Py_ssize_t start = 0, end, first, second, n = PyBytes_GET_SIZE(data)
    cdef const char *p = PyBytes_AS_STRING(data)
    cdef char major, minor
    while start + 1 < n and p[start] == 13 and p[start + 1] == 10:   # empty lines before it
        start += 2
    end = data.find(b"\r\n", start)
    if end < 0:
        return 0
    first = data.find(b" ", start, end)
    second = data.find(b" ", first + 1, end) if first > start else -1
    if second < 0 or second == first + 1 or data.find(b" ", second + 1, end) >= 0:
        return 400
    if end - second - 1 != 8 or not data.startswith(b"HTTP/", second + 1) or p[second + 7] != 46:
        return 400
    major, minor = p[second + 6], p[second + 8]
    if major == 49 and (minor == 48 or minor == 49):          # HTTP/1.0, HTTP/1.1
        return 0
    if (major == 50 and minor == 48) or (major == 48 and minor == 57):   # HTTP/2.0, HTTP/0.9
        return 505
    return 400


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
