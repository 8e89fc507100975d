# A validating JSON scanner that keeps only what an answer needs.
#
# It reads a request body in one pass without building objects, and it is
# strict: anything it does not fully understand (invalid JSON, a NaN, a key
# written with escapes, very deep nesting, UTF-8 that is not plainly valid,
# a number too long to be sure of) makes it decline, and the request goes to
# the json module and fastmock.bodies as before. So it never accepts what the
# Python path would refuse, and every error answer is still made there.
#
# Functions return 0 (go on) or DECLINE; they advance a Cursor.

cdef enum:
    DECLINE = -1
    MAX_DEPTH = 64          # json.loads goes far deeper; nothing real comes close
    MAX_NUMBER = 64         # longer numbers are left to json (int() has a digit limit)

cdef struct Cursor:
    const unsigned char *p
    const unsigned char *end
    int depth

# What a JSON string says, as far as the answers care.
cdef struct Text:
    const unsigned char *start      # its raw bytes, between the quotes
    Py_ssize_t size
    Py_ssize_t spaces               # U+0020 characters, once decoded (the tokeniser's cuts)
    bint escaped                    # holds a backslash escape
    bint ends_space                 # its last character is a space


cdef inline void _ws(Cursor *c) noexcept nogil:
    cdef const unsigned char *p = c.p
    while p < c.end and (p[0] == 32 or p[0] == 10 or p[0] == 13 or p[0] == 9):
        p += 1
    c.p = p


cdef inline bint _at(Cursor *c, unsigned char ch) noexcept nogil:
    return c.p < c.end and c.p[0] == ch


cdef inline int _hex(unsigned char ch) noexcept nogil:
    if 48 <= ch <= 57:
        return ch - 48
    if 97 <= ch <= 102:
        return ch - 87
    if 65 <= ch <= 70:
        return ch - 55
    return -1


cdef inline int _u_escape(const unsigned char *p, const unsigned char *end) noexcept nogil:
    """The code unit of ``\\uXXXX`` at ``p`` (at the backslash), or -1."""
    cdef int a, b, c, d
    if end - p < 6:
        return -1
    a, b, c, d = _hex(p[2]), _hex(p[3]), _hex(p[4]), _hex(p[5])
    if a < 0 or b < 0 or c < 0 or d < 0:
        return -1
    return (a << 12) | (b << 8) | (c << 4) | d


cdef inline int _utf8_length(const unsigned char *p, const unsigned char *end) noexcept nogil:
    """The length of the UTF-8 sequence at ``p`` (a byte >= 0x80), or -1: overlong forms,
    surrogates and truncation are declined (json would take encoded surrogates; rare)."""
    cdef unsigned char b0 = p[0]
    cdef Py_ssize_t left = end - p
    if 0xC2 <= b0 <= 0xDF:
        if left >= 2 and (p[1] & 0xC0) == 0x80:
            return 2
    elif 0xE0 <= b0 <= 0xEF:
        if left >= 3 and (p[1] & 0xC0) == 0x80 and (p[2] & 0xC0) == 0x80:
            if (b0 == 0xE0 and p[1] < 0xA0) or (b0 == 0xED and p[1] >= 0xA0):
                return -1
            return 3
    elif 0xF0 <= b0 <= 0xF4:
        if (left >= 4 and (p[1] & 0xC0) == 0x80 and (p[2] & 0xC0) == 0x80
                and (p[3] & 0xC0) == 0x80):
            if (b0 == 0xF0 and p[1] < 0x90) or (b0 == 0xF4 and p[1] >= 0x90):
                return -1
            return 4
    return -1


