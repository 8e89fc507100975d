"""A fake transport and a manual-clock loop: bytes in, bytes out, no sockets.

Modelled on uvicorn's ``MockTransport``/``MockLoop`` (tests/protocols/test_http.py)
and uvloop's ``_testbase`` (any call of the loop's exception handler fails the test).

- ``ManualClockLoop``: ``time()`` moves only when a test says so. ``call_at``,
  ``call_later`` and ``call_soon`` return cancellable handles; ``advance(s)`` fires
  every timer that comes due, each at its exact deadline (a punctual loop), while
  ``jump(s)`` moves the clock first and then runs what is due (a loop that fell behind).
- ``MockTransport``: records writes, close, abort and reading pauses; can play
  the transport's side of flow control (``pause_writing``/``resume_writing``), and
  like a real transport reports ``connection_lost`` through the loop, once.
- ``Client``: an ``App`` (the real ``fastmock.server.App`` on the fake loop) and one
  connected ``HttpProtocol``; its responses are read back by ``support.http``.

The ``loop`` and ``client`` fixtures that make them are in tests/unit/conftest.py.
"""
from __future__ import annotations

import heapq
import itertools
from collections import deque

from fastmock._engine import LAYOUT, SLOTS
from fastmock.config import Config
from fastmock.frames import Frames
from fastmock.protocol import HttpProtocol
from fastmock.routes import LABELS
from fastmock.server import App
from support.http import Response, parse_responses, sans_fresh_ids

START = 1_048_576.0    # loop clock at the start (s): 12 days of uptime, where int(t*1000) often lands 1 ms short
MAX_CALLBACKS = 100_000  # per advance()/run_ready(): a callback that re-arms itself forever fails


class Handle:
    """What call_at/call_later/call_soon return: cancellable, with its deadline."""

    __slots__ = ("_when", "_callback", "_args", "_cancelled", "_loop", "kind")

    def __init__(self, loop, when, callback, args, kind: str) -> None:
        self._loop = loop
        self._when = when
        self._callback = callback
        self._args = args
        self._cancelled = False
        self.kind = kind

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self._cancelled = True

    def cancelled(self) -> bool:
        return self._cancelled

    def _run(self) -> None:
        # What asyncio.Handle._run does: an exception goes to the loop's exception handler.
        try:
            self._callback(*self._args)
        except Exception as exc:
            self._loop.call_exception_handler({
                "message": f"Exception in callback {self._callback!r}",
                "exception": exc, "handle": self})


