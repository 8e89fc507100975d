cdef class Request:
    cdef readonly bytes method
    cdef readonly bytes url
    cdef readonly dict headers        # X-Mock-* and connection.KEPT_HEADERS, lower-cased; None = none
    cdef readonly bytes body
    cdef readonly bint keep_alive
    cdef readonly bint http10
    cdef readonly double started      # when its first byte was parsed (monotonic seconds)
    cdef readonly object error        # a ready-made answer when it could not be parsed
    cdef readonly int error_status
    cdef list _body_parts
    cdef Py_ssize_t _body_bytes
    cdef Py_ssize_t _header_bytes
    cdef int _header_count
    cdef int _hosts                   # Host header lines (RFC 9112 3.2: exactly one in HTTP/1.1)
    cdef bint _expect_continue
    cdef bint _head_done              # its head was parsed whole (its headers are all known)
    cdef Py_ssize_t _head_read        # bytes of reads inside this request's head (-1: just began)


cdef class AccessContext:
    cdef readonly object peer         # the client's address, as the transport gives it
    cdef public object line           # the request line of the request being answered
