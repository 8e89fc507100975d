"""One loop timer that paces every stream.

A ``call_at`` handle per stream costs ~0.6 KB and a callback per frame; here
streams wait in buckets keyed by their due time in whole milliseconds (rounded
up to the tick), and a single timer wakes for the earliest bucket. Due times
are absolute (``start + ttft + n * delay``), so pacing never drifts, and a
stream that is behind writes every due frame at once.
"""
from __future__ import annotations

import logging
import time
from heapq import heappop, heappush

log = logging.getLogger("fastmock")


class Pacer:
    __slots__ = ("_loop", "_tick_ms", "_buckets", "_slots", "_handle", "_armed_slot",
                 "_ticking", "_stamp_ms", "_stamp")

    def __init__(self, loop, tick_ms: int = 1) -> None:
        self._loop = loop
        self._tick_ms = max(1, tick_ms)
        self._buckets: dict[int, list] = {}   # slot (ms) -> streams due then
        self._slots: list[int] = []           # heap of slots; may hold slots already emptied
        self._handle = None
        self._armed_slot = -1
        self._ticking = False     # _tick arms the timer itself when it is done
        self._stamp_ms = -1
        self._stamp = b""

    def now_ms(self) -> int:
        # round, not int: uvloop's time() is whole ms / 1000, and int() of it times 1000 lands
        # 1 ms short for many clock values (e.g. 1048576.003 s), so a timer armed for slot k
        # would find nothing due and spin on call_soon until the next millisecond.
        return round(self._loop.time() * 1000)

    # -- scheduling ---------------------------------------------------------

    def add(self, stream, due_ms: int) -> None:
        """Wake ``stream.due(now_ms)`` at ``due_ms`` (loop clock, milliseconds)."""
        tick = self._tick_ms
        slot = -(-due_ms // tick) * tick
        stream.slot = slot
        bucket = self._buckets.get(slot)
        if bucket is not None:
            bucket.append(stream)
            return
        self._buckets[slot] = [stream]
        heappush(self._slots, slot)
        if not self._ticking and (self._handle is None or slot < self._armed_slot):
            self._arm(slot)

    def remove(self, stream) -> None:
        """Forget ``stream`` if it is waiting; safe to call when it is not."""
        slot = stream.slot
        if slot < 0:
            return
        stream.slot = -1
        bucket = self._buckets.get(slot)
        if bucket is None:
            return
        try:
            bucket.remove(stream)
        except ValueError:
            return
        if not bucket:
            del self._buckets[slot]   # its heap entry is skipped when it comes up

    def __len__(self) -> int:
        return sum(map(len, self._buckets.values()))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._buckets.clear()
        self._slots.clear()

    # -- the timer ----------------------------------------------------------

    def _arm(self, slot: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_slot = slot
        self._handle = self._loop.call_at(slot / 1000, self._tick)

    def _tick(self) -> None:
        """Loop timer: hand every bucket that is due to its streams."""
        self._handle = None
        self._ticking = True
        now = self.now_ms()
        slots, buckets = self._slots, self._buckets
        try:
            while slots and slots[0] <= now:
                bucket = buckets.pop(heappop(slots), None)
                if bucket is None:
                    continue
                for stream in bucket:
                    stream.slot = -1
                    try:
                        stream.due(now)
                    except Exception as exc:  # the loop would only log it, leaving the stream stalled
                        stream.fail(exc)
        finally:
            self._ticking = False
            while slots and slots[0] not in buckets:
                heappop(slots)
            if slots:
                self._arm(slots[0])

    # -- a wall-clock stamp shared by every frame of the same millisecond ---

    def stamp(self) -> bytes:
        """RFC 3339 UTC time with microseconds, fixed width, e.g. 2026-11-24T06:03:27.123456Z."""
        now = time.time()
        ms = int(now * 1000)
        if ms != self._stamp_ms:
            self._stamp_ms = ms
            self._stamp = b"%s.%06dZ" % (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)).encode(),
                int(now * 1_000_000) % 1_000_000)
        return self._stamp
