"""Never OOM-killed in the 20 MB container (issue 13): the server from this checkout in a
cgroup with docker-compose's limits (0.1 CPU, 20 MiB), and clients that try to kill it.

- 1,000 clients that ask for an unpaced stream and never read cost a few KiB each, and
  the other clients are served meanwhile.
- 1,000 slow readers (tiny receive windows, a few bytes a second) grow nothing, and
  /health answers throughout.
- 10,000 streams offered at once (and 4,000 with --max-connections 2000): no OOM kill,
  the streams that fit keep running, every other client gets a 503 with Retry-After
  and Connection: close, /health answers 200 throughout; shedding stops by itself once
  memory comes back.
- A client that closes (FIN or RST) while its stream waits for a token, its TTFT or a
  late whole answer is noticed at once; one that only half-closes still gets it all.
- --text-file: a corpus that would not fit is refused with one line, /dev/zero too.

Every test here bounds its load in time. Without a writable cgroup they skip.
"""
from __future__ import annotations

import json
import re
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from support.http import get, http_request, read_response
from support.limited import MEMORY_LIMIT, Limits, raise_open_files

pytestmark = pytest.mark.e2e
KIB = 1024
MIB = 1024 * 1024


class Scraper:
    """/metrics over one keep-alive connection (opened again when the server closed it):
    the unlabelled samples, by name. A scrape is served even while memory is short."""

    def __init__(self, server) -> None:
        self.server, self.sock, self.reader = server, None, None

    def __call__(self) -> dict[str, float]:
        for attempt in (1, 2):
            try:
                if self.sock is None:
                    self.sock = self.server.connect(timeout=20)
                    self.reader = self.sock.makefile("rb")
                self.sock.sendall(get("/metrics"))
                body = read_response(self.reader).body.decode()
                return {m[1]: float(m[2]) for m in re.finditer(r"^(fastmock_\w+) (\S+)$", body, re.M)}
            except (OSError, AssertionError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
            self.sock = self.reader = None


def health(server, timeout: float = 10.0) -> tuple[int, dict, float]:
    """(status, body, seconds) of one /health over a new connection."""
    started = time.monotonic()
    raw = http_request(server, get("/health", "Connection: close"), timeout=timeout)
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body), time.monotonic() - started


