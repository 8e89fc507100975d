"""One line per request, Common Log Format or JSON lines, buffered off the hot path.

The connection hands over the request line as it logs it (``METHOD TARGET HTTP/1.x``,
the target with ``"``, ``\\``, control and non-ASCII bytes written as ``\\xNN``, as nginx
does), so a CLF line can always be split on its quotes. A JSON line carries the same
request split into fields, with the target decoded back to what the client sent.
"""
import re
import sys
import time

FLUSH_LINES = 256   # also flushed by the server's once-a-second sweep
FORMATS = ("clf", "json")
CACHE_LIMIT = 1024  # formatted lines (and request lines) kept for reuse; cleared when full

_ESCAPED = re.compile(rb"\\x([0-9a-fA-F]{2})")
# As nginx does: the quote, the backslash, control and non-ASCII bytes become \xNN, so a
# CLF line splits unambiguously on its quotes and the JSON format can decode the target.
_LOG_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x22, 0x5C, *range(0x7F, 0x100))}
_REQUEST_LINES: dict = {}
_time = time.time


def request_line(method: bytes, url: bytes, http10: bool) -> str:
    """The request as a log line shows it: ``METHOD TARGET HTTP/1.x``, the target escaped."""
    key = (method, url, http10)
    line = _REQUEST_LINES.get(key)
    if line is None:  # a load test asks for the same few URLs again and again: format once
        target = url.decode("latin-1").translate(_LOG_ESCAPES)
        line = f"{method.decode('latin-1')} {target} HTTP/{'1.0' if http10 else '1.1'}"
        if len(url) <= 256:
            if len(_REQUEST_LINES) >= CACHE_LIMIT:
                _REQUEST_LINES.clear()
            _REQUEST_LINES[key] = line
    return line


def _unescape(target: str) -> str:
    """The request target as the client sent it (UTF-8; other bytes stay as \\xNN text)."""
    raw = _ESCAPED.sub(lambda m: bytes((int(m.group(1), 16),)), target.encode("latin-1", "replace"))
    return raw.decode("utf-8", "backslashreplace")


class AccessLog:
    """Lines are formatted once per distinct (client address, request line, status, size)
    and clock tick (a second for CLF, a millisecond for JSON), so under load a line costs
    a dictionary lookup and an append; the buffer is written every FLUSH_LINES lines."""

    __slots__ = ("_out", "_lines", "_json", "_per_second", "_tick", "_tick_end", "_second",
                 "_stamp", "_cache")

    # the connection reaches it through the log, so this module loads only with a log
    request_line = staticmethod(request_line)

    def __init__(self, out=None, fmt: str = "clf") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown access log format {fmt!r}")
        self._out = out if out is not None else sys.stdout
        self._lines: list[str] = []
        self._json = fmt == "json"
        self._per_second = 1000 if self._json else 1   # clock ticks a timestamp shows
        self._tick = -1
        self._tick_end = 0.0    # when the current tick ends (wall clock): a float compare per line
        self._second = -1
        self._stamp = ""
        self._cache: dict = {}

    def write(self, peer, request_line: str, status: int, size: int,
              duration: float | None = None) -> None:
        """One request: ``peer`` (host, port) or None, the request line ("" when the request
        could not be read), the status, the bytes written, the seconds it took when known."""
        now = _time()
        if now >= self._tick_end:
            self._new_tick(now)
        key = (peer[0] if peer else None, request_line, status, size)
        if duration is None:
            line = self._cache.get(key)
            if line is None:
                if len(self._cache) >= CACHE_LIMIT:
                    self._cache.clear()
                line = self._cache[key] = self._format(*key, None)
        else:
            line = self._format(*key, duration)
        lines = self._lines
        lines.append(line)
        if len(lines) >= FLUSH_LINES:
            self.flush()

    def _new_tick(self, now: float) -> None:
        tick = int(now * self._per_second)
        self._tick = tick
        self._tick_end = (tick + 1) / self._per_second
        self._cache.clear()
        second = int(now)
        if second != self._second:  # strftime once a second, not per request
            self._second = second
            self._stamp = time.strftime(
                "%Y-%m-%dT%H:%M:%S" if self._json else "%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
        if self._json:
            self._stamp = f"{self._stamp[:19]}.{tick % 1000:03d}Z"

    def _format(self, host, request_line: str, status: int, size: int, duration) -> str:
        if self._json:
            return self._json_line(host, request_line, status, size, duration)
        return f'{host or "-"} - - [{self._stamp}] "{request_line or "-"}" {status} {size}\n'

    def _json_line(self, host, request_line: str, status: int, size: int, duration) -> str:
        method, _, rest = request_line.partition(" ")
        target, _, protocol = rest.rpartition(" ")
        if not target:
            fields = '"method":null,"path":null,"protocol":null'
        elif "\\" in target or not method.isalnum() or not protocol.startswith("HTTP/"):
            # rare: something to decode or escape; json.dumps does it right
            import json  # not at start: json costs memory every server would pay
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
            import json
            remote = json.dumps(str(host))
        extra = "" if duration is None else f',"duration_ms":{duration * 1000:.3f}'
        return (f'{{"time":"{self._stamp}","remote":{remote},{fields},'
                f'"status":{int(status)},"bytes":{int(size)}{extra}}}\n')

    def flush(self) -> None:
        if self._lines:
            self._out.write("".join(self._lines))
            self._out.flush()
            self._lines.clear()
