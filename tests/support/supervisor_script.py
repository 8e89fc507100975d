"""A supervisor script in a process of its own, with stand-in workers (tests/e2e/test_supervisor.py):
HEAD defines them, the test writes the rest."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

HEAD = """\
import os, signal, sys, time, logging
logging.basicConfig(level="INFO", stream=sys.stderr, format="%(levelname)s %(message)s")
from fastmock.supervisor import Supervisor

def announce(*ready):
    print("announced", *ready, file=sys.stderr, flush=True)

PARENT = os.getpid()

def serve_forever(number, ready):
    ready()
    while os.getppid() == PARENT:       # an orphan ends itself
        time.sleep(0.1)
    return 3
"""


class Script:
    """A supervisor script running in its own process, its stderr collected line by line."""

    def __init__(self, tmp_path, body: str) -> None:
        path = tmp_path / "supervise.py"
        path.write_text(HEAD + body)
        # a session of its own: the teardown ends the script and every worker it forked
        self.proc = subprocess.Popen([sys.executable, str(path)], stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log)
            if match:
                return match
            time.sleep(0.02)
        return None

    def finish(self, sig: int | None = signal.SIGTERM, timeout: float = 15) -> int:
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill_group()

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)   # the group this test started, by its id
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._reader.join(5)
        if not self._reader.is_alive():
            self.proc.stderr.close()