def abort(sock: socket.socket) -> None:
    """Close with RST, as a killed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_until_still(read, seconds: float, settle: float = 1.5, interval: float = 0.5) -> float:
    """Poll ``read()`` until it has not changed for ``settle`` seconds (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(interval)
        value = read()
        if value != last:
            last, since = value, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
    return last


# -- clients that never read ---------------------------------------------------------------------

def test_a_thousand_clients_that_never_read_cost_a_few_kib_each(limits):
    """Before: ~76 KiB each (uvloop's 64 KiB high-water mark plus a batch); 150 such clients
    OOM-killed the server in 10-21 s, 1,000 in 41 s."""
    raise_open_files(4096)
    server = limits.start("--log-level", "warning")
    metrics = Scraper(server)
    socks = []
    try:
        time.sleep(0.5)
        idle = limits.charge()
        for _ in range(1000):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(get("/stream-loop?delay_ms=0"))
            socks.append(sock)                      # and never read
        # The kernel takes what each socket's buffers hold, then every stream waits.
        wait_until_still(lambda: metrics()["fastmock_tokens_sent_total"], seconds=40)
        stalled = limits.charge()
        with server.connect(timeout=10) as reader:  # another client is served in full
            reader.sendall(get("/stream-sse?max_tokens=50&delay_ms=0", "Connection: close"))
            events = read_response(reader.makefile("rb")).sse_events()
        assert len(events) == 51 and events[-1] == "[DONE]"
        status, body, seconds = health(server)
        assert (status, body) == (200, {"status": "ok"}) and seconds < 2, seconds
        per_client = (stalled - idle) / len(socks)
        # 3 KiB is what any open stream costs (transport, handle, socket); at most the
        # frame the kernel cut comes on top.
        assert per_client < 6 * KIB, f"{per_client / KIB:.1f} KiB per client that never reads"
        assert metrics()["fastmock_active_streams"] == 1000
        assert server.proc.poll() is None
    finally:
        metrics.close()
        for sock in socks:
            sock.close()
        code = server.stop(timeout=30)
    print(f"\nnever-readers: {len(socks)}, charge idle {idle / MIB:.2f} MiB, "
          f"stalled {stalled / MIB:.2f} MiB ({per_client / KIB:.2f} KiB each), "
          f"peak {limits.stats()['peak_memory_bytes'] / MIB:.2f} MiB")
    assert limits.oom_kills() == 0 and code == 0, server.log


def test_clients_that_pipeline_a_whole_read_and_never_read_cost_their_requests(limits):
    """Each sends ~256 KB of pipelined GET /api/data in one go and never reads. Before: each
    request was answered into the transport's buffer (~17 MB a client); 5 such clients
    OOM-killed the server in 2 s. Now the answers wait as parsed requests."""
    server = limits.start("--log-level", "warning")
    one = get("/api/data")
    socks = []
    try:
        time.sleep(0.5)
        idle = limits.charge()
        for _ in range(20):
            sock = server.connect(timeout=10)
            sock.setblocking(False)
            try:
                sock.send(one * (256_000 // len(one)))
            except BlockingIOError:
                pass
            socks.append(sock)
        settled = wait_until_still(limits.charge, seconds=20, settle=2)
        per_client = (settled - idle) / len(socks)
        assert per_client < 512 * KIB, f"{per_client / KIB:.0f} KiB a client"
        assert health(server)[:2] == (200, {"status": "ok"})
    finally:
        for sock in socks:
            sock.close()
        code = server.stop(timeout=30)
    print(f"\npipelining non-readers: {per_client / KIB:.0f} KiB each")
    assert limits.oom_kills() == 0 and code == 0, server.log


def test_a_thousand_slow_readers_grow_nothing_and_health_answers(limits):
    """slowhttptest -X's slow read, done here: tiny receive windows, a few bytes a second.
    Before: the charge went 13.9 -> 18.6 MB in 0.3 s, OOM-killed at 35-58 s, /health
    failing before that."""
    raise_open_files(4096)
    server = limits.start("--log-level", "warning")
    socks, probes = [], []
    try:
        for n in range(1000):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 + n % 64)   # the kernel's least
            sock.settimeout(10)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(get("/stream-loop?delay_ms=0"))
            sock.setblocking(False)
            socks.append(sock)
        received = [0] * len(socks)
        charges = []
        ends = time.monotonic() + 20
        while time.monotonic() < ends:
            for i, sock in enumerate(socks):            # 32 bytes a second each
                try:
                    received[i] += len(sock.recv(32))
                except BlockingIOError:
                    pass
            probes.append(health(server))
            charges.append(limits.charge())
            time.sleep(max(0.0, 1.0 - probes[-1][2]))
        assert all(p[:2] == (200, {"status": "ok"}) for p in probes), probes
        # The first probe queues behind the burst of 1,000 requests (about 0.3 s of CPU, so
        # ~3 s at 0.1 CPU, more on a loaded host); once that is absorbed, probes are prompt.
        assert probes[0][2] < 10, [round(p[2], 3) for p in probes]
        assert max(p[2] for p in probes[1:]) < 2, [round(p[2], 3) for p in probes]
        assert sum(1 for r in received if r) > 900, "the slow readers were not served"
        # flat once every stream waits on its reader: no growth over the last 10 s
        assert max(charges[-10:]) - min(charges[-10:]) < MIB, [round(c / MIB, 2) for c in charges]
        assert server.proc.poll() is None
    finally:
        for sock in socks:
            sock.close()
        code = server.stop(timeout=30)
    print(f"\nslow readers: charge {min(charges) / MIB:.2f}-{max(charges) / MIB:.2f} MiB, "
          f"/health worst {max(p[2] for p in probes):.3f} s")
    assert limits.oom_kills() == 0 and code == 0, server.log


# -- more streams than fit -----------------------------------------------------------------------

class Flood:
    """``count`` clients asking for /stream-loop?delay_ms=1000 at once, on non-blocking
    sockets read by one selector; each ends as "200" (a running stream), "503" (a whole
    503 answer then EOF) or something else (a failure)."""

    REQUEST = get("/stream-loop?delay_ms=1000")

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.selector = selectors.DefaultSelector()
        self.state: dict[socket.socket, list] = {}     # sock -> [state, data, events, started, answered]
        self.opened = 0

    def run(self, seconds: float) -> None:
        """Connect them all (as fast as the kernel lets), read until every one is settled."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            while self.opened < self.count and time.monotonic() < deadline:
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", self.port))
                self.state[sock] = ["connecting", b"", 0, time.monotonic(), None]
                self.selector.register(sock, selectors.EVENT_WRITE)
                self.opened += 1
                if self.opened % 200 == 0:
                    break
            self.pump(0.01)
            if self.opened == self.count and self.settled():
                return

    def settled(self) -> bool:
        return all(s[0] in ("200", "503", "failed") for s in self.state.values())

    def pump(self, timeout: float) -> None:
        for key, events in self.selector.select(timeout):
            sock, entry = key.fileobj, self.state[key.fileobj]
            if entry[0] == "connecting":
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    self.fail(sock, entry, "connect")
                    continue
                try:
                    sock.send(self.REQUEST)
                except OSError:
                    self.fail(sock, entry, "send")
                    continue
                entry[0] = "sent"
                self.selector.modify(sock, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                self.fail(sock, entry, "reset")
                continue
            if entry[4] is None and data:
                entry[4] = time.monotonic() - entry[3]
            if entry[0] in ("sent", "503?"):
                entry[1] += data
                if not data:
                    self.settle_503(sock, entry)
                elif entry[1].startswith(b"HTTP/1.1 200 "):
                    entry[0], entry[1] = "200", b""
                elif entry[1].startswith(b"HTTP/1.1 503 "):
                    entry[0] = "503?"                  # until EOF: the whole answer, then a close
            elif not data:
                self.fail(sock, entry, "closed")
            else:
                entry[2] += data.count(b"data: ")

    def settle_503(self, sock, entry) -> None:
        self.selector.unregister(sock)
        head = entry[1].partition(b"\r\n\r\n")[0] + b"\r\n"
        ok = (entry[0] == "503?" and b"\r\nRetry-After: 1\r\n" in head
              and b"\r\nConnection: close\r\n" in head)
        entry[0], entry[1] = ("503", b"") if ok else ("failed", entry[0].encode() + b": " + head)

    def fail(self, sock, entry, why: str) -> None:
        entry[0], entry[1] = "failed", why.encode()
        try:
            self.selector.unregister(sock)
        except KeyError:
            pass

    def count_of(self, state: str) -> int:
        return sum(1 for s in self.state.values() if s[0] == state)

    def events(self) -> dict:
        return {sock: s[2] for sock, s in self.state.items() if s[0] == "200"}

    def close(self, keep: int = 0) -> None:
        """Reset every connection but the first ``keep`` running streams."""
        kept = 0
        for sock, entry in self.state.items():
            if entry[0] == "200" and kept < keep:
                kept += 1
                continue
            if entry[0] == "200":
                entry[0] = "gone"
            try:
                self.selector.unregister(sock)
            except KeyError:
                pass
            abort(sock)
        self.state = {s: e for s, e in self.state.items() if e[0] == "200"}


class Prober(threading.Thread):
    """/health every half second while the flood runs."""

    def __init__(self, server) -> None:
        super().__init__(daemon=True)
        self.server, self.results, self.stop = server, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.results.append(health(self.server, timeout=15))
            except OSError as exc:
                self.results.append((None, repr(exc), 15.0))
            self.stop.wait(0.5)


@pytest.mark.parametrize("offered, flags, least", [
    (10_000, (), 2350),
    (4_000, ("--max-connections", "2000"), 1900),
])
def test_more_streams_than_fit_are_refused_never_killed(limits, offered, flags, least):
    """Before: OOM-killed at ~2,200 open streams 3-4 s in, every stream lost, no 503 ever
    sent; with --max-connections 2000, killed at 3.0 s and /health got 503 too.

    ``least``: what fits under the limits at the default --memory-high 0.9, run as the
    image runs it (support/limited.py): each open stream costs ~3.1 KiB of the 18 MiB
    above an idle server's ~9.9 MiB charge; 2,531-2,583 measured (issue 13's target:
    2,500), 2,059-2,120 while the server still loaded OpenSSL (fastmock.nossl). With two
    other test suites on the same two cores, 2,423: the flood's clients read late, and
    the frames they have not read sit in socket buffers the container is charged for. The
    bound leaves room for such a host."""
    if raise_open_files(offered + 1024) < offered + 1024:
        pytest.skip(f"not enough file descriptors for {offered} clients")
    server = limits.start("--log-level", "warning", *flags)
    metrics = Scraper(server)
    flood = Flood(server.port, offered)
    prober = Prober(server)
    prober.start()
    try:
        flood.run(seconds=60)
        running = flood.count_of("200")
        refused = flood.count_of("503")
        assert flood.count_of("failed") == 0, [s[1] for s in flood.state.values() if s[0] == "failed"][:10]
        assert running + refused == offered
        assert running >= least, running
        if flags:
            assert running <= 2000
        before = flood.events()
        ends = time.monotonic() + 3
        while time.monotonic() < ends:                 # every stream that got in keeps going
            flood.pump(0.05)
        after = flood.events()
        assert sum(1 for sock, n in before.items() if after[sock] > n) == running
        prober.stop.set()
        prober.join(20)
        assert prober.results and all(r[0] == 200 for r in prober.results), prober.results
        # After the flood a newcomer is told at once, and nothing of the refused lingers.
        started = time.monotonic()
        late = http_request(server, get("/stream-loop", "Connection: close"), timeout=10)
        assert late.startswith(b"HTTP/1.1 503 ") and time.monotonic() - started < 1.0
        values = metrics()
        assert values["fastmock_open_connections"] == running + 1      # + the scraper
        assert values["fastmock_active_streams"] == running
        refusals = values["fastmock_shed_connections_total"] + values["fastmock_rejected_connections_total"]
        assert refusals == refused + 1
        assert 0 < values["fastmock_memory_charge_bytes"] < MEMORY_LIMIT
        assert values["fastmock_memory_limit_bytes"] == MEMORY_LIMIT
        print(f"\noffered {offered} {' '.join(flags)}: {running} streams, {refused} x 503, "
              f"503 after p50 {percentile(flood, 0.5):.2f} s / p99 {percentile(flood, 0.99):.2f} s, "
              f"/health worst {max(r[2] for r in prober.results):.2f} s, "
              f"charge {values['fastmock_memory_charge_bytes'] / MIB:.2f} MiB, "
              f"peak {limits.stats()['peak_memory_bytes'] / MIB:.2f} MiB")
        if not flags:
            memory_comes_back(server, metrics, flood, running)
        assert server.proc.poll() is None
    finally:
        prober.stop.set()
        metrics.close()
        flood.close()
        code = server.stop(timeout=30)
    assert limits.oom_kills() == 0 and code == 0, server.log


def memory_comes_back(server, metrics: Scraper, flood: Flood, running: int) -> None:
    """Shedding: /health says so; when most streams leave it stops by itself."""
    status, body, _ = health(server)
    assert (status, body) == (200, {"status": "ok", "shedding": True})
    assert metrics()["fastmock_memory_shedding"] == 1
    flood.close(keep=running // 4)
    time.sleep(1.0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        raw = http_request(server, get("/stream-sse?max_tokens=2&delay_ms=1", "Connection: close"))
        if raw.startswith(b"HTTP/1.1 200 "):
            break
        time.sleep(0.2)
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]
    assert health(server)[:2] == (200, {"status": "ok"})
    assert metrics()["fastmock_memory_shedding"] == 0


def percentile(flood: Flood, q: float) -> float:
    times = sorted(s[4] for s in flood.state.values() if s[0] == "503" and s[4] is not None)
    return times[min(int(len(times) * q), len(times) - 1)] if times else float("nan")


# -- clients that leave ------------------------------------------------------------------------------

CLOSES = {
    "FIN while the next token waits": (get("/stream-loop?delay_ms=20000"), "fin"),
    "RST while the next token waits": (get("/stream-loop?delay_ms=20000"), "rst"),
    "FIN during the time to first token": (get("/stream-sse?ttft_ms=20000"), "fin"),
    "FIN before a late whole answer": (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nX-Mock-TTFT-Ms: 20000\r\n"
        b"Content-Length: 60\r\n\r\n" + b'{"model":"m","messages":[{"role":"user","content":"hi"}]}   ',
        "fin"),
}


@pytest.mark.parametrize("request_bytes, how", list(CLOSES.values()), ids=list(CLOSES))
def test_a_client_that_closes_is_freed_at_once_whatever_the_pacing(limited_server, request_bytes, how):
    """Before: a FIN was noticed at the next write, 19.6 s (TTFT) to 39.5 s (two tokens at
    20 s) later. The budget is 100 ms; the check leaves room for 0.1 CPU's throttling."""
    server = limited_server
    metrics = Scraper(server)
    base = metrics()["fastmock_active_streams"]
    socks = []
    for _ in range(10):
        sock = server.connect(timeout=10)
        sock.sendall(request_bytes)
        socks.append(sock)
    deadline = time.monotonic() + 10
    while metrics()["fastmock_active_streams"] < base + 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metrics()["fastmock_active_streams"] == base + 10
    closed = time.monotonic()
    for sock in socks:
        abort(sock) if how == "rst" else sock.close()
    while metrics()["fastmock_active_streams"] > base and time.monotonic() - closed < 5:
        time.sleep(0.01)
    noticed = time.monotonic() - closed
    values = metrics()
    metrics.close()
    assert values["fastmock_active_streams"] == base, noticed
    assert values["fastmock_open_connections"] == 1                 # the scraper
    print(f"\n{how}: noticed in {noticed * 1000:.0f} ms")
    assert noticed < 0.3, noticed


def test_a_client_that_only_half_closes_still_gets_every_answer(limited_server):
    """A FIN after the requests (nc -N, shutdown(SHUT_WR)) ends what the client sends, not what
    it reads: the paced stream, and what was pipelined behind it, all come."""
    with limited_server.connect(timeout=10) as sock:
        sock.sendall(get("/stream-sse?max_tokens=5&delay_ms=100") + get("/stream-ndjson?max_tokens=2&ttft_ms=300")
                     + get("/health"))
        sock.shutdown(socket.SHUT_WR)
        reader = sock.makefile("rb")
        assert len(read_response(reader, probed=True).sse_events()) == 6
        assert len(read_response(reader).body.splitlines()) == 3
        last = read_response(reader)
        assert last.json() == {"status": "ok"} and last.headers["connection"] == "close"
        assert reader.read() == b""


# -- --text-file ------------------------------------------------------------------------------------

def test_a_text_file_that_would_not_fit_is_refused_with_one_line(limits, tmp_path):
    """Before: a 320-384 KiB corpus was OOM-killed at start with no message; /dev/zero was
    read until the OOM killer came (0.8 s)."""
    words = " ".join(f"w{n % 9973:x}" for n in range(60_000))        # ~360 KiB, 60,000 tokens
    big = tmp_path / "big.txt"
    big.write_text(words)
    small = tmp_path / "small.txt"
    small.write_text(words[:40_000])
    for path, why in ((big, "does not fit"), ("/dev/zero", "larger than 8 MiB")):
        result = subprocess.run([*limits.group.enter_prefix(), sys.executable, "-m", "fastmock",
                                 "--text-file", str(path)], capture_output=True, text=True, timeout=60)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and why in lines[0], result.stderr
    server = limits.start("--text-file", str(small))
    try:
        assert "tokens)" in server.log and health(server)[:2] == (200, {"status": "ok"})
    finally:
        code = server.stop(timeout=30)
    assert code == 0 and limits.oom_kills() == 0, server.log


def test_limits_group_reads_the_charge_it_is_asked_for():
    """The helper's own figure is fastmock.memory's: usage less the file pages."""
    group = Limits()
    if group.create():
        group.remove()
        pytest.skip("no writable cgroup here")
    try:
        assert 0 <= group.charge() < MEMORY_LIMIT
    finally:
        group.remove()
