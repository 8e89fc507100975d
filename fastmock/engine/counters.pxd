from libc.stdint cimport uint64_t

# Slots of a worker's row (see counters.pyx for the layout).
cdef enum:
    OPEN_CONNECTIONS = 0
    ACTIVE_STREAMS = 1
    WAITING_STREAMS = 2          # of the active: waiting for a slot (--max-num-seqs)
    TOKENS_SENT = 3
    BYTES_SENT = 4
    CONNECTIONS_TOTAL = 5
    CONNECTIONS_REJECTED = 6
    CONNECTIONS_SHED = 7         # answered 503 because memory was short (fastmock.admission)
    GAUGES = 3                   # slots 0..GAUGES-1 are gauges, reset when a worker dies
    MAX_ROUTES = 48              # labels: the two fixed ones and one per route (routes.LABELS)
    STATUS_LOW = 100
    STATUSES = 500               # 100..599
    BUCKETS = 17                 # finite bounds + Inf
    HISTOGRAM = BUCKETS + 2      # buckets, sum (µs), count
    TTFT_BASE = 8
    DURATION_BASE = TTFT_BASE + MAX_ROUTES * HISTOGRAM
    REQUESTS_BASE = DURATION_BASE + MAX_ROUTES * HISTOGRAM
    WIDTH = REQUESTS_BASE + MAX_ROUTES * STATUSES


cdef class Counters:
    cdef size_t _size
    cdef uint64_t *_base
    cdef uint64_t *_row
    cdef readonly int rows
    cdef readonly int row

    cdef inline void add(self, Py_ssize_t slot, long long n) noexcept:
        self._row[slot] += <uint64_t>n

    cdef void count_request(self, int route, int status) noexcept
    cdef void observe(self, Py_ssize_t base, int route, double seconds) noexcept
