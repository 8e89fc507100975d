"""Latency models (issue 16): what a request's time to first token and inter-token gaps are.

    --ttft lognormal:median=250ms,p99=900ms --itl normal:mean=25ms,stddev=5ms
    X-Mock-TTFT: constant:40ms            (per request; X-Mock-ITL likewise)
    --latency-profile profiles.json       {"models": {"gpt-4o*": {"ttft": ..., "itl": ...,
                                           "prefill_ms_per_1k_tokens": 40,
                                           "tokens_per_second": 50}}}
    --max-num-seqs 64 --itl-load-factor 0.5

A spec is ``kind:params``, values in ``ms`` or ``s``:
``constant:25ms``, ``uniform:min=10ms,max=40ms``, ``normal:mean=25ms,stddev=5ms`` (never
below 0), ``lognormal:median=25ms,p99=80ms``, ``empirical:p50=20ms,p90=40ms,p99=80ms``
(straight between the points, flat beyond them). The draws are made in C
(fastmock._engine.Distribution) from a PRNG seeded per request from ``--seed``.

What a request gets, first found: its own controls (X-Mock-TTFT / X-Mock-ITL, then the
``ttft_ms`` / ``delay_ms`` controls as constants), the first profile whose glob matches
its model, the ``--ttft`` / ``--itl`` flags, ``--ttft-ms`` / ``--delay-ms``. A profile's
``prefill_ms_per_1k_tokens`` adds to the time to first token per prompt token, and its
``tokens_per_second`` is a constant gap of 1000/N ms.

Loaded only when one of these flags is given, or by the first request that sends one of
the headers: a server without them never imports this module.
"""
import json
import math
import os
from fnmatch import fnmatchcase

from fastmock._engine import Distribution, Gaps, Slots, mix
from fastmock.controls import InvalidControl

TTFT_HEADER = b"x-mock-ttft"
ITL_HEADER = b"x-mock-itl"
_HEADER_NAMES = {TTFT_HEADER: "X-Mock-TTFT", ITL_HEADER: "X-Mock-ITL"}
PROFILE_KEYS = ("ttft", "itl", "prefill_ms_per_1k_tokens", "tokens_per_second")
_LOGNORMAL_P99_Z = 2.3263478740408408       # the standard normal's 99th percentile
_PARAMS = {
    "constant": (),
    "uniform": ("min", "max"),
    "normal": ("mean", "stddev"),
    "lognormal": ("median", "p99"),
}


class SpecError(ValueError):
    """A latency spec that cannot be read; the message says why."""


def _duration(name: str, text: str) -> float:
    """``25ms``, ``0.5s`` -> milliseconds."""
    text = text.strip().lower()
    for unit, scale in (("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            try:
                value = float(text[:-len(unit)]) * scale
            except ValueError:
                break
            if math.isfinite(value) and value >= 0:
                return value
            break
    raise SpecError(f"{name}: {text!r} is not a duration (e.g. 25ms or 0.5s)")


def parse(spec: str) -> Distribution:
    """One spec -> a Distribution (its parameters in ms); SpecError says what is wrong."""
    kind, colon, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if not colon or (kind not in _PARAMS and kind != "empirical"):
        raise SpecError(f"{spec!r}: expected constant:, uniform:, normal:, lognormal: or "
                        "empirical: and its values (e.g. normal:mean=25ms,stddev=5ms)")
    if kind == "constant":
        return Distribution("constant", _duration("constant", rest))
    values = {}
    for part in rest.split(","):
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            raise SpecError(f"{spec!r}: expected name=value pairs after '{kind}:'")
        if name in values:
            raise SpecError(f"{spec!r}: {name} is given twice")
        values[name] = _duration(name, value)
    if kind == "empirical":
        return _empirical(spec, values)
    wanted = _PARAMS[kind]
    if set(values) != set(wanted):
        raise SpecError(f"{spec!r}: {kind} takes {' and '.join(wanted)}")
    a, b = (values[name] for name in wanted)
    if kind == "uniform" and b < a:
        raise SpecError(f"{spec!r}: max is below min")
    if kind == "lognormal":
        if a <= 0 or b < a:
            raise SpecError(f"{spec!r}: lognormal needs 0 < median <= p99")
        return Distribution("lognormal", math.log(a), math.log(b / a) / _LOGNORMAL_P99_Z)
    return Distribution(kind, a, b)


def _empirical(spec: str, values: dict) -> Distribution:
    points = []
    for name, ms in values.items():
        percentile = name[1:] if name[:1] == "p" else ""
        try:
            q = float(percentile) / 100
        except ValueError:
            q = -1.0
        if not 0 <= q <= 1:
            raise SpecError(f"{spec!r}: {name} is not a percentile (p0 to p100, e.g. p90)")
        points.append((q, ms))
    points.sort()
    if not points or any(b[1] < a[1] for a, b in zip(points, points[1:])):
        raise SpecError(f"{spec!r}: the values must not fall as the percentiles rise")
    if len(points) > 16:
        raise SpecError(f"{spec!r}: at most 16 percentile points")
    return Distribution("empirical", points=points)


class Profile:
    """One model glob's latencies (any may be None: the next source decides)."""

    __slots__ = ("glob", "ttft", "itl", "prefill_ms_per_token")

    def __init__(self, glob: str, ttft, itl, prefill_ms_per_token: float) -> None:
        self.glob, self.ttft, self.itl = glob, ttft, itl
        self.prefill_ms_per_token = prefill_ms_per_token


def load_profiles(path: str) -> tuple:
    """``--latency-profile FILE`` -> Profiles in file order; SpecError names what is wrong."""
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path}: {exc}") from None
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, dict) or not models:
        raise SpecError(f'{path}: expected {{"models": {{"<glob>": {{...}}, ...}}}}')
    profiles = []
    for glob, entry in models.items():
        where = f"{path}: models[{glob!r}]"
        if not isinstance(entry, dict):
            raise SpecError(f"{where}: expected an object")
        unknown = sorted(set(entry) - set(PROFILE_KEYS))
        if unknown:
            raise SpecError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(PROFILE_KEYS)})")
        try:
            ttft = parse(entry["ttft"]) if "ttft" in entry else None
            itl = parse(entry["itl"]) if "itl" in entry else None
        except (SpecError, AttributeError) as exc:
            raise SpecError(f"{where}: {exc}") from None
        rate = entry.get("tokens_per_second")
        if rate is not None:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
                raise SpecError(f"{where}: tokens_per_second must be a number above 0")
            if itl is not None:
                raise SpecError(f"{where}: give itl or tokens_per_second, not both")
            itl = Distribution("constant", 1000.0 / rate)
        prefill = entry.get("prefill_ms_per_1k_tokens", 0)
        if isinstance(prefill, bool) or not isinstance(prefill, (int, float)) or prefill < 0:
            raise SpecError(f"{where}: prefill_ms_per_1k_tokens must be a number, 0 or more")
        profiles.append(Profile(glob, ttft, itl, prefill / 1000.0))
    return tuple(profiles)


