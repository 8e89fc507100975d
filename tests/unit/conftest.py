"""The fake loop's fixtures: a manual-clock loop that fails the test on any unexpected error."""
from __future__ import annotations

import logging

import pytest

from support.fakes import Client, ManualClockLoop


@pytest.fixture
def loop(caplog):
    """A manual-clock loop; the test fails if anything reached its exception handler,
    or if fastmock logged more errors than the test declared in ``loop.expected_errors``."""
    loop = ManualClockLoop()
    loop.expected_errors = 0
    yield loop
    assert loop.exception_contexts == [], loop.exception_contexts
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert len(errors) == loop.expected_errors, [r.getMessage() for r in errors]


@pytest.fixture
def client(loop) -> Client:
    """A connection to a server whose streams tick every 10 ms with no TTFT."""
    c = Client(loop, delay_ms=10)
    yield c
    assert c.transport.writes_after_close == [], "written after close()/abort()"
