"""Per-request stream controls from the query string and ``X-Mock-*`` headers.

A header wins over the query parameter of the same name. A bad value raises
InvalidControl naming the parameter, which the connection answers with 400.
"""
# The most tokens one answer may have: the max_tokens control's bound and every API body's.
MAX_TOKENS = 100_000_000

# name -> (header, lowest, highest)
LIMITS = {
    "delay_ms": (b"x-mock-delay-ms", 0, 3_600_000),
    "ttft_ms": (b"x-mock-ttft-ms", 0, 3_600_000),
    "max_tokens": (b"x-mock-max-tokens", 1, MAX_TOKENS),
    "status": (b"x-mock-status", 200, 599),
    "fail_after": (b"x-mock-fail-after", 0, 100_000_000),
}
# The headers the connection keeps for the controls; X-Mock-Echo is read by the provider APIs.
HEADER_NAMES = frozenset([header for header, _, _ in LIMITS.values()] + [b"x-mock-echo"])
_QUERY_NAMES = {name.encode(): name for name in LIMITS}


class InvalidControl(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class Controls:
    """Resolved settings of one streaming request; -1 means "not set"."""

    __slots__ = ("delay_ms", "ttft_ms", "max_tokens", "status", "fail_after")

    def __init__(self, delay_ms: int, ttft_ms: int) -> None:
        self.delay_ms = delay_ms
        self.ttft_ms = ttft_ms
        self.max_tokens = -1
        self.status = -1
        self.fail_after = -1


def parse(query: bytes | None, headers: dict | None, delay_ms: int, ttft_ms: int) -> Controls:
    """Controls for one request: defaults, then the query string, then the headers."""
    controls = Controls(delay_ms, ttft_ms)
    overridden = ()
    if headers:
        overridden = []
        for name, (header, _, _) in LIMITS.items():
            value = headers.get(header)
            if value is not None:
                _set(controls, name, value)
                overridden.append(name)
    if query:
        for pair in query.split(b"&"):
            key, _, value = pair.partition(b"=")
            name = _QUERY_NAMES.get(key)
            if name is not None and name not in overridden:  # the header wins, even over a bad value
                if b"%" in value or b"+" in value:
                    value = unquote(value)
                _set(controls, name, value)
    return controls


_HEX = frozenset(b"0123456789abcdefABCDEF")


def unquote(value: bytes) -> bytes:
    """A query value with ``+`` and ``%XX`` decoded (urllib.parse costs memory we need)."""
    parts = value.replace(b"+", b" ").split(b"%")
    out = [parts[0]]
    for part in parts[1:]:
        if len(part) >= 2 and part[0] in _HEX and part[1] in _HEX:
            out.append(bytes((int(part[:2], 16),)) + part[2:])
        else:
            out.append(b"%" + part)
    return b"".join(out)


def _set(controls: Controls, name: str, raw: bytes) -> None:
    _, lowest, highest = LIMITS[name]
    text = raw.strip()
    if not text.isdigit():
        shown = raw.decode("utf-8", "replace")[:40]
        raise InvalidControl(name, f"{name} must be a whole number from {lowest} to {highest}, "
                                   f"got {shown!r}")
    value = int(text)
    if not lowest <= value <= highest or (name == "status" and 200 < value < 400):
        raise InvalidControl(name, f"{name} must be from {lowest} to {highest}"
                                   + (" (200, or an error status from 400)" if name == "status" else "")
                                   + f", got {value}")
    setattr(controls, name, value)
