"""The results document as a Markdown table and a PNG chart (bench/run.py writes them;
bench/report.py re-renders them from a results.json)."""
from __future__ import annotations

import os
import subprocess
import sys

from .providers import LOADS

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (key in medians, title, unit: raw|mb|kb, better: lower|higher|None, decimals, target for fastmock)
METRICS = [
    ("startup.startup_ms", "start-up to first /health answer (ms)", "raw", "lower", 0, "≤ 150"),
    ("startup.idle_rss_kb", "idle VmRSS (MiB)", "mb", "lower", 1, "≤ 22.5"),
    ("startup.idle_pss_kb", "idle PSS (MiB)", "mb", "lower", 1, ""),
    ("wrk.rps", "/api/data req/s, wrk -t{wrk_threads} -c{wrk_conns}", "raw", "higher", 0, ""),
    ("wrk.p50_ms", "/api/data latency p50 (ms)", "raw", "lower", 2, ""),
    ("wrk.p99_ms", "/api/data latency p99 (ms)", "raw", "lower", 2, ""),
    ("wrk.cpu_us_per_req", "server CPU µs per /api/data request", "raw", "lower", 2, "≤ 0.95× nginx"),
    ("wrk.errors", "wrk socket errors", "raw", "lower", 0, "0"),
    ("wrk.non2xx", "wrk non-2xx", "raw", "lower", 0, "0"),
    ("wrk.timeouts", "wrk timeouts (no answer within 5 s)", "raw", "lower", 0, ""),
    ("wrk.rss_growth_kb", "VmRSS growth after the wrk load (MiB)", "mb", "lower", 2, "≤ 1"),
    ("wrk.load_core_busy_pct", "load-generator core busy during wrk (%)", "raw", None, 0, ""),
    ("wrk.steal_pct", "server core stolen by the hypervisor during wrk (%)", "raw", None, 0, ""),
    ("wrk.other_cpu_pct", "other processes' CPU during wrk (% of a core)", "raw", None, 0, ""),
    ("stream.ok", "paced streams completed (of {streams:,})", "raw", "higher", 0, ""),
    ("stream.failed", "paced streams failed", "raw", "lower", 0, "0"),
    ("stream.ttff_p50_ms", "time to first frame p50 (ms)", "raw", "lower", 2, ""),
    ("stream.ttff_p99_ms", "time to first frame p99 (ms)", "raw", "lower", 2, ""),
    ("stream.gap_p50_ms", "inter-frame gap p50 (ms, asked {stream_delay})", "raw", None, 2, ""),
    ("stream.gap_p90_ms", "inter-frame gap p90 (ms)", "raw", "lower", 2, ""),
    ("stream.gap_p99_ms", "inter-frame gap p99 (ms)", "raw", "lower", 2, "≤ 25"),
    ("stream.gap_max_ms", "inter-frame gap max (ms)", "raw", "lower", 1, ""),
    ("stream.cpu_us_per_frame", "server CPU µs per streamed frame", "raw", "lower", 2, "≤ 0.5× go-seed"),
    ("stream.client_cpu_us_per_frame", "load client's own CPU µs per frame (on the load core)", "raw", None, 2, ""),
    ("stream.drift_max_ms", "worst stream's last token vs ideal, under load (ms)", "raw", "lower", 1, ""),
    ("stream.load_core_busy_pct", "load-generator core busy during the streams (%)", "raw", None, 0, ""),
    ("stream.other_cpu_pct", "other processes' CPU during the streams (% of a core)", "raw", None, 0, ""),
    ("stream.probe_drift_ms", "drift: {drift_tokens} tokens at {stream_delay} ms, end vs ideal (ms)", "raw", "lower", 1, "≤ 25"),
    ("hold.held", "idle /stream-loop streams held (of {hold_streams:,})", "raw", "higher", 0, ""),
    ("hold.rss_per_stream_kb", "VmRSS per open stream (KiB)", "raw", "lower", 2, "≤ 1.6"),
    ("hold.rss_end_kb", "VmRSS with all streams open (MiB)", "mb", "lower", 1, ""),
    ("limits.idle_charged_kb", "memory charged to the cgroup, idle (MiB)", "mb", "lower", 1, "≤ 16"),
    ("limits.wrk_rps", "/api/data req/s under the cgroup limits", "raw", "higher", 0, "≥ 12,000"),
    ("limits.wrk_non2xx", "non-2xx under the limits", "raw", "lower", 0, "0"),
    ("limits.wrk_errors", "socket errors under the limits", "raw", "lower", 0, ""),
    ("limits.wrk_timeouts", "wrk timeouts under the limits (no answer within 5 s)", "raw", "lower", 0, ""),
    ("limits.wrk_p99_ms", "/api/data latency p99 under the limits (ms)", "raw", "lower", 0, ""),
    ("limits.late_answered", "late joiners answered (of {late_conns:,} opened at once during the load)", "raw",
     "higher", 0, ""),
    ("limits.late_p50_ms", "late joiners: time to first answer, median (ms)", "raw", "lower", 0, ""),
    ("limits.late_max_ms", "late joiners: time to first answer, slowest (ms)", "raw", "lower", 0, ""),
    ("limits.wrk_oom_kills", "OOM kills under the wrk load", "raw", "lower", 0, "0"),
    ("limits.wrk_peak_kb", "peak cgroup memory under wrk (MiB)", "mb", "lower", 1, ""),
    ("limits.streams_held", "streams held under the limits (of {limit_streams:,})", "raw", "higher", 0, "≥ 2,500"),
    ("limits.streams_max_open", "most streams open at once under the limits", "raw", "higher", 0, ""),
    ("limits.streams_oom_kills", "OOM kills under the streams", "raw", "lower", 0, "0"),
    ("limits.streams_peak_kb", "peak cgroup memory under the streams (MiB)", "mb", "lower", 1, ""),
]

