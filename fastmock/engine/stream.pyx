# Streamer: the answer that goes out over time, one at a time per connection.
#
# A StreamSpec is paced by the shared Pacer (frame n is due at start + ttft + n * delay,
# and a stream that falls behind sends every frame that is due at once); an unpaced one
# goes out in batches, one per loop iteration. answer_later() sends one whole answer
# late (a non-streamed answer's time to first token). A slow reader pauses either, the
# end of either answers the requests that queued behind it, and fail_after cuts either
# the way a crashed upstream does.

import logging

log = logging.getLogger("fastmock")

cdef extern from "<sys/socket.h>" nogil:
    struct linger:
        int l_onoff
        int l_linger
    enum: SO_LINGER
cdef extern from "<netinet/in.h>" nogil:
    enum: IPPROTO_TCP
cdef extern from "<netinet/tcp.h>" nogil:
    enum: TCP_NODELAY

# Frames joined into one write when a stream is behind, or per burst of an
# unpaced stream; bounds what one callback puts on the wire.
cdef enum:
    BATCH_FRAMES = 64               # MAX_BATCH, for C arrays
MAX_BATCH = BATCH_FRAMES
# SO_SNDBUF of a connection once it streams (the kernel doubles it). Autotuned, a client
# that stops reading pins up to 4 MB in the kernel (charged to the container on cgroup v2);
# capped, ~45 KB, and one stream still moves ~50 MiB/s to a client that keeps up.
cdef int STREAM_SNDBUF = 16384
cdef enum:
    # how a scheduled stream ends (fastmock.chaos.render's END_*)
    END_CLEAN = -1                  # its end: the next request, or the close
    END_RESET = -3                  # a cut by RST (SO_LINGER 0); any other: a cut by FIN
cdef enum:
    PROBED = 1                      # a FIN came and a probe was sent (once a connection)
    PROBED_AHEAD = 2                # ... and it was the first byte of the whole answer due


