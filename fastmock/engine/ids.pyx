# Fresh ids, written in C: this process's prefix (8 hex digits, drawn at import and in
# every forked worker) and a counter (16 hex digits), so that ids are unique across the
# workers of a server. fastmock.ids owns the format and draws the prefix; it counts
# with this same counter, so every id a process sends, from Python or from C, is
# distinct. The memo's whole answers get a fresh X-Request-Id line this way: one
# allocation and two copies per answer, no formatting.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memchr

cdef char _id_prefix[8]
cdef uint64_t _id_count = 0
cdef const char *_HEX = b"0123456789abcdef"
# The header's line head and a fresh request id's kind: fastmock.request_ids writes the
# line of a client's own id with these same bytes.
ID_HEADER_HEAD = b"X-Request-Id: "
FRESH_ID_KIND = b"req_"
cdef bytes _id_line_head = ID_HEADER_HEAD + FRESH_ID_KIND    # kept: _ID_LINE_HEAD points in it
cdef const char *_ID_LINE_HEAD = _id_line_head
if len(_id_line_head) + ID_DIGITS + 2 != ID_LINE:
    raise ImportError("engine/ids.pxd's ID_LINE does not fit the X-Request-Id line")


cdef Py_ssize_t put_id_digits(char *out) noexcept:
    """Write the next id's 24 hex digits (prefix, then the counter) at ``out``."""
    global _id_count
    cdef uint64_t n
    cdef int i
    _id_count += 1
    n = _id_count
    memcpy(out, _id_prefix, 8)
    for i in range(23, 7, -1):
        out[i] = _HEX[n & 15]
        n >>= 4
    return ID_DIGITS


cdef Py_ssize_t id_line_at(bytes data) noexcept:
    """Where an answer's X-Request-Id line goes: after its status line; -1 = nowhere."""
    cdef const char *p = PyBytes_AS_STRING(data)
    cdef const char *lf = <const char *>memchr(p, 10, PyBytes_GET_SIZE(data))
    return -1 if lf == NULL else lf - p + 1


cdef bytes with_id_line(bytes data, Py_ssize_t at):
    """``data`` with a fresh ``X-Request-Id: req_...`` line inserted at ``at``."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size + ID_LINE)
    cdef char *o = PyBytes_AS_STRING(out)
    cdef const char *p = PyBytes_AS_STRING(data)
    memcpy(o, p, at)
    memcpy(o + at, _ID_LINE_HEAD, ID_LINE - ID_DIGITS - 2)
    put_id_digits(o + at + ID_LINE - ID_DIGITS - 2)
    o[at + ID_LINE - 2] = 13
    o[at + ID_LINE - 1] = 10
    memcpy(o + at + ID_LINE, p + at, size - at)
    return out


def id_redraw(bytes prefix):
    """fastmock.ids: this process's prefix (8 hex digits); the counter starts again at zero."""
    global _id_count
    if PyBytes_GET_SIZE(prefix) != 8:
        raise ValueError("an id prefix is 8 hex digits")
    memcpy(_id_prefix, PyBytes_AS_STRING(prefix), 8)
    _id_count = 0


def id_next():
    """fastmock.ids: the number of the next id (its last 16 hex digits)."""
    global _id_count
    _id_count += 1
    return _id_count


def id_new(bytes kind):
    """fastmock.ids: a whole id, ``kind`` + 24 hex digits."""
    cdef Py_ssize_t k = PyBytes_GET_SIZE(kind)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, k + ID_DIGITS)
    memcpy(PyBytes_AS_STRING(out), PyBytes_AS_STRING(kind), k)
    put_id_digits(PyBytes_AS_STRING(out) + k)
    return out


def with_fresh_id(bytes data):
    """A whole answer (or head) with a fresh X-Request-Id line after its status line."""
    cdef Py_ssize_t at = id_line_at(data)
    return data if at < 0 else with_id_line(data, at)
