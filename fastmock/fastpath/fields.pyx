# The fields each provider API reads from a request body, as fastmock.bodies and the
# API modules read them, into one Body. Whatever those would refuse (a wrong type, a
# value out of range, a missing field) is declined here, never answered: the Python
# path then makes the error answer it always made. Duplicate keys: the last one
# counts, as in json.loads.

from libc.string cimport memcpy
from libc.stdlib cimport malloc, realloc, free

cdef enum:
    ABSENT = -2147483647 - 1        # an integer field not given (or null)
    MAX_TOKENS = 100000000          # the body limits' upper bound (providers.openai.MAX_TOKENS, ...)
    MAX_INPUTS = 2048               # providers.openai.MAX_INPUTS
    # content part types (a bit set)
    PART_TEXT = 1
    PART_INPUT_TEXT = 2
    PART_OUTPUT_TEXT = 4

# The APIs, in the order of their routes here.
cdef enum Api:
    CHAT, COMPLETIONS, RESPONSES, MESSAGES, OLLAMA_GENERATE, OLLAMA_CHAT, EMBEDDINGS

cdef struct Body:
    Text model
    bint has_model
    int stream                      # 1, 0, or ABSENT
    long long limit                 # the body's token limit (ABSENT: none)
    long long limit2                # chat: max_tokens, read when max_completion_tokens is not
    int include_usage               # stream_options.include_usage: 1, 0, ABSENT
    Py_ssize_t tokens               # prompt tokens of messages / prompt / input
    Py_ssize_t tokens2              # ... of system / instructions
    bint has_main                   # messages / prompt / input was given (and not null)
    bint has_prompt2                # Ollama generate: the prompt field was a string
    bint echo                       # the text an echo would repeat starts with "echo:"
    Py_ssize_t items                # messages / inputs read
    long long dims                  # embeddings: dimensions
    int base64                      # embeddings: 1 base64, 0 float, ABSENT

# The text of one message's content, as count_tokens() and plan() see it once joined:
# its spaces, how it ends, and its first five characters (plan() asks for "echo:"; any
# character beyond ASCII is kept as 255, which never matches).
cdef struct Joined:
    Py_ssize_t spaces
    bint nonempty, ends_space
    int head_size
    unsigned char head[5]


# -- a growable byte buffer ---------------------------------------------------------------

cdef struct Buf:
    char *data
    Py_ssize_t size, capacity
    bint failed                     # out of memory once: what it holds is not to be used

cdef int buf_reserve(Buf *b, Py_ssize_t more) noexcept nogil:
    cdef Py_ssize_t want = b.size + more
    cdef Py_ssize_t capacity
    cdef char *data
    if want <= b.capacity:
        return 0
    capacity = b.capacity * 2 if b.capacity else 4096
    while capacity < want:
        capacity *= 2
    data = <char *>realloc(b.data, capacity)
    if data == NULL:
        b.failed = True
        return DECLINE
    b.data, b.capacity = data, capacity
    return 0

cdef inline int put(Buf *b, const void *data, Py_ssize_t n) noexcept nogil:
    if b.size + n > b.capacity and buf_reserve(b, n) < 0:
        return DECLINE
    memcpy(b.data + b.size, data, n)
    b.size += n
    return 0

cdef inline void buf_start(Buf *b) noexcept nogil:
    b.size = 0
    b.failed = False

cdef void buf_trim(Buf *b) noexcept nogil:
    """Empty it; give back what one large answer made it hold (the process lives in 20 MB)."""
    b.size = 0
    if b.capacity > 65536:
        free(b.data)
        b.data, b.capacity = NULL, 0


# -- the embeddings' keys -----------------------------------------------------------------

# The bytes each embedding is derived from (embeddings._embedding_keys): a string's
# UTF-8, or the decimal token ids joined by commas. Unescaped strings point into the
# body; the rest is written to _key_bytes and found by offset.
cdef struct Key:
    const unsigned char *start      # NULL: at ``offset`` in _key_bytes
    Py_ssize_t offset, size

cdef Key _keys[MAX_INPUTS]
cdef Buf _key_bytes


cdef inline int _put_utf8(Buf *b, unsigned int cp) noexcept nogil:
    cdef unsigned char out[4]
    cdef int n
    if cp < 0x80:
        out[0] = cp
        n = 1
    elif cp < 0x800:
        out[0], out[1] = 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F)
        n = 2
    elif cp < 0x10000:              # lone surrogates too: providers.request.utf8 is "surrogatepass"
        out[0], out[1], out[2] = 0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)
        n = 3
    else:
        out[0], out[1] = 0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F)
        out[2], out[3] = 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)
        n = 4
    return put(b, out, n)


