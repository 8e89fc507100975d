cdef class Streamer(Composer):
    cdef int _delay_ms                # between frames; 0 = unpaced (batches on call_soon);
                                      # SAMPLED: drawn (engine/latency.pyx, Shared.slots)
    cdef signed char _route           # the metrics route of the answer (< MAX_ROUTES)
    cdef unsigned char _probed        # a FIN came during an answer: PROBED or PROBED_AHEAD
                                      # (engine/connection.pyx); 0 = not probed
    cdef unsigned short _stream_number   # which stream of this connection a burst callback is for
    cdef long long _fail_after        # cut after this many frames (or answer_later's bytes); -1 = never
    cdef long long _next_ms           # when the next frame is due (loop clock, ms)

    cpdef start_stream(self, bytes head, spec, int route, bint keep_alive, bint chunked,
                       int delay_ms, int ttft_ms, long long fail_after, Gaps gaps=*,
                       long long prompt_tokens=*)
    cpdef answer_later(self, bytes data, int route, int status, bint keep_alive, int wait_ms,
                       Py_ssize_t cut_at)
    cpdef start_scheduled(self, bytes head, schedule, int route, bint keep_alive, bint chunked)
    cdef int _send_scheduled(self) except -1
    cdef int _end_scheduled(self, long long ending) except -1
    cpdef count_whole(self, long long prompt_tokens, long long tokens, bint length, bint cut,
                      int wait_ms)
    cdef int _send_whole(self) except -1
    cdef int _send_sampled(self, long long now_ms) except -1
    cdef int _admitted(self, Slots slots) except -1
    cdef int _continue(self) except -1
    cdef void _stop_timers(self)
    cdef int _send_frames(self, long long k, bytes head, const double *drawn=*) except -1
    cdef long long _send_composed(self, Py_ssize_t start, Py_ssize_t pos, Py_ssize_t *ends,
                                  long long count) except -1
    cdef int _cut(self) except -1
    cdef int _end_stream(self) except -1
    # a hook for Connection
    cdef int _answer_pending(self) except -1
