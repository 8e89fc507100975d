#!/usr/bin/env python3
"""fastmock's benchmark suite: one command that measures fastmock and any baselines
the same way, on the same machine, interleaved, and writes the results.

    python3 bench/run.py                                    # fastmock alone
    python3 bench/run.py --baseline 'env GOMAXPROCS=1 /path/to/go-seed' \\
                         --baseline 'bench/baselines/nginx-return200.sh'
    python3 bench/run.py --phases provider,short_stream,embeddings --aimock

Each server is started pinned to one core (--server-cpu, default 0) and every
load generator (wrk, bench/streamload, this script) runs on another (--load-cpu,
default 1). A server command gets PORT and HOST in its environment and may use
{port} / {host} placeholders. Phases (--phases, default all):

  startup  time from exec to the first 200 on /health; idle VmRSS/PSS 2 s later
  wrk      wrk -t2 -c400 -d10s --latency /api/data: req/s, p50/p99, errors,
           non-2xx, server CPU us per request (utime+stime over the process tree
           from /proc/PID/stat), RSS growth after the load
  stream   1,000 paced streams on /stream-sse?delay_ms=20 (1 s ramp): TTFF and
           inter-frame gap p50/p90/p99/max, completed/failed, server CPU us per
           frame; plus a drift probe: one 100-token stream at 20 ms started once
           the ramp is over (its last token's arrival vs the ideal 99 x 20 ms)
  hold     10,000 idle /stream-loop?delay_ms=1000 streams (4 s ramp, 10 s hold):
           (VmRSS with the streams open - VmRSS before) / open streams
  limits   the server in fresh 0.1 CPU / 20 MB cgroups (v1 or v2, when writable):
           memory charged idle, the wrk load (req/s, non-2xx, OOM kills, peak
           memory; 3 s into it, 300 late joiners open at once and each times its
           first /health answer) and, in a second fresh server, 2,500
           /stream-loop streams held (held, peak open, OOM kills)
  provider       wrk POSTs to chat completions, completions, Responses, Anthropic
                 messages, Ollama chat and generate, not streamed, with a fresh and
                 with one repeated body (5 s each): server CPU us per request and
                 its ratio to GET /api/data measured in the same server
  short_stream   the same APIs with "stream": true and a 1-token limit, full rate:
                 the cost of starting a stream, and its ratio to /api/data
  embeddings     /v1/embeddings, 1,536 dimensions, float and base64, the same way
  provider_frames  1,000 paced chat streams and 1,000 /stream-sse ones in one
                 server: CPU us per frame of each and their ratio

Every phase runs --runs times; rounds are interleaved (round -> phase -> server,
the server order alternating each round) so machine drift hits all servers alike.
The figures are medians over the rounds; ratios to each baseline are computed
pair by pair within a round, then their median is taken.

Output under --out (default bench/results): results.json (every raw run,
medians, ratios, machine, commands), results.md and results.png; raw tool logs
under logs/ (git-ignored). The work is done by bench/lib/ (see its __init__).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import shlex
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import aimock, limits, providers, report, seed  # noqa: E402  (bench/lib/)
from lib.log import log  # noqa: E402
from lib.procfs import wait_quiet  # noqa: E402
from lib.results import aggregate, machine_info, summary_line  # noqa: E402
from lib.servers import Server, label_for  # noqa: E402
from lib.tools import ensure_streamload, ensure_wrk  # noqa: E402

PHASES = {"startup": seed.phase_startup, "wrk": seed.phase_wrk, "stream": seed.phase_stream,
          "hold": seed.phase_hold, "limits": limits.phase_limits, **providers.PHASES}
WRK_PHASES = {"wrk", "limits", "provider", "short_stream", "embeddings"}
STREAMLOAD_PHASES = {"stream", "hold", "limits", "provider_frames"}


def parse_args(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="fastmock --host {host} --port {port}",
                    help="the server under test (default: %(default)s, from the current environment)")
    ap.add_argument("--server-label", default="fastmock")
    ap.add_argument("--baseline", action="append", default=[], metavar="COMMAND",
                    help="a server to compare with (repeatable); gets PORT/HOST env and {port}/{host}")
    ap.add_argument("--label", action="append", default=[], metavar="NAME",
                    help="names for the baselines, in order (default: the command's program name)")
    ap.add_argument("--aimock", action="store_true",
                    help="add aimock (npm @copilotkit/aimock, installed into bench/.aimock on first use) as a "
                         "baseline of the provider and embeddings phases")
    ap.add_argument("--runs", type=int, default=3, help="rounds; every figure is the median (default 3)")
    ap.add_argument("--phases", default=",".join(PHASES), help="comma list of: " + ", ".join(PHASES))
    ap.add_argument("--port", type=int, default=3100, help="first port; server i uses port+i (default 3100)")
    ap.add_argument("--server-cpu", default="0", help="taskset list for servers ('' = unpinned; default 0)")
    ap.add_argument("--load-cpu", default="1", help="taskset list for load generators (default 1)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory (default bench/results)")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 1 round, short and small loads")
    ap.add_argument("--no-install", action="store_true", help="never apt-get/pip/npm install anything")
    ap.add_argument("--no-chart", action="store_true", help="skip the PNG")
    ap.add_argument("--streamload", help="a prebuilt bench/streamload binary (default: build it with go)")
    ap.add_argument("--quiet-wait", type=float, default=20,
                    help="before each measurement wait up to this many s for other processes to calm down "
                         "(0 = don't check; default %(default)s)")
    ap.add_argument("--quiet-pct", type=float, default=15,
                    help="'quiet' = others use less than this %% of one core (default %(default)s)")
    ap.add_argument("--start-timeout", type=float, default=30)
    ap.add_argument("--startup-repeats", type=int, default=3)
    g = ap.add_argument_group("load sizes")
    g.add_argument("--wrk-threads", type=int, default=2)
    g.add_argument("--wrk-conns", type=int, default=400)
    g.add_argument("--wrk-duration", type=int, default=10)
    g.add_argument("--provider-duration", type=int, default=5,
                   help="seconds of wrk per load in the provider, short_stream and embeddings phases (default 5)")
    g.add_argument("--streams", type=int, default=1000)
    g.add_argument("--stream-delay", type=int, default=20)
    g.add_argument("--stream-ramp", type=float, default=1)
    g.add_argument("--stream-timeout", type=float, default=20)
    g.add_argument("--drift-tokens", type=int, default=100)
    g.add_argument("--hold-streams", type=int, default=10000)
    g.add_argument("--hold-delay", type=int, default=1000)
    g.add_argument("--hold-ramp", type=float, default=4)
    g.add_argument("--hold-secs", type=float, default=10)
    g.add_argument("--limit-streams", type=int, default=2500)
    g.add_argument("--limit-ramp", type=float, default=5)
    g.add_argument("--limit-hold", type=float, default=10)
    g.add_argument("--late-conns", type=int, default=300,
                   help="connections opened at once --late-at s into the limits wrk load (0: none)")
    # --late-at is cut to a third of --wrk-duration when it would not fall inside the load
    g.add_argument("--late-at", type=float, default=3)
    g.add_argument("--cg-cpu", type=float, default=0.1, help="CPU quota in cores (default 0.1)")
    g.add_argument("--cg-mem", type=limits.parse_size, default=limits.parse_size("20M"),
                   help="memory limit (default 20M)")
    args = ap.parse_args(argv)

    if args.quick:
        args.runs, args.wrk_duration, args.streams, args.hold_streams = 1, 3, 200, 1000
        args.hold_ramp, args.hold_secs, args.limit_streams, args.limit_ramp, args.limit_hold = 1, 2, 500, 1, 2
        args.startup_repeats, args.provider_duration = 1, 2
    if args.late_conns and args.late_at >= args.wrk_duration / 2:
        # late joiners must meet a loaded server, not the end of the load
        args.late_at = args.wrk_duration / 3
    args.phase_list = [p.strip() for p in args.phases.split(",") if p.strip()]
    bad = [p for p in args.phase_list if p not in PHASES]
    if bad:
        ap.error(f"unknown phase(s) {bad}; choose from {list(PHASES)}")
    return args


def prepare(args) -> None:
    """pin this script to the load core, raise its open-file limit, find or build the tools"""
    if args.load_cpu != "":
        cpus = set()
        for part in args.load_cpu.split(","):
            a, _, b = part.partition("-")
            cpus |= set(range(int(a), int(b or a) + 1))
        os.sched_setaffinity(0, cpus)
    # enough fds for 10,000 streams
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(args.hold_streams, args.limit_streams) + 1000
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    if soft < args.hold_streams + 100:
        log(f"WARNING: open-file limit {soft} is below --hold-streams {args.hold_streams}; raise it (ulimit -n)")

    if args.server_cpu != "" and not shutil.which("taskset"):
        raise SystemExit("bench: taskset is missing (apt-get install -y util-linux)")
    phases = set(args.phase_list)
    if phases & WRK_PHASES:
        args.wrk_bin = ensure_wrk(args)
    if phases & STREAMLOAD_PHASES:
        args.streamload_bin = ensure_streamload(args)
    if not args.no_chart:
        report.ensure_matplotlib(install=not args.no_install)

    first = shlex.split(args.server.replace("{port}", "0").replace("{host}", "x"))
    if first and not shutil.which(first[0]) and not os.path.exists(first[0]):
        raise SystemExit(f"bench: {first[0]!r} not found: install fastmock into this environment "
                         f"(pip install .) or pass --server 'COMMAND'")


def make_servers(args) -> list[Server]:
    taken = {args.server_label}
    servers = [Server(args.server_label, args.server, args.port, args, args.logdir)]
    for i, cmd in enumerate(args.baseline):
        lb = args.label[i] if i < len(args.label) else label_for(cmd, taken)
        taken.add(lb)
        servers.append(Server(lb, cmd, args.port + 1 + i, args, args.logdir))
    if args.aimock:
        if not aimock.PHASES & set(args.phase_list):
            log(f"--aimock: aimock takes part only in {sorted(aimock.PHASES)}, none of which runs")
        else:
            srv = Server(label_for("aimock", taken), aimock.command(args), args.port + 1 + len(args.baseline),
                         args, args.logdir, phases=aimock.PHASES)
            srv.streams = False  # no seed endpoints: nothing to probe
            servers.append(srv)
    return servers


def cleanup() -> None:
    for s in list(Server.running):
        s.stop()
    limits.remove_all()


def main(argv=None) -> int:
    args = parse_args(argv)
    prepare(args)
    phases = args.phase_list
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    args.logdir = os.path.join(args.out, "logs", stamp)
    os.makedirs(args.logdir, exist_ok=True)
    servers = make_servers(args)
    labels = [s.label for s in servers]
    raw: dict = {s.label: {p: [] for p in phases if s.phases is None or p in s.phases} for s in servers}

    def on_signal(sig, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # even when started in the background with SIGINT ignored
    log(f"servers: {', '.join(f'{s.label}={s.cmd!r}' for s in servers)}; phases {phases}; "
        f"{args.runs} round(s); server cpu {args.server_cpu!r}, load cpu {args.load_cpu!r}; logs in {args.logdir}")
    info = machine_info(args)  # at the start: the commit being measured
    if args.aimock:
        info["tools"]["aimock"] = aimock.version()
    t_start = time.time()
    interrupted = False
    try:
        for rnd in range(1, args.runs + 1):
            order = servers if rnd % 2 else list(reversed(servers))
            for ph in phases:
                for srv in order:
                    if ph not in raw[srv.label]:
                        continue
                    log(f"round {rnd}/{args.runs} {ph:8s} {srv.label}")
                    waited = wait_quiet(args) if args.quiet_wait > 0 else 0
                    res = PHASES[ph](args, srv, rnd)
                    res["round"] = rnd
                    res["quiet_wait_s"] = waited
                    raw[srv.label][ph].append(res)
                    log("   " + summary_line(ph, res))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up and writing what was measured")
    finally:
        cleanup()

    medians, ratios = aggregate(raw, labels, args.server_label)
    doc = {
        "generated": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python3 bench/run.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "duration_s": round(time.time() - t_start),
        "complete": not interrupted,
        "machine": info,
        "settings": {k: v for k, v in vars(args).items()
                     if k not in ("wrk_bin", "streamload_bin", "logdir", "label", "baseline", "server",
                                  "phase_list")},
        "servers": [{"label": s.label, "command": s.cmd, "port": s.port} for s in servers],
        "fastmock": args.server_label,
        "phases": phases,
        "raw": raw,
        "medians": medians,
        "ratios": ratios,
    }
    # an interrupted run never replaces the last complete results
    stem = "results" if not interrupted else "results-interrupted"
    path = os.path.join(args.out, stem + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    md = report.write_markdown(doc, os.path.join(args.out, stem + ".md"))
    print(md)
    if not args.no_chart:
        png = report.write_chart(doc, os.path.join(args.out, stem + ".png"))
        if png:
            log(f"chart: {png}")
    log(f"results: {path} (+ {stem}.md/.png); raw logs: {args.logdir}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
