"""What scripted answers cost a server (issue 15's budgets), in one run, side by side.

    python bench/fixtures_cost.py [--runs 3] [--streams 300] [--tokens 200] [--delay-ms 5]
                                  [--only frames|memory|matching]

(a) frames: one server loaded with 1,000 literal fixtures streams --streams paced
    scripted chat streams (a fixture's text of --tokens tokens), as many
    ``/stream-sse?max_tokens=--tokens`` ones and as many corpus chat streams (no
    fixture matches), in turn, --runs times each; the server's CPU (utime + stime
    from /proc) per event received. Budget: a scripted frame costs at most 1.1x a
    /stream-sse frame; the corpus chat stream tells what the scripting adds to a
    provider stream. Pace them slowly enough (--delay-ms) that the client keeps up:
    a server that falls behind writes several frames at once, and costs less per frame.
(b) memory: idle VmRSS of a server started with no fixtures, with 1, and with
    1,000, each after the same two provider requests, the first with a control (so
    the Python provider modules are loaded in all three). Budget: 1,000 fixtures cost at most 2 MB more than none.
(c) matching: ``FixturePool.find`` over the same 1,000 fixtures for a fresh 60- and
    600-character message each call (bench/fixtures_match.py has the detailed
    table). Budget: 10 us.

Every figure is the median of --runs. The server runs pinned to core 0 and this
script to core 1 when the machine has two (``taskset``), as bench/run.py does.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fixtures_match  # noqa: E402  (bench/fixtures_match.py: the 1,000 fixtures)
from fastmock.fixtures.load import parse_document  # noqa: E402
from fastmock.fixtures.match import FixturePool, RequestFacts  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PARTS = ("frames", "memory", "matching")
STREAM_PROMPT = "bench scripted stream"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream_text(tokens: int) -> str:
    words = fixtures_match.vocabulary()
    rng = random.Random(7)
    return " ".join(rng.choice(words) for _ in range(tokens))


def write_fixtures(path: Path, count: int, tokens: int) -> None:
    """``count`` literal fixtures (bench/fixtures_match.py's) and, last, the stream's own."""
    doc = {"fixtures": []}
    if count > 1:
        doc = fixtures_match.build_document(count - 1, fixtures_match.vocabulary(),
                                            random.Random(42))
    doc["fixtures"].append({"match": {"userMessage": STREAM_PROMPT},
                            "response": {"content": stream_text(tokens)}})
    path.write_text(json.dumps(doc))


class Server:
    """A fastmock process on a free port, pinned to core 0 when there are two cores."""

    def __init__(self, *flags: str) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "fastmock", "--host", "127.0.0.1",
                "--port", str(self.port), *flags]
        if shutil.which("taskset") and os.cpu_count() >= 2:
            argv = ["taskset", "-c", "0"] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=ROOT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if request(self.port, b"GET /health HTTP/1.0\r\n\r\n").endswith(b'"ok"}'):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the server did not start: " + " ".join(argv))

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def post(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.0\r\nHost: b\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


# -- (a) CPU per frame -------------------------------------------------------------------

class _Reader(asyncio.Protocol):
    """Counts the SSE events of one close-delimited (HTTP/1.0) stream."""

    def __init__(self, done: asyncio.Future) -> None:
        self.done = done
        self.events = 0
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        data = self.tail + data
        self.events += data.count(b"\n\n")
        self.tail = data[-1:]

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(self.events)


async def _streams(port: int, raw: bytes, n: int) -> tuple:
    loop = asyncio.get_running_loop()
    futures = []
    for _ in range(n):
        done = loop.create_future()
        transport, _ = await loop.create_connection(lambda d=done: _Reader(d), "127.0.0.1", port)
        transport.write(raw)
        futures.append(done)
    counts = await asyncio.wait_for(asyncio.gather(*futures), 120)
    return sum(counts), sum(1 for c in counts if c == 0)


def cpu_per_frame(server: Server, raw: bytes, n: int) -> float:
    before = server.cpu_s()
    events, empty = asyncio.run(_streams(server.port, raw, n))
    used = server.cpu_s() - before
    if empty:
        raise RuntimeError(f"{empty} streams sent nothing")
    return used / events * 1e6


# -- (b) memory ----------------------------------------------------------------------------

def idle_rss_kb(flags: list) -> int:
    server = Server(*flags)
    try:
        # A control (delay_ms) sends the first request down the Python path, so every
        # server has the provider modules loaded, not only those with fixtures (the
        # compiled path answers a plain request without them).
        for path, body in (("/v1/chat/completions?delay_ms=0",
                            {"model": "m", "messages": [{"role": "user", "content": "hello"}]}),
                           ("/v1/chat/completions",
                            {"model": "m", "messages": [{"role": "user", "content": STREAM_PROMPT}]})):
            request(server.port, post(path, body))
        time.sleep(1)
        return server.rss_kb()
    finally:
        server.stop()


# -- (c) matching --------------------------------------------------------------------------

def match_us(length: int, rounds: int) -> list:
    rng = random.Random(length)
    words = fixtures_match.vocabulary()
    pool = FixturePool(parse_document(
        fixtures_match.build_document(1000, words, random.Random(42)), "bench"))
    facts = [RequestFacts.from_messages(
        [("system", "You are a helpful assistant.", None),
         ("user", fixtures_match.sentence(words, rng, length), None)],
        model="gpt-4o-2024-08-06") for _ in range(500)]
    out = []
    for _ in range(rounds):
        it = iter(facts * 4)
        out.append(timeit.timeit(lambda: pool.find(next(it)), number=2000) / 2000 * 1e6)
    return out


def median(values) -> float:
    return statistics.median(values)


def frames(args, many: Path) -> str:
    server = Server("--fixtures", str(many), "--delay-ms", str(args.delay_ms))
    try:
        scripted = post(f"/v1/chat/completions?delay_ms={args.delay_ms}",
                        {"model": "gpt-4o", "stream": True,
                         "messages": [{"role": "user", "content": STREAM_PROMPT}]})
        seed = (f"GET /stream-sse?delay_ms={args.delay_ms}&max_tokens={args.tokens} HTTP/1.0"
                "\r\nHost: b\r\n\r\n").encode()
        corpus = post(f"/v1/chat/completions?delay_ms={args.delay_ms}&max_tokens={args.tokens}",
                      {"model": "gpt-4o", "stream": True,
                       "messages": [{"role": "user", "content": "no fixture says this"}]})
        sse, chat, plain = [], [], []
        for run in range(args.runs):
            loads = [(sse, seed), (chat, scripted), (plain, corpus)]
            for into, raw in loads if run % 2 else loads[::-1]:
                time.sleep(0.5)
                into.append(cpu_per_frame(server, raw, args.streams))
    finally:
        server.stop()
    ratios = [c / s for c, s in zip(chat, sse)]
    plain_ratios = [c / p for c, p in zip(chat, plain)]
    return (f"(a) CPU per frame, {args.streams} streams x {args.tokens} tokens at {args.delay_ms} ms:"
            f" /stream-sse {median(sse):.2f} us, scripted chat {median(chat):.2f} us,"
            f" ratio {median(ratios):.2f}x (budget 1.1x; runs {', '.join(f'{r:.2f}' for r in ratios)});"
            f" a corpus chat stream (no fixture matches) {median(plain):.2f} us, scripted"
            f" {median(plain_ratios):.2f}x that")


def memory(args, many: Path, one: Path) -> str:
    rss = {name: [] for name in ("none", "one", "many")}
    for _ in range(args.runs):
        rss["none"].append(idle_rss_kb([]))
        rss["one"].append(idle_rss_kb(["--fixtures", str(one)]))
        rss["many"].append(idle_rss_kb(["--fixtures", str(many)]))
    none, one_, many_ = (median(rss[k]) for k in ("none", "one", "many"))
    over_none = [(m - n) / 1024 for n, m in zip(rss["none"], rss["many"])]
    return (f"(b) idle VmRSS: no fixtures {none / 1024:.1f} MB, 1 fixture {one_ / 1024:.1f} MB,"
            f" 1,000 fixtures {many_ / 1024:.1f} MB: +{(many_ - none) / 1024:.2f} MB over none,"
            f" +{(many_ - one_) / 1024:.2f} MB over one (budget 2 MB = 1.91 MiB; runs over none:"
            f" {', '.join(f'{d:.2f}' for d in over_none)})")


def matching(args) -> str:
    short, long_ = match_us(60, max(args.runs, 3)), match_us(600, max(args.runs, 3))
    return (f"(c) find() over 1,000 literal fixtures, a fresh message each call: 60 chars"
            f" {median(short):.1f} us, 600 chars {median(long_):.1f} us (budget 10 us)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--streams", type=int, default=300)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--delay-ms", type=int, default=20)
    ap.add_argument("--only", choices=PARTS, help="run one part: (a), (b) or (c)")
    args = ap.parse_args()
    parts = (args.only,) if args.only else PARTS
    if shutil.which("taskset") and os.cpu_count() >= 2:
        os.sched_setaffinity(0, {1})
    tmp = Path(tempfile.mkdtemp(prefix="fastmock-cost-"))
    many, one = tmp / "many.json", tmp / "one.json"
    write_fixtures(many, 1000, args.tokens)
    write_fixtures(one, 1, args.tokens)
    lines = []
    try:
        if "frames" in parts:
            lines.append(frames(args, many))
        if "memory" in parts:
            lines.append(memory(args, many, one))
        if "matching" in parts:
            lines.append(matching(args))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cmd = "python bench/fixtures_cost.py " + " ".join(sys.argv[1:])
    print(f"{cmd.strip()}  (medians of {args.runs} runs)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
