"""(path) -> Route: what kind of answer a path gets and which methods it takes."""
from __future__ import annotations

from fastmock.responses import ALLOW_GET

# Route kinds
STATIC = 0      # a whole pre-encoded response
STREAM = 1      # a paced FrameStream
METRICS = 2     # rendered per request


class Route:
    __slots__ = ("name", "kind", "allow", "methods", "table", "endless", "ollama")

    def __init__(self, name: str, kind: int, *, allow: bytes = ALLOW_GET, table: str = "",
                 endless: bool = False, ollama: bool = False) -> None:
        self.name = name                  # the metrics label
        self.kind = kind
        self.allow = allow                # the Allow header of a 405
        self.methods = frozenset(allow.decode().replace(" ", "").encode().split(b","))
        self.table = table                # Frames attribute of a stream's frame table
        self.endless = endless            # /stream-loop: cycle the text until the client leaves
        self.ollama = ollama              # NDJSON lines stamped with created_at


ROUTES = {
    b"/stream-sse": Route("/stream-sse", STREAM, table="chat"),
    b"/stream-loop": Route("/stream-loop", STREAM, table="chat", endless=True),
    b"/stream-ndjson": Route("/stream-ndjson", STREAM, table="ollama", ollama=True),
    b"/api/data": Route("/api/data", STATIC, table="api_data"),
    b"/health": Route("/health", STATIC, table="health"),
    b"/metrics": Route("/metrics", METRICS),
}
