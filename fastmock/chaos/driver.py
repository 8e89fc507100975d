"""Schedule: a chaos stream as the engine sends it, one due write at a time.

The engine (``Streamer.start_scheduled``) keeps the connection in its streaming state
(pipelining, keep-alive, slow readers, disconnects and shutdown behave as for any
stream), wakes on the shared Pacer, and asks ``step(now_ms)`` for each write; every
write is its own send(2) on a TCP_NODELAY socket. Nothing here touches a socket.
"""
from _random import Random

from fastmock.chaos import render
from fastmock.streamspec import NDJSON


class Schedule:
    """The writes of one chaos stream (rendered lazily), from ``start_ms`` on the loop clock."""

    __slots__ = ("_items", "_next", "_start", "_spec", "_chunked", "_sent", "_between")

    def __init__(self, spec, chaos, delay_ms: int, ttft_ms: int, chunked: bool, stamp,
                 start_ms: int) -> None:
        rng = Random(chaos.seed)
        events = render.events(spec, chaos, delay_ms, ttft_ms, stamp, rng)
        self._items = render.framed(render.writes(events, chaos, rng), chunked)
        self._next = None
        self._start = start_ms
        self._spec = spec
        self._chunked = chunked
        self._sent = 0              # token frames sent
        self._between = True        # the last write ended between two events

    def step(self, now_ms: int) -> tuple:
        """Engine: ``(data, tokens, next_ms)``: a write that is due now (or None), the token
        frames it completes, and when to ask again (<= now_ms: at once); or, for the last
        write, an END_* code (< 0) instead of a time."""
        item = self._next
        if item is None:
            item = next(self._items)
        due = self._start + item[0]
        if due > now_ms:
            self._next = item
            return None, 0, due
        at, data, tokens, ending = item
        self._sent += tokens
        if ending:
            self._next = None
            return data, tokens, ending
        self._next = following = next(self._items)
        self._between = _ends_event(data, self._chunked, self._spec.content_type == NDJSON)
        return data, tokens, max(self._start + following[0], due)

    def finish(self) -> bytes:
        """Engine, when a shutdown's grace is over: what ends the stream cleanly now (its
        closing events when no event was left half sent, and the chunked terminator)."""
        closing = b""
        if self._between and self._spec.total >= 0:
            closing = self._spec.closing_bytes(self._sent)
        if not self._chunked:
            return closing
        return (b"%x\r\n%s\r\n" % (len(closing), closing) if closing else b"") + render.CHUNK_END


def _ends_event(data: bytes, chunked: bool, ndjson: bool) -> bool:
    if chunked:
        data = data[:-2]
    return data.endswith(b"\n" if ndjson else b"\n\n")
