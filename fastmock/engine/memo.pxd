cdef class Link                   # engine/link.pxd

cdef class Memo:
    cdef readonly bytes data
    cdef readonly int route
    cdef readonly int status
    cdef readonly object log_line
    cdef readonly Py_ssize_t id_at    # where a fresh X-Request-Id line goes; -1 = none (see ids.pyx)
    cdef bytearray _identified        # data with an id line at id_at, its digits rewritten per answer

    cdef int send_to(self, Link conn) except -1
    cdef bint _used                   # answered since the clock hand last passed it


cdef class RequestMemo:
    cdef dict _table                  # request bytes -> Memo
    cdef list _ring                   # the keys, in the clock's order
    cdef Py_ssize_t _hand             # the next place the clock looks at when the table is full
    cdef readonly Py_ssize_t size, key_max
    # The read being parsed, while it may become a key (one thread: one read at a time).
    cdef object _reader               # whose read it is (a connection); None = no candidate
    cdef Memo _answer                 # its one answer, once respond() offered it
    cdef int _messages                # requests begun in it: only a read of exactly one is kept

    cdef Memo lookup(self, bytes data)
    cdef void begin_read(self, object reader)
    cdef void message_begun(self, object reader)
    cdef void forget(self, object reader)
    cdef void offer(self, object reader, bytes data, int route, int status, object log_line,
                    Py_ssize_t id_at)
    cdef void end_read(self, object reader, bytes data, bint whole)
    cdef void _store(self, bytes key, Memo memo)
