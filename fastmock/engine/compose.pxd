cdef class Pieces:
    cdef readonly bytes first_prefix, prefix, suffix, last_suffix, seq_tail, seq2_tail
    cdef readonly long long seq_base, seq2_base
    cdef readonly bint stamp
    cdef readonly object finish
    cdef readonly bint length         # finish says the length limit ended it (vLLM's "length")


cdef class Composer(Link):
    # what the running stream says (see StreamSpec); None when no stream runs
    cdef long long _total             # frames in all; -1 = endless
    cdef long long _sent              # frames sent so far
    cdef unsigned long long _splice_id
    cdef tuple _tokens
    cdef bytes _splice, _splice_tail  # splice, or splice + 16 hex digits of _splice_id + tail
    cdef Pieces _pieces
    cdef object _closing_spec         # the StreamSpec's closing: bytes or a callable
                                      # (answer_later: the whole answer's bytes)

    cdef void _set_spec(self, spec)
    cdef void _drop_spec(self)
    cdef Py_ssize_t _put_frame(self, char *out, Py_ssize_t pos, Py_ssize_t cap, long long n,
                               bytes stamp) except -2
    cdef bytes _frame_bytes(self, long long n, bytes stamp)
    cdef bytes _closing_bytes(self)