class ManualClockLoop:
    """The parts of an event loop that fastmock's App, Pacer and HttpProtocol use."""

    def __init__(self, start: float = START) -> None:
        # Integer nanoseconds, so that many uneven steps add up exactly: time() of a whole
        # millisecond k is then the same float as k / 1000, as with uvloop's ms clock.
        self._ns = round(start * 1e9)
        self._timers: list = []          # heap of (when, seq, handle)
        self._ready: deque[Handle] = deque()
        self._seq = itertools.count()
        self.exception_contexts: list[dict] = []
        self.scheduled: list[Handle] = []   # every handle ever made, in order

    # -- the loop API ----------------------------------------------------------

    def time(self) -> float:
        return self._ns / 1e9

    def call_at(self, when: float, callback, *args, context=None) -> Handle:
        handle = Handle(self, when, callback, args, "call_at")
        heapq.heappush(self._timers, (when, next(self._seq), handle))
        self.scheduled.append(handle)
        return handle

    def call_later(self, delay: float, callback, *args, context=None) -> Handle:
        handle = self.call_at(self.time() + delay, callback, *args)
        handle.kind = "call_later"
        return handle

    def call_soon(self, callback, *args, context=None) -> Handle:
        handle = Handle(self, self.time(), callback, args, "call_soon")
        self._ready.append(handle)
        self.scheduled.append(handle)
        return handle

    def call_exception_handler(self, context: dict) -> None:
        self.exception_contexts.append(context)

    def get_debug(self) -> bool:
        return False

    # -- driving it --------------------------------------------------------------

    def timers(self) -> list[Handle]:
        """Pending (not cancelled) timers, earliest first."""
        return [h for _, _, h in sorted(self._timers) if not h.cancelled()]

    def ready(self) -> list[Handle]:
        return [h for h in self._ready if not h.cancelled()]

    def next_deadline(self) -> float | None:
        timers = self.timers()
        return timers[0].when() if timers else None

    def run_once(self) -> int:
        """One loop iteration: run the call_soon callbacks that are ready now (not those they add)."""
        n = 0
        for _ in range(len(self._ready)):
            handle = self._ready.popleft()
            if not handle.cancelled():
                handle._run()
                n += 1
        return n

    def run_ready(self, limit: int = MAX_CALLBACKS) -> int:
        """Run call_soon callbacks until none is left."""
        n = 0
        while self._ready:
            n += self.run_once()
            if n > limit:
                raise AssertionError(f"more than {limit} call_soon callbacks: a busy loop")
        return n

    def _fire_due(self, until_ns: int, punctual: bool) -> int:
        n = self.run_ready()
        until = until_ns / 1e9
        while True:
            while self._timers and self._timers[0][2].cancelled():
                heapq.heappop(self._timers)
            if not self._timers or self._timers[0][0] > until:
                break
            when, _, handle = heapq.heappop(self._timers)
            if punctual and when > self.time():
                self._ns = min(until_ns, round(when * 1e9))
            handle._run()
            n += 1 + self.run_ready()
            if n > MAX_CALLBACKS:
                raise AssertionError(f"more than {MAX_CALLBACKS} callbacks at t={self.time()}: "
                                     "a timer that keeps re-arming without progress")
        return n

    def advance(self, seconds: float) -> int:
        """Move the clock forward, firing every timer at its own deadline, in order."""
        assert seconds >= 0
        target = self._ns + round(seconds * 1e9)
        n = self._fire_due(target, punctual=True)
        self._ns = target
        return n + self.run_ready()

    def advance_to(self, when: float) -> int:
        return self.advance(max(0.0, when - self.time()))

    def jump(self, seconds: float) -> int:
        """The loop was busy: the clock moves first, then everything due runs at the new time."""
        assert seconds >= 0
        self._ns += round(seconds * 1e9)
        return self._fire_due(self._ns, punctual=False)


class MockTransport:
    """Records what the protocol does to its transport; plays the transport's flow control."""

    def __init__(self, loop: ManualClockLoop, protocol=None, *, high_water: int | None = None) -> None:
        self.loop = loop
        self.linger = False          # close() waits for a peer that never reads: no connection_lost
        self._losing = False         # connection_lost is scheduled
        self.protocol = protocol
        self.writes: list[bytes] = []
        self.log: list[tuple[float, bytes]] = []   # (loop time, data) of every write
        self.closed = False          # close() called
        self.aborted = False         # abort() called
        self.lost = False            # connection_lost delivered
        self.reading = True
        self.reading_calls: list[str] = []
        self.writes_after_close: list[bytes] = []
        self.high_water = high_water  # pause_writing when buffered > high_water
        self.half_close = False       # can_write_eof(): lingering closes are tested with True
        self.eof_written = False
        self.buffered = 0
        self.write_paused = False

    # -- the transport API ------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.lost:
            # uvloop raises on a write to a closed handle (STYLE.md pitfall 9)
            raise RuntimeError("write() after connection_lost")
        assert isinstance(data, (bytes, bytearray, memoryview)), type(data)
        assert len(data) > 0, "an empty write"
        if self.closed or self.aborted:
            self.writes_after_close.append(bytes(data))
        self.writes.append(bytes(data))
        self.log.append((self.loop.time(), bytes(data)))
        if self.high_water is not None:
            self.buffered += len(data)
            if self.buffered > self.high_water and not self.write_paused:
                self.write_paused = True
                self.protocol.pause_writing()   # synchronously, inside write(), as uvloop does

    def writelines(self, chunks) -> None:
        self.write(b"".join(chunks))

    def close(self) -> None:
        self.closed = True
        if not self.linger:
            self._schedule_loss()

    def abort(self) -> None:
        self.aborted = True
        self._schedule_loss()

    def _schedule_loss(self) -> None:
        if not self._losing:
            self._losing = True
            self.loop.call_soon(self._lose, None)

    def can_write_eof(self) -> bool:
        return self.half_close

    def write_eof(self) -> None:
        assert self.half_close and not self.eof_written
        self.eof_written = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def pause_reading(self) -> None:
        assert self.reading, "pause_reading() twice"
        self.reading = False
        self.reading_calls.append("pause")

    def resume_reading(self) -> None:
        assert not self.reading, "resume_reading() while reading"
        self.reading = True
        self.reading_calls.append("resume")

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 54321), "sockname": ("127.0.0.1", 3000)}.get(name, default)

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return self.buffered

    # -- the test's side ------------------------------------------------------------

    def _lose(self, exc) -> None:
        if not self.lost:
            self.lost = True
            self.protocol.connection_lost(exc)

    def peer_reset(self, exc: Exception | None = None) -> None:
        """The peer went away: connection_lost now, as the loop would report it."""
        self._losing = True
        self._lose(exc if exc is not None else ConnectionResetError())

    def drain(self) -> None:
        """The peer read everything: the buffer empties and writing resumes."""
        self.buffered = 0
        if self.write_paused:
            self.write_paused = False
            self.protocol.resume_writing()

    def pause(self) -> None:
        """The buffer passed the high-water mark."""
        self.write_paused = True
        self.protocol.pause_writing()

    def raw(self) -> bytes:
        """Everything written, fresh X-Request-Id lines included."""
        return b"".join(self.writes)

    def data(self) -> bytes:
        """Everything written, without the fresh X-Request-Id lines (unit tests compare
        framing against the pre-encoded answers; tests/e2e check the ids)."""
        return sans_fresh_ids(b"".join(self.writes))

    def take(self) -> bytes:
        """Everything written since the last take() (without fresh X-Request-Id lines)."""
        data = b"".join(self.writes)
        self.writes.clear()
        return sans_fresh_ids(data)


