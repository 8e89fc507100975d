"""The phases on the seed endpoints: startup, wrk (/api/data), stream (paced /stream-sse
and the drift probe) and hold (idle /stream-loop streams). Each starts a fresh server,
measures, and stops it; each returns one round's figures as a flat dict."""
from __future__ import annotations

import statistics
import time

from .procfs import Meter, reset_hwm, tree_pids, tree_pss_kb, tree_status_kb
from .tools import finish_streamload, run_streamload, run_wrk


def phase_startup(args, srv, rnd: int) -> dict:
    out: dict = {}
    times, rss, pss = [], [], []
    for i in range(args.startup_repeats):
        ms = srv.start(f"r{rnd}-startup{i}")
        if ms is None:
            out["start_failed"] = 1
            break
        times.append(ms)
        time.sleep(2)
        rss.append(tree_status_kb(srv.pid, "VmRSS"))
        p = tree_pss_kb(srv.pid)
        if p is not None:
            pss.append(p)
        out["procs"] = len(tree_pids(srv.pid))
        srv.stop()
    if times:
        out["startup_ms"] = statistics.median(times)
        out["startup_ms_all"] = times
        out["idle_rss_kb"] = statistics.median(rss)
    if pss:
        out["idle_pss_kb"] = statistics.median(pss)
    return out


def phase_wrk(args, srv, rnd: int) -> dict:
    if srv.start(f"r{rnd}-wrk") is None:
        return {"start_failed": 1}
    try:
        time.sleep(1)
        rss0 = tree_status_kb(srv.pid, "VmRSS")
        res = run_wrk(args, srv, f"r{rnd}-wrk-{srv.label}.txt")
        time.sleep(1)
        res["alive_after"] = int(srv.alive())
        if srv.alive():
            rss1 = tree_status_kb(srv.pid, "VmRSS")
            res["rss_before_kb"], res["rss_after_kb"], res["rss_growth_kb"] = rss0, rss1, rss1 - rss0
        return res
    finally:
        srv.stop()


STREAM_KEYS = ("n", "ok", "failed", "errors", "finished", "frames", "wall_s", "ttff_p50_ms", "ttff_p90_ms",
               "ttff_p99_ms", "ttff_max_ms", "gap_p50_ms", "gap_p90_ms", "gap_p99_ms", "gap_max_ms",
               "drift_p50_ms", "drift_max_ms")


def paced_streams(args, srv, path: str, logname: str, body_file: str | None = None, probe: str | None = None,
                  probe_logname: str = "") -> tuple[dict, dict]:
    """--streams paced streams on ``path`` over --stream-ramp s (and, once the ramp is over,
    one ``probe`` stream): (the streams' figures with the server's CPU per frame, the probe's RESULT)"""
    reset_hwm(srv.pid)
    meter = Meter(args, srv)
    d = args.stream_delay
    main = run_streamload(args, srv, path, args.streams, logname, ramp=args.stream_ramp,
                          timeout=args.stream_timeout, expect_ms=d, wait=False, body_file=body_file)
    pr: dict = {}
    if probe:
        # the drift probe: one stream while the load is at full strength
        time.sleep(args.stream_ramp + 0.5)
        pr = finish_streamload(*run_streamload(args, srv, probe, 1, probe_logname, timeout=args.stream_timeout,
                                               expect_ms=d, wait=False))
    res = finish_streamload(*main)
    cpu_s, cores = meter.stop()
    out = {k: res.get(k) for k in STREAM_KEYS}
    out["server_cpu_s"] = round(cpu_s, 2)
    out["client_cpu_s"] = res.get("client_cpu_s")
    if res.get("frames"):
        out["cpu_us_per_frame"] = round(cpu_s * 1e6 / res["frames"], 2)
        out["client_cpu_us_per_frame"] = round(res.get("client_cpu_s", 0) * 1e6 / res["frames"], 2)
    out.update(cores)
    return out, pr


def phase_stream(args, srv, rnd: int) -> dict:
    if srv.start(f"r{rnd}-stream") is None:
        return {"start_failed": 1}
    try:
        if not srv.streams:
            return {"skipped": "no streaming endpoints"}
        time.sleep(1)
        d = args.stream_delay
        out, pr = paced_streams(args, srv, f"/stream-sse?delay_ms={d}", f"r{rnd}-stream-{srv.label}.txt",
                                probe=f"/stream-sse?delay_ms={d}&max_tokens={args.drift_tokens}",
                                probe_logname=f"r{rnd}-drift-{srv.label}.txt")
        out["hwm_kb"] = tree_status_kb(srv.pid, "VmHWM") if srv.alive() else None
        out["probe_ok"] = pr.get("ok")
        out["probe_drift_ms"] = pr.get("drift_p50_ms")
        out["probe_gap_max_ms"] = pr.get("gap_max_ms")
        out["alive_after"] = int(srv.alive())
        return out
    finally:
        srv.stop()


def phase_hold(args, srv, rnd: int) -> dict:
    if srv.start(f"r{rnd}-hold") is None:
        return {"start_failed": 1}
    try:
        if not srv.streams:
            return {"skipped": "no streaming endpoints"}
        time.sleep(1)
        base = tree_status_kb(srv.pid, "VmRSS")
        meter = Meter(args, srv)
        res = run_streamload(args, srv, f"/stream-loop?delay_ms={args.hold_delay}", args.hold_streams,
                             f"r{rnd}-hold-{srv.label}.txt", ramp=args.hold_ramp,
                             duration=args.hold_ramp + args.hold_secs, timeout=args.hold_ramp + args.hold_secs + 20,
                             pid=True)
        cpu_s, cores = meter.stop()
        out = {k: res.get(k) for k in ("n", "ok", "held", "failed", "errors", "open_end", "max_open",
                                        "rss_end_kb", "rss_max_kb", "ttff_p99_ms", "gap_p99_ms")}
        out["rss_base_kb"] = base
        if res.get("open_end"):
            out["rss_per_stream_kb"] = round((res["rss_end_kb"] - base) / res["open_end"], 2)
        out["server_cpu_s"] = round(cpu_s, 2)
        out["other_cpu_pct"] = cores["other_cpu_pct"]
        out["alive_after"] = int(srv.alive())
        return out
    finally:
        srv.stop()
