# The process's fresh ids (engine/ids.pyx): reusable by any part of the engine.
cdef enum:
    ID_DIGITS = 24                # 8 hex digits of the process's prefix, 16 of its counter
    ID_LINE = 44                  # ID_HEADER_HEAD + FRESH_ID_KIND + ID_DIGITS + CRLF (checked at import)

cdef Py_ssize_t put_id_digits(char *out) noexcept
cdef bytes with_id_line(bytes data, Py_ssize_t at)
cdef Py_ssize_t id_line_at(bytes data) noexcept
