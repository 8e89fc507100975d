# cython: language_level=3
"""fastmock's compiled engine: HTTP/1.1 connections, pacing and counters, in one extension."""
#
# (A comment rather than the docstring: a module's docstring stays in memory.)
#
# It knows HTTP/1.1 and StreamSpec, never routes or providers: the app hands it the
# answers it sends on its own (Shared.answers). Each part has its own source under
# fastmock/engine/ and is included here, the way uvloop builds its loop: one shared
# object instead of several costs ~125 KB less resident memory (Cython's helpers, the
# ELF tables and page rounding once), and calls between the parts stay plain C calls.
#
# - ``engine/counters.pyx``: the metrics counters, in memory every worker shares.
# - ``engine/ids.pyx``: fresh ids (the process's prefix and counter), written in C.
# - ``engine/pacer.pyx``: one loop timer that paces every stream (a timing wheel).
# - ``engine/latency.pyx``: latency models: gaps drawn per stream, --max-num-seqs slots.
# - ``engine/memo.pyx``: whole answers to repeated requests, by the request's bytes.
# - ``engine/shared.pyx``: what every connection of a process shares; the engine's clock.
# - ``engine/request.pyx``: a parsed request, and the error a parser callback raises.
# - ``engine/link.pyx``: the socket: writes, reading's flow control, closing, timeouts.
# - ``engine/compose.pyx``: the running stream's frames, laid out in the output buffer.
# - ``engine/stream.pyx``: the answer going out over time: pacing, pausing, ending.
# - ``engine/connection.pyx``: HTTP/1.1 in: parser callbacks, limits, pipelining, answers.
#
# A connection is one object of the class chain Link > Composer > Streamer > Connection
# (see engine/link.pxd, with the legal combinations of its state flags).
include "engine/counters.pyx"
include "engine/ids.pyx"
include "engine/pacer.pyx"
include "engine/latency.pyx"
include "engine/memo.pyx"
include "engine/shared.pyx"
include "engine/request.pyx"
include "engine/link.pyx"
include "engine/compose.pyx"
include "engine/stream.pyx"
include "engine/connection.pyx"
