"""The literal needles of fixture matching, and the search for those a text holds, in C.

``fastmock.fixtures.match`` decides where each needle is filed (under which grams, or
among the short ones checked every time); this module keeps that filing in two open-
addressing tables of grams (8 and 4 bytes of UTF-8, read as native integers) and
answers ``search``: the needles a text contains. A text costs one probe per gram at
every other byte offset, and each needle of a bucket hit is compared where that gram
puts it (``memcmp``); the short needles, filed under no gram, are looked for with
``memmem``. A substring of the UTF-8 bytes is a substring of the text: UTF-8 is
self-synchronizing.
Loaded with the first fixture file or run-time fixture; a server without fixtures has none.
"""
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset

cdef extern from "string.h":
    # GNU and musl (both with _GNU_SOURCE, which Python.h defines)
    void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen)

cdef enum:
    _STRIDE = 2      # a text's grams are read at every other byte offset (see match.py)
    EMPTY = -1       # a slot without a gram

STRIDE = _STRIDE


cdef struct Slot:
    uint64_t key         # a gram
    int32_t bucket       # the first of its entries in NeedleIndex (a chain), or EMPTY


cdef struct Table:
    Slot *slots          # open addressing, linear probing, at most half full
    uint64_t *filter     # one bit per hash value 3 bits finer than a slot (8 per slot): most
                         # of a text's grams are filed nowhere, and this answers them from L1
    Py_ssize_t mask      # slots - 1 (a power of two)
    int shift            # 64 - log2(slots): a gram's slot is its hash's top bits
    Py_ssize_t used


cdef inline uint64_t _hash(uint64_t gram) noexcept nogil:
    # Fibonacci hashing: the product's top bits depend on every byte of the gram
    return gram * 0x9E3779B97F4A7C15ULL


cdef inline Py_ssize_t _slot(const Table *table, uint64_t gram) noexcept nogil:
    """The slot that holds ``gram``, or the empty slot where it would go."""
    cdef Py_ssize_t i = <Py_ssize_t>(_hash(gram) >> table.shift)
    while table.slots[i].bucket != EMPTY and table.slots[i].key != gram:
        i = (i + 1) & table.mask
    return i


cdef inline int32_t _bucket(const Table *table, uint64_t gram) noexcept nogil:
    """The number of the bucket filed under ``gram``, or EMPTY."""
    cdef uint64_t bit = _hash(gram) >> (table.shift - 3)
    if not (table.filter[bit >> 6] >> (bit & 63)) & 1:
        return EMPTY
    return table.slots[_slot(table, gram)].bucket


cdef inline void _put(Table *table, uint64_t gram, int32_t bucket) noexcept nogil:
    cdef Py_ssize_t slot = _slot(table, gram)
    cdef uint64_t bit = _hash(gram) >> (table.shift - 3)
    table.slots[slot].key = gram
    table.slots[slot].bucket = bucket
    table.filter[bit >> 6] |= 1ULL << (bit & 63)
    table.used += 1


