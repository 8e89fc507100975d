"""One line per request in the Common Log Format, buffered off the hot path."""
from __future__ import annotations

import sys
import time

FLUSH_LINES = 256   # also flushed by the server's once-a-second sweep


class AccessLog:
    __slots__ = ("_out", "_lines", "_second", "_stamp")

    def __init__(self, out=None) -> None:
        self._out = out if out is not None else sys.stdout
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""

    def write(self, peer, request_line: str, status: int, size: int) -> None:
        now = int(time.time())
        if now != self._second:  # the timestamp changes once a second, not per request
            self._second = now
            self._stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
        host = peer[0] if peer else "-"
        self._lines.append(f'{host} - - [{self._stamp}] "{request_line}" {status} {size}\n')
        if len(self._lines) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._out.write("".join(self._lines))
            self._out.flush()
            self._lines.clear()
