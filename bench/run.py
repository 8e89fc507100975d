#!/usr/bin/env python3
"""fastmock's benchmark suite: one command that measures fastmock and any baselines
the same way, on the same machine, interleaved, and writes the results.

    python3 bench/run.py                                    # fastmock alone
    python3 bench/run.py --baseline 'env GOMAXPROCS=1 /path/to/go-seed' \\
                         --baseline 'bench/baselines/nginx-return200.sh'

Each server is started pinned to one core (--server-cpu, default 0) and every
load generator (wrk, bench/streamload, this script) runs on another (--load-cpu,
default 1). A server command gets PORT and HOST in its environment and may use
{port} / {host} placeholders. Phases (--phases, default all):

  startup  time from exec to the first 200 on /health; idle VmRSS/PSS 2 s later
  wrk      wrk -t2 -c400 -d10s --latency /api/data: req/s, p50/p99, errors,
           non-2xx, server CPU us per request (utime+stime over the process tree
           from /proc/PID/stat), RSS growth after the load
  stream   1,000 paced streams on /stream-sse?delay_ms=20 (1 s ramp): TTFF and
           inter-frame gap p50/p90/p99/max, completed/failed, server CPU us per
           frame; plus a drift probe: one 100-token stream at 20 ms started once
           the ramp is over (its last token's arrival vs the ideal 99 x 20 ms)
  hold     10,000 idle /stream-loop?delay_ms=1000 streams (4 s ramp, 10 s hold):
           (VmRSS with the streams open - VmRSS before) / open streams
  limits   the server in fresh 0.1 CPU / 20 MB cgroups (v1 or v2, when writable):
           memory charged idle, the wrk load (req/s, non-2xx, OOM kills, peak
           memory; 3 s into it, 300 late joiners open at once and each times its
           first /health answer) and, in a second fresh server, 2,500
           /stream-loop streams held (held, peak open, OOM kills)

Every phase runs --runs times; rounds are interleaved (round -> phase -> server,
the server order alternating each round) so machine drift hits all servers alike.
The figures are medians over the rounds; ratios to each baseline are computed
pair by pair within a round, then their median is taken.

Output under --out (default bench/results): results.json (every raw run,
medians, ratios, machine, commands), results.md and results.png; raw tool logs
under logs/ (git-ignored).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import resource
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import report  # noqa: E402  (bench/report.py: tables and chart)

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- /proc
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

    def __init__(self, args, srv: "Server"):
        self.args, self.srv = args, srv
        self.t0 = time.monotonic()
        self.s0 = cpu_snapshot()
        self.own0 = _own_ticks()
        self.c0 = tree_cpu_ticks(srv.pid)

    def stop(self) -> tuple[float, dict]:
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


def busy_pct(a, b, core: str, what: int = 0) -> float | None:
    """% of a core's time between two snapshots: busy (what=0) or stolen by the hypervisor (1)"""
    key = f"cpu{core}"
    if key not in a or key not in b:
        return None
    dv, dt = b[key][what] - a[key][what], b[key][2] - a[key][2]
    return round(100.0 * dv / dt, 1) if dt else None




# --------------------------------------------------------------------------- cgroups
class CgroupError(Exception):
    pass


