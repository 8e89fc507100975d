"""fastmock.admission (who is served, who gets a 503) on real sockets and the fake loop,
the write-buffer limit every transport gets, and fastmock.textfile (--text-file read
once, within its bounds).

The charge itself (fastmock.cgroup.MemoryCharge) is tested on fake cgroup trees in
test_cgroup.py; the live versions, under real cgroup limits, are in tests/e2e.
"""
from __future__ import annotations

import os
import socket

import pytest

from fastmock import admission as admission_module
from fastmock import seed, textfile, wire
from fastmock._engine import SLOTS, WRITE_HIGH_WATER
from fastmock.admission import PER_CONNECTION_CHARGE, Admission, default_max_connections
from fastmock.cli import parse_config
from fastmock.protocol import HttpProtocol
from fastmock.server import load_frames
from fastmock.wire import CLOSE
from support.fakes import FRAMES, Client, ManualClockLoop, MockTransport, make_app, stats
from support.http import FRESH_ID_LINE, sans_fresh_ids

MIB = 1 << 20
HEALTH = seed.health(FRAMES)
# -- the defaults that follow from the limit ------------------------------------------------------

class FakeMemory:
    """A MemoryCharge whose charge a test sets."""

    def __init__(self, limit: int, charge: int) -> None:
        self.limit, self.value = limit, charge

    def charge(self) -> int:
        return self.value


