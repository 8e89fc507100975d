"""wrk, the HTTP load generator: its command line and what its report says.

The one place that reads wrk's output; tests/test_container.py and bench/ both use it.
"""
import re

_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def command(wrk, url, threads=2, conns=400, seconds=10, *, latency=False, timeout_s=5,
            script=None, script_args=()):
    """wrk's argv: ``threads`` threads holding ``conns`` connections for ``seconds`` s on ``url``,
    a request unanswered after ``timeout_s`` s counted as a timeout (None: wrk's 2 s);
    a Lua ``script`` gets ``script_args`` (after ``--``)."""
    argv = [wrk, f"-t{threads}", f"-c{conns}", f"-d{seconds}s"]
    if timeout_s:
        argv += ["--timeout", f"{timeout_s}s"]
    if latency:
        argv.append("--latency")
    if script:
        argv += ["-s", script]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    return argv


def _ms(value):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    return round(float(m.group(1)) * _UNIT_MS[m.group(2)], 3) if m else None


def parse(text):
    """The figures of one wrk report: requests, rps, errors (connect + read + write),
    timeouts, non2xx, and p50_ms/p90_ms/p99_ms when it ran with --latency.
    A figure wrk did not print is absent (requests and rps) or 0 (the error counts)."""
    out = {}
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            out[f"p{p}_ms"] = _ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] = sum(int(x) for x in m.groups()[:3]) if m else 0
    out["timeouts"] = int(m.group(4)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    return out
