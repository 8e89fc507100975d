"""Process life cycle: bind, serve on uvloop, sweep timeouts, shut down gracefully.

It knows processes and sockets, not requests. ``--workers N`` forks through
fastmock.workers, which is imported only then.
"""
import asyncio
import logging
import os
import signal
import socket
import sys

import uvloop

from fastmock import __version__
from fastmock._engine import Counters, Pacer, Shared
from fastmock.acceptor import Acceptor
from fastmock.canned import CannedAnswers
from fastmock.frames import Frames
from fastmock.protocol import HttpProtocol

log = logging.getLogger("fastmock")

SWEEP_SECONDS = 1.0
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class App(Shared):
    """What every connection of one process shares."""

    __slots__ = ("frames", "static", "id_head", "_id_count")

    def __init__(self, config, loop, frames: Frames, counters: Counters | None = None) -> None:
        access_log = None
        if config.access_log:  # imported only when asked for: ~36 KB less resident without
            from fastmock.accesslog import AccessLog
            access_log = AccessLog(fmt=config.log_format)
        super().__init__(loop, config, Pacer(loop, config.tick_ms),
                         counters if counters is not None else Counters(), CannedAnswers(),
                         access_log)
        self.frames = frames
        self.static = {b"/api/data": frames.api_data, b"/health": frames.health}
        # Completion ids are chatcmpl- and 24 hex digits: 8 random per process, 16 counted.
        self.id_head = b"chatcmpl-" + os.urandom(4).hex().encode()
        self._id_count = 0

    def next_id(self) -> int:
        """The number of the next completion id (its last 16 hex digits)."""
        self._id_count += 1
        return self._id_count


def load_frames(config) -> Frames:
    """The frame tables for the configured corpus (built once, before any fork)."""
    if config.text_file is None:
        return Frames(model=config.model)
    with open(config.text_file, encoding="utf-8") as f:
        return Frames(f.read(), config.model)


def bind_socket(host: str, port: int, backlog: int, reuse_port: bool, listen: bool = True):
    """A non-blocking listening socket, bound here rather than by the loop (no resolver thread)."""
    # A bytes host skips the idna codec (and the unicodedata it imports: ~0.2 MB resident).
    name = (host.encode() if host.isascii() else host) if host else None
    family, kind, proto, _, address = socket.getaddrinfo(
        name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def serve(config, frames: Frames, sock, on_ready=None, counters: Counters | None = None) -> int:
    """Run one server process on ``sock`` until SIGTERM or SIGINT; returns the exit code.

    ``on_ready()`` is called once it listens with its signal handlers in place, so
    whoever waits for it may connect or signal at once.
    """
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    app = App(config, loop, frames, counters)
    try:
        loop.run_until_complete(_serve(app, sock, on_ready))
    finally:
        app.pacer.close()
        if app.access_log is not None:
            app.access_log.flush()
        loop.close()
    return 0


async def _serve(app: App, sock, on_ready) -> None:
    # One run of the loop from the signal handlers to the end: uvloop reads signals only
    # while it runs, so a SIGTERM that came between two run_until_complete() calls was lost.
    loop = app.loop
    acceptor = Acceptor(loop, sock, lambda fd: HttpProtocol(app, fd))
    stop = loop.create_future()
    for sig in HANDLED_SIGNALS:
        loop.add_signal_handler(sig, _request_stop, stop, sig)
    if on_ready is not None:
        on_ready()
    _sweep(app)
    await stop
    await shutdown(app, acceptor)


def _request_stop(stop, sig) -> None:
    if not stop.done():
        log.info("%s: shutting down", signal.Signals(sig).name)
        stop.set_result(sig)


def _sweep(app: App) -> None:
    """Once a second: timeouts of every connection, and the access log's buffer."""
    app.sweep()
    if app.access_log is not None:
        app.access_log.flush()
    if not app.shutting_down:
        app.loop.call_later(SWEEP_SECONDS, _sweep, app)


async def shutdown(app: App, acceptor: Acceptor) -> None:
    """Stop accepting, close idle connections, give streams a grace period, then end them."""
    loop = app.loop
    app.shutting_down = True
    acceptor.close()
    for conn in app.connections:   # a snapshot: closing one does not change it
        conn.shutdown()
    await _wait_closed(app, loop.time() + app.config.shutdown_timeout)
    for conn in app.connections:   # a snapshot: closing one does not change it
        conn.end_stream_now()
    await _wait_closed(app, loop.time() + 1.0)
    for conn in app.connections:   # a snapshot: closing one does not change it
        if conn.transport is not None:
            conn.transport.abort()   # a client that never reads what is buffered
    await asyncio.sleep(0)


async def _wait_closed(app: App, deadline: float) -> None:
    while app.open_count and app.loop.time() < deadline:
        await asyncio.sleep(0.05)


# -- workers -------------------------------------------------------------------

def run(config) -> int:
    """Start one process or supervise ``config.workers`` of them; returns the exit code."""
    frames = load_frames(config)
    workers = config.workers or len(os.sched_getaffinity(0))
    try:
        # With several workers this socket only reserves the port (and resolves port 0);
        # each worker listens on its own SO_REUSEPORT socket, and the kernel spreads connections.
        sock = bind_socket(config.host, config.port, config.backlog, reuse_port=workers > 1,
                           listen=workers == 1)
    except OSError as exc:
        print(f"fastmock: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    announce = (f"fastmock {__version__} listening on http://{_show(host)}:{port} "
                f"(pid {os.getpid()}, {workers} worker{'s' if workers > 1 else ''}, "
                f"{len(frames.corpus)} tokens)")
    # Made before any fork, so that every worker writes its own row of the same counters.
    counters = Counters(workers)
    if workers == 1:
        return serve(config, frames, sock, lambda: announce_line(announce), counters)
    from fastmock.workers import Supervisor
    return Supervisor(config, frames, counters, host, port, workers).run(announce)


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def announce_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