cdef int _allocate(Table *table, Py_ssize_t slots) except -1:
    """Empty ``slots`` (a power of two, 8 or more) and their filter."""
    cdef Py_ssize_t i
    table.slots = <Slot *>PyMem_Malloc(slots * sizeof(Slot))
    table.filter = <uint64_t *>PyMem_Malloc(slots // 8 * sizeof(uint64_t))
    if table.slots == NULL or table.filter == NULL:
        PyMem_Free(table.slots)
        PyMem_Free(table.filter)
        raise MemoryError()
    for i in range(slots):
        table.slots[i].bucket = EMPTY
    memset(table.filter, 0, slots // 8 * sizeof(uint64_t))
    table.mask = slots - 1
    table.shift = 64
    while slots > 1:
        slots >>= 1
        table.shift -= 1
    table.used = 0
    return 0


cdef int _grow(Table *table) except -1:
    """Twice the slots, every gram moved (kept at most half full: probes stay short)."""
    cdef Table old = table[0]
    cdef Py_ssize_t i
    _allocate(table, (old.mask + 1) * 2)
    for i in range(old.mask + 1):
        if old.slots[i].bucket != EMPTY:
            _put(table, old.slots[i].key, old.slots[i].bucket)
    PyMem_Free(old.slots)
    PyMem_Free(old.filter)
    return 0


cdef void *_grown(void *block, size_t size) except NULL:
    """``block`` reallocated to ``size`` bytes (on failure it is left as it was)."""
    cdef void *grown = PyMem_Realloc(block, size)
    if grown == NULL:
        raise MemoryError()
    return grown


cdef inline uint64_t _gram(const char *at, int width) noexcept nogil:
    """``width`` bytes as the native integer ``int.from_bytes(.., sys.byteorder)`` gives."""
    cdef uint64_t wide
    cdef uint32_t narrow
    if width == 8:
        memcpy(&wide, at, 8)
        return wide
    memcpy(&narrow, at, 4)
    return narrow


def grams(bytes data, int width) -> list:
    """The grams of ``data`` at every byte offset (what a needle may be filed under)."""
    if width != 8 and width != 4:
        raise ValueError("a gram is 8 or 4 bytes")
    cdef const char *p = data
    cdef Py_ssize_t i
    return [_gram(p + i, width) for i in range(len(data) - width + 1)]


cdef struct Tallied:
    uint64_t key         # a gram
    int32_t count        # the needles that have it; 0: an empty slot
    int32_t last         # the last of them (1-based): a needle counts a gram once


cdef class GramTally:
    """How many needles have each gram of one width: the weights that choose where each
    needle is filed (the rarest grams). Built once per index build and dropped: a table
    in one block, not a dict of Python ints (1,000 needles: 20,000 grams, 2 MB of them)."""

    cdef Tallied *slots
    cdef Py_ssize_t mask, used
    cdef int shift, width
    cdef int32_t needles

    def __cinit__(self, int width, Py_ssize_t grams=0):
        """Room for ``grams`` grams without growing."""
        if width != 8 and width != 4:
            raise ValueError("a gram is 8 or 4 bytes")
        self.width = width
        self.slots = NULL
        self.needles = 0
        cdef Py_ssize_t size = 16
        while size < 2 * grams:
            size *= 2
        self._allocate(size)

    def __dealloc__(self):
        PyMem_Free(self.slots)

    cdef int _allocate(self, Py_ssize_t size) except -1:
        self.slots = <Tallied *>PyMem_Calloc(size, sizeof(Tallied))
        if self.slots == NULL:
            raise MemoryError()
        self.mask = size - 1
        self.shift = 64
        while size > 1:
            size >>= 1
            self.shift -= 1
        self.used = 0
        return 0

    cdef inline Py_ssize_t _slot(self, uint64_t gram) noexcept nogil:
        cdef Py_ssize_t i = <Py_ssize_t>(_hash(gram) >> self.shift)
        while self.slots[i].count != 0 and self.slots[i].key != gram:
            i = (i + 1) & self.mask
        return i

    cdef int _grow(self) except -1:
        cdef Tallied *old = self.slots
        cdef Py_ssize_t i, size = self.mask + 1, slot
        self._allocate(size * 2)
        for i in range(size):
            if old[i].count != 0:
                slot = self._slot(old[i].key)
                self.slots[slot] = old[i]
                self.used += 1
        PyMem_Free(old)
        return 0

    def add(self, bytes needle) -> None:
        """Count each gram of ``needle`` once."""
        cdef const char *p = needle
        cdef Py_ssize_t i, slot
        cdef uint64_t gram
        self.needles += 1
        for i in range(len(needle) - self.width + 1):
            if (self.used + 1) * 2 > self.mask + 1:
                self._grow()
            gram = _gram(p + i, self.width)
            slot = self._slot(gram)
            if self.slots[slot].count == 0:
                self.slots[slot].key = gram
                self.slots[slot].count = 1
                self.used += 1
            elif self.slots[slot].last != self.needles:
                self.slots[slot].count += 1
            self.slots[slot].last = self.needles

    def count(self, uint64_t gram) -> int:
        """How many of the needles added have ``gram``."""
        return self.slots[self._slot(gram)].count

    def rarest(self, bytes needle) -> int:
        """The first offset of ``needle`` whose STRIDE consecutive grams are, together, in the
        fewest needles added."""
        cdef const char *p = needle
        cdef Py_ssize_t offsets = len(needle) - self.width + 1 - _STRIDE + 1, o, best = 0
        cdef int64_t weight, least = -1
        cdef int k
        if offsets < 1:
            raise ValueError("the needle has not STRIDE grams")
        for o in range(offsets):
            weight = 0
            for k in range(_STRIDE):
                weight += self.slots[self._slot(_gram(p + o + k, self.width))].count
            if least < 0 or weight < least:
                least = weight
                best = o
        return best


cdef class NeedleIndex:
    """Needles (UTF-8 bytes) by number, filed under 8- or 4-byte grams or checked always."""

    cdef Table tables[2]         # [0]: 8-byte grams, [1]: 4-byte grams
    # what is filed under the grams: entry -> needle number << 32 | the gram's offset in the
    # needle, and the next entry of the same gram (EMPTY: the last)
    cdef int64_t *entries
    cdef int32_t *links
    cdef Py_ssize_t count_entries, room
    # the needles' UTF-8, one after the other: needle n is text[starts[n]:starts[n + 1]]
    cdef char *text
    cdef Py_ssize_t *starts
    cdef Py_ssize_t count_needles, text_room, needles_room
    cdef list short              # the numbers of needles checked on every search

    def __cinit__(self):
        self.tables[0].slots = self.tables[1].slots = NULL
        self.tables[0].filter = self.tables[1].filter = NULL
        _allocate(&self.tables[0], 16)
        _allocate(&self.tables[1], 16)
        self.entries = NULL
        self.links = NULL
        self.count_entries = self.room = 0
        self.text = NULL
        self.starts = NULL
        self.count_needles = self.text_room = self.needles_room = 0
        self.short = []

    def __dealloc__(self):
        cdef int t
        for t in range(2):
            PyMem_Free(self.tables[t].slots)
            PyMem_Free(self.tables[t].filter)
        PyMem_Free(self.text)
        PyMem_Free(self.starts)
        PyMem_Free(self.entries)
        PyMem_Free(self.links)

    cdef Table *_table(self, int width) except NULL:
        if width == 8:
            return &self.tables[0]
        if width == 4:
            return &self.tables[1]
        raise ValueError("a gram is 8 or 4 bytes")

    def add(self, bytes needle) -> int:
        """Keep a needle; its number (file it with ``file`` or ``file_short``)."""
        cdef Py_ssize_t n = self.count_needles, end
        if n + 2 > self.needles_room:
            self.needles_room = max(64, self.needles_room * 2)
            self.starts = <Py_ssize_t *>_grown(self.starts, self.needles_room * sizeof(Py_ssize_t))
        if n == 0:
            self.starts[0] = 0
        end = self.starts[n] + len(needle)
        if end > self.text_room or self.text == NULL:
            self.text_room = max(4096, self.text_room * 2, end)
            self.text = <char *>_grown(self.text, self.text_room)
        memcpy(self.text + self.starts[n], <const char *>needle, len(needle))
        self.starts[n + 1] = end
        self.count_needles = n + 1
        return n

    def file(self, Py_ssize_t number, int width, uint64_t gram, Py_ssize_t offset) -> None:
        """File needle ``number`` under ``gram``, found ``offset`` bytes into it."""
        if not (0 <= number < self.count_needles
                and 0 <= offset < self.starts[number + 1] - self.starts[number]):
            raise ValueError("no such gram of that needle")
        cdef Table *table = self._table(width)
        if (table.used + 1) * 2 > table.mask + 1:
            _grow(table)
        if self.count_entries == self.room:
            self._make_room()
        cdef int32_t first = _bucket(table, gram), entry = <int32_t>self.count_entries
        self.entries[entry] = (<int64_t>number << 32) | offset
        self.count_entries += 1
        if first == EMPTY:
            self.links[entry] = EMPTY
            _put(table, gram, entry)
        else:                                   # second in the chain: the slot stays as it is
            self.links[entry] = self.links[first]
            self.links[first] = entry

    cdef int _make_room(self) except -1:
        cdef Py_ssize_t room = max(64, self.room * 2)
        if room >= 1 << 31:
            raise MemoryError()
        self.entries = <int64_t *>_grown(self.entries, room * sizeof(int64_t))
        self.links = <int32_t *>_grown(self.links, room * sizeof(int32_t))
        self.room = room
        return 0

    def needle(self, Py_ssize_t number) -> bytes:
        """Needle ``number``'s UTF-8 bytes."""
        if not 0 <= number < self.count_needles:
            raise IndexError(number)
        return self.text[self.starts[number]:self.starts[number + 1]]

    def sizes(self) -> tuple:
        """(8-byte grams filed, 4-byte grams filed, needles checked on every search)."""
        return self.tables[0].used, self.tables[1].used, len(self.short)

    def file_short(self, int number) -> None:
        """Check needle ``number`` on every search (too short to be filed by grams)."""
        self.short.append(number)

    def count(self, int width, uint64_t gram) -> int:
        """How many needles are filed under ``gram``."""
        cdef int32_t entry = _bucket(self._table(width), gram)
        cdef Py_ssize_t n = 0
        while entry != EMPTY:
            n += 1
            entry = self.links[entry]
        return n

    def search(self, bytes text) -> set:
        """The numbers of the needles ``text`` (UTF-8) contains."""
        cdef const char *p = text
        cdef Py_ssize_t size = len(text), i, start, length
        cdef int t, width
        cdef int32_t entry
        cdef int64_t filed
        cdef Table *table
        cdef Py_ssize_t number
        cdef const char *needle
        found = set()
        for t in range(2):
            table = &self.tables[t]
            if table.used == 0:
                continue
            width = 8 if t == 0 else 4
            i = -_STRIDE
            while i + _STRIDE + width <= size:      # a C loop (a range() by an enum is not)
                i += _STRIDE
                entry = _bucket(table, _gram(p + i, width))
                while entry != EMPTY:
                    # the needle would start where its filed gram puts it: compare it there
                    filed = self.entries[entry]
                    entry = self.links[entry]
                    number = filed >> 32
                    start = i - (filed & 0xFFFFFFFF)
                    length = self.starts[number + 1] - self.starts[number]
                    if (start >= 0 and start + length <= size
                            and memcmp(p + start, self.text + self.starts[number], length) == 0):
                        found.add(number)
        for number in self.short:
            needle = self.text + self.starts[number]
            length = self.starts[number + 1] - self.starts[number]
            if memmem(p, size, needle, length) != NULL:
                found.add(number)
        return found
