from libc.stdint cimport uint64_t

cdef enum:
    SAMPLED = -1                  # Streamer._delay_ms of a stream whose gaps are drawn
    MAX_POINTS = 16               # an empirical distribution's percentile points


cdef class Distribution:
    cdef readonly int kind
    cdef double a, b              # constant: a; uniform: a..b; normal: mean a, sd b;
                                  # lognormal: mu a, sigma b (of the log)
    cdef int count                # empirical: its points, percentile (0..1) and value
    cdef double q[MAX_POINTS]
    cdef double v[MAX_POINTS]

    cdef double draw(self, uint64_t *state) noexcept


cdef class Gaps:
    cdef Distribution itl
    cdef Slots slots
    cdef uint64_t state           # the stream's own PRNG (splitmix64)
    cdef double at                # when its next frame is due, ms (fractions kept)
    cdef double gap               # the gap next_due drew last, ms (before the frame due at `at`)
    cdef long long ttft_ms        # while it waits for a slot: its time to first token
    cdef bint running             # it holds a slot (not waiting)

    cdef long long next_due(self) noexcept


cdef class Slots:
    cdef readonly Py_ssize_t max_num_seqs   # 0 = no limit
    cdef readonly double load_factor
    cdef readonly Py_ssize_t running, waiting
    cdef public Counters counters # the waiting gauge's; None = not counted
    cdef dict _gaps               # Streamer -> its Gaps, while it streams
    cdef object _queue            # the Streamers waiting for a slot, first come first

    cdef Gaps gaps_of(self, object stream)
    cdef bint take(self, object stream, Gaps gaps, long long now_ms, long long ttft_ms) except -1
    cdef object release(self, object stream)
