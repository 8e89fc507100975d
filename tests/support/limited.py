"""A fastmock server from this checkout, run inside a cgroup with docker-compose's limits.

The e2e tests of what happens when memory runs short (tests/e2e/test_e2e_memory.py,
tests/e2e/test_e2e_conformance.py) use it: the worktree's own interpreter and package,
started with the cgroup's enter_prefix(), so everything it allocates is charged.
"""
import itertools
import os
import resource

import pytest

from fastmock.cgroup import MemoryCharge
from support.cgroups import Cgroup
from support.server import LiveServer

MEMORY_LIMIT = 20 * 1024 * 1024  # compose `memory: 20M`
CPU_QUOTA = 0.1                  # compose `cpus: "0.1"`
_names = itertools.count()


class Limits:
    """A fresh compose-limits cgroup; its server; what it charged and whether it killed."""

    def __init__(self) -> None:
        self.group = Cgroup(f"fastmock-oom-{os.getpid()}-{next(_names)}", CPU_QUOTA, MEMORY_LIMIT)
        self.memory = None

    def create(self):
        why = self.group.create()
        if why:
            return why
        directory = self.group.dirs[-1] if self.group.version == 1 else self.group.dirs[0]
        if self.group.version == 1:
            usage, prefix = "memory.usage_in_bytes", b"\ntotal_"
        else:
            usage, prefix = "memory.current", b"\n"
        self.memory = MemoryCharge(f"{directory}/{usage}", f"{directory}/memory.stat",
                                   MEMORY_LIMIT, prefix)
        return None

    def start(self, *args: str, env: dict | None = None) -> LiveServer:
        return LiveServer(*args, env=env, prefix=self.group.enter_prefix())

    def charge(self) -> int:
        """What the OOM killer counts: usage less file pages (fastmock.cgroup's figure)."""
        return self.memory.charge()

    def oom_kills(self) -> int:
        return self.group.stats()["oom_kills"]

    def stats(self) -> dict:
        return self.group.stats()

    def remove(self) -> None:
        if self.memory is not None:
            self.memory.close()
        self.group.remove()


def compose_limits():
    """A Limits, or a skip when this machine cannot make cgroups."""
    limits = Limits()
    why = limits.create()
    if why:
        limits.remove()
        pytest.skip(f"no writable cgroup here, so no compose limits to test under: {why}")
    return limits


def raise_open_files(want: int) -> int:
    """Raise this process's (and so its children's) open-file limit toward ``want``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
