# Frame composition: what the running stream says, laid out as bytes.
#
# A stream's frames are composed at send time from the spec's pre-encoded pieces into
# one buffer, chunk size lines included, and sent with one call however many frames
# are due. No frame is encoded twice and nothing is allocated per frame.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy

cdef enum:
    OUT_SIZE = 65536

cdef char _out[OUT_SIZE]            # where frames are composed; one process, one thread
cdef bytes _END_CHUNKED = b"0\r\n\r\n"
# Interned stream pieces: streams of one kind share one Pieces object.
cdef dict _pieces = {}
PIECES_MAX = 256


cdef inline Py_ssize_t _put(char *out, Py_ssize_t pos, bytes piece) noexcept:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(piece)
    memcpy(out + pos, PyBytes_AS_STRING(piece), n)
    return pos + n


cdef inline Py_ssize_t _put_hex(char *out, Py_ssize_t pos, Py_ssize_t value) noexcept:
    """``value`` in lower-case hex, then CRLF: a chunk size line."""
    cdef char digits[16]
    cdef int n = 0
    while True:
        digits[n] = b"0123456789abcdef"[value & 15]
        n += 1
        value >>= 4
        if value == 0:
            break
    while n:
        n -= 1
        out[pos] = digits[n]
        pos += 1
    out[pos] = 13
    out[pos + 1] = 10
    return pos + 2


cdef inline Py_ssize_t _put_hex16(char *out, Py_ssize_t pos, unsigned long long value) noexcept:
    """``value`` as exactly 16 lower-case hex digits (a spliced id)."""
    cdef int i = 16
    while i:
        i -= 1
        out[pos + i] = b"0123456789abcdef"[value & 15]
        value >>= 4
    return pos + 16


cdef inline int _decimal_len(long long value) noexcept:
    cdef int n = 1
    while value >= 10:
        value //= 10
        n += 1
    return n


cdef inline Py_ssize_t _put_decimal(char *out, Py_ssize_t pos, long long value, int width) noexcept:
    cdef int i = width
    while i:
        i -= 1
        out[pos + i] = 48 + value % 10
        value //= 10
    return pos + width


cdef inline bytes _chunk(bytes data):
    """``data`` as one chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


cdef class Pieces:
    """A stream kind's constant pieces around each token (see StreamSpec)."""


cdef Pieces _intern_pieces(spec):
    """The spec's constant pieces, shared by every stream that has the same ones."""
    key = (spec.first_prefix, spec.prefix, spec.suffix, spec.last_suffix, spec.seq_base,
           spec.seq_tail, spec.stamp, spec.finish, spec.seq2_base, spec.seq2_tail)
    cdef Pieces pieces = _pieces.get(key)
    if pieces is None:
        pieces = Pieces.__new__(Pieces)
        pieces.first_prefix, pieces.prefix, pieces.suffix = key[0], key[1], key[2]
        pieces.last_suffix, pieces.seq_base, pieces.seq_tail = key[3], key[4], key[5]
        pieces.stamp, pieces.finish = key[6], key[7]
        pieces.seq2_base, pieces.seq2_tail = key[8], key[9]
        pieces.length = key[7] in ("length", "max_tokens", "MAX_TOKENS")   # OpenAI, Anthropic and Bedrock, Gemini and Cohere
        if len(_pieces) < PIECES_MAX:
            _pieces[key] = pieces
    return pieces


