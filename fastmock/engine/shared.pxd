cdef class Link


cdef class Shared:
    cdef public object loop
    cdef public object config
    cdef public object access_log     # an AccessLog, or None when logging is off
    cdef public object answers        # the app's canned answers (fastmock.canned.CannedAnswers)
    cdef public object fast_path      # None, or (connection, data) -> True when it answered data
    cdef Link _first                  # the open connections: an intrusive doubly linked list
    cdef readonly Py_ssize_t open_count
    cdef public RequestMemo memo      # repeated static requests and their whole answers
    cdef public Pacer pacer
    cdef public Counters counters
    cdef public bint shutting_down
    cdef public bint keep_api_keys    # keep Authorization and X-Api-Key on Request.headers
    cdef public Slots slots           # latency models' slots and gaps; None = no model
    cdef public object clock          # None: monotonic time; else a callable (a test's loop.time)
    # limits, copied from the config once
    cdef readonly Py_ssize_t max_url_bytes, max_header_bytes, max_headers, max_body_bytes
    cdef readonly Py_ssize_t max_pipelined
    cdef readonly double keepalive_timeout, header_timeout, shutdown_timeout

    cdef void _attach(self, Link conn)
    cdef void _detach(self, Link conn)
    cdef bint _holds(self, Link conn)
