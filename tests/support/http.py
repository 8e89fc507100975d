"""HTTP/1.1 on the test's side: requests to send, and one strict reader for every response.

Every response, from a live server or from a fake transport, is read by
``read_response`` from a binary file object:

- a live server: ``reader = sock.makefile("rb")``, then ``read_response(reader)`` once per
  response (keep the one reader for the connection: it buffers what comes next);
- bytes a fake transport recorded: ``parse_response(data)`` and ``parse_responses(data)``,
  which read from ``io.BytesIO(data)``; ``parse_head(data)`` when only the head is complete.

The reader is strict: CRLF line ends, one field per header name, lowercase unpadded chunk
sizes, each chunk followed by CRLF, and exactly the body that Content-Length announces.
"""
from __future__ import annotations

import io
import json
import re

from support.streams import sse_events

NO_BODY = (204, 304)
HEX = frozenset(b"0123456789abcdef")
# A fresh X-Request-Id line, as fastmock writes it (fastmock.request_ids, engine/ids.pyx).
FRESH_ID_LINE = re.compile(rb"X-Request-Id: req_[0-9a-f]{24}\r\n")
FRESH_ID = re.compile(r"^req_[0-9a-f]{24}$")


def sans_fresh_ids(data: bytes) -> bytes:
    """``data`` without its fresh X-Request-Id lines: every answer has its own, so bytes
    are compared with the pre-encoded answers without them."""
    return FRESH_ID_LINE.sub(b"", data)


class Response:
    """One response as it came: the head as sent, and the body with any chunk framing removed."""

    def __init__(self, status_line: bytes, raw_headers: list[tuple[str, str]], body: bytes,
                 raw_head: bytes, chunks: list[bytes] | None) -> None:
        self.status_line = status_line          # without CRLF: b"HTTP/1.1 200 OK"
        version, status = status_line.decode("latin-1").split(" ")[:2]
        self.version = version                  # "HTTP/1.1"
        self.status = int(status)
        self.raw_headers = raw_headers          # (name as sent, value), in order
        self.headers = {name.lower(): value for name, value in raw_headers}
        self.body = body
        self.raw_head = raw_head                # status line to blank line, CRLFs included
        self.chunks = chunks                    # the chunk payloads in wire order, when chunked

    @property
    def chunked(self) -> bool:
        return self.chunks is not None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def sse_events(self) -> list[str]:
        """The data of each SSE event, in order (strictly "data: X\\n\\n" frames)."""
        return [event.decode() for event in sse_events(self.body)]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers} {self.body[:80]!r}>"


# -- reading -------------------------------------------------------------------------------

def read_response(reader, *, head_only: bool = False, until_close: bool = False,
                  probed: bool = False) -> Response:
    """One response from a binary file object; a body without length needs until_close or Connection: close.

    ``head_only``: the answer to a HEAD request (a head and no body, whatever it announces).
    ``probed``: the client half-closed during the answer, so one chunk size line may carry
    the leading zero the server sent as its probe (RFC 9112 allows it; engine/connection.pyx).
    """
    status_line, raw_headers, raw_head = read_head(reader)
    response = Response(status_line, raw_headers, b"", raw_head, None)
    if head_only or response.status < 200 or response.status in NO_BODY:
        return response
    headers = response.headers
    if headers.get("transfer-encoding") == "chunked":
        response.chunks = read_chunks(reader, probed=probed)
        response.body = b"".join(response.chunks)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        response.body = reader.read(length)
        assert len(response.body) == length, "body shorter than Content-Length"
    else:
        assert until_close or headers.get("connection") == "close", \
            f"a close-delimited body, but the connection stays open: {headers}"
        response.body = reader.read()
    return response


def read_head(reader) -> tuple[bytes, list[tuple[str, str]], bytes]:
    """(status line, headers as sent, the raw head) of the next response."""
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1.") and status_line.endswith(b"\r\n"), status_line
    lines = [status_line]
    headers: list[tuple[str, str]] = []
    while True:
        line = reader.readline()
        assert line, "connection closed inside the head"
        assert line.endswith(b"\r\n"), f"header line without CRLF {line!r}"
        lines.append(line)
        if line == b"\r\n":
            return status_line[:-2], headers, b"".join(lines)
        name, sep, value = line[:-2].partition(b":")
        assert sep and name and name == name.strip(), f"bad header line {line!r}"
        name = name.decode("latin-1")
        assert name.lower() not in (n.lower() for n, _ in headers), f"duplicate header {name}"
        headers.append((name, value.strip().decode("latin-1")))


def read_chunks(reader, probed: bool = False) -> list[bytes]:
    """The payloads of a chunked body, up to and including its zero chunk (no trailers);
    ``probed``: one size line may have one leading zero (see read_response)."""
    chunks = []
    padded = 0
    while True:
        size_line = reader.readline()
        assert size_line.endswith(b"\r\n"), f"chunk size line {size_line!r}"
        size_text = size_line[:-2]
        assert size_text and HEX.issuperset(size_text), size_text
        if probed and len(size_text) > 1 and size_text.startswith(b"0") and not padded:
            padded, size_text = 1, size_text[1:]
        assert size_text == b"0" or not size_text.startswith(b"0"), f"padded size {size_text!r}"
        size = int(size_text, 16)
        payload = reader.read(size)
        assert len(payload) == size, f"chunk of {size} bytes truncated"
        assert reader.read(2) == b"\r\n", "chunk not followed by CRLF"
        if size == 0:
            return chunks
        chunks.append(payload)


def parse_head(data: bytes) -> tuple[bytes, list[tuple[str, str]], bytes]:
    """(status line, headers as sent, everything after the head) of bytes that start a response."""
    reader = io.BytesIO(data)
    status_line, headers, _ = read_head(reader)
    return status_line, headers, reader.read()


def parse_response(data: bytes, head_only: bool = False, until_close: bool = True) -> tuple[Response, bytes]:
    """One response from the front of ``data`` (by default all the connection sent); it and the rest."""
    reader = io.BytesIO(data)
    response = read_response(reader, head_only=head_only, until_close=until_close)
    return response, reader.read()


def parse_responses(data: bytes, head_only: bool = False) -> list[Response]:
    """Every response in ``data``; fails if anything is left over or malformed."""
    reader = io.BytesIO(data)
    out = []
    while reader.tell() < len(data):
        out.append(read_response(reader, head_only=head_only, until_close=True))
    return out


# -- sending -------------------------------------------------------------------------------

def get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    """A request without a body: ``get("/health", "Connection: close")``."""
    lines = [f"{method} {path} HTTP/{version}", "Host: test", *headers, "", ""]
    return "\r\n".join(lines).encode()


def http_request(server, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes on a new connection, read until the server closes; everything received."""
    with server.connect(timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)
