"""``--workers N``: a parent process that forks N workers and keeps them running.

It knows processes, not servers: what a worker does is the ``target`` callable it is
given (as uvicorn's ``Multiprocess(config, target=server.run, sockets=...)``), so nothing
here imports the server.

- Each worker tells the parent, through a pipe, that it is ready or why it could not
  start. The parent says it is ready (``announce``) once every worker is, or once each
  has tried and at least one serves; when none can start, it gives up (``NoWorkers``).
- A worker that dies is restarted after a wait that doubles while its slot's workers die
  young (0.1 s up to 10 s, back to 0.1 s once one has lived 10 s), so a worker killed as
  soon as it starts costs a restart every 10 s, not a crash loop; the lines saying so are
  rate-limited as well.
- SIGTERM and SIGINT are forwarded to every worker; the parent waits for them all.
"""
import logging
import os
import select
import signal
import sys
import time

log = logging.getLogger("fastmock")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RESTART_FIRST = 0.1     # s: the wait before restarting a worker that died young...
RESTART_MAX = 10.0      # s: ...doubled each time, up to this
HEALTHY_AFTER = 10.0    # s: a worker that lived this long starts its slot's waits afresh
GIVE_UP_AFTER = 5       # failed starts in a row in every slot, none serving: give up
START_TIMEOUT = 30.0    # s: the longest the start-up waits for each worker's first word
LOG_BURST = 10          # restart lines logged at once...
LOG_EVERY = 1.0         # s: ...then one per this; the rest are counted in the next


class NoWorkers(Exception):
    """No worker could start (or start again); the message says why."""


class Backoff:
    """How long a slot waits before restarting its worker: doubling while workers die young."""

    __slots__ = ("young_deaths",)

    def __init__(self) -> None:
        self.young_deaths = 0

    def after(self, lived: float) -> float:
        """The wait after a worker that lived ``lived`` seconds has died."""
        if lived >= HEALTHY_AFTER:
            self.young_deaths = 0
        self.young_deaths += 1
        return min(RESTART_MAX, RESTART_FIRST * 2 ** min(self.young_deaths - 1, 16))


class _Slot:
    """One worker's place: its process now, and how the recent ones fared."""

    __slots__ = ("number", "pid", "started", "ready", "failed_starts", "reason", "restart_at",
                 "backoff")

    def __init__(self, number: int) -> None:
        self.number = number
        self.pid = 0                # 0: no process (waiting to restart, or stopped)
        self.started = 0.0          # monotonic time of the last fork
        self.ready = False          # the current process said it serves
        self.failed_starts = 0      # processes in a row that died before they were ready
        self.reason = ""            # why the last one could not start, if it said
        self.restart_at = 0.0
        self.backoff = Backoff()


