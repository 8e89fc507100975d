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

from libc.string cimport memset
from posix.mman cimport MAP_ANONYMOUS, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap

# Upper bounds (seconds) of the histogram buckets; the last bucket is +Inf.
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
          30.0, 60.0, 300.0)
assert len(BOUNDS) + 1 == BUCKETS
cdef double[16] _BOUNDS = BOUNDS

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

    # -- Python side: tests, the access path of the renderer ----------------------

    def add_py(self, Py_ssize_t slot, long long n=1):
        if not 0 <= slot < WIDTH:
            raise IndexError(slot)
        self.add(slot, n)

    def count_request_py(self, int route, int status):
        self.count_request(route, status)

    def observe_py(self, str kind, int route, double seconds):
        self.observe(TTFT_BASE if kind == "ttft" else DURATION_BASE, route, seconds)

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