FRAMES = Frames()   # the default corpus and models, built once for every test


def make_app(loop: ManualClockLoop, frames: Frames | None = None, **settings) -> App:
    """The real server App on the fake loop (and its clock); settings override Config defaults."""
    app = App(Config(**settings), loop, frames if frames is not None else FRAMES)
    app.clock = loop.time
    return app


class Stats:
    """The App's shared counters, by name, as the tests read them."""

    def __init__(self, app: App) -> None:
        self.counters = app.counters

    @property
    def streams(self) -> int:
        return self.counters.value(SLOTS["active_streams"])

    @property
    def connections(self) -> int:
        return self.counters.value(SLOTS["open_connections"])

    @property
    def tokens_sent(self) -> int:
        return self.counters.value(SLOTS["tokens_sent"])

    @property
    def rejected_connections(self) -> int:
        return self.counters.value(SLOTS["rejected_connections"])

    @property
    def bytes_sent(self) -> int:
        return self.counters.value(SLOTS["bytes_sent"])

    @property
    def requests(self) -> dict[tuple[str, int], int]:
        """(route, status) -> answers, for every pair answered at least once."""
        statuses, low = LAYOUT["statuses"], LAYOUT["status_low"]
        found = {}
        for index, route in enumerate(LABELS):
            values = self.counters.values(LAYOUT["requests_base"] + index * statuses, statuses)
            found.update({(route, low + i): n for i, n in enumerate(values) if n})
        return found


def stats(app: App) -> Stats:
    return Stats(app)


class Client:
    """One connected HttpProtocol on a MockTransport, in an App of its own (or a shared one)."""

    def __init__(self, loop: ManualClockLoop, app: App | None = None, *,
                 high_water: int | None = None, **settings) -> None:
        self.loop = loop
        self.app = app if app is not None else make_app(loop, **settings)
        self.protocol = HttpProtocol(self.app)
        self.transport = MockTransport(loop, self.protocol, high_water=high_water)
        self.protocol.connection_made(self.transport)

    def send(self, data: bytes, run: bool = True) -> None:
        """Bytes arrive from the peer; then the loop runs what is ready (call_soon)."""
        self.protocol.data_received(data)
        if run:
            self.loop.run_ready()

    def take(self) -> bytes:
        return self.transport.take()

    def data(self) -> bytes:
        return self.transport.data()

    def responses(self, head_requests: int = 0) -> list[Response]:
        return parse_responses(self.data())