cdef class Composer(Link):
    """The running stream's words and pieces, and frame ``n`` laid out from them."""

    cdef void _set_spec(self, spec):
        """Streamer.start_stream: what this stream says (a StreamSpec)."""
        self._tokens = spec.tokens
        self._total = spec.total
        self._sent = 0
        splice = spec.splice
        if isinstance(splice, tuple):     # (head, number, tail): head + 16 hex digits + tail
            self._splice, self._splice_id, self._splice_tail = splice
        else:
            self._splice, self._splice_id, self._splice_tail = splice, 0, None
        self._pieces = _intern_pieces(spec)
        self._closing_spec = spec.closing

    cdef void _drop_spec(self):
        """The stream is over: let go of its pieces."""
        self._tokens = None
        self._splice = self._splice_tail = None
        self._pieces = None
        self._closing_spec = None

    cdef Py_ssize_t _put_frame(self, char *out, Py_ssize_t pos, Py_ssize_t cap, long long n,
                               bytes stamp) except -2:
        """Frame ``n`` into ``out`` at ``pos``: the new end, or -1 when it does not fit."""
        cdef bytes token = <bytes>self._tokens[n % len(self._tokens)]
        cdef Pieces pieces = self._pieces
        cdef bytes prefix = pieces.first_prefix if n == 0 else pieces.prefix
        cdef bytes suffix = pieces.suffix
        cdef bytes tail = self._splice_tail
        cdef int digits = 0, digits2 = 0
        cdef Py_ssize_t size
        if pieces.last_suffix is not None and n == self._total - 1:
            suffix = pieces.last_suffix
        size = (PyBytes_GET_SIZE(self._splice) + PyBytes_GET_SIZE(prefix) + PyBytes_GET_SIZE(token)
                + PyBytes_GET_SIZE(suffix))
        if tail is not None:
            size += 16 + PyBytes_GET_SIZE(tail)
        if stamp is not None:
            size += PyBytes_GET_SIZE(stamp)
        if pieces.seq_base >= 0:
            digits = _decimal_len(pieces.seq_base + n)
            size += digits + PyBytes_GET_SIZE(pieces.seq_tail)
            if pieces.seq2_base >= 0:
                digits2 = _decimal_len(pieces.seq2_base + n)
                size += digits2 + PyBytes_GET_SIZE(pieces.seq2_tail)
        if pos + size + (20 if self._chunked else 0) > cap:
            return -1
        if self._chunked:
            pos = _put_hex(out, pos, size)
        pos = _put(out, pos, self._splice)
        if tail is not None:
            pos = _put_hex16(out, pos, self._splice_id)
            pos = _put(out, pos, tail)
        if stamp is not None:
            pos = _put(out, pos, stamp)
        pos = _put(out, pos, prefix)
        pos = _put(out, pos, token)
        pos = _put(out, pos, suffix)
        if digits:
            pos = _put_decimal(out, pos, pieces.seq_base + n, digits)
            pos = _put(out, pos, pieces.seq_tail)
            if digits2:
                pos = _put_decimal(out, pos, pieces.seq2_base + n, digits2)
                pos = _put(out, pos, pieces.seq2_tail)
        if self._chunked:
            out[pos] = 13
            out[pos + 1] = 10
            pos += 2
        return pos

    cdef bytes _frame_bytes(self, long long n, bytes stamp):
        """Frame ``n`` as its own bytes object (a frame larger than the compose buffer)."""
        cdef Pieces pieces = self._pieces
        cdef Py_ssize_t size = 64 + PyBytes_GET_SIZE(<bytes>self._tokens[n % len(self._tokens)])
        size += PyBytes_GET_SIZE(self._splice) + PyBytes_GET_SIZE(pieces.first_prefix)
        size += PyBytes_GET_SIZE(pieces.prefix) + PyBytes_GET_SIZE(pieces.suffix)
        size += PyBytes_GET_SIZE(pieces.seq_tail) + (PyBytes_GET_SIZE(stamp) if stamp is not None else 0)
        size += PyBytes_GET_SIZE(pieces.seq2_tail)
        if pieces.last_suffix is not None:
            size += PyBytes_GET_SIZE(pieces.last_suffix)
        if self._splice_tail is not None:
            size += 16 + PyBytes_GET_SIZE(self._splice_tail)
        buf = PyBytes_FromStringAndSize(NULL, size)
        cdef Py_ssize_t end = self._put_frame(PyBytes_AS_STRING(buf), 0, size, n, stamp)
        return buf[:end]

    cdef bytes _closing_bytes(self):
        """What follows the last frame: the terminal events, framed, and the chunked terminator."""
        closing = self._closing_spec
        if not isinstance(closing, bytes):
            closing = closing(self._sent, self._pieces.finish)
        if not self._chunked:
            return closing
        if closing:
            return _chunk(closing) + _END_CHUNKED
        return _END_CHUNKED
