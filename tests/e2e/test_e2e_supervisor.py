"""--workers N with the real server (issue 12, bug 1): workers that keep dying are restarted
with a growing wait, not in a loop; the ready line means every worker listens; when no
worker can start, one line and exit 1, at once. And a single process that cannot start
says so in one line too (issue 13, point 4)."""
from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time

import pytest

from support.http import get, http_request
from support.server import children, wait_for

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


def test_workers_killed_as_they_start_are_restarted_with_a_growing_wait(start_server):
    """Killing each new worker for 5 s gave 2,333 restarts and as many log lines."""
    server = start_server("--workers", "2")
    assert wait_for(lambda: len(children(server.proc.pid)) == 2)
    survivor = children(server.proc.pid)[0]
    killed: set[int] = set()
    end = time.monotonic() + 5
    while time.monotonic() < end:
        for pid in set(children(server.proc.pid)) - killed - {survivor}:
            os.kill(pid, signal.SIGUSR1)   # unhandled: the worker dies at once
            killed.add(pid)
        time.sleep(0.005)
    restarts = re.findall(r"worker \d \(pid (\d+)\) (?:exited with -10|exited with -10 before it "
                          r"was ready); starting a new one in ([\d.]+) s", server.log)
    assert 4 <= len(killed) <= 8, server.log
    assert len(restarts) == len(killed), server.log
    waits = [float(wait) for _, wait in restarts]
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0][:len(waits)], server.log
    assert len(server.lines) <= len(killed) + 2, server.log
    assert http_request(server, get("/health", "Connection: close")).endswith(b'{"status":"ok"}')
    # once the killing stops, the slot is filled again (the last wait is at most 3.2 s)
    assert wait_for(lambda: len(set(children(server.proc.pid)) - killed) == 2, timeout=10)


def test_the_ready_line_means_every_worker_listens(start_server):
    server = start_server("--workers", "3")
    out = subprocess.run(["ss", "-ltnH", f"( sport = :{server.port} )"], capture_output=True,
                         text=True, check=True).stdout
    assert len(out.splitlines()) == 3, out     # one SO_REUSEPORT socket per worker


@pytest.mark.parametrize("nofile", [8, 11, 14])
def test_workers_that_cannot_start_end_it_at_once_with_one_line(nofile):
    """Out of fds, workers cannot start: the parent printed 'listening' after 27 s although
    nothing listened, and restarted them ~1,400 times per 5 s."""
    start = time.monotonic()
    code, out = outcome(start_limited(nofile, "--workers", "2"))
    assert code == 1, out
    assert time.monotonic() - start < 5
    # the parent itself may be the one short of fds at the lowest limits
    assert out.splitlines() in (["fastmock: cannot start any of the 2 workers: Too many open files"],
                                ["fastmock: cannot start: Too many open files"]), out


def test_workers_that_cannot_start_are_told_from_a_parent_that_cannot():
    _, out = outcome(start_limited(14, "--workers", "2"))
    assert out == "fastmock: cannot start any of the 2 workers: Too many open files\n"


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
