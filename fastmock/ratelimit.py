"""``--rate-limit``: a provider's rate limits, per API key, as token buckets (issue 16).

    --rate-limit requests=600/min,tokens=90000/min

Each limit is a bucket per API key (``Authorization: Bearer …`` or ``x-api-key``;
requests without a key share one) that holds up to its amount and refills evenly over
its period. A request takes one from ``requests``; once answered, its prompt and
completion tokens come out of ``tokens`` (the prompt out of ``input_tokens`` and the
completion out of ``output_tokens``, when those are set), which may go below zero, as a
provider lets the request that crosses the line finish. A request that finds
``requests`` under one, or a token bucket at zero or below, is refused with ``429`` and
``Retry-After``: the seconds until every bucket it needs has refilled that far.

The headers follow each provider: OpenAI's ``x-ratelimit-*`` (reset as a duration,
"1s", "6m0s") on the OpenAI routes, Anthropic's ``anthropic-ratelimit-*`` (reset as
an RFC 3339 time) on the Anthropic routes; Ollama has none, but is limited all the same.

Loaded only when the flag is given: a server without it never imports this module.
"""
import math
import time

from fastmock.wire import json_string

KINDS = ("requests", "tokens", "input_tokens", "output_tokens")
PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
           "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
# Buckets kept at once; past that the key used least recently is forgotten (its buckets
# start full again next time), so a load test with random keys cannot grow the server.
MAX_KEYS = 10_000
SHARED_KEY = b""                    # requests that carry no API key


class Limit:
    """One limit: ``amount`` per ``period`` seconds."""

    __slots__ = ("kind", "amount", "period")

    def __init__(self, kind: str, amount: int, period: int) -> None:
        self.kind, self.amount, self.period = kind, amount, period

    @property
    def rate(self) -> float:
        return self.amount / self.period

    def __eq__(self, other) -> bool:
        return isinstance(other, Limit) and (self.kind, self.amount, self.period) == \
            (other.kind, other.amount, other.period)

    def __repr__(self) -> str:
        return f"{self.kind}={self.amount}/{self.period}s"


def parse(text: str) -> tuple:
    """``requests=600/min,tokens=90000/min`` -> Limits; ValueError says what is wrong."""
    limits = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        kind, eq, value = part.partition("=")
        kind = kind.strip().replace("-", "_")
        if not eq or kind not in KINDS:
            raise ValueError(f"{part!r}: expected requests=, tokens=, input_tokens= or "
                             "output_tokens= followed by N/period (s, min, h or day)")
        if kind in limits:
            raise ValueError(f"{kind} is given twice")
        amount, slash, unit = value.strip().partition("/")
        unit = unit.strip().lower()
        period = PERIODS.get(unit[1:] if unit[:1] == "1" else unit) if slash else None
        if period is None or not amount.strip().isdigit() or not 0 < int(amount) <= 1 << 40:
            raise ValueError(f"{part!r}: expected {kind}=N/period, N a whole number above 0 "
                             "and period s, min, h or day (e.g. requests=600/min)")
        limits[kind] = Limit(kind, int(amount), period)
    if not limits:
        raise ValueError("no limit given (e.g. requests=600/min,tokens=90000/min)")
    return tuple(limits[kind] for kind in KINDS if kind in limits)


def api_key(headers) -> bytes:
    """The request's API key: the bearer token, else ``x-api-key``, else the shared key."""
    if headers:
        value = headers.get(b"authorization")
        if value is not None:
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        value = headers.get(b"x-api-key")
        if value:
            return value.strip()
    return SHARED_KEY


class Buckets:
    """The buckets of one API key: a level per limit, and when they were last filled."""

    __slots__ = ("levels", "at")

    def __init__(self, limits: tuple, now: float) -> None:
        self.levels = [float(limit.amount) for limit in limits]
        self.at = now

    def fill(self, limits: tuple, now: float) -> None:
        elapsed = now - self.at
        if elapsed > 0:
            levels = self.levels
            for i, limit in enumerate(limits):
                levels[i] = min(float(limit.amount), levels[i] + elapsed * limit.rate)
            self.at = now


