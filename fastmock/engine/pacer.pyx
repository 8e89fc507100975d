# One loop timer that paces every stream.
#
# A ``call_at`` handle per stream costs ~0.6 KB and a Python callback per frame.
# Here streams wait on a timing wheel: 4,096 places, one per millisecond (or tick),
# each an intrusive doubly linked list of the streams due then, with a bitmap of the
# places in use, so adding, removing and waking a stream allocate nothing and box
# no number, and a single loop timer wakes for the next place in use. A stream due
# a whole turn ahead (4 s and more) waits in its place until its turn comes. Due
# times are absolute (``start + ttft + n * delay``), so pacing never drifts, and a
# stream that falls behind writes every frame that is due at once.

import time

from libc.math cimport llround
from libc.stdint cimport uint64_t
from libc.string cimport memset

cdef extern from *:
    int __builtin_ctzll(unsigned long long x) nogil


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
        self._heads = None        # the wheel (32 KB), made by the first add()
        memset(self._bits, 0, sizeof(self._bits))
        self._done = -1
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
        cdef long long slot = (due_ms + self._tick_ms - 1) // self._tick_ms   # in ticks
        cdef Py_ssize_t index
        cdef Paced head
        if item._slot >= 0:
            self.remove(item)
        if self._heads is None:      # a server that never streams never pays for it
            self._heads = [None] * WHEEL
        if slot <= self._done:       # its turn has passed: the next one (a stream behind)
            slot = self._done + 1
        index = slot & MASK
        item._slot = slot * self._tick_ms
        self._waiting += 1
        head = <Paced>self._heads[index]
        item._next = head
        if head is not None:
            head._prev = item
        self._heads[index] = item
        self._bits[index >> 6] |= (<uint64_t>1) << (index & 63)
        if not self._ticking and (self._handle is None or slot < self._armed_slot):
            self._arm(slot)

    cdef void remove(self, Paced item):
        """Forget ``item`` if it is waiting; safe to call when it is not."""
        cdef Py_ssize_t index = (item._slot // self._tick_ms) & MASK
        cdef Paced prev = item._prev, nxt = item._next
        if item._slot < 0:
            return
        item._slot = -1
        item._prev = item._next = None
        self._waiting -= 1
        if nxt is not None:
            nxt._prev = prev
        if prev is not None:
            prev._next = nxt
        else:
            self._heads[index] = nxt
            if nxt is None:
                self._bits[index >> 6] &= ~((<uint64_t>1) << (index & 63))

    def close(self):
        """Forget every waiting item and the timer (the loop is stopping)."""
        cdef Paced item, nxt
        cdef Py_ssize_t index
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._heads is None:
            return
        for index in range(WHEEL):
            item = <Paced>self._heads[index]
            while item is not None:
                nxt = item._next
                item._slot = -1
                item._prev = item._next = None
                item = nxt
            self._heads[index] = None
        memset(self._bits, 0, sizeof(self._bits))
        self._waiting = 0

    # -- the timer ----------------------------------------------------------

    cdef long long _next_slot(self, long long first, long long last) noexcept:
        """The first slot from ``first`` to ``last`` (less than a turn apart) whose place
        on the wheel holds anything, or -1."""
        cdef long long slot = first
        cdef Py_ssize_t index, word
        cdef uint64_t bits
        while slot <= last:
            index = slot & MASK
            word = index >> 6
            bits = self._bits[word] >> (index & 63)
            if bits:
                slot += __builtin_ctzll(bits)
                return slot if slot <= last else -1
            slot += 64 - (index & 63)          # the rest of this word is empty
        return -1

    cdef void _arm(self, long long slot):
        if self._handle is not None:
            self._handle.cancel()
        self._armed_slot = slot
        self._handle = self._call_at(slot * self._tick_ms / 1000.0, self._tick_callback)

    def _tick(self):
        """Loop timer: wake every item whose slot has come."""
        cdef long long now = self.now_ms()
        cdef long long now_slot = now // self._tick_ms      # in ticks, as the wheel's places
        cdef long long slot, start, now_tick_ms = now_slot * self._tick_ms
        cdef list due
        cdef Paced item, nxt
        self._handle = None
        self._ticking = True
        try:
            start = self._done + 1
            if now_slot - start >= WHEEL:      # idle for more than a turn: each place once
                start = now_slot - WHEEL + 1
            slot = self._next_slot(start, now_slot)
            while slot >= 0:
                # Take this place's due items off the wheel first, then wake them: a
                # callback may add or remove items anywhere. An item a whole turn (or more)
                # ahead shares the place and stays.
                due = []
                item = <Paced>self._heads[slot & MASK]
                while item is not None:
                    nxt = item._next
                    if item._slot <= now_tick_ms:
                        self.remove(item)
                        due.append(item)
                    item = nxt
                self._done = slot
                for item in due:
                    if item._slot >= 0:        # put back by an earlier callback: it waits
                        continue
                    try:
                        item._due(now)
                    except Exception as exc:  # the loop would only log it, leaving it stalled
                        item._fail(exc)
                slot = self._next_slot(slot + 1, now_slot) if slot < now_slot else -1
            self._done = now_slot
        finally:
            self._ticking = False
            if self._waiting:
                slot = self._next_slot(now_slot + 1, now_slot + WHEEL)
                if slot >= 0:
                    self._arm(slot)

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