cdef int decode_text(Text *t, Buf *out) noexcept nogil:
    """The string's characters as UTF-8 (read_string has checked its escapes)."""
    cdef const unsigned char *p = t.start
    cdef const unsigned char *end = p + t.size
    cdef const unsigned char *run = p
    cdef unsigned char ch, plain
    cdef int cp, low
    while p < end:
        if p[0] != 92:
            p += 1
            continue
        if put(out, run, p - run) < 0:
            return DECLINE
        ch = p[1]
        if ch == 117:
            cp = _u_escape(p, end)
            p += 6
            if 0xD800 <= cp <= 0xDBFF and end - p >= 6 and p[0] == 92 and p[1] == 117:
                low = _u_escape(p, end)
                if 0xDC00 <= low <= 0xDFFF:     # a pair; else the high one stays alone
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                    p += 6
            if _put_utf8(out, cp) < 0:
                return DECLINE
        else:
            plain = (8 if ch == 98 else 12 if ch == 102 else 10 if ch == 110 else
                     13 if ch == 114 else 9 if ch == 116 else ch)
            if put(out, &plain, 1) < 0:
                return DECLINE
            p += 2
        run = p
    return put(out, run, p - run)


cdef int _key_text(Py_ssize_t i, Text *t) noexcept nogil:
    if not t.escaped:
        _keys[i].start, _keys[i].size = t.start, t.size
        return 0
    _keys[i].start, _keys[i].offset = NULL, _key_bytes.size
    if decode_text(t, &_key_bytes) < 0:
        return DECLINE
    _keys[i].size = _key_bytes.size - _keys[i].offset
    return 0


cdef int _key_number(const unsigned char *start, const unsigned char *end) noexcept nogil:
    """A token id as b"%d" writes it: the literal itself, but "-0" is "0" (declined)."""
    if end - start == 2 and start[0] == 45 and start[1] == 48:
        return DECLINE
    return put(&_key_bytes, start, end - start)


# -- typed fields ---------------------------------------------------------------------------

cdef int read_model(Cursor *c, Body *b) noexcept nogil:
    """providers.request.model(): a non-empty string, echoed as it was written (when json_string would
    write it the same: no escapes, no U+2028/U+2029)."""
    cdef Py_ssize_t i
    if kind_at(c) != K_STRING or read_string(c, &b.model) < 0:
        return DECLINE
    if b.model.escaped or b.model.size == 0:
        return DECLINE
    for i in range(b.model.size - 2):
        if (b.model.start[i] == 0xE2 and b.model.start[i + 1] == 0x80
                and (b.model.start[i + 2] == 0xA8 or b.model.start[i + 2] == 0xA9)):
            return DECLINE
    b.has_model = True
    return 0


cdef int read_bool(Cursor *c, int *out) noexcept nogil:
    """providers.request.boolean(): true, false, or null (the default)."""
    cdef Kind kind = kind_at(c)
    if kind == K_TRUE:
        out[0] = 1
        return _literal(c, "true", 4)
    if kind == K_FALSE:
        out[0] = 0
        return _literal(c, "false", 5)
    if kind == K_NULL:
        out[0] = ABSENT
        return _literal(c, "null", 4)
    return DECLINE


cdef int read_limit(Cursor *c, long long low, long long high, long long *out) noexcept nogil:
    """providers.request.integer(): a whole number in [low, high], or null. (json gives 5.0 as a float
    that bodies takes for 5; such numbers are declined, as rare as they are.)"""
    cdef Kind kind = kind_at(c)
    cdef long long value
    cdef bint integer
    if kind == K_NULL:
        out[0] = ABSENT
        return _literal(c, "null", 4)
    if kind != K_NUMBER or read_number(c, &value, &integer) < 0:
        return DECLINE
    if not integer or value < low or value > high:
        return DECLINE
    out[0] = value
    return 0


cdef int read_string_field(Cursor *c, Text *t, bint *given) noexcept nogil:
    """providers.request.string(): a string, or null."""
    cdef Kind kind = kind_at(c)
    if kind == K_NULL:
        given[0] = False
        return _literal(c, "null", 4)
    if kind != K_STRING or read_string(c, t) < 0:
        return DECLINE
    given[0] = True
    return 0


# -- message texts --------------------------------------------------------------------------

