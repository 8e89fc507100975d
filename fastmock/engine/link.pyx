# Link: one accepted socket. Writing to it, pausing its reading, closing it (lingering,
# as nginx does), its timeouts, and shutdown. The connection's state flags live here; the
# legal combinations are listed next to them in link.pxd.
#
# Writes go straight to the socket with send(2) while the transport's buffer is empty,
# and through ``transport.write`` otherwise, so order is kept and a slow reader still
# pauses us. uvloop queues every write until the end of the loop iteration; skipping
# that queue halves the user CPU of a small answer. The fd is valid for as long as
# ``transport`` is set: uvloop closes it only after ``connection_lost``, where the
# connection drops the transport.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE

cdef extern from "<sys/socket.h>" nogil:
    ssize_t c_send "send" (int fd, const void *buf, size_t n, int flags)
    int c_setsockopt "setsockopt" (int fd, int level, int name, const void *value, unsigned int size)
    int c_getsockopt "getsockopt" (int fd, int level, int name, void *value, unsigned int *size)
    enum: MSG_NOSIGNAL, SOL_SOCKET, SO_SNDBUF, SO_ERROR

# How long a connection closed after its answer keeps reading (and discarding) what the
# client still sends, before it is closed anyway.
LINGER_SECONDS = 2.0
# How long a closed connection may wait for its answer to flush while the peer reads none
# of it, before it is aborted (nginx's send_timeout: 60 s between two successful writes).
# A slow reader is never cut; a dead one does not hold the socket forever. When the server
# shuts down, --shutdown-timeout bounds the wait instead.
SEND_TIMEOUT = 60.0


cdef class Link(Paced):

    # -- writing ---------------------------------------------------------------------

    cdef int _send(self, const char *data, Py_ssize_t size) except -1:
        """Put ``size`` bytes on the wire after everything written before."""
        cdef ssize_t sent = 0
        # The transport is compared, not held, on the direct path: with a thousand streams
        # open, touching the transport object costs a cache miss per frame.
        if self.transport is None or self._closing or size == 0:   # after a cut or a close
            return 0
        self.app.counters.add(BYTES_SENT, size)
        if self._buffered and self.transport.get_write_buffer_size() == 0:
            self._buffered = False
        if self._fd >= 0 and not self._buffered:
            sent = c_send(self._fd, data, size, MSG_NOSIGNAL)
            if sent == size:
                return 0
            if sent < 0:    # EAGAIN, or an error the transport will meet and report itself
                sent = 0
        self._buffered = True
        self.transport.write(PyBytes_FromStringAndSize(data + sent, size - sent))
        return 0

    cdef int _send_bytes(self, bytes data) except -1:
        return self._send(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    cdef int _log(self, int status, Py_ssize_t size, line) except -1:
        """One access-log line (only called when the access log is on)."""
        self.app.access_log.write(self._access.peer if self._access is not None else None,
                                  line, status, size)
        return 0

    cdef int _log_answer(self, int status, Py_ssize_t size) except -1:
        """The access-log line of the request being answered (Connection._dispatch set it)."""
        return self._log(status, size, self._access.line if self._access is not None else "")

    # -- reading's flow control --------------------------------------------------------

    cdef int _update_reading(self) except -1:
        """Read only while the client reads our answers and the pipeline has room."""
        transport = self.transport
        if transport is None or self._closing:
            return 0
        pending = self._pending
        pause = self._write_paused or (pending is not None and (
            len(pending) >= self.app.max_pipelined or _bodies(pending) > self.app.max_body_bytes))
        if pause != self._read_paused:
            self._read_paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()
        return 0

    # -- closing -------------------------------------------------------------------------

    def close(self):
        """Close after what is buffered has been sent (a lingering close ends here too)."""
        self._close()

    cdef void _close(self):
        if self._closing and not self._lingering:
            return
        if self._streaming:     # it ends here: no later tick may count a frame _send drops
            self._stop_stream()
        self._closing = True
        self._lingering = False
        self._since = _clock(self.app)
        self._pending = None
        if self.transport is not None:
            self._unflushed = self.transport.get_write_buffer_size()
            self.transport.close()

    cdef void _close_after_answer(self):
        """The answer said Connection: close: send FIN after it, but keep reading for a while.

        Closing a socket that still has unread bytes makes the kernel send RST,
        and a client that already sent its next request (pipelined, or racing
        our close) would then lose the answer it had not read yet. So shut
        down our side, discard what still arrives, and close when the client
        does, or after LINGER_SECONDS (lingering close, as nginx does).
        """
        transport = self.transport
        if self._closing:
            return
        if transport is None or self._eof or not transport.can_write_eof():
            self._close()
            return
        self._closing = True
        self._lingering = True
        self._since = _clock(self.app)
        self._pending = None
        transport.write_eof()
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    # -- timeouts and shutdown ---------------------------------------------------------------

    cdef int _check_timeouts(self, double now) except -1:
        """Server sweep, once a second: cut stalled heads and idle keep-alive connections."""
        cdef Shared app = self.app
        if self._closing:
            if self._lingering:
                if now - self._since > LINGER_SECONDS:
                    self._close()
            elif self.transport is not None:
                self._check_flush(now)
        elif self._streaming or self._pending is not None:
            return 0                     # a response is in progress: streams are never cut
        elif self._in_message:
            self._check_head_timeout(now)
        elif now - self._since > app.keepalive_timeout:
            self._close()
        return 0

    cdef int _check_flush(self, double now) except -1:
        """close() waits for the transport to flush: abort it when the server shuts down
        (after --shutdown-timeout), or when the peer has read nothing for SEND_TIMEOUT."""
        cdef Py_ssize_t left = self.transport.get_write_buffer_size()
        if self.app.shutting_down:
            if now - self._since > self.app.shutdown_timeout:
                self.transport.abort()
        elif left < self._unflushed:    # the peer reads: the timeout counts from now
            self._unflushed = left
            self._since = now
        elif now - self._since > SEND_TIMEOUT:
            self.transport.abort()       # a peer that never reads what close() waits to flush
        return 0

    cdef int _check_head_timeout(self, double now) except -1:
        """Connection: a request's head or body is late (answer 408 once it is too late)."""
        return 0

    cdef void _stop_stream(self):
        """Streamer: forget the stream in progress."""
        pass

    def shutdown(self):
        """Server: stop after the response in progress, if any."""
        if self._lingering or (not self._streaming and self._pending is None):
            self._close()
        else:
            self._keep_alive = False
            self._pending = None

    # -- for tests and /metrics ----------------------------------------------------------

    def check_timeouts(self, double now):
        self._check_timeouts(now)

    @property
    def streaming(self):
        return bool(self._streaming)

    @property
    def pending(self):
        return len(self._pending) if self._pending is not None else 0

    @property
    def closing(self):
        return bool(self._closing)

    @property
    def state(self):
        """The state flags that are set, by name (see link.pxd for the legal combinations)."""
        flags = (("closing", self._closing), ("lingering", self._lingering), ("eof", self._eof),
                 ("keep_alive", self._keep_alive), ("write_paused", self._write_paused),
                 ("read_paused", self._read_paused), ("buffered", self._buffered),
                 ("in_message", self._in_message), ("streaming", self._streaming),
                 ("whole", self._whole), ("burst_pending", self._burst_pending),
                 ("chunked", self._chunked))
        return frozenset(name for name, value in flags if value)
