"""What the cgroup this process runs in allows it: a CPU quota, a memory limit, memory use.

Read the way the Go runtime (1.25, for GOMAXPROCS) and the JVM (UseContainerSupport) read
them: /proc/self/cgroup names the process's cgroup in each hierarchy, /proc/self/mountinfo
says where that hierarchy is mounted, and a limit is the tightest one on the way from the
process's cgroup up to the root of the mount, since a parent's limit binds its children.
cgroup v2 (``cpu.max``, ``memory.max``) and v1 (``cpu.cfs_quota_us``/``cpu.cfs_period_us``,
``memory.limit_in_bytes``), a v1 controller winning where both are mounted. None means no
limit, or nothing to read. The directories are found once; the values are read on each call.

``MemoryCharge`` is what the OOM killer counts, read while serving (fastmock.admission,
/metrics) from two files kept open: usage less the file pages. Usage (v2 ``memory.current``,
v1 ``memory.usage_in_bytes``) counts the page cache of the files the process has read or
mapped, which the kernel reclaims, active pages too, before it kills: under the compose
limits an idle server's usage is 12.4-19.5 MiB depending on that cache, and a server
OOM-killed with 2,627 open streams had 19.87 MiB of anonymous and kernel memory and
0.11 MiB of file pages left. (kubelet's working set subtracts only ``inactive_file``, and
read 19.1 MiB at 2,014 streams where the charge reads 18.1.) What stays counted: anonymous
memory, kernel memory (sockets; on v2 their buffers too) and shmem (the metrics counters).

Imported only when a fact is wanted (``--workers 0``).
"""
import os