class Cgroup:
    """A fresh child cgroup (v1: one in cpu and one in memory; v2: one in the
    unified tree) under this process's own cgroup, with a CPU quota and a memory
    limit. remove() deletes it; everything created is tracked for clean-up."""

    live: list["Cgroup"] = []

    def __init__(self, name: str, cpu_quota: float, mem_bytes: int):
        self.dirs: list[str] = []
        self.v2 = False
        paths = {}
        with open("/proc/self/cgroup") as f:
            for line in f:
                hid, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in ctrls.split(","):
                    paths[c or "unified"] = path
        cpu_root = "/sys/fs/cgroup/cpu"
        mem_root = "/sys/fs/cgroup/memory"
        if "cpu" in paths and "memory" in paths and os.path.isdir(cpu_root) and os.path.isdir(mem_root):
            self.cpu = os.path.normpath(f"{cpu_root}/{paths['cpu']}/{name}")
            self.mem = os.path.normpath(f"{mem_root}/{paths['memory']}/{name}")
            self._mkdir(self.cpu)
            self._mkdir(self.mem)
            try:
                self._w(self.cpu, "cpu.cfs_period_us", "100000")
                self._w(self.cpu, "cpu.cfs_quota_us", str(int(cpu_quota * 100000)))
                self._w(self.mem, "memory.limit_in_bytes", str(mem_bytes))
            except OSError as e:
                self.remove()
                raise CgroupError(f"cannot configure v1 cgroups: {e}") from e
        elif os.path.exists("/sys/fs/cgroup/cgroup.controllers") and "unified" in paths:
            # cgroup v2: a process may only sit in a leaf, so the child must be a
            # sibling-free leaf with cpu and memory enabled in the parent.
            self.v2 = True
            parent = os.path.normpath(f"/sys/fs/cgroup/{paths['unified']}")
            try:
                with open(f"{parent}/cgroup.subtree_control") as f:
                    enabled = f.read().split()
                if not {"cpu", "memory"} <= set(enabled):
                    self._w(parent, "cgroup.subtree_control", "+cpu +memory")
            except OSError as e:
                raise CgroupError(f"cgroup v2: cannot enable cpu+memory in {parent}: {e}") from e
            self.cpu = self.mem = os.path.join(parent, name)
            self._mkdir(self.cpu)
            try:
                self._w(self.cpu, "cpu.max", f"{int(cpu_quota * 100000)} 100000")
                self._w(self.mem, "memory.max", str(mem_bytes))
                try:
                    self._w(self.mem, "memory.swap.max", "0")
                except OSError:
                    pass
            except OSError as e:
                self.remove()
                raise CgroupError(f"cannot configure v2 cgroup: {e}") from e
        else:
            raise CgroupError("no usable cgroup v1 cpu+memory or v2 hierarchy")
        Cgroup.live.append(self)

    def _mkdir(self, d: str) -> None:
        try:
            os.mkdir(d)
        except OSError as e:
            self.remove()
            raise CgroupError(f"cannot create {d}: {e}") from e
        self.dirs.append(d)

    @staticmethod
    def _w(d: str, f: str, v: str) -> None:
        with open(os.path.join(d, f), "w") as fh:
            fh.write(v)

    @staticmethod
    def _r(d: str, f: str) -> str:
        with open(os.path.join(d, f)) as fh:
            return fh.read()

    def join_self(self) -> None:
        """called in the child between fork and exec"""
        pid = str(os.getpid())
        for d in {self.cpu, self.mem}:
            self._w(d, "cgroup.procs", pid)

    def usage_bytes(self) -> int:
        return int(self._r(self.mem, "memory.current" if self.v2 else "memory.usage_in_bytes"))

    def mem_stat(self) -> dict[str, int]:
        out = {}
        for line in self._r(self.mem, "memory.stat").splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                out[k] = int(v)
        return out

    def peak_bytes(self) -> int | None:
        try:
            return int(self._r(self.mem, "memory.peak" if self.v2 else "memory.max_usage_in_bytes"))
        except OSError:
            return None

    def oom_kills(self) -> int | None:
        try:
            text = self._r(self.mem, "memory.events" if self.v2 else "memory.oom_control")
        except OSError:
            return None
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                return int(v)
        return None

    def failcnt(self) -> int | None:
        try:
            if self.v2:
                for line in self._r(self.mem, "memory.events").splitlines():
                    if line.startswith("max "):
                        return int(line.split()[1])
                return None
            return int(self._r(self.mem, "memory.failcnt"))
        except OSError:
            return None

    def throttling(self) -> dict[str, float]:
        st = {}
        try:
            for line in self._r(self.cpu, "cpu.stat").splitlines():
                k, _, v = line.partition(" ")
                st[k] = int(v)
        except OSError:
            return {}
        if self.v2:
            return {"nr_periods": st.get("nr_periods", 0), "nr_throttled": st.get("nr_throttled", 0),
                    "throttled_s": st.get("throttled_usec", 0) / 1e6}
        return {"nr_periods": st.get("nr_periods", 0), "nr_throttled": st.get("nr_throttled", 0),
                "throttled_s": st.get("throttled_time", 0) / 1e9}

    def remove(self) -> bool:
        ok = True
        for d in reversed(self.dirs):
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                ok = False
                log(f"WARNING: could not remove cgroup {d}")
        self.dirs = []
        if self in Cgroup.live:
            Cgroup.live.remove(self)
        return ok


def parse_size(s: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", s.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r} (e.g. 20M)")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


