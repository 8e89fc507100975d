# Shared: what every connection of one process shares, and the engine's clock.

from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec


cdef inline double _now() noexcept:
    """Monotonic seconds (the clock uvloop's loop.time() reads, at full resolution)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline double _clock(Shared app) except? -1.0:
    """The engine's clock: monotonic seconds, or the test's clock when one is set."""
    return _now() if app.clock is None else app.clock()


cdef class Shared:
    """What every connection of one process shares (server.App builds it)."""

    def __init__(self, loop, config, Pacer pacer, Counters counters, answers, access_log=None):
        """``answers``: the app's canned answers (fastmock.canned.CannedAnswers): the bytes
        of every answer the engine sends on its own."""
        self.loop = loop
        self.config = config
        self.pacer = pacer
        self.counters = counters
        self.access_log = access_log
        self._first = None
        self.open_count = 0
        self.memo = RequestMemo()
        self.shutting_down = False
        self.keep_api_keys = False        # the app's rate limits need the key of each request
        self.slots = None                 # made by the app for its latency model
        self.clock = None
        self.max_url_bytes = config.max_url_bytes
        self.max_header_bytes = config.max_header_bytes
        self.max_headers = config.max_headers
        self.max_body_bytes = config.max_body_bytes
        self.max_pipelined = config.max_pipelined
        self.keepalive_timeout = config.keepalive_timeout
        self.header_timeout = config.header_timeout
        self.shutdown_timeout = config.shutdown_timeout
        self.answers = answers
        # The app's compiled provider path, set by its first provider request (the engine
        # imports no app module): a read holding one whole request it can answer.
        self.fast_path = None

    @property
    def connections(self):
        """The open connections, as a list (a snapshot)."""
        cdef Link conn = self._first
        found = []
        while conn is not None:
            found.append(conn)
            conn = conn._conn_next
        return found

    def sweep(self):
        """Once a second: cut stalled heads and idle keep-alive connections."""
        cdef double now = _clock(self)
        cdef Link conn = self._first, nxt
        while conn is not None:
            nxt = conn._conn_next      # a check may close it; it leaves the list later
            conn._check_timeouts(now)
            conn = nxt

    cdef void _attach(self, Link conn):
        conn._conn_next = self._first
        if self._first is not None:
            self._first._conn_prev = conn
        self._first = conn
        self.open_count += 1

    cdef void _detach(self, Link conn):
        if conn._conn_prev is not None:
            conn._conn_prev._conn_next = conn._conn_next
        else:
            self._first = conn._conn_next
        if conn._conn_next is not None:
            conn._conn_next._conn_prev = conn._conn_prev
        conn._conn_prev = conn._conn_next = None
        self.open_count -= 1

    cdef bint _holds(self, Link conn):
        """Whether ``conn`` is in the list (from connection_made to connection_lost)."""
        return conn._conn_prev is not None or self._first is conn
