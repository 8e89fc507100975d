# cython: language_level=3
"""One loop timer that paces every stream.

A ``call_at`` handle per stream costs ~0.6 KB and a Python callback per frame.
Here streams wait in buckets keyed by their due time in whole milliseconds
(rounded up to the tick); each bucket is an intrusive doubly linked list, so
adding, removing and waking a stream allocate nothing, and a single loop timer
wakes for the earliest bucket. Due times are absolute (``start + ttft + n *
delay``), so pacing never drifts, and a stream that falls behind writes every
frame that is due at once.
"""
import time
from heapq import heappop, heappush

from libc.math cimport llround


cdef class Paced:
    def __cinit__(self):
        self._slot = -1

    cdef int _due(self, long long now_ms) except -1:
        """Pacer: this item's time has come (it is no longer waiting)."""
        return 0

    cdef void _fail(self, object exc):
        """Pacer: ``_due`` raised; the item must not be left stalled."""
        pass

    @property
    def slot(self):
        """The bucket (ms) it waits in; -1 = not waiting."""
        return self._slot


cdef class Waiter(Paced):
    """A Paced item whose ``due(now_ms)`` and ``fail(exc)`` are Python methods."""

    cdef int _due(self, long long now_ms) except -1:
        self.due(now_ms)
        return 0

    cdef void _fail(self, object exc):
        self.fail(exc)


cdef class Pacer:
    def __init__(self, loop, long long tick_ms=1):
        self._loop = loop
        self._call_at = loop.call_at
        self._tick_callback = self._tick
        self._tick_ms = max(1, tick_ms)
        self._buckets = {}
        self._slots = []
        self._handle = None
        self._armed_slot = -1
        self._ticking = False     # _tick arms the timer itself when it is done
        self._waiting = 0
        self._stamp_ms = -1
        self._stamp = b""

    @property
    def loop(self):
        return self._loop

    cpdef long long now_ms(self):
        # round, not int: uvloop's time() is whole ms / 1000, and int() of it times 1000 lands
        # 1 ms short for many clock values (e.g. 1048576.003 s), so a timer armed for slot k
        # would find nothing due and spin on call_soon until the next millisecond.
        return llround(self._loop.time() * 1000.0)

    def __len__(self):
        return self._waiting

    def schedule(self, Paced item, long long due_ms):
        """add(), for Python callers."""
        self.add(item, due_ms)

    def unschedule(self, Paced item):
        """remove(), for Python callers."""
        self.remove(item)

    # -- scheduling ---------------------------------------------------------

    cdef void add(self, Paced item, long long due_ms):
        """Wake ``item._due(now_ms)`` at ``due_ms`` (loop clock, milliseconds)."""
        cdef long long tick = self._tick_ms
        cdef long long slot = ((due_ms + tick - 1) // tick) * tick
        cdef Paced head
        if item._slot >= 0:
            self.remove(item)
        item._slot = slot
        self._waiting += 1
        head = self._buckets.get(slot)
        if head is not None:
            item._next = head._next    # second in the list: the head stays where it is
            item._prev = head
            if head._next is not None:
                head._next._prev = item
            head._next = item
            return
        self._buckets[slot] = item
        heappush(self._slots, slot)
        if not self._ticking and (self._handle is None or slot < self._armed_slot):
            self._arm(slot)

    cdef void remove(self, Paced item):
        """Forget ``item`` if it is waiting; safe to call when it is not."""
        cdef long long slot = item._slot
        cdef Paced prev = item._prev, nxt = item._next
        if slot < 0:
            return
        item._slot = -1
        item._prev = item._next = None
        self._waiting -= 1
        if prev is not None:
            prev._next = nxt
            if nxt is not None:
                nxt._prev = prev
        elif nxt is not None:
            nxt._prev = None
            self._buckets[slot] = nxt
        else:
            del self._buckets[slot]   # its heap entry is skipped when it comes up

    def close(self):
        """Forget every waiting item and the timer (the loop is stopping)."""
        cdef Paced item, nxt
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for head in self._buckets.values():
            item = head
            while item is not None:
                nxt = item._next
                item._slot = -1
                item._prev = item._next = None
                item = nxt
        self._buckets.clear()
        self._slots.clear()
        self._waiting = 0

    # -- the timer ----------------------------------------------------------

    cdef void _arm(self, long long slot):
        if self._handle is not None:
            self._handle.cancel()
        self._armed_slot = slot
        self._handle = self._call_at(slot / 1000.0, self._tick_callback)

    def _tick(self):
        """Loop timer: wake every item whose bucket is due."""
        cdef long long now = self.now_ms()
        cdef long long slot
        cdef list slots = self._slots
        cdef dict buckets = self._buckets
        cdef Paced item
        self._handle = None
        self._ticking = True
        try:
            while slots and <long long>slots[0] <= now:
                slot = heappop(slots)
                # Take the head each time rather than walking the list: a callback may
                # remove any item, and one that is still behind comes straight back.
                while True:
                    item = buckets.get(slot)
                    if item is None:
                        break
                    self.remove(item)
                    try:
                        item._due(now)
                    except Exception as exc:  # the loop would only log it, leaving it stalled
                        item._fail(exc)
        finally:
            self._ticking = False
            while slots and slots[0] not in buckets:
                heappop(slots)
            if slots:
                self._arm(slots[0])

    # -- a wall-clock stamp shared by every frame of the same millisecond ---

    cdef bytes stamp(self):
        """RFC 3339 UTC time with microseconds, fixed width, e.g. 2026-11-24T06:03:27.123456Z."""
        now = time.time()
        cdef long long ms = <long long>(now * 1000)
        if ms != self._stamp_ms:
            self._stamp_ms = ms
            self._stamp = b"%s.%06dZ" % (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)).encode(),
                <long long>(now * 1000000) % 1000000)
        return self._stamp

    def stamp_now(self):
        return self.stamp()