cdef inline void joined_start(Joined *j) noexcept nogil:
    j.spaces, j.nonempty, j.ends_space, j.head_size = 0, False, False, 0


cdef void _join_head(Joined *j, Text *t) noexcept nogil:
    """The string's first characters, decoded, after those the text already has."""
    cdef const unsigned char *p = t.start
    cdef const unsigned char *end = p + t.size
    cdef unsigned char ch
    cdef int cp
    while j.head_size < 5 and p < end:
        ch = p[0]
        if ch == 92:
            if p[1] == 117:
                cp = _u_escape(p, end)
                ch = cp if cp < 128 else 255
                p += 6
            else:
                ch = p[1]
                ch = (8 if ch == 98 else 12 if ch == 102 else 10 if ch == 110 else
                      13 if ch == 114 else 9 if ch == 116 else ch)
                p += 2
        elif ch >= 128:
            p += _utf8_length(p, end)
            ch = 255
        else:
            p += 1
        j.head[j.head_size] = ch
        j.head_size += 1


cdef inline void _join(Joined *j, Text *t) noexcept nogil:
    """Add one string to a message's text (content_text joins the parts)."""
    j.spaces += t.spaces
    if t.size:
        if j.head_size < 5:
            _join_head(j, t)
        j.nonempty = True
        j.ends_space = t.ends_space


cdef inline Py_ssize_t joined_tokens(Joined *j) noexcept nogil:
    return j.spaces + (1 if j.nonempty and not j.ends_space else 0)


cdef inline bint joined_echo(Joined *j) noexcept nogil:
    """plan(): the text starts with "echo:" (the echo is left to Python)."""
    return (j.head_size == 5 and j.head[0] == 101 and j.head[1] == 99 and j.head[2] == 104
            and j.head[3] == 111 and j.head[4] == 58)


cdef inline bint text_echo(Text *t) noexcept nogil:
    cdef Joined j
    joined_start(&j)
    _join(&j, t)
    return joined_echo(&j)


cdef int read_content(Cursor *c, Joined *j, int part_types) noexcept nogil:
    """providers.request.content_text(): null, a string, or an array of parts; parts of the given
    types must hold a string "text", the others add nothing."""
    cdef Kind kind = kind_at(c)
    cdef Text t, key, kind_text
    cdef bint typed, has_text
    cdef int more, fields
    joined_start(j)
    if kind == K_NULL:
        return _literal(c, "null", 4)
    if kind == K_STRING:
        if read_string(c, &t) < 0:
            return DECLINE
        _join(j, &t)
        return 0
    if kind != K_ARRAY:
        return DECLINE
    more = array_begin(c)
    while more == 1:
        if kind_at(c) != K_OBJECT:
            return DECLINE
        typed = has_text = False
        fields = object_begin(c)
        while fields == 1:
            if object_key(c, &key) < 0:
                return DECLINE
            if key_is(&key, "type", 4):
                if kind_at(c) == K_STRING:
                    if read_string(c, &kind_text) < 0 or kind_text.escaped:
                        return DECLINE
                    typed = (((part_types & PART_TEXT) and key_is(&kind_text, "text", 4))
                             or ((part_types & PART_INPUT_TEXT)
                                 and key_is(&kind_text, "input_text", 10))
                             or ((part_types & PART_OUTPUT_TEXT)
                                 and key_is(&kind_text, "output_text", 11)))
                else:
                    if skip_value(c) < 0:
                        return DECLINE
                    typed = False
            elif key_is(&key, "text", 4):
                has_text = kind_at(c) == K_STRING
                if (read_string(c, &t) if has_text else skip_value(c)) < 0:
                    return DECLINE
            elif skip_value(c) < 0:
                return DECLINE
            fields = object_next(c)
        if fields < 0:
            return DECLINE
        if typed:
            if not has_text:
                return DECLINE
            _join(j, &t)
        more = array_next(c)
    return more


