cdef class Connection(Streamer):
    cdef readonly object parser       # httptools; None until the first bytes, and while streaming
    cdef Request _req                 # the request being parsed

    cpdef respond(self, bytes data, int route, int status, bint keep_alive, bint memo=*,
                  bint fresh_id=*)
    cdef void _answer_memo(self, Memo memo)
    cdef void _queue(self, Request req)
    cdef void _on_upgrade(self)
    cdef void _probe(self)
    cdef void _on_parse_error(self, exc)
    cdef void _answer_error(self, int status, bytes response, Request req=*)
    cdef bytes _identified(self, bytes response, Request req)
    cdef void _check_head_budget(self, bint inside, Py_ssize_t body_before, Py_ssize_t size)
    cdef int _dispatch(self, Request request) except -1
