"""Admission: whether a new connection is served, or refused at once with a 503.

The acceptor asks ``admit(fd)`` of every connection it accepts, before the loop
sees it. Two limits refuse one:

- ``--max-connections``: that many are open in this process. Without the flag, and
  under a memory limit, the default is what fits: (limit x --memory-high - the charge
  at start) / PER_CONNECTION_CHARGE, shared among the workers.
- ``--memory-high``: the container's charge (fastmock.cgroup.MemoryCharge) is above that fraction of
  its limit. The charge is read at most every READ_SECONDS and every READ_EVERY
  connections accepted, never per request.

A refused connection never becomes a transport: what the client sent is read and
dropped (so the close is a FIN, not a RST that could destroy the answer on its way),
the fd gets the 503 (``Retry-After``, ``Connection: close``) and is closed. Nothing of
it stays behind. A health probe (``GET`` or ``HEAD /health``) is answered the same way
but with /health's 200, whose body says ``"shedding":true`` while memory is short: a
liveness probe must not restart a server that is only full. A scrape of ``/metrics``
is served: the shedding is what it is there to show. A connection whose request has
not arrived yet waits, without a transport, for its first bytes (up to HOLD_SECONDS)
so that it too is answered for what it asked.

Shedding stops by itself once the charge is back below RESUME of the high-water mark.
Closed connections free their kernel memory at once, but their process memory stays
in the heap, charged, and only part of it is reused (after 1,649 of 1,949 streams
closed, 1,248 new ones filled it up again); so when TRIM_AFTER connections have closed
since the last look, the heap's free pages are handed back (malloc_trim, 0.1 ms) before
the charge is read (after 1,466 of 1,766 closed, 1,456 new ones fitted).
"""
import logging
from _socket import AF_INET, MSG_DONTWAIT, MSG_PEEK, SOCK_STREAM
from _socket import socket as _socket  # a bare socket object: ~1 us less per refusal

from fastmock import seed
from fastmock._engine import SLOTS
from fastmock.request_ids import request_id, spliced
from fastmock.routes import find
from fastmock.wire import CLOSE

log = logging.getLogger("fastmock")

# Cost of one more open stream in the cgroup, measured under the compose limits
# (2,627 /stream-loop streams): 1.58 KB of process memory (the uvloop transport and
# libuv handle, the Connection) and 1.46 KB of kernel memory (socket, file, epoll).
PER_CONNECTION_CHARGE = 3 * 1024
READ_SECONDS = 0.1           # at most this old, the charge behind a decision
READ_EVERY = 64              # ... or this many connections accepted since it was read
RESUME = 0.97                # shedding ends below this fraction of the high-water mark
TRIM_AFTER = 256             # connections closed since the peak before the heap is trimmed
HOLD_SECONDS = 1.0           # how long a connection over a limit may take to send its request
MAX_HELD = 64                # connections waiting for their first bytes; beyond, refused at once
DRAIN_READS = 4              # reads of 64 KiB dropped before the close
_HEALTH = (b"GET /health ", b"GET /health?", b"HEAD /health ", b"HEAD /health?")
_HEALTH_ROUTE = find(b"/health").index
_METRICS = (b"GET /metrics ", b"GET /metrics?")
_NO_WAIT = MSG_DONTWAIT
_PEEK = MSG_PEEK | MSG_DONTWAIT
_CONNECTIONS, _REJECTED, _SHED, _BYTES_SENT = (
    SLOTS[name] for name in ("connections", "rejected_connections", "shed_connections", "bytes_sent"))


