"""From rounds to results: medians over rounds, per-round ratios against each baseline,
the machine's facts, and one line per measurement for the log."""
from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess

from .tools import BENCH


def numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def aggregate(raw: dict, labels: list[str], fastmock: str) -> tuple[dict, dict]:
    """raw[label][phase] = [round dicts]; medians[label]['phase.key'] and
    ratios[baseline]['phase.key'] = median over rounds of fastmock/baseline"""
    medians: dict = {}
    for lb in labels:
        md = {}
        for ph, runs in raw[lb].items():
            keys = []
            for r in runs:
                keys += [k for k in r if k not in keys]
            for k in keys:
                vals = [r[k] for r in runs if numeric(r.get(k))]
                if vals:
                    md[f"{ph}.{k}"] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                                       "n": len(vals)}
        medians[lb] = md
    ratios: dict = {}
    for lb in labels:
        if lb == fastmock:
            continue
        rt = {}
        for ph, runs in raw[fastmock].items():
            theirs = raw[lb].get(ph, [])
            keys = {k for r in runs for k in r}
            for k in sorted(keys):
                pairs = []
                for a, b in zip(runs, theirs):
                    x, y = a.get(k), b.get(k)
                    if numeric(x) and numeric(y) and y != 0:
                        pairs.append(x / y)
                if pairs:
                    rt[f"{ph}.{k}"] = {"median": round(statistics.median(pairs), 3),
                                       "per_round": [round(p, 3) for p in pairs]}
        ratios[lb] = rt
    return medians, ratios


def _first_line(argv: list[str]) -> str | None:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def machine_info(args) -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    tools = {}
    for t, a in (("wrk", ["-v"]), ("go", ["version"])):
        line = _first_line([shutil.which(t) or t] + a)
        if line:
            tools[t] = line
    commit = _first_line(["git", "-C", BENCH, "rev-parse", "--short", "HEAD"])
    first = shlex.split(args.server.replace("{port}", "0").replace("{host}", "x"))
    line = _first_line(first[:1] + ["--version"]) if first else None
    if line:
        tools["server_version"] = line
    return {"commit": commit, "cpu": cpu, "cores": os.cpu_count(), "mem_gb": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "python": platform.python_version(), "tools": tools}


SUMMARY_KEYS = {
    "startup": ("startup_ms", "idle_rss_kb", "idle_pss_kb"),
    "wrk": ("rps", "p99_ms", "cpu_us_per_req", "non2xx", "errors", "rss_growth_kb", "load_core_busy_pct",
            "steal_pct", "other_cpu_pct"),
    "stream": ("ok", "failed", "cpu_us_per_frame", "gap_p50_ms", "gap_p99_ms", "ttff_p99_ms", "drift_max_ms",
               "probe_drift_ms", "load_core_busy_pct", "other_cpu_pct"),
    "hold": ("held", "failed", "open_end", "rss_per_stream_kb"),
    "limits": ("idle_charged_kb", "wrk_rps", "wrk_non2xx", "wrk_oom_kills", "wrk_peak_kb", "late_answered",
               "late_p50_ms", "late_max_ms", "streams_held", "streams_max_open", "streams_oom_kills"),
    "provider_frames": ("sse_cpu_us_per_frame", "chat_cpu_us_per_frame", "chat_x_sse", "sse_failed",
                        "chat_failed"),
}


def summary_line(ph: str, r: dict) -> str:
    """one round's figures for the log: the phase's main keys; for the wrk-driven provider
    phases /api/data's µs per request, each load's µs and its ratio to /api/data"""
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    if ph in SUMMARY_KEYS:
        keys = SUMMARY_KEYS[ph]
        return " ".join(f"{k}={r[k]}" for k in keys if k in r) or json.dumps(r)[:300]
    parts = [f"apidata={r['apidata_cpu_us_per_req']}us"] if "apidata_cpu_us_per_req" in r else []
    for k, v in r.items():
        if k.endswith("_cpu_us_per_req") and not k.startswith("apidata"):
            load = k[:-len("_cpu_us_per_req")]
            ratio = r.get(f"{load}_x_apidata")
            bad = (r.get(f"{load}_non2xx") or 0) + (r.get(f"{load}_errors") or 0)
            parts.append(f"{load}={v}us" + (f"({ratio}x)" if ratio else "") + (f"[{bad} bad]" if bad else ""))
    skipped = [k[:-len("_skipped")] for k in r if k.endswith("_skipped")]
    if skipped:
        parts.append("skipped: " + ",".join(skipped))
    return " ".join(parts) or json.dumps(r)[:300]
