"""A cgroup with docker-compose's limits, for tests and benchmarks that run fastmock under them.

The one place that creates such cgroups (v1 cpu+memory, or v2) and reads what they
charged; tests/container (the compose limits), tests/e2e/test_e2e_cgroup.py (a CPU quota
alone) and bench/ (its limits phase) use it.
"""
import os
import time

CG = "/sys/fs/cgroup"


class Cgroup:
    """A cgroup with docker-compose's limits (cgroup v1 cpu+memory, or v2).

    Cgroup(name, cpus, memory).create() makes it under this process's own cgroup and
    returns None, or why it cannot be made here; remove() deletes it. A process enters
    it through enter_prefix() (a command prefix) or join_self() (a preexec_fn).
    ``memory=None`` sets no memory limit (v1: no memory controller needed); ``nested``
    keeps the limits on the group and puts the process in a child of it with none, as a
    container whose parent cgroup holds the quota.
    """

    def __init__(self, name, cpus, memory=None, *, nested=False):
        self.name, self.cpus, self.memory, self.nested = name, cpus, memory, nested
        self.dirs, self.version = [], None   # the groups with the limits: v1 [cpu(, memory)], v2 one
        self.entries = []                    # where a process goes: dirs, or their children (nested)
        self._made = []                      # every directory made, outermost first

    @property
    def _controllers(self):
        return ("cpu",) if self.memory is None else ("cpu", "memory")

    # ------------------------------------------------------------------ making it
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

    def _mkdir(self, path):
        os.mkdir(path)
        self._made.append(path)
        return path

    def _make_v1(self):
        for ctrl in self._controllers:
            own = self._own(ctrl)
            if own is None or not os.path.isdir(f"{CG}/{ctrl}"):
                raise OSError(f"cgroup v1: no '{ctrl}' controller")
            self.dirs.append(self._mkdir(os.path.normpath(f"{CG}/{ctrl}/{own}/{self.name}")))
        cpu, mem = self.dirs[0], self.dirs[-1]
        self._write(f"{cpu}/cpu.cfs_period_us", 100_000)
        self._write(f"{cpu}/cpu.cfs_quota_us", int(self.cpus * 100_000))
        if self.memory is not None:
            self._write(f"{mem}/memory.limit_in_bytes", self.memory)
        self.entries = list(self.dirs)
        if self.nested:
            self.entries = [self._mkdir(f"{d}/child") for d in self.dirs]
            self._write(f"{self.entries[0]}/cpu.cfs_quota_us", -1)
        self.version = 1

    def _make_v2(self):
        own = self._own("")
        if own is None or not os.path.exists(f"{CG}/cgroup.controllers"):
            raise OSError("cgroup v2: not mounted at /sys/fs/cgroup")
        parent = os.path.normpath(f"{CG}/{own}")
        path = self._mkdir(f"{parent}/{self.name}")
        self.dirs.append(path)
        enable = " ".join(f"+{ctrl}" for ctrl in self._controllers)
        if not all(os.path.exists(f"{path}/{ctrl}.max") for ctrl in self._controllers):
            self._write(f"{parent}/cgroup.subtree_control", enable)
        self._write(f"{path}/cpu.max", f"{int(self.cpus * 100_000)} 100000")
        if self.memory is not None:
            self._write(f"{path}/memory.max", self.memory)
            if os.path.exists(f"{path}/memory.swap.max"):
                self._write(f"{path}/memory.swap.max", 0)
        self.entries = [path]
        if self.nested:   # no process in a group that hands controllers down: the child has them
            self._write(f"{path}/cgroup.subtree_control", enable)
            self.entries = [self._mkdir(f"{path}/child")]
        self.version = 2

    # ------------------------------------------------------------------ entering it
    def enter_prefix(self):
        """A command prefix that moves itself into the group, then execs the rest
        (so everything the server allocates is charged from its first byte)."""
        writes = " && ".join(f"echo $$ > {d}/cgroup.procs" for d in self.entries)
        return ["sh", "-c", f'{writes} && exec "$@"', "cgroup-enter"]

    def join_self(self):
        """Moves the calling process into the group: subprocess's preexec_fn, between fork and exec."""
        pid = os.getpid()
        for d in self.entries:
            self._write(f"{d}/cgroup.procs", pid)

    # ------------------------------------------------------------------ what it charged
    @property
    def _cpu(self):
        return self.dirs[0]

    @property
    def _mem(self):
        return self.dirs[-1]   # v1: [cpu, memory]; v2: one directory

    def _read(self, d, name):
        try:
            with open(f"{d}/{name}") as f:
                return f.read()
        except OSError:
            return None

    def _number(self, d, name):
        text = self._read(d, name)
        return int(text) if text and text.strip().isdigit() else None

    def _stat(self, d, name):
        return {k: int(v) for k, v in
                (ln.split() for ln in (self._read(d, name) or "").splitlines() if ln.strip())
                if v.isdigit()}

    def usage_bytes(self):
        """Memory charged now."""
        return self._number(self._mem, "memory.usage_in_bytes" if self.version == 1 else "memory.current")

    def memory_stat(self):
        """memory.stat: v1 has rss/cache, v2 anon/file (and many more)."""
        return self._stat(self._mem, "memory.stat")

    def peak_bytes(self):
        """The most memory ever charged (None where the kernel does not keep it)."""
        return self._number(self._mem, "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")

    def oom_kills(self):
        """Processes the OOM killer ended in the group (None where the kernel does not say)."""
        return self._stat(self._mem, "memory.oom_control" if self.version == 1 else "memory.events").get("oom_kill")

    def limit_hits(self):
        """How often the memory limit was reached."""
        if self.version == 1:
            return self._number(self._mem, "memory.failcnt")
        return self._stat(self._mem, "memory.events").get("max")

    def throttling(self):
        """CPU quota periods, how many of them throttled, and the seconds throttled."""
        st = self._stat(self._cpu, "cpu.stat")
        if not st:
            return {}
        throttled = st.get("throttled_time", 0) / 1e9 if self.version == 1 else st.get("throttled_usec", 0) / 1e6
        return {"nr_periods": st.get("nr_periods", 0), "nr_throttled": st.get("nr_throttled", 0),
                "throttled_s": throttled}

    def stats(self):
        mem = self.memory_stat()
        return {
            "peak_memory_bytes": self.peak_bytes() or 0,
            "oom_kills": self.oom_kills() or 0,
            "limit_hits": self.limit_hits() or 0,
            "rss_bytes": mem.get("rss" if self.version == 1 else "anon", 0),
            "cache_bytes": mem.get("cache" if self.version == 1 else "file", 0),
            "throttled_periods": self.throttling().get("nr_throttled", 0),
        }

    # ------------------------------------------------------------------ removing it
    def remove(self):
        """Deletes the group once its processes are gone; False if a directory stayed."""
        ok = True
        for d in reversed(self._made):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                ok = False
        self.dirs, self.entries, self._made = [], [], []
        return ok