class Admission:
    """Decides for each accepted connection; holds the shedding state of this process."""

    __slots__ = ("app", "memory", "high", "resume", "max_connections", "busy", "short",
                 "serve", "pending", "shedding", "charge", "_health", "_next_read", "_accepted",
                 "_peak_open", "_held", "_expiry", "_counters", "_trim")

    def __init__(self, app, memory, memory_high: float, max_connections: int) -> None:
        self.app = app
        self.memory = memory                   # a fastmock.cgroup.MemoryCharge, or None
        self.high = int(memory.limit * memory_high) if memory is not None and memory_high else 0
        self.resume = int(self.high * RESUME)
        self.max_connections = max_connections
        self.busy, self.short = app.answers.busy, app.answers.short_of_memory  # fastmock.canned
        self.serve = None                      # the acceptor's hand-over: serve(fd)
        self.pending = ()                      # ... and the hand-overs not yet connected
        self.shedding = False
        self.charge = 0
        self._health = None                    # /health's answers (normal, shedding)
        self._next_read = 0.0
        self._accepted = 0
        self._peak_open = 0
        self._held = {}                        # fd -> deadline (loop time)
        self._expiry = None
        self._counters = app.counters
        self._trim = None

    # -- the acceptor's question ------------------------------------------------------

    def admit(self, fd: int) -> bool:
        """True: serve ``fd``; False: it was refused (or waits for its request)."""
        app = self.app
        if self.high:
            self._accepted += 1
            if self._accepted >= READ_EVERY or app.loop.time() >= self._next_read:
                self.refresh()
        if not self.shedding and not self._full():
            return True
        return self._judge(fd, hold=True)

    def _full(self) -> bool:
        """--max-connections reached: the open connections and those being handed over
        (a batch of accepts is admitted before any of them is connected: counting only
        the open ones let 2,119 in under --max-connections 2000)."""
        return bool(self.max_connections) and (
            self.app.open_count + len(self.pending) >= self.max_connections)

    def refresh(self) -> None:
        """Read the charge now; start or stop shedding."""
        app = self.app
        charge = self.memory.charge()
        open_count = app.open_count
        if open_count > self._peak_open:
            self._peak_open = open_count
        elif self._peak_open - open_count >= TRIM_AFTER:
            self._trim_heap()
            self._peak_open = open_count
            charge = self.memory.charge()
        self.charge = charge
        self._accepted = 0
        self._next_read = app.loop.time() + READ_SECONDS
        if self.shedding and charge < self.resume:
            self._set_shedding(False)
        elif not self.shedding and charge >= self.high:
            self._set_shedding(True)

    # -- refusing ---------------------------------------------------------------------

    def _judge(self, fd: int, hold: bool) -> bool:
        """Over a limit: answer ``fd`` on the spot (a health probe's 200, else the 503) and
        close it, or wait for its request when it has not come yet; True: a scrape of
        /metrics, to be served (its request unread)."""
        sock = _socket(AF_INET, SOCK_STREAM, 0, fd)   # the family is never looked at
        try:
            data = sock.recv(len(_METRICS[1]), _PEEK)
            if data.startswith(_METRICS):
                sock.detach()
                return True
            data = sock.recv(65536, _NO_WAIT)
        except BlockingIOError:
            if hold and len(self._held) < MAX_HELD:
                sock.detach()
                self._hold(fd)
                return False
            data = b""
        except OSError:
            data = b""
        counters = self._counters
        counters.add_py(_CONNECTIONS)
        if data.startswith(_HEALTH):
            gets, heads = self.app.static[b"/health"]
            answer = (heads if data[0] == 72 else gets)[CLOSE]        # 72: "H" of HEAD
            counters.count_request_py(_HEALTH_ROUTE, 200)
        else:
            answer = self.short if self.shedding else self.busy
            counters.add_py(_SHED if self.shedding else _REJECTED)
            try:
                for _ in range(DRAIN_READS):   # the rest of what came: the close is then a FIN
                    if len(data) < 65536:
                        break
                    data = sock.recv(65536, _NO_WAIT)
            except OSError:
                pass
        answer = spliced(answer, request_id(None))   # its request is not parsed: a fresh id
        try:
            counters.add_py(_BYTES_SENT, sock.send(answer, _NO_WAIT))
        except OSError:
            pass
        sock.close()
        return False

    # -- connections whose request has not arrived --------------------------------------

    def _hold(self, fd: int) -> None:
        loop = self.app.loop
        self._held[fd] = loop.time() + HOLD_SECONDS
        loop.add_reader(fd, self._on_first_bytes, fd)
        if self._expiry is None:
            self._expiry = loop.call_later(HOLD_SECONDS, self._expire)

    def _on_first_bytes(self, fd: int) -> None:
        self.app.loop.remove_reader(fd)
        del self._held[fd]
        if not (self.shedding or self._full()):
            self.serve(fd)                     # room again by now: its request is still unread
        elif self._judge(fd, hold=False):
            self.serve(fd)

    def _expire(self) -> None:
        loop = self.app.loop
        self._expiry = None
        now = loop.time()
        for fd, deadline in list(self._held.items()):
            if deadline <= now:
                loop.remove_reader(fd)
                del self._held[fd]
                self._judge(fd, hold=False)
        if self._held:
            self._expiry = loop.call_later(min(self._held.values()) - now, self._expire)

    def close(self) -> None:
        """Shutdown: drop the connections still waiting for their request."""
        loop = self.app.loop
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for fd in self._held:
            loop.remove_reader(fd)
            _socket(AF_INET, SOCK_STREAM, 0, fd).close()
        self._held.clear()

    # -- state ------------------------------------------------------------------------

    def _set_shedding(self, on: bool) -> None:
        app = self.app
        self.shedding = on
        if self._health is None:
            self._health = (app.static[b"/health"], seed.health(app.frames, shedding=True))
        app.static[b"/health"] = self._health[on]
        app.memo.clear()                       # remembered /health answers say the old state
        mib = 1 << 20
        if on:
            log.warning("memory %.1f MiB of %.1f MiB (over %.1f): refusing new connections",
                        self.charge / mib, self.memory.limit / mib, self.high / mib)
        else:
            log.warning("memory %.1f MiB of %.1f MiB: accepting connections again",
                        self.charge / mib, self.memory.limit / mib)

    def _trim_heap(self) -> None:
        """Hand the heap's free pages back to the system (glibc; musl has no malloc_trim)."""
        if self._trim is None:
            self._trim = _malloc_trim() or False
        if self._trim:
            self._trim(0)


def _malloc_trim():
    import ctypes  # only once many connections have come and gone
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def admission_for(app) -> Admission | None:
    """The admission of ``app``'s process, or None when nothing limits it."""
    config = app.config
    memory = None
    if config.memory_high:              # the charge is watched only when shedding is on
        from fastmock import cgroup
        memory = cgroup.memory_charge()
    max_connections = config.max_connections
    if max_connections is None:
        # the processes sharing the limit: fastmock.launch made one counters row for each
        # (--workers 0 counted by the CPU quota)
        workers = app.counters.rows
        max_connections = default_max_connections(memory, config.memory_high, workers)
    if memory is None and not max_connections:
        return None
    return Admission(app, memory, config.memory_high, max_connections)


def default_max_connections(memory, memory_high: float, workers: int) -> int:
    """What fits under the memory limit, per process: 0 (no limit) without one."""
    if memory is None or not memory_high:
        return 0
    room = memory.limit * memory_high - memory.charge()
    return max(int(room // PER_CONNECTION_CHARGE) // max(workers, 1), 1)

