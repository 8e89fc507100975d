"""Response ids: a kind, 8 hex digits drawn per process, then 16 counted.

Every id fastmock sends (``chatcmpl-``, ``cmpl-``, ``resp_``, ``msg_``, ``req_``)
comes from IDS, so ids are unique across the workers of a server: a forked
worker draws its own prefix and counts from zero.
"""
import os

CHAT_COMPLETION = b"chatcmpl-"


class Ids:
    """This process's id prefix and counter."""

    __slots__ = ("prefix", "count", "_heads")

    def __init__(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """A new prefix, counting from zero: at import, and in every forked child."""
        self.prefix = os.urandom(4).hex().encode()
        self.count = 0
        self._heads = {}

    def head(self, kind: bytes) -> bytes:
        """``kind`` and this process's prefix: an id without its 16 counted hex digits."""
        head = self._heads.get(kind)
        if head is None:
            head = self._heads[kind] = kind + self.prefix
        return head

    def next(self) -> int:
        """The number of the next id (its last 16 hex digits)."""
        self.count += 1
        return self.count

    def new(self, kind: bytes) -> bytes:
        """A whole id: ``kind`` + 24 hex digits."""
        return b"%s%016x" % (self.head(kind), self.next())


IDS = Ids()
os.register_at_fork(after_in_child=IDS.redraw)