# the provider phases: every load's server CPU per request and its ratio to /api/data in
# the same server and round, with issue 14's targets for that ratio
RATIO_TARGETS = {"provider": {"fresh": "≤ 2.0×", "same": "≤ 1.5×"}, "short_stream": "≤ 2.0×",
                 "embeddings": {"float": "≤ 4.0×", "base64": "≤ 2.0×"}}
PHASE_TITLES = {"provider": "provider APIs, not streamed", "short_stream": "streams of 1 token",
                "embeddings": "embeddings"}


def _target(phase: str, load) -> str:
    t = RATIO_TARGETS[phase]
    return t if isinstance(t, str) else t.get(load.mode if phase == "provider" else load.key, "")


for _phase, _loads in LOADS.items():
    METRICS.append((f"{_phase}.apidata_cpu_us_per_req",
                    f"{PHASE_TITLES[_phase]}: server CPU µs per /api/data request, same server", "raw", "lower", 2,
                    ""))
    for _load in _loads():
        METRICS.append((f"{_phase}.{_load.key}_cpu_us_per_req", f"{_load.title}: server CPU µs per request",
                        "raw", "lower", 2, ""))
        METRICS.append((f"{_phase}.{_load.key}_x_apidata", f"{_load.title}: × /api/data", "raw", "lower", 2,
                        _target(_phase, _load)))
    if _phase == "provider":
        METRICS.append(("provider.rss_provider_apis_kb", "VmRSS added by one request to each provider API, "
                        "idle server (KiB)", "raw", "lower", 0, "≤ 512"))
    METRICS.append((f"{_phase}.bad_answers", f"{PHASE_TITLES[_phase]}: non-2xx and socket errors, all loads",
                    "raw", "lower", 0, "0"))
METRICS += [
    ("provider_frames.sse_cpu_us_per_frame", "server CPU µs per frame, /stream-sse (same server as below)", "raw",
     "lower", 2, ""),
    ("provider_frames.chat_cpu_us_per_frame", "server CPU µs per frame, chat completions streamed", "raw", "lower",
     2, ""),
    ("provider_frames.chat_x_sse", "chat stream frame ÷ /stream-sse frame", "raw", "lower", 2, "≤ 1.05×"),
    ("provider_frames.chat_failed", "chat streams failed", "raw", "lower", 0, "0"),
]

