# One client connection is one object, built as a chain of classes, one job each (uvloop
# builds its transports the same way), so that a connection costs one allocation:
#
#   Paced        engine/pacer.pyx       something the Pacer wakes at a due time
#   Link         engine/link.pyx        the socket: writes, reading's flow control, closing,
#                                       timeouts and shutdown; the connection's state flags
#   Composer     engine/compose.pyx     the running stream's pieces, laid out as frames
#   Streamer     engine/stream.pyx      the answer going out over time: pacing, pausing, ending
#   Connection   engine/connection.pyx  HTTP/1.1 in: parser callbacks, limits, pipelining, answers
#
# The fields are packed so that a connection stays 240 bytes (256 with the GC header, one
# pymalloc size class): check Connection.__basicsize__ when adding one.

cdef class Link(Paced):
    cdef readonly Shared app
    cdef readonly object transport
    cdef Link _conn_prev, _conn_next  # in Shared's list of open connections
    cdef AccessContext _access        # the access log's view of it; None = logging is off
    cdef list _pending                # requests parsed while an answer is in progress; None = none
    cdef double _since                # idle since; once _closing, since the close or the
                                      # last sweep that saw the peer read some of the rest
    cdef double _started              # when the request being answered began
    cdef Py_ssize_t _unflushed        # once _closing: bytes the transport held at _since
    cdef int _fd                      # the socket, for direct writes; -1 = always use the transport

    # The connection's state. What each flag means:
    #
    #   _closing       no new answer starts, reads are ignored; set once, never cleared
    #                  (close(), a lingering close, a cut, a failure, a client gone after a
    #                  probe, connection_lost)
    #   _lingering     FIN sent after the last answer; reading and discarding what still comes
    #   _eof           nothing more will be parsed: the peer sent FIN, or an upgrade or a parse
    #                  error made what follows not HTTP; answers already due are still sent
    #   _keep_alive    after the answer in progress, read the next request (else close)
    #   _write_paused  the transport's buffer is over its high-water mark (0: it holds a byte);
    #                  while _streaming it also means the stream is paused: no timer armed,
    #                  resume_writing re-arms; requests parsed meanwhile queue in _pending
    #   _read_paused   we paused the transport's reading: while _write_paused, or while the
    #                  queue of pending requests is full
    #   _buffered      the transport may hold unsent bytes: a direct send(2) would jump them
    #   _in_message    the parser is inside a request (head or body): _req is set
    #   _streaming     an answer is going out over time (a StreamSpec, or answer_later's whole
    #                  answer sent late); requests parsed meanwhile queue in _pending
    #   _whole         that answer is answer_later's whole answer, or a scheduled stream
    #                  (start_scheduled: wire chaos; _closing_spec holds its schedule)
    #   _burst_pending a call_soon for an unpaced stream's next batch is scheduled and wanted
    #   _chunked       the stream's frames carry chunked framing (HTTP/1.1)
    #
    # Not stored, because other fields already say it:
    #   in the open-connections gauge     transport is not None (connection_made..connection_lost)
    #   in Shared's list of connections   app._holds(self) (connection_made..connection_lost)
    #   the stream's first token went     _sent > 0 (its time to first token is observed then)
    #
    # Legal combinations, in the order a connection's life goes through them:
    #   idle         none of _closing, _streaming, _in_message; no _pending
    #   parsing      _in_message, alone or on top of answering (a request pipelined behind it)
    #   answering    _streaming, with _whole or _chunked or neither, or both (a scheduled
    #                stream on HTTP/1.1); _burst_pending only when
    #                neither _whole nor _write_paused; _pending only here (and, for a moment,
    #                while the queue is answered after the stream); _eof: close after the queue
    #   waiting      _pending without _streaming: only while _write_paused (the client does
    #                not read; resume_writing answers the queue)
    #   lingering    _closing and _lingering; not _read_paused, no _pending
    #   closing      _closing: transport.close() flushes what is buffered (aborted when the
    #                server shuts down, or after SEND_TIMEOUT without the peer reading any)
    #   gone         _closing, transport None, _fd -1 (connection_lost, the one teardown point)
    # Never: _streaming with _closing (close(), a cut, a failure and connection_lost stop the
    # stream first, so no tick runs for a closed connection); _lingering without _closing;
    # _whole, _burst_pending or _chunked meaningful without _streaming; _in_message
    # meaningful once _closing (reads are ignored then).
    cdef unsigned char _closing, _lingering, _eof, _keep_alive
    cdef unsigned char _write_paused, _read_paused, _buffered, _in_message
    cdef unsigned char _streaming, _whole, _burst_pending, _chunked

    cdef int _send(self, const char *data, Py_ssize_t size) except -1
    cdef int _send_bytes(self, bytes data) except -1
    cdef int _update_reading(self) except -1
    cdef int _log(self, int status, Py_ssize_t size, line) except -1
    cdef int _log_answer(self, int status, Py_ssize_t size) except -1
    cdef void _close(self)
    cdef void _close_after_answer(self)
    cdef int _check_timeouts(self, double now) except -1
    cdef int _check_flush(self, double now) except -1
    # hooks for the classes above
    cdef int _check_head_timeout(self, double now) except -1
    cdef void _stop_stream(self)
