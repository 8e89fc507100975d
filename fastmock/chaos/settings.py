"""What wire chaos one stream gets: from its request, its fixture, or the server's odds.

Per request the settings come as query parameters or ``X-Mock-*`` headers (the header
wins; a bad value raises InvalidControl naming the parameter), per fixture from its
``chaos`` object (the same names), and server-wide from ``--chaos`` (FASTMOCK_CHAOS):
a probability per condition, drawn once per stream. Every choice left open (a position,
whether a condition happens) is drawn from the stream's seed: ``X-Mock-Seed`` (or
``?seed=``), else the next draw of the server's generator (seeded by ``--seed``). The
resolved settings, seed included, are what ``describe()`` says: a query string that
replays the stream exactly.
"""
from _random import Random

from fastmock.controls import InvalidControl, query_values
from fastmock.streamspec import NDJSON, SSE

FAIL_MODES = ("close", "reset", "truncate")
# name -> (header, lowest, highest) of the whole-number settings (0 = off)
NUMBERS = {
    "coalesce": (b"x-mock-coalesce", 2, 10_000),
    "keepalive_ms": (b"x-mock-keepalive-ms", 1, 3_600_000),
    "stall_ms": (b"x-mock-stall-ms", 1, 3_600_000),
    "stall_at": (b"x-mock-stall-at", 1, 100_000_000),
    "duplicate_at": (b"x-mock-duplicate-at", 1, 100_000_000),
    "malformed_at": (b"x-mock-malformed-at", 1, 100_000_000),
    "trickle_bytes": (b"x-mock-trickle-bytes", 1, 65_536),
    "trickle_ms": (b"x-mock-trickle-ms", 0, 60_000),
    "seed": (b"x-mock-seed", 0, (1 << 63) - 1),
}
SWITCHES = {"crlf": b"x-mock-crlf", "drop_done": b"x-mock-drop-done"}
OTHERS = {"fragment": b"x-mock-fragment", "fail_mode": b"x-mock-fail-mode"}
HEADERS = {**{name: spec[0] for name, spec in NUMBERS.items()}, **SWITCHES, **OTHERS}
HEADER_NAMES = frozenset(HEADERS.values())
QUERY_NAMES = {name.encode(): name for name in HEADERS}
MAX_PIECES = 64                     # fragment=N
MAX_PIECE_BYTES = 65_536            # fragment=bytes:K
_ON = (b"1", b"true", b"yes", b"on")
_OFF = (b"0", b"false", b"no", b"off")

# --chaos: condition -> the settings it gives a stream that draws it ("at" = a drawn token)
CONDITIONS = {
    "fragment": {"fragment": 3},
    "coalesce": {"coalesce": 3},
    "keepalive": {"keepalive_ms": 1000},
    "stall": {"stall_ms": 1000, "stall_at": "at"},
    "crlf": {"crlf": True},
    "duplicate": {"duplicate_at": "at"},
    "drop_done": {"drop_done": True},
    "malformed": {"malformed_at": "at"},
    "close": {"fail_after": "at", "fail_mode": "close"},
    "reset": {"fail_after": "at", "fail_mode": "reset"},
    "truncate": {"fail_after": "at", "fail_mode": "truncate"},
    "trickle": {"trickle_bytes": 64, "trickle_ms": 1},
}
# A drawn token position falls within the stream, or within its first tokens when endless.
ENDLESS_SPAN = 100


class Chaos:
    """One stream's wire chaos; 0 / False / None mean "off"."""

    __slots__ = ("fragment", "fragment_bytes", "coalesce", "keepalive_ms", "stall_ms",
                 "stall_at", "crlf", "duplicate_at", "drop_done", "malformed_at", "fail_mode",
                 "fail_after", "trickle_bytes", "trickle_ms", "seed")

    def __init__(self) -> None:
        self.fragment = 0           # pieces per event (fragment=N)
        self.fragment_bytes = 0     # ... or bytes per piece (fragment=bytes:K)
        self.coalesce = 0
        self.keepalive_ms = 0
        self.stall_ms = 0
        self.stall_at = 0           # 0 with stall_ms: drawn
        self.crlf = False
        self.duplicate_at = 0
        self.drop_done = False
        self.malformed_at = 0
        self.fail_mode = None       # how a fail_after cut ends; None = close
        self.fail_after = -1        # set by a drawn close/reset/truncate (the control's wins)
        self.trickle_bytes = 0
        self.trickle_ms = -1        # -1: the default (10) once trickle_bytes is set
        self.seed = None

    def active(self) -> bool:
        """Whether anything changes on the wire (a seed alone changes nothing)."""
        return bool(self.fragment or self.fragment_bytes or self.coalesce or self.keepalive_ms
                    or self.stall_ms or self.crlf or self.duplicate_at or self.drop_done
                    or self.malformed_at or self.fail_mode or self.fail_after >= 0
                    or self.trickle_bytes)

    def merged(self, over: "Chaos | None") -> "Chaos":
        """These settings with what ``over`` sets on top (a request over its fixture)."""
        out = Chaos()
        blank = Chaos()
        for name in Chaos.__slots__:
            mine = getattr(self, name)
            theirs = getattr(over, name) if over is not None else getattr(blank, name)
            setattr(out, name, theirs if theirs != getattr(blank, name) else mine)
        if over is not None and (over.fragment or over.fragment_bytes):
            out.fragment, out.fragment_bytes = over.fragment, over.fragment_bytes
        return out

    def as_dict(self) -> dict:
        """The settings that are on (and the seed), for the journal and describe()."""
        blank = Chaos()
        out = {}
        for name in Chaos.__slots__:
            value = getattr(self, name)
            if value != getattr(blank, name):
                if name == "fragment_bytes":
                    name, value = "fragment", f"bytes:{value}"
                out[name] = value
        return out

    def describe(self) -> str:
        """The settings as a query string (the X-Mock-Chaos header): it replays the stream."""
        parts = []
        for name, value in self.as_dict().items():
            if value is True:
                value = 1
            parts.append(f"{name}={value}")
        return "&".join(parts)