CHART = [
    "wrk.cpu_us_per_req", "wrk.rps", "limits.wrk_rps", "stream.cpu_us_per_frame", "stream.gap_p99_ms",
    "stream.probe_drift_ms", "hold.rss_per_stream_kb", "limits.streams_max_open", "startup.idle_rss_kb",
    "limits.idle_charged_kb", "startup.startup_ms", "stream.ttff_p99_ms",
    "provider.chat_fresh_cpu_us_per_req", "short_stream.chat_cpu_us_per_req", "embeddings.float_cpu_us_per_req",
    "provider_frames.chat_cpu_us_per_frame",
]
# shorter titles for the chart's panels than the table's rows
CHART_TITLES = {
    "provider.chat_fresh_cpu_us_per_req": "server CPU µs per chat request (not streamed, fresh body)",
    "short_stream.chat_cpu_us_per_req": "server CPU µs per chat stream of 1 token",
    "embeddings.float_cpu_us_per_req": "server CPU µs per embedding (1,536 floats)",
    "provider_frames.chat_cpu_us_per_frame": "server CPU µs per chat stream frame",
}


def _fmt(v, unit, dec):
    if v is None:
        return "–"
    if unit == "mb":
        v = v / 1024
    if dec == 0:
        return f"{v:,.0f}"
    return f"{v:,.{dec}f}"


def _title(t: str, doc: dict) -> str:
    try:
        return t.format(**doc["settings"])
    except (KeyError, ValueError):
        return t


