"""The tests by kind, their markers, and the fixtures that start the real server.

    tests/unit       the fake loop and pure functions: no server, no socket
    tests/e2e        the real server (a subprocess, or its App on a real loop) over TCP  -> e2e
    tests/sdk        the official openai, anthropic and ollama clients against it       -> e2e, sdk
    tests/container  the Dockerfile, compose and Kubernetes files; the image's venv      -> container
                     (its tests that start that server are marked e2e one by one)

Plain helpers live in tests/support (imported as ``support.*``); every fixture lives in a
conftest.py: here the ones that start a plain server (e2e and sdk share them), and each kind's
own in tests/<kind>/conftest.py. A test module defines none and imports none from a conftest.
"""
from __future__ import annotations

import pathlib

import pytest

from support.server import LiveServer

pytest_plugins = ["pytester"]     # tests/sdk/test_sdk_pytest_plugin.py runs pytest in pytest

TESTS = pathlib.Path(__file__).parent
KINDS = ("unit", "e2e", "sdk", "container")
MARKERS = {"e2e": ("e2e",), "sdk": ("e2e", "sdk"), "container": ("container",)}
SERVER_FIXTURES = {"start_server", "server", "api_server"}


def pytest_collection_modifyitems(config, items) -> None:
    """Each test gets its kind's markers; a test outside the kinds, or a unit test that asks
    for a server, is refused."""
    for item in items:
        if TESTS not in item.path.parents:
            continue
        kind = item.path.relative_to(TESTS).parts[0]
        if kind not in KINDS:
            raise pytest.UsageError(f"{item.nodeid}: a test goes in tests/unit, e2e, sdk or container")
        for marker in MARKERS.get(kind, ()):
            item.add_marker(marker)
        if kind == "unit" and SERVER_FIXTURES.intersection(item.fixturenames):
            raise pytest.UsageError(f"{item.nodeid} starts a server: it belongs in tests/e2e")


@pytest.fixture
def start_server():
    """start_server(*flags) -> LiveServer; every server is stopped and its log checked."""
    servers: list[LiveServer] = []

    def start(*args: str, env: dict | None = None) -> LiveServer:
        server = LiveServer(*args, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop_cleanly()


@pytest.fixture
def server(start_server) -> LiveServer:
    """A server with fast default pacing (5 ms), so whole streams finish quickly."""
    return start_server("--delay-ms", "5")


@pytest.fixture(scope="module")
def api_server():
    """One server per module for the provider-API tests, paced at 1 ms so whole streams are quick.

    Its log is checked at the end: no traceback and no error, whatever the tests sent it.
    """
    server = LiveServer("--delay-ms", "1")
    yield server
    server.stop_cleanly()
