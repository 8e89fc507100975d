# cython: language_level=3
# Declarations of fastmock._engine, one part per file (see _engine.pyx).
include "engine/counters.pxd"
include "engine/ids.pxd"
include "engine/pacer.pxd"
include "engine/latency.pxd"
include "engine/memo.pxd"
include "engine/shared.pxd"
include "engine/request.pxd"
include "engine/link.pxd"
include "engine/compose.pxd"
include "engine/stream.pxd"
include "engine/connection.pxd"
