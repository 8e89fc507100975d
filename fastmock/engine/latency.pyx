# Latency models (issue 16): the gaps between a stream's frames drawn from a distribution,
# and the slots that let at most --max-num-seqs streams generate at once.
#
# A stream without a model never meets this code: its frames are due every delay_ms. With
# one, Streamer._delay_ms is SAMPLED, and its Gaps (kept by the process's Slots, not on
# the connection, which stays 240 bytes) draw each gap from the stream's own PRNG, seeded
# by the app per request (from --seed), so a run repeats. Each gap is stretched by the
# load, x (1 + K x running / max_num_seqs), so a load test sees the knee of a real server.
# A stream that finds every slot taken waits in a queue, its head sent and its time to
# first token counted from when a slot frees.

from collections import deque

from libc.math cimport cos, exp, llround, sqrt
from libc.math cimport log as ln      # (the engine's logger is `log`)

cdef enum:
    CONSTANT = 0
    UNIFORM = 1
    NORMAL = 2
    LOGNORMAL = 3
    EMPIRICAL = 4

KINDS = ("constant", "uniform", "normal", "lognormal", "empirical")
# The load factor's denominator when --max-num-seqs is not set (vLLM's default)
DEFAULT_MAX_NUM_SEQS = 256
# Streamer._next_ms of a stream waiting for a slot: never due
cdef long long WAITING = 1LL << 62


cdef inline uint64_t _next(uint64_t *state) noexcept nogil:
    """splitmix64: one 64-bit word."""
    state[0] += 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline double _uniform(uint64_t *state) noexcept nogil:
    """[0, 1), 53 bits."""
    return <double>(_next(state) >> 11) * (1.0 / 9007199254740992.0)


cdef inline double _normal(uint64_t *state) noexcept nogil:
    """A standard normal draw (Box-Muller, one of the pair)."""
    cdef double u1 = 1.0 - _uniform(state)       # (0, 1]: ln() is finite
    cdef double u2 = _uniform(state)
    return sqrt(-2.0 * ln(u1)) * cos(6.283185307179586 * u2)


def mix(uint64_t seed, uint64_t n):
    """The seed of draw ``n`` of a run seeded ``seed``: splitmix64 of both."""
    cdef uint64_t state = seed ^ (n * 0xD1B54A32D192ED03ULL)
    return _next(&state)


cdef class Distribution:
    """A latency in milliseconds, as a distribution (fastmock.latency parses the specs)."""

    def __init__(self, str kind, double a=0.0, double b=0.0, points=()):
        """``points``: an empirical distribution's (percentile 0..1, ms) pairs, in order."""
        self.kind = KINDS.index(kind)
        self.a, self.b = a, b
        if len(points) > MAX_POINTS:
            raise ValueError(f"at most {MAX_POINTS} percentile points")
        self.count = len(points)
        for i, (q, v) in enumerate(points):
            self.q[i], self.v[i] = q, v

    cdef double draw(self, uint64_t *state) noexcept:
        cdef double u, value
        cdef int i
        if self.kind == CONSTANT:
            return self.a
        if self.kind == UNIFORM:
            return self.a + (self.b - self.a) * _uniform(state)
        if self.kind == NORMAL:
            value = self.a + self.b * _normal(state)
            return value if value > 0.0 else 0.0
        if self.kind == LOGNORMAL:
            return exp(self.a + self.b * _normal(state))
        # empirical: the inverse of a CDF drawn straight between the points; flat below
        # the first and above the last
        u = _uniform(state)
        if u <= self.q[0]:
            return self.v[0]
        for i in range(1, self.count):
            if u <= self.q[i]:
                return self.v[i - 1] + (self.v[i] - self.v[i - 1]) * \
                    (u - self.q[i - 1]) / (self.q[i] - self.q[i - 1])
        return self.v[self.count - 1]

    def sample(self, uint64_t seed, Py_ssize_t n=1):
        """``n`` draws from a PRNG seeded ``seed`` (the first is a request's TTFT)."""
        cdef uint64_t state = seed
        return [self.draw(&state) for _ in range(n)]

    def __repr__(self):
        return f"<Distribution {KINDS[self.kind]} {self.a} {self.b} {self.count} points>"


cdef class Gaps:
    """One stream's inter-token latency: its distribution, its PRNG, its due times."""

    def __init__(self, Distribution itl, Slots slots, uint64_t seed):
        self.itl = itl
        self.slots = slots
        self.state = seed
        self.at = self.gap = 0.0
        self.ttft_ms = 0
        self.running = False

    cdef long long next_due(self) noexcept:
        """The due time (ms) of the frame after the one due at ``at``."""
        cdef double gap = self.itl.draw(&self.state)
        cdef Slots slots = self.slots
        if slots.load_factor > 0.0:
            gap *= 1.0 + slots.load_factor * slots.running / (
                slots.max_num_seqs if slots.max_num_seqs > 0 else DEFAULT_MAX_NUM_SEQS)
        self.at += gap
        self.gap = gap
        return llround(self.at)

    def total(self, Py_ssize_t gaps):
        """The sum of the next ``gaps`` gaps, ms (a whole answer's generation time)."""
        cdef double start = self.at
        for _ in range(gaps):
            self.next_due()
        return self.at - start


cdef class Slots:
    """The process's generation slots (--max-num-seqs) and its streams' Gaps."""

    def __init__(self, Py_ssize_t max_num_seqs=0, double load_factor=0.0):
        self.max_num_seqs = max_num_seqs
        self.load_factor = load_factor
        self.running = self.waiting = 0
        self.counters = None
        self._gaps = {}
        self._queue = deque()

    cdef Gaps gaps_of(self, object stream):
        return <Gaps>self._gaps[stream]

    cdef bint take(self, object stream, Gaps gaps, long long now_ms, long long ttft_ms) except -1:
        """A stream starts: True when it holds a slot now (its first frame is due at
        ``now_ms + ttft_ms``); False when it waits for one."""
        self._gaps[stream] = gaps
        gaps.ttft_ms = ttft_ms
        if self.max_num_seqs == 0 or self.running < self.max_num_seqs:
            self.running += 1
            gaps.running = True
            gaps.at = now_ms + ttft_ms
            return True
        self.waiting += 1
        self._queue.append(stream)
        if self.counters is not None:
            self.counters.add(WAITING_STREAMS, 1)
        return False

    cdef object release(self, object stream):
        """A stream ended, or its client left: its slot (or its place in the queue).
        Returns the waiting stream that takes the slot, if any (its Gaps are running)."""
        cdef Gaps gaps = self._gaps.pop(stream, None)
        cdef Gaps following
        if gaps is None:
            return None
        if not gaps.running:
            self._queue.remove(stream)
            self.waiting -= 1
            if self.counters is not None:
                self.counters.add(WAITING_STREAMS, -1)
            return None
        self.running -= 1
        if not self._queue:
            return None
        stream = self._queue.popleft()
        self.waiting -= 1
        if self.counters is not None:
            self.counters.add(WAITING_STREAMS, -1)
        self.running += 1
        following = self._gaps[stream]
        following.running = True
        return stream

    # (what the engine does in C, for Python: tests, and any driver of its own)
    def admit(self, stream, Gaps gaps, long long now_ms, long long ttft_ms):
        """take(): True when ``stream`` holds a slot now, False when it waits."""
        return self.take(stream, gaps, now_ms, ttft_ms)

    def leave(self, stream):
        """release(): the waiting stream that takes the slot ``stream`` frees, or None."""
        return self.release(stream)