class LatencyModel:
    """A process's latency model: the flags' distributions, the profiles, the slots."""

    def __init__(self, config) -> None:
        self.ttft = config.ttft
        self.itl = config.itl
        self.profiles = config.latency_profile or ()
        self.slots = Slots(config.max_num_seqs or 0, config.itl_load_factor or 0.0)
        self.seed = config.seed if config.seed is not None else \
            int.from_bytes(os.urandom(8), "little")
        self.requests = 0
        self._specs = {}          # per-request specs already read, by their bytes

    def spec(self, headers, header: bytes):
        """The request's own spec from ``header``, or None; SpecError for a bad one."""
        if not headers:
            return None
        text = headers.get(header)
        if text is None:
            return None
        found = self._specs.get(text)
        if found is None:
            name = _HEADER_NAMES[header]
            try:
                found = parse(text.decode("latin-1"))
            except SpecError as exc:    # a request's control: a 400 naming the header
                raise InvalidControl(name, f"{name}: {exc}") from None
            if len(self._specs) < 256:
                self._specs[text] = found
        return found

    def profile(self, model: str | None):
        if model is not None:
            for profile in self.profiles:
                if fnmatchcase(model, profile.glob):
                    return profile
        return None

    def _first(self, headers, header: bytes, ctl, control: str, profiled, flagged,
               default_ms: int) -> Distribution:
        """The first of: the request's header, its control, its profile, the flag, the
        server's default (a constant)."""
        found = self.spec(headers, header)
        if found is None and ctl.set_by_request(control):
            found = Distribution("constant", getattr(ctl, control))
        return found or profiled or flagged or Distribution("constant", default_ms)

    def plan(self, ctl, headers, model: str | None, prompt_tokens: int, delay_ms: int,
             ttft_ms: int):
        """(time to first token in ms, the stream's Gaps) for one request.

        ``ctl``: its controls; ``delay_ms`` and ``ttft_ms``: the server's --delay-ms and
        --ttft-ms, the last resort."""
        self.requests += 1
        seed = mix(self.seed, self.requests)
        profile = self.profile(model)
        ttft = self._first(headers, TTFT_HEADER, ctl, "ttft_ms",
                           profile.ttft if profile else None, self.ttft, ttft_ms)
        itl = self._first(headers, ITL_HEADER, ctl, "delay_ms",
                          profile.itl if profile else None, self.itl, delay_ms)
        first = ttft.sample(seed)[0]
        if profile is not None:
            first += profile.prefill_ms_per_token * prompt_tokens
        return int(round(first)), Gaps(itl, self.slots, mix(seed, 1))


def model_of(config) -> "LatencyModel | None":
    """The process's model when a latency flag is given, else None."""
    if config.ttft or config.itl or config.latency_profile or config.max_num_seqs \
            or config.itl_load_factor:
        return LatencyModel(config)
    return None
