"""One server process: bind, serve on uvloop, sweep timeouts, shut down gracefully.

It knows processes and sockets, not requests, and nothing of workers: fastmock.launch
calls serve() here, or hands it to fastmock.supervisor as each worker's life.
"""
import asyncio
import logging
import os
import signal
import socket

import uvloop

from fastmock._engine import Counters, Pacer, Shared
from fastmock.acceptor import Acceptor
from fastmock.admission import admission_for
from fastmock.canned import CannedAnswers
from fastmock.frames import Frames
from fastmock.protocol import HttpProtocol, static_answers

log = logging.getLogger("fastmock")

SWEEP_SECONDS = 1.0
LOOP_FDS = 12      # free fds a new loop must find (it takes 9), checked before it is made
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class App(Shared):
    """What every connection of one process shares."""

    __slots__ = ("frames", "static", "scripts", "journal", "admission", "rate_limits",
                 "latency", "_header_latency", "chaos_odds")

    def __init__(self, config, loop, frames: Frames, counters: Counters | None = None,
                 scripts=None) -> None:
        access_log = None
        if config.access_log:  # imported only when asked for: ~36 KB less resident without
            from fastmock.accesslog import AccessLog
            access_log = AccessLog(fmt=config.log_format)
        super().__init__(loop, config, Pacer(loop, config.tick_ms),
                         counters if counters is not None else Counters(), CannedAnswers(),
                         access_log)
        self.frames = frames
        self.static = static_answers(frames)
        # Scripted answers (providers.scripted.Scripts), None without fixtures: the provider
        # APIs ask it first, and a fast path for plain requests must not run while it is set.
        # Made at start by --fixtures, or empty by the control API's first POST.
        self.scripts = scripts
        self.journal = None     # a fixtures.journal.Journal once a provider or control request came
        self.admission = admission_for(self)   # None: every connection is served
        # --rate-limit (fastmock.ratelimit.RateLimits), None without: the provider APIs
        # take from its buckets, the compiled path stands aside, the connection keeps the
        # API key headers.
        self.rate_limits = None
        if config.rate_limit:
            from fastmock.ratelimit import RateLimits
            self.rate_limits = RateLimits(config.rate_limit)
            self.keep_api_keys = True
        # --ttft, --itl, --latency-profile, --max-num-seqs, --itl-load-factor
        # (fastmock.latency.LatencyModel), None without: every stream is paced by it, and
        # the compiled path stands aside. A request's own X-Mock-TTFT / X-Mock-ITL make
        # one on first use, for such requests only.
        self.latency = None
        self._header_latency = None
        if config.ttft or config.itl or config.latency_profile or config.max_num_seqs \
                or config.itl_load_factor:
            from fastmock.latency import LatencyModel
            self.latency = LatencyModel(config)
            self.slots = self.latency.slots
            self.slots.counters = self.counters
        # --chaos (fastmock.chaos.settings.Odds), None without: every stream draws its wire
        # chaos from these odds, and the compiled provider path stands aside.
        self.chaos_odds = None
        if config.chaos:
            from fastmock.chaos.settings import Odds
            self.chaos_odds = Odds(config.chaos, config.seed)

    @property
    def fixtures(self):
        """The fixture pool (a fixtures.match.FixturePool), or None while there is none."""
        return self.scripts.pool if self.scripts is not None else None

    def fixture_pool(self):
        """The fixture pool, made empty on first use (the control API's POST)."""
        if self.scripts is None:
            from fastmock.providers.scripted import Scripts
            self.scripts = Scripts.empty(self.config)
        return self.scripts.pool

    def latency_for(self, headers):
        """The latency model of a request: the server's, or, for one that sends
        X-Mock-TTFT or X-Mock-ITL, one made for such requests; None: plain pacing."""
        if self.latency is not None:
            return self.latency
        if headers and (b"x-mock-ttft" in headers or b"x-mock-itl" in headers):
            if self._header_latency is None:
                from fastmock.latency import LatencyModel
                self._header_latency = LatencyModel(self.config)
                self.slots = self._header_latency.slots
                self.slots.counters = self.counters
            return self._header_latency
        return None

    def request_journal(self):
        """The journal, made on the first provider or control request; None with --journal-size 0."""
        journal = self.journal
        if journal is None and self.config.journal_size > 0:
            from fastmock.fixtures.journal import Journal
            journal = self.journal = Journal(self.config.journal_size)
        return journal


def load_frames(config) -> Frames:
    """The frame tables for the configured corpus (built once, before any fork)."""
    if config.text_file is None:
        return Frames(model=config.model, served=config.served_model_name)
    text = getattr(config.text_file, "text", None)   # read by the command line, once
    if text is None:
        from fastmock.textfile import read_text_file
        text = read_text_file(config.text_file).text
    return Frames(text, config.model, config.served_model_name)


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


def serve(config, frames: Frames, sock, on_ready=None, counters: Counters | None = None,
          scripts=None) -> int:
    """Run one server process on ``sock`` until SIGTERM or SIGINT; returns the exit code.

    ``on_ready()`` is called once it listens with its signal handlers in place, so
    whoever waits for it may connect or signal at once.
    """
    _check_fds_for_a_loop()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    app = App(config, loop, frames, counters, scripts)
    try:
        loop.run_until_complete(_serve(app, sock, on_ready))
    finally:
        app.pacer.close()
        if app.access_log is not None:
            app.access_log.flush()
        loop.close()
    return 0


def _check_fds_for_a_loop() -> None:
    """Raise OSError (EMFILE) unless a loop can get the fds it needs to start.

    A loop takes 9 as it is made and starts (epoll, io_uring, libuv's signal pipes, an
    eventfd, uvloop's signal socketpair). Short of them, libuv aborts the process (it
    cannot make its signal lock pipe), or uvloop leaves a loop half made or marked
    running, which can be neither closed nor freed cleanly.
    """
    held = []
    try:
        while len(held) < LOOP_FDS:
            held.extend(os.pipe())
    finally:
        for fd in held:
            os.close(fd)


async def _serve(app: App, sock, on_ready) -> None:
    # One run of the loop from the signal handlers to the end: uvloop reads signals only
    # while it runs, so a SIGTERM that came between two run_until_complete() calls was lost.
    loop = app.loop
    acceptor = Acceptor(loop, sock, lambda fd: HttpProtocol(app, fd), app.admission)
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
    if app.admission is not None:
        app.admission.close()
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
