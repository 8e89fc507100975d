"""Response ids: a kind, 8 hex digits drawn per process, then 16 counted.

Every id fastmock sends (``chatcmpl-``, ``cmpl-``, ``resp_``, ``msg_``, ``req_``)
comes from IDS, so ids are unique across the workers of a server: a forked
worker draws its own prefix and counts from zero. The prefix and the counter
live in the engine (engine/ids.pyx), which writes the fresh X-Request-Id of
the memo's whole answers in C: one counter, whichever side writes the id.
"""
import os

from fastmock import _engine

CHAT_COMPLETION = b"chatcmpl-"


class Ids:
    """This process's id prefix; the counter is the engine's."""

    __slots__ = ("prefix", "_heads")

    def __init__(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """A new prefix, counting from zero: at import, and in every forked child."""
        self.prefix = os.urandom(4).hex().encode()
        self._heads = {}
        _engine.id_redraw(self.prefix)

    def head(self, kind: bytes) -> bytes:
        """``kind`` and this process's prefix: an id without its 16 counted hex digits."""
        head = self._heads.get(kind)
        if head is None:
            head = self._heads[kind] = kind + self.prefix
        return head

    def next(self) -> int:
        """The number of the next id (its last 16 hex digits)."""
        return _engine.id_next()

    def new(self, kind: bytes) -> bytes:
        """A whole id: ``kind`` + 24 hex digits."""
        return _engine.id_new(kind)


IDS = Ids()
os.register_at_fork(after_in_child=IDS.redraw)
