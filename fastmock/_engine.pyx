# cython: language_level=3
"""fastmock's compiled engine: connections, pacing and counters, in one extension.

Each part has its own source under fastmock/engine/ and is included here, the way
uvloop builds its loop: one shared object instead of three costs ~125 KB less
resident memory (Cython's helpers, the ELF tables and page rounding once, not
three times), and calls between the parts stay plain C calls.

- ``engine/counters.pyx``: the metrics counters, in memory every worker shares.
- ``engine/pacer.pyx``: one loop timer that paces every stream (a timing wheel).
- ``engine/connection.pyx``: one client connection, from bytes in to bytes out.
"""
include "engine/counters.pyx"
include "engine/pacer.pyx"
include "engine/connection.pyx"
