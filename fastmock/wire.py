"""HTTP on the wire: status lines, header blocks, content types, stream heads, whole
responses, and the server's own error answers (in OpenAI's shape), as ready-made bytes.

Stream heads and static documents are pre-encoded once; only error answers are
built per request (they carry a message), and they are off the hot path. The
content types of streams are StreamSpec's (streamspec.SSE, streamspec.NDJSON).
"""
from fastmock.frames import json_string
from fastmock.streamspec import NDJSON, SSE

REASONS = {
    100: "Continue", 200: "OK", 204: "No Content",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    529: "Overloaded",
}

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

JSON = b"application/json"
PROMETHEUS_TEXT = b"text/plain; version=0.0.4; charset=utf-8"
HTML = b"text/html; charset=utf-8"
TEXT = b"text/plain; charset=utf-8"

# The headers page code on another origin may read (the Fetch standard hides every other
# one but the CORS-safelisted few): a 429's or 503's Retry-After, and the ids. Named one by
# one (``*`` is no wildcard in older browsers). The rate-limit headers, sent only under
# --rate-limit, are added to the list on the answers that carry them (exposing()), so every
# other answer stays short.
EXPOSE_HEADERS = b"Retry-After, X-Request-Id, request-id"
EXPOSE_LINE = b"Access-Control-Expose-Headers: " + EXPOSE_HEADERS + b"\r\n"
COMMON_HEADERS = b"Server: fastmock\r\nAccess-Control-Allow-Origin: *\r\n" + EXPOSE_LINE
JSON_HEADERS = COMMON_HEADERS + b"Content-Type: " + JSON + b"\r\n"
ALLOW_GET = b"GET, HEAD, OPTIONS"
ALLOW_POST = b"POST, OPTIONS"
ALLOW_GET_POST = b"GET, HEAD, POST, OPTIONS"
ALLOW_CONTROL = b"GET, HEAD, POST, DELETE, OPTIONS"

CONNECTION_CLOSE = b"Connection: close\r\n"

# Connection variants of a whole response, in this order (an index into its table).
KEEP_ALIVE = 0      # HTTP/1.1 default: no Connection header needed
KEEP_ALIVE_10 = 1   # HTTP/1.0 client that asked for keep-alive
CLOSE = 2
_CONNECTION_LINES = (b"", b"Connection: keep-alive\r\n", CONNECTION_CLOSE)

# Connection variants of a stream's head, in this order.
CHUNKED_KEEP_ALIVE = 0
CHUNKED_CLOSE = 1
RAW_CLOSE = 2       # HTTP/1.0: no chunked coding, the body ends when the connection does


def status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Error").encode())


def stream_heads(content_type: bytes) -> tuple[bytes, bytes, bytes]:
    """The head of a 200 stream for each connection variant."""
    head = (status_line(200) + COMMON_HEADERS + b"Content-Type: " + content_type + b"\r\n"
            b"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n")
    return (
        head + b"Transfer-Encoding: chunked\r\n\r\n",
        head + b"Transfer-Encoding: chunked\r\n" + CONNECTION_CLOSE + b"\r\n",
        head + CONNECTION_CLOSE + b"\r\n",
    )


_STREAM_HEADS = {SSE: stream_heads(SSE), NDJSON: stream_heads(NDJSON)}


def stream_head(content_type: bytes, keep_alive: bool, http10: bool) -> bytes:
    """The head of a 200 stream: chunked on HTTP/1.1 (closing the connection after it unless
    ``keep_alive``), delimited by the close on HTTP/1.0 (no chunked coding there)."""
    heads = _STREAM_HEADS.get(content_type) or stream_heads(content_type)
    if http10:
        return heads[RAW_CLOSE]
    return heads[CHUNKED_KEEP_ALIVE if keep_alive else CHUNKED_CLOSE]


def variant(keep_alive: bool, http10: bool) -> int:
    """The connection variant of a whole response: KEEP_ALIVE, KEEP_ALIVE_10 or CLOSE."""
    return (KEEP_ALIVE_10 if http10 else KEEP_ALIVE) if keep_alive else CLOSE


def complete(status: int, content_type: bytes, body: bytes, *, keep_alive: bool = True,
             http10: bool = False, head_only: bool = False, extra: bytes = b"",
             expose: bytes = b"") -> bytes:
    """A whole response with a Content-Length body (``extra``: more CRLF-ended header lines;
    ``expose``: the names of those page code may read too, as exposing() adds them)."""
    head = (status_line(status) + COMMON_HEADERS + b"Content-Type: " + content_type + b"\r\n"
            + extra + b"Content-Length: %d\r\n" % len(body)
            + _CONNECTION_LINES[variant(keep_alive, http10)] + b"\r\n")
    if expose:
        head = exposing(head, expose)
    return head if head_only else head + body


