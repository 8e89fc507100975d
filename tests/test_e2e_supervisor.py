"""A single process that cannot start says so in one line (issue 13, point 4)."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def start_limited(nofile: int, *args: str) -> subprocess.Popen:
    """fastmock with at most ``nofile`` open files, in a session of its own."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    return subprocess.Popen([sys.executable, "-m", "fastmock", "--host", "127.0.0.1", "--port", "0",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=limit, start_new_session=True)


def outcome(proc: subprocess.Popen, timeout: float = 10) -> tuple[int | None, str]:
    """(exit code, output) of a process that should end by itself; (None, output) if it
    was still running after ``timeout`` (then it and its workers are stopped)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the session this test started
        out, _ = proc.communicate()
        return None, out


@pytest.mark.parametrize("nofile", [5, 8, 11, 14])
def test_a_single_process_that_cannot_start_says_so_in_one_line(nofile):
    """Short of fds it printed a traceback (or libuv aborted it)."""
    code, out = outcome(start_limited(nofile))
    assert code == 1 and out == "fastmock: cannot start: Too many open files\n", out


def test_a_single_process_with_enough_fds_starts():
    proc = start_limited(64)
    try:
        assert "listening on http://127.0.0.1:" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert outcome(proc)[0] == 0
