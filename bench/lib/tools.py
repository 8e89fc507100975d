"""The load generators: wrk and bench/streamload, found (installed or built when missing
and allowed), run on the load core with a hard time limit, and read."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

from support import wrk  # tests/support, on the path from lib/__init__.py

from .log import log
from .procfs import Meter

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def apt_install(args, package: str, why: str) -> bool:
    """apt-get install ``package`` when allowed (root, apt-get, no --no-install); says so first"""
    if args.no_install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    log(f"{why}: installing it with `apt-get install -y {package}` (a bench-only system package)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, timeout=900)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=600)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, timeout=900)
    return r.returncode == 0


def load_pin(args) -> list[str]:
    return ["taskset", "-c", args.load_cpu] if args.load_cpu != "" else []


# --------------------------------------------------------------------------- wrk
def ensure_wrk(args) -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if args.no_install:
        raise SystemExit("bench: wrk is missing; install it (apt-get install -y wrk) or drop --no-install")
    if apt_install(args, "wrk", "wrk is missing"):
        path = shutil.which("wrk")
        if path:
            return path
    raise SystemExit("bench: wrk is missing; install it with your package manager (e.g. sudo apt-get install -y wrk)")


def run_wrk(args, srv, logname: str, path: str = "/api/data", *, seconds: float | None = None,
            script: str | None = None, script_args: tuple = ()) -> dict:
    """wrk on the server for ``seconds`` (--wrk-duration): its report's figures plus the
    server's CPU per request and the cores' use while it ran"""
    seconds = seconds or args.wrk_duration
    cmd = load_pin(args) + wrk.command(args.wrk_bin, srv.base + path, args.wrk_threads, args.wrk_conns,
                                       seconds, latency=True, script=script, script_args=script_args)
    meter = Meter(args, srv)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
        text = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        log("WARNING: wrk overran its time limit and was killed")
    cpu_s, cores = meter.stop()
    with open(os.path.join(args.logdir, logname), "w") as f:
        f.write(" ".join(cmd) + "\n" + text)
    res = wrk.parse(text)
    if "rps" in res:
        res["rps"] = round(res["rps"])
    res["server_cpu_s"] = round(cpu_s, 2)
    if res.get("requests"):
        res["cpu_us_per_req"] = round(cpu_s * 1e6 / res["requests"], 2)
    res.update(cores)
    return res


# --------------------------------------------------------------------------- streamload
def ensure_streamload(args) -> str:
    if args.streamload:
        return args.streamload
    src = os.path.join(BENCH, "streamload")
    out = os.path.join(BENCH, ".build", "streamload")
    newest = max(os.path.getmtime(os.path.join(src, f)) for f in os.listdir(src))
    if os.path.exists(out) and os.path.getmtime(out) >= newest:
        return out
    go = shutil.which("go")
    if not go and apt_install(args, "golang-go", "go is missing (to build bench/streamload)"):
        go = shutil.which("go")
    if not go:
        raise SystemExit("bench: the streaming load client needs Go (>= 1.19) to build: "
                         "install it (apt-get install -y golang-go) or build it yourself with\n"
                         f"    (cd {src} && go build -o {out} .)\nand rerun (or pass --streamload PATH)")
    log(f"building the load client: go build -o {os.path.relpath(out)} (bench/streamload)")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0")
    r = subprocess.run([go, "build", "-o", out, "."], cwd=src, env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit("bench: building bench/streamload failed")
    return out


def run_streamload(args, srv, path: str, n: int, logname: str, *, ramp: float = 0, duration: float = 0,
                   timeout: float = 30, pid: bool = False, expect_ms: int = 0, wait: bool = True,
                   body_file: str | None = None):
    """n streams on ``path`` (POSTing ``body_file`` when given); with wait=False returns what
    finish_streamload() takes"""
    cmd = load_pin(args) + [args.streamload_bin, "-q", "-url", srv.base + path, "-n", str(n),
                            "-timeout", f"{timeout}s"]
    if ramp:
        cmd += ["-ramp", f"{ramp}s"]
    if duration:
        cmd += ["-duration", f"{duration}s"]
    if pid:
        cmd += ["-pid", str(srv.pid)]
    if expect_ms:
        cmd += ["-expect-delay", f"{expect_ms}ms"]
    if body_file:
        cmd += ["-method", "POST", "-body", "@" + body_file]
    out = open(os.path.join(args.logdir, logname), "w+")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    hard = max(timeout, duration) + ramp + 30
    if not wait:
        return p, out, hard
    return finish_streamload(p, out, hard)


def finish_streamload(p, out, hard) -> dict:
    """wait (bounded) for a streamload started with wait=False; its RESULT plus its own CPU"""
    end = time.monotonic() + hard
    ru = None
    while ru is None:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            ru = usage
            p.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > end:
            p.kill()
            log("WARNING: streamload overran its time limit and was killed")
            _, _, ru = os.wait4(p.pid, 0)
            p.returncode = -9
            break
        time.sleep(0.05)
    out.seek(0)
    text = out.read()
    out.close()
    for line in text.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            res["client_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
            return res
    log(f"WARNING: streamload gave no RESULT (see {out.name})")
    return {}
