"""The pytest plugin (entry point ``pytest11``): a ``fastmock`` fixture for tests of LLM apps.

    def test_weather(fastmock):
        fastmock.add(match={"userMessage": "weather"}, response={"content": "Sunny."})
        reply = OpenAI().chat.completions.create(model="gpt-4o", messages=[...])
        assert fastmock.journal()[0]["path"] == "/v1/chat/completions"

One server per test session, started on a free port in a subprocess the first time a
test asks for it; each test gets ``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL`` and
``OLLAMA_HOST`` pointed at it (and placeholder API keys when none are set), and a reset
afterwards (the journal, sequence counters and the fixtures it added). Loading the
plugin imports nothing of the server and starts nothing: a project that never asks for
the fixture pays for neither. It talks to the server with urllib only.
"""
import json
import os
import re
import subprocess
import sys
import threading

import pytest

_LISTENING = re.compile(r"listening on http://([^ ]+):(\d+)")
START_SECONDS = 20


class FastmockServer:
    """A fastmock process for the test session, and its control API."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fastmock", "--host", "127.0.0.1", "--port", "0",
             "--delay-ms", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list = []
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._drain, args=(ready,), daemon=True).start()
        if not ready.wait(START_SECONDS) or not self.port:
            self.stop()
            raise RuntimeError("fastmock did not start:\n" + "".join(self.lines))

    def _drain(self, ready: threading.Event) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            found = _LISTENING.search(line)
            if found and not ready.is_set():
                self.port = int(found.group(2))
                ready.set()
        ready.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def control(self, method: str, path: str, body=None, headers: dict | None = None):
        """One control-API call: (its JSON answer, its headers)."""
        import urllib.error          # here, not at plugin load: ~10 ms a project without
        import urllib.request        # the fixture would pay at every pytest start
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/__fastmock/" + path, data=data,
                                         method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read()), response.headers
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            exc.close()
            raise AssertionError(f"fastmock {method} /__fastmock/{path}: {exc.code} {detail}") \
                from None


class Fastmock:
    """What a test gets from the ``fastmock`` fixture."""

    def __init__(self, server: FastmockServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:PORT`` (OpenAI's is ``url + "/v1"``)."""
        return self.server.url

    def add(self, match: dict | None = None, response: dict | None = None, *,
            prepend: bool = False, **fields) -> dict:
        """Add one fixture in aimock's format (``streamingProfile=``, ``chunkSize=`` too)."""
        fixture = {"match": match or {}, "response": response or {}, **fields}
        return self.add_fixtures([fixture], prepend=prepend)

    def add_fixtures(self, fixtures: list, *, prepend: bool = False) -> dict:
        """Add fixtures (a list of aimock fixture objects)."""
        path = "fixtures?prepend=1" if prepend else "fixtures"
        return self.server.control("POST", path, {"fixtures": fixtures})[0]

    def fixtures(self) -> list:
        return self.server.control("GET", "fixtures")[0]["fixtures"]

    def journal(self, **filters) -> list:
        """The requests this test made, newest first (filters: path, model, requestId, ...)."""
        from urllib.parse import quote
        query = "&".join(f"{k}={quote(str(v))}" for k, v in filters.items())
        return self.server.control("GET", "journal" + ("?" + query if query else ""))[0]

    def reset(self, fixtures: bool = True) -> None:
        """Clear the journal and sequence counters (and the added fixtures)."""
        self.server.control("POST", "reset?fixtures=1" if fixtures else "reset")


@pytest.fixture(scope="session")
def fastmock_server():
    """The session's fastmock process (started when a test first asks for ``fastmock``)."""
    server = FastmockServer()
    yield server
    server.stop()


@pytest.fixture
def fastmock(fastmock_server, monkeypatch):
    """A fastmock server for this test: SDKs read from the environment are pointed at it."""
    url = fastmock_server.url
    monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("OLLAMA_HOST", url)
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        if not os.environ.get(key):
            monkeypatch.setenv(key, "fastmock-key")
    mock = Fastmock(fastmock_server)
    mock.reset()
    yield mock
    mock.reset()
