"""A fastmock server from this checkout, run inside a cgroup with docker-compose's limits.

The e2e tests of what happens when memory runs short (tests/e2e/test_e2e_memory.py,
tests/e2e/test_e2e_conformance.py) use it: the worktree's own interpreter and package,
started with the cgroup's enter_prefix(), so everything it allocates is charged.

It runs the way the image runs it (Dockerfile): bytecode compiled ``-OO`` ahead of time,
``PYTHONOPTIMIZE=2``, and the package found on the path as a wheel installs it. A checkout
under test is installed in development mode instead, whose import finder (setuptools'
``__editable__`` hook, loaded by a .pth file at every start) imports pathlib, urllib and
ipaddress, and whose sources are compiled at each start when PYTHONDONTWRITEBYTECODE is
set: 1.7 MiB and 0.85 MiB of anonymous memory an image never has (RssAnon of an idle
server: 13.2 MiB so, 11.2 MiB as the image runs it), which under a 20 MiB limit would
be ~800 streams fewer. So the server is started with ``-S`` (no .pth files) and a
PYTHONPATH of the checkout and site-packages, after compileall has written the ``-OO``
bytecode of fastmock, uvloop and httptools.
"""
import compileall
import functools
import importlib.util
import itertools
import os
import resource
import sys
import sysconfig

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
        python, image_env = as_the_image_runs()
        return LiveServer(*args, env={**image_env, **(env or {})},
                          prefix=self.group.enter_prefix(), python=python)

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


@functools.cache
def as_the_image_runs() -> tuple[list[str], dict]:
    """The interpreter command and environment that run fastmock as the image does."""
    packages = [os.path.dirname(importlib.util.find_spec(name).origin)
                for name in ("fastmock", "uvloop", "httptools")]
    for directory in packages:
        compileall.compile_dir(directory, optimize=2, quiet=2)
    checkout = os.path.dirname(packages[0])
    paths = sysconfig.get_paths()
    site = [paths["purelib"]] + ([paths["platlib"]] if paths["platlib"] != paths["purelib"] else [])
    return [sys.executable, "-S"], {"PYTHONOPTIMIZE": "2",
                                    "PYTHONPATH": os.pathsep.join([checkout, *site])}


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
