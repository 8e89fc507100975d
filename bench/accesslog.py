#!/usr/bin/env python3
"""What the access log costs: /api/data throughput and server CPU per request, without
--access-log and with it in each --log-format (issue #4: at most 10 % of the throughput).

    python3 bench/accesslog.py                      # 5 rounds x 10 s per variant
    python3 bench/accesslog.py --duration 2 --rounds 1     # a smoke test

The server runs pinned to --server-cpu (default core 0), wrk to --load-cpu (core 1), so
the server's core is the bottleneck and req/s measures the server's cost per request.
Rounds interleave the variants (the order alternates each round) so that drift of a
shared machine hits them alike; every figure is a median over rounds, and each ratio
(variant / no log) is taken within a round, then its median reported. The log goes to a
file (--log-to, default a fresh file per run in a temporary directory; /dev/null is
allowed), and the lines written are counted, so a run that logged nothing is visible.

Prints a table and writes JSON (--out, default bench/results/accesslog.json).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib.log import log  # noqa: E402  (bench/lib/)
from lib.procfs import CLK_TCK, tree_cpu_ticks  # noqa: E402
from lib.servers import launch, terminate  # noqa: E402
from lib.tools import ensure_wrk, load_pin  # noqa: E402
from support import wrk  # noqa: E402  (tests/support, on the path from bench/lib)

BUDGET = 0.10   # the limit: the log may cost at most 10 % of the throughput


def start(args, variant: str, logfile: str) -> subprocess.Popen:
    argv = shlex.split(args.server.replace("{port}", str(args.port)).replace("{host}", "127.0.0.1"))
    if variant != "off":
        argv += ["--access-log", "--log-format", variant]
    if args.server_cpu != "":
        argv = ["taskset", "-c", args.server_cpu] + argv
    # stdout is the access log, whose lines are counted: stderr goes elsewhere
    return launch(argv, args.port, logfile, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    terminate(proc)


def count_lines(path: str) -> int | None:
    if path == os.devnull:
        return None
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def measure(args, variant: str, logfile: str) -> dict:
    proc = start(args, variant, logfile)
    try:
        time.sleep(0.5)
        cmd = load_pin(args) + wrk.command(args.wrk_bin, f"http://127.0.0.1:{args.port}/api/data",
                                           args.threads, args.conns, args.duration, timeout_s=None)
        t0 = tree_cpu_ticks(proc.pid)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 30)
        t1 = tree_cpu_ticks(proc.pid)
        alive = proc.poll() is None
    finally:
        stop(proc)                      # SIGTERM flushes the log's last lines
    load = wrk.parse(result.stdout + result.stderr)
    out = {"variant": variant, "alive_after": int(alive), "requests": load.get("requests", 0),
           "rps": round(load.get("rps", 0)), "non2xx": load["non2xx"], "errors": load["errors"] + load["timeouts"]}
    cpu_s = (t1 - t0) / CLK_TCK
    out["server_cpu_s"] = round(cpu_s, 2)
    out["cpu_us_per_req"] = round(cpu_s * 1e6 / out["requests"], 2) if out["requests"] else None
    if variant != "off":
        out["lines_logged"] = count_lines(logfile)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="fastmock --host {host} --port {port}",
                    help="the fastmock command (default: %(default)s)")
    ap.add_argument("--formats", default="clf,json", help="log formats to compare with no log")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10, help="seconds of wrk per run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--port", type=int, default=3200)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--log-to", default="", help="file for the access log (default: a temporary file per run)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "accesslog.json"))
    ap.add_argument("--no-install", action="store_true", help="never apt-get wrk")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    variants = ["off", *formats]
    args.wrk_bin = ensure_wrk(args)
    if args.load_cpu != "":
        os.sched_setaffinity(0, {int(c) for c in args.load_cpu.split(",")})

    tmp = tempfile.mkdtemp(prefix="fastmock-accesslog-")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    try:
        for rnd in range(args.rounds):
            order = variants if rnd % 2 == 0 else variants[::-1]
            for variant in order:
                logfile = args.log_to or os.path.join(tmp, f"{variant}-{rnd}.log")
                res = measure(args, variant, logfile)
                res["round"] = rnd + 1
                runs[variant].append(res)
                if not args.log_to:
                    os.unlink(logfile)
                log(f"round {rnd + 1}/{args.rounds} {variant:4s} rps={res['rps']} "
                    f"cpu_us/req={res['cpu_us_per_req']} lines={res.get('lines_logged', '-')} "
                    f"errors={res['errors']} non2xx={res['non2xx']}")
    finally:
        try:
            os.rmdir(tmp)
        except OSError:
            pass

    def med(variant: str, key: str):
        values = [r[key] for r in runs[variant] if r.get(key) is not None]
        return statistics.median(values) if values else None

    summary = {}
    for variant in variants:
        summary[variant] = {"rps": med(variant, "rps"), "cpu_us_per_req": med(variant, "cpu_us_per_req")}
        if variant == "off":
            continue
        rps_ratios, cpu_ratios = [], []
        for base, run_ in zip(runs["off"], runs[variant]):
            if base["rps"] and run_["rps"]:
                rps_ratios.append(run_["rps"] / base["rps"])
            if base["cpu_us_per_req"] and run_["cpu_us_per_req"]:
                cpu_ratios.append(run_["cpu_us_per_req"] / base["cpu_us_per_req"])
        rps_ratio = round(statistics.median(rps_ratios), 3) if rps_ratios else None
        summary[variant].update({
            "rps_ratio": rps_ratio,
            "cpu_per_req_ratio": round(statistics.median(cpu_ratios), 3) if cpu_ratios else None,
            "within_budget": rps_ratio is not None and rps_ratio >= 1 - BUDGET,
            "lines_logged_vs_requests": [(r.get("lines_logged"), r["requests"]) for r in runs[variant]],
        })
    doc = {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "settings": {
        k: v for k, v in vars(args).items() if k != "wrk_bin"}, "runs": runs, "summary": summary,
        "budget": BUDGET}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    print(f"\n/api/data, {args.rounds} round(s) x {args.duration} s, wrk -t{args.threads} "
          f"-c{args.conns}, server on cpu {args.server_cpu!r}, wrk on cpu {args.load_cpu!r}")
    print(f"{'variant':8s} {'req/s':>9s} {'CPU us/req':>11s} {'req/s ratio':>12s} {'CPU ratio':>10s}  budget")
    for variant in variants:
        s = summary[variant]
        ratio = "" if variant == "off" else f"{s['rps_ratio']}"
        cpu = "" if variant == "off" else f"{s['cpu_per_req_ratio']}"
        verdict = "" if variant == "off" else ("ok" if s["within_budget"] else f"OVER {BUDGET:.0%}")
        print(f"{variant:8s} {s['rps']!s:>9s} {s['cpu_us_per_req']!s:>11s} {ratio:>12s} {cpu:>10s}  {verdict}")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
