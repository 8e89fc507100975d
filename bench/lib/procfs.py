"""What /proc says about a server's process tree and the machine's cores.

Server CPU is utime + stime of every process in the tree, memory VmRSS (or PSS) summed
over it; the cores' busy and stolen time come from /proc/stat. Meter wraps one load.
"""
from __future__ import annotations

import os
import re
import resource
import time

from .log import log

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- a process tree
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(b")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def tree_pids(pid: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            out.append(p)
            todo += kids.get(p, [])
    return out


def tree_cpu_ticks(pid: int) -> int:
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                rest = f.read().rsplit(b")", 1)[1].split()
            total += int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError):
            pass
    return total


def tree_status_kb(pid: int, field: str) -> int:
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def tree_pss_kb(pid: int) -> int | None:
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            return None
    return total


def reset_hwm(pid: int) -> None:
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


# --------------------------------------------------------------------------- the cores
def cpu_snapshot() -> dict[str, tuple[int, int, int, int]]:
    """per core: (busy, steal, total, user+nice+system) ticks from /proc/stat"""
    snap = {}
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d", line):
                v = [int(x) for x in line.split()[1:]]
                idle, steal = v[3] + v[4], v[7]
                snap[line.split()[0]] = (sum(v[:8]) - idle - steal, steal, sum(v[:8]), v[0] + v[1] + v[2])
    return snap


def busy_pct(a, b, core: str, what: int = 0) -> float | None:
    """% of a core's time between two snapshots: busy (what=0) or stolen by the hypervisor (1)"""
    key = f"cpu{core}"
    if key not in a or key not in b:
        return None
    dv, dt = b[key][what] - a[key][what], b[key][2] - a[key][2]
    return round(100.0 * dv / dt, 1) if dt else None


def _own_ticks() -> float:
    """CPU ticks used by this script and its finished children (wrk, streamload)"""
    t = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        t += (r.ru_utime + r.ru_stime) * CLK_TCK
    return t


class Meter:
    """CPU accounting around one load: the server tree's ticks, both cores' use, and how
    much of the machine other processes (not this bench) used meanwhile."""

    def __init__(self, args, srv):
        self.args, self.srv = args, srv
        self.t0 = time.monotonic()
        self.s0 = cpu_snapshot()
        self.own0 = _own_ticks()
        self.c0 = tree_cpu_ticks(srv.pid)

    def stop(self) -> tuple[float, dict]:
        """(server CPU seconds, the cores' figures) since the meter started"""
        c1 = tree_cpu_ticks(self.srv.pid) if self.srv.alive() else self.c0
        s1, own1, t1 = cpu_snapshot(), _own_ticks(), time.monotonic()
        server_ticks = c1 - self.c0
        # busy includes irq/softirq time: a process's stime does too (loopback TCP work
        # runs in softirq context, charged to whichever process is on the CPU)
        busy = sum(s1[k][0] - self.s0[k][0] for k in s1 if k in self.s0)
        other = max(0.0, busy - server_ticks - (own1 - self.own0))
        st = {"server_core_busy_pct": busy_pct(self.s0, s1, self.args.server_cpu),
              "load_core_busy_pct": busy_pct(self.s0, s1, self.args.load_cpu),
              "steal_pct": busy_pct(self.s0, s1, self.args.server_cpu, 1),
              "other_cpu_pct": round(100.0 * other / ((t1 - self.t0) * CLK_TCK), 1)}
        return server_ticks / CLK_TCK, st


def wait_quiet(args) -> float:
    """before a measurement: wait (up to --quiet-wait s) until processes other than this
    bench use less than --quiet-pct % of one core; returns the seconds waited"""
    t0 = time.monotonic()
    warned = False
    while True:
        a = cpu_snapshot()
        time.sleep(1)
        b = cpu_snapshot()
        used = 100.0 * sum(b[k][3] - a[k][3] for k in b if k in a) / CLK_TCK
        waited = time.monotonic() - t0
        if used < args.quiet_pct or waited >= args.quiet_wait:
            if used >= args.quiet_pct:
                log(f"   the machine is still busy ({used:.0f}% of a core used by others); measuring anyway")
            return round(waited - 1, 1)
        if not warned:
            log(f"   other processes use {used:.0f}% of a core; waiting up to {args.quiet_wait:.0f} s for quiet")
            warned = True


def wait_idle(pid: int, timeout: float = 30, window: float = 0.3) -> float:
    """after a load: wait until the server's tree used at most one clock tick of CPU in
    ``window`` s, i.e. it has answered what was still queued when the load generator
    stopped, so that this work is not charged to the next load; returns the seconds waited"""
    t0 = time.monotonic()
    before = tree_cpu_ticks(pid)
    while time.monotonic() - t0 < timeout:
        time.sleep(window)
        now = tree_cpu_ticks(pid)
        if now - before <= 1:
            break
        before = now
    return round(time.monotonic() - t0, 1)
