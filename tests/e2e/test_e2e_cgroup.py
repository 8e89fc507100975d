"""--workers 0 under a real CPU quota (issue 12, bug 7): under 0.1 CPU on a 2-core host it
ran 2 workers; it now runs ceil(quota / period) of them, at least 1, at most the cores
it may run on, whether the quota is on its own cgroup or on a parent's."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from support.server import children

pytestmark = pytest.mark.e2e

CG = "/sys/fs/cgroup"


class CpuCgroup:
    """A fresh cgroup with a CPU quota (v1 cpu controller, or v2), removed afterwards;
    ``nested`` puts the quota on it and the process in a child with none."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dirs: list[str] = []      # made, outermost first

    @staticmethod
    def _own(controller: str) -> str | None:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if (controller in controllers.split(",")) if controller else controllers == "":
                    return path
        return None

    @staticmethod
    def _write(path: str, value) -> None:
        with open(path, "w") as f:
            f.write(str(value))

    def _mkdir(self, path: str) -> str:
        os.mkdir(path)
        self.dirs.append(path)
        return path

    def create(self, cpus: float, nested: bool) -> str | None:
        """None, or why no such cgroup can be made here."""
        errors = []
        for make in (self._make_v1, self._make_v2):
            try:
                make(int(cpus * 100_000), nested)
                return None
            except OSError as exc:
                errors.append(str(exc))
                self.remove()
        return "; ".join(errors)

    def _make_v1(self, quota: int, nested: bool) -> None:
        own = self._own("cpu")
        if own is None or not os.path.isdir(f"{CG}/cpu"):
            raise OSError("cgroup v1: no 'cpu' controller")
        limited = self._mkdir(os.path.normpath(f"{CG}/cpu/{own}/{self.name}"))
        self._write(f"{limited}/cpu.cfs_period_us", 100_000)
        self._write(f"{limited}/cpu.cfs_quota_us", quota)
        if nested:
            self._write(f"{self._mkdir(f'{limited}/child')}/cpu.cfs_quota_us", -1)

    def _make_v2(self, quota: int, nested: bool) -> None:
        own = self._own("")
        if own is None or not os.path.exists(f"{CG}/cgroup.controllers"):
            raise OSError("cgroup v2: not mounted at /sys/fs/cgroup")
        parent = os.path.normpath(f"{CG}/{own}")
        limited = self._mkdir(f"{parent}/{self.name}")
        if not os.path.exists(f"{limited}/cpu.max"):
            self._write(f"{parent}/cgroup.subtree_control", "+cpu")
        self._write(f"{limited}/cpu.max", f"{quota} 100000")
        if nested:
            self._write(f"{limited}/cgroup.subtree_control", "+cpu")
            self._mkdir(f"{limited}/child")

    def enter(self) -> None:
        """preexec_fn: move the new process into the innermost cgroup."""
        self._write(f"{self.dirs[-1]}/cgroup.procs", os.getpid())

    def remove(self) -> None:
        for path in reversed(self.dirs):
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        self.dirs = []


@pytest.fixture
def cpu_cgroup():
    made: list[CpuCgroup] = []

    def make(cpus: float, nested: bool = False) -> CpuCgroup:
        group = CpuCgroup(f"fastmock-cpu-{os.getpid()}-{len(made)}")
        why = group.create(cpus, nested)
        if why:
            pytest.skip(f"no writable cgroup on this machine: {why}")
        made.append(group)
        return group

    yield make
    for group in made:
        group.remove()


def workers_under(group: CpuCgroup) -> tuple[int, list[int]]:
    """Start `fastmock --workers 0` in the group: (workers its ready line says, its children)."""
    proc = subprocess.Popen([sys.executable, "-m", "fastmock", "--host", "127.0.0.1", "--port", "0",
                             "--workers", "0"], stderr=subprocess.PIPE, text=True,
                            preexec_fn=group.enter, start_new_session=True)
    try:
        line = proc.stderr.readline()       # slow under 0.1 CPU: ~1 s of CPU is ~10 s
        match = re.search(r"\(pid \d+, (\d+) workers?,", line)
        assert match, line
        time.sleep(0.5)
        return int(match.group(1)), children(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)   # the session this test started
                proc.wait()
            proc.stderr.close()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: one worker either way")
@pytest.mark.parametrize("nested", [False, True], ids=["own-cgroup", "parent-cgroup"])
def test_workers_zero_under_a_tenth_of_a_cpu_runs_one_process(cpu_cgroup, nested):
    workers, kids = workers_under(cpu_cgroup(0.1, nested))
    assert workers == 1 and kids == []


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to tell")
def test_workers_zero_under_one_and_a_half_cpus_runs_two(cpu_cgroup):
    workers, kids = workers_under(cpu_cgroup(1.5))
    assert workers == 2 and len(kids) == 2
