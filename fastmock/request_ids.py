"""X-Request-Id: the client's own when it sent a safe one, else a fresh one from fastmock.ids.

A client's id is echoed only when it is 1 to 128 bytes of URL-safe token characters,
so no client input can end a header line or inject one; anything else gets a fresh id.
Every answer carries one. The static seed answers (/api/data, /health) and the memo of
whole answers get theirs from the engine, which writes a fresh ``req_`` line in C with
the counter fastmock.ids uses (engine/ids.pyx, the same format as ``line``); the answers
the engine sends on its own get theirs from fastmock.canned (see README, "Request ids").
"""
from fastmock._engine import FRESH_ID_KIND, ID_HEADER_HEAD
from fastmock.ids import IDS

HEADER = b"x-request-id"
MAX_LENGTH = 128
_SAFE = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
         b"-._~:+/=@")


def client_id(headers) -> bytes | None:
    """The client's X-Request-Id (or another kept header's value) when it is safe to echo."""
    if headers is None:
        return None
    value = headers.get(HEADER)
    return value if value is not None and safe(value) else None


def safe(value: bytes) -> bool:
    """1 to MAX_LENGTH bytes, each a token character (checked in C by translate)."""
    return 0 < len(value) <= MAX_LENGTH and not value.translate(None, _SAFE)


def request_id(headers) -> bytes:
    """The id of a request: the client's own when safe, else a fresh ``req_`` id."""
    own = client_id(headers)
    return own if own is not None else IDS.new(FRESH_ID_KIND)


def line(rid: bytes) -> bytes:
    return ID_HEADER_HEAD + rid + b"\r\n"


# Anthropic's own header: its SDKs read ``request-id`` (``req_...``), as ``message._request_id``.
# Anthropic's routes send it after X-Request-Id, with the same id.
ANTHROPIC_ID_HEAD = b"request-id: "


def lines(rid: bytes, anthropic: bool) -> bytes:
    """The id lines of an answer: X-Request-Id, and Anthropic's request-id on its routes."""
    if anthropic:
        return ID_HEADER_HEAD + rid + b"\r\n" + ANTHROPIC_ID_HEAD + rid + b"\r\n"
    return ID_HEADER_HEAD + rid + b"\r\n"


def spliced(response: bytes, rid: bytes) -> bytes:
    """A whole pre-encoded response (or head) with the X-Request-Id line after its status line."""
    at = response.index(b"\r\n") + 2
    return response[:at] + line(rid) + response[at:]


TEST_ID_HEADER = b"x-test-id"


def test_id(headers) -> str | None:
    """The request's X-Test-Id when it is a safe token (else it scopes nothing)."""
    if headers is None:
        return None
    value = headers.get(TEST_ID_HEADER)
    return value.decode("ascii") if value is not None and safe(value) else None
