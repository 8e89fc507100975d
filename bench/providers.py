#!/usr/bin/env python3
"""Server CPU per provider request, as a ratio to GET /api/data on the same server.

    python3 bench/providers.py [--rounds 3] [--seconds 3] [--cases chat,chat_fixed,...]
                               [--tree /path/to/a/baseline/checkout]

One fastmock process pinned to --server-cpu, wrk pinned to --load-cpu; each case is
one wrk run (a Lua script POSTs a fresh body per request, or one repeated body);
server CPU is utime+stime from /proc/PID/stat across the run, divided by the
requests wrk completed. Every case runs right after a run of its baseline (the
machine is shared: its load moves within a round), rounds go through the cases in
alternating order, and a case's figure is the median over rounds of its ratio to the
baseline run before it. ``stream1_*`` cases
are max_tokens=1 streams at full rate (the cost of starting a stream); ``frames_*``
cases are 1,000-token streams, reported per frame against /stream-sse's.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name -> (path, body template, per-request frames); {m} is replaced by a varying word
# (or "hello" in the repeated-body cases).
USER = "Say something about {m} and more words here"
CASES = {
    "api_data": ("GET", "/api/data", None, 1),
    # floors: /api/data parsed (a fresh query string every time), a provider GET
    "api_data_parsed": ("GET", "/api/data?n={m}", None, 1),
    "models": ("GET", "/v1/models", None, 1),
    "chat": ("POST", "/v1/chat/completions",
             {"model": "gpt-4o", "messages": [{"role": "user", "content": USER}]}, 1),
    "completions": ("POST", "/v1/completions", {"model": "gpt-4o", "prompt": USER}, 1),
    "responses": ("POST", "/v1/responses", {"model": "gpt-4o", "input": USER}, 1),
    "messages": ("POST", "/v1/messages",
                 {"model": "claude", "max_tokens": 1024,
                  "messages": [{"role": "user", "content": USER}]}, 1),
    "ollama_chat": ("POST", "/api/chat",
                    {"model": "llama3", "stream": False,
                     "messages": [{"role": "user", "content": USER}]}, 1),
    "generate": ("POST", "/api/generate", {"model": "llama3", "stream": False, "prompt": USER}, 1),
    "stream1_chat": ("POST", "/v1/chat/completions",
                     {"model": "gpt-4o", "stream": True, "max_tokens": 1,
                      "messages": [{"role": "user", "content": USER}]}, 1),
    "stream1_completions": ("POST", "/v1/completions",
                            {"model": "gpt-4o", "stream": True, "max_tokens": 1, "prompt": USER}, 1),
    "stream1_responses": ("POST", "/v1/responses",
                          {"model": "gpt-4o", "stream": True, "max_output_tokens": 1,
                           "input": USER}, 1),
    "stream1_messages": ("POST", "/v1/messages",
                         {"model": "claude", "max_tokens": 1, "stream": True,
                          "messages": [{"role": "user", "content": USER}]}, 1),
    "stream1_ollama_chat": ("POST", "/api/chat",
                            {"model": "llama3", "options": {"num_predict": 1},
                             "messages": [{"role": "user", "content": USER}]}, 1),
    "stream1_generate": ("POST", "/api/generate",
                         {"model": "llama3", "options": {"num_predict": 1}, "prompt": USER}, 1),
    "frames_sse": ("GET", "/stream-sse?max_tokens=1000", None, 1000),
    "frames_chat": ("POST", "/v1/chat/completions?max_tokens=1000",
                    {"model": "gpt-4o", "stream": True,
                     "messages": [{"role": "user", "content": USER}]}, 1000),
    "embeddings": ("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": USER}, 1),
    "embeddings_b64": ("POST", "/v1/embeddings",
                       {"model": "text-embedding-3-small", "input": USER,
                        "encoding_format": "base64"}, 1),
}
VARIES = [c for c in CASES if CASES[c][2] is not None]
DEFAULT_CASES = (["api_data"] + [c for c in VARIES if not c.startswith(("stream1", "frames"))]
                 + [c + "_fixed" for c in ("chat", "completions", "responses", "messages",
                                           "ollama_chat", "generate")]
                 + [c for c in CASES if c.startswith("stream1")] + ["frames_sse", "frames_chat"]
                 + ["embeddings_fixed", "embeddings_b64_fixed"])


def lua(case: str) -> str:
    base, fixed = (case[:-6], True) if case.endswith("_fixed") else (case, False)
    method, path, body, _ = CASES[base]
    if body is None and "{m}" in path:
        head, tail = path.split("{m}")
        return (f'wrk.method = "{method}"\nlocal n = 0\nfunction request()\n  n = n + 1\n'
                f'  return wrk.format(nil, "{head}" .. n .. "{tail}")\nend\n')
    if body is None:
        return f'wrk.method = "{method}"\nwrk.path = "{path}"\n'
    text = json.dumps(body, separators=(",", ":"))
    head, tail = text.split("{m}")
    q = lambda s: json.dumps(s)  # noqa: E731  (a JSON string is a Lua string here)
    script = (f'wrk.method = "POST"\nwrk.path = "{path}"\n'
              'wrk.headers["Content-Type"] = "application/json"\n')
    if fixed:
        return script + f"wrk.body = {q(head + 'hello' + tail)}\n"
    return script + (f"local n = 0\nlocal head, tail = {q(head)}, {q(tail)}\n"
                     "function request()\n  n = n + 1\n"
                     '  return wrk.format(nil, nil, nil, head .. "word" .. n .. tail)\nend\n')


BASELINES = ("api_data", "frames_sse")


def baseline_of(case: str) -> str:
    """What a case is measured against: /api/data, or /stream-sse's frames for frames_*."""
    return "frames_sse" if case.startswith("frames_") else "api_data"


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        rest = f.read().rsplit(b")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, port: int) -> subprocess.Popen:
    # python -m fastmock from --tree (another checkout, built in place: a baseline), or
    # this checkout's venv
    python = args.python or os.path.join(ROOT, ".venv", "bin", "python")
    argv = ["taskset", "-c", args.server_cpu, python, "-m", "fastmock", "--host", "127.0.0.1",
            "--port", str(port), "--delay-ms", "0", "--log-level", "warning"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=args.tree or ROOT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def run_case(args, proc, port: int, case: str, scripts: dict) -> dict:
    frames = CASES[case[:-6] if case.endswith("_fixed") else case][3]
    argv = ["taskset", "-c", args.load_cpu, "wrk", "-t1", f"-c{args.connections}",
            f"-d{args.seconds}s", "-s", scripts[case], f"http://127.0.0.1:{port}"]
    c0 = cpu_ticks(proc.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 30).stdout
    c1 = cpu_ticks(proc.pid)
    m = re.search(r"(\d+) requests in", out)
    requests = int(m.group(1)) if m else 0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad or not requests:
        print(out, file=sys.stderr)
        raise SystemExit(f"{case}: errors")
    us = (c1 - c0) / CLK_TCK * 1e6 / (requests * frames)
    return {"requests": requests, "us": us}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES))
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--tree", help="run the fastmock of this source tree (built in place)")
    ap.add_argument("--python", help="the Python that runs it (default: this checkout's venv)")
    args = ap.parse_args()
    cases = args.cases.split(",")
    for case in list(cases):
        if baseline_of(case) not in cases:
            cases.insert(0, baseline_of(case))
    tmp = tempfile.mkdtemp(prefix="fastmock-providers-")
    scripts = {}
    for case in cases:
        scripts[case] = os.path.join(tmp, case + ".lua")
        with open(scripts[case], "w") as f:
            f.write(lua(case))
    port = free_port()
    proc = start_server(args, port)
    try:
        idle = rss_kb(proc.pid)
        results: dict = {c: [] for c in cases}
        ratios: dict = {c: [] for c in cases}
        for r in range(args.rounds):
            order = cases if r % 2 == 0 else cases[::-1]
            for case in order:
                if case in BASELINES:
                    continue
                # the baseline right before each case: the machine is shared, and its load
                # moves faster than a whole round
                base = baseline_of(case)
                b = run_case(args, proc, port, base, scripts)
                x = run_case(args, proc, port, case, scripts)
                results[base].append(b)
                results[case].append(x)
                ratios[case].append(x["us"] / b["us"])
            print(f"round {r + 1} done", file=sys.stderr)
        after = rss_kb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"idle VmRSS {idle} KiB, after the load {after} KiB")
    print(f"{'case':24} {'us/req':>8} {'ratio':>6}   (ratio to its baseline's run right before "
          "it, per round)")
    for case in cases:
        us = [x["us"] for x in results[case]]
        if case in BASELINES:
            print(f"{case:24} {statistics.median(us):8.2f}      1   ({len(us)} runs)")
            continue
        print(f"{case:24} {statistics.median(us):8.2f} {statistics.median(ratios[case]):6.2f}   "
              + " ".join(f"{x:.2f}" for x in ratios[case]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
