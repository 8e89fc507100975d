"""What the provider-API and SDK tests share: the corpus they expect, hostile strings, timing,
raw HTTP, and the SDK clients a test opened."""
from __future__ import annotations

import asyncio
import json
import time

from fastmock.frames import DEFAULT_TEXT, split_tokens
from support.http import read_response

TEXT = DEFAULT_TEXT
TOKENS = split_tokens(TEXT)
# Quotes, backslashes, control characters, line/paragraph separators, non-ASCII, an emoji.
HOSTILE = 'mo"del\\x\x00\x01\x1f\n\r\t\u2028\u2029é漢🙂</script>{"a":1}'
# Error statuses the status control is tried with
STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 503, 529)


def prompt_tokens(*texts: str) -> int:
    """The server's prompt count: the corpus tokenisation of every text."""
    return sum(len(split_tokens(t)) for t in texts if t)


def run(coro):
    """Run one coroutine on a fresh loop (the async clients' tests)."""
    return asyncio.run(coro)


OPEN: list = []        # every SDK client a test opened, closed with its module's server


def opened(client):
    """An SDK client, entered now and exited by close_opened() (the server fixture's teardown)."""
    OPEN.append(client.__enter__())
    return client


def close_opened() -> None:
    while OPEN:
        OPEN.pop(0).__exit__(None, None, None)


class Timer:
    def __enter__(self):
        self.start = time.monotonic()
        self.first = None
        return self

    def mark(self) -> None:
        """The first token arrived."""
        if self.first is None:
            self.first = time.monotonic() - self.start

    def __exit__(self, *exc):
        self.elapsed = time.monotonic() - self.start
        return False


def post(server, path: str, body, *headers: str, version: str = "1.1", raw: bytes | None = None,
         method: str = "POST"):
    """One request on its own connection; returns the parsed Response (until close for 1.0)."""
    data = raw if raw is not None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    lines = [f"{method} {path} HTTP/{version}", "Host: t", "Content-Type: application/json",
             f"Content-Length: {len(data)}", *headers, "", ""]
    with server.connect(10) as sock:
        sock.sendall("\r\n".join(lines).encode() + data)
        return read_response(sock.makefile("rb"), head_only=method == "HEAD",
                             until_close=version == "1.0")


def assert_health(server) -> None:
    """The server still answers after whatever the test did to it."""
    with server.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        response = read_response(sock.makefile("rb"))
    assert response.status == 200 and response.json() == {"status": "ok"}
