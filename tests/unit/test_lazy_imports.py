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
        "fastmock.fixtures",
        # provider rate limits: loaded only with --rate-limit
        "fastmock.ratelimit",
        # latency models: loaded only with a latency flag or X-Mock-TTFT / X-Mock-ITL
        "fastmock.latency",
        # wire chaos: loaded only with --chaos or a request that may ask for it
        "fastmock.chaos",
        # the dashboard's page and feed: loaded by the first GET /__fastmock/ui or /stats
        "fastmock.ui")
idle = sorted(m for m in LAZY if m in sys.modules and m not in before)
app = App(Config(access_log=True), loop, Frames())
print(" ".join(idle) or "-", type(app.access_log).__name__)
"""


def test_a_default_server_loads_no_access_log_metrics_workers_controls_provider_apis_or_dashboard():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["-", "AccessLog"]


# A common provider request is answered by the compiled path alone (and journaled): the
# Python API modules and json come with the first request it leaves to them.
PROVIDER_PROBE = """
import sys
import uvloop
from fastmock.config import Config
from fastmock.frames import Frames
from fastmock.protocol import HttpProtocol
from fastmock.server import App

class Transport:
    def __init__(self): self.data = b""
    def write(self, data): self.data += data
    def get_write_buffer_size(self): return 0
    def get_extra_info(self, name, default=None): return default
    def is_closing(self): return False
    def set_write_buffer_limits(self, high=None, low=None): pass

app = App(Config(delay_ms=0), uvloop.new_event_loop(), Frames())
body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
head = b"POST /v1/chat/completions HTTP/1.1\\r\\nHost: t\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body)
for reads in ((head, body), (head + body,)):    # parsed first, then from its bytes
    conn = HttpProtocol(app)
    conn.connection_made(transport := Transport())
    for data in reads:
        conn.data_received(data)
    assert transport.data.startswith(b"HTTP/1.1 200 OK"), transport.data
loaded = [m for m in ("json", "fastmock.providers", "fastmock.controls") if m in sys.modules]
print(" ".join(loaded) or "-", "fastmock._fastpath" in sys.modules, len(app.journal))
"""


def test_a_common_provider_request_loads_no_python_api_module_nor_json():
    out = subprocess.run([sys.executable, "-c", PROVIDER_PROBE], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["-", "True", "2"]


def test_the_connection_reaches_request_line_through_the_log():
    assert AccessLog.request_line is request_line
