"""``--workers N``: a parent process that forks N servers on one port and keeps them running.

Each worker listens on its own SO_REUSEPORT socket (the kernel spreads connections) and
writes its own row of the shared counters; the parent restarts a worker that dies and
forwards SIGTERM/SIGINT to all of them.
"""
import logging
import os
import select
import signal
import sys
import time

from fastmock._engine import Counters
from fastmock.frames import Frames
from fastmock.server import HANDLED_SIGNALS, announce_line, bind_socket, serve

log = logging.getLogger("fastmock")


class Supervisor:
    """The parent of N workers: restarts one that dies, forwards SIGTERM/SIGINT to all."""

    def __init__(self, config, frames: Frames, counters: Counters, host: str, port: int,
                 count: int) -> None:
        self.config = config
        self.frames = frames
        self.counters = counters
        self.host = host
        self.port = port
        self.count = count
        self.children: dict[int, int] = {}   # pid -> worker number
        self.stopping = False
        self.ready_r, self.ready_w = os.pipe()  # each worker writes one byte once it listens

    def run(self, announce: str) -> int:
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, self._on_signal)
        for number in range(self.count):
            self._spawn(number)
        ready, deadline = 0, time.monotonic() + 30  # a worker that fails to start is restarted below
        while ready < self.count and not self.stopping and time.monotonic() < deadline:
            if select.select([self.ready_r], [], [], 0.2)[0]:  # short waits: a signal may come
                ready += len(os.read(self.ready_r, self.count - ready))
        announce_line(announce)
        status = 0
        while self.children:
            try:
                pid, code = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            number = self.children.pop(pid, None)
            if number is None:
                continue
            code = os.waitstatus_to_exitcode(code)
            if self.stopping:
                status = status or (code if code > 0 else 0)
            else:
                log.warning("worker %d (pid %d) exited with %d; starting a new one", number, pid, code)
                self.counters.reset_gauges(number)
                self._spawn(number)
        return status

    def _on_signal(self, sig, _frame) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _spawn(self, number: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = number
            return
        # the worker
        code = 1
        try:
            for sig in HANDLED_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            sock = bind_socket(self.host, self.port, self.config.backlog, reuse_port=True)
            self.counters.select(number)
            code = serve(self.config, self.frames, sock, lambda: os.write(self.ready_w, b"."),
                         self.counters)
        except BaseException:
            log.exception("worker %d failed", number)
        finally:
            sys.stderr.flush()
            os._exit(code)