def write_markdown(doc: dict, path: str) -> str:
    fm = doc["fastmock"]
    labels = [s["label"] for s in doc["servers"]]
    others = [lb for lb in labels if lb != fm]
    m = doc["machine"]
    runs = doc["settings"]["runs"]
    lines = [
        f"# fastmock benchmark results",
        "",
        f"- generated {doc['generated']}{'' if doc.get('complete', True) else ' (INTERRUPTED: partial)'}; "
        f"{runs} round(s), every figure the median over the rounds; ratios are {fm} ÷ baseline, "
        f"taken pair by pair within a round, then the median",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB, Linux {m['kernel']}, Python {m['python']}; "
        f"servers pinned to CPU {doc['settings']['server_cpu']}, load generators to CPU {doc['settings']['load_cpu']}",
        f"- command: `{doc['command']}`" + (f" at commit {m['commit']}" if m.get("commit") else ""),
        f"- limits: {doc['settings']['cg_cpu']} CPU, {doc['settings']['cg_mem'] // 1048576} MiB (cgroups); "
        f"loads: wrk -t{doc['settings']['wrk_threads']} -c{doc['settings']['wrk_conns']} "
        f"-d{doc['settings']['wrk_duration']}s; {doc['settings']['streams']} streams at "
        f"{doc['settings']['stream_delay']} ms; {doc['settings']['hold_streams']} held /stream-loop streams; "
        f"{doc['settings']['limit_streams']} streams under the limits"
        + (f"; provider loads: wrk -t{doc['settings']['wrk_threads']} -c{doc['settings']['wrk_conns']} "
           f"for {doc['settings']['provider_duration']} s each, POSTing with bench/lib/post.lua"
           if "provider_duration" in doc["settings"] else ""),
    ]
    for s in doc["servers"]:
        lines.append(f"- `{s['label']}`: `{s['command']}`")
    lines.append("")
    head = ["metric", fm]
    for o in others:
        head += [o, f"{fm} ÷ {o}"]
    head.append(f"target ({fm})")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    med, rat = doc["medians"], doc["ratios"]
    for key, title, unit, better, dec, target in METRICS:
        if not any(key in med.get(lb, {}) for lb in labels):
            continue
        row = [_title(title, doc)]
        v = med.get(fm, {}).get(key)
        row.append(_fmt(v["median"] if v else None, unit, dec))
        for o in others:
            v = med.get(o, {}).get(key)
            row.append(_fmt(v["median"] if v else None, unit, dec))
            r = rat.get(o, {}).get(key)
            row.append(f"{r['median']:.2f}×" if r else "–")
        row.append(target)
        lines.append("| " + " | ".join(row) + " |")
    skipped = {lb: runs_[0].get("skipped") for lb, ph in doc["raw"].items()
               for name, runs_ in ph.items() if name == "limits" and runs_ and runs_[0].get("skipped")}
    if skipped:
        lines += ["", "limits phase skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())]
    lines += ["", "Lower is better for CPU, latency, gaps, drift and memory; higher for req/s and streams held. "
              "Memory is read from /proc and the cgroup in KiB (what /proc calls kB); "
              "MiB = 1,024 KiB, the unit Docker's `memory: 20M` uses. "
              "Raw runs, min/max and per-round ratios are in `results.json`."]
    if any(k.endswith("_x_apidata") for lb in labels for k in med.get(lb, {})):
        lines += ["", "× /api/data: a load's server CPU per request ÷ that of `GET /api/data` in the same server "
                  "and round (the mean of one wrk run before the loads and one after), the median over rounds. "
                  "Fresh bodies vary the user message on every request; streams of 1 token ask "
                  "`max_tokens` (Ollama: `num_predict`) 1."]
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return text


def ensure_matplotlib(install: bool = True) -> bool:
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        pass
    req = os.path.join(BENCH, "requirements.txt")
    in_venv = sys.prefix != sys.base_prefix
    if install and in_venv:
        print(f"[bench] matplotlib is missing: installing bench/requirements.txt into this venv ({sys.prefix})",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", req], timeout=900)
        try:
            import matplotlib  # noqa: F401
            return True
        except ImportError:
            pass
    print(f"[bench] no matplotlib, so no PNG chart: pip install -r {os.path.relpath(req)} "
          "(in a virtualenv) and rerun, or render later with python3 bench/report.py", file=sys.stderr)
    return False


def write_chart(doc: dict, path: str) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    labels = [s["label"] for s in doc["servers"]]
    med = doc["medians"]
    info = {k: (_title(CHART_TITLES.get(k, t), doc), u, b, d) for k, t, u, b, d, _ in METRICS}
    keys = [k for k in CHART if any(k in med.get(lb, {}) for lb in labels)]
    if not keys:
        return None
    cols = 4
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for ax, key in zip(axes.flat, keys):
        title, unit, better, dec = info[key]
        vals, lo, hi = [], [], []
        for lb in labels:
            v = med.get(lb, {}).get(key)
            scale = 1 / 1024 if unit == "mb" else 1
            if v:
                vals.append(v["median"] * scale)
                lo.append((v["median"] - v["min"]) * scale)
                hi.append((v["max"] - v["median"]) * scale)
            else:
                vals.append(0)
                lo.append(0)
                hi.append(0)
        x = range(len(labels))
        bars = ax.bar(x, vals, yerr=[lo, hi], capsize=3, color=[colors[i % len(colors)] for i in x])
        for b, v, up, lb in zip(bars, vals, hi, labels):
            present = key in med.get(lb, {})
            ax.annotate(_fmt(v, "raw", dec) if present else "n/a", (b.get_x() + b.get_width() / 2, b.get_height() + up),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=8)
        suffix = {"lower": " ↓ better", "higher": " ↑ better"}.get(better, "")
        ax.set_title(title + suffix, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.margins(y=0.18)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    m = doc["machine"]
    fig.suptitle(f"fastmock vs baselines — median of {doc['settings']['runs']} round(s), {doc['generated'][:10]}, "
                 f"{m['cpu']} ({m['cores']} cores), server on CPU {doc['settings']['server_cpu']}, "
                 f"load on CPU {doc['settings']['load_cpu']}; whiskers min–max", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

