"""A server under test: its command, label and port; started pinned to the server core
(inside a cgroup when asked), probed, and stopped with its whole process tree."""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time

from support import probe  # tests/support, on the path from lib/__init__.py

from .log import log
from .procfs import tree_pids


class Server:
    """One server under test: its command, label, port; start()/stop() one process."""

    running: list["Server"] = []

    def __init__(self, label: str, cmd: str, port: int, args, logdir: str, phases: set[str] | None = None):
        self.label, self.cmd, self.port, self.args, self.logdir = label, cmd, port, args, logdir
        self.phases = phases  # the phases it takes part in (None: all)
        self.proc: subprocess.Popen | None = None
        self.pids: set[int] = set()
        self.starts = 0
        self.streams: bool | None = None  # serves /stream-sse as text/event-stream? (probed once)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        cmd = self.cmd.replace("{port}", str(self.port)).replace("{host}", "127.0.0.1")
        argv = shlex.split(cmd)
        if self.args.server_cpu != "":
            argv = ["taskset", "-c", self.args.server_cpu] + argv
        return argv

    def start(self, tag: str, cgroup=None) -> float | None:
        """start (inside ``cgroup`` when given), wait for /health; returns the start-up time
        in ms (None on failure)"""
        wait_port_free(self.port)
        self.starts += 1
        logf = open(os.path.join(self.logdir, f"server-{self.label}-{tag}.log"), "wb")
        env = dict(os.environ, PORT=str(self.port), HOST="127.0.0.1")
        pre = cgroup.join_self if cgroup else None
        t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(self.argv(), stdout=logf, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, preexec_fn=pre, start_new_session=True)
        except OSError as e:
            log(f"{self.label}: cannot start {self.cmd!r}: {e}")
            return None
        finally:
            logf.close()
        Server.running.append(self)
        deadline = t0 + self.args.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log(f"{self.label}: server exited during start-up (rc {self.proc.returncode}, see {logf.name})")
                self.stop()
                return None
            if probe.healthy(self.port):
                ms = (time.monotonic() - t0) * 1000
                self.pids = set(tree_pids(self.proc.pid))
                if self.streams is None:
                    self.streams = streams_ok(self.port)
                    if not self.streams:
                        log(f"{self.label}: /stream-sse is not an event stream here; streaming phases skipped")
                return round(ms, 1)
            time.sleep(0.002)
        log(f"{self.label}: no /health answer within {self.args.start_timeout} s")
        self.stop()
        return None

    def warm_page_cache(self, tag: str) -> None:
        """Start and stop once outside any cgroup, so that what the server reads is cached.

        A file page is charged to the cgroup that first reads it. This machine's page cache
        is reclaimed within minutes and its disk reads ahead 8 MiB, so a cold start charges
        5-8 MiB of interpreter and library pages to the cgroup, a warm one almost none;
        the limits phase measures warm, as on a host that has run the server before.
        """
        self.start(tag)   # it answers /health before start() returns
        self.stop()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        pids = set(self.pids)
        if self.proc.poll() is None:
            pids |= set(tree_pids(self.proc.pid))
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        # anything of ours still there (workers, a server that ignored SIGTERM)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"WARNING: {self.label} pid {self.proc.pid} did not exit")
        self.proc = None
        self.pids = set()
        if self in Server.running:
            Server.running.remove(self)


def streams_ok(port: int) -> bool:
    """does the server answer /stream-sse with an event stream? (nginx `return 200` does not)"""
    try:
        status, head, _ = probe.exchange(port, b"GET /stream-sse?delay_ms=0&max_tokens=2 HTTP/1.0\r\n"
                                              b"Host: 127.0.0.1\r\n\r\n", timeout=2, head_only=True)
    except OSError:
        return False
    return status == 200 and b"text/event-stream" in head


def launch(argv: list[str], port: int, logfile: str, *, env=None, timeout: float = 20,
           name: str = "bench", stderr=subprocess.STDOUT) -> subprocess.Popen:
    """Start a server (its own session, stdout to ``logfile``) and wait for its /health
    (bench/accesslog.py and bench/soak.py, which need no Server)."""
    wait_port_free(port)
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=stderr, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    try:
        probe.wait_healthy(port, proc, time.monotonic() + timeout, interval=0.01)
    except AssertionError as e:
        terminate(proc)
        raise SystemExit(f"{name}: the server did not start ({' '.join(argv)}): {e}; see {logfile}") from None
    return proc


def terminate(proc: subprocess.Popen, wait: float = 10) -> int | None:
    """SIGTERM to the server's session, SIGKILL if it has not exited after ``wait`` s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port_free(port: int, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while port_in_use(port):
        if time.monotonic() > end:
            raise SystemExit(f"bench: port {port} is in use by something else; pick another with --port")
        time.sleep(0.1)


def label_for(cmd: str, taken: set[str]) -> str:
    """a short name for a baseline command: its program's name, made unique"""
    words = shlex.split(cmd)
    name = "server"
    skip_next = False
    for w in words:
        if skip_next:
            skip_next = False
            continue
        if w in ("env", "exec", "nice", "sudo", "stdbuf") or "=" in w:
            continue
        if w in ("taskset", "-c", "numactl"):
            skip_next = w == "-c"
            continue
        if w.startswith("-"):
            continue
        name = os.path.basename(w)
        name = re.sub(r"\.(sh|py)$", "", name)
        break
    base, i = name, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name
