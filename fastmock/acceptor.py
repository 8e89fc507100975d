"""Acceptor: takes new connections off the listening socket in batches.

libuv accepts one connection per loop iteration (since 1.45, libuv/libuv#3696).
When CPU is the limit, as under the compose file's 0.1 CPU, an iteration that
answers hundreds of busy keep-alive connections takes tens of milliseconds of
wall time, so new clients queue in the backlog: 300 connects made during a
400-connection wrk load waited 5 s, until the load ended. So fastmock reads the
listening socket itself, accepts up to ACCEPT_BATCH connections each time it is
readable, and hands each one to uvloop as an accepted socket.
"""
import errno
import logging
import os
import socket

log = logging.getLogger("fastmock")

# New connections per readiness of the listening socket. Each costs ~30 us of
# handshake, so a full batch delays the busy connections by a few milliseconds.
ACCEPT_BATCH = 128
# Out of file descriptors (or kernel memory): stop accepting this long. The clients
# wait in the backlog; accepting and dropping them would only spin.
RESOURCE_RETRY_SECONDS = 0.1
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


class _AcceptedFd:
    """What uvloop's connect_accepted_socket() reads of a socket, for a bare fd.

    uvloop reads family, type and fileno() before its first await, and once the
    transport is closed (libuv has closed the fd with the handle) it calls close().
    A socket.socket would do as well, but uvloop keeps it for the connection's
    life: ~0.1 KiB per open stream. One instance, re-pointed before each hand-over,
    keeps nothing per connection; ``fd`` is -1 between hand-overs.
    """

    __slots__ = ("family", "type", "fd")

    def __init__(self, family: int) -> None:
        self.family, self.type, self.fd = family, socket.SOCK_STREAM, -1

    def fileno(self) -> int:
        """uvloop: its transport takes the fd right after asking, so from then on it is not ours."""
        fd, self.fd = self.fd, -1
        return fd

    def close(self) -> None:
        """The transport closed: libuv has closed the fd already."""


class Acceptor:
    """Serves one listening socket: ``protocol_factory(fd)`` makes each connection's protocol."""

    __slots__ = ("loop", "sock", "protocol_factory", "admission", "_fd", "_accept", "_handed",
                 "_handing", "_paused", "_short_of")

    def __init__(self, loop, sock: socket.socket, protocol_factory, admission=None) -> None:
        self.loop = loop
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.admission = admission   # fastmock.admission.Admission: may refuse a connection
        self._handing = set()        # hand-over tasks: the loop keeps only weak references to tasks
        if admission is not None:
            admission.serve = self._serve
            admission.pending = self._handing
        self._fd = sock.fileno()
        self._accept = sock._accept  # (fd, address): no socket object per connection
        self._handed = _AcceptedFd(sock.family)
        self._paused = None          # the timer that resumes accepting after EMFILE
        self._short_of = False       # out of resources was logged; cleared when the backlog drains
        loop.add_reader(self._fd, self._on_readable)

    def close(self) -> None:
        """Stop accepting and close the listening socket."""
        if self._fd < 0:
            return
        if self._paused is not None:
            self._paused.cancel()
            self._paused = None
        else:
            self.loop.remove_reader(self._fd)
        self._fd = -1
        self.sock.close()

    def _on_readable(self) -> None:
        accept = self._accept
        for _ in range(ACCEPT_BATCH):
            try:
                fd, _address = accept()
            except BlockingIOError:
                if self._short_of:  # every client that waited for a descriptor is in
                    self._short_of = False
                    log.warning("accepting connections again")
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._pause(exc)
                    return
                continue  # ECONNABORTED, EPROTO, EPERM: that client is gone, take the next
            if self.admission is None or self.admission.admit(fd):
                self._serve(fd)

    def _serve(self, fd: int) -> None:
        """Hand ``fd`` to the loop (Admission too: a connection it held until its request came)."""
        task = self.loop.create_task(self._hand_over(fd))
        self._handing.add(task)
        task.add_done_callback(self._handing.discard)

    def _pause(self, exc: OSError) -> None:
        if not self._short_of:
            self._short_of = True
            log.error("cannot accept connections: %s; retrying every %.1f s",
                      exc.strerror, RESOURCE_RETRY_SECONDS)
        self.loop.remove_reader(self._fd)
        self._paused = self.loop.call_later(RESOURCE_RETRY_SECONDS, self._resume)

    def _resume(self) -> None:
        self._paused = None
        if self._fd >= 0:
            self.loop.add_reader(self._fd, self._on_readable)

    async def _hand_over(self, fd: int) -> None:
        handed = self._handed
        handed.fd = fd  # read by connect_accepted_socket() before it first suspends
        try:
            await self.loop.connect_accepted_socket(lambda: self.protocol_factory(fd), handed)
        except Exception:  # noqa: BLE001 - a task's error would only be logged at exit
            log.exception("could not serve an accepted connection")
            if handed.fd == fd:  # it failed before its transport asked for the fd (the
                handed.fd = -1   # protocol factory raised, say): no one else will close it
                os.close(fd)
