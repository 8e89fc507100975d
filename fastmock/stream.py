"""One streaming response: a cursor over a FrameTable, paced by the shared Pacer.

It knows timing and frames, not HTTP parsing: the connection hands it a
transport, a head to send first and the limits of the request, and is told
back when the stream has ended (``conn.on_stream_end()``).
"""
from __future__ import annotations

import logging
import time

from fastmock.frames import FIRST, LAST, ONLY, PLAIN, ollama_generate_done

log = logging.getLogger("fastmock")

# Frames joined into one write when a stream is behind, or per burst of an
# unpaced stream; bounds the bytes a single callback puts in the transport.
MAX_BATCH = 64


class FrameStream:
    __slots__ = ("conn", "transport", "pacer", "metrics", "heads", "tails", "splice", "done",
                 "count", "sent", "total", "fail_after", "delay_ms", "next_ms", "slot",
                 "paused", "finished", "burst")

    def __init__(self, conn, transport, pacer, metrics, table, *, chunked: bool, splice: bytes,
                 splice_extra: int = 0, total: int, delay_ms: int, fail_after: int) -> None:
        self.conn = conn
        self.transport = transport
        self.pacer = pacer
        self.metrics = metrics
        if chunked:
            self.tails = table.chunked
            self.heads = table.size_lines(len(splice) + splice_extra)
            self.done = table.done_chunked
        else:
            self.tails = table.raw
            self.heads = table.no_size_lines
            self.done = table.done_raw
        self.splice = splice
        self.count = table.count
        self.sent = 0
        self.total = total              # frames to send; -1 = forever
        self.fail_after = fail_after    # cut the connection after this many frames; -1 = never
        self.delay_ms = delay_ms
        self.next_ms = 0                # when frame number `sent` is due (loop clock, ms)
        self.slot = -1                  # the Pacer bucket it waits in; -1 = not waiting
        self.paused = False
        self.finished = False
        self.burst = None               # call_soon handle of an unpaced stream

    # -- what a subclass may change ------------------------------------------

    def frame_splice(self) -> bytes:
        """The per-response bytes spliced into every frame."""
        return self.splice

    def closing(self) -> bytes:
        """What follows the last frame (terminal event and chunked terminator)."""
        return self.done

    # -- life cycle ----------------------------------------------------------

    def start(self, head: bytes, now_ms: int, ttft_ms: int) -> None:
        """Send the head, with the first frame when it is due at once, and start pacing."""
        self.next_ms = now_ms + ttft_ms
        if self.fail_after == 0:
            self._write(head, 0)
            self._cut()
        elif ttft_ms == 0 and self.delay_ms > 0:
            self._send(1, head)
        else:
            self._write(head, 0)
        self._continue()

    def due(self, now_ms: int) -> None:
        """Pacer: frames are due; send every one whose time has come."""
        delay = self.delay_ms
        n = self.sent
        # The common case, one plain frame on time, without _send's general bookkeeping.
        if (0 < delay and now_ms - self.next_ms < delay and 0 < n and n + 1 != self.total
                and n + 1 != self.fail_after):
            i = n % self.count
            self.sent = n + 1
            self.next_ms += delay
            self._write(self.heads[PLAIN][i] + self.frame_splice() + self.tails[PLAIN][i], 1)
        else:
            self._send((now_ms - self.next_ms) // delay + 1 if delay else MAX_BATCH)
        self._continue()

    def pause(self) -> None:
        """The transport's buffer is full: stop until resume()."""
        self.paused = True
        self._stop_timers()

    def resume(self) -> None:
        """The transport drained: go on from the frame it stopped at, paced from now."""
        if not self.paused:
            return
        self.paused = False
        self.next_ms = max(self.next_ms, self.pacer.now_ms())
        self._continue()

    def cancel(self) -> None:
        """The connection is gone: forget every timer; idempotent."""
        self.finished = True
        self._stop_timers()
        self.transport = None
        self.conn = None

    def fail(self, exc: BaseException) -> None:
        """A callback raised: log it once and drop the connection, never leave it stalled."""
        log.error("stream aborted by an internal error", exc_info=exc)
        transport = self.transport
        self.cancel()
        if transport is not None:
            transport.abort()

    # -- internals -----------------------------------------------------------

    def _stop_timers(self) -> None:
        self.pacer.remove(self)
        if self.burst is not None:
            self.burst.cancel()
            self.burst = None

    def _continue(self) -> None:
        if self.finished or self.paused:
            return
        if self.delay_ms > 0 or self.next_ms > self.pacer.now_ms():  # unpaced: wait out the TTFT
            self.pacer.add(self, self.next_ms)
        elif self.burst is None:
            self.burst = self.pacer._loop.call_soon(self._burst)

    def _burst(self) -> None:
        """Loop callback of an unpaced stream: write a batch, then yield to other work."""
        self.burst = None
        if self.finished or self.paused:
            return
        try:
            self._send(MAX_BATCH)
            self._continue()
        except Exception as exc:
            self.fail(exc)

    def _send(self, k: int, head: bytes = b"") -> None:
        """Write frames sent..sent+k-1 (clipped to the limits) in one write after ``head``."""
        sent, total, fail_after = self.sent, self.total, self.fail_after
        if k > MAX_BATCH:
            k = MAX_BATCH
        if 0 <= total < sent + k:
            k = total - sent
        if 0 <= fail_after < sent + k:
            k = fail_after - sent
        splice, heads, tails, count = self.frame_splice(), self.heads, self.tails, self.count
        parts = [head] if head else []
        for n in range(sent, sent + k):
            i = n % count
            if n == 0:
                v = ONLY if total == 1 else FIRST
            elif n == total - 1:
                v = LAST
            else:
                v = PLAIN
            parts.append(heads[v][i] + splice + tails[v][i])
        sent += k
        self.sent = sent
        self.next_ms += k * self.delay_ms
        ending = sent == total
        if ending:
            parts.append(self.closing())
        self._write(parts[0] if len(parts) == 1 else b"".join(parts), k)
        if sent == fail_after and not ending:
            self._cut()
        elif ending:
            self.finished = True
            self.conn.on_stream_end()

    def _write(self, data: bytes, frames: int) -> None:
        metrics = self.metrics
        metrics.tokens_sent += frames
        metrics.bytes_sent += len(data)
        self.transport.write(data)

    def _cut(self) -> None:
        """fail_after: end abruptly, the way a crashed upstream does (no terminal event)."""
        transport = self.transport
        self.cancel()
        transport.abort()


class OllamaStream(FrameStream):
    """/api/generate lines: each line carries the wall-clock time it was written."""

    __slots__ = ("model", "started_ns", "done_reason")

    def __init__(self, conn, transport, pacer, metrics, table, *, model: bytes,
                 done_reason: str = "stop", **kwargs) -> None:
        # splice = '{"model":"M","created_at":"' + a stamp of fixed width added per frame
        super().__init__(conn, transport, pacer, metrics, table,
                         splice=b'{"model":"' + model + b'","created_at":"',
                         splice_extra=len(pacer.stamp()), **kwargs)
        self.model = model
        self.started_ns = time.monotonic_ns()
        self.done_reason = done_reason

    def frame_splice(self) -> bytes:
        return self.splice + self.pacer.stamp()

    def closing(self) -> bytes:
        line = ollama_generate_done(self.model, self.pacer.stamp(), self.sent,
                                    time.monotonic_ns() - self.started_ns, self.done_reason)
        if self.done:  # chunked framing: self.done is the zero-size terminator
            return b"%x\r\n%s\r\n%s" % (len(line), line, self.done)
        return line


# -- provider APIs (issue #3): a StreamSpec stream and a delayed/cut whole answer -------------

_END_CHUNKED = b"0\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


class SpecStream(FrameStream):
    """A provider stream: frame n is ``spec.frame(n, stamp)``, then ``spec.closing_bytes()``.

    Timing, flow control, fail_after and teardown are FrameStream's; only how frames
    are made differs (from a StreamSpec instead of a FrameTable).
    """

    __slots__ = ("spec", "chunked")

    def __init__(self, conn, transport, pacer, metrics, spec, *, chunked: bool, delay_ms: int,
                 fail_after: int) -> None:
        self.conn = conn
        self.transport = transport
        self.pacer = pacer
        self.metrics = metrics
        self.spec = spec
        self.chunked = chunked
        self.sent = 0
        self.total = spec.total
        self.fail_after = fail_after
        self.delay_ms = delay_ms
        self.next_ms = 0
        self.slot = -1
        self.paused = False
        self.finished = False
        self.burst = None

    def start_spec(self, head: bytes, now_ms: int, ttft_ms: int) -> None:
        """Send the HTTP head and the spec's opening at once, then the frames from ttft on."""
        opening = self.spec.opening
        if opening:
            head += _chunk(opening) if self.chunked else opening
        self.start(head, now_ms, ttft_ms)

    def closing(self) -> bytes:
        data = self.spec.closing_bytes(self.sent)
        return _chunk(data) + _END_CHUNKED if self.chunked else data

    def due(self, now_ms: int) -> None:
        """Pacer: frames are due; send every one whose time has come."""
        delay = self.delay_ms
        self._send((now_ms - self.next_ms) // delay + 1 if delay else MAX_BATCH)
        self._continue()

    def _send(self, k: int, head: bytes = b"") -> None:
        sent, total, fail_after = self.sent, self.total, self.fail_after
        if k > MAX_BATCH:
            k = MAX_BATCH
        if 0 <= total < sent + k:
            k = total - sent
        if 0 <= fail_after < sent + k:
            k = fail_after - sent
        spec = self.spec
        stamp = self.pacer.stamp() if spec.stamp else b""
        parts = [head] if head else []
        if self.chunked:
            for n in range(sent, sent + k):
                parts.append(_chunk(spec.frame(n, stamp)))
        else:
            for n in range(sent, sent + k):
                parts.append(spec.frame(n, stamp))
        sent += k
        self.sent = sent
        self.next_ms += k * self.delay_ms
        ending = sent == total
        if ending:
            parts.append(self.closing())
        self._write(b"".join(parts), k)
        if sent == fail_after and not ending:
            self._cut()
        elif ending:
            self.finished = True
            self.conn.on_stream_end()


class WholeAnswer:
    """A complete response sent ``wait_ms`` late (a non-streamed answer's TTFT), or, with
    ``cut_at`` >= 0, only its first ``cut_at`` bytes and then an abort (fail_after)."""

    __slots__ = ("conn", "transport", "pacer", "metrics", "data", "cut_at", "due_ms", "slot",
                 "paused", "finished")

    def __init__(self, conn, transport, pacer, metrics, data: bytes, cut_at: int) -> None:
        self.conn = conn
        self.transport = transport
        self.pacer = pacer
        self.metrics = metrics
        self.data = data
        self.cut_at = cut_at
        self.due_ms = 0
        self.slot = -1
        self.paused = False
        self.finished = False

    def start(self, now_ms: int, wait_ms: int) -> None:
        self.due_ms = now_ms + wait_ms
        if wait_ms <= 0 and not self.paused:
            self._send()
        elif not self.paused:
            self.pacer.add(self, self.due_ms)

    def due(self, now_ms: int) -> None:
        """Pacer: the wait is over."""
        self._send()

    def pause(self) -> None:
        self.paused = True
        self.pacer.remove(self)

    def resume(self) -> None:
        if self.paused and not self.finished:
            self.paused = False
            self.pacer.add(self, self.due_ms)

    def cancel(self) -> None:
        self.finished = True
        self.pacer.remove(self)
        self.transport = None
        self.conn = None

    def fail(self, exc: BaseException) -> None:
        log.error("answer aborted by an internal error", exc_info=exc)
        transport = self.transport
        self.cancel()
        if transport is not None:
            transport.abort()

    def closing(self) -> bytes:
        """Shutdown: what is still owed (the whole answer, unless it is to be cut)."""
        return b"" if self.finished or self.cut_at >= 0 else self.data

    def _send(self) -> None:
        transport, data = self.transport, self.data
        if self.cut_at >= 0:
            data = data[:self.cut_at]
        self.metrics.bytes_sent += len(data)
        transport.write(data)
        if self.cut_at >= 0:
            self.cancel()
            transport.abort()
        else:
            self.finished = True
            self.conn.on_stream_end()
