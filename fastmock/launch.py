"""Start what the Config asks for: one server process, or a supervisor of several.

It binds the port once, before any fork (so port 0 is resolved and a port in use is
one line), prints the line that says the server is ready, and turns a start that
fails (no free fds, say) into one line and exit status 1.
"""
import os
import sys

from fastmock import __version__
from fastmock._engine import Counters
from fastmock.server import bind_socket, load_frames, serve


def launch(config) -> int:
    """Run one process or supervise ``config.workers`` of them; returns the exit code."""
    frames = load_frames(config)
    scripts = None
    if config.fixtures:       # loaded only when given: an idle server never imports them
        from fastmock.fixtures.errors import FixtureError
        from fastmock.providers.scripted import Scripts
        try:
            scripts = Scripts.load(config)
        except FixtureError as exc:
            say(f"fastmock: fixtures: {exc}")
            return 2
        for line in scripts.notices:
            say(f"fastmock: {line}")
    workers = config.workers or _one_per_cpu()
    try:
        # With several workers this socket only reserves the port (and resolves port 0);
        # each worker listens on its own SO_REUSEPORT socket, and the kernel spreads connections.
        sock = bind_socket(config.host, config.port, config.backlog, reuse_port=workers > 1,
                           listen=workers == 1)
    except OSError as exc:
        say(f"fastmock: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}")
        return 1
    host, port = sock.getsockname()[:2]
    said = False

    def announce(ready: int) -> None:
        """The line that says the server is ready: every worker, or how many of them."""
        nonlocal said
        said = True
        count = (f"{workers} worker{'s' if workers > 1 else ''}" if ready == workers
                 else f"{ready} of {workers} workers ready")
        say(f"fastmock {__version__} listening on http://{_show(host)}:{port} "
            f"(pid {os.getpid()}, {count}, {len(frames.corpus)} tokens)")

    try:
        # Made before any fork, so that every worker writes its own row of the same counters.
        counters = Counters(workers)
        if workers == 1:
            return serve(config, frames, sock, lambda: announce(1), counters, scripts)
        return _supervise(config, frames, counters, sock, workers, announce, scripts)
    except OSError as exc:
        if said:
            raise
        say(f"fastmock: cannot start: {exc.strerror or exc}")
        return 1


def _supervise(config, frames, counters: Counters, sock, workers: int, announce,
               scripts) -> int:
    from fastmock.supervisor import NoWorkers, Supervisor

    host, port = sock.getsockname()[:2]

    def worker(number: int, ready) -> int:
        """One worker's life, in the forked child: its own socket, its own counters row."""
        sock.close()  # the parent's reservation
        listener = bind_socket(host, port, config.backlog, reuse_port=True)
        counters.select(number)
        return serve(config, frames, listener, ready, counters, scripts)

    supervisor = Supervisor(workers, worker, on_exit=counters.reset_gauges)
    try:
        return supervisor.run(announce)
    except NoWorkers as exc:
        say(f"fastmock: {exc}")
        return 1


def _one_per_cpu() -> int:
    """``--workers 0``: one per CPU the process may use, as the Go runtime and the JVM count
    them: the cores it may run on, fewer if its cgroup's CPU quota allows fewer (rounded up)."""
    import math

    from fastmock import cgroup

    cores = len(os.sched_getaffinity(0))
    quota = cgroup.cpu_limit()
    if quota is None:
        return cores
    return max(1, min(cores, math.ceil(round(quota, 6))))  # round: 2.0000000001 CPUs is 2


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def say(line: str) -> None:
    """A line for whoever started fastmock, on stderr at once."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
