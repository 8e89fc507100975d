cdef class Connection


cdef class Shared:
    cdef public object loop
    cdef public object config
    cdef public object access_log     # an AccessLog, or None when logging is off
    cdef Connection _first            # the open connections: an intrusive doubly linked list
    cdef readonly Py_ssize_t open_count
    cdef public dict memo             # request bytes -> Memo, for repeated static requests
    cdef public Pacer pacer
    cdef public Counters counters
    cdef public bint shutting_down
    cdef public object busy           # the 503 answer beyond max_connections
    cdef public object fast_path      # None, or (connection, data) -> True when it answered data
    cdef public object clock          # None: monotonic time; else a callable (a test's loop.time)
    # limits, copied from the config once
    cdef readonly Py_ssize_t max_url_bytes, max_header_bytes, max_headers, max_body_bytes
    cdef readonly Py_ssize_t max_pipelined, max_connections
    cdef readonly double keepalive_timeout, header_timeout, shutdown_timeout

    cdef void _attach(self, Connection conn)
    cdef void _detach(self, Connection conn)


cdef class Request:
    cdef readonly bytes method
    cdef readonly bytes url
    cdef readonly dict headers        # the X-Mock-* and Content-Type headers, lower-cased; None = none
    cdef readonly bytes body
    cdef readonly bint keep_alive
    cdef readonly bint http10
    cdef readonly double started      # when its first byte was parsed (monotonic seconds)
    cdef readonly object error        # a ready-made answer when it could not be parsed
    cdef readonly int error_status
    cdef list _body_parts
    cdef Py_ssize_t _body_bytes
    cdef Py_ssize_t _header_bytes
    cdef int _header_count
    cdef bint _expect_continue
    cdef Py_ssize_t _head_read        # bytes of reads inside this request's head (-1: just began)


cdef class Memo:
    cdef readonly bytes data
    cdef readonly int route
    cdef readonly int status
    cdef readonly object log_line


cdef class Pieces:
    cdef readonly bytes first_prefix, prefix, suffix, last_suffix, seq_tail
    cdef readonly long long seq_base
    cdef readonly bint stamp
    cdef readonly object finish


cdef class Connection(Paced):
    # server-wide
    cdef readonly Shared app
    # connection
    cdef readonly object transport
    cdef readonly object parser
    cdef list _pending                # requests parsed while an answer is in progress; None = none
    cdef Request _req                 # the request being parsed
    cdef Connection _conn_prev, _conn_next   # in Shared's list of open connections
    cdef object _peer
    cdef double _since                # idle since (or closing since, once closing)
    cdef double _started              # when the request being answered began
    cdef unsigned char _closing, _keep_alive, _write_paused, _read_paused, _eof, _in_message
    cdef unsigned char _buffered      # the transport may hold bytes: direct writes wait
    cdef unsigned char _counted       # in the open-connections gauge
    cdef unsigned char _listed        # in Shared's list (a connection over the limit is not)
    cdef unsigned char _lingering     # FIN sent after the last answer; reading what still comes
    # the stream being sent
    cdef unsigned char _streaming, _paused, _chunked, _ttft_seen, _burst_pending
    cdef unsigned char _whole         # the "stream" is one whole answer sent late (answer_later)
    cdef unsigned int _stream_number  # which stream of this connection a burst callback is for
    cdef int _route
    cdef int _fd                      # the socket, for direct writes; -1 = always use the transport
    cdef int _delay_ms
    cdef long long _sent, _total, _fail_after, _next_ms
    cdef unsigned long long _splice_id
    cdef tuple _tokens
    cdef bytes _splice, _splice_tail  # splice, or splice + 16 hex digits of _splice_id + tail
    cdef Pieces _pieces
    cdef object _closing_spec         # the StreamSpec's closing: bytes or a callable

    cpdef respond(self, bytes data, int route, int status, bint keep_alive, bint memo=*)
    cpdef start_stream(self, bytes head, spec, int route, bint keep_alive, bint chunked,
                       int delay_ms, int ttft_ms, long long fail_after)
    cpdef answer_later(self, bytes data, int route, int status, bint keep_alive, int wait_ms,
                       Py_ssize_t cut_at)
    cdef int _send_whole(self) except -1
    cdef void _answer_memo(self, Memo memo)
    cdef void _queue(self, Request req)
    cdef void _on_upgrade(self)
    cdef void _close_after_answer(self)
    cdef void _on_parse_error(self, exc)
    cdef void _answer_error(self, int status, bytes response)
    cdef void _check_head_budget(self, bint inside, Py_ssize_t body_before, Py_ssize_t size)
    cdef bytes _closing_bytes(self)
    cdef bytes _frame_bytes(self, long long n, bytes stamp)
    cdef int _cut(self) except -1
    cdef void _stop_timers(self)
    cdef int _send(self, const char *data, Py_ssize_t size) except -1
    cdef int _send_bytes(self, bytes data) except -1
    cdef int _dispatch(self, Request request) except -1
    cdef int _send_frames(self, long long k, bytes head) except -1
    cdef Py_ssize_t _put_frame(self, char *out, Py_ssize_t pos, Py_ssize_t cap, long long n,
                               bytes stamp) except -2
    cdef int _continue(self) except -1
    cdef int _end_stream(self) except -1
    cdef void _stop_stream(self)
    cdef int _update_reading(self) except -1
    cdef int _log(self, int status, Py_ssize_t size, line) except -1
    cdef int _check_timeouts(self, double now) except -1
