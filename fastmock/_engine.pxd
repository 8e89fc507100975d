# cython: language_level=3
# Declarations of fastmock._engine, one part per file (see _engine.pyx).
include "engine/counters.pxd"
include "engine/pacer.pxd"
include "engine/connection.pxd"