cdef int read_message_list(Cursor *c, Body *b, bint user_or_assistant) noexcept nogil:
    """providers.request.messages(): [{"role": str, "content": ...}, ...]; the prompt tokens of every
    message, and whether the last user message starts with "echo:"."""
    cdef Text key, role
    cdef Joined j
    cdef bint has_role, is_user
    cdef int more, fields
    b.tokens, b.items, b.echo = 0, 0, False
    if kind_at(c) == K_NULL:
        b.has_main = False
        return _literal(c, "null", 4)
    more = array_begin(c)
    while more == 1:
        if kind_at(c) != K_OBJECT:
            return DECLINE
        has_role = is_user = False
        joined_start(&j)
        fields = object_begin(c)
        while fields == 1:
            if object_key(c, &key) < 0:
                return DECLINE
            if key_is(&key, "role", 4):
                if kind_at(c) != K_STRING or read_string(c, &role) < 0 or role.escaped:
                    return DECLINE
                has_role = True
                is_user = key_is(&role, "user", 4)
                if user_or_assistant and not (is_user or key_is(&role, "assistant", 9)):
                    return DECLINE
            elif key_is(&key, "content", 7):
                if read_content(c, &j, PART_TEXT) < 0:
                    return DECLINE
            elif skip_value(c) < 0:
                return DECLINE
            fields = object_next(c)
        if fields < 0 or not has_role:
            return DECLINE
        b.tokens += joined_tokens(&j)
        b.items += 1
        if is_user:
            b.echo = joined_echo(&j)
        more = array_next(c)
    if more < 0:
        return DECLINE
    b.has_main = True
    return 0


cdef int read_response_input(Cursor *c, Body *b) noexcept nogil:
    """providers.openai._response_input(): a string (one user message) or an array of items;
    items without a role add no text."""
    cdef Kind kind = kind_at(c)
    cdef Text key, role, t
    cdef Joined j
    cdef bint has_role, is_user
    cdef int more, fields
    b.tokens, b.items, b.echo = 0, 0, False
    if kind == K_NULL:
        return _literal(c, "null", 4)
    if kind == K_STRING:
        if read_string(c, &t) < 0:
            return DECLINE
        b.tokens, b.items, b.echo = text_tokens(&t), 1, text_echo(&t)
        return 0
    more = array_begin(c)
    while more == 1:
        if kind_at(c) != K_OBJECT:
            return DECLINE
        has_role = is_user = False
        joined_start(&j)
        fields = object_begin(c)
        while fields == 1:
            if object_key(c, &key) < 0:
                return DECLINE
            if key_is(&key, "role", 4):
                kind = kind_at(c)
                if kind == K_NULL:
                    has_role = False
                    if _literal(c, "null", 4) < 0:
                        return DECLINE
                elif kind != K_STRING or read_string(c, &role) < 0 or role.escaped:
                    return DECLINE
                else:
                    has_role = True
                    is_user = key_is(&role, "user", 4)
            elif key_is(&key, "content", 7):
                if read_content(c, &j, PART_TEXT | PART_INPUT_TEXT | PART_OUTPUT_TEXT) < 0:
                    return DECLINE
            elif skip_value(c) < 0:
                return DECLINE
            fields = object_next(c)
        if fields < 0:
            return DECLINE
        if has_role:
            b.tokens += joined_tokens(&j)
            b.items += 1
            if is_user:
                b.echo = joined_echo(&j)
        more = array_next(c)
    return more


cdef int read_inputs(Cursor *c, Body *b, bint keys) noexcept nogil:
    """providers.openai.inputs(): a string, strings, token ids, or arrays of token ids; their
    token count, whether the last string starts with "echo:", and (``keys``) the bytes
    each embedding is derived from (in _keys)."""
    cdef Kind kind = kind_at(c)
    cdef Text t
    cdef long long value
    cdef bint integer
    cdef const unsigned char *start
    cdef Py_ssize_t ints = 0, others = 0, inner
    cdef int more, more2
    b.tokens, b.items, b.echo = 0, 0, False
    if keys:
        buf_start(&_key_bytes)
    if kind == K_STRING:
        if read_string(c, &t) < 0 or (keys and _key_text(0, &t) < 0):
            return DECLINE
        b.tokens, b.items, b.echo, b.has_main = text_tokens(&t), 1, text_echo(&t), True
        return 0
    if kind != K_ARRAY:
        return DECLINE                  # null: a missing required field
    more = array_begin(c)
    while more == 1:
        if ints + others >= MAX_INPUTS:
            return DECLINE
        kind = kind_at(c)
        if kind == K_NUMBER:
            start = c.p
            if read_number(c, &value, &integer) < 0 or not integer:
                return DECLINE
            if keys and ((ints and put(&_key_bytes, ",", 1) < 0) or _key_number(start, c.p) < 0):
                return DECLINE
            ints += 1
        elif kind == K_STRING:
            if read_string(c, &t) < 0 or (keys and _key_text(others, &t) < 0):
                return DECLINE
            b.tokens += text_tokens(&t)
            b.echo = text_echo(&t)
            others += 1
        elif kind == K_ARRAY:
            if keys:
                _keys[others].start, _keys[others].offset = NULL, _key_bytes.size
            inner = 0
            more2 = array_begin(c)
            while more2 == 1:
                start = c.p
                if (kind_at(c) != K_NUMBER or read_number(c, &value, &integer) < 0
                        or not integer):
                    return DECLINE
                if keys and ((inner and put(&_key_bytes, ",", 1) < 0)
                             or _key_number(start, c.p) < 0):
                    return DECLINE
                inner += 1
                more2 = array_next(c)
            if more2 < 0:
                return DECLINE
            if keys:
                _keys[others].size = _key_bytes.size - _keys[others].offset
            b.tokens += inner
            others += 1
        else:
            return DECLINE
        if ints and others:
            return DECLINE              # ids mixed with texts: inputs() refuses it
        more = array_next(c)
    if more < 0:
        return DECLINE
    if ints:                            # one prompt as token ids
        b.tokens, b.echo, b.items = ints, False, 1
        if keys:
            _keys[0].start, _keys[0].offset, _keys[0].size = NULL, 0, _key_bytes.size
    else:
        b.items = others
    b.has_main = True
    return 0


