"""The route table: the only place a path is named.

Each route gives its kind (how it is answered), the methods it takes, its metrics
label and its handler. A label's slots in the shared counters follow from its place
in LABELS: the two answers that belong to no route, then the routes in table order.

The handlers of /metrics, the dashboard and the provider APIs live in modules an idle server
never loads; their routes name them through one small import function per module,
called on the request (a plain import each time after the first: a dict lookup).
"""
from fastmock import seed
from fastmock.wire import ALLOW_CONTROL, ALLOW_GET, ALLOW_GET_POST, ALLOW_POST, JSON, PROMETHEUS_TEXT

# Route kinds, and what their handler is
STATIC = 0      # a whole response built once per server: handler(frames) -> (GET, HEAD variants)
STREAM = 1      # a seed stream: handler(app, max_tokens) -> StreamSpec
METRICS = 2     # the counters rendered per request, in the route's content type:
                # handler() -> render(counters, labels, admission, config) -> bytes
API = 3         # a provider API: handler() -> function(call) -> Whole | Streamed;
                # api() -> the provider module, whose error() is the API's error shape
CONTROL = 4     # the control API for tests: handler() -> function(app, request, query, test_id)
                # -> (status, JSON body, extra header lines); errors in OpenAI's shape
PAGE = 5        # a whole response built on the first request: handler() -> (GET variants,
                # HEAD variants), as a STATIC route's


class Route:
    """One row of the table (what protocol.HttpProtocol.handle reads)."""

    __slots__ = ("path", "kind", "allow", "methods", "handler", "api", "label", "prefix",
                 "ends", "compiled", "content_type", "index", "anthropic")

    def __init__(self, path: bytes, kind: int, allow: bytes, handler, api=None, *,
                 label: str | None = None, prefix: bool = False, ends: tuple | None = None,
                 compiled: str | None = None, content_type: bytes = JSON) -> None:
        self.path = path
        self.kind = kind
        self.allow = allow                # the Allow header of a 405 and of a preflight
        self.methods = frozenset(allow.replace(b" ", b"").split(b","))
        self.handler = handler
        self.api = api
        self.label = label or path.decode()   # the metrics label
        self.prefix = prefix              # True: every path that starts with ``path``
        self.ends = ends                  # a prefix route: only paths that end so
        self.compiled = compiled          # the request the compiled path answers (fastpath)
        self.content_type = content_type  # a METRICS route's answer
        self.index = -1                   # its slots in the shared counters (set below)
        self.anthropic = api is _anthropic  # its answers carry Anthropic's request-id too


def _metrics():
    from fastmock import metrics
    return metrics


def _openai():
    from fastmock.providers import openai
    return openai


def _embeddings():
    from fastmock.providers import embeddings
    return embeddings


def _azure():
    from fastmock.providers import azure
    return azure


def _gemini():
    from fastmock.providers import gemini
    return gemini


def _cohere():
    from fastmock.providers import cohere
    return cohere


def _bedrock():
    from fastmock.providers import bedrock
    return bedrock


def _anthropic():
    from fastmock.providers import anthropic
    return anthropic


def _ollama():
    from fastmock.providers import ollama
    return ollama


def _control():
    from fastmock import control_api
    return control_api


def _ui():
    from fastmock import ui
    return ui


GEMINI_METHODS = (b":generateContent", b":streamGenerateContent", b":countTokens",
                  b":embedContent", b":batchEmbedContents")

