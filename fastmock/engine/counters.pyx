# Counters behind ``GET /metrics``, in memory every worker of a server shares.
#
# One anonymous shared mapping, made before the workers fork, holds a row of
# 64-bit counters per worker; a worker only ever writes its own row (no locks,
# no atomics), and whoever renders /metrics sums the rows, so every worker
# reports the totals of all of them. A row is:
#
#     gauges and totals                    slots 0..7
#     time-to-first-token histograms       one per route: 16 bounds + Inf, sum (µs), count
#     request-duration histograms          the same
#     requests by route and status         one per route: statuses 100..599
#     vLLM's families                      prompt tokens, whole answers' tokens, finished
#                                          by reason; six histograms with vLLM's bounds

from libc.string cimport memset
from posix.mman cimport MAP_ANONYMOUS, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap

# Upper bounds (seconds) of the histogram buckets; the last bucket is +Inf.
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
          30.0, 60.0, 300.0)
assert len(BOUNDS) + 1 == BUCKETS
cdef double[16] _BOUNDS = BOUNDS

# vLLM's bounds (vllm/v1/metrics/loggers.py), seconds
VLLM_TTFT_BOUNDS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
VLLM_ITL_BOUNDS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
                   5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
VLLM_E2E_BOUNDS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                   60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
# The token-count histograms' bound: the model's context length, as vLLM's max_model_len
# (no /v1/models entry reports one)
MAX_MODEL_LEN = 32768


def one_two_five(int largest):
    """vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to ``largest``."""
    out, scale = [], 1
    while True:
        for m in (1, 2, 5):
            if m * scale > largest:
                return tuple(out)
            out.append(m * scale)
        scale *= 10


VLLM_TOKEN_BOUNDS = one_two_five(MAX_MODEL_LEN)
assert (len(VLLM_TTFT_BOUNDS), len(VLLM_ITL_BOUNDS), len(VLLM_E2E_BOUNDS),
        len(VLLM_TOKEN_BOUNDS)) == (TTFT_BOUNDS, ITL_BOUNDS, E2E_BOUNDS, TOKEN_BOUNDS)
cdef double[22] _TTFT_BOUNDS = VLLM_TTFT_BOUNDS
cdef double[19] _ITL_BOUNDS = VLLM_ITL_BOUNDS
cdef double[21] _E2E_BOUNDS = VLLM_E2E_BOUNDS
cdef double[14] _TOKEN_BOUNDS = VLLM_TOKEN_BOUNDS

SLOTS = {
    "open_connections": OPEN_CONNECTIONS, "active_streams": ACTIVE_STREAMS,
    "waiting_streams": WAITING_STREAMS,
    "tokens_sent": TOKENS_SENT, "bytes_sent": BYTES_SENT,
    "connections": CONNECTIONS_TOTAL, "rejected_connections": CONNECTIONS_REJECTED,
    "shed_connections": CONNECTIONS_SHED,
}
LAYOUT = {
    "max_routes": MAX_ROUTES, "status_low": STATUS_LOW, "statuses": STATUSES,
    "histogram": HISTOGRAM, "ttft_base": TTFT_BASE, "duration_base": DURATION_BASE,
    "requests_base": REQUESTS_BASE, "width": WIDTH, "gauges": GAUGES,
}
# vLLM's families: where each is (fastmock/vllm_metrics.py)
VLLM_LAYOUT = {
    "prompt_tokens": VLLM_PROMPT_TOKENS, "whole_tokens": VLLM_WHOLE_TOKENS,
    "finished": VLLM_FINISHED, "stop": FINISHED_STOP, "length": FINISHED_LENGTH,
    "abort": FINISHED_ABORT,
    "ttft": VLLM_TTFT, "itl": VLLM_ITL, "e2e": VLLM_E2E, "queue": VLLM_QUEUE,
    "prompt": VLLM_PROMPT, "generation": VLLM_GENERATION,
}