# --------------------------------------------------------------------------- servers
class Server:
    """One server under test: its command, label, port; start()/stop() one process."""

    running: list["Server"] = []

    def __init__(self, label: str, cmd: str, port: int, args, logdir: str):
        self.label, self.cmd, self.port, self.args, self.logdir = label, cmd, port, args, logdir
        self.proc: subprocess.Popen | None = None
        self.pids: set[int] = set()
        self.starts = 0
        self.streams: bool | None = None  # serves /stream-sse as text/event-stream? (probed once)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        cmd = self.cmd.replace("{port}", str(self.port)).replace("{host}", "127.0.0.1")
        argv = shlex.split(cmd)
        if self.args.server_cpu != "":
            argv = ["taskset", "-c", self.args.server_cpu] + argv
        return argv

    def start(self, tag: str, cgroup: Cgroup | None = None) -> float | None:
        """start, wait for /health; returns the start-up time in ms (None on failure)"""
        wait_port_free(self.port)
        self.starts += 1
        logf = open(os.path.join(self.logdir, f"server-{self.label}-{tag}.log"), "wb")
        env = dict(os.environ, PORT=str(self.port), HOST="127.0.0.1")
        pre = cgroup.join_self if cgroup else None
        t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(self.argv(), stdout=logf, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, preexec_fn=pre, start_new_session=True)
        except OSError as e:
            log(f"{self.label}: cannot start {self.cmd!r}: {e}")
            return None
        finally:
            logf.close()
        Server.running.append(self)
        deadline = t0 + self.args.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log(f"{self.label}: server exited during start-up (rc {self.proc.returncode}, see {logf.name})")
                self.stop()
                return None
            if health_ok(self.port):
                ms = (time.monotonic() - t0) * 1000
                self.pids = set(tree_pids(self.proc.pid))
                if self.streams is None:
                    self.streams = streams_ok(self.port)
                    if not self.streams:
                        log(f"{self.label}: /stream-sse is not an event stream here; streaming phases skipped")
                return round(ms, 1)
            time.sleep(0.002)
        log(f"{self.label}: no /health answer within {self.args.start_timeout} s")
        self.stop()
        return None

    def warm_page_cache(self, tag: str) -> None:
        """Start and stop once outside any cgroup, so that what the server reads is cached.

        A file page is charged to the cgroup that first reads it. This machine's page cache
        is reclaimed within minutes and its disk reads ahead 8 MiB, so a cold start charges
        5-8 MiB of interpreter and library pages to the cgroup, a warm one almost none;
        the limits phase measures warm, as on a host that has run the server before.
        """
        self.start(tag)   # it answers /health before start() returns
        self.stop()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        pids = set(self.pids)
        if self.proc.poll() is None:
            pids |= set(tree_pids(self.proc.pid))
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        # anything of ours still there (workers, a server that ignored SIGTERM)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"WARNING: {self.label} pid {self.proc.pid} did not exit")
        self.proc = None
        self.pids = set()
        if self in Server.running:
            Server.running.remove(self)