def test_default_max_connections_is_what_fits_per_worker():
    mem = FakeMemory(20 * MIB, 12 * MIB)
    room = 20 * MIB * 0.9 - 12 * MIB
    assert default_max_connections(mem, 0.9, 1) == int(room // PER_CONNECTION_CHARGE)
    assert default_max_connections(mem, 0.9, 2) == int(room // PER_CONNECTION_CHARGE) // 2
    assert default_max_connections(None, 0.9, 1) == 0              # no limit: no default
    assert default_max_connections(mem, 0, 1) == 0                 # shedding off: no default
    assert default_max_connections(FakeMemory(20 * MIB, 19 * MIB), 0.9, 1) == 1


def test_every_transport_pauses_as_soon_as_it_holds_a_byte():
    """High-water 0: the kernel's send buffer is a connection's only buffer."""
    loop = ManualClockLoop()
    transport = MockTransport(loop)
    limits = []
    transport.set_write_buffer_limits = lambda high=None, low=None: limits.append((high, low))
    protocol = HttpProtocol(make_app(loop))
    transport.protocol = protocol
    protocol.connection_made(transport)
    assert WRITE_HIGH_WATER == 0 and limits == [(0, None)]


def test_answers_wait_as_requests_while_the_client_does_not_read():
    """A read of pipelined requests from a client that has stopped reading: one answer
    fills the transport, the others wait unanswered (no bytes) until it drains."""
    loop = ManualClockLoop()
    client = Client(loop, high_water=100)
    one = b"GET /api/data HTTP/1.1\r\nHost: t\r\n\r\n"
    client.send(one * 50)
    answer = seed.api_data(FRAMES)[0][0]
    assert client.data() == answer and client.protocol.pending == 49
    assert client.transport.reading is False                   # and it is not read further
    for n in range(2, 51):
        client.transport.drain()
        assert client.data() == answer * n
    assert client.protocol.pending == 0
    client.transport.drain()                                   # the last one is read too
    assert client.transport.reading is True


# -- admission, on real sockets -----------------------------------------------------------------

class ReaderLoop(ManualClockLoop):
    """The fake loop, plus the add_reader/remove_reader that Admission holds fds with."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: dict[int, tuple] = {}

    def add_reader(self, fd, callback, *args) -> None:
        self.readers[fd] = (callback, args)

    def remove_reader(self, fd) -> bool:
        return self.readers.pop(fd, None) is not None

    def fire_reader(self, fd) -> None:
        callback, args = self.readers[fd]
        callback(*args)


def connect(blocking_listener) -> tuple[socket.socket, int]:
    """A connected client, and the server side's fd as the acceptor would hold it."""
    client = socket.create_connection(blocking_listener.getsockname(), timeout=5)
    fd, _ = blocking_listener._accept()
    return client, fd


def read_all(sock: socket.socket) -> bytes:
    """The one answer, up to the close, without its fresh X-Request-Id line (it has one)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    assert len(FRESH_ID_LINE.findall(data)) == 1, data
    return sans_fresh_ids(data)


def make_admission(loop, *, max_connections=0, mem=None, high=0.9):
    app = make_app(loop)
    admission = Admission(app, mem, high, max_connections)
    served = []
    admission.serve = served.append
    return app, admission, served


def test_over_max_connections_a_503_at_once_then_a_clean_close(blocking_listener):
    loop = ReaderLoop()
    app, admission, _ = make_admission(loop, max_connections=1)
    inside = Client(loop, app)                   # the one connection allowed
    client, fd = connect(blocking_listener)
    client.sendall(b"GET /api/data HTTP/1.1\r\nHost: t\r\n\r\n")
    assert admission.admit(fd) is False
    answer = read_all(client)                    # then EOF: a FIN, not a reset
    assert answer == wire.TOO_MANY_CONNECTIONS
    assert b"Retry-After: 1\r\n" in answer and b"Connection: close\r\n" in answer
    assert stats(app).rejected_connections == 1 and stats(app).connections == 1
    assert app.counters.value(SLOTS["connections"]) == 2
    assert loop.readers == {} and loop.timers() == []         # nothing of it stays behind
    inside.send(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert inside.responses()[0].status == 200
    client.close()


def test_connections_being_handed_over_count_toward_max_connections(blocking_listener):
    """A batch of accepts is admitted before any of them is connected: counting only the
    open connections let 2,119 streams in under --max-connections 2000."""
    loop = ReaderLoop()
    app, admission, _ = make_admission(loop, max_connections=3)
    inside = Client(loop, app)
    admission.pending = {"hand-over 1", "hand-over 2"}     # the acceptor's tasks in flight
    client, fd = connect(blocking_listener)
    client.sendall(b"GET /api/data HTTP/1.1\r\nHost: t\r\n\r\n")
    assert admission.admit(fd) is False
    assert sans_fresh_ids(read_all(client)) == wire.TOO_MANY_CONNECTIONS
    admission.pending = {"hand-over 1"}
    other, fd = connect(blocking_listener)
    assert admission.admit(fd) is True
    os.close(fd)
    for sock in (client, other):
        sock.close()


def test_a_health_probe_is_answered_past_the_limits(blocking_listener):
    loop = ReaderLoop()
    app, admission, served = make_admission(loop, max_connections=1)
    Client(loop, app)
    gets, heads = HEALTH
    for probe, answer in ((b"GET /health HTTP/1.1\r\n", gets[CLOSE]),
                          (b"HEAD /health HTTP/1.1\r\n", heads[CLOSE]),
                          (b"GET /health?x=1 HTTP/1.0\r\n", gets[CLOSE])):
        client, fd = connect(blocking_listener)
        client.sendall(probe + b"Host: t\r\n\r\n")
        assert admission.admit(fd) is False and served == []      # answered here, not served
        assert read_all(client) == answer
        client.close()
    assert stats(app).requests == {("/health", 200): 3}
    assert stats(app).rejected_connections == 0
    client, fd = connect(blocking_listener)
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert admission.admit(fd) is False and read_all(client).startswith(b"HTTP/1.1 503 ")
    client.close()


def test_a_metrics_scrape_is_served_past_the_limits(blocking_listener):
    loop = ReaderLoop()
    app, admission, _ = make_admission(loop, max_connections=1)
    Client(loop, app)
    client, fd = connect(blocking_listener)
    client.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
    assert admission.admit(fd) is True                       # to the loop, its request unread
    assert os.read(fd, 100).startswith(b"GET /metrics HTTP/1.1\r\n")
    os.close(fd)
    client.close()


def test_a_connection_whose_request_has_not_come_waits_for_it(blocking_listener):
    loop = ReaderLoop()
    app, admission, served = make_admission(loop, max_connections=1)
    Client(loop, app)
    early, fd = connect(blocking_listener)
    assert admission.admit(fd) is False and fd in loop.readers          # held, not refused yet
    early.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    loop.fire_reader(fd)
    assert loop.readers == {} and read_all(early) == HEALTH[0][CLOSE]
    late, fd = connect(blocking_listener)
    assert admission.admit(fd) is False
    late.sendall(b"GET /stream-loop HTTP/1.1\r\nHost: t\r\n\r\n")
    loop.fire_reader(fd)
    assert read_all(late) == wire.TOO_MANY_CONNECTIONS
    room, fd = connect(blocking_listener)
    assert admission.admit(fd) is False
    admission.max_connections = 2                                       # a slot frees up meanwhile
    room.sendall(b"GET /api/data HTTP/1.1\r\nHost: t\r\n\r\n")
    loop.fire_reader(fd)
    assert served == [fd]                                               # served, its request unread
    assert os.read(fd, 100).startswith(b"GET /api/data ")
    os.close(fd)
    admission.max_connections = 1
    silent, fd = connect(blocking_listener)
    assert admission.admit(fd) is False
    loop.advance(admission_module.HOLD_SECONDS)                         # never sent a byte
    assert loop.readers == {} and read_all(silent) == wire.TOO_MANY_CONNECTIONS
    assert stats(app).rejected_connections == 2
    for sock in (early, late, room, silent):
        sock.close()


def test_shedding_follows_the_charge_and_health_says_so(blocking_listener):
    loop = ReaderLoop()
    mem = FakeMemory(20 * MIB, 12 * MIB)
    app, admission, _ = make_admission(loop, mem=mem)
    probe = Client(loop, app)
    probe.send(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert probe.responses()[-1].json() == {"status": "ok"}
    for charge in (12 * MIB, 18 * MIB):          # 18: at 90% of the limit, but read 0 s ago
        client, fd = connect(blocking_listener)
        mem.value = charge
        assert admission.admit(fd) is True and admission.charge == 12 * MIB
        os.close(fd)
        client.close()
    loop.advance(admission_module.READ_SECONDS)
    client, fd = connect(blocking_listener)
    client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
    assert admission.admit(fd) is False and admission.shedding
    assert read_all(client) == wire.SHORT_OF_MEMORY
    assert app.counters.value(SLOTS["shed_connections"]) == 1
    probe.send(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert probe.responses()[-1].json() == {"status": "ok", "shedding": True}
    mem.value = int(18 * MIB * admission_module.RESUME) + 1   # not low enough yet
    loop.advance(admission_module.READ_SECONDS)
    admission.refresh()
    assert admission.shedding
    mem.value = 16 * MIB
    loop.advance(admission_module.READ_SECONDS)
    client2, fd = connect(blocking_listener)
    assert admission.admit(fd) is True and not admission.shedding
    probe.send(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert probe.responses()[-1].json() == {"status": "ok"}
    for sock in (client, client2):
        sock.close()
    os.close(fd)


def test_the_charge_is_read_every_so_many_connections_not_per_connection(blocking_listener):
    loop = ReaderLoop()
    reads = []
    mem = FakeMemory(20 * MIB, 12 * MIB)
    mem.charge = lambda: reads.append(1) or 12 * MIB
    _, admission, _ = make_admission(loop, mem=mem)
    socks = []
    for _ in range(admission_module.READ_EVERY * 2 + 1):
        client, fd = connect(blocking_listener)
        assert admission.admit(fd)
        os.close(fd)
        socks.append(client)
        if len(socks) == 16:
            for s in socks:
                s.close()
            socks.clear()
    assert len(reads) == 3                    # the first, then every READ_EVERY
    for s in socks:
        s.close()


def test_many_closed_connections_trim_the_heap_before_deciding(monkeypatch):
    loop = ReaderLoop()
    mem = FakeMemory(20 * MIB, 18 * MIB)
    app, admission, _ = make_admission(loop, mem=mem)
    trims = []
    admission._trim = lambda pad: trims.append(pad) or setattr(mem, "value", 15 * MIB)
    admission._peak_open = admission_module.TRIM_AFTER + 5        # as if they had been open
    admission.refresh()
    assert trims == [0] and admission.charge == 15 * MIB and not admission.shedding
    mem.value = 18 * MIB
    admission.refresh()
    assert trims == [0] and admission.shedding                    # nothing closed since
    assert app.open_count == 0


# -- --text-file: read once, bounded ----------------------------------------------------------

def test_a_text_file_is_read_once_and_carried_with_its_path(tmp_path, monkeypatch):
    path = tmp_path / "corpus.txt"
    path.write_text("one two three")
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    config = parse_config(["--text-file", str(path)], environ={})
    assert config.text_file == str(path) and config.text_file.text == "one two three"
    frames = load_frames(config)
    assert [t for t in frames.corpus.tokens] == ["one ", "two ", "three"]
    assert opened.count(str(path)) == 1


@pytest.mark.parametrize("content, why", [
    (None, "is larger than 8 MiB"),                 # /dev/zero: never read to its end
    (b"\xff\xfe", "is not UTF-8 text"),
    (b" \n\t ", "has no text to stream"),
])
def test_text_files_that_cannot_be_a_corpus_exit_2_with_one_line(tmp_path, capsys, content, why):
    path = "/dev/zero" if content is None else str(tmp_path / "bad.txt")
    if content is not None:
        with open(path, "wb") as f:
            f.write(content)
    with pytest.raises(SystemExit) as exit_:
        parse_config(["--text-file", path], environ={})
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("fastmock: error: argument --text-file: ") and why in line, line


def test_a_file_over_the_bound_is_refused_by_its_size(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * (textfile.MAX_TEXT_BYTES // 5 + 1))
    with pytest.raises(ValueError, match="larger than 8 MiB"):
        textfile.read_text_file(str(path))
    assert textfile.read_text_file(str(path), limit=16 << 20).text.startswith("word word")


def test_what_a_corpus_costs_and_when_it_does_not_fit():
    text = "word " * 1000                     # 1,001 tokens (the last one empty), 5,000 bytes
    assert textfile.corpus_cost(text) == 1001 * textfile.COST_PER_TOKEN + 5000 * textfile.COST_PER_BYTE
    assert textfile.too_big_for(text, None, 0.9) is None                 # no limit
    assert textfile.too_big_for(text, 20 * MIB, 0.9) is None
    big = "w " * (200 * 1024)                 # 409,601 tokens: ~50 MiB of tables
    why = textfile.too_big_for(big, 20 * MIB, 0.9)
    assert why and "90% of the 20 MiB memory limit" in why
    assert "100% of the 20 MiB" in textfile.too_big_for(big, 20 * MIB, 0)   # shedding off
    assert textfile.too_big_for(big, 1 << 40, 0.9) is None
