"""A cgroup with docker-compose's limits, for tests and benchmarks that run fastmock under them.

The one place that creates such cgroups (v1 cpu+memory, or v2) and reads what they
charged; tests/test_container.py and bench/ both use it.
"""
import os
import time

CG = "/sys/fs/cgroup"


class Cgroup:
    """A cgroup with docker-compose's limits (cgroup v1 cpu+memory, or v2)."""

    def __init__(self, name, cpus, memory):
        self.name, self.cpus, self.memory = name, cpus, memory
        self.dirs, self.version = [], None

    @staticmethod
    def _own(controller):
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if (controller in ctrls.split(",")) if controller else ctrls == "":
                    return path
        return None

    @staticmethod
    def _write(path, value):
        with open(path, "w") as f:
            f.write(str(value))

    def create(self):
        """Returns None, or why no cgroup can be made here."""
        errors = []
        for make in (self._make_v1, self._make_v2):
            try:
                make()
                return None
            except OSError as e:
                errors.append(str(e))
                self.remove()
        return "; ".join(errors)

    def _make_v1(self):
        for ctrl in ("cpu", "memory"):
            own = self._own(ctrl)
            if own is None or not os.path.isdir(f"{CG}/{ctrl}"):
                raise OSError(f"cgroup v1: no '{ctrl}' controller")
            path = os.path.normpath(f"{CG}/{ctrl}/{own}/{self.name}")
            os.mkdir(path)
            self.dirs.append(path)
        cpu, mem = self.dirs
        self._write(f"{cpu}/cpu.cfs_period_us", 100_000)
        self._write(f"{cpu}/cpu.cfs_quota_us", int(self.cpus * 100_000))
        self._write(f"{mem}/memory.limit_in_bytes", self.memory)
        self.version = 1

    def _make_v2(self):
        own = self._own("")
        if own is None or not os.path.exists(f"{CG}/cgroup.controllers"):
            raise OSError("cgroup v2: not mounted at /sys/fs/cgroup")
        parent = os.path.normpath(f"{CG}/{own}")
        path = f"{parent}/{self.name}"
        os.mkdir(path)
        self.dirs.append(path)
        if not os.path.exists(f"{path}/memory.max") or not os.path.exists(f"{path}/cpu.max"):
            self._write(f"{parent}/cgroup.subtree_control", "+cpu +memory")
        self._write(f"{path}/cpu.max", f"{int(self.cpus * 100_000)} 100000")
        self._write(f"{path}/memory.max", self.memory)
        if os.path.exists(f"{path}/memory.swap.max"):
            self._write(f"{path}/memory.swap.max", 0)
        self.version = 2

    def enter_prefix(self):
        """A command prefix that moves itself into the group, then execs the rest
        (so everything the server allocates is charged from its first byte)."""
        writes = " && ".join(f"echo $$ > {d}/cgroup.procs" for d in self.dirs)
        return ["sh", "-c", f'{writes} && exec "$@"', "cgroup-enter"]

    def _read(self, name):
        for d in self.dirs:
            try:
                with open(f"{d}/{name}") as f:
                    return f.read()
            except OSError:
                continue
        return ""

    def _stat(self, name):
        return {k: int(v) for k, v in
                (ln.split() for ln in self._read(name).splitlines() if ln.strip())}

    def stats(self):
        if self.version == 1:
            mem = self._stat("memory.stat")
            return {
                "peak_memory_bytes": int(self._read("memory.max_usage_in_bytes") or 0),
                "oom_kills": self._stat("memory.oom_control").get("oom_kill", 0),
                "limit_hits": int(self._read("memory.failcnt") or 0),
                "rss_bytes": mem.get("rss", 0), "cache_bytes": mem.get("cache", 0),
                "throttled_periods": self._stat("cpu.stat").get("nr_throttled", 0),
            }
        mem = self._stat("memory.stat")
        return {
            "peak_memory_bytes": int(self._read("memory.peak") or 0),
            "oom_kills": self._stat("memory.events").get("oom_kill", 0),
            "limit_hits": self._stat("memory.events").get("max", 0),
            "rss_bytes": mem.get("anon", 0), "cache_bytes": mem.get("file", 0),
            "throttled_periods": self._stat("cpu.stat").get("nr_throttled", 0),
        }

    def remove(self):
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        self.dirs = []
