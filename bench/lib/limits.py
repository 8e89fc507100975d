"""The limits phase: the server inside fresh 0.1 CPU / 20 MB cgroups, as docker compose
runs it: what it is charged idle, the wrk load with late joiners, then held streams."""
from __future__ import annotations

import argparse
import os
import re
import selectors
import socket
import threading
import time

from support import probe  # tests/support, on the path from lib/__init__.py
from support.cgroups import Cgroup

from .log import log
from .procfs import tree_status_kb
from .tools import run_streamload, run_wrk

LIVE: list[Cgroup] = []   # created and not yet removed: remove_all() on the way out


def parse_size(s: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", s.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r} (e.g. 20M)")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def make_cgroup(args, name: str) -> tuple[Cgroup | None, str | None]:
    """(a fresh cgroup with the --cg-cpu / --cg-mem limits, None) or (None, why not)"""
    cg = Cgroup(name, args.cg_cpu, args.cg_mem)
    why = cg.create()
    if why:
        return None, why
    LIVE.append(cg)
    return cg, None


def remove(cg: Cgroup) -> None:
    dirs = list(cg.dirs)
    if not cg.remove():
        log(f"WARNING: could not remove cgroup {' / '.join(dirs)}")
    if cg in LIVE:
        LIVE.remove(cg)


def remove_all() -> None:
    for cg in list(LIVE):
        remove(cg)


def late_joiners(port: int, n: int, timeout: float) -> dict:
    """Open n connections at once against a busy server; each sends one /health request.

    What it measures is how soon a server takes in clients that arrive while it is
    saturated (one accept per loop iteration leaves them in the backlog): the time from
    the connects to each first answer.
    """
    sel = selectors.DefaultSelector()
    request = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
    t0 = time.monotonic()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    answered: list[float] = []
    pending = len(socks)
    deadline = t0 + timeout
    while pending and time.monotonic() < deadline:
        for key, events in sel.select(0.2):
            s = key.fileobj
            try:
                if events & selectors.EVENT_WRITE:
                    s.send(request)
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                data = s.recv(4096)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 200"):
                answered.append(time.monotonic() - t0)
            sel.unregister(s)
            pending -= 1
    for s in socks:
        s.close()
    answered.sort()
    out = {"late_n": n, "late_answered": len(answered)}
    if answered:
        out["late_p50_ms"] = round(answered[len(answered) // 2] * 1000, 1)
        out["late_max_ms"] = round(answered[-1] * 1000, 1)
    return out


def _charged(cg: Cgroup, prefix: str) -> dict:
    """what the group recorded once its server stopped: OOM kills and peak memory"""
    pk = cg.peak_bytes()
    return {f"{prefix}oom_kills": cg.oom_kills(), f"{prefix}peak_kb": pk // 1024 if pk is not None else None}


def phase_limits(args, srv, rnd: int) -> dict:
    out: dict = {}
    tag = f"fastmock-bench-{os.getpid()}-{srv.label}-r{rnd}"
    # (a) idle charge and the wrk load
    cg, why = make_cgroup(args, tag + "-wrk")
    if cg is None:
        log(f"limits phase skipped: {why}")
        return {"skipped": why}
    out["cgroup"] = f"v{cg.version}"
    try:
        srv.warm_page_cache(f"r{rnd}-limits-warm")
        ms = srv.start(f"r{rnd}-limits-wrk", cgroup=cg)
        out["started"] = int(ms is not None)
        if ms is not None:
            out["startup_ms"] = ms
            time.sleep(2)
            out["idle_charged_kb"] = cg.usage_bytes() // 1024
            st = cg.memory_stat()
            out["idle_charged_anon_kb"] = (st.get("rss", st.get("anon", 0))) // 1024
            out["idle_charged_file_kb"] = (st.get("cache", st.get("file", 0))) // 1024
            out["idle_rss_kb"] = tree_status_kb(srv.pid, "VmRSS")
            late: dict = {}
            if args.late_conns:
                joiners = threading.Thread(target=lambda: (
                    time.sleep(args.late_at),
                    late.update(late_joiners(srv.port, args.late_conns, args.wrk_duration + 10))))
                joiners.start()
            w = run_wrk(args, srv, f"r{rnd}-limits-wrk-{srv.label}.txt")
            if args.late_conns:
                joiners.join()
                out.update(late)
            for k in ("rps", "p50_ms", "p99_ms", "errors", "timeouts", "non2xx", "cpu_us_per_req", "requests",
                      "steal_pct", "other_cpu_pct"):
                out[f"wrk_{k}"] = w.get(k)
            time.sleep(1)
            out["wrk_alive_after"] = int(srv.alive())
            out["wrk_health_after"] = int(srv.alive() and probe.healthy(srv.port))
        else:
            out["wrk_rps"] = 0
            out["wrk_alive_after"] = 0
    finally:
        srv.stop()
        out.update(_charged(cg, "wrk_"))
        out["wrk_failcnt"] = cg.limit_hits()
        out.update({f"wrk_{k}": v for k, v in cg.throttling().items()})
        remove(cg)
    # (b) concurrent /stream-loop streams held under the limits, in a fresh server
    if srv.streams is False:
        out["streams_skipped"] = "no streaming endpoints"
        return out
    cg, why = make_cgroup(args, tag + "-streams")
    if cg is None:
        out["streams_skipped"] = why
        return out
    try:
        srv.warm_page_cache(f"r{rnd}-limits-streams-warm")
        ms = srv.start(f"r{rnd}-limits-streams", cgroup=cg)
        if ms is not None:
            time.sleep(1)
            res = run_streamload(args, srv, f"/stream-loop?delay_ms={args.hold_delay}", args.limit_streams,
                                 f"r{rnd}-limits-streams-{srv.label}.txt", ramp=args.limit_ramp,
                                 duration=args.limit_ramp + args.limit_hold,
                                 timeout=args.limit_ramp + args.limit_hold + 20, pid=True)
            for k in ("n", "held", "open_end", "max_open", "failed", "errors", "rss_end_kb"):
                out[f"streams_{k}"] = res.get(k)
            out["streams_alive_after"] = int(srv.alive())
        else:
            out["streams_held"] = 0
    finally:
        srv.stop()
        out.update(_charged(cg, "streams_"))
        remove(cg)
    return out