cdef int read_stream_options(Cursor *c, Body *b) noexcept nogil:
    """stream_options: null, or an object whose include_usage is a boolean (or null), and
    continuous_usage_stats too (only false or null are answered here)."""
    cdef Text key
    cdef int fields, flag
    b.include_usage = ABSENT
    if kind_at(c) == K_NULL:
        return _literal(c, "null", 4)
    fields = object_begin(c)
    while fields == 1:
        if object_key(c, &key) < 0:
            return DECLINE
        if key_is(&key, "include_usage", 13):
            if read_bool(c, &b.include_usage) < 0:
                return DECLINE
        elif key_is(&key, "continuous_usage_stats", 22):
            if read_bool(c, &flag) < 0 or flag == 1:
                return DECLINE      # the usage in every chunk: made in Python
        elif skip_value(c) < 0:
            return DECLINE
        fields = object_next(c)
    return fields


cdef int read_eos_option(Cursor *c, Text *key) noexcept nogil:
    """vLLM's ignore_eos and min_tokens (providers.openai._eos_options): only the values that
    change nothing (false, 0, null) are answered here; the rest lengthen the answer, in Python."""
    cdef int flag
    cdef long long value
    if key_is(key, "ignore_eos", 10):
        return DECLINE if read_bool(c, &flag) < 0 or flag == 1 else 0
    return read_limit(c, 0, 0, &value)


cdef int read_ollama_options(Cursor *c, Body *b) noexcept nogil:
    """options.num_predict: -2 to MAX_TOKENS; only a positive value caps the answer."""
    cdef Text key
    cdef int fields
    b.limit = ABSENT
    if kind_at(c) == K_NULL:
        return _literal(c, "null", 4)
    fields = object_begin(c)
    while fields == 1:
        if object_key(c, &key) < 0:
            return DECLINE
        if key_is(&key, "num_predict", 11):
            if read_limit(c, -2, MAX_TOKENS, &b.limit) < 0:
                return DECLINE
        elif skip_value(c) < 0:
            return DECLINE
        fields = object_next(c)
    if fields == 0 and b.limit != ABSENT and b.limit <= 0:
        b.limit = ABSENT
    return fields


# -- one API's body ---------------------------------------------------------------------------

