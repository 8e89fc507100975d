"""Per-request controls from the query string and ``X-Mock-*`` headers; the one query parser.

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
ECHO_HEADER = b"x-mock-echo"    # read by the provider APIs only (echo())
# The headers the connection keeps for the controls.
HEADER_NAMES = frozenset([header for header, _, _ in LIMITS.values()] + [ECHO_HEADER])
_QUERY_NAMES = {name.encode(): name for name in LIMITS}
_ECHO_NAMES = (b"echo",)
_ON = (b"1", b"true", b"yes", b"on")
_OFF = (b"0", b"false", b"no", b"off")


class InvalidControl(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class Controls:
    """Resolved settings of one streaming request; -1 means "not set"."""

    __slots__ = ("delay_ms", "ttft_ms", "max_tokens", "status", "fail_after", "given")

    def __init__(self, delay_ms: int, ttft_ms: int) -> None:
        self.delay_ms = delay_ms
        self.ttft_ms = ttft_ms
        self.max_tokens = -1
        self.status = -1
        self.fail_after = -1
        self.given = frozenset()      # the names the request set (a latency model yields to them)

    def set_by_request(self, name: str) -> bool:
        return name in self.given


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
    for key, value in query_values(query, _QUERY_NAMES):
        name = _QUERY_NAMES[key]
        if name not in overridden:  # the header wins, even over a bad value
            _set(controls, name, value)
    return controls


def status_message(status: int) -> str:
    """The message of the error answer the status control asks for."""
    return f"mock error: status {status} requested by the status control"


def echo(query: bytes | None, headers: dict | None) -> bool:
    """``X-Mock-Echo: 1`` (or ``?echo=1``; the header wins): answer with the prompt."""
    value = headers.get(ECHO_HEADER) if headers else None
    param = "X-Mock-Echo"
    if value is None and query and b"echo=" in query:
        found = query_values(query, _ECHO_NAMES)
        if found:
            value, param = found[-1][1], "echo"    # the last one, as for every control
    if value is None:
        return False
    value = value.strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise InvalidControl(param, f"{param} must be 1 or 0 (true or false)")


# -- the query string ----------------------------------------------------------------------

def query_values(query: bytes | None, names) -> list[tuple[bytes, bytes]]:
    """(name, value) of each ``name=value`` in ``query`` whose name is in ``names``, in
    order, the value decoded."""
    found = []
    if query:
        for pair in query.split(b"&"):
            key, _, value = pair.partition(b"=")
            if key in names:
                if b"%" in value or b"+" in value:
                    value = unquote(value)
                found.append((key, value))
    return found


_HEX = frozenset(b"0123456789abcdefABCDEF")


def unquote(value: bytes, plus: bool = True) -> bytes:
    """``%XX`` decoded, and ``+`` as a space unless ``plus`` is False (in a path it is a
    plus). The one percent-decoder: urllib.parse costs memory we need."""
    parts = (value.replace(b"+", b" ") if plus else value).split(b"%")
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
    controls.given = controls.given | {name}
