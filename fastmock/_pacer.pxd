# cython: language_level=3

cdef class Paced:
    """Something the Pacer wakes at a due time: a connection with a stream running."""
    cdef Paced _prev
    cdef Paced _next
    cdef long long _slot          # the bucket (ms) it waits in; -1 = not waiting

    cdef int _due(self, long long now_ms) except -1
    cdef void _fail(self, object exc)


cdef class Waiter(Paced):
    pass


cdef class Pacer:
    cdef object _loop
    cdef object _call_at
    cdef object _tick_callback
    cdef long long _tick_ms
    cdef dict _buckets            # slot (ms) -> first Paced of that bucket's list
    cdef list _slots              # heap of slots; may hold slots already emptied
    cdef object _handle
    cdef long long _armed_slot
    cdef bint _ticking
    cdef Py_ssize_t _waiting
    cdef long long _stamp_ms
    cdef bytes _stamp

    cpdef long long now_ms(self)
    cdef void add(self, Paced item, long long due_ms)
    cdef void remove(self, Paced item)
    cdef void _arm(self, long long slot)
    cdef bytes stamp(self)