class Supervisor:
    """The parent of ``count`` workers.

    ``target(number, ready)`` is a worker's whole life, run in the forked child: it calls
    ``ready()`` once it serves and returns the exit code. ``on_exit(number)`` is called in
    the parent when worker ``number`` has died, before it is replaced.
    """

    def __init__(self, count: int, target, on_exit=None) -> None:
        self.target = target
        self.on_exit = on_exit
        self.slots = [_Slot(number) for number in range(count)]
        self.by_pid: dict[int, _Slot] = {}
        self.stopping = False
        self.status = 0
        self._stop_sent = False
        self._giving_up = ""
        # Made here, so that a parent out of fds fails before any fork (OSError).
        self._reports_r, self._reports_w = os.pipe()  # workers: "<pid> ready" / "<pid> failed <why>"
        self._wake_r, self._wake_w = os.pipe()         # signals wake the parent's select()
        self._unread = b""
        self._log_budget, self._log_at, self._unlogged = float(LOG_BURST), 0.0, 0
        self._early_lines: list[str] | None = []   # restart lines before the ready line

    # -- the parent's loop -----------------------------------------------------------

    def run(self, announce) -> int:
        """Start the workers, call ``announce(ready_count)`` once they are up, supervise until
        SIGTERM/SIGINT; returns the exit code. Raises NoWorkers when none can start."""
        self._install_signals()
        try:
            for slot in self.slots:
                self._spawn(slot)
            self._start_up(announce)
            self._supervise()
        finally:
            signal.set_wakeup_fd(-1)
        if self._giving_up:
            raise NoWorkers(self._giving_up)
        return self.status

    def _start_up(self, announce) -> None:
        """Until every worker is ready or has failed once: then announce, or give up if none serves."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.stopping:
            self._step(deadline)
            ready = self._ready_count()
            settled = all(slot.ready or slot.failed_starts for slot in self.slots)
            late = time.monotonic() >= deadline
            if ready and (settled or late):
                for line in self._early_lines:
                    log.warning("%s", line)
                self._early_lines = None
                announce(ready)
                return
            if settled or late:
                why = self._reasons() if settled else f"none was ready within {START_TIMEOUT:.0f} s"
                self._give_up(f"cannot start any of the {len(self.slots)} workers: {why}")

    def _supervise(self) -> None:
        """Restart the workers that die, until a signal; give up when none serves or can start."""
        while self.by_pid or not self.stopping:
            self._step(None)
            if self.stopping or self._ready_count():
                continue
            if all(slot.failed_starts >= GIVE_UP_AFTER for slot in self.slots):
                self._give_up(f"no worker could start again after {GIVE_UP_AFTER} tries each: "
                              f"{self._reasons()}")

    def _step(self, deadline: float | None) -> None:
        """Wait for news and take it in; then forward a stop, or restart the workers now due."""
        self._wait(self._next_timeout(deadline))
        self._collect()
        if self.stopping:
            self._forward_stop()
        else:
            self._restart_due()

    def _ready_count(self) -> int:
        return sum(slot.ready for slot in self.slots)

    def _next_timeout(self, deadline: float | None) -> float:
        """Until the next restart or the start-up deadline; at most a second."""
        due = [] if self.stopping else [slot.restart_at for slot in self.slots if not slot.pid]
        if deadline is not None:
            due.append(deadline)
        return max(0.0, min([time.monotonic() + 1.0, *due]) - time.monotonic())

    def _wait(self, timeout: float) -> None:
        """Sleep until a worker reports, a signal comes (SIGCHLD too), or the timeout."""
        if select.select([self._reports_r, self._wake_r], [], [], timeout)[0]:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass

    def _collect(self) -> None:
        """Reap dead workers, then read every report: a worker writes before it exits."""
        exits = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            exits.append((pid, os.waitstatus_to_exitcode(status)))
        self._read_reports()
        for pid, code in exits:
            slot = self.by_pid.pop(pid, None)
            if slot is not None:
                self._on_exit(slot, pid, code)

    def _read_reports(self) -> None:
        try:
            while chunk := os.read(self._reports_r, 65536):
                self._unread += chunk
        except BlockingIOError:
            pass
        *lines, self._unread = self._unread.split(b"\n")
        for line in lines:
            pid, _, what = line.decode(errors="replace").partition(" ")
            slot = self.by_pid.get(int(pid))
            if slot is None:
                continue
            if what == "ready":
                slot.ready = True
                if slot.failed_starts and not self.stopping:
                    log.info("worker %d (pid %d) is ready", slot.number, slot.pid)
                slot.failed_starts = 0
            else:
                slot.reason = what.partition(" ")[2]

    def _on_exit(self, slot: _Slot, pid: int, code: int) -> None:
        slot.pid = 0
        if self.stopping:
            self.status = self.status or (code if code > 0 else 0)
            return
        if self.on_exit is not None:
            self.on_exit(slot.number)
        wait = slot.backoff.after(time.monotonic() - slot.started)
        slot.restart_at = time.monotonic() + wait
        if slot.ready:
            slot.ready = False
            what = f"exited with {code}"
        else:
            slot.failed_starts += 1
            what = (f"could not start: {slot.reason}" if slot.reason
                    else f"exited with {code} before it was ready")
        self._log_restart(f"worker {slot.number}{f' (pid {pid})' if pid else ''} {what}; "
                          f"starting a new one in {wait:.1f} s")

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if not slot.pid and slot.restart_at <= now:
                self._spawn(slot)

    def _reasons(self) -> str:
        reasons = dict.fromkeys(slot.reason for slot in self.slots if slot.reason)
        return "; ".join(reasons) or "they exited before they were ready"

    def _log_restart(self, line: str) -> None:
        """Log a restart line, at most LOG_BURST at once and then one per LOG_EVERY. Before
        the ready line they wait for it: if no worker can start, one line says so instead."""
        if self._early_lines is not None:
            self._early_lines.append(line)
            return
        now = time.monotonic()
        self._log_budget = min(LOG_BURST, self._log_budget + (now - self._log_at) / LOG_EVERY)
        self._log_at = now
        if self._log_budget < 1:
            self._unlogged += 1
            return
        self._log_budget -= 1
        if self._unlogged:
            line += f" ({self._unlogged} more restarts not logged)"
            self._unlogged = 0
        log.warning("%s", line)

    # -- signals and stopping --------------------------------------------------------

    def _install_signals(self) -> None:
        for fd in (self._wake_r, self._wake_w, self._reports_r):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_stop_signal)
        signal.signal(signal.SIGCHLD, self._on_child_signal)

    def _on_stop_signal(self, _sig, _frame) -> None:
        """Signal handler: SIGTERM or SIGINT; the loop forwards it."""
        self.stopping = True

    def _on_child_signal(self, _sig, _frame) -> None:
        """Signal handler: a worker exited; its byte on the wakeup fd wakes the loop."""

    def _give_up(self, why: str) -> None:
        self._giving_up = why
        self.stopping = True
        self._forward_stop()

    def _forward_stop(self) -> None:
        if self._stop_sent:
            return
        self._stop_sent = True
        for pid in self.by_pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # -- the worker ------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        # A signal that comes between fork() and the child's own set-up would run this
        # parent's handlers in the child, with its copy of the children list: they are
        # held until the child has the default handlers (as multiprocessing's forkserver
        # and gunicorn do). The parent records the child before it takes signals again.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, (*STOP_SIGNALS, signal.SIGCHLD))
        try:
            pid = os.fork()
        except OSError as exc:   # EAGAIN, ENOMEM: as a worker that could not start (pid 0)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            slot.started, slot.reason = time.monotonic(), exc.strerror or str(exc)
            self._on_exit(slot, 0, 1)
            return
        if pid:
            slot.pid, slot.started, slot.ready, slot.reason = pid, time.monotonic(), False, ""
            self.by_pid[pid] = slot
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            return
        self._be_worker(slot, held)

    def _be_worker(self, slot: _Slot, held) -> None:
        """The forked child: the parent's signal set-up undone, then the target; never returns."""
        code = 1
        said_ready = False

        def ready() -> None:
            nonlocal said_ready
            said_ready = True
            os.write(self._reports_w, b"%d ready\n" % os.getpid())

        try:
            signal.set_wakeup_fd(-1)
            for sig in (*STOP_SIGNALS, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            for fd in (self._wake_r, self._wake_w, self._reports_r):
                os.close(fd)
            code = self.target(slot.number, ready)
        except BaseException as exc:
            if said_ready:
                log.exception("worker %d failed", slot.number)
            else:
                self._report_failure(slot, exc)
        finally:
            sys.stderr.flush()
            os._exit(code)

    def _report_failure(self, slot: _Slot, exc: BaseException) -> None:
        """Tell the parent why this worker could not start; a traceback only if it is news."""
        if isinstance(exc, OSError):    # out of fds or memory, an address in use: said in a line
            why = exc.strerror or str(exc)
        else:
            why = f"{type(exc).__name__}: {exc}"
            if not slot.failed_starts:  # the same bug again need not be shown again
                log.exception("worker %d could not start", slot.number)
        line = f"{os.getpid()} failed {why}".replace("\n", " ")[:400] + "\n"
        try:
            os.write(self._reports_w, line.encode(errors="replace"))
        except OSError:
            pass

