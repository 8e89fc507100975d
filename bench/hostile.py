#!/usr/bin/env python3
"""Hostile clients under the compose limits: each row of issue 13's table, measured.

    python3 bench/hostile.py                               # this checkout, every row
    python3 bench/hostile.py --rows flood,fin              # some rows
    python3 bench/hostile.py --python /tmp/old/.venv/bin/python --pythonpath /tmp/old

The server (``PYTHON -m fastmock``, with --pythonpath put first on its PYTHONPATH, so an
older tree can be measured beside this one) runs in a fresh cgroup with docker-compose's
limits (tests/support/cgroups.py: 0.1 CPU, 20 MiB). Rows:

  never-read   N clients send /stream-loop?delay_ms=0 and never read (150, 1,000; 40 s)
  slow-read    1,000 slow readers, 1-64 byte windows, 32 bytes a second (60 s;
               slowhttptest -X when installed, else the same done here)
  flood        4,000 and 10,000 /stream-loop?delay_ms=1000 streams offered at once (30 s)
  maxconn      4,000 offered with --max-connections 2000 (30 s)
  pipeline     5 and 20 clients pipelining ~256 KB of GET /api/data, never reading (10 s)
  textfile     --text-file of 128, 256, 384 KiB of short words, and /dev/zero
  fin          10 /stream-loop?delay_ms=20000 streams (and ttft_ms=20000) closed by
               their clients: how long until fastmock_active_streams drops

Each row prints one line of figures: whether and when the OOM killer came, the cgroup's
peak, what the clients got, /health while it ran. Every load is bounded in time.
Needs root (cgroups) and enough open files (it raises its own limit to the hard one).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from support.cgroups import Cgroup  # noqa: E402

MIB = 1 << 20
LIMIT = 20 * MIB


# -- the server ---------------------------------------------------------------------------------

class Server:
    def __init__(self, python: str, pythonpath: str | None, *args: str) -> None:
        self.group = Cgroup(f"hostile-{os.getpid()}-{time.monotonic_ns()}", 0.1, LIMIT)
        why = self.group.create()
        if why:
            raise SystemExit(f"hostile: no cgroup here: {why}")
        self.port = free_port()
        env = {"PATH": os.environ["PATH"]}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        self.proc = subprocess.Popen(
            [*self.group.enter_prefix(), python, "-m", "fastmock", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", *args],
            env=env, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.alive():
            try:
                if health(self.port, 2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def charge(self) -> int:
        """Usage less the file pages (fastmock.cgroup's figure)."""
        stat = self.group.memory_stat()
        usage = self.group.usage_bytes() or 0
        prefix = "total_" if self.group.version == 1 else ""
        return usage - stat.get(prefix + "active_file", 0) - stat.get(prefix + "inactive_file", 0)

    def stop(self) -> dict:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read().decode(errors="replace")
        stats = self.group.stats()
        self.group.remove()
        return {"exit": self.proc.returncode, "oom_kills": stats["oom_kills"],
                "peak_mib": round(stats["peak_memory_bytes"] / MIB, 2), "log": out.strip()[-300:]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def health(port: int, timeout: float = 5.0) -> tuple[int, bytes]:
    return request(port, "/health", timeout)


def metric(port: int, name: str) -> float:
    body = request(port, "/metrics", 10)[1].decode()
    found = re.search(rf"^fastmock_{name} (\S+)$", body, re.M)
    return float(found.group(1)) if found else float("nan")


class Prober(threading.Thread):
    """/health every second; failures and the slowest answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stop, self.ok, self.failed, self.worst = port, threading.Event(), 0, 0, 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                good = health(self.port, 5)[0] == 200
            except OSError:
                good = False
            self.ok += good
            self.failed += not good
            self.worst = max(self.worst, time.monotonic() - started)
            self.stop.wait(1.0)

    def summary(self) -> str:
        self.stop.set()
        return f"/health {self.ok} ok, {self.failed} failed, worst {self.worst:.2f} s"


def watch(server: Server, seconds: float) -> float | None:
    """Wait ``seconds`` or until the server dies; returns when it died (s since start)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not server.alive():
            return round(time.monotonic() - server.started, 1)
        time.sleep(0.2)
    return None


def verdict(server: Server, died: float | None) -> str:
    result = server.stop()
    if result["oom_kills"]:
        return f"OOM-KILLED{f' at {died} s' if died else ''}, peak {result['peak_mib']} MiB"
    return f"alive, peak {result['peak_mib']} MiB, exit {result['exit']}"


# -- rows -------------------------------------------------------------------------------------------

def never_read(args) -> None:
    for n in (150, 1000):
        server = Server(args.python, args.pythonpath)
        prober = Prober(server.port)
        prober.start()
        socks = []
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"GET /stream-loop?delay_ms=0 HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(sock)
        died = watch(server, 40)
        charge = f"charge after 40 s {server.charge() / MIB:.2f} MiB; " if server.alive() else ""
        line = prober.summary()
        for sock in socks:
            sock.close()
        report(f"never-read {n}", f"{verdict(server, died)}; {charge}{line}")


def slow_read(args) -> None:
    server = Server(args.python, args.pythonpath)
    prober = Prober(server.port)
    prober.start()
    url = f"http://127.0.0.1:{server.port}/stream-loop?delay_ms=0"
    tool = shutil.which("slowhttptest")
    socks = []
    if tool:
        proc = subprocess.Popen([tool, "-X", "-c", "1000", "-r", "500", "-w", "1", "-y", "64",
                                 "-n", "1", "-z", "32", "-l", "60", "-p", "3", "-u", url],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        died = watch(server, 60)
        proc.terminate()
        proc.wait()
    else:
        for n in range(1000):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 + n % 64)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(b"GET /stream-loop?delay_ms=0 HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.setblocking(False)
            socks.append(sock)
        died = None
        for _ in range(60):
            for sock in socks:
                try:
                    sock.recv(32)
                except OSError:
                    pass
            died = watch(server, 1.0)
            if died:
                break
    charge = f"charge at the end {server.charge() / MIB:.2f} MiB; " if server.alive() else ""
    line = prober.summary()
    for sock in socks:
        sock.close()
    report("slow-read 1000", f"{'slowhttptest -X' if tool else 'own client'}: "
                             f"{verdict(server, died)}; {charge}{line}")


def offer(args, count: int, flags: tuple[str, ...], label: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = Server(args.python, args.pythonpath, *flags)
    prober = Prober(server.port)
    prober.start()
    selector = selectors.DefaultSelector()
    state = {}
    started = time.monotonic()
    opened = 0
    died = None
    while time.monotonic() - started < 30:
        while opened < count and time.monotonic() - started < 30:
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            state[sock] = ["connecting", time.monotonic(), None]
            selector.register(sock, selectors.EVENT_WRITE)
            opened += 1
            if opened % 200 == 0:
                break
        for key, _ in selector.select(0.01):
            sock, entry = key.fileobj, state[key.fileobj]
            if entry[0] == "connecting":
                try:
                    sock.send(b"GET /stream-loop?delay_ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
                    entry[0] = "sent"
                    selector.modify(sock, selectors.EVENT_READ)
                except OSError:
                    entry[0] = "failed"
                    selector.unregister(sock)
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if entry[0] == "sent" and data:
                entry[0], entry[2] = data[9:12].decode(errors="replace"), time.monotonic() - entry[1]
            elif not data:
                entry[0] = "lost" if entry[0] in ("200", "sent") else entry[0]
                selector.unregister(sock)
        if not server.alive():
            died = round(time.monotonic() - server.started, 1)
            break
    counts = {}
    for entry in state.values():
        counts[entry[0]] = counts.get(entry[0], 0) + 1
    waits = sorted(e[2] for e in state.values() if e[0] == "503" and e[2] is not None)
    p50 = f"{waits[len(waits) // 2]:.2f} s" if waits else "-"
    line = prober.summary()
    for sock in state:
        sock.close()
    report(label, f"{verdict(server, died)}; {counts.get('200', 0)} streams running, "
                  f"{counts.get('503', 0)} x 503 (p50 {p50}), {counts.get('lost', 0)} lost, "
                  f"{counts.get('sent', 0) + counts.get('connecting', 0)} unanswered; {line}")


def flood(args) -> None:
    for count in (4000, 10_000):
        offer(args, count, (), f"flood {count}")


def maxconn(args) -> None:
    offer(args, 4000, ("--max-connections", "2000"), "maxconn 2000, 4000 offered")


def pipeline(args) -> None:
    one = b"GET /api/data HTTP/1.1\r\nHost: x\r\n\r\n"
    for n in (5, 20):
        server = Server(args.python, args.pythonpath)
        idle = server.charge()
        socks = []
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.setblocking(False)
            try:
                sock.send(one * (256_000 // len(one)))
            except BlockingIOError:
                pass
            socks.append(sock)
        died = watch(server, 10)
        charge = server.charge() if server.alive() else 0
        for sock in socks:
            sock.close()
        extra = f"; {(charge - idle) / n / 1024:.0f} KiB a client" if charge else ""
        report(f"pipeline {n}", f"{verdict(server, died)}{extra}")


def textfile(args) -> None:
    import random
    rng = random.Random(1)
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "elit", "sed", "do", "tempor", "magna"]
    for kib in (128, 256, 384, None):
        if kib is None:
            path = "/dev/zero"
        else:
            path = f"/tmp/hostile-{os.getpid()}-{kib}.txt"
            with open(path, "w") as f:
                text = " ".join(rng.choice(words) for _ in range(kib * 1024 // 5))
                f.write(text[:kib * 1024])
        started = time.monotonic()
        server = Server(args.python, args.pythonpath, "--text-file", path)
        up = server.alive()
        result = server.stop()
        if kib is not None:
            os.unlink(path)
        said = result["log"].splitlines()[-1] if result["log"] else ""
        state = ("OOM-KILLED" if result["oom_kills"] else "serving" if up else f"exit {result['exit']}")
        report(f"textfile {kib or '/dev/zero'}{' KiB' if kib else ''}",
               f"{state} after {time.monotonic() - started:.1f} s, peak {result['peak_mib']} MiB; "
               f"{said[:160]}")


def fin(args) -> None:
    for path, how in (("/stream-loop?delay_ms=20000", "FIN"), ("/stream-loop?delay_ms=20000", "RST"),
                      ("/stream-loop?ttft_ms=20000", "FIN")):
        server = Server(args.python, args.pythonpath)
        socks = []
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(sock)
        time.sleep(0.5)
        for sock in socks:      # read what came (the head, a frame): a close is then a FIN
            sock.settimeout(2)
            sock.recv(65536)
        closed = time.monotonic()
        for sock in socks:
            if how == "RST":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        while time.monotonic() - closed < 60 and metric(server.port, "active_streams") > 0:
            time.sleep(0.01)
        took = time.monotonic() - closed
        report(f"{how} {path}", f"active_streams back to 0 {took:.3f} s after the clients left; "
                                f"{verdict(server, None)}")


ROWS = {"never-read": never_read, "slow-read": slow_read, "flood": flood, "maxconn": maxconn,
        "pipeline": pipeline, "textfile": textfile, "fin": fin}


def report(row: str, text: str) -> None:
    print(f"| {row} | {text} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs fastmock")
    parser.add_argument("--pythonpath", help="put first on the server's PYTHONPATH (an older tree)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated: {', '.join(ROWS)}")
    args = parser.parse_args()
    print(json.dumps({"python": args.python, "pythonpath": args.pythonpath}))
    for row in args.rows.split(","):
        ROWS[row](args)


if __name__ == "__main__":
    main()
