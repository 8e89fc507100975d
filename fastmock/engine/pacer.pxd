cdef class Paced:
    """Something the Pacer wakes at a due time: a connection with a stream running."""
    cdef Paced _prev
    cdef Paced _next
    cdef long long _slot          # the slot (ms, a whole number of ticks) it waits for; -1 = not waiting

    cdef int _due(self, long long now_ms) except -1
    cdef void _fail(self, object exc)


cdef class Waiter(Paced):
    pass


from libc.stdint cimport uint64_t

cdef enum:
    WHEEL = 4096                  # places on the timing wheel: a power of two
    MASK = WHEEL - 1
    WORDS = 64                    # WHEEL / 64: the bitmap's 64-bit words


cdef class Pacer:
    cdef object _loop
    cdef object _call_at
    cdef object _tick_callback
    cdef long long _tick_ms
    cdef list _heads              # WHEEL places: the first Paced waiting there, or None
    cdef uint64_t _bits[WORDS]    # which places hold anything
    cdef long long _done          # every slot (in ticks) up to this one has been woken
    cdef object _handle
    cdef long long _armed_slot    # in ticks
    cdef bint _ticking
    cdef Py_ssize_t _waiting
    cdef long long _stamp_ms
    cdef bytes _stamp

    cpdef long long now_ms(self)
    cdef void add(self, Paced item, long long due_ms)
    cdef void remove(self, Paced item)
    cdef void _arm(self, long long slot)
    cdef long long _next_slot(self, long long first, long long last) noexcept
    cdef bytes stamp(self)
