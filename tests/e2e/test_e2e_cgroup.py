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

from support.cgroups import Cgroup
from support.server import children

pytestmark = pytest.mark.e2e


def workers_under(group: Cgroup) -> tuple[int, list[int]]:
    """Start `fastmock --workers 0` in the group: (workers its ready line says, its children)."""
    proc = subprocess.Popen([sys.executable, "-m", "fastmock", "--host", "127.0.0.1", "--port", "0",
                             "--workers", "0"], stderr=subprocess.PIPE, text=True,
                            preexec_fn=group.join_self, start_new_session=True)
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