TABLE = (
    # path                        kind     methods     handler                              API
    Route(b"/stream-sse",          STREAM,  ALLOW_GET,  seed.chat),
    Route(b"/stream-loop",         STREAM,  ALLOW_GET,  seed.endless_chat),
    Route(b"/stream-ndjson",       STREAM,  ALLOW_GET,  seed.ollama_generate),
    Route(b"/api/data",            STATIC,  ALLOW_GET,  seed.api_data),
    Route(b"/health",              STATIC,  ALLOW_GET,  seed.health),
    Route(b"/metrics",             METRICS, ALLOW_GET,  lambda: _metrics().render,
          content_type=PROMETHEUS_TEXT),
    Route(b"/v1/chat/completions", API,     ALLOW_POST, lambda: _openai().chat,           _openai,
          compiled="chat"),
    Route(b"/v1/completions",      API,     ALLOW_POST, lambda: _openai().completions,    _openai,
          compiled="completions"),
    Route(b"/v1/responses",        API,     ALLOW_POST, lambda: _openai().responses_api,  _openai,
          compiled="responses"),
    Route(b"/v1/embeddings",       API,     ALLOW_POST, lambda: _embeddings().embeddings, _openai,
          compiled="embeddings"),
    Route(b"/v1/messages",         API,     ALLOW_POST, lambda: _anthropic().messages, _anthropic,
          compiled="messages"),
    Route(b"/v1/messages/count_tokens", API, ALLOW_POST, lambda: _anthropic().count_tokens,
          _anthropic),
    Route(b"/api/generate",        API,     ALLOW_POST, lambda: _ollama().generate,       _ollama,
          compiled="generate"),
    Route(b"/api/chat",            API,     ALLOW_POST, lambda: _ollama().chat,           _ollama,
          compiled="ollama_chat"),
    Route(b"/v1/models",           API,     ALLOW_GET,  lambda: _openai().list_models,    _openai),
    # Gemini's v1 methods share OpenAI's /v1/models/ prefix: a colon tells them apart
    # AWS Bedrock Runtime: /model/{modelId}/converse, converse-stream, invoke, ...-stream
    Route(b"/model/",              API,     ALLOW_POST, lambda: _bedrock().model,         _bedrock,
          label="/model/{modelId}/{operation}", prefix=True),
    # Cohere's v2 API
    Route(b"/v2/chat",             API,     ALLOW_POST, lambda: _cohere().chat,           _cohere),
    Route(b"/v2/embed",            API,     ALLOW_POST, lambda: _cohere().embed,          _cohere),
    # Gemini's methods, wherever Google puts the model: /v1beta/models/{model}:{method},
    # /v1/models/... (google-genai 3's default, beside OpenAI's /v1/models/{id}), and
    # Vertex AI's /v1(beta1)/publishers/google/models/... and /v1/projects/{p}/locations/{l}/...
    Route(b"/v1",                  API,     ALLOW_POST, lambda: _gemini().models,         _gemini,
          label="/v1*/models/{model}:{method}", prefix=True, ends=GEMINI_METHODS),
    Route(b"/api/tags",            API,     ALLOW_GET,  lambda: _ollama().tags,           _ollama),
    Route(b"/api/version",         API,     ALLOW_GET,  lambda: _ollama().version,        _ollama),
    Route(b"/api/embed",           API,     ALLOW_POST, lambda: _ollama().embed,          _ollama),
    Route(b"/api/embeddings",      API,     ALLOW_POST, lambda: _ollama().embeddings,     _ollama),
    Route(b"/api/show",            API,     ALLOW_POST, lambda: _ollama().show,           _ollama),
    Route(b"/api/ps",              API,     ALLOW_GET,  lambda: _ollama().ps,             _ollama),
    Route(b"/api/pull",            API,     ALLOW_POST, lambda: _ollama().pull,           _ollama),
    # Ollama's root: clients probe it before they talk to the API
    Route(b"/",                    STATIC,  ALLOW_GET,  seed.ollama_root),
    Route(b"/v1/models/",          API,     ALLOW_GET,  lambda: _openai().get_model,      _openai,
          label="/v1/models/{id}", prefix=True),    # one label for every model id
    # Gemini (v1beta): GET the models, POST /v1beta/models/{model}:{method}
    Route(b"/v1beta/models",       API,     ALLOW_GET_POST, lambda: _gemini().models,     _gemini,
          label="/v1beta/models/{model}", prefix=True),
    # Azure OpenAI: chat, completions and embeddings under /openai/deployments/{name}/, and
    # the v1 API's OpenAI paths under /openai/v1/
    Route(b"/openai/deployments/", API,     ALLOW_POST, lambda: _azure().deployments,     _openai,
          label="/openai/deployments/{deployment}", prefix=True),
    Route(b"/openai/v1/",          API,     ALLOW_POST, lambda: _azure().v1,              _openai,
          label="/openai/v1/{operation}", prefix=True),
    # the control API (issue 15): under /__fastmock/, which no provider uses
    Route(b"/__fastmock/fixtures", CONTROL, ALLOW_CONTROL, lambda: _control().fixtures),
    Route(b"/__fastmock/journal",  CONTROL, ALLOW_GET,     lambda: _control().journal),
    Route(b"/__fastmock/reset",    CONTROL, ALLOW_POST,    lambda: _control().reset),
    # the live dashboard (issue 16): its page, and the counters it reads once a second
    Route(b"/__fastmock/ui",       PAGE,    ALLOW_GET,     lambda: _ui().PAGE),
    Route(b"/__fastmock/stats",    METRICS, ALLOW_GET,     lambda: _ui().stats),
)

# Metrics labels of answers that belong to no route, then one per route in table order.
OTHER = 0       # an unknown path
ERROR = 1       # a request that could not be parsed, or did not arrive in time
LABELS = ("other", "error") + tuple(route.label for route in TABLE)
for _index, _route in enumerate(TABLE, ERROR + 1):
    _route.index = _index
del _index, _route

_EXACT = {route.path: route for route in TABLE if not route.prefix}
COMPILED = {route.compiled: route for route in TABLE if route.compiled}   # name -> Route
_PREFIXED = tuple(route for route in TABLE if route.prefix)


def find(path: bytes):
    """The Route of ``path``, or None."""
    route = _EXACT.get(path)
    if route is None:
        for prefixed in _PREFIXED:
            if path.startswith(prefixed.path) and (prefixed.ends is None
                                                   or path.endswith(prefixed.ends)):
                return prefixed
    return route
