#!/usr/bin/env python3
"""Soak: a minute of mixed load, then check that nothing leaked (issue #4, item 7).

    python3 bench/soak.py                          # 60 s
    python3 bench/soak.py --duration 8             # a smoke test

For --duration seconds, all at once:
  - wrk -t2 -c400 on /api/data;
  - --streams-per-min paced streams (default 1,000/min), /stream-sse?delay_ms=20 with
    --stream-tokens tokens each (default 100, ~2 s), read to the end and checked (200,
    chunked, every event, [DONE]);
  - --disconnects-per-min abrupt disconnects (default 1,000/min): a stream is opened and
    the client resets the connection (RST), half of them before the answer arrives and
    half after the first frame, the way killed clients and crashed gateways go away.
The server (fastmock, or --server COMMAND) runs pinned to --server-cpu (core 0); wrk and
this script run on --load-cpu (core 1). Its resident memory (VmRSS over its process tree,
from /proc) is sampled every second. At the end, after the load and a settle time, it
reads fastmock_active_streams and fastmock_open_connections from /metrics.

Verdicts (the issue's targets): VmRSS growth from 10 s to the end under 1 MB (for runs
shorter than 20 s the early sample is taken at half the duration and says so), zero
errors (wrk socket errors and non-2xx, failed paced streams, disconnects that could not
be made), and active streams back to zero. Prints a summary and writes JSON (--out,
default bench/results/soak.json); exits 1 when a verdict fails.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib.log import log  # noqa: E402  (bench/lib/)
from lib.procfs import tree_status_kb  # noqa: E402
from lib.servers import launch, terminate  # noqa: E402
from lib.tools import ensure_wrk, load_pin  # noqa: E402
from support import probe, wrk  # noqa: E402  (tests/support, on the path from bench/lib)

RSS_GROWTH_LIMIT_KB = 1024


# -- the server ------------------------------------------------------------------------------

def start_server(args, logfile: str) -> subprocess.Popen:
    argv = shlex.split(args.server.replace("{port}", str(args.port)).replace("{host}", "127.0.0.1"))
    if args.server_cpu != "":
        argv = ["taskset", "-c", args.server_cpu] + argv
    env = dict(os.environ, PORT=str(args.port), HOST="127.0.0.1")
    return launch(argv, args.port, logfile, env=env, timeout=30, name="soak")


def stop_server(proc: subprocess.Popen) -> int | None:
    return terminate(proc, wait=15)


def read_metrics(port: int) -> dict[str, float]:
    """The unlabelled samples of /metrics ({} if the server has none)."""
    try:
        status, body = probe.fetch(port, "/metrics")
    except OSError:
        return {}
    if status != 200:
        return {}
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(fastmock_\w+) ([\d.e+-]+)$", body.decode("utf-8", "replace"), re.M)}


# -- the clients -------------------------------------------------------------------------------

class Tally:
    def __init__(self) -> None:
        self.streams_ok = self.streams_failed = 0
        self.disconnects = self.disconnects_failed = 0
        self.failures: list[str] = []

    def fail(self, what: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(what)


async def paced_stream(port: int, tokens: int, delay_ms: int, timeout: float, tally: Tally) -> None:
    """One paced stream, read to the end and checked strictly."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /stream-sse?delay_ms={delay_ms}&max_tokens={tokens} HTTP/1.1\r\n"
                         f"Host: soak\r\n\r\n".encode())
            status = await reader.readline()
            if not status.startswith(b"HTTP/1.1 200 "):
                raise ValueError(f"status {status!r}")
            chunked = False
            while (line := await reader.readline()) != b"\r\n":
                if not line:
                    raise ValueError("closed inside the head")
                chunked |= line.lower() == b"transfer-encoding: chunked\r\n"
            if not chunked:
                raise ValueError("not chunked")
            body = bytearray()
            while True:
                size = int(await reader.readline(), 16)
                if size == 0:
                    await reader.readexactly(2)
                    break
                body += await reader.readexactly(size + 2)
                del body[-2:]
            events = body.split(b"\n\n")
            if len(events) != tokens + 2 or events[-2] != b"data: [DONE]" or events[-1]:
                raise ValueError(f"{len(events) - 1} events, last {events[-2][:40]!r}")
        tally.streams_ok += 1
    except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
        tally.streams_failed += 1
        tally.fail(f"paced stream: {type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()


async def abrupt_disconnect(port: int, after_first_frame: bool, tally: Tally) -> None:
    """Open a stream and reset the connection, before the answer or after the first frame."""
    writer = None
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /stream-loop?delay_ms=20 HTTP/1.1\r\nHost: soak\r\n\r\n")
            await writer.drain()
            if after_first_frame:
                data = b""
                while b"data: " not in data:
                    chunk = await reader.read(4096)
                    if not chunk:
                        raise ValueError("closed before the first frame")
                    data += chunk
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        writer = None
        tally.disconnects += 1
    except (OSError, ValueError, TimeoutError) as exc:
        tally.disconnects_failed += 1
        tally.fail(f"disconnect: {type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()


async def drive(args, pid: int, tally: Tally, rss: list) -> None:
    """Start streams and disconnects at their rates for the duration; sample VmRSS each second."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + args.duration
    tasks: set[asyncio.Task] = set()
    stream_gap = 60.0 / args.streams_per_min if args.streams_per_min else None
    drop_gap = 60.0 / args.disconnects_per_min if args.disconnects_per_min else None
    next_stream = next_drop = next_sample = start
    drops = 0
    while (now := loop.time()) < end:
        if stream_gap and now >= next_stream:
            next_stream += stream_gap
            task = loop.create_task(paced_stream(args.port, args.stream_tokens, args.stream_delay,
                                                 args.stream_timeout, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if drop_gap and now >= next_drop:
            next_drop += drop_gap
            drops += 1
            task = loop.create_task(abrupt_disconnect(args.port, drops % 2 == 0, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if now >= next_sample:
            rss.append((round(now - start, 2), tree_status_kb(pid, "VmRSS")))
            next_sample += 1.0
        await asyncio.sleep(min(x for x in (next_stream if stream_gap else end, next_drop if drop_gap else end,
                                            next_sample, end)) - loop.time())
    rss.append((round(loop.time() - start, 2), tree_status_kb(pid, "VmRSS")))
    if tasks:   # the streams started last still have to finish (each is bounded by its timeout)
        await asyncio.wait(tasks, timeout=args.stream_timeout + 5)


def sample_at(rss: list, t: float) -> tuple[float, int]:
    return min(rss, key=lambda s: abs(s[0] - t))


# -- main ------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="fastmock --host {host} --port {port}",
                    help="the server command ({host}/{port} and HOST/PORT in its environment)")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--port", type=int, default=3300)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-conns", type=int, default=400)
    ap.add_argument("--streams-per-min", type=float, default=1000)
    ap.add_argument("--stream-tokens", type=int, default=100)
    ap.add_argument("--stream-delay", type=int, default=20, help="ms between tokens")
    ap.add_argument("--stream-timeout", type=float, default=20)
    ap.add_argument("--disconnects-per-min", type=float, default=1000)
    ap.add_argument("--settle", type=float, default=2, help="seconds after the load before the final checks")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "soak.json"))
    ap.add_argument("--no-install", action="store_true", help="never apt-get wrk")
    args = ap.parse_args(argv)
    if args.duration < 2:
        ap.error("--duration must be at least 2 s")
    args.wrk_bin = ensure_wrk(args)
    if args.load_cpu != "":
        os.sched_setaffinity(0, {int(c) for c in args.load_cpu.split(",")})
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 and hard >= 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    logfile = os.path.splitext(os.path.abspath(args.out))[0] + "-server.log"
    server = start_server(args, logfile)
    tally, rss = Tally(), []
    result: dict = {"settings": {k: v for k, v in vars(args).items() if k != "wrk_bin"}}
    try:
        time.sleep(0.5)
        wrk_cmd = load_pin(args) + wrk.command(args.wrk_bin, f"http://127.0.0.1:{args.port}/api/data",
                                               args.wrk_threads, args.wrk_conns, int(round(args.duration)))
        log(f"soak: {args.duration:g} s of wrk -c{args.wrk_conns}, {args.streams_per_min:g} paced "
            f"streams/min, {args.disconnects_per_min:g} abrupt disconnects/min; server pid {server.pid}")
        wrk_proc = subprocess.Popen(wrk_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        asyncio.run(drive(args, server.pid, tally, rss))
        try:
            wrk_text = wrk_proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            wrk_proc.kill()
            wrk_text = wrk_proc.communicate()[0]
        time.sleep(args.settle)
        metrics = read_metrics(args.port)
        alive = server.poll() is None
        healthy = alive and probe.healthy(args.port)
        rss_final = tree_status_kb(server.pid, "VmRSS") if alive else None
    finally:
        code = stop_server(server)

    load = wrk.parse(wrk_text)
    requests = load.get("requests", 0)
    wrk_errors = load["errors"] + load["timeouts"]
    non2xx = load["non2xx"]
    early_t = 10.0 if args.duration >= 20 else args.duration / 2
    early = sample_at(rss, early_t)
    last = rss[-1]
    growth = last[1] - early[1]
    errors = wrk_errors + non2xx + tally.streams_failed + tally.disconnects_failed
    active = metrics.get("fastmock_active_streams")
    result.update({
        "wrk": {"requests": requests, "rps": load.get("rps"), "socket_errors": wrk_errors,
                "non2xx": non2xx},
        "streams": {"ok": tally.streams_ok, "failed": tally.streams_failed},
        "disconnects": {"done": tally.disconnects, "failed": tally.disconnects_failed},
        "failures": tally.failures,
        "rss_kb": rss,
        "rss_early": {"at_s": early[0], "kb": early[1]},
        "rss_end": {"at_s": last[0], "kb": last[1]},
        "rss_after_settle_kb": rss_final,
        "rss_growth_kb": growth,
        "errors": errors,
        "active_streams_after": active,
        "open_connections_after": metrics.get("fastmock_open_connections"),
        "alive_after": alive, "health_after": healthy, "exit_code": code,
        "server_log": logfile,
    })
    verdicts = {
        f"rss growth from {early[0]:g} s to {last[0]:g} s under 1 MB": growth < RSS_GROWTH_LIMIT_KB,
        "zero errors": errors == 0,
        "active streams back to zero": active == 0,
        "server alive and healthy": bool(healthy),
    }
    result["verdicts"] = verdicts
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    print(f"\nsoak: {args.duration:g} s on port {args.port} (server cpu {args.server_cpu!r}, load cpu {args.load_cpu!r})")
    print(f"  wrk /api/data       {requests} requests, {result['wrk']['rps']} req/s, "
          f"{wrk_errors} socket errors, {non2xx} non-2xx")
    print(f"  paced streams       {tally.streams_ok} ok, {tally.streams_failed} failed")
    print(f"  abrupt disconnects  {tally.disconnects} done, {tally.disconnects_failed} failed")
    print(f"  VmRSS               {early[1]} KB at {early[0]:g} s, {last[1]} KB at {last[0]:g} s "
          f"(growth {growth:+d} KB), {rss_final} KB after {args.settle:g} s")
    print(f"  after the load      active streams {active}, open connections "
          f"{result['open_connections_after']}, exit code {code}")
    for what in tally.failures[:5]:
        print(f"  failure: {what}")
    for text, ok in verdicts.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")
    print(f"results: {args.out}")
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
