"""What an idle server does not load: modules only some requests or flags need are
imported on first use, so their code is not resident in the 20 MB container."""
from __future__ import annotations

import subprocess
import sys

from fastmock.accesslog import AccessLog, request_line

PROBE = """
import sys
before = set(sys.modules)  # what site loaded (an editable install's finder loads __future__)
import uvloop
import fastmock.cli
import fastmock.launch
from fastmock.config import Config
from fastmock.frames import Frames
from fastmock.server import App
loop = uvloop.new_event_loop()
App(Config(), loop, Frames())
# (fastmock.cgroup is not among them: the default --max-connections and --memory-high
# follow from the memory limit, read at start: fastmock.admission)
LAZY = ("fastmock.accesslog", "fastmock.metrics", "fastmock.supervisor", "fastmock.controls",
        # no module of the server postpones its annotations: __future__ is ~20 KiB resident
        "__future__",
        # the provider APIs (no module of fastmock.providers loads without the package)
        # and what only they need
        "json", "fastmock.providers", "hashlib", "random",
        # the compiled provider path: loaded by the first provider request
        "fastmock._fastpath",
        # scripted answers: loaded only with --fixtures or the control API
        "fastmock.fixtures")
idle = sorted(m for m in LAZY if m in sys.modules and m not in before)
app = App(Config(access_log=True), loop, Frames())
print(" ".join(idle) or "-", type(app.access_log).__name__)
"""


def test_a_default_server_loads_no_access_log_metrics_workers_controls_or_provider_apis():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["-", "AccessLog"]


def test_the_connection_reaches_request_line_through_the_log():
    assert AccessLog.request_line is request_line
