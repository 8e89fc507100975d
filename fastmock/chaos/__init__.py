"""Wire chaos (issue 18): the conditions a stream parser must survive, on demand.

A stream with chaos is decided once, when it starts (``settings``), rendered lazily
to a schedule of timed writes and an ending (``render``), and sent by the engine's
scheduled-stream path through ``Schedule`` (``driver``). A stream without chaos never
loads this package and costs what it always did.
"""
