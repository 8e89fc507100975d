"""(path) -> Route: what kind of answer a path gets and which methods it takes."""
from fastmock.wire import ALLOW_GET, ALLOW_POST

# Route kinds
STATIC = 0      # a whole pre-encoded response
STREAM = 1      # a paced stream
METRICS = 2     # rendered per request
API = 3         # a provider API endpoint: answered by fastmock.providers.dispatch

# Metrics labels of answers that belong to no route; a Route's index follows them.
OTHER = 0       # an unknown path
ERROR = 1       # a request that could not be parsed, or did not arrive in time
ROUTE_NAMES = ["other", "error"]


class Route:
    __slots__ = ("name", "index", "kind", "allow", "methods", "endless", "ollama")

    def __init__(self, name: str, kind: int, *, allow: bytes = ALLOW_GET, endless: bool = False,
                 ollama: bool = False) -> None:
        self.name = name                  # the metrics label
        self.index = len(ROUTE_NAMES)     # its slots in the shared counters
        ROUTE_NAMES.append(name)
        self.kind = kind
        self.allow = allow                # the Allow header of a 405
        self.methods = frozenset(allow.decode().replace(" ", "").encode().split(b","))
        self.endless = endless            # /stream-loop: cycle the text until the client leaves
        self.ollama = ollama              # NDJSON lines stamped with created_at


ROUTES = {
    b"/stream-sse": Route("/stream-sse", STREAM),
    b"/stream-loop": Route("/stream-loop", STREAM, endless=True),
    b"/stream-ndjson": Route("/stream-ndjson", STREAM, ollama=True),
    b"/api/data": Route("/api/data", STATIC),
    b"/health": Route("/health", STATIC),
    b"/metrics": Route("/metrics", METRICS),
}

# -- provider APIs (issue #3); fastmock.providers.dispatch.ENDPOINTS maps the same paths to their handlers --
for _path in (b"/v1/chat/completions", b"/v1/completions", b"/v1/responses", b"/v1/embeddings",
              b"/v1/messages", b"/api/generate", b"/api/chat"):
    ROUTES[_path] = Route(_path.decode(), API, allow=ALLOW_POST)
for _path in (b"/v1/models", b"/api/tags", b"/api/version"):
    ROUTES[_path] = Route(_path.decode(), API)
MODEL_ROUTE = Route("/v1/models/{id}", API)   # one metrics label for every model id


def find(path: bytes):
    """The Route of ``path``, or None."""
    route = ROUTES.get(path)
    if route is None and path.startswith(b"/v1/models/"):
        return MODEL_ROUTE
    return route
