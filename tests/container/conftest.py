"""The container tests' fixtures: the image's Python environment, built once per module, and a
cgroup with the compose limits."""
import os
import subprocess
import sys

import pytest
from support.cgroups import Cgroup
from support.container import CPU_QUOTA, MEMORY_LIMIT, SCRIPT


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory):
    """The venv scripts/container-equivalent builds as the image would (its path)."""
    venv = str(tmp_path_factory.mktemp("container") / "venv")
    result = subprocess.run([sys.executable, SCRIPT, "build", venv],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv


@pytest.fixture
def compose_cgroup():
    """A fresh cgroup with 0.1 CPU and 20 MB (skips where none can be made), removed afterwards."""
    group = Cgroup(f"fastmock-test-{os.getpid()}", CPU_QUOTA, MEMORY_LIMIT)
    why = group.create()
    if why:
        pytest.skip(f"no writable cgroup on this machine, so no compose limits to test under: {why}")
    yield group
    group.remove()
