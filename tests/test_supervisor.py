"""The supervisor with stand-in workers (it knows processes, not servers): each test runs a
small script in a process of its own, which forks workers whose life is a few lines.

Signals around fork (issue 12, bug 2); restarts, readiness and giving up (bug 1).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

HEAD = """\
import os, signal, sys, time, logging
logging.basicConfig(level="INFO", stream=sys.stderr, format="%(levelname)s %(message)s")
from fastmock.supervisor import Supervisor

def announce(*ready):
    print("announced", *ready, file=sys.stderr, flush=True)

PARENT = os.getpid()

def serve_forever(number, ready):
    ready()
    while os.getppid() == PARENT:       # an orphan ends itself
        time.sleep(0.1)
    return 3
"""


class Script:
    """A supervisor script running in its own process, its stderr collected line by line."""

    def __init__(self, tmp_path, body: str) -> None:
        path = tmp_path / "supervise.py"
        path.write_text(HEAD + body)
        # a session of its own: the teardown ends the script and every worker it forked
        self.proc = subprocess.Popen([sys.executable, str(path)], stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log)
            if match:
                return match
            time.sleep(0.02)
        return None

    def finish(self, sig: int | None = signal.SIGTERM, timeout: float = 15) -> int:
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill_group()

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)   # the group this test started, by its id
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._reader.join(5)
        if not self._reader.is_alive():
            self.proc.stderr.close()


@pytest.fixture
def script(tmp_path):
    scripts: list[Script] = []

    def start(body: str) -> Script:
        scripts.append(Script(tmp_path, body))
        return scripts[-1]

    yield start
    for s in scripts:
        s.kill_group()


# -- signals around fork (bug 2) ---------------------------------------------------------

def test_a_sigterm_right_after_fork_does_not_run_the_parents_handler_in_the_child(script):
    """Worker 1 gets a SIGTERM the moment it is forked, before it could reset its handlers.
    Were the parent's handler to run there, it would SIGTERM worker 0 from its copy of the
    children list. Blocked across the fork, the signal finds the default action: worker 1
    dies alone, and the parent replaces it."""
    s = script("""
forks = []
def before_fork():
    forks.append(1)
    if len(forks) == 2:
        time.sleep(0.5)       # worker 0 is up, with its own handlers, before worker 1 is forked
def at_fork_in_child():
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    os.write(2, f"blocked at fork: {signal.SIGTERM in blocked and signal.SIGINT in blocked}\\n".encode())
    if len(forks) == 2:
        os.kill(os.getpid(), signal.SIGTERM)
os.register_at_fork(before=before_fork, after_in_child=at_fork_in_child)
sys.exit(Supervisor(2, serve_forever).run(announce))
""")
    assert s.wait_for(r"announced", timeout=40)   # the start-up still waits 30 s for worker 1
    assert s.wait_for(r"worker 1 \(pid \d+\) (exited with -15|was killed by SIGTERM)"), s.log
    time.sleep(0.5)
    assert s.finish() == 0, s.log
    assert not re.search(r"worker 0 \(pid \d+\) (exited|was killed)", s.log), s.log
    assert "blocked at fork: False" not in s.log, s.log
    assert "blocked at fork: True" in s.log


def test_the_child_starts_with_default_handlers_and_nothing_blocked(script):
    s = script("""
def report(number, ready):
    handlers = [signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)]
    os.write(2, f"worker {number} handlers {handlers == [signal.SIG_DFL] * 3} "
                f"blocked {sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))} "
                f"wakeup {signal.set_wakeup_fd(-1)}\\n".encode())
    return serve_forever(number, ready)
sys.exit(Supervisor(2, report).run(announce))
""")
    assert s.wait_for(r"announced")
    assert s.finish() == 0
    assert s.log.count("handlers True blocked [] wakeup -1") == 2, s.log