cdef class Counters:
    def __init__(self, int rows=1):
        if rows < 1:
            raise ValueError("at least one row")
        self.rows = rows
        self._size = rows * WIDTH * sizeof(uint64_t)
        # Shared and anonymous: the workers forked later write to the same pages. Untouched
        # pages cost nothing, so the many (route, status) slots never used are free.
        cdef void *memory = mmap(NULL, self._size, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0)
        if memory == MAP_FAILED:
            raise MemoryError("cannot map the shared counters")
        self._base = <uint64_t *>memory
        self.select(0)

    def __dealloc__(self):
        if self._base != NULL:
            munmap(self._base, self._size)
            self._base = NULL

    def select(self, int row):
        """Write to ``row`` from now on (a worker's own row, after the fork)."""
        if not 0 <= row < self.rows:
            raise IndexError(row)
        self.row = row
        self._row = self._base + row * WIDTH

    def reset_gauges(self, int row):
        """A worker died: what it had open is gone; its totals stay in the sums."""
        cdef int i
        for i in range(GAUGES):
            self._base[row * WIDTH + i] = 0

    cdef void count_request(self, int route, int status) noexcept:
        if 0 <= route < MAX_ROUTES and STATUS_LOW <= status < STATUS_LOW + STATUSES:
            self._row[REQUESTS_BASE + route * STATUSES + status - STATUS_LOW] += 1

    cdef void observe(self, Py_ssize_t base, int route, double seconds) noexcept:
        cdef int i = 0
        cdef uint64_t *h
        if not 0 <= route < MAX_ROUTES:
            return
        h = self._row + base + route * HISTOGRAM
        while i < BUCKETS - 1 and seconds > _BOUNDS[i]:
            i += 1
        h[i] += 1
        if seconds > 0:
            h[BUCKETS] += <uint64_t>(seconds * 1e6 + 0.5)
        h[BUCKETS + 1] += 1

    # -- vLLM's families ------------------------------------------------------------
    # A request is a stream (the engine counts it) or a whole answer of a provider API
    # (count_whole, from the code that makes it). Time to first token, the gaps and the
    # queue time are a stream's; whole answers count in the rest.

    cdef void _observe_in(self, Py_ssize_t at, const double *bounds, int n, double value,
                          double scale, uint64_t times) noexcept:
        """``times`` observations of ``value`` in the histogram at ``at`` (``n`` bounds);
        its sum in units of 1/``scale``."""
        cdef int i = 0
        cdef uint64_t *h = self._row + at
        while i < n and value > bounds[i]:
            i += 1
        h[i] += times
        if value > 0:
            h[n + 1] += <uint64_t>(value * scale + 0.5) * times
        h[n + 2] += times

    cdef void vllm_started(self, long long prompt_tokens) noexcept:
        """A request starts: its prompt."""
        self._row[VLLM_PROMPT_TOKENS] += <uint64_t>prompt_tokens
        self._observe_in(VLLM_PROMPT, _TOKEN_BOUNDS, TOKEN_BOUNDS, prompt_tokens, 1.0, 1)

    cdef void vllm_first_token(self, double seconds) noexcept:
        self._observe_in(VLLM_TTFT, _TTFT_BOUNDS, TTFT_BOUNDS, seconds, 1e6, 1)

    cdef void vllm_gaps(self, double seconds, long long times) noexcept:
        """``times`` tokens after the first, each ``seconds`` after the one before."""
        self._observe_in(VLLM_ITL, _ITL_BOUNDS, ITL_BOUNDS, seconds, 1e6, <uint64_t>times)

    cdef void vllm_queued(self, double seconds) noexcept:
        """A request begins to generate, ``seconds`` after it came (0: a slot was free)."""
        self._observe_in(VLLM_QUEUE, _E2E_BOUNDS, E2E_BOUNDS, seconds, 1e6, 1)

    cdef void vllm_finished(self, int reason, long long tokens, double seconds) noexcept:
        """A request ends, after ``seconds``, having generated ``tokens``."""
        self._row[VLLM_FINISHED + reason] += 1
        self._observe_in(VLLM_GENERATION, _TOKEN_BOUNDS, TOKEN_BOUNDS, tokens, 1.0, 1)
        self._observe_in(VLLM_E2E, _E2E_BOUNDS, E2E_BOUNDS, seconds, 1e6, 1)

    cdef void vllm_whole(self, long long prompt_tokens, long long tokens, int reason,
                         double seconds) noexcept:
        """A provider's whole (non-streamed) answer of ``tokens``, due ``seconds`` after
        its request came: it never waits for a slot."""
        self.vllm_started(prompt_tokens)
        self.vllm_queued(0.0)
        self._row[VLLM_WHOLE_TOKENS] += <uint64_t>tokens
        self.vllm_finished(reason, tokens, seconds)

    # -- Python side: tests, the access path of the renderer ----------------------

    def add_py(self, Py_ssize_t slot, long long n=1):
        if not 0 <= slot < WIDTH:
            raise IndexError(slot)
        self.add(slot, n)

    def count_request_py(self, int route, int status):
        self.count_request(route, status)

    def observe_py(self, str kind, int route, double seconds):
        self.observe(TTFT_BASE if kind == "ttft" else DURATION_BASE, route, seconds)

    def observe_gaps_py(self, double seconds, long long times=1):
        """vLLM's inter-token latency: ``times`` gaps of ``seconds``."""
        self.vllm_gaps(seconds, times)

    def value(self, Py_ssize_t slot):
        """The sum of ``slot`` over every worker's row."""
        cdef int r
        cdef uint64_t total = 0
        if not 0 <= slot < WIDTH:
            raise IndexError(slot)
        for r in range(self.rows):
            total += self._base[r * WIDTH + slot]
        return <long long>total

    def values(self, Py_ssize_t start, Py_ssize_t count):
        """Sums of ``count`` consecutive slots from ``start``."""
        cdef Py_ssize_t i
        cdef int r
        cdef uint64_t total
        if start < 0 or count < 0 or start + count > WIDTH:
            raise IndexError(start)
        out = []
        for i in range(start, start + count):
            total = 0
            for r in range(self.rows):
                total += self._base[r * WIDTH + i]
            out.append(<long long>total)
        return out