# -- per request ------------------------------------------------------------------------------

def from_request(query: bytes | None, headers: dict | None) -> Chaos | None:
    """The chaos a request asks for (query string and X-Mock-* headers; the header wins),
    or None when it asks for none."""
    raw = {}
    if query:
        for key, value in query_values(query, QUERY_NAMES):
            raw[QUERY_NAMES[key]] = value
    if headers:
        for name, header in HEADERS.items():
            value = headers.get(header)
            if value is not None:
                raw[name] = value
    if not raw:
        return None
    chaos = Chaos()
    for name, value in raw.items():
        _set(chaos, name, value)
    return chaos


def wanted(query: bytes | None, headers: dict | None) -> bool:
    """A cheap look: may this request ask for chaos? (then from_request() says what)"""
    if headers and not HEADER_NAMES.isdisjoint(headers):
        return True
    if query:
        for pair in query.split(b"&"):
            if pair.partition(b"=")[0] in QUERY_NAMES:
                return True
    return False


def _set(chaos: Chaos, name: str, raw: bytes) -> None:
    text = raw.strip()
    shown = raw.decode("utf-8", "replace")[:40]
    if name == "fragment":
        if text.lower().startswith(b"bytes:"):
            size = text[6:].strip()
            if not size.isdigit() or not 1 <= int(size) <= MAX_PIECE_BYTES:
                raise InvalidControl(name, f"fragment=bytes:K needs K from 1 to {MAX_PIECE_BYTES}, "
                                           f"got {shown!r}")
            chaos.fragment, chaos.fragment_bytes = 0, int(size)
            return
        if not text.isdigit() or not 2 <= int(text) <= MAX_PIECES:
            raise InvalidControl(name, f"fragment must be a number of pieces from 2 to {MAX_PIECES}, "
                                       f"or bytes:K, got {shown!r}")
        chaos.fragment, chaos.fragment_bytes = int(text), 0
    elif name == "fail_mode":
        mode = text.lower().decode("latin-1")
        if mode not in FAIL_MODES:
            raise InvalidControl(name, f"fail_mode must be close, reset or truncate, got {shown!r}")
        chaos.fail_mode = mode
    elif name in SWITCHES:
        value = text.lower()
        if value not in _ON and value not in _OFF:
            raise InvalidControl(name, f"{name} must be 1 or 0 (true or false), got {shown!r}")
        setattr(chaos, name, value in _ON)
    else:
        _, lowest, highest = NUMBERS[name]
        if not text.isdigit() or not lowest <= int(text) <= highest:
            raise InvalidControl(name, f"{name} must be a whole number from {lowest} to "
                                       f"{highest}, got {shown!r}")
        setattr(chaos, name, int(text))


def check(chaos: Chaos, ndjson: bool, fail_after: int) -> None:
    """The rules that depend on the stream: what NDJSON cannot say, what needs what."""
    if ndjson and chaos.keepalive_ms:
        raise InvalidControl("keepalive_ms", "keepalive_ms sends SSE comment lines, and NDJSON "
                                             "has none: not allowed on an NDJSON stream")
    if chaos.fail_mode is not None and fail_after < 0 and chaos.fail_after < 0:
        raise InvalidControl("fail_mode", "fail_mode says how a fail_after cut ends: "
                                          "give fail_after too")
    if chaos.stall_at and not chaos.stall_ms:
        raise InvalidControl("stall_at", "stall_at says where the stall_ms gap goes: "
                                         "give stall_ms too")
    if chaos.trickle_ms >= 0 and not chaos.trickle_bytes:
        raise InvalidControl("trickle_ms", "trickle_ms paces trickle_bytes: give trickle_bytes too")


# -- per fixture ---------------------------------------------------------------------------------

