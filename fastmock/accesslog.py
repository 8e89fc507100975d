"""One line per request, Common Log Format or JSON lines, buffered off the hot path.

The connection hands over the request line as it logs it (``METHOD TARGET HTTP/1.x``,
the target with ``"``, ``\\``, control and non-ASCII bytes written as ``\\xNN``, as nginx
does), so a CLF line can always be split on its quotes. A JSON line carries the same
request split into fields, with the target decoded back to what the client sent.
"""
from __future__ import annotations

import json
import re
import sys
import time

FLUSH_LINES = 256   # also flushed by the server's once-a-second sweep
FORMATS = ("clf", "json")

_ESCAPED = re.compile(rb"\\x([0-9a-fA-F]{2})")


def _unescape(target: str) -> str:
    """The request target as the client sent it (UTF-8; other bytes stay as \\xNN text)."""
    raw = _ESCAPED.sub(lambda m: bytes((int(m.group(1), 16),)), target.encode("latin-1", "replace"))
    return raw.decode("utf-8", "backslashreplace")


class AccessLog:
    __slots__ = ("_out", "_lines", "_second", "_stamp", "_json")

    def __init__(self, out=None, fmt: str = "clf") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown access log format {fmt!r}")
        self._out = out if out is not None else sys.stdout
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""
        self._json = fmt == "json"

    def write(self, peer, request_line: str, status: int, size: int,
              duration: float | None = None) -> None:
        """One request: ``peer`` (host, port) or None, the request line ("" when the request
        could not be read), the status, the bytes written, the seconds it took when known."""
        now = time.time()
        second = int(now)
        if second != self._second:  # the timestamp changes once a second, not per request
            self._second = second
            self._stamp = time.strftime(
                "%Y-%m-%dT%H:%M:%S" if self._json else "%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
        host = peer[0] if peer else None
        if self._json:
            line = self._json_line(now, host, request_line, status, size, duration)
        else:
            line = f'{host or "-"} - - [{self._stamp}] "{request_line or "-"}" {status} {size}\n'
        self._lines.append(line)
        if len(self._lines) >= FLUSH_LINES:
            self.flush()

    def _json_line(self, now: float, host, request_line: str, status: int, size: int,
                   duration) -> str:
        method, _, rest = request_line.partition(" ")
        target, _, protocol = rest.rpartition(" ")
        stamp = f"{self._stamp}.{int(now * 1000) % 1000:03d}Z"
        if not target:
            fields = '"method":null,"path":null,"protocol":null'
        elif "\\" in target or not method.isalnum() or not protocol.startswith("HTTP/"):
            # rare: something to decode or escape; json.dumps does it right
            fields = (f'"method":{json.dumps(method)},"path":{json.dumps(_unescape(target))},'
                      f'"protocol":{json.dumps(protocol)}')
        else:
            # the common case: printable ASCII without quotes or backslashes, safe as it is
            fields = f'"method":"{method}","path":"{target}","protocol":"{protocol}"'
        if host is None:
            remote = "null"
        elif host.isascii() and '"' not in host and "\\" not in host:  # an IP address
            remote = f'"{host}"'
        else:
            remote = json.dumps(str(host))
        extra = "" if duration is None else f',"duration_ms":{duration * 1000:.3f}'
        return (f'{{"time":"{stamp}","remote":{remote},{fields},'
                f'"status":{int(status)},"bytes":{int(size)}{extra}}}\n')

    def flush(self) -> None:
        if self._lines:
            self._out.write("".join(self._lines))
            self._out.flush()
            self._lines.clear()