def health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(0.5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = s.recv(64)
            return data.startswith(b"HTTP/1.") and data[9:12] == b"200"
    except OSError:
        return False


def launch(argv: list[str], port: int, logfile: str, *, env=None, timeout: float = 20,
           name: str = "bench", stderr=subprocess.STDOUT) -> subprocess.Popen:
    """Start a server (its own session, stdout to ``logfile``) and wait for its /health."""
    wait_port_free(port)
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=stderr, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not health_ok(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            terminate(proc)
            raise SystemExit(f"{name}: the server did not start ({' '.join(argv)}); see {logfile}")
        time.sleep(0.01)
    return proc


def terminate(proc: subprocess.Popen, wait: float = 10) -> int | None:
    """SIGTERM to the server's session, SIGKILL if it has not exited after ``wait`` s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


def streams_ok(port: int) -> bool:
    """does the server answer /stream-sse with an event stream? (nginx `return 200` does not)"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(b"GET /stream-sse?delay_ms=0&max_tokens=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        return head[9:12] == b"200" and b"text/event-stream" in head
    except OSError:
        return False


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port_free(port: int, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while port_in_use(port):
        if time.monotonic() > end:
            raise SystemExit(f"bench: port {port} is in use by something else; pick another with --port")
        time.sleep(0.1)


def label_for(cmd: str, taken: set[str]) -> str:
    words = shlex.split(cmd)
    name = "server"
    skip_next = False
    for w in words:
        if skip_next:
            skip_next = False
            continue
        if w in ("env", "exec", "nice", "sudo", "stdbuf") or "=" in w:
            continue
        if w in ("taskset", "-c", "numactl"):
            skip_next = w == "-c"
            continue
        if w.startswith("-"):
            continue
        name = os.path.basename(w)
        name = re.sub(r"\.(sh|py)$", "", name)
        break
    base, i = name, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


# --------------------------------------------------------------------------- tools
def ensure_wrk(args) -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if args.no_install:
        raise SystemExit("bench: wrk is missing; install it (apt-get install -y wrk) or drop --no-install")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: installing it with `apt-get install -y wrk` (a bench-only system package)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, timeout=600)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, timeout=600)
        path = shutil.which("wrk")
        if path:
            return path
    raise SystemExit("bench: wrk is missing; install it with your package manager (e.g. sudo apt-get install -y wrk)")


def ensure_streamload(args) -> str:
    if args.streamload:
        return args.streamload
    src = os.path.join(HERE, "streamload")
    out = os.path.join(HERE, ".build", "streamload")
    newest = max(os.path.getmtime(os.path.join(src, f)) for f in os.listdir(src))
    if os.path.exists(out) and os.path.getmtime(out) >= newest:
        return out
    go = shutil.which("go")
    if not go and not args.no_install and os.geteuid() == 0 and shutil.which("apt-get"):
        log("go is missing: installing it with `apt-get install -y golang-go` to build bench/streamload")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "golang-go"], env=env, timeout=900)
        go = shutil.which("go")
    if not go:
        raise SystemExit("bench: the streaming load client needs Go (>= 1.19) to build: "
                         "install it (apt-get install -y golang-go) or build it yourself with\n"
                         f"    (cd {src} && go build -o {out} .)\nand rerun (or pass --streamload PATH)")
    log(f"building the load client: go build -o {os.path.relpath(out)} (bench/streamload)")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0")
    r = subprocess.run([go, "build", "-o", out, "."], cwd=src, env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit("bench: building bench/streamload failed")
    return out


def load_pin(args) -> list[str]:
    return ["taskset", "-c", args.load_cpu] if args.load_cpu != "" else []


def run_streamload(args, srv: Server, path: str, n: int, logname: str, *, ramp: float = 0, duration: float = 0,
                   timeout: float = 30, pid: bool = False, expect_ms: int = 0, wait: bool = True):
    cmd = load_pin(args) + [args.streamload_bin, "-q", "-url", srv.base + path, "-n", str(n),
                            "-timeout", f"{timeout}s"]
    if ramp:
        cmd += ["-ramp", f"{ramp}s"]
    if duration:
        cmd += ["-duration", f"{duration}s"]
    if pid:
        cmd += ["-pid", str(srv.pid)]
    if expect_ms:
        cmd += ["-expect-delay", f"{expect_ms}ms"]
    out = open(os.path.join(args.logdir, logname), "w+")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    hard = max(timeout, duration) + ramp + 30
    if not wait:
        return p, out, hard
    return finish_streamload(p, out, hard)


def finish_streamload(p, out, hard) -> dict:
    """wait (bounded) for a streamload started with wait=False; its RESULT plus its own CPU"""
    end = time.monotonic() + hard
    ru = None
    while ru is None:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            ru = usage
            p.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > end:
            p.kill()
            log("WARNING: streamload overran its time limit and was killed")
            _, _, ru = os.wait4(p.pid, 0)
            p.returncode = -9
            break
        time.sleep(0.05)
    out.seek(0)
    text = out.read()
    out.close()
    for line in text.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            res["client_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
            return res
    log(f"WARNING: streamload gave no RESULT (see {out.name})")
    return {}


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(v: str) -> float | None:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    return round(float(m.group(1)) * _UNIT[m.group(2)], 3) if m else None


def run_wrk(args, srv: Server, logname: str) -> dict:
    cmd = load_pin(args) + [args.wrk_bin, f"-t{args.wrk_threads}", f"-c{args.wrk_conns}",
                            f"-d{args.wrk_duration}s", "--latency", "--timeout", "5s", srv.base + "/api/data"]
    meter = Meter(args, srv)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.wrk_duration + 30)
        text = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        log("WARNING: wrk overran its time limit and was killed")
    cpu_s, cores = meter.stop()
    with open(os.path.join(args.logdir, logname), "w") as f:
        f.write(" ".join(cmd) + "\n" + text)
    res: dict = {}
    m = re.search(r"([\d]+) requests in ([\d.]+)(\w+)", text)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        res["rps"] = round(float(m.group(1)))
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            res[f"p{p}_ms"] = _ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    res["errors"] = sum(int(x) for x in m.groups()[:3]) if m else 0
    res["timeouts"] = int(m.group(4)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    res["non2xx"] = int(m.group(1)) if m else 0
    res["server_cpu_s"] = round(cpu_s, 2)
    if res.get("requests"):
        res["cpu_us_per_req"] = round(cpu_s * 1e6 / res["requests"], 2)
    res.update(cores)
    return res


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


# --------------------------------------------------------------------------- phases
def phase_startup(args, srv: Server, rnd: int) -> dict:
    out: dict = {}
    times, rss, pss = [], [], []
    for i in range(args.startup_repeats):
        ms = srv.start(f"r{rnd}-startup{i}")
        if ms is None:
            out["start_failed"] = 1
            break
        times.append(ms)
        time.sleep(2)
        rss.append(tree_status_kb(srv.pid, "VmRSS"))
        p = tree_pss_kb(srv.pid)
        if p is not None:
            pss.append(p)
        out["procs"] = len(tree_pids(srv.pid))
        srv.stop()
    if times:
        out["startup_ms"] = statistics.median(times)
        out["startup_ms_all"] = times
        out["idle_rss_kb"] = statistics.median(rss)
    if pss:
        out["idle_pss_kb"] = statistics.median(pss)
    return out


def phase_wrk(args, srv: Server, rnd: int) -> dict:
    if srv.start(f"r{rnd}-wrk") is None:
        return {"start_failed": 1}
    try:
        time.sleep(1)
        rss0 = tree_status_kb(srv.pid, "VmRSS")
        res = run_wrk(args, srv, f"r{rnd}-wrk-{srv.label}.txt")
        time.sleep(1)
        res["alive_after"] = int(srv.alive())
        if srv.alive():
            rss1 = tree_status_kb(srv.pid, "VmRSS")
            res["rss_before_kb"], res["rss_after_kb"], res["rss_growth_kb"] = rss0, rss1, rss1 - rss0
        return res
    finally:
        srv.stop()


def phase_stream(args, srv: Server, rnd: int) -> dict:
    if srv.start(f"r{rnd}-stream") is None:
        return {"start_failed": 1}
    try:
        if not srv.streams:
            return {"skipped": "no streaming endpoints"}
        time.sleep(1)
        reset_hwm(srv.pid)
        meter = Meter(args, srv)
        d = args.stream_delay
        main = run_streamload(args, srv, f"/stream-sse?delay_ms={d}", args.streams, f"r{rnd}-stream-{srv.label}.txt",
                              ramp=args.stream_ramp, timeout=args.stream_timeout, expect_ms=d, wait=False)
        # the drift probe: one 100-token stream while the load is at full strength
        time.sleep(args.stream_ramp + 0.5)
        probe = run_streamload(args, srv, f"/stream-sse?delay_ms={d}&max_tokens={args.drift_tokens}", 1,
                               f"r{rnd}-drift-{srv.label}.txt", timeout=args.stream_timeout, expect_ms=d, wait=False)
        pr = finish_streamload(*probe)
        res = finish_streamload(*main)
        cpu_s, cores = meter.stop()
        out = {k: res.get(k) for k in ("n", "ok", "failed", "errors", "finished", "frames", "wall_s",
                                        "ttff_p50_ms", "ttff_p90_ms", "ttff_p99_ms", "ttff_max_ms",
                                        "gap_p50_ms", "gap_p90_ms", "gap_p99_ms", "gap_max_ms",
                                        "drift_p50_ms", "drift_max_ms")}
        out["server_cpu_s"] = round(cpu_s, 2)
        out["client_cpu_s"] = res.get("client_cpu_s")
        if res.get("frames"):
            out["cpu_us_per_frame"] = round(cpu_s * 1e6 / res["frames"], 2)
            out["client_cpu_us_per_frame"] = round(res.get("client_cpu_s", 0) * 1e6 / res["frames"], 2)
        out["hwm_kb"] = tree_status_kb(srv.pid, "VmHWM") if srv.alive() else None
        out.update(cores)
        out["probe_ok"] = pr.get("ok")
        out["probe_drift_ms"] = pr.get("drift_p50_ms")
        out["probe_gap_max_ms"] = pr.get("gap_max_ms")
        out["alive_after"] = int(srv.alive())
        return out
    finally:
        srv.stop()


def phase_hold(args, srv: Server, rnd: int) -> dict:
    if srv.start(f"r{rnd}-hold") is None:
        return {"start_failed": 1}
    try:
        if not srv.streams:
            return {"skipped": "no streaming endpoints"}
        time.sleep(1)
        base = tree_status_kb(srv.pid, "VmRSS")
        meter = Meter(args, srv)
        res = run_streamload(args, srv, f"/stream-loop?delay_ms={args.hold_delay}", args.hold_streams,
                             f"r{rnd}-hold-{srv.label}.txt", ramp=args.hold_ramp,
                             duration=args.hold_ramp + args.hold_secs, timeout=args.hold_ramp + args.hold_secs + 20,
                             pid=True)
        cpu_s, cores = meter.stop()
        out = {k: res.get(k) for k in ("n", "ok", "held", "failed", "errors", "open_end", "max_open",
                                        "rss_end_kb", "rss_max_kb", "ttff_p99_ms", "gap_p99_ms")}
        out["rss_base_kb"] = base
        if res.get("open_end"):
            out["rss_per_stream_kb"] = round((res["rss_end_kb"] - base) / res["open_end"], 2)
        out["server_cpu_s"] = round(cpu_s, 2)
        out["other_cpu_pct"] = cores["other_cpu_pct"]
        out["alive_after"] = int(srv.alive())
        return out
    finally:
        srv.stop()


def phase_limits(args, srv: Server, rnd: int) -> dict:
    out: dict = {}
    tag = f"fastmock-bench-{os.getpid()}-{srv.label}-r{rnd}"
    # (a) idle charge and the wrk load
    try:
        cg = Cgroup(tag + "-wrk", args.cg_cpu, args.cg_mem)
    except CgroupError as e:
        log(f"limits phase skipped: {e}")
        return {"skipped": str(e)}
    out["cgroup"] = "v2" if cg.v2 else "v1"
    try:
        srv.warm_page_cache(f"r{rnd}-limits-warm")
        ms = srv.start(f"r{rnd}-limits-wrk", cgroup=cg)
        out["started"] = int(ms is not None)
        if ms is not None:
            out["startup_ms"] = ms
            time.sleep(2)
            out["idle_charged_kb"] = cg.usage_bytes() // 1024
            st = cg.mem_stat()
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
            out["wrk_health_after"] = int(srv.alive() and health_ok(srv.port))
        else:
            out["wrk_rps"] = 0
            out["wrk_alive_after"] = 0
    finally:
        srv.stop()
        out["wrk_oom_kills"] = cg.oom_kills()
        pk = cg.peak_bytes()
        out["wrk_peak_kb"] = pk // 1024 if pk is not None else None
        out["wrk_failcnt"] = cg.failcnt()
        out.update({f"wrk_{k}": v for k, v in cg.throttling().items()})
        cg.remove()
    # (b) concurrent /stream-loop streams held under the limits, in a fresh server
    if srv.streams is False:
        out["streams_skipped"] = "no streaming endpoints"
        return out
    try:
        cg = Cgroup(tag + "-streams", args.cg_cpu, args.cg_mem)
    except CgroupError as e:
        out["streams_skipped"] = str(e)
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
            out["streams_n"] = res.get("n")
            out["streams_held"] = res.get("held")
            out["streams_open_end"] = res.get("open_end")
            out["streams_max_open"] = res.get("max_open")
            out["streams_failed"] = res.get("failed")
            out["streams_errors"] = res.get("errors")
            out["streams_rss_end_kb"] = res.get("rss_end_kb")
            out["streams_alive_after"] = int(srv.alive())
        else:
            out["streams_held"] = 0
    finally:
        srv.stop()
        out["streams_oom_kills"] = cg.oom_kills()
        pk = cg.peak_bytes()
        out["streams_peak_kb"] = pk // 1024 if pk is not None else None
        cg.remove()
    return out


PHASES = {"startup": phase_startup, "wrk": phase_wrk, "stream": phase_stream, "hold": phase_hold,
          "limits": phase_limits}


# --------------------------------------------------------------------------- aggregation
def numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def aggregate(raw: dict, labels: list[str], fastmock: str) -> tuple[dict, dict]:
    """raw[label][phase] = [round dicts]; medians[label]['phase.key'] and
    ratios[baseline]['phase.key'] = median over rounds of fastmock/baseline"""
    medians: dict = {}
    for lb in labels:
        md = {}
        for ph, runs in raw[lb].items():
            keys = []
            for r in runs:
                keys += [k for k in r if k not in keys]
            for k in keys:
                vals = [r[k] for r in runs if numeric(r.get(k))]
                if vals:
                    md[f"{ph}.{k}"] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                                       "n": len(vals)}
        medians[lb] = md
    ratios: dict = {}
    for lb in labels:
        if lb == fastmock:
            continue
        rt = {}
        for ph, runs in raw[fastmock].items():
            theirs = raw[lb].get(ph, [])
            keys = {k for r in runs for k in r}
            for k in sorted(keys):
                pairs = []
                for a, b in zip(runs, theirs):
                    x, y = a.get(k), b.get(k)
                    if numeric(x) and numeric(y) and y != 0:
                        pairs.append(x / y)
                if pairs:
                    rt[f"{ph}.{k}"] = {"median": round(statistics.median(pairs), 3),
                                       "per_round": [round(p, 3) for p in pairs]}
        ratios[lb] = rt
    return medians, ratios


def machine_info(args) -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    tools = {}
    for t, a in (("wrk", ["-v"]), ("go", ["version"])):
        try:
            r = subprocess.run([shutil.which(t) or t] + a, capture_output=True, text=True, timeout=10)
            tools[t] = (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            pass
    try:
        r = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           timeout=10)
        commit = r.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    try:
        first = shlex.split(args.server.replace("{port}", "0").replace("{host}", "x"))
        r = subprocess.run(first[:1] + ["--version"], capture_output=True, text=True, timeout=10)
        tools["server_version"] = (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        pass
    return {"commit": commit, "cpu": cpu, "cores": os.cpu_count(), "mem_gb": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "python": platform.python_version(), "tools": tools}


# --------------------------------------------------------------------------- main
def cleanup() -> None:
    for s in list(Server.running):
        s.stop()
    for c in list(Cgroup.live):
        c.remove()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="fastmock --host {host} --port {port}",
                    help="the server under test (default: %(default)s, from the current environment)")
    ap.add_argument("--server-label", default="fastmock")
    ap.add_argument("--baseline", action="append", default=[], metavar="COMMAND",
                    help="a server to compare with (repeatable); gets PORT/HOST env and {port}/{host}")
    ap.add_argument("--label", action="append", default=[], metavar="NAME",
                    help="names for the baselines, in order (default: the command's program name)")
    ap.add_argument("--runs", type=int, default=3, help="rounds; every figure is the median (default 3)")
    ap.add_argument("--phases", default=",".join(PHASES), help="comma list of: " + ", ".join(PHASES))
    ap.add_argument("--port", type=int, default=3100, help="first port; server i uses port+i (default 3100)")
    ap.add_argument("--server-cpu", default="0", help="taskset list for servers ('' = unpinned; default 0)")
    ap.add_argument("--load-cpu", default="1", help="taskset list for load generators (default 1)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory (default bench/results)")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 1 round, short and small loads")
    ap.add_argument("--no-install", action="store_true", help="never apt-get/pip install anything")
    ap.add_argument("--no-chart", action="store_true", help="skip the PNG")
    ap.add_argument("--streamload", help="a prebuilt bench/streamload binary (default: build it with go)")
    ap.add_argument("--quiet-wait", type=float, default=20,
                    help="before each measurement wait up to this many s for other processes to calm down "
                         "(0 = don't check; default %(default)s)")
    ap.add_argument("--quiet-pct", type=float, default=15,
                    help="'quiet' = others use less than this %% of one core (default %(default)s)")
    ap.add_argument("--start-timeout", type=float, default=30)
    ap.add_argument("--startup-repeats", type=int, default=3)
    g = ap.add_argument_group("load sizes")
    g.add_argument("--wrk-threads", type=int, default=2)
    g.add_argument("--wrk-conns", type=int, default=400)
    g.add_argument("--wrk-duration", type=int, default=10)
    g.add_argument("--streams", type=int, default=1000)
    g.add_argument("--stream-delay", type=int, default=20)
    g.add_argument("--stream-ramp", type=float, default=1)
    g.add_argument("--stream-timeout", type=float, default=20)
    g.add_argument("--drift-tokens", type=int, default=100)
    g.add_argument("--hold-streams", type=int, default=10000)
    g.add_argument("--hold-delay", type=int, default=1000)
    g.add_argument("--hold-ramp", type=float, default=4)
    g.add_argument("--hold-secs", type=float, default=10)
    g.add_argument("--limit-streams", type=int, default=2500)
    g.add_argument("--limit-ramp", type=float, default=5)
    g.add_argument("--limit-hold", type=float, default=10)
    g.add_argument("--late-conns", type=int, default=300,
                   help="connections opened at once --late-at s into the limits wrk load (0: none)")
    # --late-at is cut to a third of --wrk-duration when it would not fall inside the load
    g.add_argument("--late-at", type=float, default=3)
    g.add_argument("--cg-cpu", type=float, default=0.1, help="CPU quota in cores (default 0.1)")
    g.add_argument("--cg-mem", type=parse_size, default=parse_size("20M"), help="memory limit (default 20M)")
    args = ap.parse_args(argv)

    if args.quick:
        args.runs, args.wrk_duration, args.streams, args.hold_streams = 1, 3, 200, 1000
        args.hold_ramp, args.hold_secs, args.limit_streams, args.limit_ramp, args.limit_hold = 1, 2, 500, 1, 2
        args.startup_repeats = 1
    if args.late_conns and args.late_at >= args.wrk_duration / 2:
        # late joiners must meet a loaded server, not the end of the load
        args.late_at = args.wrk_duration / 3
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    bad = [p for p in phases if p not in PHASES]
    if bad:
        ap.error(f"unknown phase(s) {bad}; choose from {list(PHASES)}")

    # the orchestrator itself sits on the load core; enough fds for 10,000 streams
    if args.load_cpu != "":
        cpus = set()
        for part in args.load_cpu.split(","):
            a, _, b = part.partition("-")
            cpus |= set(range(int(a), int(b or a) + 1))
        os.sched_setaffinity(0, cpus)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(args.hold_streams, args.limit_streams) + 1000
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    if soft < args.hold_streams + 100:
        log(f"WARNING: open-file limit {soft} is below --hold-streams {args.hold_streams}; raise it (ulimit -n)")

    for tool in ("taskset",):
        if args.server_cpu != "" and not shutil.which(tool):
            raise SystemExit("bench: taskset is missing (apt-get install -y util-linux)")
    if "wrk" in phases or "limits" in phases:
        args.wrk_bin = ensure_wrk(args)
    if {"stream", "hold", "limits"} & set(phases):
        args.streamload_bin = ensure_streamload(args)
    if not args.no_chart:
        report.ensure_matplotlib(install=not args.no_install)

    first = shlex.split(args.server.replace("{port}", "0").replace("{host}", "x"))
    if first and not shutil.which(first[0]) and not os.path.exists(first[0]):
        raise SystemExit(f"bench: {first[0]!r} not found: install fastmock into this environment "
                         f"(pip install .) or pass --server 'COMMAND'")

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    args.logdir = os.path.join(args.out, "logs", stamp)
    os.makedirs(args.logdir, exist_ok=True)

    taken = {args.server_label}
    servers = [Server(args.server_label, args.server, args.port, args, args.logdir)]
    for i, cmd in enumerate(args.baseline):
        lb = args.label[i] if i < len(args.label) else label_for(cmd, taken)
        taken.add(lb)
        servers.append(Server(lb, cmd, args.port + 1 + i, args, args.logdir))
    labels = [s.label for s in servers]
    raw: dict = {s.label: {p: [] for p in phases} for s in servers}

    def on_signal(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # even when started in the background with SIGINT ignored
    log(f"servers: {', '.join(f'{s.label}={s.cmd!r}' for s in servers)}; phases {phases}; "
        f"{args.runs} round(s); server cpu {args.server_cpu!r}, load cpu {args.load_cpu!r}; logs in {args.logdir}")
    info = machine_info(args)  # at the start: the commit being measured
    t_start = time.time()
    interrupted = False
    try:
        for rnd in range(1, args.runs + 1):
            order = servers if rnd % 2 else list(reversed(servers))
            for ph in phases:
                for srv in order:
                    log(f"round {rnd}/{args.runs} {ph:8s} {srv.label}")
                    waited = wait_quiet(args) if args.quiet_wait > 0 else 0
                    res = PHASES[ph](args, srv, rnd)
                    res["round"] = rnd
                    res["quiet_wait_s"] = waited
                    raw[srv.label][ph].append(res)
                    log("   " + summary_line(ph, res))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up and writing what was measured")
    finally:
        cleanup()

    medians, ratios = aggregate(raw, labels, args.server_label)
    doc = {
        "generated": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python3 bench/run.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "duration_s": round(time.time() - t_start),
        "complete": not interrupted,
        "machine": info,
        "settings": {k: v for k, v in vars(args).items()
                     if k not in ("wrk_bin", "streamload_bin", "logdir", "label", "baseline", "server")},
        "servers": [{"label": s.label, "command": s.cmd, "port": s.port} for s in servers],
        "fastmock": args.server_label,
        "phases": phases,
        "raw": raw,
        "medians": medians,
        "ratios": ratios,
    }
    # an interrupted run never replaces the last complete results
    stem = "results" if not interrupted else "results-interrupted"
    path = os.path.join(args.out, stem + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    md = report.write_markdown(doc, os.path.join(args.out, stem + ".md"))
    print(md)
    if not args.no_chart:
        png = report.write_chart(doc, os.path.join(args.out, stem + ".png"))
        if png:
            log(f"chart: {png}")
    log(f"results: {path} (+ {stem}.md/.png); raw logs: {args.logdir}")
    return 130 if interrupted else 0


def summary_line(ph: str, r: dict) -> str:
    keys = {
        "startup": ("startup_ms", "idle_rss_kb", "idle_pss_kb"),
        "wrk": ("rps", "p99_ms", "cpu_us_per_req", "non2xx", "errors", "rss_growth_kb", "load_core_busy_pct",
                "steal_pct", "other_cpu_pct"),
        "stream": ("ok", "failed", "cpu_us_per_frame", "gap_p50_ms", "gap_p99_ms", "ttff_p99_ms", "drift_max_ms",
                   "probe_drift_ms", "load_core_busy_pct", "other_cpu_pct"),
        "hold": ("held", "failed", "open_end", "rss_per_stream_kb"),
        "limits": ("idle_charged_kb", "wrk_rps", "wrk_non2xx", "wrk_oom_kills", "wrk_peak_kb", "late_answered",
                   "late_p50_ms", "late_max_ms", "streams_held",
                   "streams_max_open", "streams_oom_kills", "skipped"),
    }[ph]
    return " ".join(f"{k}={r[k]}" for k in keys if k in r) or json.dumps(r)[:300]


if __name__ == "__main__":
    sys.exit(main())
