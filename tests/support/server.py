"""A fastmock process for the tests that start one, and what /proc says about it."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

LISTENING = re.compile(r"listening on http://([^ ]+):(\d+)")


class LiveServer:
    """A fastmock process: its address, its log, and a strict check that nothing went wrong."""

    def __init__(self, *args: str, env: dict | None = None, prefix: list[str] = (),
                 python: list[str] = (sys.executable,)) -> None:
        """``prefix``: a command that runs the server, e.g. a cgroup's enter_prefix();
        ``python``: the interpreter and its options."""
        self.args = ["--host", "127.0.0.1", "--port", "0", *args]
        self.proc = subprocess.Popen(
            [*prefix, *python, "-m", "fastmock", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.port = 0
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if not self._ready.wait(15):
            self.proc.kill()
            raise RuntimeError("fastmock did not start:\n" + "".join(self.lines))

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match and not self._ready.is_set():
                self.port = int(match.group(2))
                self._ready.set()
        self._ready.set()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        finally:
            self._drainer.join(5)
            self.proc.stdout.close()

    def assert_clean_log(self) -> None:
        """No traceback and no error: the loop's exception handler was never called."""
        text = self.log
        assert "Traceback" not in text and " ERROR " not in text, text

    def stop_cleanly(self) -> None:
        """Stop it (SIGTERM) and check that it exited 0 with a clean log."""
        code = self.stop()
        self.assert_clean_log()
        assert code == 0, f"exit code {code}\n{self.log}"


def children(pid: int) -> list[int]:
    """The pids of a process's children (a supervisor's workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def replaced(pid: int, gone, count: int) -> bool:
    """True when one look at the supervisor's children finds ``count`` workers, none of
    them in ``gone`` (two looks could see the old worker, then its reaping: a false yes)."""
    now = children(pid)
    return len(now) == count and not set(gone) & set(now)


def socket_count(pid: int) -> int:
    """How many sockets a process holds open."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns something true or ``timeout`` passes; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@contextlib.contextmanager
def streams_on_every_worker(server, n: int, close=None):
    """``n`` open /stream-loop streams (a token every 200 ms) that the kernel spread over
    every worker of ``server`` (asserted: else a test of the workers' sums proves nothing);
    each socket is closed on the way out, by ``close(sock)`` when given."""
    workers = children(server.proc.pid)
    base = {pid: socket_count(pid) for pid in workers}
    held = [server.connect() for _ in range(n)]
    try:
        for sock in held:
            sock.sendall(b"GET /stream-loop?delay_ms=200 HTTP/1.1\r\nHost: test\r\n\r\n")
            sock.recv(100)
        assert all(socket_count(pid) > base[pid] for pid in workers), (base, workers)
        yield held
    finally:
        for sock in held:
            (close or socket.socket.close)(sock)