def exposing(head: bytes, names: bytes) -> bytes:
    """``head`` (which has COMMON_HEADERS) with ``names`` (comma-separated) added to its
    Access-Control-Expose-Headers: one line, as the header is sent once."""
    return head.replace(EXPOSE_LINE, b"Access-Control-Expose-Headers: " + EXPOSE_HEADERS
                        + b", " + names + b"\r\n", 1)


def whole_responses(content_type: bytes, body: bytes) -> tuple[tuple, tuple]:
    """A 200 response of ``body`` in every connection variant, and its heads for HEAD:
    (GET variants, HEAD variants), each indexed by KEEP_ALIVE / KEEP_ALIVE_10 / CLOSE."""
    heads = tuple(complete(200, content_type, body, keep_alive=v != CLOSE,
                           http10=v == KEEP_ALIVE_10, head_only=True)
                  for v in (KEEP_ALIVE, KEEP_ALIVE_10, CLOSE))
    return tuple(head + body for head in heads), heads


# Statuses a client may retry after a second: rate limited, unavailable, overloaded.
RETRY_STATUSES = (429, 503, 529)

# OpenAI's error "type" for each status the mock can be asked to fail with.
OPENAI_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 408: "timeout", 409: "conflict_error", 413: "invalid_request_error",
    414: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
    431: "invalid_request_error",
}


def openai_error_body(status: int, message: str, param: str | None = None) -> bytes:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    param_json = b'"' + json_string(param) + b'"' if param else b"null"
    return (b'{"error":{"message":"' + json_string(message) + b'","type":"' + kind.encode()
            + b'","param":' + param_json + b',"code":null}}')


def retry_after(status: int) -> bytes:
    """The extra header line of an error answer: ``Retry-After`` when a retry makes sense."""
    return b"Retry-After: 1\r\n" if status in RETRY_STATUSES else b""


def openai_error(status: int, message: str, param: str | None = None, *, keep_alive: bool = True,
                 http10: bool = False, head_only: bool = False, extra: bytes = b"") -> bytes:
    return complete(status, JSON, openai_error_body(status, message, param),
                    keep_alive=keep_alive, http10=http10, head_only=head_only,
                    extra=retry_after(status) + extra)


def ollama_error(status: int, message: str, *, keep_alive: bool = True, http10: bool = False,
                 head_only: bool = False, extra: bytes = b"") -> bytes:
    """An error in Ollama's shape, ``{"error": "..."}`` (what ollama-js and ollama-python read)."""
    return complete(status, JSON, b'{"error":"' + json_string(message) + b'"}',
                    keep_alive=keep_alive, http10=http10, head_only=head_only,
                    extra=retry_after(status) + extra)


def method_not_allowed(allow: bytes, method: str, *, keep_alive: bool, http10: bool,
                       extra: bytes = b"") -> bytes:
    body = openai_error_body(405, f"method {method} is not allowed here; allowed: {allow.decode()}")
    return complete(405, JSON, body, keep_alive=keep_alive, http10=http10,
                    extra=b"Allow: " + allow + b"\r\n" + extra)


def preflight(allow: bytes, *, keep_alive: bool, http10: bool, extra: bytes = b"") -> bytes:
    """The answer to a CORS preflight: any origin, the route's methods, any request headers.

    Browsers never let ``*`` stand for ``Authorization`` (the Fetch standard), and every
    provider SDK sends its key in it, so it is listed by name.
    """
    return (status_line(204) + COMMON_HEADERS + b"Allow: " + allow + b"\r\n"
            b"Access-Control-Allow-Methods: " + allow + b"\r\n"
            b"Access-Control-Allow-Headers: *, Authorization\r\nAccess-Control-Max-Age: 86400\r\n"
            + extra + _CONNECTION_LINES[variant(keep_alive, http10)] + b"\r\n")


# Answers to requests that could not be parsed: always followed by a close.
BAD_REQUEST = openai_error(400, "malformed HTTP request", keep_alive=False)
INTERNAL_ERROR = openai_error(500, "internal server error", keep_alive=False)
# Sent to a connection refused before any request is read (fastmock.admission): over
# --max-connections, or while memory is above --memory-high.
TOO_MANY_CONNECTIONS = openai_error(503, "too many connections; try again later", keep_alive=False)
SHORT_OF_MEMORY = openai_error(503, "server is short of memory; try again later", keep_alive=False)