cdef int read_string(Cursor *c, Text *t) noexcept nogil:
    """The string at the cursor (at its opening quote)."""
    cdef const unsigned char *p = c.p + 1
    cdef const unsigned char *end = c.end
    cdef const unsigned char *start = p
    cdef const unsigned char *first_escape = NULL
    cdef unsigned char ch
    cdef Py_ssize_t spaces = 0
    cdef bint ends_space = False
    cdef int n
    while True:
        if p >= end:
            return DECLINE
        ch = p[0]
        if ch == 34:                    # "
            break
        if ch == 32:
            spaces += 1
            ends_space = True
            p += 1
        elif 32 < ch < 128 and ch != 92:
            ends_space = False
            p += 1
        elif ch == 92:                  # \
            if first_escape == NULL:
                first_escape = p
            if p + 1 >= end:
                return DECLINE
            ch = p[1]
            if ch == 117:               # u
                n = _u_escape(p, end)
                if n < 0:
                    return DECLINE
                ends_space = n == 32
                spaces += n == 32
                p += 6
            elif (ch == 34 or ch == 92 or ch == 47 or ch == 98 or ch == 102 or ch == 110
                    or ch == 114 or ch == 116):
                ends_space = False
                p += 2
            else:
                return DECLINE
        elif ch < 32:                   # a raw control character: json refuses it
            return DECLINE
        else:
            n = _utf8_length(p, end)
            if n < 0:
                return DECLINE
            ends_space = False
            p += n
    t.start = start
    t.size = p - start
    t.spaces = spaces
    t.ends_space = ends_space
    t.escaped = first_escape != NULL
    c.p = p + 1
    return 0


cdef inline Py_ssize_t text_tokens(Text *t) noexcept nogil:
    """count_tokens() of one string: a token ends after each space, and at the end."""
    if t.size == 0:
        return 0
    return t.spaces + (0 if t.ends_space else 1)


cdef int read_number(Cursor *c, long long *value, bint *integer) noexcept nogil:
    """A JSON number; ``integer``: it is a plain integer literal that fits ``value``."""
    cdef const unsigned char *p = c.p
    cdef const unsigned char *end = c.end
    cdef const unsigned char *start = p
    cdef const unsigned char *digits
    cdef bint negative = False, plain = True
    cdef long long v = 0
    if p < end and p[0] == 45:          # -
        negative = True
        p += 1
    digits = p
    if p >= end or not (48 <= p[0] <= 57):
        return DECLINE                  # also json's -Infinity
    if p[0] == 48:
        p += 1
    else:
        while p < end and 48 <= p[0] <= 57:
            p += 1
    if p - digits > 18:
        plain = False
    else:
        while digits < p:
            v = v * 10 + (digits[0] - 48)
            digits += 1
    if p < end and p[0] == 46:          # .
        plain = False
        p += 1
        if p >= end or not (48 <= p[0] <= 57):
            return DECLINE
        while p < end and 48 <= p[0] <= 57:
            p += 1
    if p < end and (p[0] == 101 or p[0] == 69):   # e E
        plain = False
        p += 1
        if p < end and (p[0] == 43 or p[0] == 45):
            p += 1
        if p >= end or not (48 <= p[0] <= 57):
            return DECLINE
        while p < end and 48 <= p[0] <= 57:
            p += 1
    if p - start > MAX_NUMBER:
        return DECLINE
    value[0] = -v if negative else v
    integer[0] = plain
    c.p = p
    return 0


