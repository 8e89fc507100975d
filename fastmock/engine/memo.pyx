# RequestMemo: whole answers to repeated requests, by the request's bytes.
#
# A read that is byte for byte one request answered before with a static document
# (wrk, health checkers, load generators) is answered from here without parsing;
# nothing about such an answer depends on anything but those bytes. A read becomes a
# key when it held exactly one whole request, and its answer was offered (respond(...,
# memo=True)) and kept the connection open.
#
# The table holds MEMO_SIZE keys. When it is full a new key takes the place of one that
# was not answered since the clock hand last passed it (the CLOCK, or second chance,
# policy of page caches): a key answered again and again stays, one-off keys come and
# go. No list is reordered on a hit: a hit only sets a flag.
#
# An answer that carries a fresh X-Request-Id is kept without it, with the place its line
# goes (Memo.id_at), and a copy with the line whose digits each hit rewrites in place
# (ids.pyx): no allocation and no copy per answer.

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE

# Repeated requests remembered per process, and the longest one remembered.
MEMO_SIZE = 64
MEMO_KEY_MAX = 2048


cdef class Memo:
    """A repeated request's whole answer."""

    def __init__(self, bytes data, int route, int status, log_line, Py_ssize_t id_at=-1):
        """``id_at``: each answer gets a fresh X-Request-Id line there (-1: ``data`` as
        it is), so the memo keeps answering requests that sent no id of their own."""
        self.data = data
        self.route = route
        self.status = status
        self.log_line = log_line
        self.id_at = id_at
        if id_at >= 0:
            self._identified = bytearray(with_id_line(data, id_at))

    def __len__(self):
        """The size of each answer it sends."""
        return len(self.data) if self._identified is None else len(self._identified)

    cdef int send_to(self, Link conn) except -1:
        """Connection._answer_memo: write the answer, with its next fresh id when it has one.
        The id's digits are rewritten in place: Link._send copies what it does not send at
        once, so the buffer is free again when it returns."""
        cdef char *p
        if self._identified is None:
            return conn._send_bytes(self.data)
        p = PyByteArray_AS_STRING(self._identified)
        put_id_digits(p + self.id_at + ID_LINE - ID_DIGITS - 2)
        return conn._send(p, PyByteArray_GET_SIZE(self._identified))


cdef class RequestMemo:
    """Repeated requests and their whole answers (Shared.memo)."""

    def __init__(self, Py_ssize_t size=MEMO_SIZE, Py_ssize_t key_max=MEMO_KEY_MAX):
        self._table = {}
        self._ring = []
        self._hand = 0
        self.size = size
        self.key_max = key_max
        self._reader = None
        self._answer = None
        self._messages = 0

    def __len__(self):
        return len(self._table)

    def __contains__(self, bytes data):
        return data in self._table

    def clear(self):
        """fastmock.admission: forget every answer (a remembered /health says the old state)."""
        self._table.clear()
        self._ring.clear()
        self._hand = 0

    def get(self, bytes data):
        """The remembered answer to ``data``, or None (for tests; nothing is marked used)."""
        return self._table.get(data)

    cdef Memo lookup(self, bytes data):
        """Connection.data_received: the answer to this read, if it was remembered."""
        cdef object found = self._table.get(data)
        if found is None:
            return None
        (<Memo>found)._used = True
        return <Memo>found

    # -- the read being parsed ---------------------------------------------------------

    cdef void begin_read(self, object reader):
        """Connection.data_received: a read of ``reader`` (None: of nobody) is parsed now."""
        self._reader = reader
        self._answer = None
        self._messages = 0

    cdef void message_begun(self, object reader):
        """Connection.on_message_begin: one more request in the read."""
        if self._reader is reader:
            self._messages += 1

    cdef void forget(self, object reader):
        """The read's answer is more than one remembered response (an interim 100, an
        upgrade, a parse error): it must not be remembered."""
        if self._reader is reader:
            self._reader = None
            self._answer = None

    cdef void offer(self, object reader, bytes data, int route, int status, object log_line,
                    Py_ssize_t id_at):
        """Connection.respond: ``data`` answers the read's only request, and depends on
        nothing but its bytes (and a fresh id at ``id_at``, unless -1)."""
        if self._reader is reader and self._messages == 1:
            self._answer = Memo(data, route, status, log_line, id_at)

    cdef void end_read(self, object reader, bytes data, bint whole):
        """Connection.data_received: the read is parsed; ``whole``: no request is left
        half-parsed. Remember it if it was one request with an answer offered."""
        if (self._answer is not None and self._reader is reader and self._messages == 1
                and whole and len(data) <= self.key_max):
            self._store(data, self._answer)
        self._reader = None
        self._answer = None

    cdef void _store(self, bytes key, Memo memo):
        cdef Memo old
        if self.size <= 0:
            return
        if key in self._table or len(self._ring) < self.size:
            if key not in self._table:
                self._ring.append(key)
            self._table[key] = memo
            return
        while True:                        # at most one turn: every flag it passes is cleared
            old = <Memo>self._table[self._ring[self._hand]]
            if not old._used:
                break
            old._used = False
            self._hand = (self._hand + 1) % self.size
        del self._table[self._ring[self._hand]]
        self._ring[self._hand] = key
        self._table[key] = memo
        self._hand = (self._hand + 1) % self.size
