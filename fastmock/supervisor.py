"""``--workers N``: a parent process that forks N workers and keeps them running.

It knows processes, not servers: what a worker does is the ``target`` callable it is
given (as uvicorn's ``Multiprocess(config, target=server.run, sockets=...)``), so nothing
here imports the server. The parent restarts a worker that dies and forwards
SIGTERM/SIGINT to all of them.
"""
import logging
import os
import select
import signal
import sys
import time

log = logging.getLogger("fastmock")

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Supervisor:
    """The parent of ``count`` workers: restarts one that dies, forwards SIGTERM/SIGINT to all.

    ``target(number, ready)`` is a worker's whole life, run in the forked child: it calls
    ``ready()`` once it serves and returns the exit code. ``on_exit(number)`` is called in
    the parent when worker ``number`` has died, before it is replaced.
    """

    def __init__(self, count: int, target, on_exit=None) -> None:
        self.count = count
        self.target = target
        self.on_exit = on_exit
        self.children: dict[int, int] = {}   # pid -> worker number
        self.stopping = False
        self.ready_r, self.ready_w = os.pipe()  # each worker writes one byte once it listens

    def run(self, announce) -> int:
        """Start the workers, call ``announce()`` once they are up, and supervise until a signal."""
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, self._on_signal)
        for number in range(self.count):
            self._spawn(number)
        ready, deadline = 0, time.monotonic() + 30  # a worker that fails to start is restarted below
        while ready < self.count and not self.stopping and time.monotonic() < deadline:
            if select.select([self.ready_r], [], [], 0.2)[0]:  # short waits: a signal may come
                ready += len(os.read(self.ready_r, self.count - ready))
        announce()
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
                if self.on_exit is not None:
                    self.on_exit(number)
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
        # A signal that comes between fork() and the child's own set-up would run this
        # parent's handler in the child, with its copy of the children list: it is held
        # until the child has the default handlers (the pattern of multiprocessing's
        # forkserver and gunicorn).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        pid = os.fork()
        if pid:
            self.children[pid] = number
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            return
        # the worker
        code = 1
        try:
            for sig in HANDLED_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            code = self.target(number, lambda: os.write(self.ready_w, b"."))
        except BaseException:
            log.exception("worker %d failed", number)
        finally:
            sys.stderr.flush()
            os._exit(code)