cdef inline int _literal(Cursor *c, const char *word, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if c.end - c.p < n:
        return DECLINE
    for i in range(n):
        if c.p[i] != <unsigned char>word[i]:
            return DECLINE
    c.p += n
    return 0


# What a value is, for the readers that accept several kinds.
cdef enum Kind:
    K_STRING, K_NUMBER, K_TRUE, K_FALSE, K_NULL, K_OBJECT, K_ARRAY, K_NONE


cdef inline Kind kind_at(Cursor *c) noexcept nogil:
    if c.p >= c.end:
        return K_NONE
    cdef unsigned char ch = c.p[0]
    if ch == 34:
        return K_STRING
    if ch == 123:
        return K_OBJECT
    if ch == 91:
        return K_ARRAY
    if ch == 116:
        return K_TRUE
    if ch == 102:
        return K_FALSE
    if ch == 110:
        return K_NULL
    if ch == 45 or 48 <= ch <= 57:
        return K_NUMBER
    return K_NONE


cdef int skip_value(Cursor *c) noexcept nogil:
    """Any JSON value, checked and passed over."""
    cdef Text t
    cdef long long v
    cdef bint integer
    cdef Kind kind = kind_at(c)
    cdef int more
    if kind == K_STRING:
        return read_string(c, &t)
    if kind == K_NUMBER:
        return read_number(c, &v, &integer)
    if kind == K_TRUE:
        return _literal(c, "true", 4)
    if kind == K_FALSE:
        return _literal(c, "false", 5)
    if kind == K_NULL:
        return _literal(c, "null", 4)
    if kind == K_OBJECT:
        more = object_begin(c)
        while more == 1:
            if object_key(c, &t) < 0 or skip_value(c) < 0:
                return DECLINE
            more = object_next(c)
        return more
    if kind == K_ARRAY:
        more = array_begin(c)
        while more == 1:
            if skip_value(c) < 0:
                return DECLINE
            more = array_next(c)
        return more
    return DECLINE


# -- objects and arrays: begin, then (key, value, next)* ----------------------------------
# begin and next return 1 when an element follows, 0 at the end (the closing bracket
# consumed), or DECLINE.

cdef int object_begin(Cursor *c) noexcept nogil:
    if not _at(c, 123):
        return DECLINE
    c.depth += 1
    if c.depth > MAX_DEPTH:
        return DECLINE
    c.p += 1
    _ws(c)
    if _at(c, 125):
        c.p += 1
        c.depth -= 1
        return 0
    return 1


cdef int object_key(Cursor *c, Text *key) noexcept nogil:
    """A key and its colon; a key with escapes is declined (it may spell a field's name)."""
    if not _at(c, 34) or read_string(c, key) < 0 or key.escaped:
        return DECLINE
    _ws(c)
    if not _at(c, 58):
        return DECLINE
    c.p += 1
    _ws(c)
    return 0


cdef int object_next(Cursor *c) noexcept nogil:
    _ws(c)
    if _at(c, 44):
        c.p += 1
        _ws(c)
        return 1
    if _at(c, 125):
        c.p += 1
        c.depth -= 1
        return 0
    return DECLINE


cdef int array_begin(Cursor *c) noexcept nogil:
    if not _at(c, 91):
        return DECLINE
    c.depth += 1
    if c.depth > MAX_DEPTH:
        return DECLINE
    c.p += 1
    _ws(c)
    if _at(c, 93):
        c.p += 1
        c.depth -= 1
        return 0
    return 1


cdef int array_next(Cursor *c) noexcept nogil:
    _ws(c)
    if _at(c, 44):
        c.p += 1
        _ws(c)
        return 1
    if _at(c, 93):
        c.p += 1
        c.depth -= 1
        return 0
    return DECLINE


cdef inline bint key_is(Text *key, const char *name, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if key.size != n:
        return False
    for i in range(n):
        if key.start[i] != <unsigned char>name[i]:
            return False
    return True


cdef inline bint text_is(Text *t, const char *word, Py_ssize_t n) noexcept nogil:
    """An unescaped string equal to ``word`` (an escaped one is never compared: declined)."""
    return not t.escaped and key_is(t, word, n)


cdef int document_begin(Cursor *c, const unsigned char *data, Py_ssize_t size) noexcept nogil:
    """The body as one JSON object (json.loads also skips surrounding whitespace)."""
    c.p = data
    c.end = data + size
    c.depth = 0
    _ws(c)
    return object_begin(c)


cdef int document_end(Cursor *c) noexcept nogil:
    _ws(c)
    return 0 if c.p == c.end else DECLINE