# Above this a v1 memory limit means "none": unlimited reads as PAGE_COUNTER_MAX pages
# (9223372036854771712 bytes with 4 KiB pages).
_NO_MEMORY_LIMIT = 1 << 62
_MOUNT_ESCAPES = (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\"))


class Cgroup:
    """The cgroup directories of a process, per controller, from its own up to the mount's root."""

    def __init__(self, proc: str = "/proc/self") -> None:
        self.cpu_v1 = self.memory_v1 = self.v2 = ()    # directories, the process's own first
        try:
            paths = _cgroup_paths(f"{proc}/cgroup")
            mounts = _cgroup_mounts(f"{proc}/mountinfo")
        except OSError:
            return
        for kind, root, point in mounts:
            if kind == "cgroup2" and "" in paths:
                self.v2 = self.v2 or _ancestry(point, root, paths[""])
            elif kind == "cpu" and "cpu" in paths:
                self.cpu_v1 = self.cpu_v1 or _ancestry(point, root, paths["cpu"])
            elif kind == "memory" and "memory" in paths:
                self.memory_v1 = self.memory_v1 or _ancestry(point, root, paths["memory"])

    # -- facts -----------------------------------------------------------------------

    def cpu_limit(self) -> float | None:
        """The CPUs the quota allows (0.1 for a tenth of one), or None."""
        limits = []
        if self.cpu_v1:
            for d in self.cpu_v1:
                quota, period = _read_int(f"{d}/cpu.cfs_quota_us"), _read_int(f"{d}/cpu.cfs_period_us")
                if quota is not None and quota > 0 and period:
                    limits.append(quota / period)
        else:
            for d in self.v2:
                quota, _, period = (_read(f"{d}/cpu.max") or "max").partition(" ")
                if quota.isdigit() and period.isdigit() and int(period):
                    limits.append(int(quota) / int(period))
        return min(limits, default=None)

    def memory_limit(self) -> int | None:
        """The bytes the cgroup may use, or None."""
        if self.memory_v1:
            limits = [_read_int(f"{d}/memory.limit_in_bytes") for d in self.memory_v1]
            limits = [n for n in limits if n is not None and n < _NO_MEMORY_LIMIT]
        else:
            limits = [_read_int(f"{d}/memory.max") for d in self.v2]
            limits = [n for n in limits if n is not None]
        limit = min(limits, default=None)
        if limit is not None and limit >= _machine_memory():
            return None                 # a limit the machine cannot reach is none
        return limit

    def memory_usage(self) -> int | None:
        """The bytes the process's own cgroup is charged now (its page cache included), or None."""
        if self.memory_v1:
            return _read_int(f"{self.memory_v1[0]}/memory.usage_in_bytes")
        return _read_int(f"{self.v2[0]}/memory.current") if self.v2 else None

    def memory_charge(self) -> "MemoryCharge | None":
        """The charge of the process's own cgroup, to read often; None without a limit."""
        limit = self.memory_limit()
        if limit is None:
            return None
        if self.memory_v1:
            directory, usage, prefix = self.memory_v1[0], "memory.usage_in_bytes", b"\ntotal_"
        else:
            directory, usage, prefix = self.v2[0], "memory.current", b"\n"
        try:
            return MemoryCharge(f"{directory}/{usage}", f"{directory}/memory.stat", limit, prefix)
        except OSError:
            return None


class MemoryCharge:
    """A memory cgroup's limit and its charge, read from files opened once (fastmock.admission)."""

    __slots__ = ("limit", "_usage_fd", "_stat_fd", "_keys")

    def __init__(self, usage: str, stat: str, limit: int, prefix: bytes) -> None:
        self.limit = limit
        self._usage_fd = os.open(usage, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._stat_fd = os.open(stat, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.close(self._usage_fd)
            raise
        # v1 has the group's own counts and its subtree's (total_*): the subtree is what is
        # limited; v2 counts the subtree under the plain names.
        self._keys = (prefix + b"active_file ", prefix + b"inactive_file ")

    def charge(self) -> int:
        """Bytes the OOM killer would count: usage less the file pages (two preads, ~20 us)."""
        usage = int(os.pread(self._usage_fd, 32, 0))
        stat = b"\n" + os.pread(self._stat_fd, 8192, 0)
        for key in self._keys:
            at = stat.find(key)
            if at >= 0:
                at += len(key)
                usage -= int(stat[at:stat.index(b"\n", at)])
        return max(usage, 0)

    def close(self) -> None:
        for fd in (self._usage_fd, self._stat_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._usage_fd = self._stat_fd = -1


_this: Cgroup | None = None


def this() -> Cgroup:
    """This process's cgroup, found on the first call."""
    global _this
    if _this is None:
        _this = Cgroup()
    return _this


def cpu_limit() -> float | None:
    """The CPUs this process's cgroup quota allows, or None."""
    return this().cpu_limit()


def memory_limit() -> int | None:
    """The memory limit of this process's cgroup in bytes, or None."""
    return this().memory_limit()


def memory_usage() -> int | None:
    """The memory this process's cgroup is charged now, in bytes, or None."""
    return this().memory_usage()


def memory_charge() -> MemoryCharge | None:
    """This process's cgroup limit and charge, to read often; None without a limit."""
    return this().memory_charge()


# -- finding the directories -----------------------------------------------------------

def _cgroup_paths(path: str) -> dict[str, str]:
    """Controller ("cpu", "memory"; "" for v2) -> the process's cgroup path in it."""
    paths = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            _, controllers, cgroup = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else ("",):
                paths[controller] = cgroup
    return paths


def _cgroup_mounts(path: str) -> list[tuple[str, str, str]]:
    """(kind, root, mount point) of each cgroup mount: kind "cgroup2", "cpu" or "memory"."""
    mounts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields, _, tail = line.partition(" - ")
            fields, tail = fields.split(), tail.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            root, point = _unescape(fields[3]), _unescape(fields[4])
            if tail[0] == "cgroup2":
                mounts.append(("cgroup2", root, point))
            elif tail[0] == "cgroup":
                options = tail[2].split(",")
                mounts += [(kind, root, point) for kind in ("cpu", "memory") if kind in options]
    return mounts


def _ancestry(point: str, root: str, cgroup: str) -> tuple[str, ...]:
    """The directories from the process's cgroup up to the mount point.

    The mount shows the hierarchy from ``root`` down (a container's own cgroup, say); a
    cgroup outside it (another namespace's view) falls back to the mount point itself.
    """
    if root == "/":
        inside = cgroup
    elif cgroup == root or cgroup.startswith(root + "/"):
        inside = cgroup[len(root):]
    else:
        inside = ""
    here = os.path.normpath(os.path.join(point, inside.strip("/")))
    dirs = [here]
    while here != point and len(here) > len(point):
        here = os.path.dirname(here)
        dirs.append(here)
    return tuple(dirs)


def _unescape(field: str) -> str:
    for escaped, char in _MOUNT_ESCAPES:
        field = field.replace(escaped, char)
    return field


def _machine_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1 << 62


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, ValueError):
        return None


def _read_int(path: str) -> int | None:
    text = _read(path)
    return int(text) if text and text.lstrip("-").isdigit() else None