class Verdict:
    """What one request was told: let through or not, and every bucket's level after it."""

    __slots__ = ("allowed", "buckets", "retry_after", "refused_by")

    def __init__(self, allowed: bool, buckets: Buckets, retry_after: float = 0.0,
                 refused_by: "Limit | None" = None) -> None:
        self.allowed = allowed
        self.buckets = buckets
        self.retry_after = retry_after     # seconds; 0 when allowed
        self.refused_by = refused_by       # the limit that waits longest, when refused


class RateLimits:
    """Every key's buckets, under one set of limits."""

    def __init__(self, limits: tuple, clock=time.monotonic, wall=time.time,
                 max_keys: int = MAX_KEYS) -> None:
        self.limits = limits
        self.clock, self.wall, self.max_keys = clock, wall, max_keys
        self._keys = {}                    # key -> Buckets, least recently used first
        self._requests = next((i for i, l in enumerate(limits) if l.kind == "requests"), -1)

    def _buckets(self, key: bytes, now: float) -> Buckets:
        keys = self._keys
        buckets = keys.pop(key, None)
        if buckets is None:
            buckets = Buckets(self.limits, now)
            if len(keys) >= self.max_keys:
                del keys[next(iter(keys))]
        else:
            buckets.fill(self.limits, now)
        keys[key] = buckets
        return buckets

    def admit(self, key: bytes) -> Verdict:
        """Take one request from ``key``'s buckets, or say how long until it may come."""
        now = self.clock()
        buckets = self._buckets(key, now)
        wait, refused_by = 0.0, None
        for i, limit in enumerate(self.limits):
            need = 1.0 if i == self._requests else math.ulp(1.0)  # a token bucket: above zero
            short = need - buckets.levels[i]
            if short > 0 and short / limit.rate > wait:
                wait, refused_by = short / limit.rate, limit
        if refused_by is not None:
            return Verdict(False, buckets, wait, refused_by)
        if self._requests >= 0:
            buckets.levels[self._requests] -= 1.0
        return Verdict(True, buckets)

    def spend(self, verdict: Verdict, prompt: int, completion: int) -> None:
        """An admitted request's tokens, taken once its answer is known."""
        levels = verdict.buckets.levels
        for i, limit in enumerate(self.limits):
            if limit.kind == "tokens":
                levels[i] -= prompt + completion
            elif limit.kind == "input_tokens":
                levels[i] -= prompt
            elif limit.kind == "output_tokens":
                levels[i] -= completion

    # -- what the answers carry ------------------------------------------------------------

    def headers(self, api: str, verdict: Verdict) -> bytes:
        """The header lines of API ``api``'s rate limits (b"" for an API that sends none)."""
        if api == OPENAI:
            return self._openai_headers(verdict)
        if api == ANTHROPIC:
            return self._anthropic_headers(verdict)
        return b""

    def names(self, api: str) -> bytes:
        """The names headers() sends for API ``api``, comma-separated: the answers add them
        to Access-Control-Expose-Headers (wire.exposing), so page code can read them."""
        if api == OPENAI:
            sets = [b"x-ratelimit-%s-" + _OPENAI_NAMES[limit.kind]
                    for limit in self.limits if limit.kind in _OPENAI_NAMES]
        elif api == ANTHROPIC:
            sets = [b"anthropic-ratelimit-" + limit.kind.replace("_", "-").encode() + b"-%s"
                    for limit in self.limits]
        else:
            return b""
        return b", ".join(name % what for name in sets for what in (b"limit", b"remaining", b"reset"))

    def refusal(self, api: str, verdict: Verdict) -> tuple:
        """A refused request's 429: (the error body in OpenAI's shape, or None for the API's
        own ``error()``; its message; the header lines, Retry-After included)."""
        limit = verdict.refused_by
        per = _PER.get(limit.period) or f"{limit.period} seconds"
        wait = duration(verdict.retry_after).decode()
        level = verdict.buckets.levels[self.limits.index(limit)]
        used = limit.amount - max(int(math.floor(level)), 0)
        what = "requests" if limit.kind == "requests" else limit.kind.replace("_", " ")
        message = (f"Rate limit reached for {what} per {per}: Limit {limit.amount}, Used {used}, "
                   f"Requested 1. Please try again in {wait}.")
        body = None
        if api == OPENAI:       # OpenAI names the bucket in "type" and the code
            body = (b'{"error":{"message":"' + json_string(message) + b'","type":"'
                    + ("requests" if limit.kind == "requests" else "tokens").encode()
                    + b'","param":null,"code":"rate_limit_exceeded"}}')
        elif api == ANTHROPIC:
            message = (f"Number of {what} has exceeded your per-{per} rate limit; see the "
                       f"response headers for current usage. Please try again in {wait}.")
        return body, message, self.headers(api, verdict) + retry_after(verdict.retry_after)

    def _state(self, verdict: Verdict):
        """(limit, remaining, seconds until full) for each limit."""
        levels = verdict.buckets.levels
        for i, limit in enumerate(self.limits):
            level = levels[i]
            remaining = max(int(math.floor(level)), 0)
            yield limit, remaining, max(limit.amount - level, 0.0) / limit.rate

    def _openai_headers(self, verdict: Verdict) -> bytes:
        """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``: OpenAI's two sets."""
        lines = []
        for limit, remaining, full_in in self._state(verdict):
            name = _OPENAI_NAMES.get(limit.kind)
            if name is None:
                continue
            lines.append(b"x-ratelimit-limit-%s: %d\r\n" % (name, limit.amount))
            lines.append(b"x-ratelimit-remaining-%s: %d\r\n" % (name, remaining))
            lines.append(b"x-ratelimit-reset-%s: %s\r\n" % (name, duration(full_in)))
        return b"".join(lines)

    def _anthropic_headers(self, verdict: Verdict) -> bytes:
        """``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,
        remaining,reset}``, the reset an RFC 3339 time."""
        lines = []
        now = self.wall()
        for limit, remaining, full_in in self._state(verdict):
            name = limit.kind.replace("_", "-").encode()
            lines.append(b"anthropic-ratelimit-%s-limit: %d\r\n" % (name, limit.amount))
            lines.append(b"anthropic-ratelimit-%s-remaining: %d\r\n" % (name, remaining))
            lines.append(b"anthropic-ratelimit-%s-reset: %s\r\n" % (name, rfc3339(now + full_in)))
        return b"".join(lines)


# The APIs whose rate-limit headers differ: a provider module's name (route.api().__name__)
OPENAI = "fastmock.providers.openai"
ANTHROPIC = "fastmock.providers.anthropic"
_PER = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
_OPENAI_NAMES = {"requests": b"requests", "tokens": b"tokens"}


def retry_after(seconds: float) -> bytes:
    """``Retry-After`` in whole seconds (HTTP allows no fraction), never under one."""
    return b"Retry-After: %d\r\n" % max(1, math.ceil(seconds))


def duration(seconds: float) -> bytes:
    """A reset time as OpenAI writes it (Go's duration format): 17ms, 1s, 8.64s, 6m0s, 1h2m3s."""
    ms = max(0, math.ceil(seconds * 1000))
    if ms < 1000:
        return b"%dms" % ms
    if ms < 60_000:
        return (b"%.3f" % (ms / 1000)).rstrip(b"0").rstrip(b".") + b"s"
    whole = ms // 1000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return b"%dh%dm%ds" % (hours, minutes, secs)
    return b"%dm%ds" % (minutes, secs)


def rfc3339(when: float) -> bytes:
    """A wall-clock time as Anthropic's reset headers give it: 2026-12-05T08:30:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.ceil(when))).encode()