cdef int _field(Cursor *c, Body *b, Api api, Text *key) noexcept nogil:
    """One top-level field of ``api``'s body; the ones it does not read are skipped."""
    cdef Text t
    cdef bint given
    cdef Joined j
    # structured outputs and forced tool calls (providers.structured): left to Python
    if (key_is(key, "response_format", 15) or key_is(key, "tool_choice", 11)
            or key_is(key, "text", 4) or key_is(key, "format", 6)):
        return DECLINE
    if key_is(key, "model", 5):
        return read_model(c, b)
    if key_is(key, "stream", 6):
        return read_bool(c, &b.stream)
    if api == CHAT:
        if key_is(key, "messages", 8):
            return read_message_list(c, b, False)
        if key_is(key, "max_completion_tokens", 21):
            return read_limit(c, 1, MAX_TOKENS, &b.limit)
        if key_is(key, "max_tokens", 10):
            return read_limit(c, 1, MAX_TOKENS, &b.limit2)
        if key_is(key, "stream_options", 14):
            return read_stream_options(c, b)
        if key_is(key, "ignore_eos", 10) or key_is(key, "min_tokens", 10):
            return read_eos_option(c, key)
    elif api == COMPLETIONS:
        if key_is(key, "prompt", 6):
            return read_inputs(c, b, False)
        if key_is(key, "max_tokens", 10):
            return read_limit(c, 1, MAX_TOKENS, &b.limit)
        if key_is(key, "stream_options", 14):
            return read_stream_options(c, b)
        if key_is(key, "ignore_eos", 10) or key_is(key, "min_tokens", 10):
            return read_eos_option(c, key)
    elif api == RESPONSES:
        if key_is(key, "input", 5):
            return read_response_input(c, b)
        if key_is(key, "instructions", 12):
            if read_string_field(c, &t, &given) < 0:
                return DECLINE
            b.tokens2 = text_tokens(&t) if given else 0
            return 0
        if key_is(key, "max_output_tokens", 17):
            return read_limit(c, 1, MAX_TOKENS, &b.limit)
    elif api == MESSAGES:
        if key_is(key, "messages", 8):
            return read_message_list(c, b, True)
        if key_is(key, "max_tokens", 10):
            return read_limit(c, 1, MAX_TOKENS, &b.limit)
        if key_is(key, "system", 6):
            if read_content(c, &j, PART_TEXT) < 0:
                return DECLINE
            b.tokens2 = joined_tokens(&j)
            return 0
    elif api == OLLAMA_GENERATE:
        if key_is(key, "prompt", 6):
            if read_string_field(c, &t, &given) < 0:
                return DECLINE
            b.has_main = given
            b.tokens = text_tokens(&t) if given else 0
            b.echo = given and text_echo(&t)
            return 0
        if key_is(key, "system", 6):
            if read_string_field(c, &t, &given) < 0:
                return DECLINE
            b.tokens2 = text_tokens(&t) if given else 0
            return 0
        if key_is(key, "options", 7):
            return read_ollama_options(c, b)
    elif api == OLLAMA_CHAT:
        if key_is(key, "messages", 8):
            return read_message_list(c, b, False)
        if key_is(key, "options", 7):
            return read_ollama_options(c, b)
    elif api == EMBEDDINGS:
        if key_is(key, "input", 5):
            return read_inputs(c, b, True)
        if key_is(key, "dimensions", 10):
            return read_limit(c, 1, 3072, &b.dims)
        if key_is(key, "encoding_format", 15):
            if read_string_field(c, &t, &given) < 0:
                return DECLINE
            if not given:
                b.base64 = ABSENT
            elif text_is(&t, "float", 5):
                b.base64 = 0
            elif text_is(&t, "base64", 6):
                b.base64 = 1
            else:
                return DECLINE
            return 0
    return skip_value(c)


cdef int read_body(const unsigned char *data, Py_ssize_t size, Api api, Body *b) noexcept nogil:
    """Everything ``api`` needs from a request body, or DECLINE."""
    cdef Cursor c
    cdef Text key
    cdef int more
    b.has_model = b.has_main = b.has_prompt2 = b.echo = False
    b.stream = b.include_usage = b.base64 = ABSENT
    b.limit = b.limit2 = b.dims = ABSENT
    b.tokens = b.tokens2 = b.items = 0
    more = document_begin(&c, data, size)
    while more == 1:
        if object_key(&c, &key) < 0 or _field(&c, b, api, &key) < 0:
            return DECLINE
        more = object_next(&c)
    if more < 0 or document_end(&c) < 0 or not b.has_model:
        return DECLINE
    if api == CHAT:
        if not b.has_main or b.items == 0:
            return DECLINE          # messages are required, and not empty
        if b.limit == ABSENT:
            b.limit = b.limit2
    elif api == MESSAGES:
        if not b.has_main or b.items == 0 or b.limit == ABSENT:
            return DECLINE
    elif api == OLLAMA_GENERATE:
        if not b.has_main:
            return DECLINE          # no prompt: the "load the model" request, left to Python
    elif api == OLLAMA_CHAT:
        if not b.has_main or b.items == 0:
            return DECLINE          # no messages: the same
    elif api == COMPLETIONS:
        if not b.has_main or b.items > 1:
            return DECLINE          # the prompt is required; a batch gets a choice per prompt
    elif api == EMBEDDINGS:
        if not b.has_main or b.items == 0:
            return DECLINE          # so is the input (an empty list: no vector, left to Python)
    return 0
