"""A strict little HTTP/1.1 response reader for tests over real sockets."""
from __future__ import annotations

import json


class Response:
    def __init__(self, version: str, status: int, headers: dict[str, str], body: bytes,
                 chunked: bool) -> None:
        self.version = version
        self.status = status
        self.headers = headers
        self.body = body
        self.chunked = chunked

    def json(self):
        return json.loads(self.body)

    def sse_events(self) -> list[str]:
        """The data of each SSE event, in order (strictly "data: X\\n\\n" frames)."""
        text = self.body.decode()
        assert text.endswith("\n\n"), text[-200:]
        events = text[:-2].split("\n\n")
        assert all(e.startswith("data: ") for e in events), events
        return [e[len("data: "):] for e in events]


def read_response(reader, *, head_only: bool = False, until_close: bool = False) -> Response:
    """Read one response from a binary file object (sock.makefile("rb"))."""
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1."), status_line
    version, status, _ = status_line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = reader.readline()
        assert line, "connection closed inside the head"
        if line == b"\r\n":
            break
        name, _, value = line.decode().partition(":")
        assert name.lower() not in headers, f"duplicate header {name}"
        headers[name.lower()] = value.strip()
    chunked = headers.get("transfer-encoding") == "chunked"
    if head_only or int(status) in (100, 204, 304):
        body = b""
    elif chunked:
        body = read_chunked(reader)
    elif "content-length" in headers:
        body = reader.read(int(headers["content-length"]))
    else:
        assert until_close or headers.get("connection") == "close", headers
        body = reader.read()
    return Response(version, int(status), headers, body, chunked)


def read_chunked(reader) -> bytes:
    parts = []
    while True:
        size_line = reader.readline()
        assert size_line.endswith(b"\r\n"), size_line
        size = int(size_line, 16)
        if size == 0:
            assert reader.readline() == b"\r\n"
            return b"".join(parts)
        parts.append(reader.read(size))
        assert reader.read(2) == b"\r\n"


def get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: test", *headers, "", ""]
    return "\r\n".join(lines).encode()


def chat_deltas(events: list[str]) -> tuple[str, list[dict]]:
    """The text of OpenAI chunk events (before [DONE]) and the parsed chunks."""
    assert events[-1] == "[DONE]", events[-3:]
    chunks = [json.loads(e) for e in events[:-1]]
    return "".join(c["choices"][0]["delta"]["content"] for c in chunks), chunks