# aimock's own chaos fields (whole-request faults): validated by the loader, not acted on.
AIMOCK_FIELDS = ("dropRate", "malformedRate", "disconnectRate", "rateLimitRate", "latencyMs")


def from_fixture(raw: dict) -> Chaos | None:
    """A fixture's ``chaos`` object (the wire-chaos names; aimock's own fields are left to
    the loader); InvalidControl names a bad field."""
    chaos = Chaos()
    given = False
    for name, value in raw.items():
        if name in AIMOCK_FIELDS:
            continue
        if name == "fail_after":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidControl(name, f"fail_after must be a whole number >= 0, got {value!r}")
            chaos.fail_after = value
        elif name in HEADERS:
            if isinstance(value, bool):
                value = b"1" if value else b"0"
            elif isinstance(value, (int, str)):
                value = str(value).encode()
            else:
                raise InvalidControl(name, f"{name} must be a number, a boolean or a string")
            _set(chaos, name, value)
        else:
            raise InvalidControl(name, "unknown field")
        given = True
    if not given:
        return None
    if chaos.stall_at and not chaos.stall_ms:
        raise InvalidControl("stall_at", "stall_at needs stall_ms")
    return chaos


# -- server-wide odds ------------------------------------------------------------------------------

def parse_odds(text: str) -> tuple:
    """``--chaos 'fragment=0.1,reset=0.01'`` -> ((condition, probability), ...); ValueError
    with one line when it is not that."""
    odds = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if name not in CONDITIONS:
            raise ValueError(f"unknown chaos condition {name!r} (one of {', '.join(CONDITIONS)})")
        try:
            p = float(value) if sep else -1.0
        except ValueError:
            p = -1.0
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"chaos {name}: give a probability from 0 to 1, e.g. {name}=0.1")
        odds.append((name, p))
    if not odds:
        raise ValueError("no chaos condition given, e.g. fragment=0.1,reset=0.01")
    return tuple(odds)


class Odds:
    """The server's chaos odds and the generator every stream's seed comes from."""

    __slots__ = ("odds", "rng")

    def __init__(self, odds: tuple, seed=None) -> None:
        self.odds = odds
        self.rng = Random(seed) if seed is not None else Random()

    def next_seed(self) -> int:
        return self.rng.getrandbits(63)


# -- one stream ------------------------------------------------------------------------------------

def for_stream(odds: "Odds | None", query: bytes | None, headers: dict | None, fixture,
               spec, fail_after: int) -> "Chaos | None":
    """The wire chaos of one stream (None: a plain one): the request's settings over its
    fixture's, over the server's odds; InvalidControl names a bad request setting."""
    asked = from_request(query, headers) if (query or headers) else None
    if asked is None and fixture is None and odds is None:
        return None
    if spec.content_type not in (SSE, NDJSON):   # Gemini's JSON-array stream: no events
        if asked is not None:
            raise InvalidControl(asked.describe().partition("=")[0] or "chaos",
                                 "wire chaos cuts SSE events and NDJSON lines: this stream "
                                 "is a JSON array (ask for alt=sse)")
        return None
    ndjson = spec.content_type == NDJSON
    if asked is not None:
        check(asked, ndjson, fail_after)
    return resolve(asked, fixture, odds, spec.total, fail_after, ndjson)


def resolve(request: Chaos | None, fixture: Chaos | None, odds: Odds | None, total: int,
            fail_after: int, ndjson: bool) -> Chaos | None:
    """The chaos of one stream, every open choice drawn from its seed; None: a plain stream.

    Draws, in this order, from Random(seed): each server-wide condition (once per
    stream, in the order --chaos gives them), then each position left open."""
    chaos = fixture.merged(request) if fixture is not None else request
    if chaos is None and odds is None:
        return None
    if chaos is None:
        chaos = Chaos()
    seed = chaos.seed
    if seed is None:
        seed = odds.next_seed() if odds is not None else Random().getrandbits(63)
    rng = Random(seed)
    span = total if total > 0 else ENDLESS_SPAN
    if odds is not None:
        drawn = Chaos()
        for name, p in odds.odds:
            if rng.random() < p:
                for key, value in CONDITIONS[name].items():
                    if key == "keepalive_ms" and ndjson:
                        continue        # NDJSON has no comments: the draw does nothing
                    if value == "at":
                        value = 1 + _below(rng, span)
                    setattr(drawn, key, value)
        chaos = drawn.merged(chaos)
    if not chaos.active():
        return None
    chaos.seed = seed
    if chaos.stall_ms and not chaos.stall_at:
        chaos.stall_at = 1 + _below(rng, span)
    if chaos.trickle_bytes and chaos.trickle_ms < 0:
        chaos.trickle_ms = 10
    if fail_after >= 0:
        chaos.fail_after = fail_after   # the fail_after control wins over a drawn cut
    return chaos


def _below(rng: Random, n: int) -> int:
    """0 <= k < n from ``rng`` (the C generator has no randrange)."""
    return int(rng.random() * n) if n > 0 else 0