cdef class Streamer(Composer):

    # -- starting ----------------------------------------------------------------------

    cpdef start_stream(self, bytes head, spec, int route, bint keep_alive, bint chunked,
                       int delay_ms, int ttft_ms, long long fail_after, Gaps gaps=None,
                       long long prompt_tokens=0):
        """Send ``head`` and stream ``spec`` (a StreamSpec), paced by the shared Pacer:
        every ``delay_ms``, or with ``gaps`` (a latency model) at drawn times, once one of
        the app's slots (Shared.slots) is free. ``prompt_tokens``: the request's prompt,
        as its usage counts it (vLLM's metrics)."""
        cdef bint waiting = False
        cdef Shared app = self.app
        cdef long long now_ms = app.pacer.now_ms()
        if self._stream_number == 0 and self._fd >= 0:
            # the connection's first stream (and, harmlessly, every 65,536th after): no
            # flag is kept for it, a connection stays 240 bytes
            c_setsockopt(self._fd, SOL_SOCKET, SO_SNDBUF, &STREAM_SNDBUF, sizeof(int))
        self._streaming = True
        self._stream_number += 1
        self._keep_alive = keep_alive
        self._route = route
        self._chunked = chunked
        self._delay_ms = delay_ms
        self._fail_after = fail_after
        self._next_ms = now_ms + ttft_ms
        if gaps is not None:
            self._delay_ms = SAMPLED
            if not app.slots.take(self, gaps, now_ms, ttft_ms):
                self._next_ms = WAITING     # until a stream ends (_admitted)
                waiting = True
        self._set_spec(spec)
        app.counters.add(ACTIVE_STREAMS, 1)
        app.counters.count_request(route, 200)
        app.counters.vllm_started(prompt_tokens)
        if not waiting:
            app.counters.vllm_queued(0.0)
        if app.access_log is not None:
            self._log_answer(200, len(head))
        if spec.opening:
            head = head + (_chunk(spec.opening) if chunked else spec.opening)
        if fail_after == 0:
            self._send_bytes(head)
            self._cut()
        elif self._total == 0:
            self._send_frames(0, head)
        elif ttft_ms == 0 and self._delay_ms > 0 and not self._write_paused:
            self._send_frames(1, head)      # (a latency model's first frame: on the next tick)
        else:
            self._send_bytes(head)
        self._continue()

    cpdef answer_later(self, bytes data, int route, int status, bint keep_alive, int wait_ms,
                       Py_ssize_t cut_at):
        """Send the whole response ``data`` ``wait_ms`` from now (a non-streamed answer's
        time to first token); with ``cut_at`` >= 0 only its first ``cut_at`` bytes, then
        cut the connection (fail_after). Until then the connection is busy, like a stream."""
        cdef Shared app = self.app
        self._streaming = True
        self._whole = True
        self._stream_number += 1
        self._keep_alive = keep_alive
        self._route = route
        self._chunked = False
        self._delay_ms = 0
        self._sent = self._total = 0
        self._fail_after = cut_at
        self._closing_spec = data
        self._next_ms = app.pacer.now_ms() + wait_ms
        app.counters.add(ACTIVE_STREAMS, 1)
        app.counters.count_request(route, status)
        if app.access_log is not None:
            self._log_answer(status, len(data))
        if wait_ms <= 0 and not self._write_paused:
            self._send_whole()
        else:
            self._continue()

    cpdef start_scheduled(self, bytes head, schedule, int route, bint keep_alive, bint chunked):
        """Send ``head``, then each write ``schedule`` gives, when it says (a stream with wire
        chaos: fastmock.chaos.driver.Schedule). It runs as answer_later's whole answer does
        (_whole, _closing_spec holds the schedule), so a stream without chaos never looks at
        it; each write is its own send(2) on a TCP_NODELAY socket."""
        cdef Shared app = self.app
        cdef int on = 1
        if self._fd >= 0:
            if self._stream_number == 0:
                c_setsockopt(self._fd, SOL_SOCKET, SO_SNDBUF, &STREAM_SNDBUF, sizeof(int))
            # uvloop sets it on every TCP transport; a chaos stream depends on it
            c_setsockopt(self._fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(int))
        self._streaming = True
        self._whole = True
        self._stream_number += 1
        self._keep_alive = keep_alive
        self._route = route
        self._chunked = chunked
        self._delay_ms = 0
        self._sent = self._total = 0        # _sent: the token frames sent
        self._fail_after = -1
        self._closing_spec = schedule
        self._next_ms = app.pacer.now_ms()
        app.counters.add(ACTIVE_STREAMS, 1)
        app.counters.count_request(route, 200)
        if app.access_log is not None:
            self._log_answer(200, len(head))
        self._send_bytes(head)
        if self._write_paused:
            self._continue()
        else:
            self._send_scheduled()

    cdef int _send_scheduled(self) except -1:
        """Every write of a scheduled stream that is due (at most a batch), then wait."""
        cdef Shared app = self.app
        schedule = self._closing_spec
        cdef long long now_ms = app.pacer.now_ms(), next_ms
        cdef long long tokens
        cdef int writes = 0
        while True:
            data, tokens, next_ms = schedule.step(now_ms)
            if data:
                self._send_bytes(data)
            if tokens:
                if self._sent == 0:         # the first token: its time to first token
                    app.counters.observe(TTFT_BASE, self._route, _clock(app) - self._started)
                self._sent += tokens
                app.counters.add(TOKENS_SENT, tokens)
            if next_ms < 0:
                return self._end_scheduled(next_ms)
            self._next_ms = next_ms
            writes += 1
            if (next_ms > now_ms or writes >= BATCH_FRAMES or self._write_paused
                    or self._closing or not self._streaming):
                break
        self._continue()
        return 0

    cdef int _end_scheduled(self, long long ending) except -1:
        cdef linger hard
        if ending == END_CLEAN:
            return self._end_stream()
        if ending == END_RESET and self._fd >= 0:
            hard.l_onoff = 1                # close() sends RST instead of FIN
            hard.l_linger = 0
            c_setsockopt(self._fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(linger))
        return self._cut()

    cpdef count_whole(self, long long prompt_tokens, long long tokens, bint length, bint cut,
                      int wait_ms):
        """A provider's whole answer of ``tokens`` generated, before respond() or
        answer_later(): vLLM's metrics, its end-to-end latency until it is due; ``cut``
        (fail_after) is an abort."""
        cdef int reason = FINISHED_ABORT if cut else FINISHED_LENGTH if length else FINISHED_STOP
        self.app.counters.vllm_whole(prompt_tokens, tokens, reason,
                                     _clock(self.app) - self._started + wait_ms * 0.001)

    cdef int _send_whole(self) except -1:
        if type(self._closing_spec) is not bytes:
            return self._send_scheduled()
        cdef bytes data = self._closing_spec
        cdef Py_ssize_t skip = 0
        if self._probed == PROBED_AHEAD:    # its first byte went out as a probe
            self._probed = PROBED
            skip = 1
        if self._fail_after >= 0:
            self._send_bytes(data[skip:self._fail_after])
            self._cut()
        else:
            self._send_bytes(data[skip:] if skip else data)
            self._end_stream()
        return 0

    # -- pacing --------------------------------------------------------------------------

    cdef int _due(self, long long now_ms) except -1:
        """Pacer: frames are due; send every one whose time has come."""
        cdef long long k
        if not self._streaming or self._write_paused:
            return 0
        if now_ms < self._next_ms:
            self._continue()
        elif self._whole:
            self._send_whole()
        elif self._delay_ms > 0:
            k = (now_ms - self._next_ms) // self._delay_ms + 1
            self._send_frames(k, None)
            self._continue()
        elif self._delay_ms == SAMPLED:
            self._send_sampled(now_ms)
            self._continue()
        else:
            self._send_frames(MAX_BATCH, None)   # unpaced: the TTFT is over
            self._continue()
        return 0

    cdef int _send_sampled(self, long long now_ms) except -1:
        """A latency model's stream: the frame that is due, and every one after it whose
        drawn time has come too."""
        cdef Gaps gaps = self.app.slots.gaps_of(self)
        cdef long long k = 1, due
        cdef double drawn[BATCH_FRAMES]     # the gap before each frame (vLLM's metrics)
        if gaps.at < self._next_ms:         # it was paused: go on from when it resumed
            gaps.at = self._next_ms
        drawn[0] = gaps.gap
        due = gaps.next_due()
        while due <= now_ms and k < BATCH_FRAMES:
            drawn[k] = gaps.gap
            k += 1
            due = gaps.next_due()
        self._send_frames(k, None, drawn)
        self._next_ms = due
        return 0

    cdef int _admitted(self, Slots slots) except -1:
        """A slot came free for this waiting stream: its time to first token starts now."""
        cdef Gaps gaps = slots.gaps_of(self)
        self._next_ms = self.app.pacer.now_ms() + gaps.ttft_ms
        gaps.at = self._next_ms
        self.app.counters.vllm_queued(_clock(self.app) - self._started)
        self._continue()
        return 0

    cdef void _fail(self, object exc):
        """A callback raised: log it once and drop the connection, never leave it stalled."""
        log.error("stream aborted by an internal error", exc_info=exc)
        transport = self.transport
        if self._streaming:
            self._stop_stream()
        self._closing = True
        if transport is not None:
            transport.abort()

    cdef int _continue(self) except -1:
        cdef Pacer pacer = self.app.pacer
        if not self._streaming or self._write_paused or self._closing:
            return 0
        if self._whole or self._delay_ms != 0 or self._next_ms > pacer.now_ms():
            # (an unpaced stream waits out its TTFT here too; one waiting for a slot, not)
            if self._next_ms != WAITING:
                pacer.add(self, self._next_ms)
        elif not self._burst_pending:
            self._burst_pending = True
            self.app.loop.call_soon(self._on_burst, self._stream_number)
        return 0

    def _on_burst(self, unsigned short stream_number):
        """Loop callback of an unpaced stream: write a batch, then yield to other work."""
        # No handle is kept (8 bytes a connection): a burst that is no longer wanted, or
        # was for an earlier stream of this connection, finds out here and does nothing.
        if not self._burst_pending or stream_number != self._stream_number:
            return
        self._burst_pending = False
        if not self._streaming or self._write_paused:
            return
        try:
            self._send_frames(MAX_BATCH, None)
            self._continue()
        except Exception as exc:
            self._fail(exc)

    cdef void _stop_timers(self):
        self.app.pacer.remove(self)
        self._burst_pending = False

    cdef int _send_frames(self, long long k, bytes head, const double *drawn=NULL) except -1:
        """Send frames sent..sent+k-1 (clipped to the limits) in one write after ``head``;
        ``drawn``: a sampled stream's gap before each of them, ms.

        Only what the kernel takes is sent: when it takes part of the write, the frame it
        cut goes to the transport (which pauses the stream until the client reads) and the
        frames after it are composed again on resume. A client that stops reading holds at
        most one frame of this process's memory.
        """
        cdef long long sent = self._sent, total = self._total, fail_after = self._fail_after
        cdef long long n, end, composed
        cdef Py_ssize_t pos = 0, start = 0, new_pos
        cdef Py_ssize_t ends[BATCH_FRAMES]  # where each frame composed in _out ends
        cdef bytes stamp = self.app.pacer.stamp() if self._pieces.stamp else None
        cdef bint ending
        cdef Counters counters = self.app.counters
        cdef long long i
        cdef double seconds
        if k > BATCH_FRAMES:
            k = BATCH_FRAMES
        if 0 <= total < sent + k:
            k = total - sent
        if 0 <= fail_after < sent + k:
            k = fail_after - sent
        if k < 0:
            k = 0
        end = sent + k
        if head is not None:
            if PyBytes_GET_SIZE(head) <= OUT_SIZE:
                pos = start = _put(_out, 0, head)
            else:
                self._send_bytes(head)
        n = sent
        while n < end:
            new_pos = self._put_frame(_out, pos, OUT_SIZE, n, stamp)
            if new_pos >= 0:
                ends[n - sent] = new_pos
                pos = new_pos
                n += 1
            elif n > sent:                  # full: the frames left wait for the next write
                break
            elif pos:                       # the head fills the buffer: it goes alone
                self._send(_out, pos)
                pos = start = 0
            else:                           # one frame larger than the buffer, alone
                self._send_bytes(self._frame_bytes(n, stamp))
                n += 1
                break
        composed = (n - sent) if pos > start else 0
        end = n
        ending = end == total
        if ending:
            self._sent = end                # what the closing events count
            closing = self._closing_bytes()
            if pos + PyBytes_GET_SIZE(closing) > OUT_SIZE:
                if pos:
                    self._send(_out, pos)
                    pos = start = 0
                    composed = 0
                self._send_bytes(closing)
            else:
                pos = _put(_out, pos, closing)
                if composed:                # the closing goes out with the last frame
                    ends[composed - 1] = pos
                else:
                    start = pos
        if pos:
            n = self._send_composed(start, pos, ends, composed)
            if n < composed:                # the kernel is full: the rest waits for resume
                end -= composed - n
                ending = False
        k = end - sent
        if sent == 0 and end > 0:           # the first token: its time to first token
            seconds = _clock(self.app) - self._started
            counters.observe(TTFT_BASE, self._route, seconds)
            counters.vllm_first_token(seconds)
        # vLLM's inter-token latency: the gap each token after the first was due after the
        # one before, as scheduled (not read off the clock): k of one paced stream are one
        # bucket's k; an unpaced stream's gaps are 0
        i = 1 if sent == 0 else 0
        if self._delay_ms >= 0:
            if k > i:
                counters.vllm_gaps(self._delay_ms * 0.001, k - i)
        elif drawn != NULL:
            while i < k:
                counters.vllm_gaps(drawn[i] * 0.001, 1)
                i += 1
        self._sent = end
        if self._delay_ms > 0:              # (a sampled stream's next time is drawn)
            self._next_ms += k * self._delay_ms
        counters.add(TOKENS_SENT, k)
        if end == fail_after and not ending:
            self._cut()
        elif ending:
            self._end_stream()
        return 0

    cdef long long _send_composed(self, Py_ssize_t start, Py_ssize_t pos, Py_ssize_t *ends,
                                  long long count) except -1:
        """Send _out[:pos], a head up to ``start`` then ``count`` frames ending at ``ends``;
        returns how many of the frames went out (to the kernel, or begun and handed to the
        transport). When the kernel takes only part, the frame it cut, or the next one when
        it stopped between two, goes to the transport: high-water 0 pauses the stream until
        that is read. The frames after it are dropped."""
        cdef ssize_t taken
        cdef long long kept = 0
        cdef Py_ssize_t cut = start
        if self._buffered and self.transport is not None and self.transport.get_write_buffer_size() == 0:
            self._buffered = False
        if self._fd < 0 or self._buffered or self.transport is None or self._closing:
            self._send(_out, pos)           # behind buffered bytes (or no fd): all of it, in order
            return count
        taken = c_send(self._fd, _out, pos, MSG_NOSIGNAL)
        if taken == pos:
            self.app.counters.add(BYTES_SENT, pos)
            return count
        if taken < 0:   # EAGAIN, or an error the transport will meet and report itself
            taken = 0
        if taken >= start and count > 0:
            while ends[kept] <= taken:      # taken < pos == ends[count - 1]: stops in time
                kept += 1
            cut = ends[kept]
            kept += 1
        self.app.counters.add(BYTES_SENT, cut)
        self._buffered = True
        self.transport.write(PyBytes_FromStringAndSize(_out + taken, cut - taken))
        return kept

    # -- flow control --------------------------------------------------------------------

    def pause_writing(self):
        """Transport: its buffer passed the high-water mark."""
        cdef bint was = self._write_paused
        self._write_paused = True
        if self._streaming and not was:
            self._stop_timers()             # the stream is paused
        self._update_reading()

    def resume_writing(self):
        """Transport: its buffer drained below the low-water mark."""
        cdef bint was = self._write_paused
        self._write_paused = False
        if self._streaming and was:         # the stream goes on from where it is due
            self._next_ms = max(self._next_ms, self.app.pacer.now_ms())
            self._continue()
        elif not self._streaming:           # requests that waited while the client did not read
            self._answer_pending()
        self._update_reading()

    # -- ending ----------------------------------------------------------------------------

    cdef int _cut(self) except -1:
        """fail_after: end abruptly, the way a crashed upstream does (no terminal event)."""
        transport = self.transport
        self._stop_stream()
        self._closing = True
        self._since = _clock(self.app)
        self._pending = None
        if transport is not None:
            transport.abort()
        return 0

    cdef void _stop_stream(self):
        """Forget the stream: its timers, its pieces, its place in the gauges."""
        cdef double seconds = _clock(self.app) - self._started
        cdef int reason = FINISHED_ABORT    # the client left, a cut, a failure, the shutdown
        if not self._whole:                 # (a whole answer was counted by count_whole)
            if self._sent == self._total:   # it said all it had to: why it ended
                reason = FINISHED_LENGTH if self._pieces is not None and self._pieces.length \
                    else FINISHED_STOP
            self.app.counters.vllm_finished(reason, self._sent, seconds)
        self._stop_timers()
        self._streaming = False
        self._whole = False
        if self._delay_ms == SAMPLED:       # its slot goes to the stream waiting longest
            slots = self.app.slots
            following = slots.release(self)
            if following is not None:
                (<Streamer>following)._admitted(slots)
        self._drop_spec()
        self.app.counters.add(ACTIVE_STREAMS, -1)
        self.app.counters.observe(DURATION_BASE, self._route, seconds)

    cdef int _end_stream(self) except -1:
        """The last frame is written; go on with the next request or close."""
        self._stop_stream()
        if not self._keep_alive:
            self._close_after_answer()
            return 0
        self._since = _clock(self.app)
        self._answer_pending()
        return 0

    cdef int _answer_pending(self) except -1:
        """Connection: answer the requests that queued behind the stream, or while the
        client did not read."""
        return 0

    def end_stream_now(self):
        """Server, when the shutdown grace is over: end the stream cleanly and close."""
        if self._streaming and self.transport is not None:
            if self._whole:                 # what is still owed of a whole answer, if not cut
                if type(self._closing_spec) is not bytes:  # a scheduled stream's clean end
                    self._send_bytes(self._closing_spec.finish())
                elif self._fail_after >= 0:
                    pass
                elif self._probed == PROBED_AHEAD:  # its first byte went out as a probe
                    self._probed = PROBED
                    self._send_bytes(self._closing_spec[1:])
                else:
                    self._send_bytes(self._closing_spec)
            else:
                self._send_bytes(self._closing_bytes())
            self._stop_stream()
        self._close()
